//! Source clocks: each topic's offset from the twin's receive clock, estimated over a window of messages and
//! judged skewed only when every offset its receive windows allow is beyond the threshold.

use super::*;

/// Per-source clock offset estimate. A message's delay, receive time minus source time, is the clocks'
/// difference plus a transport delay that is never negative, so the smallest delay over a window estimates the
/// difference (of either sign). A source is judged only once the window spans [`CLOCK_MIN_SPAN_S`] of arrivals:
/// a backlog delivered in one burst (after an outage, or a replay) has old timestamps too, but no spread.
///
/// When receive times are only known to a tick (a live message is stamped with the time of the tick that drains
/// it, and a tick may cover many simulated seconds when time runs fast), each delay is an interval, and a clock is
/// judged skewed only when every offset the intervals allow is beyond the threshold: at 60x and a few frames per
/// second a message may have waited tens of simulated seconds for its tick, or come from a source that runs to
/// the end of the tick being drained, which is no evidence about its source's clock.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct ClockEstimate {
    /// (receive time s, shortest delay s, longest delay s), oldest first.
    pub(super) window: VecDeque<(f64, f64, f64)>,
    pub(super) offset_s: f64,
    pub(super) skewed: bool,
}

/// Observations kept per source.
pub(super) const CLOCK_WINDOW: usize = 64;

/// Arrival time the window must span before a clock is judged, s.
pub const CLOCK_MIN_SPAN_S: f64 = 30.0;

impl ClockEstimate {
    /// One arrival: stamped `received_s`, received within `window_s` (before, after) of that, sent at `source_s`.
    /// Returns how far the correction of this source's times moved, s (0 unless the judgement or the offset of a
    /// skewed clock changed).
    pub(super) fn observe(&mut self, received_s: f64, window_s: (f64, f64), source_s: f64, threshold_s: f64) -> f64 {
        let before = self.correct(0.0);
        let delay = received_s - source_s;
        self.window.push_back((received_s, delay - window_s.0, delay + window_s.1));
        if self.window.len() > CLOCK_WINDOW {
            self.window.pop_front();
        }
        let span = match (self.window.front(), self.window.back()) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => 0.0,
        };
        if span < CLOCK_MIN_SPAN_S {
            return 0.0; // not enough evidence yet: keep the last judgement
        }
        let (shortest, longest) =
            self.window.iter().fold((f64::INFINITY, f64::INFINITY), |(s, l), w| (s.min(w.1), l.min(w.2)));
        // The offset lies in [shortest, longest]; a source behind is corrected by the least it is behind.
        self.skewed = shortest > threshold_s || longest < -threshold_s;
        self.offset_s = if shortest > threshold_s { shortest } else { longest };
        self.correct(0.0) - before
    }

    pub(super) fn correct(&self, source_s: f64) -> f64 {
        self.judgement().correct(source_s)
    }

    /// What the samples of this source are checked with: the judgement alone, not the window behind it.
    pub(super) fn judgement(&self) -> ClockJudgement {
        ClockJudgement { skewed: self.skewed, offset_s: self.offset_s }
    }
}

/// A source clock's judgement at one message: skewed or not, and the offset its times are corrected by.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct ClockJudgement {
    pub(super) skewed: bool,
    /// Added to a skewed source's times, s.
    pub(super) offset_s: f64,
}

impl ClockJudgement {
    pub(super) fn correct(self, source_s: f64) -> f64 {
        if self.skewed { source_s + self.offset_s } else { source_s }
    }
}

#[cfg(test)]
mod backlog_tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_backlog_received_at_once_is_not_a_skewed_clock_once_recent_samples_arrive() {
        let s = crate::scenario::parse(
            r#"Scenario(version: 1, name: "t",
            assets: [(id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0))],
            signals: [(id: "T-1.level", asset: "T-1", quantity: TankLevel, unit: "m",
                source: Mqtt(topic: "l", value: "$.v", timestamp: "$.ts"), valid: (0.0, 4.0))])"#,
            Path::new("t.ron"),
        )
        .unwrap();
        let mut i = Ingestor::new(&s, IngestSettings::default());
        for t in 1..=120 {
            i.ingest(&RawMessage {
                topic: "l".into(),
                payload: format!(r#"{{"v": 1, "ts": {t}}}"#).into_bytes(),
                received_s: 121.0,
            });
        }
        let out = i.release(f64::INFINITY);
        let last = out.last().unwrap();
        assert!(out.iter().all(|s| !s.skewed_clock), "a burst is no evidence of a skewed clock");
        assert_eq!(last.event_s, 120.0);
        assert_eq!(i.clock("l"), Some((false, 0.0)));
    }
}
