use super::*;

#[test]
fn sources_in_every_form() {
    let none: Vec<String> = vec![];
    let s = parse_source(Dialect::S3, "src/a%20b%2Bc?versionId=v1", &none).unwrap();
    assert_eq!(
        s,
        CopySource {
            bucket: "src".into(),
            key: "a b+c".into(),
            version_id: Some("v1".into())
        }
    );
    let s = parse_source(Dialect::Obs, "/src/d/%E6%B5%8B", &none).unwrap();
    assert_eq!((s.bucket.as_str(), s.key.as_str()), ("src", "d/测"));
    let s = parse_source(
        Dialect::Cos,
        "srcb-1250000000.cos.ap-shanghai.myqcloud.com/k%25?versionId=x",
        &none,
    )
    .unwrap();
    assert_eq!(
        (s.bucket.as_str(), s.key.as_str(), s.version_id.as_deref()),
        ("srcb-1250000000", "k%", Some("x"))
    );
    let s = parse_source(Dialect::Cos, "/srcb-1250000000/k", &none).unwrap();
    assert_eq!(s.bucket, "srcb-1250000000");
    assert!(parse_source(Dialect::Cos, "evil.example.com/k", &none).is_err());
    assert!(parse_source(Dialect::S3, "nokey", &none).is_err());
    // Encoded as a whole: decoded once, so an encoded '%' or '+' in the key stays itself.
    for (value, key) in [
        ("srcb%2Fdir%2Fsrc%20file.bin", "dir/src file.bin"),
        ("/srcb%2Fa%25b%2Bc", "a%b+c"),
        ("srcb%2F%E6%B5%8B%20x", "测 x"),
    ] {
        for d in [Dialect::Obs, Dialect::S3] {
            let s = parse_source(d, value, &none).unwrap();
            assert_eq!(
                (s.bucket.as_str(), s.key.as_str()),
                ("srcb", key),
                "{value}"
            );
        }
    }
    let s = parse_source(Dialect::Obs, "srcb%2Fk?versionId=v2", &none).unwrap();
    assert_eq!(s.version_id.as_deref(), Some("v2"));
    assert!(parse_source(Dialect::Obs, "srcb%2F", &none).is_err());
    assert!(parse_source(Dialect::Obs, "%2Fk", &none).is_err());
    assert!(parse_source(Dialect::S3, "/b/", &none).is_err());
}

#[test]
fn ranges() {
    assert_eq!(check_range("bytes=0-9").unwrap(), (0, 9));
    for bad in [
        "bytes=9-1",
        "bytes=abc",
        "bytes=-5",
        "bytes=5-",
        "bytes=0-1,3-4",
        "0-1",
        "",
    ] {
        assert!(check_range(bad).is_err(), "{bad}");
    }
}

#[test]
fn parts_and_keys() {
    assert!(check_part_number(Some("0")).is_err() && check_part_number(Some("10001")).is_err());
    assert_eq!(check_part_number(Some("10000")).unwrap(), 10000);
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let md5 = {
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest([7u8; 32]))
    };
    assert!(check_sse_c(Some("AES256"), Some(&key), Some(&md5)).is_ok());
    assert!(check_sse_c(Some("AES256"), Some(&key), Some("AAAA")).is_err());
    assert!(check_sse_c(Some("AES256"), Some("c2hvcnQ="), None).is_err());
}
