//! Browsers across origins: a route's `cors` answers preflights here (no signature, no backend),
//! and gives every answer to an allowed origin its `Access-Control-*` headers. A refusal is S3's
//! `403 AccessForbidden` ("CORSResponse: ..."), which OBS documents with the same code.

use super::Inbound;
use crate::config::{glob, Config, Cors};
use crate::dialect::wire::Headers;
use crate::dialect::Dialect;
use crate::error::{ApiError, Code};

const REFUSED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

fn origin_allowed(c: &Cors, origin: &str) -> bool {
    c.allowed_origins.iter().any(|o| glob(o, origin))
}

fn header_allowed(c: &Cors, name: &str) -> bool {
    c.allowed_headers
        .iter()
        .any(|h| h == "*" || glob(&h.to_ascii_lowercase(), name))
}

/// The headers every answer to `origin` carries.
fn common(c: &Cors, origin: &str, h: &mut Headers) {
    let any = c.allowed_origins.iter().any(|o| o == "*") && !c.allow_credentials;
    h.push((
        "access-control-allow-origin".into(),
        if any { "*".into() } else { origin.to_string() },
    ));
    if c.allow_credentials {
        h.push(("access-control-allow-credentials".into(), "true".into()));
    }
    // A browser script reads the ETag and the request id of whichever cloud the client speaks.
    let mut expose = vec!["ETag".to_string()];
    expose.extend(
        Dialect::ALL
            .iter()
            .map(|d| d.vocab().request_id.to_string()),
    );
    expose.extend(c.expose_headers.iter().cloned());
    h.push(("access-control-expose-headers".into(), expose.join(", ")));
    h.push(("vary".into(), "Origin".into()));
}

/// The CORS rule of the route `bucket` takes (none for the service itself).
fn rule<'c>(cfg: &'c Config, bucket: Option<&str>) -> Option<&'c Cors> {
    cfg.route(bucket?)?.cors
}

/// Answer an `OPTIONS` preflight: the headers of a `200`, or the refusal.
pub fn preflight(cfg: &Config, inb: &Inbound, bucket: Option<&str>) -> Result<Headers, ApiError> {
    let (Some(origin), Some(method)) = (
        inb.header("origin"),
        inb.header("access-control-request-method"),
    ) else {
        return Err(ApiError::invalid_request(
            "Insufficient information. Origin request header needed.",
        ));
    };
    let refused = || ApiError::new(Code::AccessForbidden, REFUSED);
    let c = rule(cfg, bucket).ok_or_else(refused)?;
    let requested: Vec<String> = inb
        .header("access-control-request-headers")
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if !origin_allowed(c, origin)
        || !c.allowed_methods.iter().any(|m| m == method)
        || !requested.iter().all(|h| header_allowed(c, h))
    {
        return Err(refused());
    }
    let mut h = Headers::new();
    common(c, origin, &mut h);
    h.push((
        "access-control-allow-methods".into(),
        c.allowed_methods.join(", "),
    ));
    if !requested.is_empty() {
        h.push(("access-control-allow-headers".into(), requested.join(", ")));
    }
    if let Some(age) = c.max_age_secs {
        h.push(("access-control-max-age".into(), age.to_string()));
    }
    h.retain(|(k, _)| k != "vary");
    h.push((
        "vary".into(),
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into(),
    ));
    h.push(("content-length".into(), "0".into()));
    Ok(h)
}

/// The headers an answer to a cross-origin request carries, when its route allows the origin
/// and method (none without an `Origin`: most requests pay one header lookup).
pub fn answer_headers(cfg: &Config, inb: &Inbound) -> Option<Headers> {
    let origin = inb.header("origin")?;
    let host = inb.header("host").unwrap_or("");
    let host_bucket = crate::addressing::bucket_from_host(host, &cfg.suffixes);
    let target = crate::addressing::target(host_bucket, inb.raw_path).ok()?;
    let c = rule(cfg, target.bucket.as_deref())?;
    if !origin_allowed(c, origin) || !c.allowed_methods.iter().any(|m| m == inb.method) {
        return None;
    }
    let mut h = Headers::new();
    common(c, origin, &mut h);
    Some(h)
}
