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
/// (Written digit by digit: it is on every signed request's path.)
pub fn format_amz_date(t: i64) -> String {
    let Ok(d) = time::OffsetDateTime::from_unix_timestamp(t) else {
        return String::new();
    };
    let year = d.year();
    if !(0..=9999).contains(&year) {
        return String::new();
    }
    let fields = [
        (year as u32 / 100, 2),
        (year as u32 % 100, 2),
        (u8::from(d.month()).into(), 2),
        (d.day().into(), 2),
        (d.hour().into(), 2),
        (d.minute().into(), 2),
        (d.second().into(), 2),
    ];
    let mut s = String::with_capacity(16);
    for (i, (v, _)) in fields.iter().enumerate() {
        if i == 4 {
            s.push('T');
        }
        s.push(char::from(b'0' + (v / 10) as u8));
        s.push(char::from(b'0' + (v % 10) as u8));
    }
    s.push('Z');
    s
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
