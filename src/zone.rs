//! The system time zone, from `/etc/localtime` only.
//!
//! The module runs as root inside setuid programs (`su`) whose environment
//! belongs to the caller. `$TZ` names a file that glibc and chrono's `Local`
//! would open: `TZ=/etc/shadow`, a FIFO that blocks the login, `/dev/zero`
//! that grows the process without bound. So the environment is never
//! consulted: the zone is the one the administrator installed, read through
//! [`trusted_fs::read_trusted`] (root-owned, not group/other-writable, regular file,
//! no blocking open, size cap), and parsed here: TZif (RFC 8536) versions 1 to
//! 4, and the POSIX TZ rule in the footer for times after the last transition.
//! Whatever cannot be read or understood gives `None`; callers then show UTC
//! and say so. The footer's POSIX rule is `zone/rule.rs`.

mod rule;

use std::path::Path;

use crate::trusted_fs::{self, Trust};
use rule::Rule;

/// The system zone. Normally a symbolic link into `/usr/share/zoneinfo`.
pub const LOCALTIME: &str = "/etc/localtime";
/// Largest zone file we read. Real ones are under 4 KiB (`America/New_York`, "fat").
pub const MAX_TZIF: u64 = 64 * 1024;
/// Offsets beyond a day are not real zones (RFC 8536 allows up to 25 hours, POSIX 24).
const MAX_OFFSET: i32 = 26 * 3600;

/// A parsed zone: transitions, their local time types, and the rule after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Transition instants (seconds since the epoch, ascending) and the UTC
    /// offset in effect from each one on.
    transitions: Vec<(i64, i32)>,
    /// The offset before the first transition (local time type 0).
    initial: i32,
    /// The footer rule for instants after the last transition; `None` when the
    /// footer is empty (the last offset then holds forever).
    rule: Option<Rule>,
}

/// The system zone, or `None` when `/etc/localtime` is missing, untrusted or not understood.
pub fn system() -> Option<Zone> {
    load(Path::new(LOCALTIME))
}

/// Reads the zone at `path`, following symbolic links only to a root-owned,
/// not group/other-writable regular file.
pub fn load(path: &Path) -> Option<Zone> {
    // canonicalize only looks at links (lstat, readlink): it never opens the
    // target, so it cannot block on a FIFO. read_trusted then opens the real
    // path without following a link and checks owner, mode and type.
    let real = std::fs::canonicalize(path).ok()?;
    let data = trusted_fs::read_trusted(&real, Trust::Protected(trusted_fs::Owner::ROOT), MAX_TZIF).ok()??;
    parse(&data)
}

impl Zone {
    /// The UTC offset (seconds east of Greenwich) at instant `t`.
    pub fn offset_at(&self, t: i64) -> Option<i32> {
        let Some(&(last_at, last_offset)) = self.transitions.last() else {
            return match &self.rule {
                Some(rule) => rule.offset_at(t),
                None => Some(self.initial),
            };
        };
        if t >= last_at {
            return match &self.rule {
                Some(rule) => rule.offset_at(t),
                None => Some(last_offset),
            };
        }
        let after = self.transitions.partition_point(|&(at, _)| at <= t);
        Some(if after == 0 { self.initial } else { self.transitions[after - 1].1 })
    }
}

/// Bounds-checked big-endian reader over the file's bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn time(&mut self, wide: bool) -> Option<i64> {
        if wide {
            Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
        } else {
            Some(i64::from(i32::from_be_bytes(self.take(4)?.try_into().ok()?)))
        }
    }
}

/// The six counts of a TZif header.
struct Counts {
    isut: usize,
    isstd: usize,
    leap: usize,
    time: usize,
    types: usize,
    chars: usize,
}

fn header(r: &mut Reader<'_>) -> Option<(u8, Counts)> {
    if r.take(4)? != b"TZif" {
        return None;
    }
    let version = r.take(1)?[0];
    r.take(15)?;
    let mut n = [0usize; 6];
    for c in &mut n {
        *c = usize::try_from(r.u32()?).ok()?;
    }
    let [isut, isstd, leap, time, types, chars] = n;
    Some((version, Counts { isut, isstd, leap, time, types, chars }))
}

/// Parses TZif data (RFC 8536). Leap-second ("right/") zones are refused: their
/// transition times are not POSIX times.
pub fn parse(data: &[u8]) -> Option<Zone> {
    let mut r = Reader { data, pos: 0 };
    let (version, v1) = header(&mut r)?;
    let wide = version >= b'2';
    let counts = if wide {
        // Skip the 32-bit block; the 64-bit one follows with its own header.
        let v1_len = v1.time * 5 + v1.types * 6 + v1.chars + v1.leap * 8 + v1.isstd + v1.isut;
        r.take(v1_len)?;
        let (v2, counts) = header(&mut r)?;
        if v2 != version {
            return None;
        }
        counts
    } else {
        v1
    };
    if counts.types == 0 || counts.types > 256 || counts.chars == 0 || counts.leap != 0 {
        return None;
    }
    if counts.isstd > counts.types || counts.isut > counts.types {
        return None;
    }
    // Check the block fits before allocating anything sized by its counts.
    let time_size = if wide { 8 } else { 4 };
    let block = counts.time * (time_size + 1) + counts.types * 6 + counts.chars + counts.isstd + counts.isut;
    if block > data.len() - r.pos {
        return None;
    }
    let times: Vec<i64> = (0..counts.time).map(|_| r.time(wide)).collect::<Option<_>>()?;
    let indices = r.take(counts.time)?;
    let mut offsets = Vec::with_capacity(counts.types);
    for _ in 0..counts.types {
        let raw = r.take(6)?;
        let offset = i32::from_be_bytes(raw[..4].try_into().ok()?);
        if !(-MAX_OFFSET..=MAX_OFFSET).contains(&offset) || usize::from(raw[5]) >= counts.chars {
            return None;
        }
        offsets.push(offset);
    }
    r.take(counts.chars + counts.isstd + counts.isut)?;
    if times.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    let mut transitions = Vec::with_capacity(counts.time);
    for (&at, &index) in times.iter().zip(indices) {
        transitions.push((at, *offsets.get(usize::from(index))?));
    }
    let rule = if wide {
        let rest = r.data.get(r.pos..)?;
        let footer = rest.strip_prefix(b"\n")?;
        let end = footer.iter().position(|&b| b == b'\n')?;
        let text = std::str::from_utf8(&footer[..end]).ok()?;
        if text.is_empty() { None } else { Some(Rule::parse(text)?) }
    } else {
        None
    };
    Some(Zone { transitions, initial: offsets[0], rule })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONEINFO: &str = "/usr/share/zoneinfo";

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    fn zone(name: &str) -> Zone {
        load(&Path::new(ZONEINFO).join(name)).unwrap_or_else(|| panic!("{name} did not load"))
    }

    #[test]
    fn real_zone_files_give_the_known_offsets() {
        let berlin = zone("Europe/Berlin");
        assert_eq!(berlin.offset_at(at("2025-01-15T12:00:00Z")), Some(3600));
        assert_eq!(berlin.offset_at(at("2025-07-15T12:00:00Z")), Some(7200));
        // Summer time began 2025-03-30 at 01:00 UTC, to the second.
        assert_eq!(berlin.offset_at(at("2025-03-30T00:59:59Z")), Some(3600));
        assert_eq!(berlin.offset_at(at("2025-03-30T01:00:00Z")), Some(7200));
        // Beyond the transitions in the file (2037): the footer rule.
        assert_eq!(berlin.offset_at(at("2050-01-15T12:00:00Z")), Some(3600));
        assert_eq!(berlin.offset_at(at("2050-07-15T12:00:00Z")), Some(7200));
        let new_york = zone("America/New_York");
        assert_eq!(new_york.offset_at(at("2025-01-15T12:00:00Z")), Some(-5 * 3600));
        assert_eq!(new_york.offset_at(at("2025-07-15T12:00:00Z")), Some(-4 * 3600));
        assert_eq!(new_york.offset_at(at("2060-07-15T12:00:00Z")), Some(-4 * 3600));
        // Southern hemisphere: summer time around New Year.
        let sydney = zone("Australia/Sydney");
        assert_eq!(sydney.offset_at(at("2025-01-15T12:00:00Z")), Some(11 * 3600));
        assert_eq!(sydney.offset_at(at("2025-07-15T12:00:00Z")), Some(10 * 3600));
        assert_eq!(sydney.offset_at(at("2055-01-01T00:00:00Z")), Some(11 * 3600));
        assert_eq!(zone("Asia/Kolkata").offset_at(at("2025-07-15T12:00:00Z")), Some(5 * 3600 + 1800));
        assert_eq!(zone("Etc/UTC").offset_at(at("2025-07-15T12:00:00Z")), Some(0));
        // Before the first transition: local mean time (Berlin: +0:53:28).
        assert_eq!(berlin.offset_at(at("1850-01-01T00:00:00Z")), Some(3208));
    }

    /// Every zone file on the system: the footer rule, evaluated by us, agrees with
    /// each transition zic wrote from 2026 on (fat files list them up to 2037).
    #[test]
    fn footer_rules_agree_with_the_transitions_of_every_installed_zone() {
        let mut checked = 0;
        let mut stack = vec![std::path::PathBuf::from(ZONEINFO)];
        let from = at("2026-01-01T00:00:00Z");
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("right") && !path.ends_with("posix") {
                        stack.push(path);
                    }
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                if !data.starts_with(b"TZif") {
                    continue;
                }
                let zone = parse(&data).unwrap_or_else(|| panic!("{} did not parse", path.display()));
                let Some(rule) = &zone.rule else { continue };
                // Zones listing transitions past 2037 (Casablanca: Ramadan) have
                // irregular ones the footer only takes over from at the end.
                if zone.transitions.last().is_some_and(|&(at, _)| at > i64::from(i32::MAX)) {
                    continue;
                }
                for w in zone.transitions.windows(2).filter(|w| w[0].0 >= from) {
                    let (at, offset) = w[1];
                    assert_eq!(rule.offset_at(at), Some(offset), "{} at {at}", path.display());
                    assert_eq!(rule.offset_at(at - 1), Some(w[0].1), "{} before {at}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000, "only {checked} transitions checked");
    }

    #[test]
    fn broken_or_hostile_data_is_refused_not_trusted() {
        let good = std::fs::read(Path::new(ZONEINFO).join("Europe/Berlin")).unwrap();
        assert!(parse(&good).is_some());
        for cut in [0, 3, 10, 44, 60, good.len() / 2, good.len() - 2] {
            assert_eq!(parse(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(parse(b"TZif2 this is not a zone file at all, only text"), None);
        assert_eq!(parse(&[0u8; 4096]), None);
        // Huge counts must fail on the bounds check, not allocate.
        let mut huge = good.clone();
        huge[32..36].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(parse(&huge), None);
        // Not regular files, or not root's: never read.
        assert_eq!(load(Path::new("/dev/zero")), None);
        assert_eq!(load(Path::new("/nonexistent/zone")), None);
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join("zone");
        std::fs::write(&mine, &good).unwrap();
        if crate::trusted_fs::Owner::current() == crate::trusted_fs::Owner::ROOT {
            assert!(load(&mine).is_some());
            std::os::unix::fs::chown(&mine, Some(65534), None).unwrap();
        }
        assert_eq!(load(&mine), None, "a file another user owns is not trusted");
    }
}
