//! Reassignment and the work it refused, for a supervisor: move a village or single households
//! (named by the serial printed on their paper forms) to another enumerator, and decide each
//! refused event — take it into the household's record as it stands now, or set it aside with
//! a reason. Names everywhere; each decision asks once more before it is made.

use super::prelude::*;
use crate::store::RejectedRecord;
use sync_protocol::assignment::Resolution;

csrf_forms!(ReassignForm, HouseholdsForm, ResolveForm);

/// The longest list of serials read at all (and so kept in its box to be mended): a thousand
/// serials of a dozen characters with their commas, with room to spare.
const KEPT_SERIALS_MAX: usize = 20_000;

/// A village offered to be moved.
struct VillageChoice {
    id: String,
    district: String,
    /// "village, commune".
    place: String,
    /// Who works in it, by name.
    holders: Vec<String>,
}

/// Everything the page shows, in the visitor's scope.
pub(super) struct ReassignData {
    /// The villages of the visitor's districts, by district then name.
    villages: Vec<VillageChoice>,
    /// (enumerator id, name) of the visitor's districts.
    enumerators: Vec<(String, String)>,
    pub(super) rejected: Vec<RejectedRecord>,
    /// The latest moves of work in the visitor's districts, newest first.
    moves: Vec<MoveShown>,
    tz: chrono_tz::Tz,
}

/// How many moves the page lists: enough to see, and undo, what was done lately.
const MOVES_SHOWN: usize = 10;

/// One move of work, named for a person.
struct MoveShown {
    at: String,
    by: String,
    /// Whom the households were taken from, by name, each with the serials that were theirs.
    from: Vec<(String, Vec<String>)>,
    to: String,
    /// "19 hộ — village, commune", or "2 hộ: serials".
    what: String,
    reason: String,
}

pub(super) async fn reassign_data(
    intake: &Arc<Intake>,
    account: &Account,
) -> Result<ReassignData, IntakeError> {
    let (i, a) = (intake.clone(), account.clone());
    blocking(move || {
        let scope = (a.role == accounts::Role::Supervisor).then(|| a.districts.clone());
        let names = i.enumerator_names()?;
        let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
        let mine: Vec<_> = i
            .store
            .villages_with_enumerators()?
            .into_iter()
            .filter(|(_, _, d, _)| a.may_see_district(d))
            .collect();
        // Places are told apart by their district too: commune names repeat across districts.
        let places = i.store.place_names()?;
        let district = |d: &String| places.get(d).cloned().unwrap_or_else(|| d.clone());
        let mut districts_of: std::collections::BTreeMap<&String, Vec<String>> = Default::default();
        for (_, _, d, list) in &mine {
            for e in list {
                let of = districts_of.entry(e).or_default();
                if !of.contains(&district(d)) {
                    of.push(district(d));
                }
            }
        }
        let mut enumerators: Vec<(String, String)> = districts_of
            .iter()
            .map(|(e, ds)| ((*e).clone(), format!("{} — {}", name(e), ds.join(", "))))
            .collect();
        enumerators.sort_by(|x, y| x.1.cmp(&y.1).then_with(|| x.0.cmp(&y.0)));
        let mut villages: Vec<_> = mine
            .iter()
            .map(|(id, place, d, list)| VillageChoice {
                id: id.clone(),
                district: district(d),
                place: place.clone(),
                holders: list.iter().map(name).collect(),
            })
            .collect();
        // Stable: within a district, the store's order (by village id, so by commune).
        villages.sort_by(|x, y| x.district.cmp(&y.district));
        // Who decided, by name (the record keeps the login).
        let mut rejected = i.store.rejected_events(scope.as_deref())?;
        let recent = i.store.recent_moves(20 * MOVES_SHOWN)?;
        let people = i.person_names(
            rejected
                .iter()
                .filter_map(|r| r.resolved_by.as_deref())
                .chain(recent.iter().map(|m| m.by.as_str())),
        )?;
        let person = |login: &str| people.get(login).cloned().unwrap_or_else(|| login.into());
        for r in &mut rejected {
            r.resolved_by = r.resolved_by.as_deref().map(person);
        }
        // Moves in the visitor's districts (a move from the command line may span several:
        // only what is theirs of it is said).
        let mut moves = Vec::new();
        for m in recent {
            let mine: Vec<&(String, String, String, String)> = m
                .households
                .iter()
                .filter(|(_, _, d, _)| a.may_see_district(d))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut villages: Vec<String> = Vec::new();
            for (_, village, ..) in &mine {
                let place = places
                    .get(village)
                    .cloned()
                    .unwrap_or_else(|| village.clone());
                if !villages.contains(&place) {
                    villages.push(place);
                }
            }
            let what = if mine.len() <= 5 {
                let serials: Vec<&str> = mine.iter().map(|(s, ..)| s.as_str()).collect();
                format!(
                    "{} hộ: {} ({})",
                    mine.len(),
                    serials.join(", "),
                    villages.join("; ")
                )
            } else {
                format!("{} hộ — {}", mine.len(), villages.join("; "))
            };
            // Taken from several people: whose each household was, so that a mistaken move
            // can be undone person by person with the boxes above.
            let mut from: Vec<(String, Vec<String>)> = Vec::new();
            for (serial, .., holder) in mine.iter().copied() {
                let holder = name(holder);
                match from.iter_mut().find(|(h, _)| *h == holder) {
                    Some((_, serials)) => serials.push(serial.clone()),
                    None => from.push((holder, vec![serial.clone()])),
                }
            }
            moves.push(MoveShown {
                at: m.at,
                by: person(&m.by),
                from,
                to: name(&m.to),
                what,
                reason: m.reason,
            });
            if moves.len() == MOVES_SHOWN {
                break;
            }
        }
        Ok(ReassignData {
            villages,
            enumerators,
            rejected,
            moves,
            tz: i.time_zone()?,
        })
    })
    .await
}

fn enumerator_choice(d: &ReassignData, kept: Option<&KeptMove>) -> Markup {
    let chosen = |id: &str| kept.is_some_and(|k| k.to == id);
    html! { label { "Giao cho " select name="to" { @for (id, name) in &d.enumerators { option value=(id) selected[chosen(id)] { (name) } } } } }
}

/// What a refused move's form held, to be shown again as it was sent.
#[derive(Default)]
pub(super) struct KeptMove {
    /// Which of the page's two forms: "village" or "households".
    form: String,
    village: String,
    serials: String,
    to: String,
    reason: String,
}

/// What is kept of a field is bounded: it waits in memory for the next page (a reason is at
/// most 500 characters, an id far less).
fn kept_field(value: &str) -> String {
    value.chars().take(500).collect()
}

impl KeptMove {
    fn village(form: &ReassignForm) -> KeptMove {
        KeptMove {
            form: "village".into(),
            village: kept_field(&form.village),
            to: kept_field(&form.to),
            reason: kept_field(&form.reason),
            ..KeptMove::default()
        }
    }

    /// `serials` are bounded by the caller ([`KEPT_SERIALS_MAX`]).
    fn households(form: &HouseholdsForm, serials: &str) -> KeptMove {
        KeptMove {
            form: "households".into(),
            serials: serials.into(),
            to: kept_field(&form.to),
            reason: kept_field(&form.reason),
            ..KeptMove::default()
        }
    }

    fn into_said(self, message: String) -> Said {
        Said {
            message,
            kept: self.serials,
            kept_fields: vec![
                ("form".into(), self.form),
                ("village".into(), self.village),
                ("to".into(), self.to),
                ("reason".into(), self.reason),
            ],
            slip: None,
            refused: true,
        }
    }

    fn from_said(said: &Said) -> KeptMove {
        let field = |name: &str| {
            said.kept_fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        KeptMove {
            form: field("form"),
            village: field("village"),
            serials: said.kept.clone(),
            to: field("to"),
            reason: field("reason"),
        }
    }
}

/// The refused work of one household (or one parcel), in the order it was done.
struct RefusedGroup<'a> {
    /// The household, or the event's id for work that names none (a parcel).
    key: String,
    household: Option<&'a str>,
    records: Vec<&'a RejectedRecord>,
}

/// Where an event kind comes in a household's life: refused work is taken back in this order.
fn lifecycle_rank(kind: &str) -> u8 {
    match kind {
        "form_distributed" => 0,
        "visit_outcome" => 1,
        "household_replaced" => 2,
        "form_collected" => 3,
        "form_transcribed" => 4,
        "transcription_verified" => 5,
        "correction" => 6,
        _ => 7,
    }
}

/// Whether the work carries a keyed form: never to be set aside lightly.
fn carries_answers(kind: &str) -> bool {
    matches!(
        kind,
        "form_transcribed" | "transcription_verified" | "correction"
    )
}

fn refused_groups<'a>(open: &[&'a RejectedRecord]) -> Vec<RefusedGroup<'a>> {
    let mut groups: Vec<RefusedGroup> = Vec::new();
    for r in open {
        let key = r.household.clone().unwrap_or_else(|| r.event.clone());
        match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => g.records.push(r),
            None => groups.push(RefusedGroup {
                key,
                household: r.household.as_deref(),
                records: vec![r],
            }),
        }
    }
    for g in &mut groups {
        // Stable: work of one kind keeps the order it arrived in.
        g.records.sort_by_key(|r| lifecycle_rank(&r.kind));
    }
    groups
}

fn rejected_card(v: &Visitor, g: &RefusedGroup, tz: chrono_tz::Tz) -> Markup {
    let first = g.records[0];
    let household = match (&first.household_name, &first.serial) {
        (Some(name), Some(serial)) => format!("{name} — phiếu {serial}"),
        _ => "Bưu gói".to_string(),
    };
    let acceptable = first.holder.is_some()
        && g.records
            .iter()
            .all(|r| r.code == sync_protocol::api::rejection::HOUSEHOLD_NOT_ASSIGNED);
    let answers = g.records.iter().any(|r| carries_answers(&r.kind));
    let target = |form: Markup| match g.household {
        Some(h) => html! { input type="hidden" name="household" value=(h); (form) },
        None => html! { input type="hidden" name="event" value=(first.event); (form) },
    };
    html! {
        article.card.late.rejected data-household=(g.key) data-event=(first.event) {
            p { strong { (household) } }
            @if let Some(village) = &first.village_name { p.muted { (village) ", " (first.commune_name.as_deref().unwrap_or("")) } }
            ol.work { @for r in &g.records {
                li data-event=(r.event) { (crate::words::event_kind(&r.kind)) " · " (r.enumerator_name) " · " (super::layout::shown_time(&r.received_at, tz)) }
            } }
            p.why { "Lý do: " (crate::words::rejection(&first.code)) "." }
            @if let Some(holder) = &first.holder { p { "Hộ nay do " strong { (holder.name) } " phụ trách." } }
            @if acceptable {
                form method="post" action="reassign/rejected" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    (target(html! {}))
                    button name="decision" value="accepted" {
                        @if g.records.len() > 1 { "Nhận cả " (g.records.len()) " việc, theo thứ tự, vào hồ sơ của " } @else { "Nhận vào hồ sơ của " }
                        (first.holder.as_ref().map(|h| h.name.as_str()).unwrap_or(""))
                    }
                }
            }
            @if answers {
                p.muted { "Việc này có phiếu đã nhập. Đừng bỏ qua nếu phiếu giấy còn: nhận vào hồ sơ, hoặc gửi phiếu giấy về Bộ cùng bưu gói để nhập lại tại Bộ." }
            }
            details {
                summary { "Bỏ qua" }
                form method="post" action="reassign/rejected" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    (target(html! {}))
                    label { "Lý do bỏ qua " input name="note" required maxlength="500"; }
                    button.secondary name="decision" value="dismissed" {
                        @if answers { "Bỏ qua (câu trả lời đã nhập sẽ không được tính)" } @else { "Bỏ qua" }
                    }
                }
            }
        }
    }
}

fn resolution_words(r: &RejectedRecord) -> String {
    match r.resolution.as_deref() {
        Some("accepted") => format!(
            "Đã nhận vào hồ sơ của {}",
            r.resolution_note.as_deref().unwrap_or("")
        ),
        Some(_) => format!("Đã bỏ qua: {}", r.resolution_note.as_deref().unwrap_or("")),
        None => String::new(),
    }
}

pub(super) fn reassign_view(
    v: &Visitor,
    d: &ReassignData,
    // The sentence, and whether it refuses what was asked.
    message: Option<(String, bool)>,
    kept: &KeptMove,
) -> Html<String> {
    let kept_of = |form: &str| (kept.form == form).then_some(kept);
    let (open, done): (Vec<&RejectedRecord>, Vec<&RejectedRecord>) =
        d.rejected.iter().partition(|r| r.resolution.is_none());
    let body = html! {
        @if let Some((m, refused)) = message {
            @if refused { p.error role="alert" #message { (m) } } @else { p role="status" #message { (m) } }
        }
        h2 { "Việc bị máy chủ từ chối cần giải quyết (" (open.len()) ")" }
        @if open.is_empty() { p #no-rejected { "Không có việc nào chờ giải quyết." } } @else {
            p.muted { "Mỗi việc dưới đây đã bị từ chối khi đến máy chủ. Nhận vào hồ sơ khi việc đã thật sự làm (ví dụ phiếu đã phát cho hộ); bỏ qua kèm lý do khi không." }
            div.cards #rejected { @for g in &refused_groups(&open) { (rejected_card(v, g, d.tz)) } }
        }
        @if !done.is_empty() {
            details #resolved {
                summary { "Đã giải quyết (" (done.len()) ")" }
                div.scroll { table {
                    thead { tr { th { "Hộ" } th { "Việc" } th { "Điều tra viên" } th { "Quyết định" } th { "Người quyết định" } th { "Lúc" } } }
                    tbody { @for r in &done { tr {
                        td.l { (r.household_name.as_deref().unwrap_or("Bưu gói")) " " (r.serial.as_deref().unwrap_or("")) }
                        td.l { (crate::words::event_kind(&r.kind)) } td.l { (r.enumerator_name) }
                        td.l { (resolution_words(r)) } td.l { (r.resolved_by.as_deref().unwrap_or("")) }
                        td.l { (r.resolved_at.as_deref().map(|t| super::layout::shown_time(t, d.tz)).unwrap_or_default()) }
                    } } }
                } }
            }
        }
        h2 { "Chuyển một thôn cho điều tra viên khác" }
        form method="post" action="reassign" {
            input type="hidden" name="csrf" value=(v.csrf);
            @let kept = kept_of("village");
            // Grouped by district, so that an option says only the village and who holds it:
            // a phone's closed list shows the start of a line.
            label { "Thôn " select name="village" {
                @for district in d.villages.chunk_by(|x, y| x.district == y.district) {
                    optgroup label=(district[0].district) { @for c in district {
                        option value=(c.id) selected[kept.is_some_and(|k| k.village == c.id)] { (c.place) " — " (c.holders.join(", ")) }
                    } }
                }
            } }
            (enumerator_choice(d, kept))
            label { "Lý do " input name="reason" required maxlength="500" value=(kept.map(|k| k.reason.as_str()).unwrap_or_default()); }
            button { "Chuyển giao" }
        }
        h2 { "Chuyển từng hộ" }
        form method="post" action="reassign/households" {
            input type="hidden" name="csrf" value=(v.csrf);
            @let kept = kept_of("households");
            label { "Số phiếu in trên phiếu giấy (nhiều số cách nhau bằng dấu phẩy) " input name="households" required placeholder="QT24-01234, QT24-01235" value=(kept.map(|k| k.serials.as_str()).unwrap_or_default()); }
            (enumerator_choice(d, kept))
            label { "Lý do " input name="reason" required maxlength="500" value=(kept.map(|k| k.reason.as_str()).unwrap_or_default()); }
            button { "Chuyển các hộ" }
        }
        h2 { "Các lần chuyển giao gần đây" }
        @if d.moves.is_empty() { p #no-moves { "Chưa chuyển giao lần nào." } } @else {
            p.muted { "Chuyển nhầm? Chuyển lại cho người cũ bằng các ô ở trên (hộ đã xong vẫn ở với người đã làm)." }
            div.scroll { table #moves {
                thead { tr { th.l { "Lúc" } th.l { "Người chuyển" } th.l { "Từ" } th.l { "Sang" } th.l { "Hộ" } th.l { "Lý do" } } }
                tbody { @for m in &d.moves { tr {
                    td.l { (super::layout::shown_time(&m.at, d.tz)) } td.l { (m.by) }
                    // From several people: whose each household was, every serial (folded when
                    // many), so that a mistaken move is undone person by person above.
                    td.l.from { @if let [(only, _)] = m.from.as_slice() { (only) } @else {
                        @for (holder, serials) in &m.from { div {
                            @if serials.len() <= 5 { (holder) " (" (serials.join(", ")) ")" }
                            @else { details { summary { (holder) " (" (serials.len()) " hộ)" } (serials.join(", ")) } }
                        } }
                    } }
                    td.l { (m.to) } td.l { (m.what) } td.l { (m.reason) }
                } } }
            } }
        }
    };
    page("Chuyển giao và việc bị từ chối", Some(v), body)
}

pub(super) async fn reassign_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Staff>,
) -> Result<Response, IntakeError> {
    let data = reassign_data(&intake, &v.account).await?;
    let said = said.take(&v).unwrap_or_default();
    let message = (!said.message.is_empty()).then(|| (said.message.clone(), said.refused));
    Ok(reassign_view(&v, &data, message, &KeptMove::from_said(&said)).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct ReassignForm {
    pub(super) csrf: String,
    pub(super) village: String,
    pub(super) to: String,
    pub(super) reason: String,
    /// Moving a whole village asks once more: set by the confirmation.
    pub(super) confirmed: Option<String>,
    /// Who held the work when the move was asked about ([`crate::service::ReassignPlan::seen`]).
    #[serde(default)]
    pub(super) seen: Option<String>,
}

pub(super) async fn reassign(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Staff, ReassignForm>,
) -> Result<Response, IntakeError> {
    let target = crate::store::ReassignTarget::Village(form.village.clone());
    if form.confirmed.as_deref() == Some("no") {
        return Ok(not_moved(&said, &v, KeptMove::village(&form)));
    }
    if form.confirmed.is_none() {
        let plan = match plan_or_said(
            &intake,
            &said,
            &v,
            &target,
            &form.to,
            &form.reason,
            KeptMove::village(&form),
        )
        .await?
        {
            Ok(plan) => plan,
            Err(refused) => return Ok(refused),
        };
        let data = reassign_data(&intake, &v.account).await?;
        let village = data
            .villages
            .iter()
            .find(|c| c.id == form.village)
            .ok_or(IntakeError::NotFound)?;
        let place = format!("{}, {}", village.place, village.district);
        let to = data
            .enumerators
            .iter()
            .find(|(id, _)| *id == form.to)
            .map(|(_, n)| n.clone())
            .ok_or(IntakeError::NotFound)?;
        let body = html! {
            p #question { "Chuyển " (plan.moving) " hộ của " b { (place) } " (" (plan.from_names.join(", ")) " đang làm) cho " b { (to) } " với lý do «" (plan.reason) "»? Mọi hộ chưa xong của thôn, cả hộ dự phòng, sẽ chuyển; việc máy cũ gửi sau đó cho các hộ này sẽ bị từ chối để giám sát quyết định." }
            (finished_note(&plan))
            (confirm_form("reassign", &v, &plan, [("village", &form.village), ("to", &form.to), ("reason", &form.reason)]))
        };
        return Ok(page("Xác nhận chuyển giao", Some(&v), body).into_response());
    }
    let (i, a, kept) = (intake.clone(), v.account.clone(), KeptMove::village(&form));
    let moved = blocking(move || {
        // A confirmation without what it was asked about is refused as one gone stale.
        let seen = Some(form.seen.as_deref().unwrap_or_default());
        Ok((
            i.reassign(&a, &target, &form.to, &form.reason, seen, &from.to_string())?,
            i.enumerator_names()?.remove(&form.to).unwrap_or(form.to),
        ))
    })
    .await;
    moved_or_said(&said, &v, moved, kept)
}

/// Households named that stay where they are (finished, or the recipient's already), said
/// before the move.
fn finished_note(plan: &crate::service::ReassignPlan) -> Markup {
    html! {
        @if !plan.finished.is_empty() {
            p #finished { (plan.finished.len()) " hộ đã xong (phiếu đã trong bưu gói) sẽ không chuyển, vẫn ghi công người đã làm: " (plan.finished.join(", ")) "." }
        }
        @if plan.theirs_already > 0 {
            p #theirs-already { (plan.theirs_already) " hộ đã do " (plan.to_name) " phụ trách, không cần chuyển." }
        }
    }
}

/// The confirmation of a move: what was asked, carried back with who held the work then.
fn confirm_form<const N: usize>(
    action: &str,
    v: &Visitor,
    plan: &crate::service::ReassignPlan,
    fields: [(&str, &String); N],
) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(v.csrf);
            @for (name, value) in fields { input type="hidden" name=(name) value=(value); }
            input type="hidden" name="seen" value=(plan.seen);
            button name="confirmed" value="yes" { "Xác nhận chuyển giao" } " "
            // Back to the move page with what was asked kept in its form, to be mended.
            button.secondary name="confirmed" value="no" { "Huỷ" }
        }
    }
}

/// The move made, or what refused it said on the move page (it may have changed since it was
/// asked about: another supervisor's move), with the serials typed kept in their box.
fn moved_or_said(
    said: &Messages,
    v: &Visitor,
    moved: Result<(crate::store::Reassigned, String), IntakeError>,
    kept: KeptMove,
) -> Result<Response, IntakeError> {
    match moved {
        Ok((done, to)) => Ok(said.done(v, "/reassign", moved_words(done, &to))),
        Err(IntakeError::Declined(message)) => Ok(refused_on_move_page(said, v, message, kept)),
        Err(e) => Err(e),
    }
}

/// The move to ask about, or, for one that cannot be made for a reason the supervisor can mend
/// (no reason given, the work already theirs or finished), what to say on the move page before
/// it is confirmed, with the serials typed kept in their box. What is not theirs stays
/// `NotFound`.
async fn plan_or_said(
    intake: &Arc<Intake>,
    said: &Messages,
    v: &Visitor,
    target: &crate::store::ReassignTarget,
    to: &str,
    reason: &str,
    kept: KeptMove,
) -> Result<Result<crate::service::ReassignPlan, Response>, IntakeError> {
    let (i, a, target, to, reason) = (
        intake.clone(),
        v.account.clone(),
        target.clone(),
        to.to_string(),
        reason.to_string(),
    );
    match blocking(move || i.check_reassign(&a, &target, &to, &reason)).await {
        Ok(plan) => Ok(Ok(plan)),
        Err(IntakeError::Declined(message)) => {
            Ok(Err(refused_on_move_page(said, v, message, kept)))
        }
        Err(e) => Err(e),
    }
}

/// A move refused for what the supervisor can mend, said on the move page with the serials
/// typed kept in their box (not a page that leads only home).
fn refused_on_move_page(
    said: &Messages,
    v: &Visitor,
    message: impl Into<String>,
    kept: KeptMove,
) -> Response {
    let message: String = message.into();
    // The page speaks Vietnamese only; the service's refusals carry English after it.
    let said_back = kept.into_said(crate::words::in_vietnamese(&message).to_string());
    said.redirect(v, "/reassign", said_back)
}

/// Back to the move page from a question answered «Huỷ», with what was asked kept.
fn not_moved(said: &Messages, v: &Visitor, kept: KeptMove) -> Response {
    let said_back = Said {
        refused: false,
        ..kept.into_said("Chưa chuyển gì.".into())
    };
    said.redirect(v, "/reassign", said_back)
}

/// What a move did, said on the page it redirects to.
fn moved_words(done: crate::store::Reassigned, to: &str) -> String {
    let moved = done.moved;
    let mut said = format!(
        "Đã chuyển {moved} hộ cho {to}. Máy của người nhận và của người giao sẽ biết ở lần đồng bộ tới."
    );
    if !done.finished.is_empty() {
        said.push_str(&format!(
            " {} hộ đã xong (phiếu đã trong bưu gói) nên không chuyển, vẫn ghi công người đã làm: {}.",
            done.finished.len(),
            done.finished.join(", ")
        ));
    }
    said
}

#[derive(serde::Deserialize)]
pub(super) struct HouseholdsForm {
    pub(super) csrf: String,
    /// Serials as printed on the paper forms.
    pub(super) households: String,
    pub(super) to: String,
    pub(super) reason: String,
    /// Moving households asks once more: set by the confirmation.
    #[serde(default)]
    pub(super) confirmed: Option<String>,
    /// Who held the work when the move was asked about ([`crate::service::ReassignPlan::seen`]).
    #[serde(default)]
    pub(super) seen: Option<String>,
}

pub(super) async fn reassign_households(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Staff, HouseholdsForm>,
) -> Result<Response, IntakeError> {
    if form.households.chars().count() > KEPT_SERIALS_MAX {
        // A thousand serials fit several times over: what is longer is not a list of them, and
        // is neither read nor said back whole.
        return Ok(refused_on_move_page(
            &said,
            &v,
            "Danh sách số phiếu quá dài: hãy ghi từ 1 đến 1.000 hộ. / The list of serials is too long: name 1 to 1,000 households.",
            KeptMove::households(&form, ""),
        ));
    }
    if form.confirmed.as_deref() == Some("no") {
        let kept = KeptMove::households(&form, &form.households);
        return Ok(not_moved(&said, &v, kept));
    }
    let serials = crate::reconcile::serials_in(&form.households);
    let (i, a) = (intake.clone(), v.account.clone());
    let asking = form.confirmed.is_none();
    let found = {
        let (serials, to, account) = (serials.clone(), form.to.clone(), v.account.clone());
        blocking(move || {
            let (mut households, mut unknown) = (Vec::with_capacity(serials.len()), Vec::new());
            for serial in serials.iter().take(1001) {
                // Another district's household answers as one that does not exist: which
                // serials exist elsewhere is not a supervisor's to learn.
                let found = i.household_by_typed_serial(serial, |id| {
                    i.store
                        .household_place(id)
                        .ok()
                        .flatten()
                        .is_some_and(|(_, _, district, _)| account.may_see_district(&district))
                })?;
                match found {
                    Some((id, _)) => households.push(id),
                    None => unknown.push(crate::store::bounded(serial, 40)),
                }
            }
            // Every serial not found, said at once (a few of them), with how a serial is written:
            // a hurried supervisor mends the list in one go.
            if !unknown.is_empty() {
                let more = unknown.len().saturating_sub(10);
                unknown.truncate(10);
                return Err(IntakeError::Declined(format!(
                    "Không có hộ nào mang số phiếu {}{} trong các huyện của bạn. Hãy ghi số phiếu như in trên phiếu giấy.",
                    unknown.join(", "),
                    if more > 0 { format!(" (và {more} số khác)") } else { String::new() }
                )));
            }
            Ok((households, i.enumerator_names()?.remove(&to).unwrap_or(to)))
        })
        .await
    };
    // A serial that is not theirs to move: said on the page, with what was typed kept in the
    // box to be mended (not a page that leads only home).
    let (households, to) = match found {
        Ok(found) => found,
        Err(IntakeError::Declined(message)) => {
            let kept = KeptMove::households(&form, &form.households);
            return Ok(refused_on_move_page(&said, &v, message, kept));
        }
        Err(e) => return Err(e),
    };
    if asking {
        // The same checks as the move itself (district, enumerator, reason), before asking.
        let target = crate::store::ReassignTarget::Households(households.clone());
        let kept = KeptMove::households(&form, &form.households);
        let plan =
            match plan_or_said(&intake, &said, &v, &target, &form.to, &form.reason, kept).await? {
                Ok(plan) => plan,
                Err(refused) => return Ok(refused),
            };
        let body = html! {
            p #question { "Chuyển " (plan.moving) " hộ (" (plan.what) "; " (plan.from_names.join(", ")) " đang làm) cho " b { (to) } " với lý do «" (plan.reason) "»? Việc máy cũ gửi sau đó cho các hộ này sẽ bị từ chối để giám sát quyết định." }
            @if !plan.described.is_empty() {
                p { "Xem lại từng hộ (số phiếu gõ nhầm sẽ hiện ra ở thôn hoặc người khác):" }
                ul #moving { @for h in &plan.described { li { (h) } } }
            }
            (finished_note(&plan))
            (confirm_form("reassign/households", &v, &plan, [("households", &form.households), ("to", &form.to), ("reason", &form.reason)]))
        };
        return Ok(page("Xác nhận chuyển giao", Some(&v), body).into_response());
    }
    let (i, kept) = (
        intake.clone(),
        KeptMove::households(&form, &form.households),
    );
    let moved = blocking(move || {
        let target = crate::store::ReassignTarget::Households(households);
        let seen = Some(form.seen.as_deref().unwrap_or_default());
        Ok((
            i.reassign(&a, &target, &form.to, &form.reason, seen, &from.to_string())?,
            to,
        ))
    })
    .await;
    moved_or_said(&said, &v, moved, kept)
}

#[derive(serde::Deserialize)]
pub(super) struct ResolveForm {
    pub(super) csrf: String,
    /// One refused event, or all the open refused work of one household.
    #[serde(default)]
    pub(super) event: String,
    #[serde(default)]
    pub(super) household: String,
    pub(super) decision: String,
    #[serde(default)]
    pub(super) note: String,
    /// Absent on the first press: the page asks once more before deciding.
    #[serde(default)]
    pub(super) confirmed: Option<String>,
}

pub(super) async fn resolve(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Staff, ResolveForm>,
) -> Result<Response, IntakeError> {
    let decision = match form.decision.as_str() {
        "accepted" => Resolution::Accepted,
        "dismissed" => Resolution::Dismissed,
        _ => return Err(IntakeError::Declined("Quyết định không hợp lệ.".into())),
    };
    let data = reassign_data(&intake, &v.account).await?;
    // The work decided: one event, or every open refused event of one household, in the
    // order it was done.
    let open: Vec<&RejectedRecord> = data
        .rejected
        .iter()
        .filter(|r| r.resolution.is_none())
        .filter(|r| {
            if form.household.is_empty() {
                r.event == form.event
            } else {
                r.household.as_deref() == Some(form.household.as_str())
            }
        })
        .collect();
    let groups = refused_groups(&open);
    let Some(group) = groups.first() else {
        let decided = data.rejected.iter().any(|r| {
            r.event == form.event
                || (!form.household.is_empty()
                    && r.household.as_deref() == Some(form.household.as_str()))
        });
        return Err(if decided {
            IntakeError::Declined("Việc này đã được giải quyết rồi.".into())
        } else {
            IntakeError::NotFound
        });
    };
    let first = group.records[0];
    if form.confirmed.is_none() {
        let kinds: Vec<&str> = group
            .records
            .iter()
            .map(|r| crate::words::event_kind(&r.kind))
            .collect();
        let what = format!(
            "{} của {} cho hộ {}",
            kinds.join(", "),
            first.enumerator_name,
            first.household_name.as_deref().unwrap_or("—")
        );
        let question = match decision {
            Resolution::Accepted => format!(
                "Nhận «{what}» vào hồ sơ của {}{}? Việc này không hoàn tác được.",
                first.holder.as_ref().map(|h| h.name.as_str()).unwrap_or(""),
                if group.records.len() > 1 {
                    ", theo đúng thứ tự"
                } else {
                    ""
                }
            ),
            Resolution::Dismissed => format!(
                "Bỏ qua «{what}» với lý do «{}»?{} Việc này không hoàn tác được.",
                form.note.trim(),
                if group.records.iter().any(|r| carries_answers(&r.kind)) {
                    " Câu trả lời đã nhập của phiếu này sẽ không được tính."
                } else {
                    ""
                }
            ),
        };
        let body = html! {
            p #question { (question) }
            form method="post" action="reassign/rejected" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="event" value=(form.event);
                input type="hidden" name="household" value=(form.household);
                input type="hidden" name="decision" value=(form.decision);
                input type="hidden" name="note" value=(form.note);
                button name="confirmed" value="yes" { "Xác nhận" } " "
                a href="reassign" { "Huỷ" }
            }
        };
        return Ok(page("Xác nhận quyết định", Some(&v), body).into_response());
    }
    // In order; the first that cannot be taken stops the rest (what came before stays taken).
    let events: Vec<String> = group.records.iter().map(|r| r.event.clone()).collect();
    let (i, a, note) = (intake.clone(), v.account.clone(), form.note.clone());
    let outcome = blocking(move || {
        let mut done = Vec::new();
        for event in &events {
            match i.resolve_rejected(&a, event, decision, &note, &from.to_string()) {
                Ok(r) => done.push(r),
                Err(e) => return Ok((done, Some(e))),
            }
        }
        Ok((done, None))
    })
    .await?;
    let (done, failed) = outcome;
    if done.is_empty() {
        if let Some(e) = failed {
            return Err(e);
        }
    }
    let name = first.household_name.as_deref().unwrap_or("—");
    let mut message = match done.last() {
        Some(last) if done.len() > 1 => format!(
            "{} {} việc — hộ {name}.",
            resolution_words(last),
            done.len()
        ),
        Some(last) => format!("{} — hộ {name}.", resolution_words(last)),
        None => String::new(),
    };
    if let Some(IntakeError::Declined(why)) = &failed {
        message.push_str(&format!(" Việc còn lại chưa nhận: {why}"));
    }
    Ok(said.done(&v, "/reassign", message))
}
