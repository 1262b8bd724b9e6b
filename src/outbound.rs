//! The request as the backend receives it: addressed for a backend and signed in its dialect.

use crate::config::{Addressing, Backend};
pub use crate::dialect::wire::{Credentials, Outbound};
use crate::sign;

impl Outbound {
    /// Path and Host for `bucket`/`encoded_key` on `b`.
    pub fn address(&mut self, b: &Backend, bucket: Option<&str>, encoded_key: Option<&str>) {
        let key = encoded_key.unwrap_or("");
        let (host, path) = match (bucket, b.addressing) {
            (Some(bk), Addressing::Virtual) => (format!("{bk}.{}", b.host), format!("/{key}")),
            (Some(bk), Addressing::Path) => {
                let bk = sign::uri_encode(bk);
                (
                    b.host.clone(),
                    if encoded_key.is_some() {
                        format!("/{bk}/{key}")
                    } else {
                        format!("/{bk}/")
                    },
                )
            }
            (None, _) => (b.host.clone(), "/".to_string()),
        };
        self.path = path;
        self.bucket = bucket.map(str::to_string);
        self.set_header("host", host);
    }

    /// Add the backend's authentication. `payload` is the hex SHA-256 of the body when it is known;
    /// `None` for a streamed body.
    pub fn sign(&mut self, b: &Backend, payload: Option<&str>, now: i64) {
        for (k, v) in b.dialect.sign(self, b, payload, now) {
            self.set_header(&k, v);
        }
    }
}
