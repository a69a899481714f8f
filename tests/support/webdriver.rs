//! A W3C WebDriver client, as much as the tests use: sessions, elements, keys, text,
//! attributes, scripts and screenshots.

use base64::Engine;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
pub const ENTER: &str = "\u{E007}";
pub const TAB: &str = "\u{E004}";

pub struct Session {
    http: reqwest::blocking::Client,
    base: String,
}

fn check(response: reqwest::blocking::Response) -> Result<Value, String> {
    let status = response.status();
    let body: Value = response.json().map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            body["value"]["message"]
                .as_str()
                .unwrap_or(&body.to_string())
        ));
    }
    Ok(body["value"].clone())
}

impl Session {
    pub fn start(driver: &str, capabilities: Value) -> Result<Session, String> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let value = check(
            http.post(format!("{driver}/session"))
                .json(&json!({ "capabilities": { "alwaysMatch": capabilities } }))
                .send()
                .map_err(|e| e.to_string())?,
        )?;
        let id = value["sessionId"]
            .as_str()
            .ok_or("no session id")?
            .to_string();
        Ok(Session {
            http,
            base: format!("{driver}/session/{id}"),
        })
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        check(
            self.http
                .post(format!("{}{path}", self.base))
                .json(&body)
                .send()
                .map_err(|e| e.to_string())?,
        )
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        check(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .map_err(|e| e.to_string())?,
        )
    }

    pub fn find(&self, css: &str) -> Result<String, String> {
        let v = self.post("/element", json!({ "using": "css selector", "value": css }))?;
        Ok(v[ELEMENT].as_str().ok_or("no element id")?.to_string())
    }

    pub fn find_all(&self, css: &str) -> Result<Vec<String>, String> {
        let v = self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits (up to 15 s) until `css` matches an element, and returns it.
    pub fn wait(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.find(css) {
                Ok(id) => return id,
                Err(e) if Instant::now() > deadline => panic!(
                    "{css} never appeared: {e}\npage: {}",
                    self.text("body").unwrap_or_default()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Waits until the text of `css` contains `needle`.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text(css).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                panic!("{css} never said {needle:?}; it says {text:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Does `action` (`click`, `clear`, `value`) to `css`, finding it again if the screen was
    /// redrawn between the find and the action (a background sync or a saved answer redraws
    /// it: the element found is then gone, and WebDriver refuses before doing anything).
    fn on_element(&self, css: &str, action: &str, body: Value) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let id = self.wait(css);
            match self.post(&format!("/element/{id}/{action}"), body.clone()) {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!("{action} {css}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    pub fn click(&self, css: &str) {
        self.on_element(css, "click", json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "clear", json!({}));
        self.send_keys(css, text);
    }

    /// Keys into the element, after what it holds (WebDriver's Element Send Keys).
    pub fn send_keys(&self, css: &str, text: &str) {
        self.on_element(css, "value", json!({ "text": text }));
    }

    /// Keys to whatever has the focus, as a keyer types.
    pub fn keys(&self, text: &str) {
        // The focus may still be moving (the screens focus after they are drawn): wait for it.
        // A screen drawn again between finding the focused box and typing (a sync finished)
        // puts the focus in a new box: the keys go there, as a person's would.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sent = self
                .active()
                .and_then(|id| self.post(&format!("/element/{id}/value"), json!({ "text": text })));
            match sent {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!("nothing took the keys: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    pub fn active(&self) -> Result<String, String> {
        let v = self.get("/element/active")?;
        Ok(v[ELEMENT].as_str().ok_or("no active element")?.to_string())
    }

    pub fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.get(&format!("/element/{element}/attribute/{name}"))
            .ok()
            .and_then(|v| v.as_str().map(String::from))
    }

    pub fn text(&self, css: &str) -> Result<String, String> {
        let id = self.find(css)?;
        Ok(self
            .get(&format!("/element/{id}/text"))?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    pub fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    pub fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.get("/screenshot").unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Resizes the window (CSS pixels, as a tablet or a laptop would show the app).
    pub fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .unwrap_or_else(|e| panic!("resize: {e}"));
    }

    /// Ends the session (the app closes). Also done when a failing test drops it.
    pub fn end(self) {}

    /// Ends the session where it is borrowed (the app closes); dropping it later does nothing more.
    pub fn close(&self) {
        let _ = self.http.delete(&self.base).send();
    }

    /// Presses `chords` one after another through the Actions API, pausing after each as long
    /// as its number of milliseconds says (0: no pause at all). A chord's keys go down in order
    /// and up in reverse (Shift, Tab: a Shift+Tab). The keys go wherever the focus is, as a
    /// person's do: unlike Element Send Keys, nothing is focused first — a box found focused a
    /// moment earlier may no longer be the app's current one while it works through a burst.
    pub fn key_actions(&self, chords: &[(Vec<String>, u64)]) {
        let mut actions = Vec::new();
        for (chord, pause) in chords {
            for key in chord {
                actions.push(json!({ "type": "keyDown", "value": key }));
            }
            for key in chord.iter().rev() {
                actions.push(json!({ "type": "keyUp", "value": key }));
            }
            if *pause > 0 {
                actions.push(json!({ "type": "pause", "duration": pause }));
            }
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .unwrap_or_else(|e| panic!("key actions: {e}"));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).send();
    }
}
