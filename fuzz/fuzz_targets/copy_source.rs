//! Copy sources in every form and dialect, with ranges, conditions and SSE-C headers.
#![no_main]
use dialect_proxy::dialect::copy::parse_copy_part;
use dialect_proxy::dialect::Dialect;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((_, _, _, headers)) = common::request(data) else {
        return;
    };
    let headers = common::view(&headers);
    let suffixes = vec!["s3.example.local".to_string()];
    for d in Dialect::ALL {
        for encoded in [false, true] {
            let _ = parse_copy_part(d, &headers, &suffixes, encoded);
        }
    }
});
