//! The centre's data as JSON, with the pages' access rules.

use super::prelude::*;

pub(super) async fn progress_json(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Staff>,
) -> Result<Response, IntakeError> {
    Ok(Json(report_for(&intake, &v.account, None).await?).into_response())
}

pub(super) async fn rejected_json(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Staff>,
) -> Result<Response, IntakeError> {
    Ok(Json(reassign_data(&intake, &v.account).await?.rejected).into_response())
}

pub(super) async fn report_json(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Staff>,
    axum::extract::Query(q): axum::extract::Query<PeriodQuery>,
) -> Result<Response, IntakeError> {
    // Days are the campaign's, as on the page.
    let PeriodInputs {
        daily,
        everyone,
        tz,
        timeline,
        today,
    } = period_inputs(&intake, &v.account).await?;
    let (from, to) = q.period(today, &timeline).map_err(IntakeError::Declined)?;
    let rows = crate::progress::period(&daily, from, to, &everyone);
    let by_receipt: u32 = rows.iter().map(|r| r.by_receipt).sum();
    Ok(Json(serde_json::json!({
        "from": from,
        "to": to,
        "time_zone": tz.name(),
        "rows": rows,
        "dated_by_receipt": by_receipt,
        "chart": crate::progress::cumulative(&daily),
    }))
    .into_response())
}

pub(super) async fn reconciliation_json(
    InCampaign(intake): InCampaign,
    _: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    Ok(Json(blocking(move || i.reconciliation()).await?).into_response())
}

pub(super) async fn anomalies_json(
    InCampaign(intake): InCampaign,
    _: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    Ok(Json(blocking(move || i.anomalies()).await?).into_response())
}

pub(super) async fn backcheck_json(
    InCampaign(intake): InCampaign,
    _: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    Ok(Json(blocking(move || i.backcheck_results()).await?).into_response())
}

pub(super) async fn reviews_json(
    InCampaign(intake): InCampaign,
    _: Signed<Ministry>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let reviews = blocking(move || Ok(i.store.reviews()?)).await?;
    let list: Vec<serde_json::Value> = reviews
        .into_iter()
        .map(|(household, (decision, reason, by, at))| serde_json::json!({ "household": household, "decision": decision, "reason": reason, "by": by, "at": at }))
        .collect();
    Ok(Json(list).into_response())
}

/// The index as JSON: a form post with the session's CSRF token and the passphrase.
pub(super) async fn index_json(
    InCampaign(intake): InCampaign,
    Posted { v, from, form, .. }: Posted<Ministry, PassphraseForm>,
) -> Result<Response, IntakeError> {
    let (i, by) = (intake.clone(), v.account.login.clone());
    let c = blocking(move || i.index(&form.passphrase, &by, &from.to_string())).await?;
    let unopenable: Vec<_> = c
        .unopenable
        .iter()
        .map(|u| serde_json::json!({ "household": u.form.household, "serial": u.form.serial, "enumerator": u.form.enumerator, "device": u.form.device, "seq": u.form.seq, "reason": u.reason }))
        .collect();
    Ok(Json(serde_json::json!({ "index": c.report, "straight_lined": c.straight_lined, "answer_anomalies": c.answer_anomalies, "unopenable": unopenable })).into_response())
}
