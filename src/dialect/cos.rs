//! Tencent COS (`x-cos-*`).

use super::Vocabulary;

pub const VOCAB: Vocabulary = Vocabulary {
    name: "cos",
    prefix: "x-cos-",
    request_id: "x-cos-request-id",
    id2: None,
    xmlns: "http://www.qcloud.com/document/product/436/7751",
    server: "tencent-cos",
    renames: &[(
        "server-side-encryption-aws-kms-key-id",
        "server-side-encryption-cos-kms-key-id",
    )],
    values: &[
        ("storage-class", "GLACIER", "ARCHIVE"),
        ("metadata-directive", "COPY", "Copy"),
        ("metadata-directive", "REPLACE", "Replaced"),
        ("server-side-encryption", "aws:kms", "cos/kms"),
    ],
    unsupported: &[
        "checksum-crc32",
        "checksum-crc32c",
        "checksum-crc64nvme",
        "checksum-sha1",
        "checksum-sha256",
        "checksum-mode",
        "sdk-checksum-algorithm",
        "request-payer",
        "id-2",
    ],
    error_trace_id: true,
    xml_decl: "<?xml version='1.0' encoding='utf-8' ?>\n",
    host_markers: &[".myqcloud.com", ".tencentcos.cn"],
    min_part_size: 1 << 20,
    form_encoded_query: true,
    encoding_sdk: None,
    token_param: Some("x-cos-security-token"),
    probe: None,
};
