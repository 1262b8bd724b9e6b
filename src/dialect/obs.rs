//! Huawei OBS native (`x-obs-*`).

use super::auth::{self, Payload, WireRequest};
use super::cloud::{Claim, Cloud, Lookup, Scheme};
use super::wire::{Credentials, Headers, Outbound};
use super::{Dialect, FormScheme, FormSigning, VirtualHost, Vocabulary};
use crate::error::ApiError;
use crate::sign::v2;

pub const VOCAB: Vocabulary = Vocabulary {
    name: "obs",
    prefix: "x-obs-",
    request_id: "x-obs-request-id",
    id2: Some("x-obs-id-2"),
    xmlns: "http://obs.myhwclouds.com/doc/2015-06-30/",
    server: "OBS",
    renames: &[(
        "server-side-encryption-aws-kms-key-id",
        "server-side-encryption-kms-key-id",
    )],
    bucket_renames: &[],
    values: &[
        ("storage-class", "STANDARD_IA", "WARM"),
        ("storage-class", "GLACIER", "COLD"),
        ("server-side-encryption", "aws:kms", "kms"),
    ],
    unsupported: &[
        "checksum-crc32",
        "checksum-crc32c",
        "checksum-crc64nvme",
        "checksum-sha1",
        "checksum-sha256",
        "traffic-limit",
        "server-side-encryption-context",
        "checksum-mode",
        "checksum-algorithm",
        "checksum-type",
        "sdk-checksum-algorithm",
    ],
    refused: &[],
    error_trace_id: false,
    xml_decl: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    bare_copy_result: false,
    result_etag_header: false,
    whole_second_dates: false,
    entry_defaults: &[],
    copy_source_host: None,
    mixed_conditions: false,
    sdk_raises_200_error: false,
    bucket_dots: true,
    host_markers: &[".myhuaweicloud.com"],
    // <bucket>.obs.<region>.myhuaweicloud.com
    virtual_hosts: &[VirtualHost {
        suffix: ".myhuaweicloud.com",
        from_end: 4,
        service: "obs",
        service_prefix: false,
    }],
    min_part_size: 100 << 10,
    // "Listing Objects in a Bucket" (obs_04_0022) documents marker/max-keys/delimiter only;
    // deployments that serve V2 too are set per backend (`list_v2 = true`).
    list_v2: false,
    // PUT Object (obs_04_0080) and Uploading Parts (obs_04_0099) check Content-MD5 only.
    checksums: false,
    // PUT Object (obs_04_0080): STANDARD, WARM, COLD; DEEP_ARCHIVE and INTELLIGENT_TIERING as
    // esdk-obs-python's convertor.py accepts them (OBS_ALLOWED_STORAGE_CLASS).
    storage_classes: &[
        "STANDARD",
        "WARM",
        "COLD",
        "DEEP_ARCHIVE",
        "INTELLIGENT_TIERING",
    ],
    // PUT Object (obs_04_0080) for objects, with bucket-owner-full-control (an object policy in
    // obs_04_0021 and esdk-obs-python's allow-list); PUT Bucket ACL (obs_04_0030) for buckets.
    object_acls: &[
        "private",
        "public-read",
        "public-read-write",
        "bucket-owner-full-control",
    ],
    bucket_acls: &[
        "private",
        "public-read",
        "public-read-write",
        "public-read-delivered",
        "public-read-write-delivered",
    ],
    // Creating a Bucket (obs_04_0021): `<Location>`, required at every regional endpoint;
    // Obtaining Bucket Location (obs_04_0024) answers `<Location>` too.
    bucket_location: Some("Location"),
    location_root: "Location",
    // obs.myhuaweicloud.com (no region in the host) is the default region's: no <Location> there.
    default_region: "",
    own_bucket_config: None,
    // Configuring a Bucket ACL (obs_04_0030): the native API's one group is `Everyone`.
    acl_groups: &["global/AllUsers"],
    group_uri: None,
    // Restoring Cold Objects (obs_04_0087).
    restore_job: "RestoreJob",
    restore_tiers: &["Expedited", "Standard"],
    // Required by Deleting Objects (obs_04_0086), lifecycle (obs_04_0034), tagging (obs_04_0049),
    // CORS (obs_04_0074), replication (obs_04_0046), restore (obs_04_0087).
    md5_required: &[
        "delete",
        "lifecycle",
        "cors",
        "tagging",
        "replication",
        "restore",
    ],
    form_encoded_query: false,
    encoding_sdk: Some("obs-sdk-"),
    // esdk-obs-python sends `obs-sdk-python/<version>` (const.py), as `encoding_sdk` reads it.
    sdk_agents: &["obs-sdk-"],
    // ListBuckets entries carry BucketType, OBJECT for object buckets (obs_04_0020).
    bucket_entry: &[("BucketType", "OBJECT")],
    // POST upload (obs_04_0012): base64 HMAC-SHA1 of the base64 policy.
    form_signing: &[FormSigning {
        key_field: "accesskeyid",
        signature_field: "signature",
        scheme: FormScheme::HmacSha1,
        every_field: false,
        signing_fields: &["x-obs-security-token"],
    }],
    // obs_04_0011 (query authentication)
    presign_params: &["AccessKeyId", "Signature", "Expires", "x-obs-security-token"],
    query_signatures: &["Signature"],
    probe: Some(("apiversion", "x-obs-api", "3.0")),
};

/// Characters esdk-obs-python leaves unencoded in header values (it percent-encodes the rest).
pub(super) const HEADER_SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ')
    .remove(b';')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b',')
    .remove(b'\'')
    .remove(b'*');

/// `OBS ak:sig`, and its presigned form (`AccessKeyId`, `Signature`, `Expires`).
pub const V2: Scheme = Scheme {
    dialect: Dialect::Obs,
    name: "OBS",
};
const V2_FAMILY: auth::V2Family = auth::V2Family {
    prefix: VOCAB.prefix,
    key_param: "AccessKeyId",
    own: None,
    obs_lists: true,
    prefixed_date_is_date: false,
    decoded_resource: false,
};

pub struct ObsCloud;
pub static CLOUD: ObsCloud = ObsCloud;

impl Cloud for ObsCloud {
    fn vocab(&self) -> &'static Vocabulary {
        &VOCAB
    }
    fn header_scheme(&self, a: &str) -> Option<Scheme> {
        a.starts_with("OBS ").then_some(V2)
    }
    fn query_scheme(&self, name: &str) -> Option<(Scheme, Claim)> {
        (name == "AccessKeyId").then_some((V2, Claim::Weak))
    }
    fn verify<'k>(
        &self,
        _: Scheme,
        req: &WireRequest<'_>,
        lookup: Lookup<'_, 'k>,
        now: i64,
        max_skew: i64,
    ) -> Result<(String, Payload), ApiError> {
        auth::verify_v2(req, &V2_FAMILY, lookup, now, max_skew)
    }
    fn sign(&self, out: &Outbound, c: &Credentials<'_>, _: Option<&str>, now: i64) -> Headers {
        sign(out, c, now)
    }
}

/// `OBS ak:sig` header authentication for a request to an OBS service.
/// The headers to set: `date` and `authorization`.
pub fn sign(out: &Outbound, c: &Credentials<'_>, now: i64) -> Headers {
    let date = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64),
    );
    let resource = match &out.bucket {
        Some(bk) if c.virtual_hosted => format!("/{bk}{}", out.path),
        _ => out.path.clone(),
    };
    let headers = super::auth::borrowed(&out.headers);
    let sts = v2::string_to_sign(&v2::V2Input {
        method: &out.method,
        content_md5: out.header("content-md5").unwrap_or(""),
        content_type: out.header("content-type").unwrap_or(""),
        date: &date,
        headers: &headers,
        prefix: VOCAB.prefix,
        resource: &resource,
        query: &out.query,
        flavor: v2::Flavor::Obs,
        date_as_given: false,
    });
    let auth = format!("OBS {}:{}", c.access_key, c.secret.v2_signature(&sts));
    vec![("date".into(), date), ("authorization".into(), auth)]
}
