use super::*;
use std::os::fd::AsRawFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A connected pair of TCP sockets on loopback.
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (b, _) = l.accept().await.unwrap();
    (a, b)
}

fn splicer(from: &TcpStream, to: &TcpStream, left: u64, idle: Duration) -> Splicer {
    Splicer::new(from.as_raw_fd(), to.as_raw_fd(), left, idle).unwrap()
}

/// Move `total` bytes in pieces of at most `piece`, as pingora's body writes ask for them.
async fn move_all(s: &mut Splicer, mut total: u64, piece: usize) -> io::Result<()> {
    while total > 0 {
        let want = total.min(piece as u64) as usize;
        let mut asked = want;
        while asked > 0 {
            let n = std::future::poll_fn(|cx| s.poll_move(cx, asked)).await?;
            assert!(n > 0 && n <= asked);
            asked -= n;
        }
        total -= want as u64;
    }
    Ok(())
}

#[tokio::test]
async fn the_bytes_go_socket_to_socket_in_order_and_the_pipe_ends_empty() {
    let (mut backend, from) = pair().await;
    let (to, mut client) = pair().await;
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut s = splicer(&from, &to, body.len() as u64, Duration::from_secs(5));
    let sent = body.clone();
    let writer = tokio::spawn(async move {
        backend.write_all(&sent).await.unwrap();
        // Bytes past the body (a next answer) are not the splicer's to take.
        backend.write_all(b"NEXT").await.unwrap();
        backend
    });
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; 3_000_000];
        client.read_exact(&mut got).await.unwrap();
        got
    });
    move_all(&mut s, body.len() as u64, 100_000).await.unwrap();
    assert!(s.done());
    assert_eq!(reader.await.unwrap(), body);
    drop(writer.await.unwrap());
    let mut rest = [0u8; 4];
    let mut from = from;
    from.read_exact(&mut rest).await.unwrap();
    assert_eq!(
        &rest, b"NEXT",
        "what follows the body stays on the backend's socket"
    );
}

#[tokio::test]
async fn a_backend_that_ends_early_is_an_error_not_a_short_success() {
    let (mut backend, from) = pair().await;
    let (to, _client) = pair().await;
    let mut s = splicer(&from, &to, 1000, Duration::from_secs(5));
    backend.write_all(&[1u8; 300]).await.unwrap();
    drop(backend);
    let e = move_all(&mut s, 1000, 1000).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn a_silent_backend_meets_its_idle_deadline() {
    let (_backend, from) = pair().await;
    let (to, _client) = pair().await;
    let mut s = splicer(&from, &to, 1000, Duration::from_millis(50));
    let e = move_all(&mut s, 1000, 1000).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
}

#[tokio::test]
async fn a_client_that_hangs_up_while_the_backend_is_silent_ends_the_wait() {
    let (_backend, from) = pair().await;
    let (to, client) = pair().await;
    let mut s = splicer(&from, &to, 1000, Duration::from_secs(30));
    drop(client);
    let started = std::time::Instant::now();
    let e = move_all(&mut s, 1000, 1000).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_next_request_from_the_client_is_not_a_hang_up() {
    let (mut backend, from) = pair().await;
    let (to, mut client) = pair().await;
    let mut s = splicer(&from, &to, 4, Duration::from_secs(5));
    client.write_all(b"GET /next HTTP/1.1\r\n").await.unwrap();
    let moving = tokio::spawn(async move { move_all(&mut s, 4, 4).await.map(|()| s) });
    // (The mover may first wait on the silent backend with the client's bytes already there.)
    tokio::task::yield_now().await;
    backend.write_all(b"body").await.unwrap();
    moving.await.unwrap().unwrap();
    let mut got = [0u8; 4];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"body");
    // The next request's bytes are still the connection's to read.
    let mut to = to;
    let mut next = [0u8; 20];
    to.read_exact(&mut next).await.unwrap();
    assert_eq!(&next, b"GET /next HTTP/1.1\r\n");
}
