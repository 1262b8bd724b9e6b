//! The five checksums S3 defines for a body (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256), each
//! from a kept crate, named by its header suffix and rendered as S3 renders them (base64 of the
//! big-endian value or digest).

use base64::Engine;
use sha2::Digest;

/// A running checksum.
pub enum Checksum {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Checksum {
    /// The checksum a header suffix names (`checksum-crc32`...), in any case.
    pub fn for_suffix(suffix: &str) -> Option<Self> {
        let s = suffix.trim();
        let alg = s
            .get(..9)
            .filter(|p| p.eq_ignore_ascii_case("checksum-"))
            .map(|_| &s[9..])?;
        Self::for_algorithm(alg)
    }

    /// The checksum an algorithm name names (`CRC32`, `crc64nvme`, `SHA256`...).
    pub fn for_algorithm(name: &str) -> Option<Self> {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        Some(if is("crc32") {
            Checksum::Crc32(crc32fast::Hasher::new())
        } else if is("crc32c") {
            Checksum::Crc32c(0)
        } else if is("crc64nvme") {
            Checksum::Crc64Nvme(crc64fast_nvme::Digest::new())
        } else if is("sha1") {
            Checksum::Sha1(sha1::Sha1::new())
        } else if is("sha256") {
            Checksum::Sha256(sha2::Sha256::new())
        } else {
            return None;
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Crc32(h) => h.update(data),
            Checksum::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Checksum::Crc64Nvme(d) => d.write(data),
            Checksum::Sha1(h) => h.update(data),
            Checksum::Sha256(h) => h.update(data),
        }
    }

    /// The length of the value as S3 writes it (base64 of 4, 8, 20 or 32 bytes).
    pub fn encoded_len(&self) -> usize {
        let bytes: usize = match self {
            Checksum::Crc32(_) | Checksum::Crc32c(_) => 4,
            Checksum::Crc64Nvme(_) => 8,
            Checksum::Sha1(_) => 20,
            Checksum::Sha256(_) => 32,
        };
        bytes.div_ceil(3) * 4
    }

    /// The value as S3 writes it in `x-amz-checksum-*`.
    pub fn finish_b64(self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        match self {
            Checksum::Crc32(h) => b64.encode(h.finalize().to_be_bytes()),
            Checksum::Crc32c(c) => b64.encode(c.to_be_bytes()),
            Checksum::Crc64Nvme(d) => b64.encode(d.sum64().to_be_bytes()),
            Checksum::Sha1(h) => b64.encode(h.finalize()),
            Checksum::Sha256(h) => b64.encode(h.finalize()),
        }
    }
}

/// Base64 MD5 of a whole body, as `Content-MD5` carries it.
pub fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each algorithm against its published check value (the digest of "123456789"), as the
    /// base64 of its big-endian bytes.
    #[test]
    fn check_values() {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let hex = |s: &str| hex::decode(s).unwrap();
        for (name, want) in [
            ("crc32", hex("cbf43926")),
            ("crc32c", hex("e3069283")),
            ("crc64nvme", hex("ae8b14860a799888")),
            ("sha1", hex("f7c3bc1d808e04732adf679965ccc34ca7ae3441")),
            (
                "sha256",
                hex("15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"),
            ),
        ] {
            let mut c = Checksum::for_algorithm(name).unwrap();
            let len = c.encoded_len();
            c.update(b"1234");
            c.update(b"56789");
            let value = c.finish_b64();
            assert_eq!(value, b64(&want), "{name}");
            assert_eq!(value.len(), len, "{name}");
            assert!(Checksum::for_suffix(&format!("checksum-{name}")).is_some());
            assert!(Checksum::for_suffix(&format!("CHECKSUM-{}", name.to_uppercase())).is_some());
        }
        assert!(Checksum::for_suffix("checksum-md5").is_none());
        assert!(Checksum::for_suffix("checksum").is_none());
        assert!(Checksum::for_suffix("cheCksum-ü").is_none());
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
