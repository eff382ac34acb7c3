//! Error types: `CodecError` for turning engineering values into register words and back, `PlcError` for
//! everything that talks to (or is) a PLC. Messages say what failed, where (operation, register address,
//! peer) and why, so that the UI can show them as they are.

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;

use crate::client::Op;
use crate::codec::Encoding;

/// Errors of [`RegisterSpec::encode`](crate::RegisterSpec::encode) and
/// [`RegisterSpec::decode`](crate::RegisterSpec::decode).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CodecError {
    #[error("value {value} is not finite and cannot be encoded as {encoding}")]
    NonFinite { value: f64, encoding: Encoding },
    #[error("value {value} × scale {scale} = {scaled} is out of range for {encoding} (register value {min}..={max})")]
    OutOfRange {
        /// The engineering value that was to be written.
        value: f64,
        scale: f64,
        /// `value × scale`, rounded to an integer for the integer encodings.
        scaled: f64,
        encoding: Encoding,
        /// Smallest register value the encoding holds.
        min: f64,
        /// Largest register value the encoding holds.
        max: f64,
    },
    #[error("scale {scale} is invalid: it must be finite and non-zero")]
    InvalidScale { scale: f64 },
    #[error("{encoding} needs {expected} register word(s), got {got}")]
    WrongWordCount { encoding: Encoding, expected: usize, got: usize },
    #[error("registers at address {address} hold {words:04X?}, which is not a finite F32 (NaN or infinity)")]
    NonFiniteRegister { address: u16, words: Vec<u16> },
}

/// Errors of [`PlcClient`](crate::PlcClient), [`PlcServer`](crate::PlcServer) and
/// [`RegisterBank`](crate::RegisterBank).
#[derive(Debug, Error)]
pub enum PlcError {
    #[error("connecting to the PLC at {peer} timed out after {} ms", after.as_millis())]
    ConnectTimeout { peer: SocketAddr, after: Duration },
    #[error("connecting to the PLC at {peer} failed: {source}")]
    Connect {
        peer: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("Modbus {op} at register address {address} on {peer} timed out after {} ms (no reply)", after.as_millis())]
    Timeout {
        op: Op,
        /// First register of the request (0-based protocol address).
        address: u16,
        peer: SocketAddr,
        /// The client's request timeout.
        after: Duration,
    },
    #[error("Modbus {op} at register address {address} on {peer}: the PLC answered exception {code} ({description})")]
    Exception {
        op: Op,
        /// First register of the request (0-based protocol address).
        address: u16,
        peer: SocketAddr,
        /// The Modbus exception code (1 illegal function, 2 illegal data address, 3 illegal data value, ...).
        code: u8,
        /// The exception's name, as the Modbus specification words it.
        description: String,
    },
    #[error("Modbus {op} at register address {address} on {peer} failed: {source} (the connection is closed)")]
    Io {
        op: Op,
        /// First register of the request (0-based protocol address).
        address: u16,
        peer: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("Modbus {op} at register address {address} on {peer}: invalid reply: {message}")]
    Protocol {
        op: Op,
        /// First register of the request (0-based protocol address).
        address: u16,
        peer: SocketAddr,
        message: String,
    },
    #[error("the connection to the PLC at {peer} is closed (the client thread has ended); connect again")]
    Closed { peer: SocketAddr },
    #[error("invalid Modbus request: {0}")]
    InvalidRequest(String),
    #[error("registers {address}..{address}+{count} run past the last address 65535")]
    OutOfRange {
        /// First register (0-based protocol address).
        address: u16,
        /// Number of registers.
        count: usize,
    },
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("could not bind the Modbus server to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start the Modbus thread: {0}")]
    Spawn(String),
}
