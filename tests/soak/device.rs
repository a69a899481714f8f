//! One tablet of the fault campaign (`tests/soak.rs`), as a process of its own so that the
//! campaign can SIGKILL it at any instant and start it again, and run it under a shifted clock
//! (libfaketime).
//!
//! `soak-device DIR HOUSEHOLDS SEED`: the enrolled device in DIR works through the first
//! HOUSEHOLDS sampled households of its assignment — hand out, collect, key and finish — in an
//! order drawn from SEED, syncing after a random share of its steps, and picks up where the
//! device's own store says it is after a restart. It exits 0 once every step is done and the
//! centre has acknowledged everything; a sync that fails (the link was cut, the intake was
//! killed) is simply tried again later, as on a tablet.

use field_client::{Client, RetryPolicy};
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use sync_protocol::{event::Recipient, lifecycle::HouseholdStatus};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, households, seed] = &args[..] else {
        eprintln!("usage: soak-device DIR HOUSEHOLDS SEED");
        std::process::exit(2);
    };
    let households: usize = households.parse().expect("HOUSEHOLDS is a number");
    let seed: u64 = seed.parse().expect("SEED is a number");
    // A restarted process draws anew: the steps' order comes from the store, not from here.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ std::process::id() as u64);
    let mut client = Client::open(std::path::Path::new(dir)).expect("the device's store opens");
    let policy = RetryPolicy {
        attempts: 2,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "the device did not finish in time"
        );
        let open: Vec<_> = client
            .households()
            .expect("the households read")
            .into_iter()
            .filter(|h| h.reserve_rank.is_none())
            .take(households)
            .filter(|h| h.status != HouseholdStatus::Transcribed)
            .collect();
        if open.is_empty() {
            match client.sync(policy, &mut |_| {}) {
                Ok(_) if client.pending().expect("pending reads").events_total == 0 => return,
                Ok(_) => {}
                Err(e) => eprintln!("sync: {e}"),
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(5..50)));
            continue;
        }
        let h = &open[rng.gen_range(0..open.len())];
        let step = match h.status {
            HouseholdStatus::Assigned => client.distribute(&h.id, Recipient::Representative, None),
            HouseholdStatus::Distributed => client.collect(&h.id),
            HouseholdStatus::Collected => {
                let form = client.form_of(&h.id).expect("the form").clone();
                forms::sample::complete_answers(&form, h.id.len() as i64)
                    .into_iter()
                    .try_for_each(|(question, value)| {
                        client
                            .set_answer(&h.id, 1, &question, Some(value))
                            .map(|_| ())
                    })
                    .and_then(|_| client.finish_first_keying(&h.id))
            }
            other => panic!(
                "household {} is {other:?}: the soak never leads there",
                h.id
            ),
        };
        step.expect("a step the lifecycle allows");
        if rng.gen_bool(0.4) {
            if let Err(e) = client.sync(policy, &mut |_| {}) {
                eprintln!("sync: {e}");
            }
        }
    }
}
