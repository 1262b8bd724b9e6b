//! Errors the proxy raises or relays, independent of the dialect that renders them.

/// An S3-family error: code, status and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Extra detail only for the debug log (e.g. the canonical string). Never sent to the client.
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            detail: None,
        }
    }
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn access_denied(msg: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", msg)
    }
    pub fn invalid_access_key() -> Self {
        Self::new(
            403,
            "InvalidAccessKeyId",
            "The access key Id you provided does not exist in our records.",
        )
    }
    pub fn signature_mismatch() -> Self {
        Self::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    }
    pub fn skewed() -> Self {
        Self::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
    }
    pub fn expired() -> Self {
        Self::access_denied("Request has expired")
    }
    pub fn malformed_auth(msg: impl Into<String>) -> Self {
        Self::new(400, "AuthorizationHeaderMalformed", msg)
    }
    pub fn invalid_argument(msg: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgument", msg)
    }
    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", msg)
    }
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            404,
            "NoSuchBucket",
            format!("The specified bucket does not exist: {bucket}"),
        )
    }
    pub fn not_implemented(msg: impl Into<String>) -> Self {
        Self::new(501, "NotImplemented", msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(500, "InternalError", msg)
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", msg)
    }
}

/// The status an S3-family code normally carries, for a code found in a 200 body.
pub fn status_for_code(code: &str) -> u16 {
    match code {
        "AccessDenied"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "RequestTimeTooSkewed"
        | "InvalidObjectState" => 403,
        "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NoSuchVersion" => 404,
        "PreconditionFailed" => 412,
        "InvalidRange" => 416,
        "SlowDown" | "ServiceUnavailable" => 503,
        "InternalError" => 500,
        "NotImplemented" => 501,
        "MethodNotAllowed" => 405,
        "Conflict" | "OperationAborted" | "BucketAlreadyExists" | "BucketNotEmpty" => 409,
        _ if code.starts_with("Invalid") || code.starts_with("Malformed") => 400,
        "EntityTooSmall" | "EntityTooLarge" | "BadDigest" | "IncompleteBody" => 400,
        _ => 500,
    }
}
