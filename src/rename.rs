//! Bucket names back in answers. A route may give the backend's bucket another name
//! (`backend_bucket = "{bucket}-1250000000"`, as a COS bucket needs its APPID); every answer
//! document that names the bucket then says the client's name.

/// The answer document with `backend`'s name replaced by `client`'s in `<Name>` (listings),
/// `<Bucket>` (multipart results and lists) and `<Location>` (a Complete's URL); `None` when
/// nothing names it.
pub fn bucket_back(body: &[u8], backend: &str, client: &str) -> Option<Vec<u8>> {
    crate::xml::map_texts(body, &["Name", "Bucket", "Location"], |name, text| {
        if name != "Location" {
            return (text == backend).then(|| client.to_string());
        }
        // http://host/<bucket>/key or http://<bucket>.host/key
        let (path_form, host_form) = (format!("/{backend}/"), format!("//{backend}."));
        if let Some(i) = text.find(&path_form) {
            return Some(format!(
                "{}/{client}/{}",
                &text[..i],
                &text[i + path_form.len()..]
            ));
        }
        let i = text.find(&host_form)?;
        Some(format!(
            "{}//{client}.{}",
            &text[..i],
            &text[i + host_form.len()..]
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::bucket_back;

    #[test]
    fn backend_names_become_the_clients_in_every_element_that_names_the_bucket() {
        let s = |b: Option<Vec<u8>>| String::from_utf8(b.unwrap()).unwrap();
        let done = br#"<CompleteMultipartUploadResult><Location>http://h/p-125/k/p-125</Location><Bucket>p-125</Bucket><Key>p-125</Key><ETag>"e"</ETag></CompleteMultipartUploadResult>"#;
        assert_eq!(
            s(bucket_back(done, "p-125", "p")),
            r#"<CompleteMultipartUploadResult><Location>http://h/p/k/p-125</Location><Bucket>p</Bucket><Key>p-125</Key><ETag>"e"</ETag></CompleteMultipartUploadResult>"#
        );
        let hosted = b"<R><Location>https://p-125.cos.x.myqcloud.com/k</Location></R>";
        assert!(s(bucket_back(hosted, "p-125", "p")).contains("https://p.cos.x.myqcloud.com/k"));
        let list = b"<ListBucketResult><Name>p-125</Name><Contents><Key>Name</Key></Contents></ListBucketResult>";
        assert!(
            s(bucket_back(list, "p-125", "p")).contains("<Name>p</Name><Contents><Key>Name</Key>")
        );
        assert!(bucket_back(b"<Other><Key>k</Key></Other>", "p-125", "p").is_none());
    }
}
