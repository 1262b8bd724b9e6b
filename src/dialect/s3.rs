//! AWS S3 (and Yandex, OBS/COS in S3 mode): the neutral vocabulary itself.

use super::Vocabulary;

pub const VOCAB: Vocabulary = Vocabulary {
    name: "s3",
    prefix: "x-amz-",
    request_id: "x-amz-request-id",
    id2: Some("x-amz-id-2"),
    xmlns: "http://s3.amazonaws.com/doc/2006-03-01/",
    server: "AmazonS3",
    renames: &[],
    values: &[],
    unsupported: &["traffic-limit", "server-side-encryption-context"],
    error_trace_id: false,
    xml_decl: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    host_markers: &[],
    min_part_size: 5 << 20,
    form_encoded_query: false,
    encoding_sdk: None,
    token_param: None,
    probe: None,
};

/// aws-chunked bodies state their decoded length here.
pub const DECODED_LENGTH: &str = "x-amz-decoded-content-length";
