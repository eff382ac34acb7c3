//! Helpers that start FreeOpcUa's asyncua server (tests/peers/opcua_server.py, in the project's test venv) for
//! tests and benchmarks, this crate's and the twin's. Not for the product.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test venv's interpreter (scripts/test.sh makes it).
pub fn python() -> PathBuf {
    root().join("target/peers-venv/bin/python")
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// An asyncua server owned by a test; killed on drop.
pub struct Asyncua {
    pub port: u16,
    pub dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Asyncua {
    /// Starts the server on a free port with `args` (see the script's usage), its certificate and value log in
    /// `dir`, and waits until it says it serves.
    pub fn start(dir: &Path, args: &[&str]) -> Asyncua {
        let mut s = Asyncua {
            port: free_port(),
            dir: dir.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        s.launch();
        s
    }

    /// `opc.tcp://127.0.0.1:PORT/twin/`.
    pub fn url(&self) -> String {
        format!("opc.tcp://127.0.0.1:{}/twin/", self.port)
    }

    fn launch(&mut self) {
        let script = root().join("tests/peers/opcua_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test venv's python with asyncua (scripts/test.sh makes target/peers-venv)");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.trim() == "ready" => break,
                Ok(_) => {}
                Err(_) => panic!("the asyncua server on port {} did not start", self.port),
            }
        }
        self.child = Some(child);
    }

    /// Kills the server (no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same certificate, `args` replacing the first ones.
    pub fn restart(&mut self, args: &[&str]) {
        self.kill();
        self.args = args.iter().map(|a| a.to_string()).collect();
        self.launch();
    }

    /// Every value the server set, in order: (node, value, source time in Unix s, status name).
    pub fn values(&self) -> Vec<(String, f64, f64, String)> {
        let text = std::fs::read_to_string(self.dir.join("values.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                Some((
                    v["node"].as_str()?.to_string(),
                    v["value"].as_f64()?,
                    v["ts"].as_f64()?,
                    v["status"].as_str()?.to_string(),
                ))
            })
            .collect()
    }
}

impl Drop for Asyncua {
    fn drop(&mut self) {
        self.kill();
    }
}
