//! Clock and time formatting. Reading the wall clock happens here
//! ([`wall_clock`]); everything else takes `now` as an argument so that it is
//! tested exactly (STYLE.md, "pass `now`").
#![forbid(unsafe_code)]

/// Seconds since the epoch by the wall clock.
pub fn wall_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Where a login reads the time. It reads it again at every step that waits
/// for a person or for another login (the answer to a prompt, the user's lock),
/// never once for the whole login.
pub trait Clock {
    /// Seconds since the epoch.
    fn now(&self) -> u64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        wall_clock()
    }
}

/// Seconds since the epoch as `2026-11-23T14:32:00Z`.
pub fn rfc3339(t: u64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

/// Local wall-clock time of `t` as seen at `now`: "14:32" on the same day,
/// "2026-11-24 00:15" on another day.
pub fn local_time(t: u64, now: u64) -> String {
    use chrono::{Local, TimeZone};
    let (Some(at), Some(today)) =
        (Local.timestamp_opt(t as i64, 0).single(), Local.timestamp_opt(now as i64, 0).single())
    else {
        return format!("@{t}");
    };
    if at.date_naive() == today.date_naive() {
        at.format("%H:%M").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(1_763_908_320), "2025-11-23T14:32:00Z");
    }
}
