//! Tencent COS `q-sign-algorithm=sha1`.

use super::{hmac_sha1, uri_encode};
use sha1::Digest;

/// SignKey = hex(HMAC-SHA1(secret, key_time)); it is used as ASCII key bytes.
pub fn sign_key(secret: &str, key_time: &str) -> String {
    hex::encode(hmac_sha1(secret.as_bytes(), key_time.as_bytes()))
}

/// Encode a (name, value) list the COS way: names lower-cased after encoding, sorted by name.
/// Returns ("a=1&b=2", "a;b").
pub fn encode_list<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> (String, String) {
    let mut enc: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| (uri_encode(k).to_ascii_lowercase(), uri_encode(v)))
        .collect();
    enc.sort();
    let joined = enc
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let names = enc
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (joined, names)
}

/// HttpString = method \n decoded-path \n params \n headers \n
pub fn http_string(method: &str, decoded_path: &str, params: &str, headers: &str) -> String {
    format!(
        "{}\n{}\n{}\n{}\n",
        method.to_ascii_lowercase(),
        decoded_path,
        params,
        headers
    )
}

pub fn string_to_sign(key_time: &str, http_string: &str) -> String {
    let digest = sha1::Sha1::digest(http_string.as_bytes());
    format!("sha1\n{}\n{}\n", key_time, hex::encode(digest))
}

pub fn signature(sign_key: &str, string_to_sign: &str) -> String {
    hex::encode(hmac_sha1(sign_key.as_bytes(), string_to_sign.as_bytes()))
}

pub fn authorization(
    access_key: &str,
    key_time: &str,
    header_list: &str,
    param_list: &str,
    signature: &str,
) -> String {
    format!(
        "q-sign-algorithm=sha1&q-ak={access_key}&q-sign-time={key_time}&q-key-time={key_time}&q-header-list={header_list}&q-url-param-list={param_list}&q-signature={signature}"
    )
}

/// Headers the COS SDK signs besides `x-cos-*`; the outbound signer signs the same set.
pub const SIGNED_HEADERS: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-type",
    "content-md5",
    "content-length",
    "expect",
    "expires",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "origin",
    "range",
    "transfer-encoding",
];

pub fn is_signed_header(lower: &str) -> bool {
    SIGNED_HEADERS.contains(&lower) || lower.starts_with("x-cos-")
}
