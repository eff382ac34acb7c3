//! The PLC client thread: a tokio-modbus TCP client on a current-thread tokio runtime of its own, driven by
//! requests from a bounded crossbeam channel, so that the twin gets a blocking API where every call returns
//! within its timeout. A PLC that stops answering gives `PlcError::Timeout`; once the peer has closed the
//! connection every later call returns `PlcError::Closed` at once.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_modbus::client::{Client, Context};
use tokio_modbus::{ExceptionCode, Request, Response, Slave};

use crate::{PlcError, RegisterSpec};

/// Requests waiting for the client thread, at most (callers block, within their timeout, beyond that).
const REQUEST_QUEUE: usize = 16;
/// Most registers one read may ask for (Modbus limit for function code 3).
pub(crate) const MAX_READ_COUNT: u16 = 125;
/// Most registers one write may carry (Modbus limit for function code 16).
pub(crate) const MAX_WRITE_COUNT: usize = 123;
/// How long the thread waits for a clean disconnect when the client is dropped.
const DISCONNECT_WAIT: Duration = Duration::from_millis(200);
/// Extra wait of a caller for the thread's answer beyond its own deadline (the thread enforces the deadline;
/// this only guards against a thread that is stuck for reasons outside the request).
const REPLY_GRACE: Duration = Duration::from_secs(1);

/// The kind of Modbus request, as named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read holding registers (function code 3).
    Read,
    /// Write multiple registers (function code 16).
    Write,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Read => "read",
            Op::Write => "write",
        })
    }
}

/// One Modbus request to make (0-based register addresses).
enum Job {
    Read { address: u16, count: u16 },
    Write { address: u16, words: Vec<u16> },
}

impl Job {
    fn op(&self) -> Op {
        match self {
            Job::Read { .. } => Op::Read,
            Job::Write { .. } => Op::Write,
        }
    }

    fn address(&self) -> u16 {
        match self {
            Job::Read { address, .. } | Job::Write { address, .. } => *address,
        }
    }
}

/// What the thread answers a job with: the words read (empty for a write) or the error.
type Reply = Result<Vec<u16>, PlcError>;

/// A job on its way to the client thread, with its deadline and the channel for the answer.
struct Envelope {
    job: Job,
    /// The caller gives up at this instant; the thread answers `Timeout` when it gets there first.
    deadline: Instant,
    reply: Sender<Reply>,
}

/// A blocking Modbus TCP client. Requests go, one at a time, to a thread that owns the connection; each call
/// returns within about the timeout given to [`PlcClient::connect`] (the queue wait included).
///
/// Connection policy: after a timeout the socket is dropped (a late reply would otherwise be taken for the
/// answer to the next request) and the next request reconnects first, within its own timeout. When the peer
/// closes or resets the connection, or a reconnect fails, the client is closed: that request returns
/// [`PlcError::Io`], every one queued behind it or made later [`PlcError::Closed`] at once, and the owner
/// connects again when it wants to.
/// Writes are never retried.
///
/// Dropping the client disconnects and joins the thread (within about the timeout).
pub struct PlcClient {
    requests: Option<Sender<Envelope>>,
    thread: Option<JoinHandle<()>>,
    /// Set by the thread before it answers the request that ends it.
    closed: Arc<AtomicBool>,
    peer: SocketAddr,
    unit_id: u8,
    timeout: Duration,
}

impl PlcClient {
    /// Connects to the Modbus TCP server at `addr` (within `timeout`) and starts the client thread. `unit_id`
    /// goes into every request (many PLCs want 1 or 255, gateways the id of the device behind them);
    /// `timeout` bounds the connect and every later request.
    pub fn connect(addr: SocketAddr, unit_id: u8, timeout: Duration) -> Result<PlcClient, PlcError> {
        if timeout.is_zero() {
            return Err(PlcError::InvalidRequest("the timeout must be longer than zero".into()));
        }
        let (tx, rx) = crossbeam_channel::bounded::<Envelope>(REQUEST_QUEUE);
        let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<(), PlcError>>(1);
        let closed = Arc::new(AtomicBool::new(false));
        let closed_flag = closed.clone();
        let thread = std::thread::Builder::new()
            .name(format!("modbus-client-{addr}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(PlcError::Spawn(format!("tokio runtime: {e}"))));
                        return;
                    }
                };
                let deadline = Instant::now() + timeout;
                match rt.block_on(connect(addr, unit_id, deadline, timeout)) {
                    Ok(ctx) => {
                        let _ = ready_tx.send(Ok(()));
                        Worker { rt, ctx: Some(ctx), peer: addr, unit_id, timeout, closed: closed_flag }.run(rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| PlcError::Spawn(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(PlcError::Spawn("the client thread ended while connecting".into())),
        }
        Ok(PlcClient { requests: Some(tx), thread: Some(thread), closed, peer: addr, unit_id, timeout })
    }

    /// The address of the PLC this client talks to.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The Modbus unit id sent with every request.
    pub fn unit_id(&self) -> u8 {
        self.unit_id
    }

    /// The timeout of every request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the client thread has ended (the connection is gone; every call returns [`PlcError::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Reads `count` (1..=125) holding registers from `address` on (function code 3).
    pub fn read_holding(&self, address: u16, count: u16) -> Result<Vec<u16>, PlcError> {
        if count == 0 || count > MAX_READ_COUNT {
            return Err(PlcError::InvalidRequest(format!(
                "read of {count} registers at address {address}: Modbus reads 1..={MAX_READ_COUNT} at a time"
            )));
        }
        self.call(Job::Read { address, count })
    }

    /// Writes `words` (1..=123 of them) to the holding registers from `address` on (function code 16).
    pub fn write_registers(&self, address: u16, words: &[u16]) -> Result<(), PlcError> {
        if words.is_empty() || words.len() > MAX_WRITE_COUNT {
            return Err(PlcError::InvalidRequest(format!(
                "write of {} registers at address {address}: Modbus writes 1..={MAX_WRITE_COUNT} at a time",
                words.len()
            )));
        }
        self.call(Job::Write { address, words: words.to_vec() }).map(|_| ())
    }

    /// Encodes the engineering value `value` as `spec` says and writes it.
    pub fn write_value(&self, spec: &RegisterSpec, value: f64) -> Result<(), PlcError> {
        let words = spec.encode(value)?;
        self.write_registers(spec.address, &words)
    }

    /// Reads the registers of `spec` and decodes its engineering value.
    pub fn read_value(&self, spec: &RegisterSpec) -> Result<f64, PlcError> {
        // word_count() is 1 or 2.
        let words = self.read_holding(spec.address, spec.word_count() as u16)?;
        Ok(spec.decode(&words)?)
    }

    fn call(&self, job: Job) -> Result<Vec<u16>, PlcError> {
        let (op, address, peer, after) = (job.op(), job.address(), self.peer, self.timeout);
        let Some(requests) = &self.requests else {
            return Err(PlcError::Closed { peer });
        };
        if self.closed.load(Ordering::SeqCst) {
            return Err(PlcError::Closed { peer });
        }
        let deadline = Instant::now() + self.timeout;
        let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
        match requests.send_deadline(Envelope { job, deadline, reply: reply_tx }, deadline) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(_)) => return Err(PlcError::Timeout { op, address, peer, after }),
            Err(SendTimeoutError::Disconnected(_)) => return Err(PlcError::Closed { peer }),
        }
        match reply_rx.recv_deadline(deadline + REPLY_GRACE) {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => Err(PlcError::Timeout { op, address, peer, after }),
            Err(RecvTimeoutError::Disconnected) => Err(PlcError::Closed { peer }),
        }
    }
}

impl Drop for PlcClient {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once it has answered what is queued (nothing, normally:
        // callers hold `&self`).
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for PlcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlcClient")
            .field("peer", &self.peer)
            .field("unit_id", &self.unit_id)
            .field("timeout", &self.timeout)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Opens the TCP connection (Nagle off: requests are small and answered one by one).
async fn connect(peer: SocketAddr, unit_id: u8, deadline: Instant, after: Duration) -> Result<Context, PlcError> {
    let stream = match tokio::time::timeout_at(deadline.into(), TcpStream::connect(peer)).await {
        Err(_) => return Err(PlcError::ConnectTimeout { peer, after }),
        Ok(Err(source)) => return Err(PlcError::Connect { peer, source }),
        Ok(Ok(stream)) => stream,
    };
    let _ = stream.set_nodelay(true);
    Ok(tokio_modbus::client::tcp::attach_slave(stream, Slave(unit_id)))
}

/// How a failed request leaves the connection.
enum Outcome {
    /// The connection is fine (a reply, an exception, a reply with the wrong content).
    Keep(Reply),
    /// The connection is out of step (a timeout, a mismatched reply): drop it, reconnect on the next request.
    Drop(Reply),
    /// The connection is gone: answer, then end the thread.
    Fatal(Reply),
}

/// The client thread's state.
struct Worker {
    rt: Runtime,
    /// The connection, `None` after a timeout until the next request reconnects.
    ctx: Option<Context>,
    peer: SocketAddr,
    unit_id: u8,
    timeout: Duration,
    /// The owner's [`PlcClient::is_closed`] flag.
    closed: Arc<AtomicBool>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Envelope>) {
        while let Ok(Envelope { job, deadline, reply }) = rx.recv() {
            let outcome = self.handle(&job, deadline);
            let (result, fatal) = match outcome {
                Outcome::Keep(r) => (r, false),
                Outcome::Drop(r) => {
                    self.ctx = None;
                    (r, false)
                }
                Outcome::Fatal(r) => {
                    self.closed.store(true, Ordering::SeqCst);
                    (r, true)
                }
            };
            let _ = reply.send(result);
            if fatal {
                // Close the socket now, then answer `Closed` to everything still queued or sent later, until the
                // owner drops the client. (Ending the thread here would not do: a crossbeam channel keeps the
                // requests queued after its receiver is gone, so a call that slipped in between the answer
                // above and the end of the thread would wait for its whole timeout.)
                self.ctx = None;
                let peer = self.peer;
                for Envelope { reply, .. } in rx.iter() {
                    let _ = reply.send(Err(PlcError::Closed { peer }));
                }
                return;
            }
        }
        if let Some(mut ctx) = self.ctx.take() {
            let _ = self.rt.block_on(async { tokio::time::timeout(DISCONNECT_WAIT, ctx.disconnect()).await });
        }
    }

    fn handle(&mut self, job: &Job, deadline: Instant) -> Outcome {
        let (op, address, peer, after) = (job.op(), job.address(), self.peer, self.timeout);
        let timeout = PlcError::Timeout { op, address, peer, after };
        if Instant::now() >= deadline {
            // Waited in the queue past its deadline: the caller has (nearly) given up; do not start it.
            return Outcome::Keep(Err(timeout));
        }
        let (unit_id, ctx) = (self.unit_id, &mut self.ctx);
        let result = self.rt.block_on(async {
            tokio::time::timeout_at(deadline.into(), async {
                if ctx.is_none() {
                    match connect(peer, unit_id, deadline, after).await {
                        Ok(c) => *ctx = Some(c),
                        Err(PlcError::Connect { source, .. }) => {
                            return Outcome::Fatal(Err(PlcError::Io { op, address, peer, source }));
                        }
                        Err(e) => return Outcome::Drop(Err(e)),
                    }
                }
                match ctx {
                    Some(c) => exchange(c, job, peer).await,
                    None => Outcome::Fatal(Err(PlcError::Closed { peer })),
                }
            })
            .await
        });
        match result {
            Ok(Outcome::Drop(Err(PlcError::ConnectTimeout { .. }))) | Err(_) => Outcome::Drop(Err(timeout)),
            Ok(outcome) => outcome,
        }
    }
}

/// Sends one request and checks that the reply answers it.
async fn exchange(ctx: &mut Context, job: &Job, peer: SocketAddr) -> Outcome {
    let (op, address) = (job.op(), job.address());
    let request = match job {
        Job::Read { address, count } => Request::ReadHoldingRegisters(*address, *count),
        Job::Write { address, words } => Request::WriteMultipleRegisters(*address, words.as_slice().into()),
    };
    let protocol = |message: String| PlcError::Protocol { op, address, peer, message };
    // `Client::call` rather than the typed helpers: those assert (panic) on replies that do not match.
    match ctx.call(request).await {
        Ok(Ok(response)) => match (job, response) {
            (Job::Read { count, .. }, Response::ReadHoldingRegisters(words)) => {
                if words.len() == usize::from(*count) {
                    Outcome::Keep(Ok(words))
                } else {
                    Outcome::Keep(Err(protocol(format!("asked for {count} registers, got {}", words.len()))))
                }
            }
            (Job::Write { address, words }, Response::WriteMultipleRegisters(rsp_address, rsp_count)) => {
                if rsp_address == *address && usize::from(rsp_count) == words.len() {
                    Outcome::Keep(Ok(Vec::new()))
                } else {
                    Outcome::Keep(Err(protocol(format!(
                        "wrote {} registers at {address}, the PLC confirmed {rsp_count} at {rsp_address}",
                        words.len()
                    ))))
                }
            }
            (_, other) => Outcome::Keep(Err(protocol(format!("unexpected reply {other:?}")))),
        },
        Ok(Err(exception)) => Outcome::Keep(Err(PlcError::Exception {
            op,
            address,
            peer,
            code: u8::from(exception),
            description: exception_description(exception),
        })),
        Err(tokio_modbus::Error::Transport(source)) => Outcome::Fatal(Err(PlcError::Io { op, address, peer, source })),
        Err(tokio_modbus::Error::Protocol(e)) => Outcome::Drop(Err(protocol(e.to_string()))),
    }
}

/// The exception's name as the Modbus application protocol specification gives it.
fn exception_description(code: ExceptionCode) -> String {
    match code {
        ExceptionCode::Custom(c) => format!("unknown exception code {c}"),
        known => known.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_to_a_closed_port_fails_with_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let err = PlcClient::connect(addr, 1, Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, PlcError::Connect { peer, .. } if peer == addr), "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }

    #[test]
    fn zero_timeout_is_refused() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(matches!(PlcClient::connect(addr, 1, Duration::ZERO), Err(PlcError::InvalidRequest(_))));
    }

    #[test]
    fn exception_descriptions_are_readable() {
        assert_eq!(exception_description(ExceptionCode::IllegalDataAddress), "illegal data address");
        assert_eq!(exception_description(ExceptionCode::new(0x42)), "unknown exception code 66");
    }
}
