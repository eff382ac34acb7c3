//! The site's boundary conditions over time: ambient temperature with its daily cycle and a seeded random
//! fluctuation, and a seeded fluctuation of the tanks' inflow.

use bevy::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::scenario::Simulation;

/// Correlation time of the random fluctuations, s.
pub const CORRELATION_S: f64 = 600.0;

/// Seeded boundary conditions, advanced once per model step.
#[derive(Resource, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Environment {
    mean_c: f64,
    swing_k: f64,
    ambient_noise_k: f64,
    inflow_noise: f64,
    rng: ChaCha8Rng,
    /// Current ambient deviation from the daily cycle, K.
    ambient_dev_k: f64,
    /// Current relative inflow deviation.
    inflow_dev: f64,
}

impl Environment {
    /// Boundary conditions for a scenario's simulation settings and a seed.
    pub fn new(sim: &Simulation, seed: u64) -> Self {
        Self::from_rng(sim, ChaCha8Rng::seed_from_u64(seed))
    }

    /// Boundary conditions drawing from a given random stream (the virtual plant uses its own).
    pub fn from_rng(sim: &Simulation, rng: ChaCha8Rng) -> Self {
        Self {
            mean_c: sim.ambient.mean_c,
            swing_k: sim.ambient.daily_swing_k,
            ambient_noise_k: sim.ambient_noise_k,
            inflow_noise: sim.inflow_noise,
            rng,
            ambient_dev_k: 0.0,
            inflow_dev: 0.0,
        }
    }

    /// Advances both first-order Gauss–Markov processes by `dt_s` (exact discretisation:
    /// `x' = a x + sqrt(1 - a²) σ n`, `a = exp(-dt/τ)`), so their variance stays σ² for any step.
    pub fn advance(&mut self, dt_s: f64) {
        if self.ambient_noise_k == 0.0 && self.inflow_noise == 0.0 {
            return;
        }
        let a = (-dt_s / CORRELATION_S).exp();
        let b = (1.0 - a * a).sqrt();
        let n1: f64 = StandardNormal.sample(&mut self.rng);
        let n2: f64 = StandardNormal.sample(&mut self.rng);
        self.ambient_dev_k = a * self.ambient_dev_k + b * self.ambient_noise_k * n1;
        self.inflow_dev = a * self.inflow_dev + b * self.inflow_noise * n2;
    }

    /// Ambient temperature at simulated time `t_s`, °C: coolest at 03:00, warmest at 15:00.
    pub fn ambient_c(&self, t_s: f64) -> f64 {
        self.ambient_cycle_c(t_s) + self.ambient_dev_k
    }

    /// The daily cycle alone at `t_s`, °C: what the twin knows of the ambient without a sensor.
    pub fn ambient_cycle_c(&self, t_s: f64) -> f64 {
        let phase = std::f64::consts::TAU * (t_s / 86_400.0 - 0.375);
        self.mean_c + self.swing_k * phase.sin()
    }

    /// Multiplier on the tanks' nominal inflow, never negative.
    pub fn inflow_factor(&self) -> f64 {
        (1.0 + self.inflow_dev).max(0.0)
    }
}
