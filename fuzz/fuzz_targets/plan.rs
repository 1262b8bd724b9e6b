//! A whole request through the planner: edge checks, addressing, routing, header translation into
//! each backend dialect, copy model, staging, outbound rendering.
#![no_main]
use dialect_proxy::config;
use dialect_proxy::request::{self, Inbound};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

mod common;

const CONFIG: &str = r#"
[server]
inbound_auth = "none"
[[backends]]
name = "s3"
dialect = "s3"
endpoint = "http://127.0.0.1:1"
access_key = "a"
secret_key = "b"
[[backends]]
name = "obs"
dialect = "obs"
endpoint = "http://obs.cn-north-4.myhuaweicloud.com"
connect = "127.0.0.1:2"
access_key = "a"
secret_key = "b"
[[backends]]
name = "cos"
dialect = "cos"
endpoint = "http://cos.ap-guangzhou.myqcloud.com"
connect = "127.0.0.1:3"
addressing = "virtual"
access_key = "a"
secret_key = "b"
[[routes]]
bucket = "o*"
backend = "obs"
[[routes]]
bucket = "c*"
backend = "cos"
[[routes]]
bucket = "*"
backend = "s3"
backend_bucket = "{bucket}-x"
"#;

fuzz_target!(|data: &[u8]| {
    static CFG: OnceLock<config::Config> = OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        let mut c = config::parse(CONFIG, &|_| None).expect("config");
        c.resolve().expect("resolve");
        c
    });
    let Some((method, path, query, headers)) = common::request(data) else {
        return;
    };
    let inb = Inbound::new(&method, &path, &query, common::view(&headers));
    let _ = request::plan(cfg, &inb, 1710506096);
});
