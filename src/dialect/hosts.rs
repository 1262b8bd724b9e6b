//! Buckets named by host: the clouds' own virtual-hosted names (each dialect lists its service's)
//! and the configured suffixes. Here, in the dialect layer, because the names are the clouds'.

use super::Dialect;
use std::borrow::Cow;

/// The bucket a Host names, for the built-in cloud patterns and the configured suffixes.
/// `None` means path style (or a service-level request).
pub fn bucket_from_host(host: &str, suffixes: &[String]) -> Option<String> {
    let host = strip_port(host);
    // Lower-cased only when it is not already (nearly always).
    let host: Cow<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    for s in suffixes {
        let s = s.trim_start_matches('.');
        let Some(cut) = host.len().checked_sub(s.len()) else {
            continue;
        };
        let matches = host.as_bytes()[cut..].eq_ignore_ascii_case(s.as_bytes());
        // (a match of the ASCII-folded bytes of a valid suffix starts at a char boundary)
        if let Some(b) = matches.then(|| host[..cut].strip_suffix('.')).flatten() {
            return non_empty(b);
        }
    }
    // The clouds' own names (each dialect lists its service's); labels are split only for those.
    // Every one ends in a letter: an address literal is none of them.
    if host.as_bytes().last().is_none_or(u8::is_ascii_digit) {
        return None;
    }
    for d in Dialect::ALL {
        for v in d.vocab().virtual_hosts {
            if !host.ends_with(v.suffix) {
                continue;
            }
            let labels: Vec<&str> = host.split('.').collect();
            let Some(at) = labels.len().checked_sub(v.from_end).filter(|at| *at > 0) else {
                continue;
            };
            let service = labels[at];
            if service == v.service || (v.service_prefix && service.starts_with(v.service)) {
                return non_empty(&labels[..at].join("."));
            }
        }
    }
    None
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map(|(h, _)| &h[1..]).unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}
