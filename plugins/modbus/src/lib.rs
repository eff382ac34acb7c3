//! Modbus TCP adapter for the twin (a leaf crate: it never depends on the root `twin` crate).
//!
//! The twin talks to PLCs through holding registers. This crate gives it three plain, blocking pieces, each
//! running tokio-modbus on its own thread so that the ECS never awaits anything:
//!
//! - [`codec`]: engineering values ↔ holding-register words ([`RegisterSpec`]: U16, I16, U32, F32, a scale, the
//!   word order of 32-bit values).
//! - [`PlcClient`]: a Modbus TCP client (function codes 3 and 16) where every request has a deadline and every
//!   failure is a [`PlcError`] that names the operation, the register address and the peer.
//! - [`PlcServer`]: a virtual PLC (function codes 3, 6 and 16) serving a [`RegisterBank`] that the virtual plant
//!   reads and writes, reporting every stored write on a bounded channel; [`Behaviour`] makes it misbehave
//!   (ignore writes, never answer) for tests of the twin's error handling.
//!
//! Nothing here panics on network input: malformed frames close the offending connection, and a PLC's
//! nonsense becomes a [`PlcError`].

mod client;
pub mod codec;
mod error;
pub mod guard;
mod server;

pub use client::{Op, PlcClient};
pub use codec::{Encoding, RegisterSpec, WordOrder};
pub use error::{CodecError, PlcError};
pub use server::{Behaviour, PlcServer, RegisterBank, Write};
