//! Network input that must not panic or hang anything: malformed frames sent to the server (including those
//! that make tokio-modbus 0.17's decoder panic), raw requests checked byte for byte, and a fake PLC whose
//! replies do not answer the client's requests.

use std::io::{ErrorKind, Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use twin_modbus::{Behaviour, Op, PlcClient, PlcError};

use crate::support::{DEADLINE, client, modbus_thread_panics, next_write, server};

/// A Modbus TCP frame: transaction id, protocol 0, length, unit id, PDU.
fn frame(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut f = transaction.to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
    f.push(unit);
    f.extend_from_slice(pdu);
    f
}

fn raw_connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

/// Reads one reply frame (fails the test after the deadline).
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut header = [0u8; 7];
    s.read_exact(&mut header).expect("a reply header");
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut rest = vec![0u8; len.saturating_sub(1)];
    s.read_exact(&mut rest).expect("the reply body");
    [header.to_vec(), rest].concat()
}

#[test]
fn the_server_answers_raw_requests_byte_for_byte_and_echoes_any_unit_id() {
    let srv = server(Behaviour::Normal);
    srv.registers().set(10, 0x1234);
    let mut s = raw_connect(srv.local_addr());
    // Read holding registers 10..=11, unit 17.
    s.write_all(&frame(0xABCD, 17, &[0x03, 0x00, 0x0A, 0x00, 0x02])).unwrap();
    assert_eq!(read_frame(&mut s), frame(0xABCD, 17, &[0x03, 0x04, 0x12, 0x34, 0x00, 0x00]));
    // Write single register 5 = 0xBEEF, unit 0.
    s.write_all(&frame(1, 0, &[0x06, 0x00, 0x05, 0xBE, 0xEF])).unwrap();
    assert_eq!(read_frame(&mut s), frame(1, 0, &[0x06, 0x00, 0x05, 0xBE, 0xEF]));
    assert_eq!(srv.registers().get(5), 0xBEEF);
    assert_eq!(next_write(&srv), twin_modbus::Write { address: 5, words: vec![0xBEEF] });
    // Read input registers and an unknown function: exception 1 (illegal function).
    s.write_all(&frame(2, 1, &[0x04, 0x00, 0x00, 0x00, 0x01])).unwrap();
    assert_eq!(read_frame(&mut s), frame(2, 1, &[0x84, 0x01]));
    s.write_all(&frame(3, 1, &[0x41, 0x01, 0x02])).unwrap();
    assert_eq!(read_frame(&mut s), frame(3, 1, &[0xC1, 0x01]));
    // 126 registers: exception 3 (illegal data value); past 65535: exception 2 (illegal data address).
    s.write_all(&frame(4, 1, &[0x03, 0x00, 0x00, 0x00, 126])).unwrap();
    assert_eq!(read_frame(&mut s), frame(4, 1, &[0x83, 0x03]));
    s.write_all(&frame(5, 1, &[0x10, 0xFF, 0xFF, 0x00, 0x02, 0x04, 0, 1, 0, 2])).unwrap();
    assert_eq!(read_frame(&mut s), frame(5, 1, &[0x90, 0x02]));
    // Two requests in one segment are both answered, in order.
    let two = [frame(6, 1, &[0x03, 0x00, 0x05, 0x00, 0x01]), frame(7, 1, &[0x03, 0x00, 0x0A, 0x00, 0x01])].concat();
    s.write_all(&two).unwrap();
    assert_eq!(read_frame(&mut s), frame(6, 1, &[0x03, 0x02, 0xBE, 0xEF]));
    assert_eq!(read_frame(&mut s), frame(7, 1, &[0x03, 0x02, 0x12, 0x34]));
}

#[test]
fn malformed_frames_close_only_their_connection_and_the_server_keeps_serving() {
    let panics_before = modbus_thread_panics();
    let srv = server(Behaviour::Normal);
    let plc = client(&srv, Duration::from_secs(5));
    let bad_frames = [
        // Write multiple coils: 16 coils in 1 data byte (tokio-modbus 0.17 indexes out of bounds).
        frame(1, 1, &[0x0F, 0x00, 0x00, 0x00, 0x10, 0x01, 0xFF]),
        // Write multiple registers: quantity 0x8001 (tokio-modbus 0.17 overflows quantity * 2).
        frame(1, 1, &[0x10, 0x00, 0x00, 0x80, 0x01, 0x02, 0x00, 0x00]),
        // Read/write multiple registers with a write quantity of 0xFFFF (same overflow).
        frame(1, 1, &[0x17, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x02, 0x00, 0x00]),
        // Byte count that does not match the quantity.
        frame(1, 1, &[0x10, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00]),
        // Protocol id 5, then a length of 0, then a length of 300.
        vec![0, 1, 0, 5, 0, 6, 1, 3, 0, 0, 0, 1],
        vec![0, 1, 0, 0, 0, 0, 1],
        [vec![0, 1, 0, 0, 0x01, 0x2C, 1], vec![0x10; 299]].concat(),
        // Truncated PDUs.
        frame(1, 1, &[0x03, 0x00]),
        frame(1, 1, &[0x10]),
    ];
    for bad in bad_frames {
        let mut s = raw_connect(srv.local_addr());
        s.write_all(&bad).unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("{bad:02X?}: expected the server to close the connection, got {other:?}"),
        }
        assert_eq!(plc.read_holding(0, 1).unwrap(), [0], "the server still serves after {bad:02X?}");
    }
    assert!(srv.writes().try_recv().is_err());
    assert_eq!(modbus_thread_panics(), panics_before, "malformed frames must not panic the server");
}

/// What the fake PLC sends for a request frame.
type Reply = Box<dyn Fn(&[u8]) -> Vec<u8> + Send>;

/// A fake Modbus TCP server on loopback that answers the n-th request it receives (on whichever connection)
/// with `replies[n]`, then closes everything.
fn fake_plc(replies: Vec<Reply>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut replies = replies.into_iter();
        'accept: while let Ok((mut s, _)) = listener.accept() {
            loop {
                let mut header = [0u8; 7];
                if s.read_exact(&mut header).is_err() {
                    continue 'accept;
                }
                let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
                let mut rest = vec![0u8; len.saturating_sub(1)];
                if s.read_exact(&mut rest).is_err() {
                    continue 'accept;
                }
                let Some(reply) = replies.next() else {
                    return;
                };
                let _ = s.write_all(&reply(&[header.to_vec(), rest].concat()));
            }
        }
    });
    addr
}

/// The request's transaction id.
fn tid(req: &[u8]) -> u16 {
    u16::from_be_bytes([req[0], req[1]])
}

#[test]
fn replies_that_do_not_answer_the_request_are_protocol_errors_not_panics() {
    let replies: Vec<Reply> = vec![
        // Asked for 2 registers, one comes back.
        Box::new(|req| frame(tid(req), req[6], &[0x03, 0x02, 0x00, 0x07])),
        // The reply to another transaction (the client drops the connection and reconnects).
        Box::new(|req| frame(tid(req).wrapping_add(1), req[6], &[0x03, 0x02, 0x00, 0x07])),
        // A write-single reply to a read.
        Box::new(|req| frame(tid(req), req[6], &[0x06, 0x00, 0x00, 0x00, 0x07])),
        // A write confirmed for another address and count.
        Box::new(|req| frame(tid(req), req[6], &[0x10, 0x00, 0x09, 0x00, 0x01])),
        // An odd byte count.
        Box::new(|req| frame(tid(req), req[6], &[0x03, 0x03, 0x00, 0x07, 0x00])),
        // Not Modbus at all: the client gives up on the connection.
        Box::new(|_| b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
    ];
    let panics_before = modbus_thread_panics();
    let addr = fake_plc(replies);
    let plc = PlcClient::connect(addr, 1, Duration::from_secs(5)).unwrap();
    let protocol = |r: Result<Vec<u16>, PlcError>| match r {
        Err(e @ PlcError::Protocol { .. }) => e.to_string(),
        other => panic!("expected a protocol error, got {other:?}"),
    };
    let msg = protocol(plc.read_holding(40, 2));
    assert!(msg.contains("asked for 2 registers, got 1") && msg.contains("address 40"), "{msg}");
    protocol(plc.read_holding(40, 1));
    protocol(plc.read_holding(40, 1));
    let err = plc.write_registers(8, &[1, 2]).unwrap_err();
    assert!(matches!(err, PlcError::Protocol { op: Op::Write, address: 8, .. }), "{err:?}");
    let err = plc.read_holding(40, 1).unwrap_err();
    assert!(matches!(err, PlcError::Io { .. } | PlcError::Protocol { .. }), "{err:?}");
    let err = plc.read_holding(40, 1).unwrap_err();
    assert!(matches!(err, PlcError::Io { .. } | PlcError::Closed { .. }), "{err:?}");
    assert_eq!(modbus_thread_panics(), panics_before, "nonsense replies must not panic the client");
}

#[test]
fn calls_queued_behind_the_one_that_finds_the_connection_closed_are_answered_closed() {
    // A PLC that takes the first request, waits while the other callers queue up behind it, and hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let plc_thread = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut header = [0u8; 7];
        s.read_exact(&mut header).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(s);
    });
    let plc = PlcClient::connect(addr, 1, Duration::from_secs(10)).unwrap();
    let results: Vec<Result<Vec<u16>, PlcError>> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..6).map(|_| scope.spawn(|| plc.read_holding(0, 1))).collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    plc_thread.join().unwrap();
    // One call meets the hang-up; a waiting one must not sit out its whole timeout on a connection that is gone.
    for r in &results {
        assert!(matches!(r, Err(PlcError::Io { .. } | PlcError::Closed { .. })), "{results:?}");
    }
    assert_eq!(results.iter().filter(|r| matches!(r, Err(PlcError::Io { .. }))).count(), 1, "{results:?}");
    assert!(plc.is_closed());
    assert!(matches!(plc.read_holding(0, 1), Err(PlcError::Closed { .. })));
}
