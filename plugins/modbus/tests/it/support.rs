//! Shared helpers: a server on a free loopback port, a client connected to it, and waiting (with a deadline,
//! never a fixed sleep) for the server to report a write.

use std::time::Duration;

use twin_modbus::{Behaviour, PlcClient, PlcServer, Write};

/// Longest wait for something that normally happens at once; only reached when a test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1 with a port the OS picked.
pub fn server(behaviour: Behaviour) -> PlcServer {
    PlcServer::start("127.0.0.1:0".parse().unwrap(), behaviour).expect("start the server")
}

/// A client of `server` (unit id 1) with the given request timeout.
pub fn client(server: &PlcServer, timeout: Duration) -> PlcClient {
    PlcClient::connect(server.local_addr(), 1, timeout).expect("connect to the server")
}

/// The next write `server` reports (fails the test after [`DEADLINE`]).
pub fn next_write(server: &PlcServer) -> Write {
    server.writes().recv_timeout(DEADLINE).expect("the server reports the write")
}

/// Panics so far on this crate's own threads (`modbus-client-*`, `modbus-server-*`), counted by a panic hook
/// installed on the first call (it then hands over to the default hook, so every panic is still printed).
/// tokio catches a panic in a connection task, so without this count a panic on network input would go unseen.
pub fn modbus_thread_panics() -> u64 {
    use std::sync::Once;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PANICS: AtomicU64 = AtomicU64::new(0);
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_some_and(|n| n.starts_with("modbus-")) {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}
