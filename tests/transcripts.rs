//! What users see is a tested artifact: the terminal of a real OpenSSH
//! `ssh` under a pty (tests/e2e/ssh_pty.py), logging in to a real sshd set up
//! with the shipped snippets, is recorded for each kind of login and compared
//! with a golden file in `tests/golden/`, after what varies from run to run
//! (user names, ports, times, masked user names) is replaced by a
//! placeholder. Codes are typed without echo, so none is on the screen.
//!
//! `TWOSTEP_UPDATE_GOLDEN=1 cargo test --test transcripts` rewrites the
//! golden files (and the README's copies) instead of comparing; a failing
//! comparison prints a diff. The README shows three transcripts; a test checks
//! that its copies are the golden files. docs/messages.md describes every
//! message these show.

mod common;
mod e2e;

use std::path::{Path, PathBuf};

use common::*;
use e2e::*;

const PW_PAM: &str = "pam-config/pam.d/sshd";
const PW_SSHD: &str = "pam-config/sshd_config.d/10-twostep-password.conf";
const PASSWORD: &str = "Password: ";
const CODE: &str = "Verification code: ";
const WITH_TEXT: &str = "Verification code (or type \"text\" to get a code by text message): ";
const WITH_EMAIL: &str = "Verification code (or type \"email\" to get a code by email): ";
/// The transcripts the README shows, each between `<!-- golden: NAME -->` and the end of its code block.
const IN_README: [&str; 3] = ["app-code.txt", "text-code.txt", "enroll-text.txt"];

fn golden_dir() -> PathBuf {
    repo().join("tests/golden")
}

fn updating() -> bool {
    std::env::var_os("TWOSTEP_UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// `hh:mm`, `yyyy-mm-dd hh:mm` and a following ` UTC` become `HH:MM`.
fn mask_times(text: &str) -> String {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let date_at = |i: usize| {
        (0..4).all(|k| digit(i + k))
            && b.get(i + 4) == Some(&b'-')
            && digit(i + 5)
            && digit(i + 6)
            && b.get(i + 7) == Some(&b'-')
            && digit(i + 8)
            && digit(i + 9)
            && b.get(i + 10) == Some(&b' ')
    };
    let time_at = |i: usize| digit(i) && digit(i + 1) && b.get(i + 2) == Some(&b':') && digit(i + 3) && digit(i + 4);
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if date_at(i) && time_at(i + 11) {
            i += 11;
        }
        if time_at(i) && !digit(i + 5) && (i == 0 || !digit(i - 1) || i != start) {
            out.push_str("HH:MM");
            i += 5;
            if text[i..].starts_with(" UTC") {
                i += 4;
            }
            continue;
        }
        i = start;
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The transcript with what varies replaced: line ends, the user's name,
/// the port sshd listens on, times of day, the first letter of a masked
/// address (`j***@` is the user's name's). ssh's note that it added the
/// host key is left out: it comes from the test's empty known_hosts.
fn normalize(transcript: &str, user: &str, port: u16) -> String {
    let text = transcript.replace("\r\n", "\n").replace('\r', "");
    let text: String = text.split_inclusive('\n').filter(|l| !l.starts_with("Warning: Permanently added ")).collect();
    let text = text.replace(user, "<user>").replace(&format!(":{port}"), ":<port>");
    let text = mask_times(&text);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("***@") {
        let (before, after) = rest.split_at(at);
        let cut = before.char_indices().last().map(|(i, _)| i).unwrap_or(0);
        out.push_str(&before[..cut]);
        out.push('?');
        out.push_str("***@");
        rest = &after[4..];
    }
    out.push_str(rest);
    out
}

/// Compares `actual` with `tests/golden/NAME` (or writes it when updating).
fn check_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if updating() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with TWOSTEP_UPDATE_GOLDEN=1 to create it", path.display()));
    if want != actual {
        let dir = tempfile::tempdir().unwrap();
        let got = dir.path().join(name);
        std::fs::write(&got, actual).unwrap();
        let diff = std::process::Command::new("diff").arg("-u").arg(&path).arg(&got).output().unwrap();
        panic!(
            "the transcript differs from {} (TWOSTEP_UPDATE_GOLDEN=1 rewrites it):\n{}",
            path.display(),
            String::from_utf8_lossy(&diff.stdout)
        );
    }
}

/// Logs `user` in with OpenSSH under a pty (password, then `answers`), runs
/// `echo logged-in`, and returns the normalized terminal.
fn record(sshd: &Sshd, user: &TestUser, answers: &[(&str, Vec<String>)]) -> (PtyRun, String) {
    let argv = sshd.ssh_argv(user, "keyboard-interactive", &[], "echo logged-in");
    let run = pty(&argv, answers, &[]);
    let text = normalize(&run.transcript, &user.name, sshd.port);
    (run, text)
}

/// A `[sms]` or `[email]` command writing what it is given to `file` (the site's
/// gateway would send it on), with `{phone}` when it is for texts.
fn writing_to(file: &Path, phone: bool) -> String {
    let phone = if phone { ", \"sh\", \"{phone}\"" } else { "" };
    format!("command = [\"/bin/sh\", \"-c\", \"cat > {}\"{phone}]", file.display())
}

#[test]
fn the_app_code_login_looks_like_the_golden_transcript() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let (run, text) = record(&sshd, &user, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![code(SECRET, 0)])]);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    check_golden("app-code.txt", &text);
}

#[test]
fn the_menu_then_text_code_login_looks_like_the_golden_transcript() {
    let env = Env::new("");
    let texts = env.path().join("text");
    env.write_config(&format!("[sms]\n{}\n", writing_to(&texts, true)));
    let user = TestUser::new();
    env.enroll_phone(&user.name, Some(SECRET), None, Some("+15551234567"));
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let sent = from_file(&texts, r"^(\d{6}) is your verification code");
    let answers = [(PASSWORD, vec![user.password.clone()]), (WITH_TEXT, vec!["text".into()]), (CODE, vec![sent])];
    let (run, text) = record(&sshd, &user, &answers);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    check_golden("text-code.txt", &text);
}

#[test]
fn the_email_code_login_looks_like_the_golden_transcript() {
    let env = Env::new("");
    let mail = env.path().join("mail");
    env.write_config(&format!("[email]\n{}\n", writing_to(&mail, false)));
    let user = TestUser::new();
    env.enroll_with(&user.name, Some(SECRET), Some(&format!("{}@district.example", user.name)));
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let sent = from_file(&mail, r"(?m)^ +(\d{6})$");
    let answers = [(PASSWORD, vec![user.password.clone()]), (WITH_EMAIL, vec!["email".into()]), (CODE, vec![sent])];
    let (run, text) = record(&sshd, &user, &answers);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    check_golden("email-code.txt", &text);
}

/// Runs the real `twostep` binary and parses its `--json` output.
fn twostep_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = env.twostep(args);
    assert!(out.status.success(), "twostep {args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Refused over sshd: the same answer a second time (paramiko, one round).
fn refused_again(sshd: &Sshd, user: &TestUser, answer: &str) {
    let answers = [(PASSWORD, vec![user.password.clone()]), (CODE, vec![answer.to_string()])];
    let run = paramiko(sshd, user, None, &answers, "true");
    assert!(!run.ok, "used twice: {run:?}");
    assert!(run.instructions().contains("Incorrect verification code. 4 attempts remain"), "{run:?}");
}

#[test]
fn the_backup_code_login_looks_like_the_golden_transcript() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    // A set made by the admin command, of which all but three were used: the
    // one typed now leaves two, and the user is told so.
    let made = twostep_json(&env, &["backup-codes", &user.name, "--json"]);
    let codes: Vec<String> =
        made["backup_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    env.store()
        .change(&user.name, |u| {
            let mut record = u.record()?.cloned().unwrap();
            record.backup_codes.truncate(3);
            u.save_record(record)
        })
        .unwrap();
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    // Typed as printed on the sheet: `1234 5678`.
    let typed = format!("{} {}", &codes[1][..4], &codes[1][4..]);
    let (run, text) = record(&sshd, &user, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![typed])]);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    check_golden("backup-code.txt", &text);
    refused_again(&sshd, &user, &codes[1]);
    let status = twostep_json(&env, &["status", &user.name, "--json"]);
    assert_eq!(status["backup_codes_left"].as_u64(), Some(2), "{status}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=success method=backup backup_codes_left=2")), "{logs:?}");
    assert!(logs.iter().all(|l| codes.iter().all(|c| !l.contains(c.as_str()))), "no code in a log line");
}

#[test]
fn the_help_desk_code_login_looks_like_the_golden_transcript() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let made = twostep_json(&env, &["bypass", &user.name, "--json"]);
    let code = made["code"].as_str().unwrap().to_string();
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    // Typed as the help desk reads it out: `123 456 789`.
    let spoken = format!("{} {} {}", &code[..3], &code[3..6], &code[6..]);
    let (run, text) = record(&sshd, &user, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![spoken])]);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    check_golden("help-desk-code.txt", &text);
    refused_again(&sshd, &user, &code);
    let status = twostep_json(&env, &["status", &user.name, "--json"]);
    assert_eq!(status["bypass_pending"], serde_json::Value::Null, "one use, spent: {status}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=success method=bypass bypass_uses_left=0")), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(&code)), "no code in a log line");
}

#[test]
fn the_locked_account_login_looks_like_the_golden_transcript() {
    let env = Env::new("[lockout]\nunlock_time = 600");
    let user = TestUser::new();
    env.enroll(&user.name);
    let t = now();
    env.update_tally(&user.name, |tally| {
        tally.failures = vec![t; 5];
        tally.locked_at = Some(t);
    });
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    // One password; the second password prompt is left unanswered (the person gives up).
    let (run, text) = record(&sshd, &user, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![])]);
    assert_ne!(run.exit, Some(0), "{run:?}");
    assert_eq!(run.unanswered.as_deref(), Some(PASSWORD), "no code asked: {run:?}");
    check_golden("locked.txt", &text);
}

#[test]
fn enrolling_a_typed_number_at_login_looks_like_the_golden_transcript() {
    let env = Env::new("");
    let texts = env.path().join("text");
    env.write_config(&format!(
        "[sms]\n{}\n[policy]\nenroll_at_login = true\nenroll_methods = [\"app\", \"text\", \"email\"]\n",
        writing_to(&texts, true)
    ));
    let user = TestUser::new();
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let sent = from_file(&texts, r"^(\d{6}) is your verification code");
    let answers = [
        (PASSWORD, vec![user.password.clone()]),
        ("Type app, text or email: ", vec!["text".into()]),
        ("e.g. +1 555 123 4567: ", vec!["+1 555 123 4567".into()]),
        (CODE, vec![sent]),
    ];
    let (run, text) = record(&sshd, &user, &answers);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    assert_eq!(env.store().record(&user.name).unwrap().unwrap().phone.as_deref(), Some("+15551234567"));
    check_golden("enroll-text.txt", &text);
}

/// The README's copy of each transcript in [`IN_README`]: the code block after its marker.
fn readme_copy(readme: &str, name: &str) -> Option<(usize, usize)> {
    let marker = format!("<!-- golden: {name} -->\n```text\n");
    let start = readme.find(&marker)? + marker.len();
    let body = &readme[start..];
    let len = if body.starts_with("```\n") { 0 } else { body.find("\n```\n")? + 1 };
    Some((start, start + len))
}

#[test]
fn the_readme_shows_the_golden_transcripts_as_they_are() {
    let path = repo().join("README.md");
    let mut readme = std::fs::read_to_string(&path).unwrap();
    for name in IN_README {
        let golden = std::fs::read_to_string(golden_dir().join(name)).unwrap();
        let (start, end) = readme_copy(&readme, name)
            .unwrap_or_else(|| panic!("README.md has no block after <!-- golden: {name} -->"));
        if updating() {
            readme.replace_range(start..end, &golden);
        } else {
            assert_eq!(&readme[start..end], golden, "README.md's copy of {name} (TWOSTEP_UPDATE_GOLDEN=1 copies it)");
        }
    }
    if updating() {
        std::fs::write(&path, readme).unwrap();
    }
}

#[test]
fn normalizing_replaces_what_varies_and_keeps_the_rest() {
    let raw = "Warning: Permanently added '[127.0.0.1]:40022' (ED25519) to the list of known hosts.\r\n\
               (tsu1x2@127.0.0.1) Password: \r\nWarning: added '[127.0.0.1]:40022'\r\n\
               Try again after 14:32. Or 2026-01-02 09:05 UTC.\r\nsent to t***@district.example at 7:05\r\n";
    assert_eq!(
        normalize(raw, "tsu1x2", 40022),
        "(<user>@127.0.0.1) Password: \nWarning: added '[127.0.0.1]:<port>'\n\
         Try again after HH:MM. Or HH:MM.\nsent to ?***@district.example at 7:05\n"
    );
}
