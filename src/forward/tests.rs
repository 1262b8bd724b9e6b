//! The one GET→PUT relay against canned sources and a destination that records what it stored.

use super::relay::{relay, Broke, Source};
use crate::upstream::tests::{backend, get, server};
use crate::upstream::Upstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A destination that reads each request's head and its Content-Length body, tells the body (and
/// whether it was whole) and answers `200` with an ETag; a body that ends short is answered nothing.
/// A connection closed before its head ended tells an empty body, not whole.
async fn destination() -> (
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<(Vec<u8>, bool)>,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (seen, stored) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut piece = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut piece).await {
                        Ok(0) | Err(_) => return drop(seen.send((Vec::new(), false))),
                        Ok(n) => buf.extend_from_slice(&piece[..n]),
                    }
                }
                let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                let mut body = buf.split_off(end);
                while body.len() < len {
                    match s.read(&mut piece).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&piece[..n]),
                    }
                }
                let whole = body.len() == len;
                let _ = seen.send((body, whole));
                if whole {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nETag: \"e\"\r\nContent-Length: 0\r\n\r\n")
                        .await;
                }
            });
        }
    });
    (addr, stored)
}

#[tokio::test]
async fn the_relay_joins_its_sources_into_one_upload_of_their_summed_length() {
    let up = Upstream::new(64 << 20);
    let (a, _) = server(|_| b"HTTP/1.1 206 Partial\r\nContent-Length: 4\r\n\r\nabcd").await;
    let (b, _) = server(|_| b"HTTP/1.1 206 Partial\r\nContent-Length: 3\r\n\r\nefg").await;
    let (d, mut stored) = destination().await;
    let (ba, bb, bd) = (backend(a), backend(b), backend(d));
    let sources = vec![
        Source {
            backend: &ba,
            get: get(&ba, 64),
            len: 4,
        },
        Source {
            backend: &bb,
            get: get(&bb, 64),
            len: 3,
        },
    ];
    let mut put = get(&bd, 64);
    put.method = "PUT".into();
    let answer = match relay(&up, &bd, &mut put, sources).await {
        Ok(a) => a,
        Err(_) => panic!("the relay failed"),
    };
    assert_eq!(answer.status, 200);
    assert_eq!(put.header("content-length"), Some("7"));
    assert_eq!(stored.recv().await, Some((b"abcdefg".to_vec(), true)));
}

#[tokio::test]
async fn a_source_of_another_length_leaves_the_upload_short_and_one_that_refuses_costs_nothing() {
    let up = Upstream::new(64 << 20);
    let (long, _) = server(|_| b"HTTP/1.1 206 Partial\r\nContent-Length: 5\r\n\r\nabcde").await;
    let (d, mut stored) = destination().await;
    let (bl, bd) = (backend(long), backend(d));
    // Five bytes where four were asked: the upload goes out short (here, not at all: its head
    // waits for the first body bytes), so nothing is stored.
    let mut put = get(&bd, 64);
    put.method = "PUT".into();
    let sources = vec![Source {
        backend: &bl,
        get: get(&bl, 64),
        len: 4,
    }];
    assert!(matches!(
        relay(&up, &bd, &mut put, sources,).await,
        Err(Broke::Length)
    ));
    let (body, whole) = stored.recv().await.unwrap();
    assert!(!whole && body.len() < 4, "{body:?}");
    // A source that refuses: its answer is told, and the destination is never contacted (nothing
    // listens at its address, so trying would have failed otherwise).
    let (refusing, _) =
        server(|_| b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n<Error/>\n").await;
    let br = backend(refusing);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = backend(closed.local_addr().unwrap());
    drop(closed);
    let sources = vec![Source {
        backend: &br,
        get: get(&br, 64),
        len: 4,
    }];
    match relay(&up, &nowhere, &mut put, sources).await {
        Err(Broke::Refused(404, body)) => assert_eq!(&body[..], b"<Error/>\n"),
        _ => panic!("expected the source's refusal"),
    }
}
