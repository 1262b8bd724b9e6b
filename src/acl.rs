//! ACL documents' group grantees, which each cloud names its own way: S3
//! `<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>`, OBS `<Canned>Everyone</Canned>`
//! (its native API has no other group; obs_04_0030), COS
//! `<URI>http://cam.qcloud.com/groups/global/AllUsers</URI>` (436/7737). Grantees by ID pass as
//! they are.

use crate::dialect::Dialect;
use crate::error::ApiError;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// Every cloud's URI prefix of its groups, and OBS's one canned group.
const URI_PREFIXES: &[&str] = &[
    "http://acs.amazonaws.com/groups/",
    "http://cam.qcloud.com/groups/",
];
const EVERYONE: &str = "Everyone";
const ALL_USERS: &str = "global/AllUsers";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The neutral group (`global/AllUsers`...) a grantee's texts name, if it is a group.
fn group_of(uri: Option<&str>, canned: Option<&str>) -> Option<String> {
    if canned.is_some_and(|c| c.trim() == EVERYONE) {
        return Some(ALL_USERS.into());
    }
    let uri = uri?.trim();
    URI_PREFIXES
        .iter()
        .find_map(|p| uri.strip_prefix(p))
        .map(str::to_string)
}

/// Write the grantee of `group` as `to` names it; `false` when `to` has no such group.
fn write_group(w: &mut Writer<Vec<u8>>, to: Dialect, group: &str) -> bool {
    let v = to.vocab();
    if !v.acl_groups.contains(&group) {
        return false;
    }
    let text = |w: &mut Writer<Vec<u8>>, tag: &str, t: &str| {
        let _ = w.write_event(Event::Start(BytesStart::new(tag)));
        let _ = w.write_event(Event::Text(BytesText::new(t)));
        let _ = w.write_event(Event::End(BytesEnd::new(tag)));
    };
    match v.group_uri {
        Some(prefix) => {
            let mut g = BytesStart::new("Grantee");
            g.push_attribute(("xmlns:xsi", XSI));
            g.push_attribute(("xsi:type", "Group"));
            let _ = w.write_event(Event::Start(g));
            text(w, "URI", &format!("{prefix}{group}"));
        }
        None => {
            let _ = w.write_event(Event::Start(BytesStart::new("Grantee")));
            text(w, "Canned", EVERYONE);
        }
    }
    let _ = w.write_event(Event::End(BytesEnd::new("Grantee")));
    true
}

/// The ACL document with its group grantees as `to` names them. `Err` (for a request) when a
/// group has no equivalent there; in an answer such a grantee is kept as the backend wrote it.
/// `Ok(None)`: nothing to change (or not XML).
pub fn translate(body: &[u8], to: Dialect, request: bool) -> Result<Option<Vec<u8>>, ApiError> {
    if memchr::memmem::find(body, b"Grantee").is_none() {
        return Ok(None);
    }
    let mut r = Reader::from_reader(body.trim_ascii_start());
    let mut w = Writer::new(Vec::with_capacity(body.len() + 64));
    let mut buf = Vec::new();
    // The events of the grantee being read, and its URI / Canned texts.
    let mut grantee: Option<Vec<Event<'static>>> = None;
    let (mut uri, mut canned, mut field) = (None::<String>, None::<String>, None::<&str>);
    let mut changed = false;
    loop {
        let Ok(ev) = r.read_event_into(&mut buf) else {
            return Ok(None);
        };
        match (&ev, grantee.as_mut()) {
            (Event::Eof, _) => break,
            (Event::Start(e), None) if e.local_name().as_ref() == b"Grantee" => {
                grantee = Some(vec![ev.into_owned()]);
                (uri, canned, field) = (None, None, None);
            }
            (Event::End(e), Some(events)) if e.local_name().as_ref() == b"Grantee" => {
                events.push(ev.into_owned());
                let events = grantee.take().unwrap_or_default();
                match group_of(uri.as_deref(), canned.as_deref()) {
                    Some(g) if write_group(&mut w, to, &g) => changed = true,
                    Some(g) if request => {
                        return Err(ApiError::invalid_argument(format!(
                            "The grantee group '{g}' has no equivalent at this bucket's {} backend",
                            to.name()
                        )))
                    }
                    _ => {
                        for e in events {
                            let _ = w.write_event(e);
                        }
                    }
                }
            }
            (_, Some(events)) => {
                match &ev {
                    Event::Start(e) => {
                        field = match e.local_name().as_ref() {
                            b"URI" => Some("URI"),
                            b"Canned" => Some("Canned"),
                            _ => None,
                        }
                    }
                    Event::Text(t) => {
                        let t = t.unescape().map(|c| c.into_owned()).ok();
                        match field {
                            Some("URI") => uri = t,
                            Some(_) => canned = t,
                            None => {}
                        }
                    }
                    _ => field = None,
                }
                events.push(ev.into_owned());
            }
            (_, None) => {
                let _ = w.write_event(ev);
            }
        }
        buf.clear();
    }
    Ok(changed.then(|| w.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3_PUBLIC: &str = r#"<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>o</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"#;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn all_users_is_each_clouds_own_group_and_ids_pass() {
        let obs = text(
            translate(S3_PUBLIC.as_bytes(), Dialect::Obs, true)
                .unwrap()
                .unwrap(),
        );
        assert!(
            obs.contains(
                "<Grant><Grantee><Canned>Everyone</Canned></Grantee><Permission>READ</Permission>"
            ),
            "{obs}"
        );
        assert!(
            obs.contains(r#"xsi:type="CanonicalUser"><ID>o</ID></Grantee>"#),
            "{obs}"
        );
        let cos = text(
            translate(obs.as_bytes(), Dialect::Cos, true)
                .unwrap()
                .unwrap(),
        );
        assert!(
            cos.contains("<URI>http://cam.qcloud.com/groups/global/AllUsers</URI>"),
            "{cos}"
        );
        let s3 = text(
            translate(cos.as_bytes(), Dialect::S3, false)
                .unwrap()
                .unwrap(),
        );
        assert_eq!(s3, S3_PUBLIC);
    }

    #[test]
    fn a_group_without_an_equivalent_is_refused_in_requests_and_kept_in_answers() {
        let auth = S3_PUBLIC.replace("global/AllUsers", "global/AuthenticatedUsers");
        let e = translate(auth.as_bytes(), Dialect::Obs, true).unwrap_err();
        assert_eq!(e.code.as_str(), "InvalidArgument");
        assert_eq!(
            translate(auth.as_bytes(), Dialect::Obs, false).unwrap(),
            None
        );
        let cos = text(
            translate(auth.as_bytes(), Dialect::Cos, true)
                .unwrap()
                .unwrap(),
        );
        assert!(cos.contains("http://cam.qcloud.com/groups/global/AuthenticatedUsers"));
        let log = S3_PUBLIC.replace("global/AllUsers", "s3/LogDelivery");
        assert!(translate(log.as_bytes(), Dialect::Cos, true).is_err());
        assert_eq!(translate(b"<Other/>", Dialect::Obs, true).unwrap(), None);
    }
}
