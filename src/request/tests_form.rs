use super::form::*;

const B: &str = "XyZ";

fn body(parts: &[(&str, &str)], file: &str) -> Vec<u8> {
    let mut s = String::new();
    for (k, v) in parts {
        s += &format!("--{B}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
    }
    s += &format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n{file}\r\n--{B}--\r\n");
    s.into_bytes()
}

#[test]
fn fields_are_read_up_to_the_file_in_any_split() {
    assert_eq!(
        boundary("multipart/form-data; boundary=\"XyZ\""),
        Some("XyZ")
    );
    assert_eq!(boundary("application/xml"), None);
    let b = body(&[("Key", "k/${filename}"), ("policy", "p")], "hello");
    for cut in 0..b.len() {
        match read_fields(&b[..cut], B).unwrap() {
            None => {}
            Some((f, start)) => {
                assert_eq!(f.get("key"), Some("k/${filename}"));
                assert_eq!(&b[start..start + 5], b"hello");
                assert_eq!(object_key(&f).unwrap(), "k/a.txt");
                assert_eq!(f.file_type.as_deref(), Some("text/plain"));
            }
        }
    }
    assert!(read_fields(&b, B).unwrap().is_some());
    assert!(read_fields(b"--other\r\n", B).is_err());
}

#[test]
fn policies_check_conditions_and_fields() {
    let json = br#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","up/"],["content-length-range",1,10]]}"#;
    let p = Policy::parse(json, 0).unwrap();
    let form = |key: &str, extra: Option<(&str, &str)>| Form {
        fields: [("key".to_string(), key.to_string())]
            .into_iter()
            .chain(extra.map(|(k, v)| (k.to_string(), v.to_string())))
            .collect(),
        ..Default::default()
    };
    assert_eq!(
        p.check(&form("up/a", None), "b", true).unwrap(),
        Some((1, 10))
    );
    assert!(p.check(&form("down/a", None), "b", true).is_err());
    assert!(p.check(&form("up/a", None), "other", true).is_err());
    assert!(p
        .check(&form("up/a", Some(("x-amz-meta-a", "1"))), "b", true)
        .is_err());
    assert!(p
        .check(&form("up/a", Some(("x-amz-meta-a", "1"))), "b", false)
        .is_ok());
    assert!(Policy::parse(json, 2_000_000_000).is_err(), "expired");
}

#[test]
fn a_token_parameter_with_utf8_in_its_name_does_not_panic() {
    let inb = crate::request::Inbound::new(
        "GET",
        "/b/k",
        "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}x=1",
        vec![],
    );
    let want = crate::sign::Secret::new("t");
    assert!(super::authorize::session_token(&inb, &want).is_err());
}
