//! The workload a profile-guided build learns from (`scripts/build-release.sh`): the given
//! dialect-proxy binary in front of a canned S3 backend (in this process), sent a mix of
//! operations from each client dialect, signed with the crate's own signers, over a few
//! keep-alive connections. Needs nothing but the Rust toolchain. Every answer must be a 2xx:
//! a profile of error paths would teach the build the wrong branches.
//!
//! Usage: pgo_train <dialect-proxy binary> [rounds]

use dialect_proxy::config::{Addressing, Backend};
use dialect_proxy::dialect::Dialect;
use dialect_proxy::outbound::Outbound;
use dialect_proxy::sign::{sha256_hex, Secret};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const AK: &str = "AKTRAIN";
const SK: &str = "train-secret";
const BUCKET: &str = "train";
const LIST_KEYS: usize = 100;

/// One HTTP message: its head (lower-cased names) and body.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one message; `bodiless` for the answer to a HEAD. `None` at a clean end of stream.
fn read_message(r: &mut BufReader<TcpStream>, bodiless: bool) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if line == "\r\n" && !head.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let mut m = Message {
        head,
        body: Vec::new(),
    };
    let status_has_body =
        !m.head.starts_with("HTTP/1.1 204") && !m.head.starts_with("HTTP/1.1 304");
    if bodiless || !status_has_body {
        return Ok(Some(m));
    }
    if m.header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            m.body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = m.header("content-length").and_then(|v| v.parse().ok()) {
        m.body = vec![0; n];
        r.read_exact(&mut m.body)?;
    }
    Ok(Some(m))
}

/// The canned backend's answer to one request (S3 on the wire, as the proxy sends it). Shapes from
/// the S3 API reference: ListObjectsV2 (API_ListObjectsV2.html, ListBucketResult),
/// CreateMultipartUpload (API_CreateMultipartUpload.html, InitiateMultipartUploadResult),
/// UploadPartCopy (API_UploadPartCopy.html: `x-amz-copy-source`, CopyPartResult) and the common
/// response headers (RESTCommonResponseHeaders.html: ETag, `x-amz-request-id`).
fn canned_answer(req: &Message) -> Vec<u8> {
    let line = req.head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let object = path
        .trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, key)| !key.is_empty());
    let xml = |body: String| (200, "application/xml", body.into_bytes());
    let (status, kind, body) = match method {
        "GET" if !object => {
            let mut s = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>{BUCKET}</Name><Prefix></Prefix><KeyCount>{LIST_KEYS}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>");
            for i in 0..LIST_KEYS {
                s += &format!("<Contents><Key>key-{i:04}</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>\"9b2cf535f27731c974343645a3985328\"</ETag><Size>4096</Size><StorageClass>STANDARD</StorageClass></Contents>");
            }
            xml(s + "</ListBucketResult>")
        }
        "GET" | "HEAD" => (200, "application/octet-stream", vec![b'x'; 4096]),
        "POST" if query.contains("uploads") => xml(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult><Bucket>{BUCKET}</Bucket><Key>mp</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>")),
        "PUT" if req.header("x-amz-copy-source").is_some() => xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyPartResult><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>\"cp1\"</ETag></CopyPartResult>".into()),
        "DELETE" => (204, "application/xml", Vec::new()),
        _ => (200, "application/xml", Vec::new()),
    };
    let reason = if status == 204 { "No Content" } else { "OK" };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nETag: \"9b2cf535f27731c974343645a3985328\"\r\nLast-Modified: Fri, 02 Jan 2026 03:04:05 GMT\r\nx-amz-request-id: TRAIN\r\n"
    );
    if status != 204 {
        out += &format!("Content-Length: {}\r\n", body.len());
    }
    out += "\r\n";
    let mut out = out.into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(&body);
    }
    out
}

fn serve_canned(listener: TcpListener) {
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let Ok(mut w) = conn.try_clone() else { return };
            let mut r = BufReader::new(conn);
            while let Ok(Some(req)) = read_message(&mut r, false) {
                if w.write_all(&canned_answer(&req)).is_err() {
                    return;
                }
            }
        });
    }
}

/// One client operation: method, key (none: the bucket), query, extra headers (the dialect's
/// prefix is put before a name starting with '-'), body length.
type Op = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static [(&'static str, &'static str)],
    usize,
);

const OPS: &[Op] = &[
    (
        "PUT",
        Some("obj"),
        "",
        &[("content-type", "application/octet-stream")],
        4096,
    ),
    ("GET", Some("obj"), "", &[], 0),
    ("HEAD", Some("obj"), "", &[], 0),
    ("GET", None, "", &[], 0),
    (
        "PUT",
        Some("part"),
        "partNumber=1&uploadId=u1",
        &[("-copy-source", "/train/src")],
        0,
    ),
    ("POST", Some("mp"), "uploads", &[], 0),
    ("PUT", Some("mp"), "partNumber=1&uploadId=u1", &[], 4096),
    ("DELETE", Some("obj"), "", &[], 0),
];

/// A client's request in `dialect`, signed with the client key, as bytes for the wire.
fn request(dialect: Dialect, host: &str, op: &Op, now: i64) -> Vec<u8> {
    let (method, key, query, headers, len) = *op;
    let mut b = Backend::render_only(dialect, host, "us-east-1");
    b.addressing = Addressing::Path;
    b.access_key = AK.into();
    b.secret = Secret::new(SK);
    let prefix = dialect.vocab().prefix;
    let mut out = Outbound {
        method: method.into(),
        path: match key {
            Some(k) => format!("/{BUCKET}/{k}"),
            None => format!("/{BUCKET}"),
        },
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (p.to_string(), None),
            })
            .collect(),
        ..Default::default()
    };
    out.set_header("host", host.into());
    for (k, v) in headers {
        let name = match k.strip_prefix('-') {
            Some(rest) => format!("{prefix}{rest}"),
            None => k.to_string(),
        };
        out.set_header(name, v.to_string());
    }
    let body = vec![b'b'; len];
    if len > 0 || method == "PUT" || method == "POST" {
        out.set_header("content-length", len.to_string());
    }
    out.sign(&b, Some(&sha256_hex(&body)), now);
    let mut raw = format!("{method} {} HTTP/1.1\r\n", out.uri());
    for (k, v) in &out.headers {
        raw += &format!("{k}: {v}\r\n");
    }
    raw += "\r\n";
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(&body);
    raw
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .expect("usage: pgo_train <dialect-proxy> [rounds]");
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3000);
    let backend = TcpListener::bind("127.0.0.1:0").expect("backend listener");
    let backend_port = backend.local_addr().expect("backend address").port();
    std::thread::spawn(move || serve_canned(backend));

    let port = free_port();
    let conf = std::env::temp_dir().join(format!("dialect-proxy-train-{port}.toml"));
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\naccess_log = \"off\"\n\
             [[clients]]\naccess_key = \"{AK}\"\nsecret_key = \"{SK}\"\n\
             [[backends]]\nname = \"canned\"\ndialect = \"s3\"\nendpoint = \"http://127.0.0.1:{backend_port}\"\n\
             access_key = \"bk\"\nsecret_key = \"bs\"\nmin_part_size = 1\n\
             [[routes]]\nbucket = \"*\"\nbackend = \"canned\"\n"
        ),
    )
    .expect("training configuration");
    let mut proxy = Command::new(bin)
        .args(["--config", conf.to_str().unwrap_or_default()])
        .env("DIALECT_PROXY_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("dialect-proxy starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "dialect-proxy did not listen in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let host = format!("127.0.0.1:{port}");
    let failures: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| s.spawn(|| drive(&host, rounds / 4)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or(usize::MAX))
            .sum()
    });
    // SIGINT: pingora's fast shutdown, an ordinary exit that writes the profile.
    // SAFETY: a plain signal to the child this process started and has not yet waited for.
    unsafe { libc::kill(proxy.id() as libc::pid_t, libc::SIGINT) };
    let status = proxy.wait();
    let _ = std::fs::remove_file(&conf);
    println!("pgo_train: {rounds} rounds of {} operations x {} dialects, {failures} not 2xx; proxy {status:?}", OPS.len(), Dialect::ALL.len());
    if failures > 0 {
        std::process::exit(1);
    }
}

/// Sends `rounds` of every operation in every dialect over one connection; counts answers
/// that are not 2xx (the first of each is printed).
fn drive(host: &str, rounds: usize) -> usize {
    let conn = TcpStream::connect(host).expect("connect to dialect-proxy");
    let mut w = conn.try_clone().expect("socket clone");
    let mut r = BufReader::new(conn);
    let mut failures = 0;
    for _ in 0..rounds {
        let now = dialect_proxy::dates::unix_now();
        for d in Dialect::ALL {
            for op in OPS {
                w.write_all(&request(d, host, op, now)).expect("send");
                let answer = read_message(&mut r, op.0 == "HEAD")
                    .expect("answer")
                    .expect("an answer");
                if !answer.head.starts_with("HTTP/1.1 2") {
                    if failures == 0 {
                        eprintln!(
                            "{} {op:?}: {}{}",
                            d.name(),
                            answer.head,
                            String::from_utf8_lossy(&answer.body)
                        );
                    }
                    failures += 1;
                }
            }
        }
    }
    failures
}
