// Shared by the targets and by tests/fuzz_regressions.rs (which replays what they found).
#![allow(dead_code)]

use dialect_proxy::auth::{self, WireRequest};
use dialect_proxy::sign::Secret;

/// A request made of fuzz bytes. Lines: method, path, query, then `name: value` headers.
#[allow(clippy::type_complexity)]
pub fn request(data: &[u8]) -> Option<(String, String, String, Vec<(String, String)>)> {
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

/// The borrowed view of owned header pairs, as requests are verified and planned from.
pub fn view(h: &[(String, String)]) -> Vec<(&str, &str)> {
    auth::borrowed(h)
}

/// Every authentication scheme: detection and verification of the request, path and virtual style.
pub fn auth(data: &[u8]) {
    let Some((method, path, query, headers)) = request(data) else {
        return;
    };
    let secret = Secret::new("SK");
    let headers = view(&headers);
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
