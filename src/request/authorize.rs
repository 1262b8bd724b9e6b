//! Per-client grants: the request's action, checked against the key's buckets and access before
//! any backend is asked. A copy needs read on its source and write on its destination.

use super::translate::classify;
use super::Inbound;
use crate::addressing::Target;
use crate::auth::WireRequest;
use crate::config::{Action, Client, Config, Grant};
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::model::Op;

/// The grant-level action of a classified request.
pub fn action(op: Op, inb: &Inbound) -> Action {
    let q = |name| inb.query_has(name);
    let name = match (op, inb.method) {
        (Op::GetObject, _) if q("acl") => "GetObjectAcl",
        (Op::GetObject, _) if q("tagging") => "GetObjectTagging",
        (Op::Object, "HEAD") => "HeadObject",
        (Op::Object, "DELETE") if q("tagging") => "DeleteObjectTagging",
        (Op::Object, "DELETE") => "DeleteObject",
        (Op::Object, "PUT") if q("acl") => "PutObjectAcl",
        (Op::Object, "PUT") if q("tagging") => "PutObjectTagging",
        (Op::Object, "POST") if q("restore") => "RestoreObject",
        (Op::Object, "GET") => "GetObject",
        (Op::Object, _) => "PutObject",
        (Op::Bucket, "HEAD") => "HeadBucket",
        (Op::Bucket, "GET") if q("location") => "GetBucketLocation",
        (Op::Bucket, "GET") if q("acl") => "GetBucketAcl",
        (Op::Bucket, "GET") => "GetBucketConfiguration",
        (Op::Bucket, "PUT") if q("acl") => "PutBucketAcl",
        (Op::Bucket, "POST") if q("delete") => "DeleteObjects",
        (Op::Bucket, "DELETE") if inb.params_all(super::translate::is_auth_param) => "DeleteBucket",
        (Op::Bucket, "DELETE") => "DeleteBucketConfiguration",
        (Op::Bucket, "PUT") if inb.params_all(super::translate::is_auth_param) => "CreateBucket",
        (Op::Bucket, _) => "PutBucketConfiguration",
        (op, _) => op.name(),
    };
    // Every name above is in the grant's table (a unit test walks them).
    Action::named(name).unwrap_or(Action {
        access: crate::config::Access::Write,
        name,
    })
}

/// An unsigned request whose route lets anyone do what it asks (public assets and buckets):
/// served with the gateway's own key.
pub fn anonymous(
    cfg: &Config,
    wire: &WireRequest,
    inb: &Inbound,
    target: &Target,
    guessed: Dialect,
) -> bool {
    crate::auth::unsigned(wire)
        && target
            .bucket
            .as_deref()
            .and_then(|b| cfg.route(b))
            .is_some_and(|r| {
                let op = classify(inb, true, target.key.is_some(), guessed);
                r.anonymous.contains(&action(op, inb).access)
            })
}

/// A verified key's own checks: the session token it must carry, then its grant for the
/// request's action on `bucket`. Gives the grant, for the copy source's check.
pub fn client<'c>(
    entry: Option<&'c Client>,
    inb: &Inbound,
    op: Op,
    bucket: Option<&str>,
) -> Result<Option<&'c Grant>, (ApiError, Option<Action>)> {
    let Some(c) = entry else { return Ok(None) };
    if let Some(t) = &c.session_token {
        session_token(inb, t).map_err(|e| (e, None))?;
    }
    let a = action(op, inb);
    check(&c.grant, bucket, a).map_err(|e| (e, Some(a)))?;
    Ok(Some(&c.grant))
}

/// `Ok` when the grant allows `a` on `bucket` (`None`: the service itself).
pub fn check(grant: &Grant, bucket: Option<&str>, a: Action) -> Result<(), ApiError> {
    if grant.allows(bucket, a) {
        return Ok(());
    }
    let on = bucket.map_or(String::new(), |b| format!(" on bucket {b}"));
    Err(ApiError::access_denied(format!(
        "This access key is not granted {} ({}){on}",
        a.name,
        a.access.name()
    )))
}

/// A key that requires a session token: the request carries it, as the `…-security-token`
/// header of any dialect or a presigned URL's `…security-token` parameter (S3
/// `X-Amz-Security-Token`, OBS/COS/OSS V4 `x-…-security-token`, OSS V1 `security-token`).
pub fn session_token(inb: &Inbound, want: &crate::sign::Secret) -> Result<(), ApiError> {
    // Compared as bytes: a raw query name may hold UTF-8, where a str slice could split a char.
    let is_token = |k: &str| {
        let b = k.as_bytes();
        b.len() >= 14 && b[b.len() - 14..].eq_ignore_ascii_case(b"security-token")
    };
    let header = inb
        .headers
        .iter()
        .find(|(k, _)| k.starts_with("x-") && is_token(k))
        .map(|(_, v)| std::borrow::Cow::Borrowed(*v));
    let got = header.or_else(|| {
        inb.params
            .iter()
            .find(|(k, _)| is_token(k))
            .map(|(_, v)| crate::sign::percent_decode_cow(v.unwrap_or("")))
    });
    match got {
        Some(t) if crate::sign::same_signature(t.trim(), want.expose()) => Ok(()),
        Some(_) => Err(ApiError::access_denied(
            "The security token included in the request is invalid",
        )),
        None => Err(ApiError::access_denied(
            "This access key requires a session token with each request",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_shape_has_a_named_action() {
        let cases = [
            ("GET", "/b/k", "", "GetObject"),
            ("GET", "/b/k", "acl", "GetObjectAcl"),
            ("HEAD", "/b/k", "", "HeadObject"),
            ("DELETE", "/b/k", "", "DeleteObject"),
            ("PUT", "/b/k", "tagging", "PutObjectTagging"),
            ("POST", "/b/k", "restore", "RestoreObject"),
            ("HEAD", "/b", "", "HeadBucket"),
            ("PUT", "/b", "", "CreateBucket"),
            ("DELETE", "/b", "", "DeleteBucket"),
            ("DELETE", "/b", "lifecycle", "DeleteBucketConfiguration"),
            ("POST", "/b", "delete", "DeleteObjects"),
            ("GET", "/b", "location", "GetBucketLocation"),
            ("GET", "/b", "list-type=2", "ListObjects"),
            ("GET", "/", "", "ListBuckets"),
            ("POST", "/b/k", "uploads", "CreateMultipartUpload"),
        ];
        for (m, path, query, want) in cases {
            let inb = Inbound::new(m, path, query, vec![("host", "h")]);
            let (b, k) = (path.len() > 1, path.matches('/').count() > 1);
            let op = super::super::translate::classify(&inb, b, k, crate::dialect::Dialect::S3);
            let a = action(op, &inb);
            assert_eq!(a.name, want, "{m} {path}?{query}");
            assert!(Action::named(a.name).is_some(), "{want} in the table");
        }
    }
}
