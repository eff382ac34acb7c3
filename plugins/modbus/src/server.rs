//! The virtual PLC: a tokio-modbus TCP server on a thread and runtime of its own, serving a bank of 65536
//! holding registers that the virtual plant shares (it publishes live values into registers and reads
//! set-points from them), and reporting every stored write on a bounded channel so that the plant can react
//! to a pushed set-point at once. [`Behaviour`] makes it misbehave like real PLCs do, for tests of the twin.

use std::fmt;
use std::future::{Ready, ready};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_modbus::server::Service;
use tokio_modbus::server::tcp::Server;
use tokio_modbus::{ExceptionCode, Request, Response};

use crate::client::{MAX_READ_COUNT, MAX_WRITE_COUNT};
use crate::guard::FrameGuard;
use crate::{PlcError, RegisterSpec};

/// Writes waiting in the [`PlcServer::writes`] channel, at most.
const WRITE_QUEUE: usize = 1024;
/// Number of holding registers (addresses 0..=65535).
const REGISTERS: usize = 1 << 16;
/// Pause before listening again after `accept` failed (out of file descriptors, for instance).
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// How the virtual PLC treats requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Behaviour {
    /// Reads answer the registers; writes are stored, reported on [`PlcServer::writes`] and acknowledged.
    #[default]
    Normal,
    /// Writes are acknowledged but neither stored nor reported (a PLC whose program overwrites or ignores
    /// them): a read-back shows the old value. Reads answer as usual.
    IgnoreWrites,
    /// Connections are accepted, but no request is ever answered (a hung PLC or a gateway that lost its
    /// device): for timeout tests.
    NeverAnswer,
}

impl Behaviour {
    fn to_u8(self) -> u8 {
        match self {
            Behaviour::Normal => 0,
            Behaviour::IgnoreWrites => 1,
            Behaviour::NeverAnswer => 2,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Behaviour::IgnoreWrites,
            2 => Behaviour::NeverAnswer,
            _ => Behaviour::Normal,
        }
    }
}

/// One write a client made and the server stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// First register written (0-based protocol address).
    pub address: u16,
    /// The words written, from `address` on (one for function code 6).
    pub words: Vec<u16>,
}

/// The 65536 holding registers (0-based protocol addresses 0..=65535, all 0 at start), shared between the
/// server thread and the owner. Clones share the same registers.
#[derive(Clone)]
pub struct RegisterBank {
    words: Arc<Mutex<Vec<u16>>>,
}

impl Default for RegisterBank {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RegisterBank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.lock();
        let non_zero = words.iter().filter(|w| **w != 0).count();
        f.debug_struct("RegisterBank").field("non_zero_registers", &non_zero).finish()
    }
}

impl RegisterBank {
    /// A bank of 65536 registers, all 0.
    pub fn new() -> Self {
        RegisterBank { words: Arc::new(Mutex::new(vec![0; REGISTERS])) }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u16>> {
        // The lock is never held across code that can panic; a poisoned lock still holds valid words.
        self.words.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The register at `address`.
    pub fn get(&self, address: u16) -> u16 {
        self.lock().get(usize::from(address)).copied().unwrap_or(0)
    }

    /// Sets the register at `address` (not reported on [`PlcServer::writes`]: that is for clients' writes).
    pub fn set(&self, address: u16, word: u16) {
        if let Some(w) = self.lock().get_mut(usize::from(address)) {
            *w = word;
        }
    }

    /// `count` registers from `address` on; [`PlcError::OutOfRange`] if they run past 65535.
    pub fn read(&self, address: u16, count: u16) -> Result<Vec<u16>, PlcError> {
        let start = usize::from(address);
        self.lock()
            .get(start..start + usize::from(count))
            .map(<[u16]>::to_vec)
            .ok_or(PlcError::OutOfRange { address, count: usize::from(count) })
    }

    /// Sets the registers from `address` on to `words`, all or none; [`PlcError::OutOfRange`] if they run past
    /// 65535.
    pub fn write(&self, address: u16, words: &[u16]) -> Result<(), PlcError> {
        let start = usize::from(address);
        match self.lock().get_mut(start..start + words.len()) {
            Some(dst) => {
                dst.copy_from_slice(words);
                Ok(())
            }
            None => Err(PlcError::OutOfRange { address, count: words.len() }),
        }
    }

    /// The engineering value of `spec` (what a client's [`read_value`](crate::PlcClient::read_value) sees).
    pub fn value(&self, spec: &RegisterSpec) -> Result<f64, PlcError> {
        // word_count() is 1 or 2.
        let words = self.read(spec.address, spec.word_count() as u16)?;
        Ok(spec.decode(&words)?)
    }

    /// Encodes `value` as `spec` says and stores it.
    pub fn set_value(&self, spec: &RegisterSpec, value: f64) -> Result<(), PlcError> {
        let words = spec.encode(value)?;
        self.write(spec.address, &words)
    }
}

/// State shared by the server handle and the request handler.
struct Shared {
    bank: RegisterBank,
    behaviour: AtomicU8,
    writes_tx: Sender<Write>,
    /// The server's own end of the writes channel, to drop the oldest write when the channel is full.
    writes_rx: Receiver<Write>,
    dropped_writes: AtomicU64,
}

impl Shared {
    fn behaviour(&self) -> Behaviour {
        Behaviour::from_u8(self.behaviour.load(Ordering::Relaxed))
    }

    /// Queues `write` without blocking; when the channel is full, the oldest unread write makes room.
    fn report(&self, mut write: Write) {
        loop {
            match self.writes_tx.try_send(write) {
                Ok(()) => return,
                Err(TrySendError::Full(w)) => {
                    if self.writes_rx.try_recv().is_ok() {
                        self.dropped_writes.fetch_add(1, Ordering::Relaxed);
                    }
                    write = w;
                }
                // Unreachable while `writes_rx` lives; nothing to report to otherwise.
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }

    /// Answers one request. `Ok(None)`: no reply at all.
    fn handle(&self, request: Request<'static>) -> Result<Option<Response>, ExceptionCode> {
        let behaviour = self.behaviour();
        if behaviour == Behaviour::NeverAnswer {
            return Ok(None);
        }
        match request {
            Request::ReadHoldingRegisters(address, count) => {
                if count == 0 || count > MAX_READ_COUNT {
                    return Err(ExceptionCode::IllegalDataValue);
                }
                let words = self.bank.read(address, count).map_err(|_| ExceptionCode::IllegalDataAddress)?;
                Ok(Some(Response::ReadHoldingRegisters(words)))
            }
            Request::WriteSingleRegister(address, word) => {
                self.store(behaviour, address, vec![word])?;
                Ok(Some(Response::WriteSingleRegister(address, word)))
            }
            Request::WriteMultipleRegisters(address, words) => {
                if words.is_empty() || words.len() > MAX_WRITE_COUNT {
                    return Err(ExceptionCode::IllegalDataValue);
                }
                let count = words.len() as u16; // <= 123
                self.store(behaviour, address, words.into_owned())?;
                Ok(Some(Response::WriteMultipleRegisters(address, count)))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }

    fn store(&self, behaviour: Behaviour, address: u16, words: Vec<u16>) -> Result<(), ExceptionCode> {
        if usize::from(address) + words.len() > REGISTERS {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        if behaviour == Behaviour::Normal {
            self.bank.write(address, &words).map_err(|_| ExceptionCode::IllegalDataAddress)?;
            self.report(Write { address, words });
        }
        Ok(())
    }
}

/// The tokio-modbus service of every connection.
struct PlcService {
    shared: Arc<Shared>,
}

impl Service for PlcService {
    type Request = Request<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Option<Response>, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        ready(self.shared.handle(request))
    }
}

/// A Modbus TCP server (the virtual PLC) on its own thread.
///
/// It serves function codes 3 (read holding registers, 1..=125), 6 (write single register) and 16 (write
/// multiple registers, 1..=123) on [`RegisterBank`]; every other function answers exception 1 (illegal
/// function), a count out of those bounds exception 3 (illegal data value), and registers past 65535
/// exception 2 (illegal data address). It answers every unit id (as many TCP gateways and single-device PLCs
/// do), echoing the request's id. A malformed frame closes that client's connection only.
///
/// [`stop`](PlcServer::stop) or dropping it closes the listener and every connection, and joins the thread.
pub struct PlcServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop_tx: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PlcServer {
    /// Binds `bind` (port 0 picks a free one, see [`local_addr`](Self::local_addr)) and starts serving with
    /// `behaviour`.
    pub fn start(bind: SocketAddr, behaviour: Behaviour) -> Result<PlcServer, PlcError> {
        let listener = std::net::TcpListener::bind(bind).map_err(|source| PlcError::Bind { addr: bind, source })?;
        let local_addr = listener.local_addr().map_err(|source| PlcError::Bind { addr: bind, source })?;
        listener.set_nonblocking(true).map_err(|source| PlcError::Bind { addr: bind, source })?;
        let (writes_tx, writes_rx) = crossbeam_channel::bounded(WRITE_QUEUE);
        let shared = Arc::new(Shared {
            bank: RegisterBank::new(),
            behaviour: AtomicU8::new(behaviour.to_u8()),
            writes_tx,
            writes_rx,
            dropped_writes: AtomicU64::new(0),
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PlcError::Spawn(format!("tokio runtime: {e}")))?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("modbus-server-{local_addr}"))
                .spawn(move || {
                    rt.block_on(serve(listener, shared, stop_rx));
                    // Dropping the runtime drops every connection task: their sockets close here.
                    drop(rt);
                })
                .map_err(|e| PlcError::Spawn(e.to_string()))?
        };
        Ok(PlcServer { local_addr, shared, stop_tx: Some(stop_tx), thread: Some(thread) })
    }

    /// The address the server listens on (with the port the OS picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to the holding registers (clones share them).
    pub fn registers(&self) -> RegisterBank {
        self.shared.bank.clone()
    }

    /// The writes clients made and the server stored, oldest first (a bounded channel of 1024; when it is full
    /// the oldest unread write is dropped and counted in [`dropped_writes`](Self::dropped_writes); the server
    /// never waits for the reader). Every call returns a handle to the same channel.
    pub fn writes(&self) -> Receiver<Write> {
        self.shared.writes_rx.clone()
    }

    /// Writes dropped from a full [`writes`](Self::writes) channel since start.
    pub fn dropped_writes(&self) -> u64 {
        self.shared.dropped_writes.load(Ordering::Relaxed)
    }

    /// The current behaviour.
    pub fn behaviour(&self) -> Behaviour {
        self.shared.behaviour()
    }

    /// Changes the behaviour; it applies from the next request on, on every connection.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.behaviour.store(behaviour.to_u8(), Ordering::Relaxed);
    }

    /// Closes the listener and every connection and joins the thread; the port is free when it returns.
    /// Idempotent.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop_tx.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PlcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for PlcServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlcServer")
            .field("local_addr", &self.local_addr)
            .field("behaviour", &self.behaviour())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// The server thread's loop: serves until `stop` fires (or its sender is dropped).
async fn serve(listener: std::net::TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let server = Server::new(listener);
    let on_connected = |stream: TcpStream, _peer: SocketAddr| {
        let service = PlcService { shared: shared.clone() };
        async move {
            let _ = stream.set_nodelay(true);
            io::Result::Ok(Some((service, FrameGuard::new(stream))))
        }
    };
    // A broken connection only ends that connection's task.
    let on_process_error = |_err: io::Error| {};
    loop {
        tokio::select! {
            _ = &mut stop => return,
            // `serve` returns only when `accept` fails: listen again after a pause.
            _ = server.serve(&on_connected, on_process_error) => {}
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(ACCEPT_RETRY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(behaviour: Behaviour) -> Shared {
        let (writes_tx, writes_rx) = crossbeam_channel::bounded(2);
        Shared {
            bank: RegisterBank::new(),
            behaviour: AtomicU8::new(behaviour.to_u8()),
            writes_tx,
            writes_rx,
            dropped_writes: AtomicU64::new(0),
        }
    }

    #[test]
    fn register_bank_reads_and_writes_within_0_to_65535_only() {
        let bank = RegisterBank::new();
        bank.set(65535, 7);
        assert_eq!(bank.get(65535), 7);
        assert_eq!(bank.read(65534, 2).unwrap(), [0, 7]);
        assert!(matches!(bank.read(65535, 2), Err(PlcError::OutOfRange { address: 65535, count: 2 })));
        assert_eq!(bank.read(10, 0).unwrap(), Vec::<u16>::new());
        bank.write(100, &[1, 2, 3]).unwrap();
        assert_eq!(bank.read(100, 3).unwrap(), [1, 2, 3]);
        assert!(bank.write(65535, &[1, 2]).is_err());
        assert_eq!(bank.get(65535), 7, "a refused write changes nothing");
        let spec = RegisterSpec::new(200, crate::Encoding::F32);
        bank.set_value(&spec, 1350.0).unwrap();
        assert_eq!(bank.read(200, 2).unwrap(), [0x44A8, 0xC000]);
        assert_eq!(bank.value(&spec).unwrap(), 1350.0);
        assert!(bank.clone().read(200, 2).unwrap() == [0x44A8, 0xC000], "clones share registers");
    }

    #[test]
    fn requests_get_the_modbus_exceptions_the_specification_asks_for() {
        let s = shared(Behaviour::Normal);
        assert_eq!(s.handle(Request::ReadHoldingRegisters(65535, 2)), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(s.handle(Request::ReadHoldingRegisters(0, 0)), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(s.handle(Request::ReadHoldingRegisters(0, 126)), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(
            s.handle(Request::WriteMultipleRegisters(65535, vec![1, 2].into())),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(s.handle(Request::WriteMultipleRegisters(0, vec![].into())), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(s.handle(Request::ReadInputRegisters(0, 1)), Err(ExceptionCode::IllegalFunction));
        assert_eq!(s.handle(Request::ReadCoils(0, 1)), Err(ExceptionCode::IllegalFunction));
        assert_eq!(s.handle(Request::Custom(0x41, vec![1].into())), Err(ExceptionCode::IllegalFunction));
        assert_eq!(
            s.handle(Request::ReadHoldingRegisters(65535, 1)),
            Ok(Some(Response::ReadHoldingRegisters(vec![0])))
        );
    }

    #[test]
    fn a_full_writes_channel_drops_the_oldest_write_and_counts_it() {
        let s = shared(Behaviour::Normal);
        for a in 0..5u16 {
            assert_eq!(
                s.handle(Request::WriteSingleRegister(a, a + 100)),
                Ok(Some(Response::WriteSingleRegister(a, a + 100)))
            );
        }
        assert_eq!(s.dropped_writes.load(Ordering::Relaxed), 3);
        let left: Vec<Write> = s.writes_rx.try_iter().collect();
        assert_eq!(left, [Write { address: 3, words: vec![103] }, Write { address: 4, words: vec![104] }]);
        assert_eq!(s.bank.read(0, 5).unwrap(), [100, 101, 102, 103, 104], "every write was stored");
    }

    #[test]
    fn ignore_writes_acknowledges_without_storing_and_never_answer_answers_nothing() {
        let s = shared(Behaviour::IgnoreWrites);
        assert_eq!(
            s.handle(Request::WriteMultipleRegisters(10, vec![1, 2].into())),
            Ok(Some(Response::WriteMultipleRegisters(10, 2)))
        );
        assert_eq!(s.bank.read(10, 2).unwrap(), [0, 0]);
        assert!(s.writes_rx.is_empty());
        s.behaviour.store(Behaviour::NeverAnswer.to_u8(), Ordering::Relaxed);
        assert_eq!(s.handle(Request::ReadHoldingRegisters(0, 1)), Ok(None));
        assert_eq!(s.handle(Request::ReadInputRegisters(0, 1)), Ok(None));
    }
}
