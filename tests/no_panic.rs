//! The proxy never panics on input: random and mutated requests, bodies and documents go through
//! the verifier, the planner, the copy model, the chunked decoder and the XML readers.

use bytes::{Bytes, BytesMut};
use dialect_proxy::auth::{self, Payload, WireRequest};
use dialect_proxy::config;
use dialect_proxy::dialect::chunked::Decoder;
use dialect_proxy::dialect::copy::parse_copy_part;
use dialect_proxy::dialect::Dialect;
use dialect_proxy::request::{self, Inbound};
use dialect_proxy::sign::Secret;
use dialect_proxy::xml;

/// xorshift: deterministic, no dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn mutate(&mut self, s: &str) -> String {
        const ALPHABET: &[u8] = b"aZ09%/?&=;:,.-_~+ \"'\\\r\n\t\x00\xff<>{}[]";
        let mut b = s.as_bytes().to_vec();
        for _ in 0..=self.below(4) {
            match self.below(3) {
                0 if !b.is_empty() => {
                    let i = self.below(b.len());
                    b.remove(i);
                }
                1 => {
                    let i = self.below(b.len() + 1);
                    b.insert(i, ALPHABET[self.below(ALPHABET.len())]);
                }
                _ if !b.is_empty() => {
                    let i = self.below(b.len());
                    b.truncate(i);
                }
                _ => {}
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    }
}

const SEEDS: &[&str] = &[
    "OBS AK:5g96AeMw4gSWNHbPuTt2leS/GVk=",
    "AWS AK:5g96AeMw4gSWNHbPuTt2leS/GVk=",
    "AWS4-HMAC-SHA256 Credential=AK/20240315/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=d045f82a92cbee2fb224affb82d566038a85c4730dfe98039ee1b33d89156f4f",
    "q-sign-algorithm=sha1&q-ak=AK&q-sign-time=1710506036;1710516096&q-key-time=1710506036;1710516096&q-header-list=host&q-url-param-list=&q-signature=9a8988e8b524014172f153eef4274a28e8fea390",
];

const CONFIG: &str = r#"
[[clients]]
access_key = "AK"
secret_key = "SK"
[[backends]]
name = "g"
dialect = "cos"
endpoint = "http://cos.ap-guangzhou.myqcloud.com"
connect = "127.0.0.1:9"
access_key = "a"
secret_key = "b"
[[routes]]
bucket = "*"
backend = "g"
"#;

#[test]
fn requests_never_panic() {
    let mut cfg = config::parse(CONFIG, &|_| None).unwrap();
    cfg.resolve().unwrap();
    let secret = Secret::new("SK");
    let mut rng = Rng(0x9E3779B97F4A7C15);
    for i in 0..iterations() {
        let auth_value = rng.mutate(SEEDS[i % SEEDS.len()]);
        let path = rng.mutate("/bkt/dir/a%20b%2Bc.bin");
        let query = rng.mutate("partNumber=1&uploadId=abc&X-Amz-Credential=AK%2F20240315&q-ak=AK&AccessKeyId=AK&Expires=1");
        let headers = vec![
            (
                "host".to_string(),
                rng.mutate("b-1250000000.cos.ap-guangzhou.myqcloud.com"),
            ),
            ("authorization".to_string(), auth_value),
            (
                "date".to_string(),
                rng.mutate("Fri, 15 Mar 2024 12:34:56 GMT"),
            ),
            ("x-amz-date".to_string(), rng.mutate("20240315T123456Z")),
            (
                "x-cos-copy-source".to_string(),
                rng.mutate("src-1250000000.cos.ap-guangzhou.myqcloud.com/k%25?versionId=v"),
            ),
            (
                "x-amz-copy-source".to_string(),
                rng.mutate("src/k?versionId=v"),
            ),
            (
                "x-amz-copy-source-range".to_string(),
                rng.mutate("bytes=0-9"),
            ),
            (
                "x-obs-copy-source-if-modified-since".to_string(),
                rng.mutate("Thu, 14 Mar 2024 00:00:00 GMT"),
            ),
            (
                "x-amz-copy-source-server-side-encryption-customer-key".to_string(),
                rng.mutate("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
            ),
            ("x-amz-decoded-content-length".to_string(), rng.mutate("28")),
        ];
        let headers = auth::borrowed(&headers);
        let wire = WireRequest {
            method: "PUT",
            raw_path: &path,
            raw_query: &query,
            headers: &headers,
            host_bucket: Some("b"),
        };
        let _ = auth::verify(
            &wire,
            &|ak| (ak == "AK").then_some(&secret),
            1710506096,
            900,
        );
        for d in Dialect::ALL {
            let _ = parse_copy_part(d, &headers, &[], i % 2 == 0);
        }
        let inb = Inbound::new("PUT", &path, &query, headers);
        let _ = request::plan(&cfg, &inb, 1710506096);
    }
}

#[test]
fn bodies_and_documents_never_panic() {
    let mut rng = Rng(0xD1B54A32D192ED03);
    let body = "1c\r\ndialect-proxy golden vector\n\r\n0\r\nx-amz-checksum-crc32:XWKehQ==\r\n\r\n";
    let doc = r#"<?xml version="1.0"?><CopyPartResult xmlns="x"><LastModified>2024-03-15T12:34:56.5+08:00</LastModified><ETag>&quot;e&quot;</ETag></CopyPartResult>"#;
    for i in 0..iterations() {
        let b = rng.mutate(body);
        if let Ok(mut d) = Decoder::new(None, Some("x-amz-checksum-crc32"), 28) {
            let mut out = BytesMut::new();
            let ok = b
                .as_bytes()
                .chunks(1 + i % 7)
                .all(|c| d.feed(c, &mut out).is_ok());
            if ok {
                let _ = d.finish();
            }
        }
        let p = Payload::Streaming {
            signed: i % 2 == 0,
            trailer: None,
            decoded_len: Some(28),
            seed: "0".repeat(64),
            key: [1; 32],
            scope: "s".into(),
            amz_date: "d".into(),
        };
        if let Ok(mut c) = dialect_proxy::body::BodyCheck::new(&p) {
            let _ = c.push(Some(Bytes::from(b.clone())), true);
        }
        let x = rng.mutate(doc);
        let _ = xml::copy_result(x.as_bytes());
        let _ = xml::parse_error(x.as_bytes());
        let _ = xml::rewrite_namespace(x.as_bytes(), Dialect::Cos);
        let _ = xml::strip_elements(x.as_bytes(), "Checksum");
        let _ = xml::texts(x.as_bytes(), "ETag");
        let _ = xml::normalize_timestamp(&rng.mutate("2024-03-15T12:34:56.5+08:00"));
        let _ = dialect_proxy::response::body(
            request::Op::UploadPartCopy,
            200,
            Dialect::Obs,
            x.as_bytes(),
            "r",
            "/b/k",
        );
    }
}

/// The documents the gateway rewrites between clouds: listings, ACLs, locations, restores, names.
#[test]
fn cloud_documents_never_panic() {
    use dialect_proxy::{acl, documents, listing::ListV2, rename};
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let list = r#"<ListBucketResult xmlns="x"><Name>b-1</Name><Prefix>p/</Prefix><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextMarker>p%2Fa</NextMarker><Contents><Key>p/a&amp;b</Key><Owner><ID>o</ID></Owner><StorageClass>WARM</StorageClass></Contents><CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes></ListBucketResult>"#;
    let grants = r#"<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="x" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant><Grant><Grantee><Canned>Everyone</Canned></Grantee></Grant></AccessControlList></AccessControlPolicy>"#;
    let restore = "<RestoreRequest><Days>1</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters></RestoreRequest>";
    let l = ListV2 {
        token: Some("dp1.cA".into()),
        start_after: Some("p/0".into()),
        fetch_owner: true,
        url: true,
    };
    for _ in 0..iterations() {
        let x = rng.mutate(list);
        let _ = l.answer(x.as_bytes(), Some("b"));
        let _ = ListV2::default().answer(x.as_bytes(), None);
        let _ = rename::bucket_back(x.as_bytes(), "b-1", "b");
        let _ = xml::map_texts(x.as_bytes(), &["StorageClass", "Name"], |_, v| {
            Some(v.repeat(2))
        });
        let mut q = vec![
            ("list-type".to_string(), Some("2".to_string())),
            (
                "continuation-token".to_string(),
                Some(rng.mutate("dp1.cC9kL_SPv78")),
            ),
        ];
        let _ = ListV2::take(&mut q);
        for d in Dialect::ALL {
            let _ = acl::translate(rng.mutate(grants).as_bytes(), d, true);
            let _ = acl::translate(rng.mutate(grants).as_bytes(), d, false);
            let _ = documents::restore_body(d, rng.mutate(restore).as_bytes());
            let _ = documents::location_answer(rng.mutate("<Location>r</Location>").as_bytes(), d);
        }
    }
}

/// `NO_PANIC_ITERATIONS` raises the count for a longer local run.
fn iterations() -> usize {
    std::env::var("NO_PANIC_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20000)
}
