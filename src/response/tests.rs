use super::*;

fn h(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string().into(), v.to_string()))
        .collect()
}

#[test]
fn copy_answer_headers_move_to_the_client_namespace() {
    let backend = h(&[
        ("x-amz-request-id", "R1"),
        ("x-amz-id-2", "I2"),
        ("x-amz-copy-source-version-id", "V1"),
        ("x-amz-server-side-encryption", "aws:kms"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "K"),
        ("x-amz-server-side-encryption-customer-key-md5", "M"),
        ("etag", "\"e\""),
        ("connection", "close"),
    ]);
    let obs = headers(Dialect::S3, Dialect::Obs, backend.clone(), "OURS");
    for (k, v) in [
        ("x-obs-request-id", "OURS"),
        ("x-obs-id-2", "OURS"),
        (BACKEND_REQUEST_ID, "R1"),
        ("x-obs-copy-source-version-id", "V1"),
        ("x-obs-server-side-encryption", "kms"),
        ("x-obs-server-side-encryption-kms-key-id", "K"),
        ("x-obs-server-side-encryption-customer-key-md5", "M"),
        ("etag", "\"e\""),
        ("server", "OBS"),
    ] {
        assert!(
            obs.contains(&(k.to_string().into(), v.to_string())),
            "{k}: {obs:?}"
        );
    }
    assert!(!obs
        .iter()
        .any(|(k, _)| k.starts_with("x-amz-") || k == "connection"));
    let cos = headers(Dialect::S3, Dialect::Cos, backend, "OURS");
    // One request id per answer: the proxy's, the backend's beside it.
    assert!(cos.contains(&("x-cos-request-id".into(), "OURS".into())));
    assert!(cos.contains(&(BACKEND_REQUEST_ID.into(), "R1".into())));
    assert_eq!(
        cos.iter().filter(|(k, _)| k == "x-cos-request-id").count(),
        1
    );
    assert!(cos.contains(&("x-cos-server-side-encryption".into(), "cos/kms".into())));
    assert!(cos.contains(&("x-cos-copy-source-version-id".into(), "V1".into())));
    assert!(!cos.iter().any(|(k, _)| k.ends_with("id-2")));
    // A backend that sends no request id: the proxy's own goes out.
    let bare = headers(Dialect::S3, Dialect::Cos, h(&[("etag", "x")]), "OURS");
    assert!(bare.contains(&("x-cos-request-id".into(), "OURS".into())));
}

#[test]
fn a_200_proves_success_only_with_a_whole_result_holding_an_etag() {
    let run = |op, b: &[u8]| body(op, 200, Dialect::S3, b, "RID", "/b/k");
    let good = b"  <CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>";
    assert_eq!(run(Op::Complete, good).status, 200);
    for bad in [
        &b""[..],
        b"   \n\t ",
        b"<CompleteMultipartUploadResult><Bucket>b</Bucket><ETag>\"e-2\"</ETag>",
        b"<CompleteMultipartUploadResult><Bucket>b</Bucket></CompleteMultipartUploadResult>",
        b"<CompleteMultipartUploadResult><ETag>\"e",
        b"<Other><ETag>x</ETag></Other>",
    ] {
        let out = run(Op::Complete, bad);
        assert_eq!((out.status, out.failed_200), (500, true), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.body).contains("<Code>InternalError</Code>"));
    }
    let cut = run(
        Op::UploadPartCopy,
        b"<CopyPartResult><ETag>\"e\"</ETag><LastModified>2024-",
    );
    assert_eq!((cut.status, cut.failed_200), (500, true));
}

#[test]
fn error_documents_name_the_clients_resource_not_the_backends() {
    let backend = b"<Error><Code>NoSuchKey</Code><Message>m</Message><Resource>/b-1250000000/k</Resource></Error>";
    let out = body(Op::GetObject, 404, Dialect::Cos, backend, "RID", "/b/k");
    let text = String::from_utf8(out.body).unwrap();
    assert!(text.contains("<Resource>/b/k</Resource>"), "{text}");
    assert!(!text.contains("1250000000"));
}

#[test]
fn copy_results_always_carry_last_modified() {
    for to in Dialect::ALL {
        let out = body(
            Op::UploadPartCopy,
            200,
            to,
            b"<CopyPartResult><ETag>\"e\"</ETag></CopyPartResult>",
            "RID",
            "/b/k",
        );
        let text = String::from_utf8(out.body).unwrap();
        assert_eq!(out.status, 200);
        let lm = text
            .split("<LastModified>")
            .nth(1)
            .and_then(|t| t.split("</LastModified>").next())
            .unwrap_or_else(|| panic!("no LastModified: {text}"));
        assert_eq!(lm.len(), "2024-03-15T12:34:56.000Z".len(), "{lm}");
        assert!(lm.ends_with('Z'));
    }
}

#[test]
fn wire_case_spells_headers_like_the_clouds() {
    let case = |s: &str| String::from_utf8(wire_case(s.to_string())).unwrap();
    assert_eq!(case("etag"), "ETag");
    assert_eq!(case("content-length"), "Content-Length");
    assert_eq!(case("x-cos-request-id"), "x-cos-request-id");
}

#[test]
fn a_copy_answer_carries_its_etag_in_the_header_for_clouds_whose_sdks_read_it_there() {
    let garage = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyPartResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>2026-12-07T04:10:18.271Z</LastModified><ETag>\"1626dec7c67fd36c0364495ea6231e74\"</ETag></CopyPartResult>";
    for to in Dialect::ALL {
        let x = Context {
            op: Op::UploadPartCopy,
            backend: Dialect::S3,
            client: to,
            request_id: "R",
            resource: "/b/k",
        };
        let a = translate(
            &x,
            BackendAnswer {
                status: 200,
                headers: h(&[("x-amz-request-id", "B")]),
                body: Some(garage),
            },
        );
        let etag = a
            .headers
            .iter()
            .find(|(k, _)| k == "etag")
            .map(|(_, v)| v.as_str());
        let want = to
            .vocab()
            .result_etag_header
            .then_some("\"1626dec7c67fd36c0364495ea6231e74\"");
        assert_eq!(etag, want, "{}", to.name());
    }
}
