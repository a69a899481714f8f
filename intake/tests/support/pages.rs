//! The centre's pages as a browser uses them: log in through the form, carry the session
//! cookie, read CSRF tokens from the pages. Accounts: the demo supervisor `gs-dh` with
//! [`PASSWORD`], and the ministry account `bonv`.

use super::TestServer;
use intake::accounts::{hash_password, Account, Role};
use reqwest::{header, redirect::Policy, StatusCode};

pub const PASSWORD: &str = "giám sát Đông Hà 2024";
pub const MINISTRY_PASSWORD: &str = "bộ nội vụ mật khẩu";
pub const PASSPHRASE: &str = "cụm mật khẩu của Bộ Nội vụ 2024";
/// The demo campaign, whose pages are under `/c/qt-sipas-2024/`.
pub const CAMPAIGN: &str = intake::demo::DEMO_CAMPAIGN_ID;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A client that follows a form's redirect to its page as a browser does (post/redirect/get:
/// the page says what the form did). The session cookie set on the request is carried along:
/// the redirect stays on the same host.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::limited(3))
        .build()
        .unwrap()
}

pub fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or_default().to_string())
        })
}

pub fn hidden_csrf(html: &str) -> String {
    let at =
        html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

pub async fn setup() -> TestServer {
    let server = TestServer::start().await;
    // The campaign's supervisor accounts exist without passwords until one is set.
    let accounts = server.centre.accounts();
    assert_eq!(
        accounts.account("gs-dh").unwrap().unwrap().campaigns,
        [(CAMPAIGN.to_string(), vec!["dh".to_string()])].into()
    );
    accounts
        .set_password("gs-dh", &hash_password(PASSWORD).unwrap())
        .unwrap();
    let ministry = Account {
        login: "bonv".into(),
        name: "<script>alert('x')</script> Bộ Nội vụ".into(),
        role: Role::Ministry,
        campaigns: [(CAMPAIGN.to_string(), vec![])].into(),
        districts: vec![],
        password_hash: Some(hash_password(MINISTRY_PASSWORD).unwrap()),
        disabled: false,
    };
    accounts
        .upsert_account(&ministry, chrono::Utc::now())
        .unwrap();
    server
}

/// Logs in through the form as a browser would; returns the session cookie (or the response).
pub async fn log_in(
    server: &TestServer,
    login: &str,
    password: &str,
) -> Result<String, reqwest::Response> {
    log_in_at(&server.base, login, password).await
}

/// As [`log_in`], at the intake process serving `base`.
pub async fn log_in_at(
    base: &str,
    login: &str,
    password: &str,
) -> Result<String, reqwest::Response> {
    let http = client();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let pre = cookie_value(&page, "fp_login_csrf").unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = http
        .post(format!("{base}/login"))
        .header(header::COOKIE, format!("fp_login_csrf={pre}"))
        .form(&[
            ("login", login),
            ("password", password),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    match cookie_value(&r, "fp_session") {
        Some(token) if r.status() == StatusCode::SEE_OTHER => Ok(token),
        _ => Err(r),
    }
}

pub async fn get(server: &TestServer, path: &str, session: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", server.base))
        .header(header::COOKIE, format!("fp_session={session}"))
        .send()
        .await
        .unwrap()
}

/// A verified SIPAS form for `h`, sealed to the demo ministry key in the form's question order.
pub fn verified_form(
    server: &TestServer,
    device: &super::TestDevice,
    h: &(String, String),
    variant: i64,
) -> sync_protocol::Event {
    let form = intake::demo::sipas_2024();
    verified_answers(
        server,
        device,
        h,
        forms::sample::complete_answers(&form, variant),
    )
}

/// A household's work to a verified form, in order: handed out, collected, keyed, `verified`.
pub fn through_verification(
    device: &super::TestDevice,
    h: &(String, String),
    verified: sync_protocol::Event,
) -> [sync_protocol::Event; 4] {
    [
        device.distributed(h),
        device.collected(h),
        device.transcribed(h),
        verified,
    ]
}

/// A verified transcription of `answers` as given (whatever a device would or would not send),
/// sealed to the campaign's ministry key, its two keyings agreeing.
pub fn verified_answers(
    server: &TestServer,
    device: &super::TestDevice,
    h: &(String, String),
    answers: std::collections::BTreeMap<String, serde_json::Value>,
) -> sync_protocol::Event {
    verified_with_counts(server, device, h, answers, 0, 0, 0)
}

/// As [`verified_answers`], with the double keying's counts the tablet reports.
pub fn verified_with_counts(
    server: &TestServer,
    device: &super::TestDevice,
    h: &(String, String),
    answers: std::collections::BTreeMap<String, serde_json::Value>,
    mismatches: u32,
    keyer_errors: u32,
    verifier_errors: u32,
) -> sync_protocol::Event {
    let form = intake::demo::sipas_2024();
    let sheet = sync_protocol::seal::AnswerSheet {
        form: form.reference(),
        household: h.0.clone(),
        serial: h.1.clone(),
        // The first `mismatches` answers (by id) were left blank by the first keying.
        keyings_apart: answers
            .iter()
            .take(mismatches as usize)
            .map(|(q, v)| sync_protocol::seal::KeyingsApart {
                question: q.clone(),
                first: None,
                second: Some(v.clone()),
            })
            .collect(),
        answers,
    };
    let sealed = sync_protocol::seal::seal(
        &server.ministry.public(),
        &sheet,
        &form.question_order(),
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    device.event(
        h,
        sync_protocol::EventBody::TranscriptionVerified {
            form: form.reference(),
            sealed_answers: sync_protocol::keys::Base64Bytes(sealed),
            keying_seconds: 200,
            mismatches,
            keyer_errors,
            verifier_errors,
        },
    )
}
