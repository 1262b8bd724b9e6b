//! The Signature V4 family, parameterised by what each member names its own way (`Params`, like
//! aws-sigv4's `SigningParams`); AWS's aws-chunked chunk and trailer signatures.

use super::{hmac_sha256, push_hex, sha256_hex, uri_encode_cow};
use std::borrow::Cow;

/// What a member of the SigV4 family names its own way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// The algorithm's name, first in `Authorization` and the string to sign.
    pub algorithm: &'static str,
    /// Prefixed to the secret for the first key derivation.
    pub key_prefix: &'static str,
    /// The scope's last part.
    pub terminator: &'static str,
    /// Its header namespace (date, content hash, token).
    pub header_prefix: &'static str,
    /// The scope's service.
    pub service: &'static str,
}

/// AWS's (S3 and its compatibles).
pub const AWS: Params = Params {
    algorithm: "AWS4-HMAC-SHA256",
    key_prefix: "AWS4",
    terminator: "aws4_request",
    header_prefix: "x-amz-",
    service: "s3",
};

impl Params {
    /// `yyyymmdd/region/service/terminator` for the day of `amz_date` (`yyyymmddThhmmssZ`).
    pub fn scope(&self, amz_date: &str, region: &str) -> String {
        let day = amz_date.get(..8).unwrap_or(amz_date);
        let mut s = String::with_capacity(
            day.len() + region.len() + self.service.len() + self.terminator.len() + 3,
        );
        s.push_str(day);
        s.push('/');
        s.push_str(region);
        s.push('/');
        s.push_str(self.service);
        s.push('/');
        s.push_str(self.terminator);
        s
    }
}

pub const ALGORITHM: &str = AWS.algorithm;
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Canonical query from decoded pairs: names and values RFC 3986-encoded, sorted.
pub fn canonical_query<S: AsRef<str>>(decoded: &[(S, Option<S>)]) -> String {
    let mut enc: Vec<(Cow<str>, Cow<str>)> = decoded
        .iter()
        .map(|(k, v)| {
            (
                uri_encode_cow(k.as_ref()),
                uri_encode_cow(v.as_ref().map_or("", |v| v.as_ref())),
            )
        })
        .collect();
    enc.sort_unstable();
    let mut s = String::with_capacity(enc.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in enc.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

/// Header value as SigV4 canonicalises it: trimmed, inner whitespace runs collapsed.
pub fn canonical_header_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    push_canonical_value(&mut s, v);
    s
}

fn push_canonical_value(s: &mut String, v: &str) {
    // Most values are one printable ASCII word: nothing to trim or fold.
    if v.bytes().all(|b| b.is_ascii_graphic()) {
        s.push_str(v);
        return;
    }
    for (i, w) in v.split_whitespace().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(w);
    }
}

/// `signed` lists lower-case header names in the order to sign; `lookup` yields all values of a name.
pub fn canonical_request<'a, 's, I: IntoIterator<Item = &'a str>>(
    method: &str,
    raw_path: &str,
    canonical_query: &str,
    signed: &[&'s str],
    lookup: impl Fn(&'s str) -> I,
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
        for (i, v) in lookup(h).into_iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_canonical_value(&mut s, v);
        }
        s.push('\n');
    }
    s.push('\n');
    push_joined(&mut s, signed, ';');
    s.push('\n');
    s.push_str(payload_hash);
    s
}

fn push_joined(s: &mut String, parts: &[&str], sep: char) {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push(sep);
        }
        s.push_str(p);
    }
}

pub fn string_to_sign(p: &Params, amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut s = String::with_capacity(p.algorithm.len() + amz_date.len() + scope.len() + 67);
    s.push_str(p.algorithm);
    s.push('\n');
    s.push_str(amz_date);
    s.push('\n');
    s.push_str(scope);
    s.push('\n');
    push_hex(&mut s, &super::sha256(canonical_request.as_bytes()));
    s
}

/// kSigning for a scope `yyyymmdd/region/service/terminator`.
pub fn signing_key(p: &Params, secret: &str, scope: &str) -> [u8; 32] {
    let mut parts = scope.split('/');
    let date = parts.next().unwrap_or("");
    let first = format!("{}{secret}", p.key_prefix);
    let mut k = hmac_sha256(first.as_bytes(), date.as_bytes());
    for p in parts {
        k = hmac_sha256(&k, p.as_bytes());
    }
    k
}

pub fn signature(key: &[u8; 32], string_to_sign: &str) -> String {
    let mut s = String::with_capacity(64);
    push_hex(&mut s, &hmac_sha256(key, string_to_sign.as_bytes()));
    s
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

pub fn authorization(
    p: &Params,
    access_key: &str,
    scope: &str,
    signed: &[&str],
    signature: &str,
) -> String {
    let names: usize = signed.iter().map(|h| h.len() + 1).sum();
    let mut s = String::with_capacity(
        p.algorithm.len() + 43 + access_key.len() + scope.len() + names + signature.len(),
    );
    s.push_str(p.algorithm);
    s.push_str(" Credential=");
    s.push_str(access_key);
    s.push('/');
    s.push_str(scope);
    s.push_str(", SignedHeaders=");
    push_joined(&mut s, signed, ';');
    s.push_str(", Signature=");
    s.push_str(signature);
    s
}
