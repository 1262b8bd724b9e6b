//! OBS native and AWS signature V2: the same HMAC-SHA1 algorithm, differing in the header
//! prefix (`x-obs-` / `x-amz-`) and in which query parameters count as sub-resources.

use base64::Engine;

/// Which sub-resource list decides what query parameters are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// esdk-obs-python / OBS doc list, matched case-insensitively, plus any `x-obs-*` param.
    Obs,
    /// botocore `HmacV1Auth.QSAOfInterest`, matched exactly.
    Aws,
}

const OBS_SUBRESOURCES: &[&str] = &[
    "acl",
    "append",
    "attname",
    "backtosource",
    "bucketstatus",
    "cdnnotifyconfiguration",
    "cors",
    "customdomain",
    "delete",
    "deletebucket",
    "directcoldaccess",
    "dispolicy",
    "encryption",
    "fileinterface",
    "inventory",
    "length",
    "lifecycle",
    "location",
    "logging",
    "metadata",
    "mirrorbacktosource",
    "modify",
    "name",
    "notification",
    "obsbucketalias",
    "obsalias",
    "obscompresspolicy",
    "object-lock",
    "partnumber",
    "policy",
    "policystatus",
    "position",
    "publicaccessblock",
    "quota",
    "rename",
    "replication",
    "requestpayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "storageclass",
    "storageinfo",
    "storagepolicy",
    "tagging",
    "torrent",
    "truncate",
    "uploadid",
    "uploads",
    "versionid",
    "versioning",
    "versions",
    "website",
    "x-image-process",
    "x-image-save-bucket",
    "x-image-save-object",
    "x-oss-process",
];

const AWS_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "cors",
    "defaultObjectAcl",
    "location",
    "logging",
    "partNumber",
    "policy",
    "requestPayment",
    "torrent",
    "versioning",
    "versionId",
    "versions",
    "website",
    "uploads",
    "uploadId",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "delete",
    "lifecycle",
    "tagging",
    "restore",
    "storageClass",
    "notification",
    "replication",
    "analytics",
    "metrics",
    "inventory",
    "select",
    "select-type",
    "object-lock",
];

impl Flavor {
    pub fn is_subresource(self, name: &str) -> bool {
        match self {
            Flavor::Obs => {
                let lower = name.to_ascii_lowercase();
                lower.starts_with("x-obs-") || OBS_SUBRESOURCES.contains(&lower.as_str())
            }
            Flavor::Aws => AWS_SUBRESOURCES.contains(&name),
        }
    }
}

/// The parts of a request that V2/OBS signs.
pub struct V2Input<'a> {
    pub method: &'a str,
    pub content_md5: &'a str,
    pub content_type: &'a str,
    /// `Date` header, or `Expires` for a presigned URL.
    pub date: &'a str,
    /// All headers as (lower-case name, value); only those with `prefix` are used.
    pub headers: &'a [(String, String)],
    /// `x-obs-` or `x-amz-`.
    pub prefix: &'a str,
    /// `/bucket/encoded-key` exactly as on the wire (bucket prepended for virtual hosts).
    pub resource: &'a str,
    /// Decoded query parameters; only sub-resources are used.
    pub query: &'a [(String, Option<String>)],
    pub flavor: Flavor,
    /// True when the date slot is set by the caller regardless of `x-*-date` (presigned).
    pub presigned: bool,
}

pub fn string_to_sign(i: &V2Input<'_>) -> String {
    let date_header = format!("{}date", i.prefix);
    let meta = format!("{}meta-", i.prefix);
    let mut canon: Vec<(&str, Vec<&str>)> = Vec::new();
    for (k, v) in i.headers {
        if !k.starts_with(i.prefix) {
            continue;
        }
        let v = if k.starts_with(&meta) {
            v.trim()
        } else {
            v.as_str()
        };
        match canon.iter_mut().find(|(n, _)| n == k) {
            Some((_, vals)) => vals.push(v),
            None => canon.push((k.as_str(), vec![v])),
        }
    }
    canon.sort_by(|a, b| a.0.cmp(b.0));
    let has_date_override = canon.iter().any(|(k, _)| *k == date_header);
    let date = if has_date_override && !i.presigned {
        ""
    } else {
        i.date
    };

    let mut s = String::with_capacity(256);
    s.push_str(i.method);
    s.push('\n');
    s.push_str(i.content_md5);
    s.push('\n');
    s.push_str(i.content_type);
    s.push('\n');
    s.push_str(date);
    s.push('\n');
    for (k, vals) in &canon {
        s.push_str(k);
        s.push(':');
        s.push_str(&vals.join(","));
        s.push('\n');
    }
    s.push_str(i.resource);
    let mut subs: Vec<&(String, Option<String>)> = i
        .query
        .iter()
        .filter(|(k, _)| i.flavor.is_subresource(k))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, (k, v)) in subs.iter().enumerate() {
        s.push(if n == 0 { '?' } else { '&' });
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mac = super::hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac)
}
