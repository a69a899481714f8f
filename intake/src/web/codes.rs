//! Enrollment codes from a supervisor (the app tells enumerators to ask them): a supervisor
//! issues one-time codes for the enumerators working in their districts — the ministry and
//! admins for anyone — and prints them: the enumerator's name, the code, the intake's address,
//! and a QR code of both for a tablet with a camera
//! (`fieldpost://enroll?intake=<address>&code=<code>`).

use super::prelude::*;

csrf_forms!(IssueCodeForm);

/// (id, name) of the enumerators this account oversees (and may issue codes for).
pub(super) async fn enumerators_for(
    intake: &Arc<Intake>,
    account: &Account,
) -> Result<Vec<(String, String)>, IntakeError> {
    let (i, a) = (intake.clone(), account.clone());
    blocking(move || {
        if a.role != accounts::Role::Supervisor {
            return Ok(i.store.enumerators()?);
        }
        let mut seen = std::collections::BTreeMap::new();
        for row in i.store.progress(Some(&a.districts))? {
            seen.insert(row.enumerator_id, row.enumerator);
        }
        Ok(seen.into_iter().collect())
    })
    .await
}

pub(super) async fn codes_page(
    InCampaign(intake): InCampaign,
    Signed { v, .. }: Signed<Staff>,
) -> Result<Response, IntakeError> {
    let enumerators = enumerators_for(&intake, &v.account).await?;
    let body = html! {
        p { "Mã đăng ký dùng một lần để điều tra viên đăng ký máy tính bảng. Mã chỉ hiện một lần: hãy in hoặc chép ngay. Cấp mã mới cho một người thì mã cũ chưa dùng của người đó hết dùng được." }
        form method="post" action="codes" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Điều tra viên " select name="enumerator" required { @for (id, name) in &enumerators { option value=(id) { (name) } } } }
            label { "Hiệu lực " select name="hours" { option value="24" { "1 ngày" } option value="72" selected { "3 ngày" } option value="168" { "7 ngày" } } }
            button #issue-code { "Cấp mã" }
        }
    };
    Ok(page("Cấp mã đăng ký máy", Some(&v), body).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct IssueCodeForm {
    pub(super) csrf: String,
    pub(super) enumerator: String,
    pub(super) hours: i64,
}

/// Issues the code and answers with a redirect to its slip (post/redirect/get): a reload of
/// the slip never issues a second code.
pub(super) async fn issue_code(
    State(centre): State<Arc<Centre>>,
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    headers: HeaderMap,
    Posted { v, from, form, .. }: Posted<Staff, IssueCodeForm>,
) -> Result<Response, IntakeError> {
    if !(1..=720).contains(&form.hours) {
        return Err(IntakeError::Declined(
            "Mã có hiệu lực từ 1 đến 720 giờ. / A code is valid 1 to 720 hours.".into(),
        ));
    }
    // Another district's enumerator does not exist for a supervisor.
    let name = enumerators_for(&intake, &v.account)
        .await?
        .into_iter()
        .find(|(id, _)| *id == form.enumerator)
        .map(|(_, n)| n)
        .ok_or(IntakeError::NotFound)?;
    let (i, by, enumerator, who) = (
        intake.clone(),
        v.account.login.clone(),
        form.enumerator.clone(),
        name.clone(),
    );
    let code = blocking(move || {
        let code =
            i.issue_enrollment_code(&enumerator, chrono::Duration::hours(form.hours), &by)?;
        i.audit(
            &by,
            "code_issued",
            &format!("cho {who} ({enumerator}), dùng được {} giờ", form.hours),
            &from.to_string(),
            Utc::now(),
        )?;
        Ok(zeroize::Zeroizing::new(code))
    })
    .await?;
    let scheme = if centre.secure_cookies {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let valid_until = {
        let tz = intake.time_zone()?;
        (Utc::now() + chrono::Duration::hours(form.hours))
            .with_timezone(&tz)
            .format("%H:%M %d/%m/%Y (UTC%:z)")
            .to_string()
    };
    let slip = CodeSlip {
        enumerator_name: name,
        intake_address: format!("{scheme}://{host}"),
        code,
        valid_until,
    };
    Ok(said.redirect(
        &v,
        "/codes/issued",
        Said {
            slip: Some(slip),
            ..Said::default()
        },
    ))
}

/// The slip of the code just issued, once: printed from here. Drawn again (a reload, the
/// back button, another tab) it says the code is not shown twice, and how to get another.
pub(super) async fn issued_page(
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Staff>,
) -> Result<Response, IntakeError> {
    let Some(slip) = said.take(&v).and_then(|s| s.slip) else {
        let body = html! {
            p #code-gone { "Mã đăng ký chỉ hiện một lần, ngay khi cấp, và trang này đã hiện rồi. Nếu chưa in hoặc chép được mã, hãy cấp mã mới: mã cũ không ai biết và tự hết hạn." }
            p { a href="../codes" { "← Cấp mã đăng ký" } }
        };
        return Ok(page("Mã đăng ký máy", Some(&v), body).into_response());
    };
    let query = serde_urlencoded::to_string([
        ("intake", slip.intake_address.as_str()),
        ("code", slip.code.as_str()),
    ])
    .map_err(|e| IntakeError::BadRequest(e.to_string()))?;
    let link = zeroize::Zeroizing::new(format!("fieldpost://enroll?{query}"));
    let qr = qrcode::QrCode::new(link.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color>()
                .min_dimensions(220, 220)
                .build()
        })
        .map_err(|e| IntakeError::BadRequest(e.to_string()))?;
    let body = html! {
        div.code-card #code-card {
            p { "Điều tra viên: " b #code-for { (slip.enumerator_name) } }
            p { "Địa chỉ máy chủ: " b { (slip.intake_address) } }
            p.big { "Mã đăng ký: " b #code { (slip.code.as_str()) } }
            p { "Dùng một lần; hết hạn lúc " (slip.valid_until) ". Mã này thay mọi mã cũ chưa dùng của người này: mã cũ không dùng được nữa." }
            div.qr { (maud::PreEscaped(qr)) }
            p.muted { "Trên máy tính bảng: mở Fieldpost → Thiết lập, nhập địa chỉ và mã (hoặc quét mã QR nếu máy có camera)." }
        }
        p.noprint { a href="../codes" { "← Cấp mã khác" } " · In trang này ngay để trao cho điều tra viên: mã chỉ hiện một lần." }
    };
    Ok(page("Mã đăng ký máy", Some(&v), body).into_response())
}
