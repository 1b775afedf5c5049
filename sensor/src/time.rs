//! UTC time stamps: civil dates of Unix times, RFC 3339 parsing and formatting, without a
//! calendar dependency.

const NS: i64 = 1_000_000_000;

/// (year, month, day, hour, minute, second) of a Unix time (civil calendar, UTC).
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (sod / 3600) as u32, ((sod / 60) % 60) as u32, (sod % 60) as u32)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days-from-civil algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn num(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, c| acc.checked_mul(10)?.checked_add(u32::from(c - b'0')))
}

/// Parses an RFC 3339 timestamp such as `2026-11-16T08:00:00Z`, `2026-11-16 08:00:00.5+09:00`
/// into nanoseconds since the Unix epoch (fractions beyond nanoseconds are dropped). A bare
/// date (`2026-11-16`) means its midnight UTC.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 10 {
        return parse_rfc3339(&format!("{s}T00:00:00Z"));
    }
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (i64::from(num(&b[0..4])?), num(&b[5..7])?, num(&b[8..10])?);
    let (h, mi, se) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut frac_ns = 0i64;
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in rest[1..=digits].iter().enumerate().take(9) {
            frac_ns += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
        }
        rest = &rest[1 + digits..];
    }
    let offset_s = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh @ .., b':', m1, m2] if oh.len() == 2 => {
            let (oh, om) = (num(oh)?, num(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + se) - offset_s;
    secs.checked_mul(NS)?.checked_add(frac_ns)
}

/// `2026-11-16T08:00:00.123456Z` (microseconds).
pub fn format_rfc3339_us(ts_ns: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(ts_ns.div_euclid(NS));
    let us = ts_ns.rem_euclid(NS) / 1000;
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
}

/// (year, month, day) of a time stamp.
pub fn date_of(ts_ns: i64) -> (i64, u32, u32) {
    let (y, m, d, ..) = civil(ts_ns.div_euclid(NS));
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_date_only() {
        let t = parse_rfc3339("2026-11-16T08:00:00Z").unwrap();
        assert_eq!(format_rfc3339_us(t + 123_456_000), "2026-11-16T08:00:00.123456Z");
        assert_eq!(format_rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            parse_rfc3339("2024-02-29").map(format_rfc3339_us).as_deref(),
            Some("2024-02-29T00:00:00.000000Z")
        );
        assert!(parse_rfc3339("2024-13-01").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
        assert_eq!(date_of(t), (2026, 11, 16));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_794_816_000), (2026, 11, 16, 8, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        for days in [-800_000i64, -1, 0, 59, 11_016, 20_773, 2_932_896] {
            let (y, m, d, ..) = civil(days * 86_400);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("2026-11-16T08:00:00Z"), Some(1_794_816_000 * NS));
        assert_eq!(parse_rfc3339("2026-11-16t17:00:00.25+09:00"), Some(1_794_816_000 * NS + 250_000_000));
        assert_eq!(parse_rfc3339("2026-11-16 03:30:00.000000001-04:30"), Some(1_794_816_000 * NS + 1));
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-16T08:00:00",
            "2026-11-16T08:00:00+0900",
            "x026-11-16T08:00:00Z",
            "2026-11-16T08:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }
}
