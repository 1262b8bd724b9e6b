//! The pingora phases. They move bytes and call `request`, `response` and `outbound`;
//! the protocol itself lives in those modules.

use crate::auth::Payload;
use crate::body::BodyCheck;
use crate::config::{Backend, Config};
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::metrics;
use crate::request::{self, Forward, Inbound, Plan};
use crate::response;
use crate::sign::{self, sigv4::EMPTY_SHA256};
use crate::xml;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use std::sync::Arc;
use std::time::Duration;

/// Largest request body buffered for a small operation (a 10000-part Complete fits).
const MAX_SMALL_REQUEST: usize = 2 << 20;
/// Largest backend answer buffered for translation.
const MAX_SMALL_RESPONSE: usize = 16 << 20;

pub struct Gateway {
    pub config: Arc<ArcSwap<Config>>,
    connector: Connector,
}

impl Gateway {
    pub fn new(config: Arc<ArcSwap<Config>>) -> Self {
        Gateway {
            config,
            connector: Connector::new(None),
        }
    }
}

#[derive(Default)]
pub struct Ctx {
    cfg: Option<Arc<Config>>,
    request_id: String,
    client: Option<Dialect>,
    fwd: Option<Box<Forward>>,
    head: bool,
    /// Streamed answers that are errors are collected here and re-rendered at the end.
    error_body: Option<BytesMut>,
    error_status: u16,
    /// Proof the request body still owes (hash, aws-chunked framing); `None` when it owes none.
    body_check: Option<BodyCheck>,
    /// Why the body was refused, for the error answer.
    body_error: Option<ApiError>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn new_request_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

fn inbound(req: &RequestHeader) -> Inbound {
    Inbound::new(
        req.method.as_str().to_string(),
        req.uri.path().to_string(),
        req.uri.query().unwrap_or("").to_string(),
        header_pairs(&req.headers),
    )
}

/// Header names and values as text (names are already lower-case; odd bytes become U+FFFD).
fn header_pairs(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn peer_for(b: &Backend) -> Result<HttpPeer> {
    let addr = b.addr.ok_or_else(|| {
        Error::explain(ErrorType::ConnectError, "backend address is not resolved")
    })?;
    let mut peer = HttpPeer::new(addr, b.tls, b.sni.clone());
    peer.options.connection_timeout = Some(Duration::from_secs(10));
    peer.options.read_timeout = Some(Duration::from_secs(300));
    peer.options.write_timeout = Some(Duration::from_secs(300));
    peer.options.ca = b.ca.clone();
    Ok(peer)
}

fn request_header(out: &crate::outbound::Outbound) -> Result<RequestHeader> {
    let mut h = RequestHeader::build(
        out.method.as_str(),
        out.uri().as_bytes(),
        Some(out.headers.len()),
    )?;
    for (k, v) in &out.headers {
        h.append_header(k.clone(), v.as_str())?;
    }
    Ok(h)
}

fn response_header(status: u16, headers: &[(String, String)]) -> Result<ResponseHeader> {
    let mut h = ResponseHeader::build(status, Some(headers.len() + 2))?;
    for (k, v) in headers {
        // A value that is not a valid header value is dropped rather than failing the answer.
        let _ = h.append_header(response::wire_case(k), v.as_str());
    }
    Ok(h)
}

async fn respond(
    session: &mut Session,
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    head: bool,
) -> Result<()> {
    let mut headers = headers;
    let body = body.unwrap_or_default();
    if !headers.iter().any(|(k, _)| k == "content-length") {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    let h = response_header(status, &headers)?;
    let end = head || body.is_empty();
    session.write_response_header(Box::new(h), end).await?;
    if !end {
        session
            .write_response_body(Some(Bytes::from(body)), true)
            .await?;
    }
    Ok(())
}

async fn respond_error(
    session: &mut Session,
    client: Dialect,
    err: &ApiError,
    resource: &str,
    request_id: &str,
    head: bool,
) -> Result<()> {
    metrics::error(client, &err.code);
    metrics::request(client, err.status);
    if let Some(d) = &err.detail {
        let canonical = sign::redact(d);
        tracing::debug!(request_id, code = %err.code, %canonical, "request refused");
    } else {
        tracing::info!(request_id, code = %err.code, status = err.status, "request refused");
    }
    let body = xml::render_error(client, err, resource, request_id).into_bytes();
    let mut headers = vec![("content-type".to_string(), "application/xml".to_string())];
    response::finish(client, &mut headers, request_id);
    respond(session, err.status, headers, Some(body), head).await
}

impl Gateway {
    /// A small operation: read the request, exchange it with the backend, translate the whole answer.
    async fn exchange(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        cfg: &Config,
        mut f: Forward,
    ) -> Result<()> {
        let rid = ctx.request_id.clone();
        let head = ctx.head;
        let mut body = BytesMut::new();
        while let Some(chunk) = session.read_request_body().await? {
            if body.len() + chunk.len() > MAX_SMALL_REQUEST {
                let e = ApiError::new(400, "MaxMessageLengthExceeded", "Your request was too big.");
                return respond_error(session, f.client, &e, &f.resource, &rid, head).await;
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        let body = match BodyCheck::new(&f.payload).and_then(|mut c| c.push(Some(body), true)) {
            Ok(b) => b.unwrap_or_default(),
            Err(e) => return respond_error(session, f.client, &e, &f.resource, &rid, head).await,
        };
        let body = request::rewrite_small_body(&mut f, body);
        let hash = sign::sha256_hex(&body);
        let backend = &cfg.backends[f.backend];
        if !body.is_empty() || matches!(f.out.method.as_str(), "PUT" | "POST") {
            f.out.set_header("content-length", body.len().to_string());
        }
        if f.op == request::Op::Complete {
            if let Err(e) = self.check_part_sizes(backend, &f, &body).await {
                return respond_error(session, f.client, &e, &f.resource, &rid, head).await;
            }
        }
        if let Some(cp) = f.precheck.take() {
            if let Err(e) = self.check_conditions(backend, &cp).await {
                return respond_error(session, f.client, &e, &f.resource, &rid, head).await;
            }
        }
        f.out.sign(backend, Some(&hash), now());
        let answer = match self.round_trip(backend, &f.out, body).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(request_id = %rid, backend = %backend.name, error = %e, "backend exchange failed");
                let e = ApiError::unavailable("The backend could not be reached");
                return respond_error(session, f.client, &e, &f.resource, &rid, head).await;
            }
        };
        let (status, up_headers, up_body) = answer;
        let mut headers = response::headers(backend.dialect, f.client, &up_headers, &rid);
        if head {
            return respond(session, status, headers, None, true).await;
        }
        let out = response::body(f.op, status, f.client, &up_body, &rid, &f.resource);
        if out.failed_200 {
            metrics::failed_200(f.client);
            tracing::warn!(request_id = %rid, status = out.status, "backend answered 200 with an error");
        }
        response::for_rendered_body(&mut headers, out.status);
        metrics::request(f.client, out.status);
        respond(session, out.status, headers, Some(out.body), false).await
    }

    /// A download: the backend's answer streams to the client chunk by chunk (each write awaited, so
    /// a slow client slows the backend read); an error answer is read whole and re-rendered, so even an
    /// empty error body reaches the client as a document in its dialect.
    async fn relay(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        cfg: &Config,
        mut f: Forward,
    ) -> Result<()> {
        let rid = ctx.request_id.clone();
        let backend = &cfg.backends[f.backend];
        f.out.sign(backend, Some(EMPTY_SHA256), now());
        let peer = peer_for(backend)?;
        let started = async {
            let (mut up, _) = self.connector.get_http_session(&peer).await?;
            up.write_request_header(Box::new(request_header(&f.out)?))
                .await?;
            up.finish_request_body().await?;
            up.read_response_header().await?;
            Ok::<_, Box<Error>>(up)
        }
        .await;
        let mut up = match started {
            Ok(up) => up,
            Err(e) => {
                tracing::warn!(request_id = %rid, backend = %backend.name, error = %e, "backend exchange failed");
                let e = ApiError::new(502, "BadGateway", "The backend connection failed");
                return respond_error(session, f.client, &e, &f.resource, &rid, false).await;
            }
        };
        let resp = up
            .response_header()
            .ok_or_else(|| Error::explain(ErrorType::InvalidHTTPHeader, "no response header"))?;
        let status = resp.status.as_u16();
        let input: Vec<(String, String)> = header_pairs(&resp.headers);
        let mut headers = response::headers(backend.dialect, f.client, &input, &rid);
        metrics::request(f.client, status);
        if status >= 300 && status != 304 {
            let mut buf = Vec::new();
            while let Some(chunk) = up.read_response_body().await? {
                if buf.len() + chunk.len() <= MAX_SMALL_RESPONSE {
                    buf.extend_from_slice(&chunk);
                }
            }
            self.connector.release_http_session(up, &peer, None).await;
            let out = response::body(f.op, status, f.client, &buf, &rid, &f.resource);
            response::for_rendered_body(&mut headers, out.status);
            return respond(session, out.status, headers, Some(out.body), false).await;
        }
        let no_body = status == 304 || up.response_done();
        session
            .write_response_header(Box::new(response_header(status, &headers)?), no_body)
            .await?;
        if !no_body {
            // Read the next piece while the previous one is written: one piece in flight, no more.
            let mut pending = up.read_response_body().await?;
            while let Some(chunk) = pending {
                let (next, written) = tokio::join!(
                    up.read_response_body(),
                    session.write_response_body(Some(chunk), false)
                );
                written?;
                pending = next?;
            }
            session.write_response_body(None, true).await?;
        }
        self.connector.release_http_session(up, &peer, None).await;
        Ok(())
    }

    /// Parts below the backend dialect's minimum are refused at Complete, as the backend would.
    async fn check_part_sizes(
        &self,
        backend: &Backend,
        f: &Forward,
        body: &[u8],
    ) -> std::result::Result<(), ApiError> {
        let mut sizes = Vec::new();
        let mut marker = 0u32;
        loop {
            let (status, _, answer) = self
                .side_request(backend, request::list_parts_request(f, marker))
                .await?;
            if status >= 300 {
                // Let the Complete itself report NoSuchUpload and the like.
                return Ok(());
            }
            let page = xml::list_parts_page(&answer);
            sizes.extend(page.parts);
            match page.next_marker {
                Some(n) if n > marker => marker = n,
                _ => break,
            }
        }
        request::too_small(body, &sizes, request::min_part_size(backend.dialect))
    }

    /// Copy conditions the backend cannot express: HEAD the source and decide here.
    async fn check_conditions(
        &self,
        backend: &Backend,
        cp: &crate::model::CopyPart,
    ) -> std::result::Result<(), ApiError> {
        let (status, headers, _) = self
            .side_request(backend, request::source_head(cp, backend))
            .await?;
        if status >= 300 {
            let code = if status == 404 {
                "NoSuchKey"
            } else {
                response::code_for_status(status)
            };
            return Err(ApiError::new(
                status,
                code,
                "The copy source could not be read",
            ));
        }
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        let etag = get("etag").unwrap_or("");
        let modified = get("last-modified")
            .and_then(crate::auth::parse_date)
            .unwrap_or(0);
        cp.conditions.evaluate(etag, modified)
    }

    /// A bodiless request of the proxy's own (ListParts, HEAD of a copy source), signed and sent.
    async fn side_request(
        &self,
        backend: &Backend,
        mut out: crate::outbound::Outbound,
    ) -> std::result::Result<(u16, Vec<(String, String)>, Vec<u8>), ApiError> {
        out.sign(backend, Some(EMPTY_SHA256), now());
        self.round_trip(backend, &out, Bytes::new())
            .await
            .map_err(|_| ApiError::unavailable("The backend could not be reached"))
    }

    async fn round_trip(
        &self,
        backend: &Backend,
        out: &crate::outbound::Outbound,
        body: Bytes,
    ) -> Result<(u16, Vec<(String, String)>, Vec<u8>)> {
        let peer = peer_for(backend)?;
        let (mut up, _) = self.connector.get_http_session(&peer).await?;
        up.write_request_header(Box::new(request_header(out)?))
            .await?;
        if !body.is_empty() {
            up.write_request_body(body, true).await?;
        }
        up.finish_request_body().await?;
        up.read_response_header().await?;
        let resp = up
            .response_header()
            .ok_or_else(|| Error::explain(ErrorType::InvalidHTTPHeader, "no response header"))?;
        let status = resp.status.as_u16();
        let headers: Vec<(String, String)> = header_pairs(&resp.headers);
        let mut buf = Vec::new();
        if out.method != "HEAD" {
            while let Some(chunk) = up.read_response_body().await? {
                if buf.len() + chunk.len() > MAX_SMALL_RESPONSE {
                    return Error::e_explain(
                        ErrorType::InvalidHTTPHeader,
                        "backend answer is too large to translate",
                    );
                }
                buf.extend_from_slice(&chunk);
            }
        }
        self.connector.release_http_session(up, &peer, None).await;
        Ok((status, headers, buf))
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let cfg = self.config.load_full();
        ctx.request_id = new_request_id();
        let inb = inbound(session.req_header());
        ctx.head = inb.method == "HEAD";
        match request::plan(&cfg, &inb, now()) {
            Err(r) => {
                ctx.client = Some(r.client);
                respond_error(
                    session,
                    r.client,
                    &r.error,
                    &r.resource,
                    &ctx.request_id,
                    ctx.head,
                )
                .await?;
                Ok(true)
            }
            Ok(Plan::Local(status, mut headers)) => {
                response::finish(Dialect::Obs, &mut headers, &ctx.request_id);
                metrics::request(Dialect::Obs, status);
                respond(session, status, headers, None, true).await?;
                Ok(true)
            }
            Ok(Plan::Forward(f)) => {
                ctx.client = Some(f.client);
                // The request is authenticated and routed: let a waiting client send its body.
                if inb
                    .header("expect")
                    .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
                {
                    session
                        .as_downstream_mut()
                        .write_continue_response()
                        .await?;
                }
                if f.op.streamed() {
                    let check = BodyCheck::new(&f.payload);
                    match check {
                        Ok(c) if c.passes_through() => {}
                        Ok(c) => ctx.body_check = Some(c),
                        Err(e) => {
                            respond_error(
                                session,
                                f.client,
                                &e,
                                &f.resource,
                                &ctx.request_id,
                                ctx.head,
                            )
                            .await?;
                            return Ok(true);
                        }
                    }
                    ctx.fwd = Some(f);
                    ctx.cfg = Some(cfg);
                    return Ok(false);
                }
                if f.op == request::Op::GetObject {
                    self.relay(session, ctx, &cfg, *f).await?;
                } else {
                    self.exchange(session, ctx, &cfg, *f).await?;
                }
                Ok(true)
            }
        }
    }

    /// What pingora's own log lines name a request by: method and path, never the query
    /// (a presigned URL's signature lives there).
    fn request_summary(&self, session: &Session, _ctx: &Ctx) -> String {
        let req = session.req_header();
        format!("{} {}", req.method, req.uri.path())
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let (Some(cfg), Some(f)) = (&ctx.cfg, &ctx.fwd) else {
            return Error::e_explain(ErrorType::InternalError, "no plan for this request");
        };
        Ok(Box::new(peer_for(&cfg.backends[f.backend])?))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let (Some(cfg), Some(f)) = (&ctx.cfg, &mut ctx.fwd) else {
            return Error::e_explain(ErrorType::InternalError, "no plan for this request");
        };
        let backend = &cfg.backends[f.backend];
        let has_body = f.out.header("content-length").is_some_and(|l| l != "0")
            || upstream.headers.contains_key("transfer-encoding");
        let payload = match &f.payload {
            Payload::Sha256(h) => Some(h.clone()),
            _ if !has_body => Some(EMPTY_SHA256.to_string()),
            _ => None,
        };
        f.out.sign(backend, payload.as_deref(), now());
        *upstream = request_header(&f.out)?;
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if let Some(check) = &mut ctx.body_check {
            match check.push(body.take(), end) {
                Ok(out) => *body = out,
                Err(e) => {
                    tracing::info!(request_id = %ctx.request_id, code = %e.code, "request body refused");
                    ctx.body_error = Some(e);
                    // Failing here drops the upstream connection before the body is complete.
                    return Error::e_explain(ErrorType::HTTPStatus(400), "request body refused");
                }
            }
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let (Some(cfg), Some(f)) = (&ctx.cfg, &ctx.fwd) else {
            return Ok(());
        };
        let backend = &cfg.backends[f.backend];
        let status = resp.status.as_u16();
        let input: Vec<(String, String)> = header_pairs(&resp.headers);
        let mut headers = response::headers(backend.dialect, f.client, &input, &ctx.request_id);
        if status >= 300 && !ctx.head && status != 304 {
            response::for_rendered_body(&mut headers, status);
            ctx.error_body = Some(BytesMut::new());
            ctx.error_status = status;
        }
        metrics::request(f.client, status);
        *resp = response_header(status, &headers)?;
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end: bool,
        ctx: &mut Ctx,
    ) -> Result<Option<Duration>> {
        let Some(buf) = &mut ctx.error_body else {
            return Ok(None);
        };
        if let Some(b) = body.take() {
            if buf.len() + b.len() <= MAX_SMALL_RESPONSE {
                buf.extend_from_slice(&b);
            }
        }
        if end {
            if let Some(f) = &ctx.fwd {
                let out = response::body(
                    f.op,
                    ctx.error_status,
                    f.client,
                    buf,
                    &ctx.request_id,
                    &f.resource,
                );
                *body = Some(Bytes::from(out.body));
            }
        }
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let client = ctx.client.unwrap_or(Dialect::S3);
        let resource = ctx
            .fwd
            .as_ref()
            .map(|f| f.resource.clone())
            .unwrap_or_default();
        let err = match ctx.body_error.take() {
            Some(body_error) => body_error,
            None if e.esource() == &ErrorSource::Upstream => {
                ApiError::new(502, "BadGateway", "The backend connection failed")
            }
            _ if e.esource() == &ErrorSource::Downstream => {
                ApiError::new(400, "IncompleteBody", "The request body could not be read")
            }
            _ => ApiError::internal("The gateway could not complete the request"),
        };
        tracing::warn!(request_id = %ctx.request_id, error = %e, "proxying failed");
        let code = err.status;
        // The answer may already have started; then there is nothing more to say.
        if respond_error(session, client, &err, &resource, &ctx.request_id, ctx.head)
            .await
            .is_err()
        {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }
}
