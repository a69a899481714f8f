//! The randomized fault campaign over the whole system (issue 12). Each run draws a fleet of
//! tablets (each a `soak-device` process over its own store), a real `intake serve` process
//! over a fresh SQLite centre, and a schedule of faults while the tablets work:
//!
//! - SIGKILL of a tablet's process, started again at once or a little later;
//! - SIGKILL of the intake, started again on the same port;
//! - links cut mid-request and mid-response, and delayed (so that requests overtake each
//!   other), by the proxy every tablet talks through;
//! - batches duplicated and reordered: requests the proxy saw are sent again, later;
//! - clock jumps: a tablet restarted under libfaketime with its clock hours or days off.
//!
//! The run ends when every tablet has done its work and the centre acknowledged all of it (the
//! faults stop after a while so that it can), and counts, per tablet, against the events the
//! tablet's own store saved: events **lost** (saved, not at the centre), **duplicated** (at the
//! centre more than once) and **mis-ordered** (not in the tablet's order in the centre's chain).
//!
//! `scripts/soak RUNS [SEED]` runs many (release build); `scripts/test` runs a handful of seeds.
//! `FIELDPOST_SOAK_RUNS` and `FIELDPOST_SOAK_SEED` set them here; the seed is printed and
//! replays the same draws (process timing still differs from one machine to another).

use intake::local::ServeProcess;
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const CAMPAIGN: &str = intake::demo::DEMO_CAMPAIGN_ID;
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    saved: usize,
    lost: usize,
    duplicated: usize,
    misordered: usize,
}

#[derive(Default, Debug)]
struct Faults {
    device_kills: u64,
    intake_kills: u64,
    clock_jumps: u64,
    replays: u64,
}

#[test]
fn seeded_fault_runs_lose_duplicate_and_misorder_nothing() {
    let runs: u64 = std::env::var("FIELDPOST_SOAK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("FIELDPOST_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "libfaketime is installed (scripts/test installs the Debian package faketime)"
    );
    println!("soak: {runs} run(s), seed {seed} (FIELDPOST_SOAK_SEED={seed} replays them)");
    let started = Instant::now();
    let mut total = Counts::default();
    let mut faults = Faults::default();
    let mut bad_runs = Vec::new();
    for run in 0..runs {
        let (counts, f) = one_run(seed.wrapping_add(run));
        total.saved += counts.saved;
        total.lost += counts.lost;
        total.duplicated += counts.duplicated;
        total.misordered += counts.misordered;
        faults.device_kills += f.device_kills;
        faults.intake_kills += f.intake_kills;
        faults.clock_jumps += f.clock_jumps;
        faults.replays += f.replays;
        if counts.lost + counts.duplicated + counts.misordered > 0 {
            bad_runs.push((seed.wrapping_add(run), counts));
        }
        if (run + 1) % 50 == 0 || run + 1 == runs {
            println!(
                "soak: {} run(s) in {:.0} s — events saved {}, lost {}, duplicated {}, mis-ordered {}; faults: {} tablet kills, {} intake kills, {} clock jumps, {} replayed connections, {} cut or delayed links",
                run + 1,
                started.elapsed().as_secs_f64(),
                total.saved,
                total.lost,
                total.duplicated,
                total.misordered,
                faults.device_kills,
                faults.intake_kills,
                faults.clock_jumps,
                faults.replays,
                LINK_FAULTS.load(Ordering::Relaxed),
            );
        }
    }
    assert!(
        bad_runs.is_empty(),
        "runs that lost, duplicated or mis-ordered events (seed, counts): {bad_runs:?}"
    );
    assert!(total.saved > 0, "the tablets did work");
}

fn intake_binary() -> PathBuf {
    // This test runs from target/<profile>/deps; the intake is built beside it
    // (`cargo test --workspace` builds every binary; scripts/soak builds it first).
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("intake");
    assert!(
        binary.exists(),
        "{} is built (cargo build -p intake)",
        binary.display()
    );
    binary
}

/// One run; its counts and the faults it injected.
fn one_run(seed: u64) -> (Counts, Faults) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("centre");

    // The centre, made in process, then served by its own process.
    let campaign = intake::demo::quang_tri_2024(&intake::demo::fixed_ministry_key().public());
    let mut enumerators: Vec<String> = campaign.enumerators.iter().map(|e| e.id.clone()).collect();
    let codes: Vec<(String, String)> = {
        let centre = intake::open(&data).unwrap();
        centre
            .import(
                &campaign,
                "{}",
                &[intake::demo::sipas_form()],
                chrono::Utc::now(),
            )
            .unwrap();
        let intake = centre.campaign(CAMPAIGN).unwrap().unwrap();
        enumerators.shuffle(&mut rng);
        enumerators
            .iter()
            .take(rng.gen_range(2..=5))
            .map(|e| {
                let code = intake
                    .issue_enrollment_code(e, chrono::Duration::hours(1), "soak")
                    .unwrap();
                (e.clone(), code)
            })
            .collect()
    };
    let port = fieldpost_e2e::free_port();
    let mut centre = start_intake(&data, port);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let link = FaultyLink::start(&runtime, port, rng.gen());

    // The fleet: each tablet enrolled through the link (no faults yet), then set to work.
    let mut devices: Vec<Device> = codes
        .iter()
        .enumerate()
        .map(|(i, (enumerator, code))| {
            let dir = root.path().join(format!("tablet-{i}"));
            field_client::Client::open(&dir)
                .unwrap()
                .enroll(&link.url, code, "soak")
                .unwrap_or_else(|e| panic!("{enumerator} enrolls: {e}"));
            Device {
                dir,
                households: rng.gen_range(3..=6),
                seed: rng.gen(),
                child: None,
                done: false,
            }
        })
        .collect();
    for d in &mut devices {
        d.start(None);
    }

    // Faults while the tablets work; then none, until every tablet is done.
    let mut faults = Faults::default();
    link.faulty.store(true, Ordering::Relaxed);
    link.fault_share
        .store(rng.gen_range(5..40), Ordering::Relaxed);
    let faults_until = Instant::now() + Duration::from_millis(rng.gen_range(500..3000));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: the fleet did not finish within 180 s"
        );
        for d in &mut devices {
            d.reap(seed);
        }
        if devices.iter().all(|d| d.done) {
            break;
        }
        let faulting = Instant::now() < faults_until;
        if !faulting {
            link.faulty.store(false, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(10..120)));
        if !faulting {
            continue;
        }
        match rng.gen_range(0..10) {
            0..=3 => {
                let d = devices.choose_mut(&mut rng).unwrap();
                if d.kill() {
                    faults.device_kills += 1;
                    let clock = rng.gen_bool(0.3).then(|| {
                        faults.clock_jumps += 1;
                        let sign = if rng.gen_bool(0.5) { '+' } else { '-' };
                        let unit = ["m", "h", "d"].choose(&mut rng).unwrap();
                        format!("{sign}{}{unit}", rng.gen_range(2..=40))
                    });
                    std::thread::sleep(Duration::from_millis(rng.gen_range(0..100)));
                    d.start(clock);
                }
            }
            4 => {
                centre.kill();
                faults.intake_kills += 1;
                std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
                centre = start_intake(&data, port);
            }
            5..=6 => {
                if link.replay_one(&runtime, &mut rng) {
                    faults.replays += 1;
                }
            }
            _ => {}
        }
    }
    drop(link);
    drop(runtime);
    centre.kill();

    // What reached the centre, against what each tablet saved.
    let centre = intake::open(&data).unwrap();
    let events = centre
        .campaign(CAMPAIGN)
        .unwrap()
        .unwrap()
        .store
        .events()
        .unwrap();
    let mut counts = Counts::default();
    for d in &devices {
        let conn = rusqlite::Connection::open_with_flags(
            d.dir.join("device.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let enumerator: String = conn
            .query_row("SELECT enumerator FROM device", [], |r| r.get(0))
            .unwrap();
        let saved: Vec<String> = conn
            .prepare("SELECT id FROM events ORDER BY n")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let at_centre: Vec<&str> = events
            .iter()
            .filter(|e| e.enumerator == enumerator)
            .map(|e| e.id.as_str())
            .collect();
        let c = compare(&saved, &at_centre);
        counts.saved += c.saved;
        counts.lost += c.lost;
        counts.duplicated += c.duplicated;
        counts.misordered += c.misordered;
    }
    (counts, faults)
}

/// Lost, duplicated and mis-ordered events of one tablet: `saved` in the tablet's order,
/// `at_centre` in the centre's chain order.
fn compare(saved: &[String], at_centre: &[&str]) -> Counts {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in at_centre {
        *seen.entry(id).or_default() += 1;
    }
    let lost = saved
        .iter()
        .filter(|id| !seen.contains_key(id.as_str()))
        .count();
    let duplicated = seen.values().map(|n| n - 1).sum();
    // Mis-ordered: the events outside the longest run of the centre's order that keeps the
    // tablet's order (n minus the longest increasing subsequence of tablet positions).
    let position: HashMap<&str, usize> = saved
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut first_seen = HashSet::new();
    let positions: Vec<usize> = at_centre
        .iter()
        .filter(|id| first_seen.insert(**id))
        .filter_map(|id| position.get(id).copied())
        .collect();
    let mut tails: Vec<usize> = Vec::new();
    for p in &positions {
        match tails.binary_search(p) {
            Ok(_) => {}
            Err(i) if i == tails.len() => tails.push(*p),
            Err(i) => tails[i] = *p,
        }
    }
    Counts {
        saved: saved.len(),
        lost,
        duplicated,
        misordered: positions.len() - tails.len(),
    }
}

#[test]
fn the_counts_see_loss_duplication_and_disorder() {
    let saved: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    let c = compare(&saved, &["a", "b", "c", "d"]);
    assert_eq!((c.lost, c.duplicated, c.misordered), (0, 0, 0));
    let c = compare(&saved, &["a", "c", "b", "b"]);
    assert_eq!((c.lost, c.duplicated, c.misordered), (1, 1, 1));
}

/// The intake on `port`; a port just freed by a killed process can take a moment to be free
/// again, so try a few times rather than fail the run.
fn start_intake(data: &Path, port: u16) -> ServeProcess {
    let args = [
        "--data-dir".to_string(),
        data.to_string_lossy().into_owned(),
    ];
    for _ in 0..50 {
        if let Ok(p) =
            ServeProcess::start(&intake_binary(), &args, &format!("127.0.0.1:{port}"), false)
        {
            return p;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the intake would not start on port {port}");
}

struct Device {
    dir: PathBuf,
    households: usize,
    seed: u64,
    child: Option<Child>,
    done: bool,
}

impl Device {
    /// Starts the tablet's process, under a clock shifted by `clock` (libfaketime's syntax,
    /// e.g. `+3h`) when given.
    fn start(&mut self, clock: Option<String>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_soak-device"));
        command
            .arg(&self.dir)
            .arg(self.households.to_string())
            .arg(self.seed.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(offset) = clock {
            command
                .env("LD_PRELOAD", LIBFAKETIME)
                .env("FAKETIME", offset)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        self.child = Some(command.spawn().unwrap());
    }

    /// SIGKILL, if it is running (a finished tablet has no process); whether it was.
    fn kill(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = child.kill();
        let _ = child.wait();
        true
    }

    /// Notes a tablet that finished; a tablet that failed by itself fails the run.
    fn reap(&mut self, seed: u64) {
        let Some(child) = &mut self.child else { return };
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "seed {seed}: a tablet ended by itself with {status} (its store: {})",
                self.dir.display()
            );
            self.done = true;
            self.child = None;
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.kill();
    }
}

static LINK_FAULTS: AtomicU64 = AtomicU64::new(0);

/// The link every tablet talks through: a TCP proxy to the intake's port that, while
/// `faulty`, cuts, delays or passes each new connection as drawn, and keeps the request bytes
/// of the last connections for replays.
struct FaultyLink {
    url: String,
    upstream: u16,
    faulty: Arc<AtomicBool>,
    /// Percent of connections given a fault while faulty.
    fault_share: Arc<AtomicU64>,
    seen: Kept,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FaultyLink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

enum LinkFault {
    CutRequest(usize),
    CutResponse(usize),
    Delay(Duration),
}

/// The request bytes of the last connections, each as it grows.
type Kept = Arc<Mutex<VecDeque<Arc<Mutex<Vec<u8>>>>>>;

const KEPT_CONNECTIONS: usize = 32;
const KEPT_BYTES: usize = 512 * 1024;

impl FaultyLink {
    fn start(runtime: &tokio::runtime::Runtime, upstream: u16, seed: u64) -> FaultyLink {
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let faulty = Arc::new(AtomicBool::new(false));
        let fault_share = Arc::new(AtomicU64::new(0));
        let seen: Kept = Default::default();
        let rng = Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed)));
        let (f, share, kept) = (faulty.clone(), fault_share.clone(), seen.clone());
        let accept = runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = if f.load(Ordering::Relaxed) {
                    let mut rng = rng.lock().unwrap();
                    if rng.gen_range(0..100) < share.load(Ordering::Relaxed) {
                        LINK_FAULTS.fetch_add(1, Ordering::Relaxed);
                        Some(match rng.gen_range(0..3) {
                            0 => LinkFault::CutRequest(rng.gen_range(0..4000)),
                            1 => LinkFault::CutResponse(rng.gen_range(0..600)),
                            _ => LinkFault::Delay(Duration::from_millis(rng.gen_range(0..400))),
                        })
                    } else {
                        None
                    }
                } else {
                    None
                };
                tokio::spawn(pass(client, upstream, fault, kept.clone()));
            }
        });
        FaultyLink {
            url,
            upstream,
            faulty,
            fault_share,
            seen,
            accept,
        }
    }

    /// Sends the request bytes of an earlier connection to the intake again (a duplicated,
    /// late batch); whether there was one.
    fn replay_one(&self, runtime: &tokio::runtime::Runtime, rng: &mut ChaCha8Rng) -> bool {
        let bytes = {
            let seen = self.seen.lock().unwrap();
            if seen.is_empty() {
                return false;
            }
            let record = seen[rng.gen_range(0..seen.len())].lock().unwrap().clone();
            record
        };
        if bytes.is_empty() {
            return false;
        }
        let upstream = self.upstream;
        runtime.spawn(async move {
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                return;
            };
            if server.write_all(&bytes).await.is_err() {
                return;
            }
            let mut sink = vec![0u8; 8192];
            let _ = tokio::time::timeout(Duration::from_secs(3), async {
                while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
        });
        true
    }
}

/// One connection through the link.
async fn pass(client: TcpStream, upstream: u16, fault: Option<LinkFault>, kept: Kept) {
    let (mut request_limit, mut response_limit) = (usize::MAX, usize::MAX);
    match fault {
        Some(LinkFault::CutRequest(n)) => request_limit = n,
        Some(LinkFault::CutResponse(n)) => response_limit = n,
        Some(LinkFault::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let record: Arc<Mutex<Vec<u8>>> = Default::default();
    {
        let mut kept = kept.lock().unwrap();
        if kept.len() == KEPT_CONNECTIONS {
            kept.pop_front();
        }
        kept.push_back(record.clone());
    }
    let up = copy_at_most(
        &mut client_read,
        &mut server_write,
        request_limit,
        Some(&record),
    );
    let down = copy_at_most(&mut server_read, &mut client_write, response_limit, None);
    // Whichever way ends first ends the connection, as a cut link does.
    tokio::select! {
        _ = up => {},
        _ = down => {},
    }
}

/// Copies from `from` to `to` until either side closes or `limit` bytes have passed (then
/// cuts), keeping what passed in `record` up to [`KEPT_BYTES`] when given.
async fn copy_at_most(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    limit: usize,
    record: Option<&Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 8192];
    let mut passed = 0;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let allowed = n.min(limit - passed);
        if let Some(record) = record {
            let mut record = record.lock().unwrap();
            if record.len() + allowed <= KEPT_BYTES {
                record.extend_from_slice(&buf[..allowed]);
            }
        }
        if to.write_all(&buf[..allowed]).await.is_err() {
            return;
        }
        passed += allowed;
        if allowed < n || passed == limit {
            return;
        }
    }
}
