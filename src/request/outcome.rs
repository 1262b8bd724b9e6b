//! What planning yields: a request ready to forward (`Forward`, with `CrossCopy` for a copy
//! across backends), a local answer (`Plan`), or a refusal (`Rejection`).

use super::Staging;
use crate::auth::Payload;
use crate::dialect::wire::Headers;
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::listing::ListV2;
use crate::model::{CopyPart, Op};
use crate::outbound::Outbound;

/// A request ready to forward.
#[derive(Debug)]
pub struct Forward {
    pub client: Dialect,
    /// The access key the request was verified with (`None` without verification).
    pub access_key: Option<String>,
    pub op: Op,
    pub backend: usize,
    pub out: Outbound,
    pub payload: Payload,
    pub resource: String,
    /// Copy conditions the backend cannot express, to check against a HEAD of the source first.
    pub precheck: Option<CopyPart>,
    /// An Upload Part - Copy or CopyObject whose source lives on another backend: read there,
    /// uploaded here (UploadPart or PutObject).
    pub cross: Option<CrossCopy>,
    /// The client's SDK reports a 200 carrying an `<Error>` as an error (for kept-alive answers).
    pub raises_200_error: bool,
    /// Smallest non-last part a Complete accepts: the larger of the client's cloud's and the
    /// backend's minimum (when the client's is smaller, its parts are staged instead).
    pub part_min: u64,
    /// The staged parts of the upload this request belongs to, when they are staged.
    pub staging: Option<Staging>,
    /// The client's checksum of a small body (neutral suffix, value), verified before it goes on.
    pub body_checksum: Option<(String, String)>,
    /// A ListObjectsV2 sent to a backend as V1: what its V2 answer needs.
    pub listing: Option<ListV2>,
    /// The client-visible bucket, where the backend's bucket has another name.
    pub client_bucket: Option<String>,
}

/// The source side of a copy across backends; `out` is then the destination's UploadPart.
#[derive(Debug)]
pub struct CrossCopy {
    pub source_backend: usize,
    pub copy: CopyPart,
    /// A CopyObject that keeps the source's metadata (directive COPY): taken from its HEAD.
    pub copy_metadata: bool,
}

pub enum Plan {
    /// Answer without the backend: (status, headers).
    Local(Dialect, u16, Headers),
    Forward(Box<Forward>),
    /// ListBuckets, answered by the gateway from every backend: (client, verified key).
    ListBuckets(Dialect, Option<String>),
    /// A browser's form upload: verified from its own fields once they are read.
    PostObject(Box<PostForm>),
}

/// A POST Object form to read: the client's dialect as guessed (until its fields tell), the
/// bucket, the form's boundary and length, and the host it was sent to.
#[derive(Debug, Clone)]
pub struct PostForm {
    pub client: Dialect,
    pub bucket: String,
    pub boundary: String,
    pub length: Option<u64>,
    pub resource: String,
    pub host: String,
}

/// A refusal, with the dialect to render it in.
#[derive(Debug)]
pub struct Rejection {
    pub client: Dialect,
    pub error: ApiError,
    pub resource: String,
    /// Refused by signature verification (not by the request's shape or route).
    pub verification: bool,
    /// The operation, where method and path already tell it (for the access line).
    pub op: Option<Op>,
    /// Refused by the key's grant: the action it was not granted, and the key.
    pub denied: Option<Box<(&'static str, String)>>,
}
