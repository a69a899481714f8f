//! The audit log for admins: who did what, in which campaign, when and from where — filtered by
//! account, campaign, action and days (in the centre's time zone), as a page and as CSV.

use super::prelude::*;

#[derive(serde::Deserialize, Default)]
pub(super) struct AuditQuery {
    #[serde(default)]
    login: String,
    #[serde(default)]
    action: String,
    /// A campaign id; empty for all.
    #[serde(default)]
    campaign: String,
    /// First and last day, `YYYY-MM-DD`, local.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

const SHOWN: usize = 500;

/// The store's filter for a query: local days become UTC instants.
fn filter(q: &AuditQuery, tz: chrono_tz::Tz) -> crate::store::AuditFilter {
    use chrono::TimeZone;
    let start = |day: &str, plus: i64| -> String {
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .ok()
            .and_then(|d| {
                tz.from_local_datetime(&(d + chrono::Duration::days(plus)).and_hms_opt(0, 0, 0)?)
                    .earliest()
            })
            .map(|t| {
                t.with_timezone(&Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            })
            .unwrap_or_default()
    };
    crate::store::AuditFilter {
        login: q.login.trim().into(),
        action: q.action.trim().into(),
        campaign: q.campaign.trim().into(),
        from: start(&q.from, 0),
        to: start(&q.to, 1),
    }
}

/// A row's detail as a person reads it: a page by its name, a message in Vietnamese.
fn detail_words(detail: &str) -> String {
    crate::words::page_visit(detail)
        .unwrap_or_else(|| crate::words::in_vietnamese(detail).to_string())
}

/// An RFC 3339 instant as the campaign's local time.
pub(super) fn local_time(at: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string())
        .unwrap_or_else(|_| at.to_string())
}

pub(super) async fn audit_page(
    State(centre): State<Arc<Centre>>,
    Signed { v, .. }: Signed<Admins>,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Result<Response, IntakeError> {
    let c = centre.clone();
    let (tz, campaigns) = blocking(move || Ok((c.time_zone()?, c.entries()?))).await?;
    let f = filter(&q, tz);
    let c = centre.clone();
    let rows = blocking(move || Ok(c.accounts().audit_search(&f, SHOWN)?)).await?;
    let campaign_name = |id: &Option<String>| {
        id.as_ref()
            .map(|id| {
                campaigns
                    .iter()
                    .find(|e| &e.id == id)
                    .map(|e| e.name.clone())
                    .unwrap_or_else(|| id.clone())
            })
            .unwrap_or_else(|| "Trung tâm".into())
    };
    if q.format == "csv" {
        let mut table = vec![[
            "lúc",
            "tài khoản",
            "đợt khảo sát",
            "việc",
            "mã việc",
            "chi tiết",
            "địa chỉ",
        ]
        .map(String::from)
        .to_vec()];
        table.extend(rows.iter().map(|r| {
            vec![
                local_time(&r.at, tz),
                r.login.clone(),
                campaign_name(&r.campaign),
                crate::words::audit_action(&r.action).to_string(),
                r.action.clone(),
                detail_words(&r.detail),
                r.address.clone(),
            ]
        }));
        return download(&table, "nhat-ky", false);
    }
    // A day that cannot be read is said, not silently dropped from the filter.
    let unreadable: Vec<&str> = [q.from.trim(), q.to.trim()]
        .into_iter()
        .filter(|d| !d.is_empty() && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err())
        .collect();
    let body = html! {
        @if !unreadable.is_empty() {
            p.error role="alert" #problem { "Ngày «" (unreadable.join("», «")) "» không đọc được nên chưa lọc theo ngày: hãy chọn ngày trong ô." }
        }
        form method="get" action="/admin/audit" class="filters" {
            label { "Tài khoản " input name="login" value=(q.login) maxlength="128"; }
            label { "Đợt khảo sát " select name="campaign" {
                option value="" { "Mọi đợt" }
                @for e in &campaigns { option value=(e.id) selected[q.campaign == e.id] { (e.name) } }
            } }
            label { "Việc " select name="action" {
                option value="" { "Mọi việc" }
                @for (code, words) in crate::words::AUDIT_ACTIONS { option value=(code) selected[q.action == *code] { (words) } }
            } }
            label { "Từ ngày " input name="from" type="date" value=(q.from); }
            label { "Đến ngày " input name="to" type="date" value=(q.to); }
            button { "Lọc" }
            button name="format" value="csv" { "Tải CSV" }
        }
        p.muted { "Giờ theo múi giờ của trung tâm (UTC" (Utc::now().with_timezone(&tz).format("%:z")) "); tối đa " (SHOWN) " dòng mới nhất." }
        div.scroll { table #audit {
            thead { tr { th { "Lúc" } th { "Tài khoản" } th { "Đợt khảo sát" } th { "Việc" } th { "Chi tiết" } th { "Địa chỉ" } } }
            tbody { @for r in &rows { tr { td.l { (local_time(&r.at, tz)) } td.l { (r.login) } td.l { (campaign_name(&r.campaign)) } td.l title=(r.action) { (crate::words::audit_action(&r.action)) } td.l.detail title=(r.detail) { (detail_words(&r.detail)) } td.l { (r.address) } } } }
        } }
    };
    Ok(page("Nhật ký kiểm tra", Some(&v), body).into_response())
}
