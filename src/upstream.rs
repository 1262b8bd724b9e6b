//! The one client to backends. Every exchange goes through here: forwarded requests of every
//! operation, the proxy's own side requests, and streamed bodies in both directions.
//!
//! Guarantees: connect, idle (between bytes) and total deadlines from the backend's
//! `Timeouts`; retries with capped, jittered backoff only for requests that can be sent again
//! (nothing of a streamed body consumed yet) and only on failures that prove the backend did not
//! act (connect failure, reset before the status line, `503`); a body cut short by the backend is
//! an error, never a shorter success.

use crate::access;
use crate::config::{Backend, Peer};
use crate::dialect::wire::{Headers, Name};
use crate::error::{ApiError, Code};
use crate::metrics;
use crate::model::{LISTING_CAP, RESULT_CAP};
use crate::outbound::Outbound;
use crate::pool::Pool;
use bytes::Bytes;
// HTTP/1.1 to backends (peers offer no h2): the h1 connector and session directly, whose futures
// are smaller than the version-generic ones.
use pingora::connectors::http::v1::Connector;
use pingora::http::RequestHeader;
use pingora::prelude::{HttpPeer, Result as PResult};
use pingora::protocols::http::v1::client::HttpSession;
use pingora::{Error, ErrorType};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
}

impl Failure {
    /// The error a client sees: every one is a 5xx, which every SDK retries.
    pub fn api_error(&self) -> ApiError {
        match self {
            Failure::Unreachable(_) => ApiError::unavailable("The backend could not be reached"),
            Failure::Unresolved(_) => {
                ApiError::unavailable("The backend's host name does not resolve")
            }
            Failure::Timeout(_) => {
                ApiError::new(Code::GatewayTimeout, "The backend did not answer in time")
            }
            Failure::Broken(_) => {
                ApiError::internal("The backend's answer was cut short or malformed")
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Failure::Unreachable(_) => "unreachable",
            Failure::Unresolved(_) => "unresolved",
            Failure::Timeout(_) => "timeout",
            Failure::Broken(_) => "broken",
        }
    }

    fn from_pingora(e: &Error, stage: &str) -> Failure {
        let what = format!("{stage}: {e}");
        match e.etype() {
            ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
                Failure::Timeout(what)
            }
            _ if stage == "connect" || stage == "status" => Failure::Unreachable(what),
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
            | Failure::Broken(s) => f.write_str(s),
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
    connector: Connector,
    pool: Pool,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            connector: Connector::new(None),
            pool: Pool::default(),
        }
    }
}

/// Why relaying one exchange's answer into another's request stopped.
#[derive(Debug)]
pub enum RelayError {
    Read(Failure),
    Write(Failure),
    /// The answer ran past the length expected.
    TooLong,
}

/// Relay `src`'s answer body into `dst`'s request body, one piece in flight (the next piece is
/// read while the last is written, so the slower side sets the pace). Returns the bytes relayed;
/// stops past `limit`.
pub async fn relay(
    src: &mut Exchange<'_>,
    dst: &mut Exchange<'_>,
    limit: u64,
) -> Result<u64, RelayError> {
    let mut sent = 0u64;
    let mut pending: Option<Bytes> = None;
    loop {
        let write = async {
            match pending.take() {
                Some(b) => dst.write(b).await,
                None => Ok(()),
            }
        };
        let (read, written) = tokio::join!(src.read(), write);
        written.map_err(RelayError::Write)?;
        match read.map_err(RelayError::Read)? {
            Some(b) => {
                sent += b.len() as u64;
                if sent > limit {
                    return Err(RelayError::TooLong);
                }
                pending = Some(b);
            }
            None => return Ok(sent),
        }
    }
}

/// An open exchange: the request header is sent; the body (if any) streams through `write`, the
/// answer through `read`.
pub struct Exchange<'a> {
    up: &'a Upstream,
    session: HttpSession,
    /// The backend's peer and its pool key.
    peer: Arc<Peer>,
    /// The request went out whole (its body ended): without it, the connection is never reused,
    /// or the next request on it would become the rest of this body.
    sent_whole: bool,
    /// A body was sent. Only a success proves the backend read all of it: after an error answer
    /// (one sent early, while the body was still coming, say) what is left of it may still wait
    /// in the connection, so it is not reused.
    sent_body: bool,
    pub status: u16,
    pub headers: Headers,
    /// When the request went out, and the header naming the backend's request id (access log).
    sent: Instant,
    request_id_header: &'static str,
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

/// The request head for the wire. Names are sent as given (lower-case; pingora titles the
/// standard ones): no case map is kept, so each header is one name and one value, parsed once.
fn request_header(out: &Outbound) -> PResult<RequestHeader> {
    let bad = |what: &'static str| Error::explain(ErrorType::InvalidHTTPHeader, what);
    // Filled as plain parts: pingora's own `append_header` turns each name into a case name
    // and parses it again, work a head without a case map does not need. The target and the
    // header values share one buffer (one allocation, not one per value); each part is a
    // slice of it, parsed where it was built, not copied.
    let values: usize = out.headers.iter().map(|(_, v)| v.len()).sum();
    let mut buf = String::with_capacity(out.path.len() + 64 + values);
    out.push_uri(&mut buf);
    let target_len = buf.len();
    for (_, v) in &out.headers {
        buf.push_str(v);
    }
    let buf = Bytes::from(buf);
    let mut parts = match http::uri::PathAndQuery::from_maybe_shared(buf.slice(..target_len)) {
        Ok(target) => {
            let (mut parts, ()) = http::Request::new(()).into_parts();
            parts.method =
                http::Method::from_bytes(out.method.as_bytes()).map_err(|_| bad("method"))?;
            parts.uri = target.into();
            parts
        }
        // What `http` refuses as it stands (a fragment...), pingora's target parsing decides.
        Err(_) => http::request::Parts::from(RequestHeader::build_no_case(
            out.method.as_str(),
            out.uri().as_bytes(),
            None,
        )?),
    };
    parts.headers.reserve(out.headers.len());
    let mut at = target_len;
    for (k, v) in &out.headers {
        let name = header_name(k).map_err(|_| bad("header name"))?;
        let value = http::HeaderValue::from_maybe_shared(buf.slice(at..at + v.len()))
            .map_err(|_| bad("header value"))?;
        at += v.len();
        parts.headers.append(name, value);
    }
    Ok(RequestHeader::from(parts))
}

/// Header names and values as text (names are lower-case; odd bytes become U+FFFD), but for
/// the names in `skip`.
pub fn header_pairs(map: &http::HeaderMap, skip: &[&str]) -> Headers {
    map.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            (
                common_name(k.as_str()),
                match std::str::from_utf8(v.as_bytes()) {
                    Ok(v) => v.to_owned(),
                    Err(_) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
                },
            )
        })
        .collect()
}

/// A header name for the wire: the proxy's own (static) names are not copied.
pub fn header_name(name: &Name) -> Result<http::HeaderName, http::header::InvalidHeaderName> {
    match name {
        // `from_static` refuses (panics on) anything but a lower-case token: checked first.
        Name::Borrowed(s)
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Ok(http::HeaderName::from_static(s))
        }
        _ => http::HeaderName::from_bytes(name.as_bytes()),
    }
}

/// `name` as a header name, borrowed from a table when it is one most answers carry.
fn common_name(name: &str) -> Name {
    const COMMON: &[&str] = &[
        "content-type",
        "content-length",
        "etag",
        "last-modified",
        "date",
        "accept-ranges",
        "cache-control",
        "content-encoding",
        "content-disposition",
        "content-language",
        "content-range",
        "expires",
    ];
    match COMMON.iter().find(|&&c| c == name) {
        Some(&c) => Name::Borrowed(c),
        None => Name::Owned(name.to_string()),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether an attempt that ended so proves the backend did not act: no status line, or `503`.
fn retriable(result: Result<u16, &Failure>) -> bool {
    matches!(
        result,
        Err(Failure::Unreachable(_) | Failure::Unresolved(_)) | Ok(503)
    )
}

/// The wait before sending again an attempt that may be retried (`retry`), counting it in `n`;
/// `None` once the backend's retries are spent or the wait would pass `deadline`.
pub fn again(b: &Backend, n: &mut u32, deadline: Instant, retry: bool) -> Option<Duration> {
    if !retry || *n >= b.timeouts.retries {
        return None;
    }
    *n += 1;
    let wait = backoff(b, *n);
    (Instant::now() + wait < deadline).then_some(wait)
}

/// The wait before retry `n` (1-based): `backoff * 2^(n-1)`, capped, with full jitter.
fn backoff(b: &Backend, n: u32) -> Duration {
    let t = &b.timeouts;
    let cap = t
        .backoff
        .saturating_mul(1u32 << (n - 1).min(16))
        .min(t.backoff_max);
    cap.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

impl Upstream {
    async fn connect(&self, b: &Backend) -> Result<(HttpSession, Arc<Peer>), Failure> {
        let peer = peer_for(b).await?;
        let (http, key) = (&peer.0, peer.1);
        // A pooled connection first: that future is small. A new connection's future (TLS
        // states included) is over 8 KiB, boxed so that only that path pays for moving it.
        let mut session = match self.pool.take(key) {
            Some(stream) => HttpSession::new_with_options(stream, http),
            None => {
                Box::pin(self.connector.get_http_session(http))
                    .await
                    .map_err(|e| Failure::from_pingora(&e, "connect"))?
                    .0
            }
        };
        session.read_timeout = Some(b.timeouts.idle);
        session.write_timeout = Some(b.timeouts.idle);
        Ok((session, peer))
    }

    /// Sign `out` for `b` and send its header; the body follows through `Exchange::write`.
    /// `payload`: the hex SHA-256 of the body when known (`None`: unsigned / streamed).
    pub async fn start<'a>(
        &'a self,
        b: &'a Backend,
        out: &mut Outbound,
        payload: Option<&str>,
    ) -> Result<Exchange<'a>, Failure> {
        let (mut session, peer) = self.connect(b).await?;
        out.sign(b, payload, now());
        let header = request_header(out).map_err(|e| Failure::Broken(e.to_string()))?;
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
            status: 0,
            headers: Vec::new(),
            sent: Instant::now(),
            request_id_header: b.dialect.vocab().request_id,
        })
    }

    /// A request with a small (or no) body, its answer buffered whole (up to `MAX_SMALL_ANSWER`).
    /// Sent again on failures that prove the backend did not act, within the total deadline.
    pub async fn exchange(
        &self,
        b: &Backend,
        out: &mut Outbound,
        body: Bytes,
        payload: Option<&str>,
    ) -> Result<Answer, Failure> {
        let deadline = Instant::now() + b.timeouts.total;
        let attempts = async {
            let mut n = 0u32;
            loop {
                let result = self.attempt(b, out, body.clone(), payload).await;
                let retry = retriable(result.as_ref().map(|a| a.status));
                let Some(wait) = again(b, &mut n, deadline, retry) else {
                    return result;
                };
                metrics::upstream_retry(&b.name);
                tracing::debug!(backend = %b.name, attempt = n, "retrying backend exchange");
                tokio::time::sleep(wait).await;
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
        payload: Option<&str>,
    ) -> Result<Answer, Failure> {
        let mut x = self.start(b, out, payload).await?;
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
        payload: Option<&str>,
    ) -> Result<Exchange<'a>, Failure> {
        let deadline = Instant::now() + b.timeouts.total;
        let mut n = 0u32;
        let result = loop {
            let result = async {
                let mut x = self.start(b, out, payload).await?;
                x.finish().await?;
                Ok::<_, Failure>(x)
            }
            .await;
            let retry = retriable(result.as_ref().map(|x| x.status));
            let Some(wait) = again(b, &mut n, deadline, retry) else {
                break result;
            };
            metrics::upstream_retry(&b.name);
            tokio::time::sleep(wait).await;
        };
        if let Err(f) = &result {
            metrics::upstream_error(&b.name, f.kind());
        }
        result
    }
}

impl<'a> Exchange<'a> {
    /// Send a piece of the request body (the idle deadline bounds each write).
    pub async fn write(&mut self, data: Bytes) -> Result<(), Failure> {
        self.sent_body |= !data.is_empty();
        self.session
            .write_body(&data)
            .await
            .map(drop)
            .map_err(|e| Failure::from_pingora(&e, "write"))
    }

    /// End the request body and read the answer's status and headers.
    pub async fn finish(&mut self) -> Result<(), Failure> {
        self.session
            .finish_body()
            .await
            .map_err(|e| Failure::from_pingora(&e, "write"))?;
        self.sent_whole = true;
        self.read_header().await
    }

    /// Read the answer's status and headers (also after a failed write: a backend may refuse
    /// a body early and say why).
    pub async fn read_header(&mut self) -> Result<(), Failure> {
        self.session
            .read_response()
            .await
            .map_err(|e| Failure::from_pingora(&e, "status"))?;
        let resp = self
            .session
            .resp_header()
            .ok_or_else(|| Failure::Unreachable("no response header".into()))?;
        self.status = resp.status.as_u16();
        // Headers no answer passes on are not copied.
        self.headers = header_pairs(&resp.headers, HOP_HEADERS);
        let id = resp
            .headers
            .get(self.request_id_header)
            .and_then(|v| v.to_str().ok());
        access::note_upstream(self.sent.elapsed(), id);
        Ok(())
    }

    /// Whether the answer has no (more) body.
    pub fn done(&mut self) -> bool {
        self.session.is_body_done()
    }

    /// The next piece of the answer's body; `None` at its proper end. A connection that ends
    /// short of the stated length or the last chunk is an error.
    pub async fn read(&mut self) -> Result<Option<Bytes>, Failure> {
        self.session
            .read_body_bytes()
            .await
            .map_err(|e| Failure::from_pingora(&e, "read"))
    }

    /// The rest of the answer's body, whole, up to `cap` bytes (an error answer: `RESULT_CAP`).
    /// Longer is an error, never a truncation; a stated length over the cap is refused before a
    /// byte is read. Memory follows what arrived: pieces are joined once, at the end.
    pub async fn read_to_end(&mut self, cap: usize) -> Result<Bytes, Failure> {
        let cap = if self.status >= 300 {
            cap.min(RESULT_CAP)
        } else {
            cap
        };
        let over = |n: usize| Failure::Broken(format!("backend answer of {n} bytes is over {cap}"));
        let stated = self.headers.iter().find(|(k, _)| &**k == "content-length");
        if let Some(n) = stated.and_then(|(_, v)| v.trim().parse::<usize>().ok()) {
            if n > cap {
                return Err(over(n));
            }
        }
        let (mut first, mut rest, mut total) = (Bytes::new(), Vec::new(), 0usize);
        while let Some(c) = self.read().await? {
            total += c.len();
            if total > cap {
                return Err(over(total));
            }
            if first.is_empty() {
                first = c;
            } else {
                rest.push(c);
            }
        }
        if rest.is_empty() {
            // Most answers arrive in one piece: kept as it came, not copied.
            return Ok(first);
        }
        let mut all = bytes::BytesMut::with_capacity(total);
        all.extend_from_slice(&first);
        for c in rest {
            all.extend_from_slice(&c);
        }
        Ok(all.freeze())
    }

    /// Return the connection to the pool (only after the request was sent whole and the answer
    /// read to its end; otherwise it is closed). Not async: putting a connection back never waits, and a close that would
    /// wait is finished by dropping the socket. (An awaited release would make every future
    /// holding an exchange 2.5 KiB larger, copied each time such a future moves.)
    pub fn release(self) {
        let Exchange {
            up,
            mut session,
            peer,
            sent_whole,
            sent_body,
            status,
            ..
        } = self;
        if !sent_whole || (sent_body && !(200..300).contains(&status)) {
            return;
        }
        session.respect_keepalive();
        let reuse = std::pin::pin!(session.reuse());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // Ready at once for a connection to keep; a closing one finishes by being dropped.
        if let std::task::Poll::Ready(Some(stream)) = std::future::Future::poll(reuse, &mut cx) {
            up.pool.put(peer.1, stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_from_tables_and_from_the_wire_both_reach_the_wire() {
        for (name, wire) in [
            (
                Name::Borrowed("x-vendor-copy-source"),
                "x-vendor-copy-source",
            ),
            (Name::Borrowed("content-type"), "content-type"),
            (Name::Owned("x-vendor-meta-a".into()), "x-vendor-meta-a"),
            // A static name that is not a lower-case token is parsed, never taken as it is.
            (Name::Borrowed("X-Vendor-Meta"), "x-vendor-meta"),
        ] {
            assert_eq!(header_name(&name).unwrap().as_str(), wire);
        }
        assert!(header_name(&Name::Borrowed("bad name")).is_err());
        assert!(header_name(&Name::Borrowed("")).is_err());
    }

    #[test]
    fn the_request_head_carries_target_and_values_as_built() {
        let mut out = Outbound {
            method: "PUT".into(),
            path: "/b/k%20x".into(),
            query: vec![
                ("n".into(), Some("2".into())),
                ("id".into(), Some("a/b c".into())),
            ],
            ..Default::default()
        };
        out.set_header("x-vendor-meta-a", "caf\u{e9} \t1".into());
        out.set_header("content-length", "0".into());
        out.set_header("x-vendor-empty", String::new());
        let h = request_header(&out).unwrap();
        assert_eq!(h.uri, "/b/k%20x?n=2&id=a%2Fb%20c");
        assert_eq!(
            h.headers["x-vendor-meta-a"].as_bytes(),
            "caf\u{e9} \t1".as_bytes()
        );
        assert_eq!(h.headers["content-length"], "0");
        assert_eq!(h.headers["x-vendor-empty"], "");
        // A value that would end the line is refused, not sent and not a panic.
        out.set_header("x-vendor-bad", "a\r\nb".into());
        assert!(request_header(&out).is_err());
    }

    #[test]
    fn answer_names_most_answers_carry_are_not_copied() {
        assert!(matches!(common_name("etag"), Name::Borrowed("etag")));
        assert!(matches!(common_name("x-vendor-request-id"), Name::Owned(_)));
    }
}
