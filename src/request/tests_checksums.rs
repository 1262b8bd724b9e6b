//! Where a client's checksum goes: on to a backend that keeps checksums, else checked here.
use super::*;

fn config_for(dialect: &str, extra: &str) -> Config {
    let text = format!(
        r#"
[server]
inbound_auth = "none"
[[backends]]
name = "b"
dialect = "{dialect}"
endpoint = "http://127.0.0.1:1"
access_key = "b"
secret_key = "b"
{extra}
[[routes]]
bucket = "*"
backend = "b"
"#
    );
    let mut c = crate::config::parse(&text, &|_| None).unwrap();
    c.resolve().unwrap();
    c
}

fn plan_to(dialect: &str, extra: &str, inb: &Inbound) -> Box<Forward> {
    match plan(&config_for(dialect, extra), inb, 1710506096) {
        Ok(Plan::Forward(f)) => f,
        Ok(Plan::Local(..) | Plan::ListBuckets(..) | Plan::PostObject(..)) => {
            panic!("answered locally")
        }
        Err(r) => panic!("refused: {:?}", r),
    }
}

#[test]
fn a_checksum_goes_on_where_it_is_kept_and_is_checked_here_elsewhere() {
    let headers = [
        ("host", "127.0.0.1"),
        ("content-length", "5"),
        ("x-amz-checksum-crc32", "NhCmhg=="),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
    ];
    let put = Inbound::new("PUT", "/bkt/k", "", headers.to_vec());
    // An S3 backend checks it itself.
    let f = plan_to("s3", "", &put);
    assert_eq!(f.out.header("x-amz-checksum-crc32"), Some("NhCmhg=="));
    assert!(f.body_checksum.is_none());
    // OBS, COS, or an S3 backend configured to keep none: checked on the stream, not sent.
    for (dialect, extra) in [("obs", ""), ("cos", ""), ("s3", "checksums = false")] {
        let f = plan_to(dialect, extra, &put);
        assert!(
            f.out.headers.iter().all(|(k, _)| !k.contains("checksum")),
            "{dialect}: {:?}",
            f.out.headers
        );
        assert_eq!(
            f.body_checksum,
            Some(("checksum-crc32".into(), "NhCmhg==".into()))
        );
    }
    // CreateMultipartUpload's algorithm and type reach an S3 backend only.
    let create = Inbound::new(
        "POST",
        "/bkt/k",
        "uploads",
        vec![
            ("host", "127.0.0.1"),
            ("x-amz-checksum-algorithm", "CRC32"),
            ("x-amz-checksum-type", "FULL_OBJECT"),
        ],
    );
    let f = plan_to("s3", "", &create);
    assert_eq!(f.out.header("x-amz-checksum-algorithm"), Some("CRC32"));
    assert_eq!(f.out.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
    let f = plan_to("cos", "", &create);
    assert!(f.out.headers.iter().all(|(k, _)| !k.contains("checksum")));
    // A Complete's checksum header names the whole object, not its body: never checked as the body's.
    let complete = Inbound::new(
        "POST",
        "/bkt/k",
        "uploadId=u1",
        vec![
            ("host", "127.0.0.1"),
            ("content-length", "10"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
        ],
    );
    let f = plan_to("s3", "", &complete);
    assert!(f.body_checksum.is_none());
    assert_eq!(f.out.header("x-amz-checksum-crc32"), Some("AAAAAA=="));
    // Where the backend keeps none, nobody could check it: refused, never dropped.
    let Err(r) = plan(&config_for("obs", ""), &complete, 1710506096) else {
        panic!("a whole-object checksum went to OBS unchecked");
    };
    assert_eq!(r.error.code, Code::InvalidRequest);
}
