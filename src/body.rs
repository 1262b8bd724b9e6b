//! What a request body must prove on its way through: the hex SHA-256 the client signed, or the
//! aws-chunked framing (removed here, chunk signatures and trailer checksum verified).
//! A checksum header the backend cannot check is verified here too; a trailer checksum goes on
//! re-framed where the backend keeps checksums.
//! The last byte is held back until the proof is complete, so a backend never receives a whole
//! body that turns out to be bad: it sees a short body and commits nothing.

use crate::auth::Payload;
use crate::checksum::Checksum;
use crate::dialect::chunked::{ChunkSigning, Decoder};
use crate::dialect::reframe::Framer;
use crate::dialect::wire::Headers;
use crate::dialect::Dialect;
use crate::error::{ApiError, Code};
use bytes::{Bytes, BytesMut};
use sha2::Digest;

enum Kind {
    Pass,
    Sha256(sha2::Sha256, String),
    Chunked(Box<Decoder>),
}

pub struct BodyCheck {
    kind: Kind,
    held: Option<Bytes>,
    /// A checksum header of the client's (suffix, running checksum, value sent).
    header: Option<(String, Checksum, String)>,
    /// The trailer, framed again for the backend.
    framer: Option<Framer>,
    /// The checksum proven over the whole body (neutral suffix, value), once it has ended.
    proven: Option<(String, String)>,
}

impl BodyCheck {
    pub fn new(payload: &Payload) -> Result<Self, ApiError> {
        let kind = match payload {
            Payload::Unsigned => Kind::Pass,
            Payload::Sha256(h) => Kind::Sha256(sha2::Sha256::new(), h.clone()),
            Payload::Streaming {
                signed,
                trailer,
                decoded_len,
                seed,
                key,
                scope,
                amz_date,
            } => {
                let declared = decoded_len.ok_or_else(|| {
                    ApiError::new(
                        Code::MissingContentLength,
                        "aws-chunked bodies need x-amz-decoded-content-length",
                    )
                })?;
                let signing = signed.then(|| ChunkSigning {
                    key: *key,
                    scope: scope.clone(),
                    amz_date: amz_date.clone(),
                    seed: seed.clone(),
                });
                Kind::Chunked(Box::new(Decoder::new(
                    signing,
                    trailer.as_deref(),
                    declared,
                )?))
            }
        };
        Ok(BodyCheck {
            kind,
            held: None,
            header: None,
            framer: None,
            proven: None,
        })
    }

    /// Also verify the client's checksum header (`checksum-crc32`, value) over the payload.
    pub fn with_header(mut self, checksum: Option<&(String, String)>) -> Self {
        self.header = checksum.and_then(|(suffix, value)| {
            Checksum::for_suffix(suffix).map(|c| (suffix.clone(), c, value.trim().to_string()))
        });
        self
    }

    /// Send the verified trailer checksum on: the payload is framed again as aws-chunked with an
    /// unsigned trailer. Returns the headers that announce it (none without a trailer).
    pub fn reframe_trailer(&mut self) -> Option<[(&'static str, String); 4]> {
        let Kind::Chunked(d) = &self.kind else {
            return None;
        };
        let (name, len) = d.trailer()?;
        let f = Framer::new(d.declared(), name, len);
        let headers = f.headers();
        self.framer = Some(f);
        Some(headers)
    }

    /// Add the checksum the client sent and the proxy verified over the whole body to a success
    /// that lacks it, as S3 answers (Garage keeps a trailer's but does not echo it; OBS and COS
    /// keep none), where the client's dialect has a header for it.
    pub fn answer_with_proof(&self, status: u16, client: Dialect, headers: &mut Headers) {
        let Some((suffix, value)) = self
            .proven
            .as_ref()
            .filter(|_| (200..300).contains(&status))
        else {
            return;
        };
        if let Some(name) = client.header_name(suffix) {
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(&name)) {
                headers.push((name.into(), value.clone()));
            }
        }
    }

    pub fn passes_through(&self) -> bool {
        matches!(self.kind, Kind::Pass) && self.header.is_none()
    }

    /// Feed one piece of the received body; returns what may go upstream now.
    pub fn push(&mut self, input: Option<Bytes>, end: bool) -> Result<Option<Bytes>, ApiError> {
        let data = match &mut self.kind {
            Kind::Pass if self.header.is_none() => return Ok(input),
            Kind::Pass => input.unwrap_or_default(),
            Kind::Sha256(h, _) => {
                if let Some(b) = &input {
                    h.update(b);
                }
                input.unwrap_or_default()
            }
            Kind::Chunked(d) => {
                let mut out = BytesMut::new();
                if let Some(b) = &input {
                    d.feed(b, &mut out)?;
                }
                out.freeze()
            }
        };
        if let Some((_, c, _)) = &mut self.header {
            c.update(&data);
        }
        let trailer = if end { self.verify()? } else { None };
        let mut out = BytesMut::new();
        if let Some(h) = self.held.take() {
            out.extend_from_slice(&h);
        }
        out.extend_from_slice(&data);
        let mut out = out.freeze();
        if !end && !out.is_empty() {
            self.held = Some(out.split_off(out.len() - 1));
        }
        if let Some(f) = &mut self.framer {
            let mut framed = BytesMut::with_capacity(out.len() + 32);
            f.wrap(&out, &mut framed);
            if let (true, Some((_, value))) = (end, &trailer) {
                f.end(value, &mut framed);
            }
            return Ok(Some(framed.freeze()));
        }
        Ok(Some(out))
    }

    /// At the end of the body: every proof, and the verified trailer checksum if any.
    fn verify(&mut self) -> Result<Option<(String, String)>, ApiError> {
        if let Some((suffix, c, sent)) = self.header.take() {
            if c.finish_b64() != sent {
                return Err(ApiError::new(
                    Code::BadDigest,
                    format!("The {suffix} you specified did not match the calculated checksum."),
                ));
            }
            self.proven = Some((suffix, sent));
        }
        let trailer = match std::mem::replace(&mut self.kind, Kind::Pass) {
            Kind::Pass => None,
            Kind::Sha256(h, expected) => {
                if hex::encode(h.finalize()) != expected {
                    return Err(ApiError::new(Code::XAmzContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed."));
                }
                None
            }
            Kind::Chunked(d) => d.finish()?,
        };
        if let Some((name, value)) = &trailer {
            let suffix = name.get(6..).unwrap_or_default();
            self.proven = Some((suffix.to_string(), value.clone()));
        }
        Ok(trailer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(check: &mut BodyCheck, pieces: &[&[u8]]) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            if let Some(b) = check.push(Some(Bytes::copy_from_slice(p)), i + 1 == pieces.len())? {
                out.extend_from_slice(&b);
            }
        }
        Ok(out)
    }

    #[test]
    fn sha256_holds_back_until_verified() {
        let body = b"hello world";
        let good = Payload::Sha256(crate::sign::sha256_hex(body));
        let mut c = BodyCheck::new(&good).unwrap();
        // Before the end, the last byte seen is never released.
        let first = c
            .push(Some(Bytes::from_static(b"hello")), false)
            .unwrap()
            .unwrap();
        assert_eq!(&first[..], b"hell");
        let rest = c
            .push(Some(Bytes::from_static(b" world")), true)
            .unwrap()
            .unwrap();
        assert_eq!(&rest[..], b"o world");
        let bad = Payload::Sha256(crate::sign::sha256_hex(b"other"));
        let mut c = BodyCheck::new(&bad).unwrap();
        assert_eq!(
            run(&mut c, &[b"hello", b" world"]).unwrap_err().code,
            "XAmzContentSHA256Mismatch"
        );
    }

    /// A checksum header the backend cannot check: verified here, the last byte held back.
    #[test]
    fn a_checksum_header_is_verified_on_the_stream() {
        let sum = |alg: &str, body: &[u8]| {
            let mut c = Checksum::for_algorithm(alg).unwrap();
            c.update(body);
            c.finish_b64()
        };
        for alg in ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] {
            let suffix = format!("checksum-{alg}");
            let good = (suffix.clone(), sum(alg, b"hello world"));
            let mut c = BodyCheck::new(&Payload::Unsigned)
                .unwrap()
                .with_header(Some(&good));
            assert!(!c.passes_through());
            let first = c.push(Some(Bytes::from_static(b"hello")), false).unwrap();
            assert_eq!(&first.unwrap()[..], b"hell", "{alg}");
            let rest = c.push(Some(Bytes::from_static(b" world")), true).unwrap();
            assert_eq!(&rest.unwrap()[..], b"o world", "{alg}");
            let bad = (suffix, sum(alg, b"hello worle"));
            let mut c = BodyCheck::new(&Payload::Unsigned)
                .unwrap()
                .with_header(Some(&bad));
            assert_eq!(
                run(&mut c, &[b"hello", b" world"]).unwrap_err().code,
                "BadDigest",
                "{alg}"
            );
        }
    }

    /// A verified trailer goes on framed again with an unsigned trailer; a bad one never ends
    /// the framed body (the backend sees it short).
    #[test]
    fn a_trailer_is_framed_again_only_once_verified() {
        let streaming = Payload::Streaming {
            signed: false,
            trailer: Some("x-amz-checksum-crc32".into()),
            decoded_len: Some(3),
            seed: String::new(),
            key: [0; 32],
            scope: String::new(),
            amz_date: String::new(),
        };
        let crc = |b: &[u8]| {
            let mut c = Checksum::for_algorithm("crc32").unwrap();
            c.update(b);
            c.finish_b64()
        };
        let body = |v: &str| format!("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:{v}\r\n\r\n");
        let mut c = BodyCheck::new(&streaming).unwrap();
        let headers = c.reframe_trailer().unwrap();
        let good = body(&crc(b"abc"));
        let out = run(&mut c, &[&good.as_bytes()[..9], &good.as_bytes()[9..]]).unwrap();
        assert_eq!(out, good.as_bytes());
        assert_eq!(headers[3].1, good.len().to_string());
        let mut c = BodyCheck::new(&streaming).unwrap();
        c.reframe_trailer().unwrap();
        let bad = body(&crc(b"abd"));
        let sent = c
            .push(Some(Bytes::from(bad[..9].to_string())), false)
            .unwrap();
        assert_eq!(&sent.unwrap()[..], b"3\r\nab");
        let e = c.push(Some(Bytes::from(bad[9..].to_string())), true);
        assert_eq!(e.unwrap_err().code, "BadDigest");
    }

    #[test]
    fn chunked_needs_a_declared_length() {
        let p = |trailer: Option<&str>, decoded_len| Payload::Streaming {
            signed: false,
            trailer: trailer.map(str::to_string),
            decoded_len,
            seed: String::new(),
            key: [0; 32],
            scope: String::new(),
            amz_date: String::new(),
        };
        assert_eq!(
            BodyCheck::new(&p(Some("x-amz-checksum-crc32"), None))
                .err()
                .unwrap()
                .status,
            411
        );
        let mut c = BodyCheck::new(&p(None, Some(3))).unwrap();
        assert_eq!(
            run(&mut c, &[b"3\r\nab", b"c\r\n0\r\n\r\n"]).unwrap(),
            b"abc"
        );
    }
}
