//! The twin's assembly: the plugins of every layer up to the assessment composed into one app, in the order the
//! pipeline needs (the twin's core, synchronization and the stepping it corrects, assessment, ingestion), and the
//! headless app built from them. It sits above the layers it composes and below everything that brings a twin up
//! (the change session, the virtual plant, the headless runner, the workbench).

use std::sync::Arc;

use bevy::prelude::*;

use crate::scenario::Scenario;
use crate::twin::TwinPlugin;

/// Every plugin of the twin of a scenario, from the core to the assessment. Added first to an app (before Bevy's
/// own plugins), so that its assets are the same entities in every app built from the scenario: a checkpoint
/// taken by `twin serve` restores into the workbench and back (entities are numbered as they are spawned).
pub struct TwinPlugins {
    pub scenario: Arc<Scenario>,
    /// Seed of every random process in the run (ambient and inflow fluctuations).
    pub seed: u64,
}

impl Plugin for TwinPlugins {
    fn build(&self, app: &mut App) {
        app.add_plugins(TwinPlugin { scenario: self.scenario.clone(), seed: self.seed });
        app.add_plugins(crate::sync::SyncPlugin {
            lateness_s: crate::ingest::IngestSettings::default().allowed_lateness_s,
            inflow_noise: self.scenario.simulation.inflow_noise,
            spec: self.scenario.sync.clone(),
        });
        app.add_plugins((
            crate::assess::config::ConfigPlugin,
            crate::assess::dependency::DependencyPlugin,
            crate::assess::defect::DefectPlugin { scenario: self.scenario.clone() },
            crate::assess::service::ServicePlugin,
        ));
        app.add_plugins(crate::ingest::IngestPlugin {
            scenario: self.scenario.clone(),
            settings: crate::ingest::IngestSettings::default(),
            epoch_unix_s: crate::ingest::DEFAULT_EPOCH_UNIX_S,
            budget: None,
        });
    }
}

/// Builds a headless app (no window, no renderer) holding the twin for `scenario`, on one thread.
///
/// Its schedules run on the single-threaded executor: a tick is a handful of systems, most of the work is in
/// one of them, and handing systems between threads 40,000 times a simulated month cost more than it saved
/// (a 30-day run of the pump station went from 2.6 s to well under 1 s; see the README's benchmarks).
pub fn headless_app(scenario: Arc<Scenario>, seed: u64) -> App {
    headless_app_threaded(scenario, seed, 1)
}

/// [`headless_app`] with the schedules on `threads` threads: 0 or 1 is the single-threaded executor; more runs
/// them on Bevy's multi-threaded executor over a compute task pool of that many threads (the pool is the
/// process's: the first app that sets it up sizes it). The results do not depend on it: every system that
/// touches another's data is ordered after it, so only independent systems run side by side.
pub fn headless_app_threaded(scenario: Arc<Scenario>, seed: u64, threads: usize) -> App {
    let mut app = App::new();
    if threads > 1 {
        use bevy::app::{TaskPoolOptions, TaskPoolPlugin, TaskPoolThreadAssignmentPolicy};
        let fixed = |n: usize| TaskPoolThreadAssignmentPolicy {
            min_threads: n,
            max_threads: n,
            percent: 1.0,
            on_thread_spawn: None,
            on_thread_destroy: None,
        };
        let task_pool_options =
            TaskPoolOptions { io: fixed(1), async_compute: fixed(1), compute: fixed(threads), ..Default::default() };
        app.add_plugins(TwinPlugins { scenario, seed })
            .add_plugins(MinimalPlugins.set(TaskPoolPlugin { task_pool_options }));
        return app;
    }
    app.add_plugins(TwinPlugins { scenario, seed }).add_plugins(MinimalPlugins);
    fn single_threaded(s: &mut Schedule) {
        s.set_executor(bevy::ecs::schedule::SingleThreadedExecutor::new());
    }
    app.edit_schedule(First, single_threaded)
        .edit_schedule(PreUpdate, single_threaded)
        .edit_schedule(Update, single_threaded)
        .edit_schedule(PostUpdate, single_threaded)
        .edit_schedule(Last, single_threaded);
    app
}
