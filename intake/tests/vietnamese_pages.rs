//! Every page of the centre speaks Vietnamese to the people who read it: each page, as each
//! role sees it with real work in the database (refused work, anomalies, a back-check draw, the
//! index), is fetched over HTTP and its visible text checked for English words and for codes or
//! ids where a person reads. English is allowed second, after " / ".

mod support;

use support::language::*;

use intake::accounts::{hash_password, Account, Role};
use support::pages::*;

#[test]
fn the_checker_catches_what_it_is_for() {
    assert!(problems("<p>Lý do: household_not_assigned</p>", &[]).len() == 1);
    assert!(problems("<td>enum-dh-p2</td>", &[]).len() == 1);
    assert!(problems("<p>bad request: the form is not found</p>", &[]).len() >= 3);
    assert!(problems("<p>Hãy ghi lý do.</p><style>a_b{}</style>", &[]).is_empty());
    // English is no longer allowed second, and machines' dates and JSON are found too.
    assert!(!problems("<p>Hãy ghi lý do. / Say why, the form.</p>", &[]).is_empty());
    assert!(!problems("<p>Từ ngày 2024-11-23</p>", &[]).is_empty());
    assert!(!problems("<p>Chi tiết: {\"household\": 3}</p>", &[]).is_empty());
    assert!(problems(
        "<p>Phiếu QT24-00005 của Nguyễn Văn An, 23/11/2026 08:00</p>",
        &[]
    )
    .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_each_role_reads_is_in_vietnamese() {
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

    // Real work: forms through to verified answers, a village moved while a device was offline
    // (one refusal decided, one waiting), collections outside the window (anomalies).
    let mut device = server.enroll("enum-dh-p2").await;
    let hs = server.households("enum-dh-p2");
    let mut events = Vec::new();
    // Two sheets that open (the index page has figures by area), one that does not (its list).
    for (i, h) in hs[..3].iter().enumerate() {
        let verified = if i < 2 {
            verified_form(&server, &device, h, i as i64)
        } else {
            device.verified_with(h, device.sealed(h))
        };
        events.extend([
            device.distributed(h),
            device.collected(h),
            device.transcribed(h),
            verified,
        ]);
    }
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    let moved: Vec<_> = hs
        .iter()
        .filter(|h| h.0.starts_with("dh-p2-kp1-"))
        .skip(5)
        .take(2)
        .cloned()
        .collect();
    server
        .intake
        .store
        .reassign(
            &intake::store::ReassignTarget::Village("dh-p2-kp1".into()),
            "enum-dh-p4",
            "gs-dh",
            "ốm",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    let batch = device.next_batch(vec![
        device.distributed(&moved[0]),
        device.distributed(&moved[1]),
    ]);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    let refused = server.intake.store.rejected_events(None).unwrap();
    server
        .intake
        .store
        .resolve_rejected(
            &refused[0].event,
            sync_protocol::assignment::Resolution::Dismissed,
            "Phát nhầm",
            "gs-dh",
            chrono::Utc::now(),
        )
        .unwrap();

    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let ministry = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let admin = log_in(&server, "admin", "quản trị viên mật khẩu")
        .await
        .unwrap();
    let csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/ministry/backcheck", &ministry)
            .await
            .text()
            .await
            .unwrap(),
    );
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        let (url, session) = (format!("{}{path}", server.base), ministry.clone());
        async move {
            browser()
                .post(url)
                .header(reqwest::header::COOKIE, format!("fp_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let drawn = post(
        "/c/qt-sipas-2024/ministry/backcheck",
        vec![
            ("csrf", csrf.clone()),
            ("seed", "phuc-tra-dot-1".into()),
            ("share", "100".into()),
            ("min", "1".into()),
        ],
    )
    .await;
    let index = post(
        "/c/qt-sipas-2024/ministry/index",
        vec![("csrf", csrf.clone()), ("passphrase", PASSPHRASE.into())],
    )
    .await;
    let wrong = post(
        "/c/qt-sipas-2024/ministry/index",
        vec![
            ("csrf", csrf.clone()),
            ("passphrase", "không phải cụm mật khẩu".into()),
        ],
    )
    .await;

    // What people typed themselves (logins, a seed) may look like ids.
    let typed = [
        "gs-dh",
        "gs-qt",
        "gs-gl",
        "bonv",
        "admin",
        "phuc-tra-dot-1",
        "fieldpost://enroll",
        "intake store-ministry-key",
    ];
    let mut pages: Vec<(String, String)> = vec![
        ("POST /ministry/backcheck".into(), drawn),
        ("POST /ministry/index".into(), index),
        ("POST /ministry/index (wrong passphrase)".into(), wrong),
        (
            "GET /login".into(),
            client()
                .get(format!("{}/login", server.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        ),
        (
            "GET /public".into(),
            client()
                .get(format!("{}/public", server.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        ),
    ];
    // Every page each role can reach by following links from its first pages.
    for (session, starts) in [
        (
            &supervisor,
            &[
                "/",
                "/c/qt-sipas-2024/progress",
                "/c/qt-sipas-2024/ministry/index",
            ][..],
        ),
        (&ministry, &["/", "/compare/sipas"][..]),
        (&admin, &["/", "/admin", "/admin/audit"][..]),
    ] {
        let found = crawl(&server, session, starts, 120).await;
        assert!(
            found.len() > starts.len(),
            "the crawl follows links: {found:?}"
        );
        pages.extend(found);
    }
    // A query the page cannot read, or a code's slip already shown once, ends on a page of
    // words that leads back.
    for (session, path) in [
        (&supervisor, "/c/qt-sipas-2024/codes/issued"),
        (
            &supervisor,
            "/c/qt-sipas-2024/progress/report?from=2026-13-01",
        ),
        (
            &supervisor,
            "/c/qt-sipas-2024/progress/report?from=&to=2024-11-30",
        ),
        (&admin, "/admin/audit?from=hôm+qua"),
    ] {
        let response = get(&server, path, session).await;
        let html = response.text().await.unwrap();
        assert!(html.contains("<a "), "{path}: a way back");
        pages.push((format!("GET {path}"), html));
    }
    // Mistakes people make end on a page of words too: a mistyped address, a link to a form's
    // address, a login page left open too long (or a form that is not the login page's).
    for (what, response) in [
        (
            "GET /progres (mistyped)",
            get(&server, "/progres", &supervisor).await,
        ),
        (
            "GET /c/qt-sipas-2024/progres",
            get(&server, "/c/qt-sipas-2024/progres", &supervisor).await,
        ),
        ("GET /logout", get(&server, "/logout", &supervisor).await),
        (
            "POST /login, stale",
            client()
                .post(format!("{}/login", server.base))
                .form(&[
                    ("login", "gs-dh"),
                    ("password", PASSWORD),
                    ("csrf", "an old one"),
                ])
                .send()
                .await
                .unwrap(),
        ),
        (
            "POST /login, no fields",
            client()
                .post(format!("{}/login", server.base))
                .form(&[("x", "y")])
                .send()
                .await
                .unwrap(),
        ),
    ] {
        assert!(
            response.status().is_client_error(),
            "{what}: {}",
            response.status()
        );
        pages.push((what.to_string(), response.text().await.unwrap()));
    }
    // The devices' protocol keeps its JSON errors.
    let device = client()
        .get(format!("{}/v1/nothing", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(device.headers()["content-type"], "application/json");
    assert!(pages.len() >= 40, "the crawl reached {} pages", pages.len());
    let mut all = Vec::new();
    for (what, html) in &pages {
        assert!(html.contains("<html"), "{what} is a page");
        let found = problems(html, &typed);
        all.extend(found.into_iter().map(|p| format!("{what}: {p}")));
        // A page that shows a time of day says in which zone.
        if shows_a_time_of_day(&visible_text(html)) && !html.contains("UTC+07:00") {
            all.push(format!("{what}: a time without its zone"));
        }
    }
    assert!(
        all.is_empty(),
        "not Vietnamese where a person reads:\n{}",
        all.join("\n")
    );
}

/// Every page `session` reaches from `starts` by following the links on the pages (GET only,
/// never logging out, files skipped), at most `limit` pages.
async fn crawl(
    server: &support::TestServer,
    session: &str,
    starts: &[&str],
    limit: usize,
) -> Vec<(String, String)> {
    let mut queue: std::collections::VecDeque<String> =
        starts.iter().map(|s| s.to_string()).collect();
    let mut seen: std::collections::HashSet<String> = queue.iter().cloned().collect();
    let mut pages = Vec::new();
    while let Some(path) = queue.pop_front() {
        if pages.len() >= limit {
            break;
        }
        let response = get(server, &path, session).await;
        let html_page = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if !html_page {
            continue;
        }
        let html = response.text().await.unwrap();
        let base = html
            .split("<base href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(String::from)
            .unwrap_or_else(|| path[..=path.rfind('/').unwrap_or(0)].to_string());
        for link in html
            .split("href=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
        {
            let link = link.replace("&amp;", "&");
            let link = link.split('#').next().unwrap_or("").to_string();
            if link.is_empty() || link.starts_with("http") || link.starts_with("mailto:") {
                continue;
            }
            let absolute = if link.starts_with('/') {
                link.clone()
            } else {
                format!("{base}{link}")
            };
            let skip = absolute.starts_with("/logout")
                || absolute.ends_with(".csv")
                || absolute.ends_with(".xlsx")
                || absolute.contains("format=")
                || absolute.contains("/assets/");
            if !skip && seen.insert(absolute.clone()) {
                queue.push_back(absolute);
            }
        }
        pages.push((format!("GET {path}"), html));
    }
    pages
}

/// Whether `text` holds a day with a time of day, as the pages write them ("07/12/2026 20:32"
/// or "20:32 07/12/2026").
fn shows_a_time_of_day(text: &str) -> bool {
    let shape = |s: &[u8], pattern: &[u8]| {
        s.len() >= pattern.len()
            && pattern.iter().zip(s).all(|(p, c)| match p {
                b'9' => c.is_ascii_digit(),
                other => other == c,
            })
    };
    let bytes = text.as_bytes();
    (0..bytes.len())
        .any(|i| shape(&bytes[i..], b"99/99/9999 99:99") || shape(&bytes[i..], b"99:99 99/99/9999"))
}

#[test]
fn a_time_of_day_is_found_in_either_order() {
    assert!(shows_a_time_of_day("Đồng bộ gần nhất: 07/12/2026 20:32:12"));
    assert!(shows_a_time_of_day("hết hạn lúc 20:32 07/12/2026"));
    assert!(!shows_a_time_of_day("Ngày 07/12/2026, 20 hộ"));
}
