//! The `[[backends]]` entries checked: dialect, endpoint or embedded store, credentials, CA
//! and timeouts.

use super::file::*;
use super::*;

/// Check every `[[backends]]` entry, in order, over `global_timeouts`; secret files read join
/// `watched`, and each problem goes to `err` (key, table, field, message).
pub(super) fn backends_of(
    file: &FileConfig,
    global_timeouts: &Timeouts,
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&str) -> std::io::Result<String>,
    watched: &mut Vec<PathBuf>,
    err: &mut impl FnMut(String, Option<(&str, usize)>, &str, String),
) -> Vec<Backend> {
    let mut backends = Vec::new();
    for (i, b) in file.backends.iter().enumerate() {
        let t = Some(("backends", i));
        let key = |f: &str| format!("backends[{i}].{f}");
        let dialect = Dialect::from_name(&b.dialect).unwrap_or_else(|| {
            err(
                key("dialect"),
                t,
                "dialect",
                format!(
                    "'{}' is not one of {}",
                    b.dialect,
                    Dialect::ALL
                        .iter()
                        .map(|d| format!("\"{}\"", d.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
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
        let no_static_key =
            b.access_key.is_none() && b.access_key_env.is_none() && b.access_key_file.is_none();
        let live = live_of(b, global_timeouts).unwrap_or_else(|(f, m)| {
            err(key(f), t, f, m);
            None
        });
        if live.is_some() && !no_static_key {
            err(
                key("access_key"),
                t,
                "access_key",
                "give static keys or web_identity/container_credentials, not both".into(),
            );
        }
        let token = SecretSource::new(
            &b.session_token,
            &b.session_token_env,
            &b.session_token_file,
        );
        let session_token = optional_secret(token, env, read, watched).unwrap_or_else(|m| {
            err(key("session_token"), t, "session_token", m);
            None
        });
        let (access_key, secret) = if (embedded.is_some() || live.is_some()) && no_static_key {
            (String::new(), Secret::new(""))
        } else {
            let ak = SecretSource::new(&b.access_key, &b.access_key_env, &b.access_key_file);
            let ak = secret_of(ak, env, read, watched).unwrap_or_else(|m| {
                err(key("access_key"), t, "access_key", m);
                Secret::new("")
            });
            let sk = SecretSource::new(&b.secret_key, &b.secret_key_env, &b.secret_key_file);
            let sk = secret_of(sk, env, read, watched).unwrap_or_else(|m| {
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
            Some(e) => timeouts_of(global_timeouts, e).unwrap_or_else(|(f, m)| {
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
            session_token,
            live,
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
    backends
}

/// The source of keys fetched while running, if the entry names one.
fn live_of(
    b: &BackendEntry,
    timeouts: &Timeouts,
) -> Result<Option<Arc<Live>>, (&'static str, String)> {
    // The endpoint is reached like a backend: its own deadlines, the system's roots.
    let endpoint = |url: &str, field: &'static str| {
        let (base, path) = match url
            .find("://")
            .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
        {
            Some(at) => (&url[..at], url[at..].to_string()),
            None => (url, "/".to_string()),
        };
        let (tls, host, sni, port) = parse_endpoint(base).map_err(|m| (field, m))?;
        // STS and the credentials endpoints speak AWS's query/JSON APIs: the S3 vocabulary only
        // names the request-id header the transport logs.
        let mut e = Backend::render_only(Dialect::default(), &host, "us-east-1");
        e.name = format!("{}-credentials", b.name);
        (e.tls, e.sni, e.connect) = (tls, sni.clone(), format!("{sni}:{port}"));
        e.addr = sni
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| (ip, port).into());
        e.timeouts = timeouts.clone();
        Ok::<_, (&'static str, String)>((e, path))
    };
    match (&b.web_identity, &b.container_credentials) {
        (Some(_), Some(_)) => Err((
            "web_identity",
            "give web_identity or container_credentials, not both".into(),
        )),
        (Some(w), None) => {
            let url = w
                .sts_endpoint
                .as_deref()
                .unwrap_or("https://sts.amazonaws.com");
            let (e, path) = endpoint(url, "web_identity")?;
            Ok(Some(Live::new(KeySource::WebIdentity(w.clone()), e, path)))
        }
        (None, Some(c)) => {
            let (e, path) = endpoint(&c.uri, "container_credentials")?;
            Ok(Some(Live::new(KeySource::Container(c.clone()), e, path)))
        }
        (None, None) => Ok(None),
    }
}
