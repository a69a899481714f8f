//! The household lifecycle on the device. Illegal steps are refused here with the same table
//! the intake enforces (`sync_protocol::lifecycle`).

use sync_protocol::{
    event::{EventBody, Recipient, VisitOutcome},
    lifecycle::{self, HouseholdStatus},
};

use crate::{household_event, household_in, record, set_status, Client, ClientError};

impl Client {
    fn step(&mut self, household: &str, body: EventBody) -> Result<HouseholdStatus, ClientError> {
        let h = self.household(household)?;
        if !h.assigned {
            return Err(ClientError::NotAllowed(format!(
                "household {household} has been reassigned to another enumerator"
            )));
        }
        let next = lifecycle::next_status(h.status, &body, self.rules()?)?;
        let event = household_event(self, &h, body)?;
        let tx = self.conn.transaction()?;
        set_status(&tx, &h.id, next)?;
        record(&tx, &event)?;
        tx.commit()?;
        Ok(next)
    }

    /// The paper form was handed to the household.
    pub fn distribute(
        &mut self,
        household: &str,
        recipient: Recipient,
        note: Option<String>,
    ) -> Result<(), ClientError> {
        self.step(household, EventBody::FormDistributed { recipient, note })
            .map(|_| ())
    }

    /// The filled form was taken back.
    pub fn collect(&mut self, household: &str) -> Result<(), ClientError> {
        self.step(household, EventBody::FormCollected {})
            .map(|_| ())
    }

    /// A visit that ended otherwise: absent (come back later), refused, moved, unreachable, form lost.
    pub fn record_outcome(
        &mut self,
        household: &str,
        outcome: VisitOutcome,
        note: Option<String>,
    ) -> Result<(), ClientError> {
        self.step(household, EventBody::VisitOutcome { outcome, note })
            .map(|_| ())
    }

    /// Replaces a refused or moved household by the next unused reserve household of its
    /// village; returns the replacement's id.
    pub fn replace(&mut self, household: &str) -> Result<String, ClientError> {
        let h = self.household(household)?;
        let rules = self.rules()?;
        let replacement: String = self
            .conn
            .query_row(
                "SELECT id FROM households WHERE village = ?1 AND status = 'reserve' AND assigned = 1 ORDER BY reserve_rank LIMIT 1",
                [&h.village],
                |r| r.get(0),
            )
            .map_err(|_| ClientError::NotAllowed(format!("village {} has no reserve household left", h.village)))?;
        let body = EventBody::HouseholdReplaced {
            replacement: replacement.clone(),
        };
        let next = lifecycle::next_status(h.status, &body, rules)?;
        let activated =
            lifecycle::activate_reserve(household_in(&self.conn, &replacement)?.status)?;
        let event = household_event(self, &h, body)?;
        let tx = self.conn.transaction()?;
        set_status(&tx, &h.id, next)?;
        set_status(&tx, &replacement, activated)?;
        record(&tx, &event)?;
        tx.commit()?;
        Ok(replacement)
    }
}
