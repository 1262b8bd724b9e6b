//! A short answer leaves in one write. pingora writes an answer's head and then its body; the
//! listener's write buffer (`DEFAULT_L4_WRITE_BUFFER_SIZE`, 1460 bytes) joins them only when both
//! fit, so a 4 KiB object cost a system call and a segment for its head alone. A head that
//! announces a body of up to 64 KiB, too long to join in that buffer, is held (`crate::held`) and
//! goes out with the body's first bytes in one vectored write. Anything else (a long or unknown
//! length, an informational answer, an answer the buffer joins) passes as it comes; a flush or
//! shutdown sends what is held.

use crate::held::HEAD_CAP;
use pingora::listeners::DEFAULT_L4_WRITE_BUFFER_SIZE;

/// Bodies up to this length follow their head at once (they came whole from the backend or are
/// the proxy's own documents); a longer body may wait on a backend, and its head must not.
const SHORT_BODY: u64 = 64 << 10;

/// The Content-Length an answer head announces, as pingora writes it (title case; a head
/// written otherwise is simply not held). A head is searched once, without a UTF-8 pass.
fn announced_length(head: &[u8]) -> Option<u64> {
    static NAME: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\nContent-Length: "));
    let at = NAME.find(head)? + NAME.needle().len();
    let digits = &head[at..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    if end == 0 || end > 19 || digits[end] != b'\r' {
        return None;
    }
    Some(
        digits[..end]
            .iter()
            .fold(0, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// Whether `data` is a whole answer head (the first write of an answer, nothing held yet) that
/// announces a body of up to `SHORT_BODY` bytes which the listener's buffer cannot join to it.
pub(super) fn holds(first_of_answer: bool, data: &[u8]) -> bool {
    let head = first_of_answer
        && data.len() > 9
        && data.len() <= HEAD_CAP
        && data.starts_with(b"HTTP/1.")
        && !super::scan::informational(data)
        && data.ends_with(b"\r\n\r\n");
    // The length is looked for only in a head, the cheap tests first.
    head && announced_length(data).is_some_and(|n| {
        n <= SHORT_BODY && data.len() as u64 + n > DEFAULT_L4_WRITE_BUFFER_SIZE as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_heads_of_short_bodies_are_held() {
        let long = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
        let other_case = b"HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n";
        let odd = b"HTTP/1.1 200 OK\r\nContent-Length: 40x6\r\n\r\n";
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let empty = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
        let cont = b"HTTP/1.1 100 Continue\r\nContent-Length: 4096\r\n\r\n";
        // Head and body fit the listener's own write buffer, which joins them.
        let joined = b"HTTP/1.1 200 OK\r\nContent-Length: 150\r\n\r\n";
        for head in [&long[..], other_case, odd, chunked, empty, cont, joined] {
            assert!(!holds(true, head), "{}", String::from_utf8_lossy(head));
        }
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nETag: \"x\"\r\n\r\n";
        assert!(!holds(false, head), "a body piece is never held");
        assert!(holds(true, head));
    }
}
