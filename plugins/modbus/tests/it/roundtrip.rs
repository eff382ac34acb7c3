//! `PlcClient` ↔ `PlcServer` in normal operation: every encoding and word order goes through the wire, lands
//! in the `RegisterBank` as the codec's words, is reported on the writes channel, and reads back as written.

use std::time::Duration;

use twin_modbus::{Encoding, PlcError, RegisterSpec, WordOrder, Write};

use crate::support::{client, next_write, server};

const TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn every_encoding_and_word_order_round_trips_through_client_server_and_bank() {
    let srv = server(twin_modbus::Behaviour::Normal);
    let bank = srv.registers();
    let plc = client(&srv, TIMEOUT);
    let cases = [
        (RegisterSpec::new(0, Encoding::U16), 1234.0),
        (RegisterSpec::new(1, Encoding::U16).with_scale(10.0), 6553.5),
        (RegisterSpec::new(2, Encoding::I16), -32768.0),
        (RegisterSpec::new(3, Encoding::I16).with_scale(10.0), -21.5),
        (RegisterSpec::new(4, Encoding::U32), 305_419_896.0),
        (RegisterSpec::new(6, Encoding::U32).with_word_order(WordOrder::LowFirst), 4_294_967_295.0),
        (RegisterSpec::new(8, Encoding::F32), 1350.0),
        (RegisterSpec::new(10, Encoding::F32).with_word_order(WordOrder::LowFirst), -0.125),
        (RegisterSpec::new(12, Encoding::F32).with_scale(0.001), 1_350_000.0),
        (RegisterSpec::new(65534, Encoding::F32), 2.5),
    ];
    for (spec, value) in cases {
        let words = spec.encode(value).unwrap();
        plc.write_value(&spec, value).unwrap_or_else(|e| panic!("{spec:?} {value}: {e}"));
        assert_eq!(bank.read(spec.address, spec.word_count() as u16).unwrap(), words, "{spec:?}");
        assert_eq!(next_write(&srv), Write { address: spec.address, words: words.clone() }, "{spec:?}");
        assert_eq!(bank.value(&spec).unwrap(), value, "{spec:?}");
        assert_eq!(plc.read_value(&spec).unwrap(), value, "{spec:?}");
        assert_eq!(plc.read_holding(spec.address, spec.word_count() as u16).unwrap(), words, "{spec:?}");
    }
    assert_eq!(bank.read(8, 2).unwrap(), [0x44A8, 0xC000], "f32 1350.0, high word first");
    assert_eq!(bank.read(10, 2).unwrap(), [0x0000, 0xBE00], "f32 -0.125 = 0xBE000000, low word first");
    assert_eq!(srv.dropped_writes(), 0);
}

#[test]
fn values_the_plant_publishes_in_the_bank_are_what_the_client_reads() {
    let srv = server(twin_modbus::Behaviour::Normal);
    let bank = srv.registers();
    let plc = client(&srv, TIMEOUT);
    let level = RegisterSpec::new(100, Encoding::I16).with_scale(10.0);
    let flow = RegisterSpec::new(101, Encoding::F32).with_word_order(WordOrder::LowFirst);
    bank.set_value(&level, -3.7).unwrap();
    bank.set_value(&flow, 12.75).unwrap();
    assert_eq!(plc.read_value(&level).unwrap(), -3.7);
    assert_eq!(plc.read_value(&flow).unwrap(), 12.75);
    bank.set(200, 0xBEEF);
    assert_eq!(plc.read_holding(199, 3).unwrap(), [0, 0xBEEF, 0]);
    assert!(srv.writes().try_recv().is_err(), "the plant's own updates are not client writes");
}

#[test]
fn the_largest_modbus_reads_and_writes_pass_and_larger_ones_are_refused_locally() {
    let srv = server(twin_modbus::Behaviour::Normal);
    let plc = client(&srv, TIMEOUT);
    let words: Vec<u16> = (0..123).map(|i| i * 3 + 1).collect();
    plc.write_registers(1000, &words).unwrap();
    assert_eq!(next_write(&srv).words, words);
    let read = plc.read_holding(1000, 125).unwrap();
    assert_eq!(&read[..123], &words[..]);
    assert_eq!(&read[123..], [0, 0]);
    for err in [
        plc.read_holding(0, 0).unwrap_err(),
        plc.read_holding(0, 126).unwrap_err(),
        plc.write_registers(0, &[]).unwrap_err(),
        plc.write_registers(0, &[0; 124]).unwrap_err(),
    ] {
        assert!(matches!(err, PlcError::InvalidRequest(_)), "{err}");
    }
    let err = plc.write_value(&RegisterSpec::new(0, Encoding::U16), 70000.0).unwrap_err();
    assert!(matches!(err, PlcError::Codec(_)), "{err}");
    assert!(err.to_string().contains("U16"), "{err}");
    assert!(srv.writes().try_recv().is_err(), "refused requests never reach the server");
}

#[test]
fn the_client_shows_its_target_and_shares_one_connection_between_threads() {
    let srv = server(twin_modbus::Behaviour::Normal);
    let plc = client(&srv, TIMEOUT);
    assert_eq!(plc.peer(), srv.local_addr());
    assert_eq!(plc.unit_id(), 1);
    assert_eq!(plc.timeout(), TIMEOUT);
    std::thread::scope(|s| {
        for t in 0..4u16 {
            let plc = &plc;
            s.spawn(move || {
                for i in 0..25u16 {
                    plc.write_registers(t * 100 + i, &[t * 1000 + i]).unwrap();
                    assert_eq!(plc.read_holding(t * 100 + i, 1).unwrap(), [t * 1000 + i]);
                }
            });
        }
    });
    assert_eq!(srv.writes().try_iter().count(), 100);
    assert!(!plc.is_closed());
}
