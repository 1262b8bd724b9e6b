//! URL encoding as the signatures and the wire need it: RFC 3986 encoding of names, values and
//! paths, percent- and form-decoding, the raw query split. A leaf: it imports nothing of the crate.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 3986 unreserved characters are left alone; everything else is %XX.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const UNRESERVED_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Encode a query name/value or header value the SigV4/COS way.
pub fn uri_encode(s: &str) -> String {
    // Through `Cow`, not `Display`: no formatter machinery per piece.
    std::borrow::Cow::from(utf8_percent_encode(s, UNRESERVED)).into_owned()
}

/// `uri_encode`, borrowing `s` when nothing needs encoding.
pub fn uri_encode_cow(s: &str) -> std::borrow::Cow<'_, str> {
    utf8_percent_encode(s, UNRESERVED).into()
}

/// Encode an object key for a request path: like `uri_encode` but '/' stays.
pub fn uri_encode_path(s: &str) -> String {
    std::borrow::Cow::from(utf8_percent_encode(s, UNRESERVED_SLASH)).into_owned()
}

/// Percent-decode; invalid UTF-8 is replaced rather than failing (the proxy never panics on input).
pub fn percent_decode(s: &str) -> String {
    percent_decode_cow(s).into_owned()
}

/// `percent_decode`, borrowed where there is nothing to decode (most names and values).
pub fn percent_decode_cow(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.as_bytes().contains(&b'%') {
        return std::borrow::Cow::Borrowed(s);
    }
    percent_decode_str(s).decode_utf8_lossy()
}

/// Strict percent-decode: `None` when the result is not UTF-8.
pub fn percent_decode_strict(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Form-decode: '+' is a space (COS presigned URLs are built with `urlencode`).
pub fn form_decode(s: &str) -> String {
    if !s.as_bytes().contains(&b'+') {
        return percent_decode(s);
    }
    percent_decode(&s.replace('+', " "))
}

/// Split a raw query string into (raw name, raw value) pairs in wire order.
pub fn split_query(raw: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    // A byte loop: queries are short, and `str::split`'s searcher costs more per call than
    // the scan itself. ('&' and '=' are ASCII, so every cut is at a char boundary.)
    let mut rest = raw;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = rest.bytes().position(|b| b == b'&').unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        if pair.is_empty() {
            continue;
        }
        return Some(match pair.bytes().position(|b| b == b'=') {
            Some(i) => (&pair[..i], Some(&pair[i + 1..])),
            None => (pair, None),
        });
    })
}
