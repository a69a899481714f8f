//! A page asked for while logged out is where logging in returns — and only a page of this
//! centre: the return address is never a way to send someone to another site.

mod support;

use reqwest::{header, StatusCode};
use support::pages::*;

async fn log_in_via(server: &support::TestServer, asked: &str) -> reqwest::Response {
    let http = client();
    // Asking for the page sends the person to the login page, which remembers the page.
    let first = http
        .get(format!("{}{asked}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let login_at = first.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(login_at.starts_with("/login?next="), "{login_at}");
    let page = http
        .get(format!("{}{login_at}", server.base))
        .send()
        .await
        .unwrap();
    let pre = page
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .find_map(|c| {
            c.to_str()
                .ok()?
                .strip_prefix("fp_login_csrf=")
                .map(|v| v.split(';').next().unwrap().to_string())
        })
        .unwrap();
    let html = page.text().await.unwrap();
    let next = html
        .split("name=\"next\" value=\"")
        .nth(1)
        .map(|r| r.split('"').next().unwrap().replace("&amp;", "&"))
        .unwrap_or_default();
    http.post(format!("{}/login", server.base))
        .header(header::COOKIE, format!("fp_login_csrf={pre}"))
        .form(&[
            ("login", "gs-dh"),
            ("password", PASSWORD),
            ("csrf", hidden_csrf(&html).as_str()),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_in_returns_to_the_page_asked_for_and_nowhere_else() {
    let server = setup().await;
    let back = log_in_via(&server, "/c/qt-sipas-2024/progress/report?from=2024-11-01").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        back.headers()[header::LOCATION],
        "/c/qt-sipas-2024/progress/report?from=2024-11-01"
    );

    // A return address to another site, written into the login form by anyone, goes home.
    let http = client();
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/logout",
    ] {
        let page = http
            .get(format!("{}/login", server.base))
            .send()
            .await
            .unwrap();
        let pre = page
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .find_map(|c| {
                c.to_str()
                    .ok()?
                    .strip_prefix("fp_login_csrf=")
                    .map(|v| v.split(';').next().unwrap().to_string())
            })
            .unwrap();
        let html = page.text().await.unwrap();
        let r = http
            .post(format!("{}/login", server.base))
            .header(header::COOKIE, format!("fp_login_csrf={pre}"))
            .form(&[
                ("login", "gs-dh"),
                ("password", PASSWORD),
                ("csrf", hidden_csrf(&html).as_str()),
                ("next", evil),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/", "{evil}");
    }
}
