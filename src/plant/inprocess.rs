//! The virtual plant run inside the twin's app: at the start of each tick it advances the plant to the time the
//! twin's clock reaches at the end of the tick (reality runs ahead of its twin) and hands what the plant
//! published to the twin's inbound channel, received at the time it was sent, as a loss-free broker would. Used by
//! `twin run` (deterministically, no broker) and by the workbench when no external plant is connected.
//!
//! A plant that publishes to a broker can be put in lock-step ([`PlantRunner::set_lockstep`]): its publications
//! then go straight into the twin's channel, stamped at their send times, and the twin's clock takes at most
//! [`LOCKSTEP_MAX_S_PER_TICK`] per tick, so the channel holds what one tick publishes. The workbench does this at
//! speeds the broker path cannot carry (see `crate::headless::live::pace_plant`).
//!
//! Sparkplug rebirth requests go the other way: with a direct output, the twin's queued commands
//! (`Ingestor::take_commands`) are handed to [`VirtualPlant::handle_command`] before each advance; with an MQTT
//! output, the NCMDs the plant's client receives are (the client must subscribe to `spBv1.0/+/NCMD/+`).

use bevy::prelude::*;

use super::{PlantError, VirtualPlant};
use crate::ingest::{RawMessage, Telemetry, TelemetrySender};
use crate::scenario::Scenario;
use crate::twin::{SimClock, TwinSystems};

/// Where the plant's publications go.
pub enum PlantOutput {
    /// Straight into the twin's inbound channel (deterministic; no broker).
    Direct(TelemetrySender),
    /// Published to a broker, for the twin (and anyone else) to receive over MQTT.
    Mqtt(twin_mqtt::MqttClient),
}

/// The running plant.
#[derive(Resource)]
pub struct PlantRunner {
    /// The plant itself (its truth is what the tests and model-performance figures read).
    pub plant: VirtualPlant,
    output: PlantOutput,
    /// Publications the output refused (a full channel or client queue).
    refused: u64,
    /// Publications the broker client refused (those the twin's channel refused are in its drops).
    refused_upstream: u64,
    /// Publications the output took, since the start.
    pub published: u64,
    /// The plant's PLC, when it serves its set-points over Modbus TCP.
    pub plc: Option<super::plc::VirtualPlc>,
    /// In lock-step: the twin's channel, which publications go into instead of the broker.
    lockstep: Option<TelemetrySender>,
}

/// Simulated time one tick may take at most while the plant runs in lock-step, s: an hour of the bundled station
/// is some 80,000 publications, which the twin's channel ([`crate::ingest::CHANNEL_CAPACITY`]) must hold.
pub const LOCKSTEP_MAX_S_PER_TICK: f64 = 600.0;

impl PlantRunner {
    /// Publications so far that did not reach the output.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Publications refused before they reached the twin's channel (by the MQTT client); those the twin's full
    /// channel refused (direct output) are already in its `dropped_channel_full`.
    pub fn refused_upstream(&self) -> u64 {
        self.refused_upstream
    }

    /// Puts the plant in lock-step with the twin (`Some`: the twin's channel) or back on its output (`None`).
    /// A plant whose output is the twin's channel already is always in lock-step.
    pub fn set_lockstep(&mut self, direct: Option<TelemetrySender>) {
        self.lockstep = direct;
    }

    /// Whether the plant's publications go straight into the twin's channel.
    pub fn lockstep(&self) -> bool {
        self.lockstep.is_some() || matches!(self.output, PlantOutput::Direct(_))
    }
}

/// Hands the plant the commands meant for it, advances it to the twin's clock and forwards its publications.
/// In lock-step (with a broker client as the output) the tick is cut to [`LOCKSTEP_MAX_S_PER_TICK`].
fn advance_virtual_plant(
    mut runner: ResMut<PlantRunner>,
    mut clock: ResMut<SimClock>,
    mut telemetry: ResMut<Telemetry>,
) {
    let runner = &mut *runner;
    match &runner.output {
        PlantOutput::Direct(_) => {
            for (topic, payload) in telemetry.ingestor.take_commands() {
                runner.plant.handle_command(&topic, &payload);
            }
        }
        PlantOutput::Mqtt(c) => {
            while let Ok(m) = c.receiver().try_recv() {
                runner.plant.handle_command(&m.topic, &m.payload);
            }
        }
    }
    if let Some(plc) = &mut runner.plc {
        plc.apply(&mut runner.plant);
    }
    if runner.lockstep.is_some() {
        let most = (LOCKSTEP_MAX_S_PER_TICK / clock.step_s).floor().max(1.0) as u32;
        clock.pending_steps = clock.pending_steps.min(most);
    }
    // The plant runs ahead of the twin, as reality does: to the time the twin reaches at the end of this tick.
    let target = clock.now_s + f64::from(clock.pending_steps) * clock.step_s;
    let dt = target - runner.plant.now_s();
    if dt <= 0.0 {
        return;
    }
    let pubs = runner.plant.advance(dt);
    let (mut refused, mut refused_upstream) = (0, 0);
    let upstream = runner.lockstep.is_none() && matches!(runner.output, PlantOutput::Mqtt(_));
    for p in pubs {
        let ok = match (&runner.lockstep, &runner.output) {
            (Some(tx), _) | (None, PlantOutput::Direct(tx)) => tx.offer(RawMessage {
                topic: p.topic,
                payload: p.payload,
                received_s: VirtualPlant::EPOCH_UNIX_S + p.sent_s,
            }),
            (None, PlantOutput::Mqtt(c)) => {
                c.publish(&p.topic, p.payload, twin_mqtt::Qos::AtLeastOnce, p.retain).is_ok()
            }
        };
        refused += u64::from(!ok);
        refused_upstream += u64::from(!ok && upstream);
        runner.published += u64::from(ok);
    }
    runner.refused += refused;
    runner.refused_upstream += refused_upstream;
}

/// The in-process plant's seed is the twin's plus this, so that its noise is not the twin's own random stream.
pub const PLANT_SEED_OFFSET: u64 = 0x9e37_79b9_7f4a_7c15;

/// Runs the virtual plant in the app (its seed: `seed` + [`PLANT_SEED_OFFSET`]). With `via` = `None` the
/// publications go straight into the twin's channel; with a client they are published to its broker.
pub fn add_inprocess_plant(
    app: &mut App,
    scenario: &Scenario,
    seed: u64,
    via: Option<twin_mqtt::MqttClient>,
) -> Result<(), PlantError> {
    let plant = VirtualPlant::new(scenario, seed.wrapping_add(PLANT_SEED_OFFSET))?;
    let output = match via {
        Some(c) => PlantOutput::Mqtt(c),
        None => PlantOutput::Direct(app.world().resource::<Telemetry>().sender()),
    };
    app.world_mut().resource_mut::<Telemetry>().epoch_unix_s = VirtualPlant::EPOCH_UNIX_S;
    app.insert_resource(crate::ingest::TelemetryOrigin::VirtualPlant)
        .insert_resource(PlantRunner {
            plant,
            output,
            refused: 0,
            refused_upstream: 0,
            published: 0,
            plc: None,
            lockstep: None,
        })
        .add_systems(Update, advance_virtual_plant.in_set(TwinSystems::Sources));
    Ok(())
}

/// Runs the in-process plant forward to the twin's time `to_s` without publishing: a twin resumed from a
/// checkpoint finds the virtual plant where reality would be (its set-points those of the scenario).
pub fn fast_forward(app: &mut App, to_s: f64) {
    let Some(mut runner) = app.world_mut().get_resource_mut::<PlantRunner>() else { return };
    // An hour at a time: the publications of a long span are not all held at once.
    while runner.plant.now_s() < to_s {
        let (before, dt) = (runner.plant.now_s(), (to_s - runner.plant.now_s()).min(3600.0));
        drop(runner.plant.advance(dt));
        if runner.plant.now_s() <= before {
            break;
        }
    }
}

/// Serves the in-process plant's set-points over Modbus TCP on `bind` (port 0: a free port); returns the address.
/// Writes reach the plant at the start of the next tick.
pub fn serve_plc(
    app: &mut App,
    scenario: &Scenario,
    bind: std::net::SocketAddr,
    behaviour: twin_modbus::Behaviour,
) -> Result<std::net::SocketAddr, twin_modbus::PlcError> {
    let Some(mut runner) = app.world_mut().get_resource_mut::<PlantRunner>() else {
        return Err(twin_modbus::PlcError::Spawn("no in-process plant to serve the PLC of".into()));
    };
    let plc = super::plc::VirtualPlc::start(scenario, bind, behaviour)?;
    let addr = plc.local_addr();
    runner.plc = Some(plc);
    Ok(addr)
}
