//! The centre's pages over real HTTP, trying to break in: no session, forged or missing CSRF
//! tokens, a planted session cookie, wrong passwords past the limit, another district's ids,
//! injection in free text — and a supervisor never sees an answer.

mod support;

use intake::accounts::{hash_password, Account, Role};
use reqwest::{header, StatusCode};
use support::pages::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_sees_only_their_district_and_never_an_answer() {
    let server = setup().await;
    // Some synced work in Đông Hà, a sealed form among it.
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2")[0].clone();
    let sealed = device.sealed(&h);
    let batch = device.next_batch(vec![
        device.distributed(&h),
        device.collected(&h),
        device.transcribed(&h),
        device.verified_with(&h, sealed.clone()),
    ]);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    // Nothing without a session.
    let r = client()
        .get(format!("{}/c/qt-sipas-2024/progress", server.base))
        .send()
        .await
        .unwrap();
    // To log in, and back to the page asked for after.
    assert_eq!(
        (r.status(), r.headers()[header::LOCATION].to_str().unwrap()),
        (
            StatusCode::SEE_OTHER,
            "/login?next=%2Fc%2Fqt-sipas-2024%2Fprogress"
        )
    );
    assert_eq!(
        client()
            .get(format!("{}/c/qt-sipas-2024/api/progress", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&server, "/c/qt-sipas-2024/api/progress", "made-up-token")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let session = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let report: serde_json::Value = get(&server, "/c/qt-sipas-2024/api/progress", &session)
        .await
        .json()
        .await
        .unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "Đông Hà's six villages");
    assert!(rows.iter().all(|r| r["district_id"] == "dh"));
    let kp1 = rows
        .iter()
        .find(|r| r["village_id"] == "dh-p2-kp1")
        .unwrap();
    assert_eq!(
        (
            kp1["counts"]["handed_out"].as_u64(),
            kp1["counts"]["transcribed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(kp1["last_sync"].is_string());

    // Never enrolled and enrolled-but-silent are told apart.
    let progress = get(&server, "/c/qt-sipas-2024/progress", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        progress.contains("chưa đăng ký máy — <a href=\"codes\">cấp mã đăng ký</a>")
            && !progress.contains("đã đăng ký máy, chưa đồng bộ"),
        "{progress}"
    );
    // A card's badge names every stage it is short at, with how many forms, as the JSON does.
    let card = between(&progress, "data-village=\"dh-p2-kp1\"", "</article>");
    let badge = between(&card, "<span class=\"badge\">", "</span>");
    let stages: Vec<String> = kp1["behind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let gap = b["expected"].as_u64().unwrap() - b["done"].as_u64().unwrap();
            let stage = match b["stage"].as_str().unwrap() {
                "handed_out" => "phát",
                "collected" => "thu",
                _ => "gửi bưu gói",
            };
            format!("{gap} phiếu {stage}")
        })
        .collect();
    assert!(stages.len() > 1, "{kp1}");
    assert_eq!(badge, format!("Chậm {}", stages.join(", ")));
    let _silent = server.enroll("enum-dh-p4").await;
    let progress = get(&server, "/c/qt-sipas-2024/progress", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(progress.contains("đã đăng ký máy, chưa đồng bộ lần nào"));

    // The chart and the period report (page, CSV, workbook) of their district.
    assert!(get(&server, "/c/qt-sipas-2024/progress", &session)
        .await
        .text()
        .await
        .unwrap()
        .contains("id=\"progress-chart\""));
    let day = chrono::Utc::now().date_naive();
    let report = get(
        &server,
        &format!(
            "/c/qt-sipas-2024/progress/report?from={}&to={}&format=csv",
            day - chrono::Duration::days(40),
            day + chrono::Duration::days(1)
        ),
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        report.starts_with("\u{feff}điều tra viên,mã điều tra viên,đã phát,đã thu,đã nhập"),
        "{report}"
    );
    let name = &server.intake.enumerator_names().unwrap()["enum-dh-p2"];
    assert!(
        report.contains(&format!("\n{name},enum-dh-p2,1,1,1,1,0,0,0")),
        "{report}"
    );
    // A link per month with work, for the monthly report.
    let page = get(&server, "/c/qt-sipas-2024/progress/report", &session)
        .await
        .text()
        .await
        .unwrap();
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%m/%Y")
        .to_string();
    assert!(page.contains(&format!("Tháng {month}")), "{page}");
    // With no dates, the report runs to today in the campaign's zone: today's work is in it.
    let default = get(
        &server,
        "/c/qt-sipas-2024/progress/report?format=csv",
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(default.contains(",enum-dh-p2,1,1,1,1,"), "{default}");
    let xlsx = get(
        &server,
        "/c/qt-sipas-2024/progress/report?format=xlsx",
        &session,
    )
    .await
    .bytes()
    .await
    .unwrap();
    assert_eq!(&xlsx[..2], b"PK");

    // Another district's page does not exist for them; their own does.
    assert_eq!(
        get(&server, "/c/qt-sipas-2024/progress/district/qt", &session)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&server, "/c/qt-sipas-2024/progress/district/dh", &session)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        get(
            &server,
            "/c/qt-sipas-2024/progress/district/nowhere",
            &session
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    // No answer anywhere in what they can reach, and no device endpoint opens up to a cookie.
    let sealed_b64 = sync_protocol::keys::b64(&sealed.0);
    for path in [
        "/c/qt-sipas-2024/progress",
        "/c/qt-sipas-2024/api/progress",
        "/c/qt-sipas-2024/progress/district/dh",
    ] {
        let body = get(&server, path, &session).await.text().await.unwrap();
        assert!(
            !body.contains(&sealed_b64[..40])
                && !body.contains("sealed")
                && !body.contains("answers"),
            "{path}"
        );
    }
    assert_eq!(
        get(&server, sync_protocol::api::PATH_ASSIGNMENT, &session)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // The ministry sees every district; its name is shown escaped, not run.
    let ministry = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let all: serde_json::Value = get(&server, "/c/qt-sipas-2024/api/progress", &ministry)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["rows"].as_array().unwrap().len(), 18);
    let html = get(&server, "/c/qt-sipas-2024/progress", &ministry)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("&lt;script&gt;") && !html.contains("<script>alert"),
        "escaped"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_resist_forged_forms_planted_cookies_guessing_and_injection() {
    let server = setup().await;
    let http = client();

    // A login form without its pre-session token, or with another one, is refused.
    let r = http
        .post(format!("{}/login", server.base))
        .form(&[("login", "gs-dh"), ("password", PASSWORD), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(format!("{}/login", server.base))
        .header(header::COOKIE, "fp_login_csrf=aaa")
        .form(&[("login", "gs-dh"), ("password", PASSWORD), ("csrf", "bbb")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Session fixation: a cookie planted before login is not what the login hands out, and it
    // opens nothing.
    let page = http
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    let pre = cookie_value(&page, "fp_login_csrf").unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = http
        .post(format!("{}/login", server.base))
        .header(
            header::COOKIE,
            format!("fp_login_csrf={pre}; fp_session=planted-by-attacker"),
        )
        .form(&[
            ("login", "gs-dh"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let session = cookie_value(&r, "fp_session").unwrap();
    assert_ne!(session, "planted-by-attacker");
    let set = r.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert_eq!(
        get(
            &server,
            "/c/qt-sipas-2024/api/progress",
            "planted-by-attacker"
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&server, "/c/qt-sipas-2024/api/progress", &session)
            .await
            .status(),
        StatusCode::OK
    );

    // Log-out needs the session's CSRF token.
    let page = get(&server, "/c/qt-sipas-2024/progress", &session)
        .await
        .text()
        .await
        .unwrap();
    let token = hidden_csrf(&page);
    let logout = |csrf: String| {
        let (http, url, session) = (
            http.clone(),
            format!("{}/logout", server.base),
            session.clone(),
        );
        async move {
            http.post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&[("csrf", csrf)])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        logout("forged".into()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&server, "/c/qt-sipas-2024/api/progress", &session)
            .await
            .status(),
        StatusCode::OK,
        "a forged log-out changes nothing"
    );
    assert_eq!(logout(token).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        get(&server, "/c/qt-sipas-2024/api/progress", &session)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // SQL and HTML in the free-text fields of the login form: refused, nothing echoed.
    for login in [
        "' OR '1'='1",
        "gs-dh'; DROP TABLE accounts; --",
        "<img src=x onerror=alert(1)>",
    ] {
        let r = log_in(&server, login, "' OR '1'='1").await.unwrap_err();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(!r.text().await.unwrap().contains("<img src=x"));
    }
    assert!(
        server.centre.accounts().account("gs-dh").unwrap().is_some(),
        "the accounts table is still there"
    );

    // Wrong passwords past the limit: refused for a while, even the right one.
    for _ in 0..5 {
        assert_eq!(
            log_in(&server, "gs-dh", "sai mật khẩu rồi")
                .await
                .unwrap_err()
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        log_in(&server, "gs-dh", PASSWORD)
            .await
            .unwrap_err()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Every attempt is in the audit log.
    let log = server.centre.accounts().audit_log(100).unwrap();
    let count = |action: &str| {
        log.iter()
            .filter(|e| e.action == action && e.login == "gs-dh")
            .count()
    };
    assert_eq!(
        (
            count("login"),
            count("login_failed"),
            count("login_refused")
        ),
        (1, 5, 1)
    );
    assert!(log.iter().all(|e| e.address == "127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ministry_reconciles_paper_draws_back_checks_and_opens_answers_only_with_the_passphrase(
) {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs: Vec<(String, String)> = server
        .households("enum-dh-p2")
        .into_iter()
        .take(3)
        .collect();
    let mut events = Vec::new();
    for (i, h) in hs.iter().enumerate() {
        events.extend([
            device.distributed(h),
            device.collected(h),
            device.event(
                h,
                sync_protocol::EventBody::FormTranscribed {
                    form: "sipas-2024@1".into(),
                    sealed_answers: None,
                    keying_seconds: 100,
                },
            ),
        ]);
        events.push(verified_form(&server, &device, h, i as i64));
    }
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    // The key is kept encrypted; the passphrase nowhere. Without it nothing opens.
    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    assert!(matches!(
        server
            .intake
            .open_answers("a guess that is long enough", "bonv"),
        Err(intake::error::IntakeError::MinistryKey(
            intake::ministry_key::KeyError::WrongPassphrase
        ))
    ));
    let db = server.place.stored_bytes(Some(&server.campaign.id));
    let secret = intake::demo::fixed_ministry_key().to_bytes();
    assert!(
        !db.windows(32).any(|w| w == secret),
        "the secret key is not in the database in clear"
    );
    assert!(!String::from_utf8_lossy(&db).contains(PASSPHRASE));

    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    for path in [
        "/c/qt-sipas-2024/ministry/index",
        "/c/qt-sipas-2024/ministry/reconciliation",
        "/c/qt-sipas-2024/ministry/backcheck",
        "/c/qt-sipas-2024/ministry/anomalies",
    ] {
        assert_eq!(
            get(&server, path, &supervisor).await.status(),
            StatusCode::NOT_FOUND,
            "{path} is not for supervisors"
        );
    }
    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/ministry/index", &session)
            .await
            .text()
            .await
            .unwrap(),
    );
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let (url, session) = (format!("{}{path}", server.base), session.clone());
        async move {
            browser()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };

    // The index: refused without the CSRF token or with a wrong passphrase; then computed.
    assert_eq!(
        post(
            "/c/qt-sipas-2024/ministry/index",
            vec![("csrf", "forged".into()), ("passphrase", PASSPHRASE.into())]
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let wrong = post(
        "/c/qt-sipas-2024/ministry/index",
        vec![
            ("csrf", csrf.clone()),
            ("passphrase", "not the passphrase at all".into()),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("Cụm mật khẩu không mở được"));
    let page = post(
        "/c/qt-sipas-2024/ministry/index",
        vec![("csrf", csrf.clone()), ("passphrase", PASSPHRASE.into())],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("id=\"national\"")
            && page.contains(&hs[0].1)
            && page.contains("id=\"index-chart\""),
        "{page}"
    );
    // A page writes a decimal comma, as Vietnamese readers do (downloads keep the point).
    let national = between(&page, "id=\"national\">", "<");
    let (whole, tenths) = national
        .split_once(',')
        .unwrap_or_else(|| panic!("{national}"));
    assert!(
        !whole.is_empty()
            && whole.chars().all(|c| c.is_ascii_digit())
            && tenths.len() == 1
            && tenths.chars().all(|c| c.is_ascii_digit()),
        "{national}"
    );
    // The sample answers pick one code for all 33 satisfaction items: each form straight-lines.
    assert!(
        page.contains("id=\"straight-lined\">3<"),
        "every sample form straight-lines"
    );
    // The sample answers have no answer to a question that does not apply and no invalid
    // value: both lists still say so, with their count.
    for heading in [
        "Phiếu có câu trả lời cho câu không áp dụng (0)",
        "Phiếu có giá trị không hợp lệ (0)",
    ] {
        assert!(page.contains(heading), "{heading}: {page}");
    }
    let anomalies = get(&server, "/c/qt-sipas-2024/ministry/anomalies", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        anomalies.contains("100 giây"),
        "the median keying time of the three forms"
    );
    let csv = post(
        "/c/qt-sipas-2024/ministry/index.csv",
        vec![("csrf", csrf.clone()), ("passphrase", PASSPHRASE.into())],
    )
    .await
    .text()
    .await
    .unwrap();
    // Issue 11, item 8: Vietnamese headers; every level with its parts and criteria, n and interval.
    // UTF-8 with a byte-order mark, for Excel on Windows; shares in per cent as on the pages.
    let csv = csv.strip_prefix('\u{feff}').expect("a byte-order mark");
    assert!(csv.starts_with("cấp,mã địa bàn,địa bàn,chỉ tiêu,số phiếu,số phiếu được tính,số câu trả lời hợp lệ (n),cỡ mẫu của khoảng tin cậy (n hiệu dụng),tỷ lệ hài lòng (%),cận dưới 95 % (%),cận trên 95 % (%)\ntoàn bộ,,Toàn tỉnh,chỉ số,3,"), "{csv}");
    assert!(
        csv.contains("\nthôn,dh-p2-kp1,\"Khu phố 1, Phường 2\",chỉ số,3,3,"),
        "{csv}"
    );
    // Every interval is re-derived from the file alone: Wilson at the row's n hiệu dụng
    // (docs/statistics.md), from the share as the file gives it (to 1/100 of a per cent).
    let mut rederived = 0;
    for line in csv.lines().skip(1) {
        // The area's name may be quoted and hold a comma: read the row from its end.
        let cells: Vec<&str> = line.rsplitn(6, ',').collect();
        let [high, low, share, effective_n, ..] = cells[..] else {
            panic!("{line}")
        };
        if share.is_empty() {
            continue;
        }
        let (p, n): (f64, f64) = (
            share.parse::<f64>().unwrap() / 100.0,
            effective_n.parse().unwrap(),
        );
        let z = 1.959963984540054_f64;
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
        for (bound, given) in [(centre - half, low), (centre + half, high)] {
            let given: f64 = given.parse().unwrap();
            assert!(
                (100.0 * bound - given).abs() < 0.02,
                "{line}: {}",
                100.0 * bound
            );
        }
        rederived += 1;
    }
    assert!(rederived > 30, "{rederived} intervals re-derived");
    assert!(
        csv.contains(",phần: ") && csv.contains(",tiêu chí: "),
        "parts and criteria too"
    );
    // The answers, with the codes' Vietnamese labels; and the same as workbooks.
    let answers = post(
        "/c/qt-sipas-2024/ministry/answers.csv",
        vec![("csrf", csrf.clone()), ("passphrase", PASSPHRASE.into())],
    )
    .await
    .text()
    .await
    .unwrap();
    let mut lines = answers.trim_start_matches('\u{feff}').lines();
    assert!(lines.next().unwrap().starts_with("hộ,số phiếu,điều tra viên,người thu phiếu,thôn,xã,huyện,tỉnh,phiên bản phiếu,tình trạng,duyệt phiếu,hai lần nhập đọc khác nhau,Câu A1,Câu A1 (nhãn),Câu A2"), "{answers}");
    assert_eq!(lines.count(), 3);
    assert!(
        answers.contains(",Nam,") || answers.contains(",Nữ,"),
        "codes and their labels in columns of their own: {answers}"
    );
    assert!(
        answers.contains("Khu phố 1, Phường 2") && answers.contains("sipas-2024@1"),
        "places by name, the form's version on each row"
    );
    for path in [
        "/c/qt-sipas-2024/ministry/answers.xlsx",
        "/c/qt-sipas-2024/ministry/index.xlsx",
    ] {
        let r = post(
            path,
            vec![("csrf", csrf.clone()), ("passphrase", PASSPHRASE.into())],
        )
        .await;
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(
            &r.bytes().await.unwrap()[..2],
            b"PK",
            "{path} is a workbook"
        );
    }
    assert_eq!(
        post(
            "/c/qt-sipas-2024/ministry/answers.csv",
            vec![
                ("csrf", csrf.clone()),
                ("passphrase", "a wrong passphrase here".into())
            ]
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let as_supervisor = client()
        .post(format!(
            "{}/c/qt-sipas-2024/ministry/answers.csv",
            server.base
        ))
        .header(header::COOKIE, format!("fp_session={supervisor}"))
        .form(&[("csrf", "x"), ("passphrase", PASSPHRASE)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_supervisor.status(),
        StatusCode::NOT_FOUND,
        "no answer for a supervisor, even with the passphrase"
    );

    // Paper arrives: one serial twice, one missing, one that is not in the sample.
    let scanned = format!(
        "{}\n{}\n{}\nQT24-99999\n",
        hs[0].1,
        hs[0].1.to_lowercase(),
        hs[1].1
    );
    let page = post(
        "/c/qt-sipas-2024/ministry/paper",
        vec![("csrf", csrf.clone()), ("serials", scanned)],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("Đã ghi nhận 4 số phiếu (3 số khác nhau;"),
        "a form scanned twice is said: {page}"
    );
    // The one of no household is named at once (a slip of the scanner, most often).
    assert!(
        page.contains("Trong đó 1 số không thuộc hộ nào của mẫu")
            && page.contains("quét nhầm; xem mục «Số phiếu không có trong mẫu»): QT24-99999."),
        "{page}"
    );
    // Post/redirect/get: the post answers with the page's address, which says what was done
    // once; reloading it records nothing again.
    let raw = client()
        .post(format!("{}/c/qt-sipas-2024/ministry/paper", server.base))
        .header(header::COOKIE, format!("fp_session={session}"))
        .form(&[("csrf", csrf.as_str()), ("serials", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        raw.headers()[header::LOCATION],
        "/c/qt-sipas-2024/ministry/reconciliation"
    );
    for _ in 0..2 {
        let reloaded = get(
            &server,
            "/c/qt-sipas-2024/ministry/reconciliation",
            &session,
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(!reloaded.contains("Đã ghi nhận"), "{reloaded}");
    }
    let r = server.intake.reconciliation().unwrap();
    assert_eq!(r.duplicates.get(&hs[0].1), Some(&2));
    assert_eq!(r.unexpected, ["QT24-99999"]);
    let kp1 = r
        .villages
        .iter()
        .find(|v| v.village == "dh-p2-kp1")
        .unwrap();
    assert_eq!((kp1.digital, kp1.paper, kp1.done), (3, 2, 2));
    assert_eq!(kp1.paper_missing, [hs[2].1.clone()]);
    let bad = post(
        "/c/qt-sipas-2024/ministry/paper",
        vec![
            ("csrf", csrf.clone()),
            (
                "serials",
                // Keyed by hand with blanks around the hyphen: still the printed serial.
                format!(
                    "{}\n<script>x</script>\nxin chào\nabc\n{}",
                    hs[1].1.replace('-', " - "),
                    // A blank for the hyphen: one serial mistyped, not two.
                    hs[2].1.replace('-', " ")
                ),
            ),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    // One bad scan costs nothing else: the good line is recorded, the bad ones are named and
    // stay in the box to be mended (escaped).
    assert!(
        bad.contains(&format!("Đã ghi nhận 1 số phiếu. 1 số đã được ghi nhận ở lần trước (nay thành trùng, xem mục «Số phiếu bị trùng»): {}. 4 dòng có chỗ không phải số phiếu của mẫu", hs[1].1))
            && bad.contains("«xin chào»")
            && bad.contains(&format!("&lt;script&gt;x&lt;/script&gt;\nxin chào\nabc\n{}</textarea>", hs[2].1.replace('-', " ")))
            && !bad.contains("<script>x"),
        "{bad}"
    );
    assert_eq!(
        server
            .intake
            .reconciliation()
            .unwrap()
            .duplicates
            .get(&hs[1].1),
        Some(&2)
    );
    // A wrong bundle recorded is taken back, after asking: its serials come back in the box
    // to be mended, nothing of it counts as arrived, and the audit keeps every serial.
    let wrong = post(
        "/c/qt-sipas-2024/ministry/paper",
        vec![
            ("csrf", csrf.clone()),
            ("serials", "QT24-88888\nqt24-77777".into()),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    let listed = between(&wrong, "id=\"paper-batches\"", "</table>");
    assert!(listed.contains("QT24-88888, QT24-77777"), "{listed}");
    let batch = between(&listed, "name=\"batch\" value=\"", "\"");
    let withdraw = |confirmed: bool| {
        let mut form = vec![("csrf", csrf.clone()), ("batch", batch.clone())];
        if confirmed {
            form.push(("confirmed", "yes".into()));
        }
        post("/c/qt-sipas-2024/ministry/paper/withdraw", form)
    };
    let by_supervisor = client()
        .post(format!(
            "{}/c/qt-sipas-2024/ministry/paper/withdraw",
            server.base
        ))
        .header(header::COOKIE, format!("fp_session={supervisor}"))
        .form(&[
            ("csrf", "x"),
            ("batch", batch.as_str()),
            ("confirmed", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_supervisor.status(),
        StatusCode::NOT_FOUND,
        "the ministry's only"
    );
    let question = withdraw(false).await.text().await.unwrap();
    assert!(
        question.contains("id=\"question\"")
            && question.contains("2 số phiếu (QT24-88888, QT24-77777)"),
        "{question}"
    );
    let unexpected = || server.intake.reconciliation().unwrap().unexpected;
    assert!(
        unexpected().contains(&"QT24-88888".to_string()),
        "nothing before the confirmation"
    );
    let done = withdraw(true).await.text().await.unwrap();
    assert!(
        done.contains("Đã huỷ lần ghi nhận 2 số phiếu")
            && done.contains(">QT24-88888\nQT24-77777</textarea>"),
        "{done}"
    );
    assert_eq!(unexpected(), ["QT24-99999"]);
    let log = server.centre.accounts().audit_log(10_000).unwrap();
    // Named as the page named it, when it was recorded in the campaign's zone (no UTC stamp).
    assert!(log.iter().any(|e| e.action == "paper_withdrawn"
        && e.detail
            .starts_with(&format!("huỷ lần ghi nhận {batch} (ghi lúc "))
        && e.detail.ends_with(": 2 số phiếu (QT24-88888, QT24-77777)")));
    assert!(
        batch
            .strip_prefix("bonv-")
            .is_some_and(|id| id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit())),
        "a recording's name has no time in it: {batch}"
    );
    assert!(
        log.iter().any(|e| e.action == "paper_recorded"
            && e.detail.starts_with(&format!("lần ghi nhận {batch}: "))
            && e.detail.ends_with(": 2 số phiếu (QT24-88888, QT24-77777)")),
        "a recording's audit names its serials"
    );
    // Taken back once: pressed again (or a forged batch), it is said, and nothing changes.
    for twice in [withdraw(true).await, withdraw(false).await] {
        assert!(twice
            .text()
            .await
            .unwrap()
            .contains("Lần ghi nhận này không còn"));
    }
    assert_eq!(unexpected(), ["QT24-99999"]);
    // Each «Huỷ lần này» sends the paper box with it: two recordings taken back one after the
    // other, with a serial typed in the box meanwhile, leave the box holding all of them; and
    // «Không huỷ» leaves the box as it was.
    for serial in ["QT24-66661", "QT24-66662"] {
        server
            .intake
            .record_paper(serial, "bonv", "127.0.0.1")
            .unwrap();
    }
    let page = get(
        &server,
        "/c/qt-sipas-2024/ministry/reconciliation",
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("<form id=\"paper-box\"")
            && page.contains("form=\"paper-box\" formaction=\"ministry/paper/withdraw\""),
        "{page}"
    );
    let box_of = |page: &str| {
        between(page, "name=\"serials\"", "</textarea>")
            .split_once('>')
            .unwrap()
            .1
            .to_string()
    };
    let take_back = |batch: String, typed: String, confirmed: &'static str| {
        post(
            "/c/qt-sipas-2024/ministry/paper/withdraw",
            vec![
                ("csrf", csrf.clone()),
                ("batch", batch),
                ("serials", typed),
                ("confirmed", confirmed.into()),
            ],
        )
    };
    let recorded = server.intake.store.paper_batches(2).unwrap();
    let kept = take_back(recorded[0].batch.clone(), "QT24-12345\n".into(), "no")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        kept.contains("Không huỷ gì.") && box_of(&kept) == "QT24-12345",
        "{kept}"
    );
    assert_eq!(server.intake.store.paper_batches(2).unwrap(), recorded);
    let first = take_back(recorded[0].batch.clone(), "QT24-12345".into(), "yes")
        .await
        .text()
        .await
        .unwrap();
    let second = take_back(recorded[1].batch.clone(), box_of(&first), "yes")
        .await
        .text()
        .await
        .unwrap();
    let held = box_of(&second);
    let mut held: Vec<&str> = held.lines().collect();
    held.sort();
    assert_eq!(held, ["QT24-12345", "QT24-66661", "QT24-66662"], "{second}");
    assert_eq!(unexpected(), ["QT24-99999"]);
    // Eleven recordings later the first is folded under the latest ten, still to be taken back.
    for n in 0..11 {
        server
            .intake
            .record_paper(&format!("QT24-500{n:02}"), "bonv", "127.0.0.1")
            .unwrap();
    }
    let page = get(
        &server,
        "/c/qt-sipas-2024/ministry/reconciliation",
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    let (recent, older) = (
        between(&page, "id=\"paper-batches\"", "</table>"),
        between(&page, "id=\"older-batches\"", "</table>"),
    );
    assert!(
        !recent.contains(">QT24-50000<")
            && recent.contains(">QT24-50001<")
            && recent.matches("Huỷ lần này").count() == 10
            && older.contains(">QT24-50000<")
            && older.contains("Huỷ lần này")
            && page.contains("Các lần ghi nhận trước đó ("),
        "{page}"
    );
    // Serials of the sample typed several on a line are each recorded (one recorded before
    // is said); a long line with anything else comes back whole, nothing of it recorded.
    let two = server
        .intake
        .record_paper(
            &format!("{}, {}", hs[0].1.to_lowercase(), hs[2].1),
            "bonv",
            "127.0.0.1",
        )
        .unwrap();
    assert_eq!((two.recorded, two.left_out.len()), (2, 0));
    assert_eq!(two.recorded_before, [hs[0].1.clone()]);
    // Asked to take it back, the page says which of its serials stay arrived all the same.
    let two_batch = server
        .intake
        .store
        .paper_batches(1)
        .unwrap()
        .remove(0)
        .batch;
    let question = post(
        "/c/qt-sipas-2024/ministry/paper/withdraw",
        vec![("csrf", csrf.clone()), ("batch", two_batch)],
    )
    .await
    .text()
    .await
    .unwrap();
    let elsewhere = between(&question, "id=\"elsewhere\">", "</p>");
    assert!(
        elsewhere.contains(&hs[0].1) && !elsewhere.contains(&hs[2].1),
        "{question}"
    );
    let long = (0..30)
        .map(|n| format!("QT24-004{n:02}"))
        .collect::<Vec<_>>()
        .join(", ")
        + ", abc";
    let back = server
        .intake
        .record_paper(&format!("{long}\n{}", hs[1].1), "bonv", "127.0.0.1")
        .unwrap();
    assert_eq!((back.recorded, back.left_out), (1, vec![long]));
    for b in server.intake.store.paper_batches(13).unwrap() {
        server
            .intake
            .withdraw_paper(&b.batch, "bonv", "127.0.0.1")
            .unwrap();
    }
    assert_eq!(unexpected(), ["QT24-99999"]);
    // A serial typed without its hyphen is recorded as the paper prints it.
    let bare = server
        .intake
        .record_paper(
            &hs[2].1.replace('-', "").to_lowercase(),
            "bonv",
            "127.0.0.1",
        )
        .unwrap();
    assert_eq!((bare.recorded, bare.not_in_sample.len()), (1, 0));
    let recorded = server.intake.store.paper_batches(1).unwrap().remove(0);
    assert_eq!(recorded.serials, [hs[2].1.clone()]);
    server
        .intake
        .withdraw_paper(&recorded.batch, "bonv", "127.0.0.1")
        .unwrap();
    // A long recording taken back is audited whole, in as many rows as it takes (the log is
    // then the only place its serials are kept).
    let long: Vec<String> = (0..200).map(|n| format!("QT24-7{n:04}")).collect();
    server
        .intake
        .record_paper(&long.join("\n"), "bonv", "127.0.0.1")
        .unwrap();
    let recorded = server.intake.store.paper_batches(1).unwrap().remove(0);
    server
        .intake
        .withdraw_paper(&recorded.batch, "bonv", "127.0.0.1")
        .unwrap();
    let parts: Vec<String> = server
        .centre
        .accounts()
        .audit_log(10_000)
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.action == "paper_withdrawn"
                && e.detail
                    .starts_with(&format!("huỷ lần ghi nhận {} (ghi lúc ", recorded.batch))
        })
        .map(|e| e.detail)
        .collect();
    assert!(
        parts.len() > 1 && parts.iter().all(|p| !p.ends_with('…')),
        "{parts:?}"
    );
    for serial in &long {
        assert!(
            parts.iter().any(|p| p.contains(serial.as_str())),
            "{serial} in {parts:?}"
        );
    }
    // One recording takes at most 20,000 serials: more is refused whole, nothing recorded.
    let flood = (0..=intake::service::PAPER_LINES_MAX)
        .map(|n| format!("QT24-{n:06}"))
        .collect::<Vec<_>>()
        .join("\n");
    match server.intake.record_paper(&flood, "bonv", "127.0.0.1") {
        Err(intake::error::IntakeError::Declined(m)) => {
            assert!(
                m.starts_with("Một lần ghi nhận nhiều nhất 20.000 số phiếu"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(server
        .intake
        .store
        .paper_batches(1)
        .unwrap()
        .iter()
        .all(|b| !b.serials.contains(&"QT24-000000".to_string())));

    // The back-check sample: the same seed gives the same list.
    let draw = |seed: &'static str| {
        post(
            "/c/qt-sipas-2024/ministry/backcheck",
            vec![
                ("csrf", csrf.clone()),
                ("seed", seed.into()),
                ("share", "50".into()),
                ("min", "1".into()),
            ],
        )
    };
    let serials = |html: String| -> Vec<String> {
        html.split("class=\"serial\">")
            .skip(1)
            .map(|s| s.split('<').next().unwrap().to_string())
            .collect()
    };
    let first = serials(draw("phuc-tra-qt-2024").await.text().await.unwrap());
    let again = serials(draw("phuc-tra-qt-2024").await.text().await.unwrap());
    assert_eq!(first.len(), 2, "half of 3 forms, rounded up");
    assert_eq!(first, again);
    // Issue 11, item 7: the draws are kept and listed (seed, who), each at its own address with
    // the households' names and addresses, and no outcome chosen in advance.
    let listed = get(&server, "/c/qt-sipas-2024/ministry/backcheck", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("Lần 1")
            && listed.contains("Lần 2")
            && listed.contains("phuc-tra-qt-2024")
            && listed.contains("bonv"),
        "{listed}"
    );
    let kept = get(
        &server,
        "/c/qt-sipas-2024/ministry/backcheck/draw/1",
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(
        serials(kept.clone()),
        first,
        "the list is still there after leaving the page"
    );
    let h0 = server
        .intake
        .store
        .households_to_visit(&[server
            .intake
            .store
            .expected_forms()
            .unwrap()
            .into_iter()
            .find(|f| f.serial == first[0])
            .unwrap()
            .household])
        .unwrap()
        .remove(0);
    assert!(
        kept.contains(&h0.address) && kept.contains(&h0.name),
        "names and addresses to visit"
    );
    assert!(
        kept.contains("<option value=\"\">— chọn —</option>")
            && kept.contains("select name=\"outcome\" required"),
        "no default outcome"
    );
    assert!(!kept.contains(" selected"), "nothing pre-selected");
    assert_eq!(
        get(
            &server,
            "/c/qt-sipas-2024/ministry/backcheck/draw/99",
            &session
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    // Review: approve one, flag one with a reason (a flag needs one), later decisions kept.
    let review = |household: String, decision: &'static str, reason: &'static str| {
        post(
            "/c/qt-sipas-2024/ministry/review",
            vec![
                ("csrf", csrf.clone()),
                ("household", household),
                ("decision", decision.into()),
                ("reason", reason.into()),
            ],
        )
    };
    // Each decision lands on the review page, which says it was recorded.
    let decided = review(hs[0].0.clone(), "approved", "").await;
    assert_eq!(decided.status(), StatusCode::OK);
    assert!(decided.text().await.unwrap().contains("Đã ghi quyết định."));
    assert_eq!(
        review(hs[1].0.clone(), "flagged", "").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        review(hs[1].0.clone(), "flagged", "Chữ viết khó đọc ở câu 9")
            .await
            .status(),
        StatusCode::OK
    );
    // A form whose paper has not arrived is not approved blind: only with a reason.
    let (no_paper, _) = hs[2].clone();
    let refused = review(no_paper.clone(), "approved", "").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("chưa đến: chưa duyệt được"));
    assert!(server
        .intake
        .store
        .reviews()
        .unwrap()
        .get(&no_paper)
        .is_none());
    assert_eq!(
        review("dh-p4-kp2-01".into(), "approved", "").await.status(),
        StatusCode::BAD_REQUEST,
        "no form arrived for it"
    );
    let page = get(&server, "/c/qt-sipas-2024/ministry/review", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Gắn cờ — Chữ viết khó đọc ở câu 9") && page.contains("Đã duyệt"));
    assert_eq!(server.intake.store.reviews().unwrap().len(), 2);

    // The flagged form is keyed again from its paper at the centre and sealed; it wins, and the
    // device's own answers stay in the history.
    assert!(
        page.contains(&format!("href=\"ministry/correct/{}\"", hs[1].0))
            && page.contains("<base href=\"/c/qt-sipas-2024/\">"),
        "a flagged form links to its correction"
    );
    let form = intake::demo::sipas_2024();
    let mut paper = forms::sample::complete_answers(&form, 1);
    paper.insert(
        "q4".into(),
        serde_json::json!(if paper["q4"] == serde_json::json!(1) {
            2
        } else {
            1
        }),
    );
    let typed =
        |answers: &std::collections::BTreeMap<String, serde_json::Value>| -> Vec<(String, String)> {
            answers
                .iter()
                .map(|(q, v)| {
                    let text = match v {
                        serde_json::Value::Array(codes) => codes
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (format!("q_{q}"), text)
                })
                .collect()
        };
    let correct = |fields: Vec<(String, String)>| {
        let (url, session) = (
            format!(
                "{}/c/qt-sipas-2024/ministry/correct/{}",
                server.base, hs[1].0
            ),
            session.clone(),
        );
        async move {
            client()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let mut partial = typed(&paper);
    partial.truncate(5);
    partial.extend([
        ("csrf".to_string(), csrf.clone()),
        ("reason".to_string(), "Theo bản giấy".to_string()),
    ]);
    // Also a code A1 does not have: each problem said in Vietnamese by the question's number.
    partial.push(("q_q9_a1".to_string(), "7".to_string()));
    let refused = correct(partial).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let said = refused.text().await.unwrap();
    let q9_a1 = form.question("q9_a1").unwrap().number.clone();
    assert!(
        said.contains("Phiếu chưa đủ hoặc còn lỗi, chưa có gì được lưu")
            && said.contains(&format!("Câu {q9_a1}: 7 không phải là mã của câu này"))
            && said.contains("bắt buộc, còn trống")
            && !said.contains("NotACode")
            && !said.contains(": required"),
        "{said}"
    );
    assert!(
        said.contains(&format!("Sửa phiếu số {}", hs[1].1)),
        "named by serial"
    );
    // A whole form keyed with a reason of blanks: said above it, nothing typed lost.
    let mut no_reason = typed(&paper);
    no_reason.extend([
        ("csrf".to_string(), csrf.clone()),
        ("reason".to_string(), " ".to_string()),
    ]);
    let (question, answer) = no_reason[0].clone();
    let refused = correct(no_reason).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let said = refused.text().await.unwrap();
    assert!(
        said.contains("Hãy ghi lý do sửa phiếu")
            && !said.contains("Say why")
            && said.contains(&format!("name=\"{question}\" value=\"{answer}\"")),
        "{said}"
    );
    // A form whose paper has not arrived is not corrected «theo bản giấy»: refused, with
    // everything typed kept.
    let mut early = typed(&paper);
    early.extend([
        ("csrf".to_string(), csrf.clone()),
        ("reason".to_string(), "Theo bản giấy".to_string()),
    ]);
    let (question, answer) = early[0].clone();
    let refused = client()
        .post(format!(
            "{}/c/qt-sipas-2024/ministry/correct/{no_paper}",
            server.base
        ))
        .header(header::COOKIE, format!("fp_session={session}"))
        .form(&early)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let said = refused.text().await.unwrap();
    assert!(
        said.contains(&format!(
            "Bản giấy của phiếu {} chưa được ghi nhận đến",
            hs[2].1
        )) && said.contains(&format!("name=\"{question}\" value=\"{answer}\"")),
        "{said}"
    );
    assert!(!server
        .intake
        .store
        .corrected_households()
        .unwrap()
        .contains_key(&no_paper));
    // A household the centre holds no sheet of is offered no correction.
    let unkeyed = server.households("enum-dh-p2")[5].0.clone();
    let none = get(
        &server,
        &format!("/c/qt-sipas-2024/ministry/correct/{unkeyed}"),
        &session,
    )
    .await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let none = none.text().await.unwrap();
    assert!(
        none.contains("không có gì để sửa") && !none.contains("Niêm phong bản sửa"),
        "{none}"
    );
    let mut full = typed(&paper);
    full.extend([
        ("csrf".to_string(), csrf.clone()),
        ("reason".to_string(), "Câu 4: bản giấy ghi khác".to_string()),
    ]);
    assert_eq!(correct(full).await.status(), StatusCode::SEE_OTHER);
    let opened = server
        .intake
        .open_answers(PASSPHRASE, "bonv")
        .unwrap()
        .sheets;
    assert_eq!(
        opened
            .iter()
            .find(|(f, _)| f.household == hs[1].0)
            .unwrap()
            .1
            .answers,
        paper
    );
    let kept = server
        .intake
        .store
        .events()
        .unwrap()
        .iter()
        .filter(|e| {
            e.household.as_deref() == Some(hs[1].0.as_str()) && e.kind == "transcription_verified"
        })
        .count();
    assert_eq!(kept, 1, "the device's verified answers stay in the history");

    // What the visits found, per enumerator; nonsense is refused.
    let h0 = server
        .intake
        .store
        .expected_forms()
        .unwrap()
        .into_iter()
        .find(|f| f.serial == first[0])
        .unwrap()
        .household;
    let outcome = |household: String, outcome: &'static str| {
        post(
            "/c/qt-sipas-2024/ministry/backcheck/outcome",
            vec![
                ("csrf", csrf.clone()),
                ("household", household),
                ("outcome", outcome.into()),
                ("note", "Chủ hộ xác nhận".into()),
            ],
        )
    };
    // Recorded, then back on its page (post/redirect/get).
    assert_eq!(
        outcome(h0.clone(), "confirmed").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        outcome(h0.clone(), "made_up").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        outcome("no-such-household".into(), "confirmed")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.intake.backcheck_results().unwrap()["enum-dh-p2"]["confirmed"],
        1
    );
    // A visit that found other answers is said with its note where it was recorded, and puts
    // the form at the head of the review list with what was found (the draw's last serial, so
    // that the list's order by serial would put others first).
    let differs = server
        .intake
        .store
        .expected_forms()
        .unwrap()
        .into_iter()
        .find(|f| Some(&f.serial) == first.iter().max())
        .unwrap()
        .household;
    let differ = post(
        "/c/qt-sipas-2024/ministry/backcheck/outcome",
        vec![
            ("csrf", csrf.clone()),
            ("household", differs.clone()),
            ("draw", "1".into()),
            ("outcome", "answers_differ".into()),
            ("note", "Hộ nói chưa từng nhận phiếu".into()),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        differ.contains("<b>Trả lời khác</b> — «Hộ nói chưa từng nhận phiếu»")
            && differ.contains("role=\"status\">Đã ghi kết quả phúc tra phiếu"),
        "{differ}"
    );
    // A visit is recorded only for a household of the draw named, or of some draw: nothing else
    // counts in an enumerator's results unseen on a list.
    let not_drawn = server
        .intake
        .store
        .expected_forms()
        .unwrap()
        .into_iter()
        .find(|f| !first.contains(&f.serial))
        .unwrap()
        .household;
    for (household, draw) in [(not_drawn, "1"), (differs.clone(), "99")] {
        let refused = post(
            "/c/qt-sipas-2024/ministry/backcheck/outcome",
            vec![
                ("csrf", csrf.clone()),
                ("household", household),
                ("draw", draw.into()),
                ("outcome", "confirmed".into()),
            ],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    }
    // What a visit found is replaced only once the officer says so, and only the record the
    // question named: one recorded meanwhile is asked about afresh.
    let record = |outcome: &'static str, note: &'static str, replacing: Option<String>| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("household", differs.clone()),
            ("draw", "1".into()),
            ("outcome", outcome.into()),
            ("note", note.into()),
        ];
        if let Some(r) = replacing {
            form.push(("replacing", r));
        }
        post("/c/qt-sipas-2024/ministry/backcheck/outcome", form)
    };
    let asked = record("confirmed", "", None).await.text().await.unwrap();
    assert!(
        asked.contains("đã ghi kết quả phúc tra «Trả lời khác — Hộ nói chưa từng nhận phiếu»")
            && asked.contains("Thay bằng «Đã xác nhận»?"),
        "{asked}"
    );
    let named = between(&asked, "name=\"replacing\" value=\"", "\"");
    let outcome_of = |h: &str| {
        server
            .intake
            .store
            .backcheck_outcomes()
            .unwrap()
            .into_iter()
            .find(|o| o.household == h)
            .unwrap()
            .outcome
    };
    assert_eq!(
        outcome_of(&differs),
        "answers_differ",
        "nothing replaced yet"
    );
    record("confirmed", "", Some(named.clone())).await;
    assert_eq!(outcome_of(&differs), "confirmed");
    let stale = record("not_visited", "", Some(named))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        stale.contains("đã ghi kết quả phúc tra «Đã xác nhận»")
            && stale.contains("Thay bằng «Không gặp»?"),
        "the record named was replaced meanwhile: asked afresh: {stale}"
    );
    assert_eq!(outcome_of(&differs), "confirmed");
    // Back to what the visit found, for what follows.
    let asked = record("answers_differ", "Hộ nói chưa từng nhận phiếu", None)
        .await
        .text()
        .await
        .unwrap();
    let named = between(&asked, "name=\"replacing\" value=\"", "\"");
    record("answers_differ", "Hộ nói chưa từng nhận phiếu", Some(named)).await;
    assert_eq!(outcome_of(&differs), "answers_differ");
    // The form listed first by serial, approved: it goes after the forms that need a look.
    let mut digital: Vec<_> = server
        .intake
        .store
        .expected_forms()
        .unwrap()
        .into_iter()
        .filter(|f| f.digital && f.household != differs)
        .collect();
    digital.sort_by(|a, b| a.serial.cmp(&b.serial));
    let first_by_serial = digital[0].household.clone();
    assert_eq!(
        review(first_by_serial.clone(), "approved", "Đã xem bản giấy")
            .await
            .status(),
        StatusCode::OK
    );
    let review = get(&server, "/c/qt-sipas-2024/ministry/review", &session)
        .await
        .text()
        .await
        .unwrap();
    let body = between(&review, "<tbody>", "</tbody>");
    let rows: Vec<&str> = body.split("</tr>").collect();
    let at = rows
        .iter()
        .position(|r| r.contains(&format!("data-household=\"{differs}\"")))
        .unwrap();
    assert!(
        rows[at].contains("Phúc tra: Trả lời khác — «Hộ nói chưa từng nhận phiếu»"),
        "{}",
        rows[at]
    );
    assert!(
        rows[..at]
            .iter()
            .all(|r| !r.contains("<td class=\"l attention\"></td>")),
        "only forms that need a look come before it"
    );
    let approved = rows
        .iter()
        .position(|r| r.contains(&format!("data-household=\"{first_by_serial}\"")))
        .unwrap();
    assert!(
        approved > at,
        "an approved form comes after one a visit did not confirm"
    );

    // The same data as JSON: for the ministry; a supervisor finds none of it.
    for path in [
        "/c/qt-sipas-2024/api/ministry/reconciliation",
        "/c/qt-sipas-2024/api/ministry/anomalies",
        "/c/qt-sipas-2024/api/ministry/backcheck",
        "/c/qt-sipas-2024/api/ministry/reviews",
    ] {
        assert_eq!(
            get(&server, path, &supervisor).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            get(&server, path, &session).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let r: serde_json::Value = get(
        &server,
        "/c/qt-sipas-2024/api/ministry/reconciliation",
        &session,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["duplicates"][&hs[0].1], 2);
    let wrong = post(
        "/c/qt-sipas-2024/api/ministry/index",
        vec![
            ("csrf", csrf.clone()),
            ("passphrase", "not the passphrase at all".into()),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let index: serde_json::Value = post(
        "/c/qt-sipas-2024/api/ministry/index",
        vec![("csrf", csrf.clone()), ("passphrase", PASSPHRASE.into())],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(index["index"]["national"]["forms"], 3);
    let supervisor_csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/progress", &supervisor)
            .await
            .text()
            .await
            .unwrap(),
    );
    let as_supervisor = client()
        .post(format!(
            "{}/c/qt-sipas-2024/api/ministry/index",
            server.base
        ))
        .header(header::COOKIE, format!("fp_session={supervisor}"))
        .form(&[
            ("csrf", supervisor_csrf.as_str()),
            ("passphrase", PASSPHRASE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_supervisor.status(),
        StatusCode::NOT_FOUND,
        "the index's answers are not for supervisors, even with the passphrase"
    );
    let report: serde_json::Value = get(
        &server,
        "/c/qt-sipas-2024/api/report?from=2020-01-01&to=2030-12-31",
        &supervisor,
    )
    .await
    .json()
    .await
    .unwrap();
    // Every enumerator of the district has a row, idle ones too (with zeros).
    let rows = report["rows"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["enumerator"] == id).cloned();
    assert!(row("enum-dh-p2").unwrap()["handed_out"].as_u64() > Some(0));
    // A row holds the report's columns, and nothing else.
    let mut keys: Vec<String> = row("enum-dh-p2")
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "absent",
            "by_receipt",
            "collected",
            "enumerator",
            "handed_out",
            "in_parcels",
            "keyed",
            "moved",
            "refused",
            "verified"
        ]
    );
    assert_eq!(row("enum-dh-dl").unwrap()["handed_out"], 0);
    assert!(row("enum-gl-hl").is_none(), "another district's enumerator");
    assert!(get(&server, "/c/qt-sipas-2024/api/rejected", &supervisor)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()
        .is_array());

    let log = server.centre.accounts().audit_log(100).unwrap();
    for action in [
        "index_computed",
        "index_refused",
        "paper_recorded",
        "backcheck_drawn",
        "backcheck_recorded",
        "form_reviewed",
        "form_corrected",
    ] {
        assert!(
            log.iter().any(|e| e.action == action && e.login == "bonv"),
            "{action} is audited"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_reassigns_a_village_and_sees_what_the_old_device_sent_afterwards() {
    let server = setup().await;
    server
        .centre
        .accounts()
        .set_password("gs-qt", &hash_password("giám sát Quảng Trị 2024").unwrap())
        .unwrap();
    let session = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/reassign", &session)
            .await
            .text()
            .await
            .unwrap(),
    );
    let post = |form: Vec<(&'static str, String)>| {
        let (url, session) = (
            format!("{}/c/qt-sipas-2024/reassign", server.base),
            session.clone(),
        );
        post_move(url, session, form)
    };
    let form = |csrf: &str, village: &str, to: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("village", village.to_string()),
            ("to", to.to_string()),
            ("reason", "Điều tra viên ốm".to_string()),
            ("confirmed", "yes".to_string()),
        ]
    };
    // A whole village asks once more, naming what moves to whom; nothing moves before.
    let mut unconfirmed = form(&csrf, "dh-p2-kp1", "enum-dh-p4");
    unconfirmed.pop();
    let question = post(unconfirmed).await.text().await.unwrap();
    assert!(
        question.contains("id=\"question\"")
            && question.contains("Khu phố 1")
            && question.contains("value=\"yes\""),
        "{question}"
    );
    assert_eq!(server.status("dh-p2-kp1-01"), "assigned");
    assert_eq!(
        server
            .intake
            .store
            .assignment("enum-dh-p4")
            .unwrap()
            .households
            .iter()
            .filter(|h| h.village == "dh-p2-kp1")
            .count(),
        0
    );

    assert_eq!(
        post(form("forged", "dh-p2-kp1", "enum-dh-p4"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(form(&csrf, "qt-p2-kp2", "enum-dh-p4")).await.status(),
        StatusCode::NOT_FOUND,
        "another district's village"
    );
    // An enumerator of another district answers as one that does not exist, at either step:
    // the answer does not name them.
    for confirmed in [true, false] {
        let ask = |to: &str| {
            let mut f = form(&csrf, "dh-p2-kp1", to);
            if !confirmed {
                f.pop();
            }
            f
        };
        let elsewhere = post(ask("enum-qt-p2")).await;
        assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
        let elsewhere = elsewhere.text().await.unwrap();
        let nobody = post(ask("enum-nobody")).await.text().await.unwrap();
        assert_eq!(elsewhere, nobody, "an enumerator of another district");
    }
    // What the supervisor can mend is said before the move is asked about, on the move page.
    let mut no_reason = form(&csrf, "dh-p2-kp1", "enum-dh-p4");
    no_reason[3].1 = "   ".into();
    no_reason.pop();
    let said = post(no_reason).await;
    assert!(said.url().path().ends_with("/reassign"));
    assert!(said.text().await.unwrap().contains("Hãy ghi lý do"));
    let hs = server.households("enum-dh-p2");
    let names = server.intake.enumerator_names().unwrap();
    let (name_a, name_b, name_c) = (
        &names["enum-dh-p2"],
        &names["enum-dh-p4"],
        &names["enum-dh-dl"],
    );
    let page = get(&server, "/c/qt-sipas-2024/reassign", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(">{name_b} — Thành phố Đông Hà</option>")),
        "enumerators are chosen by name, with the district they work in"
    );
    assert!(!page.contains(">enum-dh-p4<"), "no id where a person reads");
    // «Khu phố 2, Phường 2» is in Đông Hà and in Quảng Trị town: villages are listed under
    // their district, which the option need not say again (a phone shows a line's start).
    let dong_ha = between(
        &page,
        "<optgroup label=\"Thành phố Đông Hà\">",
        "</optgroup>",
    );
    assert!(
        dong_ha.contains(">Khu phố 2, Phường 2 — "),
        "villages are chosen by name, told apart by their district: {page}"
    );
    assert!(!page.contains("Thành phố Đông Hà, Thành phố Đông Hà"));
    let done = post(form(&csrf, "dh-p2-kp1", "enum-dh-p4"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        done.contains(&format!("Đã chuyển 30 hộ cho {name_b}")),
        "{done}"
    );
    // Moved again to whom has it now: refused at either step, nothing written, no audit line.
    let audit_lines = || {
        let log = server.centre.accounts().audit_log(10_000).unwrap();
        log.iter().filter(|e| e.action == "reassigned").count()
    };
    let before = audit_lines();
    let mut unconfirmed = form(&csrf, "dh-p2-kp1", "enum-dh-p4");
    unconfirmed.pop();
    for again in [unconfirmed, form(&csrf, "dh-p2-kp1", "enum-dh-p4")] {
        let said = post(again).await;
        assert!(said.url().path().ends_with("/reassign"));
        let said = said.text().await.unwrap();
        assert!(
            said.contains(&format!("đã do {name_b} phụ trách, không có gì để chuyển."))
                && !said.contains("Already that enumerator")
                && !said.contains("id=\"question\""),
            "{said}"
        );
    }
    assert_eq!(audit_lines(), before);
    let log = server.centre.accounts().audit_log(10_000).unwrap();
    let moved_line = log.iter().find(|e| e.action == "reassigned").unwrap();
    assert!(
        moved_line.detail.starts_with("Khu phố 1, ")
            && moved_line.detail.contains(&format!("giao cho {name_b}"))
            && !moved_line.detail.contains("dh-p2-kp1"),
        "the audit names the village, not its id: {}",
        moved_line.detail
    );

    // Single households too, named by the serial printed on the paper, within the district only.
    let single = |households: &str, to: &str| {
        let (url, session, form) = (
            format!("{}/c/qt-sipas-2024/reassign/households", server.base),
            session.clone(),
            vec![
                ("csrf", csrf.clone()),
                ("households", households.to_string()),
                ("to", to.to_string()),
                ("reason", "Đường ngập".to_string()),
                ("confirmed", "yes".to_string()),
            ],
        );
        post_move(url, session, form)
    };
    let serial_of = |enumerator: &str, id: &str| {
        server
            .intake
            .store
            .assignment(enumerator)
            .unwrap()
            .households
            .into_iter()
            .find(|h| h.id == id)
            .unwrap()
            .serial
    };
    let (s1, s2, elsewhere) = (
        serial_of("enum-dh-p4", "dh-p4-kp2-01"),
        serial_of("enum-dh-p4", "dh-p4-kp2-02"),
        serial_of("enum-qt-p2", "qt-p2-kp2-01"),
    );
    // Another district's serial and one that does not exist answer alike (no oracle of which
    // serials exist elsewhere), on a page in Vietnamese.
    // Said on the move page itself, with what was typed kept in the box to be mended.
    let typed = format!("{s1}, {elsewhere}");
    let refused = single(&typed, "enum-dh-dl").await;
    assert_eq!(
        refused.status(),
        StatusCode::OK,
        "one is another district's"
    );
    assert!(refused.url().path().ends_with("/reassign"));
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("<html")
            && refused.contains(&format!(
                "<p class=\"error\" id=\"message\" role=\"alert\">Không có hộ nào mang số phiếu {elsewhere} trong các huyện của bạn"
            ))
            && refused.contains(&format!("name=\"households\" required placeholder=\"QT24-01234, QT24-01235\" value=\"{typed}\""))
            && !refused.contains("not_found"),
        "a page in Vietnamese, not JSON, keeping what was typed: {refused}"
    );
    // The person and the reason picked stay picked in that form (not the village's above).
    let households_form = between(&refused, "action=\"reassign/households\"", "</form>");
    assert!(
        households_form.contains("<option value=\"enum-dh-dl\" selected>")
            && households_form.contains("value=\"Đường ngập\""),
        "{households_form}"
    );
    let village_form = between(&refused, "action=\"reassign\"", "</form>");
    assert!(!village_form.contains("selected") && !village_form.contains("Đường ngập"));
    // Every serial not found is said at once, with how a serial is written. One typed without
    // its hyphen is found where it names one household of the supervisor's; another district's
    // is not found that way either.
    let unhyphened = |s: &str| s.replace('-', "");
    let unknown = single(
        &format!(
            "QT24-NOPE, {}, {}, abc",
            unhyphened(&s1).to_lowercase(),
            unhyphened(&elsewhere)
        ),
        "enum-dh-dl",
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::OK);
    let unknown = unknown.text().await.unwrap();
    assert!(
        unknown.contains(&format!("Không có hộ nào mang số phiếu QT24-NOPE, {}, abc trong các huyện của bạn. Hãy ghi số phiếu như in trên phiếu giấy.", unhyphened(&elsewhere))),
        "{unknown}"
    );
    // A box far longer than a thousand serials is neither read nor said back.
    let flood = "x".repeat(200_000);
    let flooded = single(&flood, "enum-dh-dl").await.text().await.unwrap();
    assert!(
        flooded.contains("Danh sách số phiếu quá dài") && !flooded.contains(&"x".repeat(1_000)),
        "{}",
        &flooded[..flooded.len().min(2_000)]
    );
    let one_long = format!("{}, {s1}", "Y".repeat(5_000));
    let said = single(&one_long, "enum-dh-dl").await.text().await.unwrap();
    assert!(
        said.contains(&format!("mang số phiếu {}… trong", "Y".repeat(40))),
        "a serial said back is cut short, and marked so"
    );
    // Moving households asks once more first.
    let asked = client()
        .post(format!(
            "{}/c/qt-sipas-2024/reassign/households",
            server.base
        ))
        .header(header::COOKIE, format!("fp_session={session}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("households", s2.as_str()),
            ("to", "enum-dh-dl"),
            ("reason", "Đường ngập"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        asked.contains("Xác nhận chuyển giao") && asked.contains(&s2),
        "{asked}"
    );
    // Each household named with its village and who holds it, so that a slip of the finger
    // (another household) shows before it is confirmed.
    // And in what state: a form keyed already moves too.
    let status = server.intake.store.household_statuses().unwrap()["dh-p4-kp2-02"];
    let moving = between(&asked, "id=\"moving\">", "</ul>");
    assert!(
        moving.contains(&format!(
            "<li>{s2} — Khu phố 2, Phường 4 — {name_b} giữ ({})</li>",
            intake::words::status(status.as_str()).to_lowercase()
        )),
        "{asked}"
    );
    // Past twenty, the first twenty are described and the rest counted.
    let many: Vec<String> = server
        .households("enum-dh-p2")
        .into_iter()
        .skip(3)
        .take(21)
        .map(|(_, serial)| serial)
        .collect();
    let asked_many = client()
        .post(format!(
            "{}/c/qt-sipas-2024/reassign/households",
            server.base
        ))
        .header(header::COOKIE, format!("fp_session={session}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("households", many.join(", ").as_str()),
            ("to", "enum-dh-dl"),
            ("reason", "Đường ngập"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let described = between(&asked_many, "id=\"moving\">", "</ul>");
    assert!(
        described.matches("<li>").count() == 21
            && described.contains(&format!("<li>{} — ", many[19]))
            && !described.contains(&many[20])
            && described.contains("<li>và 1 hộ khác"),
        "{asked_many}"
    );
    // A serial typed twice, in any case, is one household: counted, moved and audited once;
    // blanks and a phone keyboard's dash around its hyphen do not matter.
    let page = single(
        &format!("{}, {s2}; {}", s1.to_lowercase(), s1.replace('-', " – ")),
        "enum-dh-dl",
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains(&format!("Đã chuyển 2 hộ cho {name_c}")),
        "{page}"
    );
    let log = server.centre.accounts().audit_log(10_000).unwrap();
    let line = &log
        .iter()
        .find(|e| e.action == "reassigned")
        .unwrap()
        .detail;
    assert!(
        line.starts_with(&format!(
            "Hộ {s1}, {s2} (trước đó do {name_b} làm) giao cho {name_c}"
        )),
        "the audit names each household once, and who held it: {line}"
    );
    // The page lists the moves, newest first, to be seen and undone by moving back.
    let page = get(&server, "/c/qt-sipas-2024/reassign", &session)
        .await
        .text()
        .await
        .unwrap();
    let moves = between(&page, "id=\"moves\"", "</table>");
    let rows: Vec<&str> = moves.split("</tr>").skip(1).collect();
    assert!(
        rows[0].contains(&format!("<td class=\"l from\">{name_b}</td><td class=\"l\">{name_c}</td><td class=\"l\">2 hộ: {s1}, {s2} ("))
            && rows[0].contains("Đường ngập"),
        "{moves}"
    );
    assert!(
        rows[1].contains(&format!("<td class=\"l from\">{name_a}</td><td class=\"l\">{name_b}</td><td class=\"l\">30 hộ — Khu phố 1, "))
            && rows[1].contains("Điều tra viên ốm"),
        "{moves}"
    );
    // A confirmation from a page gone stale does not take the work from whoever holds it now:
    // asked in one tab (to Đông Lương's enumerator), moved meanwhile in another (to Phường 2's).
    let s3 = serial_of("enum-dh-p4", "dh-p4-kp2-03");
    let move_households = |form: Vec<(&'static str, String)>| {
        let (url, session) = (
            format!("{}/c/qt-sipas-2024/reassign/households", server.base),
            session.clone(),
        );
        async move {
            browser()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let asked = |to: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("households", s3.clone()),
            ("to", to.to_string()),
            ("reason", "Đường ngập".to_string()),
        ]
    };
    // The confirmation as the question page carries it back.
    let confirmation = |mut form: Vec<(&'static str, String)>, question: &str| {
        form.push(("confirmed", "yes".into()));
        form.push(("seen", between(question, "name=\"seen\" value=\"", "\"")));
        form
    };
    let (question_a, question_b) = (
        move_households(asked("enum-dh-dl")).await,
        move_households(asked("enum-dh-p2")).await,
    );
    for question in [&question_a, &question_b] {
        assert!(
            question.contains(&format!("; {name_b} đang làm) cho")),
            "the question names who holds the work: {question}"
        );
    }
    let (tab_a, tab_b) = (
        confirmation(asked("enum-dh-dl"), &question_a),
        confirmation(asked("enum-dh-p2"), &question_b),
    );
    let confirm = move_households;
    let done = confirm(tab_b).await;
    assert!(
        done.contains(&format!("Đã chuyển 1 hộ cho {name_a}")),
        "{done}"
    );
    let before = audit_lines();
    let stale = confirm(tab_a).await;
    assert!(
        stale.contains(&format!(
            "Hộ {s3} — việc chuyển giao không còn đúng như lúc bạn hỏi (người đang làm, người nhận hoặc lý do đã khác; nay do {name_a} làm). Chưa chuyển gì"
        )),
        "{stale}"
    );
    assert_eq!(audit_lines(), before, "nothing moved, nothing audited");
    // Nor does a confirmation that lost what it was asked about, or whose recipient was swapped
    // after the question.
    let mut unasked = asked("enum-dh-dl");
    unasked.push(("confirmed", "yes".into()));
    let question = move_households(asked("enum-dh-dl")).await;
    let mut swapped = confirmation(asked("enum-dh-dl"), &question);
    swapped[2].1 = "enum-dh-p4".into();
    let mut reworded = confirmation(asked("enum-dh-dl"), &question);
    reworded[3].1 = "Lý do khác".into();
    for refused in [unasked, swapped, reworded] {
        let said = confirm(refused).await;
        assert!(
            said.contains("không còn đúng như lúc bạn hỏi") && said.contains("Chưa chuyển gì"),
            "{said}"
        );
    }
    assert_eq!(audit_lines(), before, "nothing moved, nothing audited");
    assert!(server
        .intake
        .store
        .assignment("enum-dh-p2")
        .unwrap()
        .households
        .iter()
        .any(|h| h.id == "dh-p4-kp2-03"));
    assert_eq!(
        server
            .intake
            .store
            .assignment("enum-dh-dl")
            .unwrap()
            .households
            .iter()
            .filter(|h| h.id.starts_with("dh-p4-kp2-0"))
            .count(),
        2
    );
    // Households taken from two people at once: the list says whose each was, so that the
    // move can be undone person by person from the boxes above — and it is.
    let move_to = |serials: String, to: &str| {
        let form = vec![
            ("csrf", csrf.clone()),
            ("households", serials),
            ("to", to.to_string()),
            ("reason", "Nhầm người".to_string()),
        ];
        async move {
            let question = move_households(form.clone()).await;
            move_households(confirmation(form, &question)).await
        }
    };
    // «Huỷ» on the question leads back with what was asked kept in its form.
    let cancelled = move_households(vec![
        ("csrf", csrf.clone()),
        ("households", format!("{s1}, {s3}")),
        ("to", "enum-dh-p4".to_string()),
        ("reason", "Nhầm người".to_string()),
        ("confirmed", "no".to_string()),
    ])
    .await;
    assert!(
        cancelled.contains("<p id=\"message\" role=\"status\">Chưa chuyển gì.</p>")
            && cancelled.contains(&format!("value=\"{s1}, {s3}\""))
            && cancelled.contains("value=\"Nhầm người\""),
        "{cancelled}"
    );
    let both = move_to(format!("{s1}, {s3}"), "enum-dh-p4").await;
    assert!(both.contains("Đã chuyển 2 hộ"), "{both}");
    let page = get(&server, "/c/qt-sipas-2024/reassign", &session)
        .await
        .text()
        .await
        .unwrap();
    let newest = between(&page, "id=\"moves\"", "</table>")
        .split("</tr>")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        newest.contains(&format!("<div>{name_c} ({s1})</div>"))
            && newest.contains(&format!("<div>{name_a} ({s3})</div>")),
        "{newest}"
    );
    // The log says it too, person by person, after whom to and why.
    let logged = server
        .centre
        .accounts()
        .audit_log(10_000)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "reassigned")
        .unwrap()
        .detail;
    assert!(
        logged.contains(&format!("giao cho {name_b}; lý do: Nhầm người; trước đó: "))
            && logged.contains(&format!("{name_c} làm {s1}"))
            && logged.contains(&format!("{name_a} làm {s3}")),
        "{logged}"
    );
    for (serial, back_to) in [(&s1, "enum-dh-dl"), (&s3, "enum-dh-p2")] {
        let undone = move_to(serial.clone(), back_to).await;
        assert!(undone.contains("Đã chuyển 1 hộ"), "{undone}");
    }
    assert!(server
        .intake
        .store
        .assignment("enum-dh-p2")
        .unwrap()
        .households
        .iter()
        .any(|h| h.id == "dh-p4-kp2-03"));

    // The old tablet, offline until now, hands out forms in the moved village.
    let mut old = server.enroll("enum-dh-p2").await;
    let moved: Vec<(String, String)> = hs
        .iter()
        .filter(|h| h.0.starts_with("dh-p2-kp1-"))
        .take(2)
        .cloned()
        .collect();
    let batch = old.next_batch(vec![old.distributed(&moved[0]), old.distributed(&moved[1])]);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    let moved_name = server
        .intake
        .store
        .assignment("enum-dh-p4")
        .unwrap()
        .households
        .into_iter()
        .find(|h| h.id == moved[0].0)
        .unwrap()
        .name;
    let page = get(&server, "/c/qt-sipas-2024/reassign", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&moved_name) && page.contains(&moved[0].1) && page.contains(name_a.as_str()),
        "the supervisor sees whose work, for which household"
    );
    assert!(
        page.contains("Hộ đã được chuyển cho điều tra viên khác")
            && page.contains(&format!("Nhận vào hồ sơ của {name_b}")),
        "{page}"
    );
    assert!(
        !page.contains("household_not_assigned") && !page.contains("form_distributed"),
        "no codes where a person reads"
    );
    let other = log_in(&server, "gs-qt", "giám sát Quảng Trị 2024")
        .await
        .unwrap();
    let elsewhere = get(&server, "/c/qt-sipas-2024/reassign", &other)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !elsewhere.contains(&moved[0].1),
        "not in another district's list"
    );
    assert!(
        elsewhere.contains("id=\"no-moves\"") && !elsewhere.contains(name_b.as_str()),
        "another district's moves are not listed: {elsewhere}"
    );

    // Each refused event is decided from the page: asked once more, then done, audited.
    let rejected = server.intake.store.rejected_events(None).unwrap();
    let event_of = |h: &str| {
        rejected
            .iter()
            .find(|r| r.household.as_deref() == Some(h))
            .unwrap()
            .event
            .clone()
    };
    let resolve = |who: String,
                   csrf: String,
                   event: String,
                   decision: &'static str,
                   note: &'static str,
                   confirmed: bool| {
        let url = format!("{}/c/qt-sipas-2024/reassign/rejected", server.base);
        let mut form = vec![
            ("csrf", csrf),
            ("event", event),
            ("decision", decision.to_string()),
            ("note", note.to_string()),
        ];
        if confirmed {
            form.push(("confirmed", "yes".into()));
        }
        async move {
            browser()
                .post(url)
                .header(header::COOKIE, format!("fp_session={who}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let other_csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/progress", &other)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(
        resolve(
            other.clone(),
            other_csrf,
            event_of(&moved[0].0),
            "dismissed",
            "x",
            true
        )
        .await
        .status(),
        StatusCode::NOT_FOUND,
        "another district's event"
    );
    let ask = resolve(
        session.clone(),
        csrf.clone(),
        event_of(&moved[0].0),
        "accepted",
        "",
        false,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        ask.contains("Xác nhận") && ask.contains(&moved_name) && ask.contains("không hoàn tác"),
        "{ask}"
    );
    assert_eq!(
        server.intake.store.household_statuses().unwrap()[&moved[0].0],
        sync_protocol::lifecycle::HouseholdStatus::Assigned,
        "nothing yet"
    );
    let done = resolve(
        session.clone(),
        csrf.clone(),
        event_of(&moved[0].0),
        "accepted",
        "",
        true,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        done.contains(&format!("Đã nhận vào hồ sơ của {name_b}")),
        "{done}"
    );
    assert_eq!(
        server.intake.store.household_statuses().unwrap()[&moved[0].0],
        sync_protocol::lifecycle::HouseholdStatus::Distributed,
        "the hand-out now counts"
    );
    let b_view = server.intake.store.assignment("enum-dh-p4").unwrap();
    let carried = b_view
        .households
        .iter()
        .find(|h| h.id == moved[0].0)
        .unwrap()
        .carried_over
        .clone()
        .unwrap();
    assert_eq!(
        (carried.from.name.as_str(), carried.events),
        (name_a.as_str(), 1),
        "the new enumerator learns whose paper it is"
    );
    let again = resolve(
        session.clone(),
        csrf.clone(),
        event_of(&moved[0].0),
        "dismissed",
        "x",
        true,
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "decided once");
    let no_reason = resolve(
        session.clone(),
        csrf.clone(),
        event_of(&moved[1].0),
        "dismissed",
        "  ",
        true,
    )
    .await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    assert!(no_reason
        .text()
        .await
        .unwrap()
        .contains("Hãy ghi lý do bỏ qua"));
    resolve(
        session.clone(),
        csrf.clone(),
        event_of(&moved[1].0),
        "dismissed",
        "Phát nhầm, hộ chưa nhận phiếu",
        true,
    )
    .await;
    assert_eq!(
        server.intake.store.household_statuses().unwrap()[&moved[1].0],
        sync_protocol::lifecycle::HouseholdStatus::Assigned,
        "a dismissed hand-out does not count"
    );

    // The old tablet learns where the households went and what was decided.
    let a_view = server.intake.store.assignment("enum-dh-p2").unwrap();
    let gone = a_view
        .moved_away
        .iter()
        .find(|m| m.household == moved[0].0)
        .unwrap();
    assert_eq!(gone.to.name, *name_b);
    assert_eq!(a_view.resolved.len(), 2);
    assert!(a_view.resolved.iter().any(|r| r.decision
        == sync_protocol::assignment::Resolution::Dismissed
        && r.note == "Phát nhầm, hộ chưa nhận phiếu"));
    let page = get(&server, "/c/qt-sipas-2024/reassign", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Không có việc nào chờ giải quyết") && page.contains("Đã giải quyết (2)"),
        "{page}"
    );
    let log = server.centre.accounts().audit_log(50).unwrap();
    for action in ["reassigned", "rejection_accepted", "rejection_dismissed"] {
        assert!(
            log.iter().any(|e| e.action == action && e.login == "gs-dh"),
            "{action} is audited"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_creates_accounts_issues_codes_and_revokes_devices_from_the_page() {
    let server = setup().await;
    let admin = Account {
        login: "admin".into(),
        name: "Quản trị".into(),
        role: Role::Admin,
        campaigns: Default::default(),
        districts: vec![],
        password_hash: Some(hash_password("quản trị viên mật khẩu").unwrap()),
        disabled: false,
    };
    server
        .centre
        .accounts()
        .upsert_account(&admin, chrono::Utc::now())
        .unwrap();
    let device = server.enroll("enum-gl-ga").await;
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    assert_eq!(
        get(&server, "/admin", &supervisor).await.status(),
        StatusCode::NOT_FOUND
    );
    let ministry = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    assert_eq!(
        get(&server, "/admin", &ministry).await.status(),
        StatusCode::NOT_FOUND
    );

    let session = log_in(&server, "admin", "quản trị viên mật khẩu")
        .await
        .unwrap();
    let csrf = hidden_csrf(&get(&server, "/admin", &session).await.text().await.unwrap());
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let (url, session) = (format!("{}{path}", server.base), session.clone());
        async move {
            browser()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let account = |login: &str, role: &str, districts: &str, password: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("login", login.to_string()),
            ("name", "Nguyễn Văn <b>Giám</b>".to_string()),
            ("role", role.to_string()),
            ("campaign", CAMPAIGN.to_string()),
            ("district", format!("{CAMPAIGN}:{districts}")),
            ("password", password.to_string()),
        ]
    };
    assert_eq!(
        post("/admin/account", vec![("csrf", "forged".into())])
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "an incomplete form"
    );
    let page = post(
        "/admin/account",
        account("gs-gl2", "supervisor", "gl", "short"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("Không lưu") && page.contains("12"),
        "a short password is refused"
    );
    // Issue 19 item 12: the refused form comes back as typed (its password excepted).
    assert!(
        page.contains(
            r#"name="login" required maxlength="64" pattern="[a-z0-9._-]+" value="gs-gl2""#
        ) && page.contains(r#"value="Nguyễn Văn &lt;b&gt;Giám&lt;/b&gt;""#)
            && page.contains(r#"<option value="supervisor" selected>"#)
            && page.contains(&format!(r#"value="{CAMPAIGN}:gl" checked"#))
            && !page.contains("value=\"short\""),
        "{page}"
    );
    let page = post(
        "/admin/account",
        account("gs-gl2", "supervisor", "nowhere", "mật khẩu đủ dài rồi"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(page.contains("Không lưu"), "an unknown district is refused");
    // Outside pass: an owner with no campaign would see nothing and mean nothing.
    let mut no_campaign = account("bo-2", "ministry", "", "mật khẩu đủ dài rồi");
    no_campaign.retain(|(k, _)| !matches!(*k, "campaign" | "district"));
    let page = post("/admin/account", no_campaign)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Không lưu") && page.contains("Hãy chọn ít nhất một đợt khảo sát"),
        "{page}"
    );
    assert!(server.centre.accounts().account("bo-2").unwrap().is_none());
    // A ministry officer given one district would silently see the whole campaign: refused.
    let page = post(
        "/admin/account",
        account("bo-2", "ministry", "gl", "mật khẩu đủ dài rồi"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("Không lưu") && page.contains("Chỉ giám sát viên được giao theo huyện"),
        "{page}"
    );
    assert!(server.centre.accounts().account("bo-2").unwrap().is_none());
    // `/c/<campaign>/`, as typed, is the campaign's home.
    let typed = client()
        .get(format!("{}/c/{CAMPAIGN}/", server.base))
        .header(header::COOKIE, format!("fp_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(typed.status(), StatusCode::SEE_OTHER);
    assert_eq!(typed.headers()[header::LOCATION], format!("/c/{CAMPAIGN}"));
    // Ticking a district chooses its campaign: the campaign's own box left empty.
    let mut district_only = account("gs-gl2", "supervisor", "gl", "mật khẩu đủ dài rồi");
    district_only.retain(|(k, _)| *k != "campaign");
    let page = post("/admin/account", district_only)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Đã lưu tài khoản gs-gl2")
            && page.contains("Nguyễn Văn &lt;b&gt;Giám&lt;/b&gt;")
    );
    let new_session = log_in(&server, "gs-gl2", "mật khẩu đủ dài rồi")
        .await
        .unwrap();
    let rows: serde_json::Value = get(&server, "/c/qt-sipas-2024/api/progress", &new_session)
        .await
        .json()
        .await
        .unwrap();
    assert!(rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["district_id"] == "gl"));

    let page = post(
        "/c/qt-sipas-2024/devices/code",
        vec![
            ("csrf", csrf.clone()),
            ("enumerator", "enum-gl-tt".into()),
            ("hours", "24".into()),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    // The admin's devices page issues through the same slip as the supervisors' code page.
    let whom = between(&page, "id=\"code-for\">", "<");
    assert!(!whom.contains("enum-"), "the enumerator by name: {whom}");
    let code = between(&page, "id=\"code\">", "<");
    assert_eq!(
        server
            .enroll_raw(
                &code,
                &sync_protocol::keys::DeviceKey::generate(&mut rand::rngs::OsRng)
            )
            .await
            .status(),
        201
    );

    // Revoking cannot be undone: without the box ticked, nothing happens.
    let refused = post(
        "/c/qt-sipas-2024/devices/revoke",
        vec![
            ("csrf", csrf.clone()),
            ("device", device.id.to_string()),
            ("reason", "máy bị mất".into()),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        !server
            .intake
            .store
            .device(device.id)
            .unwrap()
            .unwrap()
            .revoked
    );
    let page = post(
        "/c/qt-sipas-2024/devices/revoke",
        vec![
            ("csrf", csrf.clone()),
            ("device", device.id.to_string()),
            ("reason", "máy bị mất".into()),
            ("confirm", "yes".into()),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(page.contains("Đã thu hồi máy của"), "{page}");
    assert!(
        server
            .intake
            .store
            .device(device.id)
            .unwrap()
            .unwrap()
            .revoked
    );
    let log = server.centre.accounts().audit_log(100).unwrap();
    for action in ["account_created", "code_issued", "device_revoked"] {
        assert!(
            log.iter().any(|e| e.action == action && e.login == "admin"),
            "{action}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_and_html_in_every_free_text_field_are_stored_as_text_and_shown_escaped() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2")[0].clone();
    let events = vec![
        device.distributed(&h),
        device.collected(&h),
        device.event(
            &h,
            sync_protocol::EventBody::FormTranscribed {
                form: "sipas-2024@1".into(),
                sealed_answers: None,
                keying_seconds: 100,
            },
        ),
        verified_form(&server, &device, &h, 0),
    ];
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    const EVIL: &str = "<script>alert(1)</script>'); DROP TABLE households; --";

    let ministry = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/ministry/review", &ministry)
            .await
            .text()
            .await
            .unwrap(),
    );
    let post = |path: String, session: String, form: Vec<(&'static str, String)>| async move {
        browser()
            .post(path)
            .header(header::COOKIE, format!("fp_session={session}"))
            .form(&form)
            .send()
            .await
            .unwrap()
    };
    let base = server.base.clone();
    post(
        format!("{base}/c/qt-sipas-2024/ministry/review"),
        ministry.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("household", h.0.clone()),
            ("decision", "flagged".into()),
            ("reason", EVIL.into()),
        ],
    )
    .await;
    let drawn = post(
        format!("{base}/c/qt-sipas-2024/ministry/backcheck"),
        ministry.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("seed", EVIL.into()),
            ("share", "100".into()),
            ("min", "1".into()),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    // Recorded once the household is on a draw (every household with a form is, at 100 %).
    post(
        format!("{base}/c/qt-sipas-2024/ministry/backcheck/outcome"),
        ministry.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("household", h.0.clone()),
            ("outcome", "confirmed".into()),
            ("note", EVIL.into()),
        ],
    )
    .await;
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let sup_csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/reassign", &supervisor)
            .await
            .text()
            .await
            .unwrap(),
    );
    let moved = post(
        format!("{base}/c/qt-sipas-2024/reassign"),
        supervisor.clone(),
        vec![
            ("csrf", sup_csrf.clone()),
            ("village", "dh-p2-kp2".into()),
            ("to", "enum-dh-p4".into()),
            ("reason", EVIL.into()),
        ],
    )
    .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let odd_ids = post(
        format!("{base}/c/qt-sipas-2024/reassign/households"),
        supervisor.clone(),
        vec![
            ("csrf", sup_csrf),
            ("households", EVIL.into()),
            ("to", "enum-dh-p4".into()),
            ("reason", "x".into()),
        ],
    )
    .await;
    assert_eq!(
        odd_ids.status(),
        StatusCode::OK,
        "no household has such a serial: said on the move page"
    );
    let odd_ids = odd_ids.text().await.unwrap();
    assert!(
        odd_ids.contains("Không có hộ nào mang số phiếu") && !odd_ids.contains("<script>alert(1)"),
        "shown escaped"
    );
    // A day that is not one is said on the page (which keeps working), never run.
    let odd_day = get(
        &server,
        "/c/qt-sipas-2024/progress/report?from=2024-11-01'--&to=x",
        &supervisor,
    )
    .await;
    assert_eq!(odd_day.status(), StatusCode::OK);
    let odd_day = odd_day.text().await.unwrap();
    assert!(
        odd_day.contains("không đọc được") && !odd_day.contains("'--"),
        "{odd_day}"
    );
    // Nor is a day of another era, or one not written as a date box writes it.
    for from in ["-2024-01-01", "0000-01-01", "-262143-01-01", "2024-1-1"] {
        let page = get(
            &server,
            &format!("/c/qt-sipas-2024/progress/report?from={from}"),
            &supervisor,
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(page.contains("không đọc được"), "{from}");
    }

    let rejected = get(&server, "/c/qt-sipas-2024/reassign", &supervisor)
        .await
        .text()
        .await
        .unwrap();
    for page in [&drawn, &rejected] {
        assert!(!page.contains("<script>alert(1)"), "shown escaped");
    }
    let review = get(&server, "/c/qt-sipas-2024/ministry/review", &ministry)
        .await
        .text()
        .await
        .unwrap();
    assert!(review.contains("&lt;script&gt;alert(1)&lt;/script&gt;'); DROP TABLE households; --"));
    // Every table is still there and the text is stored as given.
    assert_eq!(
        server.intake.store.household_statuses().unwrap().len(),
        486 + 54
    );
    assert_eq!(server.intake.store.reviews().unwrap()[&h.0].1, EVIL);
    assert!(server
        .centre
        .accounts()
        .audit_log(50)
        .unwrap()
        .iter()
        .any(|e| e.detail.contains(EVIL)));
}

/// Issue 11, item 6: a supervisor issues one-time enrollment codes for the enumerators of their
/// districts (by name), printable with a QR code of the intake's address and the code; another
/// district's enumerator does not exist for them; the code enrolls a device once.
#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_issues_printable_enrollment_codes_for_their_own_enumerators() {
    let server = setup().await;
    let session = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let page = get(&server, "/c/qt-sipas-2024/codes", &session)
        .await
        .text()
        .await
        .unwrap();
    let name_of = |id: &str| {
        server
            .campaign
            .enumerators
            .iter()
            .find(|e| e.id == id)
            .unwrap()
            .name
            .clone()
    };
    assert!(page.contains(&name_of("enum-dh-p2")), "{page}");
    assert!(
        !page.contains(&name_of("enum-gl-ga")),
        "only their districts' enumerators"
    );
    let csrf = hidden_csrf(&page);
    let issue = |enumerator: &'static str| {
        let (session, csrf, url) = (
            session.clone(),
            csrf.clone(),
            format!("{}/c/qt-sipas-2024/codes", server.base),
        );
        async move {
            client()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("enumerator", enumerator),
                    ("hours", "72"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(issue("enum-gl-ga").await.status(), StatusCode::NOT_FOUND);
    // Post/redirect/get: the slip is a page of its own, shown once. A reload (or the back
    // button) neither shows the secret again nor issues a second code.
    let issued = issue("enum-dh-p2").await;
    assert_eq!(issued.status(), StatusCode::SEE_OTHER);
    let slip_page = issued.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(slip_page, "/c/qt-sipas-2024/codes/issued");
    let slip = || get(&server, &slip_page, &session);
    let printed = slip().await.text().await.unwrap();
    assert!(
        printed.contains(&name_of("enum-dh-p2")) && printed.contains("<svg"),
        "{printed}"
    );
    let code = between(&printed, "id=\"code\">", "<");
    assert!(
        printed.contains("Mã này thay mọi mã cũ chưa dùng của người này"),
        "the slip says an earlier unused code stops working"
    );
    let again = slip().await.text().await.unwrap();
    assert!(
        !again.contains(&code) && again.contains("id=\"code-gone\"") && !again.contains("<svg"),
        "{again}"
    );
    let issued_codes = server
        .centre
        .accounts()
        .audit_log(50)
        .unwrap()
        .iter()
        .filter(|e| e.action == "code_issued")
        .count();
    assert_eq!(issued_codes, 1, "a reload issues no second code");
    let key = sync_protocol::keys::DeviceKey::generate(&mut rand::rngs::OsRng);
    assert_eq!(
        server.enroll_raw(&code, &key).await.status(),
        201,
        "the printed code enrolls a device"
    );
    assert!(server
        .centre
        .accounts()
        .audit_log(50)
        .unwrap()
        .iter()
        .any(|e| e.login == "gs-dh" && e.action == "code_issued"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ministry_publishes_the_index_for_the_public_and_withdraws_it() {
    let server = setup().await;
    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    // Six verified forms in Đông Hà's Phường 2: enough for the district, not for a village of three.
    let mut device = server.enroll("enum-dh-p2").await;
    let hs = server.households("enum-dh-p2");
    let mut events = Vec::new();
    for (i, h) in hs
        .iter()
        .filter(|h| h.0.starts_with("dh-p2-kp1-"))
        .take(3)
        .chain(hs.iter().filter(|h| h.0.starts_with("dh-p2-kp2-")).take(3))
        .enumerate()
    {
        events.extend([
            device.distributed(h),
            device.collected(h),
            device.transcribed(h),
            verified_form(&server, &device, h, i as i64),
        ]);
    }
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    // Nothing public yet, and nothing else of the campaign without an account.
    let anonymous = |path: &'static str| {
        let url = format!("{}{path}", server.base);
        async move { client().get(url).send().await.unwrap() }
    };
    let before = anonymous("/public").await.text().await.unwrap();
    assert!(
        before.contains("Chưa có số liệu nào được công bố"),
        "{before}"
    );
    // A campaign that published nothing looks like one that does not exist.
    assert_eq!(
        anonymous("/public/qt-sipas-2024").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        anonymous("/public/no-such-campaign").await.status(),
        StatusCode::NOT_FOUND
    );

    let ministry = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/ministry/index", &ministry)
            .await
            .text()
            .await
            .unwrap(),
    );
    let post = |path: &'static str, session: String, form: Vec<(&'static str, String)>| {
        let url = format!("{}{path}", server.base);
        async move {
            browser()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let publish = |passphrase: &str, min: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("passphrase", passphrase.to_string()),
            ("level", "commune".to_string()),
            ("min_forms", min.to_string()),
            ("confirm_publish", "yes".to_string()),
        ]
    };
    // Outside pass: publishing to the open web asks for the box to be ticked; villages are
    // never published, even by a crafted form; neither changes anything.
    let mut unconfirmed = publish(PASSPHRASE, "5");
    unconfirmed.pop();
    let r = post(
        "/c/qt-sipas-2024/ministry/publish",
        ministry.clone(),
        unconfirmed,
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let said = r.text().await.unwrap();
    assert!(
        said.contains("id=\"publish-problem\" role=\"alert\">Hãy đánh dấu ô xác nhận công bố")
            && said.contains("name=\"confirm_publish\"")
            && said.contains("<option value=\"commune\" selected>")
            && said.contains(
                "name=\"min_forms\" type=\"number\" min=\"5\" max=\"100000\" value=\"5\""
            ),
        "said beside the box, the choices kept, to tick and publish again: {said}"
    );
    let mut villages = publish(PASSPHRASE, "1");
    villages[2].1 = "village".into();
    let r = post(
        "/c/qt-sipas-2024/ministry/publish",
        ministry.clone(),
        villages,
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("thôn quá ít hộ để công bố"));
    // A coverage that is no share is refused, not quietly read as 100 %.
    let mut over = publish(PASSPHRASE, "5");
    over.push(("min_coverage", "150".into()));
    let r = post("/c/qt-sipas-2024/ministry/publish", ministry.clone(), over).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Độ phủ tối thiểu là một tỷ lệ từ 0 đến 100 %"));
    let state = get(&server, "/c/qt-sipas-2024/ministry/index", &ministry)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        state.contains("Chưa công bố.") && !state.contains("id=\"withdraw\""),
        "{state}"
    );
    let wrong = post(
        "/c/qt-sipas-2024/ministry/publish",
        ministry.clone(),
        publish("không phải cụm mật khẩu", "5"),
    )
    .await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "publishing needs the key's passphrase"
    );
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let sup_csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/progress", &supervisor)
            .await
            .text()
            .await
            .unwrap(),
    );
    let as_supervisor = post(
        "/c/qt-sipas-2024/ministry/publish",
        supervisor.clone(),
        vec![
            ("csrf", sup_csrf),
            ("passphrase", PASSPHRASE.into()),
            ("level", "district".into()),
        ],
    )
    .await;
    assert_eq!(
        as_supervisor.status(),
        StatusCode::NOT_FOUND,
        "supervisors do not publish"
    );
    assert!(anonymous("/public")
        .await
        .text()
        .await
        .unwrap()
        .contains("Chưa có số liệu"));

    let done = post(
        "/c/qt-sipas-2024/ministry/publish",
        ministry.clone(),
        publish(PASSPHRASE, "5"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        done.contains("Đã công bố 3 địa bàn"),
        "province, district and commune (6 forms each); {done}"
    );
    let state = get(&server, "/c/qt-sipas-2024/ministry/index", &ministry)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        state.contains("Đang công bố")
            && state.contains("đến cấp xã, 3 địa bàn")
            && state.contains("id=\"withdraw\""),
        "the page says what is public: {state}"
    );
    let listed = anonymous("/public").await.text().await.unwrap();
    assert!(
        listed.contains("href=\"/public/qt-sipas-2024\""),
        "{listed}"
    );
    let public = anonymous("/public/qt-sipas-2024")
        .await
        .text()
        .await
        .unwrap();
    let names = server.intake.store.place_names().unwrap();
    for area in ["qtri", "dh", "dh-p2"] {
        assert!(
            public.contains(&names[area]),
            "{} is published: {public}",
            names[area]
        );
    }
    assert!(
        !public.contains(&names["dh-p2-kp1"]),
        "villages were not chosen"
    );
    assert!(
        public.contains("Khoảng tin cậy 95 %") && public.contains("id=\"method\""),
        "figures with intervals and the method"
    );
    let csv = anonymous("/public/qt-sipas-2024?format=csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.trim_start_matches('\u{feff}')
            .starts_with("cấp,mã địa bàn,địa bàn,thuộc,số phiếu,chỉ số (%)")
            && csv.contains(",6,"),
        "{csv}"
    );
    // A higher minimum leaves the small areas out, and says how many.
    let done = post(
        "/c/qt-sipas-2024/ministry/publish",
        ministry.clone(),
        publish(PASSPHRASE, "7"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        // Every sampled province, district and commune: 1 + 3 + 9, those without forms too.
        done.contains("Đã công bố 0 địa bàn; 13 địa bàn không được công bố (dưới 7 phiếu"),
        "{done}"
    );
    assert!(!anonymous("/public/qt-sipas-2024")
        .await
        .text()
        .await
        .unwrap()
        .contains(&names["dh"]));

    // Without a session, nothing else answers with data.
    for path in [
        "/c/qt-sipas-2024/progress",
        "/c/qt-sipas-2024/api/progress",
        "/c/qt-sipas-2024/ministry/index",
        "/c/qt-sipas-2024/ministry/reconciliation",
        "/c/qt-sipas-2024/reassign",
        "/admin",
        "/c/qt-sipas-2024/api/rejected",
    ] {
        let r = anonymous(path).await;
        assert!(
            matches!(
                r.status(),
                StatusCode::SEE_OTHER | StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND
            ),
            "{path}: {}",
            r.status()
        );
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(&names["dh-p2"]),
            "{path} shows nothing of the campaign"
        );
    }

    // Withdrawn — once the box is ticked: the public page is empty again. Both are audited.
    let unconfirmed = post(
        "/c/qt-sipas-2024/ministry/withdraw",
        ministry.clone(),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST);
    let withdrawn = post(
        "/c/qt-sipas-2024/ministry/withdraw",
        ministry.clone(),
        vec![("csrf", csrf.clone()), ("confirm_withdraw", "yes".into())],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(withdrawn.contains("Đã rút lại công bố"), "{withdrawn}");
    assert!(anonymous("/public")
        .await
        .text()
        .await
        .unwrap()
        .contains("Chưa có số liệu"));
    assert_eq!(
        anonymous("/public/qt-sipas-2024").await.status(),
        StatusCode::NOT_FOUND
    );
    let log = server.centre.accounts().audit_log(100).unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "published" && e.login == "bonv"));
    assert!(log
        .iter()
        .any(|e| e.action == "publication_withdrawn" && e.login == "bonv"));
}

/// The text between `start` and the next `end` after it.
/// Posts a move as a supervisor's browser does: a form marked confirmed is first asked about
/// (without the mark) and then confirmed with what the question carries back (`seen`). A
/// question that is refused is the answer (asked again, so that its response can be returned).
async fn post_move(
    url: String,
    session: String,
    form: Vec<(&'static str, String)>,
) -> reqwest::Response {
    let send = |form: Vec<(&'static str, String)>| {
        browser()
            .post(&url)
            .header(header::COOKIE, format!("fp_session={session}"))
            .form(&form)
            .send()
    };
    let asks_first =
        form.iter().any(|(k, _)| *k == "confirmed") && !form.iter().any(|(k, _)| *k == "seen");
    if !asks_first {
        return send(form).await.unwrap();
    }
    let question: Vec<_> = form
        .iter()
        .filter(|(k, _)| *k != "confirmed")
        .cloned()
        .collect();
    let asked = send(question.clone()).await.unwrap().text().await.unwrap();
    if !asked.contains("name=\"seen\"") {
        return send(question).await.unwrap();
    }
    let mut confirmed = form;
    confirmed.push(("seen", between(&asked, "name=\"seen\" value=\"", "\"")));
    send(confirmed).await.unwrap()
}

fn between(page: &str, start: &str, end: &str) -> String {
    let at = page
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {page}"))
        + start.len();
    page[at..].split(end).next().unwrap().to_string()
}
