//! The request's wire parts for the backend: which query parameters and headers go on, under
//! which names, and which operation the request is.

use super::Inbound;
use crate::dialect::{s3, translate_header, Dialect};
use crate::error::{ApiError, Code};
use crate::model::Op;
use crate::outbound::Outbound;
use crate::sign;

/// List parameters that the COS SDK always sends, empty when unset; some backends take an empty
/// delimiter literally, so an empty one is dropped (S3 treats it as absent).
pub(super) const EMPTY_MEANS_ABSENT: &[&str] = &[
    "delimiter",
    "prefix",
    "marker",
    "key-marker",
    "upload-id-marker",
    "version-id-marker",
    "continuation-token",
    "start-after",
    "encoding-type",
    "max-keys",
    "max-uploads",
    "max-parts",
    "part-number-marker",
];

/// Query parameters that carry credentials: they never go upstream.
pub(super) fn is_auth_param(name: &str) -> bool {
    Dialect::is_presign_param(name)
}

/// Standard headers that pass through unchanged.
const PASS_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-md5",
    "content-encoding",
    "content-language",
    "content-disposition",
    "cache-control",
    "expires",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "user-agent",
];

/// Neutral suffixes that belong to the client's own authentication or framing.
const DROP_SUFFIXES: &[&str] = &[
    "date",
    "content-sha256",
    "security-token",
    "decoded-content-length",
    "trailer",
    "copy-source",
    // Names the algorithm of a checksum header or trailer, which carries it on its own.
    "sdk-checksum-algorithm",
    "api",
];

pub(super) fn classify(inb: &Inbound, has_bucket: bool, has_key: bool, client: Dialect) -> Op {
    let m = inb.method;
    if !has_bucket {
        return Op::ListBuckets;
    }
    if !has_key {
        return match m {
            "GET" if inb.query_has("uploads") => Op::ListUploads,
            "GET"
                if inb.params_all(|k| {
                    matches!(
                        k,
                        "list-type"
                            | "prefix"
                            | "delimiter"
                            | "marker"
                            | "max-keys"
                            | "continuation-token"
                            | "start-after"
                            | "encoding-type"
                            | "fetch-owner"
                    ) || is_auth_param(k)
                }) =>
            {
                Op::ListObjects
            }
            _ => Op::Bucket,
        };
    }
    let prefix = client.vocab().prefix;
    let has_copy = inb
        .headers
        .iter()
        .any(|(k, _)| k.strip_prefix(prefix) == Some("copy-source"));
    match m {
        "PUT" if inb.query_has("partNumber") || inb.query_has("uploadId") => {
            if has_copy {
                Op::UploadPartCopy
            } else {
                Op::UploadPart
            }
        }
        "PUT" if has_copy => Op::CopyObject,
        "PUT" if inb.params_all(|k| is_auth_param(k) || k == "x-id") => Op::PutObject,
        "POST" if inb.query_has("uploads") => Op::Initiate,
        "POST" if inb.query_has("uploadId") => Op::Complete,
        "DELETE" if inb.query_has("uploadId") => Op::Abort,
        "GET" if inb.query_has("uploadId") => Op::ListParts,
        "GET" => Op::GetObject,
        _ => Op::Object,
    }
}

/// Neutral suffixes UploadPart / UploadPartCopy refuse: they belong on Initiate.
const NOT_ON_PARTS: &[&str] = &[
    "server-side-encryption",
    "server-side-encryption-aws-kms-key-id",
    "server-side-encryption-context",
    "server-side-encryption-bucket-key-enabled",
    "storage-class",
    "acl",
    "website-redirect-location",
    "tagging",
];

/// A storage class or canned ACL the backend's cloud has no equivalent for.
fn no_equivalent(suffix: &str, value: &str, to: Dialect) -> ApiError {
    let (code, what) = if suffix == "storage-class" {
        (Code::InvalidStorageClass, "storage class")
    } else {
        (Code::InvalidArgument, "canned ACL")
    };
    ApiError::new(
        code,
        format!(
            "The {what} '{value}' has no equivalent at this bucket's {} backend",
            to.name()
        ),
    )
}

pub(super) fn translate_request_headers(
    client: Dialect,
    to: Dialect,
    op: Op,
    inb: &Inbound,
    encoded: bool,
    out: &mut Outbound,
) -> Result<(), ApiError> {
    let copy_op = matches!(op, Op::UploadPartCopy | Op::CopyObject);
    let part_op = matches!(op, Op::UploadPartCopy | Op::UploadPart);
    for &(k, v) in &inb.headers {
        // The table's own name is kept: no copy of the name per request.
        if let Some(&k) = PASS_HEADERS.iter().find(|&&p| p == k) {
            if k == "content-encoding" {
                // aws-chunked framing is removed before the body goes upstream.
                let rest: Vec<&str> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                    .collect();
                if !rest.is_empty() {
                    out.headers.push((k.into(), rest.join(",")));
                }
                continue;
            }
            out.headers.push((k.into(), v.to_string()));
            continue;
        }
        let Some(suffix) = client.neutral_suffix(k) else {
            continue;
        };
        if DROP_SUFFIXES.contains(&suffix.as_str())
            || (copy_op && crate::dialect::is_copy_field(&suffix))
            || (part_op
                && (NOT_ON_PARTS.contains(&suffix.as_str())
                    || suffix.starts_with("meta-")
                    || suffix.starts_with("grant-")))
        {
            continue;
        }
        if to.refuses(&suffix) {
            return Err(ApiError::not_implemented(format!(
                "This bucket's {} backend offers no equivalent of {k}",
                to.name()
            )));
        }
        // The OBS SDK percent-encodes every header value; the neutral form is decoded.
        let value = if encoded {
            let d = sign::percent_decode(v);
            super::edge::header_value(&d)?;
            d
        } else {
            v.to_string()
        };
        if let Some((name, value)) = translate_header(client, to, k, &value) {
            let name = match op {
                Op::Bucket => to.bucket_header_name(&suffix).unwrap_or(name),
                _ => name,
            };
            let value = match to.accepted_value(&suffix, &value, op == Op::Bucket) {
                Some(v) if v == value => value,
                Some(v) => v.to_string(),
                None => return Err(no_equivalent(&suffix, v, to)),
            };
            let value = to.encode_header_value(&name, value);
            out.headers.push((name.into(), value));
        }
    }
    if let Some(dl) = inb.header(s3::DECODED_LENGTH) {
        let n: u64 = dl.trim().parse().map_err(|_| {
            ApiError::invalid_argument(format!("{} is not a number", s3::DECODED_LENGTH))
        })?;
        out.set_header("content-length", n.to_string());
    }
    Ok(())
}
