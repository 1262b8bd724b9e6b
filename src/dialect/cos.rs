//! Tencent COS (`x-cos-*`).

use super::auth::{secret, Payload, WireRequest};
use super::cloud::{Claim, Cloud, Lookup, Scheme};
use super::wire::{Credentials, Headers, Outbound};
use super::{Dialect, FormScheme, FormSigning, VirtualHost, Vocabulary};
use crate::error::ApiError;
use crate::sign::{self, cos, Secret};

pub const VOCAB: Vocabulary = Vocabulary {
    name: "cos",
    prefix: "x-cos-",
    request_id: "x-cos-request-id",
    id2: None,
    xmlns: "http://www.qcloud.com/document/product/436/7751",
    server: "tencent-cos",
    renames: &[(
        "server-side-encryption-aws-kms-key-id",
        "server-side-encryption-cos-kms-key-id",
    )],
    bucket_renames: &[],
    values: &[
        ("storage-class", "GLACIER", "ARCHIVE"),
        ("metadata-directive", "COPY", "Copy"),
        ("metadata-directive", "REPLACE", "Replaced"),
        ("server-side-encryption", "aws:kms", "cos/kms"),
    ],
    unsupported: &[
        "checksum-crc32",
        "checksum-crc32c",
        "checksum-crc64nvme",
        "checksum-sha1",
        "checksum-sha256",
        "checksum-mode",
        "checksum-algorithm",
        "checksum-type",
        "sdk-checksum-algorithm",
        "request-payer",
        "id-2",
    ],
    refused: &[],
    error_trace_id: true,
    xml_decl: "<?xml version='1.0' encoding='utf-8' ?>\n",
    bare_copy_result: true,
    result_etag_header: false,
    whole_second_dates: false,
    entry_defaults: &[],
    copy_source_host: Some(copy_source_host),
    mixed_conditions: false,
    sdk_raises_200_error: false,
    bucket_dots: false,
    host_markers: &[".myqcloud.com", ".tencentcos.cn"],
    // <bucket>.cos.<region>.myqcloud.com (also cos-internal, cos-website)
    virtual_hosts: &[
        VirtualHost {
            suffix: ".myqcloud.com",
            from_end: 4,
            service: "cos",
            service_prefix: true,
        },
        VirtualHost {
            suffix: ".tencentcos.cn",
            from_end: 4,
            service: "cos",
            service_prefix: true,
        },
    ],
    min_part_size: 1 << 20,
    // GET Bucket (436/7734) is the V1 listing (marker, NextMarker) only.
    list_v2: false,
    // PUT Object (436/7749) checks Content-MD5; COS computes its own CRC64-ECMA (436/43320,
    // x-cos-hash-crc64ecma), a polynomial other than S3's CRC64NVME, and takes none from clients.
    checksums: false,
    // PUT Object (436/7749) and the storage class overview (436/33417).
    storage_classes: &[
        "STANDARD",
        "STANDARD_IA",
        "ARCHIVE",
        "DEEP_ARCHIVE",
        "INTELLIGENT_TIERING",
        "MAZ_STANDARD",
        "MAZ_STANDARD_IA",
        "MAZ_INTELLIGENT_TIERING",
    ],
    // ACL overview (436/30752): objects take no public-read-write; `default` inherits the bucket's.
    object_acls: &[
        "default",
        "private",
        "public-read",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    ],
    bucket_acls: &[
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
    ],
    // PUT Bucket (436/7738) takes no location (the host names the region); GET Bucket location
    // (436/8275) answers `<LocationConstraint>`.
    bucket_location: None,
    location_root: "LocationConstraint",
    // COS names every region in its hosts; S3's default is kept for a host that names none.
    default_region: "us-east-1",
    // PUT Bucket (436/7738): `<BucketAZConfig>MAZ</BucketAZConfig>` for a multi-AZ bucket.
    own_bucket_config: Some("BucketAZConfig"),
    // PUT Bucket acl (436/7737): AllUsers and AuthenticatedUsers under cam.qcloud.com.
    acl_groups: &["global/AllUsers", "global/AuthenticatedUsers"],
    group_uri: Some("http://cam.qcloud.com/groups/"),
    // POST Object restore (436/12633).
    restore_job: "CASJobParameters",
    restore_tiers: &["Expedited", "Standard", "Bulk"],
    // Required by DELETE Multiple Objects (436/8289), POST Object restore (436/12633) and the
    // bucket configuration PUTs.
    md5_required: &["delete", "lifecycle", "cors", "tagging", "restore"],
    form_encoded_query: true,
    encoding_sdk: None,
    // cos-python-sdk-v5 sends `cos-python-sdk-v<version>` (cos_client.py); the other SDKs alike.
    sdk_agents: &["cos-python-sdk-", "cos-nodejs-sdk-", "cos-java-sdk-", "cos-go-sdk-"],
    // GET Service entries carry BucketType, cos (436/8291).
    bucket_entry: &[("BucketType", "cos")],
    // POST Object (436/14690, "签名保护"): q-ak, q-key-time, q-signature over SHA1(policy).
    form_signing: &[FormSigning {
        key_field: "q-ak",
        signature_field: "q-signature",
        scheme: FormScheme::Cos,
        every_field: false,
        signing_fields: &["q-sign-algorithm", "q-key-time", "x-cos-security-token"],
    }],
    // 436/7778 (request signature: q-sign-algorithm, q-ak, q-sign-time, q-key-time, q-header-list,
    // q-url-param-list, q-signature)
    presign_params: &["q-*", "x-cos-security-token"],
    query_signatures: &["q-signature"],
    probe: None,
};

/// `q-sign-algorithm=sha1&q-ak=...`, in the header or the query.
pub const COS: Scheme = Scheme {
    dialect: Dialect::Cos,
    name: "q-sign-algorithm",
};

pub struct CosCloud;
pub static CLOUD: CosCloud = CosCloud;

impl Cloud for CosCloud {
    fn vocab(&self) -> &'static Vocabulary {
        &VOCAB
    }
    fn header_scheme(&self, a: &str) -> Option<Scheme> {
        (a.starts_with("q-sign-algorithm=") || a.contains("q-signature=")).then_some(COS)
    }
    fn query_scheme(&self, name: &str) -> Option<(Scheme, Claim)> {
        matches!(name, "q-signature" | "q-ak").then_some((COS, Claim::Decisive))
    }
    fn verify<'k>(
        &self,
        _: Scheme,
        req: &WireRequest<'_>,
        lookup: Lookup<'_, 'k>,
        now: i64,
        max_skew: i64,
    ) -> Result<(String, Payload), ApiError> {
        verify_cos(req, lookup, now, max_skew)
    }
    fn sign(&self, out: &Outbound, c: &Credentials<'_>, _: Option<&str>, now: i64) -> Headers {
        sign(out, c, now)
    }
}

fn verify_cos<'k>(
    req: &WireRequest<'_>,
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    now: i64,
    max_skew: i64,
) -> Result<(String, Payload), ApiError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let header = req.header("authorization").filter(|a| !a.trim().is_empty());
    let presigned = header.is_none();
    if let Some(a) = header {
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
    let http_with = |host: &str| {
        let hh: Vec<String> = header_list
            .iter()
            .map(|n| match *n {
                "host" => format!("host={}", sign::uri_encode(host)),
                _ => format!("{n}={}", lookup_header(n)),
            })
            .collect();
        cos::http_string(
            req.method,
            &sign::percent_decode(req.raw_path),
            &hp.join("&"),
            &hh.join("&"),
        )
    };
    let host = req.header("host").unwrap_or("");
    // cos-python-sdk-v5 signs the host name without its port where it sets none itself (its
    // `ServiceDomain` for GET Service): a real COS host never has one, a gateway's may.
    let bare = super::hosts::strip_port(host);
    let hosts: &[&str] = if bare.len() < host.len() { &[host, bare] } else { &[host] };
    let signing_key = cos::sign_key(key.expose(), key_time);
    let mut first = None;
    for h in hosts {
        let http = http_with(h);
        let sts = cos::string_to_sign(key_time, &http);
        if sign::same_signature(&cos::signature(&signing_key, &sts), &sig.to_ascii_lowercase()) {
            return Ok((ak, Payload::Unsigned));
        }
        first.get_or_insert(http);
    }
    Err(ApiError::signature_mismatch().with_detail(first.unwrap_or_default()))
}

/// `q-sign-algorithm=sha1` header authentication for a request to a COS service.
/// The host part of a COS copy source: the backend's own `cos.` host, else the region's.
fn copy_source_host(host: &str, region: &str) -> String {
    let host = super::hosts::strip_port(host);
    if host.starts_with("cos.") {
        host.to_string()
    } else {
        format!("cos.{region}.myqcloud.com")
    }
}

/// The header to set: `authorization`. Signed: `host`, `content-*` and every `x-cos-*`.
pub fn sign(out: &Outbound, c: &Credentials<'_>, now: i64) -> Headers {
    // A ten-minute window keeps the derived SignKey reusable.
    let start = now - now.rem_euclid(600) - 60;
    let key_time = format!("{start};{}", start + 4260);
    let (params, param_list) = cos::encode_list(
        out.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or(""))),
    );
    let (hdrs, header_list) = cos::encode_list(
        out.headers
            .iter()
            .filter(|(k, _)| k != "authorization" && cos::is_signed_header(k))
            .map(|(k, v)| (&**k, v.as_str())),
    );
    let http = cos::http_string(
        &out.method,
        &sign::percent_decode(&out.path),
        &params,
        &hdrs,
    );
    let sts = cos::string_to_sign(&key_time, &http);
    let sig = cos::signature(&c.secret.cos_sign_key(&key_time), &sts);
    let auth = cos::authorization(c.access_key, &key_time, &header_list, &param_list, &sig);
    vec![("authorization".into(), auth)]
}
