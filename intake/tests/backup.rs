//! Backups as an operator takes them (issue 12): while the centre serves, `intake backup` on
//! SQLite or the database's own `pg_dump -Fc` on PostgreSQL; then the centre is lost, restored
//! into a new place (`intake restore`, `pg_restore`), served by a new `intake serve` process,
//! and a tablet sends again what came after the backup and goes on with new work.

mod support;

use std::{path::Path, process::Command};
use support::{place::Place, TestServer};
use sync_protocol::api;

const BIN: &str = env!("CARGO_BIN_EXE_intake");
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program).args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_serving_is_restored_and_the_tablets_fill_it_in() {
    let server = TestServer::start().await;
    let households = server.households("enum-dh-p2");
    let mut device = server.enroll("enum-dh-p2").await;
    let first = device.next_batch(
        households[..3]
            .iter()
            .map(|h| device.distributed(h))
            .collect(),
    );
    assert_eq!(server.post_frame(first.to_frame()).await.0, 201);

    // The backup, while the centre serves.
    let keep = tempfile::tempdir().unwrap();
    let file = keep.path().join("centre.backup");
    let f = file.to_str().unwrap();
    let (ok, out) = match &server.place.database {
        None => {
            let at = server.place.args();
            run(BIN, &["backup", &at[0], &at[1], "--to", f])
        }
        Some(url) => run(&format!("{PG_BIN}/pg_dump"), &["-Fc", "-d", url, "-f", f]),
    };
    assert!(ok, "{out}");

    // After it, one more batch reaches the centre; then the centre is lost.
    let second = device.next_batch(
        households[3..5]
            .iter()
            .map(|h| device.distributed(h))
            .collect(),
    );
    assert_eq!(server.post_frame(second.to_frame()).await.0, 201);

    // Restored into a new place: a used one is refused, and a failed restore leaves nothing.
    let restored = Place::new();
    match &restored.database {
        None => {
            let d = restored.dir.path().to_str().unwrap();
            let (ok, out) = run(
                BIN,
                &[
                    "restore",
                    "--from",
                    f,
                    "--data-dir",
                    keep.path().to_str().unwrap(),
                ],
            );
            assert!(!ok && out.contains("new, empty directory"), "{out}");
            let evil = keep.path().join("evil.tar");
            write_tar(
                &evil,
                &[("centre.db", b"x".as_slice()), ("../outside.db", b"x")],
            );
            let (ok, out) = run(
                BIN,
                &["restore", "--from", evil.to_str().unwrap(), "--data-dir", d],
            );
            assert!(!ok && out.contains("not a Fieldpost backup"), "{out}");
            assert!(!restored
                .dir
                .path()
                .parent()
                .unwrap()
                .join("outside.db")
                .exists());
            assert_eq!(
                std::fs::read_dir(d).unwrap().count(),
                0,
                "nothing left behind"
            );
            let (ok, out) = run(BIN, &["restore", "--from", f, "--data-dir", d]);
            assert!(ok && out.contains("qt-sipas-2024"), "{out}");
        }
        Some(url) => {
            let (ok, out) = run(
                &format!("{PG_BIN}/pg_restore"),
                &["--no-owner", "-d", url, f],
            );
            assert!(ok, "{out}");
        }
    }
    drop(server);
    let served = restored.serve();

    // The same centre: its key signs, its chain stands where the backup left it.
    let http = reqwest::Client::new();
    device.base = served.url.clone();
    let head = device.chain(&http).await;
    assert_eq!(head.seq, 1, "the backup had the first batch only");
    let post = |frame: Vec<u8>| {
        let http = http.clone();
        let url = format!("{}{}", served.url, api::PATH_BATCHES);
        async move {
            let r = http
                .post(url)
                .header("content-type", sync_protocol::batch::FRAME_CONTENT_TYPE)
                .body(frame)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    // New work first: the centre says where its chain is (a gap), then takes the lost batch
    // again, byte for byte, and the new one after it.
    let third = device.next_batch(vec![device.distributed(&households[5])]);
    let (status, body) = post(third.to_frame()).await;
    assert_eq!(support::error_code(&body), "seq_gap", "{status} {body}");
    let (status, body) = post(second.to_frame()).await;
    assert_eq!(status, 201, "{body}");
    device.receipt(&body, &second, 2); // signed by the same intake key
    let (status, body) = post(third.to_frame()).await;
    assert_eq!(status, 201, "{body}");

    let centre = restored.open();
    let intake = centre.campaign("qt-sipas-2024").unwrap().unwrap();
    let statuses = intake.store.household_statuses().unwrap();
    for h in &households[..6] {
        assert_eq!(statuses[&h.0].as_str(), "distributed", "{h:?}");
    }
    assert_eq!(intake.store.events().unwrap().len(), 6, "each event once");
}

fn write_tar(path: &Path, entries: &[(&str, &[u8])]) {
    // Raw headers: the tar crate itself refuses to write a `..` name, as it should.
    let mut out = Vec::new();
    for (name, data) in entries {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| *b as u32).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    std::fs::write(path, out).unwrap();
}

/// Repacks a backup with `change` applied to its unpacked files (as someone holding the file
/// could).
fn altered_backup(good: &Path, into: &Path, change: impl FnOnce(&Path)) {
    let work = tempfile::tempdir().unwrap();
    tar::Archive::new(std::fs::File::open(good).unwrap())
        .unpack(work.path())
        .unwrap();
    change(work.path());
    let mut builder = tar::Builder::new(std::fs::File::create(into).unwrap());
    for name in walk(work.path(), work.path()) {
        builder
            .append_path_with_name(work.path().join(&name), &name)
            .unwrap();
    }
    builder.finish().unwrap();
}

fn walk(root: &Path, dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            names.extend(walk(root, &e.path()));
        } else {
            let name = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            names.push(name);
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_never_overwrite_or_leak_and_a_restore_trusts_nothing_in_the_file() {
    let server = TestServer::start().await;
    if server.place.is_postgres() {
        return; // SQLite's own commands; PostgreSQL's dumps are the database's business
    }
    let data = server.place.dir.path();
    let d = data.to_str().unwrap();
    let keep = tempfile::tempdir().unwrap();
    let at = |name: &str| keep.path().join(name).to_string_lossy().into_owned();

    // A backup never replaces anything, never lands in the data directory, and names a
    // folder that is not a centre as such.
    std::fs::write(at("taken"), "mine").unwrap();
    let (ok, out) = run(BIN, &["backup", "--data-dir", d, "--to", &at("taken")]);
    assert!(!ok && out.contains("already exists"), "{out}");
    assert_eq!(std::fs::read_to_string(at("taken")).unwrap(), "mine");
    let inside = data.join("campaigns/backup.tar");
    let (ok, out) = run(
        BIN,
        &["backup", "--data-dir", d, "--to", inside.to_str().unwrap()],
    );
    assert!(!ok && out.contains("inside the data directory"), "{out}");
    let (ok, out) = run(
        BIN,
        &["backup", "--data-dir", &at(""), "--to", &at("b0.tar")],
    );
    assert!(!ok && out.contains("not a centre"), "{out}");

    // A staging folder a killed backup left is cleared by the next; the backup is owner-only.
    let abandoned = keep.path().join(".fieldpost-backup-4000000-abc");
    std::fs::create_dir(&abandoned).unwrap();
    std::fs::write(abandoned.join("centre.db"), "names of people").unwrap();
    let (ok, out) = run(BIN, &["backup", "--data-dir", d, "--to", &at("good.tar")]);
    assert!(ok, "{out}");
    assert!(!abandoned.exists(), "the abandoned copy is gone");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(at("good.tar"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(keep.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A registry that points out of the data directory, a database no campaign names, and a
    // damaged campaign file are refused, and a refused restore leaves no directory behind.
    let outside = keep.path().join("victim.db");
    let cases: [(&str, Box<dyn FnOnce(&Path)>, &str); 5] = [
        (
            // Issue 20, item 8: a trigger restored and served made every account an admin.
            "trigger.tar",
            Box::new(|dir: &Path| {
                let db = rusqlite::Connection::open(dir.join("centre.db")).unwrap();
                db.execute_batch(
                    "CREATE TRIGGER everyone_admin AFTER INSERT ON sessions
                     BEGIN UPDATE accounts SET role = 'admin'; END;",
                )
                .unwrap();
            }),
            "holds trigger \"everyone_admin\"",
        ),
        (
            "view.tar",
            Box::new(|dir: &Path| {
                let db =
                    rusqlite::Connection::open(dir.join("campaigns/qt-sipas-2024.db")).unwrap();
                db.execute_batch("CREATE VIEW peek AS SELECT 1").unwrap();
            }),
            "holds view \"peek\"",
        ),
        (
            "outside.tar",
            Box::new(|dir: &Path| {
                let db = rusqlite::Connection::open(dir.join("centre.db")).unwrap();
                db.execute(
                    "UPDATE campaigns SET storage = ?1",
                    [outside.to_str().unwrap()],
                )
                .unwrap();
            }),
            "not a campaign file",
        ),
        (
            "extra.tar",
            Box::new(|dir: &Path| {
                std::fs::copy(
                    dir.join("campaigns/qt-sipas-2024.db"),
                    dir.join("campaigns/zzz.db"),
                )
                .unwrap();
            }),
            "in no campaign of its registry",
        ),
        (
            "damaged.tar",
            Box::new(|dir: &Path| {
                std::fs::write(dir.join("campaigns/qt-sipas-2024.db"), b"not a database").unwrap();
            }),
            "campaigns/qt-sipas-2024.db",
        ),
    ];
    for (name, change, said) in cases {
        altered_backup(Path::new(&at("good.tar")), Path::new(&at(name)), change);
        let target = keep.path().join(format!("restored-{name}"));
        let (ok, out) = run(
            BIN,
            &[
                "restore",
                "--from",
                &at(name),
                "--data-dir",
                target.to_str().unwrap(),
            ],
        );
        assert!(!ok && out.contains(said), "{name}: {out}");
        assert!(!target.exists(), "{name}: nothing left behind");
        assert!(!outside.exists(), "{name}: nothing made outside");
    }

    // A backup of the release before (its campaign still carries the event indexes migration
    // V20 replaced) restores, and comes out migrated.
    altered_backup(
        Path::new(&at("good.tar")),
        Path::new(&at("earlier-release.tar")),
        |dir: &Path| {
            let db = rusqlite::Connection::open(dir.join("campaigns/qt-sipas-2024.db")).unwrap();
            db.execute_batch(
                "DROP INDEX events_sealed;
                 CREATE INDEX events_status ON events(status);
                 CREATE INDEX events_accepted_kind ON events(kind, household_id) WHERE status = 'accepted';
                 DELETE FROM refinery_schema_history WHERE version = 20;",
            )
            .unwrap();
        },
    );
    let earlier = keep.path().join("restored-earlier-release");
    let (ok, out) = run(
        BIN,
        &[
            "restore",
            "--from",
            &at("earlier-release.tar"),
            "--data-dir",
            earlier.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let indexes: Vec<String> = rusqlite::Connection::open(
        earlier.join("campaigns/qt-sipas-2024.db"),
    )
    .unwrap()
    .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name",
    )
    .unwrap()
    .query_map([], |r| r.get(0))
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap();
    assert!(
        indexes.contains(&"events_sealed".to_string())
            && !indexes.contains(&"events_status".to_string()),
        "{indexes:?}"
    );

    // The restored centre serves; a folder with no centre is not served as a new one, and one
    // data directory is served by one process only.
    let restored = keep.path().join("restored");
    let (ok, out) = run(
        BIN,
        &[
            "restore",
            "--from",
            &at("good.tar"),
            "--data-dir",
            restored.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let restored_args = vec![
        "--data-dir".to_string(),
        restored.to_string_lossy().into_owned(),
    ];
    let first = support::place::serve(&restored_args);
    let second = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(&restored_args)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success() && said.contains("another intake already serves"),
        "{said}"
    );
    drop(first);
    let empty = tempfile::tempdir().unwrap();
    let (ok, out) = run(
        BIN,
        &[
            "serve",
            "--data-dir",
            empty.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(!ok && out.contains("no centre in"), "{out}");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}
