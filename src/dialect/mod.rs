//! The three wire dialects. Each file holds one constant vocabulary; the functions here
//! translate between a dialect's wire names/values and the neutral form (S3's suffixes and values).

pub mod copy;
pub mod cos;
pub mod obs;
pub mod s3;

use crate::model::Field;
use serde::Deserialize;

/// Header suffixes of the copy fields; the same in all three namespaces.
pub const COPY_FIELDS: &[(Field, &str)] = &[
    (Field::Source, "copy-source"),
    (Field::Range, "copy-source-range"),
    (Field::IfMatch, "copy-source-if-match"),
    (Field::IfNoneMatch, "copy-source-if-none-match"),
    (Field::IfModifiedSince, "copy-source-if-modified-since"),
    (Field::IfUnmodifiedSince, "copy-source-if-unmodified-since"),
    (
        Field::SseAlgorithm,
        "server-side-encryption-customer-algorithm",
    ),
    (Field::SseKey, "server-side-encryption-customer-key"),
    (Field::SseKeyMd5, "server-side-encryption-customer-key-md5"),
    (
        Field::SourceSseAlgorithm,
        "copy-source-server-side-encryption-customer-algorithm",
    ),
    (
        Field::SourceSseKey,
        "copy-source-server-side-encryption-customer-key",
    ),
    (
        Field::SourceSseKeyMd5,
        "copy-source-server-side-encryption-customer-key-md5",
    ),
];

/// Is this neutral suffix one of the copy fields (owned by the copy model)?
pub fn is_copy_field(suffix: &str) -> bool {
    COPY_FIELDS.iter().any(|(_, s)| *s == suffix)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    S3,
    Obs,
    Cos,
}

/// Everything that differs between dialects on the wire, as data.
pub struct Vocabulary {
    pub name: &'static str,
    /// Header namespace: `x-amz-`, `x-obs-`, `x-cos-`.
    pub prefix: &'static str,
    pub request_id: &'static str,
    pub id2: Option<&'static str>,
    /// XML namespace of result documents.
    pub xmlns: &'static str,
    /// `Server` header value.
    pub server: &'static str,
    /// Header suffixes that differ from the neutral (S3) suffix: (neutral, wire).
    pub renames: &'static [(&'static str, &'static str)],
    /// Header values that differ from the neutral (S3) value, per neutral suffix: (suffix, neutral, wire).
    pub values: &'static [(&'static str, &'static str, &'static str)],
    /// Neutral suffixes this dialect has no header for (dropped when rendering into it).
    pub unsupported: &'static [&'static str],
    /// Error documents carry `TraceId` (COS) instead of `HostId`.
    pub error_trace_id: bool,
    /// The XML declaration its error documents start with.
    pub xml_decl: &'static str,
}

impl Dialect {
    pub fn vocab(self) -> &'static Vocabulary {
        match self {
            Dialect::S3 => &s3::VOCAB,
            Dialect::Obs => &obs::VOCAB,
            Dialect::Cos => &cos::VOCAB,
        }
    }
    pub fn name(self) -> &'static str {
        self.vocab().name
    }

    /// `x-obs-meta-a` -> `meta-a` (neutral suffix), if the header is in this dialect's namespace.
    pub fn neutral_suffix(self, lower_name: &str) -> Option<String> {
        let v = self.vocab();
        let suffix = lower_name.strip_prefix(v.prefix)?;
        Some(
            v.renames
                .iter()
                .find(|(_, w)| *w == suffix)
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| suffix.to_string()),
        )
    }

    /// Neutral suffix -> wire header name in this dialect (`None` if it has no such header).
    pub fn header_name(self, neutral: &str) -> Option<String> {
        let v = self.vocab();
        if v.unsupported.contains(&neutral) {
            return None;
        }
        let suffix = v
            .renames
            .iter()
            .find(|(n, _)| *n == neutral)
            .map(|(_, w)| *w)
            .unwrap_or(neutral);
        Some(format!("{}{}", v.prefix, suffix))
    }

    /// Wire value -> neutral value for a header suffix.
    pub fn neutral_value<'a>(self, neutral_suffix: &str, value: &'a str) -> &'a str {
        for (s, n, w) in self.vocab().values {
            if *s == neutral_suffix && w.eq_ignore_ascii_case(value) {
                return n;
            }
        }
        value
    }

    /// Neutral value -> wire value for a header suffix.
    pub fn wire_value<'a>(self, neutral_suffix: &str, value: &'a str) -> &'a str {
        for (s, n, w) in self.vocab().values {
            if *s == neutral_suffix && n.eq_ignore_ascii_case(value) {
                return w;
            }
        }
        value
    }
}

/// Translate one vendor header from `from` to `to`: (name, value) or `None` when `to` lacks it.
pub fn translate_header(
    from: Dialect,
    to: Dialect,
    lower_name: &str,
    value: &str,
) -> Option<(String, String)> {
    let neutral = from.neutral_suffix(lower_name)?;
    let name = to.header_name(&neutral)?;
    let v = from.neutral_value(&neutral, value);
    Some((name, to.wire_value(&neutral, v).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Dialect; 3] = [Dialect::S3, Dialect::Obs, Dialect::Cos];

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
}
