//! Requests of the proxy's own around a forwarded one (ListParts before a Complete, HEAD of a
//! copy source) and the small-body adjustments they need.

use super::Forward;
use crate::config::Backend;
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
        out.headers
            .push((d.copy_header(Field::SseAlgorithm), s.algorithm.clone()));
        out.headers
            .push((d.copy_header(Field::SseKey), s.key.clone()));
        if let Some(m) = &s.key_md5 {
            out.headers
                .push((d.copy_header(Field::SseKeyMd5), m.clone()));
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

/// Adjust a small request body for the backend. Complete: part checksums go (see DROP_SUFFIXES),
/// and with them a Content-MD5 that no longer holds.
pub fn rewrite_small_body(f: &mut Forward, body: bytes::Bytes) -> bytes::Bytes {
    if f.op == Op::Complete {
        if let Some(b) = crate::xml::strip_elements(&body, "Checksum") {
            f.out.headers.retain(|(k, _)| k != "content-md5");
            return bytes::Bytes::from(b);
        }
    }
    body
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
