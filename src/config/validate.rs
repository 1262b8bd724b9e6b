//! The file's text validated into a `Config`, every problem located by key and line.

use super::file::*;
use super::*;

/// Parse and validate a configuration file's text. `env` looks up environment variables.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<ConfigError>> {
    parse_with(text, env, &|p| std::fs::read_to_string(p))
}

/// `parse`, with secret files read through `read` (`check --skip-secrets` reads none).
pub fn parse_with(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Config, Vec<ConfigError>> {
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
    let global_timeouts = match &file.timeouts {
        Some(t) => timeouts_of(&Timeouts::default(), t).unwrap_or_else(|(f, m)| {
            err(format!("timeouts.{f}"), Some(("timeouts", 0)), f, m);
            Timeouts::default()
        }),
        None => Timeouts::default(),
    };

    let mut watched = Vec::new();
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
        let source = SecretSource::new(&c.secret_key, &c.secret_key_env, &c.secret_key_file);
        match secret_of(source, env, read, &mut watched) {
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
        let (access_key, secret) = if embedded.is_some()
            && b.access_key.is_none()
            && b.access_key_env.is_none()
            && b.access_key_file.is_none()
        {
            (String::new(), Secret::new(""))
        } else {
            let ak = SecretSource::new(&b.access_key, &b.access_key_env, &b.access_key_file);
            let ak = secret_of(ak, env, read, &mut watched).unwrap_or_else(|m| {
                err(key("access_key"), t, "access_key", m);
                Secret::new("")
            });
            let sk = SecretSource::new(&b.secret_key, &b.secret_key_env, &b.secret_key_file);
            let sk = secret_of(sk, env, read, &mut watched).unwrap_or_else(|m| {
                err(key("secret_key"), t, "secret_key", m);
                Secret::new("")
            });
            (ak.expose().to_string(), sk)
        };
        // Unset: the region a cloud's host names (`obs.<region>.myhuaweicloud.com`), else its default.
        let region = b.region.clone().unwrap_or_else(|| {
            dialect
                .region_of_host(&host)
                .unwrap_or(dialect.vocab().default_region)
                .to_string()
        });
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
            min_part_size: b.min_part_size.unwrap_or(dialect.min_part_size()),
            list_v2: b.list_v2.unwrap_or(dialect.vocab().list_v2),
            checksums: b.checksums.unwrap_or(dialect.vocab().checksums),
            peer: Default::default(),
            dns: Default::default(),
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
        copy_keepalive,
        copy_keepalive_interval,
        staging_prefix,
        client_header_timeout,
        max_connections,
        access_log,
        access_log_keys: s.access_log_keys.unwrap_or(false),
        config_poll,
        shutdown_delay,
        shutdown_grace,
        upgrade_sock: s
            .upgrade_sock
            .clone()
            .unwrap_or_else(|| "/tmp/dialect-proxy-upgrade.sock".into()),
        watched,
        suffixes: s.virtual_host_suffixes.clone(),
        clients,
        backends,
        routes,
    })
}
