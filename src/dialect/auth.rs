//! Inbound authentication: recognise the client's scheme and verify its signature over the
//! exact bytes received. Pure: the caller passes the clock and a key lookup. Each cloud's file
//! recognises and verifies its own schemes (`cloud::Cloud`); the V2 family (`OBS ak:sig`,
//! `AWS ak:sig`), shared by several clouds with their own parameters, is verified here.

use super::cloud::{Claim, Lookup};
pub use super::cloud::{Payload, Scheme, WireRequest};
use super::Dialect;
use crate::dates::parse_date;
use crate::error::ApiError;
use crate::sign::{self, v2, Secret};
use std::borrow::Cow;

/// Owned (name, value) pairs as the borrowed view `WireRequest` and the signers read.
pub fn borrowed<K: AsRef<str>>(pairs: &[(K, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_str()))
        .collect()
}

#[derive(Clone, Debug)]
pub struct Verified {
    pub access_key: String,
    pub scheme: Scheme,
    pub dialect: Dialect,
    pub payload: Payload,
}

/// Which scheme the request carries, if any: the `Authorization` header's, else the one the
/// presigned URL's query names most strongly.
pub fn detect(req: &WireRequest<'_>) -> Option<Scheme> {
    // An empty Authorization is no authorization: cos-python-sdk-v5 sends one in anonymous mode,
    // and COS answers such a request 403 AccessDenied (436/7730).
    if let Some(a) = req.header("authorization").filter(|a| !a.trim().is_empty()) {
        let a = a.trim_start();
        return Dialect::ALL
            .into_iter()
            .find_map(|d| d.cloud().header_scheme(a));
    }
    let mut best: Option<(Scheme, Claim)> = None;
    for (k, _) in sign::split_query(req.raw_query) {
        for d in Dialect::ALL {
            let Some((scheme, claim)) = d.cloud().query_scheme(k) else {
                continue;
            };
            if claim == Claim::Decisive {
                return Some(scheme);
            }
            if best.is_none_or(|(_, b)| claim > b) {
                best = Some((scheme, claim));
            }
        }
    }
    best.map(|(s, _)| s)
}

/// The request carries no signature at all (no scheme, no non-empty `Authorization`).
pub fn unsigned(req: &WireRequest<'_>) -> bool {
    req.header("authorization")
        .is_none_or(|a| a.trim().is_empty())
        && detect(req).is_none()
}

/// Verify the request. `lookup` maps an access key to its secret.
pub fn verify<'k>(
    req: &WireRequest<'_>,
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    now: i64,
    max_skew: i64,
) -> Result<Verified, ApiError> {
    let scheme = detect(req).ok_or_else(|| {
        if req
            .header("authorization")
            .is_some_and(|a| !a.trim().is_empty())
        {
            ApiError::malformed_auth("Unsupported Authorization type")
        } else {
            ApiError::access_denied("Anonymous access is not allowed")
        }
    })?;
    let (access_key, payload) = scheme
        .dialect
        .cloud()
        .verify(scheme, req, lookup, now, max_skew)?;
    Ok(Verified {
        access_key,
        scheme,
        dialect: scheme.dialect,
        payload,
    })
}

/// Query parameters decoded, borrowed from the raw query where nothing needed decoding.
pub(super) fn decoded_query<'a>(
    raw: &'a str,
    skip: &[&str],
) -> Vec<(Cow<'a, str>, Option<Cow<'a, str>>)> {
    let decode = sign::percent_decode_cow;
    sign::split_query(raw)
        .map(|(k, v)| (decode(k), v.map(decode)))
        .filter(|(k, _)| !skip.contains(&k.as_ref()))
        .collect()
}

pub(super) fn query_value(raw: &str, name: &str) -> Result<Option<String>, ApiError> {
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

pub(super) fn check_skew(t: i64, now: i64, max_skew: i64) -> Result<(), ApiError> {
    if (t - now).abs() > max_skew {
        Err(ApiError::skewed())
    } else {
        Ok(())
    }
}

pub(super) fn secret<'k>(lookup: Lookup<'_, 'k>, ak: &str) -> Result<&'k Secret, ApiError> {
    lookup(ak).ok_or_else(ApiError::invalid_access_key)
}

/// What a cloud's member of the V2 family (HMAC-SHA1 over the same string to sign) sets.
pub struct V2Family {
    /// Its header namespace (`x-amz-`, `x-obs-`): those headers are signed.
    pub prefix: &'static str,
    /// The query parameter naming the access key in its presigned URLs.
    pub key_param: &'static str,
    /// Its own sub-resource list, tried before the OBS lists.
    pub own: Option<v2::Flavor>,
    /// The OBS lists are tried too (the OBS SDK signs as OBS and as AWS V2).
    pub obs_lists: bool,
    /// Its `x-*-date` header is the date line (OSS); otherwise that line is empty beside one.
    pub prefixed_date_is_date: bool,
    /// Its resource names the key decoded (OSS), not as sent.
    pub decoded_resource: bool,
}

pub(super) fn verify_v2<'k>(
    req: &WireRequest<'_>,
    family: &V2Family,
    lookup: Lookup<'_, 'k>,
    now: i64,
    max_skew: i64,
) -> Result<(String, Payload), ApiError> {
    let prefix = family.prefix;
    let (ak, sig, date, date_as_given) = if let Some(a) = req.header("authorization") {
        let rest = a.trim_start().split_once(' ').map(|x| x.1).unwrap_or("");
        let (ak, sig) = rest
            .rsplit_once(':')
            .filter(|(ak, sig)| !ak.is_empty() && !sig.is_empty() && !ak.contains(' '))
            .ok_or_else(|| {
                ApiError::malformed_auth("Authorization must be '<scheme> AK:signature'")
            })?;
        check_v2_signature_form(sig)?;
        let date = req
            .headers
            .iter()
            .find(|(k, _)| k.strip_prefix(prefix) == Some("date"))
            .map(|(_, v)| *v)
            .or(req.header("date"))
            .ok_or_else(|| {
                ApiError::access_denied("Authentication requires a valid Date or x-*-date header")
            })?;
        let t = parse_date(date)
            .or_else(|| crate::dates::parse_amz_date(date.trim()))
            .ok_or_else(|| ApiError::access_denied("The date header could not be parsed"))?;
        check_skew(t, now, max_skew)?;
        if family.prefixed_date_is_date {
            (ak.to_string(), sig.to_string(), date.to_string(), true)
        } else {
            let date = req.header("date").unwrap_or("").to_string();
            (ak.to_string(), sig.to_string(), date, false)
        }
    } else {
        let ak = query_value(req.raw_query, family.key_param)?.unwrap_or_default();
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
    let query = decoded_query(req.raw_query, &[family.key_param, "Signature", "Expires"]);
    // A presigned URL carries what would be `x-*` headers in its query (botocore moves
    // `x-amz-security-token` there after signing it as a header): signed as headers.
    let presigned = req.header("authorization").is_none();
    let mut as_headers: Vec<(&str, &str)> = Vec::new();
    if presigned {
        as_headers.extend_from_slice(req.headers);
        for (k, v) in &query {
            if k.len() > prefix.len() && k[..prefix.len()].eq_ignore_ascii_case(prefix) {
                as_headers.push((k.as_ref(), v.as_deref().unwrap_or("")));
            }
        }
    }
    let header_sets: &[&[(&str, &str)]] = if as_headers.len() > req.headers.len() {
        &[&as_headers, req.headers]
    } else {
        &[req.headers]
    };
    let path = match family.decoded_resource {
        true => sign::percent_decode_cow(req.raw_path),
        false => Cow::Borrowed(req.raw_path),
    };
    let resource = match req.host_bucket {
        Some(b) => format!("/{b}{path}"),
        None => path.into_owned(),
    };
    // Its own list first, then the OBS lists: the documented one, then what released OBS SDKs
    // sign (they leave out some names).
    let obs = family
        .obs_lists
        .then(|| std::iter::once(v2::Flavor::Obs).chain(v2::obs_sdk_flavors()))
        .into_iter()
        .flatten();
    let flavors = family.own.into_iter().chain(obs);
    // A bucket-level path-style request is signed as `/bucket/` by botocore and as sent by others.
    let bucket_only = resource
        .strip_prefix('/')
        .is_some_and(|r| !r.is_empty() && !r.contains('/'));
    let with_slash = (req.host_bucket.is_none() && bucket_only).then(|| format!("{resource}/"));
    let resources: &[&str] = match &with_slash {
        Some(alt) => &[&resource, alt],
        None => &[&resource],
    };
    // Most flavors give the same string for a request: each string is tried once.
    let mut tried: Vec<String> = Vec::new();
    let shapes = flavors.flat_map(|f| resources.iter().map(move |r| (f, r)));
    for ((flavor, &resource), &headers) in
        shapes.flat_map(|fr| header_sets.iter().map(move |h| (fr, h)))
    {
        let input = v2::V2Input {
            method: req.method,
            content_md5: req.header("content-md5").unwrap_or(""),
            content_type: req.header("content-type").unwrap_or(""),
            date: &date,
            headers,
            prefix,
            resource,
            query: &query,
            flavor,
            date_as_given,
        };
        let sts = v2::string_to_sign(&input);
        if tried.contains(&sts) {
            continue;
        }
        if sign::same_signature(&key.v2_signature(&sts), &sig) {
            return Ok((ak, Payload::Unsigned));
        }
        tried.push(sts);
    }
    Err(ApiError::signature_mismatch().with_detail(tried.into_iter().next().unwrap_or_default()))
}

fn check_v2_signature_form(sig: &str) -> Result<(), ApiError> {
    // Decoded on the stack: anything longer than 32 bytes is refused anyway.
    let mut buf = [0u8; 32];
    let decoded =
        base64::Engine::decode_slice(&base64::engine::general_purpose::STANDARD, sig, &mut buf);
    if decoded != Ok(20) {
        return Err(ApiError::malformed_auth(
            "The signature is not base64 of an HMAC-SHA1",
        ));
    }
    Ok(())
}
