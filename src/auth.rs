//! Inbound authentication lives with the dialects (`src/dialect/auth.rs` and each dialect's file);
//! this path is kept for callers that name it.

pub use crate::dates::{format_amz_date, parse_amz_date, parse_date};
pub use crate::dialect::auth::*;
