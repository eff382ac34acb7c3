//! An embedded rumqttd broker on 127.0.0.1 (MQTT 3.1.1) so the twin works out of the box without an external
//! broker. It runs in its own threads; rumqttd has no stop API, so it lives until the process exits.
//! Its logs go through `tracing`: nothing is printed unless the app installs a subscriber, in which case
//! [`LOG_FILTER`] keeps it quiet.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::MqttError;

/// Add to the app's tracing filter (e.g. Bevy's `LogPlugin::filter`) to silence the broker's info logs.
pub const LOG_FILTER: &str = "rumqttd=warn";
/// Largest payload the embedded broker accepts, bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// A running embedded broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// The loopback TCP port it listens on.
    pub port: u16,
    thread: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// `mqtt://127.0.0.1:{port}`, for [`crate::MqttConfig::from_url`].
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Whether the broker's thread is still running.
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }
}

fn config(port: u16) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: MAX_PAYLOAD_BYTES,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "twin-embedded-v4".into(),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    }
}

/// Starts rumqttd on 127.0.0.1 on a free port and waits (up to 5 s) until it accepts connections.
pub fn start_embedded() -> Result<EmbeddedBroker, MqttError> {
    let mut last_err = String::new();
    for _ in 0..5 {
        // Ask the OS for a free port, release it, and let rumqttd bind it (a small race, hence the retries).
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        let thread = std::thread::Builder::new().name("twin-rumqttd".into()).spawn(move || {
            let mut broker = Broker::new(config(port));
            let _ = broker.start();
        })?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !thread.is_finished() {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(EmbeddedBroker { port, thread });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last_err = format!("rumqttd did not listen on 127.0.0.1:{port}");
    }
    Err(MqttError::Broker(last_err))
}
