//! Durations on the command line: a whole number and a unit, `90s`, `30m`,
//! `2h`, `1d` (for `bypass --valid` and `disable --for`), as clap value
//! parsers: a malformed or too long duration is a usage error (exit 2).

use crate::email_code::describe_duration;

/// "7 days", "1 day", else [`describe_duration`] ("2 hours", "30 minutes").
pub fn describe(secs: u64) -> String {
    match secs / 86_400 {
        1 if secs == 86_400 => "1 day".into(),
        n if n > 1 && secs.is_multiple_of(86_400) => format!("{n} days"),
        _ => describe_duration(secs),
    }
}

/// Seconds in `text` (`30m`), at least 1 and at most `max`.
pub fn parse(text: &str, max: u64) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} is not a duration; write a number and a unit: 90s, 30m, 2h, 1d")),
    };
    let secs = number.parse::<u64>().ok().and_then(|n| n.checked_mul(scale));
    match secs {
        Some(0) | None if number.is_empty() => Err(format!("{text:?} has no number; write e.g. 30m, 2h, 1d")),
        Some(0) => Err("the duration must be longer than 0".into()),
        Some(s) if s <= max => Ok(s),
        _ => Err(format!("{text:?} is too long; at most {}", describe(max))),
    }
}

/// `bypass --valid`: at most 7 days.
pub fn bypass_valid(text: &str) -> Result<u64, String> {
    parse(text, crate::backup_codes::MAX_BYPASS_VALID)
}

/// Longest `disable --for` (seconds): 90 days.
pub const MAX_DISABLE_FOR: u64 = 90 * 86_400;

/// `disable --for`: at most 90 days.
pub fn disable_for(text: &str) -> Result<u64, String> {
    parse(text, MAX_DISABLE_FOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_number_and_a_unit_within_the_maximum() {
        assert_eq!(bypass_valid("30m"), Ok(1800));
        assert_eq!(bypass_valid("2h"), Ok(7200));
        assert_eq!(bypass_valid("7d"), Ok(604_800));
        assert_eq!(bypass_valid("90s"), Ok(90));
        assert!(bypass_valid("8d").unwrap_err().contains("at most 7 days"));
        assert!(disable_for("90d").is_ok() && disable_for("91d").is_err());
        assert_eq!(
            (describe(86_400), describe(3600), describe(129_600)),
            ("1 day".into(), "1 hour".into(), "36 hours".into())
        );
        for bad in ["", "30", "m", "1.5h", "-1h", "1w", "0m", "1 h", "99999999999999999999d"] {
            assert!(bypass_valid(bad).is_err(), "{bad:?}");
        }
    }
}
