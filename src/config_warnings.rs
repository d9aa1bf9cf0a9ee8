//! Settings that are valid but weaken the protection or silently do nothing:
//! the lockout turned off or too weak to slow guessing, root exempt from it,
//! a very large number of grace logins, `enroll_at_login` where nobody must
//! enroll, `trusted_networks` that are very wide, include this host's loopback
//! or can never match (link-local), and `[services.NAME]` tables for which no PAM service exists (the
//! module is keyed by the PAM service name, so a typo applies to no login).
//!
//! [`warnings`] is pure: the caller lists the PAM service directory and passes
//! the names in. The admin command prints the result on stderr for every
//! command (`twostep: warning: …`, see [`render`]); exit codes do not change.
//! Nothing here refuses a login: these settings are legal, only unwise.

use std::path::Path;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cidr::Cidr;
use crate::config::{Config, LockoutConfig, PolicyConfig};
use crate::user::for_terminal;

/// Codes a day the default lockout lets one attacker try (5 per 30 minutes).
pub const DEFAULT_GUESSES_PER_DAY: u64 = 240;
/// Above this many guesses a day (ten times the default) the lockout is called weak.
pub const MAX_GUESSES_PER_DAY: u64 = 10 * DEFAULT_GUESSES_PER_DAY;
/// Above this many grace logins an unenrolled user effectively never has to enroll.
pub const MAX_GRACE_LOGINS: u32 = 100;
/// A trusted IPv4 network with a shorter prefix than this is called very wide.
pub const MIN_TRUSTED_PREFIX_V4: u8 = 8;
/// A trusted IPv6 network with a shorter prefix than this is called very wide.
pub const MIN_TRUSTED_PREFIX_V6: u8 = 16;
/// Width of a warning on the terminal, prefix included.
pub const WIDTH: usize = 72;

const DAY: u64 = 86_400;

/// The most codes one attacker can try in a day under `l`, or `None` when
/// nothing limits them (`deny = 0`). Either slowly enough never to lock
/// (`deny - 1` failures per `fail_interval`), or `deny` at once and then wait
/// out the lock (an expired lock clears the failures; `unlock_time = 0` waits
/// for an administrator); whichever is more.
pub fn guesses_per_day(l: &LockoutConfig) -> Option<u64> {
    if l.deny == 0 {
        return None;
    }
    let deny = u64::from(l.deny);
    let slow = (deny - 1).saturating_mul(DAY) / l.fail_interval.max(1);
    let burst = deny.saturating_mul(DAY).checked_div(l.unlock_time).unwrap_or(0);
    Some(slow.max(burst))
}

/// The dangerous or ineffective settings of `cfg`, one sentence each, without
/// the `twostep: warning: ` prefix. `pam_services` are the file names in
/// `pam_dir` (`None` when that directory could not be listed).
pub fn warnings(cfg: &Config, pam_dir: &Path, pam_services: Option<&[String]>) -> Vec<String> {
    let mut out = Vec::new();
    let l = &cfg.lockout;
    match guesses_per_day(l) {
        None => out.push(
            "[lockout] deny = 0 turns the lockout off: whoever knows a password may guess codes without \
             limit. Set deny = 5."
                .to_string(),
        ),
        Some(n) if n > MAX_GUESSES_PER_DAY => out.push(format!(
            "[lockout] deny = {}, fail_interval = {}, unlock_time = {} let one attacker try about {n} \
             codes a day (the defaults allow {DEFAULT_GUESSES_PER_DAY}). Lower deny, or raise \
             fail_interval and unlock_time.",
            l.deny, l.fail_interval, l.unlock_time
        )),
        Some(_) => {}
    }
    if l.deny > 0 && !l.even_deny_root {
        out.push(
            "[lockout] even_deny_root = false: root is never locked, so root's codes may be guessed \
             without limit."
                .to_string(),
        );
    }

    let base = policy_issues(&cfg.policy);
    out.extend(base.iter().map(|w| format!("[policy] {w}")));
    for (name, policy) in &cfg.services {
        // A service table inherits [policy]; repeat only what it changes.
        let shown = for_terminal(name);
        out.extend(
            policy_issues(policy).into_iter().filter(|w| !base.contains(w)).map(|w| format!("[services.{shown}] {w}")),
        );
    }

    if !cfg.services.is_empty() {
        let dir = pam_dir.display();
        match pam_services {
            None => out.push(format!(
                "could not list {dir}, so the [services.NAME] tables were not checked against the PAM \
                 services."
            )),
            Some(names) => {
                for name in cfg.services.keys().filter(|n| !names.contains(n)) {
                    let shown = for_terminal(name);
                    out.push(format!(
                        "[services.{shown}]: there is no PAM service {shown} (no file {dir}/{shown}), so the \
                         table likely applies to no login. Check the name against the files in {dir}."
                    ));
                }
            }
        }
    }
    out
}

/// The issues of one policy table, without the table name.
fn policy_issues(p: &PolicyConfig) -> Vec<String> {
    let mut out = Vec::new();
    if p.grace_logins > MAX_GRACE_LOGINS {
        out.push(format!(
            "grace_logins = {}: a user without a second factor may log in that many times without one. \
             A few (3) are enough for a roll-out.",
            p.grace_logins
        ));
    }
    out.extend(p.trusted_networks.iter().filter_map(network_issue));
    if p.enroll_at_login && !p.required {
        out.push(
            "enroll_at_login = true has no effect while required = false: users without a second \
             factor log in without one and are never asked to set it up."
                .to_string(),
        );
    }
    out
}

/// What is wrong with trusting `net`, if anything (one issue per network).
fn network_issue(net: &Cidr) -> Option<String> {
    let min = if net.addr().is_ipv4() { MIN_TRUSTED_PREFIX_V4 } else { MIN_TRUSTED_PREFIX_V6 };
    let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
    let link_local: Cidr = "fe80::/10".parse().expect("a valid network");
    if net.prefix() < min {
        Some(format!(
            "trusted_networks: {net} is very wide (a prefix shorter than /{min}): a login from \
             anywhere in it needs no code. List only your own networks."
        ))
    } else if loopback.iter().any(|a| net.contains(*a)) {
        Some(format!(
            "trusted_networks: {net} trusts this host itself: a local user, a web application or an \
             SSH tunnel (ssh -L, -R) connecting from it logs in without a code."
        ))
    } else if net.prefix() >= 10 && link_local.contains(net.addr()) {
        Some(format!(
            "trusted_networks: {net} never matches: a link-local address comes with its interface \
             (fe80::1%eth0), and such addresses are never trusted."
        ))
    } else {
        None
    }
}

/// One warning as printed: `twostep: warning: ` and the text, wrapped at
/// [`WIDTH`] columns with continuation lines indented by two spaces. A word
/// longer than a line (a long path) gets a line of its own.
pub fn render(warning: &str) -> String {
    let mut lines: Vec<String> = vec!["twostep: warning:".to_string()];
    for word in warning.split_whitespace() {
        let last = lines.last_mut().expect("at least one line");
        if last.chars().count() + 1 + word.chars().count() <= WIDTH {
            last.push(' ');
            last.push_str(word);
        } else {
            lines.push(format!("  {word}"));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse(Path::new("/etc/security/twostep.toml"), text).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn warn(text: &str, services: &[&str]) -> Vec<String> {
        warnings(&cfg(text), Path::new("/etc/pam.d"), Some(&names(services)))
    }

    #[test]
    fn the_defaults_and_the_shipped_examples_give_no_warning() {
        assert_eq!(warn("", &[]), Vec::<String>::new());
        assert_eq!(warn("[policy]\ngrace_logins = 3\nenroll_at_login = true", &[]), Vec::<String>::new());
        assert_eq!(warn("[services.sshd]\nrequired = true", &["sshd", "login"]), Vec::<String>::new());
        assert_eq!(warn("[lockout]\nunlock_time = 0", &[]), Vec::<String>::new());
    }

    #[test]
    fn the_default_lockout_allows_240_guesses_a_day() {
        assert_eq!(guesses_per_day(&cfg("").lockout), Some(DEFAULT_GUESSES_PER_DAY));
        assert_eq!(guesses_per_day(&cfg("[lockout]\ndeny = 0").lockout), None);
        // Waiting for an administrator: only the slow way, deny - 1 per interval.
        assert_eq!(guesses_per_day(&cfg("[lockout]\nunlock_time = 0").lockout), Some(4 * 48));
        assert_eq!(guesses_per_day(&cfg("[lockout]\ndeny = 1\nunlock_time = 0").lockout), Some(0));
        assert_eq!(guesses_per_day(&cfg("[lockout]\ndeny = 10\nunlock_time = 60").lockout), Some(14_400));
    }

    #[test]
    fn deny_zero_warns_of_unlimited_guesses() {
        let w = warn("[lockout]\ndeny = 0", &[]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("deny = 0") && w[0].contains("without limit"), "{w:?}");
    }

    #[test]
    fn a_short_lock_with_a_high_deny_warns_with_the_guess_rate() {
        let w = warn("[lockout]\ndeny = 50\nunlock_time = 60", &[]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("deny = 50") && w[0].contains("about 72000 codes a day"), "{w:?}");
        let w = warn("[lockout]\nfail_interval = 10", &[]);
        assert!(w[0].contains("fail_interval = 10") && w[0].contains("34560"), "{w:?}");
        // Ten times the default is still quiet; a little more is not.
        assert!(warn("[lockout]\nunlock_time = 180\nfail_interval = 1800", &[]).is_empty());
        assert_eq!(warn("[lockout]\nunlock_time = 179", &[]).len(), 1);
    }

    #[test]
    fn root_exempt_from_the_lockout_warns() {
        let w = warn("[lockout]\neven_deny_root = false", &[]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("even_deny_root = false") && w[0].contains("root"), "{w:?}");
        // With the lockout off, the deny = 0 warning already says it all.
        assert_eq!(warn("[lockout]\ndeny = 0\neven_deny_root = false", &[]).len(), 1);
    }

    #[test]
    fn more_than_a_hundred_grace_logins_warn_once_per_table_that_sets_them() {
        assert!(warn("[policy]\ngrace_logins = 100", &[]).is_empty());
        let w = warn("[policy]\ngrace_logins = 4294967295\n[services.sshd]\nrequired = true", &["sshd"]);
        assert_eq!(w.len(), 1, "the service inherits it, said once: {w:?}");
        assert!(w[0].starts_with("[policy] grace_logins = 4294967295:"), "{w:?}");
        let w = warn("[services.sshd]\ngrace_logins = 1000", &["sshd"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("[services.sshd] grace_logins = 1000:"), "{w:?}");
    }

    #[test]
    fn enroll_at_login_where_nobody_must_enroll_warns() {
        let w = warn("[policy]\nrequired = false\nenroll_at_login = true", &[]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("[policy] enroll_at_login = true has no effect"), "{w:?}");
        let w = warn("[policy]\nenroll_at_login = true\n[services.login]\nrequired = false", &["login"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("[services.login] enroll_at_login"), "{w:?}");
    }

    #[test]
    fn very_wide_loopback_and_link_local_trusted_networks_warn_once_each() {
        let quiet = "[policy]\ntrusted_networks = [\"10.0.0.0/8\", \"2001::/16\", \"192.0.2.7\"]";
        assert_eq!(warn(quiet, &[]), Vec::<String>::new());
        let w = warn("[policy]\ntrusted_networks = [\"0.0.0.0/0\", \"8.0.0.0/7\", \"2000::/3\", \"::/0\"]", &[]);
        assert_eq!(w.len(), 4, "{w:?}");
        for (w, net) in w.iter().zip(["0.0.0.0/0 ", "8.0.0.0/7 ", "2000::/3 ", "::/0 "]) {
            assert!(w.starts_with(&format!("[policy] trusted_networks: {net}is very wide")), "{w}");
        }
        let w = warn("[services.sshd]\ntrusted_networks = [\"127.0.0.0/8\", \"::1/128\", \"fe80::/64\"]", &["sshd"]);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("[services.sshd] trusted_networks: 127.0.0.0/8 trusts this host itself"), "{w:?}");
        assert!(w[1].starts_with("[services.sshd] trusted_networks: ::1/128 trusts this host itself"), "{w:?}");
        assert!(w[2].starts_with("[services.sshd] trusted_networks: fe80::/64 never matches"), "{w:?}");
        // Inherited by a service table: said once, for [policy].
        let w = warn("[policy]\ntrusted_networks = [\"0.0.0.0/0\"]\n[services.sshd]\nrequired = true", &["sshd"]);
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn a_service_table_without_a_pam_service_warns_with_the_name() {
        let w = warn("[services.sshd]\nrequired = true\n[services.nosuchservice]\nrequired = true", &["sshd"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("no PAM service nosuchservice") && w[0].contains("/etc/pam.d/nosuchservice"), "{w:?}");
        // Names are shown, never replayed to the terminal raw.
        let w = warn("[services.\"a\\u001b[31mb\"]\nrequired = true", &[]);
        assert!(!w[0].contains('\u{1b}'), "{w:?}");
        // An unreadable directory is said once, not taken for "no services".
        let w = warnings(&cfg("[services.sshd]\nrequired = true"), Path::new("/nonexistent"), None);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("could not list /nonexistent"), "{w:?}");
        assert!(warnings(&cfg(""), Path::new("/nonexistent"), None).is_empty());
    }

    #[test]
    fn every_warning_fits_72_columns_with_its_prefix() {
        let text = "[lockout]\ndeny = 1000\nfail_interval = 1\nunlock_time = 1\neven_deny_root = false\n\
                    [policy]\nrequired = false\nenroll_at_login = true\ngrace_logins = 4294967295\n\
                    [services.sshd-typo]\ngrace_logins = 5";
        let all = warn(text, &["sshd"]);
        assert_eq!(all.len(), 5, "{all:?}");
        let nets = "[policy]\ntrusted_networks = [\"0.0.0.0/0\", \"::1\", \"fe80::/10\", \"ffff:ffff:ffff:ffff::/64\"]";
        let all: Vec<String> = all.into_iter().chain(warn("[lockout]\ndeny = 0", &[])).chain(warn(nets, &[])).collect();
        for w in &all {
            let shown = render(w);
            assert!(shown.starts_with("twostep: warning: "), "{shown}");
            for line in shown.lines() {
                assert!(line.chars().count() <= WIDTH, "{} columns: {line}", line.chars().count());
            }
            assert_eq!(shown.split_whitespace().collect::<Vec<_>>()[2..], w.split_whitespace().collect::<Vec<_>>());
        }
    }

    #[test]
    fn render_gives_a_word_longer_than_a_line_a_line_of_its_own() {
        let long = "x".repeat(100);
        let shown = render(&format!("see {long} now"));
        assert_eq!(shown.lines().collect::<Vec<_>>(), ["twostep: warning: see", &format!("  {long}"), "  now"]);
    }
}
