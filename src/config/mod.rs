//! Configuration: the TOML file as written (serde structs), validated into `Config`.
//! A `Config` is immutable once built and published through one `ArcSwap`.

use crate::dialect::Dialect;
use crate::sign::Secret;
use pingora::utils::tls::WrappedX509;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod backends;
mod file;
pub mod grant;
pub mod live;
mod server;
mod validate;

pub use file::{ContainerEntry, Cors, WebIdentityEntry};
pub use grant::{Access, Action, Grant};
pub use live::{KeySource, Keys, Live};
pub use validate::{parse, parse_with};

/// One `[[clients]]` key: its secret, what it may do, and the token its requests must carry.
#[derive(Debug)]
pub struct Client {
    pub secret: Secret,
    pub grant: Grant,
    pub session_token: Option<Secret>,
}

/// Deadlines and retries for one backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connection set-up.
    pub connect: Duration,
    /// Longest wait for the next byte, read or write, once connected.
    pub idle: Duration,
    /// Whole buffered exchange (everything but streamed bodies), retries and backoff included.
    pub total: Duration,
    /// Attempts after the first, for requests that can safely be sent again.
    pub retries: u32,
    /// First backoff; doubled per retry, capped at `backoff_max`, with jitter.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// How long a backend host name's address is kept before it is looked up again.
    pub dns_ttl: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            idle: Duration::from_secs(30),
            total: Duration::from_secs(300),
            retries: 3,
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            dns_ttl: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    Path,
    Virtual,
}

#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub dialect: Dialect,
    pub tls: bool,
    /// Host (and port when not the scheme's default) the backend is known by: Host header and signatures.
    pub host: String,
    /// Name for SNI and certificate checks.
    pub sni: String,
    /// Where to connect when known without a lookup: an address literal, or the embedded store
    /// once it runs. A host name is looked up at connect time (`dns`).
    pub addr: Option<SocketAddr>,
    pub(crate) connect: String,
    pub region: String,
    pub addressing: Addressing,
    pub access_key: String,
    pub secret: Secret,
    /// A static short-lived credential's token.
    pub session_token: Option<Secret>,
    /// Keys fetched and refreshed while running (web identity, container credentials).
    pub live: Option<Arc<Live>>,
    pub embedded: Option<PathBuf>,
    /// Trust anchors for an https backend instead of the system roots.
    pub ca: Option<Arc<[WrappedX509]>>,
    pub timeouts: Timeouts,
    /// Smallest non-last multipart part it accepts (its dialect's unless configured).
    pub min_part_size: u64,
    /// It answers ListObjectsV2 itself (else the proxy pages a V1 listing for the client).
    pub list_v2: bool,
    /// It keeps S3's flexible checksums (else the proxy checks a client's and sends none on).
    pub checksums: bool,
    /// The backend's connection options and their pool key, built once for a known address.
    pub(crate) peer: std::sync::OnceLock<Arc<Peer>>,
    /// The same for a host name, per address it resolves to.
    pub(crate) dns: crate::resolve::Dns<Peer>,
}

/// A backend's connection options and their pool key.
pub type Peer = (pingora::prelude::HttpPeer, u64);

impl Backend {
    /// Its address is to be looked up (a host name, not an embedded store).
    pub fn by_name(&self) -> bool {
        self.addr.is_none() && self.embedded.is_none()
    }

    /// Not ready: an embedded store that is not running yet.
    pub fn starting(&self) -> bool {
        self.addr.is_none() && self.embedded.is_some()
    }

    /// The answer header naming the backend's own request id (for the access log).
    pub fn request_id_header(&self) -> &'static str {
        self.dialect.vocab().request_id
    }
}

impl Backend {
    /// A backend known only by name and host: enough to render requests for it (tests, tools).
    pub fn render_only(dialect: Dialect, host: &str, region: &str) -> Backend {
        Backend {
            name: host.to_string(),
            dialect,
            tls: true,
            host: host.to_string(),
            sni: host.to_string(),
            addr: None,
            connect: String::new(),
            region: region.to_string(),
            addressing: Addressing::Virtual,
            access_key: String::new(),
            secret: Secret::new(""),
            session_token: None,
            live: None,
            embedded: None,
            ca: None,
            timeouts: Timeouts::default(),
            min_part_size: dialect.min_part_size(),
            list_v2: dialect.vocab().list_v2,
            checksums: dialect.vocab().checksums,
            peer: Default::default(),
            dns: Default::default(),
        }
    }
}

impl Backend {
    /// What its signer needs, with its static keys (live keys: `with_keys`).
    pub fn credentials(&self) -> crate::wire::Credentials<'_> {
        crate::wire::Credentials {
            access_key: &self.access_key,
            secret: &self.secret,
            session_token: self.session_token.as_ref().map(Secret::expose),
            region: &self.region,
            virtual_hosted: self.addressing == Addressing::Virtual,
        }
    }

    /// What its signer needs, with a set of fetched keys.
    pub fn with_keys<'a>(&'a self, k: &'a Keys) -> crate::wire::Credentials<'a> {
        crate::wire::Credentials {
            access_key: &k.access_key,
            secret: &k.secret,
            session_token: k.session_token.as_ref().map(Secret::expose),
            ..self.credentials()
        }
    }

    /// Its keys are at hand (static, or fetched and not expired).
    pub fn keys_ready(&self, now: i64) -> bool {
        self.live.as_ref().is_none_or(|l| l.ready(now))
    }
}

#[derive(Debug)]
pub struct Route {
    pub bucket: String,
    pub backend: usize,
    pub backend_bucket: String,
    /// What unsigned requests may do on it (read, list); empty: nothing.
    pub anonymous: Vec<Access>,
    pub cors: Option<Cors>,
}

#[derive(Debug)]
pub struct Config {
    pub listen: Vec<String>,
    pub tls_listen: Vec<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub metrics: Option<String>,
    pub verify: bool,
    pub max_skew: i64,
    pub client_timeout: Duration,
    pub client_keepalive: Duration,
    pub client_header_timeout: Duration,
    pub max_connections: usize,
    /// Bytes that buffered backend answers may hold at once (start-up only).
    pub answer_memory: usize,
    /// Delay before a slow copy or Complete answers 200 and sends keep-alive whitespace (`None`: off).
    pub copy_keepalive: Option<Duration>,
    pub copy_keepalive_interval: Duration,
    /// Key prefix of staged parts (parts below the backend's minimum), in the destination bucket.
    pub staging_prefix: String,
    pub access_log: crate::access::Format,
    /// Access lines carry object keys (else only their length).
    pub access_log_keys: bool,
    /// Interval of checks for a changed file (`None`: SIGHUP only).
    pub config_poll: Option<Duration>,
    pub shutdown_delay: Duration,
    pub shutdown_grace: Duration,
    pub upgrade_sock: String,
    /// Secret files read into this configuration: a change to one is a change of configuration.
    pub watched: Vec<PathBuf>,
    pub suffixes: Vec<String>,
    pub clients: HashMap<String, Client>,
    pub backends: Vec<Backend>,
    pub routes: Vec<Route>,
}

/// A validation problem, located in the file where possible.
#[derive(Debug)]
pub struct ConfigError {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// The selected route for a bucket.
pub struct Routed<'a> {
    pub backend: &'a Backend,
    pub backend_index: usize,
    pub bucket: String,
    pub anonymous: &'a [Access],
    pub cors: Option<&'a Cors>,
}

impl Config {
    pub fn route(&self, bucket: &str) -> Option<Routed<'_>> {
        self.routes
            .iter()
            .find(|r| glob(&r.bucket, bucket))
            .map(|r| Routed {
                backend: &self.backends[r.backend],
                backend_index: r.backend,
                anonymous: &r.anonymous,
                cors: r.cors.as_ref(),
                // The common forms first, without a substring search.
                bucket: match r.backend_bucket.as_str() {
                    "{bucket}" => bucket.to_string(),
                    b if b.as_bytes().contains(&b'{') && b.contains("{bucket}") => {
                        b.replace("{bucket}", bucket)
                    }
                    b => b.to_string(),
                },
            })
    }

    /// Take the address of every backend whose `connect`/`endpoint` is an address literal; host
    /// names are looked up when connections are made (no DNS here: a name that does not resolve
    /// yet must not stop the proxy).
    pub fn resolve(&mut self) -> Result<(), ConfigError> {
        for b in self.backends.iter_mut() {
            if b.embedded.is_some() || b.addr.is_some() {
                continue;
            }
            b.addr = b.connect.parse().ok();
        }
        Ok(())
    }
}

/// `*` matches any run of characters (including none).
pub fn glob(pattern: &str, s: &str) -> bool {
    // The catch-all route, checked on every request, needs no scan.
    if pattern == "*" {
        return true;
    }
    let Some((first, after)) = pattern.split_once('*') else {
        return pattern == s;
    };
    let (middle, last) = after.rsplit_once('*').unwrap_or(("", after));
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in middle.split('*').filter(|p| !p.is_empty()) {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests;
