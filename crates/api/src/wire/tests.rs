use super::*;

fn record(i: u64) -> FlowRecord {
    FlowRecord {
        source: format!("ns{}/w{}", i % 3, i % 7),
        destination: if i.is_multiple_of(5) {
            "203.0.113.9".into()
        } else {
            "x/b".into()
        },
        protocol: if i.is_multiple_of(2) {
            IpProtocol::TCP
        } else {
            IpProtocol(250)
        },
        port: (i * 977 % 65536) as u16,
        verdict: Verdict::ALL[(i % 3) as usize],
        rule: (!i.is_multiple_of(3)).then(|| format!("x/p ingress[{i}] (deny)")),
        packets: i * 3,
        bytes: u64::MAX - i,
        connections: 1 + i,
        // Times going back and forth: deltas are signed.
        first_seen: Timestamp(1_700_000_000_000 + (i as i64 % 4) * 7_000 - 3_000),
        last_seen: Timestamp(1_700_000_000_000 + (i as i64 % 4) * 7_000 + i as i64),
        node: None,
    }
}

fn batch() -> FlowBatch {
    FlowBatch {
        instance: Some("agent-1 ünïcode".into()),
        sequence: Some(u64::MAX),
        records: (0..40).map(record).collect(),
        dropped_records: 7,
        lost_events: 1 << 40,
    }
}

#[test]
fn a_batch_round_trips_and_each_name_is_sent_once() {
    let b = batch();
    let body = encode(&b);
    let view = decode(&body).unwrap();
    assert_eq!(view.to_batch(), b);
    let mut names = view.strings.clone();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), view.strings.len(), "interned once each");
    assert!(body.len() < serde_json::to_vec(&b).unwrap().len() / 4);
    let empty = FlowBatch::default();
    assert_eq!(decode(&encode(&empty)).unwrap().to_batch(), empty);
}

#[test]
fn every_truncation_is_an_error_naming_a_field_never_a_panic() {
    let body = encode(&batch());
    for len in 0..body.len() {
        let e = decode(&body[..len]).unwrap_err();
        assert!(e.at <= len, "{e}");
        assert!(!e.field.is_empty(), "{e}");
    }
    let mut longer = body.clone();
    longer.push(0);
    let e = decode(&longer).unwrap_err();
    assert_eq!(
        (e.at, e.message.as_str()),
        (body.len(), "1 bytes after the last record")
    );
}

fn one_record(verdict: u8, source: u64, port: u64) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(0);
    for v in [0, 0, 1] {
        put(&mut out, v);
    }
    put_str(&mut out, "x/a");
    put(&mut out, 1);
    for v in [source, 0, 0] {
        put(&mut out, v);
    }
    out.extend([6, verdict]);
    for v in [port, 1, 60, 1, 0, 0] {
        put(&mut out, v);
    }
    out
}

#[test]
fn bad_fields_are_named_with_their_offset() {
    assert!(decode(&one_record(1, 0, 80)).is_ok());
    let e = decode(&one_record(3, 0, 80)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "byte 17: records[0].verdict: unknown verdict code 3"
    );
    let e = decode(&one_record(0, 1, 80)).unwrap_err();
    assert_eq!(e.to_string(), "byte 13: records[0].source: string 1 of 1");
    let e = decode(&one_record(0, 0, 70_000)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "byte 18: records[0].port: 70000 is above 65535"
    );
    let e = decode(b"{\"records\":[]}").unwrap_err();
    assert_eq!(e.field, "magic");
    // A huge claimed count is refused before anything is allocated for it.
    let mut body = MAGIC.to_vec();
    body.extend([0, 0, 0]);
    put(&mut body, u64::MAX >> 1);
    let e = decode(&body).unwrap_err();
    assert_eq!(e.field, "strings");
    let mut utf = MAGIC.to_vec();
    utf.extend([HAS_INSTANCE, 2, 0xc3, 0x28]);
    assert_eq!(decode(&utf).unwrap_err().field, "instance");
}
