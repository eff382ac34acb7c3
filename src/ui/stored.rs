//! The plots' memory beyond the window's own: with a history store open, a trace's points in the visible range
//! come from the store (every 1 s sample of an hour zoomed into, minute or hour roll-ups of longer spans, the
//! indices once a simulated minute, from before a restart too), and the in-memory history adds only what is newer
//! than the store's last row. Reads are cached per trace: redone at once when the window jumps or zooms, at most
//! twice a second while it slides with the live clock.
//! When the window closes, the store gets the last indices and a checkpoint to resume from.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bevy::ecs::message::Messages;
use bevy::prelude::*;
use twin_store::{Store, StoreError};

use super::history::{History, Trace};

/// Points read from the store per trace at most (about a point per pixel of a maximised plot, twice over).
pub const MAX_POINTS: usize = 4000;
/// Wall time between two reads of one trace while its range moves (following the live clock).
const REREAD: Duration = Duration::from_millis(500);

/// One trace's last read.
struct Cached {
    range: (f64, f64),
    at: Instant,
    points: Vec<[f64; 2]>,
    /// Roll-up bucket of the points, s (0: raw samples).
    bucket_s: i64,
}

/// The workbench's read connection to the history store it writes.
#[derive(Resource)]
pub struct StoredHistory {
    store: Mutex<Store>,
    /// Unix time of simulated t = 0, s.
    epoch_unix_s: f64,
    /// Signal name per (asset, quantity name as stored, e.g. "WindingTemperature").
    signals: HashMap<(String, String), String>,
    cache: Mutex<HashMap<(String, Trace), Cached>>,
}

impl StoredHistory {
    /// Opens `path` for reading; simulated time `t` is Unix time `epoch_unix_s + t`.
    pub fn open(path: &Path, epoch_unix_s: f64) -> Result<Self, StoreError> {
        let store = Store::open_read(path)?;
        let signals = store.signals()?.into_iter().map(|(_, s)| ((s.asset, s.quantity), s.name)).collect();
        Ok(Self { store: Mutex::new(store), epoch_unix_s, signals, cache: Mutex::new(HashMap::new()) })
    }

    /// The stored points of `trace` of `asset` in simulated `[x0, x1]` s, and the roll-up bucket they are at
    /// (0: raw); `None` for a trace the store does not keep (the model's predictions) or a failed read.
    pub fn range(&self, asset: &str, trace: Trace, x0: f64, x1: f64) -> Option<(Vec<[f64; 2]>, i64)> {
        let key = (asset.to_owned(), trace);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&key)
            && (c.range == (x0, x1) || (slid(c.range, (x0, x1)) && c.at.elapsed() < REREAD))
        {
            return Some((c.points.clone(), c.bucket_s));
        }
        let (from, to) = (self.epoch_unix_s + x0, self.epoch_unix_s + x1);
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let read = match trace {
            Trace::Measured(q) => {
                let name = self.signals.get(&(asset.to_owned(), format!("{q:?}")))?;
                store.signal_series(name, from, to, MAX_POINTS).map(|s| (s.points, s.bucket_s))
            }
            Trace::Index(i) => store.index_series(asset, i.key(), from, to, MAX_POINTS).map(|p| (p, 0)),
            Trace::Predicted(_) => return None,
        };
        let (points, bucket_s) = match read {
            Ok(r) => r,
            Err(e) => {
                warn!("plots: {e}");
                return None;
            }
        };
        let points: Vec<[f64; 2]> = points.into_iter().map(|(t, v)| [t - self.epoch_unix_s, v]).collect();
        cache.insert(key, Cached { range: (x0, x1), at: Instant::now(), points: points.clone(), bucket_s });
        Some((points, bucket_s))
    }
}

/// Whether `now` is `before` slid a little (the window following the live clock), not a jump or a zoom.
fn slid(before: (f64, f64), now: (f64, f64)) -> bool {
    let width = now.1 - now.0;
    ((before.1 - before.0) - width).abs() <= 0.01 * width && (now.1 - before.1).abs() <= 0.05 * width
}

/// Closes the history store (last indices, a checkpoint, the queue written) when the workbench exits.
pub(super) struct StoredPlugin;

impl Plugin for StoredPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Last, close_on_exit.in_set(super::FrameEnd::Finish));
    }
}

/// The window closed (or a screenshot run ended): the store is finished before the app is torn down.
fn close_on_exit(world: &mut World) {
    if world.resource::<Messages<AppExit>>().is_empty() {
        return;
    }
    match crate::store::finish_store(world) {
        Some(Ok(s)) => {
            info!("history store closed: {} records in {} transactions, {} dropped", s.records, s.batches, s.dropped)
        }
        Some(Err(e)) => error!("history store: {e}"),
        None => {}
    }
}

/// What the plots draw of one trace in `[x0, x1]`: the store's points, then the in-memory history's newer ones;
/// the in-memory history alone without a store.
pub fn trace_points(
    history: &History,
    stored: Option<&StoredHistory>,
    asset: &str,
    trace: Trace,
    x0: f64,
    x1: f64,
) -> Vec<[f64; 2]> {
    let recent = history.get(asset, trace);
    match stored.and_then(|s| s.range(asset, trace, x0, x1)) {
        Some((mut points, _)) => {
            let last = points.last().map_or(f64::NEG_INFINITY, |p| p[0]);
            points.extend(recent.iter().filter(|p| p[0] > last && p[0] >= x0 && p[0] <= x1));
            points
        }
        None => recent.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use twin_store::{Record, SignalInfo};

    use super::*;
    use crate::scenario::Index;
    use crate::units::Quantity;

    /// A store holding eight days of M-101's winding temperature at 1 Hz (value: the second of the day / 1000) and
    /// its insulation health once a minute, from Unix time `epoch`.
    fn week_store(path: &Path, epoch: f64) {
        let mut s = Store::open(path, "Station").unwrap();
        let info = SignalInfo {
            name: "M-101.winding_temp".into(),
            asset: "M-101".into(),
            quantity: format!("{:?}", Quantity::WindingTemperature),
            unit: "degC".into(),
        };
        let id = s.register(&info).unwrap();
        for day in 0..8 {
            let rows: Vec<Record> = (0..86_400)
                .map(|t| Record::Sample {
                    signal: id,
                    t_unix_s: epoch + (day * 86_400 + t) as f64,
                    received_unix_s: epoch + (day * 86_400 + t) as f64,
                    value: t as f64 / 1000.0,
                    flags: 0,
                })
                .chain((0..1440).map(|m| Record::Index {
                    asset: "M-101".into(),
                    name: Index::InsulationHealth.key(),
                    t_unix_s: epoch + (day * 86_400 + m * 60) as f64,
                    value: 1.0,
                }))
                .collect();
            s.write(&rows).unwrap();
        }
        s.roll_up(epoch, epoch + 8.0 * 86_400.0).unwrap();
    }

    #[test]
    fn zoomed_into_an_hour_of_last_week_the_plot_gets_that_hours_1_s_samples_and_newer_points_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.twin.sqlite");
        let epoch = 1_767_225_600.0;
        week_store(&path, epoch);
        let stored = StoredHistory::open(&path, epoch).unwrap();
        let mut history = History::new(30.0, 2048);
        // The workbench's own memory: thinned points, the newest after the store's end.
        for t in (0..8 * 86_400 + 600).step_by(3600) {
            history.push("M-101", Trace::Measured(Quantity::WindingTemperature), t as f64, -1.0);
        }
        history.push("M-101", Trace::Measured(Quantity::WindingTemperature), 8.0 * 86_400.0 + 30.0, -2.0);
        let q = Trace::Measured(Quantity::WindingTemperature);

        // 06:00 to 07:00 of day 1 (a week before the end): every 1 s sample, none from memory.
        let (x0, x1) = (86_400.0 + 6.0 * 3600.0, 86_400.0 + 7.0 * 3600.0);
        let hour = trace_points(&history, Some(&stored), "M-101", q, x0, x1);
        assert_eq!(hour.len(), 3601);
        assert!(hour.windows(2).all(|w| w[1][0] - w[0][0] == 1.0));
        assert_eq!(hour[0], [x0, 21.6]);
        assert_eq!(stored.range("M-101", q, x0, x1).unwrap().1, 0, "raw samples");

        // The whole span: hourly means from the store, then the memory's point after its end.
        let all = trace_points(&history, Some(&stored), "M-101", q, 0.0, 8.0 * 86_400.0 + 60.0);
        assert!(all.len() < MAX_POINTS && all.len() > 190, "{}", all.len());
        assert_eq!(all.last(), Some(&[8.0 * 86_400.0 + 30.0, -2.0]));
        // (the store's last point is its last hour's mean, at the hour's middle; memory adds what follows it)
        assert!(all.iter().all(|p| p[1] >= 0.0 || p[0] > 8.0 * 86_400.0 - 1800.0), "stored points, then newer ones");

        // Indices come from the store too; the model's predictions only from memory; without a store, memory.
        assert_eq!(
            trace_points(&history, Some(&stored), "M-101", Trace::Index(Index::InsulationHealth), x0, x1).len(),
            61
        );
        assert!(stored.range("M-101", Trace::Predicted(Quantity::WindingTemperature), x0, x1).is_none());
        assert_eq!(trace_points(&history, None, "M-101", q, x0, x1).len(), history.get("M-101", q).len());
    }
}
