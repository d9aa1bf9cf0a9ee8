//! Log lines for administrators: one fixed-format line per login outcome,
//! sent to syslog (facility authpriv, ident `pam_twostep` or `twostep`).
//!
//! Lines look like `user=alice service=sshd rhost=192.0.2.7 result=success method=totp`;
//! values are escaped with [`crate::user::for_log_field`] so a hostile user name
//! cannot forge fields or lines. Codes and secrets are never passed here.
//! If no syslog socket exists, logging silently does nothing: a missing
//! syslog daemon must not break logins (and we never fall back to the console).

use std::path::Path;

use std::io::Write as _;

use syslog::{Facility, Formatter3164, LoggerBackend};

use crate::user::push_for_log_field;

/// Syslog severities we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

/// Where log lines go. The PAM module and the CLI use [`Syslog`]; tests may collect lines.
pub trait AuditLog {
    fn log(&mut self, level: Level, line: &str);
}

/// Builds one `key=value` line; values are escaped.
#[derive(Debug, Default, Clone)]
pub struct Line(String);

impl Line {
    pub fn new() -> Line {
        Line(String::with_capacity(160))
    }

    /// Appends `key=value` (value escaped; empty values are written as `-`).
    pub fn field(mut self, key: &str, value: &str) -> Line {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(key);
        self.0.push('=');
        if value.is_empty() {
            self.0.push('-');
        } else {
            push_for_log_field(&mut self.0, value);
        }
        self
    }

    /// Appends `key="free text"` for a human-readable reason (quotes and control characters escaped).
    pub fn reason(mut self, text: &str) -> Line {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str("reason=\"");
        for c in text.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if c.is_control() => self.0.push_str(&format!("\\x{:02x}", c as u32 & 0xff)),
                c => self.0.push(c),
            }
        }
        self.0.push('"');
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long one log line may wait for a busy log daemon before it is dropped.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The system log (authpriv), or a given datagram socket instead of `/dev/log`.
pub struct Syslog {
    backend: Option<LoggerBackend>,
    ident: String,
    pid: u32,
}

impl Syslog {
    /// Connects to `/dev/log` (or `socket`); never fails, logs nothing if there is no socket.
    pub fn connect(ident: &str, socket: Option<&Path>) -> Syslog {
        // The crate finds and connects the socket (datagram, else stream); the
        // line is formatted here ([`Syslog::format`]).
        let formatter =
            Formatter3164 { facility: Facility::LOG_AUTHPRIV, hostname: None, process: String::new(), pid: 0 };
        let logger = match socket {
            Some(path) => syslog::unix_custom(formatter, path).ok(),
            None => syslog::unix(formatter).ok(),
        };
        // A stalled log daemon (full socket queue) must never hang a login:
        // a line that cannot be sent within the timeout is dropped.
        if let Some(l) = &logger {
            let _ = match &l.backend {
                LoggerBackend::Unix(s) => s.set_write_timeout(Some(WRITE_TIMEOUT)),
                LoggerBackend::UnixStream(s) => s.get_ref().set_write_timeout(Some(WRITE_TIMEOUT)),
                _ => Ok(()),
            };
        }
        Syslog { backend: logger.map(|l| l.backend), ident: ident.to_string(), pid: std::process::id() }
    }

    /// One RFC 3164 message as the `syslog` crate wrote it: `<PRI>Mmm dd
    /// hh:mm:ss IDENT[PID]: LINE`, the time in UTC (the log daemon stamps its
    /// own time on local messages). Formatted here because the crate parses a
    /// time format description for every line.
    fn format(&self, level: Level, now: u64, line: &str) -> String {
        let severity = match level {
            Level::Err => 3,
            Level::Warning => 4,
            Level::Notice => 5,
            Level::Info => 6,
            Level::Debug => 7,
        };
        const AUTHPRIV: u32 = 10 << 3;
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let mut out = String::with_capacity(40 + self.ident.len() + line.len());
        // By hand: `write!` costs a few hundred instructions a number.
        out.push('<');
        out.push_str(crate::decimal::digits(u64::from(AUTHPRIV + severity), &mut [0; 20]));
        out.push('>');
        if let Some(t) = i64::try_from(now).ok().and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
            use chrono::{Datelike, Timelike};
            out.push_str(MONTHS[t.month0() as usize]);
            out.push(' ');
            for (value, after) in [(t.day(), ' '), (t.hour(), ':'), (t.minute(), ':'), (t.second(), ' ')] {
                // Two digits: all of these are below 100.
                out.push(char::from(b'0' + (value / 10 % 10) as u8));
                out.push(char::from(b'0' + (value % 10) as u8));
                out.push(after);
            }
        }
        out.push_str(&self.ident);
        out.push('[');
        out.push_str(crate::decimal::digits(u64::from(self.pid), &mut [0; 20]));
        out.push_str("]: ");
        out.push_str(line);
        out
    }
}

impl AuditLog for Syslog {
    fn log(&mut self, level: Level, line: &str) {
        let message = self.format(level, crate::time::wall_clock(), line);
        let Some(backend) = self.backend.as_mut() else { return };
        let _ = backend.write(message.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_escaped_so_lines_cannot_be_forged() {
        let l = Line::new().field("user", "eve result=success\nx").field("rhost", "").reason("bad \"file\"\n");
        assert_eq!(l.as_str(), "user=eve\\x20result\\x3dsuccess\\x0ax rhost=- reason=\"bad \\\"file\\\"\\x0a\"");
    }

    #[test]
    fn lines_are_formatted_as_the_syslog_crate_formats_them() {
        let s = Syslog::connect("pam_twostep", Some(Path::new("/nonexistent/log")));
        let pid = std::process::id();
        assert_eq!(
            s.format(Level::Notice, 1_763_908_320, "user=alice result=success"),
            format!("<85>Nov 23 14:32:00 pam_twostep[{pid}]: user=alice result=success")
        );
        assert_eq!(s.format(Level::Err, 0, "x"), format!("<83>Jan 01 00:00:00 pam_twostep[{pid}]: x"));
        let mut expected = Vec::new();
        let crate_formatter =
            Formatter3164 { facility: Facility::LOG_AUTHPRIV, hostname: None, process: "pam_twostep".into(), pid };
        syslog::LogFormat::format(&crate_formatter, &mut expected, syslog::Severity::LOG_INFO, "y").unwrap();
        let now = crate::time::wall_clock();
        let mine = s.format(Level::Info, now, "y");
        // The same but for the time stamp (the second may change between the calls).
        let expected = String::from_utf8(expected).unwrap();
        assert_eq!((expected.len(), &expected[..4], &expected[20..]), (mine.len(), &mine[..4], &mine[20..]));
    }

    #[test]
    fn a_missing_socket_is_silently_ignored() {
        let mut s = Syslog::connect("pam_twostep", Some(Path::new("/nonexistent/log")));
        s.log(Level::Info, "nothing happens");
    }

    #[test]
    fn a_stalled_log_daemon_does_not_block_the_caller() {
        let dir = crate::trusted_fs::private_tempdir();
        let path = dir.path().join("log");
        // Bound but never read: the queue fills after a few lines.
        let _daemon = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let mut s = Syslog::connect("pam_twostep", Some(&path));
        let queue: usize = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
            .ok()
            .and_then(|q| q.trim().parse().ok())
            .unwrap_or(10);
        for i in 0..queue + 3 {
            s.log(Level::Info, &format!("line {i}"));
        }
    }
}
