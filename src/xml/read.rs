//! Values read from documents: element texts, listing entries, pages of parts.

use quick_xml::events::Event;
use quick_xml::Reader;

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

/// The `Bucket` entries of a ListAllMyBucketsResult: (name, creation date); `None` if it cannot
/// be read or is not that document.
pub fn listed_buckets(body: &[u8]) -> Option<Vec<(String, String)>> {
    let mut r = Reader::from_reader(body.trim_ascii_start());
    r.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let (mut out, mut root) = (Vec::new(), false);
    let mut current: Option<(String, String)> = None;
    let mut field = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == b"ListAllMyBucketsResult" => root = true,
            Event::Start(e) if e.local_name().as_ref() == b"Bucket" => {
                current = Some(Default::default())
            }
            Event::Start(e) => field = e.local_name().as_ref().to_vec(),
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    let text = t.unescape().ok()?.into_owned();
                    match field.as_slice() {
                        b"Name" => c.0 = text,
                        b"CreationDate" => c.1 = text,
                        _ => {}
                    }
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"Bucket" => out.extend(current.take()),
            Event::End(_) => field.clear(),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    root.then_some(out)
}
