//! The request as a backend receives it, and what a signer needs of the backend's keys.

use crate::sign::{self, Secret};

/// A header name: the proxy's own names are borrowed, names taken from a request or an answer
/// are owned.
pub type Name = std::borrow::Cow<'static, str>;

/// (lower-case name, value) pairs.
pub type Headers = Vec<(Name, String)>;

/// The signing step a caller hands the transport: it adds the backend's authentication and runs
/// before each attempt, so that each attempt goes out with its own date.
pub type Sign<'a> = &'a (dyn Fn(&mut Outbound) + Sync);

#[derive(Clone, Debug, Default)]
pub struct Outbound {
    pub method: String,
    /// Encoded path as sent (`/bucket/key` or `/key` for virtual addressing).
    pub path: String,
    /// Decoded query parameters.
    pub query: Vec<(String, Option<String>)>,
    /// (lower-case name, value).
    pub headers: Headers,
    /// The backend's bucket, for the OBS resource of a virtual-hosted request.
    pub bucket: Option<String>,
    /// The most of a (successful) answer body to buffer (`None`: a listing's cap).
    pub answer_cap: Option<usize>,
}

impl Outbound {
    /// Path and query for the request line.
    pub fn uri(&self) -> String {
        let mut s = String::with_capacity(self.path.len() + 64);
        self.push_uri(&mut s);
        s
    }

    /// `uri()` appended to `s`.
    pub fn push_uri(&self, s: &mut String) {
        s.push_str(&self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(&sign::uri_encode_cow(k));
            if let Some(v) = v {
                s.push('=');
                s.push_str(&sign::uri_encode_cow(v));
            }
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_header(&mut self, name: impl Into<Name>, value: String) {
        let name = name.into();
        self.headers.retain(|(k, _)| *k != name);
        self.headers.push((name, value));
    }
}

/// What a signer needs of a backend, as data: its keys (the secret keeps the keys derived from
/// it), the region its signatures are scoped to, and how it is addressed.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    pub access_key: &'a str,
    pub secret: &'a Secret,
    /// A short-lived credential's token, sent (and signed) in the cloud's `security-token` header.
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    /// The bucket is the first label of Host (it then belongs in the OBS/V2 resource).
    pub virtual_hosted: bool,
}
