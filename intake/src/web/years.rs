//! Targets and years side by side: a campaign owner's targets per area, and the comparison of
//! a form family's years — a chart and a table of each area's index per year against its
//! target, met or missed, with CSV and XLSX. Owners and admins only; each sees the campaigns
//! they are granted.

use super::prelude::*;
use crate::service::{YearCell, YearComparison};
use forms::index::Level;

fn level_words(level: Level) -> &'static str {
    match level {
        Level::Province => "Tỉnh",
        Level::District => "Huyện",
        Level::Commune => "Xã",
        Level::Village => "Thôn",
    }
}

/// The areas targets are set for (province, district, commune): every area of the campaign's
/// progress rows, with the target set now.
pub(super) async fn targets_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    targets_view(&intake, &v, said.take_message(&v)).await
}

async fn targets_view(
    intake: &Arc<Intake>,
    v: &Visitor,
    message: Option<String>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let (areas, targets, year) = blocking(move || {
        let names = i.store.place_names()?;
        let mut areas: Vec<(Level, String, String)> = i
            .store
            .areas()?
            .into_iter()
            .filter(|(level, _)| *level != Level::Village)
            .map(|(level, id)| {
                let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
                (level, id, name)
            })
            .collect();
        areas.sort_by_key(|(l, _, n)| (std::cmp::Reverse(*l), n.clone()));
        let targets: std::collections::HashMap<(Level, String), f64> = i
            .store
            .targets()?
            .into_iter()
            .map(|(l, a, p)| ((l, a), p))
            .collect();
        Ok((
            areas,
            targets,
            i.store.campaign()?.info.timeline.distribute.start,
        ))
    })
    .await?;
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        p { "Chỉ tiêu là chỉ số tối thiểu (%) mỗi địa bàn cần đạt trong đợt khảo sát năm " (year.format("%Y")) ". Để trống là không đặt chỉ tiêu. Trang so sánh các năm cho biết địa bàn nào đạt, địa bàn nào chưa đạt." }
        form method="post" action="ministry/targets" {
            input type="hidden" name="csrf" value=(v.csrf);
            div.scroll { table #targets {
                thead { tr { th { "Cấp" } th.l { "Địa bàn" } th { "Chỉ tiêu (%)" } } }
                tbody { @for (level, id, name) in &areas { tr {
                    td.l { (level_words(*level)) } td.l { (name) }
                    td { input type="number" name=(format!("t:{}:{id}", level.as_str())) min="1" max="100" step="0.1" inputmode="decimal"
                        value=(targets.get(&(*level, id.clone())).map(|p| format!("{p}")).unwrap_or_default()) aria-label=(format!("Chỉ tiêu của {name}")); }
                } } }
            } }
            button #save-targets { "Lưu chỉ tiêu" }
        }
    };
    Ok(page("Chỉ tiêu theo địa bàn", Some(v), body).into_response())
}

/// Every field of the targets form: `t:<level>:<area>` → percent (empty clears).
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub(super) struct TargetsForm(std::collections::HashMap<String, String>);

impl super::door::CsrfField for TargetsForm {
    fn csrf(&self) -> &str {
        self.0.get("csrf").map(String::as_str).unwrap_or("")
    }
}

pub(super) async fn set_target(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Ministry, TargetsForm>,
) -> Result<Response, IntakeError> {
    let mut wanted = Vec::new();
    for (field, value) in &form.0 {
        let Some(rest) = field.strip_prefix("t:") else {
            continue;
        };
        let (level, area) = rest.split_once(':').ok_or(IntakeError::NotFound)?;
        let level = Level::parse(level).ok_or(IntakeError::NotFound)?;
        let value = value.trim().replace(',', ".");
        let percent = if value.is_empty() {
            None
        } else {
            Some(value.parse::<f64>().map_err(|_| {
                IntakeError::Declined(format!(
                    "«{value}» không phải là một số phần trăm. / «{value}» is not a percentage."
                ))
            })?)
        };
        wanted.push((level, area.to_string(), percent));
    }
    if wanted.len() > 5_000 {
        return Err(IntakeError::Declined(
            "Quá nhiều địa bàn trong một lần lưu. / Too many areas at once.".into(),
        ));
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    let changed = blocking(move || {
        let before: std::collections::HashMap<(Level, String), f64> = i
            .store
            .targets()?
            .into_iter()
            .map(|(l, a, p)| ((l, a), p))
            .collect();
        let mut changed = 0;
        for (level, area, percent) in wanted {
            if before.get(&(level, area.clone())).copied() != percent {
                i.set_target(level, &area, percent, &by, &from.to_string())?;
                changed += 1;
            }
        }
        Ok(changed)
    })
    .await?;
    Ok(said.done(
        &v,
        "/ministry/targets",
        format!("Đã lưu {changed} chỉ tiêu thay đổi."),
    ))
}

/// The comparison as rows for a file: one row per area and year.
fn comparison_rows(c: &YearComparison) -> Vec<Vec<String>> {
    let mut rows = vec![[
        "cấp",
        "mã địa bàn",
        "địa bàn",
        "năm",
        "đợt khảo sát",
        "số phiếu",
        "chỉ số (%)",
        "cận dưới (%)",
        "cận trên (%)",
        "chỉ tiêu (%)",
        "kết quả",
    ]
    .map(String::from)
    .to_vec()];
    let f = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_default();
    for r in &c.rows {
        for ((year, _, name, _), cell) in c.years.iter().zip(&r.cells) {
            let Some(cell) = cell else { continue };
            rows.push(vec![
                level_words(r.level).into(),
                r.area.clone(),
                r.name.clone(),
                year.to_string(),
                name.clone(),
                cell.forms.to_string(),
                f(cell.percent),
                f(cell.low),
                f(cell.high),
                f(cell.target),
                met_words(cell).into(),
            ]);
        }
    }
    rows
}

/// An index and its target with as many decimals (one to four) as it takes for a reader to
/// see why it was met or missed: 54.38 against 54.40, not 54.4 against 54.4.
fn distinguished(percent: Option<f64>, target: Option<f64>) -> (String, Option<String>) {
    let Some(p) = percent else {
        return ("—".into(), target.map(|t| decimal(t, 1)));
    };
    let Some(t) = target else {
        return (decimal(p, 1), None);
    };
    let mut places = 1;
    while places < 4 && decimal(p, places) == decimal(t, places) && p != t {
        places += 1;
    }
    (decimal(p, places), Some(decimal(t, places)))
}

fn met_words(cell: &YearCell) -> &'static str {
    match cell.met {
        Some(true) => "Đạt",
        Some(false) => "Chưa đạt",
        None if cell.target.is_none() => "Không đặt chỉ tiêu",
        None => "Chưa có chỉ số",
    }
}

async fn comparison(
    centre: &Arc<Centre>,
    v: &Visitor,
    family: String,
) -> Result<YearComparison, IntakeError> {
    let (c, account) = (centre.clone(), v.account.clone());
    let compared = blocking(move || c.compare_years(&family, |id| account.may_enter(id))).await?;
    if compared.years.is_empty() {
        // A family with none of the visitor's campaigns does not exist for them.
        return Err(IntakeError::NotFound);
    }
    Ok(compared)
}

pub(super) async fn compare_csv(
    State(centre): State<Arc<Centre>>,
    Signed { v, .. }: Signed<Officers>,
    Path(family): Path<String>,
) -> Result<Response, IntakeError> {
    let c = comparison(&centre, &v, family).await?;
    download(&comparison_rows(&c), &format!("so-sanh-{}", c.family), None)
}

pub(super) async fn compare_xlsx(
    State(centre): State<Arc<Centre>>,
    Signed { v, .. }: Signed<Officers>,
    Path(family): Path<String>,
) -> Result<Response, IntakeError> {
    let c = comparison(&centre, &v, family).await?;
    download(
        &comparison_rows(&c),
        &format!("so-sanh-{}", c.family),
        Some("So sánh"),
    )
}

pub(super) async fn compare_page(
    State(centre): State<Arc<Centre>>,
    Signed { v, .. }: Signed<Officers>,
    Path(family): Path<String>,
) -> Result<Response, IntakeError> {
    let c = comparison(&centre, &v, family).await?;
    let tz = {
        let centre = centre.clone();
        blocking(move || centre.time_zone()).await?
    };
    let pct = |x: Option<f64>| x.map(|v| decimal(v, 1)).unwrap_or_else(|| "—".into());
    let body = html! {
        p { "Chỉ số của từng địa bàn qua các năm, theo lần tính chỉ số gần nhất của mỗi đợt, so với chỉ tiêu đặt cho năm đó." }
        ul #years { @for (year, id, name, at) in &c.years { li {
            b { (year) } ": " a href=(campaign_path(id, "/ministry/index")) { (name) } " — "
            @match at { Some(at) => { "chỉ số tính lúc " (super::layout::shown_time(at, tz)) } None => { span.flag { "chưa tính chỉ số" } } }
        } } }
        (chart(&c))
        div.scroll { table #comparison {
            thead { tr { th { "Cấp" } th.l { "Địa bàn" } @for (year, ..) in &c.years { th { (year) } } } }
            tbody { @for r in &c.rows { tr data-area=(r.area) {
                td.l { (level_words(r.level)) } td.l { (r.name) }
                @for cell in &r.cells { @match cell {
                    None => { td { "—" } }
                    Some(cell) => {
                        td class=(match cell.met { Some(true) => "met", Some(false) => "missed", None => "" }) {
                            @let (shown, target) = distinguished(cell.percent, cell.target);
                            b { (shown) } @if cell.percent.is_some() { " (" (pct(cell.low)) "–" (pct(cell.high)) "; " (cell.forms) " phiếu)" }
                            @if let Some(t) = target { br; "chỉ tiêu " (t) ": " span.verdict { (met_words(cell)) } }
                        }
                    }
                } }
            } } }
        } }
        p { a href=(format!("/compare/{}/table.csv", c.family)) { "Tải bảng (CSV)" } " · " a href=(format!("/compare/{}/table.xlsx", c.family)) { "Tải bảng (XLSX)" } }
    };
    Ok(page("So sánh các năm", Some(&v), body).into_response())
}

/// Province and district indices per year as bars, each area's target as a line across its
/// bars (SVG, no script). Green bars met the target, red ones missed it, grey ones had none.
fn chart(c: &YearComparison) -> Markup {
    let rows: Vec<_> = c
        .rows
        .iter()
        .filter(|r| matches!(r.level, Level::Province | Level::District))
        .collect();
    let years = c.years.len().max(1) as f64;
    let (bar, gap, label_w, h) = (18.0, 10.0, 170.0, 160.0);
    let group = bar * years + gap;
    // Room on the right for the last area's slanted name.
    let width = label_w + group * rows.len() as f64 + 110.0;
    let y = |p: f64| h - p / 100.0 * (h - 20.0);
    html! {
        div.scroll { svg #comparison-chart width=(width) height=(h + 70.0) role="img" aria-label="Chỉ số theo năm và chỉ tiêu" {
            @for p in [0.0, 50.0, 80.0, 100.0] {
                line x1=(label_w - 10.0) x2=(width) y1=(y(p)) y2=(y(p)) stroke="#d6dbe2" {}
                text x=(label_w - 14.0) y=(y(p) + 4.0) text-anchor="end" font-size="11" { (p) "%" }
            }
            @for (k, r) in rows.iter().enumerate() {
                @let x0 = label_w + k as f64 * group;
                @for (j, cell) in r.cells.iter().enumerate() {
                    @if let Some(cell) = cell {
                        @if let Some(p) = cell.percent {
                            rect x=(x0 + j as f64 * bar) y=(y(p)) width=(bar - 2.0) height=(h - y(p))
                                fill=(match cell.met { Some(true) => "#1d7a46", Some(false) => "#b3261e", None => "#8a94a3" }) {
                                title { (r.name) ", " (c.years[j].0) ": " (decimal(p, 1)) " %" }
                            }
                        }
                        @if let Some(t) = cell.target {
                            line x1=(x0 + j as f64 * bar - 1.0) x2=(x0 + (j + 1) as f64 * bar) y1=(y(t)) y2=(y(t)) stroke="#1c2430" stroke-width="2" {}
                        }
                    }
                }
                text x=(x0) y=(h + 14.0) font-size="11" transform=(format!("rotate(30 {x0} {})", h + 14.0)) { (r.name) }
            }
        } }
        p.muted { "Cột xanh: đạt chỉ tiêu; đỏ: chưa đạt; xám: không đặt chỉ tiêu. Vạch đen: chỉ tiêu. Mỗi nhóm cột là một địa bàn, từ trái sang phải: "
            (c.years.iter().map(|(y, ..)| y.to_string()).collect::<Vec<_>>().join(", ")) "." }
    }
}

#[cfg(test)]
mod tests {
    use super::distinguished;

    #[test]
    fn an_index_and_its_target_are_shown_until_they_differ() {
        // The outside pass saw «54.4 … chỉ tiêu 54.4: Chưa đạt». (A page writes a decimal comma.)
        assert_eq!(
            distinguished(Some(54.38), Some(54.4)),
            ("54,38".to_string(), Some("54,40".to_string()))
        );
        assert_eq!(
            distinguished(Some(51.8), Some(51.8)),
            ("51,8".to_string(), Some("51,8".to_string()))
        );
        assert_eq!(
            distinguished(Some(70.0), Some(85.0)),
            ("70,0".to_string(), Some("85,0".to_string()))
        );
        assert_eq!(distinguished(None, Some(85.0)).0, "—");
    }
}
