//! Supervisors' work: reassignment within their districts, progress against the timeline.

#[allow(unused_imports)]
use super::*;

impl Intake {
    /// A supervisor moves a village, or single households, of their districts to an enumerator
    /// who works in them (illness, a flooded road). Anything outside their districts is
    /// `NotFound`, as if it did not exist. Devices learn it on their next sync; audited.
    pub fn reassign(&self, account: &crate::accounts::Account, target: &crate::store::ReassignTarget, to: &str, reason: &str, address: &str) -> Result<usize, IntakeError> {
        let villages = self.store.villages_with_enumerators()?;
        let visible = |district: &str| account.may_see_district(district);
        let what = match target {
            crate::store::ReassignTarget::Village(village) => {
                if !villages.iter().any(|(id, _, d, _)| id == village && visible(d)) {
                    return Err(IntakeError::NotFound);
                }
                format!("village {village}")
            }
            crate::store::ReassignTarget::Households(households) => {
                if households.is_empty() || households.len() > 1000 {
                    return Err(IntakeError::BadRequest("name 1 to 1,000 households".into()));
                }
                for h in households {
                    if !self.store.household_place(h)?.is_some_and(|(_, _, district, _)| visible(&district)) {
                        return Err(IntakeError::NotFound);
                    }
                }
                households.join(", ")
            }
        };
        if !villages.iter().any(|(_, _, d, list)| visible(d) && list.iter().any(|e| e == to)) {
            return Err(IntakeError::BadRequest(format!("{to} does not work in {}'s districts", account.login)));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(IntakeError::BadRequest("say why, in at most 500 characters".into()));
        }
        let moved = self.store.reassign(target, to, &account.login, reason, Utc::now())?;
        self.store.audit(&account.login, "reassigned", &format!("{what} to {to}: {reason}"), address, Utc::now())?;
        Ok(moved)
    }

    /// Daily counts of what this account may see (their districts for a supervisor).
    pub fn daily_counts(&self, account: &crate::accounts::Account) -> Result<Vec<(String, String, String, u32)>, IntakeError> {
        let scope = (account.role == crate::accounts::Role::Supervisor).then(|| account.districts.clone());
        Ok(self.store.daily_counts(scope.as_deref())?)
    }

    /// Progress as this account may see it: a supervisor their districts (another district is
    /// `NotFound`, as if it did not exist), the ministry and admins everything.
    pub fn progress_report(&self, account: &crate::accounts::Account, district: Option<&str>) -> Result<crate::progress::Report, IntakeError> {
        if district.is_some_and(|d| !account.may_see_district(d)) {
            return Err(IntakeError::NotFound);
        }
        let campaign = self.store.campaign()?;
        let scope: Option<Vec<String>> = match (district, account.role) {
            (Some(d), _) => Some(vec![d.to_string()]),
            (None, crate::accounts::Role::Supervisor) => Some(account.districts.clone()),
            (None, _) => None,
        };
        let rows = self.store.progress(scope.as_deref())?;
        if district.is_some() && rows.is_empty() {
            return Err(IntakeError::NotFound);
        }
        let day = Utc::now().with_timezone(&time_zone_of(&campaign.info)).date_naive();
        Ok(crate::progress::report(rows, &campaign.info.timeline, day))
    }
}
