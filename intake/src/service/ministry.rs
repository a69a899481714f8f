//! The ministry's work: the key kept under a passphrase, answers opened (a sheet that cannot
//! be opened is set aside, never stopping the rest), the index, exports, reconciliation of
//! paper, back-checks, reviews and corrections.

#[allow(unused_imports)]
use super::*;

impl Intake {
    /// Keeps the ministry's secret key, encrypted under `passphrase` (never stored).
    pub fn store_ministry_key(
        &self,
        secret: &sync_protocol::keys::MinistrySecretKey,
        passphrase: &str,
    ) -> Result<(), IntakeError> {
        if secret.public() != self.store.campaign()?.ministry_public_key {
            return Err(crate::ministry_key::KeyError::NotTheCampaignsKey.into());
        }
        let sealed = crate::ministry_key::encrypt(secret, passphrase)?;
        Ok(self.store.store_ministry_key(&sealed, Utc::now())?)
    }

    /// Every household's latest answers, opened with the ministry key that `passphrase`
    /// unlocks for this call only. A sheet that cannot be opened — a damaged or hostile box, or
    /// one naming another household than the event that carried it — is set aside with its
    /// reason (and raises an alert, once): one device's bad sheet never stops the others'.
    pub fn open_answers(&self, passphrase: &str, by: &str) -> Result<OpenedAnswers, IntakeError> {
        self.open_answers_of(passphrase, by, None)
    }

    /// [`Self::open_answers`], of one household only when `household` is given.
    pub fn open_answers_of(
        &self,
        passphrase: &str,
        by: &str,
        household: Option<&str>,
    ) -> Result<OpenedAnswers, IntakeError> {
        let key = self.ministry_secret(passphrase, by)?;
        // Each sheet is read in the order of the version it was sealed under.
        let forms = self.forms()?;
        let order = |reference: &str| {
            forms.get(reference).map(|form| {
                form.question_order()
                    .into_iter()
                    .map(String::from)
                    .collect()
            })
        };
        let mut opened = OpenedAnswers::default();
        for f in self.store.sealed_forms(household)? {
            match sync_protocol::seal::open(&key, &f.sealed, &order) {
                Ok(sheet) if sheet.household == f.household && sheet.serial == f.serial => {
                    opened.sheets.push((f, sheet))
                }
                Ok(sheet) => {
                    let reason = format!(
                        "phiếu niêm phong ghi số phiếu {}, không phải phiếu của hộ đã gửi nó",
                        sheet.serial
                    );
                    opened.unopenable.push(Unopenable { form: f, reason });
                }
                Err(e) => {
                    // The technical cause is for the operator's log; people read what to do.
                    tracing::warn!(household = %f.household, seq = f.seq, "a sealed sheet does not open: {e}");
                    opened.unopenable.push(Unopenable {
                        form: f,
                        reason: "không mở được bằng khoá mở phiếu của đợt khảo sát (phiếu bị hỏng, hoặc được niêm phong theo một mẫu phiếu máy chủ không có)".into(),
                    })
                }
            }
        }
        self.alert_unopenable(&opened.unopenable)?;
        Ok(opened)
    }

    /// The ministry's secret key, unlocked by `passphrase` for one call. Wrong passphrases are
    /// limited per account, and only one is checked at a time (each check costs 64 MiB).
    fn ministry_secret(
        &self,
        passphrase: &str,
        by: &str,
    ) -> Result<sync_protocol::keys::MinistrySecretKey, IntakeError> {
        let _wipe = crate::wipe::secret();
        if passphrase.is_empty() {
            // Nothing typed is not a guess: it is said, and not counted against the account.
            return Err(IntakeError::Declined(
                "Hãy nhập cụm mật khẩu của khoá Bộ. / Enter the passphrase of the ministry's key."
                    .into(),
            ));
        }
        let campaign = self.store.campaign()?;
        let stored = self
            .store
            .ministry_key()?
            .ok_or(crate::ministry_key::KeyError::NotStored)?;
        let _one_at_a_time = self
            .shared
            .passphrase_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Checked behind the gate: attempts that queued together cannot all pass the count.
        self.shared.passphrase_limiter.check(&by.to_string())?;
        let key = crate::ministry_key::decrypt(&stored, passphrase, &campaign.ministry_public_key);
        if let Err(crate::ministry_key::KeyError::WrongPassphrase) = &key {
            self.shared.passphrase_limiter.fail(by.to_string());
        }
        Ok(key?)
    }

    /// One alert per household whose sheet cannot be opened, the first time it is found.
    fn alert_unopenable(&self, unopenable: &[Unopenable]) -> Result<(), IntakeError> {
        if unopenable.is_empty() {
            return Ok(());
        }
        let known: std::collections::HashSet<String> = self
            .store
            .alerts()?
            .into_iter()
            .filter(|a| a.kind == UNOPENABLE_ALERT)
            .map(|a| a.detail)
            .collect();
        for u in unopenable {
            let detail = format!(
                "{} ({}, lô {}): {}",
                u.form.household, u.form.serial, u.form.seq, u.reason
            );
            if !known.contains(&detail) {
                let alert = crate::store::Alert {
                    kind: UNOPENABLE_ALERT.into(),
                    enumerator: Some(u.form.enumerator.clone()),
                    device: u.form.device.parse().ok(),
                    seq: Some(u.form.seq),
                    detail,
                };
                self.store.record_alert(&alert, Utc::now())?;
            }
        }
        Ok(())
    }

    /// One household's latest sheet, opened to be reviewed beside its paper: each question of
    /// the sheet's version with what it holds, read as the index reads it. `None` when the
    /// centre holds no sheet of it. Audited, refusals too.
    pub fn sheet_for_review(
        &self,
        passphrase: &str,
        by: &str,
        address: &str,
        household: &str,
    ) -> Result<Option<ReviewSheet>, IntakeError> {
        let opened = match self.open_answers_of(passphrase, by, Some(household)) {
            Ok(o) => o,
            Err(e) => {
                // Which form was asked for, as the audit of a view names it.
                let serial = self
                    .store
                    .household_place(household)?
                    .map_or_else(|| household.to_string(), |(serial, ..)| serial);
                let error = e.to_string();
                let said = format!("phiếu số {serial}: {}", crate::words::in_vietnamese(&error));
                self.audit(by, "answers_view_refused", &said, address, Utc::now())?;
                return Err(e);
            }
        };
        let sheet = if let Some((f, sheet)) = opened.sheets.first() {
            let versions = self.form_versions()?;
            let version = versions.of(&sheet.form);
            let readings = forms::answer::read(version, &sheet.answers);
            let rows = version
                .questions
                .iter()
                .map(|q| {
                    let (raw, labels) = cell(version, q, &sheet.answers, &readings);
                    let keyings =
                        sheet
                            .keyings_apart
                            .iter()
                            .find(|a| a.question == q.id)
                            .map(|a| {
                                (
                                    keyed(version, q, sheet, &a.first),
                                    keyed(version, q, sheet, &a.second),
                                )
                            });
                    ReviewRow {
                        number: q.number.clone(),
                        label: q.label.vi.clone(),
                        raw,
                        labels,
                        keyings,
                    }
                })
                .collect();
            ReviewSheet {
                serial: f.serial.clone(),
                rows,
                unopenable: None,
            }
        } else if let Some(u) = opened.unopenable.first() {
            ReviewSheet {
                serial: u.form.serial.clone(),
                rows: vec![],
                unopenable: Some(u.reason.clone()),
            }
        } else {
            return Ok(None);
        };
        self.audit(
            by,
            "answers_viewed",
            &format!("phiếu số {}", sheet.serial),
            address,
            Utc::now(),
        )?;
        Ok(Some(sheet))
    }

    /// Every opened form as a table for export: a header row (place columns, then each
    /// question's printed number) and one row per household, coded answers with their
    /// Vietnamese labels ("2 — Nữ"). Audited.
    pub fn answers_table(
        &self,
        passphrase: &str,
        by: &str,
        address: &str,
    ) -> Result<Vec<Vec<String>>, IntakeError> {
        let opened = match self.open_answers(passphrase, by) {
            Ok(o) => o,
            Err(e) => {
                self.audit(
                    by,
                    "answers_export_refused",
                    crate::words::in_vietnamese(&e.to_string()),
                    address,
                    Utc::now(),
                )?;
                return Err(e);
            }
        };
        let versions = self.form_versions()?;
        let form = versions.current();
        let enumerators = self.enumerator_names()?;
        // The columns: the current version's questions in its order, then any question only an
        // older version asked (sheets sealed under it keep their answers). Coded questions get
        // two columns: the code, and its label.
        let mut columns: Vec<&forms::load::Question> = form.questions.iter().collect();
        let mut older: Vec<(&String, &forms::Form)> = versions.all.iter().collect();
        older.sort_by(|a, b| a.0.cmp(b.0));
        for (_, version) in &older {
            for q in &version.questions {
                if !columns.iter().any(|c| c.id == q.id) {
                    columns.push(q);
                }
            }
        }
        let coded = |q: &forms::load::Question| q.choices.is_some();
        let places = self.store.place_names()?;
        let place_name = |id: &str| places.get(id).cloned().unwrap_or_else(|| id.to_string());
        let mut header: Vec<String> = [
            "hộ",
            "số phiếu",
            "điều tra viên",
            // Whom a back-check visit of the household checks (docs/statistics.md).
            "người thu phiếu",
            "thôn",
            "xã",
            "huyện",
            "tỉnh",
            "phiên bản phiếu",
            "tình trạng",
            "duyệt phiếu",
            // Where the tablet's two keyings read the paper differently, and what each read:
            // the answers beside are what the paper was found to say.
            "hai lần nhập đọc khác nhau",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Columns headed as the paper reads ([`question_title`]), told apart where labels
        // repeat.
        let mut used: std::collections::HashMap<String, u32> = Default::default();
        for q in &columns {
            let mut column = question_title(q);
            let seen = used.entry(column.clone()).or_default();
            *seen += 1;
            if *seen > 1 {
                column = format!("{column} ({seen})");
            }
            header.push(column.clone());
            if coded(q) {
                header.push(format!("{column} (nhãn)"));
            }
        }
        let mut rows = vec![header];
        // The ministry's own review of each form: flagged, approved, corrected from the paper.
        let reviews = self.store.reviews()?;
        let corrected = self.store.corrected_households()?;
        let reviewed = |household: &str| -> String {
            let mut said = Vec::new();
            if let Some((decision, ..)) = reviews.get(household) {
                said.push(if decision == "approved" {
                    "đã duyệt"
                } else {
                    "gắn cờ"
                });
            }
            if corrected.contains_key(household) {
                said.push("đã nhập sửa theo bản giấy");
            }
            said.join("; ")
        };
        let collectors = self.collectors()?;
        let place = |f: &crate::store::SealedForm, version: &str, status: &str| {
            let name = |id: &str| {
                enumerators
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.to_string())
            };
            vec![
                f.household.clone(),
                f.serial.clone(),
                name(&f.enumerator),
                collectors
                    .get(&f.household)
                    .map(|c| name(c))
                    .unwrap_or_default(),
                place_name(&f.village),
                place_name(&f.commune),
                place_name(&f.district),
                place_name(&f.province),
                version.to_string(),
                status.to_string(),
                reviewed(&f.household),
            ]
        };
        let apart = |version: &forms::Form, sheet: &sync_protocol::seal::AnswerSheet| {
            sheet
                .keyings_apart
                .iter()
                .filter_map(|a| {
                    let q = version.question(&a.question)?;
                    Some(format!(
                        "{} — lần 1: {}; lần 2: {}",
                        question_title(q),
                        keyed(version, q, sheet, &a.first),
                        keyed(version, q, sheet, &a.second)
                    ))
                })
                .collect::<Vec<_>>()
                .join(" | ")
        };
        for u in &opened.unopenable {
            let mut row = place(
                &u.form,
                "",
                &format!("KHÔNG MỞ ĐƯỢC — nhập lại từ phiếu giấy: {}", u.reason),
            );
            row.resize(rows[0].len(), String::new());
            rows.push(row);
        }
        for (f, sheet) in &opened.sheets {
            let mut row = place(f, &sheet.form, "đã mở");
            let version = versions.of(&sheet.form);
            row.push(apart(version, sheet));
            // Each cell read as the index reads it: what does not count says why, in place of
            // a number, so a figure recomputed from the export equals the published one.
            let readings = forms::answer::read(version, &sheet.answers);
            for column in &columns {
                let (raw, labels) = cell(version, column, &sheet.answers, &readings);
                row.push(raw);
                if coded(column) {
                    row.push(labels);
                }
            }
            rows.push(row);
        }
        self.audit(
            by,
            "answers_exported",
            &format!(
                "{} phiếu, {} phiếu không mở được",
                opened.sheets.len(),
                opened.unopenable.len()
            ),
            address,
            Utc::now(),
        )?;
        Ok(rows)
    }

    /// The SIPAS index by village, commune, district and province, from answers opened with
    /// the passphrase; sheets that cannot be opened are left out and listed. Audited.
    pub fn index(
        &self,
        passphrase: &str,
        by: &str,
        address: &str,
    ) -> Result<ComputedIndex, IntakeError> {
        let opened = self.open_answers(passphrase, by);
        let now = Utc::now();
        let opened = match opened {
            Ok(o) => o,
            Err(e) => {
                self.audit(
                    by,
                    "index_refused",
                    crate::words::in_vietnamese(&e.to_string()),
                    address,
                    now,
                )?;
                return Err(e);
            }
        };
        let households: Vec<String> = opened
            .sheets
            .iter()
            .map(|(f, _)| f.household.clone())
            .collect();
        let sealed_under: Vec<String> = opened.sheets.iter().map(|(_, s)| s.form.clone()).collect();
        let forms_opened: Vec<forms::index::OpenedForm> = opened
            .sheets
            .into_iter()
            .map(|(f, sheet)| forms::index::OpenedForm {
                origin: forms::index::Origin {
                    village: f.village,
                    commune: f.commune,
                    district: f.district,
                    province: f.province,
                },
                answers: sheet.answers,
            })
            .collect();
        let detail = format!(
            "{} phiếu, {} phiếu không mở được",
            forms_opened.len(),
            opened.unopenable.len()
        );
        self.audit(by, "index_computed", &detail, address, now)?;
        let versions = self.form_versions()?;
        let form = versions.current();
        // Straight-lining: every satisfaction item of the index answered with one code.
        let items: Vec<String> = form
            .definition
            .index
            .iter()
            .flat_map(|rule| rule.criteria.iter().flat_map(|c| c.items.iter().cloned()))
            .collect();
        let straight_lined = crate::anomalies::straight_lined(
            forms_opened
                .iter()
                .zip(&households)
                .map(|(f, h)| (h.as_str(), &f.answers)),
            &items,
            10,
        );
        // Each sheet judged by the version it was sealed under.
        let versioned: Vec<(&forms::index::OpenedForm, &forms::Form)> = forms_opened
            .iter()
            .zip(&sealed_under)
            .map(|(f, reference)| (f, versions.of(reference)))
            .collect();
        let (report, counted) = forms::index::compute_with_sheets(form, &versioned);
        // Sheets with nothing the index counts (all blank, unreadable or "no answer"): in
        // their areas' form counts, not in their figures; their paper is worth a look.
        let nothing_counted = households
            .iter()
            .zip(&counted)
            .filter(|(_, counted)| !**counted)
            .map(|(h, _)| h.clone())
            .collect();
        let answer_anomalies = versioned
            .iter()
            .zip(&households)
            .filter_map(|((f, version), h)| super::AnswerAnomaly::of(h, version, &f.answers))
            .collect();
        // Kept for the comparison of years (figures only, never an answer).
        let kept = super::KeptIndex::of(&report, &self.store.place_names()?);
        self.store.keep_index(
            &serde_json::to_string(&kept).expect("figures serialize"),
            by,
            now,
        )?;
        let labels = form
            .definition
            .index
            .iter()
            .flat_map(|rule| {
                rule.parts
                    .iter()
                    .map(|p| (p.id.clone(), p.label.vi.clone()))
                    .chain(
                        rule.criteria
                            .iter()
                            .map(|c| (c.id.clone(), c.label.vi.clone())),
                    )
            })
            .collect();
        Ok(ComputedIndex {
            report,
            labels,
            part_order: form
                .definition
                .index
                .iter()
                .flat_map(|rule| rule.parts.iter().map(|p| p.id.clone()))
                .collect(),
            criterion_order: form
                .definition
                .index
                .iter()
                .flat_map(|rule| rule.criteria.iter().map(|c| c.id.clone()))
                .collect(),
            straight_lined,
            nothing_counted,
            answer_anomalies,
            unopenable: opened.unopenable,
        })
    }

    /// A household's form serial, as people name it (its id where the campaign has no such
    /// household).
    pub fn serial_of(&self, household: &str) -> Result<String, IntakeError> {
        Ok(self
            .store
            .household_place(household)?
            .map(|(serial, ..)| serial)
            .unwrap_or_else(|| household.to_string()))
    }

    /// Records a back-check visit's outcome; audited.
    pub fn record_backcheck_outcome(
        &self,
        household: &str,
        visit: BackcheckVisit<'_>,
        by: &str,
        address: &str,
    ) -> Result<BackcheckRecorded, IntakeError> {
        let BackcheckVisit {
            draw,
            outcome,
            note,
            replacing,
        } = visit;
        if !matches!(outcome, "confirmed" | "not_visited" | "answers_differ") {
            let shown: String = outcome.chars().take(40).collect();
            return Err(IntakeError::Declined(format!(
                "«{shown}» không phải kết quả phúc tra: hãy chọn «Đã xác nhận», «Không gặp» hoặc «Trả lời khác». / {shown:?} is not a back-check outcome."
            )));
        }
        if note.chars().count() > 2000 {
            return Err(IntakeError::Declined(
                "Ghi chú dài quá 2.000 ký tự. / The note is over 2,000 characters.".into(),
            ));
        }
        // Only a household some draw sent a visitor to (the draw named, if one is) has a visit
        // to record: anything else would count in an enumerator's results unseen on any list.
        let drawn = self
            .store
            .backcheck_draws()?
            .into_iter()
            .filter(|d| draw.is_none_or(|id| d.id == id))
            .any(|d| d.households.iter().any(|h| h == household));
        if !drawn {
            return Err(IntakeError::NotFound);
        }
        // What an earlier visit found is replaced only when asked to, once it has been said.
        if let Some(earlier) = self
            .store
            .backcheck_outcomes()?
            .into_iter()
            .find(|o| o.household == household)
        {
            // Replaced only when the confirmation names this very record: one recorded meanwhile
            // (a colleague, another tab) is asked about afresh.
            let differs = earlier.outcome != outcome || earlier.note != note;
            if differs && replacing != Some(backcheck_record_seen(&earlier).as_str()) {
                return Ok(BackcheckRecorded::AsksToReplace(earlier));
            }
        }
        let now = Utc::now();
        self.store
            .record_backcheck_outcome(household, outcome, note, by, now)?;
        self.audit(
            by,
            "backcheck_recorded",
            &format!(
                "phiếu {}: {}",
                self.serial_of(household)?,
                match outcome {
                    "confirmed" => "đúng như đã nhập",
                    "not_visited" => "chưa đến được hộ",
                    _ => "câu trả lời khác với phiếu",
                }
            ),
            address,
            now,
        )?;
        Ok(BackcheckRecorded::Recorded)
    }

    /// Back-check results per enumerator who collected the form: outcome → count.
    pub fn backcheck_results(
        &self,
    ) -> Result<
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>,
        IntakeError,
    > {
        let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>> =
            Default::default();
        let collectors = self.collectors()?;
        for found in self.store.backcheck_outcomes()? {
            let checked = collectors
                .get(&found.household)
                .cloned()
                .unwrap_or(found.enumerator);
            *out.entry(checked)
                .or_default()
                .entry(found.outcome)
                .or_default() += 1;
        }
        Ok(out)
    }

    /// The ministry keys a flagged form again from its paper original: answers checked with the
    /// form, sealed to the ministry key (no passphrase needed to seal), kept beside the device's
    /// events, which stay as they were. Audited.
    pub fn ministry_correction(
        &self,
        household: &str,
        answers: std::collections::BTreeMap<String, serde_json::Value>,
        reason: &str,
        by: &str,
        address: &str,
    ) -> Result<(), IntakeError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(IntakeError::Declined("Hãy ghi lý do sửa phiếu, tối đa 2.000 ký tự. / Say why the form is corrected (at most 2,000 characters).".into()));
        }
        // Keyed from the paper original: so the paper must have arrived (approving without it
        // takes a reason; a correction always has one, so it cannot stand in for the paper).
        if let Some(serial) = self.paper_missing(household)? {
            return Err(IntakeError::Declined(format!(
                "Bản giấy của phiếu {serial} chưa được ghi nhận đến: chỉ sửa phiếu theo bản giấy khi bản giấy đã đến. Hãy ghi nhận bản giấy ở trang Đối chiếu trước, rồi gửi lại."
            )));
        }
        let form = self.form()?;
        let validation = forms::validate::validate(&form, &answers);
        if !validation.complete {
            // Each problem by the question's printed number, in Vietnamese, in form order.
            let number = |id: &str| {
                form.question(id)
                    .map(|q| {
                        if q.number.trim().is_empty() {
                            q.id.clone()
                        } else {
                            q.number.clone()
                        }
                    })
                    .unwrap_or_else(|| id.to_string())
            };
            let mut problems: Vec<(usize, String)> = validation
                .errors
                .iter()
                .map(|e| {
                    (
                        form.slot(&e.question).unwrap_or(usize::MAX),
                        format!(
                            "Câu {}: {}",
                            number(&e.question),
                            crate::words::answer_error(&e.error)
                        ),
                    )
                })
                .collect();
            problems.extend(validation.required_remaining.iter().map(|q| {
                (
                    form.slot(q).unwrap_or(usize::MAX),
                    format!(
                        "Câu {}: bắt buộc, còn trống (phiếu để trống thì nhập -, không đọc được thì nhập ?)",
                        number(q)
                    ),
                )
            }));
            problems.sort();
            return Err(IntakeError::BadRequest(format!(
                "Phiếu chưa đủ hoặc còn lỗi, chưa có gì được lưu. {}.",
                problems
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        let (serial, ..) = self
            .store
            .household_place(household)?
            .filter(|(.., has_answers)| *has_answers)
            .ok_or(IntakeError::NotFound)?;
        let campaign = self.store.campaign()?;
        let sheet = sync_protocol::seal::AnswerSheet {
            form: form.reference(),
            household: household.into(),
            serial,
            answers,
            keyings_apart: vec![],
        };
        let sealed = sync_protocol::seal::seal(
            &campaign.ministry_public_key,
            &sheet,
            &form.question_order(),
            &mut rand::rngs::OsRng,
        )?;
        self.store
            .record_ministry_correction(household, &sealed, reason, by, Utc::now())?;
        self.audit(
            by,
            "form_corrected",
            &format!("phiếu {}: {reason}", self.serial_of(household)?),
            address,
            Utc::now(),
        )?;
        Ok(())
    }

    /// The ministry approves a form, or flags it with a reason (to check against its paper).
    pub fn review(
        &self,
        household: &str,
        decision: &str,
        reason: &str,
        by: &str,
        address: &str,
    ) -> Result<(), IntakeError> {
        let reason = reason.trim();
        match decision {
            "approved" => {}
            "flagged" if !reason.is_empty() => {}
            "flagged" => {
                return Err(IntakeError::Declined(
                    "Hãy ghi lý do gắn cờ phiếu. / Say why the form is flagged.".into(),
                ))
            }
            other => {
                return Err(IntakeError::BadRequest(format!(
                    "{other:?} is not a review decision (approved, flagged)"
                )))
            }
        }
        if reason.chars().count() > 2000 {
            return Err(IntakeError::Declined(
                "Lý do dài quá 2.000 ký tự. / The reason is over 2,000 characters.".into(),
            ));
        }
        // Approving is checking against the paper: with no paper yet, only with a reason
        // written down (the paper was lost, say), so nothing is approved blind by a slip.
        if decision == "approved" && reason.is_empty() {
            if let Some(serial) = self.paper_missing(household)? {
                return Err(IntakeError::Declined(format!(
                    "Bản giấy của phiếu {serial} chưa đến: chưa duyệt được. Nếu bản giấy đã mất, hãy ghi lý do rồi duyệt."
                )));
            }
        }
        self.store
            .record_review(household, decision, reason, by, Utc::now())
            .map_err(|e| match e {
                crate::store::StoreError::Corrupt(m) => IntakeError::BadRequest(m),
                other => other.into(),
            })?;
        self.audit(
            by,
            "form_reviewed",
            &format!(
                "phiếu {}: {}{}",
                self.serial_of(household)?,
                if decision == "approved" {
                    "đã duyệt"
                } else {
                    "gắn cờ"
                },
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {reason}")
                }
            ),
            address,
            Utc::now(),
        )?;
        Ok(())
    }

    /// The household's serial when its paper form has not been recorded as arrived.
    pub fn paper_missing(&self, household: &str) -> Result<Option<String>, IntakeError> {
        let serial = self.serial_of(household)?;
        let arrived = self
            .store
            .paper_has_arrived(&crate::reconcile::normalize_serial(&serial))?;
        Ok((!arrived).then_some(serial))
    }

    /// The serials whose paper form has been recorded, as printed.
    pub fn paper_arrived(&self) -> Result<std::collections::HashSet<String>, IntakeError> {
        Ok(self
            .store
            .paper_serials()?
            .iter()
            .map(|s| crate::reconcile::normalize_serial(s))
            .collect())
    }

    /// Approves each of `households` whose paper has arrived (the check of
    /// [`Intake::review`]); returns how many were approved and the serials left for their
    /// paper.
    pub fn approve_with_paper(
        &self,
        households: &[String],
        by: &str,
        address: &str,
    ) -> Result<(usize, Vec<String>), IntakeError> {
        let paper = self.paper_arrived()?;
        let mut waiting = Vec::new();
        let mut approved = 0;
        for household in households {
            let serial = self.serial_of(household)?;
            if paper.contains(&crate::reconcile::normalize_serial(&serial)) {
                self.review(household, "approved", "", by, address)?;
                approved += 1;
            } else {
                waiting.push(serial);
            }
        }
        Ok((approved, waiting))
    }

    /// Paradata anomalies (no answer is read).
    pub fn anomalies(&self) -> Result<crate::anomalies::Anomalies, IntakeError> {
        self.anomalies_of(&self.store.event_facts()?)
    }

    /// [`Intake::anomalies`] of facts already read.
    pub fn anomalies_of(
        &self,
        facts: &[crate::store::EventFacts],
    ) -> Result<crate::anomalies::Anomalies, IntakeError> {
        let campaign = self.store.campaign()?;
        Ok(crate::anomalies::check(
            facts,
            &campaign.info.timeline,
            self.time_zone()?,
            self.form()?.questions.len(),
        ))
    }

    pub fn reconciliation(&self) -> Result<crate::reconcile::Reconciliation, IntakeError> {
        Ok(crate::reconcile::reconcile(
            &self.store.expected_forms()?,
            &self.store.paper_serials()?,
        ))
    }

    /// Records paper forms arriving: the serials of `serials_text`, one a line as a barcode
    /// scanner types them, or several on a line as typed by hand (read as
    /// [`crate::reconcile::serials_in`] reads them). Lines with anything that is no serial are
    /// not recorded and come back as typed — one bad scan does not cost the others. Returns how
    /// many were recorded and the lines left out.
    pub fn record_paper(
        &self,
        serials_text: &str,
        by: &str,
        address: &str,
    ) -> Result<PaperRecorded, IntakeError> {
        // A printed serial: letters, digits and hyphens, numbered (a word is no serial).
        let is_serial = |s: &String| {
            s.len() <= 40
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && s.chars().any(|c| c.is_ascii_digit())
        };
        // A recording is a parcel's worth, or a day's: far more is a paste gone wrong, and a
        // page asking to take it back, or a box holding it again, would be megabytes.
        let lines = serials_text.lines().filter(|l| !l.trim().is_empty());
        if lines.clone().count() > PAPER_LINES_MAX
            || crate::reconcile::serials_in(serials_text).len() > PAPER_LINES_MAX
        {
            return Err(IntakeError::Declined(format!(
                "Một lần ghi nhận nhiều nhất 20.000 số phiếu: hãy chia ra vài lần. / At most {PAPER_LINES_MAX} serials a recording: record them in parts."
            )));
        }
        let (mut serials, mut left_out) = (Vec::new(), Vec::new());
        // Recorded all the same (the paper did arrive), and named: a serial of no household
        // of the sample is most often a slip of the keyboard or the scanner.
        let (mut not_in_sample, mut unknown) = (Vec::new(), std::collections::HashSet::new());
        for line in lines {
            // Several on a line, as typed by hand, are read as the move page reads them, but
            // only when each is a serial of the sample: «QT24 00078» is one serial mistyped,
            // not two. A line with anything else comes back whole, to be mended in place.
            let on_line: Vec<String> = crate::reconcile::serials_in(line)
                .iter()
                .map(|s| crate::reconcile::normalize_serial(s))
                .collect();
            let mut taken = on_line.iter().all(is_serial);
            // Each as the sample prints it where it names a household: one typed without its
            // hyphen («QT2400012») is recorded as printed, not as a serial of no household.
            let mut printed = Vec::with_capacity(on_line.len());
            if taken {
                for s in &on_line {
                    match self.household_by_typed_serial(s, |_| true)? {
                        Some((_, as_printed)) => printed.push(as_printed),
                        None if on_line.len() > 1 => {
                            taken = false;
                            break;
                        }
                        None => {
                            if unknown.insert(s.clone()) {
                                not_in_sample.push(s.clone());
                            }
                            printed.push(s.clone());
                        }
                    }
                }
            }
            if taken {
                serials.extend(printed);
            } else {
                left_out.push(line.trim().to_string());
            }
        }
        if serials.is_empty() && left_out.is_empty() {
            return Err(IntakeError::Declined("Chưa có số phiếu nào.".into()));
        }
        let mut recorded_before = Vec::new();
        if !serials.is_empty() {
            // Serials an earlier recording holds already: said, as a repeat within one is.
            let arrived = self.paper_arrived()?;
            recorded_before = serials
                .iter()
                .filter(|s| arrived.contains(*s))
                .cloned()
                .collect();
            recorded_before.sort();
            recorded_before.dedup();
            let now = Utc::now();
            // Its own random name: two recordings in one millisecond (a double press, two
            // officers on one login) stay two, each taken back alone. No time in it: the audit
            // shows the name, and times are said in the campaign's zone there.
            let batch = format!("{by}-{:012x}", rand::random::<u64>() >> 16);
            self.store.record_paper(&batch, &serials, by, now)?;
            // Which serials, as many as an audit row holds (the recording itself keeps them all,
            // and taking it back audits every one).
            let head = format!("lần ghi nhận {batch}: {} số phiếu", serials.len());
            let (named, more) = serials_within(&serials, AUDIT_SERIALS_BUDGET - head.len() - 25);
            self.audit(
                by,
                "paper_recorded",
                &format!(
                    "{head} ({}{})",
                    named.join(", "),
                    if more > 0 {
                        format!(", và {more} số khác")
                    } else {
                        String::new()
                    }
                ),
                address,
                now,
            )?;
        }
        let distinct = serials
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        Ok(PaperRecorded {
            recorded: serials.len(),
            distinct,
            left_out,
            not_in_sample,
            recorded_before,
        })
    }

    /// The serials of `batch` that another recording holds too (each once, sorted): they stay
    /// arrived when `batch` is taken back.
    pub fn paper_held_elsewhere(
        &self,
        batch: &crate::store::PaperBatch,
    ) -> Result<Vec<String>, IntakeError> {
        let normalize = crate::reconcile::normalize_serial;
        let mut times: std::collections::HashMap<String, i64> = Default::default();
        for s in self.store.paper_serials()? {
            *times.entry(normalize(&s)).or_default() += 1;
        }
        for s in &batch.serials {
            *times.entry(normalize(s)).or_default() -= 1;
        }
        let mut elsewhere: Vec<String> = batch
            .serials
            .iter()
            .filter(|s| times.get(&normalize(s)).is_some_and(|n| *n > 0))
            .cloned()
            .collect();
        elsewhere.sort();
        elsewhere.dedup();
        Ok(elsewhere)
    }

    /// The serials of `batch` whose form the ministry keyed again from the paper, leaving out
    /// those `elsewhere` (recorded again, so still arrived), sorted: taking `batch` back leaves
    /// their correction standing on paper no longer recorded, which is said before.
    pub fn paper_corrected_from(
        &self,
        batch: &crate::store::PaperBatch,
        elsewhere: &[String],
    ) -> Result<Vec<String>, IntakeError> {
        let normalize = crate::reconcile::normalize_serial;
        let in_batch: std::collections::HashSet<String> =
            batch.serials.iter().map(|s| normalize(s)).collect();
        let mut corrected = Vec::new();
        for household in self.store.corrected_households()?.keys() {
            let serial = self.serial_of(household)?;
            if in_batch.contains(&normalize(&serial)) && !elsewhere.contains(&serial) {
                corrected.push(serial);
            }
        }
        corrected.sort();
        Ok(corrected)
    }

    /// Takes back one recording of paper (a wrong scan, the wrong bundle): its serials no longer
    /// count as arrived. Returns them, as recorded, to be mended and recorded again. Audited
    /// with every serial, so nothing typed is lost.
    pub fn withdraw_paper(
        &self,
        batch: &str,
        by: &str,
        address: &str,
    ) -> Result<Vec<String>, IntakeError> {
        // When it was recorded, as the page showed it, to find it in the log by more than name.
        let tz = self.time_zone()?;
        let recorded_at = self
            .store
            .paper_batch(batch)?
            .and_then(|b| chrono::DateTime::parse_from_rfc3339(&b.at).ok())
            .map(|t| {
                t.with_timezone(&tz)
                    .format(" (ghi lúc %d/%m/%Y %H:%M:%S)")
                    .to_string()
            })
            .unwrap_or_default();
        let serials = self.store.withdraw_paper(batch)?;
        // Every serial, in as many rows as it takes: once taken back, the log is the only
        // place they are kept.
        let head = format!(
            "huỷ lần ghi nhận {batch}{recorded_at}: {} số phiếu",
            serials.len()
        );
        let mut rest: &[String] = &serials;
        let mut parts = Vec::new();
        while !rest.is_empty() {
            let (named, more) = serials_within(rest, AUDIT_SERIALS_BUDGET - head.len() - 20);
            parts.push(named.join(", "));
            rest = &rest[rest.len() - more..];
        }
        let now = Utc::now();
        for (n, part) in parts.iter().enumerate() {
            let detail = match parts.len() {
                1 => format!("{head} ({part})"),
                all => format!("{head}, phần {}/{all} ({part})", n + 1),
            };
            self.audit(by, "paper_withdrawn", &detail, address, now)?;
        }
        Ok(serials)
    }

    /// Who collected each household's form (the latest collection the centre accepted): the
    /// enumerator a back-check visit checks. A household moved after its collection stays its
    /// collector's work; one with no collection recorded is its holder's.
    fn collectors(&self) -> Result<HashMap<String, String>, IntakeError> {
        let mut latest: HashMap<String, (i64, String)> = HashMap::new();
        for f in self.store.event_facts()? {
            let Some(household) = f.household.filter(|_| f.kind == "form_collected") else {
                continue;
            };
            match latest.get(&household) {
                Some((at, _)) if *at > f.occurred_unix => {}
                _ => {
                    latest.insert(household, (f.occurred_unix, f.enumerator));
                }
            }
        }
        Ok(latest.into_iter().map(|(h, (_, e))| (h, e)).collect())
    }

    /// Draws the back-check sample (reproducible from its seed) and records the draw.
    pub fn draw_backcheck(
        &self,
        seed: &str,
        share_percent: u32,
        min_per_enumerator: u32,
        by: &str,
        address: &str,
    ) -> Result<i64, IntakeError> {
        // The seed as it is read back: trimmed, and in Unicode's composed form (NFC), so that a
        // seed typed again on any keyboard draws the same list.
        let seed: String = unicode_normalization::UnicodeNormalization::nfc(seed.trim()).collect();
        let seed = seed.as_str();
        if seed.trim().is_empty() || seed.len() > 100 || !(1..=100).contains(&share_percent) {
            return Err(IntakeError::Declined("Hãy ghi số khởi tạo (tối đa 100 ký tự) và tỷ lệ từ 1 đến 100 %. / Give a seed (up to 100 characters) and a share from 1 to 100 %.".into()));
        }
        // Each form under the enumerator who collected it (docs/statistics.md).
        let collectors = self.collectors()?;
        let mut forms = self.store.expected_forms()?;
        for f in &mut forms {
            if let Some(collector) = collectors.get(&f.household) {
                f.enumerator.clone_from(collector);
            }
        }
        let sample = crate::reconcile::backcheck_sample(
            &forms,
            seed.trim(),
            share_percent,
            min_per_enumerator,
        );
        let households: Vec<String> = sample
            .iter()
            .flat_map(|(_, l)| l.iter().map(|f| f.household.clone()))
            .collect();
        let now = Utc::now();
        let id = self.store.record_backcheck_draw(
            seed.trim(),
            share_percent,
            min_per_enumerator,
            &households,
            by,
            now,
        )?;
        self.audit(
            by,
            "backcheck_drawn",
            &format!(
                "lượt rút {id}, số khởi tạo {:?}, {share_percent} %, tối thiểu {min_per_enumerator} hộ mỗi điều tra viên: {} hộ",
                seed.trim(),
                households.len()
            ),
            address,
            now,
        )?;
        Ok(id)
    }

    /// A kept draw with what a visitor needs of each household and the outcomes so far.
    pub fn backcheck_draw(
        &self,
        id: i64,
    ) -> Result<
        (
            crate::store::BackcheckDraw,
            Vec<crate::store::HouseholdToVisit>,
            HashMap<String, crate::store::BackcheckOutcome>,
        ),
        IntakeError,
    > {
        let draw = self
            .store
            .backcheck_draws()?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(IntakeError::NotFound)?;
        let collectors = self.collectors()?;
        let mut households = self.store.households_to_visit(&draw.households)?;
        for h in &mut households {
            if let Some(collector) = collectors.get(&h.id) {
                h.enumerator.clone_from(collector);
            }
        }
        let outcomes = self
            .store
            .backcheck_outcomes()?
            .into_iter()
            .map(|found| (found.household.clone(), found))
            .collect();
        Ok((draw, households, outcomes))
    }
}

impl Intake {
    /// Publishes the index for the public — the levels from the province down to `level`, no
    /// area under `min_forms` forms — computed now with the key's passphrase. Audited.
    pub fn publish(
        &self,
        passphrase: &str,
        level: &str,
        min_forms: u64,
        min_coverage_percent: u32,
        by: &str,
        address: &str,
    ) -> Result<crate::publication::Published, IntakeError> {
        let finest = crate::publication::parse_level(level).ok_or_else(|| {
            IntakeError::Declined(
                "Hãy chọn cấp công bố: tỉnh, huyện hoặc xã (thôn quá ít hộ để công bố). / Choose province, district or commune; a village has too few households to publish."
                    .into(),
            )
        })?;
        if min_forms > 100_000 {
            return Err(IntakeError::Declined(
                "Số phiếu tối thiểu quá lớn. / The minimum number of forms is too large.".into(),
            ));
        }
        if min_coverage_percent > 100 {
            return Err(IntakeError::Declined(
                "Độ phủ tối thiểu là một tỷ lệ từ 0 đến 100 %. / The minimum coverage is a share from 0 to 100 %.".into(),
            ));
        }
        let computed = self.index(passphrase, by, address)?;
        let campaign = self.store.campaign()?;
        let mut published = crate::publication::figures(
            &campaign.info.id,
            &computed.report,
            finest,
            min_forms,
            min_coverage_percent,
            &self.store.place_names()?,
            &crate::publication::Sample {
                areas: self.store.area_parents()?,
            },
        );
        published.method = crate::publication::method_text(self.form_versions()?.current());
        let json = serde_json::to_string(&published)
            .map_err(|e| IntakeError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
        self.store.publish(&json, by, Utc::now())?;
        self.audit(
            by,
            "published",
            &format!(
                "đến cấp {}, tối thiểu {} phiếu: {} địa bàn, {} địa bàn không đủ phiếu",
                match level {
                    "province" => "tỉnh",
                    "district" => "huyện",
                    _ => "xã",
                },
                published.min_forms,
                published.areas.len(),
                published.suppressed
            ),
            address,
            Utc::now(),
        )?;
        Ok(published)
    }

    /// Takes the public figures down. Audited; false when nothing was public.
    pub fn withdraw_publication(&self, by: &str, address: &str) -> Result<bool, IntakeError> {
        let withdrawn = self.store.withdraw_publication(by, Utc::now())?;
        if withdrawn {
            self.audit(by, "publication_withdrawn", "", address, Utc::now())?;
        }
        Ok(withdrawn)
    }

    /// What the public page shows: the figures as published, and when.
    pub fn publication(
        &self,
    ) -> Result<Option<(crate::publication::Published, String)>, IntakeError> {
        match self.store.publication()? {
            None => Ok(None),
            Some((json, at)) => {
                let p = serde_json::from_str(&json).map_err(|e| {
                    IntakeError::Store(crate::store::StoreError::Corrupt(e.to_string()))
                })?;
                Ok(Some((p, at)))
            }
        }
    }
}

/// A code's Vietnamese label in the sheet's own version, or none (numbers, text).
fn code_label(
    version: &forms::Form,
    q: &forms::load::Question,
    code: &serde_json::Value,
) -> Option<String> {
    q.choices
        .as_ref()
        .and_then(|list| version.definition.choice_lists.get(list))
        .and_then(|choices| choices.iter().find(|c| Some(c.code) == code.as_i64()))
        .map(|c| c.label.vi.clone())
        .or_else(|| {
            let special = &version.definition.special_codes;
            match code.as_i64() {
                c if c.is_some() && c == special.not_applicable => Some("Không áp dụng".into()),
                c if c.is_some() && c == special.no_answer => Some("Không trả lời".into()),
                _ => None,
            }
        })
}

/// One answer of a sheet as people read it: (the value as keyed, its codes' labels), each with
/// the reason in brackets when it does not count («[Câu không áp dụng] 2»). `column` is the
/// question as the export heads it; the sheet's own `version` reads and labels it.
pub fn cell(
    version: &forms::Form,
    column: &forms::load::Question,
    answers: &std::collections::BTreeMap<String, serde_json::Value>,
    readings: &std::collections::BTreeMap<String, forms::answer::Reading>,
) -> (String, String) {
    let plain = |v: &serde_json::Value| {
        v.as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string())
    };
    let reading = readings.get(&column.id);
    let answer = answers
        .get(&column.id)
        .filter(|v| !forms::answer::is_empty(v) || reading.is_some());
    let marker = reading.and_then(|r| r.marker_vi());
    let invalid = reading.is_some_and(|r| r.is_anomaly());
    let mark = answer.and_then(forms::answer::Mark::of);
    let values: Vec<&serde_json::Value> = match answer {
        None => vec![],
        Some(_) if mark.is_some() => vec![],
        Some(serde_json::Value::Array(codes)) if marker.is_none() => codes.iter().collect(),
        Some(v) => vec![v],
    };
    let mut raw = values
        .iter()
        .map(|v| {
            if marker.is_some() {
                v.to_string()
            } else {
                plain(v)
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    // A mark where it does not belong ("several boxes" on a multiple choice) is shown as the
    // mark it is.
    if let (Some(m), true) = (mark, invalid) {
        raw = format!("[{}]", m.label_vi());
    }
    let raw = match &marker {
        Some(m) if raw.is_empty() => format!("[{m}]"),
        Some(m) => format!("[{m}] {raw}"),
        None => raw,
    };
    // Labelled as the sheet's version lists its codes; a value that is not one of the codes
    // has no label (8 where «không áp dụng» is not allowed is not that).
    let q = version.question(&column.id).unwrap_or(column);
    let labels = if invalid || q.choices.is_none() {
        String::new()
    } else {
        values
            .iter()
            .filter_map(|v| code_label(version, q, v))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let labels = match (&marker, labels.is_empty()) {
        (Some(m), true) => format!("[{m}]"),
        (Some(m), false) => format!("[{m}] {labels}"),
        (None, _) => labels,
    };
    (raw, labels)
}

/// A question as the export heads its column: «Câu 10.1» as the paper prints it (a bare 10.1
/// and 10.10 would both become the number 10.1 in a spreadsheet), or a question printed
/// without a number (an XLSForm's) by its label.
fn question_title(q: &forms::load::Question) -> String {
    if q.number.trim().is_empty() {
        q.label.vi.chars().take(80).collect()
    } else {
        format!("Câu {}", q.number.trim())
    }
}

/// The most serials one recording of paper takes.
pub const PAPER_LINES_MAX: usize = 20_000;

/// The characters of an audit row's detail left for a list of serials, after its sentence.
const AUDIT_SERIALS_BUDGET: usize = crate::store::AUDIT_DETAIL_MAX - 10;

/// The first of `serials` whose list («A, B, C») fits `budget` characters (at least one), and
/// how many are left out.
fn serials_within(serials: &[String], budget: usize) -> (Vec<&str>, usize) {
    let mut used = 0;
    let mut named = Vec::new();
    for s in serials {
        let cost = s.chars().count() + if named.is_empty() { 0 } else { 2 };
        if !named.is_empty() && used + cost > budget {
            break;
        }
        used += cost;
        named.push(s.as_str());
    }
    let more = serials.len() - named.len();
    (named, more)
}

/// What one keying said at `question` of an opened sheet, written as the sheet's own answer
/// would be (its code with the code's label, a mark in brackets; «(không nhập)» where that
/// keying left the box empty, unlike a mark [để trống] for what the respondent left blank).
fn keyed(
    version: &forms::Form,
    question: &forms::load::Question,
    sheet: &sync_protocol::seal::AnswerSheet,
    said: &Option<serde_json::Value>,
) -> String {
    let mut answers = sheet.answers.clone();
    match said {
        Some(v) => answers.insert(question.id.clone(), v.clone()),
        None => answers.remove(&question.id),
    };
    let readings = forms::answer::read(version, &answers);
    match cell(version, question, &answers, &readings) {
        (raw, _) if raw.is_empty() => "(không nhập)".into(),
        (raw, labels) if labels.is_empty() || labels == raw => raw,
        (raw, labels) => format!("{raw} ({labels})"),
    }
}

/// One question of a sheet opened for review.
pub struct ReviewRow {
    /// As printed on the paper form.
    pub number: String,
    pub label: String,
    /// As keyed, and the codes' labels.
    pub raw: String,
    pub labels: String,
    /// What the first and the second keying said, where a double keying read it differently
    /// (the answer above is what the paper was found to say).
    pub keyings: Option<(String, String)>,
}

/// A sheet opened for review, question by question.
pub struct ReviewSheet {
    pub serial: String,
    pub rows: Vec<ReviewRow>,
    /// Why the sheet could not be opened, when it could not.
    pub unopenable: Option<String>,
}

/// One back-check record in a few bytes a confirmation to replace it carries back.
pub fn backcheck_record_seen(record: &crate::store::BackcheckOutcome) -> String {
    use sha2::Digest;
    let said = format!(
        "{}\n{}\n{}\n{}",
        record.at, record.by, record.outcome, record.note
    );
    hex::encode(&sha2::Sha256::digest(said.as_bytes())[..16])
}
