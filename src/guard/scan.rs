//! Where request heads begin and end on a connection, from the bytes read and written.

/// Where a connection is between request heads, from the bytes read and written.
#[derive(Debug, Default)]
pub(super) struct HeadScan {
    /// Between a head's first byte and its blank line.
    in_head: bool,
    /// Past a head and its answer: the next bytes read begin a new head.
    answered: bool,
    /// The head's last bytes so far, for a blank line split across reads.
    tail: [u8; 3],
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
    HeadBegins,
    HeadEnds,
    Nothing,
}

impl HeadScan {
    pub fn new() -> Self {
        HeadScan {
            in_head: true,
            ..Default::default()
        }
    }

    pub fn read(&mut self, data: &[u8]) -> Seen {
        if data.is_empty() {
            return Seen::Nothing;
        }
        if self.answered {
            (self.answered, self.in_head, self.tail) = (false, true, [0; 3]);
        }
        if !self.in_head {
            return Seen::Nothing;
        }
        let k = data.len().min(3);
        let mut joint = [0u8; 6];
        joint[..3].copy_from_slice(&self.tail);
        joint[3..3 + k].copy_from_slice(&data[..k]);
        // Only line ends can end a blank line: found with memchr, not tried at every byte.
        let blank = |b: &[u8]| {
            memchr::memchr_iter(b'\n', b).any(|i| i >= 3 && &b[i - 3..=i] == b"\r\n\r\n")
        };
        if blank(&joint[..3 + k]) || blank(data) {
            self.in_head = false;
            return Seen::HeadEnds;
        }
        let n = data.len();
        if n >= 3 {
            self.tail.copy_from_slice(&data[n - 3..]);
        } else {
            self.tail.rotate_left(n);
            self.tail[3 - n..].copy_from_slice(data);
        }
        Seen::HeadBegins
    }

    /// Whether the next write begins an answer: a request head has ended and nothing of its
    /// answer (other than an informational one) was written yet.
    pub fn answer_starts(&self) -> bool {
        !self.in_head && !self.answered
    }

    /// Bytes written: an answer (not an informational one, which the body follows) ends the cycle.
    pub fn wrote(&mut self, first: &[u8]) {
        if !self.in_head && !first.is_empty() && !informational(first) {
            self.answered = true;
        }
    }
}

/// Whether bytes written begin an informational (1xx) answer head.
pub(super) fn informational(head: &[u8]) -> bool {
    head.len() > 9 && head.starts_with(b"HTTP/1.") && head[9] == b'1'
}
