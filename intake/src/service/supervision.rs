//! Supervisors' work: reassignment within their districts, progress against the timeline.

#[allow(unused_imports)]
use super::*;

/// Households a move's question describes with their village and holder; the rest are named
/// by their serials alone.
const HOUSEHOLDS_DESCRIBED: usize = 20;

impl Intake {
    /// A supervisor moves a village, or single households, of their districts to an enumerator
    /// who works in them (illness, a flooded road). Anything outside their districts is
    /// `NotFound`, as if it did not exist. Devices learn it on their next sync; audited.
    ///
    /// `seen` is the confirmation's [`ReassignPlan::seen`]: if the work changed hands since the
    /// move was asked about, nothing moves and the supervisor is told who holds it now.
    pub fn reassign(
        &self,
        account: &crate::accounts::Account,
        target: &crate::store::ReassignTarget,
        to: &str,
        reason: &str,
        seen: Option<&str>,
        address: &str,
    ) -> Result<crate::store::Reassigned, IntakeError> {
        let plan = self.check_reassign(account, target, to, reason)?;
        // A confirmation carries what it was asked about; one without is not a confirmation.
        if seen.is_some_and(|seen| seen != plan.seen) {
            return Err(changed_since_asked(&plan));
        }
        let moved =
            match self
                .store
                .reassign(target, to, &account.login, &plan.reason, seen, Utc::now())
            {
                Err(crate::store::StoreError::AssignmentChanged) => {
                    return Err(changed_since_asked(
                        &self.check_reassign(account, target, to, reason)?,
                    ))
                }
                done => done?,
            };
        if moved.moved == 0 {
            // Nothing was written: every household was theirs already, or finished.
            return Err(plan.nothing_to_move());
        }
        let mut detail = match plan.from_names.as_slice() {
            [one] => format!(
                "{} (trước đó do {one} làm) giao cho {}; lý do: {}",
                plan.what, plan.to_name, plan.reason
            ),
            // From several people: whose each household was (the store keeps it per household
            // too), after what a row cut at its length must keep, so that the log alone tells
            // how to undo the move person by person.
            several => format!(
                "{} giao cho {}; lý do: {}; trước đó: {}",
                plan.what,
                plan.to_name,
                plan.reason,
                several
                    .iter()
                    .zip(&plan.taken_from)
                    .map(|(name, serials)| format!("{name} làm {}", serials.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        if !moved.finished.is_empty() {
            detail += &format!(
                "; {} hộ đã xong không chuyển: {}",
                moved.finished.len(),
                moved.finished.join(", ")
            );
        }
        self.audit(&account.login, "reassigned", &detail, address, Utc::now())?;
        Ok(moved)
    }

    /// What [`Intake::reassign`] checks before it moves anything, without moving anything: the
    /// page asks for a confirmation only of a move that can be made.
    pub fn check_reassign(
        &self,
        account: &crate::accounts::Account,
        target: &crate::store::ReassignTarget,
        to: &str,
        reason: &str,
    ) -> Result<ReassignPlan, IntakeError> {
        let villages = self.store.villages_with_enumerators()?;
        let visible = |district: &str| account.may_see_district(district);
        // An enumerator of another district answers as one that does not exist (a name is not
        // a supervisor's to learn by guessing ids), as a village or a household there does.
        if !villages
            .iter()
            .any(|(_, _, d, list)| visible(d) && list.iter().any(|e| e == to))
        {
            return Err(IntakeError::NotFound);
        }
        let names = self.enumerator_names()?;
        let to_name = names.get(to).cloned().unwrap_or_else(|| to.to_string());
        // A village is named by its place; households by their serials, read below.
        let place = match target {
            crate::store::ReassignTarget::Village(village) => {
                let Some((_, place, _, _)) = villages
                    .iter()
                    .find(|(id, _, d, _)| id == village && visible(d))
                else {
                    return Err(IntakeError::NotFound);
                };
                Some(place.clone())
            }
            crate::store::ReassignTarget::Households(households) => {
                if households.is_empty() || households.len() > 1000 {
                    return Err(IntakeError::Declined(
                        "Hãy ghi từ 1 đến 1.000 hộ. / Name 1 to 1,000 households.".into(),
                    ));
                }
                for h in households {
                    match self.store.household_place(h)? {
                        Some((_, _, district, _)) if visible(&district) => {}
                        _ => return Err(IntakeError::NotFound),
                    }
                }
                None
            }
        };
        let candidates = self.store.move_candidates(target)?;
        let finished_status = sync_protocol::lifecycle::HouseholdStatus::InParcel.as_str();
        let (mut moving, mut finished, mut from) = (Vec::new(), Vec::new(), Vec::new());
        let mut taken_from: Vec<Vec<String>> = Vec::new();
        let mut theirs_already = 0;
        for h in &candidates {
            if h.enumerator == to {
                theirs_already += 1;
                continue;
            }
            if h.status == finished_status {
                finished.push(h.serial.clone());
                continue;
            }
            moving.push(h.serial.as_str());
            let name = names
                .get(&h.enumerator)
                .cloned()
                .unwrap_or_else(|| h.enumerator.clone());
            match from.iter().position(|n| *n == name) {
                Some(at) => taken_from[at].push(h.serial.clone()),
                None => {
                    from.push(name);
                    taken_from.push(vec![h.serial.clone()]);
                }
            }
        }
        // Households are named by the serials that move (those that stay are said apart).
        let what = place.unwrap_or_else(|| {
            let named: Vec<&str> = if moving.is_empty() {
                candidates.iter().map(|h| h.serial.as_str()).collect()
            } else {
                moving.clone()
            };
            format!("Hộ {}", named.join(", "))
        });
        // Households moved one by one are described too, the first few with their village
        // and who holds each: a serial typed with two digits swapped shows as another village
        // or person before it is confirmed.
        let mut described = Vec::new();
        if matches!(target, crate::store::ReassignTarget::Households(_)) {
            let first = candidates
                .iter()
                .filter(|h| moving.contains(&h.serial.as_str()))
                .take(HOUSEHOLDS_DESCRIBED);
            for h in first {
                let village = villages
                    .iter()
                    .find(|(id, ..)| *id == h.village)
                    .map_or("", |(_, place, ..)| place.as_str());
                let holder = names.get(&h.enumerator).unwrap_or(&h.enumerator);
                // Its state too: a form already keyed, or at the centre, moves as well (its
                // second keying goes with it), and the person confirming should see that.
                described.push(format!(
                    "{} — {village} — {holder} giữ ({})",
                    h.serial,
                    crate::words::status(&h.status).to_lowercase()
                ));
            }
            if moving.len() > HOUSEHOLDS_DESCRIBED {
                described.push(format!(
                    "và {} hộ khác (số phiếu ở câu hỏi trên)",
                    moving.len() - HOUSEHOLDS_DESCRIBED
                ));
            }
        }
        let reason = reassign_reason(reason)?.to_string();
        let plan = ReassignPlan {
            seen: crate::store::holdings_seen(&candidates, to, &reason),
            what,
            described,
            to_name,
            reason,
            from_names: from,
            taken_from,
            moving: moving.len(),
            finished,
            theirs_already,
        };
        if plan.moving == 0 {
            return Err(plan.nothing_to_move());
        }
        Ok(plan)
    }

    /// Daily counts of what this account may see (their districts for a supervisor).
    pub fn daily_counts(
        &self,
        account: &crate::accounts::Account,
    ) -> Result<Vec<crate::store::DailyCount>, IntakeError> {
        let scope =
            (account.role == crate::accounts::Role::Supervisor).then(|| account.districts.clone());
        Ok(self.store.daily_counts(scope.as_deref())?)
    }

    /// Progress as this account may see it: a supervisor their districts (another district is
    /// `NotFound`, as if it did not exist), the ministry and admins everything.
    pub fn progress_report(
        &self,
        account: &crate::accounts::Account,
        district: Option<&str>,
    ) -> Result<crate::progress::Report, IntakeError> {
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
        let day = Utc::now()
            .with_timezone(&time_zone_of(&campaign.info))
            .date_naive();
        Ok(crate::progress::report(
            rows,
            &campaign.info.timeline,
            campaign.info.verification_required,
            day,
        ))
    }

    /// A supervisor's decision on a refused event of their districts (another district's is
    /// `NotFound`, as if it did not exist): take it into the household's record as it stands
    /// now — only for work refused because the household had moved to another enumerator —
    /// or set it aside with a reason. Audited; the device learns it at its next sync.
    pub fn resolve_rejected(
        &self,
        account: &crate::accounts::Account,
        event: &str,
        decision: sync_protocol::assignment::Resolution,
        note: &str,
        address: &str,
    ) -> Result<crate::store::RejectedRecord, IntakeError> {
        use sync_protocol::assignment::Resolution;
        let scope =
            (account.role == crate::accounts::Role::Supervisor).then(|| account.districts.clone());
        let found = self
            .store
            .rejected_events(scope.as_deref())?
            .into_iter()
            .find(|r| r.event == event)
            .ok_or(IntakeError::NotFound)?;
        if found.resolution.is_some() {
            return Err(IntakeError::Declined(
                "Việc này đã được giải quyết rồi. / This was already resolved.".into(),
            ));
        }
        let note = note.trim();
        match decision {
            Resolution::Dismissed if note.is_empty() || note.chars().count() > 500 => {
                return Err(IntakeError::Declined("Hãy ghi lý do bỏ qua, tối đa 500 ký tự. / Say why, in at most 500 characters.".into()))
            }
            Resolution::Accepted if found.holder.is_none() || found.code != sync_protocol::api::rejection::HOUSEHOLD_NOT_ASSIGNED => {
                return Err(IntakeError::Declined(
                    "Chỉ nhận được việc của hộ đã chuyển cho điều tra viên khác; việc này chỉ có thể bỏ qua kèm lý do. / Only work on a household moved to another enumerator can be accepted; dismiss this one with a reason.".into(),
                ))
            }
            _ => {}
        }
        let resolved = self.store.resolve_rejected(event, decision, note, &account.login, Utc::now()).map_err(|e| match e {
            crate::store::StoreError::CannotCarryOver { code, .. } => IntakeError::Declined(if matches!(found.kind.as_str(), "form_transcribed" | "transcription_verified" | "correction") {
                // Keyed answers are never to be thrown away on advice.
                format!(
                    "Không nhận được phiếu đã nhập này vào hồ sơ của hộ: {}. Hộ có thể đã được người mới làm tiếp. Đừng bỏ qua phiếu: nhận trước các việc phát phiếu và thu phiếu của hộ, hoặc gửi phiếu giấy về Bộ cùng bưu gói để Bộ nhập lại từ bản giấy.",
                    crate::words::rejection(code).to_lowercase()
                )
            } else {
                format!(
                    "Không nhận được việc này vào hồ sơ của hộ: {}. Hộ có thể đã được người mới làm tiếp; nếu việc đó không còn đúng, hãy bỏ qua kèm lý do.",
                    crate::words::rejection(code).to_lowercase()
                )
            }),
            other => other.into(),
        })?;
        let action = match decision {
            Resolution::Accepted => "rejection_accepted",
            Resolution::Dismissed => "rejection_dismissed",
        };
        let detail = format!(
            "{} của {} cho hộ {}{}: {}",
            crate::words::event_kind(&found.kind),
            found.enumerator_name,
            found.household_name.as_deref().unwrap_or("—"),
            found
                .serial
                .as_deref()
                .map(|s| format!(" (phiếu {s})"))
                .unwrap_or_default(),
            resolved.resolution_note.as_deref().unwrap_or("")
        );
        self.audit(&account.login, action, &detail, address, Utc::now())?;
        Ok(resolved)
    }
}

/// The reason a move is given, trimmed, or why it cannot be.
fn reassign_reason(reason: &str) -> Result<&str, IntakeError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(IntakeError::Declined(
            "Hãy ghi lý do, tối đa 500 ký tự. / Say why, in at most 500 characters.".into(),
        ));
    }
    Ok(reason)
}

/// A move that can be made, named for a person: what moves, from and to whom, and why.
pub struct ReassignPlan {
    /// "village, commune", or the households' serials (each once).
    pub what: String,
    /// For households moved one by one, the first few each with its village and who holds it
    /// ("QT24-00056 — Khu phố 2, Phường 4 — Lê Quang Sơn giữ (đã nhập)"), then how many more.
    /// Empty for a village.
    pub described: Vec<String>,
    pub to_name: String,
    /// Trimmed, 1 to 500 characters.
    pub reason: String,
    /// Who holds the households that move, by name, each once.
    pub from_names: Vec<String>,
    /// The serials each of [`ReassignPlan::from_names`] holds, in the same order.
    pub taken_from: Vec<Vec<String>>,
    /// How many households move (at least one).
    pub moving: usize,
    /// Serials of households named that are finished (their form in a parcel): they stay.
    pub finished: Vec<String>,
    /// How many households named are the recipient's already.
    pub theirs_already: usize,
    /// [`crate::store::holdings_seen`]: carried by the confirmation.
    pub seen: String,
}

impl ReassignPlan {
    /// Nothing of this move is anyone else's to take: it is the enumerator's already, or done.
    fn nothing_to_move(&self) -> IntakeError {
        if self.finished.is_empty() {
            return already_theirs(&self.what, &self.to_name);
        }
        let mut why = Vec::new();
        if self.theirs_already > 0 {
            why.push(format!(
                "{} hộ đã do {} phụ trách",
                self.theirs_already, self.to_name
            ));
        }
        why.push(format!(
            "{} hộ đã xong (phiếu đã trong bưu gói: {}), vẫn ghi công người đã làm",
            self.finished.len(),
            self.finished.join(", ")
        ));
        IntakeError::Declined(format!(
            "{}: không có hộ nào để chuyển — {}. / Nothing to move: finished households stay with who finished them.",
            self.what,
            why.join("; ")
        ))
    }
}

/// A confirmation of a move whose work changed hands after it was asked about (another
/// supervisor's move, or the same supervisor's in another tab).
fn changed_since_asked(now: &ReassignPlan) -> IntakeError {
    IntakeError::Declined(format!(
        "{} — việc chuyển giao không còn đúng như lúc bạn hỏi (người đang làm, người nhận hoặc lý do đã khác; nay do {} làm). Chưa chuyển gì: hãy xem lại rồi chuyển lại nếu vẫn cần. / The move is no longer what you were asked about; nothing was moved.",
        now.what,
        now.from_names.join(", ")
    ))
}

/// A move to whom already has the work: refused, nothing written, no audit line.
fn already_theirs(what: &str, name: &str) -> IntakeError {
    IntakeError::Declined(format!(
        "{what}: đã do {name} phụ trách, không có gì để chuyển. / Already that enumerator's: nothing to move."
    ))
}
