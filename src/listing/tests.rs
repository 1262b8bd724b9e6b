use super::*;

fn q(pairs: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect()
}

#[test]
fn a_v1_query_is_left_alone() {
    let mut query = q(&[("prefix", "a/"), ("marker", "a/b")]);
    assert_eq!(ListV2::take(&mut query).unwrap(), None);
    assert_eq!(query, q(&[("prefix", "a/"), ("marker", "a/b")]));
}

#[test]
fn a_v2_query_becomes_v1_with_the_token_or_start_after_as_marker() {
    let mut query = q(&[
        ("list-type", "2"),
        ("start-after", "k 1"),
        ("fetch-owner", "true"),
    ]);
    let l = ListV2::take(&mut query).unwrap().unwrap();
    assert!(l.fetch_owner && !l.url);
    assert_eq!(query, q(&[("marker", "k 1")]));

    let token = token_for("dir/ü+%2F");
    let mut query = q(&[
        ("list-type", "2"),
        ("continuation-token", &token),
        ("start-after", "ignored"),
        ("encoding-type", "url"),
        ("max-keys", "7"),
    ]);
    let l = ListV2::take(&mut query).unwrap().unwrap();
    assert!(l.url);
    assert_eq!(l.token.as_deref(), Some(token.as_str()));
    assert_eq!(
        query,
        q(&[
            ("encoding-type", "url"),
            ("max-keys", "7"),
            ("marker", "dir/ü+%2F")
        ])
    );

    for bad in ["", "dp1.%%%", "other", "dp1.__8"] {
        let mut query = q(&[("list-type", "2"), ("continuation-token", bad)]);
        if bad.is_empty() {
            assert!(ListV2::take(&mut query).is_ok());
        } else {
            let e = ListV2::take(&mut query).unwrap_err();
            assert_eq!(e.code.as_str(), "InvalidArgument", "{bad}");
        }
    }
}

const V1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b-1250000000</Name><Prefix>p/</Prefix><Marker></Marker><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"e"</ETag><Size>3</Size><Owner><ID>o</ID><DisplayName>o</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes></ListBucketResult>"#;

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn a_truncated_v1_page_answers_v2_with_a_token_for_the_last_entry() {
    let l = ListV2 {
        start_after: Some("p/0".into()),
        ..Default::default()
    };
    let out = text(&l.answer(V1.as_bytes(), Some("b")).unwrap());
    assert!(out.starts_with(r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><Delimiter>/</Delimiter><MaxKeys>2</MaxKeys><KeyCount>2</KeyCount>"#), "{out}");
    let next = format!(
        "<NextContinuationToken>{}</NextContinuationToken>",
        token_for("p/d/\u{10FFFF}")
    );
    assert!(out.contains(&next), "{out}");
    assert!(out.contains("<StartAfter>p/0</StartAfter><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b</Key>"), "{out}");
    assert!(
        !out.contains("<Owner>") && !out.contains("<Marker>"),
        "{out}"
    );
    assert!(
        out.ends_with("<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes></ListBucketResult>"),
        "{out}"
    );
    assert!(crate::xml::whole_document(out.as_bytes()));

    let owner = ListV2 {
        fetch_owner: true,
        token: Some("dp1.x".into()),
        ..Default::default()
    };
    let out = text(&owner.answer(V1.as_bytes(), None).unwrap());
    assert!(out.contains("<Owner><ID>o</ID>") && out.contains("<Name>b-1250000000</Name>"));
    assert!(out.contains("<ContinuationToken>dp1.x</ContinuationToken>"));
}

#[test]
fn next_marker_and_url_encoding_are_decoded_into_the_token() {
    let v1 = r#"<ListBucketResult><Name>b</Name><Prefix></Prefix><MaxKeys>1</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextMarker>k%20%C3%BC</NextMarker><Contents><Key>k%20%C3%BC</Key><Size>1</Size></Contents></ListBucketResult>"#;
    let l = ListV2 {
        url: true,
        start_after: Some("a b".into()),
        ..Default::default()
    };
    let out = text(&l.answer(v1.as_bytes(), None).unwrap());
    let next = format!(
        "<NextContinuationToken>{}</NextContinuationToken>",
        token_for("k ü")
    );
    assert!(out.contains(&next), "{out}");
    assert!(out.contains("<EncodingType>url</EncodingType>"));
    assert!(out.contains("<StartAfter>a%20b</StartAfter>"));
    assert_eq!(marker_of(&token_for("k ü")).unwrap(), "k ü");
}

#[test]
fn the_last_page_has_no_token_and_odd_documents_are_refused() {
    let v1 = "<ListBucketResult><Name>b</Name><Prefix/><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>";
    let out = text(&ListV2::default().answer(v1.as_bytes(), None).unwrap());
    assert!(out.contains("<KeyCount>0</KeyCount>") && !out.contains("NextContinuationToken"));
    assert!(out.contains("<Prefix></Prefix>"), "{out}");
    for bad in [
        "",
        "<Error><Code>x</Code></Error>",
        "<ListBucketResult><Name>b</Name>",
        // truncated, but nothing to continue from
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
    ] {
        assert!(
            ListV2::default().answer(bad.as_bytes(), None).is_none(),
            "{bad}"
        );
    }
}
