//! The aws-chunked decoder, with and without chunk signatures and trailers, fed in pieces.
#![no_main]
use bytes::BytesMut;
use dialect_proxy::dialect::chunked::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&shape, body)) = data.split_first() else {
        return;
    };
    let trailer = (shape & 1 == 1).then_some("x-amz-checksum-crc32");
    let step = 1 + (shape as usize >> 1) % 17;
    let signing = (shape & 0x80 != 0).then(|| dialect_proxy::dialect::chunked::ChunkSigning {
        key: [7; 32],
        scope: "20240315/us-east-1/s3/aws4_request".into(),
        amz_date: "20240315T123456Z".into(),
        seed: "0".repeat(64),
    });
    if let Ok(mut d) = Decoder::new(signing, trailer, body.len() as u64 / 2) {
        let mut out = BytesMut::new();
        if body.chunks(step).all(|c| d.feed(c, &mut out).is_ok()) {
            let _ = d.finish();
        }
    }
});
