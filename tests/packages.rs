//! The Debian packages (issue 12) in a clean Debian 12 root: `scripts/package --debug` builds
//! them into `target/packages/`; this test makes a fresh root with Debian's `mmdebstrap` (from
//! the machine's own apt sources), installs both packages there with apt — which brings their
//! dependencies from Debian — and runs them from the root:
//!
//! - the intake as its systemd unit would (the unit's user, environment file and command line,
//!   read from the installed unit), over the data directory the package made, answering its
//!   health check;
//! - the installed app, started from the root under Xvfb and driven through tauri-driver: it
//!   enrolls with the installed intake from its set-up screen and receives its assignment.
//!
//! Needs root (mmdebstrap, chroot, mounts) and Debian's package mirror: `scripts/test` runs it
//! (`--ignored`) after building the packages.

use fieldpost_e2e::{free_port, workspace, App};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

/// A clean Debian 12 root, with /proc and the machine's /tmp (X's socket, the app's data
/// directory) mounted in; unmounted and removed when dropped.
struct Root {
    dir: tempfile::TempDir,
    mounts: Vec<PathBuf>,
}

impl Root {
    fn new() -> Root {
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let path = dir.path().to_str().unwrap().to_string();
        run(
            "mmdebstrap",
            &["--quiet", "--variant=apt", "bookworm", &path],
        );
        let mut root = Root {
            dir,
            mounts: Vec::new(),
        };
        root.mount(&["-t", "proc", "proc"], "proc");
        root.mount(&["--bind", "/tmp"], "tmp");
        std::fs::copy("/etc/resolv.conf", root.path().join("etc/resolv.conf")).unwrap();
        root
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn mount(&mut self, how: &[&str], at: &str) {
        let target = self.path().join(at);
        let mut args = how.to_vec();
        args.push(target.to_str().unwrap());
        run("mount", &args);
        self.mounts.push(target);
    }

    /// Runs a command inside the root; its output.
    fn chroot(&self, args: &[&str]) -> String {
        let mut all = vec![self.path().to_str().unwrap()];
        all.extend_from_slice(args);
        run("chroot", &all)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        // Whatever still runs from the root (the app's web processes) goes first.
        let root = std::fs::canonicalize(self.path()).unwrap();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(r) = std::fs::read_link(entry.path().join("root")) {
                if r == root {
                    if let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() {
                        // SAFETY: a plain syscall to a process of this test's root.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
        }
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

struct Served(Child);
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn package(prefix: &str) -> PathBuf {
    let dir = workspace().join("target/packages");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|_| {
            panic!(
                "{} holds the packages: run scripts/package --debug",
                dir.display()
            )
        })
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".deb")
        })
        .unwrap_or_else(|| panic!("no {prefix}*.deb in {}", dir.display()))
}

/// `Key=value` of the installed systemd unit.
fn unit_value(unit: &str, key: &str) -> String {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit has {key}="))
        .trim()
        .to_string()
}

#[test]
#[ignore = "needs root and Debian's package mirror; scripts/test runs it after scripts/package --debug"]
fn both_packages_install_into_a_clean_debian_12_root_and_run_there() {
    let (intake_deb, app_deb) = (package("fieldpost-intake_"), package("Fieldpost_"));
    let root = Root::new();
    for deb in [&intake_deb, &app_deb] {
        std::fs::copy(deb, root.path().join("root").join(deb.file_name().unwrap())).unwrap();
    }
    let install = format!(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /root/{} /root/{}",
        intake_deb.file_name().unwrap().to_string_lossy(),
        app_deb.file_name().unwrap().to_string_lossy()
    );
    root.chroot(&["sh", "-c", &install]);

    // What the intake's package laid out.
    let unit = std::fs::read_to_string(
        root.path()
            .join("lib/systemd/system/fieldpost-intake.service"),
    )
    .expect("the systemd unit is installed");
    let user = unit_value(&unit, "User");
    assert_eq!(user, "fieldpost", "the intake runs as its own user");
    let passwd = root.chroot(&["getent", "passwd", &user]);
    assert!(passwd.contains("/usr/sbin/nologin"), "{passwd}");
    let data = root.chroot(&["stat", "-c", "%U %a", "/var/lib/fieldpost"]);
    assert_eq!(data.trim(), "fieldpost 700", "data owner-only");
    let env_file = unit_value(&unit, "EnvironmentFile");
    let env_text =
        std::fs::read_to_string(root.path().join(env_file.trim_start_matches('/'))).unwrap();
    let mut environment: Vec<String> = env_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert!(environment
        .iter()
        .any(|l| l == "FIELDPOST_DATA_DIR=/var/lib/fieldpost"));
    let conf_mode = root.chroot(&["stat", "-c", "%U:%G %a", &env_file]);
    assert_eq!(conf_mode.trim(), "root:fieldpost 640");

    // A campaign set up by the operator as the service's user, then the service's command.
    let as_service = |args: &[&str]| {
        let mut all = vec!["runuser", "-u", "fieldpost", "--", "env"];
        let env: Vec<&str> = environment.iter().map(String::as_str).collect();
        all.extend_from_slice(&env);
        all.extend_from_slice(args);
        root.chroot(&all)
    };
    as_service(&[
        "intake",
        "demo-campaign",
        "--out",
        "/var/lib/fieldpost/demo",
    ]);
    as_service(&[
        "intake",
        "import",
        "/var/lib/fieldpost/demo/campaign.json",
        "--form",
        "/var/lib/fieldpost/demo/sipas-2024-v1.json",
    ]);
    let issued = as_service(&[
        "intake",
        "issue-code",
        "--campaign",
        "qt-sipas-2024",
        "--enumerator",
        "enum-gl-ga",
    ]);
    let code = issued
        .split_whitespace()
        .find(|w| {
            w.len() >= 8
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && w.chars().any(|c| c.is_ascii_digit())
        })
        .unwrap_or_else(|| panic!("a code in: {issued}"))
        .to_string();
    let port = free_port();
    environment.retain(|l| !l.starts_with("FIELDPOST_LISTEN="));
    environment.push(format!("FIELDPOST_LISTEN=127.0.0.1:{port}"));
    let exec_start = unit_value(&unit, "ExecStart");
    let mut command = Command::new("chroot");
    command
        .arg(root.path())
        .args(["runuser", "-u", &user, "--", "env"])
        .args(&environment)
        .args(exec_start.split_whitespace())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _served = Served(command.spawn().unwrap());
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::blocking::get(format!("{url}/v1/health")) {
            assert_eq!(r.text().unwrap(), "ok");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the packaged intake did not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        root.path().join("var/lib/fieldpost/centre.db").exists(),
        "the service keeps its data where the package said"
    );

    // The installed app, run from the root (the machine's /tmp is mounted there, so the
    // display's socket and the test's data directory are the same paths inside).
    let libraries = root.chroot(&["ldd", "/usr/bin/fieldpost"]);
    assert!(!libraries.contains("not found"), "{libraries}");
    let wrapper = tempfile::Builder::new()
        .prefix("installed-app")
        .tempfile_in("/tmp")
        .unwrap();
    std::fs::write(
        wrapper.path(),
        format!(
            "#!/bin/sh\nexec chroot {} /usr/bin/fieldpost \"$@\"\n",
            root.path().display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(wrapper.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let wrapper = wrapper.into_temp_path();
    std::env::set_var("FIELDPOST_APP_BIN", wrapper.to_str().unwrap());
    let app = App::start();
    app.enroll(&url, &code);
    let device = app.device();
    assert_eq!(device.enrollment().unwrap().enumerator, "enum-gl-ga");
    assert!(
        !device.households().unwrap().is_empty(),
        "the assignment arrived"
    );
}
