//! Result documents edited on their way to the client: namespace, element texts, elements.

use crate::dialect::Dialect;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};

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
/// Document dates (`LastModified`, `Initiated`, `CreationDate`) at whole seconds,
/// `YYYY-MM-DDTHH:MM:SS.000Z`.
pub fn whole_second_dates(body: &[u8]) -> Option<Vec<u8>> {
    map_texts(
        body,
        &["LastModified", "Initiated", "CreationDate"],
        |_, v| {
            let n = super::timestamps::normalize_timestamp(v);
            let whole = format!("{}.000Z", n.get(..19)?);
            (whole != v && n.len() == 24).then_some(whole)
        },
    )
}

/// Give every `parent` element a `name` child holding `value` where it has none (appended last).
/// `None` when the body is not XML or nothing was added.
pub fn add_missing(body: &[u8], parent: &str, name: &str, value: &str) -> Option<Vec<u8>> {
    memchr::memmem::find(body, parent.as_bytes())?;
    let mut r = Reader::from_reader(body.trim_ascii_start());
    let mut w = Writer::new(Vec::with_capacity(body.len() + 64));
    let mut buf = Vec::new();
    let (mut depth, mut open, mut has, mut added) = (0usize, None, false, false);
    loop {
        let ev = r.read_event_into(&mut buf).ok()?;
        match &ev {
            Event::Eof => break,
            Event::Start(e) => {
                depth += 1;
                if e.local_name().as_ref() == parent.as_bytes() {
                    (open, has) = (Some(depth), false);
                } else if open == Some(depth - 1) && e.local_name().as_ref() == name.as_bytes() {
                    has = true;
                }
            }
            Event::Empty(e)
                if open == Some(depth) && e.local_name().as_ref() == name.as_bytes() =>
            {
                has = true;
            }
            Event::End(_) => {
                if open == Some(depth) {
                    if !has {
                        let el = quick_xml::events::BytesStart::new(name);
                        w.write_event(Event::Start(el.clone())).ok()?;
                        w.write_event(Event::Text(quick_xml::events::BytesText::new(value)))
                            .ok()?;
                        w.write_event(Event::End(el.to_end())).ok()?;
                        added = true;
                    }
                    open = None;
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        w.write_event(ev).ok()?;
        buf.clear();
    }
    added.then(|| w.into_inner())
}

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
