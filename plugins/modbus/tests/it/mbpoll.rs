//! A real, independent Modbus TCP client against the virtual PLC: Debian's `mbpoll` reads what the plant
//! published in the `RegisterBank` and writes registers that the server stores and reports. mbpoll is a test
//! requirement (scripts/test.sh installs it); without it these tests fail, they do not skip.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use twin_modbus::{Behaviour, Encoding, PlcServer, RegisterSpec, Write};

use crate::support::{DEADLINE, next_write, server};

/// mbpoll on PATH, or a failure that says how to get it.
fn mbpoll() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("mbpoll")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "mbpoll (a Modbus TCP client) is not on PATH; run scripts/test.sh, which installs it \
             (Debian: apt-get install mbpoll)"
        )
    })
}

/// Runs mbpoll once against `server` (Modbus TCP, unit 1, holding registers, 0-based references with `-0`)
/// with `args`, and returns its stdout; fails the test if it fails or runs past the deadline.
fn run_mbpoll(server: &PlcServer, args: &[&str]) -> String {
    let port = server.local_addr().port().to_string();
    let mut cmd = Command::new(mbpoll());
    cmd.args(["-m", "tcp", "-a", "1", "-p", &port, "-o", "2", "-1"]).args(args);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start mbpoll");
    let start = Instant::now();
    while child.try_wait().expect("wait for mbpoll").is_none() {
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mbpoll {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("mbpoll output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mbpoll {args:?} failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout
}

/// The `[reference]: value` lines of mbpoll's output, as (reference, first token of the value).
fn values(stdout: &str) -> Vec<(u32, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (reference, value) = line.trim().strip_prefix('[')?.split_once("]:")?;
            Some((reference.parse().ok()?, value.split_whitespace().next()?.to_string()))
        })
        .collect()
}

fn pairs(list: &[(u32, &str)]) -> Vec<(u32, String)> {
    list.iter().map(|(r, v)| (*r, v.to_string())).collect()
}

#[test]
fn mbpoll_reads_the_registers_the_plant_published() {
    let srv = server(Behaviour::Normal);
    let bank = srv.registers();
    bank.set(10, 1234);
    bank.set(11, 0xFFFF);
    bank.set(12, 7);
    // 0-based references (-0): reference 10 is protocol address 10.
    let out = run_mbpoll(&srv, &["-t", "4", "-0", "-r", "10", "-c", "3", "127.0.0.1"]);
    assert_eq!(values(&out), pairs(&[(10, "1234"), (11, "65535"), (12, "7")]), "{out}");
    // mbpoll's default 1-based references: reference 11 is protocol address 10.
    let out = run_mbpoll(&srv, &["-t", "4", "-r", "11", "-c", "1", "127.0.0.1"]);
    assert_eq!(values(&out), pairs(&[(11, "1234")]), "{out}");
    assert!(srv.writes().try_recv().is_err(), "reads are not writes");
}

#[test]
fn mbpoll_reads_f32_values_in_high_word_first_order() {
    let srv = server(Behaviour::Normal);
    srv.registers().set_value(&RegisterSpec::new(30, Encoding::F32), 1350.0).unwrap();
    srv.registers().set_value(&RegisterSpec::new(32, Encoding::F32), -2.5).unwrap();
    // -B: big-endian word order, the codec's WordOrder::HighFirst.
    let out = run_mbpoll(&srv, &["-t", "4:float", "-B", "-0", "-r", "30", "-c", "2", "127.0.0.1"]);
    assert_eq!(values(&out), pairs(&[(30, "1350"), (32, "-2.5")]), "{out}");
}

#[test]
fn mbpoll_writes_reach_the_register_bank_and_the_writes_channel() {
    let srv = server(Behaviour::Normal);
    let bank = srv.registers();
    // One value: function code 6 (write single register).
    let out = run_mbpoll(&srv, &["-t", "4", "-0", "-r", "20", "127.0.0.1", "4321"]);
    assert!(out.contains("Written 1 references"), "{out}");
    assert_eq!(bank.get(20), 4321);
    assert_eq!(next_write(&srv), Write { address: 20, words: vec![4321] });
    // Several values: function code 16 (write multiple registers).
    let out = run_mbpoll(&srv, &["-t", "4", "-0", "-r", "40", "127.0.0.1", "1", "2", "3"]);
    assert!(out.contains("Written 3 references"), "{out}");
    assert_eq!(bank.read(40, 3).unwrap(), [1, 2, 3]);
    assert_eq!(next_write(&srv), Write { address: 40, words: vec![1, 2, 3] });
    // What mbpoll wrote, the twin's own client reads back.
    let plc = twin_modbus::PlcClient::connect(srv.local_addr(), 1, Duration::from_secs(5)).unwrap();
    assert_eq!(plc.read_holding(20, 1).unwrap(), [4321]);
}
