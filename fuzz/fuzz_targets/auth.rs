//! Every authentication scheme (OBS, V2, SigV4 header and presigned, COS header and presigned):
//! detection and verification never panic, whatever the request.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::auth(data));
