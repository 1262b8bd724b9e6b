//! ListBuckets answered by the gateway: each backend behind a route is listed once, with its own
//! keys and deadlines, and its buckets are shown under the names clients use for them (a route's
//! `backend_bucket` read backwards), only those the key's grant covers, in the client's dialect.
//!
//! Partial failure: all or nothing. A backend that cannot list its buckets fails the request
//! (`503 ServiceUnavailable` naming no backend): a list without its buckets would tell the client
//! they are gone.

use super::{bodiless, failed};
use crate::config::{Backend, Config, Grant, Route};
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::model::Op;
use crate::outbound::Outbound;
use crate::response::{self, respond, respond_error, BackendAnswer, Context};
use crate::upstream::Upstream;
use crate::xml;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;
use std::collections::BTreeMap;

pub async fn list(
    up: &Upstream,
    session: &mut Session,
    cfg: &Config,
    client: Dialect,
    access_key: Option<&str>,
    rid: &str,
    head: bool,
) -> Result<()> {
    let grant = access_key
        .and_then(|ak| cfg.clients.get(ak))
        .map(|c| &c.grant);
    match gather(up, cfg, grant, rid).await {
        Ok(buckets) => {
            let doc = render(client, access_key.unwrap_or("anonymous"), &buckets);
            let x = Context {
                op: Op::ListBuckets,
                backend: Dialect::default(),
                client,
                request_id: rid,
                resource: "/",
            };
            let a = response::translate(
                &x,
                BackendAnswer {
                    status: 200,
                    headers: vec![("content-type".into(), "application/xml".into())],
                    body: (!head).then_some(doc.as_bytes()),
                },
            );
            respond(session, a.status, a.headers, a.body, head).await
        }
        Err(e) => respond_error(session, client, &e, "/", rid, head).await,
    }
}

/// Client-visible name -> (creation date, region), over every backend behind a route.
async fn gather(
    up: &Upstream,
    cfg: &Config,
    grant: Option<&Grant>,
    rid: &str,
) -> std::result::Result<BTreeMap<String, (String, String)>, ApiError> {
    let mut backends: Vec<usize> = cfg.routes.iter().map(|r| r.backend).collect();
    backends.sort_unstable();
    backends.dedup();
    let mut out = BTreeMap::new();
    for i in backends {
        let b = &cfg.backends[i];
        if b.starting() || !b.keys_ready(crate::dates::unix_now()) {
            return Err(ApiError::unavailable(
                "A backend's buckets cannot be listed now",
            ));
        }
        for (name, date) in backend_buckets(up, b, rid).await? {
            for shown in client_names(cfg, i, &name) {
                if grant.is_none_or(|g| g.bucket(&shown)) {
                    out.insert(shown, (date.clone(), b.region.clone()));
                }
            }
        }
    }
    Ok(out)
}

async fn backend_buckets(
    up: &Upstream,
    b: &Backend,
    rid: &str,
) -> std::result::Result<Vec<(String, String)>, ApiError> {
    let mut out = Outbound {
        method: "GET".into(),
        answer_cap: Some(crate::model::LISTING_CAP),
        ..Default::default()
    };
    out.address(b, None, None);
    let a = bodiless(up, b, &mut out)
        .await
        .map_err(|e| failed(b, rid, &e))?;
    let listed = (a.status == 200)
        .then(|| xml::listed_buckets(&a.body))
        .flatten();
    listed.ok_or_else(|| {
        tracing::warn!(request_id = %rid, backend = %b.name, status = a.status, "backend did not list its buckets");
        ApiError::unavailable("A backend's buckets cannot be listed now")
    })
}

/// The names clients reach backend `i`'s bucket `name` by: each route's template read backwards,
/// kept only where that name routes there (the first matching route wins, as for requests).
fn client_names(cfg: &Config, i: usize, name: &str) -> Vec<String> {
    let mut names: Vec<String> = cfg
        .routes
        .iter()
        .filter(|r| r.backend == i)
        .filter_map(|r| inverse(r, name))
        .filter(|c| {
            cfg.route(c)
                .is_some_and(|to| to.backend_index == i && to.bucket == name)
        })
        .collect();
    names.dedup();
    names
}

fn inverse(r: &Route, name: &str) -> Option<String> {
    let c = match r.backend_bucket.split_once("{bucket}") {
        Some((pre, post)) => name.strip_prefix(pre)?.strip_suffix(post)?.to_string(),
        // A fixed backend bucket is shown under the route's name when that names one bucket.
        None if !r.bucket.contains('*') && r.backend_bucket == name => r.bucket.clone(),
        None => return None,
    };
    (!c.is_empty() && crate::config::glob(&r.bucket, &c)).then_some(c)
}

fn render(client: Dialect, owner: &str, buckets: &BTreeMap<String, (String, String)>) -> String {
    let mut s = String::with_capacity(256 + buckets.len() * 160);
    s.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    // The neutral form (S3's document), translated for the client like any backend's answer.
    s.push_str("<ListAllMyBucketsResult xmlns=\"");
    s.push_str(Dialect::default().vocab().xmlns);
    s.push_str("\">");
    let owner = xml::escape(owner);
    s.push_str(&format!(
        "<Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner><Buckets>"
    ));
    for (name, (date, region)) in buckets {
        s.push_str(&format!(
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate><Location>{}</Location>",
            xml::escape(name),
            xml::escape(date),
            xml::escape(region)
        ));
        for (element, value) in client.vocab().bucket_entry {
            s.push_str(&format!("<{element}>{value}</{element}>"));
        }
        s.push_str("</Bucket>");
    }
    s.push_str("</Buckets></ListAllMyBucketsResult>");
    s
}
