//! The store's writer thread: the twin hands it batches through a bounded channel and never waits on the disk;
//! a batch that finds the channel full is counted as dropped, never blocks a frame. Batches arriving within
//! 100 ms share a transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError, bounded};

use super::{Record, Store, StoreError};

/// Raw samples this recent are not rolled up yet (late samples may still arrive within it), s.
const ROLL_LAG_S: f64 = 120.0;

/// A transaction takes up to about this many records, count.
const COALESCE_RECORDS: usize = 50_000;
/// ... arriving within this time of its first batch.
const COALESCE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// What the writer did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriterStats {
    /// Transactions committed (waiting batches are coalesced into one), count.
    pub batches: u64,
    /// Records written, count.
    pub records: u64,
    /// Records dropped because the channel was full or the writer had stopped on an error, count.
    pub dropped: u64,
}

/// The writer: [`Writer::send`] from the twin, [`Writer::finish`] to flush and close.
pub struct Writer {
    tx: Option<Sender<(Vec<Record>, Option<u64>)>>,
    /// The highest acknowledgement mark of a committed batch (see [`Writer::send_marked`]).
    committed: Arc<AtomicU64>,
    /// A marked batch was dropped: later marks are not passed on (what it held was never written).
    marks_stopped: bool,
    thread: Option<JoinHandle<Result<WriterStats, StoreError>>>,
    dropped: u64,
}

impl Writer {
    /// Starts the thread owning `store`, with room for `capacity` batches in flight.
    pub fn spawn(mut store: Store, capacity: usize) -> Self {
        let (tx, rx) = bounded::<(Vec<Record>, Option<u64>)>(capacity.max(1));
        let committed = Arc::new(AtomicU64::new(0));
        let marks = committed.clone();
        let thread = std::thread::Builder::new()
            .name("twin-store".into())
            .spawn(move || {
                let mut stats = WriterStats::default();
                // Raw samples are rolled up behind the newest event time, a whole minute at a time.
                let mut rolled_to: Option<f64> = None;
                let mut newest = f64::NEG_INFINITY;
                while let Ok((mut batch, mut mark)) = rx.recv() {
                    // One transaction takes what arrives within COALESCE_WAIT of the first batch (up to about
                    // COALESCE_RECORDS): a fast run's ticks share commits, and each commit rewrites the
                    // B-trees' edge pages into the WAL, so fewer commits write far less; a live twin's samples
                    // are on disk within that wait.
                    // A batch that holds acknowledgements takes only what already waits: the broker holds those
                    // messages in flight until the commit.
                    let wait = if mark.is_some() { std::time::Duration::ZERO } else { COALESCE_WAIT };
                    let deadline = std::time::Instant::now() + wait;
                    while batch.len() < COALESCE_RECORDS {
                        let Ok((more, m)) = rx.recv_deadline(deadline) else { break };
                        batch.extend(more);
                        mark = m.or(mark);
                    }
                    store.write(&batch)?;
                    if let Some(m) = mark {
                        marks.fetch_max(m, Ordering::SeqCst);
                    }
                    stats.batches += 1;
                    stats.records += batch.len() as u64;
                    for r in &batch {
                        if let Record::Sample { t_unix_s, .. } = r {
                            newest = newest.max(*t_unix_s);
                            rolled_to.get_or_insert((t_unix_s / 60.0).floor() * 60.0);
                        }
                    }
                    if let Some(from) = rolled_to {
                        let to = ((newest - ROLL_LAG_S) / 60.0).floor() * 60.0;
                        if to >= from + 60.0 {
                            store.roll_up(from, to)?;
                            rolled_to = Some(to);
                        }
                    }
                }
                // At the end, everything is rolled up.
                if let Some(from) = rolled_to.filter(|_| newest.is_finite()) {
                    store.roll_up(from, (newest / 60.0).floor() * 60.0 + 60.0)?;
                }
                Ok(stats)
            })
            .expect("spawning the store's writer thread");
        Writer { tx: Some(tx), committed, marks_stopped: false, thread: Some(thread), dropped: 0 }
    }

    /// Hands a batch to the writer; counted as dropped when the channel is full or the writer stopped.
    pub fn send(&mut self, batch: Vec<Record>) {
        self.send_marked(batch, None);
    }

    /// Hands a batch with an acknowledgement mark: once the batch is committed, [`Writer::committed`] reaches
    /// `mark` (marks must grow). After a marked batch is dropped, no later mark is passed on.
    pub fn send_marked(&mut self, batch: Vec<Record>, mark: Option<u64>) {
        if batch.is_empty() && mark.is_none() {
            return;
        }
        let mark = mark.filter(|_| !self.marks_stopped);
        let Some(tx) = &self.tx else {
            self.dropped += batch.len() as u64;
            self.marks_stopped = true;
            return;
        };
        match tx.try_send((batch, mark)) {
            Ok(()) => {}
            Err(TrySendError::Full((b, m)) | TrySendError::Disconnected((b, m))) => {
                self.dropped += b.len() as u64;
                self.marks_stopped |= m.is_some() || b.iter().any(|r| matches!(r, Record::Journal { .. }));
            }
        }
    }

    /// The highest mark of a committed batch (0 before any): shared with whoever acknowledges what it covers.
    pub fn committed(&self) -> Arc<AtomicU64> {
        self.committed.clone()
    }

    /// Whether the writer stopped (on an error, which [`Writer::finish`] returns).
    pub fn stopped(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Records dropped so far, count.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Writes what is queued, rolls everything up and closes the store.
    pub fn finish(mut self) -> Result<WriterStats, StoreError> {
        self.close()
    }

    fn close(&mut self) -> Result<WriterStats, StoreError> {
        self.tx = None;
        let Some(thread) = self.thread.take() else {
            return Ok(WriterStats { dropped: self.dropped, ..Default::default() });
        };
        let mut stats = thread.join().expect("the store's writer thread panicked")?;
        stats.dropped = self.dropped;
        Ok(stats)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
