//! The wire dialects, one constant vocabulary per file; here, translation to and from the neutral form.

pub mod auth;
pub mod chunked;
pub mod cloud;
pub mod copy;
pub mod hosts;
pub mod reframe;
mod v4;
mod vocabulary;
pub use crate::wire;
pub use vocabulary::{FormScheme, FormSigning, VirtualHost, Vocabulary};

use crate::model::Field;
use serde::Deserialize;
use wire::Headers;

/// Header suffixes of the copy fields; the same in all three namespaces.
pub const COPY_FIELDS: &[(Field, &str)] = &[
    (Field::Source, "copy-source"),
    (Field::Range, "copy-source-range"),
    (Field::IfMatch, "copy-source-if-match"),
    (Field::IfNoneMatch, "copy-source-if-none-match"),
    (Field::IfModifiedSince, "copy-source-if-modified-since"),
    (Field::IfUnmodifiedSince, "copy-source-if-unmodified-since"),
    (
        Field::SseAlgorithm,
        "server-side-encryption-customer-algorithm",
    ),
    (Field::SseKey, "server-side-encryption-customer-key"),
    (Field::SseKeyMd5, "server-side-encryption-customer-key-md5"),
    (
        Field::SourceSseAlgorithm,
        "copy-source-server-side-encryption-customer-algorithm",
    ),
    (
        Field::SourceSseKey,
        "copy-source-server-side-encryption-customer-key",
    ),
    (
        Field::SourceSseKeyMd5,
        "copy-source-server-side-encryption-customer-key-md5",
    ),
];

/// Is this neutral suffix one of the copy fields (owned by the copy model)?
pub fn is_copy_field(suffix: &str) -> bool {
    COPY_FIELDS.iter().any(|(_, s)| *s == suffix)
}

/// The clouds: each `Variant => module` line registers one, whose file exports `VOCAB` and
/// `CLOUD` (its `cloud::Cloud`).
macro_rules! clouds {
    ($($variant:ident => $module:ident),* $(,)?) => {
        $(pub mod $module;)*

        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum Dialect {
            $($variant,)*
        }

        impl Dialect {
            pub const ALL: [Dialect; [$(stringify!($variant)),*].len()] = [$(Dialect::$variant,)*];

            /// Its file's vocabulary (static: read on every request).
            pub fn vocab(self) -> &'static Vocabulary {
                match self {
                    $(Dialect::$variant => &$module::VOCAB,)*
                }
            }

            /// Its file's schemes and signer.
            pub fn cloud(self) -> &'static dyn cloud::Cloud {
                match self {
                    $(Dialect::$variant => &$module::CLOUD,)*
                }
            }
        }
    };
}

clouds! {
    S3 => s3,
    Obs => obs,
    Cos => cos,
    Oss => oss,
}

impl Default for Dialect {
    /// The dialect assumed when a request says nothing of its own.
    fn default() -> Self {
        Dialect::S3
    }
}

impl Dialect {
    /// The dialect a configuration names (`"s3"`, `"obs"`, `"cos"`).
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The dialect a request speaks judged from its headers alone (after its auth scheme, for
    /// errors before or without authentication): a vendor header namespace, else the Host.
    pub fn guess(headers: &[(&str, &str)]) -> Dialect {
        let others = || {
            Dialect::ALL
                .into_iter()
                .filter(|d| *d != Dialect::default())
        };
        for (k, _) in headers {
            if let Some(d) = others().find(|d| k.starts_with(d.vocab().prefix)) {
                return d;
            }
        }
        let header = |name| {
            headers
                .iter()
                .find(|(k, _)| *k == name)
                .map_or("", |(_, v)| *v)
        };
        let (host, agent) = (header("host"), header("user-agent"));
        others()
            .find(|d| d.vocab().host_markers.iter().any(|m| host.contains(m)))
            .or_else(|| {
                others().find(|d| d.vocab().sdk_agents.iter().any(|p| agent.starts_with(p)))
            })
            .unwrap_or_default()
    }

    /// The dialect whose SDK probes with this query parameter, and the header that answers it.
    pub fn probe(has_param: impl Fn(&str) -> bool) -> Option<(Dialect, (wire::Name, String))> {
        Dialect::ALL.into_iter().find_map(|d| {
            let (param, header, value) = d.vocab().probe?;
            has_param(param).then(|| (d, (header.into(), value.to_string())))
        })
    }

    /// Whether a header belongs to some dialect's vendor namespace.
    pub fn is_vendor_header(lower_name: &str) -> bool {
        Dialect::ALL
            .iter()
            .any(|d| lower_name.starts_with(d.vocab().prefix))
    }

    /// Whether its service refuses what a neutral header suffix asks for (no equivalent there).
    pub fn refuses(self, neutral_suffix: &str) -> bool {
        self.vocab().refused.contains(&neutral_suffix)
    }

    /// Smallest non-last multipart part its service accepts.
    pub fn min_part_size(self) -> u64 {
        self.vocab().min_part_size
    }

    /// Decode one query value as this dialect's clients encode it.
    pub fn decode_query_value(self, v: &str) -> String {
        if self.vocab().form_encoded_query {
            crate::sign::form_decode(v)
        } else {
            crate::sign::percent_decode(v)
        }
    }

    /// Whether a client percent-encodes its header values: this dialect's own SDK does (in every
    /// signing mode, so it is told by its User-Agent too).
    pub fn encodes_header_values(self, user_agent: Option<&str>) -> bool {
        let sdk_encodes = |d: Dialect| d.vocab().encoding_sdk.is_some();
        sdk_encodes(self)
            || Dialect::ALL.into_iter().any(|d| {
                d.vocab()
                    .encoding_sdk
                    .is_some_and(|p| user_agent.is_some_and(|ua| ua.starts_with(p)))
            })
    }

    /// Whether a client reports a 200 whose body is an `<Error>` as an error: as its SDK does,
    /// told by the User-Agent where known (the OBS SDK also signs as S3), else as its dialect's.
    pub fn raises_200_error(self, user_agent: Option<&str>) -> bool {
        Dialect::sdk_of(user_agent)
            .unwrap_or(self)
            .vocab()
            .sdk_raises_200_error
    }

    /// The cloud whose SDK a User-Agent names, where it tells (the OBS SDK, whatever it signs with).
    pub fn sdk_of(user_agent: Option<&str>) -> Option<Dialect> {
        let ua = user_agent?;
        Dialect::ALL
            .into_iter()
            .find(|d| d.vocab().encoding_sdk.is_some_and(|p| ua.starts_with(p)))
    }

    /// A header value as this dialect's service reads it (OBS decodes its metadata values).
    pub fn encode_header_value(self, name: &str, value: String) -> String {
        if name.starts_with(self.vocab().prefix) && name.contains("-meta-") {
            self.encode_value(value)
        } else {
            value
        }
    }

    /// A value encoded the way this dialect's SDK encodes header values (OBS decodes them).
    pub fn encode_value(self, value: String) -> String {
        match self.vocab().encoding_sdk {
            Some(_) => percent_encoding::utf8_percent_encode(&value, obs::HEADER_SAFE).to_string(),
            None => value,
        }
    }

    /// Whether a query parameter belongs to some dialect's presigned URLs (never forwarded).
    pub fn is_presign_param(name: &str) -> bool {
        // Most parameters (uploadId, partNumber...) start with a byte no presigned name starts
        // with: refused by one table lookup.
        static FIRST: std::sync::LazyLock<[bool; 256]> = std::sync::LazyLock::new(|| {
            let mut t = [false; 256];
            for d in Dialect::ALL {
                for p in d.vocab().presign_params {
                    t[p.as_bytes()[0] as usize] = true;
                }
            }
            t
        });
        name.as_bytes().first().is_some_and(|b| FIRST[*b as usize])
            && Dialect::ALL
                .iter()
                .any(|d| names_match(d.vocab().presign_params, name))
    }

    /// Whether a query parameter carries a signature in some dialect's presigned URLs.
    pub fn is_query_signature(name: &str) -> bool {
        Dialect::ALL
            .iter()
            .any(|d| names_match(d.vocab().query_signatures, name))
    }

    /// How to sign `out` for a service of this dialect with `c`'s keys at `now`: the headers to
    /// set. `payload` is the hex SHA-256 of the body when it is known.
    pub fn sign(
        self,
        out: &wire::Outbound,
        c: &wire::Credentials<'_>,
        payload: Option<&str>,
        now: i64,
    ) -> Headers {
        self.cloud().sign(out, c, payload, now)
    }

    pub fn name(self) -> &'static str {
        self.vocab().name
    }

    /// `x-obs-meta-a` -> `meta-a` (neutral suffix), if the header is in this dialect's namespace.
    pub fn neutral_suffix(self, lower_name: &str) -> Option<String> {
        let v = self.vocab();
        let suffix = lower_name.strip_prefix(v.prefix)?;
        Some(
            v.renames
                .iter()
                .find(|(_, w)| *w == suffix)
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| suffix.to_string()),
        )
    }

    /// Neutral suffix -> wire header name in this dialect (`None` if it has no such header).
    pub fn header_name(self, neutral: &str) -> Option<String> {
        let v = self.vocab();
        if v.unsupported.contains(&neutral) {
            return None;
        }
        let suffix = v
            .renames
            .iter()
            .find(|(n, _)| *n == neutral)
            .map(|(_, w)| *w)
            .unwrap_or(neutral);
        Some(format!("{}{}", v.prefix, suffix))
    }

    /// `header_name` for a request on the bucket itself, where some clouds name a header otherwise.
    pub fn bucket_header_name(self, neutral: &str) -> Option<String> {
        let v = self.vocab();
        match v.bucket_renames.iter().find(|(n, _)| *n == neutral) {
            Some((_, w)) => Some(format!("{}{w}", v.prefix)),
            None => self.header_name(neutral),
        }
    }

    /// Wire value -> neutral value for a header suffix.
    pub fn neutral_value<'a>(self, neutral_suffix: &str, value: &'a str) -> &'a str {
        for (s, n, w) in self.vocab().values {
            if *s == neutral_suffix && w.eq_ignore_ascii_case(value) {
                return n;
            }
        }
        value
    }

    /// Neutral value -> wire value for a header suffix.
    pub fn wire_value<'a>(self, neutral_suffix: &str, value: &'a str) -> &'a str {
        for (s, n, w) in self.vocab().values {
            if *s == neutral_suffix && n.eq_ignore_ascii_case(value) {
                return w;
            }
        }
        value
    }
}

impl Dialect {
    /// The region a host of this cloud names: `<service>.<region>.<its domain>`.
    pub fn region_of_host(self, host: &str) -> Option<&str> {
        let host = host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        let domain = self
            .vocab()
            .host_markers
            .iter()
            .find(|m| host.ends_with(*m))?;
        let labels: Vec<&str> = host[..host.len() - domain.len()].split('.').collect();
        match labels.as_slice() {
            [_, region] if !region.is_empty() => Some(region),
            _ => None,
        }
    }

    /// The value `to`'s service takes for a storage class or canned ACL, as it spells it; `None`
    /// when it has no equivalent (refused rather than passed on raw). Other suffixes: any value.
    pub fn accepted_value<'a>(
        self,
        neutral_suffix: &str,
        wire: &'a str,
        bucket: bool,
    ) -> Option<&'a str> {
        let v = self.vocab();
        let set = match neutral_suffix {
            "storage-class" => v.storage_classes,
            "acl" if bucket => v.bucket_acls,
            "acl" => v.object_acls,
            _ => return Some(wire),
        };
        set.iter()
            .copied()
            .find(|s| s.eq_ignore_ascii_case(wire.trim()))
    }
}

/// Whether `name` is in `list`, where a name ending in `*` stands for every name it starts.
fn names_match(list: &[&str], name: &str) -> bool {
    list.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *p,
    })
}

/// Translate one vendor header from `from` to `to`: (name, value) or `None` when `to` lacks it.
pub fn translate_header(
    from: Dialect,
    to: Dialect,
    lower_name: &str,
    value: &str,
) -> Option<(String, String)> {
    let neutral = from.neutral_suffix(lower_name)?;
    let name = to.header_name(&neutral)?;
    let v = from.neutral_value(&neutral, value);
    Some((name, to.wire_value(&neutral, v).to_string()))
}

#[cfg(test)]
mod tests;
