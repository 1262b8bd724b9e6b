//! dialect-proxy: lets OBS, COS and S3 clients talk to OBS, COS and S3 backends.

pub mod access;
pub mod addressing;
pub mod auth;
pub mod body;
pub mod checksum;
pub mod config;
pub mod dates;
pub mod dialect;
pub mod documents;
pub mod embedded;
pub mod error;
pub mod forward;
pub mod guard;
pub mod lifecycle;
pub mod listing;
pub mod metrics;
pub mod model;
pub mod outbound;
pub mod pool;
pub mod proxy;
pub mod rename;
pub mod request;
pub mod response;
pub mod sign;
pub mod upstream;
pub mod xml;
