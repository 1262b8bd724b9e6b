//! Inbound authentication: recognise the client's scheme and verify its signature over the
//! exact bytes received. Pure: the caller passes the clock and a key lookup.

pub use crate::dates::{format_amz_date, parse_amz_date, parse_date};
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::sign::{self, cos, sigv4, v2, Secret};

/// The parts of a received request that signatures cover.
pub struct WireRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// (lower-case name, value) in received order.
    pub headers: &'a [(String, String)],
    /// Bucket taken from a virtual-hosted Host, if any (OBS/V2 resource prefix).
    pub host_bucket: Option<&'a str>,
}

impl WireRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Obs,
    AwsV2,
    SigV4,
    Cos,
}

/// What the body must still prove after the headers were verified (SigV4 only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Nothing to check (V2/OBS/COS, presigned, UNSIGNED-PAYLOAD).
    Unsigned,
    /// Hex SHA-256 the body must match.
    Sha256(String),
    /// aws-chunked body; `signed` chunks chain from `seed` under `key`.
    Streaming {
        signed: bool,
        /// The checksum header named by `x-amz-trailer`, if any.
        trailer: Option<String>,
        /// `x-amz-decoded-content-length`.
        decoded_len: Option<u64>,
        seed: String,
        key: [u8; 32],
        scope: String,
        amz_date: String,
    },
}

#[derive(Clone, Debug)]
pub struct Verified {
    pub access_key: String,
    pub scheme: Scheme,
    pub dialect: Dialect,
    pub payload: Payload,
}

/// Which scheme the request carries, if any.
pub fn detect(req: &WireRequest<'_>) -> Option<Scheme> {
    if let Some(a) = req.header("authorization") {
        let a = a.trim_start();
        return Some(if a.starts_with("OBS ") {
            Scheme::Obs
        } else if a.starts_with("AWS4-HMAC-SHA256") {
            Scheme::SigV4
        } else if a.starts_with("AWS ") {
            Scheme::AwsV2
        } else if a.starts_with("q-sign-algorithm=") || a.contains("q-signature=") {
            Scheme::Cos
        } else {
            return None;
        });
    }
    let mut s = None;
    for (k, _) in sign::split_query(req.raw_query) {
        match k {
            "X-Amz-Signature" | "X-Amz-Credential" => return Some(Scheme::SigV4),
            "q-signature" | "q-ak" => return Some(Scheme::Cos),
            "AWSAccessKeyId" => s = Some(Scheme::AwsV2),
            "AccessKeyId" => s = s.or(Some(Scheme::Obs)),
            _ => {}
        }
    }
    s
}

pub fn dialect_of(scheme: Scheme) -> Dialect {
    match scheme {
        Scheme::Obs => Dialect::Obs,
        Scheme::Cos => Dialect::Cos,
        Scheme::AwsV2 | Scheme::SigV4 => Dialect::S3,
    }
}

/// Verify the request. `lookup` maps an access key to its secret.
pub fn verify<'k>(
    req: &WireRequest<'_>,
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    now: i64,
    max_skew: i64,
) -> Result<Verified, ApiError> {
    let scheme = detect(req).ok_or_else(|| {
        if req.header("authorization").is_some() {
            ApiError::malformed_auth("Unsupported Authorization type")
        } else {
            ApiError::access_denied("Anonymous access is not allowed")
        }
    })?;
    let (access_key, payload) = match scheme {
        Scheme::Obs | Scheme::AwsV2 => verify_v2(req, scheme, lookup, now, max_skew)?,
        Scheme::SigV4 => verify_v4(req, lookup, now, max_skew)?,
        Scheme::Cos => verify_cos(req, lookup, now, max_skew)?,
    };
    Ok(Verified {
        access_key,
        scheme,
        dialect: dialect_of(scheme),
        payload,
    })
}

fn decoded_query(raw: &str, skip: &[&str]) -> Vec<(String, Option<String>)> {
    sign::split_query(raw)
        .into_iter()
        .map(|(k, v)| (sign::percent_decode(k), v.map(sign::percent_decode)))
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .collect()
}

fn query_value(raw: &str, name: &str) -> Result<Option<String>, ApiError> {
    let mut found = None;
    for (k, v) in sign::split_query(raw) {
        if k == name {
            if found.is_some() {
                return Err(ApiError::malformed_auth(format!("{name} is given twice")));
            }
            found = Some(sign::percent_decode(v.unwrap_or("")));
        }
    }
    Ok(found)
}

fn check_skew(t: i64, now: i64, max_skew: i64) -> Result<(), ApiError> {
    if (t - now).abs() > max_skew {
        Err(ApiError::skewed())
    } else {
        Ok(())
    }
}

fn secret<'k>(
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    ak: &str,
) -> Result<&'k Secret, ApiError> {
    lookup(ak).ok_or_else(ApiError::invalid_access_key)
}

fn verify_v2<'k>(
    req: &WireRequest<'_>,
    scheme: Scheme,
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    now: i64,
    max_skew: i64,
) -> Result<(String, Payload), ApiError> {
    let prefix = if scheme == Scheme::Obs {
        "x-obs-"
    } else {
        "x-amz-"
    };
    let (ak, sig, date, presigned) = if let Some(a) = req.header("authorization") {
        let rest = a.trim_start().split_once(' ').map(|x| x.1).unwrap_or("");
        let (ak, sig) = rest
            .rsplit_once(':')
            .filter(|(ak, sig)| !ak.is_empty() && !sig.is_empty() && !ak.contains(' '))
            .ok_or_else(|| {
                ApiError::malformed_auth("Authorization must be '<scheme> AK:signature'")
            })?;
        check_v2_signature_form(sig)?;
        let date_header = format!("{prefix}date");
        let date = req
            .header(&date_header)
            .or(req.header("date"))
            .ok_or_else(|| {
                ApiError::access_denied("Authentication requires a valid Date or x-*-date header")
            })?;
        let t = parse_date(date)
            .ok_or_else(|| ApiError::access_denied("The date header could not be parsed"))?;
        check_skew(t, now, max_skew)?;
        let date = req.header("date").unwrap_or("").to_string();
        (ak.to_string(), sig.to_string(), date, false)
    } else {
        let ak_param = if scheme == Scheme::Obs {
            "AccessKeyId"
        } else {
            "AWSAccessKeyId"
        };
        let ak = query_value(req.raw_query, ak_param)?.unwrap_or_default();
        let sig = query_value(req.raw_query, "Signature")?
            .ok_or_else(|| ApiError::malformed_auth("Signature is missing"))?;
        check_v2_signature_form(&sig)?;
        let expires = query_value(req.raw_query, "Expires")?
            .ok_or_else(|| ApiError::malformed_auth("Expires is missing"))?;
        let e: i64 = expires
            .parse()
            .map_err(|_| ApiError::malformed_auth("Expires is not a number"))?;
        if e < now {
            return Err(ApiError::expired());
        }
        (ak, sig, expires, true)
    };
    let key = secret(lookup, &ak)?;
    let query = decoded_query(
        req.raw_query,
        &["AccessKeyId", "AWSAccessKeyId", "Signature", "Expires"],
    );
    let resource = match req.host_bucket {
        Some(b) => format!("/{b}{}", req.raw_path),
        None => req.raw_path.to_string(),
    };
    let flavors: &[v2::Flavor] = if scheme == Scheme::Obs {
        &[v2::Flavor::Obs]
    } else {
        &[v2::Flavor::Aws, v2::Flavor::Obs]
    };
    // A bucket-level path-style request is signed as `/bucket/` by botocore and as sent by others.
    let mut resources = vec![resource.clone()];
    if req.host_bucket.is_none() && resource.len() > 1 && !resource[1..].contains('/') {
        resources.push(format!("{resource}/"));
    }
    let mut first_sts = None;
    for (&flavor, resource) in flavors
        .iter()
        .flat_map(|f| resources.iter().map(move |r| (f, r)))
    {
        let input = v2::V2Input {
            method: req.method,
            content_md5: req.header("content-md5").unwrap_or(""),
            content_type: req.header("content-type").unwrap_or(""),
            date: &date,
            headers: req.headers,
            prefix,
            resource,
            query: &query,
            flavor,
            presigned,
        };
        let sts = v2::string_to_sign(&input);
        if sign::same_signature(&v2::signature(key.expose(), &sts), &sig) {
            return Ok((ak, Payload::Unsigned));
        }
        first_sts.get_or_insert(sts);
    }
    Err(ApiError::signature_mismatch().with_detail(first_sts.unwrap_or_default()))
}

fn check_v2_signature_form(sig: &str) -> Result<(), ApiError> {
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig);
    if !matches!(decoded, Ok(ref b) if b.len() == 20) {
        return Err(ApiError::malformed_auth(
            "The signature is not base64 of an HMAC-SHA1",
        ));
    }
    Ok(())
}

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

fn verify_v4<'k>(
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
    let sts = sigv4::string_to_sign(&amz_date, &auth.scope, &cr);
    let skey = sigv4::signing_key(key.expose(), &auth.scope);
    if !sign::same_signature(&sigv4::signature(&skey, &sts), &auth.signature) {
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
            key: skey,
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

fn verify_cos<'k>(
    req: &WireRequest<'_>,
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    now: i64,
    max_skew: i64,
) -> Result<(String, Payload), ApiError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let presigned = req.header("authorization").is_none();
    if let Some(a) = req.header("authorization") {
        for p in a.trim().split('&') {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            fields.push((k.to_string(), v.to_string()));
        }
    } else {
        for (k, v) in sign::split_query(req.raw_query) {
            if k.starts_with("q-") {
                fields.push((sign::percent_decode(k), sign::form_decode(v.unwrap_or(""))));
            }
        }
    }
    let get = |n: &str| -> Result<&str, ApiError> {
        let mut it = fields.iter().filter(|(k, _)| k == n);
        let v = it
            .next()
            .ok_or_else(|| ApiError::malformed_auth(format!("{n} is missing")))?;
        if it.next().is_some() {
            return Err(ApiError::malformed_auth(format!("{n} is given twice")));
        }
        Ok(v.1.as_str())
    };
    if get("q-sign-algorithm")? != "sha1" {
        return Err(ApiError::malformed_auth("q-sign-algorithm must be sha1"));
    }
    let ak = get("q-ak")?.to_string();
    let key_time = get("q-key-time")?;
    if get("q-sign-time")? != key_time {
        return Err(ApiError::malformed_auth(
            "q-sign-time and q-key-time differ",
        ));
    }
    let (start, end) = key_time
        .split_once(';')
        .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
        .ok_or_else(|| ApiError::malformed_auth("q-key-time must be '<start>;<end>'"))?;
    let header_list: Vec<&str> = get("q-header-list")?
        .split(';')
        .filter(|s| !s.is_empty())
        .collect();
    let param_list: Vec<&str> = get("q-url-param-list")?
        .split(';')
        .filter(|s| !s.is_empty())
        .collect();
    let sig = get("q-signature")?;
    if sig.len() != 40 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::malformed_auth(
            "q-signature must be 40 hex characters",
        ));
    }
    if start > now + max_skew {
        return Err(ApiError::skewed());
    }
    if end < now {
        return Err(ApiError::expired());
    }
    let key = secret(lookup, &ak)?;

    let params: Vec<(String, String)> = sign::split_query(req.raw_query)
        .into_iter()
        .filter(|(k, _)| !(presigned && k.starts_with("q-")))
        .map(|(k, v)| {
            let name = sign::uri_encode(&sign::form_decode(k)).to_ascii_lowercase();
            (name, sign::uri_encode(&sign::form_decode(v.unwrap_or(""))))
        })
        .collect();
    let lookup_param = |n: &str| {
        params
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let hp: Vec<String> = param_list
        .iter()
        .map(|n| format!("{n}={}", lookup_param(n)))
        .collect();
    let lookup_header = |n: &str| {
        req.headers
            .iter()
            .find(|(k, _)| sign::uri_encode(k).eq_ignore_ascii_case(n))
            .map(|(_, v)| sign::uri_encode(v))
            .unwrap_or_default()
    };
    let hh: Vec<String> = header_list
        .iter()
        .map(|n| format!("{n}={}", lookup_header(n)))
        .collect();
    let http = cos::http_string(
        req.method,
        &sign::percent_decode(req.raw_path),
        &hp.join("&"),
        &hh.join("&"),
    );
    let sts = cos::string_to_sign(key_time, &http);
    let mine = cos::signature(&cos::sign_key(key.expose(), key_time), &sts);
    if !sign::same_signature(&mine, &sig.to_ascii_lowercase()) {
        return Err(ApiError::signature_mismatch().with_detail(http));
    }
    Ok((ak, Payload::Unsigned))
}
