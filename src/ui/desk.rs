//! The change desk behind the workbench's change panel, as plain logic over the twin's world (so it is tested
//! without a window): draft set-point changes, validate them layer by layer, ask the what-if in the background,
//! collect approvals, and push to the PLC on a worker thread (ramped writes, read-back, rollback), all recorded
//! in the audit log. The same gates as `twin change`: nothing is written unless the scenario allows writes, the
//! user switched writes on, every layer passed and the approvals are in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, bounded};
use serde_json::json;
use twin_models::whatif::Answer;

use crate::change::audit::AuditLog;
use crate::change::push::{self, PushReport};
use crate::change::validate::{self, Validation};
use crate::change::whatif::{self as twin_whatif, ChangeSet};
use crate::change::{PlcTarget, apply_readback, connect, push_steps, writes_refusal};
use crate::scenario::{Scenario, SetpointSpec};
use crate::sync::Setpoints;
use crate::twin::{LoadedScenario, SimClock};

/// A what-if answer for the panel and the wear plot.
#[derive(Debug, Clone)]
pub struct WhatIfResult {
    pub pump: String,
    /// Simulated time of the fork, s (the band is drawn from here).
    pub forked_at_s: f64,
    pub changes: ChangeSet,
    pub answer: Answer,
}

/// One audit record as the panel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub line: usize,
    pub actor: String,
    pub event: String,
    pub data: String,
}

/// A file's length and modification time: when neither changed, neither did the file.
type FileStamp = (u64, std::time::SystemTime);

/// A what-if running on its worker thread: the answer's channel, the pump, the fork time (s), the change set.
struct WhatIfJob {
    rx: Receiver<Result<Answer, String>>,
    pump: String,
    forked_at_s: f64,
    changes: ChangeSet,
}

/// A push running on its worker thread.
struct PushJob {
    rx: Receiver<(Result<PushReport, String>, Option<AuditLog>)>,
    drafts: Vec<u64>,
}

/// State of the change panel.
#[derive(Resource)]
pub struct ChangeDesk {
    /// Set-point being drafted.
    pub setpoint: String,
    /// The value as typed, in the set-point's unit.
    pub value_text: String,
    /// Who drafts and approves (the OS user by default).
    pub user: String,
    /// Name typed for a second approval.
    pub second_approver: String,
    /// Drafts made here, in order.
    pub drafts: Vec<u64>,
    /// Their latest validations.
    pub validations: BTreeMap<u64, Validation>,
    /// Approvers of the present drafts (distinct names).
    pub approvals: BTreeSet<String>,
    /// The user's writes switch (off at start, always).
    pub writes_enabled: bool,
    /// Where writes go.
    pub target: Option<PlcTarget>,
    /// What happened, newest last, for the panel.
    pub log: Vec<String>,
    /// The latest what-if answer.
    pub whatif: Option<WhatIfResult>,
    whatif_job: Option<WhatIfJob>,
    push_job: Option<PushJob>,
    /// The latest push's report.
    pub last_push: Option<PushReport>,
    /// The audit log's path, and the log (taken by a push while it runs).
    pub audit_path: PathBuf,
    audit: Option<AuditLog>,
    /// Seed of the validation's and the what-if's Monte Carlo.
    pub seed: u64,
    /// The audit page's rows and chain status, with the log's stamp they were read at.
    audit_view: Option<(Option<FileStamp>, Vec<AuditRow>, String)>,
}

impl ChangeDesk {
    /// A desk writing its audit log to `audit_path`, pushing to `target`.
    pub fn new(audit_path: PathBuf, target: Option<PlcTarget>, seed: u64) -> Self {
        Self {
            setpoint: String::new(),
            value_text: String::new(),
            user: std::env::var("USER").unwrap_or_else(|_| "engineer".into()),
            second_approver: String::new(),
            drafts: Vec::new(),
            validations: BTreeMap::new(),
            approvals: BTreeSet::new(),
            writes_enabled: false,
            target,
            log: Vec::new(),
            whatif: None,
            whatif_job: None,
            push_job: None,
            last_push: None,
            audit_path,
            audit: None,
            seed,
            audit_view: None,
        }
    }

    fn audit(&mut self, actor: &str, event: &str, data: serde_json::Value) -> Result<(), String> {
        if self.audit.is_none() {
            if self.push_job.is_some() {
                return Err("the audit log is busy with a push".into());
            }
            self.audit = Some(AuditLog::open(&self.audit_path).map_err(|e| e.to_string())?);
        }
        let log = self.audit.as_mut().ok_or("no audit log")?;
        log.append(actor, event, &data).map(|_| ()).map_err(|e| e.to_string())
    }

    fn note(&mut self, s: impl Into<String>) {
        self.log.push(s.into());
        if self.log.len() > 200 {
            self.log.remove(0);
        }
    }

    /// Parses the typed value for the chosen set-point (in its unit).
    pub fn parse_value<'a>(&self, scenario: &'a Scenario) -> Result<(&'a SetpointSpec, f64), String> {
        let sp = scenario
            .setpoints
            .iter()
            .find(|s| s.id == self.setpoint)
            .ok_or_else(|| format!("choose a set-point (\"{}\" is none)", self.setpoint))?;
        let v: f64 = self
            .value_text
            .trim()
            .parse()
            .map_err(|_| format!("\"{}\" is not a number ({} in {})", self.value_text.trim(), sp.id, sp.unit))?;
        if !v.is_finite() {
            return Err(format!("{}: the value must be finite", sp.id));
        }
        Ok((sp, v))
    }

    /// Drafts the typed change against the live set-point. Earlier validations and approvals no longer hold.
    pub fn add_draft(&mut self, world: &mut World) -> Result<u64, String> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        let (sp, v) = self.parse_value(&scenario)?;
        let conv = sp.target.quantity().converter(&sp.unit).ok_or_else(|| format!("{}: unknown unit", sp.id))?;
        let now = world.resource::<SimClock>().now_s;
        let user = self.user.clone();
        let mut setpoints = world.resource_mut::<Setpoints>();
        // One draft per set-point: a new value replaces the earlier draft.
        let replaced: Vec<u64> = setpoints
            .drafts
            .iter()
            .filter(|d| d.setpoint == sp.id && self.drafts.contains(&d.id))
            .map(|d| d.id)
            .collect();
        setpoints.drafts.retain(|d| !replaced.contains(&d.id));
        let id = setpoints.draft(&sp.id, conv.to_canonical(v), &user, now).map_err(|e| e.to_string())?;
        self.drafts.retain(|d| !replaced.contains(d));
        self.drafts.push(id);
        self.validations.clear();
        self.approvals.clear();
        self.audit(&user, "draft", json!({"draft": id, "setpoint": sp.id, "value": v, "unit": sp.unit, "sim_s": now}))?;
        self.note(format!("draft {id}: {} → {v} {}", sp.id, sp.unit));
        Ok(id)
    }

    /// Discards a draft (recorded in the audit log first: a discard that cannot be recorded does not happen).
    pub fn discard(&mut self, world: &mut World, id: u64) -> Result<(), String> {
        let user = self.user.clone();
        self.audit(&user, "discard", json!({"draft": id}))?;
        world.resource_mut::<Setpoints>().drafts.retain(|d| d.id != id);
        self.drafts.retain(|&d| d != id);
        self.validations.remove(&id);
        self.approvals.clear();
        self.note(format!("draft {id} discarded"));
        Ok(())
    }

    /// Validates every draft on the live twin (every layer, the forecast what-if included).
    pub fn validate_all(&mut self, world: &World) -> Result<(), String> {
        self.approvals.clear();
        let user = self.user.clone();
        let live: Vec<u64> =
            self.drafts.iter().copied().filter(|d| world.resource::<Setpoints>().get(*d).is_some()).collect();
        self.drafts = live;
        for &d in &self.drafts.clone() {
            let v = validate::validate(world, d, self.seed).map_err(|e| e.to_string())?;
            self.audit(&user, "validation", json!({"draft": d, "passed": v.passed(), "verdicts": v.verdicts}))?;
            let failed: Vec<String> =
                v.verdicts.iter().filter(|x| !x.passed).map(|x| format!("{:?}", x.layer)).collect();
            self.note(if failed.is_empty() {
                format!("draft {d}: every layer passed")
            } else {
                format!("draft {d}: rejected by {}", failed.join(", "))
            });
            self.validations.insert(d, v);
        }
        Ok(())
    }

    /// Whether every draft is validated (after its last edit) and passed.
    pub fn all_passed(&self) -> bool {
        !self.drafts.is_empty() && self.drafts.iter().all(|d| self.validations.get(d).is_some_and(Validation::passed))
    }

    /// `name` approves the validated drafts.
    pub fn approve(&mut self, name: &str) -> Result<(), String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("an approval needs a name".into());
        }
        if !self.all_passed() {
            return Err("only validated drafts that passed every layer can be approved".into());
        }
        self.audit(name, "approval", json!({"drafts": self.drafts}))?;
        if self.approvals.insert(name.to_owned()) {
            self.note(format!("approved by {name}"));
        }
        Ok(())
    }

    /// Why a push cannot start now (`None`: it can).
    pub fn push_blocker(&self, scenario: &Scenario) -> Option<String> {
        if self.push_job.is_some() {
            return Some("a push is running".into());
        }
        if !self.all_passed() {
            return Some("validate the drafts first: every layer must pass".into());
        }
        let need = usize::from(scenario.change.approvals);
        if self.approvals.len() < need {
            return Some(format!("{} of {need} approval(s)", self.approvals.len()));
        }
        writes_refusal(scenario, self.writes_enabled, self.target.as_ref())
    }

    /// Starts the push on a worker thread (ramped writes with read-back; rollback on a mismatch or timeout).
    pub fn start_push(&mut self, world: &World) -> Result<(), String> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        if let Some(why) = self.push_blocker(&scenario) {
            return Err(why);
        }
        let Some(target) = self.target else { return Err("no PLC to write to".into()) };
        let validations: Vec<Validation> =
            self.drafts.iter().filter_map(|d| self.validations.get(d).cloned()).collect();
        let user = self.user.clone();
        // A validation is only as good as the inputs it was made on: they must still be fresh when the writes go.
        let mut assets: Vec<&str> = validations
            .iter()
            .filter_map(|v| scenario.setpoints.iter().find(|s| s.id == v.setpoint).map(|s| s.asset.as_str()))
            .collect();
        assets.sort_unstable();
        assets.dedup();
        let problems: Vec<String> = assets.iter().flat_map(|a| validate::input_problems(world, a)).collect();
        if !problems.is_empty() {
            let why = format!("the inputs are no longer fresh: {}; validate again", problems.join("; "));
            self.validations.clear();
            self.approvals.clear();
            self.audit(&user, "push_refused", json!({"reason": why}))?;
            self.note(why.clone());
            return Err(why);
        }
        let steps = push_steps(&scenario, &validations);
        self.audit(&user, "push_start", json!({"target": target.to_string(), "drafts": self.drafts}))?;
        let mut audit = self.audit.take();
        let timeout = Duration::from_secs_f64(scenario.change.timeout.secs());
        let interval = Duration::from_secs_f64(scenario.change.ramp_interval.secs());
        let (tx, rx) = bounded(1);
        std::thread::Builder::new()
            .name("twin-push".into())
            .spawn(move || {
                let result = (|| {
                    let log = audit.as_mut().ok_or("no audit log")?;
                    let client = connect(&target, timeout, log, &user).map_err(|e| e.to_string())?;
                    push::push(&client, &steps, interval, log, &user).map_err(|e| e.to_string())
                })();
                let _ = tx.send((result, audit));
            })
            .map_err(|e| format!("cannot start the push: {e}"))?;
        self.note(format!("pushing to {target}…"));
        self.push_job = Some(PushJob { rx, drafts: self.drafts.clone() });
        Ok(())
    }

    /// Whether a push is running.
    pub fn pushing(&self) -> bool {
        self.push_job.is_some()
    }

    /// Takes a finished push: its read-back becomes the live set-points, its drafts are closed.
    pub fn poll_push(&mut self, world: &mut World) {
        let Some(job) = &self.push_job else { return };
        let Ok((result, audit)) = job.rx.try_recv() else { return };
        let job = self.push_job.take().expect("checked");
        self.audit = audit;
        match result {
            Ok(report) => {
                let scenario = world.resource::<LoadedScenario>().0.clone();
                apply_readback(world, &scenario, &report);
                self.note(match &report.alarm {
                    Some(a) => format!("ROLLED BACK: {a}"),
                    None => format!("pushed: {} write(s), each read back", report.writes.len()),
                });
                self.last_push = Some(report);
            }
            Err(e) => self.note(format!("push failed: {e}")),
        }
        world.resource_mut::<Setpoints>().drafts.retain(|d| !job.drafts.contains(&d.id));
        self.drafts.retain(|d| !job.drafts.contains(d));
        self.validations.retain(|d, _| !job.drafts.contains(d));
        self.approvals.clear();
    }

    /// Starts the what-if of the drafted changes on `pump` (the Monte Carlo runs on a worker thread).
    pub fn start_whatif(&mut self, world: &World, pump: &str, horizon_s: f64, samples: usize) -> Result<(), String> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        let setpoints = world.resource::<Setpoints>();
        let changes = ChangeSet {
            setpoints: self
                .drafts
                .iter()
                .filter_map(|d| setpoints.get(*d))
                .filter_map(|d| {
                    let sp = scenario.setpoints.iter().find(|s| s.id == d.setpoint && s.asset == pump)?;
                    let c = sp.target.quantity().converter(&sp.unit)?;
                    Some((d.setpoint.clone(), c.from_canonical(d.value)))
                })
                .collect(),
            defer_maintenance_s: 0.0,
        };
        let mut study = twin_whatif::fork(world, pump, horizon_s, samples, self.seed).map_err(|e| e.to_string())?;
        twin_whatif::apply(world, &mut study, pump, &changes).map_err(|e| e.to_string())?;
        let (tx, rx) = bounded(1);
        std::thread::Builder::new()
            .name("twin-whatif".into())
            .spawn(move || {
                let _ = tx.send(twin_models::whatif::run(&study).map_err(|e| e.to_string()));
            })
            .map_err(|e| format!("cannot start the what-if: {e}"))?;
        let now = world.resource::<SimClock>().now_s;
        self.whatif_job = Some(WhatIfJob { rx, pump: pump.to_owned(), forked_at_s: now, changes });
        self.note(format!("what-if on {pump} running…"));
        Ok(())
    }

    /// Whether a what-if is running.
    pub fn asking(&self) -> bool {
        self.whatif_job.is_some()
    }

    /// Takes a finished what-if.
    pub fn poll_whatif(&mut self) {
        let Some(job) = &self.whatif_job else { return };
        let Ok(result) = job.rx.try_recv() else { return };
        let WhatIfJob { pump, forked_at_s, changes, .. } = self.whatif_job.take().expect("checked");
        match result {
            Ok(answer) => {
                self.note(format!(
                    "what-if on {pump}: failure probability {:.2} % baseline, {:.2} % with the change",
                    answer.baseline.p_failure * 100.0,
                    answer.change.p_failure * 100.0
                ));
                self.whatif = Some(WhatIfResult { pump, forked_at_s, changes, answer });
            }
            Err(e) => self.note(format!("what-if failed: {e}")),
        }
    }

    /// What the audit page shows: [`Self::audit_rows`] (the newest 200), read again only when the log changed on
    /// disk, not every frame.
    pub fn audit_view(&mut self) -> (&[AuditRow], &str) {
        let stamp = std::fs::metadata(&self.audit_path).ok().and_then(|m| Some((m.len(), m.modified().ok()?)));
        if self.audit_view.as_ref().is_none_or(|(at, ..)| *at != stamp) {
            let (rows, status) = self.audit_rows(200);
            self.audit_view = Some((stamp, rows, status));
        }
        let (_, rows, status) = self.audit_view.as_ref().expect("just filled");
        (rows, status)
    }

    /// The audit log's records, newest first (at most `limit`), and whether its hash chain is intact.
    pub fn audit_rows(&self, limit: usize) -> (Vec<AuditRow>, String) {
        let text = std::fs::read_to_string(&self.audit_path).unwrap_or_default();
        let mut rows: Vec<AuditRow> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_owned();
                AuditRow {
                    line: i + 1,
                    actor: s("actor"),
                    event: s("event"),
                    data: v.get("data").map(|d| d.to_string()).unwrap_or_default(),
                }
            })
            .collect();
        rows.reverse();
        rows.truncate(limit);
        use crate::change::audit::VerifyError;
        let status = match crate::change::audit::verify(&self.audit_path) {
            Ok(s) => format!("hash chain intact ({} records)", s.records),
            Err(VerifyError::Broken(p)) => format!("BROKEN at line {}: {}", p.line, p.what),
            Err(VerifyError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => "no audit log yet".into(),
            Err(VerifyError::Io(e)) => format!("cannot read: {e}"),
        };
        (rows, status)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::headless_app;
    use crate::change::validate::Layer;

    fn station() -> (App, tempfile::TempDir) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let scenario = Arc::new(crate::scenario::load(&path).expect("bundled scenario"));
        let mut app = headless_app(scenario.clone(), 1);
        crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, 1, None).expect("plant");
        app.update();
        crate::change::cli::run_for(&mut app, 600.0);
        (app, tempfile::tempdir().expect("tempdir"))
    }

    fn desk(dir: &tempfile::TempDir) -> ChangeDesk {
        let mut d = ChangeDesk::new(dir.path().join("audit.jsonl"), None, 1);
        d.user = "alice".into();
        d.setpoint = "P-101.speed".into();
        d
    }

    #[test]
    fn typed_values_are_checked_before_a_draft_is_made() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "fast".into();
        let err = d.add_draft(app.world_mut()).unwrap_err();
        assert!(err.contains("\"fast\" is not a number") && err.contains("rpm"), "{err}");
        d.setpoint = "P-999.speed".into();
        d.value_text = "1400".into();
        assert!(d.add_draft(app.world_mut()).unwrap_err().contains("P-999.speed"));
        assert!(d.drafts.is_empty());
        assert!(app.world().resource::<Setpoints>().drafts.is_empty());
    }

    #[test]
    fn a_new_value_replaces_the_draft_and_clears_its_validation_and_approvals() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "1400".into();
        let first = d.add_draft(app.world_mut()).unwrap();
        d.validate_all(app.world()).unwrap();
        assert!(d.all_passed(), "{:?}", d.validations);
        d.approve("alice").unwrap();
        assert_eq!(d.approvals.len(), 1);
        d.value_text = "1380".into();
        let second = d.add_draft(app.world_mut()).unwrap();
        assert_ne!(first, second);
        assert_eq!(d.drafts, vec![second]);
        assert!(d.validations.is_empty() && d.approvals.is_empty());
        let sp = app.world().resource::<Setpoints>();
        assert_eq!(sp.drafts.len(), 1);
        assert_eq!(sp.drafts[0].value, 1380.0);
        // Not validated since the edit: no approval, no push.
        assert!(d.approve("alice").is_err());
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        assert!(d.push_blocker(&scenario).unwrap().contains("validate"));
    }

    #[test]
    fn validation_shows_each_layer_and_a_rejected_draft_cannot_be_approved() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "2000".into(); // above the set-point's 1480 rpm maximum
        let id = d.add_draft(app.world_mut()).unwrap();
        d.validate_all(app.world()).unwrap();
        let v = &d.validations[&id];
        assert_eq!(v.verdicts.len(), 6, "every layer has a verdict");
        let env = v.verdict(Layer::Envelope).unwrap();
        assert!(!env.passed && env.reason.contains("1480"), "{env:?}");
        assert!(!d.all_passed());
        assert!(d.approve("alice").unwrap_err().contains("passed every layer"));
        assert!(d.log.last().unwrap().contains("rejected by Envelope"), "{:?}", d.log);
    }

    #[test]
    fn pushes_are_gated_by_approvals_the_users_switch_and_a_plc() {
        let (mut app, dir) = station();
        let mut d = desk(&dir);
        d.value_text = "1400".into();
        d.add_draft(app.world_mut()).unwrap();
        d.validate_all(app.world()).unwrap();
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        assert!(d.push_blocker(&scenario).unwrap().contains("0 of 1 approval"));
        d.approve("alice").unwrap();
        assert!(d.push_blocker(&scenario).unwrap().contains("not enabled by the user"));
        d.writes_enabled = true;
        assert!(d.push_blocker(&scenario).unwrap().contains("no PLC"));
        assert!(d.start_push(app.world()).is_err());
        // Everything was audited, and the chain verifies.
        let (rows, status) = d.audit_rows(50);
        assert!(status.starts_with("hash chain intact"), "{status}");
        let events: Vec<&str> = rows.iter().rev().map(|r| r.event.as_str()).collect();
        assert_eq!(events, ["draft", "validation", "approval"]);
    }

    /// A desk pushing to the virtual PLC the plant in `app` now serves, with a draft of 1460 rpm that passed every
    /// layer, approved by alice, writes enabled.
    fn approved_desk(app: &mut App, dir: &tempfile::TempDir) -> ChangeDesk {
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        let bind: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        let addr = crate::plant::inprocess::serve_plc(app, &scenario, bind, twin_modbus::Behaviour::Normal).unwrap();
        let target = Some(PlcTarget { addr, unit_id: 1, virtual_plc: true });
        let mut d = ChangeDesk::new(dir.path().join("audit.jsonl"), target, 1);
        d.user = "alice".into();
        d.setpoint = "P-101.speed".into();
        d.value_text = "1460".into();
        d.add_draft(app.world_mut()).unwrap();
        d.validate_all(app.world()).unwrap();
        assert!(d.all_passed(), "{:?}", d.validations);
        d.approve("alice").unwrap();
        d.writes_enabled = true;
        d
    }

    #[test]
    fn a_push_is_refused_when_the_inputs_went_stale_after_validation() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let mut scenario = crate::scenario::load(&path).expect("bundled scenario");
        let outage = crate::scenario::FaultSpec::BrokerOutage {
            at: crate::scenario::Dur::from_secs(700.0),
            duration: crate::scenario::Dur::from_secs(1800.0),
        };
        scenario.faults = vec![outage];
        let scenario = Arc::new(scenario);
        let mut app = headless_app(scenario.clone(), 1);
        crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, 1, None).expect("plant");
        app.update();
        crate::change::cli::run_for(&mut app, 600.0);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut d = approved_desk(&mut app, &dir);
        assert_eq!(d.push_blocker(&scenario), None);
        // The broker goes down at 700 s: two minutes later every signal is stale.
        crate::change::cli::run_for(&mut app, 220.0);
        let why = d.start_push(app.world()).unwrap_err();
        assert!(why.starts_with("the inputs are no longer fresh: P-101 ") && why.contains("is stale"), "{why}");
        assert!(!d.pushing() && !d.all_passed(), "validate again before a push");
        let (rows, _) = d.audit_rows(50);
        assert_eq!(rows[0].event, "push_refused");
        assert!(!rows.iter().any(|r| r.event == "push_start"));
    }

    #[test]
    fn an_approved_push_reaches_the_virtual_plc_and_is_read_back() {
        let (mut app, dir) = station();
        let mut d = approved_desk(&mut app, &dir);
        d.start_push(app.world()).unwrap();
        assert!(d.pushing());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while d.pushing() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            d.poll_push(app.world_mut());
        }
        let report = d.last_push.clone().expect("the push finished");
        assert!(report.alarm.is_none(), "{report:?}");
        assert!(report.writes.iter().all(|(_, wrote, read)| Some(*wrote) == *read), "{report:?}");
        app.update();
        assert_eq!(app.world().resource::<Setpoints>().live["P-101.speed"].value, 1460.0);
        assert!(d.drafts.is_empty() && app.world().resource::<Setpoints>().drafts.is_empty());
        let (rows, status) = d.audit_rows(100);
        assert!(status.starts_with("hash chain intact"), "{status}");
        assert!(rows.iter().any(|r| r.event == "readback"));
    }
}
