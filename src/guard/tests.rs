use super::{HeadScan, Seen};

#[test]
fn heads_are_found_across_reads_and_answers_start_the_next() {
    let mut s = HeadScan::new();
    assert_eq!(s.read(b"GET / HTTP/1.1\r\nHost: a\r"), Seen::HeadBegins);
    assert_eq!(s.read(b"\n\r"), Seen::HeadBegins);
    assert_eq!(s.read(b"\nbody"), Seen::HeadEnds);
    // Body bytes and a 100 Continue do not start a head.
    assert_eq!(s.read(b"more body"), Seen::Nothing);
    s.wrote(b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(s.read(b"body after continue"), Seen::Nothing);
    // After the answer, the next bytes begin the next head.
    s.wrote(b"HTTP/1.1 200 OK\r\n");
    assert_eq!(s.read(b"G"), Seen::HeadBegins);
    assert_eq!(s.read(b"ET / HTTP/1.1\r\n\r\n"), Seen::HeadEnds);
}
