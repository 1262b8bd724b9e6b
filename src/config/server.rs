//! The `[server]` table checked: listeners, inbound auth, durations, limits, access log.

use super::file::*;
use super::*;

/// The `[server]` table's values, defaults filled in where unset.
pub(super) struct Server {
    pub(super) listen: Vec<String>,
    pub(super) verify: bool,
    pub(super) max_skew: u64,
    pub(super) client_timeout: Duration,
    pub(super) client_keepalive: Duration,
    pub(super) shutdown_grace: Duration,
    pub(super) client_header_timeout: Duration,
    pub(super) copy_keepalive_interval: Duration,
    pub(super) copy_keepalive: Option<Duration>,
    pub(super) config_poll: Option<Duration>,
    pub(super) shutdown_delay: Duration,
    pub(super) access_log: crate::access::Format,
    pub(super) max_connections: usize,
    pub(super) answer_memory: usize,
    pub(super) staging_prefix: String,
}

/// Check `[server]`; each problem goes to `err` (key, table, field, message).
pub(super) fn server_of(
    s: &ServerSection,
    err: &mut impl FnMut(String, Option<(&str, usize)>, &str, String),
) -> Server {
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
    let shutdown_grace = duration(
        &s.shutdown_grace,
        Duration::from_secs(25),
        "shutdown_grace",
        "shutdown_grace",
    );
    let client_header_timeout = duration(
        &s.client_header_timeout,
        Duration::from_secs(10),
        "client_header_timeout",
        "client_header_timeout",
    );
    let copy_keepalive_interval = duration(
        &s.copy_keepalive_interval,
        Duration::from_secs(1),
        "copy_keepalive_interval",
        "copy_keepalive_interval",
    );
    // Durations where "0s" means off.
    let mut optional = |v: &Option<DurationText>, default: Option<Duration>, field: &str| match v {
        Some(d) => match d.parse() {
            Ok(d) => (!d.is_zero()).then_some(d),
            Err(m) => {
                err(format!("server.{field}"), Some(("server", 0)), field, m);
                default
            }
        },
        None => default,
    };
    let copy_keepalive = optional(
        &s.copy_keepalive,
        Some(Duration::from_secs(1)),
        "copy_keepalive",
    );
    let config_poll = optional(&s.config_poll, Some(Duration::from_secs(1)), "config_poll");
    let shutdown_delay = optional(&s.shutdown_delay, None, "shutdown_delay").unwrap_or_default();
    let access_log = match s.access_log.as_deref().unwrap_or("text") {
        "text" => crate::access::Format::Text,
        "json" => crate::access::Format::Json,
        "off" => crate::access::Format::Off,
        other => {
            err(
                "server.access_log".into(),
                Some(("server", 0)),
                "access_log",
                format!("'{other}' is not \"text\", \"json\" or \"off\""),
            );
            crate::access::Format::Text
        }
    };
    let max_connections = s.max_connections.unwrap_or(10_000);
    if max_connections == 0 {
        err(
            "server.max_connections".into(),
            Some(("server", 0)),
            "max_connections",
            "must be above zero".into(),
        );
    }
    // A listing's cap (8 MiB) twice over; a 1,000-key page is a few hundred KiB.
    let answer_memory = s.answer_memory.unwrap_or(16 << 20);
    if answer_memory < crate::model::LISTING_CAP {
        err(
            "server.answer_memory".into(),
            Some(("server", 0)),
            "answer_memory",
            format!(
                "must be at least {} (one listing)",
                crate::model::LISTING_CAP
            ),
        );
    }
    let staging_prefix = s
        .staging_prefix
        .clone()
        .unwrap_or_else(|| ".dialect-proxy-staging/".to_string());
    if staging_prefix.is_empty() || staging_prefix.len() > 200 || staging_prefix.starts_with('/') {
        err(
            "server.staging_prefix".into(),
            Some(("server", 0)),
            "staging_prefix",
            "must be 1..200 characters, not starting with '/'".into(),
        );
    }
    Server {
        listen,
        verify,
        max_skew,
        client_timeout,
        client_keepalive,
        shutdown_grace,
        client_header_timeout,
        copy_keepalive_interval,
        copy_keepalive,
        config_poll,
        shutdown_delay,
        access_log,
        max_connections,
        answer_memory,
        staging_prefix,
    }
}
