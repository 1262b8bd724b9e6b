//! Every input a fuzz target once crashed on (`fuzz/regressions/<target>/`), replayed through the
//! target's own code, so that the fix stays.

#[path = "../fuzz/fuzz_targets/common.rs"]
mod common;

use std::path::Path;

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
    for data in found {
        common::auth(&data);
    }
}
