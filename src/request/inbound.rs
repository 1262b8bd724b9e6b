//! The received request as planning reads it: borrowed from the parsed head, the query split once.

use crate::sign;

/// The request line and headers as received, borrowed from the parsed head.
pub struct Inbound<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// (lower-case name, value) in received order.
    pub headers: Vec<(&'a str, &'a str)>,
    /// Query parameters as (raw name, raw value), split once.
    pub(super) params: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Inbound<'a> {
    pub fn new(
        method: &'a str,
        raw_path: &'a str,
        raw_query: &'a str,
        headers: Vec<(&'a str, &'a str)>,
    ) -> Self {
        let params = sign::split_query(raw_query).collect();
        Inbound {
            method,
            raw_path,
            raw_query,
            headers,
            params,
        }
    }

    /// Whether every query parameter satisfies `f` (true for no parameters).
    pub(super) fn params_all(&self, f: impl Fn(&str) -> bool) -> bool {
        self.params.iter().all(|(k, _)| f(k))
    }

    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
    /// Whether a query parameter's name satisfies `f`.
    pub(super) fn has_param(&self, f: impl Fn(&str) -> bool) -> bool {
        self.params.iter().any(|(k, _)| f(k))
    }
    pub(super) fn query_has(&self, name: &str) -> bool {
        self.params.iter().any(|(k, _)| *k == name)
    }
    pub(super) fn query_get(&self, name: &str) -> Option<std::borrow::Cow<'a, str>> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| sign::percent_decode_cow(v.unwrap_or("")))
    }
}
