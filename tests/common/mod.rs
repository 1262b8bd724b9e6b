//! Shared by the test files that read the golden vectors in `tests/vectors/`.

use serde_json::Value;

/// Every vector of each dialect's file (`<name>.json`), in file order.
pub fn all_vectors() -> Vec<Value> {
    let mut out = Vec::new();
    for d in dialect_proxy::dialect::Dialect::ALL {
        let path = format!(
            "{}/tests/vectors/{}.json",
            env!("CARGO_MANIFEST_DIR"),
            d.name()
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        out.extend(doc["vectors"].as_array().unwrap().iter().cloned());
    }
    out
}

/// A vector's request headers as (lower-case name, value), in the order sent.
pub fn headers(v: &Value) -> Vec<(String, String)> {
    v["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_ascii_lowercase(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Owned header pairs as the borrowed view requests are verified and planned from.
#[allow(dead_code)]
pub fn view<K: AsRef<str>>(h: &[(K, String)]) -> Vec<(&str, &str)> {
    dialect_proxy::auth::borrowed(h)
}
