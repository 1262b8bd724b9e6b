use super::*;

fn config() -> Config {
    let text = r#"
[server]
inbound_auth = "none"
[[backends]]
name = "obs"
dialect = "obs"
endpoint = "http://obs.cn-north-4.myhuaweicloud.com"
connect = "127.0.0.1:9"
access_key = "BACKENDAK"
secret_key = "backend-secret"
[[routes]]
bucket = "*"
backend = "obs"
backend_bucket = "{bucket}-x"
"#;
    let mut c = crate::config::parse(text, &|_| None).unwrap();
    c.resolve().unwrap();
    c
}

fn inbound<'a>(
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &[(&'a str, &'a str)],
) -> Inbound<'a> {
    Inbound::new(method, path, query, headers.to_vec())
}

#[test]
fn client_credentials_and_hop_headers_never_go_upstream() {
    let cfg = config();
    let inb = inbound(
        "PUT",
        "/bkt/a%20b",
        "X-Amz-Credential=AK%2F1&X-Amz-Expires=5&x-id=PutObject",
        &[
            ("host", "127.0.0.1:8080"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AK/20240315/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"),
            ("x-amz-security-token", "TOKEN"),
            ("x-amz-date", "20240315T123456Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("x-amz-meta-colour", "blue"),
            ("x-amz-storage-class", "STANDARD_IA"),
            ("content-length", "5"),
        ],
    );
    let Ok(Plan::Forward(f)) = plan(&cfg, &inb, 1710506096) else {
        panic!("not forwarded")
    };
    let names: Vec<&str> = f.out.headers.iter().map(|(k, _)| &**k).collect();
    for gone in [
        "authorization",
        "x-amz-security-token",
        "x-amz-date",
        "x-amz-content-sha256",
        "connection",
        "transfer-encoding",
    ] {
        assert!(!names.contains(&gone), "{gone} went upstream: {names:?}");
    }
    assert!(f
        .out
        .headers
        .contains(&("x-obs-meta-colour".into(), "blue".into())));
    assert!(f
        .out
        .headers
        .contains(&("x-obs-storage-class".into(), "WARM".into())));
    assert_eq!(f.out.path, "/bkt-x/a%20b");
    assert!(f.out.query.iter().all(|(k, _)| !k.starts_with("X-Amz-")));
    assert_eq!(
        f.out.header("host"),
        Some("obs.cn-north-4.myhuaweicloud.com")
    );
}

#[test]
fn a_put_with_an_sdk_operation_hint_is_still_streamed() {
    // Newer AWS SDKs add `x-id=PutObject`; the upload must not fall into the small-body path.
    let inb = inbound("PUT", "/bkt/k", "x-id=PutObject", &[("host", "h")]);
    assert_eq!(classify(&inb, true, true, Dialect::S3), Op::PutObject);
    assert!(classify(&inb, true, true, Dialect::S3).streamed());
    let inb = inbound("PUT", "/bkt/k", "tagging", &[("host", "h")]);
    assert_eq!(classify(&inb, true, true, Dialect::S3), Op::Object);
}

#[test]
fn copies_across_backends_become_uploads_to_the_destination() {
    let text = r#"
[server]
inbound_auth = "none"
[[backends]]
name = "a"
dialect = "s3"
endpoint = "http://127.0.0.1:1"
access_key = "a"
secret_key = "a"
[[backends]]
name = "b"
dialect = "cos"
endpoint = "http://127.0.0.1:2"
access_key = "b"
secret_key = "b"
[[routes]]
bucket = "src-*"
backend = "b"
[[routes]]
bucket = "*"
backend = "a"
"#;
    let mut cfg = crate::config::parse(text, &|_| None).unwrap();
    cfg.resolve().unwrap();
    let inb = inbound(
        "PUT",
        "/dst/k",
        "partNumber=1&uploadId=u",
        &[("host", "h"), ("x-amz-copy-source", "src-1/k")],
    );
    let Ok(Plan::Forward(f)) = plan(&cfg, &inb, 0) else {
        panic!("not planned")
    };
    let cross = f.cross.as_ref().expect("a copy across backends");
    assert_eq!(cross.source_backend, 1);
    assert_eq!(cross.copy.source.bucket, "src-1");
    // The destination gets an UploadPart: no copy headers go there.
    assert!(f
        .out
        .headers
        .iter()
        .all(|(k, _)| !k.contains("copy-source")));
    // CopyObject becomes the destination's PutObject; directive COPY: the source's metadata
    // replaces the request's.
    let copy_object = |extra: &[(&str, &str)]| {
        let mut h = vec![
            ("host", "h"),
            ("x-amz-copy-source", "src-1/k"),
            ("content-type", "text/plain"),
            ("x-amz-meta-a", "1"),
            ("x-amz-storage-class", "STANDARD_IA"),
        ];
        h.extend_from_slice(extra);
        let Ok(Plan::Forward(f)) = plan(&cfg, &inbound("PUT", "/dst/k", "", &h), 0) else {
            panic!("not planned")
        };
        f
    };
    let f = copy_object(&[]);
    let cross = f.cross.as_ref().expect("a copy across backends");
    assert!(cross.copy_metadata);
    assert_eq!(f.out.header("x-amz-meta-a"), None);
    assert_eq!(f.out.header("content-type"), None);
    assert_eq!(f.out.header("x-amz-storage-class"), Some("STANDARD_IA"));
    let f = copy_object(&[("x-amz-metadata-directive", "REPLACE")]);
    assert!(!f.cross.as_ref().unwrap().copy_metadata);
    assert_eq!(f.out.header("x-amz-meta-a"), Some("1"));
    assert_eq!(f.out.header("content-type"), Some("text/plain"));
    assert_eq!(f.out.header("x-amz-metadata-directive"), None);
}

#[test]
fn a_copy_across_backends_takes_metadata_and_digest_from_the_source() {
    use crate::dialect::Dialect;
    let head: crate::dialect::wire::Headers = [
        ("content-type", "text/x-a"),
        ("content-length", "3"),
        ("etag", "\"900150983cd24fb0d6963f7d28e17f72\""),
        ("x-obs-meta-colour", "bl%C3%BCe"),
        ("x-obs-request-id", "r"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string().into(), v.to_string()))
    .collect();
    // OBS stores values as its SDK encodes them: decoded, renamed, and as S3 takes them.
    assert_eq!(
        source_metadata(Dialect::Obs, Dialect::S3, &head),
        vec![
            ("content-type".into(), "text/x-a".to_string()),
            ("x-amz-meta-colour".into(), "blüe".to_string()),
        ]
    );
    let cp = |range: bool| crate::model::CopyPart {
        source: crate::model::CopySource {
            bucket: "b".into(),
            key: "k".into(),
            version_id: None,
        },
        range: range.then_some(crate::model::ByteRange { first: 0, last: 1 }),
        conditions: Default::default(),
        sse_c: None,
        source_sse_c: None,
    };
    // md5("abc") in base64.
    assert_eq!(
        whole_object_md5(Dialect::Obs, &cp(false), &head).as_deref(),
        Some("kAFQmDzST7DWlj99KOF/cg==")
    );
    assert_eq!(whole_object_md5(Dialect::Obs, &cp(true), &head), None);
    let mut encrypted = head.clone();
    encrypted.push(("x-obs-server-side-encryption".into(), "kms".into()));
    assert_eq!(whole_object_md5(Dialect::Obs, &cp(false), &encrypted), None);
    let mut multipart = head.clone();
    multipart[2].1 = "\"900150983cd24fb0d6963f7d28e17f72-2\"".into();
    assert_eq!(whole_object_md5(Dialect::Obs, &cp(false), &multipart), None);
}

#[test]
fn parts_are_staged_when_the_clients_cloud_takes_smaller_ones_than_the_backend() {
    let text = r#"
[server]
inbound_auth = "none"
[[backends]]
name = "s3"
dialect = "s3"
endpoint = "http://127.0.0.1:1"
access_key = "a"
secret_key = "a"
[[backends]]
name = "lenient"
dialect = "s3"
endpoint = "http://127.0.0.1:2"
access_key = "b"
secret_key = "b"
min_part_size = 102400
[[routes]]
bucket = "lenient-*"
backend = "lenient"
[[routes]]
bucket = "*"
backend = "s3"
"#;
    let mut cfg = crate::config::parse(text, &|_| None).unwrap();
    cfg.resolve().unwrap();
    let staged = |bucket: &str, headers: &[(&str, &str)]| {
        let mut h = vec![("host", "h")];
        h.extend_from_slice(headers);
        let path = format!("/{bucket}/k");
        let f = match plan(
            &cfg,
            &inbound("PUT", &path, "partNumber=2&uploadId=u", &h),
            0,
        ) {
            Ok(Plan::Forward(f)) => f,
            Err(r) => panic!("refused: {:?}", r.error),
            Ok(_) => panic!("answered locally"),
        };
        f.staging
            .as_ref()
            .map(|s| (s.key(2), f.out.path.clone(), f.out.query.is_empty()))
    };
    // A COS client (1 MiB parts) to an S3 backend (5 MiB): the part goes to its staging object.
    let (key, path, no_query) = staged("bkt-1250000000", &[("x-cos-meta-a", "1")]).expect("staged");
    assert!(key.starts_with(".dialect-proxy-staging/") && key.ends_with("/00002"));
    assert_eq!(path, format!("/bkt-1250000000/{key}"));
    assert!(no_query);
    // The OBS SDK signing as S3 is still an OBS client (100 KiB parts).
    assert!(staged("bkt-1250000000", &[("user-agent", "obs-sdk-python/3.26.6")]).is_some());
    // An S3 client, a backend that takes small parts, an SSE-C part: not staged.
    assert!(staged("bkt-1250000000", &[]).is_none());
    assert!(staged("lenient-1250000000", &[("x-cos-meta-a", "1")]).is_none());
    let ssec = [
        ("x-cos-meta-a", "1"),
        ("x-cos-server-side-encryption-customer-algorithm", "AES256"),
        (
            "x-cos-server-side-encryption-customer-key",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ),
        (
            "x-cos-server-side-encryption-customer-key-md5",
            "hRasmdxgYDKV3nvbahU1MA==",
        ),
    ];
    assert!(staged("bkt-1250000000", &ssec).is_none());
}

fn planned(inb: &Inbound) -> Result<Box<Forward>, Rejection> {
    match plan(&config(), inb, 1710506096) {
        Ok(Plan::Forward(f)) => Ok(f),
        Ok(Plan::Local(..) | Plan::ListBuckets(..) | Plan::PostObject(..)) => {
            panic!("answered locally")
        }
        Err(r) => Err(r),
    }
}

#[test]
fn storage_classes_and_canned_acls_without_an_equivalent_are_refused_not_passed_raw() {
    let put = |path, h: (&'static str, &'static str)| {
        planned(&inbound("PUT", path, "", &[("host", "h"), h]))
    };
    let sent = |f: Box<Forward>, name: &str| f.out.header(name).map(str::to_string);
    // Mapped (obs_04_0080): S3's GLACIER is OBS's COLD; OBS spells its classes in upper case.
    let f = put("/bkt/k", ("x-amz-storage-class", "glacier")).unwrap();
    assert_eq!(sent(f, "x-obs-storage-class").as_deref(), Some("COLD"));
    let e = put("/bkt/k", ("x-amz-storage-class", "GLACIER_IR")).unwrap_err();
    assert_eq!(e.error.code.as_str(), "InvalidStorageClass");
    assert_eq!((e.client, e.error.status), (Dialect::S3, 400));
    // Canned ACLs: objects take three at OBS, buckets two more (obs_04_0080, obs_04_0030).
    let e = put("/bkt/k", ("x-amz-acl", "authenticated-read")).unwrap_err();
    assert_eq!(e.error.code.as_str(), "InvalidArgument");
    let e = put("/bkt/k", ("x-obs-acl", "public-read-delivered")).unwrap_err();
    assert_eq!(e.client, Dialect::Obs);
    let f = put("/bkt", ("x-obs-acl", "public-read-delivered")).unwrap();
    assert_eq!(
        sent(f, "x-obs-acl").as_deref(),
        Some("public-read-delivered")
    );
}

#[test]
fn a_v2_listing_goes_to_a_v1_backend_as_v1_and_multi_delete_gets_its_content_md5() {
    let inb = inbound(
        "GET",
        "/bkt",
        "list-type=2&start-after=a%2Fb&fetch-owner=true&prefix=a%2F",
        &[("host", "h")],
    );
    let f = planned(&inb).unwrap();
    let q: Vec<(&str, Option<&str>)> = f
        .out
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(q, [("prefix", Some("a/")), ("marker", Some("a/b"))]);
    let l = f.listing.as_ref().unwrap();
    assert!(l.fetch_owner);
    assert_eq!(f.client_bucket.as_deref(), Some("bkt"));

    let body = b"<Delete><Object><Key>k</Key></Object></Delete>";
    let crc = {
        let mut c = crate::checksum::Checksum::for_algorithm("crc32").unwrap();
        c.update(body);
        c.finish_b64()
    };
    let headers = [("host", "h"), ("x-amz-checksum-crc32", crc.as_str())];
    let mut f = planned(&inbound("POST", "/bkt", "delete", &headers)).unwrap();
    assert!(f.out.header("content-md5").is_none());
    verify_small_body(&f, body).unwrap();
    require_md5(&mut f, Dialect::Obs, body);
    assert_eq!(
        f.out.header("content-md5"),
        Some(crate::checksum::content_md5(body).as_str())
    );
    // A body that is not the one the client's checksum names is refused before it goes on.
    let f = planned(&inbound("POST", "/bkt", "delete", &headers)).unwrap();
    let e = verify_small_body(&f, b"<Delete/>").unwrap_err();
    assert_eq!(e.code.as_str(), "BadDigest");
    assert!(f.out.header("content-md5").is_none());
    // A client's Content-MD5 is checked too (a rewritten body would drop it unverified).
    let md5 = crate::checksum::content_md5(body);
    let f = planned(&inbound(
        "PUT",
        "/bkt",
        "acl",
        &[("host", "h"), ("content-md5", &md5)],
    ))
    .unwrap();
    verify_small_body(&f, body).unwrap();
    let e = verify_small_body(&f, b"<Other/>").unwrap_err();
    assert_eq!(e.code.as_str(), "BadDigest");
}

#[test]
fn oss_names_a_bucket_acl_otherwise_than_an_object_acl() {
    // PutBucketAcl and PutBucket take `x-oss-acl` (developer-reference/putbucketacl), objects
    // `x-oss-object-acl` (manage-the-acl-of-an-object).
    let text = r#"
[server]
inbound_auth = "none"
[[backends]]
name = "oss"
dialect = "oss"
endpoint = "http://oss-cn-hangzhou.aliyuncs.com"
access_key = "BACKENDAK"
secret_key = "backend-secret"
[[routes]]
bucket = "*"
backend = "oss"
"#;
    let mut cfg = crate::config::parse(text, &|_| None).unwrap();
    cfg.resolve().unwrap();
    let put = |path, query| {
        let inb = inbound(
            "PUT",
            path,
            query,
            &[("host", "h"), ("x-amz-acl", "public-read")],
        );
        match plan(&cfg, &inb, 1710506096) {
            Ok(Plan::Forward(f)) => f,
            _ => panic!("not forwarded"),
        }
    };
    for (path, query) in [("/bkt", "acl"), ("/bkt", "")] {
        let f = put(path, query);
        assert_eq!(f.out.header("x-oss-acl"), Some("public-read"));
        assert_eq!(f.out.header("x-oss-object-acl"), None);
    }
    let f = put("/bkt/k", "acl");
    assert_eq!(f.out.header("x-oss-object-acl"), Some("public-read"));
    assert_eq!(f.out.header("x-oss-acl"), None);
}
