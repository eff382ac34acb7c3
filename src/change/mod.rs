//! Safe set-point changes: what-if forks of the live twin, layered validation of drafted changes, approval,
//! the push to the PLC with ramping, read-back and rollback, and the audit log of all of it.
//!
//! Nothing is written to a PLC unless the scenario allows writes (`change: (allow_writes: true)`), the user
//! enables them (`--allow-writes` or the GUI switch), every layer of validation passed and the change holds the
//! approvals the scenario asks for. The target is named in the audit log (and by the CLI) before any write.

pub mod approval;
pub mod audit;
pub mod cli;
pub mod draft;
pub mod push;
pub mod session;
pub mod validate;
pub mod whatif;

use std::net::SocketAddr;
use std::time::Duration;

use bevy::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::scenario::Scenario;
use crate::sync::SetpointReported;
use crate::twin::LoadedScenario;
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
    /// A push was refused: writes not allowed, or inputs no longer fresh (recorded in the audit log).
    #[error("{0}")]
    Refused(String),
}

/// A change request as the CLI (or a script) makes it.
#[derive(Debug, Clone, Default)]
pub struct ChangeRequest {
    /// (set-point id, value in its unit).
    pub sets: Vec<(String, f64)>,
    /// Who drafts it.
    pub author: String,
    /// Who approves it by name (distinct names count; only for the virtual plant's PLC without trusted keys).
    pub approvers: Vec<String>,
    /// Keys that sign the validated change set here: (the signer's name, the key).
    pub signers: Vec<(String, twin_sign::SigningKey)>,
    /// Approvals signed elsewhere (`twin approve`), over `change_set`'s hash.
    pub signatures: Vec<twin_sign::SignatureFile>,
    /// The change-set file the signatures were made over: the drafts validated now must ask for the same writes.
    pub change_set: Option<approval::ChangeSetDoc>,
    /// Write the validated change set to this file for signing, and stop (nothing is approved or written).
    pub export: Option<std::path::PathBuf>,
    /// The user enables writes (the scenario must too).
    pub allow_writes: bool,
}

/// Where writes go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum PlcTarget {
    /// A Modbus TCP device, or the virtual plant's PLC.
    Modbus {
        addr: SocketAddr,
        unit_id: u8,
        /// The virtual plant's PLC (not a real device).
        virtual_plc: bool,
    },
    /// A PLC's OPC UA server.
    OpcUa(crate::scenario::OpcUaEndpointSpec),
}

impl PlcTarget {
    /// Whether it is the virtual plant's PLC (not a real device).
    pub fn is_virtual(&self) -> bool {
        matches!(self, PlcTarget::Modbus { virtual_plc: true, .. })
    }

    /// A Modbus target's address.
    pub fn modbus_addr(&self) -> Option<SocketAddr> {
        match self {
            PlcTarget::Modbus { addr, .. } => Some(*addr),
            PlcTarget::OpcUa(_) => None,
        }
    }

    /// Connects within `timeout`.
    pub fn connect(&self, timeout: Duration) -> Result<push::PlcConn, String> {
        match self {
            PlcTarget::Modbus { addr, unit_id, .. } => twin_modbus::PlcClient::connect(*addr, *unit_id, timeout)
                .map(push::PlcConn::Modbus)
                .map_err(|e| e.to_string()),
            PlcTarget::OpcUa(e) => {
                let cfg = crate::ingest::opcua::client_config(e, timeout)?;
                twin_opcua::OpcUaClient::start(cfg).map(push::PlcConn::OpcUa).map_err(|e| e.to_string())
            }
        }
    }

    /// Where set-point `sp` lives on this PLC, if it has an address there.
    pub fn tag(&self, sp: &crate::scenario::SetpointSpec) -> Option<push::PlcTag> {
        match self {
            PlcTarget::Modbus { .. } => sp.plc.as_ref().map(|p| push::PlcTag::Register(p.spec())),
            PlcTarget::OpcUa(_) => {
                sp.opcua.as_ref().map(|t| push::PlcTag::Node { node: t.node.clone(), data_type: t.data_type })
            }
        }
    }
}

impl std::fmt::Display for PlcTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlcTarget::Modbus { addr, unit_id, virtual_plc } => {
                let what = if *virtual_plc { " (the virtual plant's PLC)" } else { "" };
                write!(f, "Modbus TCP {addr} unit {unit_id}{what}")
            }
            PlcTarget::OpcUa(e) => {
                let security = match e.security {
                    crate::scenario::OpcUaSecurity::None => "no security".to_string(),
                    s => format!("{s:?} {:?}", e.policy),
                };
                write!(f, "OPC UA {} ({security})", e.url)
            }
        }
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
    Ok(PlcTarget::Modbus { addr, unit_id: spec.unit_id, virtual_plc: false })
}

/// Set-point values read from a PLC: (set-point id, value in its unit).
pub type SetpointValues = Vec<(String, f64)>;

/// The PLC that set-point changes of the twin in `app` are pushed to, for the CLI and the workbench alike, with
/// the live set-points read from it (empty when none were read). The scenario's virtual PLC is served by the
/// in-process virtual plant on a free loopback port (only where that plant runs: with a real broker there is no
/// virtual PLC to write to). A real PLC (Modbus TCP, or an OPC UA server) is the target; with the real plant's
/// telemetry its set-points are read first and become the twin's live ones, so that drafts and ramps start from
/// what the PLC holds (see [`with_live_setpoints`]).
pub fn plc_target(app: &mut App, scenario: &Scenario) -> Result<(Option<PlcTarget>, SetpointValues), String> {
    let virtual_plant = app.world().get_resource::<crate::plant::inprocess::PlantRunner>().is_some();
    match &scenario.connections.plc {
        crate::scenario::PlcSpec::VirtualPlc if virtual_plant => {
            let bind: SocketAddr = ([127, 0, 0, 1], 0).into();
            let addr = crate::plant::inprocess::serve_plc(app, scenario, bind, twin_modbus::Behaviour::Normal)
                .map_err(|e| format!("virtual PLC: {e}"))?;
            Ok((Some(PlcTarget::Modbus { addr, unit_id: 1, virtual_plc: true }), Vec::new()))
        }
        crate::scenario::PlcSpec::VirtualPlc => Ok((None, Vec::new())),
        crate::scenario::PlcSpec::ModbusTcp(m) => with_live_setpoints(app, scenario, real_plc(m)?),
        crate::scenario::PlcSpec::OpcUa(p) => {
            let e = scenario
                .opcua_endpoint(&p.endpoint)
                .ok_or_else(|| format!("no OPC UA endpoint \"{}\" in connections.opcua", p.endpoint))?;
            with_live_setpoints(app, scenario, PlcTarget::OpcUa(e.clone()))
        }
    }
}

/// A real PLC as the target, with its set-points read first when the telemetry is the real plant's (with the
/// virtual plant's, the validation refuses every change for it, so there is nothing to read).
fn with_live_setpoints(
    app: &mut App,
    scenario: &Scenario,
    target: PlcTarget,
) -> Result<(Option<PlcTarget>, SetpointValues), String> {
    let read = if live_plant(scenario) { read_live_setpoints(app.world_mut(), scenario, &target)? } else { Vec::new() };
    Ok((Some(target), read))
}

/// Whether the scenario's telemetry is a real plant's (a broker's, or OPC UA servers'), not the virtual plant's.
pub fn live_plant(scenario: &Scenario) -> bool {
    matches!(scenario.connections.broker, crate::scenario::BrokerSpec::Mqtt(_))
        || crate::ingest::opcua::has_opcua_signals(scenario)
}

/// How a change request ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Status {
    /// Validation rejected it (nothing written).
    Rejected,
    /// Valid, but without the approvals it needs (nothing written).
    AwaitingApproval,
    /// Valid, and its change set written to this file for signing (nothing approved or written).
    Exported(String),
    /// Valid and approved, but not written: writes are not enabled, or the inputs went stale; the reason.
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
    /// The canonical hash of the validated change set (what approvals sign), once every layer passed.
    pub change_hash: Option<String>,
    /// Who approved it (one per distinct key or name).
    pub approvers: Vec<String>,
    /// Who enabled writes for it with an admin's signature (signed approvals only).
    pub writes_enabled_by: Vec<String>,
    /// Approvals that were refused (recorded in the audit log), and why.
    pub refusals: Vec<String>,
    pub status: Status,
}

/// Drafts, validates, approves and (when everything allows it) pushes a change set in `session`, each step to its
/// end and recorded in the session's audit log; `on_target` hears the PLC before the first write. The twin's live
/// set-points take the values read back from the PLC.
pub fn run_change(
    app: &mut App,
    req: &ChangeRequest,
    session: &mut session::ChangeSession,
    on_target: &mut dyn FnMut(&PlcTarget),
) -> Result<ChangeOutcome, ChangeError> {
    let scenario = app.world().resource::<LoadedScenario>().0.clone();
    let actor = req.author.as_str();
    session.open_audit()?;
    for (id, value) in &req.sets {
        session.draft(app.world(), id, *value, actor)?;
    }
    session.validate(app.world(), actor)?;
    let drafts: Vec<u64> = session.drafts().iter().map(|d| d.id).collect();
    let validations: Vec<Validation> = drafts.iter().filter_map(|d| session.validation(*d).cloned()).collect();
    let mut refusals = Vec::new();
    let done = |status, push, target, session: &session::ChangeSession, refusals: &mut Vec<String>| ChangeOutcome {
        drafts: drafts.clone(),
        validations: validations.clone(),
        push,
        target,
        change_hash: session.change_set(&scenario).map(|d| d.hash()),
        approvers: session.approvals().into_iter().map(str::to_owned).collect(),
        writes_enabled_by: session.write_enablers().into_iter().map(str::to_owned).collect(),
        refusals: std::mem::take(refusals),
        status,
    };
    let Some(doc) = session.change_set(&scenario) else {
        return Ok(done(Status::Rejected, None, None, session, &mut refusals));
    };
    if let Some(path) = &req.export {
        doc.save(path).map_err(ChangeError::Invalid)?;
        session.note(format!("change set written to {} for signing (hash {})", path.display(), doc.hash()));
        return Ok(done(Status::Exported(path.display().to_string()), None, None, session, &mut refusals));
    }
    let refused = |r: Result<(), ChangeError>, refusals: &mut Vec<String>| match r {
        Err(ChangeError::Refused(why)) => {
            refusals.push(why);
            Ok(())
        }
        other => other,
    };
    if let Some(file) = &req.change_set {
        refused(session.adopt(&scenario, file.clone(), actor), &mut refusals)?;
    }
    let hash = session.change_set(&scenario).map(|d| d.hash()).unwrap_or_default();
    let mut names: Vec<&str> = req.approvers.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    for a in names {
        refused(session.approve(&scenario, a), &mut refusals)?;
    }
    let now = crate::scenario::unix_now_s();
    let signed_here = req.signers.iter().map(|(name, key)| twin_sign::SignatureFile::sign(key, name, &hash, now));
    for sig in signed_here.chain(req.signatures.iter().cloned()) {
        refused(session.approve_signed(&scenario, &sig).map(drop), &mut refusals)?;
    }
    if session.approvals().len() < usize::from(scenario.change.approvals) {
        return Ok(done(Status::AwaitingApproval, None, None, session, &mut refusals));
    }
    let target = session.target();
    // A push clears the drafts and their approvals: the outcome names what was approved before it.
    let approved = done(Status::Pushed, None, None, session, &mut refusals);
    let outcome = |status, push, target| ChangeOutcome { status, push, target, ..approved };
    match session.push(app.world_mut(), actor, req.allow_writes, on_target) {
        Ok(report) => {
            let status = match &report.alarm {
                Some(a) => Status::RolledBack(a.clone()),
                None => Status::Pushed,
            };
            Ok(outcome(status, Some(report), target))
        }
        Err(ChangeError::Refused(why)) => Ok(outcome(Status::WritesDisabled(why), None, None)),
        Err(ChangeError::Unreachable(alarm)) => Ok(outcome(Status::RolledBack(alarm), None, target)),
        Err(e) => Err(e),
    }
}

/// Connects to the PLC a push writes to. When it cannot be reached, the alarm (nothing was written) is recorded in
/// `audit` and returned as [`ChangeError::Unreachable`]; a failure to write the audit log is [`ChangeError::Audit`].
pub fn connect(
    target: &PlcTarget,
    timeout: Duration,
    audit: &mut AuditLog,
    actor: &str,
) -> Result<push::PlcConn, ChangeError> {
    target.connect(timeout).or_else(|e| {
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

/// The writes on `target` that carry out validated drafts: each set-point's ramp, with the value to roll back to.
pub fn push_steps(scenario: &Scenario, target: &PlcTarget, validations: &[Validation]) -> Vec<push::Step> {
    validations
        .iter()
        .filter_map(|v| {
            let sp = scenario.setpoints.iter().find(|s| s.id == v.setpoint)?;
            Some(push::Step {
                setpoint: v.setpoint.clone(),
                tag: target.tag(sp)?,
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
    let client = target
        .connect(timeout)
        .map_err(|e| format!("cannot reach the PLC at {target} to read the live set-points: {e}"))?;
    let mut read = Vec::new();
    for sp in &scenario.setpoints {
        let Some(tag) = target.tag(sp) else { continue };
        let value = client.read(&tag).map_err(|e| format!("cannot read {} from the PLC at {target}: {e}", sp.id))?;
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
