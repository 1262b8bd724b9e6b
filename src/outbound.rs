//! The request as the backend receives it, and its signature in the backend's scheme.

use crate::config::{Addressing, Backend};
use crate::dialect::Dialect;
use crate::sign::{self, cos, sigv4, v2};

#[derive(Clone, Debug, Default)]
pub struct Outbound {
    pub method: String,
    /// Encoded path as sent (`/bucket/key` or `/key` for virtual addressing).
    pub path: String,
    /// Decoded query parameters.
    pub query: Vec<(String, Option<String>)>,
    /// (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The backend's bucket, for the OBS resource of a virtual-hosted request.
    pub bucket: Option<String>,
}

impl Outbound {
    /// Path and query for the request line.
    pub fn uri(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let q: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{}={}", sign::uri_encode(k), sign::uri_encode(v)),
                None => sign::uri_encode(k),
            })
            .collect();
        format!("{}?{}", self.path, q.join("&"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.to_string(), value));
    }

    /// Path and Host for `bucket`/`encoded_key` on `b`.
    pub fn address(&mut self, b: &Backend, bucket: Option<&str>, encoded_key: Option<&str>) {
        let key = encoded_key.unwrap_or("");
        let (host, path) = match (bucket, b.addressing) {
            (Some(bk), Addressing::Virtual) => (format!("{bk}.{}", b.host), format!("/{key}")),
            (Some(bk), Addressing::Path) => {
                let bk = sign::uri_encode(bk);
                (
                    b.host.clone(),
                    if encoded_key.is_some() {
                        format!("/{bk}/{key}")
                    } else {
                        format!("/{bk}/")
                    },
                )
            }
            (None, _) => (b.host.clone(), "/".to_string()),
        };
        self.path = path;
        self.bucket = bucket.map(str::to_string);
        self.set_header("host", host);
    }

    /// Add the backend's authentication. `payload` is the hex SHA-256 of the body when it is known;
    /// `None` for a streamed body.
    pub fn sign(&mut self, b: &Backend, payload: Option<&str>, now: i64) {
        self.headers.retain(|(k, _)| k != "authorization");
        match b.dialect {
            Dialect::S3 => self.sign_v4(b, payload, now),
            Dialect::Obs => self.sign_obs(b, now),
            Dialect::Cos => self.sign_cos(b, now),
        }
    }

    fn sign_v4(&mut self, b: &Backend, payload: Option<&str>, now: i64) {
        let amz_date = crate::auth::format_amz_date(now);
        let payload = payload.unwrap_or("UNSIGNED-PAYLOAD").to_string();
        self.set_header("x-amz-date", amz_date.clone());
        self.set_header("x-amz-content-sha256", payload.clone());
        let mut signed: Vec<&str> = self
            .headers
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                k.starts_with("x-amz-")
                    || matches!(*k, "host" | "content-md5" | "content-type" | "range")
            })
            .collect();
        signed.sort_unstable();
        signed.dedup();
        let scope = format!("{}/{}/s3/aws4_request", &amz_date[..8], b.region);
        let cr = sigv4::canonical_request(
            &self.method,
            &self.path,
            &sigv4::canonical_query(&self.query),
            &signed,
            |h| {
                self.headers
                    .iter()
                    .filter(|(k, _)| k == h)
                    .map(|(_, v)| v.as_str())
                    .collect()
            },
            &payload,
        );
        let sts = sigv4::string_to_sign(&amz_date, &scope, &cr);
        let key = b.signing_key(&scope);
        let auth = sigv4::authorization(
            &b.access_key,
            &scope,
            &signed,
            &sigv4::signature(&key, &sts),
        );
        self.headers.push(("authorization".into(), auth));
    }

    fn sign_obs(&mut self, b: &Backend, now: i64) {
        let date = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64),
        );
        self.set_header("date", date.clone());
        let resource = match (&self.bucket, b.addressing) {
            (Some(bk), Addressing::Virtual) => format!("/{bk}{}", self.path),
            _ => self.path.clone(),
        };
        let sts = v2::string_to_sign(&v2::V2Input {
            method: &self.method,
            content_md5: self.header("content-md5").unwrap_or(""),
            content_type: self.header("content-type").unwrap_or(""),
            date: &date,
            headers: &self.headers,
            prefix: "x-obs-",
            resource: &resource,
            query: &self.query,
            flavor: v2::Flavor::Obs,
            presigned: false,
        });
        let auth = format!(
            "OBS {}:{}",
            b.access_key,
            v2::signature(b.secret.expose(), &sts)
        );
        self.headers.push(("authorization".into(), auth));
    }

    fn sign_cos(&mut self, b: &Backend, now: i64) {
        // A ten-minute window keeps the derived SignKey reusable.
        let start = now - now.rem_euclid(600) - 60;
        let key_time = format!("{start};{}", start + 4260);
        let (params, param_list) = cos::encode_list(
            self.query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or(""))),
        );
        let (hdrs, header_list) = cos::encode_list(
            self.headers
                .iter()
                .filter(|(k, _)| cos::is_signed_header(k))
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let http = cos::http_string(
            &self.method,
            &sign::percent_decode(&self.path),
            &params,
            &hdrs,
        );
        let sts = cos::string_to_sign(&key_time, &http);
        let sig = cos::signature(&b.cos_sign_key(&key_time), &sts);
        let auth = cos::authorization(&b.access_key, &key_time, &header_list, &param_list, &sig);
        self.headers.push(("authorization".into(), auth));
    }
}
