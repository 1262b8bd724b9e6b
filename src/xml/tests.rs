use super::*;

#[test]
fn error_shapes_per_dialect() {
    let e = ApiError::signature_mismatch();
    let s3 = render_error(Dialect::S3, &e, "/b/k", "RID");
    assert!(
        s3.contains("<Code>SignatureDoesNotMatch</Code>") && s3.contains("<HostId>RID</HostId>")
    );
    let cos = render_error(Dialect::Cos, &e, "/b/k", "RID");
    assert!(cos.starts_with("<?xml version='1.0'") && cos.contains("<TraceId>RID</TraceId>"));
    let p = parse_error(cos.as_bytes()).unwrap();
    assert_eq!(
        (p.code.as_str(), p.resource.as_deref()),
        ("SignatureDoesNotMatch", Some("/b/k"))
    );
}

#[test]
fn parse_error_variants() {
    let ns = br#"<?xml version="1.0"?>
<Error xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Code>NoSuchKey</Code><Message>a &amp; b</Message></Error>"#;
    let p = parse_error(ns).unwrap();
    assert_eq!(
        (p.code.as_str(), p.message.as_str()),
        ("NoSuchKey", "a & b")
    );
    assert_eq!(
        parse_error(b"<CopyPartResult><ETag>x</ETag></CopyPartResult>"),
        None
    );
    assert_eq!(parse_error(b"not xml at all <"), None);
    assert_eq!(
        parse_error(b"\n\n  <Error><Code>InternalError</Code></Error>")
            .unwrap()
            .code,
        "InternalError"
    );
}

#[test]
fn checksums_are_stripped_from_complete() {
    let b = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><ChecksumCRC32>Xg5djw==</ChecksumCRC32><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>"#;
    let out = String::from_utf8(strip_elements(b, "Checksum").unwrap()).unwrap();
    assert_eq!(
        out,
        r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>"#
    );
    assert_eq!(strip_elements(b"<A><B>1</B></A>", "Checksum"), None);
}

#[test]
fn element_texts() {
    let b = b"<ListPartsResult><Part><PartNumber>1</PartNumber><Size>5</Size></Part><Part><PartNumber>2</PartNumber><Size>7</Size></Part><IsTruncated>false</IsTruncated></ListPartsResult>";
    assert_eq!(texts(b, "Size").unwrap(), vec!["5", "7"]);
    assert_eq!(texts(b, "IsTruncated").unwrap(), vec!["false"]);
    let page = list_parts_page(b);
    assert_eq!((page.parts, page.next_marker), (vec![(1, 5), (2, 7)], None));
    let more = b"<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker></ListPartsResult>";
    assert_eq!(list_parts_page(more).next_marker, Some(2));
}

#[test]
fn whole_documents() {
    assert!(whole_document(
        b"<?xml version=\"1.0\"?>\n<A><B>x</B><C/></A>\n"
    ));
    assert!(whole_document(b"  <A/>"));
    for bad in [
        &b""[..],
        b"   ",
        b"<A><B>x</B>",
        b"<A><B>x</A>",
        b"<A></A><A></A>",
        b"<A></A>junk",
        b"<A><B>x</B></",
    ] {
        assert!(!whole_document(bad), "{bad:?}");
    }
}

#[test]
fn namespace_rewrite() {
    let b = br#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name></ListBucketResult>"#;
    let out = String::from_utf8(rewrite_namespace(b, Dialect::Cos).unwrap()).unwrap();
    assert!(out.contains(r#"<ListBucketResult xmlns="http://www.qcloud.com/document/product/436/7751"><Name>b</Name>"#), "{out}");
}

#[test]
fn listed_objects_with_and_without_etags() {
    let with = br#"<ListBucketResult><Contents><Key>a/1</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"e1"</ETag><Size>3</Size><Owner><ID>o</ID></Owner></Contents><Contents><Key>a/2</Key><Size>4</Size></Contents></ListBucketResult>"#;
    let l = listed_objects(with).unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(
        (l[0].key.as_str(), l[0].size.as_str(), l[0].etag.as_deref()),
        ("a/1", "3", Some("\"e1\""))
    );
    assert_eq!((l[1].key.as_str(), l[1].etag.as_deref()), ("a/2", None));
    assert_eq!(listed_objects(b"<ListBucketResult/>").unwrap(), vec![]);
}

#[test]
fn listing_entries_get_the_elements_an_sdk_requires_and_whole_second_dates() {
    let body = b"<ListBucketResult><Contents><Key>a</Key><LastModified>2026-12-07T04:10:18.271Z</LastModified></Contents><Contents><Key>b</Key><Type>Multipart</Type></Contents></ListBucketResult>";
    let typed = super::add_missing(body, "Contents", "Type", "Normal").unwrap();
    let text = String::from_utf8(typed.clone()).unwrap();
    assert!(text.contains("<Key>a</Key><LastModified>2026-12-07T04:10:18.271Z</LastModified><Type>Normal</Type></Contents>"), "{text}");
    assert!(
        text.contains("<Key>b</Key><Type>Multipart</Type></Contents>"),
        "{text}"
    );
    assert!(super::add_missing(&typed, "Contents", "Type", "Normal").is_none());
    let whole = String::from_utf8(super::whole_second_dates(&typed).unwrap()).unwrap();
    assert!(
        whole.contains("<LastModified>2026-12-07T04:10:18.000Z</LastModified>"),
        "{whole}"
    );
}
