//! The ministry's pages: reconciliation of paper against digital, back-checks, anomalies,
//! review and corrections, the index and the answer exports behind the key's passphrase.

use super::prelude::*;
use std::collections::HashMap;

csrf_forms!(
    WithdrawForm,
    PaperForm,
    PaperBackForm,
    OutcomeForm,
    BackcheckForm,
    PassphraseForm,
    ReviewForm
);

/// How many recordings of paper the reconciliation page lists open, each to be taken back;
/// and how many earlier ones it lists folded (a morning's mistake is still there at night).
const PAPER_BATCHES_SHOWN: usize = 10;
const PAPER_BATCHES_FOLDED: usize = 200;

/// A table of paper recordings, each with its button to take it back.
fn paper_batch_table(
    id: &str,
    batches: &[crate::store::PaperBatch],
    names: &HashMap<String, String>,
    tz: chrono_tz::Tz,
) -> Markup {
    html! {
        div.scroll { table id=(id) {
            thead { tr { th.l { "Lúc" } th.l { "Người ghi" } th { "Số phiếu" } th.l { "Các số phiếu" } th {} } }
            tbody { @for b in batches { tr {
                td.l { (super::layout::shown_time(&b.at, tz)) } td.l { (names.get(&b.by).unwrap_or(&b.by)) } td { (b.serials.len()) }
                td.l { (b.serials.iter().take(5).cloned().collect::<Vec<_>>().join(", ")) @if b.serials.len() > 5 { ", …" } }
                // Sent with the paper box's form, so what is typed in the box comes back with
                // the recording's serials rather than being dropped.
                td { button.secondary form="paper-box" formaction="ministry/paper/withdraw" name="batch" value=(b.batch) { "Huỷ lần này" } }
            } } }
        } }
    }
}

pub(super) fn reconciliation_view(
    v: &Visitor,
    r: &crate::reconcile::Reconciliation,
    (batches, names, tz): (
        &[crate::store::PaperBatch],
        &HashMap<String, String>,
        chrono_tz::Tz,
    ),
    message: Option<String>,
    kept: &str,
) -> Html<String> {
    let body = html! {
        @if let Some(m) = message { p role="status" { (m) } }
        p { "Mẫu cần thu: " b { (r.expected) } " · Nhận bản số: " b { (r.digital) } " · Nhận bản giấy: " b { (r.paper) } " · Khớp cả hai: " b { (r.done) } " · Mới nhập lần 1, chờ nhập lần 2: " b #keyed-once { (r.keyed_once) } }
        form #paper-box method="post" action="ministry/paper" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Số phiếu giấy nhận được (mỗi dòng một số, hoặc nhiều số cách nhau bằng dấu phẩy; máy quét mã vạch gõ như bàn phím)" br; textarea name="serials" rows="6" cols="30" autofocus { (kept) } }
            button { "Ghi nhận phiếu giấy" }
        }
        h2 { "Các lần ghi nhận gần đây" }
        @if batches.is_empty() { p { "Chưa ghi nhận phiếu giấy nào." } } @else {
            p.muted { "Ghi nhầm (quét nhầm, nhầm bưu gói)? Huỷ cả lần ghi nhận: các số phiếu của lần đó được đưa lại vào ô ở trên để sửa rồi ghi lại." }
            @let (recent, older) = batches.split_at(batches.len().min(PAPER_BATCHES_SHOWN));
            (paper_batch_table("paper-batches", recent, names, tz))
            @if !older.is_empty() {
                details #older-paper-batches {
                    summary { "Các lần ghi nhận trước đó (" (older.len().min(PAPER_BATCHES_FOLDED)) @if older.len() > PAPER_BATCHES_FOLDED { " lần gần nhất" } ")" }
                    (paper_batch_table("older-batches", &older[..older.len().min(PAPER_BATCHES_FOLDED)], names, tz))
                }
            }
        }
        h2 { "Số phiếu bị trùng" }
        @if r.duplicates.is_empty() { p { "Không có." } } @else {
            ul #duplicates { @for (s, n) in &r.duplicates { li { (s) " × " (n) } } }
        }
        h2 { "Số phiếu không có trong mẫu" }
        @if r.unexpected.is_empty() { p { "Không có." } } @else {
            ul #unexpected { @for s in &r.unexpected { li { (s) } } }
        }
        h2 { "Theo thôn" }
        div.scroll { table {
            thead { tr { th { "Thôn" } th { "Cần thu" } th { "Bản số" } th { "Bản giấy" } th { "Khớp" } th { "Thiếu bản giấy" } th { "Thiếu bản số" } th { "Chờ nhập lần 2" } } }
            tbody { @for vr in &r.villages {
                tr data-village=(vr.village) {
                    td { (vr.village_name) } td { (vr.expected) } td { (vr.digital) } td { (vr.paper) } td { (vr.done) }
                    td.l.missing-paper { (vr.paper_missing.join(", ")) } td.l.missing-digital { (vr.digital_missing.join(", ")) } td.l.keyed-once { (vr.keyed_once.join(", ")) }
                }
            } }
        } }
    };
    page("Đối chiếu phiếu giấy và bản số", Some(v), body)
}

pub(super) async fn reconciliation_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let (r, batches, names, tz) = blocking(move || {
        // One more than shown, to tell that there are more.
        let batches = i
            .store
            .paper_batches(PAPER_BATCHES_SHOWN + PAPER_BATCHES_FOLDED + 1)?;
        let names = i.person_names(batches.iter().map(|b| b.by.as_str()))?;
        Ok((i.reconciliation()?, batches, names, i.time_zone()?))
    })
    .await?;
    let (message, kept) = said.take_with_kept(&v);
    Ok(reconciliation_view(&v, &r, (&batches, &names, tz), message, &kept).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct PaperBackForm {
    pub(super) csrf: String,
    pub(super) batch: String,
    /// What the paper box held when the recording was taken back: it comes back in the box,
    /// before the recording's serials.
    #[serde(default)]
    pub(super) serials: String,
    /// Absent on the first press: the page asks once more. `yes` or `no`.
    #[serde(default)]
    pub(super) confirmed: Option<String>,
}

/// Takes back one recording of paper, after asking; its serials come back in the box.
pub(super) async fn withdraw_paper(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Ministry, PaperBackForm>,
) -> Result<Response, IntakeError> {
    let (i, by) = (intake.clone(), v.account.login.clone());
    let typed = form.serials.trim().to_string();
    // Back to the page with the box as it was, plus what was taken back.
    let back = |message: String, taken: &[String]| {
        let kept = [typed.clone()]
            .into_iter()
            .chain(taken.iter().cloned())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        said.redirect(
            &v,
            "/ministry/reconciliation",
            Said {
                message,
                kept,
                ..Said::default()
            },
        )
    };
    // Taken back already (twice pressed, a page gone stale): said on the page, nothing done.
    let gone = || {
        back(
            "Lần ghi nhận này không còn (có thể đã được huỷ). Không có gì thay đổi.".into(),
            &[],
        )
    };
    if form.confirmed.as_deref() == Some("no") {
        return Ok(back("Không huỷ gì.".into(), &[]));
    }
    if form.confirmed.is_none() {
        let found = blocking(move || {
            let Some(batch) = i.store.paper_batch(&form.batch)? else {
                return Ok(None);
            };
            let elsewhere = i.paper_held_elsewhere(&batch)?;
            let corrected = i.paper_corrected_from(&batch, &elsewhere)?;
            Ok(Some((
                i.person_name(&batch.by)?,
                batch,
                (elsewhere, corrected),
                i.time_zone()?,
            )))
        })
        .await?;
        let Some((name, batch, (elsewhere, corrected), tz)) = found else {
            return Ok(gone());
        };
        let body = html! {
            p #question { "Huỷ lần ghi nhận lúc " (super::layout::shown_time(&batch.at, tz)) " của " (name) ": " (batch.serials.len()) " số phiếu (" (batch.serials.join(", ")) ")? Các số phiếu này sẽ không còn được tính là đã nhận bản giấy theo lần ghi nhận này, và được đưa lại vào ô ghi nhận để sửa rồi ghi lại." }
            @if !elsewhere.is_empty() {
                p #elsewhere { "Riêng " (elsewhere.join(", ")) " còn được ghi nhận ở lần khác nên vẫn tính là đã nhận bản giấy; đừng ghi lại các số này." }
            }
            @if !corrected.is_empty() {
                p.error #corrected { "Phiếu " (corrected.join(", ")) " đã được nhập sửa theo bản giấy này. Huỷ thì bản giấy của chúng tính là chưa đến, còn bản sửa vẫn giữ nguyên: chỉ huỷ khi chắc bản giấy đó chưa hề đến." }
            }
            form method="post" action="ministry/paper/withdraw" {
                input type="hidden" name="csrf" value=(v.csrf);
                input type="hidden" name="batch" value=(batch.batch);
                input type="hidden" name="serials" value=(typed);
                button name="confirmed" value="yes" { "Xác nhận huỷ" } " "
                button.secondary name="confirmed" value="no" { "Không huỷ" }
            }
        };
        return Ok(page("Xác nhận huỷ lần ghi nhận", Some(&v), body).into_response());
    }
    let serials =
        match blocking(move || i.withdraw_paper(&form.batch, &by, &from.to_string())).await {
            Err(IntakeError::Store(crate::store::StoreError::UnknownPaperBatch(_))) => {
                return Ok(gone())
            }
            taken => taken?,
        };
    Ok(back(
        format!(
            "Đã huỷ lần ghi nhận {} số phiếu; chúng ở trong ô dưới đây để sửa rồi ghi lại.",
            serials.len()
        ),
        &serials,
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct PaperForm {
    pub(super) csrf: String,
    pub(super) serials: String,
}

/// The first fifty of `serials`, then how many more: a sentence, not the list (the page's
/// sections list them all).
fn first_of(serials: &[String]) -> String {
    let shown = serials[..serials.len().min(50)].join(", ");
    match serials.len().saturating_sub(50) {
        0 => shown,
        more => format!("{shown} và {more} số khác"),
    }
}

pub(super) async fn record_paper(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Ministry, PaperForm>,
) -> Result<Response, IntakeError> {
    let (i, by, typed) = (
        intake.clone(),
        v.account.login.clone(),
        form.serials.clone(),
    );
    let recorded = blocking(move || i.record_paper(&form.serials, &by, &from.to_string())).await;
    let (message, kept) = match recorded {
        Ok(done) => {
            let mut said = format!("Đã ghi nhận {} số phiếu.", done.recorded);
            if done.distinct < done.recorded {
                said = format!(
                    "Đã ghi nhận {} số phiếu ({} số khác nhau; số ghi hai lần ở mục «Số phiếu bị trùng»).",
                    done.recorded, done.distinct
                );
            }
            if !done.not_in_sample.is_empty() {
                said.push_str(&format!(
                    " Trong đó {} số không thuộc hộ nào của mẫu (có thể gõ hoặc quét nhầm; xem mục «Số phiếu không có trong mẫu»): {}.",
                    done.not_in_sample.len(),
                    first_of(&done.not_in_sample)
                ));
            }
            if !done.recorded_before.is_empty() {
                said.push_str(&format!(
                    " {} số đã được ghi nhận ở lần trước (nay thành trùng, xem mục «Số phiếu bị trùng»): {}.",
                    done.recorded_before.len(),
                    first_of(&done.recorded_before)
                ));
            }
            if !done.left_out.is_empty() {
                // Each line comes back whole in the box; the sentence quotes the start of a few.
                let quoted: Vec<String> = done
                    .left_out
                    .iter()
                    .take(20)
                    .map(|l| match l.char_indices().nth(200) {
                        Some((cut, _)) => format!("«{}…»", &l[..cut]),
                        None => format!("«{l}»"),
                    })
                    .collect();
                said.push_str(&format!(
                    " {} dòng có chỗ không phải số phiếu của mẫu nên chưa ghi; chúng còn trong ô để sửa: {}{}",
                    done.left_out.len(),
                    quoted.join(", "),
                    if done.left_out.len() > 20 { ", …" } else { "" }
                ));
            }
            (said, done.left_out.join("\n"))
        }
        // Nothing recorded: the box holds all of it again.
        Err(e) => (
            format!(
                "Không ghi nhận: {}",
                crate::words::in_vietnamese(&e.to_string())
            ),
            typed,
        ),
    };
    // Reloading the page that follows never records the batch a second time.
    Ok(said.redirect(
        &v,
        "/ministry/reconciliation",
        Said {
            message,
            kept,
            ..Said::default()
        },
    ))
}

pub(super) fn backcheck_form(v: &Visitor, seed: &str) -> Markup {
    html! {
        form method="post" action="ministry/backcheck" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Số khởi tạo (ghi lại để ai cũng rút lại được đúng danh sách này) " input name="seed" value=(seed) required; }
            label { "Tỷ lệ (%) " input name="share" type="number" min="1" max="100" value="10" required; }
            label { "Tối thiểu mỗi điều tra viên " input name="min" type="number" min="0" max="100" value="2" required; }
            button { "Rút mẫu phúc tra" }
        }
    }
}

pub(super) async fn backcheck_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let message = said.take_message(&v);
    let seed = accounts::new_token()[..12].to_string();
    let i = intake.clone();
    let (results, draws, names, tz, drawers) = blocking(move || {
        let draws = i.store.backcheck_draws()?;
        // Who drew, by name (the draw keeps the login).
        let drawers = i.person_names(draws.iter().map(|d| d.by.as_str()))?;
        Ok((
            i.backcheck_results()?,
            draws,
            i.enumerator_names()?,
            i.time_zone()?,
            drawers,
        ))
    })
    .await?;
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        (backcheck_form(&v, &seed))
        h2 { "Các lần rút mẫu đã lưu" }
        @if draws.is_empty() { p { "Chưa rút lần nào." } } @else {
            ul #draws { @for d in &draws { li {
                a href=(format!("ministry/backcheck/draw/{}", d.id)) { "Lần " (d.id) } " — " (super::layout::shown_time(&d.at, tz)) ", " (drawers.get(&d.by).unwrap_or(&d.by))
                ", số khởi tạo " code { (d.seed) } ", " (d.share_percent) " %, tối thiểu " (d.min_per_enumerator) ": " (d.households.len()) " hộ"
            } } }
        }
        h2 { "Kết quả phúc tra theo điều tra viên" }
        div.scroll { table #backcheck-results {
            thead { tr { th { "Điều tra viên" } th { "Đã xác nhận" } th { "Không gặp" } th { "Trả lời khác" } } }
            tbody { @for (enumerator, counts) in &results {
                tr { td { (names.get(enumerator).map(String::as_str).unwrap_or(enumerator)) }
                    @for k in ["confirmed", "not_visited", "answers_differ"] { td { (counts.get(k).copied().unwrap_or(0)) } } }
            } }
        } }
    };
    Ok(page("Phúc tra", Some(&v), body).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct OutcomeForm {
    pub(super) csrf: String,
    pub(super) household: String,
    pub(super) outcome: String,
    #[serde(default)]
    pub(super) note: String,
    /// The draw the visit was on (and the page to return to).
    #[serde(default)]
    pub(super) draw: Option<i64>,
    /// The earlier record the officer confirmed replacing (as the question named it).
    #[serde(default)]
    pub(super) replacing: Option<String>,
}

pub(super) async fn backcheck_outcome(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Ministry, OutcomeForm>,
) -> Result<Response, IntakeError> {
    let (i, by) = (intake.clone(), v.account.login.clone());
    let back = form
        .draw
        .map(|d| format!("/ministry/backcheck/draw/{d}"))
        .unwrap_or_else(|| "/ministry/backcheck".into());
    let (household, outcome, note, draw) = (
        form.household.clone(),
        form.outcome.clone(),
        form.note.clone(),
        form.draw,
    );
    let (recorded, serial, tz) = blocking(move || {
        let visit = crate::service::BackcheckVisit {
            draw: form.draw,
            outcome: &form.outcome,
            note: &form.note,
            replacing: form.replacing.as_deref(),
        };
        let recorded =
            i.record_backcheck_outcome(&form.household, visit, &by, &from.to_string())?;
        Ok((recorded, i.serial_of(&form.household)?, i.time_zone()?))
    })
    .await?;
    let earlier = match recorded {
        crate::service::BackcheckRecorded::Recorded => {
            let done = format!(
                "Đã ghi kết quả phúc tra phiếu {serial}: {}.",
                backcheck_outcome_name(&outcome)
            );
            // Back to the household's row, not the top of a long list.
            let row = match draw {
                Some(_) => format!("{back}#h-{household}"),
                None => back,
            };
            return Ok(said.done(&v, &row, done));
        }
        crate::service::BackcheckRecorded::AsksToReplace(earlier) => earlier,
    };
    let said_before = |o: &str, n: &str| {
        if n.trim().is_empty() {
            format!("«{}»", backcheck_outcome_name(o))
        } else {
            format!("«{} — {n}»", backcheck_outcome_name(o))
        }
    };
    let body = html! {
        p #question { "Phiếu " b { (serial) } " đã ghi kết quả phúc tra " (said_before(&earlier.outcome, &earlier.note)) " lúc " (super::layout::shown_time(&earlier.at, tz)) ". Thay bằng " (said_before(&outcome, &note)) "? Kết quả cũ vẫn còn trong nhật ký." }
        form method="post" action="ministry/backcheck/outcome" {
            input type="hidden" name="csrf" value=(v.csrf);
            input type="hidden" name="household" value=(household);
            input type="hidden" name="outcome" value=(outcome);
            input type="hidden" name="note" value=(note);
            @if let Some(d) = draw { input type="hidden" name="draw" value=(d); }
            button name="replacing" value=(crate::service::backcheck_record_seen(&earlier)) { "Thay kết quả" } " "
            a href=(back.trim_start_matches('/')) { "Giữ kết quả cũ" }
        }
    };
    Ok(page("Xác nhận thay kết quả phúc tra", Some(&v), body).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct BackcheckForm {
    pub(super) csrf: String,
    pub(super) seed: String,
    pub(super) share: u32,
    pub(super) min: u32,
}

pub(super) async fn draw_backcheck(
    InCampaign(intake): InCampaign,
    Posted { v, from, form, .. }: Posted<Ministry, BackcheckForm>,
) -> Result<Response, IntakeError> {
    let (i, by, seed) = (intake.clone(), v.account.login.clone(), form.seed.clone());
    let id =
        blocking(move || i.draw_backcheck(&seed, form.share, form.min, &by, &from.to_string()))
            .await?;
    Ok(Redirect::to(&v.at(&format!("/ministry/backcheck/draw/{id}"))).into_response())
}

pub(super) async fn draw_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Ministry>,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, IntakeError> {
    draw_view(&intake, &v, id, said.take_message(&v)).await
}

/// A kept draw, one section per enumerator (printable: one page each), with each household's
/// name and address, the outcome so far, and a form with no outcome chosen in advance.
async fn draw_view(
    intake: &Arc<Intake>,
    v: &Visitor,
    id: i64,
    message: Option<String>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let ((draw, households, outcomes), tz, drawer, enumerators, recorders) = blocking(move || {
        let found = i.backcheck_draw(id)?;
        let drawer = i.person_name(&found.0.by)?;
        let recorders = i.person_names(found.2.values().map(|o| o.by.as_str()))?;
        Ok((
            found,
            i.time_zone()?,
            drawer,
            i.enumerator_names()?,
            recorders,
        ))
    })
    .await?;
    let mut by_enumerator: Vec<(String, Vec<&crate::store::HouseholdToVisit>)> = Vec::new();
    for h in &households {
        match by_enumerator.iter_mut().find(|(e, _)| *e == h.enumerator) {
            Some((_, list)) => list.push(h),
            None => by_enumerator.push((h.enumerator.clone(), vec![h])),
        }
    }
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        p { "Lần " (draw.id) " · " (super::layout::shown_time(&draw.at, tz)) " · người rút: " (drawer) " · số khởi tạo: " b #seed { (draw.seed) }
            " · tỷ lệ " (draw.share_percent) " % · tối thiểu " (draw.min_per_enumerator) " mỗi điều tra viên" }
        p.noprint { a href=(format!("ministry/backcheck/draw/{}", draw.id)) { "Đường dẫn cố định của danh sách này" } " · In trang: mỗi điều tra viên một trang." }
        @for (enumerator, list) in &by_enumerator {
            section.visit {
                h2 { "Điều tra viên: " (enumerators.get(enumerator).unwrap_or(enumerator)) " (" (list.len()) " hộ)" }
                div.scroll { table.sample {
                    thead { tr { th { "Số phiếu" } th.l { "Chủ hộ" } th.l { "Địa chỉ" } th.l { "Thôn, xã" } th.l { "Kết quả" } th.l.noprint { "Ghi kết quả" } } }
                    tbody { @for h in list {
                        tr id={ "h-" (h.id) } data-household=(h.id) { td.serial { (h.serial) } td.l { (h.name) } td.l { (h.address) } td.l { (h.village) }
                            td.l.outcome { @match outcomes.get(&h.id) {
                                Some(o) => { b { (backcheck_outcome_name(&o.outcome)) } @if !o.note.trim().is_empty() { " — «" (o.note) "»" }
                                    br; span.muted { (recorders.get(&o.by).unwrap_or(&o.by)) ", " (super::layout::shown_time(&o.at, tz)) } }
                                None => { "chưa ghi" }
                            } }
                            td.l.noprint { form method="post" action="ministry/backcheck/outcome" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                input type="hidden" name="household" value=(h.id);
                                input type="hidden" name="draw" value=(draw.id);
                                select name="outcome" required { option value="" { "— chọn —" } option value="confirmed" { "Đã xác nhận" } option value="not_visited" { "Không gặp" } option value="answers_differ" { "Trả lời khác" } }
                                input name="note" placeholder="Ghi chú" maxlength="2000";
                                button { "Ghi" }
                            } }
                        }
                    } }
                } }
            }
        }
        div.noprint { (backcheck_form(v, &draw.seed)) }
    };
    Ok(page("Danh sách phúc tra", Some(v), body).into_response())
}

/// A back-check visit's outcome, as the officer reads it.
fn backcheck_outcome_name(outcome: &str) -> &'static str {
    match outcome {
        "confirmed" => "Đã xác nhận",
        "not_visited" => "Không gặp",
        "answers_differ" => "Trả lời khác",
        _ => "—",
    }
}

pub(super) async fn index_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let published = blocking(move || i.publication()).await?;
    let said = said.take_message(&v);
    let body = html! {
        @if let Some(m) = said { p role="status" #message { (m) } }
        (passphrase_form(&v, None, published.as_ref(), intake.time_zone()?, None))
    };
    Ok(page("Chỉ số", Some(&v), body).into_response())
}

/// What the officer chose for a publication that was refused: shown again as chosen.
#[derive(Clone, Copy)]
pub(super) struct PublishChoice<'a> {
    level: &'a str,
    min_forms: u64,
    min_coverage: u32,
}

pub(super) fn passphrase_form(
    v: &Visitor,
    message: Option<&str>,
    published: Option<&(crate::publication::Published, String)>,
    zone: chrono_tz::Tz,
    chosen: Option<PublishChoice>,
) -> Markup {
    // A publication refused is said beside its own settings, kept as chosen.
    let (top_message, publish_message) = match chosen {
        Some(_) => (None, message),
        None => (message, None),
    };
    let level = chosen.map_or("district", |c| c.level);
    let (min_forms, min_coverage) = chosen.map_or((30, 50), |c| (c.min_forms, c.min_coverage));
    let level_name = |level: &str| match level {
        "province" => "tỉnh",
        "district" => "huyện",
        _ => "xã",
    };
    // One form, one passphrase field: each action is a button posting it to its own address,
    // so the officer types the passphrase once for whatever they do on this page.
    html! {
        @if let Some(m) = top_message { p.error role="alert" { (m) } }
        p { "Câu trả lời được niêm phong bằng khoá mở phiếu của đợt khảo sát. Nhập cụm mật khẩu một lần, rồi chọn việc cần làm; máy chủ không lưu cụm mật khẩu." }
        form #key-actions method="post" action="ministry/index" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Cụm mật khẩu " input name="passphrase" type="password" autocomplete="off" required; }
            div.actions {
                button #compute { "Tính chỉ số" }
                @for (action, what) in [("ministry/index.csv", "Tải chỉ số (CSV)"), ("ministry/index.xlsx", "Tải chỉ số (XLSX)"), ("ministry/answers.csv", "Tải câu trả lời (CSV)"), ("ministry/answers.xlsx", "Tải câu trả lời (XLSX)")] {
                    button formaction=(action) { (what) }
                }
            }
            h2 { "Công bố cho người dân" }
            @match published {
                Some((p, at)) => p #publication-state { b { "Đang công bố" } " từ " (super::layout::shown_time(at, zone)) ": đến cấp " (level_name(&p.level)) ", " (p.areas.len()) " địa bàn, mỗi địa bàn ít nhất " (p.min_forms) " phiếu. Công bố lại sẽ thay số liệu này." }
                None => p #publication-state { b { "Chưa công bố." } " Trang công khai chưa có số liệu của đợt này." }
            }
            p.muted { @if published.is_some() { a href=(format!("/public/{}", v.campaign_id())) { "Trang công khai" } } @else { "Trang công khai" } " (không cần đăng nhập) chỉ hiện chỉ số, khoảng tin cậy và số phiếu của các địa bàn đủ số phiếu tối thiểu, cùng cách tính. Thôn không được công bố: quá ít hộ." }
            label { "Công bố đến cấp " select name="level" { @for (value, words) in [("province", "Tỉnh"), ("district", "Huyện"), ("commune", "Xã")] { option value=(value) selected[value == level] { (words) } } } }
            label { "Số phiếu tối thiểu mỗi địa bàn " input name="min_forms" type="number" min=(crate::publication::MIN_FORMS_FLOOR) max="100000" value=(min_forms); }
            label { "Độ phủ tối thiểu (% địa bàn cấp dưới có phiếu) " input name="min_coverage" type="number" min="0" max="100" value=(min_coverage); }
            @if let Some(m) = publish_message { p.error role="alert" #publish-problem { (m) } }
            label.confirm { input type="checkbox" name="confirm_publish" value="yes"; " Tôi hiểu: số liệu sẽ hiện công khai trên mạng cho mọi người (có thể rút lại sau)." }
            button #publish formaction="ministry/publish" { "Công bố" }
        }
        @if published.is_some() {
            form method="post" action="ministry/withdraw" {
                input type="hidden" name="csrf" value=(v.csrf);
                label.confirm { input type="checkbox" name="confirm_withdraw" value="yes"; " Tôi muốn gỡ số liệu khỏi trang công khai (có thể công bố lại sau)." }
                button #withdraw.secondary { "Rút lại công bố" }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct PassphraseForm {
    pub(super) csrf: String,
    /// Wiped from memory when dropped.
    pub(super) passphrase: zeroize::Zeroizing<String>,
    /// For publishing: the finest level, and the least forms an area needs.
    #[serde(default)]
    pub(super) level: String,
    #[serde(default)]
    pub(super) min_forms: Option<u64>,
    /// For publishing: the share (per cent) of sampled areas one level down that must have
    /// forms before a figure goes out unmarked.
    #[serde(default)]
    pub(super) min_coverage: Option<u32>,
    /// The box that says the officer knows the figures go public.
    #[serde(default)]
    pub(super) confirm_publish: Option<String>,
}

#[derive(serde::Deserialize)]
pub(super) struct WithdrawForm {
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) confirm_withdraw: Option<String>,
}

pub(super) async fn publish(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    let (level, min) = (form.level.clone(), form.min_forms.unwrap_or(30));
    let coverage = form.min_coverage.unwrap_or(50);
    let chosen = PublishChoice {
        level: &level,
        min_forms: min,
        min_coverage: coverage,
    };
    if form.confirm_publish.as_deref() != Some("yes") {
        // Said beside the box, the choices kept (not a page that leads only home).
        let unticked = IntakeError::Declined(
            "Hãy đánh dấu ô xác nhận công bố: số liệu sẽ hiện công khai. Chưa có gì được công bố. / Tick the box to confirm publishing.".into(),
        );
        return passphrase_refused(&intake, &v, unticked, Some(chosen)).await;
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    let level_asked = level.clone();
    match blocking(move || {
        i.publish(
            &form.passphrase,
            &level_asked,
            min,
            coverage,
            &by,
            &from.to_string(),
        )
    })
    .await
    {
        Ok(p) => Ok(said.done(&v, "/ministry/index", published_words(&p))),
        Err(e) => passphrase_refused(&intake, &v, e, Some(chosen)).await,
    }
}

/// What a publication did, said to the officer who published.
fn published_words(p: &crate::publication::Published) -> String {
    let mut said = format!(
        "Đã công bố {} địa bàn; {} địa bàn không được công bố (dưới {} phiếu, chưa có phiếu, hoặc giữ lại để không suy ra được địa bàn nhỏ bằng phép trừ).",
        p.areas.len(),
        p.suppressed,
        p.min_forms
    );
    if let Some(asked) = p.min_forms_asked {
        said += &format!(
            " Bạn nhập tối thiểu {asked} phiếu; mức thấp nhất được phép là {0} phiếu nên đã dùng {0} phiếu.",
            p.min_forms
        );
    }
    if p.withheld_to_protect > 0 {
        said += &format!(
            " {} địa bàn đủ phiếu được giữ lại để không ai suy ra được số liệu của địa bàn nhỏ từ số liệu cấp trên.",
            p.withheld_to_protect
        );
    }
    let thin = p.areas.iter().filter(|a| a.low_coverage).count();
    if thin > 0 {
        said += &format!(
            " {thin} địa bàn có độ phủ dưới {} % (ít địa bàn cấp dưới có phiếu): trang công khai ghi rõ «độ phủ thấp» bên cạnh.",
            p.min_coverage_percent
        );
    }
    said
}

pub(super) async fn withdraw(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Ministry, WithdrawForm>,
) -> Result<Response, IntakeError> {
    if form.confirm_withdraw.as_deref() != Some("yes") {
        let unticked = IntakeError::Declined(
            "Hãy đánh dấu ô xác nhận rút lại công bố. Số liệu vẫn đang công khai. / Tick the box to confirm the withdrawal.".into(),
        );
        return passphrase_refused(&intake, &v, unticked, None).await;
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    let withdrawn = blocking(move || i.withdraw_publication(&by, &from.to_string())).await?;
    let message = if withdrawn {
        "Đã rút lại công bố: trang công khai không còn số liệu."
    } else {
        "Không có gì đang được công bố."
    };
    Ok(said.done(&v, "/ministry/index", message))
}

/// The passphrase form again, saying why, for a wrong passphrase or too many of them.
async fn passphrase_refused(
    intake: &Arc<Intake>,
    v: &Visitor,
    e: IntakeError,
    chosen: Option<PublishChoice<'_>>,
) -> Result<Response, IntakeError> {
    let (status, message, retry_after) = match e {
        IntakeError::MinistryKey(e) => (
            StatusCode::UNAUTHORIZED,
            crate::words::in_vietnamese(&e.to_string()).to_string(),
            None,
        ),
        IntakeError::Declined(message) => (
            StatusCode::BAD_REQUEST,
            crate::words::in_vietnamese(&message).to_string(),
            None,
        ),
        IntakeError::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Nhập sai cụm mật khẩu quá nhiều lần; thử lại sau {} phút.",
                retry_after_secs.div_ceil(60)
            ),
            Some(retry_after_secs),
        ),
        e => return Err(e),
    };
    let i = intake.clone();
    let published = blocking(move || i.publication()).await?;
    let form = passphrase_form(
        v,
        Some(&message),
        published.as_ref(),
        intake.time_zone()?,
        chosen,
    );
    let mut response = (status, page("Chỉ số", Some(v), form)).into_response();
    if let Some(secs) = retry_after {
        crate::error::with_retry_after(&mut response, secs);
    }
    Ok(response)
}

pub(super) async fn computed_index(
    intake: &Arc<Intake>,
    v: &Visitor,
    form: PassphraseForm,
    address: std::net::IpAddr,
) -> Result<Result<crate::service::ComputedIndex, Response>, IntakeError> {
    let (i, by) = (intake.clone(), v.account.login.clone());
    match blocking(move || i.index(&form.passphrase, &by, &address.to_string())).await {
        Ok(report) => Ok(Ok(report)),
        Err(e) => passphrase_refused(intake, v, e, None).await.map(Err),
    }
}

pub(super) async fn index_results(
    InCampaign(intake): InCampaign,
    Posted { v, from, form, .. }: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    let computed = match computed_index(&intake, &v, form, from).await? {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let (report, straight) = (&computed.report, &computed.straight_lined);
    // Place names for the ids the index is keyed by.
    let i = intake.clone();
    let all = blocking(move || Names::load(&i)).await?;
    let names = &all.places;
    let name = |id: &str| all.place(id).to_string();
    let label = |id: &str| {
        computed
            .labels
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    let provinces = report
        .areas
        .get(&forms::index::Level::Province)
        .map(|a| a.len())
        .unwrap_or(0);
    let level_name = |level: &forms::index::Level| match level {
        forms::index::Level::Village => "Theo thôn",
        forms::index::Level::Commune => "Theo xã",
        forms::index::Level::District => "Theo huyện",
        forms::index::Level::Province => "Theo tỉnh",
    };
    let body = html! {
        (unopenable_list(&computed.unopenable, &all))
        p { "Phiếu trả lời cùng một mã cho mọi câu hỏi hài lòng (cần xem lại): " b #straight-lined { (straight.len()) } " " (straight.iter().map(|h| all.serial(h)).collect::<Vec<_>>().join(", ")) }
        p { "Phiếu không có câu trả lời nào được tính (để trống, không đọc được hoặc chỉ có mã «không trả lời»; có trong số phiếu, không có trong chỉ số — xem lại bản giấy): " b #nothing-counted { (computed.nothing_counted.len()) } " " (computed.nothing_counted.iter().map(|h| all.serial(h)).collect::<Vec<_>>().join(", ")) }
        (answer_anomaly_list(&computed.answer_anomalies, &all))
        p { @if provinces == 1 { "Toàn tỉnh: " } @else { "Cả nước (trung bình " (provinces) " tỉnh): " }
            b #national { (percent(&report.national.overall)) } " (khoảng tin cậy 95 %: " (interval(&report.national.overall)) ", " (report.national.forms) " phiếu, " (report.national.counted_forms) " phiếu được tính)" }
        @if let Some(districts) = report.areas.get(&forms::index::Level::District) { (index_bars(districts, &names)) }
        @for (level, areas) in &report.areas {
            h2 { (level_name(level)) }
            div.scroll { table.index data-level=(format!("{level:?}").to_lowercase()) {
                thead { tr { th { "Địa bàn" } th { "Số phiếu" } th { "Phiếu được tính" } th { "Chỉ số (%)" } th { "Khoảng tin cậy 95 %" }
                    @for part in &computed.part_order { th { (label(part)) } } } }
                tbody { @for (id, a) in areas {
                    tr data-area=(id) { td { (name(id)) } td { (a.forms) } td.counted { (a.counted_forms) } td { (percent(&a.overall)) } td { (interval(&a.overall)) }
                        @for part in &computed.part_order { td { (a.parts.get(part).map(percent).unwrap_or_else(|| "—".into())) } } }
                } }
            } }
        }
    };
    Ok(page("Chỉ số", Some(&v), body).into_response())
}

/// Sheets with answers the index leaves out: answers to questions the sheet's own answers rule
/// out, and values no tablet sends. Named by form serial, with the questions by number.
fn answer_anomaly_list(anomalies: &[crate::service::AnswerAnomaly], names: &Names) -> Markup {
    let not_applying: Vec<_> = anomalies
        .iter()
        .filter(|a| !a.not_applying.is_empty())
        .collect();
    let invalid: Vec<_> = anomalies.iter().filter(|a| !a.invalid.is_empty()).collect();
    // Both lists are always headed, with their count, so a clean index says "0" rather than
    // leaving an auditor to wonder whether the check ran.
    html! {
        h2 { "Phiếu có câu trả lời cho câu không áp dụng (" (not_applying.len()) ")" }
        p.muted { "Các câu trả lời này không được tính vào chỉ số: theo chính câu trả lời của phiếu, câu hỏi không áp dụng với người trả lời. Xem lại phiếu giấy." }
        @if not_applying.is_empty() { p #answers-not-applying { "Không có phiếu nào." } } @else {
            ul #answers-not-applying { @for a in &not_applying {
                li { "Phiếu " b { (names.serial(&a.household)) } ": câu " (a.not_applying.join(", ")) }
            } }
        }
        h2 { "Phiếu có giá trị không hợp lệ (" (invalid.len()) ")" }
        p.muted { "Giá trị mà máy tính bảng không thể gửi (không phải mã của câu hỏi, sai kiểu): không được tính vào chỉ số. Xem lại phiếu giấy và sửa phiếu." }
        @if invalid.is_empty() { p #answers-invalid { "Không có phiếu nào." } } @else {
            ul #answers-invalid { @for a in &invalid {
                li { "Phiếu " b { (names.serial(&a.household)) } ": câu " (a.invalid.join(", ")) }
            } }
        }
    }
}

/// Sheets left out of the figures because they cannot be opened: each to be keyed again from
/// its paper, named by household, enumerator and the device that sent it.
pub(super) fn unopenable_list(unopenable: &[crate::service::Unopenable], names: &Names) -> Markup {
    html! {
        @if !unopenable.is_empty() {
            section #unopenable {
                h2.error { (unopenable.len()) " phiếu không mở được — đã loại khỏi số liệu; nhập lại từ phiếu giấy" }
                div.scroll { table { thead { tr { th { "Số phiếu" } th { "Thôn" } th { "Điều tra viên" } th { "Máy gửi" } th { "Lô" } th { "Lý do" } } }
                    tbody { @for u in unopenable { tr data-household=(u.form.household) {
                        td { (u.form.serial) } td.l { (names.place(&u.form.village)) }
                        td.l { (names.enumerator(&u.form.enumerator)) }
                        td.l { (names.device(&u.form.device)) } td { (u.form.seq) } td.l { (u.reason) }
                    } } }
                } }
            }
        }
    }
}

/// Names for the ids the ministry's pages are keyed by: places, enumerators, devices, and the
/// serial printed on each household's paper form.
pub(super) struct Names {
    places: std::collections::HashMap<String, String>,
    enumerators: std::collections::HashMap<String, String>,
    devices: std::collections::HashMap<String, String>,
    serials: std::collections::HashMap<String, String>,
}

impl Names {
    pub(super) fn load(intake: &Intake) -> Result<Names, IntakeError> {
        Ok(Names {
            places: intake.store.place_names()?,
            enumerators: intake.enumerator_names()?,
            devices: intake
                .store
                .devices()?
                .into_iter()
                .map(|(id, _, label, ..)| (id.to_string(), label))
                .collect(),
            serials: intake
                .store
                .expected_forms()?
                .into_iter()
                .map(|f| (f.household, f.serial))
                .collect(),
        })
    }
    fn pick<'a>(map: &'a std::collections::HashMap<String, String>, id: &'a str) -> &'a str {
        map.get(id).map(String::as_str).unwrap_or(id)
    }
    pub(super) fn place<'a>(&'a self, id: &'a str) -> &'a str {
        Self::pick(&self.places, id)
    }
    pub(super) fn enumerator<'a>(&'a self, id: &'a str) -> &'a str {
        Self::pick(&self.enumerators, id)
    }
    pub(super) fn device<'a>(&'a self, id: &'a str) -> &'a str {
        Self::pick(&self.devices, id)
    }
    pub(super) fn serial<'a>(&'a self, household: &'a str) -> &'a str {
        Self::pick(&self.serials, household)
    }
}

/// The index as rows, one per area and measure (the index, each part, each criterion), each with
/// its forms, valid answers (n), value and 95 % interval: national first, then every level.
pub(super) fn index_rows(
    computed: &crate::service::ComputedIndex,
    names: &std::collections::HashMap<String, String>,
) -> Vec<Vec<String>> {
    let report = &computed.report;
    let label = |id: &str| {
        computed
            .labels
            .get(id)
            .map(String::as_str)
            .unwrap_or(id)
            .to_string()
    };
    // In per cent, as on every page, with two decimals; a share rounded once from its exact
    // fraction (docs/statistics.md).
    let f = |x: Option<f64>| x.map(|x| format!("{:.2}", 100.0 * x)).unwrap_or_default();
    let share = |s: &forms::index::Share| s.percent_text(2).unwrap_or_default();
    let level_name = |level: &forms::index::Level| match level {
        forms::index::Level::Village => "thôn",
        forms::index::Level::Commune => "xã",
        forms::index::Level::District => "huyện",
        forms::index::Level::Province => "tỉnh",
    };
    let header = [
        "cấp",
        "mã địa bàn",
        "địa bàn",
        "chỉ tiêu",
        "số phiếu",
        "số phiếu được tính",
        "số câu trả lời hợp lệ (n)",
        "cỡ mẫu của khoảng tin cậy (n hiệu dụng)",
        "tỷ lệ hài lòng (%)",
        "cận dưới 95 % (%)",
        "cận trên 95 % (%)",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    let mut area = |level: &str, id: &str, name: &str, a: &forms::index::AreaIndex| {
        // In the form's report order, not by id.
        let measures = std::iter::once(("chỉ số".to_string(), &a.overall))
            .chain(
                computed
                    .part_order
                    .iter()
                    .filter_map(|k| a.parts.get(k).map(|s| (format!("phần: {}", label(k)), s))),
            )
            .chain(computed.criterion_order.iter().filter_map(|k| {
                a.criteria
                    .get(k)
                    .map(|s| (format!("tiêu chí: {}", label(k)), s))
            }));
        for (measure, s) in measures {
            rows.push(vec![
                level.into(),
                id.into(),
                name.into(),
                measure,
                a.forms.to_string(),
                a.counted_forms.to_string(),
                s.n.to_string(),
                // The size the interval is computed at (docs/statistics.md): with it and the
                // share, the bounds are re-derived from this file alone.
                format!("{:.6}", s.effective_n),
                share(s),
                f(s.low),
                f(s.high),
            ]);
        }
    };
    // Named as the page names it: a campaign of one province has no average of provinces.
    let provinces = report
        .areas
        .get(&forms::index::Level::Province)
        .map_or(0, |a| a.len());
    let whole = if provinces == 1 {
        "Toàn tỉnh"
    } else {
        "Trung bình các tỉnh"
    };
    area("toàn bộ", "", whole, &report.national);
    for (level, areas) in &report.areas {
        for (id, a) in areas {
            area(
                level_name(level),
                id,
                names.get(id).map(String::as_str).unwrap_or(id),
                a,
            );
        }
    }
    rows
}

pub(super) async fn index_download(
    intake: Arc<Intake>,
    posted: Posted<Ministry, PassphraseForm>,
    xlsx: bool,
) -> Result<Response, IntakeError> {
    let Posted { v, from, form, .. } = posted;
    let computed = match computed_index(&intake, &v, form, from).await? {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let i = intake.clone();
    let names = blocking(move || Ok(i.store.place_names()?)).await?;
    download(
        &index_rows(&computed, &names),
        &format!("{}-index", intake.id),
        xlsx.then_some("Chỉ số"),
    )
}

pub(super) async fn index_csv(
    InCampaign(intake): InCampaign,
    posted: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    index_download(intake, posted, false).await
}

pub(super) async fn index_xlsx(
    InCampaign(intake): InCampaign,
    posted: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    index_download(intake, posted, true).await
}

pub(super) async fn answers_download(
    intake: Arc<Intake>,
    posted: Posted<Ministry, PassphraseForm>,
    xlsx: bool,
) -> Result<Response, IntakeError> {
    let Posted { v, from, form, .. } = posted;
    let (i, by) = (intake.clone(), v.account.login.clone());
    match blocking(move || i.answers_table(&form.passphrase, &by, &from.to_string())).await {
        Ok(rows) => download(
            &rows,
            &format!("{}-answers", intake.id),
            xlsx.then_some("Câu trả lời"),
        ),
        Err(e) => passphrase_refused(&intake, &v, e, None).await,
    }
}

pub(super) async fn answers_csv(
    InCampaign(intake): InCampaign,
    posted: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    answers_download(intake, posted, false).await
}

pub(super) async fn answers_xlsx(
    InCampaign(intake): InCampaign,
    posted: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    answers_download(intake, posted, true).await
}

pub(super) async fn anomalies_page(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let (a, names, households, alerts, devices, tz) = blocking(move || {
        let households: std::collections::HashMap<String, String> = i
            .store
            .expected_forms()?
            .into_iter()
            .map(|f| (f.household, f.serial))
            .collect();
        let devices: std::collections::HashMap<String, String> = i
            .store
            .devices()?
            .into_iter()
            .map(|(id, _, label, ..)| (id.to_string(), label))
            .collect();
        Ok((
            i.anomalies()?,
            i.enumerator_names()?,
            households,
            i.store.kept_alerts()?,
            devices,
            i.time_zone()?,
        ))
    })
    .await?;
    fn alert_words(kind: &str) -> &str {
        match kind {
            "revoked_device_sent" => "Máy đã thu hồi vẫn gửi dữ liệu",
            "equivocation" => "Hai lô khác nhau mang cùng một số thứ tự",
            "chain_broken" => "Chuỗi lô của máy bị đứt",
            crate::service::UNOPENABLE_ALERT => "Phiếu niêm phong không mở được",
            _ => "Cảnh báo khác",
        }
    }
    let label = anomaly_label;
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let body = html! {
        p { "Thời gian nhập trung vị: " (a.median_keying_seconds.map(|s| format!("{s} giây")).unwrap_or_else(|| "—".into())) " · " (a.flags.len()) " dấu hiệu" }
        div.scroll { table #by-enumerator {
            thead { tr { th { "Điều tra viên" } th { "Dấu hiệu" } } }
            tbody { @for (enumerator, kinds) in &a.by_enumerator {
                tr { td { (name(enumerator)) } td.l { @for (j, (k, n)) in kinds.iter().enumerate() { @if j > 0 { "; " } (label(k)) ": " (n) } } }
            } }
        } }
        h2 { "Cảnh báo từ máy tính bảng" }
        @if alerts.is_empty() { p.muted #no-alerts { "Không có cảnh báo nào." } } @else {
            p.muted { "Mỗi máy và mỗi nguyên nhân một dòng, kèm số lần và lần cuối." }
            div.scroll { table #alerts {
                thead { tr { th { "Cảnh báo" } th { "Điều tra viên" } th { "Máy" } th { "Số lần" } th { "Lần đầu" } th { "Lần cuối" } th { "Lô số" } } }
                tbody { @for k in &alerts { tr data-kind=(k.alert.kind) {
                    td.l { (alert_words(&k.alert.kind)) }
                    td.l { (k.alert.enumerator.as_deref().map(|e| name(e)).unwrap_or_default()) }
                    td.l { (k.alert.device.map(|d| devices.get(&d.to_string()).cloned().unwrap_or_else(|| "máy không rõ".into())).unwrap_or_default()) }
                    td.count { (k.count) }
                    td.l { (super::layout::shown_time(&k.first_at, tz)) }
                    td.l { (super::layout::shown_time(&k.last_at, tz)) }
                    td { (k.alert.seq.map(|s| s.to_string()).unwrap_or_default()) }
                } } }
            } }
        }
        h2 { "Nhập hai lần (kiểm tra nhập liệu)" }
        @if a.double_keying.is_empty() { p.muted { "Chưa có phiếu nào được nhập hai lần." } } @else {
            div.scroll { table #double-keying {
                thead { tr { th { "Điều tra viên" } th { "Phiếu đã kiểm tra" } th { "Câu lệch" } th { "Lần 1 sai" } th { "Lần 2 sai" } th { "Câu lệch mỗi phiếu" } } }
                tbody { @for (enumerator, d) in &a.double_keying {
                    tr { td.l { (name(enumerator)) } td { (d.forms) } td { (d.mismatches) } td { (d.keyer_errors) } td { (d.verifier_errors) }
                        td { (decimal(d.mismatches as f64 / d.forms.max(1) as f64, 1)) } }
                } }
            } }
        }
        h2 { "Chi tiết" }
        ul #flags { @for f in &a.flags { li data-kind=(f.kind) {
            b { (label(f.kind)) } " — " (name(&f.enumerator))
            @if let Some(h) = &f.household { ", phiếu " (households.get(h).map(String::as_str).unwrap_or(h)) }
            ": " (f.detail)
        } } }
    };
    Ok(page("Dấu hiệu bất thường", Some(&v), body).into_response())
}

/// A paradata sign's name, as the officer reads it.
fn anomaly_label(kind: &str) -> &'static str {
    match kind {
        "empty_comparison" => "Kiểm tra không có so sánh thật",
        "fast_keying" => "Nhập nhanh bất thường",
        "collected_outside_window" => "Thu phiếu ngoài thời gian thu",
        "many_refusals_or_absences" => "Nhiều hộ từ chối hoặc vắng",
        "clock_jump" => "Đồng hồ máy nhảy",
        _ => "Dấu hiệu khác",
    }
}

pub(super) async fn review_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let said = said.take_message(&v);
    let i = intake.clone();
    let ((forms, reviews, paper, names, tz, facts, corrected), signs, visits) =
        blocking(move || {
            let facts = i.store.event_facts()?;
            let signs = i.anomalies_of(&facts)?.flags;
            Ok((
                (
                    i.store.expected_forms()?,
                    i.store.reviews()?,
                    i.store.paper_serials()?,
                    i.enumerator_names()?,
                    i.time_zone()?,
                    facts,
                    i.store.corrected_households()?,
                ),
                signs,
                i.store.backcheck_outcomes()?,
            ))
        })
        .await?;
    // What each form's paradata and back-check visit say: the reasons to look at it first.
    let mut signs_of: std::collections::HashMap<&str, Vec<&'static str>> = Default::default();
    for f in &signs {
        if let Some(h) = f.household.as_deref() {
            let list = signs_of.entry(h).or_default();
            if !list.contains(&anomaly_label(f.kind)) {
                list.push(anomaly_label(f.kind));
            }
        }
    }
    let visit_of: std::collections::HashMap<&str, &crate::store::BackcheckOutcome> = visits
        .iter()
        .filter(|o| o.outcome != "confirmed")
        .map(|o| (o.household.as_str(), o))
        .collect();
    // Who decided, by name.
    let people = {
        let (i, logins) = (
            intake.clone(),
            reviews.values().map(|r| r.2.clone()).collect::<Vec<_>>(),
        );
        blocking(move || i.person_names(logins.iter().map(String::as_str))).await?
    };
    // Per form: what its two keyings disagreed on.
    let double_keying: std::collections::HashMap<&str, crate::store::DoubleKeyingCounts> = facts
        .iter()
        .filter_map(|f| Some((f.household.as_deref()?, f.double_keying?)))
        .collect();
    // Who keyed each form: the latest keying's enumerator, not the household's holder now (a
    // household moved after it was keyed stays its keyer's work).
    let mut keyed_by: std::collections::HashMap<&str, (i64, &str)> = Default::default();
    for f in facts.iter().filter(|f| {
        matches!(
            f.kind.as_str(),
            "form_transcribed" | "transcription_verified"
        )
    }) {
        if let Some(h) = f.household.as_deref() {
            let latest = keyed_by
                .entry(h)
                .or_insert((f.occurred_unix, &f.enumerator));
            if f.occurred_unix >= latest.0 {
                *latest = (f.occurred_unix, &f.enumerator);
            }
        }
    }
    let paper: std::collections::HashSet<String> = paper
        .iter()
        .map(|s| crate::reconcile::normalize_serial(s))
        .collect();
    // Forms needing a look first: flagged and not yet keyed again from paper; then, undecided,
    // one whose back-check found other answers, one with a paradata sign, one whose visit
    // found no one, one keyed twice apart, the rest; decided ones last.
    let attention = |f: &&crate::store::ExpectedForm| -> u8 {
        let h = f.household.as_str();
        let decision = reviews.get(h).map(|(d, ..)| d.as_str());
        let visit = visit_of.get(h).map(|o| o.outcome.as_str());
        if decision == Some("flagged") && !corrected.contains_key(h) {
            0
        } else if decision.is_some() {
            6
        } else if visit == Some("answers_differ") {
            1
        } else if signs_of.contains_key(h) {
            2
        } else if visit.is_some() {
            3
        } else if double_keying.get(h).is_some_and(|d| d.mismatches > 0) {
            4
        } else {
            5
        }
    };
    let mut listed: Vec<&crate::store::ExpectedForm> = forms.iter().filter(|f| f.digital).collect();
    listed.sort_by_key(|f| attention(f));
    let body = html! {
        @if let Some(m) = said { p role="status" #message { (m) } }
        p { "Mọi phiếu đã nhập, phiếu cần xem trước ở đầu danh sách: phiếu gắn cờ chưa nhập sửa, phiếu có dấu hiệu bất thường hoặc phúc tra không khớp, phiếu hai lần nhập lệch nhau chưa duyệt, rồi phiếu chưa duyệt. Bản giấy đã đến hay chưa được ghi bên cạnh. Bấm số phiếu để xem câu trả lời (cần cụm mật khẩu mở phiếu) bên cạnh bản giấy; gắn cờ một phiếu sai rồi «Nhập sửa theo bản giấy». Đánh dấu nhiều phiếu rồi duyệt một lần ở cuối trang." }
        form #bulk-approve method="post" action="ministry/review/approve" {
            input type="hidden" name="csrf" value=(v.csrf);
        }
        div.scroll { table #reviews {
            thead { tr { th { "Chọn" } th { "Số phiếu" } th { "Thôn, xã" } th { "Điều tra viên nhập phiếu" } th { "Bản giấy" } th { "Nhập hai lần" } th { "Cần xem" } th { "Quyết định" } th { "Duyệt" } } }
            tbody { @for f in &listed {
                tr data-household=(f.household) {
                    td { input type="checkbox" form="bulk-approve" name={ "h_" (f.household) } value="yes" aria-label={ "Chọn phiếu " (f.serial) }; }
                    td style="white-space:nowrap" { a.open-sheet href={ "ministry/review/" (f.household) } title="Xem câu trả lời bên cạnh bản giấy" { (f.serial) } } td.l { (f.village_name) } td.l { @let keyer = keyed_by.get(f.household.as_str()).map_or(f.enumerator.as_str(), |k| k.1); (names.get(keyer).map_or(keyer, String::as_str)) }
                    td { (if paper.contains(&f.serial) { "đã đến" } else { "chưa đến" }) }
                    td.l.double-keying { @match double_keying.get(f.household.as_str()) {
                        Some(d) if d.mismatches == 0 => { "khớp" }
                        Some(d) => { "lệch " (d.mismatches) " câu (lần 1 sai " (d.keyer_errors) ", lần 2 sai " (d.verifier_errors) ")" }
                        None => { "—" }
                    } }
                    td.l.attention {
                        @if let Some(list) = signs_of.get(f.household.as_str()) { (list.join("; ")) }
                        @if let Some(o) = visit_of.get(f.household.as_str()) {
                            @if signs_of.contains_key(f.household.as_str()) { br; }
                            "Phúc tra: " (backcheck_outcome_name(&o.outcome)) @if !o.note.trim().is_empty() { " — «" (o.note) "»" }
                        }
                    }
                    td.l.decision {
                        @if let Some(at) = corrected.get(&f.household) {
                            b.corrected { "Đã nhập sửa theo bản giấy" } " (" (super::layout::shown_time(at, tz)) ")"
                            @if reviews.get(&f.household).is_some() { br; }
                        }
                        @if let Some((d, reason, by, at)) = reviews.get(&f.household) {
                            (if d == "approved" { "Đã duyệt" } else { "Gắn cờ" }) @if !reason.trim().is_empty() { " — " (reason) } " (" (people.get(by).unwrap_or(by)) ", " (super::layout::shown_time(at, tz)) ")"
                            @if d == "flagged" && !corrected.contains_key(&f.household) { " " a href={ "ministry/correct/" (f.household) } { "Nhập sửa theo bản giấy" } }
                        }
                    }
                    td { (decision_form(&v, &f.household)) }
                }
            } }
        } }
    };
    let body = html! {
        (body)
        p { button #approve-checked form="bulk-approve" { "Duyệt các phiếu đã đánh dấu" } }
    };
    Ok(page("Duyệt phiếu", Some(&v), body).into_response())
}

/// The decision buttons of one form, as on the review list.
fn decision_form(v: &Visitor, household: &str) -> Markup {
    html! {
        form.decide method="post" action="ministry/review" {
            input type="hidden" name="csrf" value=(v.csrf);
            input type="hidden" name="household" value=(household);
            input name="reason" placeholder="Lý do (khi gắn cờ)" maxlength="2000";
            button name="decision" value="approved" { "Duyệt" } " "
            button name="decision" value="flagged" { "Gắn cờ" }
        }
    }
}

/// One form to review beside its paper: the passphrase box, then its answers and the decision.
fn sheet_review_view(
    v: &Visitor,
    household: &str,
    (serial, facts): &(String, Markup),
    sheet: Option<&crate::service::ReviewSheet>,
    message: Option<&str>,
) -> Html<String> {
    let body = html! {
        p { a href="ministry/review" { "← Về danh sách duyệt phiếu" } }
        @if let Some(m) = message { p.error role="alert" #message { (m) } }
        (facts)
        @match sheet {
            None => {
                form method="post" action={ "ministry/review/" (household) } {
                    input type="hidden" name="csrf" value=(v.csrf);
                    label { "Cụm mật khẩu mở phiếu " input name="passphrase" type="password" required autocomplete="off" autofocus; }
                    button { "Xem câu trả lời" }
                }
                p.muted { "Mỗi lần xem được ghi vào nhật ký." }
            }
            Some(s) => {
                @if let Some(why) = &s.unopenable {
                    p.error #unopenable { "Không mở được phiếu này: " (why) ". Hãy nhập sửa theo bản giấy (đường dẫn ở dưới)." }
                } @else {
                    p { "Đối chiếu từng câu với bản giấy. Ô trong ngoặc vuông là đánh dấu (để trống, không đọc được, đánh nhiều ô) hoặc câu trả lời không hợp lệ, kèm lý do: không được tính vào chỉ số. Mã đặc biệt in trên phiếu (như «Không áp dụng», «Không trả lời») là câu trả lời thật của người trả lời nên không trong ngoặc, nhưng chỉ số cũng không tính chúng." }
                    @let apart_numbers: Vec<&str> = s.rows.iter().filter(|r| r.keyings.is_some()).map(|r| r.number.as_str()).collect();
                    @let apart = apart_numbers.len();
                    @if apart > 0 {
                        p #keyings-apart {
                            "Hai lần nhập đọc khác nhau ở " (apart) " câu"
                            @if apart <= 12 { ": " (apart_numbers.join(", ")) }
                            " (tô vàng bên dưới). Câu trả lời ghi ở cột «Đã nhập» là câu điều tra viên đã chốt theo bản giấy; «(không nhập)» là lần nhập đó bỏ trống ô, khác với đánh dấu [để trống] của người trả lời."
                        }
                    }
                    div.scroll { table #sheet-answers {
                        thead { tr { th { "Câu" } th { "Nội dung" } th { "Đã nhập" } th { "Nhãn" } @if apart > 0 { th { "Hai lần nhập" } } } }
                        tbody { @for r in &s.rows {
                            tr class=[r.keyings.is_some().then_some("apart")] {
                                td { (r.number) } td.l { (r.label) } td.l.answer { (r.raw) } td.l { (r.labels) }
                                @if apart > 0 { td.l.keyings { @if let Some((first, second)) = &r.keyings {
                                    "lần 1: " (first) "; lần 2: " (second)
                                } } }
                            }
                        } }
                    } }
                }
            }
        }
        h2 { "Quyết định" }
        (decision_form(v, household))
        p { a #correct href={ "ministry/correct/" (household) } { "Nhập sửa theo bản giấy" } " (khi câu trả lời ở đây khác bản giấy)" }
    };
    page(&format!("Duyệt phiếu số {serial}"), Some(v), body)
}

/// The household a page's address names: `Ok` with where it is (`None`: no such household),
/// or `Err` with the id of the household whose printed serial the address holds instead (typed
/// as on the paper in hand), for the page to lead there.
async fn household_in_address(
    intake: &Arc<Intake>,
    household: &str,
) -> Result<Result<Option<(String, String, String, bool)>, String>, IntakeError> {
    let (i, h) = (intake.clone(), household.to_string());
    blocking(move || {
        let place = i.store.household_place(&h)?;
        if place.is_some() {
            return Ok(Ok(place));
        }
        Ok(match i.household_by_typed_serial(&h, |_| true)? {
            Some((id, _)) => Err(id),
            None => Ok(None),
        })
    })
    .await
}

/// The serial of a household the centre holds a sheet of, and what the reviewer needs beside
/// the answers (where, who, the paper, the double keying, the decision so far); or a page
/// saying there is none.
async fn reviewable_serial(
    intake: &Arc<Intake>,
    v: &Visitor,
    household: &str,
) -> Result<Result<(String, Markup), Response>, IntakeError> {
    let place = match household_in_address(intake, household).await? {
        Ok(place) => place,
        Err(id) => {
            return Ok(Err(
                Redirect::to(&v.at(&format!("/ministry/review/{id}"))).into_response()
            ))
        }
    };
    let known = place.is_some();
    Ok(match place.filter(|(.., has_answers)| *has_answers) {
        Some((serial, ..)) => Ok((serial.clone(), review_facts(intake, household).await?)),
        None => {
            let body = html! {
                p.error #message { (if known { "Hộ này chưa có phiếu nào ở máy chủ nên chưa có gì để duyệt." } else { "Không có hộ nào như vậy trong đợt khảo sát này." }) }
                p { a href="ministry/review" { "Về trang Duyệt phiếu" } }
            };
            Err((
                StatusCode::NOT_FOUND,
                page("Không có phiếu để duyệt", Some(v), body),
            )
                .into_response())
        }
    })
}

/// Where the form comes from and what has been decided on it, as a short list.
async fn review_facts(intake: &Arc<Intake>, household: &str) -> Result<Markup, IntakeError> {
    let (i, h) = (intake.clone(), household.to_string());
    blocking(move || {
        // This household's facts alone: the page shows one form of a campaign that may be
        // national.
        let facts = i.store.household_review(&h)?.ok_or(IntakeError::NotFound)?;
        let village = i.store.place_names()?.remove(&facts.village).unwrap_or_default();
        let enumerator = i
            .enumerator_names()?
            .remove(&facts.enumerator)
            .unwrap_or_else(|| facts.enumerator.clone());
        let (paper, keying) = (facts.paper_arrived, facts.double_keying);
        let decision = match facts.decision {
            Some((d, reason, by, at)) => Some((d, reason, i.person_name(&by)?, at)),
            None => None,
        };
        let corrected = match facts.corrected {
            Some((by, at, reason)) => Some((i.person_name(&by)?, at, reason)),
            None => None,
        };
        let tz = i.time_zone()?;
        let questions = i.form()?.questions.len();
        Ok(html! {
            dl #review-facts {
                dt { "Thôn" } dd { (village) }
                dt { "Điều tra viên nhập phiếu" } dd { (enumerator) }
                dt { "Bản giấy" } dd.paper { (if paper { "đã đến trung tâm" } else { "chưa đến — chỉ duyệt khi ghi lý do" }) }
                dt { "Nhập hai lần" } dd #keying { @match keying {
                    Some(d) if d.mismatches == 0 => { "hai lần nhập khớp nhau" }
                    Some(d) => {
                        "lệch " (d.mismatches) " câu (lần 1 sai " (d.keyer_errors) ", lần 2 sai " (d.verifier_errors) "); đã đối chiếu trên máy"
                        @if crate::anomalies::compared_nothing(d.mismatches, questions) {
                            b.flag { " — lệch ở " (d.mismatches) " trên " (questions) " câu: một lần nhập gần như trống, nên không có so sánh thật. Đối chiếu cả phiếu với bản giấy." }
                        }
                    }
                    None => { "không có số liệu nhập hai lần" }
                }
                @if keying.is_some() && corrected.is_some() { "; câu trả lời dưới đây là bản nhập sửa theo bản giấy, thay cho cả hai lần nhập" } }
                dt { "Quyết định hiện tại" } dd.decision {
                    @match &decision {
                        Some((d, reason, by, at)) => {
                            (if d == "approved" { "Đã duyệt" } else { "Gắn cờ" })
                            @if !reason.trim().is_empty() { " — " (reason) }
                            " (" (by) ", " (super::layout::shown_time(at, tz)) ")"
                        }
                        None => { "chưa quyết định" }
                    }
                    @if let Some((by, at, reason)) = &corrected {
                        "; đã nhập sửa theo bản giấy — " (reason) " (" (by) ", " (super::layout::shown_time(at, tz)) ")"
                    }
                }
            }
        })
    })
    .await
}

pub(super) async fn sheet_review_page(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Ministry>,
    Path((_, household)): Path<(String, String)>,
) -> Result<Response, IntakeError> {
    Ok(match reviewable_serial(&intake, &v, &household).await? {
        Ok(found) => sheet_review_view(&v, &household, &found, None, None).into_response(),
        Err(none) => none,
    })
}

pub(super) async fn sheet_review_open(
    InCampaign(intake): InCampaign,
    Path((_, household)): Path<(String, String)>,
    Posted { v, from, form, .. }: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    let found = match reviewable_serial(&intake, &v, &household).await? {
        Ok(found) => found,
        Err(none) => return Ok(none),
    };
    let (i, by, h) = (intake.clone(), v.account.login.clone(), household.clone());
    let opened =
        blocking(move || i.sheet_for_review(&form.passphrase, &by, &from.to_string(), &h)).await;
    Ok(match opened {
        Ok(sheet) => {
            sheet_review_view(&v, &household, &found, sheet.as_ref(), None).into_response()
        }
        Err(IntakeError::MinistryKey(e)) => (
            StatusCode::UNAUTHORIZED,
            sheet_review_view(
                &v,
                &household,
                &found,
                None,
                Some(&crate::words::in_vietnamese(&e.to_string())),
            ),
        )
            .into_response(),
        Err(IntakeError::RateLimited { retry_after_secs }) => {
            let said = format!(
                "Nhập sai cụm mật khẩu quá nhiều lần; thử lại sau {} phút.",
                retry_after_secs.div_ceil(60)
            );
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                sheet_review_view(&v, &household, &found, None, Some(&said)),
            )
                .into_response();
            crate::error::with_retry_after(&mut response, retry_after_secs);
            response
        }
        Err(e) => return Err(e),
    })
}

/// Approves every form ticked on the review page, one decision each (audited as such).
pub(super) async fn approve_checked(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted {
        v,
        from,
        form: fields,
        ..
    }: Posted<Ministry, std::collections::HashMap<String, String>>,
) -> Result<Response, IntakeError> {
    let households: Vec<String> = fields
        .iter()
        .filter(|(k, value)| k.starts_with("h_") && *value == "yes")
        .map(|(k, _)| k["h_".len()..].to_string())
        .take(5000)
        .collect();
    if households.is_empty() {
        // Said on the list, where the boxes are to tick (not a page that leads only home).
        return Ok(said.done(
            &v,
            "/ministry/review",
            "Chưa đánh dấu phiếu nào để duyệt: đánh dấu ô ở đầu mỗi phiếu cần duyệt rồi bấm lại.",
        ));
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    let (approved, waiting) =
        blocking(move || i.approve_with_paper(&households, &by, &from.to_string())).await?;
    let mut message = format!("Đã duyệt {approved} phiếu.");
    if !waiting.is_empty() {
        message += &format!(
            " {} phiếu chưa duyệt vì bản giấy chưa đến: {}.",
            waiting.len(),
            waiting.join(", ")
        );
    }
    Ok(said.done(&v, "/ministry/review", message))
}

#[derive(serde::Deserialize)]
pub(super) struct ReviewForm {
    pub(super) csrf: String,
    pub(super) household: String,
    pub(super) decision: String,
    #[serde(default)]
    pub(super) reason: String,
}

pub(super) async fn review(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Ministry, ReviewForm>,
) -> Result<Response, IntakeError> {
    let (i, by) = (intake.clone(), v.account.login.clone());
    blocking(move || {
        i.review(
            &form.household,
            &form.decision,
            &form.reason,
            &by,
            &from.to_string(),
        )
    })
    .await?;
    Ok(said.done(&v, "/ministry/review", "Đã ghi quyết định."))
}

/// The index of each area as horizontal bars with their 95 % interval (SVG, no script).
pub(super) fn index_bars(
    areas: &std::collections::BTreeMap<String, forms::index::AreaIndex>,
    names: &std::collections::HashMap<String, String>,
) -> Markup {
    let (label_w, bar_w, row_h) = (160.0, 480.0, 22.0);
    let height = row_h * areas.len() as f64 + 30.0;
    let at = |x: f64| label_w + bar_w * x.clamp(0.0, 1.0);
    html! {
        svg #index-chart viewBox={ "0 0 " (label_w + bar_w + 60.0) " " (height) } role="img" aria-label="Chỉ số theo huyện" style="background:#fff;border:1px solid #d6dbe2;width:100%;max-width:700px;height:auto" {
            @for (i, (id, a)) in areas.iter().enumerate() {
                @let y = 10.0 + row_h * i as f64;
                text x="6" y=(y + 14.0) font-size="12" { (names.get(id).map(String::as_str).unwrap_or(id)) }
                @if let Some(v) = a.overall.value {
                    rect x=(label_w) y=(y + 3.0) width=(at(v) - label_w) height=(row_h - 8.0) fill="#1f3a5f" {}
                    @if let (Some(l), Some(h)) = (a.overall.low, a.overall.high) {
                        line x1=(at(l)) x2=(at(h)) y1=(y + row_h / 2.0) y2=(y + row_h / 2.0) stroke="#f5b800" stroke-width="3" {}
                    }
                    text x=(at(v) + 6.0) y=(y + 14.0) font-size="12" { (decimal(100.0 * v, 1)) }
                }
            }
        }
    }
}

/// Keying a flagged form again from its paper original, at the centre.
pub(super) fn correction_view(
    v: &Visitor,
    household: &str,
    serial: &str,
    form: &forms::Form,
    typed: &std::collections::HashMap<String, String>,
    message: Option<String>,
) -> Html<String> {
    let choices = |q: &forms::load::Question| -> String {
        q.choices
            .as_ref()
            .and_then(|l| form.definition.choice_lists.get(l))
            .map(|list| {
                list.iter()
                    .map(|c| format!("{} {}", c.code, c.label.vi))
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default()
    };
    let body = html! {
        @if let Some(m) = message { p.error role="alert" #message { (m) } }
        p { "Nhập lại toàn bộ phiếu theo bản giấy. Nhiều mã: cách nhau bằng dấu cách. Câu không áp dụng: để trống. Phiếu không có câu trả lời: - nếu để trống, ? nếu không đọc được, * nếu đánh nhiều ô." }
        form method="post" action={ "ministry/correct/" (household) } {
            input type="hidden" name="csrf" value=(v.csrf);
            table {
                @for q in &form.questions {
                    tr { td.l { b { (q.number) } } td.l { (q.label.vi) br; small { (choices(q)) } }
                        td { input name={ "q_" (q.id) } value=(typed.get(&format!("q_{}", q.id)).map(String::as_str).unwrap_or("")) size="12" autocomplete="off"; } }
                }
            }
            label { "Lý do sửa " input name="reason" required maxlength="2000" value=(typed.get("reason").map(String::as_str).unwrap_or("")); }
            button { "Niêm phong bản sửa" }
        }
    };
    page(
        &format!("Sửa phiếu số {serial} theo bản giấy"),
        Some(v),
        body,
    )
}

pub(super) async fn correction_page(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Ministry>,
    Path((_, household)): Path<(String, String)>,
) -> Result<Response, IntakeError> {
    let place = match household_in_address(&intake, &household).await? {
        Ok(place) => place,
        Err(id) => {
            return Ok(Redirect::to(&v.at(&format!("/ministry/correct/{id}"))).into_response())
        }
    };
    // A correction re-keys a sheet the centre holds: none, nothing to offer (the POST would
    // refuse it after a whole form was keyed).
    let Some((serial, ..)) = place.filter(|(.., has_answers)| *has_answers) else {
        let body = html! {
            p.error #message { "Hộ này chưa có phiếu nào ở máy chủ nên không có gì để sửa. Phiếu được nhập trên máy tính bảng của điều tra viên; khi phiếu đến, nó sẽ hiện ở trang Duyệt phiếu." }
            p { a href="ministry/review" { "Về trang Duyệt phiếu" } }
        };
        return Ok((
            StatusCode::NOT_FOUND,
            page("Không có phiếu để sửa", Some(&v), body),
        )
            .into_response());
    };
    // Said before a whole form is keyed, not after (the POST refuses it too).
    let (i, h) = (intake.clone(), household.clone());
    let missing = blocking(move || i.paper_missing(&h)).await?.map(|serial| {
        format!("Bản giấy của phiếu {serial} chưa được ghi nhận đến. Phiếu chỉ được sửa theo bản giấy khi bản giấy đã đến: hãy ghi nhận nó ở trang Đối chiếu trước.")
    });
    let form = intake.form()?;
    Ok(
        correction_view(&v, &household, &serial, &form, &Default::default(), missing)
            .into_response(),
    )
}

/// An answer as typed in the correction form, read by the question's kind.
pub(super) fn typed_answer(
    accepts: &forms::load::Accepts,
    text: &str,
) -> Option<serde_json::Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // A mark for paper with no usable answer, as on the tablet.
    if let Some(mark) = match text {
        "-" => Some(forms::answer::Mark::Blank),
        "?" => Some(forms::answer::Mark::Unreadable),
        "*" => Some(forms::answer::Mark::Several),
        _ => None,
    } {
        return Some(mark.to_json());
    }
    let number = |t: &str| t.parse::<i64>().ok().map(serde_json::Value::from);
    Some(match accepts {
        forms::load::Accepts::Code(_) | forms::load::Accepts::Integer { .. } => {
            number(text).unwrap_or_else(|| text.into())
        }
        forms::load::Accepts::Codes(_) => serde_json::Value::Array(
            text.split([' ', ',', ';'])
                .filter(|p| !p.is_empty())
                .map(|p| number(p).unwrap_or_else(|| p.into()))
                .collect(),
        ),
        forms::load::Accepts::Text { .. } => text.into(),
    })
}

pub(super) async fn correction(
    InCampaign(intake): InCampaign,
    Path((_, household)): Path<(String, String)>,
    Posted {
        v,
        from,
        form: fields,
        ..
    }: Posted<Ministry, std::collections::HashMap<String, String>>,
) -> Result<Response, IntakeError> {
    let form = intake.form()?;
    let answers: std::collections::BTreeMap<String, serde_json::Value> = form
        .questions
        .iter()
        .filter_map(|q| {
            fields
                .get(&format!("q_{}", q.id))
                .and_then(|t| typed_answer(&q.accepts, t))
                .map(|a| (q.id.clone(), a))
        })
        .collect();
    let (i, by, h) = (intake.clone(), v.account.login.clone(), household.clone());
    let reason = fields.get("reason").cloned().unwrap_or_default();
    match blocking(move || i.ministry_correction(&h, answers, &reason, &by, &from.to_string()))
        .await
    {
        Ok(()) => Ok(Redirect::to(&v.at("/ministry/review")).into_response()),
        // Answers that do not validate, or no reason: said above the form, with everything
        // typed kept (a whole form keyed is never lost to a missing reason).
        Err(IntakeError::BadRequest(m)) | Err(IntakeError::Declined(m)) => {
            let m = crate::words::in_vietnamese(&m).to_string();
            let (i, h) = (intake.clone(), household.clone());
            let serial = blocking(move || Ok(i.store.household_place(&h)?))
                .await?
                .map(|(serial, ..)| serial)
                .unwrap_or_else(|| household.clone());
            Ok((
                StatusCode::BAD_REQUEST,
                correction_view(&v, &household, &serial, &form, &fields, Some(m)),
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}
