//! A Complete's own checks. Before it: parts below the backend's minimum are refused, as the
//! backend would. After it: a Complete whose answer was lost (a connection reset after the backend
//! acted, an SDK that asks again) gets `NoSuchUpload`; only the object's ETag, the one the listed
//! parts give, proves that a first attempt completed it.

use super::bodiless;
use crate::config::Backend;
use crate::error::ApiError;
use crate::request::{self, Forward};
use crate::upstream::{Answer, Upstream};
use crate::xml;

/// `a` as it is, or the Complete's answer when the object proves it happened.
pub(super) async fn lost_answer(
    up: &Upstream,
    backend: &Backend,
    f: &Forward,
    expected: &str,
    a: Answer,
) -> Answer {
    if a.status != 404 || xml::parse_error(&a.body).is_none_or(|e| e.code != "NoSuchUpload") {
        return a;
    }
    let mut head = request::completed_head(f);
    match bodiless(up, backend, &mut head).await {
        Ok(h) => request::completed_answer(f, backend.dialect, expected, &h).unwrap_or(a),
        Err(_) => a,
    }
}

/// Parts below the backend dialect's minimum are refused at Complete, as the backend would.
pub(super) async fn check_part_sizes(
    up: &Upstream,
    backend: &Backend,
    f: &Forward,
    body: &[u8],
) -> std::result::Result<(), ApiError> {
    let mut sizes = Vec::new();
    let mut marker = 0u32;
    loop {
        let mut out = request::list_parts_request(f, marker);
        let a = bodiless(up, backend, &mut out)
            .await
            .map_err(|e| super::client_error(&e))?;
        if a.status >= 300 {
            // Let the Complete itself report NoSuchUpload and the like.
            return Ok(());
        }
        let page = xml::list_parts_page(&a.body);
        sizes.extend(page.parts);
        match page.next_marker {
            Some(n) if n > marker => marker = n,
            _ => break,
        }
    }
    request::too_small(body, &sizes, f.part_min)
}
