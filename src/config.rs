//! Configuration: the TOML file as written (serde structs), validated into `Config`.
//! A `Config` is immutable once built and published through one `ArcSwap`.

use crate::dialect::Dialect;
use crate::sign::Secret;
use pingora::utils::tls::WrappedX509;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    clients: Vec<ClientEntry>,
    #[serde(default)]
    backends: Vec<BackendEntry>,
    #[serde(default)]
    routes: Vec<RouteEntry>,
    /// Backend deadlines and retries, defaults for every backend.
    timeouts: Option<TimeoutsEntry>,
}

/// Durations are written as "5s", "250ms", "2m" (or a bare number of seconds).
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct TimeoutsEntry {
    connect: Option<DurationText>,
    idle: Option<DurationText>,
    total: Option<DurationText>,
    retries: Option<u32>,
    backoff: Option<DurationText>,
    backoff_max: Option<DurationText>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum DurationText {
    Secs(u64),
    Text(String),
}

impl DurationText {
    fn parse(&self) -> Result<Duration, String> {
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
struct ServerSection {
    listen: Option<Vec<String>>,
    #[serde(default)]
    tls_listen: Vec<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    metrics: Option<String>,
    inbound_auth: Option<String>,
    max_clock_skew_secs: Option<u64>,
    #[serde(default)]
    virtual_host_suffixes: Vec<String>,
    /// Downstream: longest wait for the next bytes of a request, or for a client to take answer bytes.
    client_timeout: Option<DurationText>,
    /// Downstream: how long an idle keep-alive connection waits for its next request.
    client_keepalive: Option<DurationText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    access_key: String,
    secret_key: Option<String>,
    secret_key_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendEntry {
    name: String,
    dialect: String,
    endpoint: Option<String>,
    connect: Option<String>,
    region: Option<String>,
    addressing: Option<String>,
    access_key: Option<String>,
    access_key_env: Option<String>,
    secret_key: Option<String>,
    secret_key_env: Option<String>,
    embedded: Option<String>,
    ca_file: Option<String>,
    /// Overrides of the global [timeouts] for this backend.
    timeouts: Option<TimeoutsEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    bucket: String,
    backend: String,
    backend_bucket: Option<String>,
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
    /// Where to connect; `None` until resolved at start-up (or the embedded store is running).
    pub addr: Option<SocketAddr>,
    connect: String,
    pub region: String,
    pub addressing: Addressing,
    pub access_key: String,
    pub secret: Secret,
    pub embedded: Option<PathBuf>,
    /// Trust anchors for an https backend instead of the system roots.
    pub ca: Option<Arc<[WrappedX509]>>,
    pub timeouts: Timeouts,
    /// Derived signing keys, reused while their scope/window is current.
    key_cache: Mutex<Option<(String, Vec<u8>)>>,
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
            embedded: None,
            ca: None,
            timeouts: Timeouts::default(),
            key_cache: Mutex::new(None),
        }
    }

    /// SigV4 kSigning for `scope`, derived once per day and region.
    pub fn signing_key(&self, scope: &str) -> [u8; 32] {
        let mut c = self.key_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, k)) = c.as_ref() {
            if s == scope {
                if let Ok(k) = <[u8; 32]>::try_from(k.as_slice()) {
                    return k;
                }
            }
        }
        let k = crate::sign::sigv4::signing_key(self.secret.expose(), scope);
        *c = Some((scope.to_string(), k.to_vec()));
        k
    }

    /// COS SignKey for `key_time`, derived once per window.
    pub fn cos_sign_key(&self, key_time: &str) -> String {
        let mut c = self.key_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, k)) = c.as_ref() {
            if s == key_time {
                return String::from_utf8_lossy(k).into_owned();
            }
        }
        let k = crate::sign::cos::sign_key(self.secret.expose(), key_time);
        *c = Some((key_time.to_string(), k.clone().into_bytes()));
        k
    }
}

impl crate::dialect::wire::Credentials for Backend {
    fn access_key(&self) -> &str {
        &self.access_key
    }
    fn secret(&self) -> &str {
        self.secret.expose()
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn virtual_hosted(&self) -> bool {
        self.addressing == Addressing::Virtual
    }
    fn sigv4_key(&self, scope: &str) -> [u8; 32] {
        self.signing_key(scope)
    }
    fn cos_key(&self, key_time: &str) -> String {
        self.cos_sign_key(key_time)
    }
}

#[derive(Debug)]
pub struct Route {
    pub bucket: String,
    pub backend: usize,
    pub backend_bucket: String,
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
    pub suffixes: Vec<String>,
    pub clients: HashMap<String, Secret>,
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
}

impl Config {
    pub fn route(&self, bucket: &str) -> Option<Routed<'_>> {
        self.routes
            .iter()
            .find(|r| glob(&r.bucket, bucket))
            .map(|r| Routed {
                backend: &self.backends[r.backend],
                backend_index: r.backend,
                bucket: r.backend_bucket.replace("{bucket}", bucket),
            })
    }

    /// Resolve `connect`/`endpoint` of every backend that is not embedded (blocking DNS: start-up only).
    pub fn resolve(&mut self) -> Result<(), ConfigError> {
        for (i, b) in self.backends.iter_mut().enumerate() {
            if b.embedded.is_some() || b.addr.is_some() {
                continue;
            }
            let addr = b
                .connect
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| ConfigError {
                    key: format!("backends[{i}].connect"),
                    line: None,
                    message: format!("cannot resolve '{}'", b.connect),
                })?;
            b.addr = Some(addr);
        }
        Ok(())
    }
}

/// `*` matches any run of characters (including none).
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// Parse and validate a configuration file's text. `env` looks up environment variables.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<ConfigError>> {
    let file: FileConfig = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        vec![ConfigError {
            key: "toml".into(),
            line,
            message: e.message().to_string(),
        }]
    })?;
    let mut errs = Vec::new();
    let mut err = |key: String, table: Option<(&str, usize)>, field: &str, message: String| {
        let line = locate(text, table, field);
        errs.push(ConfigError { key, line, message });
    };

    let s = &file.server;
    let listen = s
        .listen
        .clone()
        .unwrap_or_else(|| vec!["127.0.0.1:8080".into()]);
    for (i, l) in listen.iter().enumerate() {
        if l.parse::<SocketAddr>().is_err() {
            err(
                format!("server.listen[{i}]"),
                Some(("server", 0)),
                "listen",
                format!("'{l}' is not an address:port"),
            );
        }
    }
    for (i, l) in s.tls_listen.iter().enumerate() {
        if l.parse::<SocketAddr>().is_err() {
            err(
                format!("server.tls_listen[{i}]"),
                Some(("server", 0)),
                "tls_listen",
                format!("'{l}' is not an address:port"),
            );
        }
    }
    if !s.tls_listen.is_empty() && (s.tls_cert.is_none() || s.tls_key.is_none()) {
        err(
            "server.tls_cert".into(),
            Some(("server", 0)),
            "tls_listen",
            "tls_listen needs tls_cert and tls_key".into(),
        );
    }
    if let Some(m) = &s.metrics {
        if m.parse::<SocketAddr>().is_err() {
            err(
                "server.metrics".into(),
                Some(("server", 0)),
                "metrics",
                format!("'{m}' is not an address:port"),
            );
        }
    }
    let verify = match s.inbound_auth.as_deref().unwrap_or("verify") {
        "verify" => true,
        "none" => false,
        other => {
            err(
                "server.inbound_auth".into(),
                Some(("server", 0)),
                "inbound_auth",
                format!("'{other}' is not \"verify\" or \"none\""),
            );
            true
        }
    };
    let max_skew = s.max_clock_skew_secs.unwrap_or(900);
    if max_skew == 0 || max_skew > 7 * 86400 {
        err(
            "server.max_clock_skew_secs".into(),
            Some(("server", 0)),
            "max_clock_skew_secs",
            "must be 1..604800".into(),
        );
    }

    let mut duration = |v: &Option<DurationText>, default: Duration, key: &str, field: &str| match v
    {
        Some(d) => match d.parse() {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                err(
                    format!("server.{key}"),
                    Some(("server", 0)),
                    field,
                    "must be above zero".into(),
                );
                default
            }
            Err(m) => {
                err(format!("server.{key}"), Some(("server", 0)), field, m);
                default
            }
        },
        None => default,
    };
    let client_timeout = duration(
        &s.client_timeout,
        Duration::from_secs(60),
        "client_timeout",
        "client_timeout",
    );
    let client_keepalive = duration(
        &s.client_keepalive,
        Duration::from_secs(60),
        "client_keepalive",
        "client_keepalive",
    );
    let global_timeouts = match &file.timeouts {
        Some(t) => timeouts_of(&Timeouts::default(), t).unwrap_or_else(|(f, m)| {
            err(format!("timeouts.{f}"), Some(("timeouts", 0)), f, m);
            Timeouts::default()
        }),
        None => Timeouts::default(),
    };

    let mut clients = HashMap::new();
    for (i, c) in file.clients.iter().enumerate() {
        let t = Some(("clients", i));
        if c.access_key.is_empty() {
            err(
                format!("clients[{i}].access_key"),
                t,
                "access_key",
                "must not be empty".into(),
            );
        }
        match secret_of(&c.secret_key, &c.secret_key_env, env) {
            Ok(sk) => {
                if clients.insert(c.access_key.clone(), sk).is_some() {
                    err(
                        format!("clients[{i}].access_key"),
                        t,
                        "access_key",
                        format!("'{}' is listed twice", c.access_key),
                    );
                }
            }
            Err(m) => err(format!("clients[{i}].secret_key"), t, "secret_key", m),
        }
    }
    if verify && clients.is_empty() {
        err(
            "clients".into(),
            None,
            "",
            "inbound_auth = \"verify\" needs at least one [[clients]] entry".into(),
        );
    }

    let mut backends = Vec::new();
    for (i, b) in file.backends.iter().enumerate() {
        let t = Some(("backends", i));
        let key = |f: &str| format!("backends[{i}].{f}");
        let dialect = Dialect::from_name(&b.dialect).unwrap_or_else(|| {
            err(
                key("dialect"),
                t,
                "dialect",
                format!("'{}' is not one of \"s3\", \"obs\", \"cos\"", b.dialect),
            );
            Dialect::default()
        });
        if backends.iter().any(|x: &Backend| x.name == b.name) {
            err(
                key("name"),
                t,
                "name",
                format!("backend '{}' is defined twice", b.name),
            );
        }
        let addressing = match b.addressing.as_deref().unwrap_or("path") {
            "path" => Addressing::Path,
            "virtual" => Addressing::Virtual,
            other => {
                err(
                    key("addressing"),
                    t,
                    "addressing",
                    format!("'{other}' is not \"path\" or \"virtual\""),
                );
                Addressing::Path
            }
        };
        let embedded = b.embedded.as_ref().map(PathBuf::from);
        let (tls, host, sni, connect) = match (&b.endpoint, &embedded) {
            (Some(_), Some(_)) => {
                err(
                    key("embedded"),
                    t,
                    "embedded",
                    "give either endpoint or embedded, not both".into(),
                );
                (false, String::new(), String::new(), String::new())
            }
            (None, Some(_)) => (false, "127.0.0.1".into(), "127.0.0.1".into(), String::new()),
            (None, None) => {
                err(
                    key("endpoint"),
                    t,
                    "name",
                    "an endpoint (or embedded) is required".into(),
                );
                (false, String::new(), String::new(), String::new())
            }
            (Some(ep), None) => match parse_endpoint(ep) {
                Ok((tls, host, sni, port)) => {
                    let connect = b.connect.clone().unwrap_or_else(|| format!("{sni}:{port}"));
                    if let Some(c) = &b.connect {
                        if c.rsplit_once(':')
                            .and_then(|(_, p)| p.parse::<u16>().ok())
                            .is_none()
                        {
                            err(
                                key("connect"),
                                t,
                                "connect",
                                format!("'{c}' is not host:port"),
                            );
                        }
                    }
                    (tls, host, sni, connect)
                }
                Err(m) => {
                    err(key("endpoint"), t, "endpoint", m);
                    (false, String::new(), String::new(), String::new())
                }
            },
        };
        let (access_key, secret) =
            if embedded.is_some() && b.access_key.is_none() && b.access_key_env.is_none() {
                (String::new(), Secret::new(""))
            } else {
                let ak = match secret_of(&b.access_key, &b.access_key_env, env) {
                    Ok(s) => s.expose().to_string(),
                    Err(m) => {
                        err(key("access_key"), t, "access_key", m);
                        String::new()
                    }
                };
                let sk = match secret_of(&b.secret_key, &b.secret_key_env, env) {
                    Ok(s) => s,
                    Err(m) => {
                        err(key("secret_key"), t, "secret_key", m);
                        Secret::new("")
                    }
                };
                (ak, sk)
            };
        let region = b.region.clone().unwrap_or_else(|| "us-east-1".into());
        let ca = match &b.ca_file {
            Some(f) => match load_ca(f) {
                Ok(ca) => Some(ca),
                Err(m) => {
                    err(key("ca_file"), t, "ca_file", m);
                    None
                }
            },
            None => None,
        };
        let timeouts = match &b.timeouts {
            Some(e) => timeouts_of(&global_timeouts, e).unwrap_or_else(|(f, m)| {
                err(key(&format!("timeouts.{f}")), t, f, m);
                global_timeouts.clone()
            }),
            None => global_timeouts.clone(),
        };
        backends.push(Backend {
            name: b.name.clone(),
            dialect,
            tls,
            host,
            sni,
            addr: None,
            connect,
            region,
            addressing,
            access_key,
            secret,
            embedded,
            ca,
            timeouts,
            key_cache: Mutex::new(None),
        });
    }

    let mut routes = Vec::new();
    for (i, r) in file.routes.iter().enumerate() {
        let t = Some(("routes", i));
        match backends.iter().position(|b| b.name == r.backend) {
            Some(idx) => routes.push(Route {
                bucket: r.bucket.clone(),
                backend: idx,
                backend_bucket: r
                    .backend_bucket
                    .clone()
                    .unwrap_or_else(|| "{bucket}".into()),
            }),
            None => err(
                format!("routes[{i}].backend"),
                t,
                "backend",
                format!("no backend is named '{}'", r.backend),
            ),
        }
        if let Some(tpl) = &r.backend_bucket {
            if tpl.is_empty() || tpl.contains(['/', ' ']) {
                err(
                    format!("routes[{i}].backend_bucket"),
                    t,
                    "backend_bucket",
                    format!("'{tpl}' is not a bucket template"),
                );
            }
        }
    }
    if routes.is_empty() && errs.is_empty() {
        errs.push(ConfigError {
            key: "routes".into(),
            line: None,
            message: "at least one [[routes]] entry is required".into(),
        });
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Config {
        listen,
        tls_listen: s.tls_listen.clone(),
        tls_cert: s.tls_cert.clone(),
        tls_key: s.tls_key.clone(),
        metrics: s.metrics.clone(),
        verify,
        max_skew: max_skew as i64,
        client_timeout,
        client_keepalive,
        suffixes: s.virtual_host_suffixes.clone(),
        clients,
        backends,
        routes,
    })
}

/// PEM certificates from `path`, each checked to parse, ready for the TLS connector.
fn load_ca(path: &str) -> Result<Arc<[WrappedX509]>, String> {
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
fn timeouts_of(base: &Timeouts, e: &TimeoutsEntry) -> Result<Timeouts, (&'static str, String)> {
    let mut t = base.clone();
    let fields: [(&'static str, &Option<DurationText>, &mut Duration); 5] = [
        ("connect", &e.connect, &mut t.connect),
        ("idle", &e.idle, &mut t.idle),
        ("total", &e.total, &mut t.total),
        ("backoff", &e.backoff, &mut t.backoff),
        ("backoff_max", &e.backoff_max, &mut t.backoff_max),
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

fn secret_of(
    v: &Option<String>,
    env_name: &Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, String> {
    match (v, env_name) {
        (Some(_), Some(_)) => Err("give the value or the _env variable, not both".into()),
        (Some(v), None) if !v.is_empty() => Ok(Secret::new(v.clone())),
        (Some(_), None) => Err("must not be empty".into()),
        (None, Some(n)) => env(n)
            .filter(|v| !v.is_empty())
            .map(Secret::new)
            .ok_or_else(|| format!("environment variable {n} is not set")),
        (None, None) => Err("is required (or its _env form)".into()),
    }
}

/// `scheme://host[:port][/]` -> (tls, Host value, bare host, port).
fn parse_endpoint(ep: &str) -> Result<(bool, String, String, u16), String> {
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
fn locate(text: &str, table: Option<(&str, usize)>, field: &str) -> Option<usize> {
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
                if k.trim() == field || k.trim() == format!("{field}_env") {
                    return Some(n + 1);
                }
            }
        }
    }
    table_line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const GOOD: &str = r#"
[server]
listen = ["127.0.0.1:0"]
[[clients]]
access_key = "AK"
secret_key = "SK"
[[backends]]
name = "g"
dialect = "s3"
endpoint = "http://127.0.0.1:3900"
region = "garage"
access_key = "GK"
secret_key = "GS"
[[routes]]
bucket = "cos-*"
backend = "g"
backend_bucket = "{bucket}-1250000000"
[[routes]]
bucket = "*"
backend = "g"
"#;

    #[test]
    fn timeouts_have_defaults_globals_and_per_backend_overrides() {
        let c = parse(GOOD, &no_env).unwrap();
        assert_eq!(c.backends[0].timeouts, Timeouts::default());
        assert_eq!(c.client_timeout, Duration::from_secs(60));
        let text = GOOD.replace(
            "region = \"garage\"",
            "region = \"garage\"\ntimeouts = { idle = \"250ms\", retries = 0 }",
        ) + "[timeouts]\nconnect = \"2s\"\ntotal = 90\n";
        let c = parse(&text, &no_env).unwrap();
        let t = &c.backends[0].timeouts;
        assert_eq!(t.connect, Duration::from_secs(2));
        assert_eq!(t.total, Duration::from_secs(90));
        assert_eq!(t.idle, Duration::from_millis(250));
        assert_eq!(t.retries, 0);
        let bad = GOOD.to_string() + "[timeouts]\nidle = \"soon\"\n";
        let errs = parse(&bad, &no_env).unwrap_err();
        assert_eq!(errs[0].key, "timeouts.idle");
        assert!(errs[0].line.is_some(), "{}", errs[0]);
        let zero = GOOD.replace("[server]", "[server]\nclient_timeout = \"0s\"");
        assert_eq!(
            parse(&zero, &no_env).unwrap_err()[0].key,
            "server.client_timeout"
        );
    }

    #[test]
    fn good_config_routes() {
        let c = parse(GOOD, &no_env).unwrap();
        assert_eq!(c.route("cos-x").unwrap().bucket, "cos-x-1250000000");
        assert_eq!(c.route("plain").unwrap().bucket, "plain");
        assert_eq!(c.backends[0].host, "127.0.0.1:3900");
        assert!(c.verify);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let bad = GOOD.replace("dialect = \"s3\"", "dialect = \"gcs\"");
        let e = parse(&bad, &no_env).unwrap_err();
        assert_eq!(e[0].key, "backends[0].dialect");
        assert_eq!(e[0].line, Some(9));
        let bad = GOOD.replace("secret_key = \"GS\"", "secret_key_env = \"NOPE_NOT_SET\"");
        let e = parse(&bad, &no_env).unwrap_err();
        assert!(e[0].to_string().contains("NOPE_NOT_SET"), "{}", e[0]);
        let e = parse("[server]\nlisten = 5\n", &no_env).unwrap_err();
        assert_eq!(e[0].line, Some(2));
        let e = parse(&GOOD.replace("backend = \"g\"\n\"", "x"), &no_env);
        assert!(e.is_ok());
        let bad = GOOD.replace(
            "bucket = \"*\"\nbackend = \"g\"",
            "bucket = \"*\"\nbackend = \"missing\"",
        );
        assert_eq!(
            parse(&bad, &no_env).unwrap_err()[0].key,
            "routes[1].backend"
        );
    }

    #[test]
    fn globs() {
        assert!(glob("*", "") && glob("*", "abc") && glob("a*c", "abc") && glob("a*b*c", "axbyc"));
        assert!(!glob("a*c", "ab") && !glob("abc", "abcd") && !glob("a*b*c", "acb"));
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("https://cos.ap-guangzhou.myqcloud.com").unwrap(),
            (
                true,
                "cos.ap-guangzhou.myqcloud.com".into(),
                "cos.ap-guangzhou.myqcloud.com".into(),
                443
            )
        );
        assert!(parse_endpoint("ftp://x").is_err());
        assert!(parse_endpoint("http://x/path").is_err());
    }
}
