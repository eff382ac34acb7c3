//! Test kit (feature `testkit`): a real mosquitto process on a free 127.0.0.1 port, owned by a test or a bench
//! (killed on drop, stoppable and restartable with its persistence), `mosquitto_pub` publishing, and waiting
//! with deadlines. Shared by this crate's tests, the twin's tests and the benchmarks; never used by the product.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP port free on 127.0.0.1 right now.
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

/// A `mosquitto_sub -v` (line-buffered through coreutils' `stdbuf`) on a topic filter, subscribed before [`MosquittoSub::start`] returns (it waits for the
/// broker's SUBACK in the client's debug output); killed on drop.
pub struct MosquittoSub {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl MosquittoSub {
    /// Subscribes to `filter` at QoS 1 on the broker at 127.0.0.1:`port`.
    pub fn start(port: u16, filter: &str) -> Self {
        use std::io::BufRead;
        // stdbuf: mosquitto_sub's standard output is block-buffered into a pipe; line by line here.
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", filter, "-q", "1"])
            .args(["-v", "-d"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub must be installed (Debian: mosquitto-clients)");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) if l.contains("SUBACK") => break,
                Ok(_) => {}
                Err(_) => panic!("mosquitto_sub did not subscribe to {filter} within 10 s"),
            }
        }
        Self { child, lines }
    }

    /// The next `n` messages as (topic, payload), waiting at most `timeout` in all (fewer if it passes). The
    /// client's debug lines are skipped; a payload holds no line break.
    pub fn messages(&self, n: usize, timeout: Duration) -> Vec<(String, String)> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(l) = self.lines.recv_timeout(left) else { break };
            if l.starts_with("Client ") || l.starts_with("Subscribed ") {
                continue;
            }
            if let Some((topic, payload)) = l.split_once(' ') {
                out.push((topic.to_owned(), payload.to_owned()));
            }
        }
        out
    }
}

impl Drop for MosquittoSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// `mosquitto_pub -f FILE` once (binary payloads).
pub fn mosquitto_pub_file(port: u16, topic: &str, file: &std::path::Path, qos: u8) {
    let st = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic, "-q", &qos.to_string(), "-f"])
        .arg(file)
        .status()
        .expect("mosquitto_pub must be installed (Debian: mosquitto-clients)");
    assert!(st.success(), "mosquitto_pub failed: {st}");
}

/// A QoS 1 publisher in its own thread, like a plant's edge gateway with a persistent session: rumqttc with
/// `clean_session = false` and `client_id`, one task polling the event loop (never awaiting a publish) and one
/// publishing `payloads` in order to `topic`, pausing `pause` after every `pause_every` messages. It
/// retransmits what the broker had not acknowledged when the connection drops, and stops once every message
/// was acknowledged (see [`StreamPublisher::pubacks`]) or [`StreamPublisher::stop`] is called.
pub struct StreamPublisher {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pubacks: std::sync::Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StreamPublisher {
    pub fn start(
        port: u16,
        client_id: &str,
        topic: &str,
        payloads: Vec<Vec<u8>>,
        pause_every: usize,
        pause: Duration,
    ) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let pubacks = Arc::new(AtomicU64::new(0));
        let (id, topic) = (client_id.to_string(), topic.to_string());
        let thread = {
            let (stop, pubacks) = (stop.clone(), pubacks.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    let mut opts = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
                    opts.set_clean_session(false).set_keep_alive(Duration::from_secs(5)).set_inflight(100);
                    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 1000);
                    let n = payloads.len() as u64;
                    let poller = {
                        let (stop, pubacks) = (stop.clone(), pubacks.clone());
                        tokio::spawn(async move {
                            while !stop.load(Ordering::Relaxed) && pubacks.load(Ordering::Relaxed) < n {
                                match tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await {
                                    Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) => {
                                        pubacks.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Ok(Ok(_)) | Err(_) => {}
                                    Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                                }
                            }
                        })
                    };
                    for (i, p) in payloads.into_iter().enumerate() {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if client.publish(topic.as_str(), rumqttc::QoS::AtLeastOnce, false, p).await.is_err() {
                            break;
                        }
                        if pause_every > 0 && i % pause_every == pause_every - 1 {
                            tokio::time::sleep(pause).await;
                        }
                    }
                    let _ = poller.await;
                });
            })
        };
        StreamPublisher { stop, pubacks, thread: Some(thread) }
    }

    /// PUBACKs received so far (each message once, unless the broker lost its state).
    pub fn pubacks(&self) -> u64 {
        self.pubacks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops publishing and joins the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StreamPublisher {
    fn drop(&mut self) {
        self.halt();
    }
}

// Certificates for TLS tests, made with the openssl command.

/// Runs `openssl ARGS` in `dir`; panics with its error output when it fails.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes `{name}.crt`/`{name}.key` (a CA) in `dir`.
pub fn make_ca(dir: &std::path::Path, name: &str) {
    std::fs::write(dir.join("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        .unwrap();
    let (key, crt, cn) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN={name}"));
    openssl(
        dir,
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &crt, "-days", "2"]
            .into_iter()
            .chain(["-subj", &cn, "-extensions", "v3_ca", "-addext", "basicConstraints=critical,CA:TRUE"])
            .collect::<Vec<_>>(),
    );
}

/// Makes `server.crt`/`server.key` for 127.0.0.1, signed by the CA `ca` (made by [`make_ca`]) in `dir`.
pub fn make_server_cert(dir: &std::path::Path) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// Makes `{name}.crt`/`{name}.key`, a client certificate with common name `name` signed by the CA `ca`.
pub fn make_client_cert(dir: &std::path::Path, name: &str, ca: &str) {
    let (key, csr, crt, cn) =
        (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("/CN={name}"));
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &cn]);
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &["x509", "-req", "-in", &csr, "-CA", &ca_crt, "-CAkey", &ca_key, "-CAcreateserial", "-out", &crt]
            .into_iter()
            .chain(["-days", "2", "-extfile", "client.ext"])
            .collect::<Vec<_>>(),
    );
}
