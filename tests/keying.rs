//! Keying at any speed: whole random, valid SIPAS sheets keyed into the real app (under Xvfb,
//! through tauri-driver) as one stream of keys — with no pause at all between keys, and with
//! random 0–30 ms pauses — through WebDriver and through real X key events at the app's window
//! (`xdotool`; the two reach the webview differently). Every stored answer of every form is
//! checked against the sheet it was keyed from: a key typed while an earlier answer is still
//! being saved must land in the question it was typed for.
//!
//! Then what a keyer does besides typing straight on: going back with Shift+Tab in the middle
//! of a burst, leaving a box by the mouse, finishing or leaving the screen with a box typed in
//! and no Enter, or the instant a burst of keys is typed — nothing typed may be lost.
//!
//! `FIELDPOST_KEYING_SEED` replays a run (the seed is printed); `FIELDPOST_KEYING_FORMS` sets
//! how many forms each of the four ways keys (default 10: 40 forms, 20 of them at zero delay).

use fieldpost_e2e::{keying::*, *};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::{collections::BTreeMap, process::Command, time::Duration};

#[derive(Clone, Copy, Debug)]
enum Way {
    WebDriver,
    XKeyEvents,
}

/// Types `keys` at whatever has the focus, pausing after each key up to `max_pause_ms`.
fn type_keys(app: &App, way: Way, keys: &[Key], max_pause_ms: u64, rng: &mut impl Rng) {
    let pauses: Vec<u64> = keys
        .iter()
        .map(|_| {
            if max_pause_ms == 0 {
                0
            } else {
                rng.gen_range(0..=max_pause_ms)
            }
        })
        .collect();
    match way {
        Way::WebDriver => {
            let chords: Vec<(Vec<String>, u64)> =
                webdriver_chords(keys).into_iter().zip(pauses).collect();
            app.session.key_actions(&chords);
        }
        Way::XKeyEvents => {
            let window = xdotool(
                &app.display,
                &["search", "--onlyvisible", "--name", "^Fieldpost$"],
            );
            let window = window
                .lines()
                .next()
                .expect("the app's X window")
                .to_string();
            xdotool(&app.display, &["windowfocus", &window]);
            // One xdotool run for the whole form: `key --delay 0 k` then, where a pause is
            // drawn, `sleep s` — chained commands, so no process start sits between two keys.
            let mut args: Vec<String> = Vec::new();
            for (sym, pause) in keysyms(keys).into_iter().zip(pauses) {
                args.extend(["key".into(), "--delay".into(), "0".into(), sym]);
                if pause > 0 {
                    args.extend(["sleep".into(), format!("{:.3}", pause as f64 / 1000.0)]);
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            xdotool(&app.display, &args);
        }
    }
}

fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("xdotool is installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "xdotool {:?}: {}",
        &args[..args.len().min(3)],
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What differs between the sheet and what the device stored, one line a question.
fn differences(
    form: &forms::Form,
    want: &BTreeMap<String, Value>,
    got: &BTreeMap<String, Value>,
) -> Vec<String> {
    form.questions
        .iter()
        .filter(|q| want.get(&q.id) != got.get(&q.id))
        .map(|q| {
            format!(
                "{} ({}): keyed {:?}, stored {:?}",
                q.number,
                q.id,
                want.get(&q.id),
                got.get(&q.id)
            )
        })
        .collect()
}

#[test]
fn keys_typed_at_any_speed_land_in_the_questions_they_were_typed_for() {
    let seed = std::env::var("FIELDPOST_KEYING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let per_way: usize = std::env::var("FIELDPOST_KEYING_FORMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    println!("keying seed {seed} (FIELDPOST_KEYING_SEED={seed} replays it)");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let centre = start_centre();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "e2e keying")
        .unwrap();
    let app = App::start();
    app.enroll(&centre.url, &code);
    let form = intake::demo::sipas_2024();
    let mut households = ["dh-p2-kp1", "dh-p2-kp2"]
        .into_iter()
        .flat_map(|v| (1..=27).map(move |n| format!("{v}-{n:02}")));

    let plan = [
        (Way::WebDriver, 0),
        (Way::XKeyEvents, 0),
        (Way::WebDriver, 30),
        (Way::XKeyEvents, 30),
    ];
    let mut failures = Vec::new();
    let mut forms_keyed = 0;
    for (way, max_pause) in plan {
        for _ in 0..per_way {
            let household = households
                .next()
                .expect("enough households in two villages");
            let alphabet = if matches!(way, Way::XKeyEvents) {
                Alphabet::Ascii
            } else {
                Alphabet::Vietnamese
            };
            let answers = random_answers(&form, &mut rng, alphabet);
            let keys = keystrokes(&form, &answers);
            app.open_first_keying(&household);
            type_keys(&app, way, &keys, max_pause, &mut rng);
            // The last key moves the focus to "finish": everything before it has been handled.
            let finished = app.wait_focus("finish-keying", Duration::from_secs(20));
            let stored = app.device().answers(&household, 1).unwrap();
            let wrong = differences(&form, &answers, &stored);
            forms_keyed += 1;
            if !wrong.is_empty() || !finished {
                failures.push(format!(
                    "{household} via {way:?}, pauses up to {max_pause} ms, {} keys: {} answers wrong{}\n  {}",
                    keys.len(),
                    wrong.len(),
                    if finished { "" } else { ", the focus never reached «finish»" },
                    wrong.join("\n  ")
                ));
            } else {
                // A complete sheet finishes.
                app.session.click("#finish-keying");
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                while !app
                    .session
                    .text("h1")
                    .unwrap_or_default()
                    .contains("Đã nhập")
                {
                    let problem = app.session.script("return [document.getElementById('finish-problem')?.textContent, document.querySelector('.flash')?.textContent, document.activeElement?.id, [...document.querySelectorAll('.has-error')].map(e => e.dataset.id + ': ' + e.querySelector('.error').textContent)]");
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{household}: a complete sheet does not finish: {problem}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} of {forms_keyed} forms stored wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{forms_keyed} forms keyed, every answer stored where it was typed");
}

fn stored(app: &App, household: &str) -> BTreeMap<String, Value> {
    app.device().answers(household, 1).unwrap()
}

/// Waits until the screen's heading says `what`; false when it never does.
fn wait_heading(app: &App, what: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !app.session.text("h1").unwrap_or_default().contains(what) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn going_back_leaving_and_finishing_lose_no_key() {
    let centre = start_centre();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "e2e keying")
        .unwrap();
    let app = App::start();
    app.enroll(&centre.url, &code);
    let form = intake::demo::sipas_2024();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut failures = Vec::new();

    // Shift+Tab in the middle of a burst, typed at full speed, both ways, six times each:
    // A1=2, A2=3, back, A2=4, A3=1 (Kinh, so the next question skips itself).
    let back = [
        Key::Char('2'),
        Key::Char('3'),
        Key::BackTab,
        Key::Char('4'),
        Key::Char('1'),
    ];
    for (n, way) in [Way::XKeyEvents, Way::WebDriver]
        .into_iter()
        .flat_map(|w| std::iter::repeat_n(w, 6))
        .enumerate()
    {
        let household = format!("dh-p2-kp1-{:02}", n + 1);
        app.open_first_keying(&household);
        type_keys(&app, way, &back, 0, &mut rng);
        if !app.wait_focus("ans-a_education", Duration::from_secs(10)) {
            let at = app
                .session
                .script("return document.activeElement && document.activeElement.id");
            failures.push(format!(
                "{household} via {way:?}: the cursor is on {at}, not after A3"
            ));
        }
        let got = stored(&app, &household);
        let want = [("a_sex", 2), ("a_age", 4), ("a_ethnicity", 1)];
        if want
            .iter()
            .any(|(q, v)| got.get(*q) != Some(&serde_json::json!(v)))
        {
            failures.push(format!(
                "{household} via {way:?}: Shift+Tab in a burst gave {got:?}"
            ));
        }
    }

    // A whole sheet at full speed, and «Hôm nay» clicked the moment the keys are typed: the
    // screen leaves only once every key is saved.
    let household = "dh-p2-kp2-01";
    let answers = random_answers(&form, &mut rng, Alphabet::Ascii);
    app.open_first_keying(household);
    type_keys(
        &app,
        Way::XKeyEvents,
        &keystrokes(&form, &answers),
        0,
        &mut rng,
    );
    app.session.click("#nav-today");
    app.session.wait("#phase");
    let wrong = differences(&form, &answers, &stored(&app, household));
    if !wrong.is_empty() {
        failures.push(format!(
            "leaving right after a burst lost {} answers:\n  {}",
            wrong.len(),
            wrong.join("\n  ")
        ));
    }

    // Reopened: a box typed into and left by the mouse, then the screen left by the top bar —
    // both saved as typed, without Enter.
    app.session
        .script(&format!("location.hash = '#/key/{household}/1'"));
    app.session.wait("#ans-q11");
    app.wait_focus("", Duration::from_secs(5));
    app.session
        .script("const q = document.getElementById('ans-q2'); q.focus(); q.select();");
    app.session.keys("1 2 3");
    // Another box taken by the mouse (the click itself lands where the sticky bar may cover).
    app.session
        .script("document.getElementById('ans-q4').focus()");
    app.session
        .script("const q = document.getElementById('ans-q11'); q.focus(); q.select();");
    app.session.keys("sua lan cuoi");
    app.session.click("#nav-today");
    app.session.wait("#phase");
    let got = stored(&app, household);
    for (q, want) in [
        ("q2", serde_json::json!([1, 2, 3])),
        ("q11", serde_json::json!("sua lan cuoi")),
    ] {
        if got.get(q) != Some(&want) {
            failures.push(format!(
                "{q} typed without Enter and left: stored {:?}",
                got.get(q)
            ));
        }
    }

    // «Hoàn tất» with the last box typed into and no Enter: finished with it.
    let household = "dh-p2-kp2-02";
    let mut answers = random_answers(&form, &mut rng, Alphabet::Ascii);
    answers.insert("q11".into(), serde_json::json!("truoc"));
    app.open_first_keying(household);
    type_keys(
        &app,
        Way::XKeyEvents,
        &keystrokes(&form, &answers),
        0,
        &mut rng,
    );
    if !app.wait_focus("finish-keying", Duration::from_secs(20)) {
        failures.push("a whole sheet keyed at full speed never reached «finish»".into());
    }
    app.session
        .script("const q = document.getElementById('ans-q11'); q.focus(); q.select();");
    app.session.keys("sau cung");
    app.session.click("#finish-keying");
    if !wait_heading(&app, "Đã nhập") {
        failures.push("finishing with q11 typed and no Enter did not finish".into());
        app.session.script("location.hash = '#/today'");
    }
    let got = stored(&app, household);
    if got.get("q11") != Some(&serde_json::json!("sau cung")) {
        failures.push(format!(
            "finished with q11 typed and no Enter: stored {:?}",
            got.get("q11")
        ));
    }

    // «Hoàn tất» clicked in the middle of a burst: it waits for the keys, then finishes.
    let household = "dh-p2-kp2-03";
    let answers = random_answers(&form, &mut rng, Alphabet::Ascii);
    app.open_first_keying(household);
    type_keys(
        &app,
        Way::XKeyEvents,
        &keystrokes(&form, &answers),
        0,
        &mut rng,
    );
    // The button itself, wherever the scrolling of the burst has put it.
    app.session
        .script("document.getElementById('finish-keying').click()");
    if !wait_heading(&app, "Đã nhập") {
        let said = app.session.script("return [document.getElementById('finish-problem')?.textContent, document.querySelector('.flash')?.textContent, document.activeElement?.id, location.hash, [...document.querySelectorAll('.has-error')].map(e => e.dataset.id + ': ' + e.querySelector('.error').textContent)]");
        failures.push(format!(
            "«Hoàn tất» clicked during a burst did not finish: {said}"
        ));
    }
    let wrong = differences(&form, &answers, &stored(&app, household));
    if !wrong.is_empty() {
        failures.push(format!(
            "finishing during a burst: {} answers wrong:\n  {}",
            wrong.len(),
            wrong.join("\n  ")
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
