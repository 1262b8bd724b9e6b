//! Huawei OBS native (`x-obs-*`).

use super::Vocabulary;

pub const VOCAB: Vocabulary = Vocabulary {
    name: "obs",
    prefix: "x-obs-",
    request_id: "x-obs-request-id",
    id2: Some("x-obs-id-2"),
    xmlns: "http://obs.myhwclouds.com/doc/2015-06-30/",
    server: "OBS",
    renames: &[(
        "server-side-encryption-aws-kms-key-id",
        "server-side-encryption-kms-key-id",
    )],
    values: &[
        ("storage-class", "STANDARD_IA", "WARM"),
        ("storage-class", "GLACIER", "COLD"),
        ("server-side-encryption", "aws:kms", "kms"),
    ],
    unsupported: &[
        "checksum-crc32",
        "checksum-crc32c",
        "checksum-crc64nvme",
        "checksum-sha1",
        "checksum-sha256",
        "traffic-limit",
        "server-side-encryption-context",
        "checksum-mode",
        "sdk-checksum-algorithm",
    ],
    error_trace_id: false,
    xml_decl: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    host_markers: &[".myhuaweicloud.com"],
    min_part_size: 100 << 10,
    form_encoded_query: false,
    encoding_sdk: Some("obs-sdk-"),
    token_param: Some("x-obs-security-token"),
    probe: Some(("apiversion", "x-obs-api", "3.0")),
};

/// Characters esdk-obs-python leaves unencoded in header values (it percent-encodes the rest).
pub(super) const HEADER_SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ')
    .remove(b';')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b',')
    .remove(b'\'')
    .remove(b'*');

/// Encode a header value the way the OBS SDK does, so an OBS server decodes it back.
pub fn encode_header_value(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, HEADER_SAFE).to_string()
}
