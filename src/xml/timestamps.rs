//! Result timestamps: now, and a backend's normalized to `YYYY-MM-DDTHH:MM:SS.sssZ` in UTC.

pub fn timestamp_now() -> String {
    iso_millis(time::OffsetDateTime::now_utc())
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ` of a UTC time.
fn iso_millis(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub fn normalize_timestamp(s: &str) -> String {
    let s = s.trim();
    // Not the shape we know (or not ASCII where it should be): pass it on unchanged.
    if s.len() < 19 || !s.is_char_boundary(19) {
        return s.to_string();
    }
    let (date_time, frac_zone) = s.split_at(19);
    let mut rest = frac_zone;
    let mut base = String::with_capacity(24);
    base.push_str(date_time);
    base.push('.');
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        rest = &f[n..];
        base.push_str(&f[..n.min(3)]);
    }
    while base.len() < 23 {
        base.push('0');
    }
    if rest.is_empty() || rest == "Z" {
        base.push('Z');
        return base;
    }
    // An explicit offset: convert to UTC.
    let fmt = time::format_description::well_known::Rfc3339;
    let with_offset = format!("{base}{rest}");
    base.push('Z');
    match time::OffsetDateTime::parse(&with_offset, &fmt) {
        Ok(t) => iso_millis(t.to_offset(time::UtcOffset::UTC)),
        Err(_) => base,
    }
}
