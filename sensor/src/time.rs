//! UTC time stamps as text (RFC 3339), without a calendar dependency.

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-16T08:00:00.123456Z` (microseconds).
pub fn format_rfc3339_us(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let us = ts_ns.rem_euclid(1_000_000_000) / 1000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{us:06}Z", sod / 3600, sod / 60 % 60, sod % 60)
}

/// `YYYY-MM-DD` of a time stamp.
pub fn date_of(ts_ns: i64) -> (i64, u32, u32) {
    civil_from_days(ts_ns.div_euclid(1_000_000_000).div_euclid(86_400))
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.frac]]` with an optional `Z` (UTC only).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z').trim_end_matches('z');
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ns: i64 = 0;
    if let Some(t) = time {
        let mut tp = t.split(':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next()?.parse().ok()?;
        let (sec, frac) = match tp.next() {
            Some(sx) => match sx.split_once('.') {
                Some((a, b)) => (a.parse::<i64>().ok()?, b),
                None => (sx.parse::<i64>().ok()?, ""),
            },
            None => (0, ""),
        };
        if h > 23 || mi > 59 || sec > 60 || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let frac_ns =
            if frac.is_empty() { 0 } else { frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len() as u32) };
        ns = ((h * 60 + mi) * 60 + sec) * 1_000_000_000 + frac_ns;
    }
    Some(days_from_civil(y, m, d) * 86_400 * 1_000_000_000 + ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = parse_rfc3339("2026-11-16T08:00:00Z").unwrap();
        assert_eq!(t, 1_794_816_000 * 1_000_000_000);
        assert_eq!(format_rfc3339_us(t + 123_456_000), "2026-11-16T08:00:00.123456Z");
        assert_eq!(format_rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            parse_rfc3339("2024-02-29").map(format_rfc3339_us).as_deref(),
            Some("2024-02-29T00:00:00.000000Z")
        );
        assert!(parse_rfc3339("2024-13-01").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
