//! Aliyun OSS (`x-oss-*`). Wire facts and their pages: `tests/vectors/oss/README.md`.

use super::auth::{self, check_skew, query_value, secret, Payload, WireRequest};
use super::cloud::{Claim, Cloud, Lookup, Scheme};
use super::wire::{Credentials, Headers, Outbound};
use super::{Dialect, FormScheme, FormSigning, VirtualHost, Vocabulary};
use crate::dates::{format_amz_date, parse_amz_date};
use crate::error::ApiError;
use crate::sign::{self, oss4, sigv4, v2};

pub const VOCAB: Vocabulary = Vocabulary {
    name: "oss",
    prefix: "x-oss-",
    request_id: "x-oss-request-id",
    id2: None,
    // OSS documents carry no namespace; oss2 and alibabacloud-oss-v2 match root tags exactly.
    xmlns: "",
    server: "AliyunOSS",
    // Object ACLs are `x-oss-object-acl` (manage-the-acl-of-an-object); SSE-KMS key id.
    renames: &[
        ("acl", "object-acl"),
        (
            "server-side-encryption-aws-kms-key-id",
            "server-side-encryption-key-id",
        ),
    ],
    // Storage classes (0017-00000131): Standard, IA, Archive, ColdArchive, DeepColdArchive.
    // Bucket ACLs are `x-oss-acl` (developer-reference/putbucketacl, PutBucket).
    bucket_renames: &[("acl", "acl")],
    values: &[
        ("storage-class", "STANDARD", "Standard"),
        ("storage-class", "STANDARD_IA", "IA"),
        ("storage-class", "GLACIER", "Archive"),
        ("storage-class", "DEEP_ARCHIVE", "ColdArchive"),
        ("server-side-encryption", "aws:kms", "KMS"),
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
        "id-2",
    ],
    // No SSE-C: OSS encrypts with SSE-KMS or SSE-OSS only (user-guide/data-encryption).
    refused: &[
        "server-side-encryption-customer-algorithm",
        "server-side-encryption-customer-key",
        "server-side-encryption-customer-key-md5",
        "copy-source-server-side-encryption-customer-algorithm",
        "copy-source-server-side-encryption-customer-key",
        "copy-source-server-side-encryption-customer-key-md5",
    ],
    error_trace_id: false,
    xml_decl: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    bare_copy_result: true,
    // oss2 (PutObjectResult) and ali-oss read the header; alibabacloud-oss-v2 the body (vectors'
    // response_probe): both are sent.
    result_etag_header: true,
    whole_second_dates: true,
    // oss2's listing parser requires <Type> in every <Contents> (xml_utils.parse_list_objects):
    // Normal, Multipart or Appendable; a backend that names none stored it whole or in parts
    // alike, and Normal is what the SDKs treat as the plain case.
    entry_defaults: &[("Contents", "Type", "Normal")],
    copy_source_host: None,
    mixed_conditions: false,
    // oss2 and alibabacloud-oss-v2 judge by status: a 200 holding <Error> is handed back.
    sdk_raises_200_error: false,
    // Bucket names: lower-case letters, digits and hyphens.
    bucket_dots: false,
    host_markers: &[".aliyuncs.com"],
    // <bucket>.oss-<region>[-internal].aliyuncs.com (regions-and-endpoints); no path style.
    virtual_hosts: &[VirtualHost {
        suffix: ".aliyuncs.com",
        from_end: 3,
        service: "oss-",
        service_prefix: true,
    }],
    // 100 KB to 5 GB per part, checked at Complete (uploadpartcopy, too-many-parts page).
    min_part_size: 100 << 10,
    // ListObjectsV2 (list-type=2) is served (developer-reference/listobjectsv2).
    list_v2: true,
    // OSS keeps its own CRC64-ECMA (x-oss-hash-crc64ecma) and takes no S3 checksums.
    checksums: false,
    storage_classes: &["Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"],
    object_acls: &["default", "private", "public-read", "public-read-write"],
    bucket_acls: &["private", "public-read", "public-read-write"],
    // The endpoint names the region; GetBucketLocation answers <LocationConstraint>.
    bucket_location: None,
    location_root: "LocationConstraint",
    default_region: "cn-hangzhou",
    own_bucket_config: None,
    // OSS ACLs are canned values only, with no grantee groups.
    acl_groups: &[],
    group_uri: None,
    // RestoreObject: <RestoreRequest><Days/><JobParameters><Tier/></JobParameters>.
    restore_job: "JobParameters",
    restore_tiers: &["Expedited", "Standard", "Bulk"],
    // DeleteMultipleObjects requires Content-MD5.
    md5_required: &["delete"],
    form_encoded_query: false,
    encoding_sdk: None,
    // oss2 `aliyun-sdk-python/…` (http.py), ali-oss `aliyun-sdk-nodejs/…`, alibabacloud-oss-v2
    // `alibabacloud-python-sdk-v2/…` (utils.get_default_user_agent).
    sdk_agents: &["aliyun-sdk-", "alibabacloud-"],
    // oss2 (xml_utils.parse_list_buckets) requires these in every entry (ListBuckets page).
    bucket_entry: &[("ExtranetEndpoint", ""), ("IntranetEndpoint", ""), ("StorageClass", "Standard")],
    // PostObject V4 (signature-version-4-recommend) and V1 (signature-version-1).
    form_signing: &[
        FormSigning {
            key_field: "x-oss-credential",
            signature_field: "x-oss-signature",
            scheme: FormScheme::SigV4(&oss4::PARAMS),
            every_field: false,
            signing_fields: &["x-oss-signature-version", "x-oss-date", "x-oss-security-token"],
        },
        FormSigning {
            key_field: "ossaccesskeyid",
            signature_field: "signature",
            scheme: FormScheme::HmacSha1,
            every_field: false,
            signing_fields: &["x-oss-security-token"],
        },
    ],
    // V1 (document_detail/31952) and V4 (add-signatures-to-urls) presigned URLs.
    presign_params: &[
        "OSSAccessKeyId",
        "Signature",
        "Expires",
        "security-token",
        "x-oss-signature-version",
        "x-oss-credential",
        "x-oss-date",
        "x-oss-expires",
        "x-oss-additional-headers",
        "x-oss-signature",
        "x-oss-security-token",
    ],
    query_signatures: &["Signature", "x-oss-signature"],
    probe: None,
};

/// `OSS ak:sig` (HMAC-SHA1), header or presigned (`OSSAccessKeyId`).
pub const V1: Scheme = Scheme {
    dialect: Dialect::Oss,
    name: "OSS",
};
/// `OSS4-HMAC-SHA256`, header or presigned (`x-oss-signature-version`).
pub const V4: Scheme = Scheme {
    dialect: Dialect::Oss,
    name: oss4::PARAMS.algorithm,
};
const V1_FAMILY: auth::V2Family = auth::V2Family {
    prefix: VOCAB.prefix,
    key_param: "OSSAccessKeyId",
    own: Some(v2::Flavor::Oss),
    obs_lists: false,
    prefixed_date_is_date: true,
    decoded_resource: true,
};

pub struct OssCloud;
pub static CLOUD: OssCloud = OssCloud;

impl Cloud for OssCloud {
    fn vocab(&self) -> &'static Vocabulary {
        &VOCAB
    }
    fn header_scheme(&self, a: &str) -> Option<Scheme> {
        if a.starts_with(oss4::PARAMS.algorithm) {
            Some(V4)
        } else {
            a.starts_with("OSS ").then_some(V1)
        }
    }
    fn query_scheme(&self, name: &str) -> Option<(Scheme, Claim)> {
        match name {
            "x-oss-signature" | "x-oss-credential" => Some((V4, Claim::Decisive)),
            "OSSAccessKeyId" => Some((V1, Claim::Decisive)),
            _ => None,
        }
    }
    fn verify<'k>(
        &self,
        scheme: Scheme,
        req: &WireRequest<'_>,
        lookup: Lookup<'_, 'k>,
        now: i64,
        max_skew: i64,
    ) -> Result<(String, Payload), ApiError> {
        if scheme == V4 {
            verify_v4(req, lookup, now, max_skew)
        } else {
            auth::verify_v2(req, &V1_FAMILY, lookup, now, max_skew)
        }
    }
    fn sign(&self, out: &Outbound, c: &Credentials<'_>, _: Option<&str>, now: i64) -> Headers {
        sign(out, c, now)
    }
}

/// The bucket and decoded key a request names: the Host's bucket, else the path's first segment.
fn bucket_and_key<'a>(host_bucket: Option<&'a str>, raw_path: &'a str) -> (Option<&'a str>, String) {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    match host_bucket {
        Some(b) => (Some(b), sign::percent_decode(path)),
        None => match path.split_once('/') {
            Some((b, k)) => (Some(b), sign::percent_decode(k)),
            None if path.is_empty() => (None, String::new()),
            None => (Some(path), String::new()),
        },
    }
}

/// V4's fields, from the `Authorization` header or the presigned query.
struct V4Fields {
    credential: String,
    additional: Vec<String>,
    signature: String,
    date: String,
    payload: String,
}

fn v4_fields(req: &WireRequest<'_>, now: i64, max_skew: i64) -> Result<V4Fields, ApiError> {
    if let Some(a) = req.header("authorization") {
        let rest = a.trim_start()[oss4::PARAMS.algorithm.len()..].trim_start();
        let (mut credential, mut additional, mut signature) = (None, String::new(), None);
        // Comma-separated `k=v` in any order, with or without spaces (oss2 differs from the rest).
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("Credential", v)) => credential = Some(v.to_string()),
                Some(("AdditionalHeaders", v)) => additional = v.to_string(),
                Some(("Signature", v)) => signature = Some(v.to_string()),
                _ => return Err(ApiError::malformed_auth(format!("unknown field '{part}'"))),
            }
        }
        let date = req
            .header("x-oss-date")
            .ok_or_else(|| ApiError::access_denied("V4 requires x-oss-date"))?
            .trim()
            .to_string();
        let t = parse_amz_date(&date)
            .ok_or_else(|| ApiError::access_denied("x-oss-date could not be parsed"))?;
        check_skew(t, now, max_skew)?;
        let missing = || ApiError::malformed_auth("Authorization lacks Credential or Signature");
        return Ok(V4Fields {
            credential: credential.ok_or_else(missing)?,
            additional: split_names(&additional),
            signature: signature.ok_or_else(missing)?,
            date,
            payload: req
                .header("x-oss-content-sha256")
                .unwrap_or(oss4::UNSIGNED_PAYLOAD)
                .to_string(),
        });
    }
    let get = |n: &str| -> Result<String, ApiError> {
        query_value(req.raw_query, n)?.ok_or_else(|| ApiError::malformed_auth(format!("{n} is missing")))
    };
    if get("x-oss-signature-version")? != oss4::PARAMS.algorithm {
        return Err(ApiError::malformed_auth("Unsupported x-oss-signature-version"));
    }
    let date = get("x-oss-date")?;
    let t = parse_amz_date(&date)
        .ok_or_else(|| ApiError::access_denied("x-oss-date could not be parsed"))?;
    // x-oss-expires is a validity in seconds, 1 to 604800 (add-signatures-to-urls).
    let expires: i64 = get("x-oss-expires")?
        .parse()
        .ok()
        .filter(|e| (1..=604_800).contains(e))
        .ok_or_else(|| ApiError::malformed_auth("x-oss-expires must be 1 to 604800 seconds"))?;
    if t + expires < now {
        return Err(ApiError::expired());
    }
    // Dated in the future past the skew allowed: refused as a header date would be.
    if t > now {
        check_skew(t, now, max_skew)?;
    }
    Ok(V4Fields {
        credential: get("x-oss-credential")?,
        additional: split_names(&query_value(req.raw_query, "x-oss-additional-headers")?.unwrap_or_default()),
        signature: get("x-oss-signature")?,
        date,
        payload: oss4::UNSIGNED_PAYLOAD.to_string(),
    })
}

fn split_names(list: &str) -> Vec<String> {
    let mut v: Vec<String> = list
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    v.sort();
    v
}

fn verify_v4<'k>(
    req: &WireRequest<'_>,
    lookup: Lookup<'_, 'k>,
    now: i64,
    max_skew: i64,
) -> Result<(String, Payload), ApiError> {
    let f = v4_fields(req, now, max_skew)?;
    let p = &oss4::PARAMS;
    let (ak, scope) = f
        .credential
        .split_once('/')
        .filter(|(ak, s)| !ak.is_empty() && s.ends_with(p.terminator) && s.split('/').count() == 4)
        .ok_or_else(|| ApiError::malformed_auth("Credential must be AK/date/region/oss/aliyun_v4_request"))?;
    if !f.date.starts_with(&scope[..8.min(scope.len())]) {
        return Err(ApiError::malformed_auth("The credential's date is not x-oss-date's"));
    }
    let key = secret(lookup, ak)?;
    let (bucket, object) = bucket_and_key(req.host_bucket, req.raw_path);
    let query = auth::decoded_query(req.raw_query, &["x-oss-signature"]);
    let additional: Vec<&str> = f.additional.iter().map(String::as_str).collect();
    // oss2 and alibabacloud-oss-v2 sign an empty value as the bare name, ali-oss as `k=`.
    let mut tried = Vec::new();
    for equals in [false, true] {
        let cr = oss4::canonical_request(
            req.method, bucket, &object, &query, req.headers, &additional, &f.payload, equals,
        );
        let sts = sigv4::string_to_sign(p, &f.date, scope, &cr);
        if sign::same_signature(&key.sigv4_signature(p, scope, &sts), &f.signature) {
            return Ok((ak.to_string(), Payload::Unsigned));
        }
        tried.push(cr);
    }
    Err(ApiError::signature_mismatch().with_detail(tried.swap_remove(0)))
}

/// `OSS4-HMAC-SHA256` header authentication for a request to an OSS service: `x-oss-date`,
/// `x-oss-content-sha256` and `authorization`. Signed: every `x-oss-*`, `content-type`,
/// `content-md5`.
pub fn sign(out: &Outbound, c: &Credentials<'_>, now: i64) -> Headers {
    let p = &oss4::PARAMS;
    let date = format_amz_date(now);
    let own = ["x-oss-date", "x-oss-content-sha256", "authorization"];
    let mut headers: Vec<(&str, &str)> = out
        .headers
        .iter()
        .filter(|(k, _)| !own.contains(&&**k))
        .map(|(k, v)| (&**k, v.as_str()))
        .collect();
    headers.push(("x-oss-date", &date));
    headers.push(("x-oss-content-sha256", oss4::UNSIGNED_PAYLOAD));
    let (bucket, key) = if c.virtual_hosted {
        (out.bucket.as_deref(), sign::percent_decode(out.path.trim_start_matches('/')))
    } else {
        bucket_and_key(None, &out.path)
    };
    let cr = oss4::canonical_request(
        &out.method,
        bucket,
        &key,
        &out.query,
        &headers,
        &[],
        oss4::UNSIGNED_PAYLOAD,
        false,
    );
    let scope = p.scope(&date, c.region);
    let sts = sigv4::string_to_sign(p, &date, &scope, &cr);
    let signature = c.secret.sigv4_signature(p, &scope, &sts);
    let auth = format!(
        "{} Credential={}/{scope},Signature={signature}",
        p.algorithm, c.access_key
    );
    vec![
        ("x-oss-date".into(), date),
        ("x-oss-content-sha256".into(), oss4::UNSIGNED_PAYLOAD.to_string()),
        ("authorization".into(), auth),
    ]
}
