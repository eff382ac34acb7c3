//! Simulated time: a fixed model step, advanced a whole number of steps per tick, so that a run with the same
//! scenario, inputs and seed is repeatable whatever the frame rate.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::time::Real;

use super::TwinSystems;

/// The twin's clock. Systems in `TwinSystems::Simulate` consume `pending_steps` and advance `now_s` (a live twin's
/// step may take several ticks, `pending_steps` staying until it is whole).
#[derive(Resource, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SimClock {
    /// Model step, s.
    pub step_s: f64,
    /// Simulated time since the start of the run, s.
    pub now_s: f64,
    /// Model steps taken since the start.
    pub steps_done: u64,
    /// Model steps to take in this tick.
    pub pending_steps: u32,
}

impl SimClock {
    /// A clock at t = 0 with the given model step.
    pub fn new(step_s: f64) -> Self {
        Self { step_s, now_s: 0.0, steps_done: 0, pending_steps: 0 }
    }
}

/// How ticks map to model steps.
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub enum ClockPacing {
    /// Whoever drives the app sets `pending_steps` before each update (the headless runner).
    #[default]
    Manual,
    /// Follow the wall clock, `speed` simulated seconds per real second.
    Realtime {
        /// Simulated seconds per wall-clock second.
        speed: f64,
        /// Simulated time owed but not yet stepped, s.
        owed_s: f64,
        /// When true no steps are taken.
        paused: bool,
    },
}

/// Model steps per tick when nothing forces an earlier tick boundary.
pub const STEPS_PER_TICK: u64 = 60;
/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the machine can.
    Max,
    /// `factor` simulated seconds per wall-clock second (1.0 is real time).
    Paced(f64),
}

impl Speed {
    /// Sleeps until simulated time `sim_t_s` is due on the wall clock, counted from `started`
    /// (returns at once for `Max`, or when already late).
    pub fn pace(self, started: Instant, sim_t_s: f64) {
        if let Speed::Paced(factor) = self
            && let Some(wait) = Duration::from_secs_f64(sim_t_s / factor).checked_sub(started.elapsed())
        {
            std::thread::sleep(wait);
        }
    }
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "max" => Ok(Speed::Max),
            "realtime" => Ok(Speed::Paced(1.0)),
            other => match other.trim_end_matches('x').parse::<f64>() {
                Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Paced(f)),
                _ => Err(format!("invalid speed \"{s}\": use max, realtime, or a factor such as 60x")),
            },
        }
    }
}

/// A run condition: the model stepped since the system it gates last ran (true on its first tick too). A live twin
/// ticks on every message (thousands of ticks a second at plant scale) but steps its models once a model step:
/// what derives from the models' state alone is derived once per step, not once per tick over every asset.
pub fn model_stepped(clock: Res<SimClock>, mut seen: Local<Option<u64>>) -> bool {
    let stepped = *seen != Some(clock.steps_done);
    *seen = Some(clock.steps_done);
    stepped
}

/// Most steps one frame may take in real-time pacing, so that a slow frame cannot snowball.
const MAX_STEPS_PER_FRAME: f64 = 100_000.0;

/// Sets this tick's step count from the wall clock when pacing in real time.
fn pace_sim_clock(mut clock: ResMut<SimClock>, mut pacing: ResMut<ClockPacing>, time: Res<Time<Real>>) {
    if let ClockPacing::Realtime { speed, owed_s, paused } = &mut *pacing {
        if *paused {
            clock.pending_steps = 0;
            return;
        }
        *owed_s += time.delta_secs_f64() * *speed;
        let steps = (*owed_s / clock.step_s).floor().min(MAX_STEPS_PER_FRAME);
        *owed_s = (*owed_s - steps * clock.step_s).min(clock.step_s * MAX_STEPS_PER_FRAME);
        // Added to what is still pending: a live twin's step may take several ticks (see
        // [`super::simulate::LIVE_STEP_SLICE`]).
        clock.pending_steps = clock.pending_steps.saturating_add(steps as u32);
    }
}

/// Installs the pacing system ahead of the pipeline.
pub struct ClockPlugin;

impl Plugin for ClockPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, pace_sim_clock.in_set(TwinSystems::Pace));
    }
}
