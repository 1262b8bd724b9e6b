//! Browser uploads: a POST Object form (`multipart/form-data`) read up to its file part, its
//! signed policy verified in the client's dialect, and the PutObject it becomes.
//!
//! Each cloud signs the base64 policy with the client's key (vendor pages named beside each):
//! S3 SigV4 `x-amz-signature` = hex HMAC-SHA256 with the SigV4 key (S3 "POST policy" /
//! sigv4-HTTPPOSTConstructPolicy); S3 V2 `signature` and OBS `signature` (obs_04_0012, POST
//! upload) = base64 HMAC-SHA1(secret, policy); OSS V1 `Signature` likewise (PostObject,
//! signature-version-1), OSS V4 `x-oss-signature` = hex HMAC-SHA256 with the OSS4 key
//! (signature-version-4-recommend); COS `q-signature` = hex HMAC-SHA1(HMAC-SHA1(secret,
//! q-key-time), SHA1(policy JSON)) (POST Object 436/14690, "签名保护").

use crate::dialect::{Dialect, FormScheme, FormSigning};
use crate::error::ApiError;
use crate::sign::Secret;

/// Form fields before the file are buffered up to this much.
pub const FIELDS_CAP: usize = 64 << 10;

/// The fields of a form and its file part.
#[derive(Debug, Default)]
pub struct Form {
    /// (lower-case name, value), in order.
    pub fields: Vec<(String, String)>,
    pub file_name: String,
    pub file_type: Option<String>,
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn malformed(msg: &str) -> ApiError {
    ApiError::relayed(400, "MalformedPOSTRequest", msg)
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"'))
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// The fields up to the file part: `None` while more bytes are needed, else the form and the
/// offset where the file's bytes start.
pub fn read_fields(buf: &[u8], boundary: &str) -> Result<Option<(Form, usize)>, ApiError> {
    let first = format!("--{boundary}\r\n");
    let delimiter = format!("\r\n--{boundary}");
    if buf.len() < first.len() {
        return Ok(None);
    }
    if !buf.starts_with(first.as_bytes()) {
        return Err(malformed(
            "The body does not start with the form's boundary",
        ));
    }
    let mut form = Form::default();
    let mut pos = first.len();
    loop {
        let Some(end) = find(&buf[pos..], b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = std::str::from_utf8(&buf[pos..pos + end])
            .map_err(|_| malformed("A part's headers are not UTF-8"))?;
        let (name, file_name, content_type) = part_head(head)?;
        let start = pos + end + 4;
        if let Some(file_name) = file_name.filter(|_| name == "file") {
            form.file_name = file_name;
            form.file_type = content_type;
            return Ok(Some((form, start)));
        }
        if name == "file" {
            return Err(malformed("The file field has no file name"));
        }
        let Some(len) = find(&buf[start..], delimiter.as_bytes()) else {
            return Ok(None);
        };
        let value = std::str::from_utf8(&buf[start..start + len])
            .map_err(|_| malformed("A field's value is not UTF-8"))?;
        if form.fields.iter().any(|(k, _)| *k == name) {
            return Err(malformed("A field is given twice"));
        }
        form.fields.push((name, value.to_string()));
        let after = start + len + delimiter.len();
        match buf.get(after..after + 2) {
            None => return Ok(None),
            Some(b"\r\n") => pos = after + 2,
            Some(b"--") => return Err(malformed("The form has no file field")),
            Some(_) => return Err(malformed("A boundary is followed by neither CRLF nor --")),
        }
    }
}

/// (field name lower-cased, file name, content type) of a part's headers.
fn part_head(head: &str) -> Result<(String, Option<String>, Option<String>), ApiError> {
    let (mut name, mut file_name, mut content_type) = (None, None, None);
    for line in head.split("\r\n") {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(v.trim().to_string());
        } else if k.trim().eq_ignore_ascii_case("content-disposition") {
            for p in v.split(';').skip(1) {
                let Some((pk, pv)) = p.split_once('=') else {
                    continue;
                };
                let pv = pv.trim().trim_matches('"').to_string();
                match pk.trim() {
                    "name" => name = Some(pv.to_ascii_lowercase()),
                    "filename" => file_name = Some(pv),
                    _ => {}
                }
            }
        }
    }
    let name = name.ok_or_else(|| malformed("A part names no field"))?;
    Ok((name, file_name, content_type))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// A verified form: who signed it, in which dialect, and what its policy allows.
pub struct Signed {
    pub client: Dialect,
    /// Its cloud requires every field to be named by the policy.
    pub every_field: bool,
    pub access_key: String,
    pub policy: Policy,
}

/// Each cloud's form signings, in the order they are tried.
fn signings() -> impl Iterator<Item = (Dialect, &'static FormSigning)> {
    Dialect::ALL
        .into_iter()
        .flat_map(|d| d.vocab().form_signing.iter().map(move |f| (d, f)))
}

/// Verify the form's signature over its policy with the client's key.
pub fn verify<'k>(
    form: &Form,
    lookup: &dyn Fn(&str) -> Option<&'k Secret>,
    now: i64,
) -> Result<Signed, ApiError> {
    let Some((client, signing)) = signings()
        .find(|(_, f)| form.get(f.key_field).is_some() && form.get(f.signature_field).is_some())
    else {
        return Err(ApiError::access_denied(
            "The form carries no signature the gateway knows",
        ));
    };
    let (key_field, sig_field) = (signing.key_field, signing.signature_field);
    let policy_b64 = form
        .get("policy")
        .ok_or_else(|| malformed("The form has no policy"))?;
    let credential = form.get(key_field).unwrap_or("");
    let access_key = credential.split('/').next().unwrap_or("").to_string();
    let secret = lookup(&access_key).ok_or_else(ApiError::invalid_access_key)?;
    let given = form.get(sig_field).unwrap_or("");
    let json = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, policy_b64)
        .map_err(|_| malformed("The policy is not base64"))?;
    let (mine, given) = match signing.scheme {
        FormScheme::SigV4(p) => {
            let scope = credential.split_once('/').map_or("", |(_, s)| s);
            let mine = secret.sigv4_signature(p, scope, policy_b64);
            (mine, given.to_ascii_lowercase())
        }
        FormScheme::Cos => {
            let key_time = form.get("q-key-time").unwrap_or("");
            let sk = crate::sign::cos::sign_key(secret.expose(), key_time);
            let hash = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&json));
            (
                crate::sign::cos::signature(&sk, &hash),
                given.to_ascii_lowercase(),
            )
        }
        FormScheme::HmacSha1 => (secret.v2_signature(policy_b64), given.to_string()),
    };
    if !crate::sign::same_signature(&mine, &given) {
        return Err(ApiError::signature_mismatch());
    }
    let policy = Policy::parse(&json, now)?;
    Ok(Signed {
        client,
        every_field: signing.every_field,
        access_key,
        policy,
    })
}

/// A POST policy: its conditions, checked against the form once it is signed.
#[derive(Debug)]
pub struct Policy {
    conditions: Vec<serde_json::Value>,
}

/// Fields no condition needs to name (the signature's own, and S3's `x-ignore-`).
fn exempt(name: &str) -> bool {
    signings().any(|(_, f)| f.signature_field == name)
        || matches!(name, "policy" | "file")
        || name.starts_with("x-ignore-")
}

impl Policy {
    pub fn parse(json: &[u8], now: i64) -> Result<Policy, ApiError> {
        let v: serde_json::Value =
            serde_json::from_slice(json).map_err(|_| malformed("The policy is not JSON"))?;
        let expiration = v["expiration"]
            .as_str()
            .ok_or_else(|| malformed("The policy has no expiration"))?;
        let t =
            time::OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
                .map_err(|_| malformed("The policy's expiration is not an ISO 8601 date"))?;
        if t.unix_timestamp() < now {
            return Err(ApiError::access_denied(
                "Invalid according to Policy: Policy expired.",
            ));
        }
        let conditions = v["conditions"]
            .as_array()
            .cloned()
            .ok_or_else(|| malformed("The policy has no conditions"))?;
        Ok(Policy { conditions })
    }

    /// Every condition holds for the form (with `bucket`); `every_field`: each field is named by
    /// one, as S3 requires (sigv4-HTTPPOSTConstructPolicy); the other clouds check conditions only.
    /// Gives the `content-length-range`, if any.
    pub fn check(
        &self,
        form: &Form,
        bucket: &str,
        every_field: bool,
    ) -> Result<Option<(u64, u64)>, ApiError> {
        let fail = |why: String| {
            ApiError::access_denied(format!(
                "Invalid according to Policy: Policy Condition failed: {why}"
            ))
        };
        let value = |name: &str| -> String {
            match name {
                "bucket" => bucket.to_string(),
                _ => form.get(name).unwrap_or("").to_string(),
            }
        };
        let mut named: Vec<String> = vec!["bucket".into()];
        let mut range = None;
        for c in &self.conditions {
            if let Some(obj) = c.as_object() {
                for (k, v) in obj {
                    let k = k.to_ascii_lowercase();
                    let want = v.as_str().unwrap_or_default();
                    if value(&k) != want {
                        return Err(fail(format!("[\"eq\", \"${k}\", \"{want}\"]")));
                    }
                    named.push(k);
                }
                continue;
            }
            let a = c.as_array().map(Vec::as_slice).unwrap_or_default();
            match a {
                [op, field, want] if op.as_str().is_some() && field.as_str().is_some() => {
                    let op = op.as_str().unwrap_or_default().to_ascii_lowercase();
                    if op == "content-length-range" {
                        range = Some((field.as_u64().unwrap_or(0), want.as_u64().unwrap_or(0)));
                        continue;
                    }
                    let field = field.as_str().unwrap_or_default();
                    let name = field.trim_start_matches('$').to_ascii_lowercase();
                    let want = want.as_str().unwrap_or_default();
                    let have = value(&name);
                    let ok = match op.as_str() {
                        "eq" => have == want,
                        "starts-with" => have.starts_with(want),
                        _ => false,
                    };
                    if !ok {
                        return Err(fail(format!("[\"{op}\", \"{field}\", \"{want}\"]")));
                    }
                    named.push(name);
                }
                [op, min, max] if op.as_str() == Some("content-length-range") => {
                    range = Some((min.as_u64().unwrap_or(0), max.as_u64().unwrap_or(0)));
                }
                _ => return Err(malformed("A policy condition is not understood")),
            }
        }
        for (k, _) in form.fields.iter().filter(|_| every_field) {
            if !exempt(k) && !named.iter().any(|n| n == k) && !credential_field(k) {
                return Err(ApiError::access_denied(format!(
                    "Invalid according to Policy: Extra input fields: {k}"
                )));
            }
        }
        Ok(range)
    }
}

/// Signing inputs a policy need not name, as each cloud lists them in its vocabulary.
fn credential_field(k: &str) -> bool {
    signings().any(|(_, f)| f.key_field == k || f.signing_fields.contains(&k))
}

/// The object key: the `key` field, `${filename}` replaced by the file's name.
pub fn object_key(form: &Form) -> Result<String, ApiError> {
    let key = form
        .get("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| malformed("The form has no key"))?;
    Ok(key.replace("${filename}", &form.file_name))
}

/// A POST to a bucket carrying a form: planned as a form upload (its signature is in its fields).
pub fn plan(
    inb: &super::Inbound,
    bucket: Option<&String>,
    has_key: bool,
    client: Dialect,
    resource: &str,
) -> Option<super::Plan> {
    if inb.method != "POST" || has_key {
        return None;
    }
    let boundary = inb.header("content-type").and_then(boundary)?;
    Some(super::Plan::PostObject(Box::new(super::PostForm {
        client,
        bucket: bucket?.clone(),
        boundary: boundary.to_string(),
        length: inb
            .header("content-length")
            .and_then(|l| l.trim().parse().ok()),
        resource: resource.to_string(),
        host: inb.header("host").unwrap_or("").to_string(),
    })))
}
