//! The first page after logging in: the campaigns this account may see, each with where it
//! stands today and its pages; the comparison of years for a family with several. An account
//! with one campaign goes straight to it.

use super::prelude::*;

/// A campaign as the home page lists it.
struct Listed {
    id: String,
    name: String,
    family: String,
    year: i32,
    phase: &'static str,
    households: u32,
}

fn phase_words(t: &sync_protocol::assignment::Timeline, today: chrono::NaiveDate) -> &'static str {
    if today < t.distribute.start {
        "Chưa bắt đầu"
    } else if today <= t.distribute.end {
        "Đang phát phiếu"
    } else if today < t.collect.start {
        "Hộ gia đình đang điền phiếu"
    } else if today <= t.collect.end {
        "Đang thu phiếu"
    } else if today <= t.submit.end {
        "Nhập phiếu và nộp phiếu"
    } else {
        "Đã kết thúc"
    }
}

pub(super) async fn home_page(
    State(centre): State<Arc<Centre>>,
    Signed { v, .. }: Signed<Staff>,
) -> Result<Response, IntakeError> {
    let (c, account) = (centre.clone(), v.account.clone());
    let listed = blocking(move || {
        let entries = c.entries()?;
        let mut listed = Vec::new();
        for intake in c.intakes()? {
            if !account.may_enter(&intake.id) {
                continue;
            }
            let info = intake.store.campaign()?.info;
            let today = Utc::now().with_timezone(&intake.time_zone()?).date_naive();
            let entry = entries.iter().find(|e| e.id == intake.id);
            let scoped = intake.progress_report(&account.clone().in_campaign(&intake.id), None)?;
            listed.push(Listed {
                id: intake.id.clone(),
                name: info.name,
                family: entry.map(|e| e.family.clone()).unwrap_or_default(),
                year: entry.map(|e| e.year).unwrap_or_default(),
                phase: phase_words(&info.timeline, today),
                households: scoped.total.sampled,
            });
        }
        Ok(listed)
    })
    .await?;
    if let [only] = listed.as_slice() {
        return Ok(Redirect::to(&campaign_path(&only.id, "/progress")).into_response());
    }
    let owner = v.account.role != accounts::Role::Supervisor;
    // A family's campaigns, by name: people know the surveys, not the family's id.
    let mut families: Vec<(&str, Vec<&str>)> = Vec::new();
    for l in &listed {
        match families.iter_mut().find(|(f, _)| *f == l.family) {
            Some((_, names)) => names.push(&l.name),
            None => families.push((&l.family, vec![&l.name])),
        }
    }
    let body = html! {
        @if listed.is_empty() { p #no-campaigns { "Tài khoản chưa được giao đợt khảo sát nào. Hãy hỏi quản trị viên." } }
        div.cards #campaigns {
            @for l in &listed {
                article.card data-campaign=(l.id) {
                    div.card-head { b { a href=(campaign_path(&l.id, "/progress")) { (l.name) } } span.badge { (l.year) } }
                    p { (l.phase) " · " (l.households) " hộ trong mẫu" @if !owner { " (các huyện bạn giám sát)" } }
                    p {
                        a href=(campaign_path(&l.id, "/progress")) { "Tiến độ" }
                        @if owner {
                            " · " a href=(campaign_path(&l.id, "/ministry/reconciliation")) { "Đối chiếu" }
                            " · " a href=(campaign_path(&l.id, "/ministry/index")) { "Chỉ số" }
                        }
                    }
                }
            }
        }
        @if Officers::admits(v.account.role) {
            @for (family, names) in &families {
                @if names.len() > 1 {
                    p { a.compare href=(format!("/compare/{family}")) { "So sánh các năm: " (names.join(", ")) } }
                }
            }
        }
    };
    Ok(page("Các đợt khảo sát", Some(&v), body).into_response())
}

/// `/c/<campaign>/`, as people type it, is the campaign's home (`/c/<campaign>`); whether the
/// visitor may enter is asked there.
pub(super) async fn campaign_with_slash(Path(campaign): Path<String>) -> Response {
    let slug = !campaign.is_empty()
        && campaign
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if slug {
        Redirect::to(&format!("/c/{campaign}")).into_response()
    } else {
        IntakeError::NotFound.into_response()
    }
}
