//! The copy fields on the wire: copy-source forms, ranges, conditions and SSE-C keys, read from
//! and written in any dialect's headers.

use super::wire::Headers;
use super::Dialect;
use crate::dialect::hosts;
use crate::error::ApiError;
pub use crate::model::CopySource;
use crate::model::{ByteRange, Conditions, CopyPart, Field, SseC};
use crate::sign;
use base64::Engine;

/// Parse a copy-source header value in `dialect`'s forms.
pub fn parse_source(
    dialect: Dialect,
    value: &str,
    suffixes: &[String],
) -> Result<CopySource, ApiError> {
    let bad = || {
        ApiError::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    };
    let value = value.trim();
    let (path, query) = value.split_once('?').unwrap_or((value, ""));
    let mut version_id = None;
    for (k, v) in sign::split_query(query) {
        if k.eq_ignore_ascii_case("versionId") {
            version_id = Some(sign::percent_decode(v.unwrap_or(""))).filter(|v| !v.is_empty());
        } else {
            return Err(bad());
        }
    }
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if !trimmed.contains('/') {
        // Encoded as a whole, slash included (`bucket%2Fdir%2Fkey`), as some OBS SDKs send it:
        // decoded once, then split; the key is then raw.
        let whole = sign::percent_decode_strict(trimmed).ok_or_else(bad)?;
        let (bucket, key) = whole.split_once('/').ok_or_else(bad)?;
        if bucket.is_empty() || key.is_empty() {
            return Err(bad());
        }
        return Ok(CopySource {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id,
        });
    }
    let (first, rest) = trimmed.split_once('/').ok_or_else(bad)?;
    let host_form = dialect.vocab().copy_source_host.is_some();
    let bucket = if host_form && !path.starts_with('/') && first.contains('.') {
        // Host form: <bucket>-<appid>.cos.<region>.myqcloud.com/key
        hosts::bucket_from_host(first, suffixes).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "The copy source host '{first}' is not one this gateway serves"
            ))
        })?
    } else {
        sign::percent_decode_strict(first).ok_or_else(bad)?
    };
    let key = sign::percent_decode_strict(rest).ok_or_else(bad)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    Ok(CopySource {
        bucket,
        key,
        version_id,
    })
}

/// Where a copy's source lives: the backend's host name (with port) and region.
#[derive(Clone, Copy, Debug)]
pub struct SourceHost<'a> {
    pub host: &'a str,
    pub region: &'a str,
}

/// Render a copy source (already renamed to the backend's bucket) for the backend's dialect.
pub fn render_source(to: Dialect, src: &CopySource, at: SourceHost) -> String {
    let key = sign::uri_encode_path(&src.key);
    let host = to.vocab().copy_source_host.map(|h| h(at.host, at.region));
    let version = src.version_id.as_deref();
    let mut s = String::with_capacity(
        src.bucket.len()
            + key.len()
            + host.as_ref().map_or(0, |h| h.len())
            + version.map_or(0, |v| v.len() + 11)
            + 3,
    );
    match &host {
        Some(host) => {
            s.push_str(&src.bucket);
            s.push('.');
            s.push_str(host);
        }
        None => {
            s.push('/');
            s.push_str(&src.bucket);
        }
    }
    s.push('/');
    s.push_str(&key);
    // Version ids go raw, as every SDK sends them.
    if let Some(v) = version {
        s.push_str("?versionId=");
        s.push_str(v);
    }
    s
}

/// The destination's SSE-C headers of a copy, as an UploadPart carries them (a copy across
/// backends becomes one).
pub fn destination_sse_headers(cp: &CopyPart, to: Dialect) -> Headers {
    let Some(s) = &cp.sse_c else {
        return Vec::new();
    };
    let mut out = vec![
        (
            to.copy_header(Field::SseAlgorithm).into(),
            to.encode_value(s.algorithm.clone()),
        ),
        (
            to.copy_header(Field::SseKey).into(),
            to.encode_value(s.key.clone()),
        ),
    ];
    if let Some(m) = &s.key_md5 {
        out.push((
            to.copy_header(Field::SseKeyMd5).into(),
            to.encode_value(m.clone()),
        ));
    }
    out
}

/// `bytes=first-last`, inclusive, first <= last. Anything else is refused.
pub fn check_range(value: &str) -> Result<(u64, u64), ApiError> {
    let bad = || {
        ApiError::invalid_argument(format!(
            "The x-*-copy-source-range value must be of the form bytes=first-last, got '{value}'"
        ))
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return Err(bad());
    }
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

pub fn check_part_number(v: Option<&str>) -> Result<u32, ApiError> {
    let n = v.and_then(|v| v.parse::<u32>().ok()).ok_or_else(|| {
        ApiError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive")
    })?;
    if !(1..=10000).contains(&n) {
        return Err(ApiError::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
        ));
    }
    Ok(n)
}

/// SSE-C: algorithm AES256, key = base64 of 32 bytes, key-MD5 = base64 MD5 of the key.
pub fn check_sse_c(
    algorithm: Option<&str>,
    key: Option<&str>,
    md5: Option<&str>,
) -> Result<(), ApiError> {
    if algorithm.is_none() && key.is_none() && md5.is_none() {
        return Ok(());
    }
    let (Some(alg), Some(key)) = (algorithm, key) else {
        return Err(ApiError::invalid_argument("Requests specifying Server Side Encryption with Customer provided keys must provide both the algorithm and the key"));
    };
    if alg != "AES256" {
        return Err(ApiError::invalid_argument(
            "The encryption algorithm must be AES256",
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64
        .decode(key.trim())
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| {
            ApiError::invalid_argument("The secret key was invalid for the specified algorithm")
        })?;
    if let Some(m) = md5 {
        use md5::Digest;
        if b64.encode(md5::Md5::digest(&raw)) != m.trim() {
            return Err(ApiError::invalid_argument(
                "The calculated MD5 hash of the key did not match the hash that was provided",
            ));
        }
    }
    Ok(())
}

fn http_date(t: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64))
}

/// Parse from a request's headers (lower-case names) in `dialect`. `encoded_values` says the
/// client percent-encodes header values (the OBS SDK, in every signing mode); they are decoded,
/// except the source, which `parse_source` decodes.
pub fn parse_copy_part(
    dialect: Dialect,
    headers: &[(&str, &str)],
    suffixes: &[String],
    encoded_values: bool,
) -> Result<CopyPart, ApiError> {
    let prefix = dialect.vocab().prefix;
    // One pass over the headers; the first of a repeated header counts.
    let mut found: [Option<&str>; super::COPY_FIELDS.len()] = [None; super::COPY_FIELDS.len()];
    for (k, v) in headers {
        if let Some(suffix) = k.strip_prefix(prefix) {
            if let Some(i) = super::COPY_FIELDS.iter().position(|(_, s)| *s == suffix) {
                found[i].get_or_insert(*v);
            }
        }
    }
    let get = |f: Field| -> Option<String> {
        let v = super::COPY_FIELDS
            .iter()
            .position(|(x, _)| *x == f)
            .and_then(|i| found[i])?;
        Some(if encoded_values && f != Field::Source {
            crate::sign::percent_decode(v)
        } else {
            v.to_string()
        })
    };
    let source = parse_source(dialect, &get(Field::Source).unwrap_or_default(), suffixes)?;
    let range = match get(Field::Range) {
        // The COS SDK sends an empty range for "the whole object".
        Some(r) if !r.trim().is_empty() => {
            let (first, last) = check_range(&r)?;
            Some(ByteRange { first, last })
        }
        _ => None,
    };
    let date = |f: Field| -> Result<Option<i64>, ApiError> {
        match get(f) {
            None => Ok(None),
            Some(v) => crate::dates::parse_date(&v)
                .map(Some)
                .ok_or_else(|| ApiError::invalid_argument(format!("'{v}' is not an HTTP date"))),
        }
    };
    let conditions = Conditions {
        if_match: get(Field::IfMatch),
        if_none_match: get(Field::IfNoneMatch),
        if_modified_since: date(Field::IfModifiedSince)?,
        if_unmodified_since: date(Field::IfUnmodifiedSince)?,
    };
    let sse = |a: Field, k: Field, m: Field| -> Result<Option<SseC>, ApiError> {
        let (a, k, m) = (get(a), get(k), get(m));
        check_sse_c(a.as_deref(), k.as_deref(), m.as_deref())?;
        Ok(match (a, k) {
            (Some(algorithm), Some(key)) => Some(SseC {
                algorithm,
                key,
                key_md5: m,
            }),
            _ => None,
        })
    };
    Ok(CopyPart {
        source,
        range,
        conditions,
        sse_c: sse(Field::SseAlgorithm, Field::SseKey, Field::SseKeyMd5)?,
        source_sse_c: sse(
            Field::SourceSseAlgorithm,
            Field::SourceSseKey,
            Field::SourceSseKeyMd5,
        )?,
    })
}

/// Headers for `to`. `source_at` is where the (renamed) source bucket lives;
/// `conditions` is false when the proxy evaluated them itcp.
pub fn copy_part_headers(
    cp: &CopyPart,
    to: Dialect,
    source_at: SourceHost,
    conditions: bool,
) -> Headers {
    let mut out = Vec::with_capacity(8);
    // The OBS SDK percent-encodes header values and OBS decodes them; the source has its own encoding.
    let mut put = |f: Field, v: String| {
        let v = if f != Field::Source {
            to.encode_value(v)
        } else {
            v
        };
        out.push((to.copy_header(f).into(), v))
    };
    put(Field::Source, render_source(to, &cp.source, source_at));
    if let Some(r) = cp.range {
        put(Field::Range, format!("bytes={}-{}", r.first, r.last));
    }
    if conditions {
        let c = &cp.conditions;
        if let Some(v) = &c.if_match {
            put(Field::IfMatch, v.clone());
        }
        if let Some(v) = &c.if_none_match {
            put(Field::IfNoneMatch, v.clone());
        }
        if let Some(t) = c.if_modified_since {
            put(Field::IfModifiedSince, http_date(t));
        }
        if let Some(t) = c.if_unmodified_since {
            put(Field::IfUnmodifiedSince, http_date(t));
        }
    }
    for (s, fields) in [
        (
            &cp.sse_c,
            [Field::SseAlgorithm, Field::SseKey, Field::SseKeyMd5],
        ),
        (
            &cp.source_sse_c,
            [
                Field::SourceSseAlgorithm,
                Field::SourceSseKey,
                Field::SourceSseKeyMd5,
            ],
        ),
    ] {
        if let Some(s) = s {
            put(fields[0], s.algorithm.clone());
            put(fields[1], s.key.clone());
            if let Some(m) = &s.key_md5 {
                put(fields[2], m.clone());
            }
        }
    }
    out
}

impl Dialect {
    /// The header that carries `f` in this dialect. The names are built once per process (a
    /// few dozen), so that a request names its copy headers without allocating.
    pub fn copy_header(self, f: Field) -> &'static str {
        static NAMES: std::sync::OnceLock<Vec<(Dialect, Field, &'static str)>> =
            std::sync::OnceLock::new();
        let names = NAMES.get_or_init(|| {
            Dialect::ALL
                .into_iter()
                .flat_map(|d| {
                    super::COPY_FIELDS.iter().map(move |&(f, suffix)| {
                        let name = [d.vocab().prefix, suffix].concat();
                        (d, f, &*Box::leak(name.into_boxed_str()))
                    })
                })
                .collect()
        });
        names
            .iter()
            .find(|(d, x, _)| *d == self && *x == f)
            .map_or("", |(_, _, n)| n)
    }

    /// Whether this dialect's service takes these copy conditions as they are: OBS and COS accept
    /// only the pairs (if-match, if-unmodified-since) and (if-none-match, if-modified-since); S3
    /// takes any combination and applies its precedence.
    pub fn accepts_conditions(self, c: &Conditions) -> bool {
        self.vocab().mixed_conditions || !c.mixes_pairs()
    }
}

#[cfg(test)]
mod tests;
