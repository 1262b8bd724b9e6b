//! What differs between clouds on the wire, as data: one `Vocabulary` per cloud's file.

/// A cloud's virtual-hosted endpoint: a Host ending in `suffix` whose label `from_end` labels from
/// the end is the service's (`b.cos.ap-guangzhou.myqcloud.com`: `cos`, 4) names the bucket before it.
#[derive(Clone, Copy, Debug)]
pub struct VirtualHost {
    pub suffix: &'static str,
    pub from_end: usize,
    pub service: &'static str,
    /// The service label only starts so (`cos-internal`, `s3-accelerate`...).
    pub service_prefix: bool,
}

/// How a browser form (POST Object) of this cloud is signed: the fields naming the key and the
/// signature, and what the signature is over the base64 policy.
#[derive(Clone, Copy, Debug)]
pub struct FormSigning {
    /// Lower-case field names.
    pub key_field: &'static str,
    pub signature_field: &'static str,
    pub scheme: FormScheme,
    /// Every form field must be named by a policy condition (S3's rule; the others check
    /// conditions only).
    pub every_field: bool,
    /// The other fields of its signature, which a policy need not name.
    pub signing_fields: &'static [&'static str],
}

#[derive(Clone, Copy, Debug)]
pub enum FormScheme {
    /// Hex HMAC-SHA256 with the SigV4-family key of the credential's scope.
    SigV4(&'static crate::sign::sigv4::Params),
    /// Base64 HMAC-SHA1(secret, policy).
    HmacSha1,
    /// COS: hex HMAC-SHA1(hex HMAC-SHA1(secret, q-key-time), hex SHA1(policy JSON)).
    Cos,
}

/// Everything that differs between dialects on the wire, as data.
pub struct Vocabulary {
    pub name: &'static str,
    /// Header namespace: `x-amz-`, `x-obs-`, `x-cos-`.
    pub prefix: &'static str,
    pub request_id: &'static str,
    pub id2: Option<&'static str>,
    /// XML namespace of result documents.
    pub xmlns: &'static str,
    /// `Server` header value.
    pub server: &'static str,
    /// Header suffixes that differ from the neutral (S3) suffix: (neutral, wire).
    pub renames: &'static [(&'static str, &'static str)],
    /// Renames that hold on bucket requests instead (OSS: `x-oss-acl` there, `x-oss-object-acl` on objects).
    pub bucket_renames: &'static [(&'static str, &'static str)],
    /// Header values that differ from the neutral (S3) value, per neutral suffix: (suffix, neutral, wire).
    pub values: &'static [(&'static str, &'static str, &'static str)],
    /// Neutral suffixes this dialect has no header for (dropped when rendering into it).
    pub unsupported: &'static [&'static str],
    /// Neutral suffixes its service has no equivalent for that must not be dropped (a client
    /// that asked for customer-provided encryption would believe it applied): refused.
    pub refused: &'static [&'static str],
    /// Error documents carry `TraceId` (COS) instead of `HostId`.
    pub error_trace_id: bool,
    /// The XML declaration its error documents start with.
    pub xml_decl: &'static str,
    /// Its copy results carry no namespace and put the ETag first.
    pub bare_copy_result: bool,
    /// Its SDKs read a copy's or Complete's ETag from the answer's `ETag` header (oss2, ali-oss):
    /// such a result cannot be kept alive (its header would be gone before the result is known).
    pub result_etag_header: bool,
    /// Its SDKs parse document dates only as whole seconds, `.000Z` (oss2 `utils._ISO8601_RE`).
    pub whole_second_dates: bool,
    /// Elements its SDKs require in listing entries, given where a backend's have none:
    /// (entry, element, value).
    pub entry_defaults: &'static [(&'static str, &'static str, &'static str)],
    /// It names a copy source by host (`<bucket>.<host>/<key>`); renders that host from the
    /// backend's host and region.
    pub copy_source_host: Option<fn(&str, &str) -> String>,
    /// Its service takes any combination of copy conditions (and applies S3's precedence).
    pub mixed_conditions: bool,
    /// Its SDK reports a 200 whose body is an `<Error>` as an error (botocore does; the OBS and
    /// COS SDKs hand it back as a result without ETag).
    pub sdk_raises_200_error: bool,
    /// Its bucket names may hold dots (COS's may not).
    pub bucket_dots: bool,
    /// Substrings of a Host header that name this cloud (to guess the dialect of a refused request).
    pub host_markers: &'static [&'static str],
    /// Its service's virtual-hosted names (`<bucket>.<service label>...<suffix>`).
    pub virtual_hosts: &'static [VirtualHost],
    /// Smallest non-last multipart part its service accepts.
    pub min_part_size: u64,
    /// Storage classes its service takes (wire values); a value outside has no equivalent there.
    pub storage_classes: &'static [&'static str],
    /// Canned ACLs its service takes on objects, and on buckets.
    pub object_acls: &'static [&'static str],
    pub bucket_acls: &'static [&'static str],
    /// The element of its CreateBucket configuration that names the region (`None`: it takes
    /// none, the host names it).
    pub bucket_location: Option<&'static str>,
    /// The region assumed when none is configured or named by the host; a bucket made there
    /// names no location (S3 refuses `us-east-1` as a constraint; OBS's default endpoint needs none).
    pub default_region: &'static str,
    /// An element of its own CreateBucket configuration that goes on as it is (COS multi-AZ).
    pub own_bucket_config: Option<&'static str>,
    /// The root element of its GetBucketLocation answer.
    pub location_root: &'static str,
    /// The groups its ACL documents can name (neutral: `global/AllUsers`...), and the URI prefix
    /// it names them by (`None`: OBS's `<Canned>Everyone</Canned>`).
    pub acl_groups: &'static [&'static str],
    pub group_uri: Option<&'static str>,
    /// The job element of its restore request, and the tiers it offers.
    pub restore_job: &'static str,
    pub restore_tiers: &'static [&'static str],
    /// Sub-resources (query names) whose PUT/POST body its service takes only with `Content-MD5`.
    pub md5_required: &'static [&'static str],
    /// Its service keeps S3's flexible checksums (headers, trailers, multipart algorithm and part
    /// checksums, `checksum-mode`); else the proxy verifies them and they go no further.
    pub checksums: bool,
    /// Its service answers ListObjectsV2 (`list-type=2`); else only the V1 listing (`marker`).
    pub list_v2: bool,
    /// Its presigned URLs write a space as '+' (form encoding).
    pub form_encoded_query: bool,
    /// A User-Agent prefix of its SDK, which percent-encodes header values whatever it signs with.
    pub encoding_sdk: Option<&'static str>,
    /// User-Agent prefixes of its SDKs: the dialect of an unsigned request with nothing else
    /// to tell it (anonymous reads answered in the SDK's own shape).
    pub sdk_agents: &'static [&'static str],
    /// Elements its SDKs require in a ListBuckets entry beyond name, date and location:
    /// (element, value) as the gateway renders its own answer.
    pub bucket_entry: &'static [(&'static str, &'static str)],
    /// Its POST Object form signatures.
    pub form_signing: &'static [FormSigning],
    /// The query parameters of its presigned URLs (credentials, signature, expiry, token): they
    /// never go upstream. A name ending in `*` stands for every name it starts.
    pub presign_params: &'static [&'static str],
    /// Those of them that carry a signature (a request has one auth mechanism at most).
    pub query_signatures: &'static [&'static str],
    /// An anonymous `HEAD /<bucket>?<param>` its SDK sends to learn the signature type, and the
    /// header that answers it: (param, header, value).
    pub probe: Option<(&'static str, &'static str, &'static str)>,
}
