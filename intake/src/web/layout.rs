//! The shared page layout and downloads (CSV, XLSX).

use super::prelude::*;

/// A page. Inside a campaign (`who.here`), the page's `<base>` is the campaign's root, so its
/// links and forms name campaign paths without the leading slash (`ministry/index`); the
/// centre's own paths keep theirs (`/`, `/admin`, `/logout`).
///
/// A page that shows moments ([`shown_time`]) says once, below them, the zone they are in.
pub(super) fn page(title: &str, who: Option<&Visitor>, body: Markup) -> Html<String> {
    let here = who.and_then(|v| v.here.as_ref());
    let zones = zones_of_times(&body.0);
    Html(
        html! {
            (DOCTYPE)
            html lang="vi" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if let Some(h) = here { base href=(campaign_path(&h.id, "/")); }
                    title { (title) " — Fieldpost" }
                    style { (maud::PreEscaped(STYLE)) }
                }
                body {
                    header {
                        strong { "Fieldpost" }
                        @if let Some(v) = who {
                            a href="/" #campaigns-link { "Các đợt khảo sát" }
                            @if let Some(h) = here {
                                b #campaign-name { (h.name) }
                                a href="progress" { "Tiến độ" }
                                a href="reassign" { "Chuyển giao & việc bị từ chối" }
                                a href="codes" { "Cấp mã đăng ký" }
                                @if v.account.role != accounts::Role::Supervisor {
                                    a href="ministry/reconciliation" { "Đối chiếu" }
                                    a href="ministry/backcheck" { "Phúc tra" }
                                    a href="ministry/index" { "Chỉ số" }
                                    a href="ministry/targets" { "Chỉ tiêu" }
                                    a href="ministry/anomalies" { "Bất thường" }
                                    a href="ministry/review" { "Duyệt phiếu" }
                                    @if !h.family.is_empty() && Officers::admits(v.account.role) { a #compare-link href=(format!("/compare/{}", h.family)) { "So sánh các năm" } }
                                }
                                @if v.account.role == accounts::Role::Admin { a href="devices" { "Máy" } }
                            }
                            @if v.account.role == accounts::Role::Admin { a href="/admin" { "Quản trị" } a href="/admin/audit" { "Nhật ký" } }
                            span { (v.account.name) " (" (v.account.login) ")" }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button { "Đăng xuất" }
                            }
                        }
                    }
                    main {
                        h1 { (title) } (body)
                        @if !zones.is_empty() { p.muted #time-zone { "Giờ trên trang này theo múi giờ " (zones.join(", ")) "." } }
                    }
                }
            }
        }
        .into_string(),
    )
}

/// A moment as a page shows it: day and time in `tz` as people read them, in a `<time>` whose
/// `datetime` keeps the offset (which [`page`] names once for the whole page). What does not
/// read as a moment is shown as it is.
pub(super) fn shown_time(at: &str, tz: chrono_tz::Tz) -> Markup {
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => {
            let local = t.with_timezone(&tz);
            html! {
                time datetime=(local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)) {
                    (local.format("%d/%m/%Y %H:%M:%S"))
                }
            }
        }
        Err(_) => html! { (at) },
    }
}

/// A day typed in a filter, as a date box sends it (`YYYY-MM-DD`): `None` when left empty, an
/// error to show when it is not a day of this era ("2024-02-30", "-2024-01-01", "2024-1-1").
pub(super) fn typed_day(raw: &str) -> Result<Option<chrono::NaiveDate>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| shaped && (1900..=2999).contains(&d.year()))
        .map(Some)
        .ok_or_else(|| {
            "Một ngày nhập vào không đọc được (không có ngày đó): hãy chọn ngày trong ô.".into()
        })
}

/// Refuses a filter's first day after its last, naming both as people read them.
pub(super) fn days_in_order(from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<(), String> {
    if from > to {
        return Err(format!(
            "«Từ ngày» ({}) sau «Đến ngày» ({}): hãy đổi lại.",
            from.format("%d/%m/%Y"),
            to.format("%d/%m/%Y")
        ));
    }
    Ok(())
}

/// The offsets of the moments [`shown_time`] put in `body`, each once, as "UTC+07:00".
fn zones_of_times(body: &str) -> Vec<String> {
    const OPENING: &str = "<time datetime=\"";
    let mut zones: Vec<String> = Vec::new();
    for (at, _) in body.match_indices(OPENING) {
        let value = &body[at + OPENING.len()..];
        let Some(end) = value.find('"') else { continue };
        // RFC 3339 with a numeric offset: its last six characters, "+07:00".
        let Some(offset) = value[..end].get(end.saturating_sub(6)..) else {
            continue;
        };
        let zone = format!("UTC{offset}");
        if !zones.contains(&zone) {
            zones.push(zone);
        }
    }
    zones
}

pub(super) const STYLE: &str = "body{font-family:'Noto Sans','DejaVu Sans',sans-serif;margin:0;color:#1c2430;background:#f6f7f9}\
header{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;background:#1f3a5f;color:#fff;padding:.6rem 1rem}header form{margin-left:auto}header a,header span{color:#fff;white-space:nowrap}header span{white-space:normal;overflow-wrap:anywhere}\
main{padding:1rem 1.5rem;max-width:1400px}table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border:1px solid #d6dbe2;padding:.35rem .5rem;text-align:right}th:first-child,td:first-child,td.l,th.l{text-align:left}\
tr.behind td{background:#fde8e6}.flag{color:#b3261e;font-weight:700}label{display:block;margin:.6rem 0}\
input,select{font:inherit;padding:.4rem}select,input,textarea{max-width:100%;box-sizing:border-box}button{font:inherit;padding:.4rem .9rem}.error{color:#b3261e;font-weight:700}tr.apart td{background:#fff4d6}.muted{color:#5b6472}.scroll{overflow-x:auto}.filters label{display:inline-block;margin-right:.8rem;max-width:calc(100% - .8rem)}.code-card{background:#fff;border:1px solid #d6dbe2;padding:1rem;max-width:30rem}.big{font-size:1.4rem}.big b{white-space:nowrap}.qr svg{width:220px;height:220px}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.7rem;margin:.8rem 0}.card{background:#fff;border:1px solid #d6dbe2;border-left:6px solid #1d7a46;padding:.6rem .8rem}.card.late{border-left-color:#b3261e}.card-head{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;background:none;color:inherit;padding:0}.badge{font-weight:700}.card.late .badge{color:#b3261e}.card.ok .badge{color:#1d7a46}.card p{margin:.3rem 0}.numbers{display:grid;grid-template-columns:repeat(auto-fit,minmax(4.2rem,1fr));gap:.3rem;margin:.4rem 0}.numbers dt{font-size:.8rem;color:#5b6472}.numbers dd{margin:0;font-weight:700;font-size:1.05rem;white-space:nowrap}main{padding:1rem}#period th:first-child,#period td:first-child{position:sticky;left:0;background:#fff}@media (max-width:600px){main{padding:.6rem}}@media print{header,.noprint{display:none}section.visit{break-after:page}}";

/// A decimal written as Vietnamese readers write it on a page: "82,4". Every page number goes
/// through here (or [`decimal`]); downloads keep the point, for programs (see [`download`]).
pub(super) fn decimal_comma(text: &str) -> String {
    text.replace('.', ",")
}

/// `x` with `places` decimals, for a page ("36,5").
pub(super) fn decimal(x: f64, places: usize) -> String {
    decimal_comma(&format!("{x:.places$}"))
}

/// A share in per cent with one decimal, rounded once from its exact fraction, for a page.
pub(super) fn percent(s: &forms::index::Share) -> String {
    s.percent_text(1)
        .map(|t| decimal_comma(&t))
        .unwrap_or_else(|| "—".into())
}

pub(super) fn interval(s: &forms::index::Share) -> String {
    match (s.low, s.high) {
        (Some(l), Some(h)) => format!("{}–{}", decimal(100.0 * l, 1), decimal(100.0 * h, 1)),
        _ => "—".into(),
    }
}

/// A cell as a spreadsheet will not run it: text that a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe,
/// as OWASP advises for CSV. Numbers stay numbers. (XLSX cells are written as strings, never
/// formulas, so they need no such mark.)
pub fn inert_in_a_spreadsheet(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A table as a download: CSV, or with `sheet` an XLSX workbook of one sheet of that name.
///
/// CSV is UTF-8 with a byte-order mark (without it Excel on Windows reads Vietnamese as
/// garbage), comma-separated, with a decimal point: it is the file for programs and
/// statisticians, read the same in every locale. XLSX is the file for people: numbers are
/// numbers there, and Excel shows them with the reader's own decimal comma.
pub(super) fn download(
    rows: &[Vec<String>],
    name: &str,
    sheet: Option<&str>,
) -> Result<Response, IntakeError> {
    let failed = |e: String| IntakeError::BadRequest(format!("the file could not be written: {e}"));
    if let Some(sheet_name) = sheet {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet
            .set_name(sheet_name)
            .map_err(|e| failed(e.to_string()))?;
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                // Numbers as numbers (a spreadsheet sums them); codes with leading zeros stay text.
                let leading_zero =
                    cell.len() > 1 && cell.starts_with('0') && !cell.starts_with("0.");
                match cell.parse::<f64>() {
                    Ok(n) if r > 0 && !leading_zero && n.is_finite() => {
                        sheet.write_number(r as u32, c as u16, n).map(|_| ())
                    }
                    _ => sheet.write_string(r as u32, c as u16, cell).map(|_| ()),
                }
                .map_err(|e| failed(e.to_string()))?;
            }
        }
        let bytes = book.save_to_buffer().map_err(|e| failed(e.to_string()))?;
        let disposition = format!("attachment; filename=\"{name}.xlsx\"");
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                ),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response());
    }
    let mut writer = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
    for row in rows {
        writer
            .write_record(
                row.iter()
                    .map(|cell| inert_in_a_spreadsheet(cell).into_owned()),
            )
            .map_err(|e| failed(e.to_string()))?;
    }
    let bytes = writer.into_inner().map_err(|e| failed(e.to_string()))?;
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
