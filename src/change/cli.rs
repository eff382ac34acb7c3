//! The `twin whatif`, `twin change` and `twin audit verify` commands: the live twin is brought up headless with
//! the in-process virtual plant (and its PLC), run to the fork time, then asked; exit codes 0 (done, or a
//! verified log), 1 (rejected, rolled back, or a broken log), 2 (bad input).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use bevy::prelude::*;

use super::{ChangeRequest, PlcTarget, Status, audit, whatif};
use crate::scenario::{self, PlcSpec, Scenario};
use crate::twin::{SimClock, headless_app};

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

/// The twin of `scenario` with its in-process plant, run to `from_s`; with `plc`, the plant serves its PLC on a
/// free loopback port (a scenario with a real `ModbusTcp` PLC is targeted at its address instead).
pub fn live_twin(
    scenario: Arc<Scenario>,
    seed: u64,
    from_s: f64,
    plc: bool,
) -> Result<(App, Option<PlcTarget>), String> {
    let mut app = headless_app(scenario.clone(), seed);
    if let Some(errors) = app.world().get_resource::<crate::twin::pump::ModelBuildErrors>()
        && !errors.0.is_empty()
    {
        return Err(format!("cannot build the twin: {}", errors.0.join("; ")));
    }
    crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, seed, None)
        .map_err(|e| format!("virtual plant: {e}"))?;
    let target = match (&scenario.connections.plc, plc) {
        (_, false) => None,
        (PlcSpec::VirtualPlc, true) => {
            let bind: SocketAddr = ([127, 0, 0, 1], 0).into();
            let addr = crate::plant::inprocess::serve_plc(&mut app, &scenario, bind, twin_modbus::Behaviour::Normal)
                .map_err(|e| format!("virtual PLC: {e}"))?;
            Some(PlcTarget { addr, unit_id: 1, virtual_plc: true })
        }
        (PlcSpec::ModbusTcp(m), true) => {
            let addr = m
                .addr
                .to_socket_addrs()
                .map_err(|e| format!("PLC address \"{}\": {e}", m.addr))?
                .next()
                .ok_or_else(|| format!("PLC address \"{}\" resolves to nothing", m.addr))?;
            Some(PlcTarget { addr, unit_id: m.unit_id, virtual_plc: false })
        }
    };
    app.update();
    run_for(&mut app, from_s);
    Ok((app, target))
}

/// Runs the app `secs` simulated seconds, a minute per tick.
pub fn run_for(app: &mut App, secs: f64) {
    let step = app.world().resource::<SimClock>().step_s;
    let mut left = (secs / step).round() as u64;
    while left > 0 {
        let n = left.min(crate::headless::STEPS_PER_TICK);
        app.world_mut().resource_mut::<SimClock>().pending_steps = n as u32;
        app.update();
        left -= n;
    }
}

/// Options of `twin whatif`.
pub struct WhatIfArgs<'a> {
    pub scenario: &'a Path,
    pub pump: Option<String>,
    pub from_s: f64,
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
    let (app, _) = match live_twin(scenario.clone(), a.seed, a.from_s, false) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {}: {e}", a.scenario.display());
            return 2;
        }
    };
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
                println!("{}", serde_json::to_string_pretty(&w).unwrap_or_default());
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
    pub from_s: f64,
    pub request: ChangeRequest,
    pub audit: &'a Path,
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
    let mut log = match audit::AuditLog::open(a.audit) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let (mut app, target) = match live_twin(scenario, a.request.seed, a.from_s, true) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {}: {e}", a.scenario.display());
            return 2;
        }
    };
    let outcome = match super::run_change(&mut app, &a.request, &mut log, target, &mut |t| {
        eprintln!("writing to {t}");
    }) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    // Let the plant act on what was written, so the telemetry shows the change.
    run_for(&mut app, 60.0);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome).unwrap_or_default());
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
        match &outcome.status {
            Status::Rejected => println!("rejected by validation: nothing written"),
            Status::AwaitingApproval => println!("valid; awaiting approval (--approve --as NAME): nothing written"),
            Status::WritesDisabled(why) => println!("valid and approved; not written: {why}"),
            Status::Pushed => println!("pushed and verified"),
            Status::RolledBack(alarm) => println!("ALARM: {alarm}"),
        }
        println!("audit log: {}", a.audit.display());
    }
    match outcome.status {
        Status::Rejected | Status::RolledBack(_) => 1,
        _ => 0,
    }
}

/// `twin audit verify FILE`.
pub fn audit_verify(path: &Path) -> u8 {
    match audit::verify(path) {
        Ok(Ok(s)) => {
            println!("{}: {} records, chain intact", path.display(), s.records);
            0
        }
        Ok(Err(p)) => {
            eprintln!("{}:{}: {}", path.display(), p.line, p.what);
            1
        }
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            2
        }
    }
}
