//! The neutral model: the operations and the parts of an Upload Part - Copy, with no wire names.
//! The dialects parse into it and render from it; it knows none of them.

/// The cap on a buffered result document or error (copy, Complete, Initiate): they are under 1 KiB.
pub const RESULT_CAP: usize = 64 << 10;
/// The cap on a buffered listing or configuration document.
pub const LISTING_CAP: usize = 8 << 20;

use crate::error::{ApiError, Code};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    Bucket,
    ListObjects,
    ListUploads,
    Object,
    GetObject,
    PutObject,
    CopyObject,
    UploadPart,
    UploadPartCopy,
    Initiate,
    Complete,
    Abort,
    ListParts,
}

impl Op {
    /// The operation's name in metrics and access logs (S3's, as the most widely known).
    pub fn name(self) -> &'static str {
        match self {
            Op::ListBuckets => "ListBuckets",
            Op::Bucket => "Bucket",
            Op::ListObjects => "ListObjects",
            Op::ListUploads => "ListMultipartUploads",
            Op::Object => "Object",
            Op::GetObject => "GetObject",
            Op::PutObject => "PutObject",
            Op::CopyObject => "CopyObject",
            Op::UploadPart => "UploadPart",
            Op::UploadPartCopy => "UploadPartCopy",
            Op::Initiate => "CreateMultipartUpload",
            Op::Complete => "CompleteMultipartUpload",
            Op::Abort => "AbortMultipartUpload",
            Op::ListParts => "ListParts",
        }
    }
    /// Request bodies of these flow through the proxy; GetObject's answer is relayed as a stream;
    /// all others are small and buffered with a cap.
    pub fn streamed(self) -> bool {
        matches!(self, Op::PutObject | Op::UploadPart)
    }
    /// The most of its answer body the proxy buffers: a result document is under 1 KiB, a
    /// listing or configuration a few MiB at most (10,000 parts, 1,000 keys of 1 KiB).
    pub fn answer_cap(self) -> usize {
        if self.small_result() {
            RESULT_CAP
        } else {
            LISTING_CAP
        }
    }
    /// Operations whose answer is a small result document (copy, Complete, Initiate) or none:
    /// never a listing or a configuration.
    pub fn small_result(self) -> bool {
        self.may_fail_with_200() || matches!(self, Op::Initiate | Op::PutObject | Op::UploadPart)
    }
    /// Operations whose 2xx answer must be one whole XML document.
    pub fn xml_result(self) -> bool {
        matches!(
            self,
            Op::ListBuckets | Op::ListObjects | Op::ListUploads | Op::ListParts | Op::Initiate
        ) || self.may_fail_with_200()
    }
    /// Operations whose 200 answer may carry an error document.
    pub fn may_fail_with_200(self) -> bool {
        matches!(self, Op::CopyObject | Op::UploadPartCopy | Op::Complete)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

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

    /// Whether a positive condition (if-match, if-unmodified-since) is combined with a negative
    /// one (if-none-match, if-modified-since).
    pub fn mixes_pairs(&self) -> bool {
        let positive = self.if_match.is_some() || self.if_unmodified_since.is_some();
        let negative = self.if_none_match.is_some() || self.if_modified_since.is_some();
        positive && negative
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
        assert!(c(Some("e"), None, Some(5), None).mixes_pairs());
        assert!(!c(Some("e"), None, None, Some(5)).mixes_pairs());
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
