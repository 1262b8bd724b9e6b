//! Copy and Complete results: read from a backend's answer, rendered for the client.

use super::normalize_timestamp;
use crate::dialect::Dialect;
use quick_xml::events::Event;
use quick_xml::Reader;

/// ETag and LastModified of a copy result (`CopyPartResult` or `CopyObjectResult`, any order,
/// any namespace). `None` when the document has no ETag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyResult {
    pub etag: String,
    pub last_modified: Option<String>,
}

pub fn copy_result(body: &[u8]) -> Option<CopyResult> {
    result_fields(body, &[b"CopyPartResult", b"CopyObjectResult"])
}

/// The ETag of a whole `CompleteMultipartUploadResult`; `None` for anything else.
pub fn complete_etag(body: &[u8]) -> Option<String> {
    result_fields(body, &[b"CompleteMultipartUploadResult"]).map(|r| r.etag)
}

/// ETag and LastModified of a result document whose root is one of `roots`, read to its end:
/// a document cut before its root closes, or without an ETag, is no result.
fn result_fields(body: &[u8], roots: &[&[u8]]) -> Option<CopyResult> {
    #[derive(Clone, Copy, PartialEq)]
    enum ResultField {
        ETag,
        LastModified,
        Other,
    }
    // Read from the slice itself: events borrow the body, nothing is copied but the two values.
    let mut r = Reader::from_reader(body.trim_ascii_start());
    r.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut current = ResultField::Other;
    let (mut etag, mut lm) = (None, None);
    let mut closed = false;
    loop {
        match r.read_event().ok()? {
            Event::Start(e) => {
                if closed {
                    return None;
                }
                depth += 1;
                let name = e.local_name();
                if depth == 1 && !roots.contains(&name.as_ref()) {
                    return None;
                }
                current = match name.as_ref() {
                    b"ETag" if depth == 2 => ResultField::ETag,
                    b"LastModified" if depth == 2 => ResultField::LastModified,
                    _ => ResultField::Other,
                };
            }
            Event::Text(t) if depth == 2 && current != ResultField::Other => {
                let text = t.unescape().ok()?.into_owned();
                match current {
                    ResultField::ETag => etag = Some(text),
                    _ => lm = Some(text),
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                current = ResultField::Other;
                closed |= depth == 0;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let etag = etag?;
    let trimmed = etag.trim().trim_matches('"');
    let etag = if trimmed.len() == etag.len() {
        etag
    } else {
        trimmed.to_string()
    };
    (closed && !etag.is_empty()).then_some(CopyResult {
        etag,
        last_modified: lm,
    })
}

/// The client's copy result document.
pub fn render_copy_result(to: Dialect, part: bool, r: &CopyResult) -> String {
    let root = if part {
        "CopyPartResult"
    } else {
        "CopyObjectResult"
    };
    let v = to.vocab();
    let mut s = String::with_capacity(256);
    let etag = |s: &mut String| {
        s.push_str("<ETag>\"");
        s.push_str(&quick_xml::escape::escape(&r.etag));
        s.push_str("\"</ETag>");
    };
    let lm = |s: &mut String| {
        if let Some(l) = &r.last_modified {
            s.push_str("<LastModified>");
            s.push_str(&quick_xml::escape::escape(normalize_timestamp(l)));
            s.push_str("</LastModified>");
        }
    };
    s.push_str(v.xml_decl);
    s.push('<');
    s.push_str(root);
    if v.bare_copy_result {
        s.push('>');
        etag(&mut s);
        lm(&mut s);
    } else {
        s.push_str(" xmlns=\"");
        s.push_str(v.xmlns);
        s.push_str("\">");
        lm(&mut s);
        etag(&mut s);
    }
    s.push_str("</");
    s.push_str(root);
    s.push('>');
    s
}

/// A CompleteMultipartUploadResult in `to`'s namespace, for a Complete proven by the object it
/// made: Location, Bucket, Key, ETag, the shape S3 (API_CompleteMultipartUpload), OBS
/// (obs_04_0102) and COS (436/7742) document alike.
pub fn render_complete_result(
    to: Dialect,
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
) -> String {
    let v = to.vocab();
    let esc = super::escape;
    format!(
        "{}<CompleteMultipartUploadResult xmlns=\"{}\"><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>&quot;{}&quot;</ETag></CompleteMultipartUploadResult>",
        v.xml_decl,
        v.xmlns,
        esc(location),
        esc(bucket),
        esc(key),
        esc(etag),
    )
}
