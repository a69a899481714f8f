//! The pages anyone may read without an account: the list of campaigns whose owners published
//! their index, and each such index — figures, intervals and numbers of forms for areas with
//! enough forms, the method in plain Vietnamese — with the same as CSV. A campaign that
//! published nothing answers as if it did not exist; nothing else of any campaign is reachable
//! from here.

use super::prelude::*;

/// The method of a publication made before publications carried their own.
fn old_method() -> String {
    format!(
        "Chỉ số là tỷ lệ phần trăm câu trả lời hài lòng trên các câu trả lời hợp lệ về các tiêu chí của phiếu khảo sát, \
         tính cho từng tiêu chí rồi lấy trung bình theo các nhóm tiêu chí. {}",
        crate::publication::INTERVAL_AND_MINIMUM
    )
}

fn level_words(level: &str) -> &'static str {
    match level {
        "province" => "Tỉnh",
        "district" => "Huyện",
        "commune" => "Xã",
        _ => "Thôn",
    }
}

/// What is published now, campaign by campaign: (id, name, published at, local time zone).
async fn published(
    centre: &Arc<Centre>,
) -> Result<Vec<(String, String, String, chrono_tz::Tz)>, IntakeError> {
    let c = centre.clone();
    blocking(move || {
        let mut list = Vec::new();
        for intake in c.intakes()? {
            if let Some((_, at)) = intake.publication()? {
                list.push((
                    intake.id.clone(),
                    intake.store.campaign()?.info.name,
                    at,
                    intake.time_zone()?,
                ));
            }
        }
        Ok(list)
    })
    .await
}

pub(super) async fn public_list(
    State(centre): State<Arc<Centre>>,
) -> Result<Response, IntakeError> {
    let list = published(&centre).await?;
    let body = html! {
        @if list.is_empty() { p #none { "Chưa có số liệu nào được công bố." } }
        @else { ul #published-campaigns { @for (id, name, at, tz) in &list {
            li { a href=(format!("/public/{id}")) { (name) } " — công bố lúc " (super::layout::shown_time(at, *tz)) }
        } } }
    };
    Ok(page("Kết quả khảo sát đã công bố", None, body).into_response())
}

pub(super) async fn public_page(
    State(centre): State<Arc<Centre>>,
    Path(campaign): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PublicQuery>,
) -> Result<Response, IntakeError> {
    let c = centre.clone();
    let found = blocking(move || match c.campaign(&campaign)? {
        None => Ok(None),
        Some(i) => Ok(i.publication()?.map(|p| (p, i.clone()))),
    })
    .await?;
    // Not published and not there look the same from outside.
    let Some(((p, at), intake)) = found else {
        return Err(IntakeError::NotFound);
    };
    let i = intake.clone();
    let (campaign, tz) =
        blocking(move || Ok((i.store.campaign()?.info.name, i.time_zone()?))).await?;
    let coverage_words = |a: &crate::publication::PublishedArea| {
        let said: Vec<String> = a
            .coverage
            .iter()
            .filter(|c| c.level != "village")
            .map(|c| {
                format!(
                    "{} có phiếu: {}/{}",
                    level_words(&c.level).to_lowercase(),
                    c.with_forms,
                    c.sampled
                )
            })
            .collect();
        said.join("; ")
    };
    let rows = || {
        std::iter::once(
            [
                "cấp",
                "mã địa bàn",
                "địa bàn",
                "thuộc",
                "số phiếu",
                "chỉ số (%)",
                "cận dưới (%)",
                "cận trên (%)",
                "độ phủ",
            ]
            .map(String::from)
            .to_vec(),
        )
        .chain(p.areas.iter().map(|a| {
            let f = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_default();
            vec![
                level_words(&a.level).to_string(),
                a.code.clone(),
                a.name.clone(),
                a.parent.clone().unwrap_or_default(),
                a.forms.to_string(),
                f(a.value),
                f(a.low),
                f(a.high),
                if a.low_coverage {
                    format!("độ phủ thấp; {}", coverage_words(a))
                } else {
                    coverage_words(a)
                },
            ]
        }))
        .collect::<Vec<_>>()
    };
    if q.format.as_deref() == Some("csv") {
        return download(&rows(), "chi-so-cong-bo", None);
    }
    let body = html! {
        p { "Công bố lúc " (super::layout::shown_time(&at, tz)) ". Mỗi địa bàn có ít nhất " (p.min_forms) " phiếu; " (p.suppressed) " địa bàn không công bố (chưa đủ phiếu, chưa có phiếu, chỉ có phiếu của một thôn, hoặc giữ lại để số liệu của địa bàn nhỏ không suy ra được bằng phép trừ). Thôn không bao giờ được công bố." }
        div.scroll { table #published {
            thead { tr { th { "Cấp" } th.l { "Địa bàn" } th { "Số phiếu" } th { "Chỉ số (%)" } th { "Khoảng tin cậy 95 %" } th.l { "Độ phủ" } } }
            tbody { @for a in &p.areas { tr data-code=(a.code) {
                td.l { (level_words(&a.level)) } td.l { (a.name) @if let Some(parent) = &a.parent { br; small.muted { (parent) } } } td { (a.forms) }
                td { (a.value.map(|v| decimal(v, 1)).unwrap_or_else(|| "—".into())) }
                td { (a.low.zip(a.high).map(|(l, h)| format!("{}–{}", decimal(l, 1), decimal(h, 1))).unwrap_or_else(|| "—".into())) }
                td.l { @if a.low_coverage { b.flag { "Độ phủ thấp. " } } (coverage_words(a)) }
            } } }
        } }
        p { a href=(format!("/public/{}?format=csv", intake.id)) { "Tải về (CSV)" } " · " a href="/public" { "Các đợt khảo sát khác" } }
        h2 { "Cách tính" }
        p #method { @if p.method.is_empty() { (old_method()) } @else { (p.method) } }
    };
    Ok(page(&campaign, None, body).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct PublicQuery {
    format: Option<String>,
}
