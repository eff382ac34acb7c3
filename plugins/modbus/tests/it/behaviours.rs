//! The misbehaving PLCs and the failures the twin must survive: writes that are acknowledged but ignored, a
//! PLC that never answers (timeouts), Modbus exceptions, and a connection the server closes.

use std::time::Duration;

use twin_modbus::{Behaviour, Encoding, Op, PlcClient, PlcError, RegisterSpec};

use crate::support::{DEADLINE, client, next_write, server};

const SHORT: Duration = Duration::from_millis(300);

#[test]
fn ignore_writes_acknowledges_but_the_read_back_shows_the_old_value() {
    let srv = server(Behaviour::IgnoreWrites);
    let bank = srv.registers();
    let spec = RegisterSpec::new(20, Encoding::I16).with_scale(10.0);
    bank.set_value(&spec, 11.1).unwrap();
    let plc = client(&srv, Duration::from_secs(5));
    plc.write_value(&spec, 22.2).expect("the write is acknowledged");
    assert_eq!(plc.read_value(&spec).unwrap(), 11.1, "read-back shows the old value");
    assert_eq!(bank.value(&spec).unwrap(), 11.1);
    assert!(srv.writes().try_recv().is_err(), "an ignored write is not reported");
    // The same connection, once the PLC takes writes again.
    srv.set_behaviour(Behaviour::Normal);
    plc.write_value(&spec, 22.2).unwrap();
    assert_eq!(plc.read_value(&spec).unwrap(), 22.2);
    assert_eq!(next_write(&srv).address, 20);
}

#[test]
fn never_answer_makes_reads_and_writes_fail_with_timeout_naming_operation_and_address() {
    let srv = server(Behaviour::NeverAnswer);
    let plc = client(&srv, SHORT);
    let err = plc.read_holding(1234, 2).unwrap_err();
    assert!(
        matches!(err, PlcError::Timeout { op: Op::Read, address: 1234, after, peer } if after == SHORT && peer == srv.local_addr()),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("read") && msg.contains("1234") && msg.contains("timed out"), "{msg}");

    let err = plc.write_registers(4321, &[1, 2]).unwrap_err();
    assert!(matches!(err, PlcError::Timeout { op: Op::Write, address: 4321, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("write") && msg.contains("4321") && msg.contains("timed out"), "{msg}");

    let err = plc.read_value(&RegisterSpec::new(7, Encoding::F32)).unwrap_err();
    assert!(matches!(err, PlcError::Timeout { op: Op::Read, address: 7, .. }), "{err:?}");
    assert!(srv.writes().try_recv().is_err());
    assert!(!plc.is_closed(), "a timeout does not end the client");
}

#[test]
fn after_a_timeout_the_next_request_reconnects_and_gets_its_own_answer() {
    let srv = server(Behaviour::NeverAnswer);
    srv.registers().set(5, 55);
    srv.registers().set(6, 66);
    let plc = client(&srv, SHORT);
    assert!(matches!(plc.read_holding(5, 1), Err(PlcError::Timeout { .. })));
    srv.set_behaviour(Behaviour::Normal);
    // A fresh connection: the answer is to this request, not a late one to the request that timed out.
    assert_eq!(plc.read_holding(6, 1).unwrap(), [66]);
    assert_eq!(plc.read_holding(5, 1).unwrap(), [55]);
}

#[test]
fn reading_or_writing_past_the_last_register_gives_illegal_data_address() {
    let srv = server(Behaviour::Normal);
    let plc = client(&srv, Duration::from_secs(5));
    let err = plc.read_holding(65535, 2).unwrap_err();
    assert!(
        matches!(&err, PlcError::Exception { op: Op::Read, address: 65535, code: 2, description, .. }
            if description == "illegal data address"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("65535") && msg.contains("exception 2") && msg.contains("illegal data address"), "{msg}");
    let err = plc.write_registers(65535, &[1, 2]).unwrap_err();
    assert!(matches!(err, PlcError::Exception { op: Op::Write, code: 2, .. }), "{err:?}");
    let err = plc.read_value(&RegisterSpec::new(65535, Encoding::U32)).unwrap_err();
    assert!(matches!(err, PlcError::Exception { code: 2, .. }), "{err:?}");
    // An exception leaves the connection usable.
    assert_eq!(plc.read_holding(65535, 1).unwrap(), [0]);
    assert!(srv.writes().try_recv().is_err());
}

#[test]
fn a_connection_the_server_closes_ends_the_client_and_later_calls_fail_at_once() {
    let mut srv = server(Behaviour::Normal);
    let addr = srv.local_addr();
    let plc = client(&srv, Duration::from_secs(5));
    assert_eq!(plc.read_holding(0, 1).unwrap(), [0]);
    srv.stop();
    let err = plc.read_holding(0, 1).unwrap_err();
    assert!(matches!(err, PlcError::Io { op: Op::Read, address: 0, .. }), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(plc.is_closed(), "the client knows at once");
    for _ in 0..3 {
        let err = plc.write_registers(1, &[1]).unwrap_err();
        assert!(matches!(err, PlcError::Closed { peer } if peer == addr), "{err:?}");
    }
    assert!(plc.is_closed());
}

#[test]
fn stop_frees_the_port_and_a_new_server_can_bind_it() {
    let mut srv = server(Behaviour::Normal);
    let addr = srv.local_addr();
    let plc = client(&srv, Duration::from_secs(5));
    srv.stop();
    srv.stop();
    let again = twin_modbus::PlcServer::start(addr, Behaviour::Normal).expect("the port is free again");
    assert_eq!(again.local_addr(), addr);
    drop(plc);
    let plc = PlcClient::connect(addr, 1, Duration::from_secs(5)).unwrap();
    again.registers().set(3, 33);
    assert_eq!(plc.read_holding(3, 1).unwrap(), [33]);
}

#[test]
fn dropping_a_client_whose_plc_never_answers_returns() {
    let srv = server(Behaviour::NeverAnswer);
    let plc = client(&srv, SHORT);
    assert!(plc.read_holding(0, 1).is_err());
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        drop(plc);
        let _ = done_tx.send(());
    });
    done_rx.recv_timeout(DEADLINE).expect("drop joined the client thread");
}

#[test]
fn connecting_to_a_port_nobody_listens_on_fails() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let err = PlcClient::connect(addr, 1, SHORT).unwrap_err();
    assert!(matches!(err, PlcError::Connect { .. } | PlcError::ConnectTimeout { .. }), "{err:?}");
}
