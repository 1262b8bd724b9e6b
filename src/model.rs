//! The neutral model of an Upload Part - Copy: what the client asked for, with no wire names.
//! Parsed once from any dialect's headers, rendered into any dialect's headers.

use crate::config::Backend;
use crate::copy::{self, CopySource};
use crate::dialect::{Dialect, COPY_FIELDS};
use crate::error::{ApiError, Code};
use std::fmt;

/// An inclusive byte range `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

/// The four copy conditions. Dates are kept as epoch seconds (any of the three HTTP formats parse).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<i64>,
    pub if_unmodified_since: Option<i64>,
}

/// An SSE-C key triple. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SseC {
    pub algorithm: String,
    pub key: String,
    pub key_md5: Option<String>,
}

impl fmt::Debug for SseC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseC")
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPart {
    pub source: CopySource,
    pub range: Option<ByteRange>,
    pub conditions: Conditions,
    pub sse_c: Option<SseC>,
    pub source_sse_c: Option<SseC>,
}

/// The fields of a copy request that have a header, named neutrally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Source,
    Range,
    IfMatch,
    IfNoneMatch,
    IfModifiedSince,
    IfUnmodifiedSince,
    SseAlgorithm,
    SseKey,
    SseKeyMd5,
    SourceSseAlgorithm,
    SourceSseKey,
    SourceSseKeyMd5,
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }

    /// OBS and COS accept only the pairs (if-match, if-unmodified-since) and
    /// (if-none-match, if-modified-since); S3 takes any combination and applies its precedence.
    pub fn expressible_in(&self, d: Dialect) -> bool {
        if d == Dialect::S3 {
            return true;
        }
        let positive = self.if_match.is_some() || self.if_unmodified_since.is_some();
        let negative = self.if_none_match.is_some() || self.if_modified_since.is_some();
        !(positive && negative)
    }

    /// Evaluate against the source's ETag and Last-Modified with S3's precedence:
    /// a true if-match overrides a false if-unmodified-since, a false if-none-match wins over
    /// a true if-modified-since. `Ok(())` means copy.
    pub fn evaluate(&self, etag: &str, last_modified: i64) -> Result<(), ApiError> {
        let failed = || {
            ApiError::new(
                Code::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            )
        };
        let same = |want: &str| {
            let e = etag.trim().trim_matches('"');
            want.split(',')
                .any(|w| w.trim() == "*" || w.trim().trim_matches('"') == e)
        };
        match (&self.if_match, self.if_unmodified_since) {
            (Some(m), _) if !same(m) => return Err(failed()),
            (None, Some(t)) if last_modified > t => return Err(failed()),
            _ => {}
        }
        match (&self.if_none_match, self.if_modified_since) {
            (Some(m), _) if same(m) => return Err(failed()),
            (None, Some(t)) if last_modified <= t => return Err(failed()),
            _ => {}
        }
        Ok(())
    }
}

fn http_date(t: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64))
}

impl CopyPart {
    /// Parse from a request's headers (lower-case names) in `dialect`. `encoded_values` says the
    /// client percent-encodes header values (the OBS SDK, in every signing mode); they are decoded,
    /// except the source, which `parse_source` decodes.
    pub fn parse(
        dialect: Dialect,
        headers: &[(String, String)],
        suffixes: &[String],
        encoded_values: bool,
    ) -> Result<Self, ApiError> {
        let get = |f: Field| -> Option<String> {
            let name = dialect.copy_header(f);
            let v = headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())?;
            Some(if encoded_values && f != Field::Source {
                crate::sign::percent_decode(v)
            } else {
                v.to_string()
            })
        };
        let source =
            copy::parse_source(dialect, &get(Field::Source).unwrap_or_default(), suffixes)?;
        let range = match get(Field::Range) {
            // The COS SDK sends an empty range for "the whole object".
            Some(r) if !r.trim().is_empty() => {
                let (first, last) = copy::check_range(&r)?;
                Some(ByteRange { first, last })
            }
            _ => None,
        };
        let date = |f: Field| -> Result<Option<i64>, ApiError> {
            match get(f) {
                None => Ok(None),
                Some(v) => crate::auth::parse_date(&v).map(Some).ok_or_else(|| {
                    ApiError::invalid_argument(format!("'{v}' is not an HTTP date"))
                }),
            }
        };
        let conditions = Conditions {
            if_match: get(Field::IfMatch),
            if_none_match: get(Field::IfNoneMatch),
            if_modified_since: date(Field::IfModifiedSince)?,
            if_unmodified_since: date(Field::IfUnmodifiedSince)?,
        };
        let sse = |a: Field, k: Field, m: Field| -> Result<Option<SseC>, ApiError> {
            let (a, k, m) = (get(a), get(k), get(m));
            copy::check_sse_c(a.as_deref(), k.as_deref(), m.as_deref())?;
            Ok(match (a, k) {
                (Some(algorithm), Some(key)) => Some(SseC {
                    algorithm,
                    key,
                    key_md5: m,
                }),
                _ => None,
            })
        };
        Ok(CopyPart {
            source,
            range,
            conditions,
            sse_c: sse(Field::SseAlgorithm, Field::SseKey, Field::SseKeyMd5)?,
            source_sse_c: sse(
                Field::SourceSseAlgorithm,
                Field::SourceSseKey,
                Field::SourceSseKeyMd5,
            )?,
        })
    }

    /// Headers for `to`. `source_backend` is where the (renamed) source bucket lives;
    /// `conditions` is false when the proxy evaluated them itself.
    pub fn headers(
        &self,
        to: Dialect,
        source_backend: &Backend,
        conditions: bool,
    ) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(8);
        // The OBS SDK percent-encodes header values and OBS decodes them; the source has its own encoding.
        let mut put = |f: Field, v: String| {
            let v = if to == Dialect::Obs && f != Field::Source {
                crate::dialect::obs::encode_header_value(&v)
            } else {
                v
            };
            out.push((to.copy_header(f), v))
        };
        put(
            Field::Source,
            copy::render_source(to, &self.source, source_backend),
        );
        if let Some(r) = self.range {
            put(Field::Range, format!("bytes={}-{}", r.first, r.last));
        }
        if conditions {
            let c = &self.conditions;
            if let Some(v) = &c.if_match {
                put(Field::IfMatch, v.clone());
            }
            if let Some(v) = &c.if_none_match {
                put(Field::IfNoneMatch, v.clone());
            }
            if let Some(t) = c.if_modified_since {
                put(Field::IfModifiedSince, http_date(t));
            }
            if let Some(t) = c.if_unmodified_since {
                put(Field::IfUnmodifiedSince, http_date(t));
            }
        }
        for (s, fields) in [
            (
                &self.sse_c,
                [Field::SseAlgorithm, Field::SseKey, Field::SseKeyMd5],
            ),
            (
                &self.source_sse_c,
                [
                    Field::SourceSseAlgorithm,
                    Field::SourceSseKey,
                    Field::SourceSseKeyMd5,
                ],
            ),
        ] {
            if let Some(s) = s {
                put(fields[0], s.algorithm.clone());
                put(fields[1], s.key.clone());
                if let Some(m) = &s.key_md5 {
                    put(fields[2], m.clone());
                }
            }
        }
        out
    }
}

impl Dialect {
    /// The header that carries `f` in this dialect.
    pub fn copy_header(self, f: Field) -> String {
        let suffix = COPY_FIELDS
            .iter()
            .find(|(x, _)| *x == f)
            .map(|(_, s)| *s)
            .unwrap_or("");
        format!("{}{}", self.vocab().prefix, suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_s3() {
        let c = |m: Option<&str>, nm: Option<&str>, ms: Option<i64>, us: Option<i64>| Conditions {
            if_match: m.map(str::to_string),
            if_none_match: nm.map(str::to_string),
            if_modified_since: ms,
            if_unmodified_since: us,
        };
        // if-match true + if-unmodified-since false: copies.
        assert!(c(Some("\"e\""), None, None, Some(10))
            .evaluate("\"e\"", 20)
            .is_ok());
        // if-none-match false + if-modified-since true: 412.
        assert!(c(None, Some("e"), Some(10), None)
            .evaluate("e", 20)
            .is_err());
        assert!(c(Some("x"), None, None, None).evaluate("e", 0).is_err());
        assert!(c(None, None, Some(20), None).evaluate("e", 20).is_err());
        assert!(c(None, None, None, Some(19)).evaluate("e", 20).is_err());
        assert!(c(Some("e"), None, Some(5), None).evaluate("e", 20).is_ok());
        assert!(!c(Some("e"), None, Some(5), None).expressible_in(Dialect::Obs));
        assert!(c(Some("e"), None, Some(5), None).expressible_in(Dialect::S3));
        assert!(c(Some("e"), None, None, Some(5)).expressible_in(Dialect::Cos));
    }

    #[test]
    fn sse_keys_are_hidden_from_debug() {
        let s = SseC {
            algorithm: "AES256".into(),
            key: "c2VjcmV0".into(),
            key_md5: None,
        };
        assert!(!format!("{s:?}").contains("c2VjcmV0"));
    }
}
