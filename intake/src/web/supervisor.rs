//! Supervisors' pages: progress against the timeline, period reports. Counts,
//! never an answer; scoped to the supervisor's districts.

use super::prelude::*;

/// The report this visitor may see: their districts for a supervisor, everything otherwise.
pub(super) async fn report_for(
    intake: &Arc<Intake>,
    account: &Account,
    district: Option<String>,
) -> Result<Report, IntakeError> {
    let (i, a) = (intake.clone(), account.clone());
    tokio::task::spawn_blocking(move || i.progress_report(&a, district.as_deref()))
        .await
        .map_err(|e| IntakeError::BadRequest(e.to_string()))?
}

/// The progress as a phone shows it first: one card per village and enumerator, the furthest
/// behind the timeline first, with the few numbers that matter; the full table follows.
/// `verified`: the campaign double-keys its forms, so the cards count the checked ones too.
pub(super) fn table(report: &Report, tz: chrono_tz::Tz, verified: bool) -> Markup {
    let mut cards: Vec<&crate::progress::Row> = report.rows.iter().collect();
    cards.sort_by(|a, b| {
        b.shortfall
            .cmp(&a.shortfall)
            .then_with(|| a.enumerator.cmp(&b.enumerator))
            .then_with(|| a.village.cmp(&b.village))
    });
    // Never enrolled (issue a code) and enrolled but silent (call them) are told apart.
    let synced = |r: &crate::progress::Row| match (&r.last_sync, r.has_device) {
        (Some(t), _) => html! { (super::layout::shown_time(t, tz)) },
        (None, true) => html! { "đã đăng ký máy, chưa đồng bộ lần nào" },
        (None, false) => html! { "chưa đăng ký máy — " a href="codes" { "cấp mã đăng ký" } },
    };
    // When the work was done, beside when it arrived: a tablet that synced late is not late work.
    let field_day = |r: &crate::progress::Row| match r.last_field_day {
        Some(d) => d.format("%d/%m/%Y").to_string(),
        None => "chưa có".to_string(),
    };
    // The badge names every stage short of the timeline, earliest first (the sort uses all
    // stages together).
    let state = |r: &crate::progress::Row| {
        if r.behind.is_empty() {
            return ("ok", "Đúng tiến độ".to_string());
        }
        let gaps: Vec<String> = r
            .behind
            .iter()
            .map(|b| {
                let stage = match b.stage {
                    "handed_out" => "phát",
                    "collected" => "thu",
                    _ => "gửi bưu gói",
                };
                format!("{} phiếu {stage}", b.expected.saturating_sub(b.done))
            })
            .collect();
        ("late", format!("Chậm {}", gaps.join(", ")))
    };
    html! {
        p { "Ngày " (report.day.format("%d/%m/%Y")) " · " (report.rows.len()) " thôn/điều tra viên · " span.flag { (report.behind) " chậm tiến độ" } }
        div.cards #cards {
            @for r in &cards {
                @let (class, said) = state(r);
                article class={ "card " (class) } data-village=(r.village_id) data-shortfall=(r.shortfall) {
                    div.card-head { b.who { (r.enumerator) } span.badge { (said) } }
                    p.where { (r.village) ", " (r.commune) " — " a href={ "progress/district/" (r.district_id) } { (r.district) } }
                    dl.numbers {
                        div { dt { "Đã phát" } dd { (r.counts.handed_out) " / " (r.expected.handed_out) } }
                        div { dt { "Đã thu" } dd { (r.counts.collected) " / " (r.expected.collected) } }
                        div { dt { "Đã nhập" } dd { (r.counts.transcribed) } }
                        @if verified { div { dt { "Đã kiểm tra" } dd { (r.counts.verified) } } }
                        div { dt { "Bưu gói" } dd { (r.counts.in_parcel) " / " (r.expected.in_parcel) } }
                    }
                    p.muted {
                        "Cần đạt hôm nay sau dấu /. Mẫu " (r.counts.sampled) " hộ. "
                        span.field-day { "Làm ngoài thực địa gần nhất: " (field_day(r)) ". " }
                        "Đồng bộ gần nhất: " (synced(r))
                    }
                }
            }
        }
        details.full {
            summary { "Bảng đầy đủ" }
            div.scroll { table {
                thead { tr {
                    th { "Huyện / Xã / Thôn — Điều tra viên" } th { "Mẫu" } th { "Đã phát" } th { "Đã thu" } th { "Vắng" } th { "Từ chối" }
                    th { "Chuyển đi" } th { "Thay thế" } th { "Đã đồng bộ" } th { "Đã nhập" } @if verified { th { "Đã kiểm tra" } } th { "Trong bưu gói" } th { "Cần đạt (phát/thu/gói)" } th { "Làm ngoài thực địa gần nhất" } th { "Đồng bộ gần nhất" }
                } }
                tbody {
                    @for r in &report.rows {
                        tr class=(if r.behind.is_empty() { "" } else { "behind" }) {
                            td.l { (r.district) " / " (r.commune) " / " (r.village) " — " (r.enumerator) }
                            td { (r.counts.sampled) } td { (r.counts.handed_out) } td { (r.counts.collected) } td { (r.counts.absent) } td { (r.counts.refused) }
                            td { (r.counts.moved) } td { (r.counts.replaced) } td { (r.counts.synced) } td { (r.counts.transcribed) } @if verified { td { (r.counts.verified) } } td { (r.counts.in_parcel) }
                            td { (r.expected.handed_out) " / " (r.expected.collected) " / " (r.expected.in_parcel) }
                            td { (field_day(r)) }
                            td.l { (synced(r)) }
                        }
                    }
                }
            } }
        }
    }
}

/// A campaign's root: its progress page.
pub(super) async fn campaign_home(Signed { v, .. }: Signed<Staff>) -> Redirect {
    Redirect::to(&v.at("/progress"))
}

pub(super) async fn progress_page(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Staff>,
) -> Result<Response, IntakeError> {
    let report = report_for(&intake, &v.account, None).await?;
    let (i, a) = (intake.clone(), v.account.clone());
    let (daily, tz, verified, timeline) = blocking(move || {
        let info = i.store.campaign()?.info;
        Ok((
            i.daily_counts(&a)?,
            i.time_zone()?,
            info.verification_required,
            info.timeline,
        ))
    })
    .await?;
    let body = html! {
        (table(&report, tz, verified))
        (chart(&crate::progress::cumulative(&daily), &Calendar { timeline: &timeline, counts: &report.total, today: report.day }))
        p { a href="progress/report" { "Báo cáo theo kỳ (tháng)" } }
    };
    Ok(page("Tiến độ thu thập", Some(&v), body).into_response())
}

/// The campaign's calendar under the progress chart: the period the drawing spans, what the
/// timeline expects done by each day (the same rule as the cards' «Cần đạt»), and today.
pub(super) struct Calendar<'a> {
    pub(super) timeline: &'a sync_protocol::assignment::Timeline,
    /// The totals of the households in view (what the plan is a share of).
    pub(super) counts: &'a crate::progress::Counts,
    pub(super) today: chrono::NaiveDate,
}

/// Cumulative work per campaign day as an SVG line chart (no script), over the campaign's
/// whole period (first hand-out day to the last day to send parcels), beside the plan the
/// timeline sets for handing out and collecting, with today marked: a supervisor sees how
/// far the work is from where the calendar wants it, and how much time is left.
///
/// Drawn for a 390 px phone first: a narrow drawing whose letters stay at least 11 px there,
/// at most six day labels however long the campaign, dots only while there are few days, and
/// the legend as text below the drawing, where it can wrap.
pub(super) fn chart(points: &[(chrono::NaiveDate, u32, u32, u32)], calendar: &Calendar) -> Markup {
    let sampled = calendar.counts.sampled;
    if points.is_empty() {
        // An empty frame reads as a broken chart: say why there is nothing yet.
        return html! {
            p.muted #chart-empty { "Chưa có việc nào ngoài thực địa: biểu đồ tiến độ hiện khi phiếu đầu tiên được phát và máy đồng bộ." }
        };
    }
    let timeline = calendar.timeline;
    // The period: the campaign's, stretched to any work done outside it.
    let first = timeline.distribute.start.min(points[0].0);
    let last = timeline.submit.end.max(points[points.len() - 1].0);
    let span = (last - first).num_days().max(1) as f64;
    let days = (last - first).num_days() as usize + 1;
    let day = |i: usize| first + chrono::Duration::days(i as i64);
    let (w, h, pad, font) = (480.0, 260.0, 44.0, 15.0);
    let top = sampled
        .max(
            points
                .iter()
                .map(|p| p.1.max(p.2).max(p.3))
                .max()
                .unwrap_or(0),
        )
        .max(1) as f64;
    let x = |d: chrono::NaiveDate| pad + (w - 2.0 * pad) * (d - first).num_days() as f64 / span;
    let y = |n: u32| h - pad - (h - 2.0 * pad) * n as f64 / top;
    let line = |pick: fn(&(chrono::NaiveDate, u32, u32, u32)) -> u32| {
        points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(pick(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // The plan, day by day, as the cards reckon it.
    let plan = |pick: fn(&crate::progress::Expected) -> u32| {
        (0..days)
            .map(|i| {
                let wanted = crate::progress::expected(calendar.counts, timeline, day(i));
                format!("{:.1},{:.1}", x(day(i)), y(pick(&wanted)))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let labelled = day_labels(days);
    // A drawing that runs into another year (work long after the campaign) says which.
    let day_format = if first.year() == last.year() {
        "%d/%m"
    } else {
        "%d/%m/%y"
    };
    let dots = points.len() <= 10;
    let today = (first..=last)
        .contains(&calendar.today)
        .then_some(calendar.today);
    // Three hues told apart with colour blindness too (blue, orange, green), and the middle
    // line dashed; dots of three sizes, so equal counts on one day show as rings, not one dot.
    // The plan: thin dotted lines of the same hues.
    let colours = [
        ("#1d4ea3", "đã phát"),
        ("#b25400", "đã thu"),
        ("#1d7a46", "đã nhập"),
    ];
    html! {
        figure.chart {
            svg #progress-chart viewBox={ "0 0 " (w) " " (h) } role="img" aria-label="Tiến độ cộng dồn theo ngày so với kế hoạch của đợt: đã phát, đã thu, đã nhập" style="background:#fff;border:1px solid #d6dbe2;width:100%;max-width:560px;height:auto" {
                line x1=(pad) y1=(y(sampled)) x2=(w - pad) y2=(y(sampled)) stroke="#b3261e" stroke-dasharray="4 4" {}
                text x=(pad) y=(y(sampled) - 5.0) font-size=(font) fill="#b3261e" { "Mẫu: " (sampled) }
                line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) stroke="#9aa3ad" {}
                text x=(pad - 6.0) y=(h - pad + 5.0) font-size=(font) text-anchor="end" { "0" }
                @if let Some(t) = today {
                    // Above the sample's label, on a row of its own.
                    line #chart-today x1=(x(t)) y1="22" x2=(x(t)) y2=(h - pad) stroke="#5b6472" stroke-width="1" {}
                    text x=(x(t)) y="16" font-size=(font) text-anchor=(if x(t) > w - 2.0 * pad { "end" } else if x(t) < 2.0 * pad { "start" } else { "middle" }) fill="#5b6472" { "hôm nay" }
                }
                polyline.plan data-stage="handed_out" points=(plan(|e| e.handed_out)) fill="none" stroke=(colours[0].0) stroke-width="2" stroke-dasharray="3 3" opacity="0.75" {}
                polyline.plan data-stage="collected" points=(plan(|e| e.collected)) fill="none" stroke=(colours[1].0) stroke-width="2" stroke-dasharray="3 3" opacity="0.75" {}
                polyline points=(line(|p| p.1)) fill="none" stroke=(colours[0].0) stroke-width="2.5" {}
                polyline points=(line(|p| p.2)) fill="none" stroke=(colours[1].0) stroke-width="2.5" stroke-dasharray="7 4" {}
                polyline points=(line(|p| p.3)) fill="none" stroke=(colours[2].0) stroke-width="2.5" {}
                @for (i, p) in points.iter().enumerate() {
                    // Dots as well as lines while days are few: with one day there is no line.
                    @if dots || i + 1 == points.len() {
                        circle cx=(x(p.0)) cy=(y(p.1)) r="7" fill=(colours[0].0) {} circle cx=(x(p.0)) cy=(y(p.2)) r="5" fill=(colours[1].0) {} circle cx=(x(p.0)) cy=(y(p.3)) r="3" fill=(colours[2].0) {}
                    }
                }
                @for i in &labelled {
                    text.day x=(x(day(*i))) y=(h - pad + 24.0) font-size=(font) text-anchor="middle" { (day(*i).format(day_format)) }
                }
            }
            figcaption.legend {
                @for (k, (colour, said)) in colours.iter().enumerate() { span style={ "color:" (colour) } { (if k == 1 { "╍ " } else { "━ " }) (said) } " " }
                span.muted { "┈ kế hoạch phát, thu theo lịch của đợt (như cột «Cần đạt»)" }
                br; "Đợt: phát " (timeline.distribute.start.format("%d/%m")) "–" (timeline.distribute.end.format("%d/%m"))
                    ", thu " (timeline.collect.start.format("%d/%m")) "–" (timeline.collect.end.format("%d/%m"))
                    ", gửi bưu gói đến " (timeline.submit.end.format("%d/%m/%Y")) "."
                @if let Some(last) = points.last() {
                    br; "Đến " (last.0.format("%d/%m")) ": đã phát " (last.1) ", đã thu " (last.2) ", đã nhập " (last.3) " trên mẫu " (sampled) "."
                }
            }
        }
    }
}

/// Which of `n` days get a label under the chart: at most six, evenly spread, always the
/// first and the last.
fn day_labels(n: usize) -> Vec<usize> {
    const MOST: usize = 6;
    if n <= MOST {
        return (0..n).collect();
    }
    let mut picked: Vec<usize> = (0..MOST).map(|k| k * (n - 1) / (MOST - 1)).collect();
    picked.dedup();
    picked
}

#[derive(serde::Deserialize, Default)]
pub(super) struct PeriodQuery {
    /// Days as a date box sends them (`YYYY-MM-DD`); empty (a cleared box) is no day.
    #[serde(default)]
    pub(super) from: String,
    #[serde(default)]
    pub(super) to: String,
    pub(super) format: Option<String>,
}

impl PeriodQuery {
    /// The period asked for, defaulting to the campaign's fieldwork so far (from the first day
    /// of hand-out to today: late work after the campaign's last day is still work); or what
    /// could not be read.
    pub(super) fn period(
        &self,
        today: chrono::NaiveDate,
        timeline: &sync_protocol::assignment::Timeline,
    ) -> Result<(chrono::NaiveDate, chrono::NaiveDate), String> {
        let start = timeline.distribute.start.min(today);
        let end = today;
        let day = |raw: &str, default: chrono::NaiveDate| {
            Ok::<_, String>(super::layout::typed_day(raw)?.unwrap_or(default))
        };
        let from = day(&self.from, start)?;
        let to = day(&self.to, end)?;
        super::layout::days_in_order(from, to)?;
        Ok((from, to))
    }
}

/// What a period report (page or JSON) is made from, for one reader.
pub(super) struct PeriodInputs {
    /// The reader's day counts.
    pub(super) daily: Vec<crate::store::DailyCount>,
    /// The enumerators the reader oversees: each gets a row, idle or not.
    pub(super) everyone: Vec<String>,
    pub(super) tz: chrono_tz::Tz,
    pub(super) timeline: sync_protocol::assignment::Timeline,
    /// The campaign's day: work done this morning in Vietnam is in today's report.
    pub(super) today: chrono::NaiveDate,
}

pub(super) async fn period_inputs(
    intake: &Arc<Intake>,
    account: &Account,
) -> Result<PeriodInputs, IntakeError> {
    let (i, a) = (intake.clone(), account.clone());
    let (daily, tz, timeline) = blocking(move || {
        Ok((
            i.daily_counts(&a)?,
            i.time_zone()?,
            i.store.campaign()?.info.timeline,
        ))
    })
    .await?;
    let everyone = super::codes::enumerators_for(intake, account)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let today = Utc::now().with_timezone(&tz).date_naive();
    Ok(PeriodInputs {
        daily,
        everyone,
        tz,
        timeline,
        today,
    })
}

pub(super) async fn period_report(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Staff>,
    axum::extract::Query(q): axum::extract::Query<PeriodQuery>,
) -> Result<Response, IntakeError> {
    let PeriodInputs {
        daily: counts,
        everyone,
        tz,
        timeline,
        today,
    } = period_inputs(&intake, &v.account).await?;
    let i = intake.clone();
    let names = blocking(move || i.enumerator_names()).await?;
    // A day that cannot be read is said on the page, which shows the fieldwork so far meanwhile;
    // a file is refused instead (nothing in a file would say it holds another period).
    let is_file = matches!(q.format.as_deref(), Some("csv" | "xlsx"));
    let (problem, (from, to)) = match q.period(today, &timeline) {
        Ok(p) => (None, p),
        Err(m) if is_file => return Err(IntakeError::Declined(m)),
        Err(m) => (
            Some(m),
            PeriodQuery::default()
                .period(today, &timeline)
                .unwrap_or((today, today)),
        ),
    };
    let rows = crate::progress::period(&counts, from, to, &everyone);
    let months = crate::progress::worked_months(&counts);
    let header_row = [
        "điều tra viên",
        "mã điều tra viên",
        "đã phát",
        "đã thu",
        "đã nhập",
        "đã kiểm tra",
        "vắng",
        "từ chối",
        "chuyển đi",
        "phiếu đã vào bưu gói",
        "tính theo ngày máy chủ nhận",
    ]
    .map(String::from)
    .to_vec();
    // Events whose tablet time could not be right are counted on the day the centre received
    // them (progress::DayRule); the report says how many.
    let by_receipt: u32 = rows.iter().map(|r| r.by_receipt).sum();
    let as_rows = || {
        std::iter::once(header_row.clone())
            .chain(rows.iter().map(|r| {
                vec![
                    names
                        .get(&r.enumerator)
                        .cloned()
                        .unwrap_or_else(|| r.enumerator.clone()),
                    r.enumerator.clone(),
                    r.handed_out.to_string(),
                    r.collected.to_string(),
                    r.keyed.to_string(),
                    r.verified.to_string(),
                    r.absent.to_string(),
                    r.refused.to_string(),
                    r.moved.to_string(),
                    r.in_parcels.to_string(),
                    r.by_receipt.to_string(),
                ]
            }))
            .collect::<Vec<_>>()
    };
    let name = format!("bao-cao-{from}-{to}");
    match q.format.as_deref() {
        Some("csv") => download(&as_rows(), &name, None),
        Some("xlsx") => download(&as_rows(), &name, Some("Báo cáo theo kỳ")),
        _ => {
            let body = html! {
                @if let Some(m) = &problem { p.error role="alert" #problem { (m) } }
                // One link per month that has work in it, for the monthly report (004).
                p #months { "Theo tháng: " @for (i, (first, last)) in months.iter().enumerate() {
                    @if i > 0 { " · " }
                    a href={ "progress/report?from=" (first) "&to=" (last) } { "Tháng " (first.format("%m/%Y")) }
                } @if months.is_empty() { "chưa tháng nào có việc được ghi nhận." } }
                form method="get" action="progress/report" {
                    label { "Từ ngày " input type="date" name="from" value=(from); }
                    label { "Đến ngày " input type="date" name="to" value=(to); }
                    button { "Xem" }
                }
                p { a href={ "progress/report?from=" (from) "&to=" (to) "&format=csv" } { "Tải CSV" } " · " a href={ "progress/report?from=" (from) "&to=" (to) "&format=xlsx" } { "Tải XLSX" } }
                p.muted #day-rule { "Mỗi sự kiện được tính vào ngày theo giờ của đợt khảo sát (UTC" (Utc::now().with_timezone(&tz).format("%:z")) "); kỳ báo cáo gồm cả ngày đầu và ngày cuối." }
                @if by_receipt > 0 {
                    p.flag #dated-by-receipt { (by_receipt) " sự kiện tính theo ngày máy chủ nhận vì giờ máy tính bảng không hợp lý (muộn hơn lúc máy chủ nhận quá " (crate::progress::DEVICE_AHEAD_TOLERANCE_SECS / 60) " phút, hoặc trước ngày đầu của đợt khảo sát hơn " (crate::progress::DAYS_BEFORE_START) " ngày)." }
                }
                // The page shows names; the files carry the id beside them for joining.
                div.scroll { table #period {
                    thead { tr { @for (k, hcell) in header_row.iter().enumerate() { @if k != 1 { th { (hcell) } } } } }
                    tbody { @for r in as_rows().iter().skip(1) { tr { @for (k, c) in r.iter().enumerate() { @if k != 1 { td { (c) } } } } } }
                } }
                p.muted #columns { "«Vắng», «từ chối», «chuyển đi»: số lần gặp trong kỳ (một hộ vắng hai lần tính hai lần), khác với số hộ đang ở tình trạng đó trên trang tiến độ. «Phiếu đã vào bưu gói»: mỗi phiếu trong một bưu gói tính một." }
            };
            Ok(page(
                &format!(
                    "Báo cáo từ {} đến {}",
                    from.format("%d/%m/%Y"),
                    to.format("%d/%m/%Y")
                ),
                Some(&v),
                body,
            )
            .into_response())
        }
    }
}

pub(super) async fn district_page(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Staff>,
    // The campaign's id is the first parameter of the path (`/c/{campaign}/…`).
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, IntakeError> {
    let report = report_for(&intake, &v.account, Some(id)).await?;
    let i = intake.clone();
    let (tz, verified) = blocking(move || {
        Ok((
            i.time_zone()?,
            i.store.campaign()?.info.verification_required,
        ))
    })
    .await?;
    Ok(page("Tiến độ theo huyện", Some(&v), table(&report, tz, verified)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<(chrono::NaiveDate, u32, u32, u32)> {
        let first = chrono::NaiveDate::from_ymd_opt(2024, 11, 1).unwrap();
        (0..n)
            .map(|i| {
                let k = i as u32;
                (first + chrono::Duration::days(i as i64), 3 * k, 2 * k, k)
            })
            .collect()
    }

    fn november(d: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2024, 11, d).unwrap()
    }

    /// Hand-out 1–10 November, collection 4–20, parcels 8–30.
    fn timeline() -> sync_protocol::assignment::Timeline {
        let w = |a, b| sync_protocol::assignment::Window {
            start: november(a),
            end: november(b),
        };
        sync_protocol::assignment::Timeline {
            distribute: w(1, 10),
            collect: w(4, 20),
            submit: w(8, 30),
        }
    }

    fn sample(n: u32) -> crate::progress::Counts {
        crate::progress::Counts {
            sampled: n,
            ..Default::default()
        }
    }

    /// The chart of `points` for a sample of 100 in [`timeline`], seen on `today`.
    fn drawn(points: &[(chrono::NaiveDate, u32, u32, u32)], today: chrono::NaiveDate) -> String {
        let (t, c) = (timeline(), sample(100));
        chart(
            points,
            &Calendar {
                timeline: &t,
                counts: &c,
                today,
            },
        )
        .into_string()
    }

    /// The points of the polyline that follows `marker`, as (x, y).
    fn polyline(drawn: &str, marker: &str) -> Vec<(f64, f64)> {
        let after = drawn
            .split(marker)
            .nth(1)
            .unwrap_or_else(|| panic!("{marker}"));
        let points = after
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        points
            .split(' ')
            .map(|xy| {
                let (x, y) = xy.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn a_long_campaign_keeps_at_most_six_day_labels_with_its_first_and_last_day() {
        for n in [1, 2, 6, 7, 13, 31, 62] {
            let labels = day_labels(n);
            assert!(labels.len() <= 6 && !labels.is_empty(), "{n}: {labels:?}");
            assert_eq!((labels[0], *labels.last().unwrap()), (0, n - 1), "{n}");
            let drawn = drawn(&days(n), november(5));
            let shown: Vec<&str> = drawn
                .split("class=\"day\"")
                .skip(1)
                .map(|t| t.split('>').nth(1).unwrap().split('<').next().unwrap())
                .collect();
            assert!(shown.len() <= 6 && shown.len() >= 2, "{n}: {shown:?}");
            // The campaign's whole period, or the work's where it runs past it (into the next
            // year: the labels say which).
            let last = days(n)[n - 1].0.max(november(30));
            let format = if last.year() == 2024 {
                "%d/%m"
            } else {
                "%d/%m/%y"
            };
            assert_eq!(shown[0], november(1).format(format).to_string(), "{n}");
            assert_eq!(
                *shown.last().unwrap(),
                last.format(format).to_string(),
                "{n}"
            );
        }
    }

    #[test]
    fn the_chart_spans_the_campaign_with_its_plan_and_today() {
        // Three days of work into a 30-day campaign: the drawing shows the time left.
        let drawn = drawn(&days(3), november(3));
        let sample_line: f64 = drawn
            .split("<line x1=\"44\" y1=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // The hand-out plan reaches the whole sample on the window's last day, 10 November
        // (the tenth point), and stays there; collection's only on the 20th.
        let handed = polyline(&drawn, "data-stage=\"handed_out\"");
        let collected = polyline(&drawn, "data-stage=\"collected\"");
        assert_eq!(handed.len(), 30);
        assert!(
            handed[8].1 > sample_line && handed[9].1 == sample_line,
            "{handed:?}"
        );
        assert!(handed[29].1 == sample_line);
        assert!(collected[18].1 > sample_line && collected[19].1 == sample_line);
        // Before the collection window, no collection is planned.
        let baseline = handed.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert_eq!(collected[2].1, collected[0].1);
        assert!(collected[0].1 >= baseline);
        // The work drawn stops at its last day, a tenth of the way across.
        let work = polyline(&drawn, "stroke-width=\"2.5\" stroke-dasharray=\"7 4\"");
        assert_eq!(work.len(), 3);
        assert!(work[2].0 < handed[3].0);
        assert!(drawn.contains("id=\"chart-today\"") && drawn.contains("hôm nay"));
        assert!(
            drawn.contains("phát 01/11–10/11, thu 04/11–20/11, gửi bưu gói đến 30/11/2024"),
            "{drawn}"
        );
        // A day outside the period has no mark.
        let later = super::tests::drawn(&days(3), november(1) + chrono::Duration::days(60));
        assert!(!later.contains("chart-today"));
        // Work done a year on (a tablet used long after the campaign): the labels say the year.
        let mut late = days(3);
        late.push((november(2) + chrono::Duration::days(400), 9, 6, 3));
        let drawn = super::tests::drawn(&late, november(3));
        assert!(
            drawn.contains(">01/11/24<") && drawn.contains(">07/12/25<"),
            "the day labels of a drawing over two years"
        );
    }

    #[test]
    fn the_chart_letters_stay_readable_on_a_390_px_phone() {
        // The page leaves the drawing about 350 px of a 390 px screen.
        let drawn = drawn(&days(31), november(20));
        let width: f64 = drawn
            .split("viewBox=\"0 0 ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        for size in drawn.split("font-size=\"").skip(1) {
            let size: f64 = size.split('"').next().unwrap().parse().unwrap();
            assert!(
                size * 350.0 / width >= 10.5,
                "{size} in a {width} wide drawing"
            );
        }
        assert!(
            drawn.contains("figcaption"),
            "the legend is text that wraps, not inside the drawing"
        );
    }

    #[test]
    fn no_work_yet_is_said_in_words_and_one_days_equal_counts_show_as_three_rings() {
        let none = drawn(&[], november(1));
        assert!(none.contains("Chưa có việc nào") && !none.contains("<svg"));
        let one = drawn(&days(1), november(1));
        let radii: Vec<&str> = one
            .split("<circle")
            .skip(1)
            .map(|c| c.split("r=\"").nth(1).unwrap().split('"').next().unwrap())
            .collect();
        assert_eq!(
            radii,
            ["7", "5", "3"],
            "the smaller dot drawn over the larger"
        );
    }
}
