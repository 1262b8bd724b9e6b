//! Copy results in every form backends send, translated for each client dialect; compared with
//! `tests/golden/xml/<input>.<dialect>.txt` (regenerate with UPDATE_GOLDEN=1).

use dialect_proxy::dialect::Dialect;
use dialect_proxy::request::Op;
use dialect_proxy::response;

#[test]
fn copy_results_translate_for_every_client() {
    let dir = format!("{}/tests/golden/xml", env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<_> = std::fs::read_dir(format!("{dir}/in"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 9);
    for input in inputs {
        let body = std::fs::read(&input).unwrap();
        let stem = input.file_stem().unwrap().to_str().unwrap().to_string();
        for to in Dialect::ALL {
            let out = response::body(Op::UploadPartCopy, 200, to, &body, "REQID", "/dst/key");
            let text = format!(
                "status: {}\nfailed_200: {}\n{}\n",
                out.status,
                out.failed_200,
                String::from_utf8(out.body).unwrap()
            );
            let path = format!("{dir}/{stem}.{}.txt", to.name());
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&path, &text).unwrap();
            }
            let golden =
                std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {path}"));
            assert_eq!(text, golden, "{stem} -> {}", to.name());
        }
    }
}
