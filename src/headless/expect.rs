//! Checking a scenario's expectations during a headless run: each one at its instant, over its window, or
//! at every tick, keeping the worst observation so a failure can say what was seen and when.

use bevy::prelude::World;
use serde::Serialize;

use crate::scenario::{Dur, Expectation, Scenario, When};
use crate::twin::read_index;

/// The verdict on one expectation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExpectationResult {
    /// The expectation in words.
    pub expectation: String,
    /// Whether it held.
    pub passed: bool,
    /// The value that decided the verdict (the worst one seen), if any was seen.
    pub observed: Option<f64>,
    /// Simulated time of that observation, s.
    pub observed_at_s: Option<f64>,
    /// Why it failed, in words; empty when it passed.
    pub message: String,
}

struct Tracker {
    exp: Expectation,
    /// Step range in which the expectation is checked, inclusive.
    from: u64,
    to: u64,
    /// The worst value seen so far and its step.
    worst: Option<(f64, u64)>,
    violated: bool,
    missing: bool,
}

/// Evaluates every expectation of a scenario as the run advances.
pub struct Checker {
    trackers: Vec<Tracker>,
    step_s: f64,
    total_steps: u64,
}

fn steps(d: &Dur, step_s: f64) -> u64 {
    (d.secs() / step_s).round() as u64
}

impl Checker {
    pub fn new(s: &Scenario, step_s: f64, total_steps: u64) -> Self {
        let trackers = s
            .expect
            .iter()
            .map(|e| {
                let (from, to) = match e.when() {
                    When::Always => (0, total_steps),
                    When::At(t) => (steps(t, step_s), steps(t, step_s)),
                    When::Between(a, b) => (steps(a, step_s), steps(b, step_s)),
                    When::End => (total_steps, total_steps),
                };
                Tracker { exp: e.clone(), from, to, worst: None, violated: false, missing: false }
            })
            .collect();
        Self { trackers, step_s, total_steps }
    }

    /// The next step after `done` at which some expectation must be checked exactly.
    pub fn next_checkpoint(&self, done: u64) -> Option<u64> {
        self.trackers.iter().flat_map(|t| [t.from, t.to]).filter(|&s| s > done && s <= self.total_steps).min()
    }

    /// Checks every expectation whose window contains `step`.
    pub fn check(&mut self, world: &World, step: u64) {
        for t in &mut self.trackers {
            if step < t.from || step > t.to {
                continue;
            }
            let Some(v) = read_index(world, t.exp.asset(), t.exp.index()) else {
                t.missing = true;
                continue;
            };
            let (bad, worse) = match &t.exp {
                Expectation::IndexBelow { max, .. } => (v > *max || v.is_nan(), t.worst.is_none_or(|(w, _)| v > w)),
                Expectation::IndexAbove { min, .. } => (v < *min || v.is_nan(), t.worst.is_none_or(|(w, _)| v < w)),
            };
            // Keep the first violation; before any, keep the worst value.
            if bad && !t.violated {
                t.violated = true;
                t.worst = Some((v, step));
            } else if !t.violated && worse {
                t.worst = Some((v, step));
            }
        }
    }

    /// The verdicts, in the scenario's order.
    pub fn finish(self, done: u64) -> Vec<ExpectationResult> {
        let step_s = self.step_s;
        self.trackers
            .into_iter()
            .map(|t| {
                let text = describe(&t.exp);
                let observed = t.worst.map(|(v, _)| v);
                let observed_at_s = t.worst.map(|(_, s)| s as f64 * step_s);
                let message = if t.from > done {
                    format!(
                        "the run ended at {} before the expectation's time {}",
                        fmt_t(done as f64 * step_s),
                        fmt_t(t.from as f64 * step_s)
                    )
                } else if t.missing && t.worst.is_none() {
                    format!("{} has no {:?}", t.exp.asset(), t.exp.index())
                } else if t.violated {
                    let (v, s) = t.worst.unwrap_or((f64::NAN, 0));
                    format!("observed {v:.6} at {}", fmt_t(s as f64 * step_s))
                } else {
                    String::new()
                };
                ExpectationResult { expectation: text, passed: message.is_empty(), observed, observed_at_s, message }
            })
            .collect()
    }
}

/// Simulated time as "2d 03:04:05".
pub fn fmt_t(t_s: f64) -> String {
    let total = t_s.round() as u64;
    let (d, rem) = (total / 86_400, total % 86_400);
    format!("{d}d {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn describe(e: &Expectation) -> String {
    let when = match e.when() {
        When::Always => "throughout the run".to_owned(),
        When::At(t) => format!("at {t}"),
        When::Between(a, b) => format!("between {a} and {b}"),
        When::End => "at the end of the run".to_owned(),
    };
    match e {
        Expectation::IndexBelow { asset, index, max, .. } => format!("{asset} {index:?} <= {max} {when}"),
        Expectation::IndexAbove { asset, index, min, .. } => format!("{asset} {index:?} >= {min} {when}"),
    }
}
