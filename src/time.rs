//! Clock and time formatting. Reading the wall clock happens here
//! ([`wall_clock`]); everything else takes `now` as an argument so that it is
//! tested exactly (STYLE.md, "pass `now`").

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
///
/// "Local" is the system zone (`/etc/localtime`, see [`crate::zone`]), never
/// `$TZ`: under `su` the environment is the caller's. When the system zone
/// cannot be read or understood the time is shown in UTC and says so
/// ("14:32 UTC").
pub fn local_time(t: u64, now: u64) -> String {
    format_in(crate::zone::system().as_ref(), t, now)
}

/// [`local_time`] in `zone` (`None`: UTC, marked as such).
fn format_in(zone: Option<&crate::zone::Zone>, t: u64, now: u64) -> String {
    let shifted = |t: u64, offset: i32| {
        let local = i64::try_from(t).ok()?.checked_add(i64::from(offset))?;
        Some(chrono::DateTime::from_timestamp(local, 0)?.naive_utc())
    };
    let offsets =
        zone.and_then(|z| Some((z.offset_at(i64::try_from(t).ok()?)?, z.offset_at(i64::try_from(now).ok()?)?)));
    let (at_offset, now_offset, suffix) = match offsets {
        Some((a, n)) => (a, n, ""),
        None => (0, 0, " UTC"),
    };
    let (Some(at), Some(today)) = (shifted(t, at_offset), shifted(now, now_offset)) else {
        return format!("@{t}");
    };
    if at.date() == today.date() {
        format!("{}{suffix}", at.format("%H:%M"))
    } else {
        format!("{}{suffix}", at.format("%Y-%m-%d %H:%M"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(1_763_908_320), "2025-11-23T14:32:00Z");
    }

    #[test]
    fn local_time_is_in_the_given_zone_and_utc_says_so() {
        let berlin = crate::zone::load(std::path::Path::new("/usr/share/zoneinfo/Europe/Berlin")).unwrap();
        // 2025-11-23 14:32 UTC is 15:32 in Berlin (winter time).
        let t = 1_763_908_320;
        assert_eq!(format_in(Some(&berlin), t, t - 600), "15:32");
        assert_eq!(format_in(Some(&berlin), t, t - 86_400), "2025-11-23 15:32");
        // 23:30 UTC is already the next day in Berlin.
        assert_eq!(format_in(Some(&berlin), t + 32_280, t), "2025-11-24 00:30");
        assert_eq!(format_in(None, t, t - 600), "14:32 UTC");
        assert_eq!(format_in(None, t, t - 86_400), "2025-11-23 14:32 UTC");
        assert_eq!(format_in(None, u64::MAX, 0), format!("@{}", u64::MAX));
    }
}
