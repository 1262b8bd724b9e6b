//! The file's text validated into a `Config`, every problem located by key and line.
//!
//! Here: parsing, the clients, the routes and the `Config` they make; the `[server]` table is
//! checked in `server`, the `[[backends]]` entries in `backends`.

use super::backends::backends_of;
use super::file::*;
use super::server::{server_of, Server};
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
    let Server {
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
    } = server_of(s, &mut err);
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
        let grant = Grant::new(c.buckets.clone(), c.access.clone()).unwrap_or_else(|m| {
            err(format!("clients[{i}].access"), t, "access", m);
            Grant::default()
        });
        let token = SecretSource::new(
            &c.session_token,
            &c.session_token_env,
            &c.session_token_file,
        );
        let session_token = optional_secret(token, env, read, &mut watched).unwrap_or_else(|m| {
            err(format!("clients[{i}].session_token"), t, "session_token", m);
            None
        });
        let source = SecretSource::new(&c.secret_key, &c.secret_key_env, &c.secret_key_file);
        match secret_of(source, env, read, &mut watched) {
            Ok(secret) => {
                let client = Client {
                    secret,
                    grant,
                    session_token,
                };
                if clients.insert(c.access_key.clone(), client).is_some() {
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

    let backends = backends_of(&file, &global_timeouts, env, read, &mut watched, &mut err);

    let mut routes = Vec::new();
    for (i, r) in file.routes.iter().enumerate() {
        let t = Some(("routes", i));
        let mut anonymous = Vec::new();
        for a in r.anonymous.iter().flatten() {
            match a.as_str() {
                "read" => anonymous.push(Access::Read),
                "list" => anonymous.push(Access::List),
                other => err(
                    format!("routes[{i}].anonymous"),
                    t,
                    "anonymous",
                    format!("'{other}' is not \"read\" or \"list\" (unsigned writes and deletes are never allowed)"),
                ),
            }
        }
        if let Some(c) = &r.cors {
            let bad = c
                .allowed_methods
                .iter()
                .find(|m| !matches!(m.as_str(), "GET" | "PUT" | "POST" | "DELETE" | "HEAD"));
            if let Some(m) = bad {
                let msg = format!("'{m}' is not one of GET, PUT, POST, DELETE, HEAD");
                err(format!("routes[{i}].cors"), t, "cors", msg);
            }
            if c.allowed_origins.is_empty() || c.allowed_methods.is_empty() {
                let msg = "allowed_origins and allowed_methods must not be empty".to_string();
                err(format!("routes[{i}].cors"), t, "cors", msg);
            }
        }
        match backends.iter().position(|b| b.name == r.backend) {
            Some(idx) => routes.push(Route {
                anonymous,
                cors: r.cors.clone(),
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
        answer_memory,
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
