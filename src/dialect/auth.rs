//! Inbound authentication: recognise the client's scheme and verify its signature over the
//! exact bytes received. Pure: the caller passes the clock and a key lookup. The V2 family
//! (`OBS ak:sig`, `AWS ak:sig`) is verified here; SigV4 in `s3.rs`, COS in `cos.rs`.

use super::{cos as cos_dialect, s3, Dialect};
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

/// The parts of a received request that signatures cover.
pub struct WireRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// (lower-case name, value) in received order.
    pub headers: &'a [(&'a str, &'a str)],
    /// Bucket taken from a virtual-hosted Host, if any (OBS/V2 resource prefix).
    pub host_bucket: Option<&'a str>,
}

impl<'a> WireRequest<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
    pub fn header_values(&self, name: &str) -> Vec<&'a str> {
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| *v)
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
    // An empty Authorization is no authorization: cos-python-sdk-v5 sends one in anonymous mode,
    // and COS answers such a request 403 AccessDenied (436/7730).
    if let Some(a) = req.header("authorization").filter(|a| !a.trim().is_empty()) {
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
        if req
            .header("authorization")
            .is_some_and(|a| !a.trim().is_empty())
        {
            ApiError::malformed_auth("Unsupported Authorization type")
        } else {
            ApiError::access_denied("Anonymous access is not allowed")
        }
    })?;
    let (access_key, payload) = match scheme {
        Scheme::Obs | Scheme::AwsV2 => verify_v2(req, scheme, lookup, now, max_skew)?,
        Scheme::SigV4 => s3::verify_v4(req, lookup, now, max_skew)?,
        Scheme::Cos => cos_dialect::verify_cos(req, lookup, now, max_skew)?,
    };
    Ok(Verified {
        access_key,
        scheme,
        dialect: dialect_of(scheme),
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

pub(super) fn secret<'k>(
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
    let prefix = dialect_of(scheme).vocab().prefix;
    let (ak, sig, date, presigned) = if let Some(a) = req.header("authorization") {
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
    // The documented list first, then what released OBS SDKs sign (they leave out some names).
    let aws = (scheme != Scheme::Obs).then_some(v2::Flavor::Aws);
    let flavors = aws
        .into_iter()
        .chain([v2::Flavor::Obs])
        .chain(v2::obs_sdk_flavors());
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
    for (flavor, &resource) in flavors.flat_map(|f| resources.iter().map(move |r| (f, r))) {
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
