//! The Assess stage's knowledge beyond the state estimate: each asset's configuration and firmware against the
//! scenario, the risk a pump's upstream assets put on it, and a bearing defect's growth (stage 2 of its
//! degradation); and the run's report of synchronization and assessment together.

pub mod config;
pub mod defect;
pub mod dependency;
pub mod pace;
pub mod service;

use std::collections::BTreeMap;

use bevy::prelude::*;
use serde::Serialize;

use crate::sync::{Assimilation, SyncReport, performance::Performance};
use crate::twin::AssetIndex;

/// The synchronization and assessment part of a run's report (`"sync"` in the JSON report).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Samples, revisions, prediction errors, alarms, recalibrations, calibration and confidence.
    #[serde(flatten)]
    pub sync: SyncReport,
    /// Configuration and firmware of every asset that reports them, against the scenario.
    pub configuration: BTreeMap<String, config::ConfigReport>,
    /// Every change of an asset's configuration status, in order.
    pub config_events: Vec<config::ConfigEvent>,
    /// What each pump's upstream assets put on it at the end, by pump id.
    pub dependencies: BTreeMap<String, dependency::UpstreamRisk>,
    /// The bearing defects detected, by pump id, at the end (absent when none was).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub defects: BTreeMap<String, defect::TrackedDefect>,
    /// The service windows recommended, one per alert crossing, in order (absent when none was).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_windows: Vec<service::ServiceNotification>,
    /// Model performance over the run (series and alarm scores; filled by the headless runner).
    pub performance: Performance,
    /// The pace model and what it did (absent: physics only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pace_model: Option<pace::PaceModelReport>,
}

impl Report {
    /// The report of the twin in `world`.
    pub fn of(world: &World) -> Self {
        if world.get_resource::<Assimilation>().is_none() {
            return Self::default();
        }
        let index = world.resource::<AssetIndex>();
        Self {
            sync: SyncReport::of(world),
            configuration: config::report(world),
            config_events: world.get_resource::<config::ConfigLog>().map(|l| l.0.clone()).unwrap_or_default(),
            dependencies: index
                .0
                .iter()
                .filter_map(|(name, e)| Some((name.clone(), world.get::<dependency::UpstreamRisk>(*e)?.clone())))
                .collect(),
            defects: defect::report(world),
            service_windows: world
                .get_resource::<service::ServiceLog>()
                .map(|l| l.notifications.clone())
                .unwrap_or_default(),
            performance: Performance::default(),
            pace_model: pace::PaceModelReport::of(world),
        }
    }
}
