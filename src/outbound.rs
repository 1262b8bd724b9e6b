//! The request as the backend receives it: addressed for a backend and signed in its dialect.

use crate::config::{Addressing, Backend};
pub use crate::dialect::wire::{Credentials, Outbound};
use crate::sign;

impl Outbound {
    /// Path and Host for `bucket`/`encoded_key` on `b`.
    pub fn address(&mut self, b: &Backend, bucket: Option<&str>, encoded_key: Option<&str>) {
        let key = encoded_key.unwrap_or("");
        let mut path = String::with_capacity(key.len() + bucket.map_or(0, str::len) + 3);
        path.push('/');
        let host = match (bucket, b.addressing) {
            (Some(bk), Addressing::Virtual) => {
                path.push_str(key);
                let mut host = String::with_capacity(bk.len() + 1 + b.host.len());
                host.push_str(bk);
                host.push('.');
                host.push_str(&b.host);
                host
            }
            (Some(bk), Addressing::Path) => {
                path.push_str(&sign::uri_encode_cow(bk));
                path.push('/');
                path.push_str(key);
                b.host.clone()
            }
            (None, _) => b.host.clone(),
        };
        self.path = path;
        self.bucket = bucket.map(str::to_string);
        self.set_header("host", host);
    }

    /// The signing step for `b` that the transport runs before each attempt. `payload`: the hex
    /// SHA-256 of the body when it is known; `None` for a streamed body.
    pub fn signer<'a>(
        b: &'a Backend,
        payload: Option<&'a str>,
    ) -> impl Fn(&mut Outbound) + Sync + 'a {
        move |out: &mut Outbound| out.sign(b, payload, crate::dates::unix_now())
    }

    /// The signing step for a request without a body.
    pub fn bodiless(b: &Backend) -> impl Fn(&mut Outbound) + Sync + '_ {
        Self::signer(b, Some(crate::sign::sigv4::EMPTY_SHA256))
    }

    /// Add the backend's authentication. `payload` is the hex SHA-256 of the body when it is known;
    /// `None` for a streamed body.
    pub fn sign(&mut self, b: &Backend, payload: Option<&str>, now: i64) {
        // Fetched keys, when the backend has them, as loaded now: a refresh swaps in a new set
        // while this request keeps the one it signed with.
        let live = b.live.as_ref().and_then(|l| l.current(now));
        let c = match &live {
            Some(k) => b.with_keys(k),
            None => b.credentials(),
        };
        if let Some(token) = c.session_token {
            // Every cloud names it `<prefix>security-token` and signs its own prefix's headers:
            // S3 x-amz- (temporary credentials), OBS x-obs- (obs_04_0010 common headers), COS x-cos-
            // (436/7728 common request headers), OSS x-oss- (common request headers).
            let name = [b.dialect.vocab().prefix, "security-token"].concat();
            self.set_header(name, token.to_string());
        }
        for (k, v) in b.dialect.sign(self, &c, payload, now) {
            // Replaces what an earlier signing of this request (a retry) set.
            self.headers.retain(|(h, _)| *h != k);
            self.headers.push((k, v));
        }
    }
}
