//! Parameter sweeps: a scenario's optional `sweep` section runs it once per value of one parameter, each case as
//! its own scenario ("Water treatment pump station[unbalance=2x]") with its own report.
//!
//! ```ron
//! sweep: (name: "unbalance", param: Unbalance(asset: "P-101"), values: [1.0, 2.0, 3.0, 4.0]),
//! ```

use serde::{Deserialize, Serialize};

use super::Problem;
use super::model::{AssetKind, FaultSpec, Scenario};

/// Most cases one sweep may have.
pub const MAX_CASES: usize = 100;

/// Runs the scenario once per value of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The label of the cases, e.g. "unbalance" gives "[unbalance=2x]"; by default the parameter's own name
    /// ("unbalance", "severity", or the set-point's id).
    #[serde(default)]
    pub name: Option<String>,
    /// What the values set.
    pub param: SweepParam,
    /// One case per value, in this order.
    pub values: Vec<f64>,
}

/// A parameter a sweep can vary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SweepParam {
    /// Multiplies a pump's `unbalance_g_mm` (its nominal value, and so the virtual plant's true one): 2.0 doubles
    /// it. Values >= 0.
    Unbalance { asset: String },
    /// Sets the severity (0..1) of the `BearingDefect` fault on this pump.
    BearingDefectSeverity { asset: String },
    /// Sets a set-point's initial value (in its unit, within its min and max).
    SetpointInitial { setpoint: String },
}

/// Which case of a sweep a run is, as its report says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepCase {
    /// The sweep's label, e.g. "unbalance".
    pub name: String,
    /// The parameter, e.g. "Unbalance(P-101)".
    pub param: String,
    /// The value of this case.
    pub value: f64,
    /// The case's label, e.g. "unbalance=2x".
    pub label: String,
}

impl SweepParam {
    fn default_name(&self) -> &str {
        match self {
            SweepParam::Unbalance { .. } => "unbalance",
            SweepParam::BearingDefectSeverity { .. } => "severity",
            SweepParam::SetpointInitial { setpoint } => setpoint,
        }
    }

    fn describe(&self) -> String {
        match self {
            SweepParam::Unbalance { asset } => format!("Unbalance({asset})"),
            SweepParam::BearingDefectSeverity { asset } => format!("BearingDefectSeverity({asset})"),
            SweepParam::SetpointInitial { setpoint } => format!("SetpointInitial({setpoint})"),
        }
    }
}

impl Sweep {
    /// The cases' label.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.param.default_name())
    }

    /// One scenario per value, named `<name>[<label>=<value>]`, without the sweep, and what each case is.
    /// The scenario must have passed [`validate`].
    pub fn cases(&self, base: &Scenario) -> Vec<(SweepCase, Scenario)> {
        self.values
            .iter()
            .map(|&v| {
                let suffix = if matches!(self.param, SweepParam::Unbalance { .. }) { "x" } else { "" };
                let label = format!("{}={v}{suffix}", self.label());
                let mut s = base.clone();
                s.sweep = None;
                s.name = format!("{}[{label}]", base.name);
                apply(&mut s, &self.param, v);
                (SweepCase { name: self.label().to_owned(), param: self.param.describe(), value: v, label }, s)
            })
            .collect()
    }
}

fn apply(s: &mut Scenario, param: &SweepParam, v: f64) {
    match param {
        SweepParam::Unbalance { asset } => {
            for a in s.assets.iter_mut().filter(|a| &a.id == asset) {
                if let AssetKind::CentrifugalPump(p) = &mut a.kind {
                    p.unbalance_g_mm *= v;
                }
            }
        }
        SweepParam::BearingDefectSeverity { asset } => {
            for f in &mut s.faults {
                if let FaultSpec::BearingDefect { asset: a, severity, .. } = f
                    && a == asset
                {
                    *severity = v;
                }
            }
        }
        SweepParam::SetpointInitial { setpoint } => {
            for sp in s.setpoints.iter_mut().filter(|sp| &sp.id == setpoint) {
                sp.initial = v;
            }
        }
    }
}

/// Checks the `sweep` section, each problem located at the sweep's field in `text`.
pub fn validate(s: &Scenario, text: &str) -> Vec<Problem> {
    let Some(sweep) = &s.sweep else { return Vec::new() };
    let sweep_at = key_offset(text, "sweep", 0).unwrap_or(0);
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        let off = key_offset(text, field.split('.').next_back().unwrap_or(field), sweep_at).unwrap_or(sweep_at);
        let before = &text[..off.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        problems.push(Problem { line, col, path: format!("sweep.{field}"), message });
    };
    if let Some(name) = &sweep.name
        && (name.trim().is_empty() || name.contains(['/', '\\', '[', ']', '=']))
    {
        problem("name", format!("sweep name \"{name}\" must be non-empty and hold none of / \\ [ ] ="));
    }
    if sweep.values.is_empty() {
        problem("values", "a sweep needs at least one value".into());
    }
    if sweep.values.len() > MAX_CASES {
        problem("values", format!("{} values; a sweep has at most {MAX_CASES}", sweep.values.len()));
    }
    for (i, v) in sweep.values.iter().enumerate() {
        if sweep.values[..i].contains(v) {
            problem("values", format!("value {v} appears twice; each case needs its own value"));
        }
    }
    let all = |ok: &dyn Fn(f64) -> bool| sweep.values.iter().copied().filter(|&v| !ok(v)).collect::<Vec<f64>>();
    let list = |v: &[f64]| v.iter().map(f64::to_string).collect::<Vec<_>>().join(", ");
    match &sweep.param {
        SweepParam::Unbalance { asset } | SweepParam::BearingDefectSeverity { asset } => {
            let is_pump = s.asset(asset).map(|a| matches!(a.kind, AssetKind::CentrifugalPump(_)));
            let pumps: Vec<&str> = s
                .assets
                .iter()
                .filter(|a| matches!(a.kind, AssetKind::CentrifugalPump(_)))
                .map(|a| a.id.as_str())
                .collect();
            match is_pump {
                None => problem(
                    "param.asset",
                    format!("unknown asset \"{asset}\"; pumps of the scenario: {}", pumps.join(", ")),
                ),
                Some(false) => problem(
                    "param.asset",
                    format!("asset \"{asset}\" is not a CentrifugalPump; pumps of the scenario: {}", pumps.join(", ")),
                ),
                Some(true) => {}
            }
            if let SweepParam::Unbalance { .. } = sweep.param {
                let bad = all(&|v| v.is_finite() && v >= 0.0);
                if !bad.is_empty() {
                    problem("values", format!("unbalance multipliers must be finite and >= 0, found {}", list(&bad)));
                }
            } else {
                let has_defect =
                    s.faults.iter().any(|f| matches!(f, FaultSpec::BearingDefect { asset: a, .. } if a == asset));
                if is_pump == Some(true) && !has_defect {
                    problem("param.asset", format!("the scenario has no BearingDefect fault on \"{asset}\" to vary"));
                }
                let bad = all(&|v| (0.0..=1.0).contains(&v));
                if !bad.is_empty() {
                    problem("values", format!("severities must be within 0..1, found {}", list(&bad)));
                }
            }
        }
        SweepParam::SetpointInitial { setpoint } => match s.setpoints.iter().find(|sp| &sp.id == setpoint) {
            None => {
                let known: Vec<&str> = s.setpoints.iter().map(|sp| sp.id.as_str()).collect();
                problem(
                    "param.setpoint",
                    format!("unknown set-point \"{setpoint}\"; known set-points: {}", known.join(", ")),
                );
            }
            Some(sp) => {
                let bad = all(&|v| v >= sp.min && v <= sp.max);
                if !bad.is_empty() {
                    problem(
                        "values",
                        format!("{} is outside the set-point's range [{}, {}] {}", list(&bad), sp.min, sp.max, sp.unit),
                    );
                }
            }
        },
    }
    problems
}

/// Byte offset of `key` used as a field name (an identifier followed by `:`) at or after `from`.
fn key_offset(text: &str, key: &str, from: usize) -> Option<usize> {
    let mut start = from;
    while let Some(rel) = text.get(start..)?.find(key) {
        let at = start + rel;
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before_ok = !text[..at].chars().next_back().is_some_and(ident);
        if before_ok && text[at + key.len()..].trim_start().starts_with(':') {
            return Some(at);
        }
        start = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn with_sweep(sweep: &str) -> Result<Scenario, String> {
        let base = include_str!("../../scenes/pump_station.ron");
        let at = base.rfind(')').expect("closing paren");
        let text = format!("{}    sweep: {sweep},\n{}", &base[..at], &base[at..]);
        super::super::parse(&text, Path::new("s.ron")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_unbalance_sweep_gives_one_named_case_per_value() {
        let s = with_sweep(r#"(name: "unbalance", param: Unbalance(asset: "P-101"), values: [1.0, 2.5])"#).unwrap();
        let cases = s.sweep.as_ref().unwrap().cases(&s);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[1].0.label, "unbalance=2.5x");
        assert_eq!(cases[1].1.name, "Water treatment pump station[unbalance=2.5x]");
        assert!(cases[1].1.sweep.is_none());
        let unbalance = |s: &Scenario| match &s.asset("P-101").unwrap().kind {
            AssetKind::CentrifugalPump(p) => p.unbalance_g_mm,
            _ => unreachable!(),
        };
        assert_eq!(unbalance(&cases[0].1), 400.0);
        assert_eq!(unbalance(&cases[1].1), 1000.0);
    }

    #[test]
    fn severity_and_setpoint_sweeps_set_their_values() {
        let s = with_sweep(r#"(param: BearingDefectSeverity(asset: "P-101"), values: [0.2])"#).unwrap();
        let (case, c) = &s.sweep.as_ref().unwrap().cases(&s)[0];
        assert_eq!(case.label, "severity=0.2");
        assert!(matches!(c.faults[0], FaultSpec::BearingDefect { severity: 0.2, .. }));
        let s = with_sweep(r#"(param: SetpointInitial(setpoint: "P-101.speed"), values: [1300.0])"#).unwrap();
        let (case, c) = &s.sweep.as_ref().unwrap().cases(&s)[0];
        assert_eq!(case.label, "P-101.speed=1300");
        assert_eq!(c.setpoints[0].initial, 1300.0);
    }

    #[test]
    fn bad_sweeps_are_located_and_explained() {
        let e = with_sweep(r#"(param: Unbalance(asset: "M-101"), values: [])"#).unwrap_err();
        assert!(
            e.contains("sweep.param.asset: asset \"M-101\" is not a CentrifugalPump; pumps of the scenario: P-101"),
            "{e}"
        );
        assert!(e.contains("sweep.values: a sweep needs at least one value"), "{e}");
        let e = with_sweep(r#"(param: Unbalance(asset: "P-9"), values: [1.0, -1.0, 1.0])"#).unwrap_err();
        assert!(e.contains("unknown asset \"P-9\""), "{e}");
        assert!(e.contains("multipliers must be finite and >= 0, found -1"), "{e}");
        assert!(e.contains("value 1 appears twice"), "{e}");
        let e = with_sweep(r#"(param: SetpointInitial(setpoint: "P-101.speed"), values: [2000.0])"#).unwrap_err();
        assert!(e.contains("2000 is outside the set-point's range [600, 1480] rpm"), "{e}");
        let e = with_sweep(r#"(param: BearingDefectSeverity(asset: "P-101"), values: [1.5])"#).unwrap_err();
        assert!(e.contains("severities must be within 0..1, found 1.5"), "{e}");
        // Located at the field, on the sweep's line.
        let line = e.lines().next().unwrap();
        assert!(line.starts_with("s.ron:") && line.contains(": sweep.values:"), "{line}");
    }
}
