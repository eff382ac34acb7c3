//! Safe set-point changes: what-if forks of the live twin, layered validation of drafted changes, approval,
//! the push to the PLC with ramping, read-back and rollback, and the audit log of all of it.
//!
//! Nothing is written to a PLC unless the scenario allows writes (`change: (allow_writes: true)`), the user
//! enables them (`--allow-writes` or the GUI switch), every layer of validation passed and the change holds the
//! approvals the scenario asks for. The target is named in the audit log (and by the CLI) before any write.

pub mod audit;
pub mod cli;
pub mod push;
pub mod validate;
pub mod whatif;

use std::net::SocketAddr;
use std::time::Duration;

use bevy::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::scenario::Scenario;
use crate::sync::{SetpointReported, Setpoints};
use crate::twin::{LoadedScenario, SimClock};
use audit::{AuditError, AuditLog};
use validate::Validation;

/// Why a change or a what-if could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("unknown asset \"{0}\"")]
    UnknownAsset(String),
    #[error("\"{0}\" is not a pump")]
    NotAPump(String),
    #[error("unknown set-point \"{0}\"")]
    UnknownSetpoint(String),
    #[error("no draft {0}")]
    UnknownDraft(u64),
    #[error("{0}")]
    Invalid(String),
    #[error("what-if: {0}")]
    WhatIf(#[from] twin_models::whatif::WhatIfError),
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("PLC: {0}")]
    Plc(#[from] twin_modbus::PlcError),
    /// The PLC could not be reached (recorded as an alarm in the audit log; nothing was written).
    #[error("{0}")]
    Unreachable(String),
}

/// A change request as the CLI (or a script) makes it.
#[derive(Debug, Clone)]
pub struct ChangeRequest {
    /// (set-point id, value in its unit).
    pub sets: Vec<(String, f64)>,
    /// Who drafts it.
    pub author: String,
    /// Who approves it (distinct names count).
    pub approvers: Vec<String>,
    /// The user enables writes (the scenario must too).
    pub allow_writes: bool,
    /// Seed of the validation's Monte Carlo.
    pub seed: u64,
}

/// Where writes go.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlcTarget {
    pub addr: SocketAddr,
    pub unit_id: u8,
    /// The virtual plant's PLC (not a real device).
    pub virtual_plc: bool,
}

impl std::fmt::Display for PlcTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.virtual_plc { " (the virtual plant's PLC)" } else { "" };
        write!(f, "Modbus TCP {} unit {}{what}", self.addr, self.unit_id)
    }
}

/// The PLC target of a real Modbus TCP device, or why its address does not resolve.
pub fn real_plc(spec: &crate::scenario::ModbusSpec) -> Result<PlcTarget, String> {
    use std::net::ToSocketAddrs;
    let addr = spec
        .addr
        .to_socket_addrs()
        .map_err(|e| format!("PLC address \"{}\": {e}", spec.addr))?
        .next()
        .ok_or_else(|| format!("PLC address \"{}\" resolves to nothing", spec.addr))?;
    Ok(PlcTarget { addr, unit_id: spec.unit_id, virtual_plc: false })
}

/// How a change request ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Status {
    /// Validation rejected it (nothing written).
    Rejected,
    /// Valid, but without the approvals it needs (nothing written).
    AwaitingApproval,
    /// Valid and approved, but writes are not enabled (nothing written); the reason.
    WritesDisabled(String),
    /// Written and verified.
    Pushed,
    /// Written, then rolled back; the alarm.
    RolledBack(String),
}

/// The result of [`run_change`].
#[derive(Debug, Clone, Serialize)]
pub struct ChangeOutcome {
    /// Draft ids, in request order.
    pub drafts: Vec<u64>,
    /// Their validations.
    pub validations: Vec<Validation>,
    /// The push, when one happened.
    pub push: Option<push::PushReport>,
    /// The PLC written to, when one was.
    pub target: Option<PlcTarget>,
    pub status: Status,
}

/// Drafts, validates, approves and (when everything allows it) pushes a change set, recording each step in
/// `audit`. `target` is the PLC to write to. The twin's live set-points take the values read back from the PLC.
pub fn run_change(
    app: &mut App,
    req: &ChangeRequest,
    audit: &mut AuditLog,
    target: Option<PlcTarget>,
    on_target: &mut dyn FnMut(&PlcTarget),
) -> Result<ChangeOutcome, ChangeError> {
    let scenario = app.world().resource::<LoadedScenario>().0.clone();
    let now = app.world().resource::<SimClock>().now_s;
    let actor = req.author.as_str();
    // Drafts.
    let mut drafts = Vec::new();
    for (id, value) in &req.sets {
        let sp =
            scenario.setpoints.iter().find(|s| &s.id == id).ok_or_else(|| ChangeError::UnknownSetpoint(id.clone()))?;
        let conv = sp.target.quantity().converter(&sp.unit).ok_or_else(|| ChangeError::UnknownSetpoint(id.clone()))?;
        let mut setpoints = app.world_mut().resource_mut::<Setpoints>();
        let d = setpoints
            .draft(id, conv.to_canonical(*value), actor, now)
            .map_err(|e| ChangeError::Invalid(e.to_string()))?;
        let live = setpoints.get(d).map(|d| (d.based_on_value, d.based_on_version));
        audit.append(
            actor,
            "draft",
            &json!({"draft": d, "setpoint": id, "value": value, "unit": sp.unit, "based_on": live, "sim_s": now}),
        )?;
        drafts.push(d);
    }
    // Validation.
    let mut validations = Vec::new();
    for &d in &drafts {
        let v = validate::validate(app.world(), d, req.seed)?;
        audit.append(actor, "validation", &json!({"draft": d, "passed": v.passed(), "verdicts": v.verdicts}))?;
        validations.push(v);
    }
    let done =
        |status, validations, push, target| ChangeOutcome { drafts: drafts.clone(), validations, push, target, status };
    if !validations.iter().all(Validation::passed) {
        return Ok(done(Status::Rejected, validations, None, None));
    }
    // Approval.
    let mut approvers: Vec<&str> = req.approvers.iter().map(String::as_str).collect();
    approvers.sort_unstable();
    approvers.dedup();
    for a in &approvers {
        audit.append(a, "approval", &json!({"drafts": drafts}))?;
    }
    if approvers.len() < usize::from(scenario.change.approvals) {
        return Ok(done(Status::AwaitingApproval, validations, None, None));
    }
    // Writes gate.
    if let Some(why) = writes_refusal(&scenario, req.allow_writes, target.as_ref()) {
        audit.append(actor, "push_refused", &json!({"reason": why}))?;
        return Ok(done(Status::WritesDisabled(why), validations, None, None));
    }
    let Some(target) = target else { unreachable!("checked above") };
    on_target(&target);
    audit.append(actor, "push_start", &json!({"target": target.to_string(), "drafts": drafts}))?;
    let timeout = Duration::from_secs_f64(scenario.change.timeout.secs());
    let client = match connect(&target, timeout, audit, actor) {
        Ok(c) => c,
        Err(ChangeError::Unreachable(alarm)) => {
            return Ok(done(Status::RolledBack(alarm), validations, None, Some(target)));
        }
        Err(e) => return Err(e),
    };
    let steps = push_steps(&scenario, &validations);
    let interval = Duration::from_secs_f64(scenario.change.ramp_interval.secs());
    let report = push::push(&client, &steps, interval, audit, actor)?;
    apply_readback(app.world_mut(), &scenario, &report);
    let status = match &report.alarm {
        Some(a) => Status::RolledBack(a.clone()),
        None => Status::Pushed,
    };
    Ok(done(status, validations, Some(report), Some(target)))
}

/// Connects to the PLC a push writes to. When it cannot be reached, the alarm (nothing was written) is recorded in
/// `audit` and returned as [`ChangeError::Unreachable`]; a failure to write the audit log is [`ChangeError::Audit`].
pub fn connect(
    target: &PlcTarget,
    timeout: Duration,
    audit: &mut AuditLog,
    actor: &str,
) -> Result<twin_modbus::PlcClient, ChangeError> {
    twin_modbus::PlcClient::connect(target.addr, target.unit_id, timeout).or_else(|e| {
        let alarm = format!("cannot reach the PLC at {target}: {e}; nothing written");
        audit.append(actor, "alarm", &json!({"alarm": alarm}))?;
        Err(ChangeError::Unreachable(alarm))
    })
}

/// Why writes may not happen now (`None`: they may): the scenario must allow them, the user must enable them, and
/// there must be a PLC.
pub fn writes_refusal(scenario: &Scenario, user_allows: bool, target: Option<&PlcTarget>) -> Option<String> {
    match (scenario.change.allow_writes, user_allows, target) {
        (false, _, _) => Some("the scenario does not allow writes (change: (allow_writes: false))".to_string()),
        (_, false, _) => Some("writes are not enabled by the user (--allow-writes)".to_string()),
        (_, _, None) => Some("no PLC to write to".to_string()),
        _ => None,
    }
}

/// The register writes that carry out validated drafts: each set-point's ramp, with the value to roll back to.
pub fn push_steps(scenario: &Scenario, validations: &[Validation]) -> Vec<push::Step> {
    validations
        .iter()
        .filter_map(|v| {
            let sp = scenario.setpoints.iter().find(|s| s.id == v.setpoint)?;
            Some(push::Step {
                setpoint: v.setpoint.clone(),
                spec: sp.plc.spec(),
                values: v.ramp.clone(),
                previous: v.from,
            })
        })
        .collect()
}

/// Reads every set-point of the scenario from the PLC at `target` and makes those values the twin's live ones (they
/// arrive as PLC reports at the next tick), so that drafts, ramps and the models start from what the PLC holds
/// now, not from the scenario's initial values. Returns the values read, in the set-points' units.
pub fn read_live_setpoints(
    world: &mut World,
    scenario: &Scenario,
    target: &PlcTarget,
) -> Result<Vec<(String, f64)>, String> {
    let timeout = Duration::from_secs_f64(scenario.change.timeout.secs());
    let client = twin_modbus::PlcClient::connect(target.addr, target.unit_id, timeout)
        .map_err(|e| format!("cannot reach the PLC at {target} to read the live set-points: {e}"))?;
    let mut read = Vec::new();
    for sp in &scenario.setpoints {
        let value = client
            .read_value(&sp.plc.spec())
            .map_err(|e| format!("cannot read {} from the PLC at {target}: {e}", sp.id))?;
        let Some(c) = sp.target.quantity().converter(&sp.unit) else { continue };
        if value.is_finite() {
            world.write_message(SetpointReported { setpoint: sp.id.clone(), value: c.to_canonical(value) });
        }
        read.push((sp.id.clone(), value));
    }
    Ok(read)
}

/// Makes the PLC's read-back the twin's live set-point values (they arrive as PLC reports at the next tick).
pub fn apply_readback(world: &mut World, scenario: &Scenario, report: &push::PushReport) {
    for (id, value) in &report.final_values {
        let Some(sp) = scenario.setpoints.iter().find(|s| &s.id == id) else { continue };
        if let (Some(c), true) = (sp.target.quantity().converter(&sp.unit), value.is_finite()) {
            world.write_message(SetpointReported { setpoint: id.clone(), value: c.to_canonical(*value) });
        }
    }
}
