//! Pure signing functions for the three schemes. Nothing here reads a clock or a socket:
//! callers pass the time and the wire parts, so every intermediate string is testable.

pub mod cos;
pub mod oss4;
pub mod sigv4;
mod subresources;
pub mod v2;

pub use crate::encoding::{
    form_decode, percent_decode, percent_decode_cow, percent_decode_strict, split_query,
    uri_encode, uri_encode_cow, uri_encode_path,
};
use std::fmt;

/// A secret key. `Debug` never shows it, so it cannot leak through a log line. It keeps the last
/// SigV4 signing key derived from it: a key serves a whole day and region, and deriving one costs
/// four HMACs. The key is read without a lock: a worker thread preempted while holding one
/// would stall every other request signed with this secret.
pub struct Secret {
    value: String,
    derived: arc_swap::ArcSwapOption<Derived>,
    /// The last COS SignKey and its key time (a window that usually serves many requests).
    cos_key: arc_swap::ArcSwapOption<(String, String)>,
    /// The secret as an HMAC-SHA1 key (OBS and V2 signatures), its pads hashed once.
    sha1_key: std::sync::OnceLock<hmac::Hmac<sha1::Sha1>>,
}

/// A SigV4 signing key, the scope it was derived for, and a MAC already keyed with it.
struct Derived {
    /// The family's key prefix and the scope the key is for.
    key_prefix: &'static str,
    scope: String,
    key: [u8; 32],
    mac: ring::hmac::Key,
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret {
            value: s.into(),
            derived: arc_swap::ArcSwapOption::empty(),
            cos_key: arc_swap::ArcSwapOption::empty(),
            sha1_key: std::sync::OnceLock::new(),
        }
    }

    /// The base64 HMAC-SHA1 of `string_to_sign` under this secret (OBS and V2 signatures).
    pub fn v2_signature(&self, string_to_sign: &str) -> String {
        use hmac::Mac;
        let key = self.sha1_key.get_or_init(|| {
            // Any key length is valid for HMAC: this cannot fail.
            hmac::Hmac::<sha1::Sha1>::new_from_slice(self.value.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"))
        });
        let mut mac = key.clone();
        mac.update(string_to_sign.as_bytes());
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            mac.finalize().into_bytes(),
        )
    }
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// The SigV4 signing key of family `p` for `scope` (`date/region/service/terminator`),
    /// derived once.
    pub fn sigv4_key(&self, p: &sigv4::Params, scope: &str) -> [u8; 32] {
        self.with_sigv4(p, scope, |k, _| *k)
    }

    /// The hex SigV4 signature of `string_to_sign` under `scope`'s key, from a MAC keyed once
    /// (its inner and outer pads are hashed with the key, not per signature).
    pub fn sigv4_signature(&self, p: &sigv4::Params, scope: &str, string_to_sign: &str) -> String {
        self.with_sigv4(p, scope, |_, mac| {
            let mut s = String::with_capacity(64);
            push_hex(
                &mut s,
                ring::hmac::sign(mac, string_to_sign.as_bytes()).as_ref(),
            );
            s
        })
    }

    /// The COS SignKey for `key_time`, derived once per window (read without a lock).
    pub fn cos_sign_key(&self, key_time: &str) -> String {
        if let Some((window, key)) = self.cos_key.load().as_deref() {
            if window == key_time {
                return key.clone();
            }
        }
        let key = cos::sign_key(&self.value, key_time);
        self.cos_key.store(Some(std::sync::Arc::new((
            key_time.to_string(),
            key.clone(),
        ))));
        key
    }

    fn with_sigv4<T>(
        &self,
        p: &sigv4::Params,
        scope: &str,
        f: impl FnOnce(&[u8; 32], &ring::hmac::Key) -> T,
    ) -> T {
        let current = self.derived.load();
        // The family's prefix is a constant: compared by address first.
        let same = |d: &&Derived| {
            d.scope == scope
                && (std::ptr::eq(d.key_prefix, p.key_prefix) || d.key_prefix == p.key_prefix)
        };
        if let Some(d) = current.as_deref().filter(same) {
            return f(&d.key, &d.mac);
        }
        drop(current);
        // A new day or region: derived here; two threads may both derive it, once.
        let key = sigv4::signing_key(p, &self.value, scope);
        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let out = f(&key, &mac);
        self.derived.store(Some(std::sync::Arc::new(Derived {
            key_prefix: p.key_prefix,
            scope: scope.to_string(),
            key,
            mac,
        })));
        out
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Secret::new(self.value.clone())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

pub fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut out = [0u8; 20];
    out.copy_from_slice(ring::hmac::sign(&key, msg).as_ref());
    out
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::hmac::sign(&key, msg).as_ref());
    out
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

/// Hex SHA-256; the empty body's (most requests') is a constant.
pub fn sha256_hex(data: &[u8]) -> String {
    if data.is_empty() {
        return sigv4::EMPTY_SHA256.to_string();
    }
    let mut s = String::with_capacity(64);
    push_hex(&mut s, &sha256(data));
    s
}

/// Append `bytes` as lower-case hex.
pub fn push_hex(s: &mut String, bytes: &[u8]) {
    // Through a stack buffer: pushing char by char checks capacity at every digit.
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(32) {
        let out = &mut buf[..chunk.len() * 2];
        if hex::encode_to_slice(chunk, out).is_ok() {
            s.push_str(std::str::from_utf8(out).unwrap_or_default());
        }
    }
}

/// Constant-time comparison of two signatures.
pub fn same_signature(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A canonical string safe for a log: values of SSE-C keys and security tokens are replaced.
/// Handles `name:value` lines (V2, SigV4) and `name=value&...` lines (COS).
pub fn redact(canonical: &str) -> String {
    fn secret_name(n: &str) -> bool {
        let n = n.to_ascii_lowercase();
        (n.ends_with("customer-key") || n.contains("security-token")) && !n.ends_with("md5")
    }
    canonical
        .split('\n')
        .map(|line| {
            if let Some((name, _)) = line.split_once(':') {
                if secret_name(name) {
                    return format!("{name}:<redacted>");
                }
            }
            if line.contains('=') && line.contains('&')
                || line.contains("customer-key=")
                || line.contains("security-token=")
            {
                return line
                    .split('&')
                    .map(|p| match p.split_once('=') {
                        Some((n, _)) if secret_name(n) => format!("{n}=<redacted>"),
                        _ => p.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("&");
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cos_sign_key_is_the_one_of_the_window_asked() {
        let secret = Secret::new("cos-secret");
        for window in [
            "1700000000;1700000900",
            "1700000900;1700001800",
            "1700000000;1700000900",
        ] {
            assert_eq!(
                secret.cos_sign_key(window),
                cos::sign_key("cos-secret", window)
            );
        }
    }

    #[test]
    fn a_secret_derives_the_key_of_each_scope_asked_from_any_thread() {
        let secret = std::sync::Arc::new(Secret::new("wJalrXUtnFEMI/K7MDENG"));
        let scopes = [
            "20261128/us-east-1/s3/aws4_request",
            "20261129/eu-west-1/s3/aws4_request",
        ];
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let secret = secret.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let scope = scopes[(i + t) % 2];
                        let p = &sigv4::AWS;
                        let key = sigv4::signing_key(p, secret.expose(), scope);
                        assert_eq!(secret.sigv4_key(p, scope), key);
                        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
                        assert_eq!(
                            secret.sigv4_signature(p, scope, "to sign"),
                            hex::encode(ring::hmac::sign(&mac, b"to sign"))
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn percent_decoding_borrows_only_what_needs_no_decoding() {
        use std::borrow::Cow;
        assert!(matches!(
            percent_decode_cow("uploadId"),
            Cow::Borrowed("uploadId")
        ));
        assert_eq!(percent_decode_cow("a%20b%2Fc"), "a b/c");
        // Bytes that are not UTF-8 are replaced, never a panic.
        assert_eq!(percent_decode_cow("caf%E9"), "caf\u{fffd}");
        assert_eq!(form_decode("a+b%2B"), "a b+");
        assert_eq!(form_decode("a%2Bb"), "a+b");
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("very-secret");
        assert!(!format!("{s:?}").contains("very-secret"));
    }

    #[test]
    fn canonical_strings_are_redacted() {
        let v4 = "PUT\n/b/k\n\nhost:h\nx-amz-server-side-encryption-customer-key:S3CR3T\nx-amz-server-side-encryption-customer-key-md5:md5\nx-amz-security-token:T0K\n";
        let r = redact(v4);
        assert!(
            !r.contains("S3CR3T") && !r.contains("T0K") && r.contains("key-md5:md5"),
            "{r}"
        );
        let cos = "put\n/k\n\nhost=h&x-cos-copy-source-server-side-encryption-customer-key=S3CR3T&x-cos-security-token=T0K\n";
        let r = redact(cos);
        assert!(
            !r.contains("S3CR3T") && !r.contains("T0K") && r.contains("host=h"),
            "{r}"
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(uri_encode("a b+c/~"), "a%20b%2Bc%2F~");
        assert_eq!(uri_encode_path("a b+c/~é"), "a%20b%2Bc/~%C3%A9");
        assert_eq!(form_decode("a+b%2B"), "a b+");
        assert_eq!(
            split_query("a=1&b&&c=").collect::<Vec<_>>(),
            vec![("a", Some("1")), ("b", None), ("c", Some(""))]
        );
        assert_eq!(
            split_query("&é=x=y&&=v&k").collect::<Vec<_>>(),
            vec![("é", Some("x=y")), ("", Some("v")), ("k", None)]
        );
        assert_eq!(split_query("").count(), 0);
        let mut h = String::from("x");
        push_hex(&mut h, &[]);
        push_hex(&mut h, &(0u8..40).map(|i| i * 6).collect::<Vec<_>>());
        assert_eq!(
            h,
            format!(
                "x{}",
                hex::encode((0u8..40).map(|i| i * 6).collect::<Vec<_>>())
            )
        );
        assert!(same_signature("abc", "abc"));
        assert!(!same_signature("abc", "abd"));
        assert!(!same_signature("abc", "ab"));
    }
}
