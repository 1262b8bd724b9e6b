//! The `/metrics`, `/healthz` and `/readyz` listener, and the readiness state it answers from.

use async_trait::async_trait;
use pingora::apps::http_app::{HttpServer, ServeHttp};
use pingora::apps::ServerApp;
use pingora::protocols::http::ServerSession;
use pingora_prometheus::prometheus::{self, Encoder, TextEncoder};
use std::sync::atomic::{AtomicBool, Ordering};

/// Readiness: the configuration is loaded (it is before anything serves), the listeners accept,
/// and the process is not draining.
static BOUND: AtomicBool = AtomicBool::new(false);
static DRAINING: AtomicBool = AtomicBool::new(false);

pub fn listeners_bound() {
    BOUND.store(true, Ordering::Relaxed);
}
/// From now on `/readyz` answers 503 (shutdown or upgrade under way).
pub fn draining() {
    DRAINING.store(true, Ordering::Relaxed);
}
pub fn is_draining() -> bool {
    DRAINING.load(Ordering::Relaxed)
}

struct HealthApp;

#[async_trait]
impl ServeHttp for HealthApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let (status, ctype, body) = match session.req_header().uri.path() {
            "/healthz" => (200, "text/plain", b"ok\n".to_vec()),
            "/readyz" if is_draining() => (503, "text/plain", b"draining\n".to_vec()),
            "/readyz" if !BOUND.load(Ordering::Relaxed) => {
                (503, "text/plain", b"starting\n".to_vec())
            }
            "/readyz" => (200, "text/plain", b"ready\n".to_vec()),
            "/metrics" => {
                let mut buf = Vec::new();
                let _ = TextEncoder::new().encode(&prometheus::gather(), &mut buf);
                (200, "text/plain; version=0.0.4", buf)
            }
            _ => (404, "text/plain", b"not found\n".to_vec()),
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, ctype)
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body)
            .unwrap_or_default()
    }
}

/// Serve `/metrics`, `/healthz` and `/readyz` on `addr` from a thread of its own, outside
/// pingora's services: it keeps answering (`/readyz` 503) while the proxy drains, until exit.
/// The socket may be shared (SO_REUSEPORT) with the process taking over in an upgrade.
pub fn serve_health(addr: &str) -> std::io::Result<()> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or_else(|| std::io::Error::other("address resolves to nothing"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = rt.block_on(async {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        socket.listen(128)
    })?;
    std::thread::Builder::new()
        .name("health".into())
        .spawn(move || {
            rt.block_on(async move {
                let app = std::sync::Arc::new(HttpServer::new_app(HealthApp));
                // Never fires: this listener lives as long as the process.
                let (_keep, never) = tokio::sync::watch::channel(false);
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (app, never) = (app.clone(), never.clone());
                    tokio::spawn(async move {
                        let stream = pingora::protocols::l4::stream::Stream::from(tcp);
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_secs(10),
                            app.process_new(Box::new(stream), &never),
                        )
                        .await;
                    });
                }
            })
        })?;
    Ok(())
}
