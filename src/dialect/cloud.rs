//! What one cloud's file gives the rest of the crate: its vocabulary, the signature schemes its
//! clients use (recognised and verified), and its signer for requests to its service. The rest of
//! the crate calls these through `Dialect::cloud()` without naming a cloud.

use super::wire::{Credentials, Headers, Outbound};
use super::{Dialect, Vocabulary};
use crate::error::ApiError;
use crate::sign::Secret;

/// The parts of a received request that signatures cover.
pub struct WireRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// (lower-case name, value) in received order.
    pub headers: &'a [(&'a str, &'a str)],
    /// Bucket taken from a virtual-hosted Host, if any (OBS/V2 resource prefix).
    pub host_bucket: Option<&'a str>,
}

impl<'a> WireRequest<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
    pub fn header_values(&self, name: &str) -> Vec<&'a str> {
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .collect()
    }
}

/// What the body must still prove after the headers were verified (SigV4 only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Nothing to check (V2/OBS/COS, presigned, UNSIGNED-PAYLOAD).
    Unsigned,
    /// Hex SHA-256 the body must match.
    Sha256(String),
    /// aws-chunked body; `signed` chunks chain from `seed` under `key`.
    Streaming {
        signed: bool,
        /// The checksum header named by `x-amz-trailer`, if any.
        trailer: Option<String>,
        /// `x-amz-decoded-content-length`.
        decoded_len: Option<u64>,
        seed: String,
        key: [u8; 32],
        scope: String,
        amz_date: String,
    },
}

/// A signature scheme a client may use: its cloud, and its name there (the `Authorization`
/// prefix it is known by).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheme {
    pub dialect: Dialect,
    pub name: &'static str,
}

/// How strongly a presigned URL's query parameter names a scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    /// Another cloud's parameter outranks it (OBS's `AccessKeyId` beside V2's `AWSAccessKeyId`).
    Weak,
    Strong,
    /// The name alone decides (`X-Amz-Signature`, `q-signature`).
    Decisive,
}

/// A key lookup: access key to its secret.
pub type Lookup<'a, 'k> = &'a dyn Fn(&str) -> Option<&'k Secret>;

pub trait Cloud: Sync {
    fn vocab(&self) -> &'static Vocabulary;
    /// The scheme an `Authorization` value (leading blanks trimmed) names, if one of this cloud's.
    fn header_scheme(&self, authorization: &str) -> Option<Scheme>;
    /// The scheme a presigned URL's query parameter names, if one of this cloud's.
    fn query_scheme(&self, name: &str) -> Option<(Scheme, Claim)>;
    /// Verify a request in one of this cloud's schemes: the access key, and what the body must
    /// still prove.
    fn verify<'k>(
        &self,
        scheme: Scheme,
        req: &WireRequest<'_>,
        lookup: Lookup<'_, 'k>,
        now: i64,
        max_skew: i64,
    ) -> Result<(String, Payload), ApiError>;
    /// The headers that authenticate `out` to this cloud's service with `c`'s keys at `now`.
    /// `payload` is the hex SHA-256 of the body when it is known.
    fn sign(&self, out: &Outbound, c: &Credentials<'_>, payload: Option<&str>, now: i64)
        -> Headers;
}
