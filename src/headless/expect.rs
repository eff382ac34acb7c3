//! Checking a scenario's expectations during a headless run, each kind in its own way, keeping what decided the
//! verdict so a failure can say what was seen and when:
//!
//! - `IndexBelow`, `IndexAbove`, `RulBetween`: the index is read at every tick of the window (`When`), or at its
//!   instant; the first violation (before any, the value closest to a bound) is kept.
//! - `AlarmRaised`, `NoAlarm`, `DriftDetected`: judged at the end of the run from the drift alarms the twin
//!   raised. Each alarm carries the simulated time it was raised, so a deadline is exact whatever the tick;
//!   `DriftDetected` reuses the report's alarm scoring ([`crate::sync::performance::score_fault`]).
//! - `DraftAccepted`, `DraftRejected`: at `at` (an exact checkpoint), a draft is made in the live twin,
//!   validated through every layer ([`crate::change::validate::validate`], seeded with the run's seed), and
//!   discarded. Validation only reads the world, so the rest of the run is as it would have been without it.
//! - `NoSampleDropped`: a sample is dropped when it is lost on its way to the twin: refused by a full inbound
//!   channel (the twin's, or a live MQTT client's; the report's `dropped_channel_full`), or a plant publication
//!   its MQTT client refused. Samples that reached ingestion and were judged there (out of range, duplicate, too
//!   late for the allowed lateness, awaiting a Sparkplug rebirth...) are not drops: the report counts them by
//!   outcome. Outgoing commands (`command_dropped`) are not samples.

use bevy::prelude::World;
use serde::Serialize;

use crate::change::draft::Draft;
use crate::change::validate::{Verdict, validate};
use crate::ingest::Telemetry;
use crate::plant::inprocess::PlantRunner;
use crate::scenario::{Dur, Expectation, FaultSpec, Scenario, When};
use crate::sync::{Assimilation, DriftAlarm, Setpoints};
use crate::twin::read_index;

/// The verdict on one expectation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExpectationResult {
    /// The expectation in words.
    pub expectation: String,
    /// Whether it held.
    pub passed: bool,
    /// The value that decided the verdict, if any was seen: an index's worst (or first violating) value, the
    /// number of matching drift alarms, a fault's detection delay in s, the number of validation layers that
    /// rejected a draft, the number of samples dropped.
    pub observed: Option<f64>,
    /// Simulated time of that observation, s.
    pub observed_at_s: Option<f64>,
    /// Why it failed, in words; empty when it passed.
    pub message: String,
}

struct Tracker {
    exp: Expectation,
    /// Steps in which `check` looks at the world, inclusive; `None` for expectations judged at the end of the run
    /// from what the twin recorded.
    window: Option<(u64, u64)>,
    /// The deciding value so far and its step.
    worst: Option<(f64, u64)>,
    violated: bool,
    missing: bool,
    /// The draft's verdicts, or why validation could not run.
    draft: Option<Result<Vec<Verdict>, String>>,
}

/// Evaluates every expectation of a scenario as the run advances.
pub struct Checker {
    trackers: Vec<Tracker>,
    step_s: f64,
    total_steps: u64,
    seed: u64,
}

fn steps(d: &Dur, step_s: f64) -> u64 {
    (d.secs() / step_s).round() as u64
}

/// How far inside its bounds an index value is (negative outside, NaN for NaN).
fn margin(e: &Expectation, v: f64) -> f64 {
    match e {
        Expectation::IndexBelow { max, .. } => max - v,
        Expectation::IndexAbove { min, .. } => v - min,
        Expectation::RulBetween { min_h, max_h, .. } => (v - min_h).min(max_h - v),
        _ => f64::NAN,
    }
}

/// Samples lost on their way to the twin so far (see the module docs).
fn dropped(world: &World) -> u64 {
    let channel = world.get_resource::<Telemetry>().map_or(0, Telemetry::dropped_channel_full);
    channel + world.get_resource::<PlantRunner>().map_or(0, PlantRunner::refused_upstream)
}

/// Validates a draft of `value` (in the set-point's unit) for `setpoint` made at `t_s` (a draft of no session: it
/// is only asked about).
fn validate_draft(world: &World, setpoint: &str, value: f64, t_s: f64, seed: u64) -> Result<Vec<Verdict>, String> {
    let scenario = world.resource::<crate::twin::LoadedScenario>().0.clone();
    let sp = scenario.setpoints.iter().find(|s| s.id == setpoint).ok_or(format!("no set-point \"{setpoint}\""))?;
    let canonical = sp.target.quantity().converter(&sp.unit).map_or(value, |c| c.to_canonical(value));
    let live = world.get_resource::<Setpoints>().ok_or("the twin has no set-points")?;
    let draft = Draft::against(live, 0, setpoint, canonical, "twin run", t_s).map_err(|e| e.to_string())?;
    let validation = validate(world, &draft, seed);
    validation.map(|v| v.verdicts).map_err(|e| format!("validation could not run: {e}"))
}

impl Checker {
    /// A checker for a run of `total_steps` steps of `step_s`; `seed` seeds the validation of drafts.
    pub fn new(s: &Scenario, step_s: f64, total_steps: u64, seed: u64) -> Self {
        let trackers = s
            .expect
            .iter()
            .map(|e| {
                let window = match e {
                    Expectation::DraftAccepted { at, .. } | Expectation::DraftRejected { at, .. } => {
                        Some((steps(at, step_s), steps(at, step_s)))
                    }
                    Expectation::NoSampleDropped => Some((0, total_steps)),
                    _ => e.when().map(|w| match w {
                        When::Always => (0, total_steps),
                        When::At(t) => (steps(t, step_s), steps(t, step_s)),
                        When::Between(a, b) => (steps(a, step_s), steps(b, step_s)),
                        When::End => (total_steps, total_steps),
                    }),
                };
                Tracker { exp: e.clone(), window, worst: None, violated: false, missing: false, draft: None }
            })
            .collect();
        Self { trackers, step_s, total_steps, seed }
    }

    /// The next step after `done` at which some expectation must be checked exactly.
    pub fn next_checkpoint(&self, done: u64) -> Option<u64> {
        self.trackers
            .iter()
            .filter_map(|t| t.window)
            .flat_map(|(from, to)| [from, to])
            .filter(|&s| s > done && s <= self.total_steps)
            .min()
    }

    /// Checks every expectation whose window contains `step` (a draft is made, validated and discarded there).
    pub fn check(&mut self, world: &mut World, step: u64) {
        let (step_s, seed) = (self.step_s, self.seed);
        for t in &mut self.trackers {
            let Some((from, to)) = t.window else { continue };
            if step < from || step > to {
                continue;
            }
            match &t.exp {
                Expectation::DraftAccepted { setpoint, value, .. }
                | Expectation::DraftRejected { setpoint, value, .. } => {
                    if t.draft.is_none() {
                        t.draft = Some(validate_draft(world, setpoint, *value, step as f64 * step_s, seed));
                    }
                }
                Expectation::NoSampleDropped => {
                    let n = dropped(world);
                    if n > 0 && !t.violated {
                        t.violated = true;
                        t.worst = Some((n as f64, step));
                    }
                }
                e => {
                    let Some((asset, index)) = e.index_of() else { continue };
                    let Some(v) = read_index(world, asset, index) else {
                        t.missing = true;
                        continue;
                    };
                    let m = margin(e, v);
                    let bad = m.is_nan() || m < 0.0;
                    let worse = t.worst.is_none_or(|(w, _)| m < margin(e, w));
                    // Keep the first violation; before any, keep the value closest to a bound.
                    if bad && !t.violated {
                        t.violated = true;
                        t.worst = Some((v, step));
                    } else if !t.violated && worse {
                        t.worst = Some((v, step));
                    }
                }
            }
        }
    }

    /// The verdicts, in the scenario's order, after a run of `done` steps of the twin in `world`.
    pub fn finish(self, world: &World, scenario: &Scenario, done: u64) -> Vec<ExpectationResult> {
        let step_s = self.step_s;
        let end_s = done as f64 * step_s;
        let alarms = world.get_resource::<Assimilation>().map_or(&[][..], |a| a.alarms.as_slice());
        self.trackers
            .into_iter()
            .map(|t| {
                let (observed, observed_at_s, message) = match t.window {
                    Some((from, _)) if from > done => (
                        None,
                        None,
                        format!(
                            "the run ended at {} before the expectation's time {}",
                            fmt_t(end_s),
                            fmt_t(from as f64 * step_s)
                        ),
                    ),
                    _ => judge(&t, world, scenario, alarms, step_s, end_s),
                };
                ExpectationResult {
                    expectation: describe(&t.exp, scenario),
                    passed: message.is_empty(),
                    observed,
                    observed_at_s,
                    message,
                }
            })
            .collect()
    }
}

/// (observed, observed at, failure message) of one expectation whose time has come.
fn judge(
    t: &Tracker,
    world: &World,
    scenario: &Scenario,
    alarms: &[DriftAlarm],
    step_s: f64,
    end_s: f64,
) -> (Option<f64>, Option<f64>, String) {
    let at = |step: u64| step as f64 * step_s;
    match &t.exp {
        Expectation::IndexBelow { .. } | Expectation::IndexAbove { .. } | Expectation::RulBetween { .. } => {
            let observed = t.worst.map(|(v, _)| v);
            let observed_at_s = t.worst.map(|(_, s)| at(s));
            let message = match (t.worst, t.exp.index_of()) {
                (None, Some((asset, index))) if t.missing => format!("{asset} has no {index:?}"),
                (Some((v, s)), _) if t.violated => format!("observed {v:.6} at {}", fmt_t(at(s))),
                _ => String::new(),
            };
            (observed, observed_at_s, message)
        }
        Expectation::NoSampleDropped => {
            let total = dropped(world) as f64;
            match t.worst {
                Some((_, s)) if t.violated => (
                    Some(total),
                    Some(at(s)),
                    format!(
                        "{total} sample(s) lost on their way to the twin (refused by a full channel), the first by {}",
                        fmt_t(at(s))
                    ),
                ),
                _ => (Some(total), Some(end_s), String::new()),
            }
        }
        Expectation::DraftAccepted { .. } | Expectation::DraftRejected { .. } => {
            let at_s = t.window.map_or(end_s, |(from, _)| at(from));
            let verdicts = match &t.draft {
                Some(Ok(v)) => v,
                Some(Err(e)) => return (None, Some(at_s), format!("at {}: {e}", fmt_t(at_s))),
                None => return (None, None, "the draft was never validated".into()),
            };
            let failing: Vec<&Verdict> = verdicts.iter().filter(|v| !v.passed).collect();
            let rejected: Vec<String> = failing.iter().map(|v| format!("{:?}: {}", v.layer, v.reason)).collect();
            let message = match &t.exp {
                Expectation::DraftAccepted { .. } if !failing.is_empty() => {
                    format!("rejected at {} by {}", fmt_t(at_s), rejected.join("; "))
                }
                Expectation::DraftRejected { .. } if failing.is_empty() => {
                    format!("accepted by every layer at {}", fmt_t(at_s))
                }
                Expectation::DraftRejected { layer: Some(layer), .. } if !failing.iter().any(|v| v.layer == *layer) => {
                    let said = verdicts.iter().find(|v| v.layer == *layer).map_or("", |v| v.reason.as_str());
                    format!("rejected at {} by {}, but {layer:?} passed: {said}", fmt_t(at_s), rejected.join("; "))
                }
                _ => String::new(),
            };
            (Some(failing.len() as f64), Some(at_s), message)
        }
        Expectation::AlarmRaised { asset, before, quantity, kind } => {
            let matching: Vec<&DriftAlarm> = alarms
                .iter()
                .filter(|a| {
                    a.asset == *asset && quantity.is_none_or(|q| q == a.quantity) && kind.is_none_or(|k| k == a.kind)
                })
                .collect();
            let deadline = before.secs();
            let in_time: Vec<&&DriftAlarm> = matching.iter().filter(|a| a.raised_s <= deadline).collect();
            if let Some(first) = in_time.iter().min_by(|x, y| x.raised_s.total_cmp(&y.raised_s)) {
                return (Some(in_time.len() as f64), Some(first.raised_s), String::new());
            }
            let message = match matching.iter().min_by(|x, y| x.raised_s.total_cmp(&y.raised_s)) {
                Some(late) => format!(
                    "no such drift alarm by {}; the first was raised at {}: {}",
                    fmt_t(deadline),
                    fmt_t(late.raised_s),
                    alarm_words(late)
                ),
                None if deadline > end_s => format!(
                    "no such drift alarm by the end of the run at {}, before the deadline {}",
                    fmt_t(end_s),
                    fmt_t(deadline)
                ),
                None => format!("no such drift alarm by {}", fmt_t(deadline)),
            };
            (Some(0.0), Some(deadline.min(end_s)), message)
        }
        Expectation::NoAlarm { asset, before } => {
            let deadline = before.map_or(f64::INFINITY, Dur::secs);
            let mut seen: Vec<&DriftAlarm> = alarms
                .iter()
                .filter(|a| asset.as_ref().is_none_or(|x| *x == a.asset) && a.raised_s <= deadline)
                .collect();
            seen.sort_by(|x, y| x.raised_s.total_cmp(&y.raised_s));
            match seen.first() {
                Some(first) => (
                    Some(seen.len() as f64),
                    Some(first.raised_s),
                    format!(
                        "{} drift alarm(s), the first at {}: {}",
                        seen.len(),
                        fmt_t(first.raised_s),
                        alarm_words(first)
                    ),
                ),
                None if deadline.is_finite() && deadline > end_s => (
                    Some(0.0),
                    Some(end_s),
                    format!("the run ended at {} before the expectation's time {}", fmt_t(end_s), fmt_t(deadline)),
                ),
                None => (Some(0.0), Some(deadline.min(end_s)), String::new()),
            }
        }
        Expectation::ServiceWindowBefore { asset, before } => {
            let log = world.get_resource::<crate::assess::service::ServiceLog>();
            let first = log.and_then(|l| l.notifications.iter().find(|n| n.asset == *asset));
            match first {
                Some(n) if n.raised_at_s <= before.secs() => {
                    (Some(n.window_latest_s), Some(n.raised_at_s), String::new())
                }
                Some(n) => (
                    Some(n.window_latest_s),
                    Some(n.raised_at_s),
                    format!(
                        "the first service window for {asset} was recommended at {}, after {before}",
                        fmt_t(n.raised_at_s)
                    ),
                ),
                None if before.secs() > end_s => (
                    None,
                    Some(end_s),
                    format!("no service window for {asset} by the end of the run at {}, before {before}", fmt_t(end_s)),
                ),
                None => (None, Some(before.secs()), format!("no service window recommended for {asset} by {before}")),
            }
        }
        Expectation::DriftDetected { fault, within } => {
            let Some(score) = crate::sync::performance::score_fault(alarms, scenario, *fault, end_s) else {
                return (None, None, format!("faults[{fault}] is not a fault a drift monitor sees"));
            };
            let name = fault_words(scenario, *fault);
            let deadline = score.onset_s + within.secs();
            match (score.detected_s, score.delay_s) {
                (Some(t), Some(d)) if d <= within.secs() => (Some(d), Some(t), String::new()),
                (Some(t), Some(d)) => (
                    Some(d),
                    Some(t),
                    format!(
                        "{name} (onset {}) was first detected at {}, {d:.0} s after its onset, later than {within}",
                        fmt_t(score.onset_s),
                        fmt_t(t)
                    ),
                ),
                _ if deadline > end_s => (
                    None,
                    Some(end_s),
                    format!(
                        "{name} (onset {}) was not detected by the end of the run at {}, before the deadline {}",
                        fmt_t(score.onset_s),
                        fmt_t(end_s),
                        fmt_t(deadline)
                    ),
                ),
                _ => (
                    None,
                    Some(deadline),
                    format!(
                        "{name} (onset {}) was not detected by {}, {within} after its onset",
                        fmt_t(score.onset_s),
                        fmt_t(deadline)
                    ),
                ),
            }
        }
    }
}

/// Simulated time as "2d 03:04:05".
pub fn fmt_t(t_s: f64) -> String {
    let total = t_s.round() as u64;
    let (d, rem) = (total / 86_400, total % 86_400);
    format!("{d}d {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An alarm in words: "P-1 VibrationVelocityPeak ShiftUp (cause ModelDrift)".
fn alarm_words(a: &DriftAlarm) -> String {
    format!("{} {:?} {:?} (cause {:?})", a.asset, a.quantity, a.kind, a.cause)
}

/// A fault in words: "faults[0] BearingDefect P-1".
fn fault_words(s: &Scenario, i: usize) -> String {
    let what = match s.faults.get(i) {
        Some(FaultSpec::BearingDefect { asset, .. }) => format!("BearingDefect {asset}"),
        Some(FaultSpec::CavitationEpisode { asset, .. }) => format!("CavitationEpisode {asset}"),
        Some(FaultSpec::StuckSensor { signal, .. }) => format!("StuckSensor {signal}"),
        Some(FaultSpec::DriftingSensor { signal, .. }) => format!("DriftingSensor {signal}"),
        Some(FaultSpec::SkewedClock { signal, .. }) => format!("SkewedClock {signal}"),
        Some(FaultSpec::BrokerOutage { .. }) => "BrokerOutage".into(),
        Some(FaultSpec::ConfigChange { asset, .. }) => format!("ConfigChange {asset}"),
        None => "(no such fault)".into(),
    };
    format!("faults[{i}] {what}")
}

fn describe(e: &Expectation, s: &Scenario) -> String {
    let when = match e.when() {
        None | Some(When::Always) => "throughout the run".to_owned(),
        Some(When::At(t)) => format!("at {t}"),
        Some(When::Between(a, b)) => format!("between {a} and {b}"),
        Some(When::End) => "at the end of the run".to_owned(),
    };
    let draft = |setpoint: &str, value: f64, at: &Dur| {
        let unit = s.setpoints.iter().find(|x| x.id == setpoint).map_or("", |x| x.unit.as_str());
        format!("draft {setpoint} = {value} {unit} at {at}")
    };
    match e {
        Expectation::IndexBelow { asset, index, max, .. } => format!("{asset} {index:?} <= {max} {when}"),
        Expectation::IndexAbove { asset, index, min, .. } => format!("{asset} {index:?} >= {min} {when}"),
        Expectation::RulBetween { asset, min_h, max_h, .. } => {
            format!("{asset} RemainingLifeHours in [{min_h}, {max_h}] h {when}")
        }
        Expectation::AlarmRaised { asset, before, quantity, kind } => {
            let q = quantity.map(|q| format!(" {q:?}")).unwrap_or_default();
            let k = kind.map(|k| format!(" {k:?}")).unwrap_or_default();
            format!("drift alarm on {asset}{q}{k} by {before}")
        }
        Expectation::NoAlarm { asset, before } => format!(
            "no drift alarm on {} {}",
            asset.as_deref().unwrap_or("any asset"),
            before.map_or("during the run".to_owned(), |b| format!("by {b}"))
        ),
        Expectation::DriftDetected { fault, within } => {
            format!("{} detected within {within} of its onset", fault_words(s, *fault))
        }
        Expectation::DraftAccepted { setpoint, value, at } => format!("{} accepted", draft(setpoint, *value, at)),
        Expectation::DraftRejected { setpoint, value, at, layer } => format!(
            "{} rejected{}",
            draft(setpoint, *value, at),
            layer.map(|l| format!(" by {l:?}")).unwrap_or_default()
        ),
        Expectation::NoSampleDropped => "no sample dropped during the run".to_owned(),
        Expectation::ServiceWindowBefore { asset, before } => {
            format!("service window recommended for {asset} by {before}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rul(min_h: f64, max_h: f64) -> Expectation {
        Expectation::RulBetween { asset: "P-1".into(), min_h, max_h, when: When::Always }
    }

    #[test]
    fn the_margin_is_how_far_inside_the_bounds_a_value_is() {
        assert_eq!(margin(&rul(100.0, 1000.0), 150.0), 50.0);
        assert_eq!(margin(&rul(100.0, 1000.0), 990.0), 10.0);
        assert!(margin(&rul(100.0, 1000.0), 50.0) < 0.0);
        assert!(margin(&rul(100.0, 1000.0), 2000.0) < 0.0);
        assert!(margin(&rul(100.0, 1000.0), f64::NAN).is_nan());
        let below = Expectation::IndexBelow {
            asset: "P-1".into(),
            index: crate::scenario::Index::Flow,
            max: 10.0,
            when: When::End,
        };
        assert_eq!(margin(&below, 12.0), -2.0);
    }

    #[test]
    fn a_validated_draft_leaves_the_live_setpoint_untouched() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let s = std::sync::Arc::new(crate::scenario::load(&path).unwrap());
        let mut app = crate::app::headless_app(s, 1);
        app.update();
        let live = app.world().resource::<Setpoints>().live.clone();
        let verdicts = validate_draft(app.world(), "P-101.speed", 1600.0, 0.0, 1).unwrap();
        let envelope = verdicts.iter().find(|v| v.layer == crate::change::validate::Layer::Envelope).unwrap();
        assert!(!envelope.passed, "{envelope:?}");
        assert_eq!(app.world().resource::<Setpoints>().live, live);
        let e = validate_draft(app.world(), "P-101.nope", 1.0, 0.0, 1).unwrap_err();
        assert_eq!(e, "no set-point \"P-101.nope\"");
    }

    #[test]
    fn every_kind_parses_validates_and_round_trips_through_ron() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let text = std::fs::read_to_string(&path).unwrap().replacen(
            "expect: [",
            r#"expect: [
                RulBetween(asset: "P-101", min_h: 1000.0, max_h: 1e6, when: Between("1h", "2h")),
                AlarmRaised(asset: "P-101", before: "2d", quantity: VibrationVelocityPeak, kind: ShiftUp),
                AlarmRaised(asset: "M-101", before: "1h"),
                NoAlarm(asset: "T-1", before: "36h"),
                NoAlarm(),
                DriftDetected(fault: 0, within: "30m"),
                DraftAccepted(setpoint: "P-101.speed", value: 1300.0, at: "1h"),
                DraftRejected(setpoint: "P-101.speed", value: 1600.0, at: "1h", layer: Envelope),
                DraftRejected(setpoint: "P-101.speed", value: 1600.0, at: "1h"),
                NoSampleDropped,
                ServiceWindowBefore(asset: "P-101", before: "1d"),"#,
            1,
        );
        let s = crate::scenario::parse(&text, &path).unwrap();
        assert_eq!(s.expect.len(), 17);
        let names: Vec<&str> = s.expect.iter().map(Expectation::name).collect();
        assert_eq!(names[..4], ["RulBetween", "AlarmRaised", "AlarmRaised", "NoAlarm"]);
        assert_eq!(s.expect[9], Expectation::NoSampleDropped);
        assert_eq!(s.expect[10].name(), "ServiceWindowBefore");
        assert_eq!(crate::scenario::parse(&s.to_ron(), &path).unwrap(), s);
    }

    #[test]
    fn simulated_times_read_as_days_and_clock_time() {
        assert_eq!(fmt_t(0.0), "0d 00:00:00");
        assert_eq!(fmt_t(2.0 * 86_400.0 + 3.0 * 3600.0 + 4.0 * 60.0 + 5.0), "2d 03:04:05");
    }
}
