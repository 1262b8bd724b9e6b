//! The process around the proxy: configuration reloads (SIGHUP, or a changed file or secret
//! file), readiness, and draining on SIGTERM (or SIGQUIT, handing the listeners to a new process).

use crate::config::Config;
use crate::metrics;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::{ExecutionPhase, ShutdownSignal, ShutdownSignalWatch};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// Validates a configuration's text into a running one (given the one it replaces).
pub type Load = fn(&str, Option<&Config>) -> Result<Config, Vec<String>>;

/// A file rewritten in place can be read half-written: a change is taken once two reads this far
/// apart agree.
const SETTLE: Duration = Duration::from_millis(25);

/// The text of the file and the secret files it names, as one number.
fn fingerprint(text: &str, files: &[PathBuf]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    for f in files {
        std::fs::read(f).ok().hash(&mut h);
    }
    h.finish()
}

struct Watch {
    path: PathBuf,
    shared: Arc<ArcSwap<Config>>,
    load: Load,
    /// What the running configuration was built from.
    running: u64,
    /// The last refused content: said once, not at every poll.
    refused: Option<u64>,
}

impl Watch {
    /// Reload if the file or a secret file changed (always when `forced`: SIGHUP).
    async fn check(&mut self, forced: bool) {
        let current = self.shared.load_full();
        let Some(text) = self.read(forced) else {
            return;
        };
        let seen = fingerprint(&text, &current.watched);
        if !forced {
            if seen == self.running || Some(seen) == self.refused {
                return;
            }
            tokio::time::sleep(SETTLE).await;
            match self.read(false) {
                Some(again) if fingerprint(&again, &current.watched) == seen => {}
                _ => return,
            }
        }
        match (self.load)(&text, Some(&current)) {
            Ok(c) => {
                self.running = fingerprint(&text, &c.watched);
                self.refused = None;
                self.shared.store(Arc::new(c));
                metrics::reload(true);
                tracing::info!(file = %self.path.display(), "configuration reloaded");
            }
            Err(errs) => {
                self.refused = Some(seen);
                metrics::reload(false);
                for e in errs {
                    tracing::error!(file = %self.path.display(), problem = %e, "reload refused; keeping the running configuration");
                }
            }
        }
    }

    fn read(&self, loud: bool) -> Option<String> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) => Some(t),
            Err(e) => {
                if loud {
                    metrics::reload(false);
                    tracing::error!(file = %self.path.display(), error = %e, "reload failed; keeping the running configuration");
                }
                None
            }
        }
    }
}

/// Reload `path` on SIGHUP and whenever it (or a secret file it names) changes, checked every
/// `config_poll`. A configuration that fails validation never replaces the running one; requests
/// in flight finish on the snapshot they started with. Listener addresses are fixed at start-up.
pub fn watch_config(
    path: PathBuf,
    text: &str,
    shared: Arc<ArcSwap<Config>>,
    load: Load,
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Registered now, before serving, so a SIGHUP never takes the default action (exit).
    let mut hangup = rt.block_on(async { signal(SignalKind::hangup()) })?;
    let running = fingerprint(text, &shared.load().watched);
    let mut watch = Watch {
        path,
        shared,
        load,
        running,
        refused: None,
    };
    std::thread::Builder::new()
        .name("config-reload".into())
        .spawn(move || {
            rt.block_on(async move {
                loop {
                    let poll = watch.shared.load().config_poll;
                    let tick = async {
                        match poll {
                            Some(p) => tokio::time::sleep(p).await,
                            None => std::future::pending().await,
                        }
                    };
                    let forced = tokio::select! {
                        s = hangup.recv() => match s {
                            Some(()) => true,
                            None => return,
                        },
                        _ = tick => false,
                    };
                    watch.check(forced).await;
                }
            })
        })?;
    Ok(())
}

/// SIGTERM (drain and exit), SIGQUIT (hand the listeners to a new process, then drain) and SIGINT
/// (exit now). Draining turns `/readyz` to 503 first and, after `delay`, closes the listeners.
pub struct Signals {
    pub delay: Duration,
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut quit), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::quit()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot watch for signals");
            return std::future::pending().await;
        };
        let s = tokio::select! {
            _ = term.recv() => ShutdownSignal::GracefulTerminate,
            _ = quit.recv() => ShutdownSignal::GracefulUpgrade,
            _ = int.recv() => return ShutdownSignal::FastShutdown,
        };
        metrics::draining();
        tracing::info!(delay = ?self.delay, "draining: /readyz answers 503");
        tokio::time::sleep(self.delay).await;
        s
    }
}

/// Once the listeners are closed, exit as soon as the last client connection has ended (pingora
/// would otherwise wait out the whole grace period).
pub fn exit_when_drained(mut phase: tokio::sync::broadcast::Receiver<ExecutionPhase>) {
    use tokio::sync::broadcast::error::RecvError;
    let spawned = std::thread::Builder::new()
        .name("drain".into())
        .spawn(move || {
            loop {
                match phase.blocking_recv() {
                    Ok(ExecutionPhase::ShutdownGracePeriod) => break,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
            while metrics::open_connections() > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            tracing::info!("drained: every connection has ended");
            std::process::exit(0);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no drain thread; shutdown waits for the grace period");
    }
}

/// Where to reach a listener of this process from inside it.
fn reachable(listen: &str) -> Option<std::net::SocketAddr> {
    let mut a: std::net::SocketAddr = listen.parse().ok()?;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Some(a)
}

/// Mark the proxy ready once every listener accepts connections (pingora binds them in its own
/// time, and a listener that failed to bind must keep `/readyz` at 503).
pub fn ready_when_listening(listen: Vec<String>) {
    let spawned = std::thread::Builder::new()
        .name("readiness".into())
        .spawn(move || {
            let addrs: Vec<_> = listen.iter().filter_map(|l| reachable(l)).collect();
            let mut waited = Duration::ZERO;
            for a in addrs {
                while std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_err() {
                    std::thread::sleep(Duration::from_millis(20));
                    waited += Duration::from_millis(20);
                    if waited == Duration::from_secs(10) {
                        tracing::warn!(listener = %a, "listener not accepting yet; /readyz stays 503");
                    }
                }
            }
            metrics::listeners_bound();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no readiness thread");
        metrics::listeners_bound();
    }
}
