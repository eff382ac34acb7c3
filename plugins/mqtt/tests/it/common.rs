//! Test helpers: a mosquitto process on a free 127.0.0.1 port (killed by pid on drop), CLI publishing, and
//! waiting with deadlines.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use twin_mqtt::{MqttClient, MqttConfig, Qos};

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// Polls `f` every 10 ms until it is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// A mosquitto broker owned by a test. Stopped with SIGTERM by [`Mosquitto::stop`], killed on drop.
pub struct Mosquitto {
    pub port: u16,
    pub dir: tempfile::TempDir,
    conf: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts mosquitto with `listener PORT 127.0.0.1`, anonymous access, and `extra` config lines.
    pub fn start(persistence: bool, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        let listener = if extra.contains("listener ") { String::new() } else { format!("listener {port} 127.0.0.1\n") };
        let extra = extra.replace("{PORT}", &port.to_string());
        let text = format!(
            "{listener}allow_anonymous true\nuser root\npersistence {persistence}\npersistence_location {}/\n\
             autosave_interval 0\nmax_queued_messages 0\nlog_dest file {}/mosquitto.log\n{extra}\n",
            dir.path().display(),
            dir.path().display(),
        );
        std::fs::write(&conf, text).unwrap();
        let mut m = Mosquitto { port, dir, conf, child: None };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto must be installed (Debian: apt-get install mosquitto mosquitto-clients)");
        self.child = Some(child);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let up = wait_until(Duration::from_secs(10), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
        });
        assert!(up, "mosquitto did not listen on {addr}; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// SIGTERM (mosquitto saves its persistence database) and wait for the process to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let exited = wait_until(Duration::from_secs(10), || matches!(child.try_wait(), Ok(Some(_))));
            if !exited {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Starts again on the same port with the same config (and persistence directory).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `mosquitto_pub -m` once.
pub fn mosquitto_pub(port: u16, topic: &str, payload: &str, qos: u8) {
    let st = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic, "-m", payload, "-q", &qos.to_string()])
        .status()
        .expect("mosquitto_pub must be installed (Debian: mosquitto-clients)");
    assert!(st.success(), "mosquitto_pub failed: {st}");
}

/// `mosquitto_pub -l`: one message per line of `lines`.
pub fn mosquitto_pub_lines(port: u16, topic: &str, lines: &[String], qos: u8) {
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic, "-l", "-q", &qos.to_string()])
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub must be installed");
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
}

/// A config for a client of a local broker, fast reconnects for tests.
pub fn config(port: u16, client_id: &str, subs: &[(&str, Qos)]) -> MqttConfig {
    let mut cfg = MqttConfig::from_url(&format!("mqtt://127.0.0.1:{port}"), client_id).unwrap();
    cfg.subscriptions = subs.iter().map(|(f, q)| (f.to_string(), *q)).collect();
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 500;
    cfg.keep_alive_s = 5;
    cfg
}

/// Waits until the client has `n` SubAcks (its subscriptions are active at the broker).
pub fn wait_subscribed(client: &MqttClient, n: u64) {
    let ok = wait_until(Duration::from_secs(10), || client.stats().subacks >= n);
    assert!(ok, "not subscribed in time: {:?}", client.stats());
}
