//! OSS Signature V4 (`OSS4-HMAC-SHA256`): the SigV4 family's key derivation and string to sign
//! with OSS's names (`PARAMS`), over OSS's own canonical request. As oss2 2.19.1
//! (`ProviderAuthV4`), alibabacloud-oss-v2 1.4.1 (`SignerV4`) and ali-oss 6.23.0 (`signUtils`)
//! build it, which the V4 page names its reference
//! (https://www.alibabacloud.com/help/en/oss/developer-reference/recommend-to-use-signature-version-4):
//! - the URI is always `/<bucket>/<key>` (the decoded key, encoded again with `/` kept), even
//!   for a virtual-hosted request;
//! - every query parameter is signed, an empty value as the bare name;
//! - the signed headers are every `x-oss-*`, `content-type` and `content-md5`, and the
//!   `AdditionalHeaders` named, whose list is the fifth line.

use super::sigv4::Params;
use super::{uri_encode_cow, uri_encode_path};

pub const PARAMS: Params = Params {
    algorithm: "OSS4-HMAC-SHA256",
    key_prefix: "aliyun_v4",
    terminator: "aliyun_v4_request",
    header_prefix: "x-oss-",
    service: "oss",
};

/// The only payload hash OSS takes (https://www.alibabacloud.com/help/en/oss/support/0002-00000214).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Whether a header is signed without being named in `AdditionalHeaders`.
pub fn signed_by_default(lower: &str) -> bool {
    lower.starts_with(PARAMS.header_prefix) || lower == "content-type" || lower == "content-md5"
}

/// The canonical request. `query`: decoded pairs; `headers`: (lower-case name, value) as sent;
/// `additional`: lower-case names, sorted; `empty_as_equals`: an empty value renders `k=`
/// (as ali-oss signs it) instead of the bare `k`.
#[allow(clippy::too_many_arguments)]
pub fn canonical_request<Q: AsRef<str>>(
    method: &str,
    bucket: Option<&str>,
    key: &str,
    query: &[(Q, Option<Q>)],
    headers: &[(&str, &str)],
    additional: &[&str],
    payload: &str,
    empty_as_equals: bool,
) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(method);
    s.push('\n');
    let mut uri = String::with_capacity(key.len() + 2 + bucket.map_or(0, str::len));
    uri.push('/');
    if let Some(b) = bucket {
        uri.push_str(b);
        uri.push('/');
    }
    uri.push_str(key);
    s.push_str(&uri_encode_path(&uri));
    s.push('\n');
    let mut q: Vec<(std::borrow::Cow<str>, std::borrow::Cow<str>)> = query
        .iter()
        .map(|(k, v)| {
            let v = v.as_ref().map_or("", |v| v.as_ref());
            (uri_encode_cow(k.as_ref()), uri_encode_cow(v))
        })
        .collect();
    q.sort_unstable();
    for (i, (k, v)) in q.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(k);
        if !v.is_empty() || empty_as_equals {
            s.push('=');
            s.push_str(v);
        }
    }
    s.push('\n');
    let mut h: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| signed_by_default(k) || additional.contains(k))
        .map(|(k, v)| (*k, v.trim()))
        .collect();
    h.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in h {
        s.push_str(k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    s.push('\n');
    for (i, a) in additional.iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        s.push_str(a);
    }
    s.push('\n');
    s.push_str(payload);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uri_names_the_bucket_and_empty_values_are_bare_names() {
        let q = [("marker", Some("")), ("prefix", Some("a/b")), ("acl", None)];
        let cr = canonical_request(
            "GET",
            Some("b"),
            "dir/ü k",
            &q,
            &[
                ("x-oss-date", "20240315T123456Z"),
                ("host", "b.oss"),
                ("content-type", "t"),
            ],
            &["host"],
            UNSIGNED_PAYLOAD,
            false,
        );
        assert_eq!(
            cr,
            "GET\n/b/dir/%C3%BC%20k\nacl&marker&prefix=a%2Fb\ncontent-type:t\nhost:b.oss\n\
             x-oss-date:20240315T123456Z\n\nhost\nUNSIGNED-PAYLOAD"
        );
    }
}
