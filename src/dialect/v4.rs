//! The SigV4 family's verifier (`AWS4-HMAC-SHA256`, header and presigned): the canonical request
//! rebuilt from the exact bytes received, the derived key cached per scope, and what the body must
//! still prove (a payload hash, or aws-chunked signatures chained from the seed).

use super::auth::{check_skew, decoded_query, query_value, secret, Payload, WireRequest};
use crate::dates::{format_amz_date, parse_amz_date, parse_date};
use crate::error::ApiError;
use crate::sign::{self, sigv4, Secret};

struct V4Auth {
    access_key: String,
    scope: String,
    signed: Vec<String>,
    signature: String,
}

fn parse_v4_header(a: &str) -> Result<V4Auth, ApiError> {
    let rest = a.trim_start().strip_prefix(sigv4::ALGORITHM).unwrap_or("");
    if !rest.starts_with(' ') {
        return Err(ApiError::malformed_auth(
            "Unsupported Authorization algorithm",
        ));
    }
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| ApiError::malformed_auth(format!("'{part}' is not key=value")))?;
        let slot = match k {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            _ => return Err(ApiError::malformed_auth(format!("unknown field '{k}'"))),
        };
        if slot.replace(v.to_string()).is_some() {
            return Err(ApiError::malformed_auth(format!("'{k}' is given twice")));
        }
    }
    let missing = |n: &str| ApiError::malformed_auth(format!("the Authorization header lacks {n}"));
    let cred = cred.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let sig = sig.ok_or_else(|| missing("Signature"))?;
    v4_parts(&cred, &signed, &sig)
}

fn v4_parts(cred: &str, signed: &str, sig: &str) -> Result<V4Auth, ApiError> {
    let (ak, scope) = cred.split_once('/').ok_or_else(|| {
        ApiError::malformed_auth("Credential must be AK/date/region/service/aws4_request")
    })?;
    let parts: Vec<&str> = scope.split('/').collect();
    if ak.is_empty()
        || parts.len() != 4
        || parts[0].len() != 8
        || !parts[0].bytes().all(|b| b.is_ascii_digit())
        || parts[3] != "aws4_request"
    {
        return Err(ApiError::malformed_auth(
            "Credential must be AK/date/region/service/aws4_request",
        ));
    }
    if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::malformed_auth(
            "Signature must be 64 hex characters",
        ));
    }
    let signed: Vec<String> = signed.split(';').map(|s| s.to_ascii_lowercase()).collect();
    if signed.iter().any(|s| s.is_empty()) {
        return Err(ApiError::malformed_auth("SignedHeaders is malformed"));
    }
    Ok(V4Auth {
        access_key: ak.to_string(),
        scope: scope.to_string(),
        signed,
        signature: sig.to_ascii_lowercase(),
    })
}

pub(super) fn verify<'k>(
    req: &WireRequest<'_>,
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    now: i64,
    max_skew: i64,
) -> Result<(String, Payload), ApiError> {
    let presigned = req.header("authorization").is_none();
    let (auth, amz_date, payload_hash, query) = if !presigned {
        let auth = parse_v4_header(req.header("authorization").unwrap_or(""))?;
        let amz_date = match req.header("x-amz-date") {
            Some(d) => d.trim().to_string(),
            None => {
                let d = req.header("date").ok_or_else(|| {
                    ApiError::access_denied(
                        "Authentication requires a valid Date or x-amz-date header",
                    )
                })?;
                let t = parse_date(d).ok_or_else(|| {
                    ApiError::access_denied("The Date header could not be parsed")
                })?;
                format_amz_date(t)
            }
        };
        let t = parse_amz_date(&amz_date)
            .ok_or_else(|| ApiError::access_denied("X-Amz-Date could not be parsed"))?;
        check_skew(t, now, max_skew)?;
        let payload = req
            .header("x-amz-content-sha256")
            .unwrap_or("UNSIGNED-PAYLOAD")
            .to_string();
        (auth, amz_date, payload, decoded_query(req.raw_query, &[]))
    } else {
        let get = |n: &str| -> Result<String, ApiError> {
            query_value(req.raw_query, n)?
                .ok_or_else(|| ApiError::malformed_auth(format!("{n} is missing from the query")))
        };
        if get("X-Amz-Algorithm")? != sigv4::ALGORITHM {
            return Err(ApiError::malformed_auth(
                "X-Amz-Algorithm must be AWS4-HMAC-SHA256",
            ));
        }
        let auth = v4_parts(
            &get("X-Amz-Credential")?,
            &get("X-Amz-SignedHeaders")?,
            &get("X-Amz-Signature")?,
        )?;
        let amz_date = get("X-Amz-Date")?;
        let t = parse_amz_date(&amz_date)
            .ok_or_else(|| ApiError::malformed_auth("X-Amz-Date could not be parsed"))?;
        let expires: i64 = get("X-Amz-Expires")?
            .parse()
            .map_err(|_| ApiError::malformed_auth("X-Amz-Expires is not a number"))?;
        if !(1..=604800).contains(&expires) {
            return Err(ApiError::malformed_auth("X-Amz-Expires must be 1..604800"));
        }
        if t - now > max_skew {
            return Err(ApiError::skewed());
        }
        if t + expires < now {
            return Err(ApiError::expired());
        }
        (
            auth,
            amz_date,
            "UNSIGNED-PAYLOAD".to_string(),
            decoded_query(req.raw_query, &["X-Amz-Signature"]),
        )
    };
    if !auth.scope.starts_with(&amz_date[..8.min(amz_date.len())]) {
        return Err(ApiError::malformed_auth(
            "the credential date does not match X-Amz-Date",
        ));
    }
    let key = secret(lookup, &auth.access_key)?;
    let signed: Vec<&str> = auth.signed.iter().map(|s| s.as_str()).collect();
    let cr = sigv4::canonical_request(
        req.method,
        req.raw_path,
        &sigv4::canonical_query(&query),
        &signed,
        |h| req.header_values(h),
        &payload_hash,
    );
    let p = &sigv4::AWS;
    let sts = sigv4::string_to_sign(p, &amz_date, &auth.scope, &cr);
    if !sign::same_signature(&key.sigv4_signature(p, &auth.scope, &sts), &auth.signature) {
        return Err(ApiError::signature_mismatch().with_detail(cr));
    }
    let payload = match payload_hash.as_str() {
        "UNSIGNED-PAYLOAD" => Payload::Unsigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        | "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Payload::Streaming {
            signed: payload_hash.starts_with("STREAMING-AWS4"),
            trailer: req.header("x-amz-trailer").map(str::to_string),
            decoded_len: req
                .header("x-amz-decoded-content-length")
                .and_then(|v| v.trim().parse().ok()),
            seed: auth.signature.clone(),
            key: key.sigv4_key(p, &auth.scope),
            scope: auth.scope.clone(),
            amz_date,
        },
        h if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Payload::Sha256(h.to_ascii_lowercase())
        }
        _ => {
            return Err(ApiError::invalid_argument(
                "x-amz-content-sha256 is not a valid value",
            ))
        }
    };
    Ok((auth.access_key, payload))
}
