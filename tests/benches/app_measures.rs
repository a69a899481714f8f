//! The app's measures (not timed tests; they print figures): cold start to an interactive Today
//! screen, keystroke to saved answer, and the front end's size. `scripts/bench` runs it after
//! `cargo build --release -p fieldpost-app`.
//!
//! Baselines in the same run: for start-up, the moment the page first calls the app (webview
//! up, script running) — what any Tauri page pays before it draws anything; for a keystroke, a
//! no-op command's round trip from the page (`ui_state_get`) — the IPC floor under every save.

use fieldpost_e2e::{
    key_form, own_group, start_centre, start_display, tauri_driver_binary, webdriver::Session,
    workspace, Process,
};
use serde_json::json;
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn gzip_size(path: &std::path::Path) -> usize {
    Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map(|o| o.stdout.len())
        .unwrap_or(0)
}

fn main() {
    let app = workspace().join("target/release/fieldpost");
    assert!(
        app.exists(),
        "build it first: cargo build --release -p fieldpost-app"
    );
    let centre = start_centre();
    let (_display, display) = start_display();
    let device = tempfile::tempdir().unwrap();
    let household;
    {
        let mut client = field_client::Client::open(device.path()).unwrap();
        let code = centre
            .intake
            .issue_enrollment_code("enum-qt-p2", chrono::Duration::hours(1), "bench")
            .unwrap();
        client.enroll(&centre.url, &code, "bench").unwrap();
        household = client.households().unwrap()[0].id.clone();
        client
            .distribute(
                &household,
                sync_protocol::event::Recipient::Representative,
                None,
            )
            .unwrap();
        client.collect(&household).unwrap();
    }
    let set_route = |route: &str| {
        std::fs::write(
            device.path().join("ui-state.json"),
            json!({ "route": route, "lang": "vi" }).to_string(),
        )
        .unwrap()
    };

    // Cold start, five times: process start → Today drawn and taking input.
    set_route("#/today");
    let (mut interactive, mut page_up) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let out = Command::new(&app)
            .env("DISPLAY", &display)
            .env("FIELDPOST_DATA_DIR", device.path())
            .env("FIELDPOST_REPORT_STARTUP", "exit")
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("startup"))
            .unwrap_or_else(|| panic!("no start-up line: {out:?}"))
            .to_string();
        let field = |name: &str| {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        assert!(line.contains("screen=today"), "{line}");
        interactive.push(field("interactive_ms"));
        page_up.push(field("page_up_ms"));
    }
    println!("cold start to an interactive Today screen (5 runs, ms): {interactive:?}");
    let (p50, base) = (
        percentile(interactive.clone(), 0.5),
        percentile(page_up.clone(), 0.5),
    );
    println!("  median {p50:.0} ms (target < 1500 ms); page up (baseline) median {base:.0} ms; ratio {:.2}", p50 / base);

    // Keystroke to saved answer: a whole SIPAS form keyed through the real webview.
    set_route(&format!("#/key/{household}/1"));
    let port = fieldpost_e2e::free_port();
    let driver = Process::group(
        own_group(&mut Command::new(tauri_driver_binary()))
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &fieldpost_e2e::free_port().to_string(),
            ])
            .env("DISPLAY", &display)
            .env("FIELDPOST_DATA_DIR", device.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(format!("http://127.0.0.1:{port}/status")).is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = Session::start(
        &format!("http://127.0.0.1:{port}"),
        json!({ "tauri:options": { "application": app } }),
    )
    .unwrap();
    s.wait("#ans-a_sex");
    let form = intake::demo::sipas_2024();
    let sheet: Vec<String> = form.questions.iter().map(|q| q.id.clone()).collect();
    key_form(&s, &forms::sample::complete_answers(&form, 1), &sheet);
    let keying: Vec<f64> =
        serde_json::from_value(s.script("return window.__fieldpostKeyingMs")).unwrap();
    let ipc: Vec<f64> = serde_json::from_value(s.script(
        "return (async () => { const out = []; for (let i = 0; i < 200; i++) { const t = performance.now(); await window.__TAURI_INTERNALS__.invoke('ui_state_get'); out.push(performance.now() - t); } return out; })();",
    ))
    .unwrap_or_default();
    drop(s);
    drop(driver);
    let (k50, k99) = (
        percentile(keying.clone(), 0.5),
        percentile(keying.clone(), 0.99),
    );
    println!("keystroke to saved answer ({} answers): p50 {k50:.1} ms, p99 {k99:.1} ms, max {:.1} ms (target < 50 ms)", keying.len(), percentile(keying.clone(), 1.0));
    if !ipc.is_empty() {
        let i50 = percentile(ipc.clone(), 0.5);
        println!(
            "  no-op command round trip (baseline, {} calls): p50 {i50:.2} ms; ratio at p50 {:.1}",
            ipc.len(),
            k50 / i50
        );
    }

    // The front end as shipped in the app.
    let assets = workspace().join("ui/dist/assets");
    let (mut code, mut fonts) = (0, 0);
    for entry in std::fs::read_dir(&assets).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("js") | Some("css") => code += gzip_size(&path),
            Some("woff2") => fonts += std::fs::metadata(&path).unwrap().len() as usize,
            _ => {}
        }
    }
    println!("front end: {:.1} KB of JS + CSS gzipped (target < 300 KB; {:.1}% of it); fonts {:.1} KB woff2 (Noto Sans latin, latin-ext, vietnamese; 400 and 700)", code as f64 / 1024.0, 100.0 * code as f64 / (300.0 * 1024.0), fonts as f64 / 1024.0);
}
