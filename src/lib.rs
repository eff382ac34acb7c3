//! twin: a digital-twin workbench. The library holds the scenario format, the ECS twin and its pipeline, the
//! headless runner and (behind the `gui` feature) the desktop workbench; `main.rs` is a thin CLI over it.

pub mod app;
pub mod assess;
pub mod change;
pub mod headless;
pub mod ingest;
pub mod plant;
pub mod publish;
pub mod scenario;
pub mod store;
pub mod sync;
pub mod twin;
#[cfg(feature = "gui")]
pub mod ui;
pub mod units;

/// The bundled worked example, compiled in so `twin` opens something with no file at hand.
pub const BUNDLED_SCENARIO: &str = include_str!("../scenes/pump_station.ron");
/// The path the bundled scenario is reported under.
pub const BUNDLED_SCENARIO_PATH: &str = "scenes/pump_station.ron";
