//! What the tablets report of double keying, and the ministry's own corrections, on the
//! ministry's pages: per form on «Duyệt phiếu», per enumerator and as flags on «Bất thường».

mod support;

use support::pages::*;

fn verified(
    server: &support::TestServer,
    device: &support::TestDevice,
    h: &(String, String),
    mismatches: u32,
) -> sync_protocol::Event {
    let answers = forms::sample::complete_answers(&intake::demo::sipas_2024(), 0);
    let (keyer, verifier) = (mismatches.saturating_sub(1), 1.min(mismatches));
    verified_with_counts(server, device, h, answers, mismatches, keyer, verifier)
}

#[tokio::test(flavor = "multi_thread")]
async fn double_keying_and_corrections_show_on_the_ministrys_pages() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs: Vec<(String, String)> = server
        .households("enum-dh-p2")
        .into_iter()
        .take(3)
        .collect();
    let mut events = Vec::new();
    for (h, mismatches) in hs.iter().zip([2u32, 71]) {
        events.extend(through_verification(
            &device,
            h,
            verified(&server, &device, h, mismatches),
        ));
    }
    // The third is keyed once: its answers come with the second keying.
    let once = &hs[2];
    events.extend([
        device.distributed(once),
        device.collected(once),
        device.transcribed(once),
    ]);
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    // On the reconciliation, with its paper arrived, it is half done, not missing.
    server
        .intake
        .record_paper(&once.1, "bonv", "127.0.0.1")
        .unwrap();
    let reconciliation = get(
        &server,
        "/c/qt-sipas-2024/ministry/reconciliation",
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    let row = reconciliation
        .split("data-village=\"dh-p2-kp1\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("{reconciliation}"));
    assert!(
        row.contains(&format!("<td class=\"l keyed-once\">{}</td>", once.1))
            && row.contains("<td class=\"l missing-digital\"></td>"),
        "{row}"
    );
    assert!(
        reconciliation.contains("chờ nhập lần 2: <b id=\"keyed-once\">1</b>"),
        "{reconciliation}"
    );
    let review = get(&server, "/c/qt-sipas-2024/ministry/review", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        review.contains("lệch 2 câu (lần 1 sai 1, lần 2 sai 1)") && review.contains("lệch 71 câu"),
        "{review}"
    );
    let anomalies = get(&server, "/c/qt-sipas-2024/ministry/anomalies", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(anomalies.contains("id=\"double-keying\""), "{anomalies}");
    let flagged: Vec<&str> = anomalies
        .split("<li data-kind=\"empty_comparison\">")
        .skip(1)
        .collect();
    assert_eq!(
        flagged.len(),
        1,
        "only the form 71 questions apart: {anomalies}"
    );
    assert!(
        flagged[0].contains(&format!("phiếu {}", hs[1].1)),
        "{anomalies}"
    );
    // 73 mismatches over 2 forms: 36,5 a form (a decimal comma, as Vietnamese write it).
    assert!(anomalies.contains("36,5"), "{anomalies}");

    // A correction keyed at the ministry shows on the review page.
    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    let form = intake::demo::sipas_2024();
    // Before any correction the sheet is the verification's: the two questions its keyings
    // read differently are marked, with what each keying said.
    let path = format!("/c/qt-sipas-2024/ministry/review/{}", hs[0].0);
    let asked = get(&server, &path, &session).await.text().await.unwrap();
    let verified_sheet = client()
        .post(format!("{}{path}", server.base))
        .header(reqwest::header::COOKIE, format!("fp_session={session}"))
        .form(&[
            ("csrf", hidden_csrf(&asked).as_str()),
            ("passphrase", PASSPHRASE),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        verified_sheet.contains("Hai lần nhập đọc khác nhau ở 2 câu: ")
            && verified_sheet.matches("<tr class=\"apart\">").count() == 2
            && verified_sheet
                .matches("lần 1: (không nhập); lần 2: ")
                .count()
                == 2,
        "{verified_sheet}"
    );
    // The export says the same, in a column of its own: each question the keyings read apart,
    // with what each read.
    let table = server
        .intake
        .answers_table(PASSPHRASE, "bonv", "127.0.0.1")
        .unwrap();
    let column = table[0]
        .iter()
        .position(|c| c == "hai lần nhập đọc khác nhau")
        .unwrap();
    let exported = &table.iter().find(|r| r[0] == hs[0].0).unwrap()[column];
    assert_eq!(
        exported.matches(" — lần 1: (không nhập); lần 2: ").count(),
        2,
        "{exported}"
    );
    assert!(
        exported.starts_with("Câu ") && exported.contains(" | "),
        "{exported}"
    );
    // The paper's first question was left blank by the respondent.
    let mut corrected = forms::sample::complete_answers(&form, 1);
    let first = form.questions[0].clone();
    corrected.insert(first.id.clone(), forms::answer::Mark::Blank.to_json());
    // Keyed from the paper, so not before the paper has arrived: said on the page before a
    // whole form is keyed, and refused if sent all the same.
    let correction_page = get(
        &server,
        &format!("/c/qt-sipas-2024/ministry/correct/{}", hs[0].0),
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        correction_page.contains(&format!(
            "Bản giấy của phiếu {} chưa được ghi nhận đến",
            hs[0].1
        )),
        "{correction_page}"
    );
    match server.intake.ministry_correction(
        &hs[0].0,
        corrected.clone(),
        "Theo bản giấy",
        "bonv",
        "127.0.0.1",
    ) {
        Err(intake::error::IntakeError::Declined(m)) => {
            assert!(m.contains("chưa được ghi nhận đến"))
        }
        other => panic!("a correction before its paper: {other:?}"),
    }
    server
        .intake
        .record_paper(&hs[0].1, "bonv", "127.0.0.1")
        .unwrap();
    server
        .intake
        .ministry_correction(&hs[0].0, corrected, "Theo bản giấy", "bonv", "127.0.0.1")
        .unwrap();
    // Asked to take that paper back, the page says a correction stands on it.
    let recording = server.intake.store.paper_batches(1).unwrap().remove(0);
    assert_eq!(recording.serials, [hs[0].1.clone()]);
    let reconciliation = get(
        &server,
        "/c/qt-sipas-2024/ministry/reconciliation",
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    let question = client()
        .post(format!(
            "{}/c/qt-sipas-2024/ministry/paper/withdraw",
            server.base
        ))
        .header(reqwest::header::COOKIE, format!("fp_session={session}"))
        .form(&[
            ("csrf", hidden_csrf(&reconciliation).as_str()),
            ("batch", recording.batch.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        question.contains(&format!(
            "id=\"corrected\">Phiếu {} đã được nhập sửa theo bản giấy này",
            hs[0].1
        )),
        "{question}"
    );
    // The correction's address by printed serial, typed any way, leads to the household's.
    let by_serial = get(
        &server,
        &format!(
            "/c/qt-sipas-2024/ministry/correct/{}",
            hs[0].1.to_lowercase().replace('-', "")
        ),
        &session,
    )
    .await;
    assert_eq!(
        by_serial.headers()[reqwest::header::LOCATION],
        format!("/c/qt-sipas-2024/ministry/correct/{}", hs[0].0).as_str()
    );
    let review = get(&server, "/c/qt-sipas-2024/ministry/review", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(review.contains("Đã nhập sửa theo bản giấy"), "{review}");

    // Issue 19 item 5: a form's answers beside its review, behind the passphrase.
    let path = format!("/c/qt-sipas-2024/ministry/review/{}", hs[0].0);
    assert!(review.contains(&format!("href=\"ministry/review/{}\"", hs[0].0)));
    let asked = get(&server, &path, &session).await.text().await.unwrap();
    assert!(
        asked.contains(&format!("Duyệt phiếu số {}", hs[0].1))
            && asked.contains("Cụm mật khẩu mở phiếu")
            && !asked.contains("sheet-answers"),
        "{asked}"
    );
    // Beside it, before any answer: where and by whom, the paper, the double keying, and
    // what has been decided so far.
    let name = &server.intake.enumerator_names().unwrap()["enum-dh-p2"];
    assert!(
        asked.contains("id=\"review-facts\"")
            && asked.contains(name.as_str())
            && asked.contains("đã đến trung tâm")
            && asked.contains("lệch 2 câu (lần 1 sai 1, lần 2 sai 1)")
            && asked.contains(&format!(
                "chưa quyết định; đã nhập sửa theo bản giấy — Theo bản giấy ({}, ",
                server
                    .intake
                    .person_name("bonv")
                    .unwrap()
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            ))
            && asked.contains(
                "câu trả lời dưới đây là bản nhập sửa theo bản giấy, thay cho cả hai lần nhập"
            )
            && !asked.contains("không có so sánh thật"),
        "{asked}"
    );
    // An address with the printed serial (as on the paper in hand) leads to the form's page;
    // one with neither says so.
    // Typed without its hyphen, too.
    let by_serial = get(
        &server,
        &format!(
            "/c/qt-sipas-2024/ministry/review/{}",
            hs[0].1.to_lowercase().replace('-', "")
        ),
        &session,
    )
    .await;
    assert_eq!(
        by_serial.headers()[reqwest::header::LOCATION],
        format!("/c/qt-sipas-2024/ministry/review/{}", hs[0].0).as_str()
    );
    let nowhere = get(
        &server,
        "/c/qt-sipas-2024/ministry/review/QT24-77777",
        &session,
    )
    .await;
    assert_eq!(nowhere.status(), 404);
    assert!(nowhere
        .text()
        .await
        .unwrap()
        .contains("Không có hộ nào như vậy trong đợt khảo sát này."));
    // The form whose keyings differ on 71 questions had one keying (nearly) blank: its page
    // says there was no real comparison, not merely that the keyings differ.
    let empty = get(
        &server,
        &format!("/c/qt-sipas-2024/ministry/review/{}", hs[1].0),
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        empty.contains(&format!(
            "lệch ở 71 trên {} câu: một lần nhập gần như trống, nên không có so sánh thật",
            form.questions.len()
        )),
        "{empty}"
    );
    let open = |passphrase: &'static str| {
        let (url, session, csrf) = (
            format!("{}{path}", server.base),
            session.clone(),
            hidden_csrf(&asked),
        );
        async move {
            client()
                .post(url)
                .header(reqwest::header::COOKIE, format!("fp_session={session}"))
                .form(&[("csrf", csrf.as_str()), ("passphrase", passphrase)])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = open("không phải cụm này").await;
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    assert!(
        !wrong.contains("sheet-answers") && wrong.contains("role=\"alert\""),
        "{wrong}"
    );
    let shown = open(PASSPHRASE).await;
    assert_eq!(shown.status(), 200);
    let shown = shown.text().await.unwrap();
    assert!(shown.contains("id=\"sheet-answers\""), "{shown}");
    assert!(
        shown.contains(&format!(
            "<a id=\"correct\" href=\"ministry/correct/{}\">",
            hs[0].0
        )),
        "a form found wrong is keyed again from its own page"
    );
    assert!(
        !shown.contains("keyings-apart") && !shown.contains("class=\"apart\""),
        "the correction keyed from paper replaced the verified sheet, keyings and all: {shown}"
    );
    let first_row = shown
        .split("<tbody>")
        .nth(1)
        .and_then(|t| t.split("</tr>").next())
        .unwrap();
    assert!(
        first_row.contains(&first.number) && first_row.contains("[để trống]"),
        "the blank shown as what it is: {first_row}"
    );
    assert_eq!(
        shown.matches("<tr><td>").count() + shown.matches("<tr class=\"apart\"><td>").count(),
        form.questions.len(),
        "every question of the sheet's version"
    );
    assert!(
        shown.contains("value=\"approved\""),
        "the decision beside the answers"
    );
    let log = server.centre.accounts().audit_log(20).unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "answers_viewed" && e.detail.contains(&hs[0].1)),
        "{log:?}"
    );
    assert!(log.iter().any(|e| e.action == "answers_view_refused"
        && e.detail.starts_with(&format!("phiếu số {}: ", hs[0].1))));
    // A supervisor may not see answers: the path is not there for them.
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    assert_eq!(get(&server, &path, &supervisor).await.status(), 404);

    // Several forms approved at once: the ticked ones, each recorded as its own decision —
    // those whose paper has arrived (hs[0]'s, recorded before its correction).
    // Nothing ticked: said on the list, nothing decided.
    let none = client()
        .post(format!(
            "{}/c/qt-sipas-2024/ministry/review/approve",
            server.base
        ))
        .header(reqwest::header::COOKIE, format!("fp_session={session}"))
        .form(&[("csrf", hidden_csrf(&review).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 303);
    let said = get(&server, "/c/qt-sipas-2024/ministry/review", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        said.contains("Chưa đánh dấu phiếu nào để duyệt: đánh dấu ô"),
        "{said}"
    );
    assert!(server.intake.store.reviews().unwrap().is_empty());
    let approved = client()
        .post(format!(
            "{}/c/qt-sipas-2024/ministry/review/approve",
            server.base
        ))
        .header(reqwest::header::COOKIE, format!("fp_session={session}"))
        .form(&[
            ("csrf", hidden_csrf(&review).as_str()),
            (format!("h_{}", hs[0].0).as_str(), "yes"),
            (format!("h_{}", hs[1].0).as_str(), "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 303);
    let said = get(&server, "/c/qt-sipas-2024/ministry/review", &session)
        .await
        .text()
        .await
        .unwrap();
    // Only the form whose paper has arrived is approved; the other is named.
    let reviews = server.intake.store.reviews().unwrap();
    assert_eq!(
        reviews.get(&hs[0].0).map(|r| r.0.as_str()),
        Some("approved")
    );
    assert!(reviews.get(&hs[1].0).is_none());
    assert!(
        said.contains("Đã duyệt 1 phiếu. 1 phiếu chưa duyệt vì bản giấy chưa đến")
            && said.contains(&hs[1].1),
        "{said}"
    );
    // The form's page now says so, read for that household alone: the paper has arrived, and
    // the decision names who took it.
    let facts = get(&server, &path, &session).await.text().await.unwrap();
    let facts = facts
        .split("id=\"review-facts\"")
        .nth(1)
        .and_then(|f| f.split("</dl>").next())
        .unwrap_or_else(|| panic!("{facts}"));
    assert!(
        facts.contains("đã đến trung tâm")
            && facts.contains("Đã duyệt")
            && facts.contains("Bộ Nội vụ")
            && facts.contains("lệch 2 câu")
            && facts.contains("Khu phố 1, Phường 2"),
        "{facts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_campaign_menu_leads_to_the_comparison_and_no_link_leads_to_a_page_not_there() {
    let server = setup().await;
    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let index = get(&server, "/c/qt-sipas-2024/ministry/index", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        index.contains("id=\"compare-link\" href=\"/compare/sipas\""),
        "{index}"
    );
    assert!(
        !index.contains("href=\"/public/qt-sipas-2024\""),
        "nothing is public yet: no link to a page that answers «not found»"
    );
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let progress = get(&server, "/c/qt-sipas-2024/progress", &supervisor)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !progress.contains("compare-link"),
        "not a supervisor's page"
    );
    // The campaign double-keys: each card counts the checked forms too.
    assert!(progress.contains("<dt>Đã kiểm tra</dt>"), "{progress}");

    // Issue 20 item 10: a wrong method on a ministry page is 405 only to the ministry; to a
    // supervisor or a stranger it is 404, like a page that does not exist.
    let delete = |session: Option<String>, path: &'static str| {
        let url = format!("{}{path}", server.base);
        async move {
            let mut request = client().delete(url);
            if let Some(s) = session {
                request = request.header(reqwest::header::COOKIE, format!("fp_session={s}"));
            }
            let response = request.send().await.unwrap();
            let allow = response
                .headers()
                .get(reqwest::header::ALLOW)
                .map(|a| a.to_str().unwrap().to_string());
            (response.status().as_u16(), allow)
        }
    };
    // A 405 says which methods the page takes (RFC 9110 §15.5.6); a 404 names none, or the
    // header would tell what the status hides.
    let get_only = Some("GET,HEAD".to_string());
    let anomalies = "/c/qt-sipas-2024/ministry/anomalies";
    assert_eq!(
        delete(Some(session.clone()), anomalies).await,
        (405, get_only.clone())
    );
    assert_eq!(
        delete(Some(supervisor.clone()), anomalies).await,
        (404, None)
    );
    assert_eq!(delete(None, anomalies).await, (404, None));
    assert_eq!(
        delete(Some(supervisor.clone()), "/admin").await,
        (404, None)
    );
    assert_eq!(
        delete(Some(supervisor.clone()), "/c/qt-sipas-2024/progress").await,
        (405, get_only)
    );

    // A page's address with a slash added leads to the page, its query kept; never elsewhere.
    let slashed = |path: &'static str| {
        let url = format!("{}{path}", server.base);
        let session = supervisor.clone();
        async move {
            let r = client()
                .get(url)
                .header(reqwest::header::COOKIE, format!("fp_session={session}"))
                .send()
                .await
                .unwrap();
            let to = r
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| l.to_str().unwrap().to_string());
            (r.status().as_u16(), to)
        }
    };
    assert_eq!(
        slashed("/c/qt-sipas-2024/progress/?from=2024-11-01").await,
        (
            308,
            Some("/c/qt-sipas-2024/progress?from=2024-11-01".into())
        )
    );
    assert_eq!(slashed("//evil.example/").await.0, 404);
    assert_eq!(slashed("/c/qt-sipas-2024/progress//").await.0, 404);
}
