//! Parts smaller than the backend accepts: a client whose own cloud takes smaller parts than the
//! backend's (COS 1 MiB, OBS 100 KiB, S3 5 MiB) has each part stored as a staging object under a
//! reserved prefix, named from the upload id and part number. Complete groups the client's parts
//! into runs of legal size and builds the real upload from them. All state lives in the backend:
//! any replica can serve any request of the upload.

use crate::config::Backend;
use crate::dialect::{copy, Dialect};
use crate::error::{ApiError, Code};
use crate::model::{CopyPart, CopySource};
use crate::outbound::Outbound;
use crate::sign;
use crate::xml;
use sha2::{Digest, Sha256};

/// Where an upload's staged parts live, and the sizes that rule them.
#[derive(Debug, Clone)]
pub struct Staging {
    /// The backend bucket (the destination's).
    pub bucket: String,
    /// The destination object's key, encoded for a path.
    pub object: String,
    /// The bucket and key as the client named them.
    pub client_bucket: String,
    pub client_key: String,
    /// `<staging prefix><hash of the upload id>/`.
    pub prefix: String,
    pub upload_id: String,
    /// The backend's smallest non-last part.
    pub backend_min: u64,
    /// The client's own cloud's smallest non-last part.
    pub client_min: u64,
}

impl Staging {
    pub fn new(
        root: &str,
        bucket: &str,
        (client_bucket, client_key): (&str, &str),
        upload_id: &str,
        (backend_min, client_min): (u64, u64),
    ) -> Self {
        let digest = Sha256::digest(upload_id.as_bytes());
        Staging {
            bucket: bucket.to_string(),
            object: sign::uri_encode_path(client_key),
            client_bucket: client_bucket.to_string(),
            client_key: client_key.to_string(),
            prefix: format!("{root}{}/", hex::encode(&digest[..16])),
            upload_id: upload_id.to_string(),
            backend_min,
            client_min,
        }
    }

    /// The staging object of part `n`.
    pub fn key(&self, n: u32) -> String {
        format!("{}{n:05}", self.prefix)
    }

    /// Part number of a staging object's key, if it is one of this upload's.
    pub fn part_of(&self, key: &str) -> Option<u32> {
        key.strip_prefix(&self.prefix)?.parse().ok()
    }

    /// Point `out` at part `n`'s staging object (a PutObject or GET/DELETE of it).
    pub fn address(&self, out: &mut Outbound, b: &Backend, n: u32) {
        out.address(
            b,
            Some(&self.bucket),
            Some(&sign::uri_encode_path(&self.key(n))),
        );
        out.query.clear();
    }

    /// One page of the staging objects (ListObjects V1, which every dialect serves).
    pub fn list(&self, b: &Backend, marker: &str) -> Outbound {
        let mut out = Outbound {
            method: "GET".into(),
            ..Default::default()
        };
        out.address(b, Some(&self.bucket), None);
        out.query = vec![
            ("prefix".into(), Some(self.prefix.clone())),
            ("max-keys".into(), Some("1000".into())),
        ];
        if !marker.is_empty() {
            out.query.push(("marker".into(), Some(marker.to_string())));
        }
        out
    }

    /// A request about the real upload.
    pub fn upload_request(&self, b: &Backend, method: &str) -> Outbound {
        let mut out = Outbound {
            method: method.into(),
            ..Default::default()
        };
        out.address(b, Some(&self.bucket), Some(&self.object));
        out.query = vec![("uploadId".into(), Some(self.upload_id.clone()))];
        out
    }

    /// The UploadPartCopy that makes staged part `staged` the real upload's part `n`.
    pub fn copy_into(&self, b: &Backend, n: u32, staged: u32) -> Outbound {
        let mut out = self.upload_request(b, "PUT");
        out.query.push(("partNumber".into(), Some(n.to_string())));
        let cp = CopyPart {
            source: CopySource {
                bucket: self.bucket.clone(),
                key: self.key(staged),
                version_id: None,
            },
            range: None,
            conditions: Default::default(),
            sse_c: None,
            source_sse_c: None,
        };
        let at = copy::SourceHost {
            host: &b.host,
            region: &b.region,
        };
        out.headers
            .extend(copy::copy_part_headers(&cp, b.dialect, at, false));
        out.set_header("content-length", "0".into());
        out
    }
}

/// A staged part as listed: number, size, ETag (unquoted), LastModified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPart {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
}

/// The parts a client's Complete names, checked against what it staged, as its own cloud would:
/// ascending numbers (`InvalidPartOrder`), each staged with that ETag (`InvalidPart`), every
/// non-last part at least the client's minimum (`EntityTooSmall`).
pub fn chosen_parts(
    complete_body: &[u8],
    staged: &[StagedPart],
    client_min: u64,
) -> Result<Vec<StagedPart>, ApiError> {
    let malformed = || {
        ApiError::new(
            Code::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let numbers = xml::texts(complete_body, "PartNumber").ok_or_else(malformed)?;
    let etags = xml::texts(complete_body, "ETag").ok_or_else(malformed)?;
    if numbers.is_empty() || numbers.len() != etags.len() {
        return Err(malformed());
    }
    let mut out: Vec<StagedPart> = Vec::with_capacity(numbers.len());
    for (n, e) in numbers.iter().zip(&etags) {
        let n: u32 = n.trim().parse().map_err(|_| malformed())?;
        if out.last().is_some_and(|p| p.number >= n) {
            return Err(ApiError::new(
                Code::InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
            ));
        }
        let etag = unquote(e);
        let Some(p) = staged.iter().find(|p| p.number == n && p.etag == etag) else {
            return Err(ApiError::new(
                Code::InvalidPart,
                format!("One or more of the specified parts could not be found: part {n}"),
            ));
        };
        out.push(p.clone());
    }
    for p in &out[..out.len() - 1] {
        if p.size < client_min {
            return Err(ApiError::new(
                Code::EntityTooSmall,
                format!(
                    "Your proposed upload is smaller than the minimum allowed object size: part {} is {} bytes, the minimum is {client_min}",
                    p.number, p.size
                ),
            ));
        }
    }
    Ok(out)
}

/// Group parts, in order, into runs that the backend takes as parts: every run but the last at
/// least `min` bytes (the last may be smaller). Returns index ranges into `parts`.
pub fn runs(parts: &[StagedPart], min: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0usize, 0u64);
    for (i, p) in parts.iter().enumerate() {
        size += p.size;
        if size >= min {
            out.push(start..i + 1);
            (start, size) = (i + 1, 0);
        }
    }
    if start < parts.len() {
        out.push(start..parts.len());
    }
    out
}

/// The staging objects of one ListObjects page, and the marker of the next page. An ETag the
/// listing leaves out (some stores do) is empty here, to be read with a HEAD.
pub fn staged_page(
    s: &Staging,
    body: &[u8],
) -> Result<(Vec<StagedPart>, Option<String>), ApiError> {
    let bad = || ApiError::internal("The backend's listing of staged parts could not be read");
    if !xml::whole_document(body) {
        return Err(bad());
    }
    let listed = xml::listed_objects(body).ok_or_else(bad)?;
    let mut parts = Vec::with_capacity(listed.len());
    for o in &listed {
        if let Some(number) = s.part_of(&o.key) {
            parts.push(StagedPart {
                number,
                size: o.size.trim().parse().map_err(|_| bad())?,
                etag: o.etag.as_deref().map(unquote).unwrap_or_default(),
                last_modified: xml::normalize_timestamp(&o.last_modified),
            });
        }
    }
    let all = |name| xml::texts(body, name).unwrap_or_default();
    let truncated = all("IsTruncated").first().is_some_and(|t| t == "true");
    let next = truncated.then(|| {
        all("NextMarker")
            .into_iter()
            .next()
            .or_else(|| listed.last().map(|o| o.key.clone()))
            .unwrap_or_default()
    });
    Ok((parts, next.filter(|m| !m.is_empty())))
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// The body of the backend's Complete: its parts in order with their ETags (one shape for all
/// three dialects).
pub fn complete_body(parts: &[(u32, String)]) -> Vec<u8> {
    let mut s = String::from("<CompleteMultipartUpload>");
    for (n, e) in parts {
        s.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"{}\"</ETag></Part>",
            xml::escape(e)
        ));
    }
    s.push_str("</CompleteMultipartUpload>");
    s.into_bytes()
}

/// The client's view of its staged parts, as its cloud's ListParts answers (all parts, one page).
pub fn render_list_parts(to: Dialect, s: &Staging, parts: &[StagedPart]) -> Vec<u8> {
    let v = to.vocab();
    let mut x = format!(
        "{}<ListPartsResult xmlns=\"{}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId>\
         <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>{}</NextPartNumberMarker>\
         <MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>",
        v.xml_decl,
        v.xmlns,
        xml::escape(&s.client_bucket),
        xml::escape(&s.client_key),
        xml::escape(&s.upload_id),
        parts.last().map_or(0, |p| p.number),
    );
    for p in parts {
        x.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><LastModified>{}</LastModified><ETag>\"{}\"</ETag><Size>{}</Size></Part>",
            p.number,
            xml::escape(&p.last_modified),
            xml::escape(&p.etag),
            p.size
        ));
    }
    x.push_str("</ListPartsResult>");
    x.into_bytes()
}

/// Which cloud's rules a client expects: its SDK's (the OBS SDK also signs as S3), else its dialect's.
pub fn client_cloud(client: Dialect, user_agent: Option<&str>) -> Dialect {
    Dialect::sdk_of(user_agent).unwrap_or(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(sizes: &[u64]) -> Vec<StagedPart> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, s)| StagedPart {
                number: i as u32 + 1,
                size: *s,
                etag: format!("e{}", i + 1),
                last_modified: String::new(),
            })
            .collect()
    }

    #[test]
    fn runs_reach_the_minimum_and_a_short_tail_is_the_last_part() {
        let mib = 1 << 20;
        // 20 MiB in 1 MiB parts to a 5 MiB minimum: four runs of five.
        let r = runs(&parts(&[mib; 20]), 5 * mib);
        assert_eq!(r, vec![0..5, 5..10, 10..15, 15..20]);
        // 12 parts: 5, 5, then a tail of 2 as the last part.
        assert_eq!(runs(&parts(&[mib; 12]), 5 * mib), vec![0..5, 5..10, 10..12]);
        // One small part alone is the last (and only) part.
        assert_eq!(runs(&parts(&[10]), 5 * mib), vec![0..1]);
        // Big parts stay alone.
        assert_eq!(
            runs(&parts(&[6 * mib, 6 * mib, 1]), 5 * mib),
            vec![0..1, 1..2, 2..3]
        );
    }

    #[test]
    fn the_clients_list_is_checked_as_its_cloud_would() {
        let staged = parts(&[200, 200, 50]);
        let body = |list: &[(u32, &str)]| {
            let mut s = String::from("<CompleteMultipartUpload>");
            for (n, e) in list {
                s += &format!("<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag></Part>");
            }
            (s + "</CompleteMultipartUpload>").into_bytes()
        };
        let ok = chosen_parts(&body(&[(1, "e1"), (3, "e3")]), &staged, 100).unwrap();
        assert_eq!(ok.iter().map(|p| p.number).collect::<Vec<_>>(), vec![1, 3]);
        let code = |b: &[u8], min| chosen_parts(b, &staged, min).unwrap_err().code;
        assert_eq!(
            code(&body(&[(1, "e1"), (2, "nope")]), 100),
            Code::InvalidPart
        );
        assert_eq!(code(&body(&[(4, "e4")]), 100), Code::InvalidPart);
        assert_eq!(
            code(&body(&[(2, "e2"), (1, "e1")]), 100),
            Code::InvalidPartOrder
        );
        assert_eq!(
            code(&body(&[(1, "e1"), (3, "e3")]), 300),
            Code::EntityTooSmall
        );
        assert_eq!(code(b"<CompleteMultipartUpload/>", 100), Code::MalformedXML);
    }
}
