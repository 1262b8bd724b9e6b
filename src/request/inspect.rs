//! What the client's headers tell the plan: the request's dialect (before or without auth), its
//! SSE-C key, the body checksum to verify, whether its values are percent-encoded.

use super::Inbound;
use crate::auth::{self, WireRequest};
use crate::dialect::copy;
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::model::Op;
use crate::outbound::Outbound;

/// The dialect a request speaks, judged from its headers alone (for errors before or without auth).
pub fn guess_dialect(inb: &Inbound) -> Dialect {
    let wire = WireRequest {
        method: inb.method,
        raw_path: inb.raw_path,
        raw_query: inb.raw_query,
        headers: &inb.headers,
        host_bucket: None,
    };
    if let Some(s) = auth::detect(&wire) {
        return s.dialect;
    }
    Dialect::guess(&inb.headers)
}

pub(super) fn check_sse(out: &Outbound, d: Dialect, stem: &str) -> Result<(), ApiError> {
    let name = |s: &str| format!("{}{stem}{s}", d.vocab().prefix);
    copy::check_sse_c(
        out.header(&name("algorithm")),
        out.header(&name("key")),
        out.header(&name("key-md5")),
    )
}

/// Does the request carry an SSE-C key for its object?
pub(super) fn has_sse_c(client: Dialect, inb: &Inbound) -> bool {
    let prefix = client.vocab().prefix;
    inb.headers
        .iter()
        .any(|(k, _)| k.strip_prefix(prefix) == Some("server-side-encryption-customer-algorithm"))
}

/// The checksum header of a client's body that the proxy verifies: every small body's (it may
/// be rewritten), a streamed one's where the backend keeps no checksums (as it flows). A
/// Complete's names the whole object, not its body: only a backend that keeps checksums checks it.
pub(super) fn body_checksum(
    client: Dialect,
    kept: bool,
    op: Op,
    inb: &Inbound,
) -> Option<(String, String)> {
    if (op.streamed() && kept)
        || op == Op::Complete
        || !matches!(inb.method, "PUT" | "POST" | "DELETE")
    {
        return None;
    }
    checksum_header(client, inb)
}

/// The client's checksum header, if any: (neutral suffix, value).
pub(super) fn checksum_header(client: Dialect, inb: &Inbound) -> Option<(String, String)> {
    let prefix = client.vocab().prefix;
    inb.headers.iter().find_map(|(k, v)| {
        let suffix = k.strip_prefix(prefix)?;
        crate::checksum::Checksum::for_suffix(suffix)?;
        Some((suffix.to_string(), v.to_string()))
    })
}

/// Does this client percent-encode its header values? The OBS SDK does, whichever signature it uses.
pub(super) fn encoded_values(client: Dialect, inb: &Inbound) -> bool {
    client.encodes_header_values(inb.header("user-agent"))
}
