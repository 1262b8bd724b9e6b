//! What a request body must prove on its way through: the hex SHA-256 the client signed, or the
//! aws-chunked framing (removed here, chunk signatures and trailer checksum verified).
//! The last byte is held back until the proof is complete, so a backend never receives a whole
//! body that turns out to be bad: it sees a short body and commits nothing.

use crate::auth::Payload;
use crate::dialect::chunked::{ChunkSigning, Decoder};
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
        Ok(BodyCheck { kind, held: None })
    }

    pub fn passes_through(&self) -> bool {
        matches!(self.kind, Kind::Pass)
    }

    /// Feed one piece of the received body; returns what may go upstream now.
    pub fn push(&mut self, input: Option<Bytes>, end: bool) -> Result<Option<Bytes>, ApiError> {
        let data = match &mut self.kind {
            Kind::Pass => return Ok(input),
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
        if end {
            self.verify()?;
        }
        let mut out = BytesMut::new();
        if let Some(h) = self.held.take() {
            out.extend_from_slice(&h);
        }
        out.extend_from_slice(&data);
        let mut out = out.freeze();
        if !end && !out.is_empty() {
            self.held = Some(out.split_off(out.len() - 1));
        }
        Ok(Some(out))
    }

    fn verify(&mut self) -> Result<(), ApiError> {
        match std::mem::replace(&mut self.kind, Kind::Pass) {
            Kind::Pass => Ok(()),
            Kind::Sha256(h, expected) => {
                if hex::encode(h.finalize()) == expected {
                    Ok(())
                } else {
                    Err(ApiError::new(Code::XAmzContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed."))
                }
            }
            Kind::Chunked(d) => d.finish(),
        }
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
