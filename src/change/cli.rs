//! The `twin whatif`, `twin change` and `twin audit verify` commands: the twin is brought up headless, on the
//! in-process virtual plant (and its PLC) run to the fork time when the scenario's broker is the embedded one, or
//! on the real plant's live telemetry (waiting for every input to be fresh) when it is a real broker, then asked;
//! exit codes 0 (done, or a verified log), 1 (rejected, refused on stale inputs, rolled back, or a broken log),
//! 2 (bad input).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::session::ChangeSession;
use super::validate::input_problems;
use super::{ChangeRequest, PlcTarget, Status, audit, whatif};
use crate::app::headless_app;
use crate::ingest::Telemetry;
use crate::scenario::{self, BrokerSpec, Scenario};
use crate::twin::{ClockPacing, SimClock};

/// Parses `ID=VALUE`.
pub fn parse_set(s: &str) -> Result<(String, f64), String> {
    let (id, v) =
        s.split_once('=').ok_or_else(|| format!("\"{s}\": expected SETPOINT=VALUE, e.g. P-101.speed=1350"))?;
    let v: f64 = v.trim().parse().map_err(|_| format!("\"{s}\": \"{v}\" is not a number"))?;
    if !v.is_finite() {
        return Err(format!("\"{s}\": the value must be finite"));
    }
    Ok((id.trim().to_string(), v))
}

/// The twin of `scenario` with its in-process virtual plant, run to `from_s`; with `plc`, the plant serves its PLC
/// on a free loopback port. Only for a scenario with `broker: Embedded`: the virtual plant never stands in for a
/// real one. A scenario with a real `ModbusTcp` PLC is targeted at its address (and the validation's freshness
/// layer then refuses every change: its telemetry is the virtual plant's).
pub fn virtual_plant_twin(
    scenario: Arc<Scenario>,
    seed: u64,
    from_s: f64,
    plc: bool,
) -> Result<(App, Option<PlcTarget>), String> {
    if let BrokerSpec::Mqtt(m) = &scenario.connections.broker {
        return Err(format!(
            "the scenario's telemetry comes from the broker at {}: the virtual plant runs only with broker: Embedded",
            m.url
        ));
    }
    if crate::ingest::opcua::has_opcua_signals(&scenario) {
        return Err(
            "the scenario's telemetry comes from OPC UA servers: the virtual plant does not stand in for them".into()
        );
    }
    let mut app = build_twin(&scenario, seed)?;
    crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, seed, None)
        .map_err(|e| format!("virtual plant: {e}"))?;
    let target = if plc { super::plc_target(&mut app, &scenario)?.0 } else { None };
    app.update();
    run_for(&mut app, from_s);
    Ok((app, target))
}

/// The headless twin of `scenario`, or why its models cannot be built.
fn build_twin(scenario: &Arc<Scenario>, seed: u64) -> Result<App, String> {
    let app = headless_app(scenario.clone(), seed);
    if let Some(errors) = app.world().get_resource::<crate::twin::pump::ModelBuildErrors>()
        && !errors.0.is_empty()
    {
        return Err(format!("cannot build the twin: {}", errors.0.join("; ")));
    }
    Ok(app)
}

/// How the CLI brings up the twin a what-if or a change is decided on.
#[derive(Debug, Clone)]
pub struct Bring {
    /// With `broker: Embedded`: run the twin on the virtual plant this long first, s (default 1 h). Refused with
    /// a real broker, whose twin follows the wall clock.
    pub from_s: Option<f64>,
    /// With a real broker: the longest to wait for every input of `assets` to be fresh.
    pub wait: Duration,
    /// The assets whose inputs must be fresh (pumps, with what they depend on).
    pub assets: Vec<String>,
    /// Serve or target the scenario's PLC.
    pub plc: bool,
}

/// A twin brought up for a decision: the app, the PLC to write to, and where its state and inputs came from.
pub struct Brought {
    pub app: App,
    pub target: Option<PlcTarget>,
    /// Where the state and the inputs came from, for a person (printed before any answer).
    pub source: String,
    /// Why the inputs are not fresh, when they are not (empty: fresh, or the virtual plant's).
    pub problems: Vec<String>,
}

/// Brings up the twin of `scenario` for a decision. With `broker: Embedded` it runs on the in-process virtual
/// plant (see [`virtual_plant_twin`]). With a real broker no plant runs: the twin starts from the scenario's
/// state (there is no store of its past yet), subscribes to the broker, follows the wall clock, and waits at most
/// `bring.wait` for every input of `bring.assets` to be fresh; whatever is still stale then is in `problems`.
pub fn bring_twin(scenario: Arc<Scenario>, seed: u64, bring: &Bring) -> Result<Brought, String> {
    let opcua_plant = crate::ingest::opcua::has_opcua_signals(&scenario);
    let spec = match &scenario.connections.broker {
        BrokerSpec::Embedded if !opcua_plant => {
            let from_s = bring.from_s.unwrap_or(DEFAULT_FROM_S);
            let (app, target) = virtual_plant_twin(scenario, seed, from_s, bring.plc)?;
            let source = format!(
                "state and telemetry: the virtual plant (broker: Embedded), run {} from its start with seed {seed}",
                crate::scenario::Dur::from_secs(from_s)
            );
            return Ok(Brought { app, target, source, problems: Vec::new() });
        }
        BrokerSpec::Embedded => None,
        BrokerSpec::Mqtt(spec) => Some(spec.clone()),
    };
    if bring.from_s.is_some() {
        let from = match &spec {
            Some(spec) => format!("the broker at {}", spec.url),
            None => "OPC UA servers".to_string(),
        };
        return Err(format!(
            "--from runs the virtual plant, and this scenario's telemetry comes from {from}: the twin follows the \
             live plant (leave --from out)"
        ));
    }
    let mut app = build_twin(&scenario, seed)?;
    let (target, read) = if bring.plc { super::plc_target(&mut app, &scenario)? } else { (None, Vec::new()) };
    let plc_values = match &target {
        Some(t) if !read.is_empty() => {
            let read: Vec<String> = read.iter().map(|(id, v)| format!("{id} = {v}")).collect();
            format!("; live set-points read from the PLC at {t}: {}", read.join(", "))
        }
        _ => String::new(),
    };
    let client_id = format!("twin-cli-{}", std::process::id());
    if let Some(spec) = &spec {
        crate::ingest::connect_broker(app.world_mut(), spec, crate::ingest::Session::OneShot(&client_id), None)
            .map_err(|e| format!("broker {}: {e}", spec.url))?;
    }
    crate::ingest::connect_opcua(app.world_mut(), &scenario, None)?;
    *app.world_mut().resource_mut::<ClockPacing>() = ClockPacing::Realtime { speed: 1.0, owed_s: 0.0, paused: false };
    let started = Instant::now();
    app.update();
    let problems = loop {
        let problems: Vec<String> = bring.assets.iter().flat_map(|a| input_problems(app.world(), a)).collect();
        let left = bring.wait.saturating_sub(started.elapsed());
        if problems.is_empty() || left.is_zero() {
            break problems;
        }
        app.world().resource::<Telemetry>().wait_ready(left.min(Duration::from_millis(100)));
        app.update();
    };
    let waited_s = started.elapsed().as_secs_f64();
    let telemetry = app.world().resource::<Telemetry>();
    let now_unix = telemetry.epoch_unix_s + app.world().resource::<SimClock>().now_s;
    let ingestor = &telemetry.ingestor;
    let newest = (0..ingestor.signals().len()).filter_map(|i| ingestor.last_received_s(i)).reduce(f64::max);
    let received = match newest {
        Some(t) => format!("{} messages, the newest received {:.1} s ago", telemetry.drained, (now_unix - t).max(0.0)),
        None => "nothing received".to_string(),
    };
    let origin = app.world().get_resource::<crate::ingest::TelemetryOrigin>().cloned().unwrap_or_default();
    let source = format!(
        "state: the scenario's initial state (no stored history of this twin yet); live telemetry from {origin} for \
         {waited_s:.1} s: {received}{plc_values}"
    );
    Ok(Brought { app, target, source, problems })
}

/// Simulated time the twin runs on the virtual plant before a what-if or a change, unless `--from` says, s.
pub const DEFAULT_FROM_S: f64 = 3600.0;

/// Runs the app `secs` simulated seconds, a minute per tick.
pub fn run_for(app: &mut App, secs: f64) {
    let step = app.world().resource::<SimClock>().step_s;
    let mut left = (secs / step).round() as u64;
    while left > 0 {
        let n = left.min(crate::twin::clock::STEPS_PER_TICK);
        app.world_mut().resource_mut::<SimClock>().pending_steps = n as u32;
        app.update();
        left -= n;
    }
}

/// Options of `twin whatif`.
pub struct WhatIfArgs<'a> {
    pub scenario: &'a Path,
    pub pump: Option<String>,
    /// Run the virtual plant this long first (`broker: Embedded` only; default 1 h), s.
    pub from_s: Option<f64>,
    /// With a real broker, the longest to wait for fresh inputs.
    pub wait: Duration,
    pub changes: whatif::ChangeSet,
    pub horizon_s: f64,
    pub samples: usize,
    pub seed: u64,
    pub advise_until_s: Option<f64>,
    pub max_risk: f64,
    pub json: bool,
}

/// `twin whatif`.
pub fn whatif_command(a: &WhatIfArgs<'_>) -> u8 {
    let scenario = match scenario::load(a.scenario) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let pump = a.pump.clone().or_else(|| {
        a.changes
            .setpoints
            .first()
            .and_then(|(id, _)| scenario.setpoints.iter().find(|s| &s.id == id).map(|s| s.asset.clone()))
    });
    let pump = pump.or_else(|| {
        scenario.assets.iter().find(|x| matches!(x.kind, scenario::AssetKind::CentrifugalPump(_))).map(|x| x.id.clone())
    });
    let Some(pump) = pump else {
        eprintln!("error: {}: no pump to ask about", a.scenario.display());
        return 2;
    };
    let bring = Bring { from_s: a.from_s, wait: a.wait, assets: vec![pump.clone()], plc: false };
    let brought = match bring_twin(scenario.clone(), a.seed, &bring) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {}: {e}", a.scenario.display());
            return 2;
        }
    };
    if !a.json {
        println!("{}", brought.source);
    }
    if !brought.problems.is_empty() {
        eprintln!(
            "refused: the inputs of {pump} are not fresh after waiting {}: {}",
            scenario::Dur::from_secs(a.wait.as_secs_f64()),
            brought.problems.join("; ")
        );
        return 1;
    }
    let app = brought.app;
    let advice = a.advise_until_s.map(|target_s| {
        let sp = scenario.setpoints.iter().find(|s| s.asset == pump);
        twin_models::whatif::AdviceRequest {
            target_s,
            max_p_failure: a.max_risk,
            min_rpm: sp.map_or(0.0, |s| s.min),
            current_rpm: sp.map_or(0.0, |s| s.max),
            resolution_rpm: 5.0,
        }
    });
    match whatif::ask(app.world(), &pump, &a.changes, a.horizon_s, a.samples, a.seed, advice) {
        Ok(w) => {
            if a.json {
                println!("{}", with_source(&w, &brought.source));
            } else {
                print!("{}", whatif::table(&w));
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// Options of `twin change`.
pub struct ChangeArgs<'a> {
    pub scenario: &'a Path,
    /// Run the virtual plant this long first (`broker: Embedded` only; default 1 h), s.
    pub from_s: Option<f64>,
    /// With a real broker, the longest to wait for fresh inputs.
    pub wait: Duration,
    pub request: ChangeRequest,
    pub audit: &'a Path,
    /// Seed of the forecast's Monte Carlo.
    pub seed: u64,
    pub json: bool,
}

/// `twin change`.
pub fn change_command(a: &ChangeArgs<'_>) -> u8 {
    let scenario = match scenario::load(a.scenario) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    // The audit log is opened first: a change that cannot be recorded is not made.
    let mut session = ChangeSession::new(a.audit.to_path_buf(), None, a.seed);
    if let Err(e) = session.open_audit() {
        eprintln!("error: {e}");
        return 2;
    }
    // Every asset a requested set-point acts on must have fresh inputs (an unknown set-point is refused below).
    let mut assets: Vec<String> = a
        .request
        .sets
        .iter()
        .filter_map(|(id, _)| scenario.setpoints.iter().find(|s| &s.id == id).map(|s| s.asset.clone()))
        .collect();
    assets.sort_unstable();
    assets.dedup();
    let bring = Bring { from_s: a.from_s, wait: a.wait, assets, plc: true };
    let brought = match bring_twin(scenario, a.seed, &bring) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {}: {e}", a.scenario.display());
            return 2;
        }
    };
    if !a.json {
        println!("{}", brought.source);
    }
    let mut app = brought.app;
    let scenario_approvals = app.world().resource::<crate::twin::LoadedScenario>().0.change.approvals;
    session.set_target(brought.target);
    let outcome = match super::run_change(&mut app, &a.request, &mut session, &mut |t| {
        eprintln!("writing to {t}");
    }) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    // Let the virtual plant act on what was written, so the telemetry shows the change (a live twin follows the
    // wall clock: there is nothing to run ahead).
    if app.world().get_resource::<crate::plant::inprocess::PlantRunner>().is_some() {
        run_for(&mut app, 60.0);
    }
    if a.json {
        println!("{}", with_source(&outcome, &brought.source));
    } else {
        for v in &outcome.validations {
            println!("draft {} {}: {} → {} {}", v.draft, v.setpoint, v.from, v.to, v.unit);
            for verdict in &v.verdicts {
                println!(
                    "  {:<11} {} {}",
                    format!("{:?}", verdict.layer),
                    if verdict.passed { "PASS" } else { "FAIL" },
                    verdict.reason
                );
            }
        }
        if let Some(p) = &outcome.push {
            for (id, wrote, read) in &p.writes {
                let read = read.map_or("no answer".to_string(), |r| r.to_string());
                println!("write {id} = {wrote}, read back {read}");
            }
        }
        if let Some(hash) = &outcome.change_hash {
            println!("change set hash {hash}");
        }
        for a in &outcome.approvers {
            println!("approved by {a}");
        }
        for a in &outcome.writes_enabled_by {
            println!("writes enabled by {a} (admin)");
        }
        for why in &outcome.refusals {
            println!("approval refused: {why}");
        }
        match &outcome.status {
            Status::Rejected => println!("rejected by validation: nothing written"),
            Status::AwaitingApproval => println!(
                "valid; awaiting approval ({} of {}: --sign-with KEY, --signature FILE, or for the virtual plant's \
                 PLC without trusted keys --approve --as NAME): nothing written",
                outcome.approvers.len(),
                scenario_approvals
            ),
            Status::Exported(path) => {
                println!("valid; change set written to {path}: sign it with `twin approve {path} --key KEY`")
            }
            Status::WritesDisabled(why) => println!("valid and approved; not written: {why}"),
            Status::Pushed => println!("pushed and verified"),
            Status::RolledBack(alarm) => println!("ALARM: {alarm}"),
        }
        println!("audit log: {}", a.audit.display());
    }
    match outcome.status {
        Status::Rejected | Status::RolledBack(_) => 1,
        // A refused signature is an answer to act on, as a rejection is.
        _ if !outcome.refusals.is_empty() => 1,
        _ => 0,
    }
}

/// `value` as pretty JSON, with a `"source"` field: where the twin's state and inputs came from.
fn with_source(value: &impl serde::Serialize, source: &str) -> String {
    let mut out = serde_json::Map::new();
    out.insert("source".into(), source.into());
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(value) {
        out.extend(m);
    }
    serde_json::to_string_pretty(&out).unwrap_or_default()
}

/// `twin audit verify FILE`.
pub fn audit_verify(path: &Path) -> u8 {
    match audit::verify(path) {
        Ok(s) => {
            println!(
                "{}: {} records, chain intact, {} signature(s) verified",
                path.display(),
                s.records,
                s.signed_approvals
            );
            0
        }
        Err(audit::VerifyError::Broken(p)) => {
            eprintln!("{}:{}: {}", path.display(), p.line, p.what);
            1
        }
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            2
        }
    }
}

/// The approvals `twin change` was given: a change-set file, keys to sign with here, signatures made elsewhere.
#[derive(Debug, Default)]
pub struct ApprovalsInput {
    pub change_set: Option<super::approval::ChangeSetDoc>,
    pub signers: Vec<(String, twin_sign::SigningKey)>,
    pub signatures: Vec<twin_sign::SignatureFile>,
}

/// Reads the change-set file, opens the keys (asking each one's passphrase) and reads the signature files.
pub fn approvals_input(
    change_set: Option<&Path>,
    keys: &[std::path::PathBuf],
    signatures: &[std::path::PathBuf],
) -> Result<ApprovalsInput, String> {
    let change_set = change_set.map(super::approval::ChangeSetDoc::load).transpose()?;
    let signers = keys.iter().map(|k| open_key(k).map(|key| (key_name(k), key))).collect::<Result<_, _>>()?;
    let signatures = signatures
        .iter()
        .map(|p| twin_sign::SignatureFile::load(p).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    Ok(ApprovalsInput { change_set, signers, signatures })
}

/// A key's holder as its file names it (`alice.key` → alice).
pub fn key_name(path: &Path) -> String {
    path.file_stem().map_or_else(|| "key".to_string(), |s| s.to_string_lossy().into_owned())
}

/// The passphrase from `$TWIN_PASSPHRASE`, else asked on the terminal (twice when `confirm`).
pub fn passphrase(prompt: &str, confirm: bool) -> Result<zeroize::Zeroizing<String>, String> {
    if let Ok(p) = std::env::var("TWIN_PASSPHRASE") {
        return Ok(p.into());
    }
    let ask = |p: &str| {
        rpassword::prompt_password(p)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| format!("cannot ask for the passphrase ({e}): run it in a terminal, or set TWIN_PASSPHRASE"))
    };
    let first = ask(prompt)?;
    if confirm && *ask("again: ")? != *first {
        return Err("the passphrases differ".into());
    }
    Ok(first)
}

/// Opens the private key at `path`, asking for its passphrase.
fn open_key(path: &Path) -> Result<twin_sign::SigningKey, String> {
    let pass = passphrase(&format!("passphrase of {}: ", path.display()), false)?;
    twin_sign::load_signing_key(path, &pass).map_err(|e| e.to_string())
}

/// `twin keys new`.
pub fn keys_new(dir: &Path, name: &str) -> u8 {
    let made = passphrase(&format!("passphrase for {name}'s new key: "), true)
        .and_then(|pass| twin_sign::new_key_pair(dir, name, &pass).map_err(|e| e.to_string()));
    match made {
        Ok(k) => {
            println!("private key: {} (keep it; encrypted with your passphrase)", k.private.display());
            println!("public key:  {}", k.public.display());
            println!("for the site's trusted keys file (roles: Operator, Engineer, Admin):");
            println!("    (name: \"{name}\", roles: [Engineer], public_key: \"{}\"),", k.public_key);
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// `twin approve CHANGE.json --key KEY`.
pub fn approve_command(change: &Path, key: &Path, output: Option<&Path>) -> u8 {
    let signed = (|| {
        let doc = super::approval::ChangeSetDoc::load(change)?;
        if let Some(v) = doc.verdicts.iter().find(|v| !v.passed) {
            return Err(format!(
                "{}: {} failed the {} layer ({}): a rejected change is not signed",
                change.display(),
                v.setpoint,
                v.layer,
                v.reason
            ));
        }
        println!("{}", doc.summary());
        let signing = open_key(key)?;
        let name = key_name(key);
        let sig = twin_sign::SignatureFile::sign(&signing, &name, &doc.hash(), scenario::unix_now_s());
        let out = output.map_or_else(|| change.with_extension(format!("{name}.sig")), std::path::Path::to_path_buf);
        sig.save(&out).map_err(|e| e.to_string())?;
        Ok(out)
    })();
    match signed {
        Ok(out) => {
            println!("signed: {}", out.display());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
