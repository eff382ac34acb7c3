//! Plain-Rust asset models: parameters, state and pure `step` functions, free of Bevy, so that the live twin,
//! the what-if engine, the virtual plant, tests and benchmarks all run the same code.

pub mod bearing;
pub mod calibration;
pub mod degradation;
pub mod drift;
pub mod health;
pub mod hydraulics;
pub mod insulation;
pub mod loadmap;
pub mod observer;
pub mod params;
pub mod pump_train;
pub mod rotor;
pub mod tank;
pub mod thermal;
pub mod vibration;
pub mod whatif;

pub use health::{BearingLifeDistribution, HealthIndices};
pub use loadmap::{LoadMap, LoadPoint};
pub use params::{MotorParams, PumpParams, TankParams};
pub use pump_train::{PumpTrain, PumpTrainInputs, PumpTrainOutputs, PumpTrainState};
pub use rotor::{RotorParams, RotorResponse, RotorSim};
pub use vibration::Zone;

/// Why a model could not be built from its parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// One or more parameters are physically invalid: `(serde field path, message)` pairs.
    #[error("invalid parameters: {}", format_issues(.0))]
    InvalidParams(Vec<(String, String)>),
    /// The rapier sweep that fits the load map produced a non-finite or degenerate result.
    #[error("load-map fit failed: {0}")]
    Fit(String),
}

fn format_issues(issues: &[(String, String)]) -> String {
    issues.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ")
}
