//! The audit log for admins: who did what, in which campaign, when and from where — filtered by
//! account, campaign, action and days (in the centre's time zone), as a page and as CSV.

use super::prelude::*;

#[derive(serde::Deserialize, Default)]
pub(super) struct AuditQuery {
    #[serde(default)]
    login: String,
    #[serde(default)]
    action: String,
    /// A campaign id; empty for all.
    #[serde(default)]
    campaign: String,
    /// First and last day, `YYYY-MM-DD`, local.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
    /// The page of the log, from 1 (newest first).
    #[serde(default)]
    page: Option<String>,
}

/// Rows on one page of the log.
const SHOWN: usize = 500;
/// Rows a CSV carries at most: a narrower filter (days, an account) gets the rest; the file
/// says so when it is cut.
const CSV_ROWS: usize = 200_000;

/// The store's filter for a query whose days (`from`, `to`) were read: local days become UTC
/// instants; a day not given or not readable filters nothing.
fn filter(
    q: &AuditQuery,
    [from, to]: [Option<chrono::NaiveDate>; 2],
    tz: chrono_tz::Tz,
) -> crate::store::AuditFilter {
    use chrono::TimeZone;
    let start = |day: Option<chrono::NaiveDate>, plus: i64| -> String {
        day.and_then(|d| {
            tz.from_local_datetime(&(d + chrono::Duration::days(plus)).and_hms_opt(0, 0, 0)?)
                .earliest()
        })
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_default()
    };
    crate::store::AuditFilter {
        login: q.login.trim().into(),
        action: q.action.trim().into(),
        campaign: q.campaign.trim().into(),
        from: start(from, 0),
        to: start(to, 1),
    }
}

/// A row's detail as a person reads it: a page by its name, a message in Vietnamese.
fn detail_words(detail: &str) -> String {
    // A counted row's detail ends «— N lần»: the cause is read, the count kept.
    let (cause, count) = match detail.rsplit_once(" — ") {
        Some((cause, count)) if count.ends_with(" lần") => (cause, Some(count)),
        _ => (detail, None),
    };
    let said = crate::words::page_visit(cause)
        .unwrap_or_else(|| crate::words::in_vietnamese(cause).to_string());
    match count {
        Some(count) => format!("{said} — {count}"),
        None => said,
    }
}

/// An RFC 3339 instant as the campaign's local time.
pub(super) fn local_time(at: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string())
        .unwrap_or_else(|_| at.to_string())
}

pub(super) async fn audit_page(
    State(centre): State<Arc<Centre>>,
    Signed { v, .. }: Signed<Admins>,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Result<Response, IntakeError> {
    let c = centre.clone();
    let (tz, campaigns) = blocking(move || Ok((c.time_zone()?, c.entries()?))).await?;
    let csv = q.format == "csv";
    // A day that cannot be read, or days the wrong way round, is said, not silently dropped
    // from the filter; a file is not written from such a filter at all.
    let days = [q.from.as_str(), q.to.as_str()].map(super::layout::typed_day);
    let unreadable = days.iter().any(Result::is_err);
    let problem = match &days {
        [Err(e), _] | [_, Err(e)] => Some(e.clone()),
        [Ok(Some(from)), Ok(Some(to))] => super::layout::days_in_order(*from, *to).err(),
        _ => None,
    };
    let f = filter(&q, days.map(|d| d.ok().flatten()), tz);
    let c = centre.clone();
    if csv {
        if let Some(problem) = &problem {
            return Err(IntakeError::Declined(problem.clone()));
        }
    }
    let asked_page = q
        .page
        .as_deref()
        .and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let (rows, total, page_no) = blocking(move || {
        let accounts = c.accounts();
        let total = accounts.audit_count(&f)?;
        // A page past the last is the last.
        let page_no = asked_page.min((total as usize).div_ceil(SHOWN).max(1));
        let rows = if csv {
            accounts.audit_search(&f, CSV_ROWS, 0)?
        } else {
            accounts.audit_search(&f, SHOWN, (page_no - 1) * SHOWN)?
        };
        Ok((rows, total, page_no))
    })
    .await?;
    let campaign_name = |id: &Option<String>| {
        id.as_ref()
            .map(|id| {
                campaigns
                    .iter()
                    .find(|e| &e.id == id)
                    .map(|e| e.name.clone())
                    .unwrap_or_else(|| id.clone())
            })
            .unwrap_or_else(|| "Trung tâm".into())
    };
    if q.format == "csv" {
        let mut table = vec![[
            "lúc",
            "tài khoản",
            "đợt khảo sát",
            "việc",
            "mã việc",
            "chi tiết",
            "địa chỉ",
        ]
        .map(String::from)
        .to_vec()];
        table.extend(rows.iter().map(|r| {
            vec![
                local_time(&r.at, tz),
                r.login.clone(),
                campaign_name(&r.campaign),
                crate::words::audit_action(&r.action).to_string(),
                r.action.clone(),
                detail_words(&r.detail),
                r.address.clone(),
            ]
        }));
        if total as usize > CSV_ROWS {
            let mut note = vec![String::new(); 7];
            note[5] = format!(
                "(chỉ {CSV_ROWS} dòng mới nhất trong {total} dòng: hãy lọc theo ngày hoặc tài khoản để lấy phần còn lại)"
            );
            table.push(note);
        }
        return download(&table, "nhat-ky", None);
    }
    let body = html! {
        @if let Some(problem) = &problem {
            p.error role="alert" #problem { (problem) @if unreadable { " Các dòng dưới đây chưa lọc theo ngày đó." } }
        }
        form method="get" action="/admin/audit" class="filters" {
            label { "Tài khoản " input name="login" value=(q.login) maxlength="128"; }
            label { "Đợt khảo sát " select name="campaign" {
                option value="" { "Mọi đợt" }
                @for e in &campaigns { option value=(e.id) selected[q.campaign == e.id] { (e.name) } }
            } }
            label { "Việc " select name="action" {
                option value="" { "Mọi việc" }
                @for (code, words) in crate::words::AUDIT_ACTIONS { option value=(code) selected[q.action == *code] { (words) } }
            } }
            label { "Từ ngày " input name="from" type="date" value=(q.from); }
            label { "Đến ngày " input name="to" type="date" value=(q.to); }
            button { "Lọc" }
            button name="format" value="csv" { "Tải CSV" }
        }
        p.muted #audit-range { "Giờ theo múi giờ của trung tâm (UTC" (Utc::now().with_timezone(&tz).format("%:z")) "). "
            @if total == 0 { "Không có dòng nào." } @else {
                "Dòng " ((page_no - 1) * SHOWN + 1) "–" (((page_no - 1) * SHOWN + rows.len()).max((page_no - 1) * SHOWN + 1)) " trong " (total) " dòng, mới nhất trước."
            }
        }
        (pager(&q, page_no, total))
        div.scroll { table #audit {
            thead { tr { th { "Lúc" } th { "Tài khoản" } th { "Đợt khảo sát" } th { "Việc" } th { "Chi tiết" } th { "Địa chỉ" } } }
            tbody { @for r in &rows { tr { td.l { (super::layout::shown_time(&r.at, tz)) } td.l { (r.login) } td.l { (campaign_name(&r.campaign)) } td.l title=(r.action) { (crate::words::audit_action(&r.action)) } td.l.detail title=(r.detail) { (detail_words(&r.detail)) } td.l { (r.address) } } } }
        } }
    };
    let body = html! { (body) (pager(&q, page_no, total)) };
    Ok(page("Nhật ký kiểm tra", Some(&v), body).into_response())
}

/// Links to the pages before and after, keeping the filter.
fn pager(q: &AuditQuery, page_no: usize, total: u64) -> Markup {
    let pages = (total as usize).div_ceil(SHOWN).max(1);
    let link = |to: usize| {
        let query = serde_urlencoded::to_string([
            ("login", q.login.as_str()),
            ("campaign", q.campaign.as_str()),
            ("action", q.action.as_str()),
            ("from", q.from.as_str()),
            ("to", q.to.as_str()),
            ("page", &to.to_string()),
        ])
        .unwrap_or_default();
        format!("/admin/audit?{query}")
    };
    html! {
        @if pages > 1 {
            p.pager {
                @if page_no > 1 { a.newer href=(link(page_no - 1)) { "← Mới hơn" } " · " }
                "Trang " (page_no) " / " (pages)
                @if page_no < pages { " · " a.older href=(link(page_no + 1)) { "Cũ hơn →" } }
            }
        }
    }
}
