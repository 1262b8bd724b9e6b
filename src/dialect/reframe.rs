//! A trailer checksum the proxy has verified, sent on to a backend that keeps checksums (S3's
//! flexible checksums): the body goes as aws-chunked with an *unsigned* trailer
//! (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, AWS "sigv4-streaming-trailers"). Unsigned, because the
//! client's chunk and trailer signatures were already checked here, and because Garage checks a
//! signed trailer with its own chaining, so AWS's way would be refused there.
//! Chunks have a fixed size, so the framed length is known before the first byte goes.

use bytes::{BufMut, BytesMut};
use std::io::Write;

/// Data bytes per chunk.
const CHUNK: u64 = 64 * 1024;
/// The `x-amz-content-sha256` the request is signed with.
pub const PAYLOAD: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

pub struct Framer {
    /// The trailer header's name, lower case (`x-amz-checksum-crc32`).
    name: String,
    decoded: u64,
    framed: u64,
    /// Data bytes still to come in the open chunk, and in the whole body.
    in_chunk: u64,
    left: u64,
}

fn hex_len(n: u64) -> u64 {
    (64 - n.leading_zeros() as u64).div_ceil(4).max(1)
}

impl Framer {
    /// A body of `decoded` bytes whose trailer is `name` with a value of `value_len` characters.
    pub fn new(decoded: u64, name: &str, value_len: usize) -> Framer {
        let chunk = |n: u64| hex_len(n) + 2 + n + 2;
        let (full, rest) = (decoded / CHUNK, decoded % CHUNK);
        let last = if rest > 0 { chunk(rest) } else { 0 };
        // "0\r\n", "name:value\r\n", "\r\n"
        let end = 3 + name.len() as u64 + 1 + value_len as u64 + 2 + 2;
        Framer {
            name: name.to_string(),
            decoded,
            framed: full * chunk(CHUNK) + last + end,
            in_chunk: 0,
            left: decoded,
        }
    }

    /// The headers that announce the framing (Content-Length is the framed length).
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            ("content-encoding", "aws-chunked".into()),
            (super::s3::DECODED_LENGTH, self.decoded.to_string()),
            ("x-amz-trailer", self.name.clone()),
            ("content-length", self.framed.to_string()),
        ]
    }

    /// Frame the next `data` of the body into `out`.
    pub fn wrap(&mut self, mut data: &[u8], out: &mut BytesMut) {
        while !data.is_empty() {
            if self.in_chunk == 0 {
                self.in_chunk = CHUNK.min(self.left);
                let mut w = std::mem::take(out).writer();
                // Writing into memory cannot fail.
                let _ = write!(w, "{:x}\r\n", self.in_chunk);
                *out = w.into_inner();
            }
            let take = (self.in_chunk as usize).min(data.len());
            out.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.in_chunk -= take as u64;
            self.left = self.left.saturating_sub(take as u64);
            if self.in_chunk == 0 {
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// The final chunk and the trailer, once the body is whole and its checksum verified.
    pub fn end(&self, value: &str, out: &mut BytesMut) {
        out.extend_from_slice(b"0\r\n");
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(b":");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::chunked::Decoder;

    /// The framed body has the announced length and decodes back to the data and trailer,
    /// whatever the size (empty, inside one chunk, chunk boundaries).
    #[test]
    fn framed_length_is_exact_and_decodes() {
        for size in [0u64, 1, 15, 16, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut c = crate::checksum::Checksum::for_algorithm("crc64nvme").unwrap();
            c.update(&data);
            let value = c.finish_b64();
            let mut f = Framer::new(size, "x-amz-checksum-crc64nvme", value.len());
            let mut out = BytesMut::new();
            for piece in data.chunks(7000) {
                f.wrap(piece, &mut out);
            }
            f.end(&value, &mut out);
            let announced = &f.headers()[3].1;
            assert_eq!(announced, &out.len().to_string(), "size {size}");
            let mut d = Decoder::new(None, Some("x-amz-checksum-crc64nvme"), size).unwrap();
            let mut back = BytesMut::new();
            d.feed(&out, &mut back).unwrap();
            let trailer = d.finish().unwrap();
            assert_eq!(&back[..], &data[..]);
            assert_eq!(trailer.unwrap().1, value);
        }
    }
}
