//! Test 7: TLS with rustls: a CA and a server certificate for 127.0.0.1 made with `openssl`, mosquitto with a
//! TLS listener, the client connects with `mqtts://127.0.0.1:PORT` and the CA file; a wrong CA is refused.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use twin_mqtt::{MqttClient, MqttConfig, Qos, TlsConfig};

use crate::common::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes `{name}.crt`/`{name}.key` (a CA) in `dir`.
fn make_ca(dir: &Path, name: &str) {
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

fn make_server_cert(dir: &Path) {
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

#[test]
fn tls_connects_with_the_ca_file_and_refuses_a_wrong_ca() {
    let certs = tempfile::tempdir().unwrap();
    make_ca(certs.path(), "ca");
    make_ca(certs.path(), "other-ca");
    make_server_cert(certs.path());
    let d = certs.path().display();
    let broker = Mosquitto::start(
        false,
        &format!("listener {{PORT}} 127.0.0.1\ncafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n"),
    );

    let mut cfg = MqttConfig::from_url(&format!("mqtts://127.0.0.1:{}", broker.port), "it-tls").unwrap();
    cfg.tls = Some(TlsConfig { ca_file: certs.path().join("ca.crt"), client_cert_file: None, client_key_file: None });
    cfg.clean_session = true;
    cfg.subscriptions = vec![("secure/#".into(), Qos::AtLeastOnce)];
    let client = MqttClient::start(cfg.clone()).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client.stats().subacks >= 1), "{:?}", client.stats());
    client.publish("secure/x", b"over tls".to_vec(), Qos::AtLeastOnce, false).unwrap();
    let m = client.receiver().recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(m.payload, b"over tls");
    client.shutdown();

    let mut wrong = cfg;
    wrong.client_id = "it-tls-wrong".into();
    wrong.tls =
        Some(TlsConfig { ca_file: certs.path().join("other-ca.crt"), client_cert_file: None, client_key_file: None });
    let c = MqttClient::start(wrong).unwrap();
    assert!(wait_until(Duration::from_secs(3), || c.stats().last_error.is_some()));
    let s = c.stats();
    assert!(!s.connected && s.connects == 0, "{s:?}");
    c.shutdown();

    let mut missing = MqttConfig::from_url("mqtts://127.0.0.1:1", "x").unwrap();
    missing.tls =
        Some(TlsConfig { ca_file: certs.path().join("nope.crt"), client_cert_file: None, client_key_file: None });
    assert!(MqttClient::start(missing).is_err(), "unreadable CA file fails at start");
}
