//! Integration tests of twin-mqtt against real brokers started by the tests themselves (mosquitto on a free
//! loopback port, or the embedded rumqttd). One test binary, one module per behaviour.

mod common;

mod channel_full;
mod embedded;
mod persistence;
mod pubsub;
mod restart;
mod tls;
