//! The transport against a canned server on loopback: the one capped read, the one retry policy,
//! and the rule that a connection goes back to the pool only after a whole request and a success.

use super::*;
use crate::dialect::Dialect;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers the `n`th request on any connection with `answer(n)` (counted from 0),
/// after reading the head (and not the body). Returns its address and the connection count.
pub(crate) async fn server(
    answer: impl Fn(usize) -> &'static [u8] + Send + Sync + 'static,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let answer = Arc::new(answer);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let c = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let requests = requests.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut piece = [0u8; 4096];
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut piece).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&piece[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let n = requests.fetch_add(1, Ordering::SeqCst);
                    if s.write_all(answer(n)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, conns)
}

/// The transport needs no signature: the canned server checks none.
pub(crate) fn unsigned(_: &mut Outbound) {}

pub(crate) fn backend(addr: std::net::SocketAddr) -> Backend {
    let mut b = Backend::render_only(Dialect::S3, &addr.to_string(), "us-east-1");
    b.tls = false;
    b.addr = Some(addr);
    b.timeouts.backoff = Duration::from_millis(1);
    b.timeouts.backoff_max = Duration::from_millis(2);
    b
}

pub(crate) fn get(b: &Backend, cap: usize) -> Outbound {
    let mut out = Outbound {
        method: "GET".into(),
        answer_cap: Some(cap),
        ..Default::default()
    };
    out.address(b, Some("b"), Some("k"));
    out
}

#[tokio::test]
async fn the_one_read_refuses_what_is_over_the_cap_and_never_truncates() {
    let up = Upstream::new(64 << 20);
    for (answer, cap, whole) in [
        (&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"[..], 10, true),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789A", 10, false),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n",
            10,
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n",
            10,
            true,
        ),
    ] {
        let (addr, _) = server(move |_| answer).await;
        let b = backend(addr);
        let got = up
            .exchange(&b, &mut get(&b, cap), Bytes::new(), &unsigned)
            .await;
        match (got, whole) {
            (Ok(a), true) => assert_eq!(&a.body[..], b"0123456789"),
            (Err(Failure::Broken(why)), false) => assert!(why.contains("over"), "{why}"),
            (other, _) => panic!("{:?}", other.map(|a| a.body)),
        }
    }
}

/// Two `503 SlowDown`s, then a success.
fn two_503s_then_ok(n: usize) -> &'static [u8] {
    match n {
        0 | 1 => b"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n\r\n",
        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    }
}

#[tokio::test]
async fn the_one_retry_policy_sends_again_after_a_503_within_the_backends_retries() {
    let up = Upstream::new(64 << 20);
    // Two retries reach the success; one retry fewer leaves the 503 standing.
    for (retries, status) in [(2, 200), (1, 503)] {
        let (addr, _) = server(two_503s_then_ok).await;
        let mut b = backend(addr);
        b.timeouts.retries = retries;
        // The caller's signing step runs before each attempt (each carries its own date).
        let signed = AtomicUsize::new(0);
        let sign = |_: &mut Outbound| {
            signed.fetch_add(1, Ordering::SeqCst);
        };
        let a = up
            .exchange(&b, &mut get(&b, 64), Bytes::new(), &sign)
            .await
            .unwrap();
        assert_eq!(a.status, status);
        assert_eq!(signed.load(Ordering::SeqCst), retries as usize + 1);
        if status == 200 {
            assert_eq!(&a.body[..], b"ok");
        }
    }
}

#[tokio::test]
async fn a_connection_returns_to_the_pool_only_after_a_success_with_a_body() {
    let up = Upstream::new(64 << 20);
    // Every answer is given right after the head, before the body is read.
    let (addr, conns) = server(|n| match n {
        0 => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    })
    .await;
    let b = backend(addr);
    let mut put = get(&b, 64);
    put.method = "PUT".into();
    put.set_header("content-length", "5".into());
    let a = up
        .exchange(&b, &mut put, Bytes::from_static(b"hello"), &unsigned)
        .await
        .unwrap();
    assert_eq!(a.status, 400);
    // The refused upload's connection was closed: the next exchange needs a new one.
    let a = up
        .exchange(&b, &mut get(&b, 64), Bytes::new(), &unsigned)
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // After a success without a body, the connection is reused.
    let a = up
        .exchange(&b, &mut get(&b, 64), Bytes::new(), &unsigned)
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

/// A chunked answer of 100 KiB: over what an answer may hold without a lease.
fn large_chunked(_: usize) -> &'static [u8] {
    static ANSWER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ANSWER.get_or_init(|| {
        let mut a = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..25 {
            a.extend_from_slice(b"1000\r\n");
            a.extend_from_slice(&[b'x'; 0x1000]);
            a.extend_from_slice(b"\r\n");
        }
        a.extend_from_slice(b"0\r\n\r\n");
        a
    })
}

#[tokio::test]
async fn buffered_answers_together_stay_within_the_gateways_memory_for_them() {
    let (addr, _) = server(large_chunked).await;
    let b = backend(addr);
    // Room for one such answer, not two.
    let up = Upstream::new(150 << 10);
    let one = up
        .exchange(&b, &mut get(&b, 1 << 20), Bytes::new(), &unsigned)
        .await
        .unwrap();
    assert_eq!(one.body.len(), 100 << 10);
    // While the first is held, a second does not fit: refused, not truncated.
    match up
        .exchange(&b, &mut get(&b, 1 << 20), Bytes::new(), &unsigned)
        .await
    {
        Err(Failure::Busy(_)) => {}
        other => panic!("{:?}", other.map(|a| a.body.len())),
    }
    // Once the first answer is gone, its memory is free again.
    drop(one);
    let again = up
        .exchange(&b, &mut get(&b, 1 << 20), Bytes::new(), &unsigned)
        .await
        .unwrap();
    assert_eq!(again.body.len(), 100 << 10);
}
