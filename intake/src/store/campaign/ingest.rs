//! Ingest: a verified batch judged event by event inside one transaction (chain checks, the
//! domain layer over a [`HouseholdView`] of the rows the batch names), its receipt signed, its
//! events and their effects written in a few multi-row statements (one on PostgreSQL:
//! [`WHOLE_BATCH`]); and a supervisor carrying a refused event over into a household's record,
//! judged again and applied the same way.

use super::*;
use crate::store::sql::Params;

/// The domain judge's window on the database, inside the ingest transaction. The households
/// and event ids a batch names are fetched up front in two queries, not one per event (the
/// second only when asked: see [`SqlStore::ingest_batch`]).
struct TxView<'a> {
    tx: Tx<'a>,
    households: std::collections::HashMap<String, HouseholdFacts>,
    /// The village of each household the judge found by its form's serial (a parcel's), kept
    /// for counting each form on its village's day.
    village_by_serial: std::collections::HashMap<String, String>,
    seen: std::collections::HashSet<String>,
}

impl<'a> TxView<'a> {
    fn prefetch(
        tx: Tx<'a>,
        events: &[sync_protocol::event::Event],
        ask_stored: bool,
    ) -> Result<Self, StoreError> {
        let mut households: Vec<&str> = events
            .iter()
            .filter_map(|e| e.household.as_deref())
            .collect();
        households.sort_unstable();
        households.dedup();
        // `IN ()` is not SQL everywhere: an empty list asks nothing.
        let households = if households.is_empty() {
            Default::default()
        } else {
            // Locked until the batch commits (PostgreSQL), in id order so that two batches
            // never wait on each other: a household is judged by one batch at a time.
            let sql = format!(
                "SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE id IN ({}) ORDER BY id{}",
                placeholders(1, households.len()),
                tx.dialect().for_update()
            );
            tx.prepare(&sql)?
                .query_map(params_from_iter(&households), facts)?
                .map(|r| r.map(|f| (f.id.clone(), f)))
                .collect::<Result<_, _>>()?
        };
        let seen = if ask_stored {
            let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
            let sql = format!(
                "SELECT id FROM events WHERE id IN ({})",
                placeholders(1, ids.len())
            );
            tx.rows_planned_for(&sql, params_from_iter(&ids))?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<_, _>>()?
        } else {
            Default::default()
        };
        Ok(TxView {
            tx,
            households,
            village_by_serial: Default::default(),
            seen,
        })
    }

    fn village_of_household(&self, id: &str) -> Option<String> {
        self.households.get(id).map(|f| f.village.clone())
    }

    fn village_of_serial(&self, serial: &str) -> Option<String> {
        self.village_by_serial.get(serial).cloned()
    }
}

/// What accepted events add beside themselves: the household holds answers, the count of
/// its day (`dated` by [`DayRule`]; a parcel counts each of its forms in the form's village),
/// the serials of a handed-over parcel. Gathered over a whole batch, then written in a few
/// multi-row statements (a batch in a few round trips to PostgreSQL, not several per event).
/// Shared by ingest and by a supervisor's carrying over.
#[derive(Default)]
struct AcceptedEffects {
    answered: std::collections::BTreeSet<String>,
    /// (day, enumerator, village, kind) → (events, of them dated by receipt).
    counts: BTreeMap<(String, String, String, String), (i64, i64)>,
    parcel_serials: Vec<ParcelSerial>,
}

impl AcceptedEffects {
    /// Adds `event`'s effects; `places` finds the village of a household or of a form's
    /// serial (one the store does not hold counts nowhere, as before).
    fn add(
        &mut self,
        event: &sync_protocol::event::Event,
        enumerator: &str,
        dated: Dated,
        places: &TxView,
    ) {
        if let Some(household) = &event.household {
            if event.body.sealed_answers().is_some() {
                self.answered.insert(household.clone());
            }
            let kind = match &event.body {
                EventBody::VisitOutcome { outcome, .. } => serde_json::to_value(outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                other => other.kind().to_string(),
            };
            if let Some(village) = places.village_of_household(household) {
                self.count(&dated, enumerator, village, kind);
            }
        }
        if let EventBody::ParcelHandedOver { parcel, serials } = &event.body {
            for serial in serials {
                if let Some(village) = places.village_of_serial(serial) {
                    self.count(&dated, enumerator, village, event.body.kind().to_string());
                }
                self.parcel_serials.push((
                    parcel.clone(),
                    serial.clone(),
                    event.id.to_string(),
                    enumerator.to_string(),
                ));
            }
        }
    }

    fn count(&mut self, dated: &Dated, enumerator: &str, village: String, kind: String) {
        let key = (dated.day.to_string(), enumerator.to_string(), village, kind);
        let count = self.counts.entry(key).or_default();
        count.0 += 1;
        count.1 += i64::from(dated.by_receipt);
    }

    /// Writes the effects, and the households' new statuses (`changes`, the domain's), in a
    /// few multi-row statements.
    fn write(
        self,
        tx: Tx,
        changes: &[(String, HouseholdStatus)],
        now: &str,
    ) -> Result<(), StoreError> {
        let updates = household_updates(changes, &self.answered);
        // One statement per new status (a batch moves its households to a few statuses); a
        // household that now holds answers and moves status is written once, not twice.
        let mut by_status: BTreeMap<(&str, bool), Vec<&str>> = BTreeMap::new();
        let mut answered_only = Vec::new();
        for update in &updates {
            match update.status {
                Some(status) => by_status
                    .entry((status.as_str(), update.holds_answers))
                    .or_default()
                    .push(&update.household),
                None => answered_only.push(&update.household),
            }
        }
        for ((status, holds_answers), households) in by_status {
            for chunk in households.chunks(ROWS_PER_STATEMENT) {
                let mut values = vec![Val::Text(status.to_string()), Val::Text(now.to_string())];
                values.extend(chunk.iter().map(|h| Val::Text(h.to_string())));
                let answers = if holds_answers {
                    ", has_answers = 1"
                } else {
                    ""
                };
                tx.execute(
                    &format!(
                        "UPDATE households SET status = ?1, updated_at = ?2{answers} WHERE id IN ({})",
                        placeholders(3, chunk.len())
                    ),
                    values,
                )?;
            }
        }
        for chunk in answered_only.chunks(ROWS_PER_STATEMENT) {
            tx.execute(
                &format!(
                    "UPDATE households SET has_answers = 1 WHERE has_answers = 0 AND id IN ({})",
                    placeholders(1, chunk.len())
                ),
                params_from_iter(chunk.iter().map(|h| h.as_str())),
            )?;
        }
        let counts: Vec<Val> = self
            .counts
            .into_iter()
            .flat_map(|((day, enumerator, village, kind), (n, by_receipt))| {
                [
                    Val::Text(day),
                    Val::Text(enumerator),
                    Val::Text(village),
                    Val::Text(kind),
                    Val::Int(n),
                    Val::Int(by_receipt),
                ]
            })
            .collect();
        insert_rows(
            tx,
            "INSERT INTO daily_counts (day, enumerator_id, village_id, kind, n, by_receipt) VALUES",
            " ON CONFLICT(day, enumerator_id, village_id, kind) DO UPDATE SET
             n = daily_counts.n + excluded.n, by_receipt = daily_counts.by_receipt + excluded.by_receipt",
            6,
            counts,
        )?;
        write_parcel_serials(tx, self.parcel_serials)
    }

    /// The households' updates and the day's counts as [`Val::List`] columns, in the order
    /// [`WHOLE_BATCH`] binds them from `?20`.
    fn into_columns(self, changes: &[(String, HouseholdStatus)]) -> (Vec<Val>, Vec<ParcelSerial>) {
        let updates = household_updates(changes, &self.answered);
        let mut columns: Vec<Vec<Val>> = vec![Vec::new(); 9];
        for update in updates {
            columns[0].push(Val::Text(update.household));
            columns[1].push(update.status.map(|s| s.as_str().to_string()).to_val());
            columns[2].push(Val::Int(i64::from(update.holds_answers)));
        }
        for ((day, enumerator, village, kind), (n, by_receipt)) in self.counts {
            columns[3].push(Val::Text(day));
            columns[4].push(Val::Text(enumerator));
            columns[5].push(Val::Text(village));
            columns[6].push(Val::Text(kind));
            columns[7].push(Val::Int(n));
            columns[8].push(Val::Int(by_receipt));
        }
        (
            columns.into_iter().map(Val::List).collect(),
            self.parcel_serials,
        )
    }
}

/// A household a batch moves to a new status (its last one), gives answers, or both.
struct HouseholdUpdate {
    household: String,
    status: Option<HouseholdStatus>,
    holds_answers: bool,
}

/// Each household's one update: `changes` (the domain's, in order: only a household's last
/// status is written) joined with the households that now hold answers.
fn household_updates(
    changes: &[(String, HouseholdStatus)],
    answered: &std::collections::BTreeSet<String>,
) -> Vec<HouseholdUpdate> {
    let mut last: std::collections::HashMap<&str, HouseholdStatus> =
        std::collections::HashMap::new();
    for (household, status) in changes {
        last.insert(household, *status);
    }
    let mut updates: Vec<HouseholdUpdate> = last
        .iter()
        .map(|(household, status)| HouseholdUpdate {
            household: household.to_string(),
            status: Some(*status),
            holds_answers: answered.contains(*household),
        })
        .collect();
    updates.extend(
        answered
            .iter()
            .filter(|h| !last.contains_key(h.as_str()))
            .map(|h| HouseholdUpdate {
                household: h.clone(),
                status: None,
                holds_answers: true,
            }),
    );
    updates
}

/// A serial handed over in a parcel: (parcel, serial, event, enumerator).
type ParcelSerial = (String, String, String, String);

/// A parcel's handed-over serials: rare, so written by a statement of their own on both
/// databases.
fn write_parcel_serials(tx: Tx, parcel_serials: Vec<ParcelSerial>) -> Result<(), StoreError> {
    let serials: Vec<Val> = parcel_serials
        .into_iter()
        .flat_map(|(parcel, serial, event, enumerator)| {
            [
                Val::Text(parcel),
                Val::Text(serial),
                Val::Text(event),
                Val::Text(enumerator),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO parcel_serials VALUES",
        " ON CONFLICT DO NOTHING",
        4,
        serials,
    )
}

/// Rows written by one statement at most: within SQLite's 32,766 parameters and PostgreSQL's
/// 65,535 for the widest row (15 columns of an event).
const ROWS_PER_STATEMENT: usize = 1000;

/// `?first, …` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    let mut sql = String::with_capacity(n * 6);
    push_placeholders(&mut sql, first, n);
    sql
}

/// [`placeholders`] written onto `sql`: a batch's statements name up to 15,000 parameters,
/// and building them one small string each was a tenth of the writer thread's time.
fn push_placeholders(sql: &mut String, first: usize, n: usize) {
    use std::fmt::Write;
    for i in first..first + n {
        if i > first {
            sql.push(',');
        }
        let _ = write!(sql, "?{i}");
    }
}

/// `head (…), (…) tail` over `values`, `width` to a row, in statements of at most
/// [`ROWS_PER_STATEMENT`] rows.
fn insert_rows(
    tx: Tx,
    head: &str,
    tail: &str,
    width: usize,
    values: Vec<Val>,
) -> Result<(), StoreError> {
    debug_assert!(!head.contains('?') && !tail.contains('?'));
    // SQLite numbers a bare `?` one past the parameter before it, so its rows need no digits:
    // a third of the text, and the statement cache hashes and compares all of it for each
    // statement (a batch's events are one statement of some 1,200 parameters). PostgreSQL's
    // `$n` are numbered.
    let bare_row =
        (tx.dialect() == Dialect::Sqlite).then(|| format!("({})", ["?"].repeat(width).join(",")));
    // The values move into their statements: an event's body is not copied again.
    let mut values = values.into_iter();
    loop {
        let chunk: Vec<Val> = values.by_ref().take(width * ROWS_PER_STATEMENT).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        let rows = chunk.len() / width;
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * 7);
        sql.push_str(head);
        sql.push(' ');
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            match &bare_row {
                Some(row) => sql.push_str(row),
                None => {
                    sql.push('(');
                    push_placeholders(&mut sql, r * width + 1, width);
                    sql.push(')');
                }
            }
        }
        sql.push_str(tail);
        tx.execute(&sql, chunk)?;
    }
}

const HOUSEHOLD_COLUMNS: &str = "id, village_id, serial, enumerator_id, reserve_rank, status";

fn facts(r: &Row) -> Result<HouseholdFacts, StoreError> {
    let status: String = r.get(5)?;
    Ok(HouseholdFacts {
        id: r.get(0)?,
        village: r.get(1)?,
        serial: r.get(2)?,
        enumerator: r.get(3)?,
        reserve_rank: r.get(4)?,
        status: HouseholdStatus::parse(&status).unwrap_or(HouseholdStatus::Reserve),
    })
}

impl HouseholdView for TxView<'_> {
    fn household(&mut self, id: &str) -> Option<HouseholdFacts> {
        if let Some(f) = self.households.get(id) {
            return Some(f.clone());
        }
        // Not named by any event of the batch (a replacement's reserve household).
        let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE id = ?1");
        self.tx
            .prepare_cached(&sql)
            .ok()?
            .query_row([id], facts)
            .optional()
            .ok()
            .flatten()
    }
    fn household_by_serial(&mut self, serial: &str) -> Option<HouseholdFacts> {
        let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE serial = ?1");
        let found = self
            .tx
            .prepare_cached(&sql)
            .ok()?
            .query_row([serial], facts)
            .optional()
            .ok()
            .flatten()?;
        self.village_by_serial
            .insert(serial.to_string(), found.village.clone());
        Some(found)
    }
    fn reserves(&mut self, village: &str) -> Vec<HouseholdFacts> {
        let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE village_id = ?1 AND status = 'reserve' AND reserve_rank IS NOT NULL ORDER BY reserve_rank");
        let Ok(mut stmt) = self.tx.prepare_cached(&sql) else {
            return Vec::new();
        };
        stmt.query_map([village], facts)
            .map(|rows| rows.filter_map(Result::ok).collect())
            .unwrap_or_default()
    }
    fn event_seen(&mut self, id: &str) -> bool {
        self.seen.contains(id)
    }
}

impl SqlStore {
    pub(super) fn ingest_batch(
        &self,
        verified: &VerifiedBatch,
        signer: &EnrolledKey,
        frame: &[u8],
        now: DateTime<Utc>,
        intake_key: &DeviceKey,
    ) -> Result<IngestResult, StoreError> {
        let campaign = self.campaign()?;
        // Everything that needs no database is done before the writer is involved (its
        // thread is what every batch waits for: in a profile, copying event bodies and
        // formatting times took 6 % of its time).
        let bodies: Vec<std::sync::Arc<str>> = verified
            .event_bytes()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .into_iter()
            .map(std::sync::Arc::from)
            .collect();
        let times: Vec<std::sync::Arc<str>> = verified
            .batch
            .events
            .iter()
            .map(|e| e.at.to_string().into())
            .collect();
        let (verified, frame, intake_key) = (verified.clone(), frame.to_vec(), intake_key.clone());
        let signer_key = signer.public_key.to_b64();
        let known_forms = self.forms.clone();
        // The form versions read again within the write, remembered once it is committed.
        let read_forms: std::sync::Arc<Mutex<Option<Vec<String>>>> = Default::default();
        let read_in_write = read_forms.clone();
        // On PostgreSQL a batch's first attempt does not ask which of its events are already
        // stored (more than half of a batch's statement time in the database besides the one
        // write, docs/benchmarks.md): the events' primary key refuses a stored id, and the
        // transaction is run again, asking. The field client never puts an event in a second
        // batch (a batch is resent whole, under its own seq), so this is rare. SQLite's one
        // writer never runs a write again (it has no rival to lose to), so on SQLite the batch
        // always asks; it costs little there.
        let attempted = std::sync::atomic::AtomicBool::new(false);
        let result = self.write(move |tx| {
            let batch = &verified.batch;
            let device = batch.device.to_string();
            let head = match enrolled_chain_head(tx, &device, &batch.enumerator, &signer_key)? {
                Ok(head) => head,
                Err(refused) => return Ok(refused),
            };
            if batch.seq <= head.seq {
                let stored: (String, String) = tx
                    .prepare_cached(
                        "SELECT hash, receipt FROM batches WHERE enumerator_id = ?1 AND seq = ?2",
                    )?
                    .query_row(params![batch.enumerator, batch.seq], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                if stored.0 == verified.hash.to_hex() {
                    let receipt = serde_json::from_str(&stored.1)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    return Ok(IngestResult::Replayed { receipt });
                }
                let accepted_hash = BatchHash::from_hex(&stored.0)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                return Ok(IngestResult::Equivocation {
                    seq: batch.seq,
                    accepted_hash,
                });
            }
            if batch.seq > head.seq + 1 {
                return Ok(IngestResult::Gap {
                    expected_seq: head.seq + 1,
                    last_hash: head.hash,
                });
            }
            if batch.prev != head.hash {
                return Ok(IngestResult::ChainBroken {
                    expected_seq: head.seq + 1,
                    last_hash: head.hash,
                });
            }

            let (forms, read) = match known_forms.for_events(&batch.events) {
                Some(known) => (known, None),
                None => {
                    let read = form_references(tx)?;
                    (read.clone(), Some(read))
                }
            };
            // Set on every attempt: what an attempt that was rolled back read is forgotten.
            *read_in_write.lock().unwrap_or_else(|p| p.into_inner()) = read;
            let rules = CampaignRules {
                rules: Rules {
                    replacement_allowed: campaign.info.replacement_allowed,
                    verification_required: campaign.info.verification_required,
                },
                forms: &forms,
            };
            let ask_stored = tx.dialect() == Dialect::Sqlite
                || attempted.swap(true, std::sync::atomic::Ordering::Relaxed);
            let mut view = TxView::prefetch(tx, &batch.events, ask_stored)?;
            let judgement = domain::judge(batch, &rules, &mut view);
            let days = DayRule::of(&campaign.info);
            let now_s = rfc3339(now);
            // Bound by every row of the batch: shared, not copied per row.
            let shared = |s: &str| -> std::sync::Arc<str> { s.into() };
            let (shared_enumerator, shared_device, shared_now) =
                (shared(&batch.enumerator), shared(&device), shared(&now_s));

            // Every event of the batch as a row, and what the accepted ones add gathered:
            // written below in a few multi-row statements (SQLite) or one (PostgreSQL).
            let mut rows: Vec<Val> = Vec::with_capacity(batch.events.len() * EVENT_WIDTH);
            let mut effects = AcceptedEffects::default();
            for (idx, (((event, outcome), body), at)) in batch
                .events
                .iter()
                .zip(&judgement.outcomes)
                .zip(&bodies)
                .zip(&times)
                .enumerate()
            {
                if outcome.code.as_deref() == Some(sync_protocol::api::rejection::DUPLICATE_EVENT) {
                    // The first copy is stored; this one lives on in the batch frame and receipt.
                    continue;
                }
                let status = match outcome.status {
                    OutcomeStatus::Accepted => "accepted",
                    OutcomeStatus::Rejected => "rejected",
                };
                rows.extend([
                    Val::Text(event.id.to_string()),
                    Val::Shared(shared_enumerator.clone()),
                    Val::Int(batch.seq as i64),
                    Val::Int(idx as i64),
                    Val::Shared(shared_device.clone()),
                    event.household.to_val(),
                    event.serial.to_val(),
                    Val::Text(event.body.kind().to_string()),
                    Val::Shared(at.clone()),
                    Val::Int(event.at.unix()),
                    Val::Shared(shared_now.clone()),
                    Val::Shared(body.clone()),
                    Val::Text(status.to_string()),
                    outcome.code.to_val(),
                    outcome.reason.to_val(),
                ]);
                if outcome.status == OutcomeStatus::Accepted {
                    effects.add(
                        event,
                        &batch.enumerator,
                        days.date(event.at.as_datetime(), now),
                        &view,
                    );
                }
            }
            let (events, rejected) = Receipt::listing(&judgement.outcomes);
            let rejected_events = rejected.len();
            let receipt = Receipt {
                protocol: PROTOCOL_VERSION,
                campaign: batch.campaign.clone(),
                device: batch.device,
                enumerator: batch.enumerator.clone(),
                seq: batch.seq,
                batch_hash: verified.hash,
                accepted_at: DeviceTime::new(now.fixed_offset()),
                intake_key: intake_key.key_id(),
                events,
                rejected,
            };
            let signed = receipt
                .sign(&intake_key)
                .map_err(|e| StoreError::Signing(e.to_string()))?;
            let mut values = params![
                batch.enumerator,
                batch.seq,
                verified.hash.to_hex(),
                device,
                &frame,
                batch.events.len() as i64,
                now_s,
                serde_json::to_string(&signed).expect("receipt serializes")
            ]
            .values();
            match tx.dialect() {
                Dialect::Postgres => {
                    let (effects, parcel_serials) = effects.into_columns(&judgement.changes);
                    values.extend(event_columns(rows));
                    values.extend(effects);
                    tx.prepare_cached(&format!("{WHOLE_BATCH}{CHAIN_ADVANCES}"))?
                        .execute(values)?;
                    write_parcel_serials(tx, parcel_serials)?;
                }
                Dialect::Sqlite => {
                    insert_rows(
                        tx,
                        &format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES"),
                        "",
                        EVENT_WIDTH,
                        rows,
                    )?;
                    effects.write(tx, &judgement.changes, &now_s)?;
                    tx.prepare_cached(
                        "INSERT INTO batches VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(values)?;
                    tx.prepare_cached(&format!(
                        "INSERT INTO chains VALUES (?1, ?2, ?3, ?4, ?5) {CHAIN_ADVANCES}"
                    ))?
                    .execute(params![
                        batch.enumerator,
                        batch.seq,
                        verified.hash.to_hex(),
                        device,
                        now_s
                    ])?;
                }
            }
            Ok(IngestResult::Accepted {
                receipt: signed,
                rejected_events,
            })
        })?;
        if let Some(read) = read_forms.lock().unwrap_or_else(|p| p.into_inner()).take() {
            self.forms.remember(read);
        }
        Ok(result)
    }

    pub(super) fn carry_over(
        &self,
        event: &str,
        decision: Resolution,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RejectedRecord, StoreError> {
        let (event_id, note, by) = (event.to_string(), note.to_string(), by.to_string());
        let campaign = self.campaign()?;
        self.write(move |tx| {
            /// Enumerator, body, code, resolution, when the centre received it.
            type Stored = (String, String, Option<String>, Option<String>, String);
            let stored: Option<Stored> = tx
                .query_row(&format!("SELECT enumerator_id, body, code, resolution, received_at FROM events WHERE id = ?1{}", tx.dialect().for_update()), [&event_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .optional()?;
            let Some((enumerator, body, Some(_), None, received_at)) = stored else {
                return Err(match stored {
                    Some((_, _, _, Some(_), _)) => StoreError::AlreadyResolved(event_id.clone()),
                    _ => StoreError::UnknownEvent(event_id.clone()),
                });
            };
            let now_s = rfc3339(now);
            let note = match decision {
                Resolution::Dismissed => note.clone(),
                Resolution::Accepted => {
                    let event: sync_protocol::event::Event = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let forms = form_references(tx)?;
                    let rules = CampaignRules {
                        rules: Rules { replacement_allowed: campaign.info.replacement_allowed, verification_required: campaign.info.verification_required },
                        forms: &forms,
                    };
                    let mut view = TxView::prefetch(tx, std::slice::from_ref(&event), true)?;
                    let changes = domain::judge_carry_over(&event, &rules, &mut view)
                        .map_err(|(code, reason)| StoreError::CannotCarryOver { code, reason })?;
                    // Its day is the one it had when the centre first received it, not today's.
                    let dated = DayRule::of(&campaign.info).date(event.at.as_datetime(), parse_received(&received_at)?);
                    let mut effects = AcceptedEffects::default();
                    effects.add(&event, &enumerator, dated, &view);
                    effects.write(tx, &changes, &now_s)?;
                    let household = event.household.as_deref().unwrap_or_default();
                    tx.execute(
                        "UPDATE households SET carried_from = ?1, carried_events = carried_events + 1, updated_at = ?2 WHERE id = ?3",
                        params![enumerator, now_s, household],
                    )?;
                    tx.execute("UPDATE events SET status = 'accepted' WHERE id = ?1", [&event_id])?;
                    tx.query_row(
                        "SELECT e.name FROM households h JOIN enumerators e ON e.id = h.enumerator_id WHERE h.id = ?1",
                        [household],
                        |r| r.get::<String>(0),
                    )?
                }
            };
            let decision = match decision {
                Resolution::Accepted => "accepted",
                Resolution::Dismissed => "dismissed",
            };
            tx.execute(
                "UPDATE events SET resolution = ?1, resolution_note = ?2, resolved_by = ?3, resolved_at = ?4 WHERE id = ?5",
                params![decision, note, by, now_s, event_id],
            )?;
            Ok(())
        })?;
        self.rejected_events(None)?
            .into_iter()
            .find(|r| r.event == event)
            .ok_or_else(|| StoreError::UnknownEvent(event.into()))
    }
}

/// The chain head of the batch's enumerator, if the device that signed it is, as this
/// transaction sees it, enrolled with that key for that enumerator and not revoked; otherwise
/// the refusal.
///
/// The head is locked until the batch commits: one enumerator's chain is judged by one
/// transaction at a time, whichever process runs it, so the next seq is accepted once (on
/// SQLite's single writer there is nothing to lock).
///
/// On PostgreSQL the device and the chain's row are read by one statement, and the chain's
/// row, once it exists, is both the lock and the head: a `FOR UPDATE` that waited for the row
/// reads it as the transaction before left it. Before an enumerator's first batch there is no
/// row to lock: the enumerator's own row is locked instead, and the head read by a statement of
/// its own, which sees whatever committed while it waited (a join in the locking statement
/// would not). Should two batches still meet by the two ways, the batch's key (enumerator, seq)
/// lets one of them in.
fn enrolled_chain_head(
    tx: Tx,
    device: &str,
    enumerator: &str,
    signer_key: &str,
) -> Result<Result<ChainHead, IngestResult>, StoreError> {
    /// Revoked when, and the chain's last seq and hash (none before the first batch).
    type DeviceAndChain = (Option<String>, Option<u64>, Option<String>);
    let sql = match tx.dialect() {
        Dialect::Postgres => {
            "SELECT d.revoked_at, c.last_seq, c.last_hash FROM devices d
             LEFT JOIN LATERAL (SELECT last_seq, last_hash FROM chains WHERE enumerator_id = d.enumerator_id FOR UPDATE) c ON TRUE
             WHERE d.id = ?1 AND d.enumerator_id = ?2 AND d.public_key = ?3"
        }
        Dialect::Sqlite => {
            "SELECT d.revoked_at, c.last_seq, c.last_hash FROM devices d
             LEFT JOIN chains c ON c.enumerator_id = d.enumerator_id
             WHERE d.id = ?1 AND d.enumerator_id = ?2 AND d.public_key = ?3"
        }
    };
    let found: Option<DeviceAndChain> = tx
        .prepare_cached(sql)?
        .query_row(params![device, enumerator, signer_key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match found {
        None => Ok(Err(IngestResult::UnknownDevice)),
        Some((Some(_), _, _)) => Ok(Err(IngestResult::DeviceRevoked)),
        Some((None, Some(seq), Some(hash))) => Ok(Ok(ChainHead {
            enumerator: enumerator.into(),
            seq,
            hash: BatchHash::from_hex(&hash).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })),
        Some((None, _, _)) => {
            if tx.dialect() == Dialect::Postgres {
                tx.query_row(
                    "SELECT id FROM enumerators WHERE id = ?1 FOR UPDATE",
                    [enumerator],
                    |_| Ok(()),
                )
                .optional()?;
            }
            chain_head_in(tx, enumerator).map(Ok)
        }
    }
}

/// The columns of `events` a batch writes, as [`EVENT_WIDTH`] values a row.
const EVENT_COLUMNS: &str = "id, enumerator_id, seq, idx, device_id, household_id, serial, kind, occurred_at, occurred_unix, received_at, body, status, code, reason";
const EVENT_WIDTH: usize = 15;
/// Of those, the columns whose values differ between a batch's events (the rest are the
/// batch's own: its enumerator, seq, device, time of receipt).
const EVENT_COLUMNS_OF_EACH: [usize; 11] = [0, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14];

/// A batch's event rows ([`EVENT_WIDTH`] values each) as one [`Val::List`] per column of
/// [`EVENT_COLUMNS_OF_EACH`].
fn event_columns(rows: Vec<Val>) -> Vec<Val> {
    let mut columns: Vec<Vec<Val>> =
        vec![Vec::with_capacity(rows.len() / EVENT_WIDTH); EVENT_COLUMNS_OF_EACH.len()];
    for (i, value) in rows.into_iter().enumerate() {
        if let Some(c) = EVENT_COLUMNS_OF_EACH
            .iter()
            .position(|&k| k == i % EVENT_WIDTH)
        {
            columns[c].push(value);
        }
    }
    columns.into_iter().map(Val::List).collect()
}

/// What a chain's row becomes when a batch of it is accepted.
const CHAIN_ADVANCES: &str = "ON CONFLICT(enumerator_id) DO UPDATE SET
     last_seq = excluded.last_seq, last_hash = excluded.last_hash, last_device_id = excluded.last_device_id, last_received_at = excluded.last_received_at";

/// A whole batch on PostgreSQL in one statement, one round trip (it was five): its events, the
/// households it moves or gives answers, its days' counts, the batch and its chain's new head,
/// each a data-modifying part of one `WITH`. Rows are bound as arrays ([`Val::List`]), one a
/// column, so that one statement text, prepared once per connection, serves every batch. The
/// parts touch different tables, and the households' part names each household once
/// ([`household_updates`]): no row is written twice by the statement.
///
/// PostgreSQL's generic plan guesses ten rows from an array parameter, so it finds a campaign's
/// households by their primary key (the households are all imported before the first batch:
/// the plan is not made for a table that will grow).
///
/// Parameters: `?1`–`?8` the batch's row (enumerator, seq, hash, device, frame, events,
/// received, receipt); `?9`–`?19` the events' columns of [`EVENT_COLUMNS_OF_EACH`]; `?20`–`?22`
/// the households' ids, new statuses (NULL: unchanged) and whether they now hold answers (0/1);
/// `?23`–`?28` the days' counts (day, enumerator, village, kind, events, of them by receipt).
const WHOLE_BATCH: &str = "WITH new_events AS (
    INSERT INTO events (id, enumerator_id, seq, idx, device_id, household_id, serial, kind, occurred_at, occurred_unix, received_at, body, status, code, reason)
    SELECT e.id, ?1::text, ?2::bigint, e.idx, ?4::text, e.household_id, e.serial, e.kind, e.occurred_at, e.occurred_unix, ?7::text, e.body, e.status, e.code, e.reason
    FROM unnest(?9::text[], ?10::bigint[], ?11::text[], ?12::text[], ?13::text[], ?14::text[], ?15::bigint[], ?16::text[], ?17::text[], ?18::text[], ?19::text[])
      AS e(id, idx, household_id, serial, kind, occurred_at, occurred_unix, body, status, code, reason)
), households_moved AS (
    UPDATE households h SET status = COALESCE(u.status, h.status),
        updated_at = CASE WHEN u.status IS NULL THEN h.updated_at ELSE ?7::text END,
        has_answers = GREATEST(h.has_answers, u.holds_answers)
    FROM unnest(?20::text[], ?21::text[], ?22::bigint[]) AS u(id, status, holds_answers)
    WHERE h.id = u.id AND (u.status IS NOT NULL OR h.has_answers < u.holds_answers)
), counted AS (
    INSERT INTO daily_counts (day, enumerator_id, village_id, kind, n, by_receipt)
    SELECT * FROM unnest(?23::text[], ?24::text[], ?25::text[], ?26::text[], ?27::bigint[], ?28::bigint[])
    ON CONFLICT(day, enumerator_id, village_id, kind) DO UPDATE SET
        n = daily_counts.n + excluded.n, by_receipt = daily_counts.by_receipt + excluded.by_receipt
), batch AS (
    INSERT INTO batches VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
)
INSERT INTO chains VALUES (?1, ?2, ?3, ?4, ?7) ";

/// The references of the campaign's form versions that this process has read. A version, once
/// added, is never taken away, so a batch that names none but these is judged without asking
/// the database; one that names another (added since, perhaps by another process) reads them
/// again. What a write read is remembered only once it is committed: on PostgreSQL the write
/// may share its transaction with others ([`crate::store::postgres`]'s group commit), one of
/// which may have added a version that is then rolled back.
#[derive(Default)]
pub(super) struct KnownForms(Mutex<Vec<String>>);

impl KnownForms {
    /// Every form version a judge of `events` needs to know of, or `None` when they are to be
    /// read again.
    fn for_events(&self, events: &[sync_protocol::event::Event]) -> Option<Vec<String>> {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let all_known = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::FormTranscribed { form, .. }
                | EventBody::TranscriptionVerified { form, .. }
                | EventBody::Correction { form, .. } => Some(form),
                _ => None,
            })
            .all(|form| known.contains(form));
        (all_known && !known.is_empty()).then(|| known.clone())
    }

    /// The versions a committed write read.
    fn remember(&self, read: Vec<String>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = read;
    }
}

/// The references of every form version the campaign has.
pub(super) fn form_references(tx: Tx) -> Result<Vec<String>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT reference FROM forms")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?)
}
