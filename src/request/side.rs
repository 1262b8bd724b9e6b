//! Requests of the proxy's own around a forwarded one (ListParts before a Complete, HEAD of a
//! copy source) and the small-body adjustments they need.

use super::Forward;
use crate::config::Backend;
use crate::dialect::wire::{Headers, Name};
use crate::dialect::Dialect;
use crate::error::{ApiError, Code};
use crate::model::{CopyPart, Field, Op};
use crate::outbound::Outbound;
use crate::sign;

/// The HEAD of a copy's source, as the backend receives it (for conditions evaluated here).
pub fn source_head(cp: &CopyPart, backend: &Backend) -> Outbound {
    let mut out = Outbound {
        method: "HEAD".into(),
        ..Default::default()
    };
    out.address(
        backend,
        Some(&cp.source.bucket),
        Some(&sign::uri_encode_path(&cp.source.key)),
    );
    if let Some(v) = &cp.source.version_id {
        out.query.push(("versionId".into(), Some(v.clone())));
    }
    if let Some(s) = &cp.source_sse_c {
        let d = backend.dialect;
        out.headers.push((
            d.copy_header(Field::SseAlgorithm).into(),
            s.algorithm.clone(),
        ));
        out.headers
            .push((d.copy_header(Field::SseKey).into(), s.key.clone()));
        if let Some(m) = &s.key_md5 {
            out.headers
                .push((d.copy_header(Field::SseKeyMd5).into(), m.clone()));
        }
    }
    out
}

/// The GET of a copy's source range (`first..=last`), for a copy across backends.
pub fn source_get(cp: &CopyPart, backend: &Backend, first: u64, last: u64) -> Outbound {
    let mut out = source_head(cp, backend);
    out.method = "GET".into();
    out.headers
        .push(("range".into(), format!("bytes={first}-{last}")));
    out
}

/// Adjust a small request body for the backend. Complete: part checksums go where the backend
/// keeps none (they were verified as each part arrived) or the parts were staged here, and with
/// them a Content-MD5 that no longer holds.
pub fn rewrite_small_body(
    f: &mut Forward,
    body: bytes::Bytes,
    keeps_checksums: bool,
) -> bytes::Bytes {
    if f.op == Op::Complete && !keeps_checksums {
        if let Some(b) = crate::xml::strip_elements(&body, "Checksum") {
            f.out.headers.retain(|(k, _)| k != "content-md5");
            return bytes::Bytes::from(b);
        }
    }
    body
}

/// The client's own checksum of a small body, verified here: the backend's dialect may have no
/// header for it, and the body may be rewritten before it goes on.
pub fn verify_small_body(f: &Forward, body: &[u8]) -> Result<(), ApiError> {
    if let Some((suffix, want)) = &f.body_checksum {
        if let Some(mut c) = crate::checksum::Checksum::for_suffix(suffix) {
            c.update(body);
            if c.finish_b64() != want.trim() {
                return Err(ApiError::new(
                    crate::error::Code::BadDigest,
                    format!("The {suffix} you specified did not match the calculated checksum"),
                ));
            }
        }
    }
    // A Content-MD5 goes to the backend only with the body it names; a rewritten body drops it,
    // so it is checked here too (S3's BadDigest).
    if let Some(md5) = f.out.header("content-md5") {
        if crate::checksum::content_md5(body) != md5.trim() {
            return Err(ApiError::new(
                crate::error::Code::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok(())
}

/// `Content-MD5` for a body whose backend requires one on this request and was sent none.
pub fn require_md5(f: &mut Forward, to: Dialect, body: &[u8]) {
    let required = to.vocab().md5_required;
    if matches!(f.out.method.as_str(), "PUT" | "POST")
        && f.out.header("content-md5").is_none()
        && f.out
            .query
            .iter()
            .any(|(k, _)| required.contains(&k.as_str()))
    {
        f.out
            .set_header("content-md5", crate::checksum::content_md5(body));
    }
}

/// ListParts for the upload a Complete names, from `marker` on (to check part sizes at the edge).
pub fn list_parts_request(f: &Forward, marker: u32) -> Outbound {
    let mut out = Outbound {
        method: "GET".into(),
        path: f.out.path.clone(),
        bucket: f.out.bucket.clone(),
        ..Default::default()
    };
    let upload = f
        .out
        .query
        .iter()
        .find(|(k, _)| k == "uploadId")
        .and_then(|(_, v)| v.clone())
        .unwrap_or_default();
    out.query = vec![
        ("uploadId".into(), Some(upload)),
        ("max-parts".into(), Some("1000".into())),
        ("part-number-marker".into(), Some(marker.to_string())),
    ];
    if let Some(h) = f.out.header("host") {
        out.headers.push(("host".into(), h.to_string()));
    }
    out
}

/// The non-last parts of a Complete that are below the backend's minimum, given the listed sizes.
pub fn too_small(complete_body: &[u8], sizes: &[(u32, u64)], min: u64) -> Result<(), ApiError> {
    let wanted: Vec<u32> = crate::xml::texts(complete_body, "PartNumber")
        .ok_or_else(|| {
            ApiError::new(
                Code::MalformedXML,
                "The XML you provided was not well-formed",
            )
        })?
        .iter()
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    for n in wanted.iter().take(wanted.len().saturating_sub(1)) {
        if let Some((_, size)) = sizes.iter().find(|(p, _)| p == n) {
            if *size < min {
                return Err(ApiError::new(Code::EntityTooSmall, format!("Your proposed upload is smaller than the minimum allowed object size: part {n} is {size} bytes, the minimum is {min}")));
            }
        }
    }
    Ok(())
}

/// Standard headers that are part of an object's metadata.
const METADATA_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-language",
    "content-disposition",
    "cache-control",
    "expires",
];

/// Turn a CopyObject's headers (already in the destination's dialect) into those of the PutObject
/// that stores the copy on another backend. Says whether the source's metadata is to be copied
/// (directive COPY, the default); then the request's own metadata headers go, as the copy ignores them.
/// Tags are not copied across backends (`tagging-directive` REPLACE with `tagging` sets new ones).
pub fn as_put(out: &mut Outbound, to: Dialect) -> bool {
    let prefix = to.vocab().prefix;
    let directive = |suffix: &str| {
        let name = to.header_name(suffix)?;
        let v = out.header(&name)?;
        Some(to.neutral_value(suffix, v).eq_ignore_ascii_case("REPLACE"))
    };
    let replace_metadata = directive("metadata-directive").unwrap_or(false);
    let replace_tags = directive("tagging-directive").unwrap_or(false);
    out.headers.retain(|(k, _)| {
        let Some(suffix) = k.strip_prefix(prefix) else {
            return replace_metadata || !METADATA_HEADERS.contains(&&**k);
        };
        let suffix = to.neutral_suffix(k).unwrap_or_else(|| suffix.to_string());
        match suffix.as_str() {
            "metadata-directive" | "tagging-directive" => false,
            "tagging" => replace_tags,
            s if s.starts_with("meta-") => replace_metadata,
            _ => true,
        }
    });
    !replace_metadata
}

/// The source's metadata from its HEAD answer, for the PutObject of a CopyObject across backends:
/// standard headers as they are, user metadata renamed into the destination's namespace.
pub fn source_metadata(from: Dialect, to: Dialect, head: &[(Name, String)]) -> Headers {
    let mut out = Vec::new();
    for (k, v) in head {
        if METADATA_HEADERS.contains(&&**k) {
            out.push((k.clone(), v.clone()));
            continue;
        }
        if !from
            .neutral_suffix(k)
            .is_some_and(|s| s.starts_with("meta-"))
        {
            continue;
        }
        // Values are stored as the dialect's SDK sends them: decoded to neutral, encoded for `to`.
        let value = if from.vocab().encoding_sdk.is_some() {
            sign::percent_decode(v)
        } else {
            v.clone()
        };
        if let Some((name, value)) = crate::dialect::translate_header(from, to, k, &value) {
            let value = to.encode_header_value(&name, value);
            out.push((name.into(), value));
        }
    }
    out
}

/// The Content-MD5 of a whole source object, when its HEAD proves it: a single-part, unencrypted
/// object's ETag is the MD5 of its bytes. The destination then checks what the proxy relayed.
pub fn whole_object_md5(from: Dialect, cp: &CopyPart, head: &[(Name, String)]) -> Option<String> {
    if cp.range.is_some() || cp.source_sse_c.is_some() {
        return None;
    }
    let sse = from.header_name("server-side-encryption");
    if head.iter().any(|(k, _)| {
        sse.as_deref() == Some(&**k) || k.ends_with("server-side-encryption-customer-algorithm")
    }) {
        return None;
    }
    let etag = head
        .iter()
        .find(|(k, _)| k == "etag")?
        .1
        .trim()
        .trim_matches('"');
    if etag.len() != 32 {
        return None;
    }
    let digest = hex::decode(etag).ok()?;
    use base64::Engine;
    Some(base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The ETag a completed multipart object has when its parts are the ones a Complete lists: the
/// MD5 of their MD5s, then `-N`, as S3 ("Checking object integrity": multipart ETags), OBS
/// (obs_33_0392: "calculated based on the ETags of all combined parts"), COS and Garage make it. `None` when a part's ETag is
/// no plain MD5 (encrypted with a managed key, say): then nothing can be proven by it.
pub fn multipart_etag(complete_body: &[u8]) -> Option<String> {
    use md5::Digest;
    let etags = crate::xml::texts(complete_body, "ETag")?;
    if etags.is_empty() {
        return None;
    }
    let mut md5 = md5::Md5::new();
    for e in &etags {
        let raw = hex::decode(e.trim().trim_matches('"')).ok()?;
        if raw.len() != 16 {
            return None;
        }
        md5.update(&raw);
    }
    Some(format!("{}-{}", hex::encode(md5.finalize()), etags.len()))
}

/// A HEAD of the object a Complete names, with its SSE-C key if it has one: to learn whether a
/// Complete whose answer was lost did complete.
pub fn completed_head(f: &Forward) -> Outbound {
    let mut out = Outbound {
        method: "HEAD".into(),
        path: f.out.path.clone(),
        bucket: f.out.bucket.clone(),
        ..Default::default()
    };
    out.headers = f
        .out
        .headers
        .iter()
        .filter(|(k, _)| *k == "host" || k.contains("server-side-encryption-customer-"))
        .cloned()
        .collect();
    out
}

/// The answer a Complete would have had, when a HEAD after its `NoSuchUpload` shows the object
/// with the ETag its parts give (`expected`): a first attempt completed it and its answer was
/// lost (a connection reset after the backend acted, a client that asked again).
pub fn completed_answer(
    f: &Forward,
    to: Dialect,
    expected: &str,
    head: &crate::upstream::Answer,
) -> Option<crate::upstream::Answer> {
    let etag = head.header("etag")?.trim().trim_matches('"');
    if head.status != 200 || !etag.eq_ignore_ascii_case(expected) {
        return None;
    }
    let key = f.resource.splitn(3, '/').nth(2).unwrap_or_default();
    let bucket = f.out.bucket.as_deref().unwrap_or_default();
    let location = format!(
        "http://{}{}",
        f.out.header("host").unwrap_or_default(),
        f.out.path
    );
    let body = crate::xml::render_complete_result(to, &location, bucket, key, etag);
    Some(crate::upstream::Answer {
        status: 200,
        headers: vec![("content-type".into(), "application/xml".into())],
        body: body.into(),
    })
}
