//! sshd's effective settings, from `sshd -T` (the configuration as sshd
//! itself resolves it: includes, `sshd_config.d/`, first value wins), and
//! the ones that matter when `pam_twostep.so` is in sshd's PAM stack.
//!
//! `Match` blocks are not evaluated (`sshd -T` without `-C` shows the
//! global settings).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `sshd -T` may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `sshd -T` (with `-f config` when given) and returns its settings,
/// keywords in lower case, or why it could not: the first line sshd printed.
pub fn settings(sshd: &Path, config: Option<&Path>) -> Result<BTreeMap<String, String>, String> {
    let mut cmd = Command::new(sshd);
    cmd.arg("-T");
    if let Some(c) = config {
        cmd.arg("-f").arg(c);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", sshd.display()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} -T did not finish within {} seconds", sshd.display(), TIMEOUT.as_secs()));
            }
        }
    };
    let text = reader.join().unwrap_or_default();
    let errors = err_reader.join().unwrap_or_default();
    if !status.success() {
        let first = errors.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(format!("{} -T failed ({status}): {first}", sshd.display()));
    }
    Ok(parse(&text))
}

/// `keyword value…` lines; the first value of a keyword wins (repeated
/// keywords such as `listenaddress` keep their first line).
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.trim().splitn(2, ' ');
        if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            out.entry(k.to_ascii_lowercase()).or_insert_with(|| v.trim().to_string());
        }
    }
    out
}

/// `AuthenticationMethods`: the lists of methods, any one of which logs a
/// user in (`any`: a single method, whichever).
pub fn method_lists(value: &str) -> Option<Vec<Vec<String>>> {
    if value.trim() == "any" {
        return None;
    }
    Some(
        value
            .split_whitespace()
            .map(|list| list.split(',').map(|m| m.split(':').next().unwrap_or(m).to_string()).collect())
            .collect(),
    )
}

/// Whether every list of `value` runs keyboard-interactive (PAM) after a
/// public key, as the public key + code stack needs.
pub fn key_before_code_everywhere(value: &str) -> bool {
    match method_lists(value) {
        None => false,
        Some(lists) => lists.iter().all(|l| {
            let key = l.iter().position(|m| m == "publickey");
            let code = l.iter().position(|m| m == "keyboard-interactive");
            matches!((key, code), (Some(k), Some(c)) if k < c)
        }),
    }
}

/// Whether some list of `value` logs in without keyboard-interactive.
pub fn some_login_without_code(value: &str) -> bool {
    match method_lists(value) {
        None => true,
        Some(lists) => lists.iter().any(|l| !l.iter().any(|m| m == "keyboard-interactive")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_methods_are_read_as_sshd_reads_them() {
        assert!(key_before_code_everywhere("publickey,keyboard-interactive"));
        assert!(key_before_code_everywhere("publickey,keyboard-interactive:pam"));
        assert!(!key_before_code_everywhere("any"));
        assert!(!key_before_code_everywhere("keyboard-interactive,publickey"));
        assert!(!key_before_code_everywhere("publickey,keyboard-interactive keyboard-interactive"));
        assert!(some_login_without_code("any"));
        assert!(some_login_without_code("keyboard-interactive publickey"));
        assert!(!some_login_without_code("keyboard-interactive"));
        assert!(!some_login_without_code("publickey,keyboard-interactive password,keyboard-interactive"));
    }

    #[test]
    fn the_first_value_of_a_keyword_wins() {
        let s = parse("port 22\nListenAddress [::]:22\nlistenaddress 0.0.0.0:22\nusepam yes\n");
        assert_eq!(s["listenaddress"], "[::]:22");
        assert_eq!(s["usepam"], "yes");
    }
}
