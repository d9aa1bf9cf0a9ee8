//! The report of `twostep check`: findings (what, how to fix it, how bad),
//! kept once each, and printed wrapped at [`WIDTH`] columns or as JSON by
//! [`super::run`].

use serde_json::Value;

/// Width of the report, prefixes included.
pub(super) const WIDTH: usize = 72;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub(super) fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One thing found: what, and how to fix it (none for information).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    pub(super) severity: Severity,
    pub(super) what: String,
    pub(super) fix: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) findings: Vec<Finding>,
    /// One object per PAM service loading the module (`--json` only).
    pub(super) pam: Vec<Value>,
}

impl Report {
    pub(super) fn add(&mut self, severity: Severity, what: impl Into<String>, fix: Option<String>) {
        let f = Finding { severity, what: what.into(), fix };
        if !self.findings.contains(&f) {
            self.findings.push(f);
        }
    }

    pub(super) fn error(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.add(Severity::Error, what, Some(fix.into()));
    }

    pub(super) fn warning(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.add(Severity::Warning, what, Some(fix.into()));
    }

    pub(super) fn info(&mut self, what: impl Into<String>) {
        self.add(Severity::Info, what, None);
    }

    /// A lower layer's message, which says what and (after the last `; `) how to fix it.
    pub(super) fn error_message(&mut self, message: &str, fix: &str) {
        let (what, own_fix) = split_fix(message);
        self.add(Severity::Error, what, Some(own_fix.unwrap_or_else(|| fix.to_string())));
    }

    pub(super) fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// Splits "X is wrong; run Y" into what and how to fix it; our messages put
/// the fix after the last `; ` (DESIGN.md: "what and how to fix").
pub(super) fn split_fix(message: &str) -> (String, Option<String>) {
    const VERBS: [&str; 9] = ["run ", "upgrade ", "inspect ", "use ", "set ", "check ", "give ", "fix ", "write "];
    match message.rsplit_once("; ") {
        Some((what, fix)) if VERBS.iter().any(|v| fix.starts_with(v)) => (what.to_string(), Some(fix.to_string())),
        _ => (message.to_string(), None),
    }
}

pub(super) fn plural(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

pub(super) fn summary(errors: usize, warnings: usize) -> String {
    format!("twostep check: {}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

/// `prefix text`, wrapped at [`WIDTH`] columns, continuation lines after `indent`.
pub(super) fn wrap(prefix: &str, text: &str, indent: &str) -> String {
    let mut lines = vec![prefix.to_string()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line");
        if last.chars().count() + 1 + word.chars().count() <= WIDTH {
            last.push(' ');
            last.push_str(word);
        } else {
            lines.push(format!("{indent}{word}"));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use crate::trusted_fs::FsError;

    #[test]
    fn lower_layer_messages_split_into_what_and_fix() {
        let e = FsError::Insecure {
            path: "/var/lib/twostep/secrets".into(),
            why: "its mode is 0755, group/other must have no access; run chmod 700 /var/lib/twostep/secrets".into(),
        };
        let (what, fix) = split_fix(&e.to_string());
        assert_eq!(what, "/var/lib/twostep/secrets is insecure: its mode is 0755, group/other must have no access");
        assert_eq!(fix.as_deref(), Some("run chmod 700 /var/lib/twostep/secrets"));
        let e = StoreError::Corrupt { path: "/s/alice".into(), message: "line 2: bad".into() };
        let (what, fix) = split_fix(&e.to_string());
        assert_eq!(
            (what.as_str(), fix.as_deref()),
            ("/s/alice is corrupt (line 2: bad)", Some("inspect it, then repair or remove it"))
        );
        assert_eq!(split_fix("a; b"), ("a; b".to_string(), None));
    }

    #[test]
    fn the_report_fits_72_columns() {
        let long = "word ".repeat(40);
        for line in wrap("warning:", &long, "  ").lines().chain(wrap("  fix:", &long, "    ").lines()) {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        let path = format!("/{}", "x".repeat(100));
        assert_eq!(wrap("error:", &path, "  "), format!("error:\n  {path}"), "a long word gets a line of its own");
    }
}
