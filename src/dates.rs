//! Dates as the dialects write them: the three HTTP formats and ISO basic (`YYYYMMDDTHHMMSSZ`).

/// Parse an HTTP date in any of the three formats, or an ISO basic `YYYYMMDDTHHMMSSZ`.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = httpdate::parse_http_date(s) {
        return t
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs() as i64);
    }
    parse_amz_date(s)
}

pub fn parse_amz_date(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// `YYYYMMDDTHHMMSSZ`, as SigV4 writes it.
pub fn format_amz_date(t: i64) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_default()
}
