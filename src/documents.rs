//! Request and answer documents that differ between clouds: the CreateBucket configuration (S3
//! `<LocationConstraint>`, OBS `<Location>`, none at COS), the GetBucketLocation answer and the
//! restore request (S3 `GlacierJobParameters`, OBS `RestoreJob`, COS `CASJobParameters`).
//! The backend's configured region decides where a bucket is made: the region a client names
//! is the gateway's, not the backend's.

use crate::config::Backend;
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::model::Op;
use crate::request::Forward;
use bytes::Bytes;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// A small request body as `backend`'s cloud takes it (CreateBucket, ACL and restore documents),
/// and the `Content-MD5` it requires. A rewritten body drops the client's digests of it (verified
/// before this).
pub fn for_backend(f: &mut Forward, backend: &Backend, body: Bytes) -> Result<Bytes, ApiError> {
    let to = backend.dialect;
    let has = |f: &Forward, q: &str| f.out.query.iter().any(|(k, _)| k == q);
    let new = match f.out.method.as_str() {
        "PUT" if f.op == Op::Bucket && f.out.query.is_empty() => Some(create_body(backend, &body)),
        "PUT" if has(f, "acl") && to != f.client => crate::acl::translate(&body, to, true)?,
        "POST" if has(f, "restore") && to != f.client => restore_body(to, &body)?,
        _ => None,
    };
    let body = match new {
        Some(b) if b[..] != body[..] => {
            f.out
                .headers
                .retain(|(k, _)| k != "content-md5" && !k.contains("checksum-"));
            Bytes::from(b)
        }
        _ => body,
    };
    crate::request::require_md5(f, to, &body);
    Ok(body)
}

/// A buffered 2xx answer document in the client's shape: ACL grantees, bucket location, the
/// client's bucket name, a V2 listing from a V1 one. `Err` when a listing cannot be read.
pub fn for_client(f: &Forward, from: Dialect, body: &mut Option<Vec<u8>>) -> Result<(), ApiError> {
    let Some(b) = body.as_mut() else {
        return Ok(());
    };
    let has = |q: &str| f.out.query.iter().any(|(k, _)| k == q);
    if f.out.method == "GET" && has("acl") && from != f.client {
        if let Ok(Some(doc)) = crate::acl::translate(b, f.client, false) {
            *b = doc;
        }
    }
    if f.op == Op::Bucket && has("location") {
        if let Some(doc) = location_answer(b, f.client) {
            *b = doc;
        }
    }
    if let (Some(client_bucket), Some(ours)) = (&f.client_bucket, &f.out.bucket) {
        if let Some(renamed) = crate::rename::bucket_back(b, ours, client_bucket) {
            *b = renamed;
        }
    }
    if let Some(l) = &f.listing {
        *b = l
            .answer(b, f.client_bucket.as_deref())
            .ok_or_else(|| ApiError::internal("The backend's listing could not be read"))?;
    }
    Ok(())
}

/// The CreateBucket body `backend` takes for a client's `body`.
pub fn create_body(backend: &Backend, body: &[u8]) -> Vec<u8> {
    let v = backend.dialect.vocab();
    // A configuration of the backend's cloud's own (COS multi-AZ) goes on as it is.
    if v.own_bucket_config
        .is_some_and(|e| memchr::memmem::find(body, e.as_bytes()).is_some())
    {
        return body.to_vec();
    }
    let region = backend.region.as_str();
    let Some(element) = v
        .bucket_location
        .filter(|_| !region.is_empty() && region != v.default_region)
    else {
        return Vec::new();
    };
    let mut w = Writer::new(Vec::with_capacity(160));
    let mut root = BytesStart::new("CreateBucketConfiguration");
    root.push_attribute(("xmlns", v.xmlns));
    let _ = w.write_event(Event::Start(root));
    let _ = w.write_event(Event::Start(BytesStart::new(element)));
    let _ = w.write_event(Event::Text(BytesText::new(region)));
    let _ = w.write_event(Event::End(BytesEnd::new(element)));
    let _ = w.write_event(Event::End(BytesEnd::new("CreateBucketConfiguration")));
    w.into_inner()
}

/// A restore request in the backend's shape: its job element renamed; a tier the backend's cloud
/// does not offer is refused (the wait and the price differ: no silent substitute).
pub fn restore_body(to: Dialect, body: &[u8]) -> Result<Option<Vec<u8>>, ApiError> {
    const JOBS: &[&str] = &["GlacierJobParameters", "RestoreJob", "CASJobParameters"];
    let v = to.vocab();
    let mut r = Reader::from_reader(body.trim_ascii_start());
    let mut w = Writer::new(Vec::with_capacity(body.len() + 16));
    let mut buf = Vec::new();
    let malformed = || {
        ApiError::new(
            crate::error::Code::MalformedXML,
            "The restore request is not well-formed XML",
        )
    };
    if !crate::xml::whole_document(body) {
        return Err(malformed());
    }
    let mut in_tier = false;
    loop {
        let ev = r.read_event_into(&mut buf).map_err(|_| malformed())?;
        match ev {
            Event::Eof => break,
            Event::Start(ref e)
                if JOBS.contains(&&*String::from_utf8_lossy(e.local_name().as_ref())) =>
            {
                w.write_event(Event::Start(BytesStart::new(v.restore_job)))
                    .map_err(|_| malformed())?;
            }
            Event::End(ref e)
                if JOBS.contains(&&*String::from_utf8_lossy(e.local_name().as_ref())) =>
            {
                w.write_event(Event::End(BytesEnd::new(v.restore_job)))
                    .map_err(|_| malformed())?;
            }
            Event::Start(ref e) => {
                in_tier = e.local_name().as_ref() == b"Tier";
                w.write_event(ev).map_err(|_| malformed())?;
            }
            Event::Text(ref t) if in_tier => {
                let tier = t.unescape().map_err(|_| malformed())?;
                let Some(ours) = v
                    .restore_tiers
                    .iter()
                    .find(|x| x.eq_ignore_ascii_case(tier.trim()))
                else {
                    return Err(ApiError::invalid_argument(format!(
                        "The restore tier '{}' is not offered by this bucket's {} backend",
                        tier.trim(),
                        to.name()
                    )));
                };
                w.write_event(Event::Text(BytesText::new(ours)))
                    .map_err(|_| malformed())?;
            }
            other => {
                in_tier = false;
                w.write_event(other).map_err(|_| malformed())?;
            }
        }
        buf.clear();
    }
    let out = w.into_inner();
    Ok((out != body).then_some(out))
}

/// A GetBucketLocation answer in the client's shape; `None` when it is not one.
pub fn location_answer(body: &[u8], to: Dialect) -> Option<Vec<u8>> {
    let mut r = Reader::from_reader(body.trim_ascii_start());
    r.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut region = String::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e)
                if !matches!(e.local_name().as_ref(), b"LocationConstraint" | b"Location") =>
            {
                return None
            }
            Event::Text(t) => region.push_str(&t.unescape().ok()?),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let v = to.vocab();
    let mut w = Writer::new(Vec::with_capacity(160));
    let mut root = BytesStart::new(v.location_root);
    root.push_attribute(("xmlns", v.xmlns));
    w.write_event(Event::Start(root)).ok()?;
    w.write_event(Event::Text(BytesText::new(&region))).ok()?;
    w.write_event(Event::End(BytesEnd::new(v.location_root)))
        .ok()?;
    let mut out = v.xml_decl.as_bytes().to_vec();
    out.extend_from_slice(&w.into_inner());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn create_bucket_names_the_backends_region_as_its_cloud_does() {
        let s3 = b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
        let mut obs = Backend::render_only(
            Dialect::Obs,
            "obs.cn-north-4.myhuaweicloud.com",
            "cn-north-4",
        );
        assert_eq!(
            text(create_body(&obs, s3)),
            r#"<CreateBucketConfiguration xmlns="http://obs.myhwclouds.com/doc/2015-06-30/"><Location>cn-north-4</Location></CreateBucketConfiguration>"#
        );
        // An S3 client that sent no body still gets OBS's required Location.
        assert!(text(create_body(&obs, b"")).contains("<Location>cn-north-4</Location>"));
        obs.region.clear();
        assert!(create_body(&obs, s3).is_empty());
        let cos = Backend::render_only(
            Dialect::Cos,
            "cos.ap-guangzhou.myqcloud.com",
            "ap-guangzhou",
        );
        assert!(create_body(&cos, s3).is_empty());
        let maz = b"<CreateBucketConfiguration><BucketAZConfig>MAZ</BucketAZConfig></CreateBucketConfiguration>";
        assert_eq!(create_body(&cos, maz), maz.to_vec());
        let g = Backend::render_only(Dialect::S3, "127.0.0.1:3900", "garage");
        assert!(text(create_body(
            &g,
            b"<CreateBucketConfiguration><Location>x</Location></CreateBucketConfiguration>"
        ))
        .contains("<LocationConstraint>garage</LocationConstraint>"));
        let aws = Backend::render_only(Dialect::S3, "s3.amazonaws.com", "us-east-1");
        assert!(create_body(&aws, s3).is_empty());
    }

    #[test]
    fn location_answers_take_the_clients_root() {
        let obs = br#"<?xml version="1.0" encoding="UTF-8"?><Location xmlns="http://obs.myhwclouds.com/doc/2015-06-30/">cn-north-4</Location>"#;
        let out = text(location_answer(obs, Dialect::S3).unwrap());
        assert!(out.ends_with(r#"<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">cn-north-4</LocationConstraint>"#), "{out}");
        let s3 = br#"<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;
        let out = text(location_answer(s3, Dialect::Obs).unwrap());
        assert!(
            out.ends_with(
                r#"<Location xmlns="http://obs.myhwclouds.com/doc/2015-06-30/"></Location>"#
            ),
            "{out}"
        );
        assert!(location_answer(b"<ListBucketResult/>", Dialect::S3).is_none());
    }

    #[test]
    fn restore_requests_name_the_job_as_the_backends_cloud_does() {
        let s3 = b"<RestoreRequest><Days>2</Days><GlacierJobParameters><Tier>Expedited</Tier></GlacierJobParameters></RestoreRequest>";
        let obs = text(restore_body(Dialect::Obs, s3).unwrap().unwrap());
        assert_eq!(obs, "<RestoreRequest><Days>2</Days><RestoreJob><Tier>Expedited</Tier></RestoreJob></RestoreRequest>");
        let cos = text(restore_body(Dialect::Cos, obs.as_bytes()).unwrap().unwrap());
        assert!(cos.contains("<CASJobParameters><Tier>Expedited</Tier></CASJobParameters>"));
        assert!(restore_body(Dialect::S3, s3).unwrap().is_none());
        // OBS offers Expedited and Standard only (obs_04_0087).
        let bulk = b"<RestoreRequest><Days>1</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters></RestoreRequest>";
        assert_eq!(
            restore_body(Dialect::Obs, bulk).unwrap_err().code.as_str(),
            "InvalidArgument"
        );
        assert!(restore_body(Dialect::Cos, bulk).unwrap().is_some());
        assert_eq!(
            restore_body(Dialect::Obs, b"<RestoreRequest><Days>")
                .unwrap_err()
                .code
                .as_str(),
            "MalformedXML"
        );
    }

    #[test]
    fn a_region_is_read_from_a_clouds_host() {
        assert_eq!(
            Dialect::Obs.region_of_host("obs.cn-north-4.myhuaweicloud.com"),
            Some("cn-north-4")
        );
        assert_eq!(
            Dialect::Obs.region_of_host("obs.myhuaweicloud.com:443"),
            None
        );
        assert_eq!(
            Dialect::Cos.region_of_host("cos.ap-guangzhou.myqcloud.com:80"),
            Some("ap-guangzhou")
        );
        assert_eq!(Dialect::S3.region_of_host("127.0.0.1:3900"), None);
    }
}
