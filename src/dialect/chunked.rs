//! aws-chunked request bodies, the S3 dialect's payload framing: remove the framing as bytes
//! arrive, verify chunk signatures (signed variants) and the trailing checksum, in bounded memory.

use crate::checksum::Checksum;
use crate::error::{ApiError, Code};
use crate::sign::{self, sigv4};
use bytes::BytesMut;
use sha2::Digest;

/// Longest chunk header or trailer line we accept.
const MAX_LINE: usize = 4096;

#[derive(Debug)]
enum State {
    /// Reading `hex-size[;chunk-signature=sig]\r\n`.
    Header,
    /// `n` bytes of chunk data remain.
    Data(u64),
    /// Expecting the `\r\n` after chunk data.
    DataEnd,
    /// After the 0-size chunk: trailer lines until an empty line.
    Trailer,
    Done,
}

/// The running checksum `x-amz-trailer` / `x-amz-sdk-checksum-algorithm` names.
fn checksum_for_header(name: &str) -> Option<Checksum> {
    let n = name.trim();
    let suffix = n
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("x-amz-"))
        .map(|_| &n[6..])?;
    Checksum::for_suffix(suffix)
}

/// Signing context for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER].
pub struct ChunkSigning {
    pub key: [u8; 32],
    pub scope: String,
    pub amz_date: String,
    pub seed: String,
}

pub struct Decoder {
    state: State,
    line: Vec<u8>,
    signing: Option<ChunkSigning>,
    prev_sig: String,
    chunk_sig: String,
    chunk_hash: sha2::Sha256,
    checksum: Option<(String, Checksum)>,
    trailer_lines: Vec<String>,
    decoded: u64,
    declared: u64,
}

fn framing(msg: &str) -> ApiError {
    ApiError::new(
        Code::IncompleteBody,
        format!("The aws-chunked body is malformed: {msg}"),
    )
}

impl Decoder {
    /// `trailer` is the `x-amz-trailer` header value (if any); `declared` is `x-amz-decoded-content-length`.
    pub fn new(
        signing: Option<ChunkSigning>,
        trailer: Option<&str>,
        declared: u64,
    ) -> Result<Self, ApiError> {
        let checksum = match trailer {
            Some(t) if !t.trim().is_empty() => {
                let c = checksum_for_header(t).ok_or_else(|| {
                    ApiError::invalid_argument(format!(
                        "x-amz-trailer '{t}' is not a supported checksum"
                    ))
                })?;
                Some((t.trim().to_ascii_lowercase(), c))
            }
            _ => None,
        };
        let prev_sig = signing.as_ref().map(|s| s.seed.clone()).unwrap_or_default();
        Ok(Decoder {
            state: State::Header,
            line: Vec::new(),
            signing,
            prev_sig,
            chunk_sig: String::new(),
            chunk_hash: sha2::Sha256::new(),
            checksum,
            trailer_lines: Vec::new(),
            decoded: 0,
            declared,
        })
    }

    /// Decode `input`, appending payload bytes to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut BytesMut) -> Result<(), ApiError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer => {
                    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                        self.push_line(input)?;
                        return Ok(());
                    };
                    self.push_line(&input[..=nl])?;
                    input = &input[nl + 1..];
                    let line = std::mem::take(&mut self.line);
                    let line = line
                        .strip_suffix(b"\r\n")
                        .ok_or_else(|| framing("line without CRLF"))?;
                    let line =
                        std::str::from_utf8(line).map_err(|_| framing("line is not UTF-8"))?;
                    if matches!(self.state, State::Header) {
                        self.header_line(line)?;
                    } else {
                        self.trailer_line(line)?;
                    }
                }
                State::Data(n) => {
                    let take = (n as usize).min(input.len());
                    let data = &input[..take];
                    out.extend_from_slice(data);
                    if self.signing.is_some() {
                        self.chunk_hash.update(data);
                    }
                    if let Some((_, c)) = &mut self.checksum {
                        c.update(data);
                    }
                    self.decoded += take as u64;
                    if self.decoded > self.declared {
                        return Err(framing("more data than x-amz-decoded-content-length"));
                    }
                    input = &input[take..];
                    self.state = if take as u64 == n {
                        State::DataEnd
                    } else {
                        State::Data(n - take as u64)
                    };
                }
                State::DataEnd => {
                    let need = 2 - self.line.len();
                    let take = need.min(input.len());
                    self.line.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.line.len() == 2 {
                        if self.line != b"\r\n" {
                            return Err(framing("chunk data is not followed by CRLF"));
                        }
                        self.line.clear();
                        self.verify_chunk()?;
                        self.state = State::Header;
                    }
                }
                State::Done => return Err(framing("bytes after the final chunk")),
            }
        }
        Ok(())
    }

    fn push_line(&mut self, part: &[u8]) -> Result<(), ApiError> {
        if self.line.len() + part.len() > MAX_LINE {
            return Err(framing("header line too long"));
        }
        self.line.extend_from_slice(part);
        Ok(())
    }

    fn header_line(&mut self, line: &str) -> Result<(), ApiError> {
        let (size, ext) = line.split_once(';').unwrap_or((line, ""));
        let size = u64::from_str_radix(size.trim(), 16).map_err(|_| framing("bad chunk size"))?;
        if self.signing.is_some() {
            let sig = ext
                .trim()
                .strip_prefix("chunk-signature=")
                .ok_or_else(|| framing("missing chunk-signature"))?;
            if sig.len() != 64 {
                return Err(framing("bad chunk-signature"));
            }
            self.chunk_sig = sig.to_ascii_lowercase();
        }
        if size == 0 {
            self.verify_chunk()?;
            self.state = State::Trailer;
        } else {
            self.state = State::Data(size);
        }
        Ok(())
    }

    fn verify_chunk(&mut self) -> Result<(), ApiError> {
        let Some(s) = &self.signing else {
            return Ok(());
        };
        let hash = hex::encode(std::mem::take(&mut self.chunk_hash).finalize());
        let sts = sigv4::chunk_string_to_sign(&s.amz_date, &s.scope, &self.prev_sig, &hash);
        let expected = sigv4::signature(&s.key, &sts);
        if !sign::same_signature(&expected, &self.chunk_sig) {
            return Err(ApiError::signature_mismatch().with_detail(sts));
        }
        self.prev_sig = expected;
        Ok(())
    }

    fn trailer_line(&mut self, line: &str) -> Result<(), ApiError> {
        if line.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        if self.trailer_lines.len() > 8 {
            return Err(framing("too many trailer lines"));
        }
        self.trailer_lines.push(line.to_string());
        Ok(())
    }

    /// The payload's length, as `x-amz-decoded-content-length` declares it.
    pub fn declared(&self) -> u64 {
        self.declared
    }

    /// The trailer checksum's header name (lower case) and the length of its value.
    pub fn trailer(&self) -> Option<(&str, usize)> {
        self.checksum
            .as_ref()
            .map(|(n, c)| (n.as_str(), c.encoded_len()))
    }

    /// Call at the end of the body: checks completeness, the trailer checksum and its signature.
    /// Returns the verified trailer checksum (header name, value), to send on where it is kept.
    pub fn finish(self) -> Result<Option<(String, String)>, ApiError> {
        // A body may end right after the 0-chunk's empty trailer section without the final CRLF.
        let complete = match self.state {
            State::Done => true,
            State::Trailer => self.line.is_empty(),
            _ => false,
        };
        if !complete {
            return Err(framing("the body ended early"));
        }
        if self.decoded != self.declared {
            return Err(framing("length differs from x-amz-decoded-content-length"));
        }
        let mut trailer_sig = None;
        let mut values = Vec::new();
        for l in &self.trailer_lines {
            let (k, v) = l
                .split_once(':')
                .ok_or_else(|| framing("bad trailer line"))?;
            let k = k.trim().to_ascii_lowercase();
            if k == "x-amz-trailer-signature" {
                trailer_sig = Some(v.trim().to_ascii_lowercase());
            } else {
                values.push((k, v.trim().to_string()));
            }
        }
        if let Some(s) = &self.signing {
            if self.checksum.is_some() || trailer_sig.is_some() {
                let canonical: String = values.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
                let sts = sigv4::trailer_string_to_sign(
                    &s.amz_date,
                    &s.scope,
                    &self.prev_sig,
                    &canonical,
                );
                let got = trailer_sig.ok_or_else(|| framing("missing x-amz-trailer-signature"))?;
                if !sign::same_signature(&sigv4::signature(&s.key, &sts), &got) {
                    return Err(ApiError::signature_mismatch().with_detail(sts));
                }
            }
        }
        let Some((name, c)) = self.checksum else {
            return Ok(None);
        };
        let sent = values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| framing("the declared trailer checksum is missing"))?;
        let value = c.finish_b64();
        if value != sent {
            return Err(ApiError::new(
                Code::BadDigest,
                format!("The {name} you specified did not match the calculated checksum."),
            ));
        }
        Ok(Some((name, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn decode(
        body: &[u8],
        trailer: Option<&str>,
        declared: u64,
        split: usize,
    ) -> Result<Vec<u8>, ApiError> {
        let mut d = Decoder::new(None, trailer, declared)?;
        let mut out = BytesMut::new();
        for part in body.chunks(split.max(1)) {
            d.feed(part, &mut out)?;
        }
        d.finish()?;
        Ok(out.to_vec())
    }

    #[test]
    fn unsigned_trailer_in_any_split() {
        // The boto3 capture: 28 bytes, CRC32 trailer.
        let data = b"dialect-proxy golden vector\n";
        let crc =
            base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(data).to_be_bytes());
        let body = format!(
            "1c\r\n{}\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n",
            std::str::from_utf8(data).unwrap()
        );
        for split in [1, 2, 3, 7, 1000] {
            assert_eq!(
                decode(body.as_bytes(), Some("x-amz-checksum-crc32"), 28, split).unwrap(),
                data,
                "{split}"
            );
        }
        let bad = body.replace(&crc, "AAAAAA==");
        assert_eq!(
            decode(bad.as_bytes(), Some("x-amz-checksum-crc32"), 28, 5)
                .unwrap_err()
                .code,
            "BadDigest"
        );
        assert!(decode(&body.as_bytes()[..20], Some("x-amz-checksum-crc32"), 28, 5).is_err());
        assert!(decode(body.as_bytes(), Some("x-amz-checksum-crc32"), 27, 5).is_err());
    }

    #[test]
    fn every_s3_trailer_algorithm_is_verified() {
        // pyarrow's AWS C++ SDK trails x-amz-checksum-crc64nvme.
        let data = b"123456789";
        for name in ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] {
            let mut c = Checksum::for_algorithm(name).unwrap();
            c.update(data);
            let header = format!("x-amz-checksum-{name}");
            let body = format!("9\r\n123456789\r\n0\r\n{header}:{}\r\n\r\n", c.finish_b64());
            assert_eq!(
                decode(body.as_bytes(), Some(&header), 9, 4).unwrap(),
                data,
                "{name}"
            );
            let bad = body.replace("123456789", "123456780");
            let e = decode(bad.as_bytes(), Some(&header), 9, 4).unwrap_err();
            assert_eq!(e.code, "BadDigest", "{name}");
        }
    }

    #[test]
    fn aws_documentation_signed_chunks() {
        // AWS's STREAMING-AWS4-HMAC-SHA256-PAYLOAD example: 65536 + 1024 bytes of 'a'.
        let key = sigv4::signing_key(
            &sigv4::AWS,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524/us-east-1/s3/aws4_request",
        );
        let sigs = [
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ];
        let mut body = Vec::new();
        for (size, sig) in [(65536usize, sigs[0]), (1024, sigs[1]), (0, sigs[2])] {
            body.extend_from_slice(format!("{size:x};chunk-signature={sig}\r\n").as_bytes());
            body.extend(std::iter::repeat_n(b'a', size));
            body.extend_from_slice(b"\r\n");
        }
        let signing = || ChunkSigning {
            key,
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            amz_date: "20130524T000000Z".into(),
            seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
        };
        let mut d = Decoder::new(Some(signing()), None, 66560).unwrap();
        let mut out = BytesMut::new();
        for part in body.chunks(4000) {
            d.feed(part, &mut out).unwrap();
        }
        d.finish().unwrap();
        assert_eq!(out.len(), 66560);
        // One byte of data changed: the first chunk's signature fails.
        let mut bad = body.clone();
        bad[200] = b'b';
        let mut d = Decoder::new(Some(signing()), None, 66560).unwrap();
        assert_eq!(
            d.feed(&bad, &mut BytesMut::new()).unwrap_err().code,
            "SignatureDoesNotMatch"
        );
    }
}
