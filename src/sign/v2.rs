//! OBS native and AWS signature V2: the same HMAC-SHA1 algorithm, differing in the header
//! prefix (`x-obs-` / `x-amz-`) and in which query parameters count as sub-resources.

use super::subresources::{
    AWS_SUBRESOURCES, OBS_SDK_SUBRESOURCES, OBS_SUBRESOURCES, OSS_SUBRESOURCES,
};
use base64::Engine;

/// Which sub-resource list decides what query parameters are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// esdk-obs-python / OBS doc list, matched case-insensitively, plus any `x-obs-*` param.
    Obs,
    /// botocore `HmacV1Auth.QSAOfInterest`, matched exactly.
    Aws,
    /// What a released OBS SDK signs (index into `OBS_SDK_SUBRESOURCES`), matched as `Obs`.
    ObsSdk(usize),
    /// OSS V1 (`OSS_SUBRESOURCES`), matched exactly.
    Oss,
}

/// Every flavor a released OBS SDK signs with, for verifiers that accept what the SDKs send.
pub fn obs_sdk_flavors() -> impl Iterator<Item = Flavor> {
    (0..OBS_SDK_SUBRESOURCES.len()).map(Flavor::ObsSdk)
}

impl Flavor {
    pub fn is_subresource(self, name: &str) -> bool {
        let list = match self {
            Flavor::Aws => return AWS_SUBRESOURCES.contains(&name),
            Flavor::Oss => return OSS_SUBRESOURCES.binary_search(&name).is_ok(),
            Flavor::Obs => OBS_SUBRESOURCES,
            Flavor::ObsSdk(i) => OBS_SDK_SUBRESOURCES.get(i).map_or(&[][..], |l| l.1),
        };
        {
            {
                if name
                    .get(..6)
                    .is_some_and(|p| p.eq_ignore_ascii_case("x-obs-"))
                {
                    return true;
                }
                // Lower-cased on the stack once, then compared whole: no name in the list is
                // longer than the buffer.
                let mut buf = [0u8; 32];
                let Some(lower) = buf.get_mut(..name.len()) else {
                    return false;
                };
                lower.copy_from_slice(name.as_bytes());
                lower.make_ascii_lowercase();
                list.binary_search_by(|s| s.as_bytes().cmp(lower)).is_ok()
            }
        }
    }
}

/// The parts of a request that V2/OBS signs (`Q`: owned or borrowed query strings).
pub struct V2Input<'a, Q: AsRef<str> = String> {
    pub method: &'a str,
    pub content_md5: &'a str,
    pub content_type: &'a str,
    /// `Date` header, or `Expires` for a presigned URL.
    pub date: &'a str,
    /// All headers as (lower-case name, value); only those with `prefix` are used.
    pub headers: &'a [(&'a str, &'a str)],
    /// `x-obs-` or `x-amz-`.
    pub prefix: &'a str,
    /// `/bucket/encoded-key` exactly as on the wire (bucket prepended for virtual hosts).
    pub resource: &'a str,
    /// Decoded query parameters; only sub-resources are used.
    pub query: &'a [(Q, Option<Q>)],
    pub flavor: Flavor,
    /// The date slot is used as given even beside an `x-*-date` header (a presigned URL's
    /// `Expires`; OSS, whose `x-oss-date` is the date).
    pub date_as_given: bool,
}

pub fn string_to_sign<Q: AsRef<str>>(i: &V2Input<'_, Q>) -> String {
    // (name, value) of the prefixed headers, sorted by name (stable: values keep their order).
    let mut canon: Vec<(&str, &str)> = i
        .headers
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(i.prefix)?;
            let v = if rest.starts_with("meta-") {
                v.trim()
            } else {
                v
            };
            Some((*k, v))
        })
        .collect();
    canon.sort_by(|a, b| a.0.cmp(b.0));
    let has_date_override = canon
        .iter()
        .any(|(k, _)| k.strip_prefix(i.prefix) == Some("date"));
    let date = if has_date_override && !i.date_as_given {
        ""
    } else {
        i.date
    };

    let mut s = String::with_capacity(256);
    s.push_str(i.method);
    s.push('\n');
    s.push_str(i.content_md5);
    s.push('\n');
    s.push_str(i.content_type);
    s.push('\n');
    s.push_str(date);
    s.push('\n');
    // Repeated names are one line, their values joined by commas.
    for (n, (k, v)) in canon.iter().enumerate() {
        if n > 0 && canon[n - 1].0 == *k {
            s.push(',');
        } else {
            if n > 0 {
                s.push('\n');
            }
            s.push_str(k);
            s.push(':');
        }
        s.push_str(v);
    }
    if !canon.is_empty() {
        s.push('\n');
    }
    s.push_str(i.resource);
    let mut subs: Vec<(&str, Option<&str>)> = i
        .query
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref().map(|v| v.as_ref())))
        .filter(|(k, _)| i.flavor.is_subresource(k))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(b.0));
    // OSS writes an empty value as the bare name (`?uploads`), as its SDKs sign it.
    let bare_empty = i.flavor == Flavor::Oss;
    for (n, (k, v)) in subs.iter().enumerate() {
        s.push(if n == 0 { '?' } else { '&' });
        s.push_str(k);
        if let Some(v) = v.filter(|v| !(bare_empty && v.is_empty())) {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mac = super::hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac)
}

#[cfg(test)]
mod tests {
    use super::{Flavor, OBS_SDK_SUBRESOURCES, OBS_SUBRESOURCES};

    #[test]
    fn obs_subresources_are_sorted_and_found_whatever_their_case() {
        assert!(OBS_SUBRESOURCES.windows(2).all(|w| w[0] < w[1]));
        assert!(OBS_SUBRESOURCES
            .iter()
            .all(|s| *s == s.to_ascii_lowercase() && s.len() <= 32));
        for name in [
            "acl",
            "partNumber",
            "uploadId",
            "x-image-process",
            "x-obs-anything",
        ] {
            assert!(Flavor::Obs.is_subresource(name), "{name}");
        }
        for name in ["a", "partNumbers", "foo", "zzz"] {
            assert!(!Flavor::Obs.is_subresource(name), "{name}");
        }
        for (version, list) in OBS_SDK_SUBRESOURCES {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{version}");
            assert!(list
                .iter()
                .all(|s| *s == s.to_ascii_lowercase() && s.len() <= 32));
        }
        // The SDKs do not sign `customdomain`, which the documentation lists.
        assert!(Flavor::Obs.is_subresource("customdomain"));
        assert!(super::obs_sdk_flavors().all(|f| !f.is_subresource("customdomain")));
        assert!(Flavor::ObsSdk(0).is_subresource("x-workflow-limit"));
    }
}
