//! Checkpoints of the whole twin: the models and their calibration, damage and defects, the estimators with
//! their covariances, drift monitors and baselines, the event-time queue, source clocks and de-duplication
//! memory, live set-points and their versions, notifications. Serialised (MessagePack) and written by the history
//! store's writer in order with the samples, so that a checkpoint and the journal of the messages taken after it
//! are a consistent state to resume from.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use twin_models::tank::TankState;
use twin_models::{PumpTrain, PumpTrainOutputs, PumpTrainState};

use crate::assess::config::{ConfigLog, Configuration};
use crate::assess::defect::DefectTracker;
use crate::assess::dependency::LevelTrend;
use crate::assess::service::{ServiceLog, ServiceWatch};
use crate::ingest::{Ingestor, Measurements, Telemetry};
use crate::scenario::Scenario;
use crate::sync::{Assimilation, Setpoints};
use crate::twin::motor::MotorReadings;
use crate::twin::pump::{PumpModel, PumpReadings, PumpState, SpeedSetpoint, UpstreamRisk};
use crate::twin::simulate::Assimilated;
use crate::twin::tank::TankLevel;
use crate::twin::{AssetIndex, Environment, SimClock};

/// The format of the state this build writes and reads.
pub const FORMAT: i64 = 2;

/// Why a checkpoint cannot be restored. Nothing is changed in the store or the twin when it is refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "{store}: the newest checkpoint is of another version of the scenario (its digest {found:.12}, this one's \
         {this:.12}); nothing was written to the store. Restore the scenario file it was taken with, or start afresh \
         from the scenario with --fresh (the history is kept)"
    )]
    OtherScenario { store: String, found: String, this: String },
    #[error(
        "{store}: the newest checkpoint has state format {found} (written by twin {version}); this build reads \
         format {FORMAT}; nothing was written to the store. Resume with that build, or start afresh with --fresh"
    )]
    Format { store: String, found: i64, version: String },
    #[error("{store}: the newest checkpoint cannot be read ({why}); nothing was written to the store")]
    Corrupt { store: String, why: String },
}

/// The SHA-256 of a scenario's content: a checkpoint is a state of exactly this scenario.
pub fn digest(scenario: &Scenario) -> String {
    let bytes = serde_json::to_vec(scenario).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// What a checkpoint holds of one asset (what its kind has).
#[derive(Serialize, Deserialize, Default)]
struct AssetState<'a> {
    model: Option<Cow<'a, PumpTrain>>,
    pump_state: Option<Cow<'a, PumpTrainState>>,
    pump_readings: Option<Cow<'a, PumpTrainOutputs>>,
    speed: Option<Cow<'a, SpeedSetpoint>>,
    upstream: Option<Cow<'a, UpstreamRisk>>,
    defects: Option<Cow<'a, DefectTracker>>,
    service: Option<Cow<'a, ServiceWatch>>,
    configuration: Option<Cow<'a, Configuration>>,
    motor: Option<Cow<'a, MotorReadings>>,
    tank: Option<Cow<'a, TankState>>,
    level_trend: Option<Cow<'a, LevelTrend>>,
    measurements: Option<Cow<'a, Measurements>>,
}

/// The whole state.
#[derive(Serialize, Deserialize)]
struct State<'a> {
    /// Asset id to entity, as the state's entity keys use them (the same scenario builds the same entities).
    entities: BTreeMap<String, Entity>,
    epoch_unix_s: f64,
    /// Messages the twin had taken (the journal's later ones are replayed after a restore).
    messages: u64,
    clock: Cow<'a, SimClock>,
    env: Cow<'a, Environment>,
    assimilated: Option<Cow<'a, Assimilated>>,
    assimilation: Option<Cow<'a, Assimilation>>,
    ingestor: Cow<'a, Ingestor>,
    setpoints: Option<Cow<'a, Setpoints>>,
    service_log: Option<Cow<'a, ServiceLog>>,
    config_log: Option<Cow<'a, ConfigLog>>,
    assets: BTreeMap<String, AssetState<'a>>,
}

/// A taken checkpoint: the twin's time (Unix s), the messages taken by then, and the serialised state.
pub struct Taken {
    pub t_unix_s: f64,
    pub messages: u64,
    pub state: Vec<u8>,
}

/// Serialises the twin's state in `world`.
pub fn take(world: &World) -> Result<Taken, String> {
    let telemetry = world.resource::<Telemetry>();
    let clock = world.resource::<SimClock>();
    let index = world.resource::<AssetIndex>();
    let mut assets = BTreeMap::new();
    for (id, &e) in &index.0 {
        let Ok(entity) = world.get_entity(e) else { continue };
        assets.insert(
            id.clone(),
            AssetState {
                model: entity.get::<PumpModel>().map(|m| Cow::Borrowed(&*m.0)),
                pump_state: entity.get::<PumpState>().map(|s| Cow::Borrowed(&s.0)),
                pump_readings: entity.get::<PumpReadings>().map(|r| Cow::Borrowed(&r.0)),
                speed: entity.get::<SpeedSetpoint>().map(Cow::Borrowed),
                upstream: entity.get::<UpstreamRisk>().map(Cow::Borrowed),
                defects: entity.get::<DefectTracker>().map(Cow::Borrowed),
                service: entity.get::<ServiceWatch>().map(Cow::Borrowed),
                configuration: entity.get::<Configuration>().map(Cow::Borrowed),
                motor: entity.get::<MotorReadings>().map(Cow::Borrowed),
                tank: entity.get::<TankLevel>().map(|l| Cow::Borrowed(&l.0)),
                level_trend: entity.get::<LevelTrend>().map(Cow::Borrowed),
                measurements: entity.get::<Measurements>().map(Cow::Borrowed),
            },
        );
    }
    let state = State {
        entities: index.0.clone(),
        epoch_unix_s: telemetry.epoch_unix_s,
        messages: telemetry.drained,
        clock: Cow::Borrowed(clock),
        env: Cow::Borrowed(world.resource::<Environment>()),
        assimilated: world.get_resource::<Assimilated>().map(Cow::Borrowed),
        assimilation: world.get_resource::<Assimilation>().map(Cow::Borrowed),
        ingestor: Cow::Borrowed(&telemetry.ingestor),
        setpoints: world.get_resource::<Setpoints>().map(Cow::Borrowed),
        service_log: world.get_resource::<ServiceLog>().map(Cow::Borrowed),
        config_log: world.get_resource::<ConfigLog>().map(Cow::Borrowed),
        assets,
    };
    let bytes = rmp_serde::to_vec_named(&state).map_err(|e| e.to_string())?;
    Ok(Taken { t_unix_s: telemetry.epoch_unix_s + clock.now_s, messages: telemetry.drained, state: bytes })
}

/// A decoded checkpoint, checked against the twin it is to be restored into.
pub struct Decoded(State<'static>);

impl Decoded {
    /// Messages the twin had taken at the checkpoint.
    pub fn messages(&self) -> u64 {
        self.0.messages
    }
}

/// Checks a stored checkpoint's header against this scenario and build, and decodes its state.
pub fn decode(store: &str, row: &twin_store::CheckpointRow, scenario: &Scenario) -> Result<Decoded, CheckpointError> {
    if row.format != FORMAT {
        return Err(CheckpointError::Format {
            store: store.into(),
            found: row.format,
            version: row.twin_version.clone(),
        });
    }
    let this = digest(scenario);
    if row.scenario_digest != this {
        return Err(CheckpointError::OtherScenario { store: store.into(), found: row.scenario_digest.clone(), this });
    }
    let state: State<'static> = rmp_serde::from_slice(&row.state)
        .map_err(|e| CheckpointError::Corrupt { store: store.into(), why: e.to_string() })?;
    Ok(Decoded(state))
}

/// Restores a decoded checkpoint into `world` (built from the same scenario). Refused, with nothing changed, when
/// the twin's entities are not those the state was taken with.
pub fn restore(world: &mut World, store: &str, decoded: Decoded) -> Result<(), CheckpointError> {
    let s = decoded.0;
    if world.resource::<AssetIndex>().0 != s.entities {
        return Err(CheckpointError::Corrupt {
            store: store.into(),
            why: "its assets are not this twin's (another build laid them out differently)".into(),
        });
    }
    {
        let mut t = world.resource_mut::<Telemetry>();
        t.epoch_unix_s = s.epoch_unix_s;
        t.drained = s.messages;
        t.ingestor.restore(s.ingestor.into_owned());
    }
    world.insert_resource(s.clock.into_owned());
    world.insert_resource(s.env.into_owned());
    // What the scenario's twin has is in the state (as a resource, or a component of the assets whose kind
    // carries it); what it lacks is not.
    fn put_resource<R: Resource + Clone>(world: &mut World, r: Option<Cow<'_, R>>) {
        if let Some(r) = r {
            world.insert_resource(r.into_owned());
        }
    }
    fn put<B: Bundle>(entity: &mut EntityWorldMut<'_>, b: Option<B>) {
        if let Some(b) = b {
            entity.insert(b);
        }
    }
    put_resource(world, s.assimilated);
    put_resource(world, s.assimilation);
    put_resource(world, s.setpoints);
    put_resource(world, s.service_log);
    put_resource(world, s.config_log);
    for (id, a) in s.assets {
        let Some(&e) = s.entities.get(&id) else { continue };
        let Ok(mut entity) = world.get_entity_mut(e) else { continue };
        put(&mut entity, a.model.map(|x| PumpModel(Arc::new(x.into_owned()))));
        put(&mut entity, a.pump_state.map(|x| PumpState(x.into_owned())));
        put(&mut entity, a.pump_readings.map(|x| PumpReadings(x.into_owned())));
        put(&mut entity, a.speed.map(Cow::into_owned));
        put(&mut entity, a.upstream.map(Cow::into_owned));
        put(&mut entity, a.defects.map(Cow::into_owned));
        put(&mut entity, a.service.map(Cow::into_owned));
        put(&mut entity, a.configuration.map(Cow::into_owned));
        put(&mut entity, a.motor.map(Cow::into_owned));
        put(&mut entity, a.tank.map(|x| TankLevel(x.into_owned())));
        put(&mut entity, a.level_trend.map(Cow::into_owned));
        put(&mut entity, a.measurements.map(Cow::into_owned));
    }
    Ok(())
}
