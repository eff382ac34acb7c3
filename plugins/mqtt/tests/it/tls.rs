//! Test 7: TLS with rustls: a CA and a server certificate for 127.0.0.1 made with `openssl`, mosquitto with a
//! TLS listener, the client connects with `mqtts://127.0.0.1:PORT` and the CA file; a wrong CA is refused.

use std::time::Duration;

use twin_mqtt::{MqttClient, MqttConfig, Qos, TlsConfig};

use crate::common::*;

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

#[test]
fn mutual_tls_connects_with_a_client_certificate_and_a_missing_or_wrong_one_is_a_clear_error() {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    make_ca(dir, "ca");
    make_ca(dir, "other-ca");
    make_server_cert(dir);
    make_client_cert(dir, "twin", "ca");
    make_client_cert(dir, "stranger", "other-ca");
    let d = dir.display();
    // Mosquitto asks every client for a certificate signed by ca and takes its common name as the user name.
    let broker = Mosquitto::start(
        false,
        &format!(
            "listener {{PORT}} 127.0.0.1\ncafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n\
             require_certificate true\nuse_identity_as_username true\n"
        ),
    );
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let config = |id: &str, client: Option<&str>| {
        let mut cfg = MqttConfig::from_url(&url, id).unwrap();
        cfg.tls = Some(TlsConfig {
            ca_file: dir.join("ca.crt"),
            client_cert_file: client.map(|c| dir.join(format!("{c}.crt"))),
            client_key_file: client.map(|c| dir.join(format!("{c}.key"))),
        });
        cfg.clean_session = true;
        cfg.subscriptions = vec![("secure/#".into(), Qos::AtLeastOnce)];
        cfg
    };

    // The twin's certificate, signed by the CA the broker trusts: connected, subscribed, a message round-trips.
    let client = MqttClient::start(config("it-mtls", Some("twin"))).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client.stats().subacks >= 1), "{:?}", client.stats());
    client.publish("secure/x", b"mutual".to_vec(), Qos::AtLeastOnce, false).unwrap();
    let m = client.receiver().recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(m.payload, b"mutual");
    client.shutdown();

    // No certificate, and one signed by a CA the broker does not trust: never connected, and the error says the
    // broker refused the client's certificate.
    for (id, cert) in [("it-mtls-none", None), ("it-mtls-stranger", Some("stranger"))] {
        let c = MqttClient::start(config(id, cert)).unwrap();
        assert!(wait_until(Duration::from_secs(5), || c.stats().last_error.is_some()), "{id}");
        let s = c.stats();
        assert!(!s.connected && s.connects == 0, "{id}: {s:?}");
        let e = s.last_error.unwrap();
        assert!(e.contains("client certificate"), "{id}: {e}");
        c.shutdown();
    }

    // A certificate file that is not there, and a certificate without its key: refused at start, naming the file.
    let mut missing = config("it-mtls-missing", Some("twin"));
    missing.tls.as_mut().unwrap().client_cert_file = Some(dir.join("nope.crt"));
    let e = MqttClient::start(missing).err().expect("a missing client certificate fails at start").to_string();
    assert!(e.contains("cannot read client certificate") && e.contains("nope.crt"), "{e}");
    let mut half = config("it-mtls-half", Some("twin"));
    half.tls.as_mut().unwrap().client_key_file = None;
    let e = MqttClient::start(half).err().expect("a certificate without its key fails at start").to_string();
    assert!(e.contains("client_cert_file and client_key_file"), "{e}");
}
