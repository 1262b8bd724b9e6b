use arc_swap::ArcSwap;
use clap::{Parser, Subcommand};
use dialect_proxy::{config, embedded, guard, lifecycle, metrics, proxy};
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig, DEFAULT_L4_WRITE_BUFFER_SIZE};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: a request's few hundred small allocations cost a fraction of glibc's instructions.
/// Built without transparent huge pages, which would round every thread's heap up to 2 MiB of RSS.
#[global_allocator]
static ALLOCATOR: Mimalloc = Mimalloc;

/// mimalloc through its plain entry points where the alignment allows. The crate's allocator
/// always calls the `_aligned` variants, whose extra checks were about a third of the
/// allocator's instructions per request, though almost every block needs no more than
/// `mi_malloc` gives.
struct Mimalloc;

/// The alignment every `mi_malloc` block has whatever its size: size classes are whole machine
/// words. (Only blocks of 16 bytes and more are 16-byte aligned, so 16 takes the aligned path.)
const PLAIN_ALIGN: usize = std::mem::size_of::<usize>();

unsafe impl std::alloc::GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        libmimalloc_sys::mi_free(ptr as *mut std::ffi::c_void);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys as mi;
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_realloc(ptr as *mut std::ffi::c_void, new_size) as *mut u8
        } else {
            mi::mi_realloc_aligned(ptr as *mut std::ffi::c_void, new_size, layout.align())
                as *mut u8
        }
    }
}

/// Bytes of read buffer per client connection: none (pingora reads request heads into a buffer of
/// its own, and bodies into larger ones; its 64 KiB default was most of an idle connection's cost).
const CLIENT_READ_BUFFER: usize = 0;

#[derive(Parser)]
#[command(
    name = "dialect-proxy",
    version,
    about = "OBS / COS / S3 translating gateway"
)]
struct Cli {
    /// Configuration file (TOML). Without it, the embedded default serves on 127.0.0.1:8080.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Take over the listening sockets of a running instance (sent on its SIGQUIT through
    /// `[server] upgrade_sock`) instead of binding them: an upgrade without dropped connections.
    #[arg(long)]
    upgrade: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration file and exit.
    Check {
        /// Do not read secrets (environment variables, secret files): for checking a
        /// configuration where its secrets are not present, such as CI.
        #[arg(long)]
        skip_secrets: bool,
    },
    /// Ask a running proxy's metrics listener for a health path; exit 0 on 200 (container
    /// health checks in images without curl).
    Health {
        /// The metrics listener (`[server] metrics`).
        #[arg(long, default_value = "127.0.0.1:9100")]
        addr: String,
        /// `/healthz` (alive) or `/readyz` (serving).
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Logs to stderr, filtered by `DIALECT_PROXY_LOG`; one JSON object per line with
/// `DIALECT_PROXY_LOG_FORMAT=json`; colours only when stderr is a terminal. pingora's own lines
/// stop at INFO whatever the filter says: at DEBUG and TRACE they print whole request and
/// response headers and URLs (signatures, SSE-C keys, tokens, presigned queries).
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("DIALECT_PROXY_LOG")
        .unwrap_or_else(|_| "info".into());
    let no_pingora_detail = tracing_subscriber::filter::filter_fn(|m| {
        !m.target().starts_with("pingora") || *m.level() <= tracing::Level::INFO
    });
    let json = env("DIALECT_PROXY_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let layer = if json {
        layer.json().flatten_event(true).boxed()
    } else {
        layer.boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(no_pingora_detail)
        .with(layer)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();

    match cli.command {
        Some(Command::Check { skip_secrets }) => check(cli.config, skip_secrets),
        Some(Command::Health { addr, path }) => health(&addr, &path),
        None => serve(cli.config, cli.upgrade),
    }
}

/// One GET with short deadlines; the status line decides.
fn health(addr: &str, path: &str) -> ExitCode {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let deadline = std::time::Duration::from_secs(2);
    let answer = (|| -> std::io::Result<String> {
        let a = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let mut s = std::net::TcpStream::connect_timeout(&a, deadline)?;
        s.set_read_timeout(Some(deadline))?;
        s.set_write_timeout(Some(deadline))?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut head = [0u8; 64];
        let n = s.read(&mut head)?;
        Ok(String::from_utf8_lossy(&head[..n]).into_owned())
    })();
    match answer {
        Ok(a) if a.starts_with("HTTP/1.1 200") || a.starts_with("HTTP/1.0 200") => {
            ExitCode::SUCCESS
        }
        Ok(a) => {
            eprintln!("{addr}{path}: {}", a.lines().next().unwrap_or(""));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{addr}{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: Option<PathBuf>, skip_secrets: bool) -> ExitCode {
    let Some(path) = path else {
        eprintln!("check needs --config FILE");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let parsed = if skip_secrets {
        config::parse_with(&text, &|_| Some("unchecked".into()), &|_| {
            Ok("unchecked".into())
        })
    } else {
        config::parse(&text, &env)
    };
    match parsed {
        Ok(c) => {
            println!(
                "{}: ok ({} clients, {} backends, {} routes)",
                path.display(),
                c.clients.len(),
                c.backends.len(),
                c.routes.len()
            );
            ExitCode::SUCCESS
        }
        Err(errs) => {
            for e in errs {
                eprintln!("{}: {e}", path.display());
            }
            ExitCode::FAILURE
        }
    }
}

/// The configuration used when none is given: one embedded store, one client key.
fn default_config() -> String {
    let (ak, sk) = match (
        env("DIALECT_PROXY_ACCESS_KEY"),
        env("DIALECT_PROXY_SECRET_KEY"),
    ) {
        (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => (a, s),
        _ => {
            let ak = format!("DP{}", random_token(18).to_uppercase());
            let sk = random_token(40);
            println!("dialect-proxy: generated client credentials\n  access key: {ak}\n  secret key: {sk}");
            (ak, sk)
        }
    };
    let listen = env("DIALECT_PROXY_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
    let data = env("DIALECT_PROXY_DATA").unwrap_or_else(|| "./data".into());
    format!(
        "[server]\nlisten = [{listen:?}]\n[[clients]]\naccess_key = {ak:?}\nsecret_key = {sk:?}\n\
         [[backends]]\nname = \"local\"\ndialect = \"s3\"\nembedded = {data:?}\n\
         [[routes]]\nbucket = \"*\"\nbackend = \"local\"\n"
    )
}

fn random_token(n: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[r.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// Validate a configuration and make it ready to serve: embedded stores running (reused from
/// `previous` when unchanged), addresses resolved. Errors are one line each.
fn load(text: &str, previous: Option<&config::Config>) -> Result<config::Config, Vec<String>> {
    let mut cfg = config::parse(text, &env)
        .map_err(|errs| errs.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    for b in cfg.backends.iter_mut().filter(|b| b.embedded.is_some()) {
        let same = previous.and_then(|p| {
            p.backends
                .iter()
                .find(|o| o.name == b.name && o.embedded == b.embedded && o.addr.is_some())
        });
        if let Some(old) = same {
            b.host = old.host.clone();
            b.addr = old.addr;
            b.access_key = old.access_key.clone();
            b.secret = old.secret.clone();
            continue;
        }
        if b.access_key.is_empty() {
            b.access_key = format!("EMB{}", random_token(16).to_uppercase());
            b.secret = dialect_proxy::sign::Secret::new(random_token(40));
        }
        let root = b.embedded.clone().unwrap_or_default();
        let addr = embedded::start(&root, &b.access_key, b.secret.expose())
            .map_err(|e| vec![format!("embedded store at {}: {e}", root.display())])?;
        tracing::info!(backend = %b.name, root = %root.display(), "embedded store ready");
        b.host = addr.to_string();
        b.addr = Some(addr);
    }
    // Fetched keys stay with a backend whose source is unchanged: a reload fetches nothing again.
    for b in cfg.backends.iter_mut() {
        let Some(live) = &b.live else { continue };
        let kept = previous
            .and_then(|p| p.backends.iter().find(|o| o.name == b.name))
            .and_then(|o| o.live.clone())
            .filter(|o| o.source == live.source && o.path == live.path);
        if kept.is_some() {
            b.live = kept;
        }
    }
    cfg.resolve().map_err(|e| vec![e.to_string()])?;
    Ok(cfg)
}

fn serve(path: Option<PathBuf>, upgrade: bool) -> ExitCode {
    let (name, text) = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => (p.display().to_string(), t),
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => ("embedded default".to_string(), default_config()),
    };
    let cfg = match load(&text, None) {
        Ok(c) => c,
        Err(errs) => {
            for e in errs {
                eprintln!("{name}: {e}");
            }
            return ExitCode::FAILURE;
        }
    };

    // After SIGTERM and `shutdown_delay`, pingora closes the listeners and gives requests in
    // flight `shutdown_grace` (the process exits as soon as the last connection ended).
    let conf = ServerConf {
        threads: 2,
        grace_period_seconds: Some(cfg.shutdown_grace.as_secs().max(1)),
        graceful_shutdown_timeout_seconds: Some(1),
        upgrade_sock: cfg.upgrade_sock.clone(),
        ..Default::default()
    };
    let opt = Opt {
        upgrade,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();
    let shutdown_delay = cfg.shutdown_delay;
    let listen = cfg.listen.clone();
    let tls_listen = cfg.tls_listen.clone();
    let (cert, key) = (
        cfg.tls_cert.clone().unwrap_or_default(),
        cfg.tls_key.clone().unwrap_or_default(),
    );
    let metrics_addr = cfg.metrics.clone();
    let (head_timeout, max_connections) = (cfg.client_header_timeout, cfg.max_connections);
    let shared = Arc::new(ArcSwap::from_pointee(cfg));
    if let Some(p) = path.clone() {
        if let Err(e) = lifecycle::watch_config(p, &text, shared.clone(), load) {
            eprintln!("{name}: cannot watch for changes: {e}");
            return ExitCode::FAILURE;
        }
    }
    // Always running (a reload may add a backend whose keys are fetched); idle, it wakes once a second.
    if let Err(e) = dialect_proxy::credentials::start(shared.clone()) {
        eprintln!("{name}: cannot start the credentials refresher: {e}");
        return ExitCode::FAILURE;
    }
    guard::return_memory_after_bursts();
    let keepalive = {
        let shared = shared.clone();
        Box::new(move || shared.load().client_keepalive)
    };
    let app = proxy::Gateway::new(shared);
    let mut svc = pingora::services::listening::Service::new(
        "dialect-proxy".into(),
        guard::Guarded::new(app, head_timeout, max_connections, keepalive),
    );
    let buffers = L4BufferSettings::new(CLIENT_READ_BUFFER, DEFAULT_L4_WRITE_BUFFER_SIZE);
    for l in &listen {
        svc.add_listener(ListenerConfig::tcp(l.as_str()).l4_buffer(buffers));
    }
    for l in &tls_listen {
        match TlsSettings::intermediate(&cert, &key) {
            Ok(tls) => {
                svc.add_listener(ListenerConfig::tcp(l.as_str()).tls(tls).l4_buffer(buffers))
            }
            Err(e) => {
                eprintln!("{name}: tls listener {l}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    server.add_service(svc);
    if let Some(m) = metrics_addr {
        if let Err(e) = metrics::serve_health(&m) {
            eprintln!("{name}: metrics listener {m}: {e}");
            return ExitCode::FAILURE;
        }
    }
    lifecycle::ready_when_listening(listen.iter().chain(&tls_listen).cloned().collect());
    lifecycle::exit_when_drained(server.watch_execution_phase());
    tracing::info!(config = %name, listen = ?listen, tls = ?tls_listen, "dialect-proxy serving");
    server.run(RunArgs {
        shutdown_signal: Box::new(lifecycle::Signals {
            delay: shutdown_delay,
        }),
    });
    ExitCode::SUCCESS
}
