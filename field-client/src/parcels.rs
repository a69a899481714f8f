//! Parcels: collected paper forms handed to the post office; the serial list is an event so the
//! ministry can reconcile paper against digital.

use rusqlite::params;
use sync_protocol::{
    event::Event,
    lifecycle::{self, HouseholdStatus},
};

use crate::{record, set_status, Client, ClientError};

/// A parcel as the app lists it: its id, when it was handed over, and its forms' serials.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Parcel {
    pub id: String,
    pub handed_over_at: Option<String>,
    pub serials: Vec<String>,
}

impl Client {
    /// Every parcel made on this device, newest first.
    pub fn parcels(&self) -> Result<Vec<Parcel>, ClientError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, handed_over_at FROM parcels ORDER BY created_at DESC, id DESC")?;
        let parcels = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut serials = self
            .conn
            .prepare("SELECT serial FROM parcel_forms WHERE parcel = ?1 ORDER BY serial")?;
        parcels
            .into_iter()
            .map(|(id, handed_over_at)| {
                let list = serials
                    .query_map([&id], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(Parcel {
                    id,
                    handed_over_at,
                    serials: list,
                })
            })
            .collect()
    }

    /// Groups the forms of `households` into a parcel, handed over now; returns its id.
    pub fn hand_over_parcel(&mut self, households: &[String]) -> Result<String, ClientError> {
        let rules = self.rules()?;
        let mut forms = Vec::new();
        for id in households {
            let h = self.household(id)?;
            if !lifecycle::parcel_accepts(h.status, rules) {
                let need = if rules.verification_required {
                    "verified"
                } else {
                    "transcribed"
                };
                return Err(ClientError::NotAllowed(format!(
                    "the form of {id} is {}; only {need} forms go into a parcel",
                    h.status
                )));
            }
            forms.push(h);
        }
        if forms.is_empty() {
            return Err(ClientError::NotAllowed(
                "a parcel needs at least one form".into(),
            ));
        }
        let enrollment = self.enrollment()?;
        let now = self.now();
        // Written on the paper parcel too, so short: enumerator, day, this device, the day's count.
        // The device part keeps a replacement tablet's parcels apart from the lost one's.
        let day = now.as_datetime().format("%Y%m%d").to_string();
        let today: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM parcels WHERE id LIKE ?1",
            [format!("P-%-{day}-%")],
            |r| r.get(0),
        )?;
        let device = enrollment.device.simple().to_string();
        let parcel = format!(
            "P-{}-{day}-{}-{:02}",
            enrollment.enumerator,
            &device[..4],
            today + 1
        );
        let event = Event::parcel(
            &enrollment.enumerator,
            now,
            &parcel,
            forms.iter().map(|h| h.serial.clone()).collect(),
        );
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO parcels (id, created_at, handed_over_at) VALUES (?1, ?2, ?2)",
            params![parcel, now.to_string()],
        )?;
        for h in &forms {
            tx.execute(
                "INSERT INTO parcel_forms VALUES (?1, ?2, ?3)",
                params![parcel, h.id, h.serial],
            )?;
            set_status(&tx, &h.id, HouseholdStatus::InParcel)?;
        }
        record(&tx, &event)?;
        tx.commit()?;
        Ok(parcel)
    }
}
