use super::*;

const ALL: [Dialect; Dialect::ALL.len()] = Dialect::ALL;

#[test]
fn vocabularies_are_consistent() {
    for d in ALL {
        let v = d.vocab();
        assert!(v.prefix.starts_with("x-") && v.prefix.ends_with('-'));
        assert!(v.request_id.starts_with(v.prefix));
        // every value mapping is a bijection within its suffix
        for (s, n, w) in v.values {
            assert_eq!(d.neutral_value(s, w), *n, "{} {s} {w}", v.name);
            assert_eq!(d.wire_value(s, n), *w, "{} {s} {n}", v.name);
        }
        for (n, w) in v.renames {
            assert_eq!(
                d.neutral_suffix(&format!("{}{w}", v.prefix)).as_deref(),
                Some(*n)
            );
        }
    }
}

#[test]
fn behaviour_told_by_the_vocabularies() {
    let h = |pairs: &[(&'static str, &'static str)]| pairs.to_vec();
    assert_eq!(Dialect::guess(&h(&[("x-obs-date", "d")])), Dialect::Obs);
    assert_eq!(
        Dialect::guess(&h(&[(
            "host",
            "b-1250000000.cos.ap-guangzhou.myqcloud.com"
        )])),
        Dialect::Cos
    );
    assert_eq!(
        Dialect::guess(&h(&[("host", "b.obs.cn-north-4.myhuaweicloud.com")])),
        Dialect::Obs
    );
    assert_eq!(Dialect::guess(&h(&[("x-amz-date", "d")])), Dialect::S3);
    for d in ALL {
        assert_eq!(Dialect::from_name(d.name()), Some(d));
    }
    assert_eq!(Dialect::from_name("gcs"), None);
    assert_eq!(Dialect::Cos.decode_query_value("a+b%2B"), "a b+");
    assert_eq!(Dialect::S3.decode_query_value("a+b%2B"), "a+b+");
    assert!(Dialect::Obs.encodes_header_values(None));
    assert!(Dialect::S3.encodes_header_values(Some("obs-sdk-python/3.26.6")));
    assert!(!Dialect::S3.encodes_header_values(Some("Boto3/1.44")));
    assert_eq!(
        Dialect::Obs.encode_header_value("x-obs-meta-a", "é b".into()),
        "%C3%A9 b"
    );
    assert_eq!(
        Dialect::Obs.encode_header_value("x-obs-acl", "é".into()),
        "é"
    );
    for p in [
        "x-obs-security-token",
        "x-cos-security-token",
        "X-Amz-Credential",
        "q-ak",
    ] {
        assert!(Dialect::is_presign_param(p), "{p}");
    }
    assert!(!Dialect::is_presign_param("uploadId"));
    assert!(Dialect::is_query_signature("q-signature"));
    assert!(!Dialect::is_query_signature("q-ak"));
    assert!(Dialect::Obs.min_part_size() < Dialect::Cos.min_part_size());
    assert!(Dialect::Cos.min_part_size() < Dialect::S3.min_part_size());
}

#[test]
fn headers_round_trip_between_dialects() {
    let cases = [
        (
            "x-obs-storage-class",
            "WARM",
            Dialect::Obs,
            "x-amz-storage-class",
            "STANDARD_IA",
            Dialect::S3,
        ),
        (
            "x-obs-storage-class",
            "COLD",
            Dialect::Obs,
            "x-cos-storage-class",
            "ARCHIVE",
            Dialect::Cos,
        ),
        (
            "x-cos-metadata-directive",
            "Replaced",
            Dialect::Cos,
            "x-amz-metadata-directive",
            "REPLACE",
            Dialect::S3,
        ),
        (
            "x-amz-server-side-encryption",
            "aws:kms",
            Dialect::S3,
            "x-obs-server-side-encryption",
            "kms",
            Dialect::Obs,
        ),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "k",
            Dialect::S3,
            "x-cos-server-side-encryption-cos-kms-key-id",
            "k",
            Dialect::Cos,
        ),
        (
            "x-obs-meta-Color",
            "red",
            Dialect::Obs,
            "x-cos-meta-Color",
            "red",
            Dialect::Cos,
        ),
    ];
    for (n1, v1, d1, n2, v2, d2) in cases {
        let lower = n1.to_ascii_lowercase();
        let (n, v) = translate_header(d1, d2, &lower, v1).unwrap();
        assert_eq!(
            (n.as_str(), v.as_str()),
            (n2.to_ascii_lowercase().as_str(), v2)
        );
        let (n, v) = translate_header(d2, d1, &n2.to_ascii_lowercase(), v2).unwrap();
        assert_eq!((n.as_str(), v.as_str()), (lower.as_str(), v1));
    }
    assert_eq!(
        translate_header(Dialect::Cos, Dialect::S3, "x-cos-traffic-limit", "1"),
        None
    );
}

#[test]
fn who_raises_a_200_carrying_an_error() {
    // botocore raises it; the OBS SDK (in any signing mode) and the COS SDK hand it back.
    assert!(Dialect::S3.raises_200_error(Some("Boto3/1.44.5 md/Botocore#1.44.8")));
    assert!(Dialect::S3.raises_200_error(None));
    assert!(!Dialect::S3.raises_200_error(Some("obs-sdk-python/3.26.6")));
    assert!(!Dialect::Obs.raises_200_error(None));
    assert!(!Dialect::Cos.raises_200_error(Some("cos-python-sdk-v5.1.9.44")));
}
