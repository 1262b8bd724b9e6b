//! The one client to backends. Every exchange goes through here: forwarded requests of every
//! operation, the proxy's own side requests, and streamed bodies in both directions.
//!
//! Guarantees: connect, idle (between bytes) and total deadlines from the backend's
//! `Timeouts`; retries with capped, jittered backoff only for requests that can be sent again
//! (nothing of a streamed body consumed yet) and only on failures that prove the backend did not
//! act (connect failure, reset before the status line, `503`); a body cut short by the backend is
//! an error, never a shorter success.

use crate::config::{Backend, Peer};
use crate::metrics;
use crate::model::LISTING_CAP;
use crate::pool::Pool;
use crate::wire::{Headers, Outbound, Sign};
use bytes::Bytes;
// HTTP/1.1 to backends (peers offer no h2): the transport connector and the h1 session directly,
// whose futures are smaller than the version-generic ones; each connection wrapped in `conn::Conn`.
use pingora::connectors::TransportConnector;
use pingora::prelude::HttpPeer;
use pingora::protocols::http::v1::client::HttpSession;
use pingora::{Error, ErrorType};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod budget;
mod conn;
mod exchange;
mod head;
mod retry;
use budget::Budget;
pub use exchange::{relay, Exchange, RelayError};
use head::request_header;
pub use head::{header_name, header_pairs};
pub use retry::Retry;

/// Answer headers that are the transport's business (or replaced by the proxy): never copied.
pub const HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "server",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Why an exchange with a backend failed.
#[derive(Debug)]
pub enum Failure {
    /// No answer could be had: connect failure, or the connection ended before the status line.
    Unreachable(String),
    /// The backend's host name does not resolve (and never did since the configuration loaded).
    Unresolved(String),
    /// A deadline passed (the stage names which).
    Timeout(String),
    /// The answer started but was cut, malformed or too large.
    Broken(String),
    /// The answer would take buffered answers past the gateway's memory for them.
    Busy(String),
}

impl Failure {
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Unreachable(_) => "unreachable",
            Failure::Unresolved(_) => "unresolved",
            Failure::Timeout(_) => "timeout",
            Failure::Broken(_) => "broken",
            Failure::Busy(_) => "busy",
        }
    }

    fn from_pingora(e: &Error, stage: &str) -> Failure {
        let what = format!("{stage}: {e}");
        match e.etype() {
            ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
                Failure::Timeout(what)
            }
            _ if matches!(stage, "connect" | "status" | "head") => Failure::Unreachable(what),
            _ => Failure::Broken(what),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(s)
            | Failure::Unresolved(s)
            | Failure::Timeout(s)
            | Failure::Broken(s)
            | Failure::Busy(s) => f.write_str(s),
        }
    }
}

/// A whole, buffered answer.
pub struct Answer {
    pub status: u16,
    /// (lower-case name, value).
    pub headers: Headers,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Upstream {
    /// New connections (pingora's own pool stays empty: see `pool`).
    connector: TransportConnector,
    pool: Pool,
    /// What buffered answers may hold at once.
    budget: Arc<Budget>,
}

impl Upstream {
    /// `answer_memory`: the bytes all buffered answers may hold at once.
    pub fn new(answer_memory: usize) -> Self {
        Upstream {
            connector: TransportConnector::new(None),
            pool: Pool::default(),
            budget: Budget::new(answer_memory),
        }
    }
}

/// The backend's peer (connection options and pool key): built once per configuration for a
/// known address, per address a host name resolves to otherwise.
async fn peer_for(b: &Backend) -> Result<Arc<Peer>, Failure> {
    let build = |addr| {
        let peer = new_peer(b, addr);
        let key = pingora::upstreams::peer::Peer::reuse_hash(&peer);
        (peer, key)
    };
    if let Some(addr) = b.addr {
        return Ok(b.peer.get_or_init(|| Arc::new(build(addr))).clone());
    }
    if !b.by_name() {
        return Err(Failure::Unreachable(
            "the embedded store is not running".into(),
        ));
    }
    let t = &b.timeouts;
    b.dns
        .get(&b.connect, t.dns_ttl, t.connect, build)
        .await
        .map_err(|why| {
            tracing::warn!(backend = %b.name, error = %why, "backend host name does not resolve");
            Failure::Unresolved(why)
        })
}

fn new_peer(b: &Backend, addr: std::net::SocketAddr) -> HttpPeer {
    let mut peer = HttpPeer::new(addr, b.tls, b.sni.clone());
    let t = &b.timeouts;
    peer.options.connection_timeout = Some(t.connect);
    peer.options.total_connection_timeout = Some(t.connect);
    peer.options.read_timeout = Some(t.idle);
    peer.options.write_timeout = Some(t.idle);
    peer.options.idle_timeout = Some(Duration::from_secs(60));
    peer.options.ca = b.ca.clone();
    peer
}

impl Upstream {
    async fn connect(&self, b: &Backend) -> Result<(HttpSession, Arc<Peer>), Failure> {
        let peer = peer_for(b).await?;
        let (http, key) = (&peer.0, peer.1);
        // A pooled connection first: that future is small. A new connection's future (TLS
        // states included) is over 8 KiB, boxed so that only that path pays for moving it.
        let stream = match self.pool.take(key) {
            Some(stream) => stream,
            None => Box::new(conn::Conn::new(
                Box::pin(self.connector.new_stream(http))
                    .await
                    .map_err(|e| Failure::from_pingora(&e, "connect"))?,
            )),
        };
        let mut session = HttpSession::new_with_options(stream, http);
        session.read_timeout = Some(b.timeouts.idle);
        session.write_timeout = Some(b.timeouts.idle);
        Ok((session, peer))
    }

    /// Sign `out` (the caller's step `sign`, run here so that each attempt carries its own date)
    /// and send its header; the body follows through `Exchange::write`.
    pub async fn start<'a>(
        &'a self,
        b: &'a Backend,
        out: &mut Outbound,
        sign: Sign<'_>,
    ) -> Result<Exchange<'a>, Failure> {
        let (mut session, peer) = self.connect(b).await?;
        sign(out);
        let header = request_header(out).map_err(|e| Failure::Broken(e.to_string()))?;
        // A head with a body to follow leaves with the body's first bytes.
        let head_with_body = out.header("content-length").is_some_and(|n| n != "0")
            || out.header("transfer-encoding").is_some();
        if head_with_body {
            if let Some(c) = (**session.stream()).as_any().downcast_ref::<conn::Conn>() {
                c.arm();
            }
        }
        session
            .write_request_header(Box::new(header))
            .await
            .map_err(|e| Failure::from_pingora(&e, "status"))?;
        Ok(Exchange {
            up: self,
            session,
            peer,
            sent_whole: false,
            sent_body: false,
            head_with_body,
            status: 0,
            headers: Vec::new(),
            sent: Instant::now(),
            request_id_header: b.request_id_header(),
        })
    }

    /// A request with a small (or no) body, its answer buffered whole (up to `out.answer_cap`).
    /// Sent again as the one retry policy allows, within the total deadline.
    pub async fn exchange(
        &self,
        b: &Backend,
        out: &mut Outbound,
        body: Bytes,
        sign: Sign<'_>,
    ) -> Result<Answer, Failure> {
        let attempts = async {
            let mut retry = Retry::new(b);
            loop {
                let result = self.attempt(b, out, body.clone(), sign).await;
                if !retry
                    .again(Retry::unacted(result.as_ref().map(|a| a.status)))
                    .await
                {
                    return result;
                }
            }
        };
        // pingora's coarse timer (10 ms ticks): registering a tokio timer on every exchange
        // costs a wake-up of the runtime's driver (a syscall) each time.
        let result =
            match pingora_timeout::fast_timeout::fast_timeout(b.timeouts.total, attempts).await {
                Ok(r) => r,
                Err(_) => Err(Failure::Timeout("total deadline".into())),
            };
        if let Err(f) = &result {
            metrics::upstream_error(&b.name, f.kind());
        }
        result
    }

    async fn attempt(
        &self,
        b: &Backend,
        out: &mut Outbound,
        body: Bytes,
        sign: Sign<'_>,
    ) -> Result<Answer, Failure> {
        let mut x = self.start(b, out, sign).await?;
        if !body.is_empty() {
            x.write(body).await?;
        }
        x.finish().await?;
        let buf = if out.method == "HEAD" {
            Bytes::new()
        } else {
            x.read_to_end(out.answer_cap.unwrap_or(LISTING_CAP)).await?
        };
        let (status, headers) = (x.status, std::mem::take(&mut x.headers));
        x.release();
        Ok(Answer {
            status,
            headers,
            body: buf,
        })
    }

    /// A bodiless request whose answer streams (a download): retried like `exchange` until the
    /// status line arrives; the body is then read through the returned `Exchange`.
    pub async fn open<'a>(
        &'a self,
        b: &'a Backend,
        out: &mut Outbound,
        sign: Sign<'_>,
    ) -> Result<Exchange<'a>, Failure> {
        let mut retry = Retry::new(b);
        let result = loop {
            let result = async {
                let mut x = self.start(b, out, sign).await?;
                x.finish().await?;
                Ok::<_, Failure>(x)
            }
            .await;
            if !retry
                .again(Retry::unacted(result.as_ref().map(|x| x.status)))
                .await
            {
                break result;
            }
        };
        if let Err(f) = &result {
            metrics::upstream_error(&b.name, f.kind());
        }
        result
    }
}

#[cfg(test)]
pub(crate) mod tests;
