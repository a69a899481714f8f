//! What the end-to-end tests stand on: a real intake on 127.0.0.1, a virtual display, and a
//! minimal WebDriver client (the W3C protocol is a handful of JSON calls) for tauri-driver.

pub mod webdriver;

use serde_json::Value;
use webdriver::ENTER;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The workspace root (this crate lives in `tests/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// A child process that is killed when the test ends, however it ends — with the children it
/// started (tauri-driver starts WebKitWebDriver, which starts the app), when it was spawned
/// with [`own_group`].
pub struct Process(pub Child, bool);

impl Process {
    /// A child that is killed alone.
    pub fn single(child: Child) -> Process {
        Process(child, false)
    }

    /// A child spawned with [`own_group`]: killed with everything it started.
    pub fn group(child: Child) -> Process {
        Process(child, true)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
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

/// Xvfb on a free display number; returns the process and `:N`.
pub fn start_display() -> (Process, String) {
    for n in 90..140 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (scripts/test installs it: apt package xvfb)");
        let process = Process::single(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (process, display);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Xvfb did not start on {display}");
    }
    panic!("no free X display number");
}

/// `tauri-driver` from `cargo install` (scripts/test installs it).
pub fn tauri_driver_binary() -> PathBuf {
    if let Ok(p) = std::env::var("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    home.join("bin/tauri-driver")
}

/// Keys `answers` the way a keyer does: whatever question has the focus gets its answer (one
/// digit settles a one-digit code; anything else is typed and Enter pressed), until the focus
/// reaches the finish button. Returns the questions the screen skipped by itself.
pub fn key_form(s: &webdriver::Session, answers: &BTreeMap<String, Value>, sheet: &[String]) -> Vec<String> {
    let mut keyed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        assert!(Instant::now() < deadline, "keying took too long; keyed {keyed:?}");
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
            Some(Value::Array(codes)) => codes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ") + webdriver::ENTER,
            Some(Value::String(t)) => format!("{t}{ENTER}"),
            Some(Value::Number(n)) if (0..=9).contains(&n.as_i64().unwrap()) && s.attribute(&active, "inputmode").as_deref() == Some("numeric") => {
                // Single-digit codes settle with one key, but integers such as ages need Enter.
                let row_codes = s.script(&format!("return document.querySelectorAll('[data-id=\"{question}\"] .choice').length"));
                if row_codes.as_u64().unwrap_or(0) > 0 { n.to_string() } else { format!("{n}{ENTER}") }
            }
            Some(v) => format!("{v}{ENTER}"),
            None => webdriver::ENTER.to_string(),
        };
        s.keys(&typed);
        keyed.push(question);
    }
    sheet.iter().filter(|q| !keyed.contains(q)).cloned().collect()
}

