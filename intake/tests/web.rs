//! The centre's pages over real HTTP, trying to break in: no session, forged or missing CSRF
//! tokens, a planted session cookie, wrong passwords past the limit, another district's ids,
//! injection in free text — and a supervisor never sees an answer.

mod support;

use intake::accounts::{hash_password, Account, Role};
use reqwest::{header, redirect::Policy, StatusCode};
use support::TestServer;

const PASSWORD: &str = "giám sát Đông Hà 2024";

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (k, rest) = c.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or_default().to_string())
    })
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

async fn setup() -> TestServer {
    let server = TestServer::start().await;
    // The campaign's supervisor accounts exist without passwords until one is set.
    assert_eq!(server.intake.store.account("gs-dh").unwrap().unwrap().districts, ["dh"]);
    server.intake.store.set_password("gs-dh", &hash_password(PASSWORD).unwrap()).unwrap();
    let ministry = Account { login: "bonv".into(), name: "<script>alert('x')</script> Bộ Nội vụ".into(), role: Role::Ministry, districts: vec![], password_hash: Some(hash_password("bộ nội vụ mật khẩu").unwrap()) };
    server.intake.store.upsert_account(&ministry, chrono::Utc::now()).unwrap();
    server
}

/// Logs in through the form as a browser would; returns the session cookie (or the response).
async fn log_in(server: &TestServer, login: &str, password: &str) -> Result<String, reqwest::Response> {
    let http = client();
    let page = http.get(format!("{}/login", server.base)).send().await.unwrap();
    let pre = cookie_value(&page, "fp_login_csrf").unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = http
        .post(format!("{}/login", server.base))
        .header(header::COOKIE, format!("fp_login_csrf={pre}"))
        .form(&[("login", login), ("password", password), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    match cookie_value(&r, "fp_session") {
        Some(token) if r.status() == StatusCode::SEE_OTHER => Ok(token),
        _ => Err(r),
    }
}

async fn get(server: &TestServer, path: &str, session: &str) -> reqwest::Response {
    client().get(format!("{}{path}", server.base)).header(header::COOKIE, format!("fp_session={session}")).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_sees_only_their_district_and_never_an_answer() {
    let server = setup().await;
    // Some synced work in Đông Hà, a sealed form among it.
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2")[0].clone();
    let sealed = device.sealed(&h);
    let batch = device.next_batch(vec![device.distributed(&h), device.collected(&h), device.transcribed_with(&h, sealed.clone())]);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    // Nothing without a session.
    let r = client().get(format!("{}/progress", server.base)).send().await.unwrap();
    assert_eq!((r.status(), r.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));
    assert_eq!(client().get(format!("{}/api/progress", server.base)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(get(&server, "/api/progress", "made-up-token").await.status(), StatusCode::UNAUTHORIZED);

    let session = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let report: serde_json::Value = get(&server, "/api/progress", &session).await.json().await.unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "Đông Hà's six villages");
    assert!(rows.iter().all(|r| r["district_id"] == "dh"));
    let kp1 = rows.iter().find(|r| r["village_id"] == "dh-p2-kp1").unwrap();
    assert_eq!((kp1["counts"]["handed_out"].as_u64(), kp1["counts"]["transcribed"].as_u64()), (Some(1), Some(1)));
    assert!(kp1["last_sync"].is_string());

    // Another district's page does not exist for them; their own does.
    assert_eq!(get(&server, "/progress/district/qt", &session).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&server, "/progress/district/dh", &session).await.status(), StatusCode::OK);
    assert_eq!(get(&server, "/progress/district/nowhere", &session).await.status(), StatusCode::NOT_FOUND);

    // No answer anywhere in what they can reach, and no device endpoint opens up to a cookie.
    let sealed_b64 = sync_protocol::keys::b64(&sealed.0);
    for path in ["/progress", "/api/progress", "/progress/district/dh"] {
        let body = get(&server, path, &session).await.text().await.unwrap();
        assert!(!body.contains(&sealed_b64[..40]) && !body.contains("sealed") && !body.contains("answers"), "{path}");
    }
    assert_eq!(get(&server, sync_protocol::api::PATH_ASSIGNMENT, &session).await.status(), StatusCode::UNAUTHORIZED);

    // The ministry sees every district; its name is shown escaped, not run.
    let ministry = log_in(&server, "bonv", "bộ nội vụ mật khẩu").await.unwrap();
    let all: serde_json::Value = get(&server, "/api/progress", &ministry).await.json().await.unwrap();
    assert_eq!(all["rows"].as_array().unwrap().len(), 18);
    let html = get(&server, "/progress", &ministry).await.text().await.unwrap();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert"), "escaped");
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_resist_forged_forms_planted_cookies_guessing_and_injection() {
    let server = setup().await;
    let http = client();

    // A login form without its pre-session token, or with another one, is refused.
    let r = http.post(format!("{}/login", server.base)).form(&[("login", "gs-dh"), ("password", PASSWORD), ("csrf", "x")]).send().await.unwrap();
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
    let page = http.get(format!("{}/login", server.base)).send().await.unwrap();
    let pre = cookie_value(&page, "fp_login_csrf").unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = http
        .post(format!("{}/login", server.base))
        .header(header::COOKIE, format!("fp_login_csrf={pre}; fp_session=planted-by-attacker"))
        .form(&[("login", "gs-dh"), ("password", PASSWORD), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let session = cookie_value(&r, "fp_session").unwrap();
    assert_ne!(session, "planted-by-attacker");
    let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    assert_eq!(get(&server, "/api/progress", "planted-by-attacker").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(get(&server, "/api/progress", &session).await.status(), StatusCode::OK);

    // Log-out needs the session's CSRF token.
    let page = get(&server, "/progress", &session).await.text().await.unwrap();
    let token = hidden_csrf(&page);
    let logout = |csrf: String| {
        let (http, url, session) = (http.clone(), format!("{}/logout", server.base), session.clone());
        async move { http.post(url).header(header::COOKIE, format!("fp_session={session}")).form(&[("csrf", csrf)]).send().await.unwrap() }
    };
    assert_eq!(logout("forged".into()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(get(&server, "/api/progress", &session).await.status(), StatusCode::OK, "a forged log-out changes nothing");
    assert_eq!(logout(token).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(get(&server, "/api/progress", &session).await.status(), StatusCode::UNAUTHORIZED);

    // SQL and HTML in the free-text fields of the login form: refused, nothing echoed.
    for login in ["' OR '1'='1", "gs-dh'; DROP TABLE accounts; --", "<img src=x onerror=alert(1)>"] {
        let r = log_in(&server, login, "' OR '1'='1").await.unwrap_err();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(!r.text().await.unwrap().contains("<img src=x"));
    }
    assert!(server.intake.store.account("gs-dh").unwrap().is_some(), "the accounts table is still there");

    // Wrong passwords past the limit: refused for a while, even the right one.
    for _ in 0..5 {
        assert_eq!(log_in(&server, "gs-dh", "sai mật khẩu rồi").await.unwrap_err().status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(log_in(&server, "gs-dh", PASSWORD).await.unwrap_err().status(), StatusCode::TOO_MANY_REQUESTS);

    // Every attempt is in the audit log.
    let log = server.intake.store.audit_log(100).unwrap();
    let count = |action: &str| log.iter().filter(|e| e.action == action && e.login == "gs-dh").count();
    assert_eq!((count("login"), count("login_failed"), count("login_refused")), (1, 5, 1));
    assert!(log.iter().all(|e| e.address == "127.0.0.1"));
}
