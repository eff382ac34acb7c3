//! The client against an OPC UA server the project did not write (FreeOpcUa's asyncua, Basic256Sha256
//! SignAndEncrypt, user names only): the trust list, credentials, subscriptions with source timestamps and
//! status codes, writes refused by their per-node status, and a server restarted under a live subscription.

use std::path::Path;
use std::time::{Duration, Instant};

use twin_opcua::testkit::Asyncua;
use twin_opcua::{DataChange, DataType, Identity, ItemSpec, OpcUaClient, OpcUaConfig, OpcUaError};

fn config(url: &str, pki: &Path, user: (&str, &str), items: &[&str]) -> OpcUaConfig {
    let mut c = OpcUaConfig::new(url, pki);
    c.identity = Identity::UserName { user: user.0.into(), password: user.1.into() };
    c.timeout = Duration::from_secs(10);
    c.items = items
        .iter()
        .map(|n| ItemSpec {
            node: n.to_string(),
            sampling_interval: Duration::from_millis(0),
            queue_size: 100,
            deadband: 0.0,
        })
        .collect();
    c
}

/// Connects once without trusting the server (refused, its certificate put in `rejected/`), then moves the
/// certificate to `trusted/` as the error says, as an administrator would.
fn trust(url: &str, pki: &Path) {
    let err = OpcUaClient::start(config(url, pki, ("operator", "secret"), &[])).err().expect("untrusted server");
    let OpcUaError::Untrusted(msg) = &err else { panic!("{err}") };
    assert!(msg.contains("is not trusted") && msg.contains("rejected"), "{msg}");
    let rejected: Vec<_> = std::fs::read_dir(pki.join("rejected")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    std::fs::create_dir_all(pki.join("trusted")).unwrap();
    std::fs::rename(&rejected[0], pki.join("trusted").join(rejected[0].file_name().unwrap())).unwrap();
}

fn collect(c: &OpcUaClient, until: impl Fn(&[DataChange]) -> bool, timeout: Duration) -> Vec<DataChange> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while Instant::now() < deadline && !until(&got) {
        if let Ok(v) = c.receiver().recv_timeout(Duration::from_millis(50)) {
            got.push(v);
        }
    }
    got
}

#[test]
fn an_untrusted_server_and_wrong_credentials_are_clear_errors_and_a_trusted_one_serves_values_with_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let server = Asyncua::start(&dir.path().join("server"), &["--sequence", "P101.Flow:20"]);
    let url = server.url();
    trust(&url, &pki);
    assert!(pki.join("own/cert.der").exists(), "the client's certificate is made on first use");

    let err = OpcUaClient::start(config(&url, &pki, ("operator", "wrong"), &[])).err().expect("wrong password");
    assert!(matches!(err, OpcUaError::AccessDenied(_)), "{err}");
    assert!(err.to_string().contains("refused the user's identity"), "{err}");

    let client = OpcUaClient::start(config(&url, &pki, ("operator", "secret"), &["ns=2;s=P101.Flow"])).unwrap();
    let got = collect(&client, |g| g.iter().any(|c| twin_opcua::is_uncertain(c.status)), Duration::from_secs(20));
    let sent = server.values();
    assert_eq!(sent.len(), 22, "{sent:?}");
    // Every value the server set arrives, with its source time (not the server's, not ours) and its status.
    // The node's initial value comes first (its first notification), then every value the server set.
    assert_eq!(got[0].value, Some(0.0), "{got:?}");
    let arrived = &got[1..];
    assert_eq!(arrived.len(), sent.len(), "{got:?}");
    for (c, (_, value, ts, status)) in arrived.iter().zip(&sent) {
        assert_eq!(c.item, 0);
        // A Bad value's value is null on the wire (asyncua drops it, as Part 4 7.7.1 says).
        let expected = if status.starts_with("Bad") { None } else { Some(*value) };
        assert_eq!(c.value, expected);
        assert!((c.source_unix_s.unwrap() - ts).abs() < 1e-5, "{c:?} vs {ts}");
        assert!(c.server_unix_s.unwrap() - c.source_unix_s.unwrap() > 0.2, "the source time is 0.25 s early");
        assert_eq!(twin_opcua::status_name(c.status), status.as_str());
    }
    assert_eq!(twin_opcua::status_name(arrived[20].status), "BadSensorFailure");
    assert!(twin_opcua::is_bad(arrived[20].status));
    assert_eq!(client.stats().dropped_channel_full, 0);

    let err = OpcUaClient::start(config(&url, &pki, ("operator", "secret"), &["ns=2;s=P101.Nothing"]))
        .err()
        .expect("unknown node");
    assert_eq!(err.status(), Some("BadNodeIdUnknown"), "{err}");
    assert!(err.to_string().contains("ns=2;s=P101.Nothing"), "{err}");
}

#[test]
fn writes_are_read_back_and_a_read_only_node_refuses_with_bad_not_writable() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let server = Asyncua::start(
        &dir.path().join("server"),
        &["--node", "P101.Speed=1460", "--readonly", "P102.Speed=1480", "--userreadonly", "P103.Speed=1490"],
    );
    trust(&server.url(), &pki);
    let client = OpcUaClient::start(config(&server.url(), &pki, ("operator", "secret"), &[])).unwrap();
    assert_eq!(client.read("ns=2;s=P101.Speed").unwrap(), 1460.0);
    client.write("ns=2;s=P101.Speed", DataType::Double, 1420.0).unwrap();
    assert_eq!(client.read("ns=2;s=P101.Speed").unwrap(), 1420.0);
    let err = client.write("ns=2;s=P102.Speed", DataType::Double, 1400.0).unwrap_err();
    assert_eq!(err.status(), Some("BadNotWritable"), "{err}");
    assert_eq!(err.to_string(), "write ns=2;s=P102.Speed: refused with BadNotWritable");
    assert_eq!(client.read("ns=2;s=P102.Speed").unwrap(), 1480.0, "nothing changed");
    let err = client.write("ns=2;s=P103.Speed", DataType::Double, 1400.0).unwrap_err();
    assert_eq!(err.status(), Some("BadUserAccessDenied"), "writable, but not by this user: {err}");
    let err = client.write("ns=2;s=P101.Speed", DataType::Int16, 1420.0).unwrap_err();
    assert_eq!(err.status(), Some("BadTypeMismatch"), "an Int16 into a Double: {err}");
    let err = client.read("ns=2;s=P109.Speed").unwrap_err();
    assert_eq!(err.status(), Some("BadNodeIdUnknown"), "{err}");
    assert!(
        client.write("not a node", DataType::Double, 1.0).unwrap_err().to_string().contains("not an OPC UA node id")
    );
}

#[test]
fn a_server_restarted_mid_stream_is_reconnected_and_the_subscription_resumes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let mut server = Asyncua::start(&dir.path().join("server"), &["--counter", "P101.Count:50"]);
    trust(&server.url(), &pki);
    let client =
        OpcUaClient::start(config(&server.url(), &pki, ("operator", "secret"), &["ns=2;s=P101.Count"])).unwrap();
    let before = collect(&client, |g| g.len() >= 10, Duration::from_secs(10));
    assert!(before.len() >= 10, "{before:?}");
    server.restart(&["--counter", "P101.Count:50", "--start", "1000"]);
    let after = collect(&client, |g| g.iter().any(|c| c.value.is_some_and(|v| v >= 1010.0)), Duration::from_secs(60));
    assert!(after.iter().any(|c| c.value.is_some_and(|v| v >= 1010.0)), "no values after the restart: {after:?}");
    let s = client.stats();
    assert!(s.connection_losses >= 1 && s.reconnects >= 1, "{s:?}");
    assert!(client.connected());
}
