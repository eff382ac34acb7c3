//! Configuration and firmware kept in step: each asset that reports its identity (a retained topic) is compared
//! with what the scenario says it runs, and a mismatch is flagged on the asset and logged, because a model
//! calibrated for one configuration says little about another.

use std::collections::BTreeMap;

use bevy::prelude::*;
use serde::Serialize;

use crate::ingest::Telemetry;
use crate::scenario::AssetSpec;
use crate::twin::{AssetIndex, LoadedScenario, TwinSystems};

/// An asset's configuration and firmware: what the scenario expects and what the asset last reported.
#[derive(Component, Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Configuration {
    /// Configuration version the scenario expects.
    pub expected_config: String,
    /// Firmware the scenario expects.
    pub expected_firmware: String,
    /// Whether the asset reports its identity at all (the scenario gives it an identity topic).
    pub reports: bool,
    /// Configuration version last reported.
    pub reported_config: Option<String>,
    /// Firmware last reported.
    pub reported_firmware: Option<String>,
    /// When the last report was received, s on the twin's time base.
    pub reported_s: Option<f64>,
}

/// Where an asset's reported identity stands against the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigStatus {
    /// The asset has no identity topic: nothing to compare.
    NotReported,
    /// It has one, but no report arrived yet.
    Awaiting,
    /// The report matches the scenario.
    Match,
    /// The report differs; the text says what, e.g. `firmware 1.9.0 reported, 1.8.4 expected`.
    Mismatch(String),
}

impl Configuration {
    /// What the scenario says the asset runs, nothing reported yet.
    pub fn expected(spec: &AssetSpec) -> Self {
        Self {
            expected_config: spec.config_version.clone(),
            expected_firmware: spec.firmware.clone(),
            reports: spec.identity_topic.is_some(),
            reported_config: None,
            reported_firmware: None,
            reported_s: None,
        }
    }

    /// The comparison of the last report with the scenario.
    pub fn status(&self) -> ConfigStatus {
        if !self.reports {
            return ConfigStatus::NotReported;
        }
        let (Some(c), Some(f)) = (&self.reported_config, &self.reported_firmware) else {
            return ConfigStatus::Awaiting;
        };
        let mut diffs = Vec::new();
        if *c != self.expected_config {
            diffs.push(format!("configuration {c} reported, {} expected", self.expected_config));
        }
        if *f != self.expected_firmware {
            diffs.push(format!("firmware {f} reported, {} expected", self.expected_firmware));
        }
        if diffs.is_empty() { ConfigStatus::Match } else { ConfigStatus::Mismatch(diffs.join("; ")) }
    }
}

/// One change of an asset's configuration status, for the log and the report.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ConfigEvent {
    /// Asset id.
    pub asset: String,
    /// When the report that changed the status was received, s.
    pub t_s: f64,
    /// The new status.
    pub status: ConfigStatus,
}

/// Every configuration status change, oldest first.
#[derive(Resource, Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConfigLog(pub Vec<ConfigEvent>);

/// One asset's configuration in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigReport {
    /// Expected (scenario) configuration version and firmware.
    pub expected: (String, String),
    /// Last reported configuration version and firmware.
    pub reported: Option<(String, String)>,
    /// Status at the end of the run.
    pub status: ConfigStatus,
}

/// The configuration part of a report: every asset that reports its identity, by id.
pub fn report(world: &World) -> BTreeMap<String, ConfigReport> {
    let Some(index) = world.get_resource::<AssetIndex>() else { return BTreeMap::new() };
    index
        .0
        .iter()
        .filter_map(|(id, e)| {
            let c = world.get::<Configuration>(*e).filter(|c| c.reports)?;
            let reported = c.reported_config.clone().zip(c.reported_firmware.clone());
            Some((
                id.clone(),
                ConfigReport {
                    expected: (c.expected_config.clone(), c.expected_firmware.clone()),
                    reported,
                    status: c.status(),
                },
            ))
        })
        .collect()
}

/// Installs the system that applies identity reports to the assets' [`Configuration`].
pub struct ConfigPlugin;

impl Plugin for ConfigPlugin {
    fn build(&self, app: &mut App) {
        // Every asset expects the configuration and firmware its scenario entry names (add after the assets exist).
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        for spec in &scenario.assets {
            if let Some(&e) = app.world().resource::<AssetIndex>().0.get(&spec.id) {
                app.world_mut().entity_mut(e).insert(Configuration::expected(spec));
            }
        }
        app.init_resource::<ConfigLog>().add_systems(Update, apply_identities.in_set(TwinSystems::Assess));
    }
}

/// Applies this tick's identity reports; logs each status change (a mismatch as a warning).
pub fn apply_identities(
    mut telemetry: ResMut<Telemetry>,
    index: Res<AssetIndex>,
    mut assets: Query<&mut Configuration>,
    mut log: ResMut<ConfigLog>,
) {
    let epoch = telemetry.epoch_unix_s;
    for r in telemetry.ingestor.take_identities() {
        let Some(mut c) = index.0.get(&r.asset).and_then(|&e| assets.get_mut(e).ok()) else { continue };
        let before = c.status();
        c.reported_config = Some(r.config_version);
        c.reported_firmware = Some(r.firmware);
        c.reported_s = Some(r.received_s - epoch);
        let status = c.status();
        if status != before {
            if let ConfigStatus::Mismatch(what) = &status {
                warn!("{}: configuration mismatch: {what}", r.asset);
            }
            log.0.push(ConfigEvent { asset: r.asset, t_s: r.received_s - epoch, status });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{IngestPlugin, IngestSettings, RawMessage};
    use crate::twin::SimClock;

    const SCENE: &str = r#"Scenario(version: 1, name: "t",
        assets: [(id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0),
                  config_version: "1.0", firmware: "2.1.0", identity_topic: "site/t1/identity")])"#;

    /// A bare app with ingestion and the identity system alone, over a one-tank scenario.
    fn app() -> (App, Entity) {
        let scenario = std::sync::Arc::new(crate::scenario::parse(SCENE, std::path::Path::new("t.ron")).unwrap());
        let mut app = App::new();
        let tank = app.world_mut().spawn_empty().id();
        app.insert_resource(LoadedScenario(scenario.clone()))
            .insert_resource(SimClock::new(1.0))
            .insert_resource(AssetIndex([("T-1".to_string(), tank)].into()))
            .configure_sets(Update, (TwinSystems::Ingest, TwinSystems::Assess).chain())
            .add_plugins(IngestPlugin {
                scenario,
                settings: IngestSettings::default(),
                epoch_unix_s: 1000.0,
                budget: None,
            })
            .add_plugins(ConfigPlugin);
        (app, tank)
    }

    /// The tank reports its identity, received at `t_s` on the twin's time base.
    fn report(app: &mut App, t_s: f64, config: &str, firmware: &str) {
        let payload = format!(r#"{{"config_version": "{config}", "firmware": "{firmware}"}}"#).into_bytes();
        let msg = RawMessage { topic: "site/t1/identity".into(), payload, received_s: 1000.0 + t_s };
        assert!(app.world().resource::<Telemetry>().sender().offer(msg));
        app.world_mut().resource_mut::<SimClock>().now_s = t_s;
        app.update();
    }

    #[test]
    fn identity_reports_set_the_assets_configuration_and_each_status_change_is_logged_once() {
        let (mut app, tank) = app();
        app.update();
        assert_eq!(app.world().get::<Configuration>(tank).unwrap().status(), ConfigStatus::Awaiting);
        report(&mut app, 10.0, "1.0", "2.2.0");
        let c = app.world().get::<Configuration>(tank).unwrap();
        assert_eq!(c.status(), ConfigStatus::Mismatch("firmware 2.2.0 reported, 2.1.0 expected".into()));
        assert_eq!(c.reported_s, Some(10.0));
        report(&mut app, 20.0, "1.0", "2.2.0"); // the same again: no new event
        report(&mut app, 30.0, "1.0", "2.1.0");
        assert_eq!(app.world().get::<Configuration>(tank).unwrap().status(), ConfigStatus::Match);
        let log = &app.world().resource::<ConfigLog>().0;
        let events: Vec<(f64, &ConfigStatus)> = log.iter().map(|e| (e.t_s, &e.status)).collect();
        assert_eq!(
            events,
            [
                (10.0, &ConfigStatus::Mismatch("firmware 2.2.0 reported, 2.1.0 expected".into())),
                (30.0, &ConfigStatus::Match)
            ]
        );
    }

    fn config(reported: Option<(&str, &str)>) -> Configuration {
        Configuration {
            expected_config: "3.2".into(),
            expected_firmware: "1.8.4".into(),
            reports: true,
            reported_config: reported.map(|r| r.0.into()),
            reported_firmware: reported.map(|r| r.1.into()),
            reported_s: None,
        }
    }

    #[test]
    fn status_compares_both_fields_and_says_what_differs() {
        assert_eq!(config(None).status(), ConfigStatus::Awaiting);
        assert_eq!(config(Some(("3.2", "1.8.4"))).status(), ConfigStatus::Match);
        assert_eq!(
            config(Some(("3.2", "1.9.0"))).status(),
            ConfigStatus::Mismatch("firmware 1.9.0 reported, 1.8.4 expected".into())
        );
        assert_eq!(
            config(Some(("3.3", "1.9.0"))).status(),
            ConfigStatus::Mismatch(
                "configuration 3.3 reported, 3.2 expected; firmware 1.9.0 reported, 1.8.4 expected".into()
            )
        );
        let silent = Configuration { reports: false, ..config(None) };
        assert_eq!(silent.status(), ConfigStatus::NotReported);
    }
}
