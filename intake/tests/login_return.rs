//! A page asked for while logged out is where logging in returns — and only a page of this
//! centre: the return address is never a way to send someone to another site.

mod support;

use reqwest::{header, StatusCode};
use support::pages::*;

/// The login page at `path`: its pre-session CSRF cookie and its HTML.
async fn login_page(server: &support::TestServer, path: &str) -> (String, String) {
    let page = client()
        .get(format!("{}{path}", server.base))
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
    (pre, page.text().await.unwrap())
}

/// Logs `gs-dh` in from a login page, with `next` as its form carries it.
async fn submit(
    server: &support::TestServer,
    (pre, html): &(String, String),
    next: &str,
) -> reqwest::Response {
    client()
        .post(format!("{}/login", server.base))
        .header(header::COOKIE, format!("fp_login_csrf={pre}"))
        .form(&[
            ("login", "gs-dh"),
            ("password", PASSWORD),
            ("csrf", hidden_csrf(html).as_str()),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_in_returns_to_the_page_asked_for_and_nowhere_else() {
    let server = setup().await;
    let asked = "/c/qt-sipas-2024/progress/report?from=2024-11-01";
    // Asking for the page sends the person to the login page, which remembers the page.
    let first = client()
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
    // A HEAD of the page is sent the same way as its GET.
    let head = client()
        .head(format!("{}{asked}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()[header::LOCATION], login_at.as_str());
    let page = login_page(&server, &login_at).await;
    let next = page
        .1
        .split("name=\"next\" value=\"")
        .nth(1)
        .map(|r| r.split('"').next().unwrap().replace("&amp;", "&"))
        .unwrap_or_default();
    let back = submit(&server, &page, &next).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(back.headers()[header::LOCATION], asked);

    // A return address typed with Vietnamese letters comes back percent-encoded (a header is
    // ASCII), and what was encoded already stays as it was.
    let page = login_page(&server, "/login").await;
    let r = submit(&server, &page, "/c/qt-sipas-2024/tiến-độ?x=%20").await;
    assert_eq!(
        r.headers()[header::LOCATION].as_bytes(),
        b"/c/qt-sipas-2024/ti%E1%BA%BFn-%C4%91%E1%BB%99?x=%20"
    );

    // A return address to another site, written into the login form by anyone, goes home.
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/logout",
    ] {
        let page = login_page(&server, "/login").await;
        let r = submit(&server, &page, evil).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/", "{evil}");
    }
}
