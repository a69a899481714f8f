//! The administrator's page: accounts, enrollment codes, devices.

use super::prelude::*;

csrf_forms!(AccountForm, CodeForm, RevokeForm, AccountActionForm);

fn role_name(role: accounts::Role) -> &'static str {
    match role {
        accounts::Role::Supervisor => "Giám sát",
        accounts::Role::Ministry => "Bộ Nội vụ",
        accounts::Role::Admin => "Quản trị",
    }
}

pub(super) async fn admin_view(
    intake: &Arc<Intake>,
    v: &Visitor,
    message: Option<String>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let (list, devices, enumerators, tz, places) = blocking(move || {
        Ok((
            i.store.accounts()?,
            i.store.devices()?,
            i.store.enumerators()?,
            i.time_zone()?,
            i.store.place_names()?,
        ))
    })
    .await?;
    let names: std::collections::HashMap<&str, &str> = enumerators
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        h2 { "Tạo hoặc sửa tài khoản" }
        form method="post" action="/admin/account" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Tên đăng nhập " input name="login" required maxlength="64" pattern="[a-z0-9._-]+"; }
            label { "Họ tên " input name="name" required maxlength="200"; }
            label { "Vai trò " select name="role" { option value="supervisor" { "Giám sát" } option value="ministry" { "Bộ" } option value="admin" { "Quản trị" } } }
            label { "Huyện (giám sát; cách nhau bằng dấu phẩy) " input name="districts"; }
            label { "Mật khẩu (ít nhất 12 ký tự) " input name="password" type="password" required autocomplete="new-password"; }
            button { "Lưu tài khoản" }
        }
        h2 { "Cấp mã đăng ký máy" }
        form method="post" action="/admin/code" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Điều tra viên " select name="enumerator" { @for (id, name) in &enumerators { option value=(id) { (name) } } } }
            label { "Hiệu lực (giờ) " input name="hours" type="number" min="1" max="720" value="72"; }
            button { "Cấp mã" }
        }
        h2 { "Thu hồi máy" }
        div.scroll { table #devices {
            thead { tr { th { "Điều tra viên" } th { "Tên máy" } th { "Đăng ký lúc" } th { "" } } }
            tbody { @for (id, enumerator, label, at, revoked) in &devices { tr data-device=(id.to_string()) {
                td.l { (names.get(enumerator.as_str()).copied().unwrap_or(enumerator)) } td.l { (label) } td.l { (super::audit::local_time(at, tz)) }
                td { @if *revoked { "đã thu hồi" } @else {
                    form method="post" action="/admin/revoke" {
                        input type="hidden" name="csrf" value=(v.csrf); input type="hidden" name="device" value=(id.to_string());
                        input name="reason" placeholder="Lý do" required maxlength="500"; button { "Thu hồi" }
                    }
                } }
            } } }
        } }
        h2 { "Tài khoản" }
        div.scroll { table #accounts { thead { tr { th { "Tên đăng nhập" } th { "Họ tên" } th { "Vai trò" } th { "Huyện" } th { "Mật khẩu" } th { "Trạng thái" } th { "" } } }
            tbody { @for a in &list { tr data-login=(a.login) {
                td.l { (a.login) } td.l { (a.name) } td.l { (role_name(a.role)) } td.l { (a.districts.iter().map(|d| places.get(d).map(String::as_str).unwrap_or(d)).collect::<Vec<_>>().join(", ")) }
                td { (if a.password_hash.is_some() { "đã đặt" } else { "chưa đặt" }) }
                td { (if a.disabled { "đã khoá" } else { "đang dùng" }) }
                td.l { @if a.login != v.account.login {
                    form method="post" action="/admin/account/action" {
                        input type="hidden" name="csrf" value=(v.csrf); input type="hidden" name="login" value=(a.login);
                        @if a.disabled { button name="action" value="enable" { "Mở khoá" } } @else { button name="action" value="disable" { "Khoá" } }
                    }
                    form method="post" action="/admin/account/action" {
                        input type="hidden" name="csrf" value=(v.csrf); input type="hidden" name="login" value=(a.login);
                        label { input type="checkbox" name="confirm" value="yes" required; " Xoá hẳn (không hoàn tác được)" }
                        button name="action" value="delete" { "Xoá" }
                    }
                } }
            } } } } }
    };
    Ok(page("Quản trị", Some(v), body).into_response())
}

pub(super) async fn admin_page(
    State(intake): State<Arc<Intake>>,
    Signed { v, .. }: Signed<Admins>,
) -> Result<Response, IntakeError> {
    admin_view(&intake, &v, None).await
}

#[derive(serde::Deserialize)]
pub(super) struct AccountForm {
    pub(super) csrf: String,
    pub(super) login: String,
    pub(super) name: String,
    pub(super) role: String,
    #[serde(default)]
    pub(super) districts: String,
    pub(super) password: String,
}

pub(super) async fn admin_account(
    State(intake): State<Arc<Intake>>,
    Posted { v, from, form, .. }: Posted<Admins, AccountForm>,
) -> Result<Response, IntakeError> {
    let (i, by) = (intake.clone(), v.account.login.clone());
    let login = form.login.clone();
    let result = blocking(move || {
        i.save_account(
            &form.login,
            &form.name,
            &form.role,
            &form.districts,
            &form.password,
            &by,
            &from.to_string(),
        )
    })
    .await;
    let message = match result {
        Ok(()) => format!("Đã lưu tài khoản {login}."),
        Err(e) => format!("Không lưu: {e}"),
    };
    admin_view(&intake, &v, Some(message)).await
}

#[derive(serde::Deserialize)]
pub(super) struct CodeForm {
    pub(super) csrf: String,
    pub(super) enumerator: String,
    pub(super) hours: i64,
}

pub(super) async fn admin_code(
    State(intake): State<Arc<Intake>>,
    Posted { v, from, form, .. }: Posted<Admins, CodeForm>,
) -> Result<Response, IntakeError> {
    if !(1..=720).contains(&form.hours) {
        return Err(IntakeError::Declined(
            "Mã có hiệu lực từ 1 đến 720 giờ. / A code is valid 1 to 720 hours.".into(),
        ));
    }
    let (i, by, enumerator) = (
        intake.clone(),
        v.account.login.clone(),
        form.enumerator.clone(),
    );
    let code = blocking(move || {
        let code =
            i.issue_enrollment_code(&form.enumerator, chrono::Duration::hours(form.hours), &by)?;
        i.store.audit(
            &by,
            "code_issued",
            &form.enumerator,
            &from.to_string(),
            Utc::now(),
        )?;
        Ok(code)
    })
    .await?;
    admin_view(
        &intake,
        &v,
        Some(format!(
            "Mã đăng ký cho {enumerator}: {code} (chỉ hiện một lần)"
        )),
    )
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct RevokeForm {
    pub(super) csrf: String,
    pub(super) device: uuid::Uuid,
    pub(super) reason: String,
}

pub(super) async fn admin_revoke(
    State(intake): State<Arc<Intake>>,
    Posted { v, from, form, .. }: Posted<Admins, RevokeForm>,
) -> Result<Response, IntakeError> {
    let (i, by, device) = (intake.clone(), v.account.login.clone(), form.device);
    blocking(move || {
        i.store
            .revoke_device(form.device, &form.reason, Utc::now())?;
        Ok(i.store.audit(
            &by,
            "device_revoked",
            &format!("{}: {}", form.device, form.reason),
            &from.to_string(),
            Utc::now(),
        )?)
    })
    .await?;
    admin_view(&intake, &v, Some(format!("Đã thu hồi máy {device}."))).await
}

#[derive(serde::Deserialize)]
pub(super) struct AccountActionForm {
    pub(super) csrf: String,
    pub(super) login: String,
    pub(super) action: String,
    #[serde(default)]
    pub(super) confirm: String,
}

/// Disable, enable or delete an account. Deleting cannot be undone, so it needs the box ticked;
/// disabling is the undoable choice the page offers first.
pub(super) async fn account_action(
    State(intake): State<Arc<Intake>>,
    Posted { v, from, form, .. }: Posted<Admins, AccountActionForm>,
) -> Result<Response, IntakeError> {
    let (i, by, login) = (intake.clone(), v.account.login.clone(), form.login.clone());
    let result = match form.action.as_str() {
        "disable" | "enable" => blocking(move || {
            i.set_account_disabled(
                &form.login,
                form.action == "disable",
                &by,
                &from.to_string(),
            )
        })
        .await
        .map(|()| "đã cập nhật"),
        "delete" if form.confirm == "yes" => {
            blocking(move || i.delete_account(&form.login, &by, &from.to_string()))
                .await
                .map(|()| "đã xoá")
        }
        "delete" => Err(IntakeError::Declined(
            "Hãy đánh dấu ô xác nhận trước khi xoá. / Tick the box to confirm the deletion.".into(),
        )),
        other => Err(IntakeError::BadRequest(format!(
            "không rõ thao tác {other:?}"
        ))),
    };
    let message = match result {
        Ok(done) => format!("Tài khoản {login}: {done}."),
        Err(e) => format!("Không thực hiện được: {e}"),
    };
    admin_view(&intake, &v, Some(message)).await
}
