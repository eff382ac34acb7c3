//! Whole-scenario validation: references, duplicates, cycles, ranges, units and physics, each problem located
//! in the source text so the engineer can jump to it. Sparkplug sources: group, edge node and device ids are
//! single topic levels, metrics are named, and each (group, edge node, device, metric) feeds one signal.

mod locate;

use std::collections::{BTreeMap, HashMap, HashSet};

use super::model::*;
use super::{Dur, Problem, SCENARIO_VERSION};
use crate::units::Quantity;
use locate::{Collector, SourceMap, at, at_value};

/// Checks the scenario as a whole; returns every problem, in source order per section.
pub fn validate(s: &Scenario, text: &str) -> Vec<Problem> {
    let mut c = Collector { map: SourceMap { text }, problems: Vec::new() };
    check_top(&mut c, s);
    check_ids(&mut c, "assets", s.assets.iter().map(|a| a.id.as_str()));
    check_ids(&mut c, "signals", s.signals.iter().map(|x| x.id.as_str()));
    check_ids(&mut c, "setpoints", s.setpoints.iter().map(|x| x.id.as_str()));
    let known_assets = Known {
        assets: s.assets.iter().map(|a| (a.id.as_str(), a)).collect(),
        asset_ids: known(s.assets.iter().map(|a| a.id.as_str()).collect()),
    };
    check_assets(&mut c, s, &known_assets);
    check_signals(&mut c, s, &known_assets);
    check_setpoints(&mut c, s, &known_assets);
    check_opcua(&mut c, s);
    check_faults(&mut c, s, &known_assets);
    check_change(&mut c, s, &known_assets);
    check_maintenance(&mut c, s, &known_assets);
    check_expectations(&mut c, s, &known_assets.assets, &known_assets.asset_ids);
    c.problems
}

/// What the section checkers share: every asset by id, and the ids listed for messages.
struct Known<'a> {
    assets: HashMap<&'a str, &'a AssetSpec>,
    asset_ids: String,
}

/// Ids listed for a message: "a, b, c".
fn known(list: Vec<&str>) -> String {
    list.join(", ")
}

/// The scenario's version, name, model step, and that it has assets.
fn check_top(c: &mut Collector<'_>, s: &Scenario) {
    if s.version != SCENARIO_VERSION {
        c.top(
            "version",
            format!("unsupported scenario version {}; this build reads version {SCENARIO_VERSION}", s.version),
        );
    }
    if s.name.trim().is_empty() {
        c.top("name", "the scenario needs a name".into());
    }
    let step = s.simulation.model_step.secs();
    if !(step > 0.0 && step <= 60.0) {
        c.top("model_step", format!("model step {step} s is out of range; valid: more than 0 s and at most 60 s"));
    }
    if s.assets.is_empty() {
        c.top("assets", "a scenario needs at least one asset".into());
    }
    if let Some(Err(e)) = s.simulation.start.as_deref().map(parse_date) {
        c.top("start", format!("simulation.start: {e}"));
    }
    if let Some(p) = &s.publish {
        if let Some(prefix) = &p.prefix {
            let levels_ok = !prefix.is_empty()
                && !prefix.starts_with('/')
                && !prefix.ends_with('/')
                && !prefix.contains(['+', '#'])
                && twin_mqtt::topic::validate_topic(prefix).is_ok();
            if !levels_ok {
                c.top(
                    "prefix",
                    format!(
                        "publish.prefix \"{prefix}\" must be concrete topic levels, e.g. \"twin/pump_station\" (no + or \
                         #, no leading or trailing /)"
                    ),
                );
            }
        }
        if let Some(sp) = &p.sparkplug {
            for (field, id) in [("group", &sp.group), ("edge_node", &sp.edge_node)] {
                if id.is_empty() || id.contains(['/', '+', '#']) {
                    c.top(
                        field,
                        format!("publish.sparkplug.{field} \"{id}\" must be one topic level (not empty, no /, + or #)"),
                    );
                }
            }
        }
        if p.prefix.is_none() && p.sparkplug.is_none() {
            c.top("publish", "publish needs a prefix (JSON), a sparkplug node, or both".into());
        }
        if p.every.secs() <= 0.0 {
            c.top("every", "publish.every must be longer than 0 s".into());
        }
    }
}

/// Each asset's dependencies, kind and identity topic, and that the dependencies form no cycle.
fn check_assets(c: &mut Collector<'_>, s: &Scenario, k: &Known<'_>) {
    // The run's start, for dated history: the scenario's (when it parses; check_top reports it otherwise), or now.
    let start = match s.simulation.start.as_deref() {
        Some(text) => parse_date(text).ok().map(|t| (t, text)),
        None => Some((s.start_unix_s(), "now")),
    };
    let assets = &k.assets;
    let asset_ids = k.asset_ids.as_str();
    for (i, a) in s.assets.iter().enumerate() {
        for (j, d) in a.depends_on.iter().enumerate() {
            if !assets.contains_key(d.as_str()) {
                let field = format!("depends_on[{j}]");
                c.at(at_value("assets", i, &field, d), format!("unknown asset \"{d}\"; known assets: {asset_ids}"));
            } else if d == &a.id {
                let field = format!("depends_on[{j}]");
                c.at(at_value("assets", i, &field, d), format!("asset \"{d}\" cannot depend on itself"));
            }
        }
        check_kind(c, i, a, assets);
        check_history(c, i, a, start);
    }
    let mut identity_topics: HashMap<&str, usize> = HashMap::new();
    for (i, a) in s.assets.iter().enumerate() {
        let Some(topic) = a.identity_topic.as_deref() else { continue };
        let signal_topic = s.signals.iter().find_map(|sig| match &sig.source {
            SignalSource::Mqtt(m) if twin_mqtt::topic::matches(&m.topic, topic) => Some(sig.id.as_str()),
            _ => None,
        });
        if topic.is_empty() || topic.contains(['+', '#']) {
            c.at(
                at_value("assets", i, "identity_topic", topic),
                format!("identity topic \"{topic}\" must be a concrete topic (no + or # wildcard)"),
            );
        } else if let Some(first) = identity_topics.insert(topic, i) {
            c.at(
                at_value("assets", i, "identity_topic", topic),
                format!("identity topic \"{topic}\" is already used by asset \"{}\"", s.assets[first].id),
            );
        } else if let Some(sig) = signal_topic {
            c.at(
                at_value("assets", i, "identity_topic", topic),
                format!("identity topic \"{topic}\" is also signal \"{sig}\"'s topic"),
            );
        }
    }
    check_cycles(c, s);
}

/// An asset's history: each field on the kind it belongs to, hours finite and not negative, a severity in 0..1,
/// an install date that parses and is not after the run's start (`start`, Unix s; none where it does not parse).
fn check_history(c: &mut Collector<'_>, i: usize, a: &AssetSpec, start: Option<(f64, &str)>) {
    let h = &a.history;
    let kind = a.kind.name();
    let pump = matches!(a.kind, AssetKind::CentrifugalPump(_));
    let motor = matches!(a.kind, AssetKind::Motor(_));
    let fields = [
        ("history.bearing_operating_h", h.bearing_operating_h, pump, "operating hours", "a CentrifugalPump's bearing"),
        ("history.bearing_defect_severity", h.bearing_defect_severity, pump, "severity", "a CentrifugalPump's bearing"),
        ("history.insulation_age_h", h.insulation_age_h, motor, "thermal age in hours", "a Motor's insulation"),
    ];
    let (installed, duty) = (h.bearing_installed.as_deref(), h.bearing_duty);
    if let Some(text) = installed {
        let field = "history.bearing_installed";
        let message = if !pump {
            Some(format!("asset \"{}\" is a {kind}: {field} is the history of a CentrifugalPump's bearing", a.id))
        } else if h.bearing_operating_h.is_some() {
            Some("give the bearing's operating hours or its install date, not both".to_owned())
        } else {
            match (parse_date(text), start) {
                (Err(e), _) => Some(e),
                (Ok(t), Some((start, when))) if t > start => {
                    Some(format!("the install date {text} is in the future: after the run's start ({when})"))
                }
                _ => None,
            }
        };
        if let Some(m) = message {
            c.at(at_value("assets", i, field, text), m);
        }
    }
    if let Some(d) = duty {
        let field = "history.bearing_duty";
        if installed.is_none() {
            c.at(at("assets", i, field), "a duty goes with an install date (history.bearing_installed)".into());
        } else if !(d > 0.0 && d <= 1.0) {
            c.at(
                at("assets", i, field),
                format!("a duty is the share of time the pump runs, more than 0 to 1, not {d}"),
            );
        }
    }
    for (field, value, fits, what, belongs) in fields {
        let Some(v) = value else { continue };
        let message = if !fits {
            format!("asset \"{}\" is a {kind}: {field} is the history of {belongs}", a.id)
        } else if !v.is_finite() || v < 0.0 {
            format!("the {what} must be a finite number, 0 or more (not {v})")
        } else if field.ends_with("severity") && v > 1.0 {
            format!("a defect's severity is 0 (none) to 1 (severe), not {v}")
        } else {
            continue;
        };
        c.at(at("assets", i, field), message);
    }
}

/// Each signal's asset, quantity and unit, source and valid range.
fn check_signals(c: &mut Collector<'_>, s: &Scenario, k: &Known<'_>) {
    let assets = &k.assets;
    let asset_ids = k.asset_ids.as_str();
    let mut sparkplug_metrics: HashMap<SparkplugKey<'_>, usize> = HashMap::new();
    for (i, sig) in s.signals.iter().enumerate() {
        match assets.get(sig.asset.as_str()) {
            None => c.at(
                at_value("signals", i, "asset", &sig.asset),
                format!("unknown asset \"{}\"; known assets: {asset_ids}", sig.asset),
            ),
            Some(a) => {
                let fits = signal_kinds(sig.quantity);
                if !fits.contains(&a.kind.name()) {
                    c.at(
                        at("signals", i, "quantity"),
                        format!(
                            "{:?} cannot be measured on {} \"{}\"; it is measured on: {}",
                            sig.quantity,
                            a.kind.name(),
                            a.id,
                            fits.join(", ")
                        ),
                    );
                }
            }
        }
        check_unit(c, "signals", i, sig.quantity, &sig.unit);
        let (lo, hi) = sig.valid;
        if !(lo.is_finite() && hi.is_finite()) {
            c.at(at("signals", i, "valid"), "valid range must be finite numbers".into());
        } else if lo >= hi {
            c.at(at("signals", i, "valid"), format!("min {lo} is not below max {hi}; write the range as (min, max)"));
        }
        if sig.deadband.is_nan() || sig.deadband < 0.0 || sig.deadband.is_infinite() {
            c.at(at("signals", i, "deadband"), format!("dead-band {} must be 0 or a positive number", sig.deadband));
        }
        if sig.period.secs() <= 0.0 {
            c.at(at("signals", i, "period"), "expected sample period must be more than 0 s".into());
        }
        match &sig.source {
            SignalSource::Sparkplug(sp) => check_sparkplug(c, i, sp, &mut sparkplug_metrics),
            // Checked with the endpoints (check_opcua).
            SignalSource::OpcUa(_) => {}
            SignalSource::Mqtt(m) => {
                let paths = [("value", Some(m.value.as_str())), ("timestamp", m.timestamp.as_deref())];
                for (field, path) in paths {
                    if let Some(path) = path
                        && let Err(e) = twin_mqtt::json::JsonPath::parse(path)
                    {
                        let why = match e {
                            twin_mqtt::CodecError::BadPath { reason, .. } => reason,
                            other => other.to_string(),
                        };
                        let message = format!(
                            "\"{path}\" is not a JSON path ({why}); write e.g. \"$.value\", \"$.data[0].v\" or \"$['a.b']\""
                        );
                        c.at(at_value("signals", i, &format!("source.{field}"), path), message);
                    }
                }
            }
        }
    }
}

/// The OPC UA endpoints, and every signal, set-point and PLC that names one.
fn check_opcua(c: &mut Collector<'_>, s: &Scenario) {
    let endpoints = &s.connections.opcua;
    let names = known(endpoints.iter().map(|e| e.name.as_str()).collect());
    let at_endpoint = |c: &mut Collector<'_>, i: usize, field: &str, message: String| {
        let off = c.map.key("opcua", 0).unwrap_or(0);
        c.push(off, format!("connections.opcua[{i}].{field}"), message);
    };
    for (i, e) in endpoints.iter().enumerate() {
        if e.name.trim().is_empty() || endpoints[..i].iter().any(|o| o.name == e.name) {
            at_endpoint(c, i, "name", format!("endpoint name \"{}\" must be non-empty and unique", e.name));
        }
        if !e.url.starts_with("opc.tcp://") || e.url.len() <= "opc.tcp://".len() {
            at_endpoint(
                c,
                i,
                "url",
                format!("\"{}\" is not an OPC UA endpoint URL; write opc.tcp://host:port[/path]", e.url),
            );
        }
        if e.username_env.is_some() != e.password_env.is_some() {
            at_endpoint(
                c,
                i,
                "username_env",
                "a user name needs a password: give username_env and password_env".into(),
            );
        }
        if e.user_cert.is_some() != e.user_key.is_some() {
            at_endpoint(
                c,
                i,
                "user_cert",
                "an X.509 user certificate needs its key: give user_cert and user_key".into(),
            );
        }
        if e.user_cert.is_some() && e.username_env.is_some() {
            at_endpoint(c, i, "user_cert", "give a user name and password or a user certificate, not both".into());
        }
        if e.publishing_interval.secs() <= 0.0 {
            at_endpoint(c, i, "publishing_interval", "the publishing interval must be longer than 0 s".into());
        }
    }
    let exists = |name: &str| s.opcua_endpoint(name).is_some();
    let none =
        if names.is_empty() { "none is declared in connections.opcua".to_string() } else { format!("known: {names}") };
    for (i, sig) in s.signals.iter().enumerate() {
        let SignalSource::OpcUa(src) = &sig.source else { continue };
        if !exists(&src.endpoint) {
            c.at(
                at_value("signals", i, "source.endpoint", &src.endpoint),
                format!("unknown OPC UA endpoint \"{}\"; {none}", src.endpoint),
            );
        }
        if let Err(e) = twin_opcua::check_node(&src.node) {
            c.at(at_value("signals", i, "source.node", &src.node), e.to_string());
        }
        if src.queue_size == 0 {
            c.at(at("signals", i, "source.queue_size"), "the queue size must be at least 1".into());
        }
    }
    let opcua_plc = match &s.connections.plc {
        PlcSpec::OpcUa(p) => {
            if !exists(&p.endpoint) {
                c.top("plc", format!("connections.plc: unknown OPC UA endpoint \"{}\"; {none}", p.endpoint));
            }
            true
        }
        _ => false,
    };
    for (i, sp) in s.setpoints.iter().enumerate() {
        match (&sp.plc, &sp.opcua) {
            (None, _) if !opcua_plc => c.at(
                at("setpoints", i, "plc"),
                "the set-point needs its Modbus register: plc: (register: ..., encoding: ...)".into(),
            ),
            (_, None) if opcua_plc => c.at(
                at("setpoints", i, "opcua"),
                "the PLC is an OPC UA server: the set-point needs its node: opcua: (node: \"ns=2;s=...\")".into(),
            ),
            (_, Some(tag)) => {
                if let Err(e) = twin_opcua::check_node(&tag.node) {
                    c.at(at_value("setpoints", i, "opcua.node", &tag.node), e.to_string());
                }
            }
            _ => {}
        }
    }
}

/// Each set-point's asset, target, unit, envelope, rate and register.
fn check_setpoints(c: &mut Collector<'_>, s: &Scenario, k: &Known<'_>) {
    let assets = &k.assets;
    let asset_ids = k.asset_ids.as_str();
    let mut registers: BTreeMap<u16, usize> = BTreeMap::new();
    for (i, sp) in s.setpoints.iter().enumerate() {
        match assets.get(sp.asset.as_str()) {
            None => c.at(
                at_value("setpoints", i, "asset", &sp.asset),
                format!("unknown asset \"{}\"; known assets: {asset_ids}", sp.asset),
            ),
            Some(a) if !matches!(a.kind, AssetKind::CentrifugalPump(_)) => c.at(
                at("setpoints", i, "target"),
                format!("{:?} set-points act on a CentrifugalPump; \"{}\" is a {}", sp.target, a.id, a.kind.name()),
            ),
            Some(_) => {}
        }
        check_unit(c, "setpoints", i, sp.target.quantity(), &sp.unit);
        if !(sp.min.is_finite() && sp.max.is_finite()) || sp.min > sp.max {
            c.at(at("setpoints", i, "min"), format!("min {} is above max {}; min must not exceed max", sp.min, sp.max));
        } else if !(sp.min..=sp.max).contains(&sp.initial) {
            c.at(at("setpoints", i, "initial"), format!("initial {} is outside [{}, {}]", sp.initial, sp.min, sp.max));
        }
        if !(sp.max_rate_per_s > 0.0 && sp.max_rate_per_s.is_finite()) {
            c.at(at("setpoints", i, "max_rate_per_s"), "rate limit must be a positive number".into());
        }
        let Some(plc) = &sp.plc else { continue };
        if !(plc.scale.is_finite() && plc.scale != 0.0) {
            c.at(at("setpoints", i, "plc.scale"), "scale must be a non-zero number".into());
        }
        let width = match plc.encoding {
            RegisterEncoding::U16 | RegisterEncoding::I16 => 1u16,
            RegisterEncoding::U32 | RegisterEncoding::F32 => 2,
        };
        for r in plc.register..plc.register.saturating_add(width) {
            if let Some(other) = registers.insert(r, i) {
                c.at(
                    at("setpoints", i, "plc.register"),
                    format!("holding register {r} is already used by set-point \"{}\"", s.setpoints[other].id),
                );
            }
        }
    }
}

/// Each fault the virtual plant injects: its asset or signal, times and sizes.
fn check_faults(c: &mut Collector<'_>, s: &Scenario, k: &Known<'_>) {
    let assets = &k.assets;
    let asset_ids = k.asset_ids.as_str();
    let signal_ids: HashSet<&str> = s.signals.iter().map(|x| x.id.as_str()).collect();
    let signal_list = known(s.signals.iter().map(|x| x.id.as_str()).collect());
    for (i, f) in s.faults.iter().enumerate() {
        match f {
            FaultSpec::BearingDefect { asset, severity, .. } => {
                check_pump_ref(c, "faults", i, asset, assets, asset_ids);
                if !(0.0..=1.0).contains(severity) {
                    c.at(at("faults", i, "severity"), format!("severity {severity} is outside 0..1"));
                }
            }
            FaultSpec::CavitationEpisode { asset, level_drop_m, .. } => {
                check_pump_ref(c, "faults", i, asset, assets, asset_ids);
                if level_drop_m.is_nan() || *level_drop_m < 0.0 {
                    c.at(at("faults", i, "level_drop_m"), "level drop must be 0 m or more".into());
                }
            }
            FaultSpec::StuckSensor { signal, .. }
            | FaultSpec::DriftingSensor { signal, .. }
            | FaultSpec::SkewedClock { signal, .. } => {
                if !signal_ids.contains(signal.as_str()) {
                    c.at(
                        at_value("faults", i, "signal", signal),
                        format!("unknown signal \"{signal}\"; known signals: {signal_list}"),
                    );
                }
            }
            FaultSpec::BrokerOutage { .. } => {}
            FaultSpec::ConfigChange { asset, config_version, firmware, .. } => match assets.get(asset.as_str()) {
                None => c.at(
                    at_value("faults", i, "asset", asset),
                    format!("unknown asset \"{asset}\"; known assets: {asset_ids}"),
                ),
                Some(a) if a.identity_topic.is_none() => c.at(
                    at_value("faults", i, "asset", asset),
                    format!("asset \"{asset}\" has no identity_topic, so it cannot report a configuration change"),
                ),
                Some(_) if config_version.is_none() && firmware.is_none() => {
                    c.at(at("faults", i, "asset"), "a configuration change needs config_version or firmware".into())
                }
                Some(_) => {}
            },
        }
    }
}

/// The change policy: approvals, limit probability, samples, durations and interlocks.
fn check_change(c: &mut Collector<'_>, s: &Scenario, k: &Known<'_>) {
    let assets = &k.assets;
    let asset_ids = k.asset_ids.as_str();
    let ch = &s.change;
    if !(1..=2).contains(&ch.approvals) {
        c.top("change", format!("change.approvals {} must be 1 or 2", ch.approvals));
    }
    if !(ch.max_limit_probability > 0.0 && ch.max_limit_probability <= 1.0) {
        c.top("change", format!("change.max_limit_probability {} must be in (0, 1]", ch.max_limit_probability));
    }
    if !(1..=100_000).contains(&ch.samples) {
        c.top("change", format!("change.samples {} must be 1..100000", ch.samples));
    }
    for (name, d) in [("horizon", ch.horizon), ("ramp_interval", ch.ramp_interval), ("timeout", ch.timeout)] {
        if d.secs().is_nan() || d.secs() <= 0.0 {
            c.top("change", format!("change.{name} must be longer than 0 s"));
        }
    }
    let setpoint_list = known(s.setpoints.iter().map(|x| x.id.as_str()).collect());
    for (i, il) in ch.interlocks.iter().enumerate() {
        if !s.setpoints.iter().any(|sp| sp.id == il.setpoint) {
            c.at(
                at_value("interlocks", i, "setpoint", &il.setpoint),
                format!("unknown set-point \"{}\"; known set-points: {setpoint_list}", il.setpoint),
            );
        }
        match &il.require {
            Requirement::NpshMarginAbove { asset, .. } => check_pump_ref(c, "interlocks", i, asset, assets, asset_ids),
            Requirement::IndexAbove { asset, index, .. } | Requirement::IndexBelow { asset, index, .. } => {
                match assets.get(asset.as_str()) {
                    None => c.at(
                        at_value("interlocks", i, "asset", asset),
                        format!("unknown asset \"{asset}\"; known assets: {asset_ids}"),
                    ),
                    Some(a) if a.kind.name() != index.kind_name() => c.at(
                        at("interlocks", i, "index"),
                        format!("{index:?} is an index of a {}; \"{asset}\" is a {}", index.kind_name(), a.kind.name()),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
}

/// Each planned maintenance action's asset.
fn check_maintenance(c: &mut Collector<'_>, s: &Scenario, k: &Known<'_>) {
    let assets = &k.assets;
    let asset_ids = k.asset_ids.as_str();
    for (i, m) in s.maintenance.iter().enumerate() {
        let Maintenance::BearingReplacement { asset, .. } = m;
        check_pump_ref(c, "maintenance", i, asset, assets, asset_ids);
    }
    let policy = &s.maintenance_policy;
    let p = policy.max_failure_probability;
    if !(p > 0.0 && p < 1.0) {
        c.top("maintenance_policy", format!("max_failure_probability must be between 0 and 1 (not {p})"));
    }
    for t in &policy.thresholds {
        if !(t.alert.is_finite() && t.alarm.is_finite()) || t.alert == t.alarm {
            c.top(
                "maintenance_policy",
                format!(
                    "thresholds of {:?}: alert {} and alarm {} must be finite and differ",
                    t.index, t.alert, t.alarm
                ),
            );
        }
    }
    if let Some(d) = policy.planned_shutdowns.iter().find(|d| d.secs() < 0.0) {
        c.top("maintenance_policy", format!("a planned shutdown at {d} is before the start"));
    }
}

/// Each expectation's references (asset, index, set-point, fault), bounds and durations.
fn check_expectations(c: &mut Collector<'_>, s: &Scenario, assets: &HashMap<&str, &AssetSpec>, asset_ids: &str) {
    let unknown_asset = |c: &mut Collector<'_>, i: usize, asset: &str| {
        c.at(at_value("expect", i, "asset", asset), format!("unknown asset \"{asset}\"; known assets: {asset_ids}"));
    };
    let setpoint_ids = s.setpoints.iter().map(|x| x.id.as_str()).collect::<Vec<_>>().join(", ");
    let positive = |c: &mut Collector<'_>, i: usize, field: &'static str, d: &Dur| {
        if d.secs().is_nan() || d.secs() <= 0.0 {
            c.at(at("expect", i, field), format!("{field} must be longer than 0 s"));
        }
    };
    for (i, e) in s.expect.iter().enumerate() {
        if let Some((asset, index)) = e.index_of() {
            match assets.get(asset) {
                None => unknown_asset(c, i, asset),
                Some(a) if a.kind.name() != index.kind_name() => {
                    let field = if matches!(e, Expectation::RulBetween { .. }) { "asset" } else { "index" };
                    c.at(
                        at("expect", i, field),
                        format!(
                            "{index:?} is an index of a {}; \"{}\" is a {}",
                            index.kind_name(),
                            a.id,
                            a.kind.name()
                        ),
                    )
                }
                Some(_) => {}
            }
        }
        if let Some(When::Between(from, to)) = e.when()
            && from.secs() > to.secs()
        {
            c.at(at("expect", i, "when"), format!("window starts at {from}, after it ends at {to}"));
        }
        match e {
            Expectation::IndexBelow { .. } | Expectation::IndexAbove { .. } | Expectation::NoSampleDropped => {}
            Expectation::RulBetween { min_h, max_h, .. } => {
                if min_h.is_nan() || max_h.is_nan() {
                    c.at(at("expect", i, "min_h"), "min_h and max_h must be numbers".into());
                } else if min_h > max_h {
                    c.at(
                        at("expect", i, "min_h"),
                        format!("min_h {min_h} is above max_h {max_h}; min_h must not exceed max_h"),
                    );
                }
            }
            Expectation::AlarmRaised { asset, before, quantity, .. } => {
                positive(c, i, "before", before);
                match assets.get(asset.as_str()) {
                    None => unknown_asset(c, i, asset),
                    Some(_) => {
                        let measured: Vec<Quantity> =
                            s.signals.iter().filter(|x| x.asset == *asset).map(|x| x.quantity).collect();
                        if measured.is_empty() {
                            c.at(
                                at_value("expect", i, "asset", asset),
                                format!("no signal measures \"{asset}\", so no drift alarm can be raised on it"),
                            );
                        } else if let Some(q) = quantity
                            && !measured.contains(q)
                        {
                            let names: Vec<String> = measured.iter().map(|q| format!("{q:?}")).collect();
                            c.at(
                                at("expect", i, "quantity"),
                                format!(
                                    "no signal measures {q:?} on \"{asset}\", so it raises no drift alarm; measured: {}",
                                    names.join(", ")
                                ),
                            );
                        }
                    }
                }
            }
            Expectation::NoAlarm { asset, before } => {
                if let Some(a) = asset
                    && !assets.contains_key(a.as_str())
                {
                    unknown_asset(c, i, a);
                }
                if let Some(b) = before {
                    positive(c, i, "before", b);
                }
            }
            Expectation::ServiceWindowBefore { asset, before } => {
                check_pump_ref(c, "expect", i, asset, assets, asset_ids);
                positive(c, i, "before", before);
            }
            Expectation::DriftDetected { fault, within } => {
                match s.faults.get(*fault) {
                    None => c.at(
                        at("expect", i, "fault"),
                        format!("no faults[{fault}]; the scenario has {} fault(s), numbered from 0", s.faults.len()),
                    ),
                    Some(f) if !f.detectable() => c.at(
                        at("expect", i, "fault"),
                        format!(
                            "faults[{fault}] is a {}, which no drift monitor sees; DriftDetected takes a \
                             BearingDefect, CavitationEpisode, StuckSensor or DriftingSensor",
                            f.name()
                        ),
                    ),
                    Some(_) => {}
                }
                positive(c, i, "within", within);
            }
            Expectation::DraftAccepted { setpoint, value, .. } | Expectation::DraftRejected { setpoint, value, .. } => {
                if !s.setpoints.iter().any(|x| x.id == *setpoint) {
                    c.at(
                        at_value("expect", i, "setpoint", setpoint),
                        format!("unknown set-point \"{setpoint}\"; known set-points: {setpoint_ids}"),
                    );
                }
                if !value.is_finite() {
                    c.at(at("expect", i, "value"), format!("value {value} must be a finite number"));
                }
            }
        }
    }
}

fn check_ids<'a>(c: &mut Collector<'_>, list: &'static str, ids: impl Iterator<Item = &'a str>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.enumerate() {
        if id.trim().is_empty() || id.chars().any(char::is_whitespace) {
            c.at(at(list, i, "id"), format!("id \"{id}\" must be non-empty and have no spaces"));
        } else if let Some(first) = seen.insert(id, i) {
            c.at(at(list, i, "id"), format!("duplicate id \"{id}\"; {list}[{first}] already uses it"));
        }
    }
}

/// (group, edge node, device, metric) of a Sparkplug signal.
type SparkplugKey<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

/// A Sparkplug source: each id is one topic level (non-empty, no `/`, `+` or `#`), the metric is named, and no
/// two signals map the same metric of the same node or device.
fn check_sparkplug<'a>(
    c: &mut Collector<'_>,
    i: usize,
    sp: &'a SparkplugSource,
    seen: &mut HashMap<SparkplugKey<'a>, usize>,
) {
    let levels = [("group", Some(&sp.group)), ("edge_node", Some(&sp.edge_node)), ("device", sp.device.as_ref())];
    let mut ok = true;
    for (name, value) in levels {
        let Some(v) = value else { continue };
        if v.trim().is_empty() || v.contains(['/', '+', '#']) {
            ok = false;
            let field = format!("source.{name}");
            c.at(
                at_value("signals", i, &field, v),
                format!("Sparkplug {name} \"{v}\" must be one topic level: non-empty, without '/', '+' or '#'"),
            );
        }
    }
    if sp.metric.trim().is_empty() {
        ok = false;
        c.at(at("signals", i, "source.metric"), "Sparkplug metric name must not be empty".into());
    }
    if !ok {
        return;
    }
    let key = (sp.group.as_str(), sp.edge_node.as_str(), sp.device.as_deref(), sp.metric.as_str());
    if let Some(first) = seen.insert(key, i) {
        seen.insert(key, first);
        let owner = match &sp.device {
            Some(d) => format!("device \"{d}\" of edge node \"{}\"", sp.edge_node),
            None => format!("edge node \"{}\"", sp.edge_node),
        };
        c.at(
            at_value("signals", i, "source.metric", &sp.metric),
            format!(
                "Sparkplug metric \"{}\" of {owner} in group \"{}\" is already mapped by signals[{first}]; \
                 each metric feeds one signal",
                sp.metric, sp.group
            ),
        );
    }
}

fn check_unit(c: &mut Collector<'_>, list: &'static str, i: usize, q: Quantity, unit: &str) {
    if q.converter(unit).is_none() {
        c.at(
            at_value(list, i, "unit", unit),
            format!("unknown unit \"{unit}\" for {q:?}; valid: {}", q.unit_names().join(", ")),
        );
    }
}

fn check_pump_ref(
    c: &mut Collector<'_>,
    list: &'static str,
    i: usize,
    asset: &str,
    assets: &HashMap<&str, &AssetSpec>,
    asset_ids: &str,
) {
    match assets.get(asset) {
        None => {
            c.at(at_value(list, i, "asset", asset), format!("unknown asset \"{asset}\"; known assets: {asset_ids}"))
        }
        Some(a) if !matches!(a.kind, AssetKind::CentrifugalPump(_)) => c.at(
            at_value(list, i, "asset", asset),
            format!("\"{asset}\" is a {}, not a CentrifugalPump", a.kind.name()),
        ),
        Some(_) => {}
    }
}

/// The asset kinds a quantity can be measured on.
fn signal_kinds(q: Quantity) -> &'static [&'static str] {
    match q {
        Quantity::VibrationVelocityRms
        | Quantity::VibrationVelocityPeak
        | Quantity::VibrationCrestFactor
        | Quantity::BearingTemperature
        | Quantity::Flow => &["CentrifugalPump"],
        Quantity::WindingTemperature | Quantity::MotorCurrent => &["Motor"],
        Quantity::TankLevel => &["Tank"],
        Quantity::Speed => &["CentrifugalPump", "Motor"],
    }
}

/// Kind-specific checks: a pump needs its motor; parameters must be physical.
fn check_kind(c: &mut Collector<'_>, i: usize, a: &AssetSpec, assets: &HashMap<&str, &AssetSpec>) {
    let physics = match &a.kind {
        AssetKind::CentrifugalPump(p) => {
            let deps: Vec<&AssetSpec> = a.depends_on.iter().filter_map(|d| assets.get(d.as_str()).copied()).collect();
            let motors = deps.iter().filter(|d| matches!(d.kind, AssetKind::Motor(_))).count();
            let tanks = deps.iter().filter(|d| matches!(d.kind, AssetKind::Tank(_))).count();
            if motors != 1 {
                c.at(
                    at("assets", i, "depends_on"),
                    format!("pump \"{}\" must depend on exactly one Motor (its drive); found {motors}", a.id),
                );
            }
            if tanks > 1 {
                c.at(
                    at("assets", i, "depends_on"),
                    format!("pump \"{}\" can be fed from at most one Tank; found {tanks}", a.id),
                );
            }
            p.validate()
        }
        AssetKind::Motor(m) => m.validate(),
        AssetKind::Tank(t) => t.validate(),
    };
    for (field, message) in physics {
        let path = format!("kind.{field}");
        let leaf = field.rsplit('.').next().unwrap_or(&field).to_owned();
        let entry = c.map.entry("assets", i, &["id"]);
        let off = entry.and_then(|e| c.map.key(&leaf, e)).or(entry).unwrap_or(0);
        c.push(off, format!("assets[{i}].{path}"), message);
    }
}

/// Reports each dependency cycle once, as the chain of ids that closes it.
fn check_cycles(c: &mut Collector<'_>, s: &Scenario) {
    let index: HashMap<&str, usize> = s.assets.iter().enumerate().map(|(i, a)| (a.id.as_str(), i)).collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; s.assets.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut reported: HashSet<Vec<usize>> = HashSet::new();

    fn visit(
        v: usize,
        s: &Scenario,
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        cycles: &mut Vec<Vec<usize>>,
    ) {
        state[v] = 1;
        stack.push(v);
        for d in &s.assets[v].depends_on {
            let Some(&w) = index.get(d.as_str()) else { continue };
            if w == v {
                continue; // reported as a self-dependency
            }
            match state[w] {
                0 => visit(w, s, index, state, stack, cycles),
                1 => {
                    let from = stack.iter().position(|&x| x == w).unwrap_or(0);
                    cycles.push(stack[from..].to_vec());
                }
                _ => {}
            }
        }
        stack.pop();
        state[v] = 2;
    }

    let mut cycles = Vec::new();
    for v in 0..s.assets.len() {
        if state[v] == 0 {
            visit(v, s, &index, &mut state, &mut stack, &mut cycles);
        }
    }
    for cycle in cycles {
        let mut key = cycle.clone();
        key.sort_unstable();
        if !reported.insert(key) {
            continue;
        }
        let names: Vec<&str> = cycle.iter().chain(cycle.first()).map(|&k| s.assets[k].id.as_str()).collect();
        c.at(
            at("assets", cycle[0], "depends_on"),
            format!("dependency cycle: {}; dependencies must form a tree", names.join(" -> ")),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    const BASE: &str = r#"Scenario(version: 1, name: "t",
        assets: [(id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0))],
        signals: [
            (id: "a", asset: "T-1", quantity: TankLevel, unit: "m",
             source: Sparkplug(group: "site", edge_node: "edge-1", device: "T-1", metric: "Level"), valid: (0.0, 4.0)),
            (id: "b", asset: "T-1", quantity: TankLevel, unit: "m",
             source: Sparkplug(group: "G", edge_node: "N", device: "D", metric: "M"), valid: (0.0, 4.0)),
        ])"#;

    fn problems(text: &str) -> String {
        match crate::scenario::parse(text, Path::new("t.ron")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_json_path_that_does_not_compile_is_named_at_its_field() {
        let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/pump_station.ron")).unwrap();
        let text =
            base.replace(r#"value: "$.rms""#, r#"value: "rms""#).replace(r#"value: "$.peak""#, r#"value: "$.peak[""#);
        let p = problems(&text);
        assert!(p.contains("signals[0].source.value: \"rms\" is not a JSON path"), "{p}");
        assert!(p.contains("signals[1].source.value: \"$.peak[\" is not a JSON path"), "{p}");
    }

    #[test]
    fn a_sparkplug_source_parses_and_validates() {
        assert_eq!(problems(BASE), "");
        let s = crate::scenario::parse(BASE, Path::new("t.ron")).unwrap();
        let crate::scenario::SignalSource::Sparkplug(sp) = &s.signals[0].source else { panic!() };
        assert_eq!(
            (sp.group.as_str(), sp.edge_node.as_str(), sp.device.as_deref(), sp.metric.as_str()),
            ("site", "edge-1", Some("T-1"), "Level")
        );
    }

    #[test]
    fn sparkplug_ids_must_be_single_topic_levels() {
        let e = problems(&BASE.replace(r#"edge_node: "N""#, r#"edge_node: "a/b""#));
        assert!(e.contains("signals[1].source.edge_node: Sparkplug edge_node \"a/b\" must be one topic level"), "{e}");
        assert!(e.contains("t.ron:7:"), "located on the signal's line: {e}");
        let e = problems(&BASE.replace(r#"group: "G""#, r#"group: "+""#));
        assert!(e.contains("signals[1].source.group: Sparkplug group \"+\""), "{e}");
        let e = problems(&BASE.replace(r#"device: "D""#, r#"device: """#));
        assert!(e.contains("signals[1].source.device"), "{e}");
        let e = problems(&BASE.replace(r#"metric: "M""#, r#"metric: " ""#));
        assert!(e.contains("signals[1].source.metric: Sparkplug metric name must not be empty"), "{e}");
    }

    #[test]
    fn a_sparkplug_metric_feeds_one_signal() {
        let e = problems(&BASE.replace(
            r#"(group: "G", edge_node: "N", device: "D", metric: "M")"#,
            r#"(group: "site", edge_node: "edge-1", device: "T-1", metric: "Level")"#,
        ));
        assert!(
            e.contains("signals[1].source.metric: Sparkplug metric \"Level\" of device \"T-1\" of edge node \"edge-1\" in group \"site\" is already mapped by signals[0]"),
            "{e}"
        );
        // The same metric name on another device, or on the node itself, is another metric.
        assert_eq!(
            problems(
                &BASE
                    .replace(r#"device: "D", metric: "M""#, r#"metric: "Level""#)
                    .replace(r#"group: "G", edge_node: "N""#, r#"group: "site", edge_node: "edge-1""#)
            ),
            ""
        );
    }

    #[test]
    fn opcua_endpoints_sources_and_setpoint_nodes_are_checked() {
        let station = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/pump_station.ron")).unwrap();
        let with = |connections: &str, flow: &str, tag: &str| {
            station
                .replace("connections: (broker: Embedded, plc: VirtualPlc),", &format!("connections: {connections},"))
                .replace(
                    r#"source: Mqtt(topic: "plant/p101/flow", value: "$.value", timestamp: "$.ts"),"#,
                    &format!("source: {flow},"),
                )
                .replace("plc: (register: 10, encoding: U16, scale: 1.0)),", &format!("{tag}),"))
        };
        let ok = with(
            r#"(plc: OpcUa(endpoint: "line1"), opcua: [(name: "line1", url: "opc.tcp://plc:4840")])"#,
            r#"OpcUa(endpoint: "line1", node: "ns=2;s=P101.Flow")"#,
            r#"opcua: (node: "ns=2;s=P101.Speed", data_type: Int16)"#,
        );
        assert_eq!(problems(&ok), "");
        let s = crate::scenario::parse(&ok, Path::new("t.ron")).unwrap();
        assert_eq!(
            s.connections.opcua[0].security,
            crate::scenario::OpcUaSecurity::SignAndEncrypt,
            "secure by default"
        );
        assert_eq!(s.connections.opcua[0].policy, crate::scenario::OpcUaPolicy::Basic256Sha256);
        assert!(!s.connections.opcua[0].trust_on_first_use, "trust on first use only when asked");

        let e = problems(&with(
            r#"(plc: OpcUa(endpoint: "line2"), opcua: [(name: "line1", url: "http://plc", username_env: "U")])"#,
            r#"OpcUa(endpoint: "nowhere", node: "P101.Flow")"#,
            "",
        ));
        for expected in [
            r#"connections.opcua[0].url: "http://plc" is not an OPC UA endpoint URL"#,
            "connections.opcua[0].username_env: a user name needs a password",
            r#"plc: connections.plc: unknown OPC UA endpoint "line2"; known: line1"#,
            r#"signals[4].source.endpoint: unknown OPC UA endpoint "nowhere"; known: line1"#,
            r#"signals[4].source.node: "P101.Flow" is not an OPC UA node id"#,
            "setpoints[0].opcua: the PLC is an OPC UA server: the set-point needs its node",
        ] {
            assert!(e.contains(expected), "{expected}\n{e}");
        }
        // A Modbus PLC needs each set-point's register.
        let e = problems(&with("(plc: VirtualPlc)", r#"Mqtt(topic: "f", value: "$.v")"#, ""));
        assert!(e.contains("setpoints[0].plc: the set-point needs its Modbus register"), "{e}");
    }
}
