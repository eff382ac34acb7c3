//! Integration tests of twin-modbus over loopback TCP: `PlcClient` against `PlcServer` in every behaviour, the
//! server against malformed frames and the client against a PLC that answers nonsense, and a real third-party
//! Modbus client (Debian's `mbpoll`) against `PlcServer`.

mod behaviours;
mod mbpoll;
mod robustness;
mod roundtrip;
mod support;
