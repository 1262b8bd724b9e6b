//! The readers of backend documents: results, errors, listings, namespaces, and the answer body
//! translation of every operation that reads one.
#![no_main]
use dialect_proxy::dialect::Dialect;
use dialect_proxy::request::Op;
use dialect_proxy::xml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xml::copy_result(data);
    let _ = xml::complete_etag(data);
    let _ = xml::parse_error(data);
    let _ = xml::whole_document(data);
    let _ = xml::rewrite_namespace(data, Dialect::Cos);
    let _ = xml::strip_elements(data, "Checksum");
    let _ = xml::texts(data, "ETag");
    let _ = xml::list_parts_page(data);
    let _ = xml::listed_objects(data);
    for op in [
        Op::UploadPartCopy,
        Op::Complete,
        Op::ListParts,
        Op::Initiate,
    ] {
        for status in [200, 404] {
            let _ = dialect_proxy::response::body(op, status, Dialect::Obs, data, "r", "/b/k");
        }
    }
});
