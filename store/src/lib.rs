//! The twin's history store: what the twin accepted and derived, kept on disk so that it outlives the process
//! and can be read by the tools engineers already use (the sqlite3 shell, pandas, Grafana's SQLite source).
//!
//! One SQLite file per twin, in WAL mode (readers never block the writer), written by one thread behind a
//! bounded channel ([`Writer`]); the schema is in [`SCHEMA`] and the README. Raw samples are rolled up into
//! 1-minute and 1-hour buckets (count, mean, min, max) as they age, and raw samples older than the retention are
//! deleted once rolled up. A store records the scenario it belongs to: opening it for another scenario, a file
//! that is not a twin store, or a store of another schema version is refused before anything is written.

mod series;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

pub use series::{BUCKETS_S, Series};
pub use writer::{Writer, WriterStats};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// The schema of version 1 (created, with [`SCHEMA_V2`], in one transaction when the store is new).
pub const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE signals (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,       -- the scenario's signal id, e.g. P-101.vib_rms
    asset TEXT NOT NULL,
    quantity TEXT NOT NULL,          -- e.g. VibrationVelocityRms
    unit TEXT NOT NULL               -- the canonical unit every value is stored in, e.g. mm/s
);
-- A sample is its signal and event time: a second one (a redelivery, a rerun) is ignored. Clustered on that
-- key (WITHOUT ROWID): one B-tree, in the order a range of one signal is read.
CREATE TABLE samples (
    signal INTEGER NOT NULL REFERENCES signals(id),
    t_unix_s REAL NOT NULL,          -- event time (the source's timestamp, skew-corrected), Unix s
    received_unix_s REAL NOT NULL,   -- when the twin received it, Unix s
    value REAL NOT NULL,             -- in the signal's canonical unit
    flags INTEGER NOT NULL,          -- 1: skewed clock corrected, 2: reordered (late within the allowed lateness)
    PRIMARY KEY (signal, t_unix_s)
) WITHOUT ROWID;
CREATE TABLE rollups (
    signal INTEGER NOT NULL REFERENCES signals(id),
    bucket_s INTEGER NOT NULL,       -- 60 or 3600
    t_unix_s REAL NOT NULL,          -- the bucket's start, Unix s
    n INTEGER NOT NULL, mean REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
    PRIMARY KEY (signal, bucket_s, t_unix_s)
) WITHOUT ROWID;
CREATE TABLE indices (
    asset TEXT NOT NULL,
    name TEXT NOT NULL,              -- the report's key, e.g. bearing_wear, remaining_life_h
    t_unix_s REAL NOT NULL,
    value REAL NOT NULL
);
CREATE UNIQUE INDEX indices_by_asset_time ON indices (asset, name, t_unix_s);
CREATE TABLE events (
    t_unix_s REAL NOT NULL,
    kind TEXT NOT NULL,              -- alarm, alarm_cleared, recalibration, setpoint, service_window, ...
    asset TEXT,
    detail TEXT NOT NULL             -- JSON
);
CREATE UNIQUE INDEX events_by_time ON events (t_unix_s, kind, asset, detail);
";

/// What version 2 added (a version-1 store is migrated by running it): the twin's checkpoints and the journal of
/// the messages it took since them.
pub const SCHEMA_V2: &str = "
-- The twin's whole state at one time (MessagePack, opaque to other tools); the newest few are kept.
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    t_unix_s REAL NOT NULL,          -- the twin's time of the state, Unix s
    written_unix_s REAL NOT NULL,    -- wall-clock time it was taken, Unix s
    format INTEGER NOT NULL,         -- the state's format version
    twin_version TEXT NOT NULL,      -- the build that wrote it
    scenario_digest TEXT NOT NULL,   -- SHA-256 of the scenario it is a state of
    messages INTEGER NOT NULL,       -- messages the twin had taken; the journal's later ones are replayed
    state BLOB NOT NULL
);
-- Every message the twin took since the oldest kept checkpoint, as received (the write-ahead log of a resume).
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,         -- the twin's message number (1 = its first)
    received_unix_s REAL NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
";

/// Checkpoints kept: the newest and the one before it (a fallback, and its journal).
pub const CHECKPOINTS_KEPT: i64 = 2;

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointRow {
    pub id: i64,
    pub t_unix_s: f64,
    pub written_unix_s: f64,
    pub format: i64,
    pub twin_version: String,
    pub scenario_digest: String,
    pub messages: i64,
    pub state: Vec<u8>,
}

/// A journaled message.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalRow {
    pub seq: i64,
    pub received_unix_s: f64,
    pub topic: String,
    pub payload: Vec<u8>,
}

/// Why a store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: not a twin history store: {why}; nothing was written to it")]
    NotAStore { path: String, why: String },
    #[error(
        "{path}: this store belongs to scenario \"{stored}\", not \"{this}\"; nothing was written to it (give another --store)"
    )]
    OtherScenario { path: String, stored: String, this: String },
    #[error(
        "{path}: signal \"{signal}\" is stored as {stored}, but the scenario makes it {this}; nothing was written to it"
    )]
    SignalChanged { path: String, signal: String, stored: String, this: String },
    #[error(
        "{path}: store schema version {found}; this build reads versions 1 and {SCHEMA_VERSION}; nothing was written to it"
    )]
    Version { path: String, found: String },
    #[error("{path}: {what}: {source}")]
    Sql {
        path: String,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

/// A signal as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalInfo {
    pub name: String,
    pub asset: String,
    pub quantity: String,
    pub unit: String,
}

/// One thing to store. Times are Unix s.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An accepted sample of a registered signal (its id from [`Store::register`]), in its canonical unit.
    Sample { signal: i64, t_unix_s: f64, received_unix_s: f64, value: f64, flags: u8 },
    /// A derived index of an asset.
    Index { asset: String, name: &'static str, t_unix_s: f64, value: f64 },
    /// An event with its details as JSON.
    Event { t_unix_s: f64, kind: &'static str, asset: Option<String>, detail: String },
    /// A message the twin took, numbered (see the `journal` table).
    Journal { seq: i64, received_unix_s: f64, topic: String, payload: Vec<u8> },
    /// The twin's state (see the `checkpoints` table; `id` is assigned); older checkpoints beyond
    /// [`CHECKPOINTS_KEPT`] and the journal before the oldest kept one are deleted in the same transaction.
    Checkpoint(Box<CheckpointRow>),
}

/// Samples per INSERT statement (5 parameters each, within SQLite's 32,766).
const SAMPLES_PER_INSERT: usize = 500;

/// Flag of a sample whose source clock was skewed and corrected.
pub const FLAG_SKEWED: u8 = 1;
/// Flag of a sample that arrived out of order within the allowed lateness.
pub const FLAG_REORDERED: u8 = 2;

/// An open store.
pub struct Store {
    conn: Connection,
    path: String,
    /// Raw samples older than this behind the newest are deleted once rolled up, s (none: kept).
    pub retain_raw_s: Option<f64>,
}

impl Store {
    /// Opens the store at `path` for `scenario`, creating it when there is no file. An existing file must be a
    /// store of this schema version and this scenario; otherwise it is left as it was.
    pub fn open(path: &Path, scenario: &str) -> Result<Self, StoreError> {
        let exists = path.exists();
        let p = path.display().to_string();
        let flags = if exists {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(path, flags).map_err(|e| not_a_store(&p, e))?;
        let mut store = Store { conn, path: p, retain_raw_s: None };
        if exists {
            store.check(Some(scenario))?;
            store.migrate()?;
        } else {
            store.create(scenario)?;
        }
        // Only now, with the file known to be ours: WAL (it rewrites the file's header) and its sync level.
        store
            .conn
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768;")
            .map_err(|e| store.sql("cannot set WAL mode", e))?;
        Ok(store)
    }

    /// Opens an existing store read-only (for export and queries), whatever its scenario.
    pub fn open_read(path: &Path) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        if !path.exists() {
            return Err(StoreError::NotAStore { path: p, why: "no such file".into() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| not_a_store(&p, e))?;
        let store = Store { conn, path: p, retain_raw_s: None };
        store.check(None)?;
        Ok(store)
    }

    fn sql(&self, what: &'static str, source: rusqlite::Error) -> StoreError {
        StoreError::Sql { path: self.path.clone(), what, source }
    }

    /// Runs `f` in one transaction, committed when it succeeds; an error names `what` failed.
    fn in_transaction(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let done = self.conn.transaction().and_then(|tx| f(&tx).and_then(|_| tx.commit()));
        done.map_err(|source| StoreError::Sql { path, what, source })
    }

    /// The file is a store of this schema version or of version 1, which has the same tables less the checkpoints (and
    /// of `scenario`, when given).
    fn check(&self, scenario: Option<&str>) -> Result<(), StoreError> {
        let has_meta: Option<String> = self
            .conn
            .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |r| r.get(0))
            .optional()
            .map_err(|e| not_a_store(&self.path, e))?;
        if has_meta.is_none() {
            return Err(StoreError::NotAStore { path: self.path.clone(), why: "it has no meta table".into() });
        }
        let version = self.meta("schema_version").map_err(|e| not_a_store(&self.path, e))?;
        if version.as_deref() != Some(&SCHEMA_VERSION.to_string()) && version.as_deref() != Some("1") {
            return Err(StoreError::Version { path: self.path.clone(), found: version.unwrap_or("none".into()) });
        }
        let stored = self.meta("scenario").map_err(|e| not_a_store(&self.path, e))?.unwrap_or_default();
        match scenario {
            Some(this) if this != stored => {
                Err(StoreError::OtherScenario { path: self.path.clone(), stored, this: this.to_owned() })
            }
            _ => Ok(()),
        }
    }

    fn create(&mut self, scenario: &str) -> Result<(), StoreError> {
        self.in_transaction("cannot create the store", |tx| {
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION.to_string()])?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('scenario', ?1)", [scenario])?;
            Ok(())
        })
    }

    /// Brings a version-1 store (checked to be ours) to this version: its tables are kept as they are.
    fn migrate(&mut self) -> Result<(), StoreError> {
        if self.meta("schema_version").map_err(|e| not_a_store(&self.path, e))?.as_deref() != Some("1") {
            return Ok(());
        }
        self.in_transaction("cannot migrate the store to schema version 2", |tx| {
            tx.execute_batch(SCHEMA_V2)?;
            tx.execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", [SCHEMA_VERSION.to_string()])?;
            Ok(())
        })
    }

    /// The newest checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, t_unix_s, written_unix_s, format, twin_version, scenario_digest, messages, state
                 FROM checkpoints ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(CheckpointRow {
                        id: r.get(0)?,
                        t_unix_s: r.get(1)?,
                        written_unix_s: r.get(2)?,
                        format: r.get(3)?,
                        twin_version: r.get(4)?,
                        scenario_digest: r.get(5)?,
                        messages: r.get(6)?,
                        state: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql("cannot read the checkpoints", e))
    }

    /// The journaled messages after message number `after`, in order.
    pub fn journal_after(&self, after: i64) -> Result<Vec<JournalRow>, StoreError> {
        let read = || -> rusqlite::Result<Vec<JournalRow>> {
            let mut st = self
                .conn
                .prepare("SELECT seq, received_unix_s, topic, payload FROM journal WHERE seq > ?1 ORDER BY seq")?;
            let rows = st.query_map([after], |r| {
                Ok(JournalRow { seq: r.get(0)?, received_unix_s: r.get(1)?, topic: r.get(2)?, payload: r.get(3)? })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.sql("cannot read the journal", e))
    }

    /// A `meta` value.
    pub fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()
    }

    /// The scenario the store belongs to.
    pub fn scenario(&self) -> String {
        self.meta("scenario").ok().flatten().unwrap_or_default()
    }

    /// The store's path, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Registers a signal (or finds it, unchanged) and returns its id. A stored signal whose asset, quantity or
    /// unit differ is refused.
    pub fn register(&mut self, s: &SignalInfo) -> Result<i64, StoreError> {
        let found: Option<(i64, String, String, String)> = self
            .conn
            .query_row("SELECT id, asset, quantity, unit FROM signals WHERE name = ?1", [&s.name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(|e| self.sql("cannot read the signals", e))?;
        match found {
            Some((id, asset, quantity, unit)) => {
                if (asset.as_str(), quantity.as_str(), unit.as_str()) == (&s.asset, &s.quantity, &s.unit) {
                    Ok(id)
                } else {
                    Err(StoreError::SignalChanged {
                        path: self.path.clone(),
                        signal: s.name.clone(),
                        stored: format!("{quantity} in {unit} of {asset}"),
                        this: format!("{} in {} of {}", s.quantity, s.unit, s.asset),
                    })
                }
            }
            None => {
                self.conn
                    .execute(
                        "INSERT INTO signals (name, asset, quantity, unit) VALUES (?1, ?2, ?3, ?4)",
                        params![s.name, s.asset, s.quantity, s.unit],
                    )
                    .map_err(|e| self.sql("cannot register a signal", e))?;
                Ok(self.conn.last_insert_rowid())
            }
        }
    }

    /// Every registered signal with its id, by name.
    pub fn signals(&self) -> Result<Vec<(i64, SignalInfo)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(i64, SignalInfo)>> {
            let mut st = self.conn.prepare("SELECT id, name, asset, quantity, unit FROM signals ORDER BY name")?;
            let rows = st.query_map([], |r| {
                Ok((r.get(0)?, SignalInfo { name: r.get(1)?, asset: r.get(2)?, quantity: r.get(3)?, unit: r.get(4)? }))
            })?;
            rows.collect()
        };
        read().map_err(|e| self.sql("cannot read the signals", e))
    }

    /// Writes `records` in one transaction. A sample whose signal and event time are stored already is ignored
    /// (the first one stays); an index row at a stored time replaces it; an identical event is ignored.
    pub fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        self.in_transaction("cannot write", |tx| {
            // Samples go in statements of SAMPLES_PER_INSERT rows: SQLite's per-statement work, not the B-tree,
            // is most of a single-row insert's cost.
            let mut samples: Vec<&Record> = Vec::with_capacity(records.len());
            let mut index = tx.prepare_cached(
                "INSERT OR REPLACE INTO indices (asset, name, t_unix_s, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut event = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (t_unix_s, kind, asset, detail) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut journal = tx.prepare_cached(
                "INSERT OR IGNORE INTO journal (seq, received_unix_s, topic, payload) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for r in records {
                match r {
                    Record::Sample { .. } => samples.push(r),
                    Record::Index { asset, name, t_unix_s, value } => {
                        index.execute(params![asset, name, t_unix_s, value])?;
                    }
                    Record::Event { t_unix_s, kind, asset, detail } => {
                        event.execute(params![t_unix_s, kind, asset, detail])?;
                    }
                    Record::Journal { seq, received_unix_s, topic, payload } => {
                        journal.execute(params![seq, received_unix_s, topic, payload])?;
                    }
                    Record::Checkpoint(c) => {
                        tx.execute(
                            "INSERT INTO checkpoints (t_unix_s, written_unix_s, format, twin_version, scenario_digest,
                             messages, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            params![
                                c.t_unix_s,
                                c.written_unix_s,
                                c.format,
                                c.twin_version,
                                c.scenario_digest,
                                c.messages,
                                c.state
                            ],
                        )?;
                        tx.execute(
                            "DELETE FROM checkpoints WHERE id NOT IN
                             (SELECT id FROM checkpoints ORDER BY id DESC LIMIT ?1)",
                            [CHECKPOINTS_KEPT],
                        )?;
                        tx.execute("DELETE FROM journal WHERE seq <= (SELECT MIN(messages) FROM checkpoints)", [])?;
                    }
                }
            }
            let insert = |rows: usize| {
                let values = vec!["(?, ?, ?, ?, ?)"; rows].join(", ");
                format!(
                    "INSERT OR IGNORE INTO samples (signal, t_unix_s, received_unix_s, value, flags) VALUES {values}"
                )
            };
            let full = insert(SAMPLES_PER_INSERT);
            for chunk in samples.chunks(SAMPLES_PER_INSERT) {
                let short;
                let sql = if chunk.len() == SAMPLES_PER_INSERT {
                    &full
                } else {
                    short = insert(chunk.len());
                    &short
                };
                let mut st = tx.prepare_cached(sql)?;
                let mut k = 1;
                for r in chunk {
                    if let Record::Sample { signal, t_unix_s, received_unix_s, value, flags } = r {
                        st.raw_bind_parameter(k, signal)?;
                        st.raw_bind_parameter(k + 1, t_unix_s)?;
                        st.raw_bind_parameter(k + 2, received_unix_s)?;
                        st.raw_bind_parameter(k + 3, value)?;
                        st.raw_bind_parameter(k + 4, flags)?;
                        k += 5;
                    }
                }
                st.raw_execute()?;
            }
            Ok(())
        })
    }

    /// Rolls the raw samples in `[from, to)` up into 1-minute buckets, and the minutes in whole hours of that range
    /// into 1-hour buckets; then deletes raw samples older than the retention behind `to` (rolled up already when
    /// every range is rolled up in turn, as the writer does). `from` and `to` should be minute boundaries; buckets
    /// are replaced, so rolling a range twice gives the same rows.
    ///
    /// Every statement names the signals (`signal IN (...)`) so that SQLite walks the (signal, time) index
    /// instead of scanning the whole table: a scan per roll-up made a long run's writes quadratic.
    pub fn roll_up(&mut self, from: f64, to: f64) -> Result<(), StoreError> {
        let (h0, h1) = ((from / 3600.0).floor() * 3600.0, (to / 3600.0).floor() * 3600.0);
        let retain = self.retain_raw_s;
        self.in_transaction("cannot roll up", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO rollups (signal, bucket_s, t_unix_s, n, mean, min, max)
                 SELECT signal, 60, CAST(t_unix_s / 60 AS INTEGER) * 60.0, COUNT(*), AVG(value), MIN(value), MAX(value)
                 FROM samples WHERE signal IN (SELECT id FROM signals) AND t_unix_s >= ?1 AND t_unix_s < ?2
                 GROUP BY signal, CAST(t_unix_s / 60 AS INTEGER)",
                params![from, to],
            )?;
            if h1 > h0 {
                tx.execute(
                    "INSERT OR REPLACE INTO rollups (signal, bucket_s, t_unix_s, n, mean, min, max)
                     SELECT signal, 3600, CAST(t_unix_s / 3600 AS INTEGER) * 3600.0, SUM(n), SUM(mean * n) / SUM(n),
                            MIN(min), MAX(max)
                     FROM rollups WHERE signal IN (SELECT id FROM signals) AND bucket_s = 60
                       AND t_unix_s >= ?1 AND t_unix_s < ?2
                     GROUP BY signal, CAST(t_unix_s / 3600 AS INTEGER)",
                    params![h0, h1],
                )?;
            }
            if let Some(r) = retain {
                tx.execute(
                    "DELETE FROM samples WHERE signal IN (SELECT id FROM signals) AND t_unix_s < ?1",
                    params![to - r],
                )?;
            }
            Ok(())
        })
    }

    /// The samples of signal `name` with event times in `[from, to]`, in time order: (Unix s, value).
    pub fn samples(&self, name: &str, from: f64, to: f64) -> Result<Vec<(f64, f64)>, StoreError> {
        let read = || -> rusqlite::Result<Vec<(f64, f64)>> {
            let mut st = self.conn.prepare_cached(
                "SELECT s.t_unix_s, s.value FROM samples s JOIN signals g ON g.id = s.signal
                 WHERE g.name = ?1 AND s.t_unix_s BETWEEN ?2 AND ?3 ORDER BY s.t_unix_s",
            )?;
            let rows = st.query_map(params![name, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        read().map_err(|e| self.sql("cannot read samples", e))
    }

    /// Calls `row` with every sample in `[from, to]` (of `asset`'s signals when given), in time order:
    /// (Unix s, signal, value).
    pub fn for_each_sample(
        &self,
        from: f64,
        to: f64,
        asset: Option<&str>,
        mut row: impl FnMut(f64, &SignalInfo, f64),
    ) -> Result<u64, StoreError> {
        let signals: std::collections::HashMap<i64, SignalInfo> = self.signals()?.into_iter().collect();
        let mut read = || -> rusqlite::Result<u64> {
            let mut st = self.conn.prepare(
                "SELECT s.t_unix_s, s.signal, s.value FROM samples s JOIN signals g ON g.id = s.signal
                 WHERE s.t_unix_s BETWEEN ?1 AND ?2 AND (?3 IS NULL OR g.asset = ?3) ORDER BY s.t_unix_s, g.name",
            )?;
            let mut rows = st.query(params![from, to, asset])?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(1)?;
                if let Some(s) = signals.get(&id) {
                    row(r.get(0)?, s, r.get(2)?);
                    n += 1;
                }
            }
            Ok(n)
        };
        read().map_err(|e| self.sql("cannot read samples", e))
    }

    /// Row counts: (samples, rollups, indices, events).
    pub fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        let count = |table: &str| -> rusqlite::Result<u64> {
            self.conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        };
        let all = (|| Ok((count("samples")?, count("rollups")?, count("indices")?, count("events")?)))();
        all.map_err(|e| self.sql("cannot count rows", e))
    }
}

fn not_a_store(path: &str, e: rusqlite::Error) -> StoreError {
    StoreError::NotAStore { path: path.to_owned(), why: e.to_string() }
}

/// The path of a store beside `scenario`: `pump_station.ron` → `pump_station.twin.sqlite`.
pub fn beside(scenario: &Path) -> PathBuf {
    scenario.with_extension("twin.sqlite")
}

#[cfg(test)]
mod tests;
