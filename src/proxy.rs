//! The pingora phases. Every request is answered in `request_filter`: planned by `request`,
//! carried by `forward` through the one backend client in `upstream`.

use crate::config::Config;
use crate::dialect::Dialect;
use crate::error::{ApiError, Code};
use crate::forward::{self, respond, respond_error};
use crate::metrics;
use crate::request::{self, Inbound, Plan};
use crate::response;
use crate::upstream::{header_pairs, Upstream};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use std::sync::Arc;

pub struct Gateway {
    pub config: Arc<ArcSwap<Config>>,
    upstream: Upstream,
}

impl Gateway {
    pub fn new(config: Arc<ArcSwap<Config>>) -> Self {
        Gateway {
            config,
            upstream: Upstream::default(),
        }
    }
}

#[derive(Default)]
pub struct Ctx {
    request_id: String,
    client: Option<Dialect>,
    resource: String,
    head: bool,
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

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let cfg = self.config.load_full();
        session.set_read_timeout(Some(cfg.client_timeout));
        session.set_write_timeout(Some(cfg.client_timeout));
        session.set_keepalive(Some(cfg.client_keepalive.as_secs().max(1)));
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
            }
            Ok(Plan::Local(client, status, mut headers)) => {
                response::finish(client, &mut headers, &ctx.request_id);
                metrics::request(client, status);
                respond(session, status, headers, None, true).await?;
            }
            Ok(Plan::Forward(f)) => {
                ctx.client = Some(f.client);
                ctx.resource.clone_from(&f.resource);
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
                forward::forward(&self.upstream, session, &cfg, *f, &ctx.request_id, ctx.head)
                    .await?;
            }
        }
        Ok(true)
    }

    /// What pingora's own log lines name a request by: method and path, never the query
    /// (a presigned URL's signature lives there).
    fn request_summary(&self, session: &Session, _ctx: &Ctx) -> String {
        let req = session.req_header();
        format!("{} {}", req.method, req.uri.path())
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        // Every request is answered in request_filter; pingora's own upstream path is unused.
        Error::e_explain(ErrorType::InternalError, "no upstream phase")
    }

    /// A request that failed before its answer started gets an error in its dialect; one whose
    /// answer started is cut with nothing more written, so a short body is never a success.
    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let cut = FailToProxy {
            error_code: 0,
            can_reuse_downstream: false,
        };
        if session.response_written().is_some() {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "answer cut");
            return cut;
        }
        let err = match e.esource() {
            ErrorSource::Downstream => {
                ApiError::new(Code::IncompleteBody, "The request body could not be read")
            }
            ErrorSource::Upstream => ApiError::unavailable("The backend could not be reached"),
            _ => ApiError::internal("The gateway could not complete the request"),
        };
        tracing::info!(request_id = %ctx.request_id, error = %e, "request failed");
        let client = ctx.client.unwrap_or_default();
        match respond_error(
            session,
            client,
            &err,
            &ctx.resource,
            &ctx.request_id,
            ctx.head,
        )
        .await
        {
            Ok(()) => FailToProxy {
                error_code: err.status,
                can_reuse_downstream: false,
            },
            Err(_) => cut,
        }
    }
}
