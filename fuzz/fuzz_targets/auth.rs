//! Every authentication scheme (OBS, V2, SigV4 header and presigned, COS header and presigned):
//! detection and verification never panic, whatever the request.
#![no_main]
use dialect_proxy::auth::{self, WireRequest};
use dialect_proxy::sign::Secret;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((method, path, query, headers)) = common::request(data) else {
        return;
    };
    let secret = Secret::new("SK");
    for host_bucket in [None, Some("b")] {
        let wire = WireRequest {
            method: &method,
            raw_path: &path,
            raw_query: &query,
            headers: &headers,
            host_bucket,
        };
        let _ = auth::detect(&wire);
        let _ = auth::verify(
            &wire,
            &|ak| (ak == "AK").then_some(&secret),
            1710506096,
            900,
        );
    }
});
