//! The `intake` command. `intake --help` lists what a supervisor or the ministry can do.

use clap::{Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use intake::{campaign::Campaign, demo, keyfile};

/// Memory that held a password or the passphrase is wiped when freed; nothing else is touched
/// (see `intake::wipe`).
#[global_allocator]
static ALLOCATOR: intake::wipe::WipingAllocator = intake::wipe::WipingAllocator;

#[derive(Parser)]
#[command(
    name = "intake",
    version,
    about = "Fieldpost intake: the central server that receives the enumerators' records.",
    long_about = "Fieldpost intake: the central server that receives the enumerators' records.\n\n\
        Typical first run:\n  \
        intake demo-campaign --out demo/            # write the two demo campaigns\n  \
        intake import --data-dir data demo/campaign.json --form demo/sipas-2024-v1.json\n  \
        intake import --data-dir data demo/binh-duong/campaign.json --form demo/binh-duong/binh-duong-2024.xlsx\n  \
        intake issue-code --data-dir data --campaign qt-sipas-2024 --enumerator enum-dh-p2\n  \
        intake serve --data-dir data --listen 127.0.0.1:8080"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the centre's stores are.
#[derive(clap::Args)]
struct Place {
    /// The data directory: the SQLite stores and the intake's key (not needed with --database,
    /// whose database holds both).
    #[arg(long, env = "FIELDPOST_DATA_DIR", required_unless_present = "database")]
    data_dir: Option<PathBuf>,
    /// A PostgreSQL database for the stores, e.g. postgres://fieldpost@127.0.0.1:5432/fieldpost
    /// (several intake processes may serve one).
    #[arg(long, env = "FIELDPOST_DATABASE")]
    database: Option<String>,
}

impl Place {
    /// The centre that is there; a data directory without one is refused (a mistyped path
    /// must not quietly become a new, empty centre with a new key).
    fn open(&self) -> Result<intake::service::Centre, String> {
        if let Some(dir) = self.sqlite()? {
            if !dir.join("centre.db").exists() && !dir.join("intake.db").exists() {
                return Err(format!(
                    "no centre in {}: check --data-dir (FIELDPOST_DATA_DIR), or import a campaign there first (intake import)",
                    dir.display()
                ));
            }
        }
        self.open_or_create()
    }

    /// The centre, made if the data directory has none yet (`import`).
    fn open_or_create(&self) -> Result<intake::service::Centre, String> {
        match (&self.database, self.sqlite()?) {
            (Some(url), _) => intake::service::open_postgres(url).map_err(|e| e.to_string()),
            (None, Some(dir)) => intake::open(dir),
            (None, None) => Err("name a --data-dir or a --database".into()),
        }
    }

    /// The SQLite data directory, when that is where the centre is.
    fn sqlite(&self) -> Result<Option<&PathBuf>, String> {
        match (&self.database, &self.data_dir) {
            (Some(_), Some(_)) => Err("both a data directory (--data-dir, FIELDPOST_DATA_DIR) and a database (--database, FIELDPOST_DATABASE) are named: keep only the one the centre is in".into()),
            (None, dir) => Ok(dir.as_ref()),
            (Some(_), None) => Ok(None),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Write the demo campaigns and a new key pair for each: Quảng Trị's SIPAS 2024 (486
    /// forms; campaign.json, its form, ministry.key) and, in binh-duong/, Bình Dương's own
    /// 2024 survey (50 forms; campaign.json, its XLSForm workbook, owner.key).
    DemoCampaign {
        /// Folder to write them into (the .key files are secrets: keep them safe).
        #[arg(long)]
        out: PathBuf,
        /// Copies of the province (63 makes a national-size campaign for benchmarks).
        #[arg(long, default_value_t = 1)]
        provinces: usize,
    },
    /// Check a campaign file and list every problem in it, without importing.
    Check { file: PathBuf },
    /// Import a campaign file into the centre (a data directory holds any number of
    /// campaigns, each in a store of its own).
    Import {
        #[command(flatten)]
        place: Place,
        file: PathBuf,
        /// A form definition the campaign uses (JSON or an XLSForm .xlsx); repeat for several
        /// versions. The one the campaign file names must be among them.
        #[arg(long = "form", required = true)]
        forms: Vec<PathBuf>,
    },
    /// Add a form version to an imported campaign (a revision mid-campaign): devices key new
    /// forms with it from their next sync; forms already started stay on their version.
    AddForm {
        #[command(flatten)]
        place: Place,
        /// Which campaign (its id); needed when the centre holds several.
        #[arg(long, env = "FIELDPOST_CAMPAIGN")]
        campaign: Option<String>,
        /// The form definition (JSON or an XLSForm .xlsx).
        file: PathBuf,
        /// Keep the current version for new forms (store this one only).
        #[arg(long)]
        not_current: bool,
    },
    /// Send a week of demo fieldwork into a demo campaign: the tablets of the enumerators of
    /// the districts named enroll and send hand-outs, refusals, collections, keyings and checks
    /// (answers sealed to the campaign's key), and most paper arrives. For trying the centre's
    /// pages without a tablet; never on a real campaign.
    DemoFieldwork {
        #[command(flatten)]
        place: Place,
        /// Which campaign (its id); needed when the centre holds several.
        #[arg(long, env = "FIELDPOST_CAMPAIGN")]
        campaign: Option<String>,
        /// A district id whose enumerators have worked (repeat for several).
        #[arg(long = "district", required = true)]
        districts: Vec<String>,
        /// The draw of who did what (the same seed, the same week).
        #[arg(long, default_value_t = 2024)]
        seed: u64,
    },
    /// Issue a one-time enrollment code for an enumerator's device.
    IssueCode {
        #[command(flatten)]
        place: Place,
        /// Which campaign (its id); needed when the centre holds several.
        #[arg(long, env = "FIELDPOST_CAMPAIGN")]
        campaign: Option<String>,
        /// The enumerator id from the campaign file.
        #[arg(long, required_unless_present = "all")]
        enumerator: Option<String>,
        /// One code for every enumerator, printed as `enumerator<TAB>code<TAB>name` lines.
        #[arg(long, conflicts_with = "enumerator")]
        all: bool,
        /// How long the code stays valid.
        #[arg(long, default_value_t = 72)]
        valid_hours: i64,
        /// Who issues it (recorded).
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Revoke a device (lost or stolen tablet). Its batches are refused from now on.
    RevokeDevice {
        #[command(flatten)]
        place: Place,
        /// Which campaign (its id); needed when the centre holds several.
        #[arg(long, env = "FIELDPOST_CAMPAIGN")]
        campaign: Option<String>,
        #[arg(long)]
        device: uuid::Uuid,
        #[arg(long, default_value = "revoked by operator")]
        reason: String,
    },
    /// Move a village or households to another enumerator (illness, a flooded road). Devices
    /// learn it on their next sync.
    Reassign {
        #[command(flatten)]
        place: Place,
        /// Which campaign (its id); needed when the centre holds several.
        #[arg(long, env = "FIELDPOST_CAMPAIGN")]
        campaign: Option<String>,
        /// Every household of this village, reserve households included.
        #[arg(long, required_unless_present = "household")]
        village: Option<String>,
        /// One household (repeat for several).
        #[arg(long, conflicts_with = "village")]
        household: Vec<String>,
        /// The enumerator who takes them over.
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Create (or change) an account for the pages: a supervisor of some districts, a
    /// campaign's owner (the ministry, a province's Sở Nội vụ), or an admin (every campaign).
    /// The account sees exactly the campaigns named. The password is read from standard input
    /// (one line).
    CreateAccount {
        #[command(flatten)]
        place: Place,
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// supervisor, ministry or admin
        #[arg(long)]
        role: String,
        /// A campaign the account sees (repeat for several; every one when the centre holds
        /// only one and none is named).
        #[arg(long)]
        campaign: Vec<String>,
        /// A district a supervisor sees in the campaign (repeat for several; with several
        /// campaigns write `campaign:district`).
        #[arg(long)]
        district: Vec<String>,
    },
    /// Set an account's password, read from standard input (one line); ends its sessions.
    SetPassword {
        #[command(flatten)]
        place: Place,
        #[arg(long)]
        login: String,
    },
    /// Keep a campaign's secret key (the ministry's, or a province's for its own survey) on this
    /// intake, encrypted under a passphrase read from
    /// standard input (one line, at least 16 characters). The passphrase is never stored; the
    /// plain key file can then be moved off the server.
    StoreMinistryKey {
        #[command(flatten)]
        place: Place,
        /// Which campaign (its id); needed when the centre holds several.
        #[arg(long, env = "FIELDPOST_CAMPAIGN")]
        campaign: Option<String>,
        /// The secret key file `demo-campaign` wrote (base64).
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Back up the centre (every campaign, accounts, audit log, the intake's key) into one
    /// file, while it serves. On PostgreSQL use the database's pg_dump instead.
    Backup {
        #[command(flatten)]
        place: Place,
        /// The backup file to write (a tar archive, readable by its owner only: it holds the
        /// intake's key); it must not exist yet, nor be inside the data directory.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup made by `intake backup` into a new, empty data directory; serve it from
    /// there. Tablets send again what reached the centre after the backup.
    Restore {
        /// The backup file `intake backup` wrote.
        #[arg(long)]
        from: PathBuf,
        /// The new data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Run the server.
    Serve {
        #[command(flatten)]
        place: Place,
        #[arg(long, default_value = "127.0.0.1:8080", env = "FIELDPOST_LISTEN")]
        listen: SocketAddr,
        /// Log as JSON lines (for log collectors) instead of text.
        #[arg(long)]
        json_logs: bool,
        /// Mark session cookies `Secure`: set it when the intake is served behind TLS (a
        /// reverse proxy), so the pages' cookies never travel in clear. Implied by --tls-cert.
        #[arg(long, env = "FIELDPOST_SECURE_COOKIES")]
        secure_cookies: bool,
        /// Serve HTTPS with this PEM certificate chain (and --tls-key); HSTS is sent.
        #[arg(long, env = "FIELDPOST_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "FIELDPOST_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// A reverse proxy in front of the intake (repeatable): only from these addresses is a
        /// client's address taken from X-Forwarded-For (login limits, the audit log).
        #[arg(
            long = "trusted-proxy",
            env = "FIELDPOST_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Seconds a client has to send a request's headers.
        #[arg(long, default_value_t = 20)]
        header_timeout_secs: u64,
        /// Seconds a connection may move no byte before it is closed.
        #[arg(long, default_value_t = 60)]
        idle_timeout_secs: u64,
        /// The slowest a request body may arrive, in bytes per second, after --body-grace-secs
        /// (a 1 MiB batch at 40 kbit/s runs at 5,000).
        #[arg(long, default_value_t = 1000)]
        body_min_rate: u64,
        #[arg(long, default_value_t = 20)]
        body_grace_secs: u64,
        /// Connections served at once; more wait in the kernel's queue.
        #[arg(long, default_value_t = 1000)]
        max_connections: usize,
        /// Connections one address may hold at once (a --trusted-proxy is not held to it);
        /// more are closed as they come.
        #[arg(long, default_value_t = 100)]
        max_connections_per_address: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read_campaign(file: &PathBuf) -> Result<(Campaign, String), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let campaign = Campaign::from_json(&text).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        format!(
            "{} has {} problem(s):\n{}",
            file.display(),
            problems.len(),
            list.join("\n")
        )
    })?;
    Ok((campaign, text))
}

fn read_form(file: &PathBuf) -> Result<intake::form_files::StoredForm, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    intake::form_files::StoredForm::read(&bytes).map_err(|e| format!("{}: {e}", file.display()))
}

/// One line from standard input (a password piped in, or typed).
fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::DemoCampaign { out, provinces } => {
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            let secret = sync_protocol::keys::MinistrySecretKey::generate(&mut rand::rngs::OsRng);
            let campaign = if provinces == 1 {
                demo::quang_tri_2024(&secret.public())
            } else {
                demo::shaped_like_quang_tri(provinces, &secret.public())
            };
            let form_path = out.join(format!("{}.json", campaign.form.replace('@', "-v")));
            let written = write_demo(
                &out,
                &campaign,
                "ministry.key",
                &secret,
                &form_path,
                demo::SIPAS_FORM_JSON.as_bytes(),
            )?;
            println!("wrote {written}");
            if provinces == 1 {
                let dir = out.join("binh-duong");
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                let owner =
                    sync_protocol::keys::MinistrySecretKey::generate(&mut rand::rngs::OsRng);
                let campaign = demo::binh_duong_2024(&owner.public());
                let form_path = dir.join("binh-duong-2024.xlsx");
                let written = write_demo(
                    &dir,
                    &campaign,
                    "owner.key",
                    &owner,
                    &form_path,
                    demo::BINH_DUONG_FORM_XLSX,
                )?;
                println!("wrote {written}");
            }
            Ok(())
        }
        Command::Check { file } => {
            let (c, _) = read_campaign(&file)?;
            println!(
                "{}: campaign {} is valid ({} villages)",
                file.display(),
                c.id,
                c.villages().count()
            );
            Ok(())
        }
        Command::Import { place, file, forms } => {
            let (campaign, text) = read_campaign(&file)?;
            let forms = forms.iter().map(read_form).collect::<Result<Vec<_>, _>>()?;
            // A first import that fails leaves no empty centre behind (its key included).
            let new_dir = place
                .sqlite()?
                .filter(|d| !d.join("centre.db").exists() && !d.join("intake.db").exists())
                .cloned();
            let centre = place.open_or_create()?;
            let s = match centre.import(&campaign, &text, &forms, chrono::Utc::now()) {
                Ok(s) => s,
                Err(e) => {
                    drop(centre);
                    if let Some(dir) = new_dir {
                        for made in [
                            "centre.db",
                            "centre.db-wal",
                            "centre.db-shm",
                            "intake.key",
                            "campaigns",
                        ] {
                            let path = dir.join(made);
                            let _ = if path.is_dir() {
                                std::fs::remove_dir_all(&path)
                            } else {
                                std::fs::remove_file(&path)
                            };
                        }
                    }
                    return Err(e.to_string());
                }
            };
            centre
                .accounts()
                .audit(
                    "cli",
                    Some(&campaign.id),
                    "campaign_imported",
                    &campaign.name,
                    "local",
                    chrono::Utc::now(),
                )
                .map_err(|e| e.to_string())?;
            println!(
                "imported {}: {} villages, {} households (+{} reserve), {} enumerators, {} supervisors",
                campaign.id, s.villages, s.households, s.reserve, s.enumerators, s.supervisors
            );
            Ok(())
        }
        Command::AddForm {
            place,
            campaign,
            file,
            not_current,
        } => {
            let form = read_form(&file)?;
            let intake = campaign_of(&place, campaign.as_deref())?;
            intake
                .store
                .add_form(&form, !not_current, chrono::Utc::now())
                .map_err(|e| e.to_string())?;
            cli_audit(
                &intake,
                "form_added",
                &format!("{} ({})", form.reference, form.sha256),
            )?;
            println!(
                "added form {} to {}{}",
                form.reference,
                intake.id,
                if not_current {
                    ""
                } else {
                    "; devices key new forms with it from their next sync"
                }
            );
            Ok(())
        }
        Command::DemoFieldwork {
            place,
            campaign,
            districts,
            seed,
        } => {
            let intake = campaign_of(&place, campaign.as_deref())?;
            let districts: Vec<&str> = districts.iter().map(String::as_str).collect();
            let week = intake::demo_fieldwork::send_week(&intake, &districts, seed)
                .map_err(|e| e.to_string())?;
            cli_audit(
                &intake,
                "demo_fieldwork",
                &format!(
                    "{} tablets, districts {}",
                    week.enumerators,
                    districts.join(", ")
                ),
            )?;
            println!(
                "{}: {} sent a week of demo fieldwork — {} forms handed out, {} refused, {} collected, {} keyed, {} checked, {} sent in parcels; {} paper forms arrived",
                intake.id,
                match week.enumerators {
                    1 => "1 tablet".to_string(),
                    n => format!("{n} tablets"),
                },
                week.handed_out,
                week.refused,
                week.collected,
                week.keyed,
                week.verified,
                week.in_parcels,
                week.paper
            );
            Ok(())
        }
        Command::IssueCode {
            place,
            campaign,
            enumerator,
            all,
            valid_hours,
            by,
        } => {
            let intake = campaign_of(&place, campaign.as_deref())?;
            let valid = chrono::Duration::hours(valid_hours);
            if all {
                for (id, name) in intake.store.enumerators().map_err(|e| e.to_string())? {
                    let code = intake
                        .issue_enrollment_code(&id, valid, &by)
                        .map_err(|e| e.to_string())?;
                    cli_audit(
                        &intake,
                        "code_issued",
                        &format!("{id}, valid {valid_hours} h"),
                    )?;
                    println!("{id}\t{code}\t{name}");
                }
            } else {
                let enumerator = enumerator.expect("clap requires it");
                let code = intake
                    .issue_enrollment_code(&enumerator, valid, &by)
                    .map_err(|e| e.to_string())?;
                cli_audit(
                    &intake,
                    "code_issued",
                    &format!("{enumerator}, valid {valid_hours} h"),
                )?;
                println!("{code}");
                eprintln!(
                    "one-time code for {enumerator} ({}), valid {valid_hours} h",
                    intake.id
                );
            }
            Ok(())
        }
        Command::RevokeDevice {
            place,
            campaign,
            device,
            reason,
        } => {
            let intake = campaign_of(&place, campaign.as_deref())?;
            intake
                .store
                .revoke_device(device, &reason, chrono::Utc::now())
                .map_err(|e| e.to_string())?;
            cli_audit(&intake, "device_revoked", &format!("{device}: {reason}"))?;
            println!("device {device} revoked");
            Ok(())
        }
        Command::Reassign {
            place,
            campaign,
            village,
            household,
            to,
            reason,
            by,
        } => {
            let intake = campaign_of(&place, campaign.as_deref())?;
            let target = match village {
                Some(v) => intake::store::ReassignTarget::Village(v),
                None => intake::store::ReassignTarget::Households(household),
            };
            let done = intake
                .store
                .reassign(&target, &to, &by, &reason, None, chrono::Utc::now())
                .map_err(|e| e.to_string())?;
            let moved = done.moved;
            if !done.finished.is_empty() {
                println!(
                    "{} household(s) already finished (in a parcel) stay where they are: {}",
                    done.finished.len(),
                    done.finished.join(", ")
                );
            }
            cli_audit(
                &intake,
                "reassigned",
                &format!("{target:?} to {to}: {reason} ({moved} households)"),
            )?;
            println!("{moved} household(s) now assigned to {to}");
            Ok(())
        }
        Command::CreateAccount {
            place,
            login,
            name,
            role,
            campaign,
            district,
        } => {
            let password = read_password()?;
            let centre = place.open()?;
            let mut campaigns: std::collections::BTreeMap<String, Vec<String>> = if campaign
                .is_empty()
            {
                match centre.entries().map_err(|e| e.to_string())?.as_slice() {
                    [only] => [(only.id.clone(), Vec::new())].into(),
                    _ if role == "admin" => Default::default(),
                    _ => return Err("name the campaigns the account sees with --campaign".into()),
                }
            } else {
                campaign.iter().map(|c| (c.clone(), Vec::new())).collect()
            };
            for d in district {
                let (c, d) = match d.split_once(':') {
                    Some((c, d)) => (c.to_string(), d.to_string()),
                    None if campaigns.len() == 1 => {
                        (campaigns.keys().next().cloned().unwrap_or_default(), d)
                    }
                    None => {
                        return Err(format!(
                            "--district {d}: with several campaigns write campaign:district"
                        ))
                    }
                };
                campaigns
                    .get_mut(&c)
                    .ok_or_else(|| {
                        format!("--district {c}:{d}: the account is not given campaign {c}")
                    })?
                    .push(d);
            }
            centre
                .save_account(&login, &name, &role, &campaigns, &password, "cli", "local")
                .map_err(|e| e.to_string())?;
            println!("account {login} ({role}) ready");
            Ok(())
        }
        Command::SetPassword { place, login } => {
            let hash =
                intake::accounts::hash_password(&read_password()?).map_err(|e| e.to_string())?;
            let centre = place.open()?;
            centre
                .accounts()
                .set_password(&login, &hash)
                .map_err(|e| e.to_string())?;
            centre
                .accounts()
                .audit(
                    "cli",
                    None,
                    "password_set",
                    &login,
                    "local",
                    chrono::Utc::now(),
                )
                .map_err(|e| e.to_string())?;
            println!("password of {login} set; its sessions are ended");
            Ok(())
        }
        Command::StoreMinistryKey {
            place,
            campaign,
            key_file,
        } => {
            let text = std::fs::read_to_string(&key_file)
                .map_err(|e| format!("cannot read {}: {e}", key_file.display()))?;
            let secret = sync_protocol::keys::MinistrySecretKey::from_b64(text.trim())
                .map_err(|e| format!("{}: {e}", key_file.display()))?;
            let passphrase = read_password()?;
            let intake = campaign_of(&place, campaign.as_deref())?;
            intake
                .store_ministry_key(&secret, &passphrase)
                .map_err(|e| e.to_string())?;
            cli_audit(&intake, "ministry_key_stored", "")?;
            println!("the key of {} is stored, encrypted under the passphrase; keep the passphrase safe — it is not stored anywhere", intake.id);
            Ok(())
        }
        Command::Backup { place, to } => {
            let Some(dir) = place.sqlite()? else {
                return Err("on PostgreSQL the database's own tools back it up: pg_dump -Fc (see docs/deployment.md)".into());
            };
            let s = intake::backup::backup(dir, &to).map_err(|e| e.to_string())?;
            println!(
                "backed up {} campaign(s) ({}) into {}: {} bytes",
                s.campaigns.len(),
                s.campaigns.join(", "),
                to.display(),
                s.bytes
            );
            Ok(())
        }
        Command::Restore { from, data_dir } => {
            let s = intake::backup::restore(&from, &data_dir).map_err(|e| e.to_string())?;
            println!(
                "restored {} campaign(s) ({}) into {}",
                s.campaigns.len(),
                s.campaigns.join(", "),
                data_dir.display()
            );
            Ok(())
        }
        Command::Serve {
            place,
            listen,
            json_logs,
            secure_cookies,
            tls_cert,
            tls_key,
            trusted_proxies,
            header_timeout_secs,
            idle_timeout_secs,
            body_min_rate,
            body_grace_secs,
            max_connections,
            max_connections_per_address,
        } => {
            // An operator reads a few plain lines: what is served where, and warnings. Colour
            // only on a terminal (a file or the journal gets no escape codes); migrations and PostgreSQL's
            // notices ("schema already exists, skipping") say nothing unless something fails.
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,refinery=warn,refinery_core=warn,postgres=warn,tokio_postgres=warn".into());
            let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
            if json_logs {
                tracing_subscriber::fmt()
                    .with_writer(std::io::stderr)
                    .with_env_filter(filter)
                    .json()
                    .init();
            } else {
                tracing_subscriber::fmt()
                    .with_writer(std::io::stderr)
                    .with_ansi(colour)
                    .with_env_filter(filter)
                    .init();
            }
            let tls = match (&tls_cert, &tls_key) {
                (Some(cert), Some(key)) => Some(intake::serve::tls_acceptor(cert, key)?),
                _ => None,
            };
            let limits = intake::serve::Limits {
                header_timeout: std::time::Duration::from_secs(header_timeout_secs),
                idle_timeout: std::time::Duration::from_secs(idle_timeout_secs),
                body_grace: std::time::Duration::from_secs(body_grace_secs),
                body_min_bytes_per_sec: body_min_rate,
                max_connections,
                max_connections_per_address,
                ..intake::serve::Limits::default()
            };
            let mut centre = place.open()?;
            // One process per data directory: a second one over the same SQLite files would
            // not share the first's writer. Held while serving; the kernel drops it at exit.
            let _serving = match place.sqlite()? {
                Some(dir) => Some(serving_lock(dir)?),
                None => None,
            };
            centre.secure_cookies = secure_cookies || tls.is_some();
            centre.trusted_proxies = trusted_proxies.clone();
            let centre = Arc::new(centre);
            let campaigns: Vec<String> = centre
                .entries()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|e| e.id)
                .collect();
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                tracing::info!(%listen, campaigns = %campaigns.join(","), intake_key = %centre.shared.key.key_id(), "intake serving");
                let scheme = if tls.is_some() { "https" } else { "http" };
                println!("intake listening on {scheme}://{}", listener.local_addr().map_err(|e| e.to_string())?);
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                intake::serve::serve_behind(listener, intake::http::router(centre), limits, tls, &trusted_proxies, shutdown).await.map_err(|e| e.to_string())
            })
        }
    }
}

/// An exclusive lock on `serve.lock` in the data directory, or why another process has it.
fn serving_lock(dir: &std::path::Path) -> Result<std::fs::File, String> {
    let path = dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another intake already serves {}: one process per data directory (several processes need PostgreSQL: see docs/deployment.md)",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// The campaign a command acts on: the one named, or the centre's only one.
fn campaign_of(place: &Place, named: Option<&str>) -> Result<Arc<intake::service::Intake>, String> {
    place
        .open()?
        .sole_campaign(named)
        .map_err(|e| e.to_string())
}

/// Writes a demo campaign file, its form and its secret key into `dir`; says what it wrote.
fn write_demo(
    dir: &std::path::Path,
    campaign: &Campaign,
    key_name: &str,
    secret: &sync_protocol::keys::MinistrySecretKey,
    form_path: &std::path::Path,
    form: &[u8],
) -> Result<String, String> {
    let path = dir.join("campaign.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(campaign).expect("serializes"),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(form_path, form).map_err(|e| e.to_string())?;
    keyfile::write_secret(
        &dir.join(key_name),
        &sync_protocol::keys::b64(&secret.to_bytes()),
    )?;
    Ok(format!(
        "{}, {} and {}",
        path.display(),
        form_path.display(),
        dir.join(key_name).display()
    ))
}

/// An audit row for a command run on the server itself (who ran it is the operating system's
/// to tell; the row says it was the command line).
fn cli_audit(intake: &intake::service::Intake, action: &str, detail: &str) -> Result<(), String> {
    intake
        .audit("cli", action, detail, "local", chrono::Utc::now())
        .map_err(|e| e.to_string())
}
