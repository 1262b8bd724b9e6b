use super::write::response_header;
use pingora::http::ResponseHeader;

fn wire(h: &ResponseHeader) -> String {
    let mut b = bytes::BytesMut::new();
    h.header_to_h1_wire(&mut b);
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn answer_heads_spell_names_as_the_clouds_do_with_or_without_a_case_map() {
    let pairs = |p: &[(&str, &str)]| {
        p.iter()
            .map(|(k, v)| (k.to_string().into(), v.to_string()))
            .collect()
    };
    let h = response_header(
        200,
        pairs(&[
            ("content-type", "application/xml"),
            ("x-obs-request-id", "1"),
        ]),
    )
    .unwrap();
    assert!(!h.has_case());
    assert_eq!(
        wire(&h),
        "Content-Type: application/xml\r\nx-obs-request-id: 1\r\n"
    );
    let h = response_header(
        200,
        pairs(&[
            ("etag", "\"e\""),
            ("last-modified", "x"),
            ("x-cos-request-id", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(
        wire(&h),
        "ETag: \"e\"\r\nLast-Modified: x\r\nx-cos-request-id: 1\r\n"
    );
}
