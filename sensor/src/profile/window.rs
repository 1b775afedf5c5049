//! Change windows: when maintenance on which targets is expected. All times are UTC.

use std::fmt;

use super::policy::Selector;

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_WEEK: i64 = 7 * SECS_PER_DAY;
/// 1970-01-01 was a Thursday: three days after a Monday.
const EPOCH_WEEKDAY_OFFSET_SECS: i64 = 3 * SECS_PER_DAY;

/// A day of the week, Monday first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    /// Three-letter lowercase name (`mon`).
    pub const fn name(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    /// Parses `mon` or `monday`, in any case.
    pub fn parse(s: &str) -> Option<Weekday> {
        const FULL: [&str; 7] =
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
        let l = s.trim().to_ascii_lowercase();
        Weekday::ALL.into_iter().zip(FULL).find(|(d, full)| l == d.name() || l == *full).map(|(d, _)| d)
    }

    /// Days since Monday.
    pub const fn index(self) -> i64 {
        self as i64
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Minutes since midnight, `00:00` to `24:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Parses `HH:MM` (two digits each); `24:00` only when `allow_end_of_day`.
    pub fn parse(s: &str, allow_end_of_day: bool) -> Option<TimeOfDay> {
        let (h, m) = s.split_once(':')?;
        if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let h: u16 = h.parse().ok()?;
        let m: u16 = m.parse().ok()?;
        match (h, m) {
            (0..=23, 0..=59) => Some(TimeOfDay(h * 60 + m)),
            (24, 0) if allow_end_of_day => Some(TimeOfDay(24 * 60)),
            _ => None,
        }
    }

    /// Minutes since midnight.
    pub const fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// When a change window is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Once, from `start` (inclusive) to `end` (exclusive), nanoseconds since the Unix epoch.
    Once {
        /// Opening time.
        start_ns: i64,
        /// Closing time, after `start_ns`.
        end_ns: i64,
    },
    /// Every week on `days`, from `from` to `to` (UTC). When `to` is not after `from` the window
    /// runs past midnight into the next day; the day named is the day it opens.
    Weekly {
        /// Days on which it opens.
        days: Vec<Weekday>,
        /// Opening time of day.
        from: TimeOfDay,
        /// Closing time of day (`24:00` allowed).
        to: TimeOfDay,
    },
}

impl Schedule {
    /// Whether the window is open at `ts_ns` (nanoseconds since the Unix epoch, UTC).
    pub fn contains(&self, ts_ns: i64) -> bool {
        match self {
            Schedule::Once { start_ns, end_ns } => *start_ns <= ts_ns && ts_ns < *end_ns,
            Schedule::Weekly { days, from, to } => {
                let from_s = i64::from(from.minutes()) * 60;
                let to_s = i64::from(to.minutes()) * 60;
                let len = if to_s > from_s { to_s - from_s } else { SECS_PER_DAY - from_s + to_s };
                let secs = ts_ns.div_euclid(NS_PER_SEC);
                let since_monday = (secs + EPOCH_WEEKDAY_OFFSET_SECS).rem_euclid(SECS_PER_WEEK);
                days.iter().any(|d| {
                    let opens = d.index() * SECS_PER_DAY + from_s;
                    (since_monday - opens).rem_euclid(SECS_PER_WEEK) < len
                })
            }
        }
    }
}

/// A period during which changes to its targets (recipe downloads, firmware, new services) are
/// expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeWindow {
    /// Unique name, reported with events that fall inside it.
    pub name: String,
    /// What it covers.
    pub targets: Vec<Selector>,
    /// When it is open.
    pub schedule: Schedule,
    /// Free text.
    pub comment: Option<String>,
    /// Line of the `[[change_window]]` header in the profile.
    pub line: u32,
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Why an RFC 3339 time stamp was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampProblem {
    /// Not `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, or a field out of range.
    NotRfc3339,
    /// A date and time without `Z` or an offset: a local time that could be anywhere.
    NoOffset,
}

impl fmt::Display for TimestampProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampProblem::NotRfc3339 => {
                f.write_str("is not an RFC 3339 time stamp (like \"2026-11-21T22:00:00Z\")")
            }
            TimestampProblem::NoOffset => {
                f.write_str("has no UTC offset (end it with Z, like \"2026-11-21T22:00:00Z\")")
            }
        }
    }
}

/// Parses an RFC 3339 time stamp (`2026-11-21T22:00:00Z`, fractions and `±HH:MM` offsets
/// accepted) into nanoseconds since the Unix epoch.
pub fn parse_timestamp(s: &str) -> Result<i64, TimestampProblem> {
    use TimestampProblem::{NoOffset, NotRfc3339};
    let s = s.trim();
    if s.len() < 19 || !s.is_char_boundary(10) || !s.is_char_boundary(19) {
        return Err(NotRfc3339);
    }
    let (date, rest) = s.split_at(10);
    let mut dp = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
        return Err(NotRfc3339);
    };
    let (y, m, d) =
        (digits(y, 4).ok_or(NotRfc3339)?, digits(m, 2).ok_or(NotRfc3339)?, digits(d, 2).ok_or(NotRfc3339)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return Err(NotRfc3339);
    }
    let rest = rest.strip_prefix(['T', 't']).ok_or(NotRfc3339)?;
    let hms = rest.get(..8).ok_or(NotRfc3339)?;
    let mut tp = hms.split(':');
    let (Some(h), Some(mi), Some(sec), None) = (tp.next(), tp.next(), tp.next(), tp.next()) else {
        return Err(NotRfc3339);
    };
    let (h, mi, sec) = (
        digits(h, 2).ok_or(NotRfc3339)?,
        digits(mi, 2).ok_or(NotRfc3339)?,
        digits(sec, 2).ok_or(NotRfc3339)?,
    );
    if h > 23 || mi > 59 || sec > 59 {
        return Err(NotRfc3339);
    }
    let mut tail = &rest[8..];
    let mut frac = "";
    if let Some(t) = tail.strip_prefix('.') {
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return Err(NotRfc3339);
        }
        frac = &t[..n];
        tail = &t[n..];
    }
    let offset_secs: i64 = match tail {
        "" => return Err(NoOffset),
        "Z" | "z" => 0,
        _ => {
            let (sign, hm) = match tail.split_at_checked(1) {
                Some(("+", hm)) => (1, hm),
                Some(("-", hm)) => (-1, hm),
                _ => return Err(NotRfc3339),
            };
            let (oh, om) = hm.split_once(':').ok_or(NotRfc3339)?;
            let (oh, om) = (digits(oh, 2).ok_or(NotRfc3339)?, digits(om, 2).ok_or(NotRfc3339)?);
            if oh > 23 || om > 59 {
                return Err(NotRfc3339);
            }
            sign * i64::from(oh * 3600 + om * 60)
        }
    };
    let base = format!("{date}T{hms}{}{frac}Z", if frac.is_empty() { "" } else { "." });
    let local_ns = crate::time::parse_rfc3339(&base).ok_or(NotRfc3339)?;
    Ok(local_ns - offset_secs * NS_PER_SEC)
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).expect("test time stamp")
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), 0);
        assert_eq!(ts("1970-01-01T00:00:01.5Z"), 1_500_000_000);
        assert_eq!(ts("2026-11-22T07:00:00+09:00"), ts("2026-11-21T22:00:00Z"));
        assert_eq!(ts("2026-11-21T17:00:00-05:00"), ts("2026-11-21T22:00:00Z"));
        assert_eq!(parse_timestamp("2026-11-21T22:00:00"), Err(TimestampProblem::NoOffset));
        for bad in [
            "2026-11-21",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21 22:00:00Z",
            "2026-11-21T22:00Z",
            "2026-11-21T22:00:00+9:00",
            "2026-11-21T22:00:00.Z",
            "26-11-21T22:00:00Z",
            "next saturday",
            "2026-11-21T22:00:00Zjunk",
        ] {
            assert_eq!(parse_timestamp(bad), Err(TimestampProblem::NotRfc3339), "{bad}");
        }
        assert_eq!(ts("2028-02-29T00:00:00Z") + 86_400 * NS_PER_SEC, ts("2028-03-01T00:00:00Z"));
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("22:00", false).map(TimeOfDay::minutes), Some(1320));
        assert_eq!(TimeOfDay::parse("00:00", false).map(TimeOfDay::minutes), Some(0));
        assert_eq!(TimeOfDay::parse("24:00", true).map(TimeOfDay::minutes), Some(1440));
        for bad in ["24:00", "25:00", "7:00", "07:60", "0700", "07:00:00", "ab:cd"] {
            assert_eq!(TimeOfDay::parse(bad, false), None, "{bad}");
        }
        assert_eq!(TimeOfDay(75).to_string(), "01:15");
    }

    #[test]
    fn weekdays() {
        assert_eq!(Weekday::parse("Sat"), Some(Weekday::Sat));
        assert_eq!(Weekday::parse("sunday"), Some(Weekday::Sun));
        assert_eq!(Weekday::parse("sa"), None);
        // 2026-11-21 is a Saturday.
        let sat = Schedule::Weekly { days: vec![Weekday::Sat], from: TimeOfDay(0), to: TimeOfDay(24 * 60) };
        assert!(sat.contains(ts("2026-11-21T00:00:00Z")));
        assert!(sat.contains(ts("2026-11-21T23:59:59Z")));
        assert!(!sat.contains(ts("2026-11-22T00:00:00Z")));
        assert!(!sat.contains(ts("2026-11-20T23:59:59Z")));
    }

    #[test]
    fn weekly_window_crossing_midnight_and_the_week_end() {
        // Sunday 22:00 to Monday 04:00: crosses both midnight and the Sunday→Monday wrap.
        let w =
            Schedule::Weekly { days: vec![Weekday::Sun], from: TimeOfDay(22 * 60), to: TimeOfDay(4 * 60) };
        assert!(!w.contains(ts("2026-11-22T21:59:59Z")));
        assert!(w.contains(ts("2026-11-22T22:00:00Z")));
        assert!(w.contains(ts("2026-11-23T03:59:59Z")));
        assert!(!w.contains(ts("2026-11-23T04:00:00Z")));
        // Monday early morning without a Sunday opening is outside.
        assert!(!w.contains(ts("2026-11-24T01:00:00Z")));
        // Before the epoch works too (1969-12-28 was a Sunday).
        assert!(w.contains(ts("1969-12-28T23:00:00Z")));
    }

    #[test]
    fn once() {
        let w = Schedule::Once { start_ns: ts("2026-11-21T22:00:00Z"), end_ns: ts("2026-11-22T02:00:00Z") };
        assert!(w.contains(ts("2026-11-21T22:00:00Z")));
        assert!(w.contains(ts("2026-11-22T01:59:59Z")));
        assert!(!w.contains(ts("2026-11-22T02:00:00Z")));
        assert!(!w.contains(ts("2026-11-21T21:59:59Z")));
    }
}
