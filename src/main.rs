//! The `twin` command line: open the workbench, run a scenario headless, check scenario files, ask what-if
//! questions, push set-point changes, verify audit logs.
//! Exit codes: 0 success, 1 an expectation failed, 2 bad input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use twin::headless::{self, RunOptions, Speed};
use twin::scenario::{self, Dur};

#[derive(Parser)]
#[command(name = "twin", version, about = "Digital-twin workbench for industrial assets", long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    gui: GuiArgs,
}

/// Opening the workbench (the default command).
#[derive(clap::Args)]
struct GuiArgs {
    /// Scenario to open; the bundled pump station when omitted.
    scenario: Option<PathBuf>,
    /// Simulated seconds per wall-clock second in the workbench ("realtime", or a factor such as "60x").
    #[arg(long, default_value = "60x")]
    speed: Speed,
    /// Seed of the random processes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Save a screenshot of the window to this PNG after `--frames` frames, then exit (for tests and docs).
    #[arg(long, value_name = "PNG")]
    screenshot: Option<PathBuf>,
    /// Frames to render before the screenshot.
    #[arg(long, default_value_t = 30)]
    frames: u32,
    /// Audit log of the change panel (JSON Lines, appended).
    #[arg(long, default_value = "twin-audit.jsonl")]
    audit: PathBuf,
    /// Select this asset at start (its inspector and plots show).
    #[arg(long, value_name = "ASSET")]
    select: Option<String>,
    /// The right panel's page at start.
    #[arg(long, default_value = "inspector", value_parser = ["inspector", "change", "audit", "quality"])]
    page: String,
    /// Record the CPU time of each frame's main-world update and write the figures here as JSON after
    /// `--frames` frames, then exit (the GUI benchmark).
    #[arg(long, value_name = "JSON", conflicts_with = "screenshot")]
    frame_stats: Option<PathBuf>,
    /// Keep the twin's history in this store (SQLite, created when absent), resume from its newest checkpoint, and
    /// draw the plots' ranges from it at full resolution.
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// With --store: start from the scenario, not from the store's newest checkpoint (the history is kept).
    #[arg(long, requires = "store")]
    fresh: bool,
    /// Pin the plots' crosshair at this simulated time (e.g. "14h"), with every chart's value read out there.
    #[arg(long, value_name = "TIME")]
    cursor: Option<Dur>,
    /// Where the plots' CSV and PNG exports are written.
    #[arg(long, value_name = "DIR", default_value = ".")]
    export_dir: PathBuf,
    /// With --screenshot: also export the plots (CSV and PNG, as the buttons do) halfway through the frames.
    #[arg(long, requires = "screenshot")]
    export_plots: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios without a window; exit 0 when every expectation holds, 1 when one fails, 2 on bad input.
    /// Several files, or a scenario with a sweep, run as a batch on all cores and are summarised in a table.
    Run {
        /// Scenario files (.ron).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Simulated time to run, e.g. "24h", "30d".
        #[arg(long, default_value = "24h")]
        duration: Dur,
        /// Seed of the random processes; the same seed gives a byte-identical report.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// "max" (as fast as possible), "realtime", or a factor such as "3600x".
        #[arg(long, default_value = "max")]
        speed: Speed,
        /// Write the JSON report here; a batch writes a directory of them (one per case, and summary.json).
        #[arg(long, value_name = "JSON|DIR")]
        report: Option<PathBuf>,
        /// Write JUnit XML here (a batch: one file, one test suite per case).
        #[arg(long, value_name = "XML")]
        junit: Option<PathBuf>,
        /// Write PNG charts of the indices into this directory, one per asset (a batch: a subdirectory per case).
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Threads of each twin's ECS schedules (1: single-threaded, the fastest for these small worlds). The report
        /// does not depend on it.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Cases of a batch run at once (default: the machine's available parallelism).
        #[arg(long, short, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// No progress bar and no summary on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Do not run the virtual plant: the twin runs on its models alone, with no telemetry.
        #[arg(long)]
        no_plant: bool,
        /// Write every received telemetry message, with its receive time, to this file (JSON Lines).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Feed a recording (JSON Lines from --record, or CSV: t_s,signal,value or t_s,<signal id>,...) through
        /// ingestion instead of running the virtual plant.
        #[arg(long, value_name = "FILE", conflicts_with = "no_plant")]
        replay: Option<PathBuf>,
        /// Write the twin's history (accepted samples, indices, alarms, service windows) into this SQLite store,
        /// created when absent (one scenario, not a batch).
        #[arg(long, value_name = "FILE")]
        store: Option<PathBuf>,
        /// Keep raw samples in the store this long behind the newest, e.g. "30d"; older ones remain as 1-minute
        /// and 1-hour roll-ups (default: keep all).
        #[arg(long, value_name = "DUR", requires = "store")]
        retain: Option<Dur>,
    },
    /// Run the twin live without a window until SIGINT or SIGTERM (or --until): on the scenario's broker, or the embedded
    /// broker with the virtual plant, paced to the wall clock, writing its history into the store.
    Serve {
        /// Scenario file (.ron).
        scenario: PathBuf,
        /// The history store (SQLite), created when absent [default: beside the scenario, NAME.twin.sqlite].
        #[arg(long, value_name = "FILE")]
        store: Option<PathBuf>,
        /// Write no history store.
        #[arg(long, conflicts_with = "store")]
        no_store: bool,
        /// Keep raw samples in the store this long behind the newest, e.g. "30d" (default: keep all).
        #[arg(long, value_name = "DUR")]
        retain: Option<Dur>,
        /// "realtime", or a factor such as "60x" (the embedded virtual plant runs as fast).
        #[arg(long, default_value = "realtime")]
        speed: Speed,
        /// Seed of the random processes (the virtual plant's too).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Time between two status lines in the log.
        #[arg(long, default_value = "60s")]
        status_every: Dur,
        /// Simulated time between two checkpoints of the twin's whole state in the store (one is also taken at
        /// shutdown).
        #[arg(long, default_value = "5m", value_name = "DUR")]
        checkpoint_every: Dur,
        /// Start from the scenario, not from the store's newest checkpoint (the history is kept).
        #[arg(long, conflicts_with = "no_store")]
        fresh: bool,
        /// Stop by itself, as on SIGTERM, once the twin's clock reaches this simulated time since its first start,
        /// e.g. "8h" (a resumed service counts from its first start).
        #[arg(long, value_name = "DUR")]
        until: Option<Dur>,
    },
    /// The history store's tools.
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// Run the virtual plant alone, publishing its telemetry to an MQTT broker (the embedded one by default).
    Plant {
        /// Scenario file (.ron).
        scenario: PathBuf,
        /// Broker URL, e.g. mqtt://127.0.0.1:1883; an in-process broker on a free loopback port when omitted.
        #[arg(long)]
        broker: Option<String>,
        /// Simulated time to run, e.g. "24h".
        #[arg(long, default_value = "24h")]
        duration: Dur,
        /// "realtime", a factor such as "60x", or "max".
        #[arg(long, default_value = "realtime")]
        speed: Speed,
        /// Seed of the plant's hidden parameters and noise.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Unix time of the plant's t = 0, which its timestamps count from: "now" (the wall clock, as a live
        /// site's edge stamps its data; the default at --speed realtime) or seconds since 1970 (default at other
        /// speeds: 1767225600, 2026-01-01T00:00:00Z, so runs are repeatable).
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<f64>,
    },
    /// Ask the live twin a what-if question: fork a pump's present estimate and simulate the change set next to
    /// the unchanged baseline, as a Monte Carlo over the parameter and bearing-life uncertainties.
    Whatif {
        /// Scenario file (.ron).
        scenario: PathBuf,
        /// Set-point change, e.g. P-101.speed=1350 (repeatable).
        #[arg(long = "set", value_name = "ID=VALUE", value_parser = twin::change::cli::parse_set)]
        sets: Vec<(String, f64)>,
        /// Move the planned bearing replacement later by this much, e.g. 7d.
        #[arg(long, value_name = "DUR")]
        defer_maintenance: Option<Dur>,
        /// Simulated horizon, e.g. 14d.
        #[arg(long, default_value = "7d")]
        horizon: Dur,
        /// Monte Carlo samples.
        #[arg(long, default_value_t = 1000)]
        samples: usize,
        /// The pump to ask about (default: the one the set-points act on, else the first pump).
        #[arg(long)]
        pump: Option<String>,
        /// Run the twin on the virtual plant this long before forking, e.g. 40h (default 1h). Only with
        /// `broker: Embedded`: with a real broker the twin follows the live plant.
        #[arg(long)]
        from: Option<Dur>,
        /// With a real broker: wait at most this long for every input of the pump to be fresh, else refuse.
        #[arg(long, default_value = "30s")]
        wait: Dur,
        /// Also advise: the smallest speed reduction keeping the failure probability below --max-risk until then.
        #[arg(long, value_name = "DUR")]
        advise_until: Option<Dur>,
        /// Failure-probability threshold of the advice, 0..1.
        #[arg(long, default_value_t = 0.05)]
        max_risk: f64,
        /// Seed of the twin, the plant and the Monte Carlo.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Draft, validate, approve and push a set-point change to the PLC, with read-back, rollback and an audit log.
    /// Nothing is written unless the scenario allows writes and --allow-writes is given. Exit 0 when it went as
    /// far as allowed, 1 when validation rejected it or it was rolled back, 2 on bad input.
    Change {
        /// Scenario file (.ron).
        scenario: PathBuf,
        /// Set-point change, e.g. P-101.speed=1400 (repeatable).
        #[arg(long = "set", value_name = "ID=VALUE", required_unless_present = "change_set",
            value_parser = twin::change::cli::parse_set)]
        sets: Vec<(String, f64)>,
        /// The change-set file signed elsewhere (`twin approve`): its set-points are drafted and validated now, on
        /// fresh inputs, and must be the same writes; the --signature files are checked against its hash.
        #[arg(long, value_name = "CHANGE.json", conflicts_with = "sets")]
        change_set: Option<PathBuf>,
        /// Write the validated change set to this file for engineers to sign (`twin approve`), and stop.
        #[arg(long, value_name = "CHANGE.json")]
        export: Option<PathBuf>,
        /// Sign the validated change set with this private key (`twin keys new`; repeatable). The passphrase is
        /// read from $TWIN_PASSPHRASE, else asked on the terminal.
        #[arg(long, value_name = "KEY")]
        sign_with: Vec<PathBuf>,
        /// An approval signed elsewhere (`twin approve` writes it; repeatable).
        #[arg(long, value_name = "FILE")]
        signature: Vec<PathBuf>,
        /// Approve the change by name (as --as): only for the virtual plant's PLC, in a scenario without trusted
        /// keys. A real PLC's changes need signed approvals.
        #[arg(long, requires = "approver")]
        approve: bool,
        /// Who approves (with --approve); also the author unless --author is given.
        #[arg(long = "as", id = "approver", value_name = "NAME")]
        approver: Option<String>,
        /// A second approver, for scenarios that need two.
        #[arg(long, value_name = "NAME", requires = "approve")]
        second_approver: Option<String>,
        /// Who drafts the change (default: the approver, else $USER).
        #[arg(long)]
        author: Option<String>,
        /// Enable writes to the PLC (the scenario must allow them too).
        #[arg(long)]
        allow_writes: bool,
        /// Append-only audit log (JSON Lines).
        #[arg(long, default_value = "twin-audit.jsonl")]
        audit: PathBuf,
        /// Run the twin on the virtual plant this long before drafting, e.g. 2h (default 1h). Only with
        /// `broker: Embedded`: with a real broker the twin follows the live plant.
        #[arg(long)]
        from: Option<Dur>,
        /// With a real broker: wait at most this long for every input of the changed assets to be fresh, else
        /// the change is refused and nothing is written.
        #[arg(long, default_value = "30s")]
        wait: Dur,
        /// Seed of the twin, the plant and the validation's Monte Carlo.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Signing keys: `twin keys new --name alice` makes alice.key (the private key, encrypted with a passphrase)
    /// and alice.pub, and prints the line for the site's trusted keys file.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign a change-set file (`twin change --export`) with your key: writes a signature file to hand to whoever
    /// pushes (`twin change --change-set CHANGE.json --signature FILE`). The passphrase is read from
    /// $TWIN_PASSPHRASE, else asked on the terminal. Exit 0 when signed, 2 on bad input.
    Approve {
        /// The change-set file.
        change: PathBuf,
        /// Your private key (`twin keys new`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// The signature file (default: CHANGE.<key name>.sig beside the change set).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the scenario's pump to failure under varied hidden conditions, once per pump of a fleet, and write the
    /// run-to-failure histories (pumps.csv, histories.csv or .parquet, fleet.json) that scripts/train_pace.py
    /// trains the pace model on; or (`twin fleet import`) convert a public dataset into the same layout.
    #[command(args_conflicts_with_subcommands = true)]
    Fleet {
        #[command(subcommand)]
        command: Option<FleetCommand>,
        /// Scenario file (.ron) whose pump the fleet is made of.
        scenario: Option<PathBuf>,
        /// Pumps in the fleet.
        #[arg(long, default_value_t = 100)]
        pumps: usize,
        /// Seed of the fleet's conditions and of each pump's plant.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The scenario's pump to run (default: its first pump).
        #[arg(long, value_name = "ID")]
        asset: Option<String>,
        /// Longest run of one pump (a pump that has not failed by then is censored).
        #[arg(long, default_value = "120d")]
        max_duration: Dur,
        /// The output directory.
        #[arg(long, short, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Histories as csv or parquet (pumps.csv is CSV either way).
        #[arg(long, default_value = "csv")]
        format: twin::store::export::ExportFormat,
        /// Pumps run at once (default: the machine's available parallelism).
        #[arg(long, short, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
    },
    /// Validate scenario files; exit 0 when all are valid, 2 otherwise.
    Check {
        /// Scenario files (.ron).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Make scenario files: `twin scenario generate --pumps 1000 -o site.ron` writes a large site for scale work.
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// A site of N pump trains (a motor and a pump each, the booster station's) on shared suction tanks, with four
    /// signals per train over JSON or Sparkplug B, a tank level each, and a speed set-point per pump on the PLC.
    /// Exit 0 when written, 2 on bad input.
    Generate {
        /// Pump trains.
        #[arg(long)]
        pumps: usize,
        /// Pumps per suction tank.
        #[arg(long, default_value_t = 4)]
        per_tank: usize,
        /// Every Nth train is a Sparkplug B device of its tank's edge node, the others publish JSON (0: all JSON).
        #[arg(long, default_value_t = 3)]
        sparkplug_every: usize,
        /// The site's name (its topics and Sparkplug group are derived from it).
        #[arg(long, default_value = "Generated site")]
        name: String,
        /// Seeds the spread of unbalance and tank levels.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The scenario file to write [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum FleetCommand {
    /// Convert a public run-to-failure dataset's files into the fleet layout (nothing is downloaded): `ims`, a
    /// directory of IMS snapshots (one history per channel); `femto`, a FEMTO/PRONOSTIA bearing's directory.
    Import {
        /// The dataset's layout.
        layout: DatasetLayout,
        /// The directory holding its files.
        dir: PathBuf,
        /// The output directory.
        #[arg(long, short, value_name = "DIR")]
        output: PathBuf,
        /// Histories as csv or parquet.
        #[arg(long, default_value = "csv")]
        format: twin::store::export::ExportFormat,
    },
}

/// Public run-to-failure dataset layouts `twin fleet import` reads.
#[derive(Clone, Copy, clap::ValueEnum)]
enum DatasetLayout {
    Ims,
    Femto,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Export samples from a store as CSV (t_utc,t_unix_s,signal,asset,quantity,unit,value; canonical units).
    Export {
        /// The store (SQLite).
        #[arg(long)]
        store: PathBuf,
        /// From this time: RFC 3339 ("2026-01-01T06:00:00Z", "2026-01-01") or Unix seconds (default: the start).
        #[arg(long, value_parser = parse_time)]
        from: Option<f64>,
        /// Up to this time, inclusive (same forms; default: the end).
        #[arg(long, value_parser = parse_time)]
        to: Option<f64>,
        /// Only this asset's signals.
        #[arg(long, value_name = "ID")]
        asset: Option<String>,
        /// Output format: csv, or parquet (needs --output).
        #[arg(long, default_value = "csv")]
        format: twin::store::export::ExportFormat,
        /// Write here instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// A time on the command line: RFC 3339 or Unix seconds.
fn parse_time(text: &str) -> Result<f64, String> {
    text.parse::<f64>().ok().filter(|t| t.is_finite()).map_or_else(|| scenario::parse_date(text), Ok)
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a key pair: NAME.key (PKCS#8, encrypted with a passphrase of at least 8 characters, from
    /// $TWIN_PASSPHRASE or asked twice on the terminal) and NAME.pub.
    New {
        /// Whose key (the file names; the trusted keys file names the holder).
        #[arg(long)]
        name: String,
        /// Where to write the files.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify an audit log's hash chain and the signatures of its approvals; exit 0 when intact, 1 naming the
    /// first broken or altered record.
    Verify {
        /// The log (JSON Lines).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { scenarios }) => check(&scenarios),
        Some(Command::Scenario {
            command: ScenarioCommand::Generate { pumps, per_tank, sparkplug_every, name, seed, output },
        }) => {
            let spec = scenario::generate::SiteSpec { pumps, pumps_per_tank: per_tank, sparkplug_every, name, seed };
            generate(&spec, output.as_deref())
        }
        Some(Command::Run {
            scenarios,
            duration,
            seed,
            speed,
            report,
            junit,
            plot,
            threads,
            jobs,
            quiet,
            no_plant,
            record,
            replay,
            store,
            retain,
        }) => {
            let opts = RunOptions {
                speed,
                report,
                junit,
                plot,
                threads: usize::from(threads),
                progress: !quiet,
                plant: !no_plant,
                record,
                replay,
                store,
                store_retain_s: retain.map(Dur::secs),
                ..RunOptions::new(duration.secs(), seed)
            };
            run(&scenarios, opts, jobs.map_or(0, usize::from), quiet)
        }
        Some(Command::Serve {
            scenario,
            store,
            no_store,
            retain,
            speed,
            seed,
            status_every,
            checkpoint_every,
            fresh,
            until,
        }) => {
            let Speed::Paced(speed) = speed else {
                eprintln!("error: --speed max is for `twin run`; serve follows the wall clock (realtime or a factor)");
                return ExitCode::from(2);
            };
            let opts = headless::serve::ServeOptions {
                speed,
                seed,
                store: if no_store { None } else { Some(store.unwrap_or_else(|| twin_store::beside(&scenario))) },
                retain_s: retain.map(Dur::secs),
                status_every: std::time::Duration::from_secs_f64(status_every.secs().max(0.1)),
                checkpoint_every_s: checkpoint_every.secs().max(1.0),
                fresh,
                until_s: until.map(Dur::secs),
            };
            match headless::serve::serve(&scenario, &opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::History { command: HistoryCommand::Export { store, from, to, asset, format, output } }) => {
            let range = twin::store::export::ExportRange { from, to, asset: asset.as_deref() };
            match twin::store::export::export(&store, range, format, output.as_deref()) {
                Ok(n) => {
                    eprintln!("{n} samples exported");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::Fleet { command: Some(FleetCommand::Import { layout, dir, output, format }), .. }) => {
            let read = match layout {
                DatasetLayout::Ims => twin::headless::fleet::ims::read(&dir),
                DatasetLayout::Femto => twin::headless::fleet::femto::read(&dir),
            };
            match read.and_then(|h| twin::headless::fleet::write_histories(&output, format, &h).map(|()| h.len())) {
                Ok(n) => {
                    eprintln!("{n} histories written to {}", output.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::Fleet { command: None, scenario, pumps, seed, asset, max_duration, output, format, jobs }) => {
            let (Some(path), Some(output)) = (scenario, output) else {
                eprintln!("error: twin fleet needs a SCENARIO and --output DIR (or: twin fleet import ...)");
                return ExitCode::from(2);
            };
            let base = match scenario::load(&path) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let jobs = jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from);
            let opts = twin::headless::fleet::FleetOptions {
                pumps,
                seed,
                asset,
                max_s: max_duration.secs(),
                output: output.clone(),
                format,
                jobs,
                command: format!("twin fleet {} --pumps {pumps} --seed {seed}", path.display()),
            };
            let started = std::time::Instant::now();
            match twin::headless::fleet::write_fleet(&base, &opts) {
                Ok(summaries) => {
                    let failed = summaries.iter().filter(|s| s.failure_s.is_some()).count();
                    eprintln!(
                        "{pumps} pumps ({failed} ran to failure, {} censored) written to {} in {:.1} s",
                        pumps - failed,
                        output.display(),
                        started.elapsed().as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::Plant { scenario, broker, duration, speed, seed, epoch }) => {
            let epoch = epoch.or_else(|| (speed == Speed::Paced(1.0)).then(scenario::unix_now_s));
            match twin::plant::publish::run_plant(&scenario, broker.as_deref(), duration.secs(), speed, seed, epoch) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Command::Whatif {
            scenario,
            sets,
            defer_maintenance,
            horizon,
            samples,
            pump,
            from,
            wait,
            advise_until,
            max_risk,
            seed,
            json,
        }) => {
            let changes = twin::change::whatif::ChangeSet {
                setpoints: sets,
                defer_maintenance_s: defer_maintenance.map_or(0.0, Dur::secs),
            };
            ExitCode::from(twin::change::cli::whatif_command(&twin::change::cli::WhatIfArgs {
                scenario: &scenario,
                pump,
                from_s: from.map(Dur::secs),
                wait: std::time::Duration::from_secs_f64(wait.secs()),
                changes,
                horizon_s: horizon.secs(),
                samples,
                seed,
                advise_until_s: advise_until.map(Dur::secs),
                max_risk,
                json,
            }))
        }
        Some(Command::Change {
            scenario,
            sets,
            approve,
            approver,
            second_approver,
            author,
            allow_writes,
            audit,
            from,
            wait,
            seed,
            json,
            change_set,
            export,
            sign_with,
            signature,
        }) => {
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            let author = author.or_else(|| approver.clone()).unwrap_or(user);
            let approvers = if approve { approver.into_iter().chain(second_approver).collect() } else { Vec::new() };
            let approvals = match twin::change::cli::approvals_input(change_set.as_deref(), &sign_with, &signature) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let sets = match &approvals.change_set {
                Some(doc) => doc.drafts.iter().map(|d| (d.setpoint.clone(), d.value)).collect(),
                None => sets,
            };
            let request = twin::change::ChangeRequest {
                sets,
                author,
                approvers,
                signers: approvals.signers,
                signatures: approvals.signatures,
                change_set: approvals.change_set,
                export,
                allow_writes,
            };
            ExitCode::from(twin::change::cli::change_command(&twin::change::cli::ChangeArgs {
                scenario: &scenario,
                from_s: from.map(Dur::secs),
                wait: std::time::Duration::from_secs_f64(wait.secs()),
                request,
                audit: &audit,
                seed,
                json,
            }))
        }
        Some(Command::Keys { command: KeysCommand::New { name, dir } }) => {
            ExitCode::from(twin::change::cli::keys_new(&dir, &name))
        }
        Some(Command::Approve { change, key, output }) => {
            ExitCode::from(twin::change::cli::approve_command(&change, &key, output.as_deref()))
        }
        Some(Command::Audit { command: AuditCommand::Verify { file } }) => {
            ExitCode::from(twin::change::cli::audit_verify(&file))
        }
        None => gui(cli.gui),
    }
}

/// `--epoch`: "now" or unix seconds.
fn parse_epoch(s: &str) -> Result<f64, String> {
    if s == "now" {
        return Ok(scenario::unix_now_s());
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("\"{s}\": expected \"now\" or unix seconds, e.g. 1767225600")),
    }
}

fn check(paths: &[PathBuf]) -> ExitCode {
    let mut bad = 0;
    for p in paths {
        match scenario::load(p) {
            Ok(s) => println!(
                "{}: ok ({}: {} assets, {} signals, {} set-points)",
                p.display(),
                s.name,
                s.assets.len(),
                s.signals.len(),
                s.setpoints.len()
            ),
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) }
}

/// `twin scenario generate`: the site, as RON, to `output` or standard output.
fn generate(spec: &scenario::generate::SiteSpec, output: Option<&std::path::Path>) -> ExitCode {
    let text = scenario::generate::site(spec).and_then(|s| scenario::generate::to_ron(&s).map_err(|e| e.to_string()));
    let written = text.and_then(|text| match output {
        Some(path) => std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `twin run`: one scenario as before, or a batch (several files, or a sweep).
fn run(paths: &[PathBuf], opts: RunOptions, jobs: usize, quiet: bool) -> ExitCode {
    if let [path] = paths {
        match scenario::load(path) {
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            Ok(s) if s.sweep.is_none() => return run_one(path, std::sync::Arc::new(s), &opts, quiet),
            Ok(_) => {} // a sweep: its cases run as a batch
        }
    }
    if opts.record.is_some() || opts.replay.is_some() || opts.store.is_some() {
        eprintln!("error: --record, --replay and --store run one scenario (without a sweep), not a batch");
        return ExitCode::from(2);
    }
    let batch = headless::batch::BatchOptions {
        jobs,
        report_dir: opts.report.clone(),
        junit: opts.junit.clone(),
        plot_dir: opts.plot.clone(),
        run: RunOptions { report: None, junit: None, plot: None, progress: false, ..opts },
    };
    if let Err(e) = headless::batch::prepare(&batch) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let started = std::time::Instant::now();
    let cases = headless::batch::expand(paths);
    let workers = headless::batch::workers(jobs, cases.len());
    let done = |o: &headless::batch::Outcome| {
        let mut err = std::io::stderr().lock();
        use std::io::Write;
        if let Some(e) = &o.error {
            let _ = writeln!(err, "error: {e}");
        } else if !quiet {
            if let Some(r) = &o.result {
                for e in r.expectations.iter().filter(|e| !e.passed) {
                    let _ = writeln!(err, "{}: FAIL {}: {}", o.case, e.expectation, e.message);
                }
            }
            let _ = writeln!(
                err,
                "{}: {} of {} expectations failed ({:.2} s wall)",
                o.case, o.failed, o.expectations, o.wall_s
            );
        }
    };
    let outcomes = headless::batch::run(&cases, &batch, &done);
    print!("{}", headless::batch::table(&outcomes, started.elapsed().as_secs_f64(), workers));
    ExitCode::from(headless::batch::exit_code(&outcomes))
}

fn run_one(path: &Path, scenario: std::sync::Arc<scenario::Scenario>, opts: &RunOptions, quiet: bool) -> ExitCode {
    let started = std::time::Instant::now();
    match headless::run(scenario, path, opts) {
        Ok(report) => {
            if !quiet {
                for d in &report.diagnostics {
                    eprintln!("warning: {d}");
                }
                for e in &report.expectations {
                    let verdict = if e.passed { "PASS" } else { "FAIL" };
                    eprintln!("{verdict} {}{}{}", e.expectation, if e.passed { "" } else { ": " }, e.message);
                }
                eprintln!(
                    "{}: {} simulated in {:.2} s wall, {} of {} expectations failed",
                    report.scenario,
                    Dur::from_secs(report.duration_s),
                    started.elapsed().as_secs_f64(),
                    report.failures(),
                    report.expectations.len()
                );
            }
            if report.passed { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(feature = "gui")]
fn gui(args: GuiArgs) -> ExitCode {
    let loaded = match &args.scenario {
        Some(p) => scenario::load(p),
        None => scenario::parse(twin::BUNDLED_SCENARIO, Path::new(twin::BUNDLED_SCENARIO_PATH)),
    };
    let scenario = match loaded {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let opts = twin::ui::GuiOptions {
        speed: args.speed,
        seed: args.seed,
        screenshot: args.screenshot,
        frames: args.frames,
        scenario_path: args.scenario.clone(),
        audit: args.audit,
        select: args.select,
        page: match args.page.as_str() {
            "change" => twin::ui::state::RightTab::Change,
            "audit" => twin::ui::state::RightTab::Audit,
            "quality" => twin::ui::state::RightTab::Quality,
            _ => twin::ui::state::RightTab::Inspector,
        },
        frame_stats: args.frame_stats,
        store: args.store,
        fresh: args.fresh,
        cursor: args.cursor.map(|d| d.secs()),
        export_dir: args.export_dir,
        export_plots: args.export_plots,
    };
    match twin::ui::run_gui(scenario, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(feature = "gui"))]
fn gui(args: GuiArgs) -> ExitCode {
    let _ = args;
    eprintln!(
        "error: this build has no GUI (built without the `gui` feature); use `twin run SCENARIO` or `twin check`"
    );
    ExitCode::from(2)
}
