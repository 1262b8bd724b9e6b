//! The configuration file as written: serde shapes, and the small parsers its values need.

use super::Timeouts;
use crate::sign::Secret;
use pingora::utils::tls::WrappedX509;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default)]
    pub(super) server: ServerSection,
    #[serde(default)]
    pub(super) clients: Vec<ClientEntry>,
    #[serde(default)]
    pub(super) backends: Vec<BackendEntry>,
    #[serde(default)]
    pub(super) routes: Vec<RouteEntry>,
    /// Backend deadlines and retries, defaults for every backend.
    pub(super) timeouts: Option<TimeoutsEntry>,
}

/// Durations are written as "5s", "250ms", "2m" (or a bare number of seconds).
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct TimeoutsEntry {
    pub(super) connect: Option<DurationText>,
    pub(super) idle: Option<DurationText>,
    pub(super) total: Option<DurationText>,
    pub(super) retries: Option<u32>,
    pub(super) backoff: Option<DurationText>,
    pub(super) backoff_max: Option<DurationText>,
    pub(super) dns_ttl: Option<DurationText>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum DurationText {
    Secs(u64),
    Text(String),
}

impl DurationText {
    pub(super) fn parse(&self) -> Result<Duration, String> {
        match self {
            DurationText::Secs(s) => Ok(Duration::from_secs(*s)),
            DurationText::Text(t) => humantime::parse_duration(t).map_err(|e| {
                format!("'{t}' is not a duration ({e}); write e.g. \"5s\" or \"250ms\"")
            }),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerSection {
    pub(super) listen: Option<Vec<String>>,
    #[serde(default)]
    pub(super) tls_listen: Vec<String>,
    pub(super) tls_cert: Option<String>,
    pub(super) tls_key: Option<String>,
    pub(super) metrics: Option<String>,
    pub(super) inbound_auth: Option<String>,
    pub(super) max_clock_skew_secs: Option<u64>,
    #[serde(default)]
    pub(super) virtual_host_suffixes: Vec<String>,
    /// Downstream: longest wait for the next bytes of a request, or for a client to take answer bytes.
    pub(super) client_timeout: Option<DurationText>,
    /// Downstream: how long an idle keep-alive connection waits for its next request.
    pub(super) client_keepalive: Option<DurationText>,
    /// A copy or Complete still working after this long answers 200 at once and keeps the
    /// connection alive with whitespace; "0s" turns it off.
    pub(super) copy_keepalive: Option<DurationText>,
    /// The interval between keep-alive whitespace bytes.
    pub(super) copy_keepalive_interval: Option<DurationText>,
    /// Downstream: longest time from a request head's first byte to its blank line (slowloris).
    pub(super) client_header_timeout: Option<DurationText>,
    /// Downstream: open connections at most; more are closed at once. Fixed at start-up.
    pub(super) max_connections: Option<usize>,
    /// Bytes that buffered backend answers (listings, mostly) may hold at once. Fixed at start-up.
    pub(super) answer_memory: Option<usize>,
    /// Key prefix of staged parts (parts below the backend's minimum), in the destination bucket.
    pub(super) staging_prefix: Option<String>,
    /// One line per request: "text" (default), "json" or "off".
    pub(super) access_log: Option<String>,
    /// Whether access lines carry object keys (otherwise only their length).
    pub(super) access_log_keys: Option<bool>,
    /// How often the file (and the secret files it names) is checked for changes; "0s": SIGHUP only.
    pub(super) config_poll: Option<DurationText>,
    /// After SIGTERM: how long /readyz answers 503 before the listeners close. Fixed at start-up.
    pub(super) shutdown_delay: Option<DurationText>,
    /// After the listeners close: how long requests in flight may take to finish. Fixed at start-up.
    pub(super) shutdown_grace: Option<DurationText>,
    /// Unix socket the listening sockets are handed over through in an upgrade (SIGQUIT, --upgrade).
    pub(super) upgrade_sock: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientEntry {
    pub(super) access_key: String,
    pub(super) secret_key: Option<String>,
    pub(super) secret_key_env: Option<String>,
    pub(super) secret_key_file: Option<String>,
    /// Client-visible buckets (globs) this key may use; none: all.
    pub(super) buckets: Option<Vec<String>>,
    /// Classes (`read`, `write`, `list`, `delete`) and operation names it may use; none: all.
    pub(super) access: Option<Vec<String>>,
    /// A token its requests must carry (header or presigned query).
    pub(super) session_token: Option<String>,
    pub(super) session_token_env: Option<String>,
    pub(super) session_token_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackendEntry {
    pub(super) name: String,
    pub(super) dialect: String,
    pub(super) endpoint: Option<String>,
    pub(super) connect: Option<String>,
    pub(super) region: Option<String>,
    pub(super) addressing: Option<String>,
    pub(super) access_key: Option<String>,
    pub(super) access_key_env: Option<String>,
    pub(super) access_key_file: Option<String>,
    pub(super) secret_key: Option<String>,
    pub(super) secret_key_env: Option<String>,
    pub(super) secret_key_file: Option<String>,
    pub(super) embedded: Option<String>,
    pub(super) ca_file: Option<String>,
    /// Overrides of the global [timeouts] for this backend.
    pub(super) timeouts: Option<TimeoutsEntry>,
    /// Smallest non-last part this backend accepts, in bytes, when not its dialect's.
    pub(super) min_part_size: Option<u64>,
    /// Whether it answers ListObjectsV2 itself, when not its dialect's default.
    pub(super) list_v2: Option<bool>,
    /// Whether it keeps S3's flexible checksums, when not its dialect's default.
    pub(super) checksums: Option<bool>,
    /// A short-lived static credential's token (its value, `_env` or `_file`, re-read on change).
    pub(super) session_token: Option<String>,
    pub(super) session_token_env: Option<String>,
    pub(super) session_token_file: Option<String>,
    pub(super) web_identity: Option<WebIdentityEntry>,
    pub(super) container_credentials: Option<ContainerEntry>,
}

/// Keys from `AssumeRoleWithWebIdentity` at an STS endpoint, for a token read from a file.
#[derive(Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
pub struct WebIdentityEntry {
    pub token_file: String,
    pub role_arn: String,
    pub sts_endpoint: Option<String>,
    pub session_name: Option<String>,
    /// Requested lifetime of the keys (DurationSeconds); STS's default (one hour) when unset.
    pub duration_secs: Option<u64>,
}

/// Keys from a container credentials endpoint (EKS Pod Identity, ECS), with an authorization
/// token read from a file at each fetch.
#[derive(Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
pub struct ContainerEntry {
    pub uri: String,
    pub token_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteEntry {
    pub(super) bucket: String,
    pub(super) backend: String,
    pub(super) backend_bucket: Option<String>,
    /// Unsigned requests allowed on this route: "read", "list" (default none).
    pub(super) anonymous: Option<Vec<String>>,
    pub(super) cors: Option<Cors>,
}

/// Cross-origin access from browsers to a route's buckets.
#[derive(Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// Origins (`https://app.example`, `*`, or one `*` inside: `https://*.example`).
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    /// Request headers a browser may send (`*`: any).
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Answer headers a browser script may read, beyond the ETag and request id always exposed.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    pub max_age_secs: Option<u64>,
    /// Cookies and credentials allowed (`Access-Control-Allow-Credentials: true`).
    #[serde(default)]
    pub allow_credentials: bool,
}

/// PEM certificates from `path`, each checked to parse, ready for the TLS connector.
pub(super) fn load_ca(path: &str) -> Result<Arc<[WrappedX509]>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
    let mut out = Vec::new();
    for item in rustls_pemfile::certs(&mut pem.as_slice()) {
        let der = item.map_err(|e| format!("'{path}' is not PEM: {e}"))?;
        x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| format!("'{path}' holds a bad certificate: {e}"))?;
        out.push(WrappedX509::new(
            der.as_ref().to_vec(),
            pingora::utils::tls::parse_x509,
        ));
    }
    if out.is_empty() {
        return Err(format!("'{path}' holds no certificate"));
    }
    Ok(out.into())
}

/// `base` with the fields `e` sets; `Err((field, message))` for the first bad one.
pub(super) fn timeouts_of(
    base: &Timeouts,
    e: &TimeoutsEntry,
) -> Result<Timeouts, (&'static str, String)> {
    let mut t = base.clone();
    let fields: [(&'static str, &Option<DurationText>, &mut Duration); 6] = [
        ("connect", &e.connect, &mut t.connect),
        ("idle", &e.idle, &mut t.idle),
        ("total", &e.total, &mut t.total),
        ("backoff", &e.backoff, &mut t.backoff),
        ("backoff_max", &e.backoff_max, &mut t.backoff_max),
        ("dns_ttl", &e.dns_ttl, &mut t.dns_ttl),
    ];
    for (name, value, slot) in fields {
        if let Some(v) = value {
            let d = v.parse().map_err(|m| (name, m))?;
            if d.is_zero() && name != "backoff" {
                return Err((name, "must be above zero".into()));
            }
            *slot = d;
        }
    }
    if let Some(r) = e.retries {
        if r > 10 {
            return Err(("retries", "must be 0..10".into()));
        }
        t.retries = r;
    }
    Ok(t)
}

/// Where a secret comes from: written in the file, an environment variable, or a file of its own
/// (a mounted Kubernetes Secret; re-read at every reload).
pub(super) struct SecretSource<'a> {
    pub(super) value: &'a Option<String>,
    pub(super) env: &'a Option<String>,
    pub(super) file: &'a Option<String>,
}

impl<'a> SecretSource<'a> {
    pub(super) fn new(
        value: &'a Option<String>,
        env: &'a Option<String>,
        file: &'a Option<String>,
    ) -> Self {
        SecretSource { value, env, file }
    }
}

/// The secret; a file it was read from joins `watched` (checked for rotation).
pub(super) fn secret_of(
    s: SecretSource,
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&str) -> std::io::Result<String>,
    watched: &mut Vec<PathBuf>,
) -> Result<Secret, String> {
    match (s.value, s.env, s.file) {
        (Some(v), None, None) if !v.is_empty() => Ok(Secret::new(v.clone())),
        (Some(_), None, None) => Err("must not be empty".into()),
        (None, Some(n), None) => env(n)
            .filter(|v| !v.is_empty())
            .map(Secret::new)
            .ok_or_else(|| format!("environment variable {n} is not set")),
        (None, None, Some(path)) => {
            let text = read(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
            // Files written by `echo` or editors end in a newline that is not part of the key.
            let v = text.trim_end_matches(['\n', '\r']);
            if v.is_empty() {
                return Err(format!("'{path}' is empty"));
            }
            watched.push(PathBuf::from(path));
            Ok(Secret::new(v.to_string()))
        }
        (None, None, None) => Err("is required (or its _env or _file form)".into()),
        _ => Err("give one of the value, its _env variable or its _file, not several".into()),
    }
}

/// An optional secret: `None` when none of its three forms is given.
pub(super) fn optional_secret(
    s: SecretSource,
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&str) -> std::io::Result<String>,
    watched: &mut Vec<PathBuf>,
) -> Result<Option<Secret>, String> {
    if s.value.is_none() && s.env.is_none() && s.file.is_none() {
        return Ok(None);
    }
    secret_of(s, env, read, watched).map(Some)
}

/// `scheme://host[:port][/]` -> (tls, Host value, bare host, port).
pub(super) fn parse_endpoint(ep: &str) -> Result<(bool, String, String, u16), String> {
    let (tls, rest) = if let Some(r) = ep.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = ep.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("'{ep}' must start with http:// or https://"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("'{ep}' must be scheme://host[:port] with no path"));
    }
    let default = if tls { 443 } else { 80 };
    let (name, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("'{ep}' has a bad port"))?;
            (h.to_string(), port)
        }
        _ => (rest.to_string(), default),
    };
    let host = if port == default {
        name.clone()
    } else {
        format!("{name}:{port}")
    };
    Ok((tls, host, name.trim_matches(['[', ']']).to_string(), port))
}

/// Line (1-based) of `field` inside the `idx`-th `[table]`/`[[table]]` (or at top level).
pub(super) fn locate(text: &str, table: Option<(&str, usize)>, field: &str) -> Option<usize> {
    let mut in_table = table.is_none();
    let mut seen = 0usize;
    let mut table_line = None;
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('[') {
            in_table = false;
            if let Some((name, idx)) = table {
                let bare = l.trim_matches(['[', ']']).trim();
                if bare == name {
                    if seen == idx {
                        in_table = true;
                        table_line = Some(n + 1);
                    }
                    seen += 1;
                }
            }
            continue;
        }
        if in_table && !field.is_empty() {
            if let Some((k, _)) = l.split_once('=') {
                let k = k.trim();
                let k = k
                    .strip_suffix("_env")
                    .or_else(|| k.strip_suffix("_file"))
                    .unwrap_or(k);
                if k == field {
                    return Some(n + 1);
                }
            }
        }
    }
    table_line
}
