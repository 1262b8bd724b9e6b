//! Every input a fuzz target once crashed on (`fuzz/regressions/<target>/`), replayed through the
//! same calls as the target, so that the fix stays.

use dialect_proxy::auth::{self, WireRequest};
use dialect_proxy::sign::Secret;
use std::path::Path;

/// The fuzz targets' request shape: lines of method, path, query, then `name: value` headers.
#[allow(clippy::type_complexity)]
fn request(data: &[u8]) -> Option<(String, String, String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = text.split('\n');
    let method = lines.next()?.to_string();
    let path = lines.next()?.to_string();
    let query = lines.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((method, path, query, headers))
}

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| std::fs::read(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn auth_findings() {
    let found = inputs("auth");
    assert!(!found.is_empty(), "the auth regressions are missing");
    let secret = Secret::new("SK");
    for data in found {
        let (method, path, query, headers) = request(&data).expect("a request");
        for host_bucket in [None, Some("b")] {
            let wire = WireRequest {
                method: &method,
                raw_path: &path,
                raw_query: &query,
                headers: &headers,
                host_bucket,
            };
            let _ = auth::detect(&wire);
            let _ = auth::verify(
                &wire,
                &|ak| (ak == "AK").then_some(&secret),
                1710506096,
                900,
            );
        }
    }
}
