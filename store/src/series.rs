//! Ranges read for a plot: one signal or index over any span at the finest grain that stays within a point budget
//! (every raw sample when it fits, else the minute or hour roll-ups), so a window can zoom from a year to one
//! hour's 1 s samples without holding the history in memory.

use rusqlite::params;

use crate::{Store, StoreError};

/// The grain of the roll-ups, s, finest first.
pub const BUCKETS_S: [i64; 2] = [60, 3600];

/// A range read for a plot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// 0: raw samples; else the roll-ups' bucket, s (each point the bucket's mean at its middle).
    pub bucket_s: i64,
    /// (Unix s, value), in time order.
    pub points: Vec<(f64, f64)>,
}

impl Store {
    /// Signal `name` over `[from, to]` (Unix s) in at most `max_points` points: every raw sample when they fit,
    /// else the finest roll-up that fits (and is there: retention keeps only roll-ups of old ranges), else the
    /// hourly roll-ups thinned evenly.
    pub fn signal_series(&self, name: &str, from: f64, to: f64, max_points: usize) -> Result<Series, StoreError> {
        let max = max_points.max(2) as i64;
        let read = || -> rusqlite::Result<Series> {
            let id: Option<i64> = self
                .conn
                .prepare_cached("SELECT id FROM signals WHERE name = ?1")?
                .query_row(params![name], |r| r.get(0))
                .ok();
            let Some(id) = id else { return Ok(Series::default()) };
            // The hours wholly inside the range hold fewer samples than it: when they already exceed the budget,
            // the raw samples are not counted (a week's count alone costs more than its hourly means).
            let inside: i64 = self
                .conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(n), 0) FROM rollups WHERE signal = ?1 AND bucket_s = 3600
                     AND t_unix_s >= ?2 AND t_unix_s + 3600 <= ?3",
                )?
                .query_row(params![id, from, to], |r| r.get(0))?;
            let raw: i64 = if inside > max {
                inside
            } else {
                self.conn
                    .prepare_cached("SELECT COUNT(*) FROM samples WHERE signal = ?1 AND t_unix_s BETWEEN ?2 AND ?3")?
                    .query_row(params![id, from, to], |r| r.get(0))?
            };
            if raw > 0 && raw <= max {
                let mut st = self.conn.prepare_cached(
                    "SELECT t_unix_s, value FROM samples WHERE signal = ?1 AND t_unix_s BETWEEN ?2 AND ?3
                     ORDER BY t_unix_s",
                )?;
                let points = st.query_map(params![id, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
                return Ok(Series { bucket_s: 0, points: points.collect::<rusqlite::Result<_>>()? });
            }
            let mut coarsest = Series::default();
            for bucket in BUCKETS_S {
                // Far more buckets than the budget: not read (the next grain's fit).
                if (to - from) / bucket as f64 > 2.0 * max as f64 && bucket != BUCKETS_S[BUCKETS_S.len() - 1] {
                    continue;
                }
                let half = bucket as f64 / 2.0;
                let mut st = self.conn.prepare_cached(
                    "SELECT t_unix_s, mean FROM rollups WHERE signal = ?1 AND bucket_s = ?2
                     AND t_unix_s BETWEEN ?3 AND ?4 ORDER BY t_unix_s",
                )?;
                let points = st
                    .query_map(params![id, bucket, from - half, to - half], |r| {
                        Ok((r.get::<_, f64>(0)? + half, r.get(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<(f64, f64)>>>()?;
                if !points.is_empty() && points.len() as i64 <= max {
                    return Ok(Series { bucket_s: bucket, points });
                }
                if !points.is_empty() {
                    coarsest = Series { bucket_s: bucket, points };
                }
            }
            if coarsest.points.is_empty() && raw > 0 {
                // Not rolled up yet: the raw samples, thinned.
                let mut st = self.conn.prepare_cached(
                    "SELECT t_unix_s, value FROM samples WHERE signal = ?1 AND t_unix_s BETWEEN ?2 AND ?3
                     ORDER BY t_unix_s",
                )?;
                let points = st.query_map(params![id, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
                coarsest = Series { bucket_s: 0, points: points.collect::<rusqlite::Result<_>>()? };
            }
            coarsest.points = thin(coarsest.points, max as usize);
            Ok(coarsest)
        };
        read().map_err(|e| self.sql("cannot read a signal's range", e))
    }

    /// Index `name` of `asset` over `[from, to]` (Unix s) in at most `max_points` points, thinned evenly.
    pub fn index_series(
        &self,
        asset: &str,
        name: &str,
        from: f64,
        to: f64,
        max_points: usize,
    ) -> Result<Vec<(f64, f64)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(f64, f64)>> {
            let mut st = self.conn.prepare_cached(
                "SELECT t_unix_s, value FROM indices WHERE asset = ?1 AND name = ?2 AND t_unix_s BETWEEN ?3 AND ?4
                 ORDER BY t_unix_s",
            )?;
            let points = st.query_map(params![asset, name, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(thin(points.collect::<rusqlite::Result<_>>()?, max_points.max(2)))
        };
        read().map_err(|e| self.sql("cannot read an index's range", e))
    }
}

/// Every k-th point (and the last), so at most about `max` remain.
fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points;
    }
    let k = points.len().div_ceil(max);
    let last = points.len() - 1;
    points.into_iter().enumerate().filter(|(i, _)| i % k == 0 || *i == last).map(|(_, p)| p).collect()
}
