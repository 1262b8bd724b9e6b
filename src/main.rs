use arc_swap::ArcSwap;
use clap::{Parser, Subcommand};
use dialect_proxy::{config, embedded, metrics, proxy};
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration file and exit.
    Check,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("DIALECT_PROXY_LOG")
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();

    match cli.command {
        Some(Command::Check) => check(cli.config),
        None => serve(cli.config),
    }
}

fn check(path: Option<PathBuf>) -> ExitCode {
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
    match config::parse(&text, &env) {
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

fn serve(path: Option<PathBuf>) -> ExitCode {
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
    let mut cfg = match config::parse(&text, &env) {
        Ok(c) => c,
        Err(errs) => {
            for e in errs {
                eprintln!("{name}: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    for b in cfg.backends.iter_mut().filter(|b| b.embedded.is_some()) {
        if b.access_key.is_empty() {
            b.access_key = format!("EMB{}", random_token(16).to_uppercase());
            b.secret = dialect_proxy::sign::Secret::new(random_token(40));
        }
        let root = b.embedded.clone().unwrap_or_default();
        match embedded::start(&root, &b.access_key, b.secret.expose()) {
            Ok(addr) => {
                tracing::info!(backend = %b.name, root = %root.display(), "embedded store ready");
                b.host = addr.to_string();
                b.addr = Some(addr);
            }
            Err(e) => {
                eprintln!("{name}: embedded store at {}: {e}", root.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = cfg.resolve() {
        eprintln!("{name}: {e}");
        return ExitCode::FAILURE;
    }

    let conf = ServerConf {
        threads: 2,
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let listen = cfg.listen.clone();
    let tls_listen = cfg.tls_listen.clone();
    let (cert, key) = (
        cfg.tls_cert.clone().unwrap_or_default(),
        cfg.tls_key.clone().unwrap_or_default(),
    );
    let metrics_addr = cfg.metrics.clone();
    let shared = Arc::new(ArcSwap::from_pointee(cfg));
    let mut svc =
        pingora::proxy::http_proxy_service(&server.configuration, proxy::Gateway::new(shared));
    for l in &listen {
        svc.add_tcp(l);
    }
    for l in &tls_listen {
        if let Err(e) = svc.add_tls(l, &cert, &key) {
            eprintln!("{name}: tls listener {l}: {e}");
            return ExitCode::FAILURE;
        }
    }
    server.add_service(svc);
    if let Some(m) = metrics_addr {
        let mut ms =
            pingora::services::listening::Service::new("metrics".into(), metrics::server());
        ms.add_tcp(&m);
        server.add_service(ms);
    }
    tracing::info!(config = %name, listen = ?listen, tls = ?tls_listen, "dialect-proxy serving");
    server.run_forever()
}
