//! ODK Central beside the intake, in the same run: the same answers submitted as ODK Collect
//! would (an XForms instance as `xml_submission_file` in a multipart `POST` to the OpenRosa
//! `/submission` endpoint, through an app user's key), from the same number of concurrent
//! senders.
//!
//! Central is not built or started here: `FIELDPOST_BENCH_CENTRAL` names one already running on
//! this machine (`http://127.0.0.1:8383`, Central's backend with its PostgreSQL) and
//! `FIELDPOST_BENCH_CENTRAL_LOGIN` an administrator (`email:password`). The bench makes a
//! project of its own there, publishes a form with the bench's answers as its fields, and
//! counts through Central's OData feed that every submission it was told was stored is there.

use std::{
    collections::BTreeMap,
    sync::{atomic::AtomicUsize, Arc},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

const FORM_ID: &str = "fieldpost_bench";

pub struct Central {
    /// One client for every call, so that legs reuse their connections as Collect devices do.
    http: reqwest::Client,
    base: String,
    admin: String,
    project: i64,
    /// The app user's key: the path a Collect device submits through.
    submission_url: String,
}

/// One Central leg's figures.
pub struct Leg {
    pub forms: usize,
    pub rate: f64,
    pub elapsed: Duration,
}

impl Central {
    /// The Central named by the environment, set up for the bench with a form whose fields are
    /// those of `sample` (one form's answers); `None` when none is named.
    pub async fn from_env(sample: &BTreeMap<String, Value>) -> Option<Result<Central, String>> {
        let base = std::env::var("FIELDPOST_BENCH_CENTRAL")
            .ok()
            .filter(|v| !v.is_empty())?;
        Some(Self::set_up(reqwest::Client::new(), base.trim_end_matches('/'), sample).await)
    }

    async fn set_up(
        http: reqwest::Client,
        base: &str,
        sample: &BTreeMap<String, Value>,
    ) -> Result<Central, String> {
        let host = reqwest::Url::parse(base)
            .map_err(|e| format!("FIELDPOST_BENCH_CENTRAL: {e}"))?
            .host_str()
            .unwrap_or_default()
            .to_string();
        if !["127.0.0.1", "localhost", "[::1]"].contains(&host.as_str()) {
            return Err(format!(
                "FIELDPOST_BENCH_CENTRAL must be on this machine's loopback, not {host}"
            ));
        }
        let login = std::env::var("FIELDPOST_BENCH_CENTRAL_LOGIN").unwrap_or_default();
        let (email, password) = login
            .split_once(':')
            .ok_or("FIELDPOST_BENCH_CENTRAL_LOGIN must be email:password")?;
        let session = call(
            http.post(format!("{base}/v1/sessions"))
                .json(&json!({ "email": email, "password": password })),
        )
        .await?;
        let admin = format!("Bearer {}", text(&session, "token")?);
        let project = call(
            http.post(format!("{base}/v1/projects"))
                .header("Authorization", &admin)
                .json(&json!({ "name": format!("fieldpost bench {}", chrono::Utc::now()) })),
        )
        .await?["id"]
            .as_i64()
            .ok_or("Central made a project without an id")?;
        call(
            http.post(format!("{base}/v1/projects/{project}/forms?publish=true"))
                .header("Authorization", &admin)
                .header("Content-Type", "application/xml")
                .body(xform(sample)),
        )
        .await?;
        let app_user = call(
            http.post(format!("{base}/v1/projects/{project}/app-users"))
                .header("Authorization", &admin)
                .json(&json!({ "displayName": "fieldpost bench" })),
        )
        .await?;
        let actor = app_user["id"].as_i64().ok_or("an app user without an id")?;
        // Granted on the form by the role's system name, as Central's own pages do.
        call(
            http.post(format!(
                "{base}/v1/projects/{project}/forms/{FORM_ID}/assignments/app-user/{actor}"
            ))
            .header("Authorization", &admin),
        )
        .await?;
        let key = text(&app_user, "token")?;
        Ok(Central {
            http,
            submission_url: format!("{base}/v1/key/{key}/projects/{project}/submission"),
            base: base.to_string(),
            admin,
            project,
        })
    }

    /// Submits `forms` forms (answers as `answers(i)` gives them) from `senders` senders, and
    /// checks that Central holds as many more as it said it stored.
    pub async fn submit(
        &self,
        forms: usize,
        senders: usize,
        answers: impl Fn(usize) -> BTreeMap<String, Value>,
    ) -> Result<Leg, String> {
        let before = self.stored().await?;
        // Made before the clock starts, as the intake's frames are.
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
            (0..forms)
                .map(|i| multipart(&instance(i, &answers(i))))
                .collect(),
        );
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..senders {
            let (http, url, bodies, next) = (
                self.http.clone(),
                self.submission_url.clone(),
                bodies.clone(),
                next.clone(),
            );
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return Ok(());
                    };
                    let r = http
                        .post(&url)
                        .header("X-OpenRosa-Version", "1.0")
                        .header(
                            "Content-Type",
                            format!("multipart/form-data; boundary={BOUNDARY}"),
                        )
                        .body(body.clone())
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if r.status() != 201 {
                        return Err(format!(
                            "Central answered {}: {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ));
                    }
                }
            }));
        }
        for w in workers {
            w.await.map_err(|e| e.to_string())??;
        }
        let elapsed = start.elapsed();
        let after = self.stored().await?;
        if after - before != forms as i64 {
            return Err(format!(
                "Central said it stored {forms} submissions but holds {} more",
                after - before
            ));
        }
        Ok(Leg {
            forms,
            rate: forms as f64 / elapsed.as_secs_f64(),
            elapsed,
        })
    }

    /// Submissions Central holds for the bench's form.
    async fn stored(&self) -> Result<i64, String> {
        let (base, project) = (&self.base, self.project);
        let feed = call(
            self.http.get(format!(
                "{base}/v1/projects/{project}/forms/{FORM_ID}.svc/Submissions?%24top=0&%24count=true"
            ))
            .header("Authorization", &self.admin),
        )
        .await?;
        feed["@odata.count"]
            .as_i64()
            .ok_or_else(|| "Central's feed has no count".into())
    }
}

async fn call(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("Central answered {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("Central's answer is not JSON ({e}): {body}"))
}

fn text(value: &Value, field: &str) -> Result<String, String> {
    value[field]
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("Central's answer has no {field}"))
}

/// The bench's answers as an XForm: one field each (whole numbers, or text for the
/// multi-select and the comment), the household, and the instance id Collect fills in.
fn xform(sample: &BTreeMap<String, Value>) -> String {
    let fields: Vec<(String, &str)> = sample
        .iter()
        .map(|(name, value)| (name.clone(), if value.is_i64() { "int" } else { "string" }))
        .chain([
            ("household".to_string(), "string"),
            ("serial".to_string(), "string"),
        ])
        .collect();
    let instance: String = fields.iter().map(|(n, _)| format!("<{n}/>")).collect();
    let binds: String = fields
        .iter()
        .map(|(n, t)| format!(r#"<bind nodeset="/data/{n}" type="{t}"/>"#))
        .collect();
    let body: String = fields
        .iter()
        .map(|(n, _)| format!(r#"<input ref="/data/{n}"><label>{n}</label></input>"#))
        .collect();
    format!(
        r#"<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
<h:head><h:title>SIPAS (Fieldpost bench)</h:title><model>
<instance><data id="{FORM_ID}" version="1">{instance}<meta><instanceID/></meta></data></instance>
{binds}<bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
</model></h:head><h:body>{body}</h:body></h:html>"#
    )
}

/// One form's XForms instance, as Collect writes it (a multi-select as its values separated
/// by spaces).
fn instance(i: usize, answers: &BTreeMap<String, Value>) -> String {
    let mut xml = format!(
        r#"<?xml version='1.0' ?><data id="{FORM_ID}" version="1" xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">"#
    );
    for (name, value) in answers {
        let text = match value {
            Value::Array(items) => items
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        xml.push_str(&format!("<{name}>{text}</{name}>"));
    }
    xml.push_str(&format!(
        "<household>h-{i}</household><serial>{i:08}</serial><meta><instanceID>uuid:{}</instanceID></meta></data>",
        uuid::Uuid::new_v4()
    ));
    xml
}

const BOUNDARY: &str = "fieldpostbench7d0a1b2c3e4f";

fn multipart(xml: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; filename=\"submission.xml\"\r\nContent-Type: text/xml\r\n\r\n{xml}\r\n--{BOUNDARY}--\r\n"
    )
    .into_bytes()
}
