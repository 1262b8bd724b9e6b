//! ListObjectsV2 over a backend that serves only the V1 listing (`marker`): the V1 query it
//! takes, and the V2 answer the client's SDK pages with. Huawei OBS documents only V1
//! ("Listing Objects in a Bucket", obs_04_0022) and so does Tencent COS (GET Bucket, 436/7734);
//! a V1 answer to a V2 request has no `NextContinuationToken`, so an S3 SDK would stop after the
//! first page without an error. The continuation token is opaque to the client: it carries the
//! next marker, decoded (OBS is known to loop on URL-encoded markers).

use crate::error::ApiError;
use crate::sign;
use base64::Engine;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// What a V2 request asked for beyond V1, to answer it in V2's shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListV2 {
    /// The client's `continuation-token`, echoed back.
    pub token: Option<String>,
    pub start_after: Option<String>,
    pub fetch_owner: bool,
    /// `encoding-type=url`: keys and markers in the answer are URL-encoded.
    pub url: bool,
}

/// Prefix of the tokens this proxy issues (a token from elsewhere is refused, not misread).
const TOKEN_TAG: &str = "dp1.";

/// The largest character: a marker of a prefix followed by it comes after every key under the prefix.
const PAST: &str = "\u{10FFFF}";

fn token_for(marker: &str) -> String {
    let mut t = String::from(TOKEN_TAG);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(marker, &mut t);
    t
}

fn marker_of(token: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid_argument("The continuation token provided is incorrect");
    let b64 = token.strip_prefix(TOKEN_TAG).ok_or_else(bad)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| bad())?;
    String::from_utf8(raw).map_err(|_| bad())
}

impl ListV2 {
    /// Turn a decoded V2 listing query into V1 in place. `None` (query untouched) when the
    /// request is not a V2 listing.
    pub fn take(query: &mut Vec<(String, Option<String>)>) -> Result<Option<ListV2>, ApiError> {
        let get = |q: &[(String, Option<String>)], k: &str| {
            q.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.clone())
        };
        if get(query, "list-type").as_deref() != Some("2") {
            return Ok(None);
        }
        let l = ListV2 {
            token: get(query, "continuation-token").filter(|t| !t.is_empty()),
            start_after: get(query, "start-after").filter(|t| !t.is_empty()),
            fetch_owner: get(query, "fetch-owner").is_some_and(|v| v == "true"),
            url: get(query, "encoding-type").is_some_and(|v| v.eq_ignore_ascii_case("url")),
        };
        let marker = match (&l.token, &l.start_after) {
            (Some(t), _) => Some(marker_of(t)?),
            (None, s) => s.clone(),
        };
        query.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "list-type" | "continuation-token" | "start-after" | "fetch-owner" | "marker"
            )
        });
        if let Some(m) = marker {
            query.push(("marker".into(), Some(m)));
        }
        Ok(Some(l))
    }

    /// The V2 answer for a V1 `ListBucketResult`; `None` when it is no whole V1 listing.
    /// `name` replaces the bucket's name when given (the client's name for the backend's bucket).
    pub fn answer(&self, v1: &[u8], name: Option<&str>) -> Option<Vec<u8>> {
        let page = Page::read(v1, self.fetch_owner)?;
        let decode = |s: &str| {
            if self.url {
                sign::percent_decode(s)
            } else {
                s.to_string()
            }
        };
        let truncated = page.field("IsTruncated") == Some("true");
        let next = if truncated {
            // The furthest of the last key, the last common prefix and NextMarker (the listing is
            // in byte order). A common prefix stands for every key under it: the next page starts
            // past them all (some V1 services, Garage's among them, roll it up again when the
            // marker is the prefix itself or a key under it).
            let mut last: Option<String> = page.field("NextMarker").map(decode);
            let past_prefix = page.last_prefix.as_deref().map(|p| decode(p) + PAST);
            for c in [page.last_key.as_deref().map(decode), past_prefix]
                .into_iter()
                .flatten()
            {
                if last.as_ref().is_none_or(|l| c > *l) {
                    last = Some(c);
                }
            }
            Some(token_for(&last?))
        } else {
            None
        };
        let mut w = Writer::new(Vec::with_capacity(v1.len() + 256));
        w.write_event(Event::Start(page.root.clone())).ok()?;
        let mut put = |tag: &str, text: &str| -> Option<()> {
            w.write_event(Event::Start(BytesStart::new(tag))).ok()?;
            w.write_event(Event::Text(BytesText::new(text))).ok()?;
            w.write_event(Event::End(BytesEnd::new(tag))).ok()
        };
        put("Name", name.or(page.field("Name")).unwrap_or(""))?;
        put("Prefix", page.field("Prefix").unwrap_or(""))?;
        if let Some(d) = page.field("Delimiter") {
            put("Delimiter", d)?;
        }
        put("MaxKeys", page.field("MaxKeys").unwrap_or("1000"))?;
        if self.url {
            put("EncodingType", "url")?;
        }
        let mut n = itoa::Buffer::new();
        put("KeyCount", n.format(page.count))?;
        if let Some(t) = &self.token {
            put("ContinuationToken", t)?;
        }
        if let Some(t) = &next {
            put("NextContinuationToken", t)?;
        }
        if let Some(s) = &self.start_after {
            let s = if self.url {
                sign::uri_encode_path(s)
            } else {
                s.clone()
            };
            put("StartAfter", &s)?;
        }
        put("IsTruncated", if truncated { "true" } else { "false" })?;
        let mut out = w.into_inner();
        out.extend_from_slice(&page.items);
        let mut w = Writer::new(out);
        w.write_event(Event::End(page.root.to_end().into_owned()))
            .ok()?;
        Some(w.into_inner())
    }
}

/// One V1 page: its root, scalar fields, and its entries as written.
struct Page {
    root: BytesStart<'static>,
    fields: Vec<(String, String)>,
    items: Vec<u8>,
    count: usize,
    last_key: Option<String>,
    last_prefix: Option<String>,
}

impl Page {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn read(v1: &[u8], keep_owner: bool) -> Option<Page> {
        let mut r = Reader::from_reader(v1.trim_ascii_start());
        let mut items = Writer::new(Vec::with_capacity(v1.len()));
        let mut buf = Vec::new();
        let mut page = Page {
            root: BytesStart::new(""),
            fields: Vec::new(),
            items: Vec::new(),
            count: 0,
            last_key: None,
            last_prefix: None,
        };
        // Depth 1 is the root; entries (Contents, CommonPrefixes) start at depth 2.
        let (mut depth, mut in_item, mut skip) = (0usize, false, 0usize);
        let mut scalar: Option<String> = None;
        let mut item_child: Option<Vec<u8>> = None;
        let mut text = String::new();
        loop {
            let ev = r.read_event_into(&mut buf).ok()?;
            match &ev {
                Event::Eof => break,
                Event::Decl(_) | Event::PI(_) | Event::DocType(_) | Event::Comment(_) => {}
                Event::Start(e) => {
                    depth += 1;
                    let name = e.local_name().as_ref().to_vec();
                    if depth == 1 {
                        if name != b"ListBucketResult" {
                            return None;
                        }
                        page.root = e.to_owned();
                    } else if depth == 2 {
                        text.clear();
                        if name == b"Contents" || name == b"CommonPrefixes" {
                            in_item = true;
                            page.count += 1;
                            items.write_event(ev.clone()).ok()?;
                        } else {
                            scalar = Some(String::from_utf8_lossy(&name).into_owned());
                        }
                    } else if in_item {
                        if skip > 0 || (depth == 3 && name == b"Owner" && !keep_owner) {
                            skip += 1;
                        } else {
                            text.clear();
                            item_child = Some(name);
                            items.write_event(ev.clone()).ok()?;
                        }
                    }
                }
                Event::End(_) => {
                    if depth == 2 {
                        if let Some(k) = scalar.take() {
                            page.fields.push((k, std::mem::take(&mut text)));
                        } else if in_item {
                            items.write_event(ev.clone()).ok()?;
                        }
                        in_item = false;
                    } else if in_item {
                        if skip > 0 {
                            skip -= 1;
                        } else {
                            if depth == 3 {
                                match item_child.take().as_deref() {
                                    Some(b"Key") => page.last_key = Some(text.clone()),
                                    Some(b"Prefix") => page.last_prefix = Some(text.clone()),
                                    _ => {}
                                }
                            }
                            items.write_event(ev.clone()).ok()?;
                        }
                    }
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        page.items = items.into_inner();
                        return Some(page);
                    }
                }
                Event::Empty(e) => {
                    if depth == 1 {
                        let name = e.local_name().as_ref().to_vec();
                        if name == b"Contents" || name == b"CommonPrefixes" {
                            page.count += 1;
                        } else {
                            page.fields
                                .push((String::from_utf8_lossy(&name).into_owned(), String::new()));
                            continue;
                        }
                    }
                    if in_item && skip == 0 || depth == 1 {
                        items.write_event(ev.clone()).ok()?;
                    }
                }
                Event::Text(t) => {
                    if depth >= 2 && skip == 0 {
                        text.push_str(&t.unescape().ok()?);
                        if in_item {
                            items.write_event(ev.clone()).ok()?;
                        }
                    }
                }
                Event::CData(c) => {
                    if depth >= 2 && skip == 0 {
                        text.push_str(&String::from_utf8_lossy(c));
                        if in_item {
                            items.write_event(ev.clone()).ok()?;
                        }
                    }
                }
            }
            buf.clear();
        }
        None
    }
}

#[cfg(test)]
mod tests;
