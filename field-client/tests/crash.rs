//! Crash tests: a child process drives the library through hand-outs, collections, keying,
//! verification and syncs of a village's 27 households; it is killed with SIGKILL at random moments and
//! restarted, again and again. Every answer the child reported saved must still be there, and
//! in the end the intake must hold exactly the device's events — none lost, none twice.

mod support;

use field_client::{Client, RetryPolicy};
use rand::{Rng, SeedableRng};
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use sync_protocol::{event::Recipient, lifecycle::HouseholdStatus};

const CHILD_ENV: &str = "FIELDPOST_CRASH_CHILD";
const HOUSEHOLDS: usize = 27;

/// The child's script: always take the next step, so a restarted child simply carries on.
fn drive(dir: &str, url: &str, code: &str) {
    let mut client = Client::open(std::path::Path::new(dir)).unwrap();
    if client.enrollment().is_err() {
        client.enroll(url, code, "crash test").unwrap();
        println!("ENROLLED");
    }
    if client.assignment().is_err() {
        // Killed between enrolling and storing the assignment.
        client.refresh_assignment().unwrap();
    }
    let form = client.form().unwrap().clone();
    let households: Vec<String> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.village == "dh-p2-kp1" && h.reserve_rank.is_none())
        .take(HOUSEHOLDS)
        .map(|h| h.id)
        .collect();
    for (i, h) in households.iter().enumerate() {
        let answers = support::answers_for(&form, i as i64);
        loop {
            match client.household(h).unwrap().status {
                HouseholdStatus::Assigned => client
                    .distribute(h, Recipient::Representative, None)
                    .unwrap(),
                HouseholdStatus::Distributed => client.collect(h).unwrap(),
                status @ (HouseholdStatus::Collected | HouseholdStatus::Transcribed) => {
                    let pass = if status == HouseholdStatus::Collected {
                        1
                    } else {
                        2
                    };
                    let have = client.answers(h, pass).unwrap();
                    for (q, v) in &answers {
                        if have.get(q) != Some(v) {
                            client.set_answer(h, pass, q, Some(v.clone())).unwrap();
                            println!("SAVED {h} {pass} {q}");
                        }
                    }
                    if pass == 1 {
                        client.finish_first_keying(h).unwrap();
                    } else {
                        client.finish_verification(h, &BTreeMap::new()).unwrap();
                    }
                }
                _ => break,
            }
        }
        if i % 3 == 2 {
            client.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
            println!("SYNCED");
        }
    }
    client.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    println!("DONE");
}

#[test]
fn child_process() {
    if let Ok(args) = std::env::var(CHILD_ENV) {
        let parts: Vec<&str> = args.splitn(3, '|').collect();
        drive(parts[0], parts[1], parts[2]);
    }
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    // Eight fixed seeds in every run; `FIELDPOST_CRASH_SEEDS=n` adds n fresh ones (printed, so a
    // failure can be replayed).
    let extra: usize = std::env::var("FIELDPOST_CRASH_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let fresh = (0..extra).map(|_| rand::random::<u64>());
    for seed in [20241121, 7, 42, 2026, 1, 99, 314159, 8080]
        .into_iter()
        .chain(fresh)
    {
        eprintln!("crash test seed {seed}");
        run_with_seed(seed);
    }
}

fn run_with_seed(seed: u64) {
    let centre = support::start_centre();
    let dir = tempfile::tempdir().unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
        .unwrap();
    let args = format!("{}|{}|{}", dir.path().display(), centre.url, code);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0;
    let mut landed_mid_work = 0;
    let started = Instant::now();
    loop {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .filter(|l| l.contains("panicked") || l.contains("Error") || l.contains("error"))
                .collect::<Vec<String>>()
        });
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let kill = kills < 12;
        if kill {
            std::thread::sleep(Duration::from_millis(rng.gen_range(20..400)));
            let _ = child.kill(); // SIGKILL
            kills += 1;
        }
        let status = child.wait().unwrap();
        let lines = reader.join().unwrap();
        let errors = errors.join().unwrap();
        assert!(
            kill || status.success(),
            "seed {seed}: the child failed on its own: {errors:#?}"
        );

        // Every answer the child saw saved is still there (or already sealed and sent on).
        let client = Client::open(dir.path()).unwrap();
        for line in lines.iter().filter(|l| l.starts_with("SAVED ")) {
            let parts: Vec<&str> = line.split(' ').collect();
            let (h, pass, q) = (parts[1], parts[2].parse::<u8>().unwrap(), parts[3]);
            let status = client.household(h).unwrap().status;
            let sealed = (pass == 1 && status != HouseholdStatus::Collected)
                || (pass == 2 && status != HouseholdStatus::Transcribed);
            assert!(
                sealed || client.answers(h, pass).unwrap().contains_key(q),
                "saved answer {h}/{pass}/{q} was lost"
            );
        }
        drop(client);
        let done = lines.iter().any(|l| l == "DONE");
        if kill && !done {
            landed_mid_work += 1;
        }
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the child never finished"
        );
    }
    assert!(landed_mid_work >= 8, "seed {seed}: only {landed_mid_work} kills landed while the child was working: the test proved too little");

    // The intake holds exactly the device's events, and the same states.
    let client = Client::open(dir.path()).unwrap();
    assert_eq!(client.pending().unwrap().events_total, 0);
    support::stored_exactly_once(&centre, dir.path());
    assert!(centre
        .intake
        .store
        .events()
        .unwrap()
        .iter()
        .all(|e| e.status == "accepted"));
    let statuses = centre.intake.store.household_statuses().unwrap();
    let verified = client
        .households()
        .unwrap()
        .iter()
        .filter(|h| h.status == HouseholdStatus::Verified)
        .count();
    assert_eq!(verified, HOUSEHOLDS);
    for h in client.households().unwrap() {
        assert_eq!(statuses[&h.id], h.status, "{}", h.id);
    }
}
