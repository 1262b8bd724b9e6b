//! The configuration parser and validator, with environment lookups.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ =
        dialect_proxy::config::parse(text, &|name| (name == "SET").then(|| "value".to_string()));
});
