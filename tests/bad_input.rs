//! The bad-input table (docs/bad-input.md): odd user names, odd answers,
//! failing conversations, broken or insecure config, store and tally files,
//! broken state directories, a full file system, clock jumps, and a caller's
//! limits and environment. Every row is a login through real libpam and the
//! real `.so` (examples/pamdrive.rs), run with a timeout, and checks the PAM
//! result, what the user was told, the one log line and, where nothing should
//! change, the bytes of every state file before and after.
//!
//! Rows that share a shape are tables; each row names itself in every
//! assertion message (`[row]`), and docs/bad-input.md lists them by that name.
//! Setup goes through public behaviour (the `twostep` binary, files on disk)
//! so that restructuring `src/` does not break these tests.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Longest any single login may take before it counts as a hang.
const TIMEOUT: Duration = Duration::from_secs(20);
const PROMPT: &str = "Verification code: ";
const NOBODY: u32 = 65534;

// ---------------------------------------------------------------- helpers

/// A test installation whose PAM directory also has an `other` service, as
/// every system has: without it libpam syslogs "no default config" through
/// glibc's syslog(), which reads `$TZ` (see the TZ rows).
fn new_env(config: &str) -> Env {
    let env = Env::new(config);
    std::fs::write(env.confdir.join("other"), "auth required pam_deny.so\n").unwrap();
    env
}

/// Runs a pamdrive command with `input` on stdin; fails the test if it runs
/// longer than [`TIMEOUT`], dies by a signal, exits non-zero or never prints
/// its `authenticate` result line.
fn drive(row: &str, cmd: Command, input: Vec<u8>) -> Transcript {
    let (status, stdout, stderr) = run_bounded(row, cmd, input);
    assert!(status.success(), "[{row}] pamdrive did not exit normally: {status:?}\n{stdout}\n{stderr}");
    assert!(stdout.contains("\"step\":\"authenticate\""), "[{row}] no result line: {stdout}\n{stderr}");
    Transcript::parse(&stdout)
}

/// Runs `cmd` with `input` on stdin, at most [`TIMEOUT`]; its exit status, stdout and stderr.
fn run_bounded(row: &str, mut cmd: Command, input: Vec<u8>) -> (std::process::ExitStatus, String, String) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The module may stop reading early: EPIPE is fine.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let mut err = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("[{row}] pamdrive hung for more than {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    (status, stdout, stderr)
}

/// Answers as stdin lines.
fn lines(answers: &[&str]) -> Vec<u8> {
    answers.iter().flat_map(|a| format!("{a}\n").into_bytes()).collect()
}

/// One login of `user` on `service` with `answers`, `extra` pamdrive arguments.
fn login(env: &Env, row: &str, service: &str, user: &str, answers: &[&str], extra: &[&str]) -> Transcript {
    drive(row, env.pamdrive(&[], service, user, extra), lines(answers))
}

/// Enrolls `user` with `secret` through the real admin command.
fn enroll(env: &Env, user: &str, secret: &str) {
    let out = env.twostep_stdin(&["enroll", user, "--secret-stdin"], &format!("{secret}\n"));
    assert!(out.status.success(), "enroll {user:?}: {}", stderr(&out));
    logs_at_least(env, 1);
}

/// Sets `user`'s fallback address through the real admin command.
fn set_email(env: &Env, user: &str, address: &str) {
    let out = env.twostep(&["email", user, address]);
    assert!(out.status.success(), "email {user:?}: {}", stderr(&out));
    logs_at_least(env, 1);
}

/// Failures in `user`'s tally file as it is on disk, whatever their age.
fn failures_on_disk(env: &Env, user: &str) -> usize {
    let text = std::fs::read_to_string(env.tally.join(user)).unwrap_or_default();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table.get("failures").and_then(|f| f.as_array()).map_or(0, Vec::len)
}

/// `twostep status USER --json`, parsed.
fn status(env: &Env, user: &str) -> serde_json::Value {
    let out = env.twostep(&["status", user, "--json"]);
    assert!(out.status.success(), "status {user:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn failures(env: &Env, user: &str) -> u64 {
    status(env, user)["failures"].as_u64().unwrap()
}

/// A directory's entries: name → (type, owner, mode, content).
type Entries = BTreeMap<String, (String, u32, u32, Vec<u8>)>;

/// Every entry of `dir` (lock files aside: creating one changes nothing):
/// name → type, owner, mode and content (a symlink's target).
fn snapshot(dir: &Path) -> Entries {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".lock") {
            continue;
        }
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        let ft = meta.file_type();
        let (kind, content) = if ft.is_symlink() {
            ("symlink", std::fs::read_link(e.path()).unwrap().into_os_string().into_encoded_bytes())
        } else if ft.is_file() {
            ("file", std::fs::read(e.path()).unwrap())
        } else if ft.is_dir() {
            ("dir", Vec::new())
        } else {
            ("other", Vec::new())
        };
        out.insert(name, (kind.to_string(), meta.uid(), meta.mode() & 0o7777, content));
    }
    out
}

/// The state of both state directories.
fn state(env: &Env) -> (Entries, Entries) {
    (snapshot(&env.secrets), snapshot(&env.tally))
}

/// The log lines received since the last call, waiting (up to 10 s) until
/// there are at least `n`: on two busy cores the socket's drain thread may run late.
fn logs_at_least(env: &Env, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut logs = env.log_lines();
    while logs.len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        logs.extend(env.log_lines());
    }
    logs
}

/// The log lines of one login: exactly one, with `result=want` (and `reason` in it).
fn one_log_line(env: &Env, row: &str, want: &str, reason: &str) -> String {
    let logs = logs_at_least(env, 1);
    assert_eq!(logs.len(), 1, "[{row}] exactly one log line: {logs:?}");
    let line = &logs[0];
    assert!(line.contains(&format!(" result={want} ")), "[{row}] result={want}: {line}");
    assert!(line.contains(reason), "[{row}] reason {reason:?}: {line}");
    assert!(!line.trim_end().chars().any(char::is_control), "[{row}] control characters in the log: {line:?}");
    line.clone()
}

/// What the user was told contains no internal detail (paths, errno texts, uids).
fn no_internals(env: &Env, row: &str, t: &Transcript) {
    let said = t.said();
    for leak in [env.path().to_str().unwrap(), "os error", "uid", ".toml", "panic", "corrupt", "version"] {
        assert!(!said.contains(leak), "[{row}] the user was told {leak:?}: {said}");
    }
}

/// Refused as unavailable: PAM_SYSTEM_ERR, only the fixed sentence, one log line.
fn assert_unavailable(env: &Env, row: &str, t: &Transcript, reason: &str) -> String {
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "[{row}] {t:?}");
    assert_eq!(t.said(), UNAVAILABLE_TEXT, "[{row}] {t:?}");
    no_internals(env, row, t);
    one_log_line(env, row, "unavailable", reason)
}

const UNAVAILABLE_TEXT: &str = "Two-step verification is unavailable; contact your administrator.";

/// A FIFO at `path`.
fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg("-m").arg("600").arg(path).status().unwrap();
    assert!(st.success());
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------- user names

/// What a login of an odd user name must come to.
#[derive(Clone, Copy)]
enum Named {
    /// Refused before any prompt: the name cannot be a file name (`reason` logged).
    Unusable(&'static str),
    /// Refused: required, not enrolled.
    NotEnrolled,
}

/// Odd user names, with `required = true` (the default) and `required = false`.
#[test]
fn odd_user_names_are_decided_by_the_policy_and_logged_escaped() {
    let long_ascii = "a".repeat(4096);
    let long_letters = "é".repeat(100);
    let rows: Vec<(&str, Vec<u8>, Named)> = vec![
        ("empty", b"".to_vec(), Named::Unusable("empty")),
        ("4 KiB", long_ascii.into_bytes(), Named::Unusable("4096 bytes long")),
        ("100 two-byte letters", long_letters.into_bytes(), Named::Unusable("as a file name")),
        ("..", b"..".to_vec(), Named::NotEnrolled),
        ("/", b"/".to_vec(), Named::NotEnrolled),
        ("a/b", b"a/b".to_vec(), Named::NotEnrolled),
        ("../../etc/passwd", b"../../etc/passwd".to_vec(), Named::NotEnrolled),
        ("ESC", b"\x1b[31mred".to_vec(), Named::NotEnrolled),
        ("newline", b"eve\nuser=root result=success".to_vec(), Named::NotEnrolled),
        ("tab", b"tab\tbed".to_vec(), Named::NotEnrolled),
        ("DOMAIN\\user", b"DOMAIN\\bob".to_vec(), Named::NotEnrolled),
        ("user@realm", b"bob@AD.EXAMPLE".to_vec(), Named::NotEnrolled),
        ("quote and equals", b"x\" result=success".to_vec(), Named::NotEnrolled),
    ];
    for (row, user, want) in rows {
        let env = new_env("");
        let before = state(&env);
        let t = drive(row, env.pamdrive(&[], SERVICE, "", &["--user-hex", &hex(&user)]), Vec::new());
        assert!(t.prompts().is_empty(), "[{row}] {t:?}");
        no_internals(&env, row, &t);
        match want {
            Named::Unusable(reason) => {
                assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
                assert_eq!(t.said(), UNAVAILABLE_TEXT, "[{row}] {t:?}");
                one_log_line(&env, row, "denied", reason);
            }
            Named::NotEnrolled => {
                assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
                assert!(t.said().contains("but it is not set up"), "[{row}] {t:?}");
                let line = one_log_line(&env, row, "not_enrolled", "");
                let user_field = line.split(" user=").nth(1).unwrap().split(' ').next().unwrap();
                assert!(user_field.bytes().all(|b| b.is_ascii_graphic()), "[{row}] {line}");
            }
        }
        assert_eq!(state(&env), before, "[{row}] nothing written");

        // Not required: twostep steps aside (PAM_IGNORE), the stack's pam_permit decides.
        env.write_config("[policy]\nrequired = false\n");
        let t = drive(row, env.pamdrive(&[], STACKED, "", &["--user-hex", &hex(&user)]), Vec::new());
        assert!(t.succeeded() && t.prompts().is_empty() && t.said().is_empty(), "[{row}] not required: {t:?}");
        one_log_line(&env, row, "ignored", "");
        assert_eq!(state(&env), before, "[{row}] nothing written");
    }
}

/// PAM_USER that is not UTF-8 (any bytes but NUL can arrive from a client).
#[test]
fn a_user_name_that_is_not_utf8_is_refused_with_one_log_line() {
    for (row, service, config) in [
        ("invalid UTF-8, required", SERVICE, ""),
        ("invalid UTF-8, not required", STACKED, "[policy]\nrequired = false\n"),
    ] {
        let env = new_env(config);
        let before = state(&env);
        let t = drive(row, env.pamdrive(&[], service, "", &["--user-hex", "ff616c696365"]), Vec::new());
        assert_eq!(t.result, "PAM_SYSTEM_ERR", "[{row}] fails closed even when not required: {t:?}");
        assert!(t.prompts().is_empty(), "[{row}] {t:?}");
        let logs = logs_at_least(&env, 1);
        assert_eq!(logs.len(), 1, "[{row}] {logs:?}");
        assert!(logs[0].contains("result=denied") && logs[0].contains("not valid UTF-8"), "[{row}] {logs:?}");
        assert_eq!(state(&env), before, "[{row}]");
    }
}

#[test]
fn a_user_name_that_is_not_utf8_is_told_unavailable_and_the_log_says_why() {
    let env = new_env("");
    let t = drive("invalid UTF-8 message", env.pamdrive(&[], SERVICE, "", &["--user-hex", "ff616c696365"]), Vec::new());
    assert_eq!(t.said(), UNAVAILABLE_TEXT, "{t:?}");
    let logs = logs_at_least(&env, 1);
    assert!(logs.iter().any(|l| l.contains("UTF-8")), "{logs:?}");
}

/// Names the store must keep apart from `alice` and from each other.
#[test]
fn names_that_look_like_another_users_file_reach_no_other_users_state() {
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    let bad = wrong_code(SECRET);
    assert_eq!(login(&env, "alice fails once", SERVICE, "alice", &[&bad], &[]).result, "PAM_AUTH_ERR");
    logs_at_least(&env, 1);
    let before = state(&env);
    for row in ["ALICE", "Alice", ".alice.lock", ".alice.tmp", "%61lice", "alice ", " alice", "alice\t"] {
        let t = login(&env, row, SERVICE, row, &[&code(SECRET, 0)], &[]);
        assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
        assert!(t.said().contains("but it is not set up") && t.prompts().is_empty(), "[{row}] {t:?}");
        one_log_line(&env, row, "not_enrolled", "");
        assert_eq!(state(&env), before, "[{row}] alice's files untouched");
    }
    // Not required: these names pass twostep (the password stack must refuse
    // them: pam_unix knows no account `ALICE` with plain files).
    env.write_config("[policy]\nrequired = false\n");
    for row in ["ALICE (not required)", "Alice (not required)"] {
        let user = row.split(' ').next().unwrap();
        let t = login(&env, row, STACKED, user, &[], &[]);
        assert!(t.succeeded() && t.prompts().is_empty(), "[{row}] {t:?}");
        one_log_line(&env, row, "ignored", "");
    }
    assert_eq!(failures(&env, "alice"), 1);
}

/// Odd but legitimate names work end to end, under encoded file names inside the directories.
#[test]
fn odd_but_valid_names_enroll_log_in_and_count_failures_under_their_own_file() {
    for (row, user, file) in [
        ("DOMAIN\\user enrolled", "DOMAIN\\bob", "DOMAIN%5Cbob"),
        ("user@realm enrolled", "bob@ad.example", "bob@ad.example"),
        ("non-ASCII enrolled", "élodie", "%C3%A9lodie"),
        ("apostrophe enrolled", "o'brien", "o%27brien"),
    ] {
        let env = new_env("");
        enroll(&env, user, SECRET);
        assert!(env.secrets.join(file).is_file(), "[{row}] {:?}", snapshot(&env.secrets));
        let t = login(&env, row, SERVICE, user, &[&wrong_code(SECRET)], &[]);
        assert!(t.said().contains("4 attempts remain"), "[{row}] {t:?}");
        one_log_line(&env, row, "wrong_code", "");
        assert!(env.tally.join(file).is_file(), "[{row}] {:?}", snapshot(&env.tally));
        let t = login(&env, row, SERVICE, user, &[&code(SECRET, 0)], &[]);
        assert!(t.succeeded(), "[{row}] {t:?}");
        one_log_line(&env, row, "success", "");
        let listed = std::fs::read_dir(env.path()).unwrap().count();
        assert_eq!(listed, 5, "[{row}] nothing created beside the state directories, config, pam.d and log socket");
    }
}

// ---------------------------------------------------------------- answers

#[derive(Clone, Copy, Debug, PartialEq)]
enum Judged {
    Accepted,
    Wrong,
}

type Answer = fn(&str) -> Vec<u8>;

/// Odd answers at the code prompt of an enrolled TOTP user.
#[test]
fn odd_answers_are_judged_once_counted_once_and_never_logged() {
    let rows: Vec<(&str, Answer, Judged)> = vec![
        ("empty", |_| b"".to_vec(), Judged::Wrong),
        ("spaces only", |_| b"      ".to_vec(), Judged::Wrong),
        ("digits with a space inside", |c| format!("{} {}", &c[..3], &c[3..]).into_bytes(), Judged::Accepted),
        ("digits with a tab inside", |c| format!("{}\t{}", &c[..2], &c[2..]).into_bytes(), Judged::Accepted),
        ("surrounding spaces", |c| format!("  {c}  ").into_bytes(), Judged::Accepted),
        ("a leading zero (7 digits)", |c| format!("0{c}").into_bytes(), Judged::Wrong),
        ("too few digits", |c| c.as_bytes()[..5].to_vec(), Judged::Wrong),
        ("too many digits", |c| format!("{c}0").into_bytes(), Judged::Wrong),
        ("a plus sign", |c| format!("+{c}").into_bytes(), Judged::Wrong),
        ("a minus sign", |c| format!("-{}", &c[1..]).into_bytes(), Judged::Wrong),
        (
            "Arabic-Indic digits",
            |c| {
                c.chars()
                    .map(|d| char::from_u32(0x0660 + d.to_digit(10).unwrap()).unwrap())
                    .collect::<String>()
                    .into_bytes()
            },
            Judged::Wrong,
        ),
        (
            "fullwidth digits",
            |c| {
                c.chars()
                    .map(|d| char::from_u32(0xFF10 + d.to_digit(10).unwrap()).unwrap())
                    .collect::<String>()
                    .into_bytes()
            },
            Judged::Wrong,
        ),
        ("code padded to 64 bytes", |c| format!("{c:<64}").into_bytes(), Judged::Accepted),
        ("code padded to 65 bytes", |c| format!("{c:<65}").into_bytes(), Judged::Wrong),
        ("10 MiB of digits", |c| c.repeat(10 * 1024 * 1024 / 6).into_bytes(), Judged::Wrong),
        ("NUL after the code", |c| [c.as_bytes(), b"\0999"].concat(), Judged::Accepted),
        ("NUL before the code", |c| [b"\0", c.as_bytes()].concat(), Judged::Wrong),
        ("non-UTF-8 bytes", |c| [b"\xff\xfe", c.as_bytes()].concat(), Judged::Wrong),
        ("a truncated UTF-8 sequence", |c| [c.as_bytes(), b"\xc3"].concat(), Judged::Wrong),
        ("terminal escape", |c| [b"\x1b[2J", c.as_bytes()].concat(), Judged::Wrong),
        ("carriage return", |c| format!("{c}\r").into_bytes(), Judged::Wrong),
    ];
    for (row, answer, want) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        let right = code(SECRET, 0);
        let mut input = answer(&right);
        input.push(b'\n');
        let secrets = snapshot(&env.secrets);
        let started = Instant::now();
        let t = drive(row, env.pamdrive(&[], SERVICE, "alice", &["--raw-answers"]), input);
        assert!(started.elapsed() < Duration::from_secs(10), "[{row}] took {:?}", started.elapsed());
        assert_eq!(t.prompts(), [PROMPT], "[{row}] one prompt: {t:?}");
        no_internals(&env, row, &t);
        let line = match want {
            Judged::Accepted => {
                assert!(t.succeeded(), "[{row}] {t:?}");
                assert!(t.said().is_empty(), "[{row}] {t:?}");
                one_log_line(&env, row, "success", "method=totp")
            }
            Judged::Wrong => {
                assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
                assert_eq!(t.said(), "Incorrect verification code. 4 attempts remain before the account is locked.");
                one_log_line(&env, row, "wrong_code", "remaining=4")
            }
        };
        assert!(!line.contains(&right), "[{row}] the code was logged: {line}");
        assert_eq!(failures(&env, "alice"), u64::from(want == Judged::Wrong), "[{row}] counted once");
        assert_eq!(snapshot(&env.secrets), secrets, "[{row}] the record is never written by a login");
    }
}

/// `email` at the prompt of a user with an address on file, in its variants.
/// `email` from a user with no address on file: said so, asked again, not counted.
#[test]
fn the_word_email_without_an_address_is_not_an_attempt() {
    let row = "the word email, no address on file";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    let input = format!("email\n{}\n", code(SECRET, 0)).into_bytes();
    let t = drive(row, env.pamdrive(&[], SERVICE, "alice", &["--raw-answers"]), input);
    assert!(t.succeeded(), "[{row}] {t:?}");
    assert_eq!(t.prompts(), [PROMPT, PROMPT], "[{row}] {t:?}");
    assert!(t.said().contains("Codes by email are not set up for your account."), "[{row}] {t:?}");
    let logs = logs_at_least(&env, 2);
    assert!(logs.iter().any(|l| l.contains(" result=not_set_up ")), "[{row}] {logs:?}");
    assert!(logs.iter().any(|l| l.contains(" result=success ")), "[{row}] {logs:?}");
}

#[test]
fn the_word_email_in_its_variants() {
    // (row, first answer, whether a code goes out)
    let rows = [
        ("email", "email", true),
        ("EMAIL", "EMAIL", true),
        (" Email  (spaces)", " Email ", true),
        ("e-mail", "e-mail", false),
        ("emails", "emails", false),
        ("email with a NUL after", "email\0x", true),
    ];
    for (row, first, sent) in rows {
        let env = new_env("");
        let outbox = env.path().join("outbox.eml");
        env.write_config(&format!("[email]\ncommand = [\"/bin/sh\", \"-c\", \"cat > {}\"]\n", outbox.display()));
        enroll(&env, "alice", SECRET);
        set_email(&env, "alice", "alice@district.example");
        let mut input = first.as_bytes().to_vec();
        input.extend(format!("\n{}\n", code(SECRET, 0)).bytes());
        let t = drive(row, env.pamdrive(&[], SERVICE, "alice", &["--raw-answers"]), input);
        let logs = logs_at_least(&env, if sent { 2 } else { 1 });
        if sent {
            // Two lines by design: the code that went out, then the outcome.
            assert!(t.succeeded(), "[{row}] {t:?}");
            assert!(t.said().contains("A verification code was sent to a***@district.example"), "[{row}] {t:?}");
            assert_eq!(t.prompts().len(), 2, "[{row}] {t:?}");
            assert_eq!(logs.len(), 2, "[{row}] {logs:?}");
            assert!(
                logs[0].contains(" result=email_sent ") && logs[1].contains(" result=success "),
                "[{row}] {logs:?}"
            );
            assert!(outbox.exists(), "[{row}]");
        } else {
            assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
            assert!(t.said().contains("Incorrect verification code. 4 attempts remain"), "[{row}] {t:?}");
            assert_eq!(logs.len(), 1, "[{row}] {logs:?}");
            assert!(logs[0].contains(" result=wrong_code "), "[{row}] {logs:?}");
            assert!(!outbox.exists(), "[{row}]");
        }
    }
}

/// Asking for a code by email more often than a login allows.
#[test]
fn email_asked_for_four_times_in_one_login() {
    let row = "email x4";
    let env = new_env("");
    let outbox = env.path().join("outbox.eml");
    env.write_config(&format!("[email]\ncommand = [\"/bin/sh\", \"-c\", \"cat >> {}\"]\n", outbox.display()));
    enroll(&env, "alice", SECRET);
    set_email(&env, "alice", "alice@district.example");
    let t = login(&env, row, SERVICE, "alice", &["email", "email", "email", "email"], &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert_eq!(t.prompts().len(), 4, "{t:?}");
    assert!(t.said().contains("A code was already sent"), "{t:?}");
    let logs = logs_at_least(&env, 4);
    let results: Vec<&str> =
        logs.iter().map(|l| l.split(" result=").nth(1).unwrap().split(' ').next().unwrap()).collect();
    // One line per event: the code sent, two throttled asks, then the fourth
    // `email` is judged as a (wrong) code.
    assert_eq!(results, ["email_sent", "email_throttled", "email_throttled", "wrong_code"], "{logs:?}");
    assert_eq!(std::fs::read_to_string(&outbox).unwrap().matches("To:").count(), 1, "one message sent");
    assert_eq!(failures(&env, "alice"), 1);
}

// ---------------------------------------------------------------- conversation

/// The application's conversation function misbehaves.
#[test]
fn a_failing_conversation_aborts_the_login_and_counts_nothing() {
    let rows: [(&str, &[&str], &[&str]); 5] = [
        ("conversation returns an error", &["--conv-fail-at", "1"], &["123456"]),
        ("conversation returns no reply array", &["--null-reply-at", "1"], &["123456"]),
        ("conversation returns a NULL response", &["--null-resp-at", "1"], &["123456"]),
        ("end of input (Ctrl-D)", &[], &[]),
        ("conversation fails at the second prompt after email", &["--conv-fail-at", "3"], &["email"]),
    ];
    for (row, extra, answers) in rows {
        let env = new_env("[email]\ncommand = [\"/bin/true\"]\n");
        enroll(&env, "alice", SECRET);
        set_email(&env, "alice", "alice@district.example");
        let before = snapshot(&env.tally);
        let t = login(&env, row, SERVICE, "alice", answers, extra);
        assert_eq!(t.result, "PAM_CONV_ERR", "[{row}] {t:?}");
        if extra.contains(&"3") {
            // The code went out first: two lines (email_sent, aborted); the tally holds the pending code.
            let logs = logs_at_least(&env, 2);
            assert_eq!(logs.len(), 2, "[{row}] {logs:?}");
            assert!(logs[1].contains(" result=aborted method=email"), "[{row}] {logs:?}");
        } else {
            one_log_line(&env, row, "aborted", "method=totp");
            assert_eq!(snapshot(&env.tally), before, "[{row}] nothing counted or written");
        }
        assert_eq!(failures(&env, "alice"), 0, "[{row}]");
    }
}

#[test]
fn a_conversation_that_fails_after_the_answer_still_counts_it() {
    let row = "conversation fails at the wrong-code message";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    let t = login(&env, row, SERVICE, "alice", &[&wrong_code(SECRET)], &["--conv-fail-at", "2"]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    one_log_line(&env, row, "wrong_code", "remaining=4");
    assert_eq!(failures(&env, "alice"), 1);
}

#[test]
fn a_failing_conversation_cannot_turn_a_refusal_into_something_else() {
    // (row, config, extra, want result, want log result)
    let rows = [
        ("not enrolled, error message fails", "", "--conv-fail-at", "PAM_AUTH_ERR", "not_enrolled"),
        (
            "unavailable, error message gets no reply array",
            "MISSING",
            "--null-reply-at",
            "PAM_SYSTEM_ERR",
            "unavailable",
        ),
        (
            "enrollment at login, QR message fails",
            "[policy]\nenroll_at_login = true\n",
            "--conv-fail-at",
            "PAM_CONV_ERR",
            "aborted",
        ),
        (
            "enrollment at login, NULL response",
            "[policy]\nenroll_at_login = true\n",
            "--null-resp-at",
            "PAM_CONV_ERR",
            "aborted",
        ),
    ];
    for (row, config, option, want, logged) in rows {
        let env = new_env(config);
        if config == "MISSING" {
            std::fs::remove_file(&env.config).unwrap();
        }
        let n = if option == "--null-resp-at" { "3" } else { "1" };
        let before = state(&env);
        let t = login(&env, row, SERVICE, "carol", &["123456"], &[option, n]);
        assert_eq!(t.result, want, "[{row}] {t:?}");
        one_log_line(&env, row, logged, "");
        assert_eq!(state(&env), before, "[{row}] nothing saved");
    }
}

// ---------------------------------------------------------------- config file

/// How a row breaks a file: writes it (or something in its place) at `path`.
type Break = fn(&Path);

fn truncate_half(p: &Path) {
    let bytes = std::fs::read(p).unwrap();
    std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
}
fn binary(p: &Path) {
    std::fs::write(p, (0..=255u8).cycle().take(3000).collect::<Vec<_>>()).unwrap();
}
fn not_utf8(p: &Path) {
    let mut bytes = std::fs::read(p).unwrap();
    bytes.extend(b"# \xff\xfe\n");
    std::fs::write(p, bytes).unwrap();
}
fn owner_nobody(p: &Path) {
    std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
}
fn symlink_to_copy(p: &Path) {
    let real = p.with_extension("real");
    std::fs::rename(p, &real).unwrap();
    std::os::unix::fs::symlink(&real, p).unwrap();
}
fn directory(p: &Path) {
    std::fs::remove_file(p).unwrap();
    std::fs::create_dir(p).unwrap();
    set_mode(p, 0o700);
}
fn fifo(p: &Path) {
    std::fs::remove_file(p).unwrap();
    mkfifo(p);
}
fn empty(p: &Path) {
    std::fs::write(p, b"").unwrap();
}
fn append(p: &Path, text: &str) {
    let mut bytes = std::fs::read(p).unwrap();
    bytes.extend(text.as_bytes());
    std::fs::write(p, bytes).unwrap();
}

/// Broken or insecure config files: refused before any prompt, nothing written.
#[test]
fn a_broken_or_insecure_config_refuses_the_login_before_the_prompt() {
    let rows: Vec<(&str, Break, &str)> = vec![
        ("missing", |p| std::fs::remove_file(p).unwrap(), "does not exist"),
        ("truncated", truncate_half, "twostep.toml"),
        ("huge (over 1 MiB)", |p| append(p, &format!("# {}\n", "x".repeat(1024 * 1024))), "larger than 1048576 bytes"),
        ("binary", binary, "not valid UTF-8"),
        ("not UTF-8 in a comment", not_utf8, "not valid UTF-8"),
        ("wrong type", |p| append(p, "[totp]\ndigits = \"six\"\n"), "digits"),
        ("value out of range", |p| append(p, "[totp]\ndigits = 5\n"), "digits"),
        ("unknown key", |p| append(p, "[lockout]\ndenny = 3\n"), "denny"),
        ("unknown table", |p| append(p, "[lockuot]\ndeny = 3\n"), "lockuot"),
        ("a version key", |p| append(p, "version = 2\n"), "version"),
        ("duplicate key", |p| append(p, "issuer = \"Again\"\n"), "issuer"),
        ("owner nobody", owner_nobody, "owned by uid 65534"),
        ("group-writable (0664)", |p| set_mode(p, 0o664), "writable by group or others"),
        ("world-writable (0646)", |p| set_mode(p, 0o646), "writable by group or others"),
        ("read-write for all (0666)", |p| set_mode(p, 0o666), "writable by group or others"),
        ("a symlink", symlink_to_copy, "symbolic link"),
        ("a directory", directory, "not a regular file"),
        ("a FIFO", fifo, "not a regular file"),
    ];
    for (row, breaks, reason) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        env.log_lines();
        breaks(&env.config);
        let before = state(&env);
        let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
        assert!(t.prompts().is_empty(), "[{row}] {t:?}");
        assert_unavailable(&env, row, &t, reason);
        assert_eq!(state(&env), before, "[{row}] nothing written");
    }
}

/// Module arguments that point nowhere safe.
#[test]
fn bad_module_arguments_refuse_the_login() {
    for (row, args, reason) in [
        ("config= a relative path", "config=twostep.toml", "not an absolute path"),
        ("an unknown module argument", "confg=/etc/security/twostep.toml", "unknown module argument"),
        ("config_cache= a relative path", "config_cache=run/config.cache", "must be an absolute file path, or off"),
    ] {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        env.log_lines();
        // The later config= wins over the harness's; an unknown argument is refused outright.
        env.write_service(SERVICE, args);
        let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
        assert!(t.prompts().is_empty(), "[{row}] {t:?}");
        assert_unavailable(&env, row, &t, reason);
    }
}

/// The compiled copy of the config (`config_cache=`) broken or planted: never
/// read unless it is root's private file of this very config; the login
/// parses the file instead (its result is the file's), says so in the log
/// when the copy fails the ownership rules, and replaces a damaged copy.
#[test]
fn an_untrusted_or_damaged_compiled_config_is_not_read() {
    let env = new_env("[policy]\nrequired = false");
    common::cache::stacked_with_copy(&env);
    common::cache::until_copied(&env, "bob");
    let copy = common::cache::copy_path(&env);
    let dir = copy.parent().unwrap().to_path_buf();
    let good = std::fs::read(&copy).unwrap();
    let config = std::fs::read(&env.config).unwrap();
    let rows: Vec<(&str, Break, &str)> = vec![
        ("copy mode 0644", |p| set_mode(p, 0o644), "Unusable its mode is 0644"),
        (
            "copy owned by nobody",
            |p| std::os::unix::fs::chown(p, Some(65534), None).unwrap(),
            "Unusable owned by uid 65534",
        ),
        (
            "copy a symlink to a good copy",
            |p| {
                let real = p.with_extension("real");
                std::fs::rename(p, &real).unwrap();
                std::os::unix::fs::symlink(&real, p).unwrap();
            },
            "Unusable symbolic link",
        ),
        (
            "copy a FIFO",
            |p| {
                std::fs::remove_file(p).unwrap();
                nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
            },
            "Unusable not a regular file",
        ),
        (
            "copy a directory",
            |p| {
                std::fs::remove_file(p).unwrap();
                std::fs::create_dir(p).unwrap();
            },
            "Unusable not a regular file",
        ),
        ("copy larger than 64 KiB", |p| std::fs::write(p, vec![0u8; 70_000]).unwrap(), "Unusable larger than"),
        (
            "copy truncated",
            |p| {
                let bytes = std::fs::read(p).unwrap();
                std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
            },
            "Written",
        ),
        ("copy random bytes", |p| std::fs::write(p, b"\x7fELF\x02\x01garbage").unwrap(), "Written"),
        ("copy empty", |p| std::fs::write(p, b"").unwrap(), "Written"),
        ("copy directory mode 0755", |p| set_mode(p.parent().unwrap(), 0o755), "Unusable its mode is 0755"),
        (
            "copy directory owned by nobody",
            |p| std::os::unix::fs::chown(p.parent().unwrap(), Some(65534), None).unwrap(),
            "Unusable owned by uid 65534",
        ),
    ];
    for (row, break_it, want) in rows {
        // The good copy back, as the login made it.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o700);
        std::fs::write(&copy, &good).unwrap();
        set_mode(&copy, 0o600);
        env.login_service(STACKED, "bob", &[], &[]);
        assert_eq!(common::cache::uses(&env.log_lines()), ["Hit"], "[{row}] the good copy");
        break_it(&copy);
        let t = login(&env, row, STACKED, "bob", &[], &[]);
        assert!(t.succeeded(), "[{row}] the file's policy (not required): {t:?}");
        let logs = env.log_lines();
        let used = common::cache::uses(&logs);
        let (want, reason) = want.split_once(' ').unwrap_or((want, ""));
        assert!(used.len() == 1 && used[0].starts_with(want) && used[0].contains(reason), "[{row}] {used:?}");
        let warned = logs.iter().any(|l| l.contains("event=config_cache_unused") && l.contains(reason));
        assert_eq!(warned, want == "Unusable", "[{row}] {logs:?}");
        assert_eq!(std::fs::read(&env.config).unwrap(), config, "[{row}] the config is untouched");
    }
}

/// Config files that are fine: readable by all (not writable), and a hard link.
#[test]
fn a_world_readable_or_hard_linked_config_is_accepted() {
    let rows: Vec<(&str, Break)> = vec![
        ("mode 0644", |p| set_mode(p, 0o644)),
        ("mode 0400", |p| set_mode(p, 0o400)),
        ("a hard link", |p| {
            let other = p.with_extension("orig");
            std::fs::hard_link(p, &other).unwrap();
        }),
    ];
    for (row, change) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        env.log_lines();
        change(&env.config);
        let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
        assert!(t.succeeded(), "[{row}] {t:?}");
        one_log_line(&env, row, "success", "");
    }
}

// ---------------------------------------------------------------- store file

const RECORD: &str = "version = 1\nsecret = \"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\"\nenabled = true\n";

/// Broken or insecure record files (`secrets/alice`): refused before the prompt, left as they are.
#[test]
fn a_broken_or_insecure_record_refuses_the_login_and_is_left_alone() {
    let rows: Vec<(&str, Break, &str)> = vec![
        ("truncated after the secret", |p| std::fs::write(p, &RECORD[..RECORD.len() - 4]).unwrap(), "is corrupt"),
        ("empty", empty, "no version"),
        ("huge (over 64 KiB)", |p| append(p, &format!("# {}\n", "x".repeat(65 * 1024))), "larger than 65536 bytes"),
        ("binary", binary, "not UTF-8"),
        ("wrong type", |p| std::fs::write(p, RECORD.replace("true", "\"yes\"")).unwrap(), "is corrupt"),
        (
            "secret of the wrong type",
            |p| std::fs::write(p, RECORD.replace("\"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\"", "[1, 2]")).unwrap(),
            "is corrupt",
        ),
        ("unknown key", |p| append(p, "admin = true\n"), "admin"),
        (
            "newer version",
            |p| std::fs::write(p, RECORD.replace("version = 1", "version = 99")).unwrap(),
            "format version 99",
        ),
        ("version 0", |p| std::fs::write(p, RECORD.replace("version = 1", "version = 0")).unwrap(), "bad version 0"),
        (
            "version a string",
            |p| std::fs::write(p, RECORD.replace("version = 1", "version = \"1\"")).unwrap(),
            "the version is not a whole number",
        ),
        ("secret not base32", |p| std::fs::write(p, RECORD.replace("JBSWY3DP", "!!!!1111")).unwrap(), "secret"),
        ("owner nobody", owner_nobody, "owned by uid 65534"),
        ("group-readable (0640)", |p| set_mode(p, 0o640), "group/other must have no access"),
        ("world-readable (0604)", |p| set_mode(p, 0o604), "group/other must have no access"),
        ("a symlink", symlink_to_copy, "symbolic link"),
        ("a directory", directory, "not a regular file"),
        ("a FIFO", fifo, "not a regular file"),
    ];
    for (row, breaks, reason) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        env.log_lines();
        breaks(&env.secrets.join("alice"));
        let before = state(&env);
        let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
        assert!(t.prompts().is_empty(), "[{row}] {t:?}");
        let line = assert_unavailable(&env, row, &t, reason);
        assert!(!line.contains("JBSWY3DP") && !line.contains("!!!!1111"), "[{row}] a secret in the log: {line}");
        assert_eq!(state(&env), before, "[{row}] nothing written, nothing reset");
    }
}

/// A record cut off inside its secret: the TOML parser's error quotes the
/// line, and that error went into the log line whole.
#[test]
fn a_record_truncated_inside_the_secret_never_logs_the_secret() {
    let row = "truncated inside the secret";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    std::fs::write(env.secrets.join("alice"), &RECORD[..RECORD.len() / 2]).unwrap();
    let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
    let line = assert_unavailable(&env, row, &t, "is corrupt");
    assert!(!line.contains("JBSWY3DP"), "a secret in the log: {line}");
}

/// A hard link passes the owner/mode checks: alice's record is bob's file.
/// Only root can make one (the directory is root's 0700), so it is an
/// administrator's act, not an attack; the login uses what the file says.
#[test]
fn a_record_hard_linked_to_another_users_record_is_used_as_it_is() {
    let row = "record a hard link to bob's";
    let env = new_env("");
    let bobs = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    enroll(&env, "bob", bobs);
    std::fs::hard_link(env.secrets.join("bob"), env.secrets.join("alice")).unwrap();
    let t = login(&env, row, SERVICE, "alice", &[&code(bobs, 0)], &[]);
    assert!(t.succeeded(), "{t:?}");
    one_log_line(&env, row, "success", "user=alice");
    assert_eq!(std::fs::metadata(env.secrets.join("bob")).unwrap().nlink(), 2, "the login never rewrites a record");
}

// ---------------------------------------------------------------- tally file

const TALLY: &str = "version = 1\nfailures = []\n";

/// Broken or insecure tally files (`tally/alice`): refused before the prompt, left as they are.
#[test]
fn a_broken_or_insecure_tally_refuses_the_login_and_is_left_alone() {
    let rows: Vec<(&str, Break, &str)> = vec![
        ("truncated", |p| std::fs::write(p, "version = 1\nfailures = [17000").unwrap(), "is corrupt"),
        ("empty", empty, "no version"),
        ("huge (over 64 KiB)", |p| append(p, &format!("# {}\n", "x".repeat(65 * 1024))), "larger than 65536 bytes"),
        ("binary", binary, "not UTF-8"),
        ("wrong type", |p| std::fs::write(p, "version = 1\nfailures = \"none\"\n").unwrap(), "is corrupt"),
        ("negative number", |p| std::fs::write(p, "version = 1\nfailures = [-1]\n").unwrap(), "is corrupt"),
        ("unknown key", |p| append(p, "unlocked = true\n"), "unlocked"),
        ("newer version", |p| std::fs::write(p, "version = 99\nfailures = []\n").unwrap(), "format version 99"),
        ("owner nobody", owner_nobody, "owned by uid 65534"),
        ("group-readable (0640)", |p| set_mode(p, 0o640), "group/other must have no access"),
        ("a symlink", symlink_to_copy, "symbolic link"),
        ("a directory", directory, "not a regular file"),
        ("a FIFO", fifo, "not a regular file"),
    ];
    for (row, breaks, reason) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        let tally = env.tally.join("alice");
        std::fs::write(&tally, TALLY).unwrap();
        set_mode(&tally, 0o600);
        breaks(&tally);
        env.log_lines();
        let before = state(&env);
        let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
        assert!(t.prompts().is_empty(), "[{row}] {t:?}");
        assert_unavailable(&env, row, &t, reason);
        assert_eq!(state(&env), before, "[{row}] nothing written, nothing reset");
    }
}

/// The lock and temp files next to the tally are used only after the answer:
/// the prompt comes, then the login is refused unjudged and nothing is counted.
#[test]
fn a_broken_lock_or_temp_file_refuses_the_answer_unjudged() {
    let rows: Vec<(&str, &str, Break, &str)> = vec![
        (
            "lock file a symlink",
            ".alice.lock",
            |p| std::os::unix::fs::symlink(p.with_file_name("target"), p).unwrap(),
            "symbolic link",
        ),
        ("lock file a directory", ".alice.lock", |p| std::fs::create_dir(p).unwrap(), "alice.lock"),
        (
            "lock file owned by nobody",
            ".alice.lock",
            |p| {
                std::fs::write(p, b"").unwrap();
                set_mode(p, 0o600);
                owner_nobody(p);
            },
            "owned by uid 65534",
        ),
        ("lock file a FIFO", ".alice.lock", mkfifo, "not a regular file"),
        (
            "temp file a non-empty directory",
            ".alice.tmp",
            |p| {
                std::fs::create_dir(p).unwrap();
                std::fs::write(p.join("x"), b"").unwrap();
            },
            "alice.tmp",
        ),
    ];
    for (row, name, breaks, reason) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        let _ = std::fs::remove_file(env.tally.join(name));
        breaks(&env.tally.join(name));
        env.log_lines();
        let target = env.tally.join("target");
        std::fs::write(&target, b"keep").unwrap();
        set_mode(&target, 0o600);
        let before = state(&env);
        let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
        assert_eq!(t.prompts(), [PROMPT], "[{row}] {t:?}");
        assert_unavailable(&env, row, &t, reason);
        assert_eq!(state(&env), before, "[{row}] not judged, not counted");
        assert!(std::fs::read(&target).unwrap() == b"keep", "[{row}] a symlink's target is never written");
    }
}

/// A temp file left as a symlink is removed, never followed.
#[test]
fn a_temp_file_planted_as_a_symlink_is_replaced_not_followed() {
    let row = "temp file a symlink";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    let target = env.path().join("target");
    std::fs::write(&target, b"keep").unwrap();
    std::os::unix::fs::symlink(&target, env.tally.join(".alice.tmp")).unwrap();
    let t = login(&env, row, SERVICE, "alice", &[&wrong_code(SECRET)], &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    one_log_line(&env, row, "wrong_code", "remaining=4");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert!(!env.tally.join(".alice.tmp").exists());
    assert_eq!(failures(&env, "alice"), 1);
}

/// A hard link to bob's tally: alice's login reads bob's failures, and its
/// write (a rename) breaks the link, so bob's file stays as it was.
#[test]
fn a_tally_hard_linked_to_another_users_tally_never_changes_that_users_file() {
    let row = "tally a hard link to bob's";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    enroll(&env, "bob", SECRET);
    let bad = wrong_code(SECRET);
    for _ in 0..2 {
        assert_eq!(login(&env, "bob fails", SERVICE, "bob", &[&bad], &[]).result, "PAM_AUTH_ERR");
    }
    logs_at_least(&env, 2);
    let bobs = std::fs::read(env.tally.join("bob")).unwrap();
    std::fs::hard_link(env.tally.join("bob"), env.tally.join("alice")).unwrap();
    let t = login(&env, row, SERVICE, "alice", &[&bad], &[]);
    assert!(t.said().contains("2 attempts remain"), "bob's two failures were read as alice's: {t:?}");
    one_log_line(&env, row, "wrong_code", "remaining=2");
    assert_eq!(std::fs::read(env.tally.join("bob")).unwrap(), bobs, "bob's file unchanged");
    assert_eq!(std::fs::metadata(env.tally.join("bob")).unwrap().nlink(), 1, "the link is broken");
}

// ---------------------------------------------------------------- state directories

/// What a row does to a state directory at `path`.
type BreakDir = fn(&Path);

fn dir_symlink(p: &Path) {
    let real = p.with_extension("real");
    std::fs::rename(p, &real).unwrap();
    std::os::unix::fs::symlink(&real, p).unwrap();
}
fn dir_a_file(p: &Path) {
    std::fs::remove_dir_all(p).unwrap();
    std::fs::write(p, b"").unwrap();
    set_mode(p, 0o600);
}

#[test]
fn broken_state_directories_refuse_the_login() {
    let rows: Vec<(&str, bool, BreakDir, &str)> = vec![
        ("secrets dir missing", true, |p| std::fs::remove_dir_all(p).unwrap(), "does not exist"),
        ("secrets dir a symlink", true, dir_symlink, "symbolic link"),
        ("secrets dir mode 0755", true, |p| set_mode(p, 0o755), "group/other must have no access"),
        ("secrets dir owner nobody", true, owner_nobody, "owned by uid 65534"),
        ("secrets dir a file", true, dir_a_file, "not a directory"),
        ("tally dir a symlink", false, dir_symlink, "symbolic link"),
        ("tally dir mode 0711", false, |p| set_mode(p, 0o711), "group/other must have no access"),
        ("tally dir owner nobody", false, owner_nobody, "owned by uid 65534"),
        ("tally dir a file", false, dir_a_file, "not a directory"),
    ];
    for (row, secrets, breaks, reason) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        env.log_lines();
        breaks(if secrets { &env.secrets } else { &env.tally });
        let before = state(&env);
        let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
        assert!(t.prompts().is_empty(), "[{row}] {t:?}");
        assert_unavailable(&env, row, &t, reason);
        assert_eq!(state(&env), before, "[{row}] nothing written");
    }
}

/// A missing tally directory is created (root, 0700): it holds only counters
/// that start empty, unlike the secrets directory.
#[test]
fn a_missing_tally_directory_is_created_private() {
    let row = "tally dir missing";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    std::fs::remove_dir_all(&env.tally).unwrap();
    let t = login(&env, row, SERVICE, "alice", &[&wrong_code(SECRET)], &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    one_log_line(&env, row, "wrong_code", "remaining=4");
    let meta = std::fs::symlink_metadata(&env.tally).unwrap();
    assert!(meta.is_dir() && meta.uid() == 0 && meta.mode() & 0o777 == 0o700, "{meta:?}");
    assert_eq!(failures(&env, "alice"), 1);
}

// ---------------------------------------------------------------- a full file system

/// A tmpfs mounted for one test, unmounted (lazily if busy) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let st =
            Command::new("mount").args(["-t", "tmpfs", "-o", options, "twostep-badinput"]).arg(at).status().unwrap();
        assert!(st.success(), "mount tmpfs at {}", at.display());
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Fills the file system holding `dir` with one file until a write fails.
fn fill(dir: &Path) {
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn a_full_tally_file_system_refuses_every_answer_and_loses_nothing() {
    let row = "full tmpfs as tally dir";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    let _fs = Tmpfs::mount(&env.tally, "size=64k,mode=0700,uid=0,gid=0");
    let bad = wrong_code(SECRET);
    assert_eq!(login(&env, "a failure before", SERVICE, "alice", &[&bad], &[]).result, "PAM_AUTH_ERR");
    fill(&env.tally);
    logs_at_least(&env, 1);
    let before = snapshot(&env.tally);
    for (what, answer) in [("wrong code", bad.clone()), ("right code", code(SECRET, 0))] {
        let row = format!("{row}, {what}");
        let t = login(&env, &row, SERVICE, "alice", &[&answer], &[]);
        assert_eq!(t.prompts(), [PROMPT], "[{row}] {t:?}");
        assert_unavailable(&env, &row, &t, "No space left on device");
        assert_eq!(snapshot(&env.tally), before, "[{row}] the failure before is kept, no temp file left");
    }
    std::fs::remove_file(env.tally.join("filler")).unwrap();
    assert_eq!(failures(&env, "alice"), 1, "nothing lost, nothing unjudged counted");
    assert!(login(&env, "space again", SERVICE, "alice", &[&code(SECRET, 0)], &[]).succeeded());
}

// ---------------------------------------------------------------- clock jumps

/// pamdrive with its clock shifted by `offset` (libfaketime, e.g. `+1h`, `@1970-01-01 00:00:10`).
fn faked(env: &Env, user: &str, offset: &str) -> Command {
    let file = env.path().join(format!("faketime-{}", offset.len()));
    std::fs::write(&file, format!("{offset}\n")).unwrap();
    let mut cmd = env.pamdrive(&[], SERVICE, user, &[]);
    cmd.env("LD_PRELOAD", FAKETIME)
        .env("FAKETIME_TIMESTAMP_FILE", &file)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    cmd
}

#[test]
fn clock_jumps_never_let_a_wrong_code_in_nor_lose_a_failure() {
    // (row, offset, answer steps from now, accepted)
    let rows: [(&str, &str, i64, bool); 5] = [
        ("clock +1 h, today's code", "+1h", 0, false),
        ("clock +1 h, that hour's code", "+1h", 120, true),
        ("clock -1 h, today's code", "-1h", 0, false),
        ("clock at 1970-01-01 00:00:10", "@1970-01-01 00:00:10", 0, false),
        ("clock in 2200", "@2200-01-01 00:00:00", 0, false),
    ];
    for (row, offset, delta, accepted) in rows {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        env.log_lines();
        let t = drive(row, faked(&env, "alice", offset), lines(&[&code(SECRET, delta)]));
        assert_eq!(t.prompts(), [PROMPT], "[{row}] {t:?}");
        if accepted {
            assert!(t.succeeded(), "[{row}] {t:?}");
            one_log_line(&env, row, "success", "");
        } else {
            assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
            one_log_line(&env, row, "wrong_code", "");
            assert_eq!(failures_on_disk(&env, "alice"), 1, "[{row}] counted, whatever the clock");
        }
    }
}

/// A clock jump forwards leaves the last used step in the future: every
/// code of today is then refused as already used until `twostep unlock`
/// (tests/threats.rs covers the unlock).
#[test]
fn after_a_forward_jump_todays_codes_are_refused_as_replays() {
    let row = "clock +1 h, then back";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    assert!(drive(row, faked(&env, "alice", "+1h"), lines(&[&code(SECRET, 120)])).succeeded());
    logs_at_least(&env, 1);
    let t = login(&env, row, SERVICE, "alice", &[&code(SECRET, 0)], &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(t.said().contains("already used"), "{t:?}");
    one_log_line(&env, row, "replay", "");
}

/// A locked user and a clock far away: the lock's end is still formatted, the login still refused.
#[test]
fn a_lock_seen_through_a_jumped_clock() {
    for (row, offset, locked) in [
        ("locked, clock at 1970", "@1970-01-01 00:00:10", true),
        ("locked, clock 29 minutes on", "+29m", true),
        ("locked, clock in 2200", "@2200-01-01 00:00:00", false),
    ] {
        let env = new_env("");
        enroll(&env, "alice", SECRET);
        let bad = wrong_code(SECRET);
        for _ in 0..5 {
            login(&env, "lock", SERVICE, "alice", &[&bad], &[]);
        }
        logs_at_least(&env, 5);
        let t = drive(row, faked(&env, "alice", offset), lines(&[&bad]));
        assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
        if locked {
            assert!(t.prompts().is_empty() && t.said().starts_with("Too many incorrect codes"), "[{row}] {t:?}");
            one_log_line(&env, row, "locked", "");
        } else {
            // The lock has long expired by then: asked, and the wrong code is a new failure.
            assert_eq!(t.prompts(), [PROMPT], "[{row}] {t:?}");
            one_log_line(&env, row, "wrong_code", "");
        }
    }
}

// ---------------------------------------------------------------- caller's limits and environment

/// Open-files limits from very low up: a wrong code is never accepted and every judged one is on disk.
#[test]
fn a_low_open_files_limit_never_lets_a_code_through_uncounted() {
    // A high deny: every wrong code is one plain failure, never a lock.
    let env = new_env("[lockout]\ndeny = 100\n");
    enroll(&env, "alice", SECRET);
    let bad = wrong_code(SECRET);
    let mut judged = 0;
    let mut reached = 0;
    for n in 4..=16 {
        let row = format!("RLIMIT_NOFILE={n}, wrong code");
        let limit = format!("--nofile={n}:{n}");
        let (status, stdout, stderr) =
            run_bounded(&row, env.pamdrive(&["prlimit", &limit], SERVICE, "alice", &[]), lines(&[&bad]));
        // Exit 1: pam_start itself failed (libpam could not open the service file), twostep never ran.
        assert!(status.code().is_some_and(|c| c == 0 || c == 1), "[{row}] died: {status:?} {stdout} {stderr}");
        if status.code() == Some(1) {
            assert!(stdout.contains("\"step\":\"start\""), "[{row}] {stdout}");
            continue;
        }
        let t = Transcript::parse(&stdout);
        assert_ne!(t.result, "PAM_SUCCESS", "[{row}] {t:?}");
        reached += 1;
        if t.result == "PAM_AUTH_ERR" {
            judged += 1;
        }
        // The log socket may be unopenable under the limit: lines are best effort.
        let logs = env.log_lines();
        assert!(!logs.iter().any(|l| l.contains(" result=success ")), "[{row}] {logs:?}");
    }
    assert!(reached > 0 && judged > 0, "some limits reach the module, some let it judge");
    // A login whose second write failed keeps its failure (refused as unavailable): on disk >= judged.
    let on_disk = failures_on_disk(&env, "alice");
    assert!(on_disk >= judged && on_disk <= reached, "judged {judged}, reached {reached}, on disk {on_disk}");
    let row = "RLIMIT_NOFILE=5, right code";
    let t = drive(row, env.pamdrive(&["prlimit", "--nofile=5:5"], SERVICE, "alice", &[]), lines(&[&code(SECRET, 0)]));
    assert!(t.result == "PAM_SYSTEM_ERR" || t.result == "PAM_SUCCESS" || t.result == "PAM_AUTH_ERR", "[{row}] {t:?}");
}

#[test]
fn a_zero_file_size_limit_refuses_the_answer_unjudged() {
    let row = "RLIMIT_FSIZE=0";
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    env.log_lines();
    let before = state(&env);
    let t = drive(row, env.pamdrive(&["prlimit", "--fsize=0:0"], SERVICE, "alice", &[]), lines(&[&code(SECRET, 0)]));
    assert_eq!(t.prompts(), [PROMPT], "{t:?}");
    assert_unavailable(&env, row, &t, "File too large");
    assert_eq!(state(&env), before, "nothing written, no temp file left");
}

/// A memory limit the login fits in changes nothing. (Lower limits abort the
/// process on a failed allocation: a death, covered by docs/security.md.)
#[test]
fn a_moderate_memory_limit_changes_nothing() {
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    let row = "RLIMIT_AS=512 MiB";
    let limit = format!("--as={}", 512 << 20);
    let t = drive(row, env.pamdrive(&["prlimit", &limit], SERVICE, "alice", &[]), lines(&[&code(SECRET, 0)]));
    assert!(t.succeeded(), "{t:?}");
    one_log_line(&env, row, "success", "");
}

#[test]
fn the_callers_environment_changes_nothing() {
    let env = new_env("");
    let outbox = env.path().join("outbox.eml");
    env.write_config(&format!("[email]\ncommand = [\"/bin/sh\", \"-c\", \"cat > {}\"]\n", outbox.display()));
    // A fake `cat` early on the caller's PATH must not be the one the mail command's shell finds.
    let fake = env.path().join("fakebin");
    std::fs::create_dir(&fake).unwrap();
    let marker = env.path().join("fake-sh-ran");
    std::fs::write(fake.join("cat"), format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    set_mode(&fake.join("cat"), 0o755);
    let home = env.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join(".google_authenticator"), format!("{}\n\" TOTP_AUTH\n", "GEZDGNBVGY3TQOJQ")).unwrap();
    let path = format!("{}:/usr/bin:/bin", fake.display());
    let rows: Vec<(&str, &str, String)> = vec![
        ("TZ=/dev/zero", "TZ", "/dev/zero".into()),
        ("TZ=:/etc/shadow", "TZ", ":/etc/shadow".into()),
        ("TZ a FIFO", "TZ", env.path().join("tz-fifo").display().to_string()),
        ("TZ garbage", "TZ", "\x1b[2J<+99>-99".into()),
        ("LANG=ar_EG.UTF-8", "LANG", "ar_EG.UTF-8".into()),
        ("LC_ALL=tr_TR.UTF-8", "LC_ALL", "tr_TR.UTF-8".into()),
        ("PATH with a fake cat first", "PATH", path),
        ("PATH empty", "PATH", String::new()),
        ("HOME elsewhere, with a .google_authenticator", "HOME", home.display().to_string()),
        ("USER=root", "USER", "root".into()),
    ];
    mkfifo(&env.path().join("tz-fifo"));
    for (i, (row, var, value)) in rows.into_iter().enumerate() {
        let user = format!("user{i}");
        enroll(&env, &user, SECRET);
        set_email(&env, &user, "u@district.example");
        let mut cmd = env.pamdrive(&[], SERVICE, &user, &[]);
        cmd.env(var, &value);
        // "email" first: the mail command runs; then a wrong code: the text the user sees.
        let t = drive(row, cmd, lines(&["email", &wrong_code(SECRET)]));
        assert_eq!(t.result, "PAM_AUTH_ERR", "[{row}] {t:?}");
        assert!(t.said().contains("A verification code was sent to u***@district.example"), "[{row}] {t:?}");
        assert!(
            t.said().contains("Incorrect verification code. 4 attempts remain"),
            "[{row}] English, unchanged: {t:?}"
        );
        let logs = logs_at_least(&env, 2);
        assert_eq!(logs.len(), 2, "[{row}] email_sent and wrong_code: {logs:?}");
        assert!(
            logs[1].contains(&format!("user={user} ")) && logs[1].contains(" result=wrong_code "),
            "[{row}] {logs:?}"
        );
        assert!(outbox.exists() && !marker.exists(), "[{row}] the real cat ran");
        std::fs::remove_file(&outbox).unwrap();
    }
}

/// A locked user's "Try again after HH:MM" with a hostile TZ: shown, no hang.
#[test]
fn the_lock_message_under_a_hostile_tz() {
    let env = new_env("");
    enroll(&env, "alice", SECRET);
    let bad = wrong_code(SECRET);
    for _ in 0..5 {
        login(&env, "lock", SERVICE, "alice", &[&bad], &[]);
    }
    let fifo_path = env.path().join("tz-fifo");
    mkfifo(&fifo_path);
    logs_at_least(&env, 5);
    for (row, tz) in
        [("locked, TZ=/dev/zero", "/dev/zero".to_string()), ("locked, TZ a FIFO", fifo_path.display().to_string())]
    {
        env.log_lines();
        let mut cmd = env.pamdrive(&[], SERVICE, "alice", &[]);
        cmd.env("TZ", &tz);
        let t = drive(row, cmd, Vec::new());
        assert!(t.said().starts_with("Too many incorrect codes. Try again after "), "[{row}] {t:?}");
        one_log_line(&env, row, "locked", "");
    }
}

// ---------------------------------------------------------------- the table itself

/// Every test and row label docs/bad-input.md names exists here, so the table
/// cannot drift from the tests.
#[test]
fn every_row_of_the_bad_input_table_names_a_test_here() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/bad-input.md")).unwrap();
    let source = std::fs::read_to_string(root.join("tests/bad_input.rs")).unwrap();
    let mut rows = 0;
    for line in doc.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| input") && !l.starts_with("| ---")) {
        rows += 1;
        let cell = line.trim_end().trim_end_matches('|').rsplit('|').next().unwrap();
        let names: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
        assert!(!names.is_empty(), "a row without a test: {line}");
        let mut function = None;
        for name in names {
            let (func, label) = match name.split_once(" [") {
                Some((f, l)) => (Some(f), Some(l.strip_suffix(']').unwrap())),
                None if name.starts_with('[') => (None, Some(&name[1..name.len() - 1])),
                None => (Some(name), None),
            };
            if let Some(f) = func {
                let f = f.trim_end_matches('…');
                assert!(source.contains(&format!("fn {f}")), "no test {f}: {line}");
                function = Some(f);
            }
            assert!(function.is_some(), "a label before its test: {line}");
            if let Some(l) = label {
                let escaped = l.replace('\\', "\\\\");
                assert!(
                    source.contains(&format!("\"{l}")) || source.contains(&format!("\"{escaped}")),
                    "no row {l:?}: {line}"
                );
            }
        }
    }
    assert!(rows >= 60, "{rows} rows");
}
