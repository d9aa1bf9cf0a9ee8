//! The fail2ban filter shipped in pam-config/fail2ban/twostep.conf, tried
//! on the log lines of real logins through the module (wrong codes, a
//! replay, a lock, a success, a console login without rhost, a user name
//! that carries a fake address) as syslog writes them to auth.log. The
//! filter is read and expanded the way fail2ban does (configparser with
//! `%(name)s` interpolation, the date cut off first, `<HOST>` replaced by
//! fail2ban's own IPv4/IPv6/host name patterns), in Python's `re`, which
//! fail2ban itself uses.

mod common;

use std::process::Command;

use common::*;

const MATCHER: &str = r#"
import configparser, re, sys

cfg = configparser.ConfigParser()
cfg.read(sys.argv[1])
d = cfg["Definition"]
# fail2ban/server/ipdns.py and failregex.py: what <HOST> stands for.
IP4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
IP6 = r"(?:[0-9a-fA-F]{1,4}::?|:){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)"
HOST = r"(?:(?:::f{4,6}:)?(?P<ip4>%s)|\[?(?P<ip6>%s)\]?|(?P<dns>[\w\-.^_]*\w))" % (IP4, IP6)
fail = [re.compile(r.replace("<HOST>", HOST)) for r in d["failregex"].splitlines() if r.strip()]
ignore = [re.compile(r) for r in d.get("ignoreregex", "").splitlines() if r.strip()]
for line in sys.stdin.read().splitlines():
    # fail2ban's date detector takes the time stamp off before matching.
    rest = re.sub(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ", "", line)
    m = next((m for m in (r.search(rest) for r in fail) if m), None)
    if m and not any(i.search(rest) for i in ignore):
        print(m.group("ip4") or m.group("ip6") or m.group("dns"))
    else:
        print("-")
"#;

/// What the filter makes of each line: the banned address, or "-".
fn matches(lines: &[String]) -> Vec<String> {
    let filter = e2e_repo().join("pam-config/fail2ban/twostep.conf");
    let out = run_with_stdin(
        {
            let mut c = Command::new("/usr/bin/python3");
            c.args(["-c", MATCHER]).arg(filter);
            c
        },
        &lines.join("\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

fn e2e_repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A datagram (`<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`) as the syslog daemon
/// writes it to auth.log: `<PRI>` dropped, the host name after the time.
fn as_in_auth_log(datagram: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let line = datagram.split_once('>').map_or(datagram, |(_, rest)| rest).trim_end();
    assert!(line.len() > 16 && line.as_bytes()[15] == b' ', "{line:?}");
    format!("{} {} {}", &line[..15], host.trim(), &line[16..])
}

#[test]
fn the_fail2ban_filter_bans_the_address_of_wrong_codes_replays_and_locks_only() {
    let env = Env::new("[lockout]\ndeny = 3");
    env.enroll("alice");
    env.enroll("bob");
    env.enroll("x\u{20}rhost=6.6.6.6");
    let bad = wrong_code(SECRET);
    let from = |host: &str| vec!["--rhost".to_string(), host.to_string()];
    let login = |user: &str, answer: &str, extra: Vec<String>| {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        env.login_service(SERVICE, user, &[answer], &extra)
    };
    env.log_lines();

    // 203.0.113.7 sends wrong codes for alice until she is locked, then once more.
    for _ in 0..4 {
        assert_eq!(login("alice", &bad, from("203.0.113.7")).result, "PAM_AUTH_ERR");
    }
    // bob logs in from 198.51.100.9, and the same code again is a replay, from IPv6.
    let right = code(SECRET, 0);
    assert!(login("bob", &right, from("198.51.100.9")).succeeded());
    assert_eq!(login("bob", &right, from("2001:db8::5")).result, "PAM_AUTH_ERR");
    // A wrong code at the console (no rhost) and from a host name.
    assert_eq!(login("bob", &bad, vec![]).result, "PAM_AUTH_ERR");
    assert_eq!(login("bob", &bad, from("client7.district.org")).result, "PAM_AUTH_ERR");
    // A user name with a fake address in it: the real one is banned.
    assert_eq!(login("x rhost=6.6.6.6", &bad, from("192.0.2.44")).result, "PAM_AUTH_ERR");

    let lines: Vec<String> = env.log_lines().iter().map(|l| as_in_auth_log(l)).collect();
    let results: Vec<&str> =
        lines.iter().map(|l| l.split(' ').find_map(|f| f.strip_prefix("result=")).unwrap_or("?")).collect();
    assert_eq!(
        results,
        [
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "locked",
            "locked",
            "success",
            "replay",
            "wrong_code",
            "wrong_code",
            "locked",
            "wrong_code"
        ],
        "{lines:#?}"
    );
    assert!(lines[0].contains(" pam_twostep[") && lines[0].contains(": user=alice service="), "{}", lines[0]);
    let banned = matches(&lines);
    assert_eq!(
        banned,
        [
            "203.0.113.7",
            "203.0.113.7",
            "203.0.113.7",
            "203.0.113.7",
            "203.0.113.7",
            "-",
            "2001:db8::5",
            "-",
            "client7.district.org",
            "client7.district.org",
            "192.0.2.44"
        ],
        "{lines:#?}"
    );
    // Without the host name (a syslog daemon that leaves it out) they match the same.
    let bare: Vec<String> =
        lines.iter().map(|l| format!("{}{}", &l[..16], l[16..].split_once(' ').unwrap().1)).collect();
    assert!(bare[0][16..].starts_with("pam_twostep["), "{}", bare[0]);
    assert_eq!(matches(&bare), banned, "{bare:#?}");
}
