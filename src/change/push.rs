//! The push of an approved change set to a PLC, over Modbus TCP or OPC UA: each set-point is written (ramped where
//! the plan says), every write is read back, and a mismatch, a timeout or any PLC error rolls every set-point already
//! touched back to its previous value and raises an alarm. Every write, read-back and rollback is in the audit
//! log before it happens (the write) or as soon as it is known (the read-back).

use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use twin_modbus::{PlcClient, RegisterSpec};
use twin_opcua::OpcUaClient;

use super::audit::{AuditError, AuditLog};

/// Where a set-point lives on its PLC.
#[derive(Debug, Clone, PartialEq)]
pub enum PlcTag {
    /// Holding registers of a Modbus PLC.
    Register(RegisterSpec),
    /// A variable of an OPC UA server, and the data type it is written as.
    Node { node: String, data_type: twin_opcua::DataType },
}

impl PlcTag {
    /// The tag as the audit log names it.
    fn audit(&self) -> serde_json::Value {
        match self {
            PlcTag::Register(r) => json!({"register": r.address}),
            PlcTag::Node { node, .. } => json!({"node": node}),
        }
    }
}

/// A connection to the PLC a push writes to.
pub enum PlcConn {
    Modbus(PlcClient),
    OpcUa(OpcUaClient),
}

impl PlcConn {
    /// The PLC, as the audit log names it.
    pub fn peer(&self) -> String {
        match self {
            PlcConn::Modbus(c) => c.peer().to_string(),
            PlcConn::OpcUa(c) => c.url().to_string(),
        }
    }

    /// Writes `value` (the set-point's unit) to `tag`. An OPC UA node's own StatusCode decides, by its name.
    pub fn write(&self, tag: &PlcTag, value: f64) -> Result<(), String> {
        match (self, tag) {
            (PlcConn::Modbus(c), PlcTag::Register(r)) => c.write_value(r, value).map_err(|e| e.to_string()),
            (PlcConn::OpcUa(c), PlcTag::Node { node, data_type }) => {
                c.write(node, *data_type, value).map_err(|e| e.to_string())
            }
            _ => Err("the set-point has no address on this PLC".into()),
        }
    }

    /// Reads `tag` back, in the set-point's unit.
    pub fn read(&self, tag: &PlcTag) -> Result<f64, String> {
        match (self, tag) {
            (PlcConn::Modbus(c), PlcTag::Register(r)) => c.read_value(r).map_err(|e| e.to_string()),
            (PlcConn::OpcUa(c), PlcTag::Node { node, .. }) => c.read(node).map_err(|e| e.to_string()),
            _ => Err("the set-point has no address on this PLC".into()),
        }
    }
}

/// One set-point's part of a push.
#[derive(Debug, Clone)]
pub struct Step {
    /// Set-point id.
    pub setpoint: String,
    /// Where it lives on the PLC.
    pub tag: PlcTag,
    /// The values to write in order (a ramp, or one), in the set-point's unit.
    pub values: Vec<f64>,
    /// The value before the change, in the set-point's unit (what a rollback restores).
    pub previous: f64,
}

/// How a push ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushReport {
    /// Every write and its read-back: (set-point, written, read back (none on an error)).
    pub writes: Vec<(String, f64, Option<f64>)>,
    /// The set-points' values on the PLC when the push ended (read back), by id.
    pub final_values: Vec<(String, f64)>,
    /// Whether the change set was rolled back.
    pub rolled_back: bool,
    /// The alarm raised, if any.
    pub alarm: Option<String>,
}

/// Whether a read-back matches what was written: within half the register's step, or the float's precision.
fn matches(tag: &PlcTag, wrote: f64, read: f64) -> bool {
    use twin_opcua::DataType as T;
    let tol = match tag {
        PlcTag::Register(spec) => match spec.encoding {
            twin_modbus::Encoding::F32 => 1e-6 * wrote.abs().max(1.0),
            _ => 0.5 / spec.scale.abs(),
        },
        PlcTag::Node { data_type: T::Double, .. } => 1e-12 * wrote.abs().max(1.0),
        PlcTag::Node { data_type: T::Float, .. } => 1e-6 * wrote.abs().max(1.0),
        PlcTag::Node { .. } => 0.5,
    };
    (read - wrote).abs() <= tol
}

/// Writes and verifies one value; `Err` says why it failed.
fn write_verified(client: &PlcConn, tag: &PlcTag, value: f64) -> (Result<(), String>, Option<f64>) {
    if let Err(e) = client.write(tag, value) {
        return (Err(format!("write failed: {e}")), None);
    }
    match client.read(tag) {
        Ok(v) if matches(tag, value, v) => (Ok(()), Some(v)),
        Ok(v) => (Err(format!("read back {v} after writing {value}")), Some(v)),
        Err(e) => (Err(format!("read-back failed: {e}")), None),
    }
}

/// Pushes `steps` in order through `client`, `interval` between two writes of a ramp; `actor` is who pushes.
/// Returns the report; only a failure to write the audit log is an error (and stops the push before the write
/// it would have described).
pub fn push(
    client: &PlcConn,
    steps: &[Step],
    interval: Duration,
    audit: &mut AuditLog,
    actor: &str,
) -> Result<PushReport, AuditError> {
    let mut report = PushReport { writes: Vec::new(), final_values: Vec::new(), rolled_back: false, alarm: None };
    let peer = client.peer();
    let mut failure = None;
    let mut touched = 0;
    'steps: for (k, step) in steps.iter().enumerate() {
        touched = k + 1;
        for (i, &v) in step.values.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(interval);
            }
            let mut entry = json!({"setpoint": step.setpoint, "value": v, "plc": peer,
                                   "ramp_step": i + 1, "ramp_steps": step.values.len()});
            if let (Some(e), serde_json::Value::Object(tag)) = (entry.as_object_mut(), step.tag.audit()) {
                e.extend(tag);
            }
            audit.append(actor, "write", &entry)?;
            let (result, read) = write_verified(client, &step.tag, v);
            audit.append(
                actor,
                "readback",
                &json!({"setpoint": step.setpoint, "wrote": v, "read": read, "ok": result.is_ok(),
                        "error": result.as_ref().err()}),
            )?;
            report.writes.push((step.setpoint.clone(), v, read));
            if let Err(why) = result {
                failure = Some(format!("{}: {why}", step.setpoint));
                break 'steps;
            }
        }
    }
    let Some(why) = failure else {
        for step in steps {
            report.final_values.push((step.setpoint.clone(), *step.values.last().unwrap_or(&step.previous)));
        }
        audit.append(actor, "push_done", &json!({"plc": peer}))?;
        return Ok(report);
    };
    // Roll back every set-point touched, newest first.
    report.rolled_back = true;
    let mut unverified = Vec::new();
    for step in steps[..touched].iter().rev() {
        audit.append(
            actor,
            "rollback",
            &json!({"setpoint": step.setpoint, "value": step.previous, "reason": why, "plc": peer}),
        )?;
        let (result, read) = write_verified(client, &step.tag, step.previous);
        audit.append(
            actor,
            "rollback_readback",
            &json!({"setpoint": step.setpoint, "wrote": step.previous, "read": read, "ok": result.is_ok(),
                    "error": result.as_ref().err()}),
        )?;
        report.final_values.push((step.setpoint.clone(), read.unwrap_or(f64::NAN)));
        if let Err(e) = result {
            unverified.push(format!("{}: {e}", step.setpoint));
        }
    }
    let alarm = if unverified.is_empty() {
        format!("change rolled back on {peer}: {why}")
    } else {
        format!("change rolled back on {peer}: {why}; the rollback could not be verified ({})", unverified.join("; "))
    };
    audit.append(actor, "alarm", &json!({"alarm": alarm}))?;
    report.alarm = Some(alarm);
    Ok(report)
}
