//! The request head for the wire, and answer headers as (name, value) pairs.

use crate::wire::Outbound;
use crate::wire::{Headers, Name};
use bytes::Bytes;
use pingora::http::RequestHeader;
use pingora::prelude::Result as PResult;
use pingora::{Error, ErrorType};

/// The request head for the wire. Names are sent as given (lower-case; pingora titles the
/// standard ones): no case map is kept, so each header is one name and one value, parsed once.
pub(super) fn request_header(out: &Outbound) -> PResult<RequestHeader> {
    let bad = |what: &'static str| Error::explain(ErrorType::InvalidHTTPHeader, what);
    // Filled as plain parts: pingora's own `append_header` turns each name into a case name
    // and parses it again, work a head without a case map does not need. The target and the
    // header values share one buffer (one allocation, not one per value); each part is a
    // slice of it, parsed where it was built, not copied.
    let values: usize = out.headers.iter().map(|(_, v)| v.len()).sum();
    let mut buf = String::with_capacity(out.path.len() + 64 + values);
    out.push_uri(&mut buf);
    let target_len = buf.len();
    for (_, v) in &out.headers {
        buf.push_str(v);
    }
    let buf = Bytes::from(buf);
    let mut parts = match http::uri::PathAndQuery::from_maybe_shared(buf.slice(..target_len)) {
        Ok(target) => {
            let (mut parts, ()) = http::Request::new(()).into_parts();
            parts.method =
                http::Method::from_bytes(out.method.as_bytes()).map_err(|_| bad("method"))?;
            parts.uri = target.into();
            parts
        }
        // What `http` refuses as it stands (a fragment...), pingora's target parsing decides.
        Err(_) => http::request::Parts::from(RequestHeader::build_no_case(
            out.method.as_str(),
            out.uri().as_bytes(),
            None,
        )?),
    };
    parts.headers.reserve(out.headers.len());
    let mut at = target_len;
    for (k, v) in &out.headers {
        let name = header_name(k).map_err(|_| bad("header name"))?;
        let value = http::HeaderValue::from_maybe_shared(buf.slice(at..at + v.len()))
            .map_err(|_| bad("header value"))?;
        at += v.len();
        parts.headers.append(name, value);
    }
    Ok(RequestHeader::from(parts))
}

/// Header names and values as text (names are lower-case; odd bytes become U+FFFD), but for
/// the names in `skip`.
pub fn header_pairs(map: &http::HeaderMap, skip: &[&str]) -> Headers {
    map.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            (
                common_name(k.as_str()),
                match std::str::from_utf8(v.as_bytes()) {
                    Ok(v) => v.to_owned(),
                    Err(_) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
                },
            )
        })
        .collect()
}

/// A header name for the wire: the proxy's own (static) names are not copied.
pub fn header_name(name: &Name) -> Result<http::HeaderName, http::header::InvalidHeaderName> {
    match name {
        // `from_static` refuses (panics on) anything but a lower-case token: checked first.
        Name::Borrowed(s)
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Ok(http::HeaderName::from_static(s))
        }
        _ => http::HeaderName::from_bytes(name.as_bytes()),
    }
}

/// `name` as a header name, borrowed from a table when it is one most answers carry.
fn common_name(name: &str) -> Name {
    const COMMON: &[&str] = &[
        "content-type",
        "content-length",
        "etag",
        "last-modified",
        "date",
        "accept-ranges",
        "cache-control",
        "content-encoding",
        "content-disposition",
        "content-language",
        "content-range",
        "expires",
    ];
    match COMMON.iter().find(|&&c| c == name) {
        Some(&c) => Name::Borrowed(c),
        None => Name::Owned(name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_from_tables_and_from_the_wire_both_reach_the_wire() {
        for (name, wire) in [
            (
                Name::Borrowed("x-vendor-copy-source"),
                "x-vendor-copy-source",
            ),
            (Name::Borrowed("content-type"), "content-type"),
            (Name::Owned("x-vendor-meta-a".into()), "x-vendor-meta-a"),
            // A static name that is not a lower-case token is parsed, never taken as it is.
            (Name::Borrowed("X-Vendor-Meta"), "x-vendor-meta"),
        ] {
            assert_eq!(header_name(&name).unwrap().as_str(), wire);
        }
        assert!(header_name(&Name::Borrowed("bad name")).is_err());
        assert!(header_name(&Name::Borrowed("")).is_err());
    }

    #[test]
    fn the_request_head_carries_target_and_values_as_built() {
        let mut out = Outbound {
            method: "PUT".into(),
            path: "/b/k%20x".into(),
            query: vec![
                ("n".into(), Some("2".into())),
                ("id".into(), Some("a/b c".into())),
            ],
            ..Default::default()
        };
        out.set_header("x-vendor-meta-a", "caf\u{e9} \t1".into());
        out.set_header("content-length", "0".into());
        out.set_header("x-vendor-empty", String::new());
        let h = request_header(&out).unwrap();
        assert_eq!(h.uri, "/b/k%20x?n=2&id=a%2Fb%20c");
        assert_eq!(
            h.headers["x-vendor-meta-a"].as_bytes(),
            "caf\u{e9} \t1".as_bytes()
        );
        assert_eq!(h.headers["content-length"], "0");
        assert_eq!(h.headers["x-vendor-empty"], "");
        // A value that would end the line is refused, not sent and not a panic.
        out.set_header("x-vendor-bad", "a\r\nb".into());
        assert!(request_header(&out).is_err());
    }

    #[test]
    fn answer_names_most_answers_carry_are_not_copied() {
        assert!(matches!(common_name("etag"), Name::Borrowed("etag")));
        assert!(matches!(common_name("x-vendor-request-id"), Name::Owned(_)));
    }
}
