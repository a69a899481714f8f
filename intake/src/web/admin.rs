//! The administrator's pages: the centre's accounts, with the campaigns each may see (and a
//! supervisor's districts in each, chosen by name); and, per campaign, its devices — codes to
//! enroll one, revoking a lost one.

use super::prelude::*;
use std::collections::BTreeMap;

csrf_forms!(RevokeForm, AccountActionForm);

fn role_name(role: accounts::Role) -> &'static str {
    match role {
        accounts::Role::Supervisor => "Giám sát",
        accounts::Role::Ministry => "Chủ đợt khảo sát (Bộ, Sở Nội vụ)",
        accounts::Role::Admin => "Quản trị",
    }
}

/// A campaign as the accounts form offers it: (id, name, [(district id, district name)]).
type Offered = (String, String, Vec<(String, String)>);

pub(super) async fn admin_view(
    centre: &Arc<Centre>,
    v: &Visitor,
    message: Option<String>,
    kept: Option<&AccountForm>,
) -> Result<Response, IntakeError> {
    let c = centre.clone();
    let (list, offered) = blocking(move || {
        let mut offered: Vec<Offered> = Vec::new();
        for intake in c.intakes()? {
            let names = intake.store.place_names()?;
            let districts = intake
                .store
                .areas()?
                .into_iter()
                .filter(|(l, _)| *l == forms::index::Level::District)
                .map(|(_, id)| {
                    let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
                    (id, name)
                })
                .collect();
            offered.push((
                intake.id.clone(),
                intake.store.campaign()?.info.name,
                districts,
            ));
        }
        Ok((c.accounts().accounts()?, offered))
    })
    .await?;
    let campaign_name = |id: &str| {
        offered
            .iter()
            .find(|(c, ..)| c == id)
            .map(|(_, n, _)| n.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let district_name = |campaign: &str, id: &str| {
        offered
            .iter()
            .find(|(c, ..)| c == campaign)
            .and_then(|(_, _, ds)| ds.iter().find(|(d, _)| d == id))
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let scope = |a: &Account| -> String {
        if a.role == accounts::Role::Admin {
            return "mọi đợt".into();
        }
        a.campaigns
            .iter()
            .map(|(c, ds)| {
                let name = campaign_name(c);
                if ds.is_empty() {
                    name
                } else {
                    let ds: Vec<String> = ds.iter().map(|d| district_name(c, d)).collect();
                    format!("{name}: {}", ds.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        h2 { "Tạo hoặc sửa tài khoản" }
        form method="post" action="/admin/account" #account-form {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Tên đăng nhập " input name="login" required maxlength="64" pattern="[a-z0-9._-]+" value=[kept.map(|k| &k.login)]; }
            label { "Họ tên " input name="name" required maxlength="200" value=[kept.map(|k| &k.name)]; }
            label { "Vai trò " select name="role" {
                @for (value, said) in [("supervisor", "Giám sát"), ("ministry", "Chủ đợt khảo sát (Bộ, Sở Nội vụ)"), ("admin", "Quản trị (mọi đợt)")] {
                    option value=(value) selected[kept.is_some_and(|k| k.role == value)] { (said) }
                }
            } }
            fieldset { legend { "Đợt khảo sát được xem (giám sát: chọn huyện — chọn huyện là đã chọn đợt của nó)" }
                @for (id, name, districts) in &offered {
                    @let ticked = kept.and_then(|k| k.campaigns.get(id));
                    div.scope {
                        label { input type="checkbox" name="campaign" value=(id) checked[ticked.is_some()]; " " b { (name) } }
                        div.filters { @for (d, dname) in districts {
                            label { input type="checkbox" name="district" value=(format!("{id}:{d}")) checked[ticked.is_some_and(|ds| ds.contains(d))]; " " (dname) }
                        } }
                    }
                }
            }
            // A refused form comes back as it was typed, but never with its password.
            label { "Mật khẩu (ít nhất 12 ký tự) " input name="password" type="password" required autocomplete="new-password" autofocus[kept.is_some()]; }
            label { input type="checkbox" name="replace" value="yes" checked[kept.is_some_and(|k| k.replace)]; " Thay tài khoản đã có cùng tên đăng nhập (họ tên, vai trò, phạm vi và mật khẩu mới)" }
            button { "Lưu tài khoản" }
        }
        h2 { "Tài khoản" }
        div.scroll { table #accounts { thead { tr { th { "Tên đăng nhập" } th { "Họ tên" } th { "Vai trò" } th { "Đợt khảo sát (huyện)" } th { "Mật khẩu" } th { "Trạng thái" } th { "" } } }
            tbody { @for a in &list { tr data-login=(a.login) {
                td.l { (a.login) } td.l { (a.name) } td.l { (role_name(a.role)) } td.l { (scope(a)) }
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
        p { "Mã đăng ký máy và thu hồi máy: trang «Máy» của từng đợt khảo sát." }
        ul { @for (id, name, _) in &offered { li { a href=(campaign_path(id, "/devices")) { (name) } } } }
    };
    Ok(page("Quản trị", Some(v), body).into_response())
}

pub(super) async fn admin_page(
    State(centre): State<Arc<Centre>>,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Admins>,
) -> Result<Response, IntakeError> {
    admin_view(&centre, &v, said.take_message(&v), None).await
}

/// The accounts form, as posted: repeated `campaign` and `district` (`campaign:district`)
/// fields, so it is read as a list of pairs.
#[derive(Clone)]
pub(super) struct AccountForm {
    csrf: String,
    login: String,
    name: String,
    role: String,
    /// Wiped from memory when dropped.
    password: zeroize::Zeroizing<String>,
    campaigns: BTreeMap<String, Vec<String>>,
    /// The admin means to replace an account that exists.
    replace: bool,
}

impl<'de> serde::Deserialize<'de> for AccountForm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(String, String)>::deserialize(d)?;
        let one = |name: &'static str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| serde::de::Error::missing_field(name))
        };
        let mut campaigns: BTreeMap<String, Vec<String>> = pairs
            .iter()
            .filter(|(k, _)| k == "campaign")
            .map(|(_, c)| (c.clone(), Vec::new()))
            .collect();
        for (_, value) in pairs.iter().filter(|(k, _)| k == "district") {
            if let Some((campaign, district)) = value
                .split_once(':')
                .filter(|(_, district)| !district.is_empty())
            {
                // A district is chosen within its campaign: ticking it chooses the campaign
                // (a campaign that does not exist is refused when the account is saved).
                campaigns
                    .entry(campaign.to_string())
                    .or_default()
                    .push(district.to_string());
            }
        }
        Ok(AccountForm {
            csrf: one("csrf")?,
            login: one("login")?,
            name: one("name")?,
            role: one("role")?,
            password: zeroize::Zeroizing::new(one("password")?),
            campaigns,
            replace: one("replace").is_ok_and(|v| v == "yes"),
        })
    }
}

impl super::door::CsrfField for AccountForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn admin_account(
    State(centre): State<Arc<Centre>>,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Admins, AccountForm>,
) -> Result<Response, IntakeError> {
    let (c, by) = (centre.clone(), v.account.login.clone());
    let login = form.login.clone();
    let kept = form.clone();
    let result = blocking(move || {
        // Saving over an account that exists is not done by mistake: the box says so.
        if let Some(existing) = c.accounts().account(form.login.trim())? {
            if !form.replace {
                return Err(IntakeError::Declined(format!(
                    "Tài khoản «{}» đã có ({}, {}). Đánh dấu «Thay tài khoản đã có» nếu muốn thay.",
                    existing.login,
                    existing.name,
                    role_name(existing.role)
                )));
            }
        }
        c.save_account(
            &form.login,
            &form.name,
            &form.role,
            &form.campaigns,
            &form.password,
            &by,
            &from.to_string(),
        )
    })
    .await;
    match result {
        Ok(()) => Ok(said.done(&v, "/admin", format!("Đã lưu tài khoản {login}."))),
        Err(e) => {
            let message = format!("Không lưu: {}", crate::words::in_vietnamese(&e.to_string()));
            admin_view(&centre, &v, Some(message), Some(&kept)).await
        }
    }
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
    State(centre): State<Arc<Centre>>,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Admins, AccountActionForm>,
) -> Result<Response, IntakeError> {
    let (c, by, login) = (centre.clone(), v.account.login.clone(), form.login.clone());
    let result = match form.action.as_str() {
        "disable" | "enable" => {
            let disable = form.action == "disable";
            blocking(move || c.set_account_disabled(&form.login, disable, &by, &from.to_string()))
                .await
                .map(|()| {
                    if disable {
                        "đã khoá (không đăng nhập được nữa; có thể mở lại)"
                    } else {
                        "đã mở khoá, đăng nhập lại được"
                    }
                })
        }
        "delete" if form.confirm == "yes" => {
            blocking(move || c.delete_account(&form.login, &by, &from.to_string()))
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
    match result {
        Ok(done) => Ok(said.done(&v, "/admin", format!("Tài khoản {login}: {done}."))),
        Err(e) => {
            let message = format!(
                "Không thực hiện được: {}",
                crate::words::in_vietnamese(&e.to_string())
            );
            admin_view(&centre, &v, Some(message), None).await
        }
    }
}

/// A campaign's devices: a code for an enumerator, and revoking a lost or stolen tablet.
async fn devices_view(
    intake: &Arc<Intake>,
    v: &Visitor,
    message: Option<String>,
) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let (devices, enumerators, tz) =
        blocking(move || Ok((i.store.devices()?, i.store.enumerators()?, i.time_zone()?))).await?;
    let names: std::collections::HashMap<&str, &str> = enumerators
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        h2 { "Cấp mã đăng ký máy" }
        form method="post" action="devices/code" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Điều tra viên " select name="enumerator" { @for (id, name) in &enumerators { option value=(id) { (name) } } } }
            // The same choice, in days, as on the supervisors' code page.
            label { "Hiệu lực " select name="hours" { option value="24" { "1 ngày" } option value="72" selected { "3 ngày" } option value="168" { "7 ngày" } option value="720" { "30 ngày" } } }
            button { "Cấp mã" }
        }
        h2 { "Thu hồi máy" }
        p.muted { "Máy bị thu hồi không gửi được gì nữa; điều tra viên cần mã mới cho máy khác. Không hoàn tác được." }
        div.scroll { table #devices {
            thead { tr { th { "Điều tra viên" } th { "Tên máy" } th { "Đăng ký lúc" } th { "Gửi lần cuối" } th { "" } } }
            tbody { @for (id, enumerator, label, at, revoked, last) in &devices { tr data-device=(id.to_string()) {
                td.l { (names.get(enumerator.as_str()).copied().unwrap_or(enumerator)) } td.l { (label) } td.l { (super::layout::shown_time(at, tz)) }
                td.l { @match last { Some(t) => { (super::layout::shown_time(t, tz)) } None => { "chưa gửi gì" } } }
                td { @if *revoked { "đã thu hồi" } @else {
                    form method="post" action="devices/revoke" {
                        input type="hidden" name="csrf" value=(v.csrf); input type="hidden" name="device" value=(id.to_string());
                        input name="reason" placeholder="Lý do" required maxlength="500";
                        label { input type="checkbox" name="confirm" value="yes" required; " Thu hồi hẳn" }
                        button { "Thu hồi" }
                    }
                } }
            } } }
        } }
    };
    Ok(page("Máy của điều tra viên", Some(v), body).into_response())
}

pub(super) async fn devices_page(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Signed { v, .. }: Signed<Admins>,
) -> Result<Response, IntakeError> {
    devices_view(&intake, &v, said.take_message(&v)).await
}

#[derive(serde::Deserialize)]
pub(super) struct RevokeForm {
    pub(super) csrf: String,
    pub(super) device: uuid::Uuid,
    pub(super) reason: String,
    #[serde(default)]
    pub(super) confirm: String,
}

pub(super) async fn admin_revoke(
    InCampaign(intake): InCampaign,
    Extension(said): Extension<Arc<Messages>>,
    Posted { v, from, form, .. }: Posted<Admins, RevokeForm>,
) -> Result<Response, IntakeError> {
    if form.confirm != "yes" {
        return Err(IntakeError::Declined(
            "Hãy đánh dấu ô xác nhận trước khi thu hồi máy. / Tick the box to confirm the revocation."
                .into(),
        ));
    }
    let (i, by, device) = (intake.clone(), v.account.login.clone(), form.device);
    let name = blocking(move || {
        let record = i.store.device(form.device)?.ok_or(IntakeError::NotFound)?;
        i.store
            .revoke_device(form.device, &form.reason, Utc::now())?;
        i.audit(
            &by,
            "device_revoked",
            &format!(
                "máy «{}» của {}: {}",
                record.label,
                i.enumerator_names()?
                    .get(&record.enumerator)
                    .cloned()
                    .unwrap_or_else(|| record.enumerator.clone()),
                form.reason
            ),
            &from.to_string(),
            Utc::now(),
        )?;
        Ok(i.enumerator_names()?
            .remove(&record.enumerator)
            .unwrap_or(record.enumerator))
    })
    .await?;
    Ok(said.done(
        &v,
        "/devices",
        format!("Đã thu hồi máy của {name} ({device})."),
    ))
}
