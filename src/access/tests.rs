use super::*;

fn line<'a>(key: Option<&'a str>, bucket: &'a str) -> Line<'a> {
    Line {
        time: "2026-11-27T10:00:00.000Z",
        request_id: "R1",
        remote: Some("127.0.0.1:4000".parse().unwrap()),
        dialect: "obs",
        access_key: "AK1",
        method: "PUT",
        operation: "UploadPartCopy",
        bucket,
        key,
        key_len: 9,
        backend: "garage",
        status: 200,
        error_code: "-",
        failure: None,
        total_us: 1500,
        upstream_us: 1250,
        bytes_in: 0,
        bytes_out: 310,
        backend_request_id: "B7",
    }
}

#[test]
fn text_lines_are_logfmt_and_quote_what_is_not_plain() {
    let t = line(None, "b").text();
    assert!(
        t.starts_with("time=2026-11-27T10:00:00.000Z request_id=R1 "),
        "{t}"
    );
    assert!(t.contains(" operation=UploadPartCopy bucket=b key_len=9 backend=garage status=200 error_code=- total_ms=1.5 upstream_ms=1.25 bytes_in=0 bytes_out=310 backend_request_id=B7"), "{t}");
    assert!(!t.contains(" key="), "{t}");
    let t = line(Some("a b\"c\n"), "x=y").text();
    assert!(t.contains(r#"bucket="x=y""#), "{t}");
    assert!(t.contains(r#"key="a b\"c\n""#), "{t}");
    assert!(!t.contains('\n'), "{t}");
}

#[test]
fn times_addresses_and_milliseconds_read_as_their_formatters_write_them() {
    for t in [
        0u64,
        1_700_000_000_123,
        1_795_000_000_999,
        1_795_000_001_000,
        4_102_444_800_007,
    ] {
        let now = UNIX_EPOCH + Duration::from_millis(t);
        let mut buf = [0u8; 24];
        assert_eq!(
            timestamp(now, &mut buf),
            humantime::format_rfc3339_millis(now).to_string()
        );
    }
    for us in (0..3000).chain([12_345_678, 1_000_000, 999_999_999]) {
        let mut s = String::new();
        push_ms(&mut s, us);
        assert_eq!(s, (us as f64 / 1e3).to_string(), "{us}");
    }
    for a in [
        "127.0.0.1:4000",
        "10.20.30.255:65535",
        "[::1]:8080",
        "[fe80::1%2]:1",
    ] {
        let a: SocketAddr = a.parse().unwrap();
        let mut s = String::new();
        push_addr(&mut s, &a);
        assert_eq!(s, a.to_string());
    }
    let j = serde_json::to_value(Line {
        remote: None,
        ..line(None, "b")
    })
    .unwrap();
    assert_eq!(j["remote"], "-");
    assert_eq!(j["total_ms"], 1.5);
}

#[test]
fn json_lines_carry_the_key_only_when_asked() {
    let j = serde_json::to_value(line(None, "b")).unwrap();
    assert_eq!(j["key_len"], 9);
    assert!(j.get("key").is_none());
    let j = serde_json::to_value(line(Some("k"), "b")).unwrap();
    assert_eq!(j["key"], "k");
}

#[test]
fn resources_split_into_bucket_and_key() {
    assert_eq!(split_resource("/b/k/x"), ("b", "k/x"));
    assert_eq!(split_resource("/b"), ("b", ""));
    assert_eq!(split_resource("/"), ("", ""));
}

#[tokio::test]
async fn notes_reach_the_request_they_were_made_in() {
    let facts = Arc::new(Facts::default());
    within(facts.clone(), async {
        note_upstream(Duration::from_millis(3), Some("B1"));
        note_upstream(Duration::from_millis(2), None);
        note_error("NoSuchKey");
    })
    .await;
    note_error("outside"); // no request: nothing happens
    let n = facts.0.lock().unwrap();
    assert_eq!(n.upstream, Duration::from_millis(5));
    assert_eq!(n.backend_request_id.as_deref(), Some("B1"));
    assert_eq!(n.code.as_deref(), Some("NoSuchKey"));
}
