//! Small XML documents: error bodies in each dialect, and the namespace of result documents.
//!
//! Here: escaping, error documents and the whole-document check. `rewrite` edits result documents
//! (namespace, texts, elements), `read` reads texts and listings, `copy` reads and renders copy
//! and Complete results, `timestamps` writes and normalizes their dates.

mod copy;
mod read;
mod rewrite;
mod timestamps;

pub use copy::render_complete_result;
pub use copy::{complete_etag, copy_result, render_copy_result, CopyResult};
pub use read::{list_parts_page, listed_buckets, listed_objects, texts, Listed, PartsPage};
pub use rewrite::{add_missing, map_texts, rewrite_namespace, strip_elements, whole_second_dates};
pub use timestamps::{normalize_timestamp, timestamp_now};

use crate::dialect::Dialect;
use crate::error::ApiError;
use quick_xml::events::Event;
use quick_xml::Reader;

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

#[cfg(test)]
mod tests;
