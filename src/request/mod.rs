//! From a received request to the backend's request: authenticate, locate, route, translate.
//! Pure: no I/O, the clock is passed in.

use crate::addressing;
use crate::auth::{self, Payload, WireRequest};
use crate::config::Config;
use crate::dialect::Dialect;
use crate::dialect::{copy, s3};
use crate::error::{ApiError, Code};
use crate::listing::ListV2;
pub use crate::model::Op;
use crate::outbound::Outbound;
use crate::sign;

mod authorize;
pub mod cors;
pub mod edge;
pub mod form;
mod inbound;
mod inspect;
pub use inbound::Inbound;
mod outcome;
mod side;
pub mod staging;
pub use staging::Staging;
mod translate;

pub use inspect::guess_dialect;
use inspect::{body_checksum, check_sse, checksum_header, encoded_values, has_sse_c};
pub use outcome::{CrossCopy, Forward, Plan, PostForm, Rejection};
pub use side::{
    completed_answer, completed_head, list_parts_request, multipart_etag, require_md5,
    rewrite_small_body, source_get, source_head, source_metadata, too_small, verify_small_body,
    whole_object_md5,
};
use translate::{classify, is_auth_param, translate_request_headers, EMPTY_MEANS_ABSENT};

/// Largest part (and single PUT) every dialect accepts.
const MAX_PART: u64 = 5 << 30;

pub fn plan(cfg: &Config, inb: &Inbound, now: i64) -> Result<Plan, Rejection> {
    let guessed = guess_dialect(inb);
    let reject = |client: Dialect, error: ApiError, resource: &str| Rejection {
        client,
        error,
        resource: resource.to_string(),
        verification: false,
        op: None,
        denied: None,
    };

    let host = inb.header("host").unwrap_or("");
    if !addressing::valid_host(host) {
        return Err(reject(
            guessed,
            ApiError::invalid_argument("The Host header is missing or malformed"),
            inb.raw_path,
        ));
    }
    edge::check(inb).map_err(|e| reject(guessed, e, inb.raw_path))?;
    let host_bucket = addressing::bucket_from_host(host, &cfg.suffixes);
    let target = addressing::target(host_bucket.clone(), inb.raw_path)
        .map_err(|e| reject(guessed, e, inb.raw_path))?;
    if let Some(b) = &target.bucket {
        edge::bucket_name(b, guessed).map_err(|e| reject(guessed, e, inb.raw_path))?;
    }
    let mut resource = String::with_capacity(2 + inb.raw_path.len());
    resource.push('/');
    if let Some(b) = &target.bucket {
        resource.push_str(b);
        if let Some(k) = &target.key {
            resource.push('/');
            resource.push_str(k);
        }
    }

    // A browser's preflight: answered from the route's CORS rule, no signature, no backend.
    if inb.method == "OPTIONS" {
        return cors::preflight(cfg, inb, target.bucket.as_deref())
            .map(|h| Plan::Local(guessed, 200, h))
            .map_err(|e| reject(guessed, e, &resource));
    }
    // A browser's form upload carries its signature in its fields, read as the body arrives.
    if let Some(p) = form::plan(
        inb,
        target.bucket.as_ref(),
        target.key.is_some(),
        guessed,
        &resource,
    ) {
        return Ok(p);
    }
    // An SDK that probes the signature type anonymously (OBS's) is answered here.
    if inb.method == "HEAD" && target.key.is_none() {
        if let Some((d, header)) = Dialect::probe(|p| inb.query_has(p)) {
            return Ok(Plan::Local(d, 200, vec![header]));
        }
    }

    let wire = WireRequest {
        method: inb.method,
        raw_path: inb.raw_path,
        raw_query: inb.raw_query,
        headers: &inb.headers,
        host_bucket: if target.virtual_host {
            host_bucket.as_deref()
        } else {
            None
        },
    };
    let anonymous = cfg.verify && authorize::anonymous(cfg, &wire, inb, &target, guessed);
    let (client, payload, access_key) = if cfg.verify && !anonymous {
        let v = auth::verify(
            &wire,
            &|ak| cfg.clients.get(ak).map(|c| &c.secret),
            now,
            cfg.max_skew,
        )
        .map_err(|e| Rejection {
            verification: true,
            op: Some(classify(
                inb,
                target.bucket.is_some(),
                target.key.is_some(),
                guessed,
            )),
            ..reject(guessed, e, &resource)
        })?;
        (v.dialect, v.payload, Some(v.access_key))
    } else {
        (guessed, Payload::Unsigned, None)
    };
    let rej = |e: ApiError| reject(client, e, &resource);
    let op = classify(inb, target.bucket.is_some(), target.key.is_some(), client);
    // What this key may do, checked before the route is looked up (a refusal tells nothing of it).
    let client_entry = access_key.as_deref().and_then(|ak| cfg.clients.get(ak));
    let grant = authorize::client(client_entry, inb, op, target.bucket.as_deref()).map_err(
        |(e, denied)| Rejection {
            op: Some(op),
            denied: denied.map(|a| Box::new((a.name, access_key.clone().unwrap_or_default()))),
            ..rej(e)
        },
    )?;
    let deny = |e: ApiError, a: crate::config::Action| Rejection {
        op: Some(op),
        denied: Some(Box::new((a.name, access_key.clone().unwrap_or_default()))),
        ..rej(e)
    };

    if op == Op::ListBuckets {
        return Ok(Plan::ListBuckets(client, access_key));
    }
    let bucket = target.bucket.clone().unwrap_or_default();
    let routed = cfg
        .route(&bucket)
        .ok_or_else(|| rej(ApiError::no_such_bucket(&bucket)))?;
    let backend = routed.backend;
    if backend.starting() {
        return Err(rej(ApiError::unavailable("The backend is not ready")));
    }
    if !backend.keys_ready(now) {
        return Err(rej(ApiError::unavailable(
            "The backend's credentials are not available yet",
        )));
    }

    let mut out = Outbound {
        method: inb.method.to_string(),
        // The client's headers that pass, Host, and what signing adds (three at most).
        headers: Vec::with_capacity(inb.headers.len() + 4),
        answer_cap: Some(op.answer_cap()),
        ..Default::default()
    };
    let backend_bucket = target.bucket.as_ref().map(|_| routed.bucket.clone());
    let encoded_key = target.key.as_deref().map(sign::uri_encode_path);
    out.address(backend, backend_bucket.as_deref(), encoded_key.as_deref());
    out.query = inb
        .params
        .iter()
        .filter(|(k, _)| !is_auth_param(k))
        .map(|(k, v)| {
            (
                sign::percent_decode(k),
                v.as_deref().map(|v| client.decode_query_value(v)),
            )
        })
        .collect();
    out.query
        .retain(|(k, v)| !(v.as_deref() == Some("") && EMPTY_MEANS_ABSENT.contains(&k.as_str())));
    let listing = if op == Op::ListObjects && !backend.list_v2 {
        ListV2::take(&mut out.query).map_err(rej)?
    } else {
        None
    };
    // The OBS SDK percent-encodes header values whatever it signs with: decided once.
    let encoded = encoded_values(client, inb);
    translate_request_headers(client, backend.dialect, op, inb, encoded, &mut out).map_err(rej)?;
    if !backend.checksums {
        // Its dialect has the headers, this backend keeps none: the proxy checks them.
        out.headers.retain(|(k, _)| {
            !backend
                .dialect
                .neutral_suffix(k)
                .is_some_and(|s| s.starts_with("checksum-"))
        });
    }

    if matches!(op, Op::UploadPart | Op::PutObject) {
        let len = inb
            .header(s3::DECODED_LENGTH)
            .or(inb.header("content-length"));
        if len
            .and_then(|l| l.trim().parse::<u64>().ok())
            .is_some_and(|l| l > MAX_PART)
        {
            return Err(rej(ApiError::new(
                Code::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size (5 GiB)",
            )));
        }
    }
    if matches!(op, Op::UploadPart | Op::UploadPartCopy) {
        copy::check_part_number(inb.query_get("partNumber").as_deref()).map_err(rej)?;
        if inb.query_get("uploadId").is_none_or(|u| u.is_empty()) {
            return Err(rej(ApiError::invalid_argument(
                "This operation needs an uploadId",
            )));
        }
    }
    // A client whose own cloud takes smaller parts than the backend has its parts staged.
    let cloud = staging::client_cloud(client, inb.header("user-agent"));
    let (backend_min, client_min) = (backend.min_part_size, cloud.min_part_size());
    let part_op = matches!(op, Op::UploadPart | Op::UploadPartCopy);
    let staging = if client_min < backend_min
        && (part_op || matches!(op, Op::Complete | Op::ListParts | Op::Abort))
        // SSE-C parts are not staged (Complete carries no key to read them back with).
        && !(part_op && has_sse_c(client, inb))
    {
        match (inb.query_get("uploadId"), target.key.as_deref()) {
            (Some(upload), Some(key)) if !upload.is_empty() => Some(Staging::new(
                &cfg.staging_prefix,
                &routed.bucket,
                (&bucket, key),
                &upload,
                (backend_min, client_min),
            )),
            _ => None,
        }
    } else {
        None
    };
    if let Some(st) = staging.as_ref().filter(|_| part_op) {
        let n = inb
            .query_get("partNumber")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        st.address(&mut out, backend, n);
    }
    let mut precheck = None;
    let mut cross = None;
    if matches!(op, Op::UploadPartCopy | Op::CopyObject) {
        let mut cp =
            copy::parse_copy_part(client, &inb.headers, &cfg.suffixes, encoded).map_err(rej)?;
        edge::bucket_name(&cp.source.bucket, client).map_err(rej)?;
        if let Some(g) = grant {
            // The source is read: a key that may write here may not copy what it cannot read.
            let read = crate::config::Action::named("GetObject").expect("in the table");
            authorize::check(g, Some(&cp.source.bucket), read).map_err(|e| deny(e, read))?;
        }
        if op == Op::CopyObject && cp.range.is_some() {
            return Err(rej(ApiError::invalid_argument(
                "A byte range applies only to Upload Part - Copy",
            )));
        }
        let src_route = cfg
            .route(&cp.source.bucket)
            .ok_or_else(|| rej(ApiError::no_such_bucket(&cp.source.bucket)))?;
        // A staged part is copied through the proxy into its staging object, as across backends.
        let across = src_route.backend_index != routed.backend_index || staging.is_some();
        let source_backend = src_route.backend_index;
        // Customer keys where a side's cloud has none: refused, never dropped.
        let sse_c = "server-side-encryption-customer-algorithm";
        if !cfg.backends[source_backend].keys_ready(now) {
            return Err(rej(ApiError::unavailable(
                "The copy source's backend credentials are not available yet",
            )));
        }
        let source_dialect = cfg.backends[source_backend].dialect;
        if (cp.sse_c.is_some() && backend.dialect.refuses(sse_c))
            || (cp.source_sse_c.is_some() && source_dialect.refuses(sse_c))
        {
            return Err(rej(ApiError::not_implemented(
                "A backend of this copy offers no customer-provided encryption keys (SSE-C)",
            )));
        }
        cp.source.bucket = src_route.bucket;
        if across {
            // The destination gets an UploadPart carrying its own SSE-C key, if any.
            out.headers
                .extend(copy::destination_sse_headers(&cp, backend.dialect));
            // The length and digest are the source's, set when it is read.
            out.headers
                .retain(|(k, _)| k != "content-length" && k != "content-md5");
            let copy_metadata = op == Op::CopyObject && side::as_put(&mut out, backend.dialect);
            cross = Some(CrossCopy {
                source_backend,
                copy: cp,
                copy_metadata,
            });
        } else {
            // A combination the backend cannot express is evaluated here against a HEAD of the source.
            let here = !backend.dialect.accepts_conditions(&cp.conditions);
            let at = copy::SourceHost {
                host: &backend.host,
                region: &backend.region,
            };
            out.headers
                .extend(copy::copy_part_headers(&cp, backend.dialect, at, !here));
            if here {
                precheck = Some(cp);
            }
        }
    } else {
        check_sse(&out, backend.dialect, "server-side-encryption-customer-").map_err(rej)?;
    }

    // A whole-object checksum on Complete: nobody could check it where the backend keeps none.
    if op == Op::Complete && !backend.checksums {
        if let Some((suffix, _)) = checksum_header(client, inb) {
            return Err(rej(ApiError::invalid_request(format!(
                "The backend keeps no object checksums, so the whole object's {suffix} cannot be checked; send each part's checksum as it is uploaded"
            ))));
        }
    }
    Ok(Plan::Forward(Box::new(Forward {
        client,
        access_key,
        op,
        backend: routed.backend_index,
        out,
        payload,
        resource,
        precheck,
        cross,
        raises_200_error: client.raises_200_error(inb.header("user-agent")),
        part_min: backend_min.max(client_min),
        staging,
        listing,
        body_checksum: body_checksum(client, backend.checksums, op, inb),
        client_bucket: target.bucket.clone().filter(|b| *b != routed.bucket),
    })))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_checksums;
#[cfg(test)]
mod tests_form;
