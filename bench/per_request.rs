//! Micro-benchmarks of the per-request work (`cargo bench`): verify each client scheme, plan an
//! Upload Part - Copy, sign it for each backend dialect, translate a copy result and render an
//! error document. The requests are signed here with the crate's own signers, so every verify
//! succeeds as in production.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use dialect_proxy::auth::{self, WireRequest};
use dialect_proxy::config::{self, Backend};
use dialect_proxy::dialect::Dialect;
use dialect_proxy::error::{ApiError, Code};
use dialect_proxy::model::Op;
use dialect_proxy::outbound::Outbound;
use dialect_proxy::request::{self, Inbound};
use dialect_proxy::response;
use dialect_proxy::sign::{sigv4::EMPTY_SHA256, Secret};
use dialect_proxy::xml;

const AK: &str = "AKBENCH";
const SK: &str = "bench-secret";
const HOST: &str = "127.0.0.1:8080";
const COPY_RESULT: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyPartResult><LastModified>2024-03-15T12:34:56.000Z</LastModified><ETag>\"cp1\"</ETag></CopyPartResult>";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn config() -> config::Config {
    let text = format!(
        "[server]\nlisten = [\"{HOST}\"]\n[[clients]]\naccess_key = \"{AK}\"\nsecret_key = \"{SK}\"\n\
         [[backends]]\nname = \"canned\"\ndialect = \"s3\"\nendpoint = \"http://127.0.0.1:9000\"\n\
         access_key = \"bk\"\nsecret_key = \"bs\"\n[[routes]]\nbucket = \"*\"\nbackend = \"canned\"\n"
    );
    let mut c = config::parse(&text, &|_| None).expect("bench configuration");
    c.resolve().expect("loopback resolves");
    c
}

/// A client's Upload Part - Copy in `dialect`, signed with the client key, and its target.
fn copy_part(dialect: Dialect) -> (Outbound, String) {
    let mut b = Backend::render_only(dialect, HOST, "us-east-1");
    b.access_key = AK.into();
    b.secret = Secret::new(SK);
    let prefix = dialect.vocab().prefix;
    let mut out = Outbound {
        method: "PUT".into(),
        path: "/bench/part".into(),
        query: vec![
            ("partNumber".into(), Some("1".into())),
            ("uploadId".into(), Some("u1".into())),
        ],
        ..Default::default()
    };
    out.set_header("host", HOST.into());
    out.set_header(format!("{prefix}copy-source"), "/bench/src".into());
    out.sign(&b, Some(EMPTY_SHA256), now());
    let uri = out.uri();
    (out, uri)
}

/// The view of a signed request the proxy plans from.
fn inbound<'a>(out: &'a Outbound, uri: &'a str) -> Inbound<'a> {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    Inbound::new(&out.method, path, query, auth::borrowed(&out.headers))
}

fn benches(c: &mut Criterion) {
    let cfg = config();
    let secret = Secret::new(SK);
    for d in [Dialect::Obs, Dialect::S3, Dialect::Cos] {
        let (out, uri) = copy_part(d);
        let inb = inbound(&out, &uri);
        c.bench_function(&format!("verify/{}", d.name()), |bch| {
            bch.iter(|| {
                let wire = WireRequest {
                    method: inb.method,
                    raw_path: inb.raw_path,
                    raw_query: inb.raw_query,
                    headers: &inb.headers,
                    host_bucket: None,
                };
                let lookup = |ak: &str| (ak == AK).then_some(&secret);
                black_box(auth::verify(&wire, &lookup, now(), 900).expect("verifies"))
            })
        });
        c.bench_function(&format!("plan/{}-copy-part", d.name()), |bch| {
            bch.iter(|| match request::plan(&cfg, black_box(&inb), now()) {
                Ok(request::Plan::Forward(f)) => black_box(f),
                _ => panic!("copy part does not plan"),
            })
        });
    }
    let (out, uri) = copy_part(Dialect::Obs);
    let planned = match request::plan(&cfg, &inbound(&out, &uri), now()) {
        Ok(request::Plan::Forward(f)) => f,
        _ => panic!("copy part does not plan"),
    };
    for d in [Dialect::S3, Dialect::Obs, Dialect::Cos] {
        let mut b = Backend::render_only(d, "backend.example", "region-1");
        b.access_key = "bk".into();
        b.secret = Secret::new("bs");
        c.bench_function(&format!("sign/{}", d.name()), |bch| {
            bch.iter(|| {
                let mut out = planned.out.clone();
                out.sign(&b, Some(EMPTY_SHA256), now());
                black_box(out)
            })
        });
    }
    for d in [Dialect::Obs, Dialect::S3, Dialect::Cos] {
        c.bench_function(&format!("translate/copy-result-to-{}", d.name()), |bch| {
            bch.iter(|| {
                black_box(response::body(
                    Op::UploadPartCopy,
                    200,
                    d,
                    COPY_RESULT,
                    "0123456789ABCDEF",
                    "/bench/part",
                ))
            })
        });
    }
    // As the answer's reader gives them: common names borrowed, vendor names owned.
    let headers: Vec<(std::borrow::Cow<'static, str>, String)> = vec![
        ("content-length".into(), "220".to_string()),
        ("x-amz-request-id".to_string().into(), "B1".to_string()),
        ("etag".into(), "\"cp1\"".to_string()),
        ("date".into(), "Fri, 27 Nov 2026 10:00:00 GMT".to_string()),
    ];
    // The answer's headers are taken over; the clone is part of what is measured.
    c.bench_function("translate/headers-s3-to-obs", |bch| {
        bch.iter(|| {
            black_box(response::headers(
                Dialect::S3,
                Dialect::Obs,
                headers.clone(),
                "0123456789ABCDEF",
            ))
        })
    });
    let err = ApiError::new(Code::NoSuchKey, "The specified key does not exist.");
    c.bench_function("render/error-obs", |bch| {
        bch.iter(|| {
            black_box(xml::render_error(
                Dialect::Obs,
                &err,
                "/bench/k",
                "0123456789ABCDEF",
            ))
        })
    });
}

criterion_group!(per_request, benches);
criterion_main!(per_request);
