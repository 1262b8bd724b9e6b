//! Bucket documents that differ between clouds: the CreateBucket configuration (S3
//! `<LocationConstraint>`, OBS `<Location>`, none at COS) and the GetBucketLocation answer.
//! The backend's configured region decides where a bucket is made: the region a client names
//! is the gateway's, not the backend's.

use crate::config::Backend;
use crate::dialect::Dialect;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// The CreateBucket body `backend` takes for a client's `body`.
pub fn create_body(backend: &Backend, body: &[u8]) -> Vec<u8> {
    let v = backend.dialect.vocab();
    // A COS multi-AZ configuration is COS's own and goes on as it is.
    if backend.dialect == Dialect::Cos && memchr::memmem::find(body, b"BucketAZConfig").is_some() {
        return body.to_vec();
    }
    let region = backend.region.as_str();
    // S3 takes no constraint for its first region (it refuses one), OBS none for its default.
    let Some(element) = v.bucket_location.filter(|_| !region.is_empty()) else {
        return Vec::new();
    };
    if backend.dialect == Dialect::S3 && region == "us-east-1" {
        return Vec::new();
    }
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
