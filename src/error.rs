//! Errors the proxy raises or relays, independent of the dialect that renders them.

/// Error codes with the status each normally carries. `Other` is a code only a backend named.
macro_rules! codes {
    ($($name:ident = $status:expr,)*) => {
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Code {
            $($name,)*
            Other(String),
        }

        impl Code {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Code::$name => stringify!($name),)*
                    Code::Other(s) => s,
                }
            }

            pub fn parse(s: &str) -> Code {
                match s {
                    $(stringify!($name) => Code::$name,)*
                    other => Code::Other(other.to_string()),
                }
            }

            /// The status that goes with the code (for a code found inside a 200, too).
            pub fn status(&self) -> u16 {
                match self {
                    $(Code::$name => $status,)*
                    Code::Other(s) if s.starts_with("Invalid") || s.starts_with("Malformed") => 400,
                    Code::Other(_) => 500,
                }
            }
        }
    };
}

codes! {
    AccessDenied = 403,
    AccessForbidden = 403,
    InvalidAccessKeyId = 403,
    SignatureDoesNotMatch = 403,
    RequestTimeTooSkewed = 403,
    InvalidObjectState = 403,
    AuthorizationHeaderMalformed = 400,
    InvalidArgument = 400,
    InvalidRequest = 400,
    InvalidDigest = 400,
    InvalidURI = 400,
    InvalidBucketName = 400,
    InvalidStorageClass = 400,
    MetadataTooLarge = 400,
    MalformedXML = 400,
    MaxMessageLengthExceeded = 400,
    IncompleteBody = 400,
    BadDigest = 400,
    EntityTooSmall = 400,
    InvalidPart = 400,
    InvalidPartOrder = 400,
    EntityTooLarge = 400,
    XAmzContentSHA256Mismatch = 400,
    NoSuchKey = 404,
    NoSuchBucket = 404,
    NoSuchUpload = 404,
    NoSuchVersion = 404,
    MethodNotAllowed = 405,
    Conflict = 409,
    OperationAborted = 409,
    BucketAlreadyExists = 409,
    BucketNotEmpty = 409,
    MissingContentLength = 411,
    PreconditionFailed = 412,
    InvalidRange = 416,
    RequestHeaderSectionTooLarge = 431,
    InternalError = 500,
    NotImplemented = 501,
    BadGateway = 502,
    ServiceUnavailable = 503,
    SlowDown = 503,
    GatewayTimeout = 504,
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3-family error: code, status and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: Code,
    pub message: String,
    /// Extra detail only for the debug log (e.g. the canonical string). Never sent to the client.
    pub detail: Option<String>,
}

impl ApiError {
    /// An error the proxy raises: the code decides the status.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code,
            message: message.into(),
            detail: None,
        }
    }
    /// A backend's error, relayed with the status it came with.
    pub fn relayed(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: Code::parse(code),
            message: message.into(),
            detail: None,
        }
    }
    /// The message, or the code's usual one when there is none (a backend's bodiless answer):
    /// an error document always says something.
    pub fn message_or_default(&self) -> &str {
        if !self.message.trim().is_empty() {
            return &self.message;
        }
        match self.code {
            Code::PreconditionFailed => {
                "At least one of the pre-conditions you specified did not hold"
            }
            Code::NoSuchKey => "The specified key does not exist.",
            Code::NoSuchBucket => "The specified bucket does not exist.",
            Code::AccessDenied => "Access Denied",
            Code::InvalidRange => "The requested range is not satisfiable",
            Code::MethodNotAllowed => "The specified method is not allowed against this resource.",
            Code::Conflict => "The request conflicts with the resource's state.",
            Code::ServiceUnavailable | Code::SlowDown => "Please reduce your request rate.",
            _ if self.status >= 500 => "The backend failed without saying why.",
            _ => "The request was refused without a reason given.",
        }
    }
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn access_denied(msg: impl Into<String>) -> Self {
        Self::new(Code::AccessDenied, msg)
    }
    pub fn invalid_access_key() -> Self {
        Self::new(
            Code::InvalidAccessKeyId,
            "The access key Id you provided does not exist in our records.",
        )
    }
    pub fn signature_mismatch() -> Self {
        Self::new(
            Code::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        )
    }
    pub fn skewed() -> Self {
        Self::new(
            Code::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        )
    }
    pub fn expired() -> Self {
        Self::access_denied("Request has expired")
    }
    pub fn malformed_auth(msg: impl Into<String>) -> Self {
        Self::new(Code::AuthorizationHeaderMalformed, msg)
    }
    pub fn invalid_argument(msg: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, msg)
    }
    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Self::new(Code::InvalidRequest, msg)
    }
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            Code::NoSuchBucket,
            format!("The specified bucket does not exist: {bucket}"),
        )
    }
    pub fn not_implemented(msg: impl Into<String>) -> Self {
        Self::new(Code::NotImplemented, msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(Code::InternalError, msg)
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::new(Code::ServiceUnavailable, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_know_their_status_and_round_trip() {
        for (code, status) in [
            (Code::NoSuchUpload, 404),
            (Code::MissingContentLength, 411),
            (Code::PreconditionFailed, 412),
            (Code::SlowDown, 503),
            (Code::GatewayTimeout, 504),
            (Code::XAmzContentSHA256Mismatch, 400),
        ] {
            assert_eq!(code.status(), status, "{code}");
            assert_eq!(Code::parse(code.as_str()), code);
        }
        assert_eq!(Code::parse("InvalidBucketState").status(), 400);
        assert_eq!(
            Code::parse("WeirdFailure"),
            Code::Other("WeirdFailure".into())
        );
        assert_eq!(Code::parse("WeirdFailure").status(), 500);
        let e = ApiError::relayed(404, "NoSuchThing", "m");
        assert_eq!((e.status, e.code.as_str()), (404, "NoSuchThing"));
        assert_eq!(ApiError::new(Code::EntityTooSmall, "m").status, 400);
    }
}
