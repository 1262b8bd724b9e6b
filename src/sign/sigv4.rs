//! AWS Signature V4 for S3, including the aws-chunked chunk and trailer signatures.

use super::{hmac_sha256, sha256_hex, uri_encode};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Canonical query from decoded pairs: names and values RFC 3986-encoded, sorted.
pub fn canonical_query(decoded: &[(String, Option<String>)]) -> String {
    let mut enc: Vec<(String, String)> = decoded
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v.as_deref().unwrap_or(""))))
        .collect();
    enc.sort();
    enc.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Header value as SigV4 canonicalises it: trimmed, inner whitespace runs collapsed.
pub fn canonical_header_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `signed` lists lower-case header names in the order to sign; `lookup` returns all values of a name.
pub fn canonical_request<'a>(
    method: &str,
    raw_path: &str,
    canonical_query: &str,
    signed: &[&str],
    lookup: impl Fn(&str) -> Vec<&'a str>,
    payload_hash: &str,
) -> String {
    let mut s = String::with_capacity(512);
    s.push_str(method);
    s.push('\n');
    s.push_str(raw_path);
    s.push('\n');
    s.push_str(canonical_query);
    s.push('\n');
    for h in signed {
        s.push_str(h);
        s.push(':');
        let vals: Vec<String> = lookup(h)
            .iter()
            .map(|v| canonical_header_value(v))
            .collect();
        s.push_str(&vals.join(","));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&signed.join(";"));
    s.push('\n');
    s.push_str(payload_hash);
    s
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// kSigning for a scope `yyyymmdd/region/service/aws4_request`.
pub fn signing_key(secret: &str, scope: &str) -> [u8; 32] {
    let mut parts = scope.split('/');
    let date = parts.next().unwrap_or("");
    let mut k = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for p in parts {
        k = hmac_sha256(&k, p.as_bytes());
    }
    k
}

pub fn signature(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(key, string_to_sign.as_bytes()))
}

/// String to sign for one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
pub fn chunk_string_to_sign(
    amz_date: &str,
    scope: &str,
    prev_sig: &str,
    chunk_sha256: &str,
) -> String {
    format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev_sig}\n{EMPTY_SHA256}\n{chunk_sha256}"
    )
}

/// String to sign for the trailer of a signed aws-chunked body.
pub fn trailer_string_to_sign(
    amz_date: &str,
    scope: &str,
    prev_sig: &str,
    trailer: &str,
) -> String {
    format!(
        "AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{prev_sig}\n{}",
        sha256_hex(trailer.as_bytes())
    )
}

pub fn authorization(access_key: &str, scope: &str, signed: &[&str], signature: &str) -> String {
    format!(
        "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    )
}
