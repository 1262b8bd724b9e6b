//! Where the bucket and key of a request are: virtual-hosted (first label of Host) or path style.

pub use crate::dialect::hosts::{bucket_from_host, strip_port};
use crate::error::ApiError;
use crate::sign;

/// A Host header must be a plausible name or address.
pub fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

/// Bucket (client-visible) and decoded key of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// True when the bucket came from Host.
    pub virtual_host: bool,
}

pub fn target(host_bucket: Option<String>, raw_path: &str) -> Result<Target, ApiError> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let decode = |s: &str| {
        sign::percent_decode_strict(s)
            .ok_or_else(|| ApiError::invalid_argument("The request path is not valid UTF-8"))
    };
    if let Some(b) = host_bucket {
        let key = if path.is_empty() {
            None
        } else {
            Some(decode(path)?)
        };
        return Ok(Target {
            bucket: Some(b),
            key,
            virtual_host: true,
        });
    }
    if path.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
            virtual_host: false,
        });
    }
    let (b, k) = path.split_once('/').unwrap_or((path, ""));
    let key = if k.is_empty() { None } else { Some(decode(k)?) };
    Ok(Target {
        bucket: Some(decode(b)?),
        key,
        virtual_host: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_patterns() {
        let none: Vec<String> = vec![];
        let cases = [
            (
                "b-1250000000.cos.ap-guangzhou.myqcloud.com",
                Some("b-1250000000"),
            ),
            ("b.cos.ap-shanghai.tencentcos.cn", Some("b")),
            ("cos.ap-guangzhou.myqcloud.com", None),
            ("b.obs.cn-north-4.myhuaweicloud.com:443", Some("b")),
            ("obs.cn-north-4.myhuaweicloud.com", None),
            ("b.s3.amazonaws.com", Some("b")),
            ("a.b.s3.us-east-1.amazonaws.com", Some("a.b")),
            ("s3.amazonaws.com", None),
            ("b.storage.yandexcloud.net", Some("b")),
            ("storage.yandexcloud.net", None),
            ("127.0.0.1:8080", None),
        ];
        for (h, b) in cases {
            assert_eq!(bucket_from_host(h, &none).as_deref(), b, "{h}");
        }
        let sfx = vec!["s3.example.local".to_string()];
        assert_eq!(
            bucket_from_host("data.s3.example.local:9000", &sfx).as_deref(),
            Some("data")
        );
        assert_eq!(bucket_from_host("s3.example.local", &sfx), None);
        // Case is folded on both sides; a suffix longer than the host is skipped, not fatal.
        let sfx = vec![
            "much.longer.suffix.example".into(),
            ".S3.Example.Local".into(),
        ];
        assert_eq!(
            bucket_from_host("Data.s3.EXAMPLE.local", &sfx).as_deref(),
            Some("data")
        );
        assert_eq!(
            bucket_from_host("B.S3.AMAZONAWS.COM", &none).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn targets() {
        let t = target(None, "/bkt/a%20b/c").unwrap();
        assert_eq!(
            (t.bucket.as_deref(), t.key.as_deref()),
            (Some("bkt"), Some("a b/c"))
        );
        let t = target(Some("v".into()), "/k%2B").unwrap();
        assert_eq!(
            (t.bucket.as_deref(), t.key.as_deref(), t.virtual_host),
            (Some("v"), Some("k+"), true)
        );
        assert_eq!(target(None, "/").unwrap().bucket, None);
        assert_eq!(target(None, "/b/").unwrap().key, None);
        assert!(target(None, "/b/%FF").is_err());
        assert!(valid_host("a.b:80") && !valid_host("a b") && !valid_host(""));
    }
}
