//! The POSIX TZ rule of a TZif footer (`CET-1CEST,M3.5.0,M10.5.0/3`): parsed
//! from its text and evaluated for the instants after the zone file's last
//! transition. The TZif file itself is read in [`super`].

/// A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`), as RFC 8536 footers use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    std_offset: i32,
    dst: Option<Dst>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Dst {
    offset: i32,
    start: (Day, i32),
    end: (Day, i32),
}

/// The day of a rule change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Day {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian(u16),
    /// `n`: day 0..=365, February 29 counted.
    Ordinal(u16),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Month { month: u32, week: u32, weekday: u32 },
}

/// Cursor over the TZ string.
struct Text<'a>(&'a [u8]);

impl Text<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.0 = &self.0[1..];
            true
        } else {
            false
        }
    }
    fn number(&mut self, max: u32) -> Option<u32> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 3 {
            return None;
        }
        let n: u32 = std::str::from_utf8(&self.0[..digits]).ok()?.parse().ok()?;
        self.0 = &self.0[digits..];
        (n <= max).then_some(n)
    }
    /// A zone abbreviation: `CET` or `<+0330>`.
    fn name(&mut self) -> Option<()> {
        let len = if self.eat(b'<') {
            let len = self.0.iter().position(|&b| b == b'>')?;
            if !self.0[..len].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'-') {
                return None;
            }
            self.0 = &self.0[len + 1..];
            len
        } else {
            let len = self.0.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            self.0 = &self.0[len..];
            len
        };
        (len >= 3).then_some(())
    }
    /// `[+-]hh[:mm[:ss]]` in seconds; hours up to `max_hours`.
    fn duration(&mut self, max_hours: u32) -> Option<i32> {
        let negative = if self.eat(b'-') {
            true
        } else {
            self.eat(b'+');
            false
        };
        let mut secs = self.number(max_hours)? * 3600;
        if self.eat(b':') {
            secs += self.number(59)? * 60;
            if self.eat(b':') {
                secs += self.number(59)?;
            }
        }
        let secs = i32::try_from(secs).ok()?;
        Some(if negative { -secs } else { secs })
    }
    fn day(&mut self) -> Option<Day> {
        if self.eat(b'J') {
            let n = self.number(365)?;
            return (n >= 1).then_some(Day::Julian(n as u16));
        }
        if self.eat(b'M') {
            let month = self.number(12)?;
            if month == 0 || !self.eat(b'.') {
                return None;
            }
            let week = self.number(5)?;
            if week == 0 || !self.eat(b'.') {
                return None;
            }
            let weekday = self.number(6)?;
            return Some(Day::Month { month, week, weekday });
        }
        Some(Day::Ordinal(self.number(365)? as u16))
    }
    /// `,date[/time]`; the time defaults to 02:00 and may be -167..167 hours (RFC 8536).
    fn change(&mut self) -> Option<(Day, i32)> {
        if !self.eat(b',') {
            return None;
        }
        let day = self.day()?;
        let time = if self.eat(b'/') { self.duration(167)? } else { 2 * 3600 };
        Some((day, time))
    }
}

impl Rule {
    pub(super) fn parse(s: &str) -> Option<Rule> {
        let mut t = Text(s.as_bytes());
        t.name()?;
        // POSIX offsets count west of Greenwich: "CET-1" is UTC+1.
        let std_offset = -t.duration(24)?;
        if t.peek().is_none() {
            return Some(Rule { std_offset, dst: None });
        }
        t.name()?;
        let offset = match t.peek() {
            Some(b',') => std_offset + 3600,
            _ => -t.duration(24)?,
        };
        let start = t.change()?;
        let end = t.change()?;
        if t.peek().is_some() {
            return None;
        }
        Some(Rule { std_offset, dst: Some(Dst { offset, start, end }) })
    }

    pub(super) fn offset_at(&self, t: i64) -> Option<i32> {
        let Some(dst) = &self.dst else {
            return Some(self.std_offset);
        };
        let local = t.checked_add(i64::from(self.std_offset))?;
        let year = i32::try_from(local.div_euclid(86_400 * 365_2425 / 10_000)).ok()?.checked_add(1970)?;
        // The estimate can be one off near New Year; take the year whose start holds `local`.
        let year = [year - 1, year, year + 1].into_iter().rev().find(|&y| year_start(y).is_some_and(|s| s <= local))?;
        // DST starts at a local standard time and ends at a local daylight time.
        let start = year_start(year)? + day_of_year(year, dst.start.0)? * 86_400 + i64::from(dst.start.1)
            - i64::from(self.std_offset);
        let end =
            year_start(year)? + day_of_year(year, dst.end.0)? * 86_400 + i64::from(dst.end.1) - i64::from(dst.offset);
        let in_dst = if start <= end { start <= t && t < end } else { !(end <= t && t < start) };
        Some(if in_dst { dst.offset } else { self.std_offset })
    }
}

/// Seconds from the epoch to January 1 of `year`, 00:00 UTC.
fn year_start(year: i32) -> Option<i64> {
    let d = chrono::NaiveDate::from_ymd_opt(year, 1, 1)?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

/// Zero-based day of the year on which `day` falls in `year`.
fn day_of_year(year: i32, day: Day) -> Option<i64> {
    use chrono::Datelike;
    let leap = chrono::NaiveDate::from_ymd_opt(year, 2, 29).is_some();
    match day {
        Day::Julian(n) => Some(i64::from(n) - if leap && n >= 60 { 0 } else { 1 }),
        Day::Ordinal(n) => Some(i64::from(n)),
        Day::Month { month, week, weekday } => {
            let first = chrono::NaiveDate::from_ymd_opt(year, month, 1)?;
            let next = if month == 12 {
                chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                chrono::NaiveDate::from_ymd_opt(year, month + 1, 1)?
            };
            let len = (next - first).num_days() as u32;
            let first_weekday = first.weekday().num_days_from_sunday();
            let mut mday = 1 + (weekday + 7 - first_weekday) % 7 + 7 * (week - 1);
            while mday > len {
                mday -= 7;
            }
            Some(i64::from(first.ordinal0() + mday - 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn posix_rules_in_their_less_common_forms() {
        // Negative DST (Ireland), quoted names, times past midnight and before it.
        let dublin = Rule::parse("IST-1GMT0,M10.5.0,M3.5.0/1").unwrap();
        assert_eq!(dublin.offset_at(at("2030-01-15T12:00:00Z")), Some(0));
        assert_eq!(dublin.offset_at(at("2030-07-15T12:00:00Z")), Some(3600));
        let nuuk = Rule::parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0").unwrap();
        assert_eq!(nuuk.offset_at(at("2030-07-15T12:00:00Z")), Some(-3600));
        assert_eq!(nuuk.offset_at(at("2030-01-15T12:00:00Z")), Some(-7200));
        let tehran = Rule::parse("<+0330>-3:30").unwrap();
        assert_eq!(tehran.offset_at(0), Some(3 * 3600 + 1800));
        // All-year DST (zic writes it as a rule covering the whole year).
        let always = Rule::parse("EST5EDT,0/0,J365/25").unwrap();
        assert_eq!(always.offset_at(at("2030-07-15T12:00:00Z")), Some(-4 * 3600));
        assert_eq!(always.offset_at(at("2030-01-01T12:00:00Z")), Some(-4 * 3600));
        for bad in ["", "C", "CET", "CET-1CEST", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0", "CET-99", "<+03"] {
            assert_eq!(Rule::parse(bad), None, "{bad:?}");
        }
    }
}
