//! AWS S3 (and Yandex, OBS/COS in S3 mode): the neutral vocabulary itself.

use super::auth::{self, Payload, WireRequest};
use super::cloud::{Claim, Cloud, Lookup, Scheme};
use super::wire::{Credentials, Headers, Outbound};
use super::{Dialect, FormScheme, FormSigning, VirtualHost, Vocabulary};
use crate::dates::format_amz_date;
use crate::error::ApiError;
use crate::sign::{self, sigv4};

pub const VOCAB: Vocabulary = Vocabulary {
    name: "s3",
    prefix: "x-amz-",
    request_id: "x-amz-request-id",
    id2: Some("x-amz-id-2"),
    xmlns: "http://s3.amazonaws.com/doc/2006-03-01/",
    server: "AmazonS3",
    renames: &[],
    bucket_renames: &[],
    values: &[],
    unsupported: &["traffic-limit", "server-side-encryption-context"],
    refused: &[],
    error_trace_id: false,
    xml_decl: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    bare_copy_result: false,
    result_etag_header: false,
    whole_second_dates: false,
    entry_defaults: &[],
    copy_source_host: None,
    mixed_conditions: true,
    sdk_raises_200_error: true,
    bucket_dots: true,
    host_markers: &[],
    // <bucket>.s3.amazonaws.com, <bucket>.s3[-.]<region>.amazonaws.com, <bucket>.storage.yandexcloud.net
    virtual_hosts: &[
        VirtualHost {
            suffix: ".amazonaws.com",
            from_end: 3,
            service: "s3",
            service_prefix: false,
        },
        VirtualHost {
            suffix: ".amazonaws.com",
            from_end: 4,
            service: "s3",
            service_prefix: true,
        },
        VirtualHost {
            suffix: ".storage.yandexcloud.net",
            from_end: 3,
            service: "storage",
            service_prefix: false,
        },
    ],
    min_part_size: 5 << 20,
    list_v2: true,
    // "Checking object integrity" (S3 User Guide), PutObject/UploadPart x-amz-checksum-*,
    // CreateMultipartUpload x-amz-checksum-algorithm/-type, CompleteMultipartUpload Checksum*.
    checksums: true,
    // PutObject, CreateBucket and "Canned ACL" in the S3 API reference / user guide.
    storage_classes: &[
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    ],
    object_acls: &[
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "aws-exec-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    ],
    bucket_acls: &[
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "log-delivery-write",
    ],
    // CreateBucket's CreateBucketConfiguration; GetBucketLocation's LocationConstraint.
    bucket_location: Some("LocationConstraint"),
    location_root: "LocationConstraint",
    default_region: "us-east-1",
    own_bucket_config: None,
    // "Access control list (ACL) overview", Amazon S3 predefined groups.
    acl_groups: &[
        "global/AllUsers",
        "global/AuthenticatedUsers",
        "s3/LogDelivery",
    ],
    group_uri: Some("http://acs.amazonaws.com/groups/"),
    // RestoreObject.
    restore_job: "GlacierJobParameters",
    restore_tiers: &["Standard", "Bulk", "Expedited"],
    // S3 takes Content-MD5 or an x-amz-checksum-* header, which passes through from S3 clients.
    md5_required: &[],
    form_encoded_query: false,
    encoding_sdk: None,
    sdk_agents: &[],
    bucket_entry: &[],
    // POST policy: SigV4 (sigv4-HTTPPOSTConstructPolicy) and V2 (HTTPPOSTForms).
    form_signing: &[
        FormSigning {
            key_field: "x-amz-credential",
            signature_field: "x-amz-signature",
            scheme: FormScheme::SigV4(&crate::sign::sigv4::AWS),
            every_field: true,
            signing_fields: &["x-amz-algorithm", "x-amz-date", "x-amz-security-token"],
        },
        FormSigning {
            key_field: "awsaccesskeyid",
            signature_field: "signature",
            scheme: FormScheme::HmacSha1,
            every_field: true,
            signing_fields: &["x-amz-security-token"],
        },
    ],
    // V2 presigned URLs carry the token lower-case (botocore HmacV1QueryAuth).
    presign_params: &[
        "X-Amz-*",
        "AWSAccessKeyId",
        "Signature",
        "Expires",
        "x-amz-security-token",
    ],
    query_signatures: &["X-Amz-Signature", "Signature"],
    probe: None,
};

pub const SIGV4: Scheme = Scheme {
    dialect: Dialect::S3,
    name: sigv4::ALGORITHM,
};
/// Signature V2 (`AWS ak:sig`), which the OBS SDK also signs with.
pub const V2: Scheme = Scheme {
    dialect: Dialect::S3,
    name: "AWS",
};
const V2_FAMILY: auth::V2Family = auth::V2Family {
    prefix: VOCAB.prefix,
    key_param: "AWSAccessKeyId",
    own: Some(sign::v2::Flavor::Aws),
    obs_lists: true,
    prefixed_date_is_date: false,
    decoded_resource: false,
};

pub struct S3Cloud;
pub static CLOUD: S3Cloud = S3Cloud;

impl Cloud for S3Cloud {
    fn vocab(&self) -> &'static Vocabulary {
        &VOCAB
    }
    fn header_scheme(&self, a: &str) -> Option<Scheme> {
        if a.starts_with(sigv4::ALGORITHM) {
            Some(SIGV4)
        } else {
            a.starts_with("AWS ").then_some(V2)
        }
    }
    fn query_scheme(&self, name: &str) -> Option<(Scheme, Claim)> {
        match name {
            "X-Amz-Signature" | "X-Amz-Credential" => Some((SIGV4, Claim::Decisive)),
            "AWSAccessKeyId" => Some((V2, Claim::Strong)),
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
        if scheme == SIGV4 {
            super::v4::verify(req, lookup, now, max_skew)
        } else {
            auth::verify_v2(req, &V2_FAMILY, lookup, now, max_skew)
        }
    }
    fn sign(&self, out: &Outbound, c: &Credentials<'_>, p: Option<&str>, now: i64) -> Headers {
        sign(out, c, p, now)
    }
}

/// aws-chunked bodies state their decoded length here.
pub const DECODED_LENGTH: &str = "x-amz-decoded-content-length";

/// SigV4 header authentication for a request to an S3 service: the headers to set.
/// Signed: `host`, every `x-amz-*`, `content-md5`, `content-type` and `range`.
pub fn sign(out: &Outbound, c: &Credentials<'_>, payload: Option<&str>, now: i64) -> Headers {
    let amz_date = format_amz_date(now);
    let payload = payload.unwrap_or("UNSIGNED-PAYLOAD");
    let added = [
        ("x-amz-date", amz_date.as_str()),
        ("x-amz-content-sha256", payload),
    ];
    let replaced = |k: &str| added.iter().any(|(a, _)| *a == k) || k == "authorization";
    let mut signed: Vec<&str> = out
        .headers
        .iter()
        .map(|(k, _)| &**k)
        .filter(|k| !replaced(k))
        .chain(added.iter().map(|(k, _)| *k))
        .filter(|k| {
            k.starts_with(VOCAB.prefix)
                || matches!(*k, "host" | "content-md5" | "content-type" | "range")
        })
        .collect();
    signed.sort_unstable();
    signed.dedup();
    let p = &sigv4::AWS;
    let scope = p.scope(&amz_date, c.region);
    let cr = sigv4::canonical_request(
        &out.method,
        &out.path,
        &sigv4::canonical_query(&out.query),
        &signed,
        // A header set by an earlier signing of this request (a retry) is replaced, not repeated.
        |h| {
            let own = added.iter().filter(move |(a, _)| *a == h).map(|(_, v)| *v);
            let theirs = out
                .headers
                .iter()
                .filter(move |(k, _)| k == h && !replaced(k))
                .map(|(_, v)| v.as_str());
            own.chain(theirs)
        },
        payload,
    );
    let sts = sigv4::string_to_sign(p, &amz_date, &scope, &cr);
    let auth = sigv4::authorization(
        p,
        c.access_key,
        &scope,
        &signed,
        &c.secret.sigv4_signature(p, &scope, &sts),
    );
    vec![
        ("x-amz-date".into(), amz_date),
        ("x-amz-content-sha256".into(), payload.to_string()),
        ("authorization".into(), auth),
    ]
}
