//! Syncing 54 full SIPAS forms (two villages, hand-out to parcel, double keyed) over a 2G-like
//! link: 40 kbit/s, 300 ms round trips, 10 % packet loss. Not a timed test: it prints figures.
//!
//! `cargo bench -p field-client --bench sync_2g` (as root: it makes its own network namespace)
//!
//! The link, inside a network namespace this process creates, so nothing else is touched:
//! * rate: the kernel (`tc` htb, 40 kbit/s) on the device↔proxy hop;
//! * loss: the kernel (`nft`, 10 % of packets dropped at random, each way) on that hop, so TCP
//!   really retransmits;
//! * latency: the loopback proxy (150 ms each way, one more round trip per new connection for
//!   the handshake), because this machine's kernel has no `netem`.
//!
//! Baselines in the same run: the same work synced over plain loopback, and the same answers
//! as ODK Collect would submit them (XForms XML instance in a multipart POST, headers and the
//! OpenRosa reply counted; ODK's preceding HEAD request is not, which favours ODK).

use field_client::{Client, RetryPolicy};
use std::{
    collections::BTreeMap,
    process::Command,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};
use sync_protocol::event::Recipient;

#[path = "../tests/support/mod.rs"]
mod support;
use support::proxy::{self, Link};

const RATE: &str = "40kbit";
const LOSS_ONE_IN: u32 = 10;

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// A network namespace of our own, entered before any thread starts (threads inherit it).
fn enter_own_network_namespace() -> Result<(), String> {
    // SAFETY: plain syscall, no memory shared; called while the process has one thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {} (run as root)",
            std::io::Error::last_os_error()
        ));
    }
    sh(&["ip", "link", "set", "lo", "up"])?;
    // Packets the size of a mobile link's, not loopback's 64 KiB: a lost packet costs what it would.
    sh(&["ip", "link", "set", "lo", "mtu", "1500"])
}

/// Rate and loss on traffic to and from the proxy's port only: the proxy↔intake hop stays free.
fn shape_port(port: u16) -> Result<(), String> {
    let port = port.to_string();
    sh(&[
        "tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "20",
    ])?;
    sh(&[
        "tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate",
        "10gbit",
    ])?;
    // One class each way: up (to the proxy) and down (from it) have 40 kbit/s each.
    for (field, class) in [("dport", "1:10"), ("sport", "1:11")] {
        sh(&[
            "tc", "class", "add", "dev", "lo", "parent", "1:", "classid", class, "htb", "rate",
            RATE, "ceil", RATE,
        ])?;
        sh(&[
            "tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1",
            "u32", "match", "ip", field, &port, "0xffff", "flowid", class,
        ])?;
    }
    sh(&["nft", "add", "table", "inet", "link2g"])?;
    sh(&[
        "nft",
        "add",
        "chain",
        "inet",
        "link2g",
        "out",
        "{ type filter hook output priority 0; }",
    ])?;
    for field in ["dport", "sport"] {
        sh(&[
            "nft",
            "add",
            "rule",
            "inet",
            "link2g",
            "out",
            "tcp",
            field,
            &port,
            "numgen",
            "random",
            "mod",
            &LOSS_ONE_IN.to_string(),
            "0",
            "counter",
            "drop",
        ])?;
    }
    Ok(())
}

/// Takes the shaping away, for the next run's proxy.
fn unshape() {
    sh(&["tc", "qdisc", "del", "dev", "lo", "root"]).unwrap();
    sh(&["nft", "delete", "table", "inet", "link2g"]).unwrap();
}

fn dropped_packets() -> String {
    let out = Command::new("nft")
        .args(["list", "table", "inet", "link2g"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| {
            l.split("packets ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum::<u64>()
        .to_string()
}

/// The first `forms` sampled households' whole work: each handed out, collected, keyed twice,
/// and in its village's parcel. Returns the answers keyed, for the ODK comparison.
fn field_work(
    client: &mut Client,
    forms: usize,
) -> Vec<(String, BTreeMap<String, serde_json::Value>)> {
    let form = client.form().unwrap().clone();
    let households: Vec<_> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .take(forms)
        .collect();
    let mut keyed = Vec::new();
    for (i, h) in households.iter().enumerate() {
        client
            .distribute(&h.id, Recipient::Representative, None)
            .unwrap();
        client.collect(&h.id).unwrap();
        let answers = support::answers_for(&form, i as i64);
        for pass in [1, 2] {
            for (q, v) in &answers {
                client.set_answer(&h.id, pass, q, Some(v.clone())).unwrap();
            }
            if pass == 1 {
                client.finish_first_keying(&h.id).unwrap();
            }
        }
        client.finish_verification(&h.id, &BTreeMap::new()).unwrap();
        keyed.push((h.serial.clone(), answers));
    }
    for village in households.chunk_by(|a, b| a.village == b.village) {
        client
            .hand_over_parcel(&village.iter().map(|h| h.id.clone()).collect::<Vec<_>>())
            .unwrap();
    }
    keyed
}

/// What the device is about to send, by event kind (canonical JSON before compression).
fn where_the_bytes_go(dir: &std::path::Path) {
    let db = rusqlite::Connection::open(dir.join("device.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT kind, COUNT(*), AVG(LENGTH(body)) FROM events GROUP BY kind ORDER BY kind")
        .unwrap();
    for row in stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })
        .unwrap()
    {
        let (kind, n, avg) = row.unwrap();
        println!("  {kind:<24} {n:>4} events, {avg:>6.0} B each as JSON");
    }
    db.execute_batch("SELECT 1").unwrap();
    let frames: (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), SUM(LENGTH(frame)) FROM batches",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0));
    println!(
        "  {} batches packed so far, {} B of frames",
        frames.0, frames.1
    );
}

/// Which line a run's sync goes through.
#[derive(Clone, Copy, PartialEq)]
enum Line {
    /// Plain loopback: the baseline.
    Loopback,
    /// 40 kbit/s each way, 300 ms round trips, 10 % loss.
    TwoG,
    /// The same, and every connection cut every 10 s.
    TwoGCutEvery10s,
}

struct Run {
    forms: usize,
    seconds: f64,
    bytes_up: u64,
    bytes_down: u64,
    connections: u64,
    cuts: u64,
    syncs: u32,
    batches: usize,
    largest_frame: usize,
    keyed: Vec<(String, BTreeMap<String, serde_json::Value>)>,
    form: forms::Form,
}

/// `forms` households' whole work on one device, synced once through `line`.
fn run(line: Line, forms: usize) -> Run {
    let (centre, enumerator) = if forms <= 54 {
        (support::start_centre(), "enum-dh-p2")
    } else {
        (
            intake::local::with_backlog(forms),
            intake::local::BACKLOG_ENUMERATOR,
        )
    };
    let link = match line {
        Line::Loopback => Link::default(),
        Line::TwoG => Link {
            one_way_latency: Duration::from_millis(150),
            ..Link::default()
        },
        Line::TwoGCutEvery10s => Link {
            one_way_latency: Duration::from_millis(150),
            cut_every: Some(Duration::from_secs(10)),
            ..Link::default()
        },
    };
    let proxy = proxy::start_with_link(&centre.runtime, &centre.url, link);
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code(enumerator, chrono::Duration::hours(1), "bench")
        .unwrap();
    client.enroll(&proxy.url, &code, "bench").unwrap();
    let keyed = field_work(&mut client, forms);
    client.pack().unwrap();
    let frames = support::frame_sizes(dir.path());
    if line == Line::Loopback {
        where_the_bytes_go(dir.path());
    } else {
        shape_port(proxy.port).unwrap();
    }
    let (up0, down0) = proxy.bytes();
    let connections0 = proxy.counters.connections.load(Ordering::Relaxed);
    let policy = RetryPolicy {
        attempts: 20,
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
        ..RetryPolicy::default()
    };
    let started = Instant::now();
    // As the app does: sync again until everything is through.
    let mut syncs = 1;
    while let Err(e) = client.sync(policy, &mut |_| {}) {
        syncs += 1;
        assert!(syncs < 50, "sync keeps failing: {e}");
    }
    let seconds = started.elapsed().as_secs_f64();
    if line != Line::Loopback {
        println!("  dropped by the lossy link: {} packets", dropped_packets());
        unshape();
    }
    assert_eq!(client.pending().unwrap().events_total, 0);
    // Exactly once: every event the device made is stored once, and the centre's statuses are
    // the device's.
    let made: i64 = rusqlite::Connection::open(dir.path().join("device.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    let stored = centre.intake.store.events().unwrap();
    let distinct: std::collections::BTreeSet<_> = stored.iter().map(|e| &e.id).collect();
    assert_eq!(
        (stored.len() as i64, distinct.len() as i64),
        (made, made),
        "events stored at the centre, and distinct among them"
    );
    let statuses = centre.intake.store.household_statuses().unwrap();
    assert!(
        keyed.len() == forms
            && client
                .households()
                .unwrap()
                .iter()
                .all(|h| statuses[&h.id] == h.status)
    );
    let (up, down) = proxy.bytes();
    Run {
        forms: keyed.len(),
        seconds,
        bytes_up: up - up0,
        bytes_down: down - down0,
        connections: proxy.counters.connections.load(Ordering::Relaxed) - connections0,
        cuts: proxy.counters.cuts.load(Ordering::Relaxed),
        syncs,
        batches: frames.len(),
        largest_frame: frames.iter().copied().max().unwrap_or(0),
        form: client.form().unwrap().clone(),
        keyed,
    }
}

/// The bytes ODK Collect would move to submit these answers: the XForms instance as
/// `xml_submission_file` in a multipart POST to `/submission`, and the OpenRosa reply.
fn odk_submission_bytes(
    form: &forms::Form,
    serial: &str,
    answers: &BTreeMap<String, serde_json::Value>,
) -> usize {
    let mut xml = format!(
        "<?xml version='1.0' ?><data id=\"{}\" version=\"{}\" xmlns:jr=\"http://openrosa.org/javarosa\" xmlns:orx=\"http://openrosa.org/xforms\">\
         <start>2024-10-23T09:12:31.204+07:00</start><end>2024-10-23T09:19:02.877+07:00</end><serial>{serial}</serial>",
        form.definition.id, form.definition.version
    );
    for (i, section) in form.definition.sections.iter().enumerate() {
        xml.push_str(&format!("<{}>", section.id));
        for q in form.questions.iter().filter(|q| q.section == i) {
            let value = match answers.get(&q.id) {
                None => String::new(), // ODK writes non-relevant questions as empty elements
                Some(serde_json::Value::Array(codes)) => codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            };
            if value.is_empty() {
                xml.push_str(&format!("<{}/>", q.id));
            } else {
                xml.push_str(&format!("<{0}>{1}</{0}>", q.id, value));
            }
        }
        xml.push_str(&format!("</{}>", section.id));
    }
    xml.push_str(
        "<meta><instanceID>uuid:0e7c3a8e-5c1b-4f38-9f43-6d1a2b7c9e10</instanceID></meta></data>",
    );
    let boundary = "5d2f3b70-8b0e-4a4e-8d9b-2a1c0f6e7b31";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; filename=\"sipas_2024_2024-10-23_09-12-31.xml\"\r\n\
         Content-Type: text/xml\r\n\r\n{xml}\r\n--{boundary}--\r\n"
    );
    let request_head = format!(
        "POST /submission?deviceID=collect%3A3f9b2c7d1e0a4b58 HTTP/1.1\r\nX-OpenRosa-Version: 1.0\r\nDate: Wed, 23 Oct 2024 02:19:05 GMT\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nHost: intake.example.vn\r\nConnection: Keep-Alive\r\n\
         Accept-Encoding: gzip\r\nUser-Agent: org.odk.collect.android/v2024.2.4 okhttp/4.12.0\r\n\r\n",
        body.len()
    );
    let reply_body = "<OpenRosaResponse xmlns=\"http://openrosa.org/http/response\"><message nature=\"submit_success\">Form Received!</message></OpenRosaResponse>";
    let reply_head = format!(
        "HTTP/1.1 201 Created\r\nContent-Type: text/xml; charset=utf-8\r\nX-OpenRosa-Version: 1.0\r\nX-OpenRosa-Accept-Content-Length: 10485760\r\n\
         Date: Wed, 23 Oct 2024 02:19:06 GMT\r\nContent-Length: {}\r\n\r\n",
        reply_body.len()
    );
    request_head.len() + body.len() + reply_head.len() + reply_body.len()
}

fn main() {
    if let Err(e) = enter_own_network_namespace() {
        eprintln!("sync_2g: cannot make a network namespace to shape: {e}");
        std::process::exit(1);
    }
    let plain = run(Line::Loopback, 54);
    let shaped = run(Line::TwoG, 54);
    let odk: usize = plain
        .keyed
        .iter()
        .map(|(serial, answers)| odk_submission_bytes(&plain.form, serial, answers))
        .sum();
    let ours = (shaped.bytes_up + shaped.bytes_down) as f64 / shaped.forms as f64;
    let odk_per_form = odk as f64 / plain.forms as f64;
    println!(
        "sync of {} forms, loopback (baseline):       {:.2} s, {} B up, {} B down, {} connections",
        plain.forms, plain.seconds, plain.bytes_up, plain.bytes_down, plain.connections
    );
    println!(
        "sync of {} forms, 40 kbit/s, 300 ms, 10% loss: {:.2} s (target < 20 s; {:.1}x the loopback time), {} B up, {} B down, {} connections",
        shaped.forms,
        shaped.seconds,
        shaped.seconds / plain.seconds,
        shaped.bytes_up,
        shaped.bytes_down,
        shaped.connections
    );
    println!("bytes on the wire per form (everything: lifecycle events, both keyings, parcels, receipts, assignment): {ours:.0} B");
    println!("same answers as ODK XForms submissions: {odk_per_form:.0} B per form");
    println!(
        "ours / ODK: {:.1}% (target <= 15%)",
        100.0 * ours / odk_per_form
    );
    // A link that drops every 10 s: each run beside the same work on the same link uncut.
    for (forms, uncut) in [(54, Some(shaped)), (500, None)] {
        let uncut = uncut.unwrap_or_else(|| run(Line::TwoG, forms));
        let cut = run(Line::TwoGCutEvery10s, forms);
        println!(
            "{forms} forms ({} batches, largest frame {} B; what 10 s of 40 kbit/s carries: 50,000 B), 2G cut every 10 s: {:.1} s in {} syncs, {} connections cut; uncut (baseline): {:.1} s; ratio {:.2}",
            cut.batches,
            cut.largest_frame,
            cut.seconds,
            cut.syncs,
            cut.cuts,
            uncut.seconds,
            cut.seconds / uncut.seconds
        );
        println!(
            "  bytes up {} (uncut {}), resent {} B ({:.1} %); bytes down {} (uncut {})",
            cut.bytes_up,
            uncut.bytes_up,
            cut.bytes_up as i64 - uncut.bytes_up as i64,
            100.0 * (cut.bytes_up as f64 - uncut.bytes_up as f64) / uncut.bytes_up as f64,
            cut.bytes_down,
            uncut.bytes_down
        );
    }
}
