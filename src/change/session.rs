//! One change session, driven alike by `twin change` and by the workbench's change panel: it owns the drafts, their
//! validations, the approvals, the audit log, the PLC target, and the validation, what-if and push jobs. The CLI
//! runs each step to its end; the workbench starts the slow ones (the forecast's and the what-if's Monte Carlo, the
//! push's ramped writes) on worker threads and polls them once a frame, so no frame waits on them. Every step is
//! recorded in the audit log before it takes effect; a step that cannot be recorded does not happen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, bounded};
use serde_json::json;
use twin_models::whatif::Answer;

use super::approval::{self, ChangeSetDoc, Policy};
use super::audit::AuditLog;
use super::draft::Draft;
use super::push::{self, PushReport};
use super::validate::{self, Validation};
use super::whatif::{self, ChangeSet};
use super::{ChangeError, PlcTarget, apply_readback, connect, push_steps, writes_refusal};
use crate::scenario::Scenario;
use crate::sync::Setpoints;
use crate::twin::{LoadedScenario, SimClock};

/// A what-if answer, with what it was asked.
#[derive(Debug, Clone)]
pub struct WhatIfResult {
    pub pump: String,
    /// Simulated time of the fork, s (a plot draws the band from here).
    pub forked_at_s: f64,
    pub changes: ChangeSet,
    pub answer: Answer,
}

/// Validations running on a worker thread; `generation` is the drafts' at the start (an edit since voids them).
struct ValidationJob {
    rx: Receiver<Vec<Result<Validation, String>>>,
    author: String,
    generation: u64,
}

/// A what-if running on a worker thread.
struct WhatIfJob {
    rx: Receiver<Result<Answer, String>>,
    pump: String,
    forked_at_s: f64,
    changes: ChangeSet,
}

/// A push running on a worker thread; the audit log travels with it and comes back.
struct PushJob {
    rx: Receiver<(Result<PushReport, ChangeError>, AuditLog)>,
    drafts: Vec<u64>,
}

/// A push that may start: where, what, and at what pace.
struct PushPlan {
    target: PlcTarget,
    steps: Vec<push::Step>,
    timeout: Duration,
    interval: Duration,
}

impl PushPlan {
    /// Connects and writes; an unreachable PLC is recorded as an alarm ([`ChangeError::Unreachable`]).
    fn carry_out(&self, log: &mut AuditLog, actor: &str) -> Result<PushReport, ChangeError> {
        let client = connect(&self.target, self.timeout, log, actor)?;
        Ok(push::push(&client, &self.steps, self.interval, log, actor)?)
    }
}

/// Drafts, validations, approvals, the audit log and the background jobs of one engineer's change set.
pub struct ChangeSession {
    drafts: Vec<Draft>,
    next_id: u64,
    /// Bumped on every edit of the drafts: a validation started before it no longer holds.
    generation: u64,
    validations: BTreeMap<u64, Validation>,
    /// The approvals of the present drafts: approver's name by what makes it distinct (the public key of a signed
    /// approval, the name of a named one).
    approvals: BTreeMap<String, String>,
    /// Signed by a trusted key with the admin role: who enabled writes for the present drafts, name by public key.
    write_enablers: BTreeMap<String, String>,
    /// A change-set file the drafts were found to be (its signatures are over its hash); none after an edit.
    adopted: Option<ChangeSetDoc>,
    /// The approval policy for the scenario and target, read once (the trusted keys file) until the target changes.
    policy: std::sync::OnceLock<Policy>,
    target: Option<PlcTarget>,
    seed: u64,
    audit_path: PathBuf,
    /// The audit log, opened on first use (taken by a push while it runs).
    audit: Option<AuditLog>,
    validation_job: Option<ValidationJob>,
    whatif_job: Option<WhatIfJob>,
    push_job: Option<PushJob>,
    whatif: Option<WhatIfResult>,
    last_push: Option<PushReport>,
    log: Vec<String>,
}

impl ChangeSession {
    /// A session recording to the audit log at `audit_path`, pushing to `target`; `seed` seeds the forecasts'
    /// and what-ifs' Monte Carlo.
    pub fn new(audit_path: PathBuf, target: Option<PlcTarget>, seed: u64) -> Self {
        Self {
            drafts: Vec::new(),
            next_id: 0,
            generation: 0,
            validations: BTreeMap::new(),
            approvals: BTreeMap::new(),
            write_enablers: BTreeMap::new(),
            adopted: None,
            policy: std::sync::OnceLock::new(),
            target,
            seed,
            audit_path,
            audit: None,
            validation_job: None,
            whatif_job: None,
            push_job: None,
            whatif: None,
            last_push: None,
            log: Vec::new(),
        }
    }

    /// Opens the audit log now (the CLI does, so that an unwritable log is refused before anything else).
    pub fn open_audit(&mut self) -> Result<(), ChangeError> {
        if self.audit.is_none() {
            if self.push_job.is_some() {
                return Err(ChangeError::Invalid("the audit log is busy with a push".into()));
            }
            self.audit = Some(AuditLog::open(&self.audit_path)?);
        }
        Ok(())
    }

    fn audit(&mut self, actor: &str, event: &str, data: serde_json::Value) -> Result<(), ChangeError> {
        self.open_audit()?;
        let log = self.audit.as_mut().ok_or_else(|| ChangeError::Invalid("no audit log".into()))?;
        log.append(actor, event, &data)?;
        Ok(())
    }

    /// Adds a line to the session's log (what happened, newest last; the newest 200 are kept).
    pub fn note(&mut self, s: impl Into<String>) {
        self.log.push(s.into());
        if self.log.len() > 200 {
            self.log.remove(0);
        }
    }

    /// The open drafts, in the order they were made.
    pub fn drafts(&self) -> &[Draft] {
        &self.drafts
    }

    /// The latest validation of draft `id` (none before it was validated, or after an edit).
    pub fn validation(&self, id: u64) -> Option<&Validation> {
        self.validations.get(&id)
    }

    /// Who approved the present drafts, one name per distinct approval (key, or name).
    pub fn approvals(&self) -> Vec<&str> {
        self.approvals.values().map(String::as_str).collect()
    }

    /// Who enabled writes for the present drafts with an admin's signature (signed approvals only).
    pub fn write_enablers(&self) -> Vec<&str> {
        self.write_enablers.values().map(String::as_str).collect()
    }

    /// Where a push writes.
    pub fn target(&self) -> Option<PlcTarget> {
        self.target.clone()
    }

    /// Makes `target` the PLC pushes write to (the drafts' validations stand: the target is no layer's input).
    pub fn set_target(&mut self, target: Option<PlcTarget>) {
        self.target = target;
        self.policy = std::sync::OnceLock::new();
    }

    /// The audit log's path.
    pub fn audit_path(&self) -> &Path {
        &self.audit_path
    }

    /// The latest what-if answer.
    pub fn whatif(&self) -> Option<&WhatIfResult> {
        self.whatif.as_ref()
    }

    /// The latest push's report.
    pub fn last_push(&self) -> Option<&PushReport> {
        self.last_push.as_ref()
    }

    /// What happened, newest last.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// The drafts changed: earlier validations and approvals no longer hold.
    fn edited(&mut self) {
        self.generation += 1;
        self.validations.clear();
        self.approvals.clear();
        self.write_enablers.clear();
        self.adopted = None;
    }

    /// `author` drafts `setpoint` to `value` (in the set-point's unit) against its live version in `world`; a
    /// draft of the same set-point made earlier is replaced.
    pub fn draft(&mut self, world: &World, setpoint: &str, value: f64, author: &str) -> Result<u64, ChangeError> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        let sp = scenario
            .setpoints
            .iter()
            .find(|s| s.id == setpoint)
            .ok_or_else(|| ChangeError::UnknownSetpoint(setpoint.into()))?;
        let conv =
            sp.target.quantity().converter(&sp.unit).ok_or_else(|| ChangeError::UnknownSetpoint(sp.id.clone()))?;
        if !value.is_finite() {
            return Err(ChangeError::Invalid(format!("{setpoint}: the value must be finite")));
        }
        let now = world.resource::<SimClock>().now_s;
        let draft = Draft::against(
            world.resource::<Setpoints>(),
            self.next_id + 1,
            setpoint,
            conv.to_canonical(value),
            author,
            now,
        )?;
        let based_on = (draft.based_on_value, draft.based_on_version);
        self.audit(
            author,
            "draft",
            json!({"draft": draft.id, "setpoint": sp.id, "value": value, "unit": sp.unit, "based_on": based_on, "sim_s": now}),
        )?;
        self.next_id = draft.id;
        self.drafts.retain(|d| d.setpoint != setpoint);
        self.drafts.push(draft);
        self.edited();
        self.note(format!("draft {}: {setpoint} → {value} {}", self.next_id, sp.unit));
        Ok(self.next_id)
    }

    /// `author` discards draft `id`.
    pub fn discard(&mut self, id: u64, author: &str) -> Result<(), ChangeError> {
        if !self.drafts.iter().any(|d| d.id == id) {
            return Err(ChangeError::UnknownDraft(id));
        }
        self.audit(author, "discard", json!({"draft": id}))?;
        self.drafts.retain(|d| d.id != id);
        self.edited();
        self.note(format!("draft {id} discarded"));
        Ok(())
    }

    /// `author` rebases draft `id` on the live set-point's present version (after a change made at the HMI),
    /// keeping its value.
    pub fn rebase(&mut self, world: &World, id: u64, author: &str) -> Result<(), ChangeError> {
        let live = world.resource::<Setpoints>();
        let i = self.drafts.iter().position(|d| d.id == id).ok_or(ChangeError::UnknownDraft(id))?;
        let mut d = self.drafts[i].clone();
        d.rebase(live)?;
        self.audit(author, "rebase", json!({"draft": id, "based_on": (d.based_on_value, d.based_on_version)}))?;
        self.drafts[i] = d;
        self.edited();
        self.note(format!("draft {id} rebased on the live value"));
        Ok(())
    }

    /// Records a finished validation.
    fn record(&mut self, v: Validation, author: &str) -> Result<(), ChangeError> {
        self.audit(author, "validation", json!({"draft": v.draft, "passed": v.passed(), "verdicts": v.verdicts}))?;
        let failed: Vec<String> = v.verdicts.iter().filter(|x| !x.passed).map(|x| format!("{:?}", x.layer)).collect();
        self.note(if failed.is_empty() {
            format!("draft {}: every layer passed", v.draft)
        } else {
            format!("draft {}: rejected by {}", v.draft, failed.join(", "))
        });
        self.validations.insert(v.draft, v);
        Ok(())
    }

    /// Validates every draft on the twin in `world`, every layer, the forecast included, before returning.
    pub fn validate(&mut self, world: &World, author: &str) -> Result<(), ChangeError> {
        self.edited();
        for d in self.drafts.clone() {
            let v = validate::validate(world, &d, self.seed)?;
            self.record(v, author)?;
        }
        Ok(())
    }

    /// Starts validating every draft: every layer but the forecast is decided now, on the twin in `world`; the
    /// forecasts run on a worker thread and [`Self::poll`] takes them.
    pub fn start_validation(&mut self, world: &World, author: &str) -> Result<(), ChangeError> {
        self.edited();
        let pending: Vec<validate::Pending> =
            self.drafts.iter().map(|d| validate::prepare(world, d, self.seed)).collect::<Result<_, _>>()?;
        let (tx, rx) = bounded(1);
        std::thread::Builder::new()
            .name("twin-validate".into())
            .spawn(move || {
                let done = pending.into_iter().map(|p| p.finish().map_err(|e| e.to_string())).collect();
                let _ = tx.send(done);
            })
            .map_err(|e| ChangeError::Invalid(format!("cannot start the validation: {e}")))?;
        self.validation_job = Some(ValidationJob { rx, author: author.into(), generation: self.generation });
        self.note("validating…");
        Ok(())
    }

    /// Whether validations are running.
    pub fn validating(&self) -> bool {
        self.validation_job.is_some()
    }

    /// Whether every draft is validated (since its last edit) and passed every layer.
    pub fn all_passed(&self) -> bool {
        !self.drafts.is_empty()
            && self.drafts.iter().all(|d| self.validations.get(&d.id).is_some_and(Validation::passed))
    }

    /// The validated drafts as the change-set document approvals sign (the adopted file's, when one was
    /// adopted); none until every draft passed every layer.
    pub fn change_set(&self, scenario: &Scenario) -> Option<ChangeSetDoc> {
        if !self.all_passed() {
            return None;
        }
        if let Some(doc) = &self.adopted {
            return Some(doc.clone());
        }
        let validations: Vec<&Validation> = self.drafts.iter().filter_map(|d| self.validations.get(&d.id)).collect();
        Some(ChangeSetDoc::of(scenario, self.target.as_ref(), &validations))
    }

    /// Takes the change-set file `doc` (signed elsewhere) as the drafts' document, once they are validated: it must
    /// ask for the same writes as the drafts validated here, now (recorded either way). Its signatures are then
    /// checked against its hash.
    pub fn adopt(&mut self, scenario: &Scenario, doc: ChangeSetDoc, actor: &str) -> Result<(), ChangeError> {
        self.adopted = None;
        let Some(own) = self.change_set(scenario) else {
            return Err(ChangeError::Invalid("validate the drafts first: every layer must pass".into()));
        };
        let differences = own.differences(&doc);
        if !differences.is_empty() {
            let why = format!(
                "the change-set file is not the change validated now: {}; its signatures do not apply",
                differences.join("; ")
            );
            self.audit(actor, "change_set_refused", json!({"change_hash": doc.hash(), "reason": why}))?;
            self.note(why.clone());
            return Err(ChangeError::Refused(why));
        }
        self.audit(actor, "change_set", json!({"change_hash": doc.hash(), "validated_hash": own.hash()}))?;
        self.adopted = Some(doc);
        Ok(())
    }

    /// `name` approves the validated drafts (only where the scenario's policy takes names: the virtual plant's
    /// PLC, without trusted keys).
    pub fn approve(&mut self, scenario: &Scenario, name: &str) -> Result<(), ChangeError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ChangeError::Invalid("an approval needs a name".into()));
        }
        if !self.all_passed() {
            return Err(ChangeError::Invalid("only validated drafts that passed every layer can be approved".into()));
        }
        match self.policy(scenario).clone() {
            Policy::Names => {}
            Policy::Signed(_) => {
                return self.refuse_approval(
                    name,
                    json!({"signer": name}),
                    format!("{name}: this scenario's changes need signed approvals (a key, not a name)"),
                );
            }
            Policy::Refused(why) => return self.refuse_approval(name, json!({"signer": name}), why),
        }
        let ids: Vec<u64> = self.drafts.iter().map(|d| d.id).collect();
        self.audit(name, "approval", json!({"drafts": ids}))?;
        if self.approvals.insert(name.to_owned(), name.to_owned()).is_none() {
            self.note(format!("approved by {name}"));
        }
        Ok(())
    }

    /// Takes `sig` for the validated drafts: it must be a valid signature over their change set's hash by a
    /// trusted key of the scenario with the engineer role (an approval) or the admin role (writes enabled for this
    /// change), or both. A refusal is recorded (and returned as [`ChangeError::Refused`]); the same key twice
    /// counts once. Returns the signer's trusted name.
    pub fn approve_signed(
        &mut self,
        scenario: &Scenario,
        sig: &twin_sign::SignatureFile,
    ) -> Result<String, ChangeError> {
        let Some(doc) = self.change_set(scenario) else {
            return Err(ChangeError::Invalid("only validated drafts that passed every layer can be approved".into()));
        };
        let hash = doc.hash();
        let claimed = json!({"signer": sig.signer, "public_key": sig.public_key, "change_hash": sig.change_hash,
            "signature": sig.signature, "expected_hash": hash});
        let trust = match self.policy(scenario).clone() {
            Policy::Signed(t) => t,
            Policy::Names => {
                let why = "this scenario names no trusted keys (change: (trusted_keys: …)): a signature cannot be \
                           checked"
                    .to_string();
                return self.refuse_approval(&sig.signer, claimed, why);
            }
            Policy::Refused(why) => return self.refuse_approval(&sig.signer, claimed, why),
        };
        let approver = match trust.check_approval(sig, &hash) {
            Ok(a) => a,
            Err(why) => return self.refuse_approval(&sig.signer, claimed, why),
        };
        let ids: Vec<u64> = self.drafts.iter().map(|d| d.id).collect();
        // An engineer's signature is an approval; an admin's alone enables writes and is logged as such, so that
        // `twin audit verify` never counts it as an approval.
        let event = if approver.engineer { "approval" } else { "writes_enabled" };
        self.audit(
            &approver.name,
            event,
            json!({"drafts": ids, "signer": approver.name, "public_key": sig.public_key, "change_hash": hash,
                "signature": sig.signature, "engineer": approver.engineer, "admin": approver.admin}),
        )?;
        let key = short_key(&approver.public_key);
        let (name, public_key) = (approver.name.clone(), approver.public_key.clone());
        let mut counted = false;
        if approver.engineer && self.approvals.insert(public_key.clone(), name.clone()).is_none() {
            self.note(format!("approved by {name} (signed, key {key})"));
            counted = true;
        }
        if approver.admin && self.write_enablers.insert(public_key, name.clone()).is_none() {
            self.note(format!("writes enabled by {name} (signed, admin key {key})"));
            counted = true;
        }
        if !counted {
            self.note(format!("{name}'s key signed again: it counts once"));
        }
        Ok(approver.name)
    }

    /// How the drafts are approved (see [`approval::policy`]).
    pub fn policy(&self, scenario: &Scenario) -> &Policy {
        self.policy.get_or_init(|| approval::policy(scenario, self.target.as_ref()))
    }

    /// Records a refused approval and returns the refusal.
    fn refuse_approval<T>(&mut self, actor: &str, mut data: serde_json::Value, why: String) -> Result<T, ChangeError> {
        data["reason"] = json!(why);
        self.audit(actor, "approval_refused", data)?;
        self.note(format!("approval refused: {why}"));
        Err(ChangeError::Refused(why))
    }

    /// Why the drafts are not ready to push (a push running, a layer not passed, approvals missing).
    fn not_ready(&self, scenario: &Scenario) -> Option<String> {
        if self.push_job.is_some() {
            return Some("a push is running".into());
        }
        if !self.all_passed() {
            return Some("validate the drafts first: every layer must pass".into());
        }
        if let Policy::Refused(why) = self.policy(scenario) {
            return Some(why.clone());
        }
        let need = usize::from(scenario.change.approvals);
        (self.approvals.len() < need).then(|| format!("{} of {need} approval(s)", self.approvals.len()))
    }

    /// Why a push cannot start now (`None`: it can); `user_allows` is the user's writes switch.
    pub fn push_blocker(&self, scenario: &Scenario, user_allows: bool) -> Option<String> {
        self.not_ready(scenario)
            .or_else(|| writes_refusal(scenario, user_allows, self.target.as_ref()))
            .or_else(|| self.admin_refusal(scenario))
    }

    /// Where the scenario takes signed approvals, writes are enabled for a change only by the signature of a
    /// trusted key with the admin role: why not, if none signed it.
    fn admin_refusal(&self, scenario: &Scenario) -> Option<String> {
        let Policy::Signed(trust) = self.policy(scenario) else { return None };
        let admins: Vec<&str> =
            trust.keys().filter(|k| k.roles.contains(&twin_sign::Role::Admin)).map(|k| k.name.as_str()).collect();
        self.write_enablers.is_empty().then(|| {
            format!(
                "writes are not enabled: the change needs the signature of a key with the admin role ({} in {})",
                if admins.is_empty() { "none".to_string() } else { admins.join(", ") },
                trust.path().display()
            )
        })
    }

    /// Everything a push needs, checked, with its start recorded. A refusal by the writes gate, or because the
    /// inputs the validation was made on are no longer fresh, is recorded and is [`ChangeError::Refused`].
    fn begin_push(&mut self, world: &World, author: &str, user_allows: bool) -> Result<PushPlan, ChangeError> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        if let Some(why) = self.not_ready(&scenario) {
            return Err(ChangeError::Invalid(why));
        }
        let refusal = writes_refusal(&scenario, user_allows, self.target.as_ref())
            .or_else(|| self.admin_refusal(&scenario))
            .or_else(|| {
                // A validation is only as good as the inputs it was made on: they must still be fresh now.
                let mut assets: Vec<&str> = self
                    .drafts
                    .iter()
                    .filter_map(|d| scenario.setpoints.iter().find(|s| s.id == d.setpoint).map(|s| s.asset.as_str()))
                    .collect();
                assets.sort_unstable();
                assets.dedup();
                let problems: Vec<String> = assets.iter().flat_map(|a| validate::input_problems(world, a)).collect();
                (!problems.is_empty())
                    .then(|| format!("the inputs are no longer fresh: {}; validate again", problems.join("; ")))
            });
        let target = match (refusal, self.target.clone()) {
            (None, Some(t)) => t,
            (why, _) => {
                let why = why.unwrap_or_else(|| "no PLC to write to".into());
                self.audit(author, "push_refused", json!({"reason": why}))?;
                if why.starts_with("the inputs") {
                    self.edited();
                }
                self.note(why.clone());
                return Err(ChangeError::Refused(why));
            }
        };
        let validations: Vec<Validation> =
            self.drafts.iter().filter_map(|d| self.validations.get(&d.id).cloned()).collect();
        let ids: Vec<u64> = self.drafts.iter().map(|d| d.id).collect();
        let doc = self.change_set(&scenario);
        let approvers: Vec<&str> = self.approvals.values().map(String::as_str).collect();
        let signed = matches!(self.policy(&scenario), Policy::Signed(_));
        let enabled_by: Vec<&str> = self.write_enablers.values().map(String::as_str).collect();
        let enabled_keys: Vec<&str> = self.write_enablers.keys().map(String::as_str).collect();
        self.audit(
            author,
            "push_start",
            json!({"target": target.to_string(), "drafts": ids, "change_hash": doc.map(|d| d.hash()),
                "approvers": approvers, "approvals_required": scenario.change.approvals, "signed": signed,
                "writes_enabled_by": enabled_by, "writes_enabled_keys": enabled_keys}),
        )?;
        Ok(PushPlan {
            steps: push_steps(&scenario, &target, &validations),
            target,
            timeout: Duration::from_secs_f64(scenario.change.timeout.secs()),
            interval: Duration::from_secs_f64(scenario.change.ramp_interval.secs()),
        })
    }

    /// A push ended: its read-back becomes the live set-points, its drafts are closed.
    fn end_push(&mut self, world: &mut World, drafts: &[u64], result: &Result<PushReport, ChangeError>) {
        match result {
            Ok(report) => {
                let scenario = world.resource::<LoadedScenario>().0.clone();
                apply_readback(world, &scenario, report);
                self.note(match &report.alarm {
                    Some(a) => format!("ROLLED BACK: {a}"),
                    None => format!("pushed: {} write(s), each read back", report.writes.len()),
                });
                self.last_push = Some(report.clone());
            }
            Err(e) => self.note(format!("push failed: {e}")),
        }
        self.drafts.retain(|d| !drafts.contains(&d.id));
        self.edited();
    }

    /// Pushes the approved drafts to the PLC (ramped writes with read-back; rollback on a mismatch or timeout),
    /// returning when done; `on_target` hears the PLC before the first write.
    pub fn push(
        &mut self,
        world: &mut World,
        author: &str,
        user_allows: bool,
        on_target: &mut dyn FnMut(&PlcTarget),
    ) -> Result<PushReport, ChangeError> {
        let plan = self.begin_push(world, author, user_allows)?;
        on_target(&plan.target);
        let drafts: Vec<u64> = self.drafts.iter().map(|d| d.id).collect();
        let mut log = self.audit.take().ok_or_else(|| ChangeError::Invalid("no audit log".into()))?;
        let result = plan.carry_out(&mut log, author);
        self.audit = Some(log);
        self.end_push(world, &drafts, &result);
        result
    }

    /// Starts the push on a worker thread; [`Self::poll`] takes its end.
    pub fn start_push(&mut self, world: &World, author: &str, user_allows: bool) -> Result<(), ChangeError> {
        let plan = self.begin_push(world, author, user_allows)?;
        let mut log = self.audit.take().ok_or_else(|| ChangeError::Invalid("no audit log".into()))?;
        let actor = author.to_owned();
        let (tx, rx) = bounded(1);
        let target = plan.target.clone();
        std::thread::Builder::new()
            .name("twin-push".into())
            .spawn(move || {
                let result = plan.carry_out(&mut log, &actor);
                let _ = tx.send((result, log));
            })
            .map_err(|e| ChangeError::Invalid(format!("cannot start the push: {e}")))?;
        self.note(format!("pushing to {target}…"));
        self.push_job = Some(PushJob { rx, drafts: self.drafts.iter().map(|d| d.id).collect() });
        Ok(())
    }

    /// Whether a push is running.
    pub fn pushing(&self) -> bool {
        self.push_job.is_some()
    }

    /// Starts the what-if of the drafts acting on `pump` on a worker thread; [`Self::poll`] takes the answer.
    pub fn start_whatif(
        &mut self,
        world: &World,
        pump: &str,
        horizon_s: f64,
        samples: usize,
    ) -> Result<(), ChangeError> {
        let scenario = world.resource::<LoadedScenario>().0.clone();
        let changes = ChangeSet {
            setpoints: self
                .drafts
                .iter()
                .filter_map(|d| {
                    let sp = scenario.setpoints.iter().find(|s| s.id == d.setpoint && s.asset == pump)?;
                    let c = sp.target.quantity().converter(&sp.unit)?;
                    Some((d.setpoint.clone(), c.from_canonical(d.value)))
                })
                .collect(),
            defer_maintenance_s: 0.0,
        };
        let mut study = whatif::fork(world, pump, horizon_s, samples, self.seed)?;
        whatif::apply(world, &mut study, pump, &changes)?;
        let (tx, rx) = bounded(1);
        std::thread::Builder::new()
            .name("twin-whatif".into())
            .spawn(move || {
                let _ = tx.send(twin_models::whatif::run(&study).map_err(|e| e.to_string()));
            })
            .map_err(|e| ChangeError::Invalid(format!("cannot start the what-if: {e}")))?;
        let now = world.resource::<SimClock>().now_s;
        self.whatif_job = Some(WhatIfJob { rx, pump: pump.to_owned(), forked_at_s: now, changes });
        self.note(format!("what-if on {pump} running…"));
        Ok(())
    }

    /// Whether a what-if is running.
    pub fn asking(&self) -> bool {
        self.whatif_job.is_some()
    }

    /// Takes whatever the worker threads finished: validations (recorded, unless the drafts changed since they
    /// started), a what-if answer, a push's end.
    pub fn poll(&mut self, world: &mut World) {
        if let Some(job) = &self.validation_job
            && let Ok(results) = job.rx.try_recv()
        {
            let job = self.validation_job.take().expect("checked");
            if job.generation != self.generation {
                self.note("validation discarded: the drafts changed while it ran; validate again");
            } else {
                for r in results {
                    if let Err(e) = r.map_err(ChangeError::Invalid).and_then(|v| self.record(v, &job.author)) {
                        self.note(format!("validation failed: {e}"));
                    }
                }
            }
        }
        if let Some(job) = &self.whatif_job
            && let Ok(result) = job.rx.try_recv()
        {
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
        if let Some(job) = &self.push_job
            && let Ok((result, log)) = job.rx.try_recv()
        {
            let job = self.push_job.take().expect("checked");
            self.audit = Some(log);
            self.end_push(world, &job.drafts, &result);
        }
    }

    /// Waits (up to `limit`) for the running jobs to end, taking them; for scripts and tests.
    pub fn settle(&mut self, world: &mut World, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while (self.validating() || self.asking() || self.pushing()) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            self.poll(world);
        }
    }
}

/// A public key's first characters, for a person.
fn short_key(key: &str) -> &str {
    key.get(..8).unwrap_or(key)
}
