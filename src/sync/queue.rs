//! The event-time queue: samples wait for the assimilated branch to reach the step of their event time; one
//! whose step it already passed is too late, and one later than its delivery allows revises what was shown.

use super::*;

/// A sample waiting for the assimilated branch to reach its step.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) struct Queued {
    pub(super) asset: Entity,
    pub(super) quantity: Quantity,
    pub(super) value: f64,
}

/// A span of simulated time whose shown values were revised by a late sample, s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Revision {
    /// Event time of the earliest late sample, s.
    pub from_s: f64,
    /// The clock's time when it arrived, s.
    pub to_s: f64,
}

/// Counters of the assimilation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AssimilationCounters {
    /// Samples applied to the assimilated state.
    pub applied: u64,
    /// Samples whose step the assimilated branch had already passed (later than the allowed lateness).
    pub too_late: u64,
    /// Samples of a quantity the asset's model does not predict.
    pub unmodelled: u64,
}

/// Queues this tick's applied samples for the assimilated branch, and takes the lag live telemetry needs.
pub(super) fn queue_samples(
    mut samples: MessageReader<SampleApplied>,
    mut a: ResMut<Assimilation>,
    clock: Res<SimClock>,
    telemetry: Option<Res<crate::ingest::Telemetry>>,
) {
    a.receive_lag_s = telemetry.map_or(0.0, |t| t.receive_lag_s());
    for s in samples.read() {
        a.queue(s, clock.now_s, clock.step_s);
    }
}

impl Assimilation {
    /// Queues one sample applied by ingestion; `now_s` is the clock's time, `dt_s` the model step.
    pub(super) fn queue(&mut self, s: &SampleApplied, now_s: f64, dt_s: f64) {
        let e = s.measured.event_s;
        let step = (e / dt_s).ceil();
        if !(step.is_finite() && step as u64 > self.assimilated_steps) {
            self.counters.too_late += 1;
            return;
        }
        // Shown without it: its time had passed on the clock, and it came later than its source's normal delivery
        // allows (a live message that waited for the next tick is not late, only quantised to the frame).
        if e < now_s.min(s.measured.received_from_s) {
            match self.revisions.last_mut() {
                Some(r) if e <= r.to_s => {
                    r.from_s = r.from_s.min(e);
                    r.to_s = r.to_s.max(now_s);
                }
                _ => self.revisions.push(Revision { from_s: e, to_s: now_s }),
            }
        }
        self.arrivals += 1;
        self.queue.insert(
            (step as u64, self.arrivals),
            Queued { asset: s.asset, quantity: s.quantity, value: s.measured.value },
        );
    }
}
