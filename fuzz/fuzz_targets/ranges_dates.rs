//! Byte ranges, part numbers and the date forms of every dialect.
#![no_main]
use dialect_proxy::dialect::copy::{check_part_number, check_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = check_range(s);
    let _ = check_part_number(Some(s));
    let _ = dialect_proxy::dates::parse_date(s);
    let _ = dialect_proxy::dates::parse_amz_date(s);
    let _ = dialect_proxy::xml::normalize_timestamp(s);
});
