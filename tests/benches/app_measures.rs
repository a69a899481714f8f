//! The app's measures (not timed tests; they print figures): cold start to an interactive Today
//! screen, keystroke to saved answer over a whole form keyed at full speed, the CPU each key
//! costs, and the front end's size. `scripts/bench` runs it after
//! `cargo build --release -p fieldpost-app`.
//!
//! **A cheap tablet's CPU.** Each measure runs with the app and its WebKit processes in a cgroup
//! of their own (cgroup v1 `cpu` and `cpuacct`, as root): unlimited, and limited to a quarter of
//! one core (`cpu.cfs_quota_us` 25,000 of 100,000; cold start also with 2,500 of 10,000, which
//! throttles in shorter, more frequent stops). `cpuacct.usage` gives the CPU the app spent, all
//! its processes together. Without root or cgroup v1 the limited runs are skipped and said so.
//!
//! `FIELDPOST_BENCH_START_ONLY=1` measures the cold starts alone (to alternate two builds of the
//! app quickly).
//!
//! Baselines in the same run: for start-up, the moment the page first calls the app (webview
//! up, script running) — what any Tauri page pays before it draws anything; for a keystroke, a
//! no-op command's round trip from the page (`ui_state_get`) — the IPC floor under every save —
//! and the same keys on a keying screen that drops each, saves each with nothing redrawn, or
//! redraws one box for each with nothing saved (what a key costs before the screen shows
//! anything else); for the keying screen at rest, the same screen with no box focused (no caret
//! blinking); and each limited run beside the unlimited one.

use fieldpost_e2e::{
    keying::{keystrokes, webdriver_chords},
    start_centre, start_display, workspace, App, Process,
};
use serde_json::json;
use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// A cgroup (v1 `cpu` + `cpuacct`) the app's processes are put in: a CPU limit, and the CPU
/// they spent. Removed when dropped.
struct Tablet {
    cpu: PathBuf,
    cpuacct: PathBuf,
    label: String,
}

impl Tablet {
    /// `limit`: (quota, period) in µs, or `None` for no limit (measured all the same).
    fn new(name: &str, limit: Option<(u64, u64)>) -> Option<Tablet> {
        let cpu = PathBuf::from("/sys/fs/cgroup/cpu").join(format!("fieldpost-{name}"));
        let cpuacct = PathBuf::from("/sys/fs/cgroup/cpuacct").join(format!("fieldpost-{name}"));
        for dir in [&cpu, &cpuacct] {
            let _ = std::fs::remove_dir(dir);
            std::fs::create_dir(dir).ok()?;
        }
        // WebKit runs some threads at real-time priority; a cgroup without a real-time budget
        // refuses them (EINVAL). They get a share of the machine's, and the limit below still
        // holds every other thread.
        let _ = std::fs::write(cpu.join("cpu.rt_runtime_us"), "10000");
        if let Some((quota, period)) = limit {
            std::fs::write(cpu.join("cpu.cfs_period_us"), period.to_string()).ok()?;
            std::fs::write(cpu.join("cpu.cfs_quota_us"), quota.to_string()).ok()?;
        }
        let label = match limit {
            None => "no limit".to_string(),
            Some((quota, period)) => format!(
                "{:.2} of a core, {} ms in {} ms",
                quota as f64 / period as f64,
                quota as f64 / 1000.0,
                period as f64 / 1000.0
            ),
        };
        Some(Tablet {
            cpu,
            cpuacct,
            label,
        })
    }

    /// A command that runs `program` inside the cgroup (it and every process it starts).
    fn command(&self, program: &std::path::Path) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(r#"echo 0 > "$1/cgroup.procs" && echo 0 > "$2/cgroup.procs" && exec "$3""#)
            .arg("sh")
            .arg(&self.cpu)
            .arg(&self.cpuacct)
            .arg(program);
        c
    }

    /// Moves a running process (all its threads) in.
    fn take(&self, pid: u32) {
        for dir in [&self.cpu, &self.cpuacct] {
            std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap_or_else(|e| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                panic!("{pid} ({}) into {}: {e}", comm.trim(), dir.display())
            });
        }
    }

    /// CPU seconds spent inside so far.
    fn cpu_seconds(&self) -> f64 {
        std::fs::read_to_string(self.cpuacct.join("cpuacct.usage"))
            .unwrap()
            .trim()
            .parse::<f64>()
            .unwrap()
            / 1e9
    }
}

impl Drop for Tablet {
    fn drop(&mut self) {
        for dir in [&self.cpu, &self.cpuacct] {
            let parent = dir.parent().unwrap().join("cgroup.procs");
            if let Ok(pids) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in pids.lines() {
                    let _ = std::fs::write(&parent, pid);
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The app's processes started for `data_dir` (the app and its WebKit processes: they carry its
/// environment), without the WebDriver ones.
fn app_processes(data_dir: &std::path::Path) -> Vec<u32> {
    let marker = format!("FIELDPOST_DATA_DIR={}", data_dir.display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.contains("WebDriver") || comm.contains("tauri-driver") {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// CPU seconds each of `pids` has spent so far (user + system, all its threads), with its name.
fn cpu_by_process(pids: &[u32]) -> Vec<(u32, String, f64)> {
    let ticks = 100.0; // USER_HZ: /proc counts in 1/100 s on Linux
    pids.iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the name in parentheses (which may hold spaces and parentheses), utime and
            // stime are the 12th and 13th fields.
            let (name, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let fields: Vec<&str> = rest.split(' ').collect();
            let used = fields[11].parse::<f64>().ok()? + fields[12].parse::<f64>().ok()?;
            Some((*pid, name.to_string(), used / ticks))
        })
        .collect()
}

/// Each process's CPU since `before`, in ms per `per`, as "name ms, …".
fn cpu_by_process_since(pids: &[u32], before: &[(u32, String, f64)], per: usize) -> String {
    cpu_by_process(pids)
        .into_iter()
        .filter_map(|(pid, name, after)| {
            let (_, _, then) = before.iter().find(|(p, ..)| *p == pid)?;
            Some(format!(
                "{name} {:.1}",
                (after - then) * 1000.0 / per as f64
            ))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

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

/// A device in `dir`, enrolled as `enumerator`, with its two villages' whole work done and not
/// yet synced: every sampled household handed out, collected, keyed twice and in a parcel.
fn two_villages_keyed(
    centre: &fieldpost_e2e::Centre,
    enumerator: &str,
    dir: &std::path::Path,
) -> usize {
    let mut client = field_client::Client::open(dir).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code(enumerator, chrono::Duration::hours(1), "bench")
        .unwrap();
    client.enroll(&centre.url, &code, "bench").unwrap();
    let form = client.form().unwrap().clone();
    let households: Vec<_> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .collect();
    for (i, h) in households.iter().enumerate() {
        client
            .distribute(&h.id, sync_protocol::event::Recipient::Representative, None)
            .unwrap();
        client.collect(&h.id).unwrap();
        let answers = forms::sample::complete_answers(&form, i as i64);
        for pass in [1, 2] {
            for (q, v) in &answers {
                client.set_answer(&h.id, pass, q, Some(v.clone())).unwrap();
            }
            if pass == 1 {
                client.finish_first_keying(&h.id).unwrap();
            }
        }
        client
            .finish_verification(&h.id, &std::collections::BTreeMap::new())
            .unwrap();
    }
    for village in households.chunk_by(|a, b| a.village == b.village) {
        client
            .hand_over_parcel(&village.iter().map(|h| h.id.clone()).collect::<Vec<_>>())
            .unwrap();
    }
    households.len()
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
    {
        let mut client = field_client::Client::open(device.path()).unwrap();
        let code = centre
            .intake
            .issue_enrollment_code("enum-qt-p2", chrono::Duration::hours(1), "bench")
            .unwrap();
        client.enroll(&centre.url, &code, "bench").unwrap();
    }
    let set_route = |route: &str| {
        std::fs::write(
            device.path().join("ui-state.json"),
            json!({ "route": route, "lang": "vi" }).to_string(),
        )
        .unwrap()
    };

    // Cold start, five times each: process start → Today drawn and taking input.
    set_route("#/today");
    let limits: [(&str, Option<(u64, u64)>); 3] = [
        ("free", None),
        ("quarter", Some((25_000, 100_000))),
        ("quarter-short", Some((2_500, 10_000))),
    ];
    let mut unlimited_start = None;
    for (name, limit) in limits {
        let Some(tablet) = Tablet::new(&format!("start-{name}"), limit) else {
            println!(
                "cold start: no cgroup v1 cpu controller here (run as root): limited runs skipped"
            );
            break;
        };
        let (mut interactive, mut page_up, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            let before = tablet.cpu_seconds();
            let out = tablet
                .command(&app)
                .env("DISPLAY", &display)
                .env("FIELDPOST_DATA_DIR", device.path())
                .env("FIELDPOST_REPORT_STARTUP", "exit")
                .stderr(Stdio::null())
                .output()
                .unwrap();
            cpu.push((tablet.cpu_seconds() - before) * 1000.0);
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
        let (p50, base) = (
            percentile(interactive.clone(), 0.5),
            percentile(page_up.clone(), 0.5),
        );
        println!(
            "cold start to an interactive Today screen, {} (5 runs, ms): {interactive:?}; page up {page_up:?}",
            tablet.label
        );
        println!(
            "  median {p50:.0} ms (target < 1500 ms unlimited, < 3000 ms on a quarter core); page up (baseline) median {base:.0} ms, ratio {:.2}; CPU per start (whole run to exit) median {:.0} ms{}",
            p50 / base,
            percentile(cpu, 0.5),
            unlimited_start
                .map(|u: f64| format!("; {:.2}x the unlimited start", p50 / u))
                .unwrap_or_default()
        );
        unlimited_start.get_or_insert(p50);
    }

    if std::env::var_os("FIELDPOST_BENCH_START_ONLY").is_some() {
        return;
    }
    // Keystroke to saved answer: a whole SIPAS form keyed into the real app twice, unlimited and
    // on a quarter core — once as one burst (every key sent at once: how long until all are
    // stored, and the CPU per key), once paced at a fast keyer's 150 ms a key (the time from
    // each key event to its answer saved and shown, which counts any wait behind earlier keys).
    std::env::set_var("FIELDPOST_APP_BIN", &app);
    let form = intake::demo::sipas_2024();
    let answers = forms::sample::complete_answers(&form, 1);
    let keys = keystrokes(&form, &answers);
    let mut unlimited_cpu_per_key = Vec::new();
    for (run, (name, limit)) in [("free", None), ("quarter", Some((25_000, 100_000)))]
        .into_iter()
        .enumerate()
    {
        // A tablet enrolled before the app starts, as on every working day after the first
        // (the app paints without the compositor then: src-tauri/src/webview.rs).
        let tablet_dir = tempfile::tempdir().unwrap();
        let households = {
            let mut client = field_client::Client::open(tablet_dir.path()).unwrap();
            let code = centre
                .intake
                .issue_enrollment_code("enum-qt-p2", chrono::Duration::hours(1), "bench")
                .unwrap();
            client.enroll(&centre.url, &code, "bench").unwrap();
            client.households().unwrap()
        };
        let tablet_path = tablet_dir.path().to_str().unwrap().to_string();
        let app_under_test = App::start_with(&[("FIELDPOST_DATA_DIR", &tablet_path)]);
        let Some(tablet) = Tablet::new(&format!("keying-{name}"), limit) else {
            println!(
                "keying: no cgroup v1 cpu controller here (run as root): limited runs skipped"
            );
            break;
        };
        let pids = app_processes(tablet_dir.path());
        for pid in &pids {
            tablet.take(*pid);
        }
        // Each run keys households of its own (the first run's tablet may have synced).
        for (way, pause_ms) in [("one burst", 0), ("150 ms a key", 150)] {
            let household = households[2 * run + usize::from(pause_ms > 0) + 1]
                .id
                .clone();
            app_under_test.open_first_keying(&household);
            let chords: Vec<(Vec<String>, u64)> = webdriver_chords(&keys)
                .into_iter()
                .map(|c| (c, pause_ms))
                .collect();
            let s = &app_under_test.session;
            s.script("window.__fieldpostKeyingMs = []; return 0");
            if pause_ms > 0 {
                // What the screen costs with nobody typing: the floor under the paced keys.
                let at_rest_ms_a_second = || {
                    let cpu0 = tablet.cpu_seconds();
                    std::thread::sleep(Duration::from_secs(5));
                    (tablet.cpu_seconds() - cpu0) * 1000.0 / 5.0
                };
                println!(
                    "keying screen open, a box focused, no key for 5 s, {}: CPU {:.1} ms a second",
                    tablet.label,
                    at_rest_ms_a_second()
                );
                // Baseline: the same screen with no box focused, so no caret blinking.
                s.script("window.__fieldpostBox = document.activeElement; document.activeElement.blur(); return 0");
                println!(
                    "  baseline: the same screen at rest with no box focused (no caret): CPU {:.1} ms a second",
                    at_rest_ms_a_second()
                );
                s.script("window.__fieldpostBox.focus(); return 0");
            }
            let (cpu0, started) = (tablet.cpu_seconds(), Instant::now());
            let by_process = cpu_by_process(&pids);
            s.key_actions(&chords);
            let finished = app_under_test.wait_focus("finish-keying", Duration::from_secs(120));
            let (cpu, took) = (tablet.cpu_seconds() - cpu0, started.elapsed());
            let stored = field_client::Client::open(tablet_dir.path())
                .unwrap()
                .answers(&household, 1)
                .unwrap();
            let wrong = form
                .questions
                .iter()
                .filter(|q| stored.get(&q.id) != answers.get(&q.id))
                .count();
            let keying: Vec<f64> =
                serde_json::from_value(s.script("return window.__fieldpostKeyingMs")).unwrap();
            let per_key = cpu * 1000.0 / keys.len() as f64;
            println!(
                "keying {way}, {} ({} processes; {} keys, {} answers saved; {wrong} stored wrong{}):",
                tablet.label,
                pids.len(),
                keys.len(),
                keying.len(),
                if finished { "" } else { ", the focus never reached «finish»" }
            );
            println!(
                "  keystroke to saved, from the key event: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 50 ms at 150 ms a key); all stored {:.2} s after the first key",
                percentile(keying.clone(), 0.5),
                percentile(keying.clone(), 0.99),
                percentile(keying.clone(), 1.0),
                took.as_secs_f64()
            );
            let unlimited = (run > 0)
                .then(|| {
                    unlimited_cpu_per_key
                        .get(usize::from(pause_ms > 0))
                        .copied()
                })
                .flatten();
            println!(
                "  CPU of the app's processes: {cpu:.2} s, {per_key:.1} ms per key{} (by process: {})",
                unlimited
                    .map(|u: f64| format!(" ({:.2}x the unlimited run's)", per_key / u))
                    .unwrap_or_default(),
                cpu_by_process_since(&pids, &by_process, keys.len())
            );
            if run == 0 {
                unlimited_cpu_per_key.push(per_key);
            }
        }
        if run == 0 {
            // Baselines for the CPU per key: the same keys at the same pace on a keying screen
            // whose own handling of keys is switched off, and each key instead (1) dropped —
            // what a key costs the webview and WebDriver's delivery before the app does
            // anything; (2) saved as an answer, nothing on the screen changed — the command,
            // validation and durable save a key cannot do without; (3) shown by recolouring
            // its box, nothing saved — the smallest redraw a key needs. What a real key costs
            // beyond (2) plus (3)'s redraw is the drawing of what the screen shows besides.
            let household = households[5].id.clone();
            app_under_test.open_first_keying(&household);
            let s = &app_under_test.session;
            let (question, codes) = first_coded_question(&form);
            s.script(&format!(
                "return (async () => {{
                   const invoke = window.__TAURI_INTERNALS__.invoke;
                   const campaign = (await invoke('overview')).campaigns[0].id;
                   const box = document.querySelector('input.answer');
                   let n = 0;
                   window.__fieldpostBaseline = 'drop';
                   window.addEventListener('keydown', (e) => {{
                     e.preventDefault();
                     e.stopImmediatePropagation();
                     n++;
                     if (window.__fieldpostBaseline === 'save') {{
                       invoke('key_answer', {{ campaign, household: '{household}', pass: 1, question: '{question}', value: {codes:?}[n % 2] }});
                     }} else if (window.__fieldpostBaseline === 'draw') {{
                       box.style.backgroundColor = n % 2 ? '#fff8dc' : '#ffffff';
                     }}
                   }}, true);
                   box.focus();
                   return 0;
                 }})()"
            ));
            // As before the paced keys: the seconds after a screen opens cost more than a key.
            std::thread::sleep(Duration::from_secs(5));
            let chords: Vec<(Vec<String>, u64)> = webdriver_chords(&keys)
                .into_iter()
                .map(|c| (c, 150))
                .collect();
            for (mode, what) in [
                ("drop", "taken and dropped by the screen"),
                ("save", "each saved as an answer, nothing redrawn"),
                ("draw", "each recolouring its box, nothing saved"),
            ] {
                s.script(&format!("window.__fieldpostBaseline = '{mode}'; return 0"));
                let (cpu0, by_process) = (tablet.cpu_seconds(), cpu_by_process(&pids));
                s.key_actions(&chords);
                // A save still under way when the keys end is counted with its key.
                std::thread::sleep(Duration::from_millis(300));
                let cpu = tablet.cpu_seconds() - cpu0;
                println!(
                    "  baseline: the same keys at 150 ms a key, {what}: {:.1} ms per key (by process: {})",
                    cpu * 1000.0 / keys.len() as f64,
                    cpu_by_process_since(&pids, &by_process, keys.len())
                );
            }
        }
        let ipc_cpu0 = tablet.cpu_seconds();
        let ipc: Vec<f64> = serde_json::from_value(app_under_test.session.script(
            "return (async () => { const out = []; for (let i = 0; i < 200; i++) { const t = performance.now(); await window.__TAURI_INTERNALS__.invoke('ui_state_get'); out.push(performance.now() - t); } return out; })();",
        ))
        .unwrap_or_default();
        let ipc_cpu = tablet.cpu_seconds() - ipc_cpu0;
        if !ipc.is_empty() {
            println!(
                "  no-op command round trip (baseline, {} calls): p50 {:.2} ms, CPU {:.2} ms a call",
                ipc.len(),
                percentile(ipc.clone(), 0.5),
                ipc_cpu * 1000.0 / ipc.len() as f64
            );
        }
    }

    // A 54-form sync: a device holding two villages' whole work (handed out, collected, keyed
    // twice, in parcels), started, and left to its automatic sync (first tick 5 s after start).
    for (name, limit, enumerator) in [
        ("free", None, "enum-dh-p2"),
        ("quarter", Some((25_000, 100_000)), "enum-dh-p4"),
    ] {
        let Some(tablet) = Tablet::new(&format!("sync-{name}"), limit) else {
            println!("sync: no cgroup v1 cpu controller here (run as root): limited runs skipped");
            break;
        };
        let dir = tempfile::tempdir().unwrap();
        let forms = two_villages_keyed(&centre, enumerator, dir.path());
        let started = Instant::now();
        let mut child = Process::single(
            tablet
                .command(&app)
                .env("DISPLAY", &display)
                .env("FIELDPOST_DATA_DIR", dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let device = field_client::Client::open(dir.path()).unwrap();
        let deadline = started + Duration::from_secs(180);
        while device.pending().unwrap().events_total > 0 {
            assert!(
                Instant::now() < deadline,
                "the app did not sync in 3 minutes"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (took, cpu) = (started.elapsed(), tablet.cpu_seconds());
        child.0.kill().ok();
        println!(
            "{forms} forms synced by the app, {}: {:.2} s from start to all acknowledged (5 s of it the first automatic tick), CPU of the app's processes {:.2} s",
            tablet.label,
            took.as_secs_f64(),
            cpu
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

/// The form's first question answered by a code, and two of its codes: what the save-only
/// baseline writes, alternately, so that every key changes the stored answer.
fn first_coded_question(form: &forms::Form) -> (String, [i64; 2]) {
    form.questions
        .iter()
        .find_map(|q| {
            let list = form.definition.choice_lists.get(q.choices.as_ref()?)?;
            (list.len() >= 2).then(|| (q.id.clone(), [list[0].code, list[1].code]))
        })
        .expect("the SIPAS form has a question answered by a code")
}
