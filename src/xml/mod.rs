//! Small XML documents: error bodies in each dialect, and the namespace of result documents.

use crate::dialect::Dialect;
use crate::error::ApiError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};

pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// The error document a client of `dialect` expects.
pub fn render_error(dialect: Dialect, err: &ApiError, resource: &str, request_id: &str) -> String {
    let v = dialect.vocab();
    let id_tag = if v.error_trace_id {
        "TraceId"
    } else {
        "HostId"
    };
    format!(
        "{}<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId><{id_tag}>{}</{id_tag}></Error>",
        v.xml_decl,
        escape(err.code.as_str()),
        escape(err.message_or_default()),
        escape(resource),
        escape(request_id),
        escape(request_id),
    )
}

/// A backend's error document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedError {
    pub code: String,
    pub message: String,
    pub resource: Option<String>,
    pub request_id: Option<String>,
}

/// Parse a document whose root is `Error`; `None` for any other root or unparsable XML.
pub fn parse_error(body: &[u8]) -> Option<ParsedError> {
    // Most answers are results: a document without the word is no error document. The
    // searcher is built once (building it cost more than the search).
    static ERROR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"Error"));
    ERROR.find(body)?;
    // S3 may pad a slow 200 answer with whitespace before the document.
    let mut r = Reader::from_reader(body.trim_ascii_start());
    r.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<Vec<u8>> = None;
    let mut out = ParsedError::default();
    let mut seen_root = false;
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                depth += 1;
                let name = e.local_name().as_ref().to_vec();
                if depth == 1 {
                    if name != b"Error" {
                        return None;
                    }
                    seen_root = true;
                } else if depth == 2 {
                    current = Some(name);
                }
            }
            Event::Empty(e) if depth == 0 => {
                return (e.local_name().as_ref() == b"Error").then(ParsedError::default);
            }
            Event::Text(t) if depth == 2 => {
                let text = t.unescape().ok()?.into_owned();
                match current.as_deref() {
                    Some(b"Code") => out.code = text,
                    Some(b"Message") => out.message = text,
                    Some(b"Resource") => out.resource = Some(text),
                    Some(b"RequestId") => out.request_id = Some(text),
                    _ => {}
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                current = None;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    seen_root.then_some(out)
}

/// Whether `body` is one whole XML document: a root element that closes, nothing broken.
pub fn whole_document(body: &[u8]) -> bool {
    let mut r = Reader::from_reader(body.trim_ascii_start());
    let mut buf = Vec::new();
    let (mut depth, mut roots) = (0usize, 0usize);
    loop {
        match r.read_event_into(&mut buf) {
            Err(_) => return false,
            Ok(Event::Start(_)) => {
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Ok(Event::Empty(_)) => roots += usize::from(depth == 0),
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Text(t)) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return false
            }
            Ok(Event::Eof) => return roots == 1 && depth == 0,
            Ok(_) => {}
        }
        buf.clear();
    }
}

/// Re-issue a result document with the client dialect's namespace on its root.
/// Returns `None` when the body is not XML (it is then passed through untouched).
pub fn rewrite_namespace(body: &[u8], to: Dialect) -> Option<Vec<u8>> {
    let mut r = Reader::from_reader(body.trim_ascii_start());
    let mut w = Writer::new(Vec::with_capacity(body.len() + 64));
    let mut buf = Vec::new();
    let mut root_done = false;
    loop {
        let ev = r.read_event_into(&mut buf).ok()?;
        match ev {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) if !root_done => {
                root_done = true;
                let mut s =
                    BytesStart::new(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                for a in e.attributes().flatten() {
                    if a.key.as_ref() != b"xmlns" {
                        s.push_attribute(a);
                    }
                }
                s.push_attribute(("xmlns", to.vocab().xmlns));
                let out = if matches!(ev, Event::Start(_)) {
                    Event::Start(s)
                } else {
                    Event::Empty(s)
                };
                w.write_event(out).ok()?;
            }
            other => w.write_event(other).ok()?,
        }
        buf.clear();
    }
    root_done.then(|| w.into_inner())
}

/// Replace the text of every element named one of `names` by `f(name, text)` where it gives a
/// new one. `None` when the body is not XML or nothing changed.
pub fn map_texts(
    body: &[u8],
    names: &[&str],
    f: impl Fn(&str, &str) -> Option<String>,
) -> Option<Vec<u8>> {
    names
        .iter()
        .find(|n| memchr::memmem::find(body, n.as_bytes()).is_some())?;
    let mut r = Reader::from_reader(body);
    let mut w = Writer::new(Vec::with_capacity(body.len()));
    let mut buf = Vec::new();
    let (mut inside, mut changed) = (None, false);
    loop {
        let ev = r.read_event_into(&mut buf).ok()?;
        match ev {
            Event::Eof => break,
            Event::Start(ref e) => {
                let local = e.local_name();
                inside = names
                    .iter()
                    .find(|n| n.as_bytes() == local.as_ref())
                    .copied();
                w.write_event(ev).ok()?;
            }
            Event::Text(ref t) if inside.is_some() => match f(inside?, &t.unescape().ok()?) {
                Some(new) => {
                    changed = true;
                    w.write_event(Event::Text(quick_xml::events::BytesText::new(&new)))
                        .ok()?;
                }
                None => w.write_event(ev).ok()?,
            },
            other => {
                inside = None;
                w.write_event(other).ok()?;
            }
        }
        buf.clear();
    }
    changed.then(|| w.into_inner())
}

/// Remove every element whose local name starts with `prefix` (with its content).
/// `None` when the body is not XML or nothing was removed.
pub fn strip_elements(body: &[u8], prefix: &str) -> Option<Vec<u8>> {
    let mut r = Reader::from_reader(body.trim_ascii_start());
    let mut w = Writer::new(Vec::with_capacity(body.len()));
    let mut buf = Vec::new();
    let mut skipping = 0usize;
    let mut removed = false;
    loop {
        let ev = r.read_event_into(&mut buf).ok()?;
        match ev {
            Event::Eof => break,
            Event::Start(ref e)
                if skipping > 0 || e.local_name().as_ref().starts_with(prefix.as_bytes()) =>
            {
                skipping += 1;
                removed = true;
            }
            Event::Empty(ref e)
                if skipping > 0 || e.local_name().as_ref().starts_with(prefix.as_bytes()) =>
            {
                removed = true;
            }
            Event::End(_) if skipping > 0 => skipping -= 1,
            _ if skipping > 0 => {}
            other => w.write_event(other).ok()?,
        }
        buf.clear();
    }
    removed.then(|| w.into_inner())
}

/// Text of every element named `name` at any depth, in document order.
pub fn texts(body: &[u8], name: &str) -> Option<Vec<String>> {
    let mut r = Reader::from_reader(body.trim_ascii_start());
    r.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut inside = false;
    let mut out = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) => inside = e.local_name().as_ref() == name.as_bytes(),
            Event::Text(t) if inside => out.push(t.unescape().ok()?.into_owned()),
            Event::End(_) => inside = false,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(out)
}

/// One `Contents` entry of a ListBucketResult; the ETag is missing in some stores' listings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: String,
    pub etag: Option<String>,
    pub last_modified: String,
}

/// The `Contents` entries of a ListBucketResult, in order; `None` if it cannot be read.
pub fn listed_objects(body: &[u8]) -> Option<Vec<Listed>> {
    let mut r = Reader::from_reader(body.trim_ascii_start());
    r.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut current: Option<Listed> = None;
    let mut field = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == b"Contents" => {
                current = Some(Listed::default())
            }
            Event::Start(e) => field = e.local_name().as_ref().to_vec(),
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    let text = t.unescape().ok()?.into_owned();
                    match field.as_slice() {
                        b"Key" => c.key = text,
                        b"Size" => c.size = text,
                        b"ETag" => c.etag = Some(text),
                        b"LastModified" => c.last_modified = text,
                        _ => {}
                    }
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"Contents" => out.extend(current.take()),
            Event::End(_) => field.clear(),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(out)
}

/// One page of a ListPartsResult: (part number, size) pairs and the marker of the next page.
pub struct PartsPage {
    pub parts: Vec<(u32, u64)>,
    pub next_marker: Option<u32>,
}

pub fn list_parts_page(body: &[u8]) -> PartsPage {
    let all = |name| texts(body, name).unwrap_or_default();
    let parts = all("PartNumber")
        .iter()
        .zip(&all("Size"))
        .filter_map(|(n, s)| Some((n.trim().parse().ok()?, s.trim().parse().ok()?)))
        .collect();
    let truncated = all("IsTruncated").first().is_some_and(|t| t == "true");
    let next_marker = all("NextPartNumberMarker")
        .first()
        .and_then(|m| m.trim().parse().ok())
        .filter(|_| truncated);
    PartsPage { parts, next_marker }
}

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
    enum Field {
        ETag,
        LastModified,
        Other,
    }
    // Read from the slice itself: events borrow the body, nothing is copied but the two values.
    let mut r = Reader::from_reader(body.trim_ascii_start());
    r.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut current = Field::Other;
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
                    b"ETag" if depth == 2 => Field::ETag,
                    b"LastModified" if depth == 2 => Field::LastModified,
                    _ => Field::Other,
                };
            }
            Event::Text(t) if depth == 2 && current != Field::Other => {
                let text = t.unescape().ok()?.into_owned();
                match current {
                    Field::ETag => etag = Some(text),
                    _ => lm = Some(text),
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                current = Field::Other;
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

pub fn timestamp_now() -> String {
    iso_millis(time::OffsetDateTime::now_utc())
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ` of a UTC time.
fn iso_millis(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub fn normalize_timestamp(s: &str) -> String {
    let s = s.trim();
    // Not the shape we know (or not ASCII where it should be): pass it on unchanged.
    if s.len() < 19 || !s.is_char_boundary(19) {
        return s.to_string();
    }
    let (date_time, frac_zone) = s.split_at(19);
    let mut rest = frac_zone;
    let mut base = String::with_capacity(24);
    base.push_str(date_time);
    base.push('.');
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        rest = &f[n..];
        base.push_str(&f[..n.min(3)]);
    }
    while base.len() < 23 {
        base.push('0');
    }
    if rest.is_empty() || rest == "Z" {
        base.push('Z');
        return base;
    }
    // An explicit offset: convert to UTC.
    let fmt = time::format_description::well_known::Rfc3339;
    let with_offset = format!("{base}{rest}");
    base.push('Z');
    match time::OffsetDateTime::parse(&with_offset, &fmt) {
        Ok(t) => iso_millis(t.to_offset(time::UtcOffset::UTC)),
        Err(_) => base,
    }
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

#[cfg(test)]
mod tests;
