//! Checks at the edge, before authentication and routing: what no cloud would accept is refused
//! here, in the client's dialect, and never reaches a backend.

use crate::dialect::Dialect;
use crate::error::{ApiError, Code};
use crate::request::Inbound;

/// Largest request head (names and values) and number of header fields taken.
const MAX_HEADER_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 100;
/// Largest user metadata (names after the `meta-` prefix and values), as S3.
const MAX_METADATA: usize = 2 * 1024;

/// The request line and headers as a whole.
pub fn check(inb: &Inbound) -> Result<(), ApiError> {
    let size: usize = inb.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_HEADER_BYTES || inb.headers.len() > MAX_HEADERS {
        return Err(ApiError::new(
            Code::RequestHeaderSectionTooLarge,
            "Your request header section exceeds the maximum allowed size",
        ));
    }
    let auth = inb
        .headers
        .iter()
        .filter(|(k, _)| *k == "authorization")
        .count();
    let signed_query = inb.has_param(Dialect::is_query_signature);
    if auth > 1 || (auth == 1 && signed_query) {
        return Err(ApiError::invalid_argument(
            "Only one auth mechanism allowed; only the Authorization header or a signature in the query string should be specified",
        ));
    }
    percent_encoding(inb.raw_path)?;
    percent_encoding(inb.raw_query)?;
    let mut metadata = 0usize;
    for (k, v) in &inb.headers {
        if k.ends_with("-copy-source") {
            percent_encoding(v)?;
        }
        if let Some(name) = meta_name(k) {
            metadata += name.len() + v.len();
        }
    }
    if metadata > MAX_METADATA {
        return Err(ApiError::new(
            Code::MetadataTooLarge,
            format!("Your metadata headers exceed the maximum allowed metadata size ({MAX_METADATA} bytes)"),
        ));
    }
    Ok(())
}

/// The metadata name of an `x-…-meta-name` header (found without a substring searcher: this
/// runs for every header of every request).
fn meta_name(k: &str) -> Option<&str> {
    if !k.starts_with("x-") {
        return None;
    }
    let b = k.as_bytes();
    (1..b.len())
        .find(|&i| b[i] == b'-' && b[i..].starts_with(b"-meta-"))
        .map(|i| &k[i + "-meta-".len()..])
}

/// Every `%` starts a two-digit hex escape.
pub fn percent_encoding(s: &str) -> Result<(), ApiError> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'%') {
        let at = i + p;
        let ok =
            b.len() >= at + 3 && b[at + 1].is_ascii_hexdigit() && b[at + 2].is_ascii_hexdigit();
        if !ok {
            return Err(ApiError::new(
                Code::InvalidURI,
                "Couldn't parse the specified URI: invalid percent-encoding",
            ));
        }
        i = at + 3;
    }
    Ok(())
}

/// A bucket name the client's cloud accepts: 3 to 63 lower-case letters, digits, dots and
/// hyphens, starting and ending with a letter or digit, no `..`, not an IP address (S3 and OBS);
/// COS takes no dots.
pub fn bucket_name(name: &str, client: Dialect) -> Result<(), ApiError> {
    let b = name.as_bytes();
    let edge_ok = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && edge_ok(b.first())
        && edge_ok(b.last())
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && (client.vocab().bucket_dots || !name.contains('.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::InvalidBucketName,
            "The specified bucket is not valid.",
        ))
    }
}

/// A header value after decoding: no control characters (a CR or LF would split the header).
pub fn header_value(v: &str) -> Result<(), ApiError> {
    if v.bytes().any(|c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return Err(ApiError::invalid_argument(
            "A header value contains a control character",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["abc", "via-s3-1250000000", "a.b.c", "1bucket"] {
            assert!(bucket_name(good, Dialect::S3).is_ok(), "{good}");
        }
        for bad in [
            "..",
            "ab",
            "http:",
            "Upper",
            "a..b",
            "-ab",
            "ab-",
            "192.168.1.1",
            "a_b",
            &"a".repeat(64),
        ] {
            assert_eq!(
                bucket_name(bad, Dialect::Obs).unwrap_err().code,
                Code::InvalidBucketName,
                "{bad}"
            );
        }
        // COS takes no dots.
        assert!(bucket_name("a.b-1250000000", Dialect::Cos).is_err());
        assert!(bucket_name("ab-1250000000", Dialect::Cos).is_ok());
    }

    #[test]
    fn percent_escapes() {
        for good in ["/b/a%20b", "", "x=%2F&y", "%41%42"] {
            assert!(percent_encoding(good).is_ok(), "{good}");
        }
        for bad in ["obj%zz.bin", "obj%.bin", "obj%F.bin", "%", "a%4"] {
            assert_eq!(
                percent_encoding(bad).unwrap_err().code,
                Code::InvalidURI,
                "{bad}"
            );
        }
    }

    #[test]
    fn header_values() {
        assert!(header_value("a\tb c").is_ok());
        assert!(header_value("a\r\nx-evil: 1").is_err());
        assert!(header_value("a\u{7f}").is_err());
    }
}
