//! What the end-to-end tests stand on: a real intake on 127.0.0.1, a virtual display, and a
//! minimal WebDriver client (the W3C protocol is a handful of JSON calls) for tauri-driver.

pub mod keying;
pub mod webdriver;

use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use webdriver::ENTER;

/// The workspace root (this crate lives in `tests/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A child process that is killed when the test ends, however it ends — with the children it
/// started (tauri-driver starts WebKitWebDriver, which starts the app), when it was spawned
/// with [`own_group`].
pub struct Process(pub Child, bool, bool);

impl Process {
    /// A child that is killed alone.
    pub fn single(child: Child) -> Process {
        Process(child, false, false)
    }

    /// A child that is asked to stop (SIGTERM) and given a moment before it is killed, so it
    /// can clean up after itself (Xvfb removes its lock file and socket).
    pub fn terminated_politely(child: Child) -> Process {
        Process(child, false, true)
    }

    /// A child spawned with [`own_group`]: killed with everything it started.
    pub fn group(child: Child) -> Process {
        Process(child, true, false)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.2 {
            // SAFETY: a plain syscall to our own child.
            unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if self.1 {
            // SAFETY: a plain syscall; the group is the one this child leads (never ours: a
            // `/bin/kill -KILL -<n>` without `--` can be read as `-1`, everyone).
            unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes the command lead a process group of its own, so [`Process`] can end all of it.
pub fn own_group(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    command.process_group(0)
}

pub use intake::local::LocalIntake as Centre;

/// The demo campaign in a real intake over a real SQLite file, served on 127.0.0.1.
pub fn start_centre() -> Centre {
    intake::local::demo_on_loopback()
}

/// Xvfb on a display number it chooses itself (`-displayfd`): the X server skips numbers in
/// use and reclaims the lock files of servers that died (a SIGKILLed Xvfb leaves its lock, and
/// scanning for a number with no lock file ran out of numbers on a machine that had run the
/// suite often). Returns the process and `:N`.
pub fn start_display() -> (Process, String) {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut fds = [0; 2];
    // SAFETY: a plain syscall filling two descriptors we then own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "a pipe");
    let (mut read_end, write_end) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    let child = Command::new("Xvfb")
        .args([
            "-displayfd",
            &write_end.as_raw_fd().to_string(),
            "-screen",
            "0",
            "1920x1080x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is installed (scripts/test installs it: apt package xvfb)");
    // The child inherited the write end (pipe(2) without O_CLOEXEC); ours must close so that
    // the read below ends when Xvfb has written its number, or dies.
    drop(write_end);
    let process = Process::terminated_politely(child);
    let mut number = String::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = read_end.read(&mut byte) {
        if byte[0] == b'\n' {
            break;
        }
        number.push(byte[0] as char);
    }
    let number = number.trim();
    assert!(
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "Xvfb did not start (it wrote no display number)"
    );
    (process, format!(":{number}"))
}

/// `tauri-driver` from `cargo install` (scripts/test installs it).
pub fn tauri_driver_binary() -> PathBuf {
    if let Ok(p) = std::env::var("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    home.join("bin/tauri-driver")
}

/// Keys `answers` the way a keyer does: whatever question has the focus gets its answer (one
/// digit settles a one-digit code; anything else is typed and Enter pressed), until the focus
/// reaches the finish button. Returns the questions the screen skipped by itself.
pub fn key_form(
    s: &webdriver::Session,
    answers: &BTreeMap<String, Value>,
    sheet: &[String],
) -> Vec<String> {
    let mut keyed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        assert!(
            Instant::now() < deadline,
            "keying took too long; keyed {keyed:?}"
        );
        // Between a save and the next focus (or while the screen is redrawn) nothing may be
        // active for a moment: look again.
        let Ok(active) = s.active() else {
            std::thread::sleep(Duration::from_millis(30));
            continue;
        };
        let id = s.attribute(&active, "id").unwrap_or_default();
        if id == "finish-keying" {
            break;
        }
        let Some(question) = id.strip_prefix("ans-").map(String::from) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if keyed.last() == Some(&question) {
            // The save is still on its way; the focus moves when it is done.
            std::thread::sleep(Duration::from_millis(30));
            continue;
        }
        let typed = match answers.get(&question) {
            Some(Value::Array(codes)) => {
                codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
                    + webdriver::ENTER
            }
            Some(Value::String(t)) => format!("{t}{ENTER}"),
            Some(Value::Number(n))
                if (0..=9).contains(&n.as_i64().unwrap())
                    && s.attribute(&active, "inputmode").as_deref() == Some("numeric") =>
            {
                // Single-digit codes settle with one key, but integers such as ages need Enter.
                let row_codes = s.script(&format!(
                    "return document.querySelectorAll('[data-id=\"{question}\"] .choice').length"
                ));
                if row_codes.as_u64().unwrap_or(0) > 0 {
                    n.to_string()
                } else {
                    format!("{n}{ENTER}")
                }
            }
            Some(Value::Object(o)) => {
                // A mark for paper with no usable answer: its key, settling at once where a
                // digit would (a one-code question), else followed by Enter.
                let key = match o.get("mark").and_then(Value::as_str) {
                    Some("blank") => "-",
                    Some("unreadable") => "?",
                    _ => "*",
                };
                let one_key = s.script(&format!(
                    "return document.querySelector('[data-id=\"{question}\"]').classList.contains('q-code')"
                ));
                if one_key.as_bool().unwrap_or(false) {
                    key.to_string()
                } else {
                    format!("{key}{ENTER}")
                }
            }
            Some(v) => format!("{v}{ENTER}"),
            None => webdriver::ENTER.to_string(),
        };
        s.keys(&typed);
        keyed.push(question);
    }
    sheet
        .iter()
        .filter(|q| !keyed.contains(q))
        .cloned()
        .collect()
}

/// The real app (`target/debug/fieldpost`, or `FIELDPOST_APP_BIN`) under its own Xvfb, driven
/// through tauri-driver on free ports of 127.0.0.1 (one app at a time in a test binary: the
/// tests of one binary take turns), with a fresh
/// device data folder.
pub struct App {
    pub session: webdriver::Session,
    pub display: String,
    pub data_dir: tempfile::TempDir,
    pub driver_url: String,
    pub capabilities: Value,
    _driver: Process,
    _xvfb: Process,
    _turn: std::sync::MutexGuard<'static, ()>,
}

/// A port of 127.0.0.1 nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One app under test at a time in a test binary (each has its Xvfb, WebKitWebDriver, app).
static ONE_APP_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn app_binary() -> PathBuf {
    let path = std::env::var("FIELDPOST_APP_BIN")
        .map(Into::into)
        .unwrap_or_else(|_| workspace().join("target/debug/fieldpost"));
    assert!(path.exists(), "{} is missing: build the app first (scripts/test does: npm run build in ui/, then cargo build -p fieldpost-app)", path.display());
    path
}

impl App {
    pub fn start() -> App {
        App::start_with(&[])
    }

    /// The app with more environment variables (tauri-driver passes its own on to the app).
    pub fn start_with(env: &[(&str, &str)]) -> App {
        let turn = ONE_APP_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let app = app_binary();
        let (xvfb, display) = start_display();
        let (port, native_port) = (free_port(), free_port());
        let data_dir = tempfile::tempdir().unwrap();
        let driver = Process::group(
            own_group(&mut Command::new(tauri_driver_binary()))
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .env("DISPLAY", &display)
                .env("FIELDPOST_DATA_DIR", data_dir.path())
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect(
                    "tauri-driver is installed (scripts/test: cargo install tauri-driver --locked)",
                ),
        );
        let driver_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::blocking::get(format!("{driver_url}/status")).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = serde_json::json!({ "tauri:options": { "application": app } });
        let session = webdriver::Session::start(&driver_url, capabilities.clone())
            .expect("a WebDriver session with the app");
        App {
            session,
            display,
            data_dir,
            driver_url,
            capabilities,
            _driver: driver,
            _xvfb: xvfb,
            _turn: turn,
        }
    }

    /// The environment each of this app's WebKit web processes started with (found by the
    /// data folder it inherited from the app).
    pub fn web_process_environments(&self) -> Vec<Vec<String>> {
        let ours = format!("FIELDPOST_DATA_DIR={}", self.data_dir.path().display());
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if !comm.starts_with("WebKitWebProces") {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            let vars: Vec<String> = environ
                .split(|b| *b == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            if vars.contains(&ours) {
                found.push(vars);
            }
        }
        found
    }

    /// The device core of the campaign the app enrolled in first (what it stored, read as
    /// another process would).
    pub fn device(&self) -> field_client::Client {
        let dirs = field_client::Campaigns::dirs(self.data_dir.path()).unwrap();
        let first = dirs.first().expect("the app enrolled in a campaign");
        field_client::Client::open_with_key(
            first,
            field_client::Campaigns::key_of(self.data_dir.path()).unwrap(),
        )
        .unwrap()
    }

    /// Enrolls the device on the set-up screen.
    pub fn enroll(&self, intake_url: &str, code: &str) {
        let s = &self.session;
        s.wait("#code");
        // Typed only once the screen has put the cursor in the code box, where a person starts:
        // keys sent before that (CI, a slow start in a chroot) lost the end of the address to the
        // code box when the focus arrived, and the app enrolled at «http://127».
        let settled = Instant::now() + Duration::from_secs(10);
        while s.script("return document.activeElement?.id") != serde_json::json!("code")
            && Instant::now() < settled
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        for (field, text) in [("#intake-url", intake_url), ("#code", code)] {
            for attempt in 1.. {
                s.type_into(field, text);
                let held = s.script(&format!("return document.querySelector('{field}')?.value"));
                if held == serde_json::json!(text) {
                    break;
                }
                assert!(
                    attempt < 3,
                    "{field} holds {held} after typing {text:?} three times"
                );
                eprintln!("enroll: {field} holds {held} after typing {text:?}; typing it again");
            }
        }
        s.click("#enroll");
        // The app answers a tap at once (the button turns to «Đang đăng ký…»). A WebDriver
        // click that reached no button (seen twice in CI under load, on the first screen the
        // app drew) is pressed again from the code box with Enter, as a person would, and said.
        // Started: busy, said something, or already done (a fast enrollment is over before the
        // first look; the screen then says «Đã đăng ký» above a form for adding a campaign).
        let started = "return document.getElementById('enroll')?.disabled === true || document.querySelector('.flash') !== null || !document.getElementById('code') || (document.querySelector('h1')?.textContent ?? '').includes('Đã đăng ký')";
        let tapped = Instant::now();
        while s.script(started) != serde_json::json!(true) {
            if tapped.elapsed() > Duration::from_secs(5) {
                let state = s.script("const b = document.getElementById('enroll'); return [location.hash, document.querySelector('h1')?.textContent, b?.disabled, document.activeElement?.id]");
                eprintln!("enroll: the click on «Đăng ký» started nothing in 5 s ([hash, h1, button disabled, focus] = {state}); pressing Enter in the code box");
                s.send_keys("#code", "\u{E007}");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !s.text("h1").unwrap_or_default().contains("Đã đăng ký") {
            if Instant::now() > deadline {
                // What the screen shows, to tell a click that never landed from an enrollment
                // still under way or refused.
                let said = s.script("const v = (id) => document.getElementById(id)?.value; return [document.querySelector('.flash')?.textContent, document.querySelector('h1')?.textContent, location.hash, document.getElementById('enroll')?.disabled, document.querySelector('.error')?.textContent, v('intake-url'), v('code'), document.activeElement?.id, document.querySelector('form')?.checkValidity()]");
                panic!("the app did not enroll within 30 s: [flash, h1, hash, button disabled, error, intake box, code box, focus, form valid] = {said}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Hands the form to the household's representative and collects it, from the household
    /// screen, then opens its first keying with the focus on the first question.
    pub fn open_first_keying(&self, household: &str) {
        let s = &self.session;
        s.script(&format!("location.hash = '#/household/{household}'"));
        s.wait("#serial");
        s.click("#hand-out-rep");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !s.text("h1").unwrap_or_default().contains("Đã phát") {
            if Instant::now() > deadline {
                let said = s.script("return [location.hash, document.querySelector('h1')?.textContent, document.querySelector('.flash')?.textContent, document.getElementById('serial')?.textContent]");
                panic!("{household} was not handed out: {said}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        s.click("#collect");
        s.wait_text("h1", "Đã thu");
        s.click("#key-1");
        self.wait_focus("ans-", Duration::from_secs(15));
    }

    /// Waits until the focused element's id starts with `prefix`; false when it never does.
    pub fn wait_focus(&self, prefix: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let s = &self.session;
            if s.active()
                .ok()
                .and_then(|a| s.attribute(&a, "id"))
                .is_some_and(|id| id.starts_with(prefix))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(40));
        }
        false
    }
}
