//! From the backend's answer to the client's: headers into the client's namespace,
//! error documents into the client's shape, result documents into its namespace.

use crate::dialect::{translate_header, Dialect};
use crate::error::{status_for_code, ApiError};
use crate::request::Op;
use crate::xml;

/// Response headers that are the transport's business, or replaced by the proxy.
const DROP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "server",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Translate backend response headers. Always ends with the client's request-id header.
pub fn headers(
    from: Dialect,
    to: Dialect,
    input: &[(String, String)],
    request_id: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(input.len() + 2);
    for (k, v) in input {
        if DROP.contains(&k.as_str()) {
            continue;
        }
        if from.neutral_suffix(k).is_some() {
            if let Some(t) = translate_header(from, to, k, v) {
                out.push(t);
            }
        } else if !k.starts_with("x-amz-") && !k.starts_with("x-obs-") && !k.starts_with("x-cos-") {
            out.push((k.clone(), v.clone()));
        }
    }
    finish(to, &mut out, request_id);
    out
}

/// Add the request-id and server headers a client of `to` looks for, if missing.
pub fn finish(to: Dialect, out: &mut Vec<(String, String)>, request_id: &str) {
    let v = to.vocab();
    if !out.iter().any(|(k, _)| k == v.request_id) {
        out.push((v.request_id.to_string(), request_id.to_string()));
    }
    if let Some(id2) = v.id2 {
        if !out.iter().any(|(k, _)| k == id2) {
            out.push((id2.to_string(), request_id.to_string()));
        }
    }
    out.push(("server".into(), v.server.to_string()));
}

/// Headers for an answer whose body the proxy re-rendered: the length is recomputed by whoever
/// writes the body, and an error document carries no result headers.
pub fn for_rendered_body(headers: &mut Vec<(String, String)>, status: u16) {
    headers.retain(|(k, _)| k != "content-length");
    if status >= 300 {
        headers.retain(|(k, _)| k != "content-type" && k != "etag");
        headers.push(("content-type".into(), "application/xml".into()));
    }
}

/// What to send for a buffered backend answer: (status, body, counted as a failed 200).
pub struct Body {
    pub status: u16,
    pub body: Vec<u8>,
    pub failed_200: bool,
}

/// Translate a complete backend body.
pub fn body(
    op: Op,
    status: u16,
    to: Dialect,
    body: &[u8],
    request_id: &str,
    resource: &str,
) -> Body {
    if let Some(e) = xml::parse_error(body) {
        let failed_200 = status < 300;
        let status = if status < 300 {
            status_for_code(&e.code)
        } else {
            status
        };
        let err = ApiError::new(
            status,
            if e.code.is_empty() {
                "InternalError"
            } else {
                &e.code
            },
            e.message,
        );
        let res = e.resource.as_deref().unwrap_or(resource);
        return Body {
            status,
            body: xml::render_error(to, &err, res, request_id).into_bytes(),
            failed_200,
        };
    }
    if status >= 300 {
        // An error answer that is not an S3 error document: keep the status, give the client a document it can parse.
        // An empty or non-XML error body still becomes a document the client's SDK can parse.
        let message = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
        let err = ApiError::new(status, code_for_status(status), message);
        return Body {
            status,
            body: xml::render_error(to, &err, resource, request_id).into_bytes(),
            failed_200: false,
        };
    }
    if op.may_fail_with_200() {
        match xml::copy_result(body) {
            Some(r) if op == Op::UploadPartCopy || op == Op::CopyObject => {
                return Body {
                    status,
                    body: xml::render_copy_result(to, op == Op::UploadPartCopy, &r).into_bytes(),
                    failed_200: false,
                };
            }
            Some(_) => {}
            None if op != Op::Complete => {
                let err = ApiError::internal(
                    "The backend answered 200 without an ETag; the copy did not happen",
                );
                return Body {
                    status: 500,
                    body: xml::render_error(to, &err, resource, request_id).into_bytes(),
                    failed_200: true,
                };
            }
            None => {}
        }
    }
    match xml::rewrite_namespace(body, to) {
        Some(b) => Body {
            status,
            body: b,
            failed_200: false,
        },
        None => Body {
            status,
            body: body.to_vec(),
            failed_200: false,
        },
    }
}

/// The spelling clouds use on the wire: some SDKs read headers from a case-sensitive dict
/// (cos-python-sdk looks up `ETag`). Vendor headers stay lower-case, as the clouds send them.
pub fn wire_case(lower: &str) -> String {
    if lower.starts_with("x-") {
        return lower.to_string();
    }
    if lower == "etag" {
        return "ETag".to_string();
    }
    let mut out = String::with_capacity(lower.len());
    let mut upper = true;
    for c in lower.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "InvalidRequest",
        403 => "AccessDenied",
        404 => "NoSuchKey",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        411 => "MissingContentLength",
        412 => "PreconditionFailed",
        416 => "InvalidRange",
        501 => "NotImplemented",
        503 => "ServiceUnavailable",
        _ => "InternalError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
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
        let obs = headers(Dialect::S3, Dialect::Obs, &backend, "OURS");
        for (k, v) in [
            ("x-obs-request-id", "R1"),
            ("x-obs-id-2", "I2"),
            ("x-obs-copy-source-version-id", "V1"),
            ("x-obs-server-side-encryption", "kms"),
            ("x-obs-server-side-encryption-kms-key-id", "K"),
            ("x-obs-server-side-encryption-customer-key-md5", "M"),
            ("etag", "\"e\""),
            ("server", "OBS"),
        ] {
            assert!(
                obs.contains(&(k.to_string(), v.to_string())),
                "{k}: {obs:?}"
            );
        }
        assert!(!obs
            .iter()
            .any(|(k, _)| k.starts_with("x-amz-") || k == "connection"));
        let cos = headers(Dialect::S3, Dialect::Cos, &backend, "OURS");
        assert!(cos.contains(&("x-cos-request-id".into(), "R1".into())));
        assert!(cos.contains(&("x-cos-server-side-encryption".into(), "cos/kms".into())));
        assert!(cos.contains(&("x-cos-copy-source-version-id".into(), "V1".into())));
        assert!(!cos.iter().any(|(k, _)| k.ends_with("id-2")));
        // A backend that sends no request id: the proxy's own goes out.
        let bare = headers(Dialect::S3, Dialect::Cos, &h(&[("etag", "x")]), "OURS");
        assert!(bare.contains(&("x-cos-request-id".into(), "OURS".into())));
    }

    #[test]
    fn wire_case_spells_headers_like_the_clouds() {
        assert_eq!(wire_case("etag"), "ETag");
        assert_eq!(wire_case("content-length"), "Content-Length");
        assert_eq!(wire_case("x-cos-request-id"), "x-cos-request-id");
    }
}
