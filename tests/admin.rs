//! The admin command through the real `twostep` binary, checked against real
//! logins through libpam: disable/enable/reset, migration from a file written
//! by the real `google-authenticator` tool, status with an address template,
//! and the ways it must refuse (wrong user names, non-root caller, corrupt record).

mod common;
mod e2e;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use e2e::{Account, TestGroup};

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "twostep failed: {}{}", stdout(out), stderr(out));
    stdout(out)
}

/// Exit status 1 with the error on stderr; returns stderr.
fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "expected exit 1: {}{}", stdout(out), stderr(out));
    let err = stderr(out);
    assert!(err.starts_with("twostep: ") && err.lines().count() == 1, "{err:?}");
    err
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[test]
fn a_disabled_user_logs_in_without_a_prompt_and_enabling_asks_for_the_code_again() {
    let env = Env::new("");
    env.enroll("alice");
    let out = ok(&env.twostep(&["disable", "alice"]));
    assert!(out.contains("Disabled two-step verification for alice") && out.contains("kept"), "{out}");
    let rec = env.store().record("alice").unwrap().unwrap();
    assert!(!rec.enabled && rec.secret.is_some(), "the record is kept, only disabled");
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice action=disable")));

    let t = env.login("alice", &[]);
    assert_eq!(t.result, IGNORED, "{t:?}");
    assert!(t.messages.is_empty(), "{t:?}");
    let t = env.login_service(STACKED, "alice", &[], &[]);
    assert!(t.succeeded() && t.messages.is_empty(), "{t:?}");
    let s = json(&env.twostep(&["status", "alice", "--json"]));
    assert_eq!((s["enrolled"].as_bool(), s["enabled"].as_bool()), (Some(true), Some(false)));

    let again = ok(&env.twostep(&["disable", "alice"]));
    assert!(again.contains("already disabled") && again.contains("nothing changed"), "{again}");

    let out = ok(&env.twostep(&["enable", "alice"]));
    assert!(out.contains("Enabled two-step verification for alice"), "{out}");
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice action=enable")));
    let t = env.login("alice", &[&code(SECRET, 0)]);
    assert_eq!(t.prompts(), ["Verification code: "]);
    assert!(t.succeeded(), "{t:?}");
    assert!(ok(&env.twostep(&["enable", "alice"])).contains("already enabled"));
}

#[test]
fn disabling_or_enabling_a_user_who_is_not_enrolled_says_how_to_enroll() {
    let env = Env::new("");
    let err = fails(&env.twostep(&["disable", "bob"]));
    assert!(err.contains("user bob is not enrolled") && err.contains("twostep enroll bob"), "{err}");
    let err = fails(&env.twostep(&["enable", "bob"]));
    assert!(err.contains("user bob is not enrolled; run twostep enroll bob"), "{err}");
    assert!(env.store().record("bob").unwrap().is_none(), "no record was created");
}

#[test]
fn reset_removes_the_record_and_the_login_state_and_the_user_enrolls_again_without_force() {
    let env = Env::new("");
    env.enroll_with("alice", Some(SECRET), Some("alice@district.org"));
    assert_eq!(env.login("alice", &[&wrong_code(SECRET)]).result, "PAM_AUTH_ERR");
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());
    assert_eq!(env.login("alice", &[&wrong_code(SECRET)]).result, "PAM_AUTH_ERR");
    assert!(env.tally.join("alice").exists() && env.secrets.join("alice").exists());
    env.log_lines();

    let out = ok(&env.twostep(&["reset", "alice"]));
    assert!(out.starts_with("Reset alice: removed the secrets record"), "{out}");
    for what in ["authenticator secret", "a***@district.org", "login state", "1 failed code(s)", "last code used"] {
        assert!(out.contains(what), "{what} missing: {out}");
    }
    assert!(out.contains("twostep enroll alice"), "{out}");
    assert!(!env.secrets.join("alice").exists() && !env.tally.join("alice").exists());
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice action=reset")));
    let s = json(&env.twostep(&["status", "alice", "--json"]));
    assert_eq!((s["enrolled"].as_bool(), s["failures"].as_u64()), (Some(false), Some(0)), "{s}");
    let t = env.login("alice", &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "not enrolled and required: refused, {t:?}");

    // The old secret is gone: enrolling again needs no --force and gives a new secret.
    let e = json(&env.twostep(&["enroll", "alice", "--json"]));
    let secret = e["secret"].as_str().unwrap().to_string();
    assert_ne!(secret, SECRET);
    assert!(env.login("alice", &[&code(&secret, 0)]).succeeded());
}

#[test]
fn reset_of_a_user_with_nothing_to_reset_is_an_error_that_suggests_checking_the_name() {
    let env = Env::new("");
    env.enroll("alice");
    let err = fails(&env.twostep(&["reset", "alcie"]));
    assert!(err.contains("user alcie has no two-step setup") && err.contains("twostep list"), "{err}");
    assert!(env.store().record("alice").unwrap().is_some());
    assert!(!env.log_lines().iter().any(|l| l.contains("action=reset")));
}

#[test]
fn reset_also_forgets_a_user_who_has_only_login_state() {
    let env = Env::new("[policy]\nrequired = false");
    std::fs::write(env.tally.join("carol"), "version = 1\ngrace_used = 2\n").unwrap();
    std::fs::set_permissions(env.tally.join("carol"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = ok(&env.twostep(&["reset", "carol"]));
    assert!(out.contains("removed the login state (2 grace login(s) used)"), "{out}");
    assert!(!out.contains("secrets record"), "{out}");
    assert!(!env.tally.join("carol").exists());
}

/// Runs the real `google-authenticator` tool (package libpam-google-authenticator)
/// non-interactively, writing its file to `path`, and hands the file to another
/// owner with mode 0400 as it would be in a user's home directory.
fn google_authenticator(path: &Path, args: &[&str]) -> String {
    let out = Command::new("google-authenticator")
        .args(["--force", "--quiet", "--no-confirm", "--secret"])
        .arg(path)
        .args(args)
        .env("HOME", path.parent().unwrap())
        .output()
        .expect("run google-authenticator (apt-get install libpam-google-authenticator)");
    assert!(out.status.success(), "google-authenticator failed: {out:?}");
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().next().unwrap().to_string()
}

fn ga_path(env: &Env, name: &str) -> PathBuf {
    let home = env.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    home.join(name)
}

#[test]
fn a_google_authenticator_file_migrates_and_the_users_existing_codes_keep_working() {
    let env = Env::new("");
    let file = ga_path(&env, ".google_authenticator");
    let secret = google_authenticator(&file, &["-t", "-d", "-r", "3", "-R", "30", "-w", "5", "-e", "5"]);
    let out = ok(&env.twostep(&["enroll", "alice", "--from-google-authenticator", file.to_str().unwrap()]));
    assert!(out.contains("with the secret from") && out.contains("existing authenticator app entry keeps working"));
    assert!(out.contains("5 emergency scratch code(s) are kept as backup codes"), "{out}");
    assert!(out.contains("RATE_LIMIT 3 30 is not carried over") && out.contains("WINDOW_SIZE 5"), "{out}");
    assert!(out.contains(&format!("secret={secret}")), "the otpauth URI carries the same secret: {out}");
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice action=migrate")));
    assert!(file.exists(), "the google-authenticator file is left in place");

    let t = env.login("alice", &[&code(&secret, 0)]);
    assert!(t.succeeded(), "{t:?}");

    // Migrating over an enrolled user needs --force, like any enroll; --json carries the notes.
    let err = fails(&env.twostep(&["enroll", "alice", "--from-google-authenticator", file.to_str().unwrap()]));
    assert!(err.contains("already enrolled") && err.contains("--force"), "{err}");
    let v = json(&env.twostep(&[
        "enroll",
        "alice",
        "--force",
        "--json",
        "--from-google-authenticator",
        file.to_str().unwrap(),
    ]));
    assert_eq!(v["secret"].as_str(), Some(secret.as_str()));
    assert!(v["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("scratch code")), "{v}");
}

#[test]
fn a_relative_path_to_a_hand_written_google_authenticator_file_is_accepted() {
    let env = Env::new("[totp]\nperiod = 60");
    let dir = env.path().join("home");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ga"), format!("{SECRET}\n\" TOTP_AUTH\n\" STEP_SIZE 60\n\" DISALLOW_REUSE\n")).unwrap();
    let out = Command::new(twostep_bin())
        .current_dir(&dir)
        .args(["--config", env.config.to_str().unwrap(), "--log-socket", env.log_path.to_str().unwrap()])
        .args(["enroll", "dave", "--from-google-authenticator", "ga"])
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(!text.contains("Note:"), "nothing was ignored: {text}");
    let cfg = pam_twostep::config::TotpConfig { digits: 6, period: 60, skew: 1 };
    assert!(env.login("dave", &[&code_with(SECRET, 0, &cfg)]).succeeded());
}

#[test]
fn a_code_google_authenticator_saw_used_stays_used_after_the_migration() {
    let env = Env::new("");
    let file = env.path().join("ga-reuse");
    let step = now() / 30;
    std::fs::write(&file, format!("{SECRET}\n\" TOTP_AUTH\n\" DISALLOW_REUSE {} {step}\n", step - 5)).unwrap();
    ok(&env.twostep(&["enroll", "erin", "--from-google-authenticator", file.to_str().unwrap()]));
    // Codes for fixed steps: still inside the window if the clock ticks meanwhile.
    let t = env.login("erin", &[&code_at(SECRET, step)]);
    assert!(t.said().contains("already used"), "{t:?}");
    assert!(env.login("erin", &[&code_at(SECRET, step + 1)]).succeeded());
}

#[test]
fn google_authenticator_files_twostep_cannot_honour_are_refused_and_nothing_is_saved() {
    let env = Env::new("");
    let hotp = ga_path(&env, "hotp");
    google_authenticator(&hotp, &["-c", "-u", "-w", "3"]);
    let step60 = ga_path(&env, "step60");
    google_authenticator(&step60, &["-t", "-d", "-u", "-S", "60", "-w", "3"]);
    let link = ga_path(&env, "link");
    std::os::unix::fs::symlink(&step60, &link).unwrap();
    let garbage = ga_path(&env, "garbage");
    std::fs::write(&garbage, "this is not\na google-authenticator file\n").unwrap();
    let big = ga_path(&env, "big");
    std::fs::write(&big, format!("{SECRET}\n\" TOTP_AUTH\n{}", "12345678\n".repeat(10_000))).unwrap();
    let cases: [(&Path, &[&str]); 7] = [
        (&hotp, &["counter-based (HOTP)", "twostep enroll USER"]),
        (&step60, &["every 60 seconds", "period = 60"]),
        (&link, &["symbolic link"]),
        (&garbage, &["first line"]),
        (&big, &["larger than"]),
        (&env.path().join("home/missing"), &["does not exist"]),
        (&env.path().join("home"), &["not a regular file"]),
    ];
    for (path, needles) in cases {
        let err = fails(&env.twostep(&["enroll", "alice", "--from-google-authenticator", path.to_str().unwrap()]));
        for n in needles {
            assert!(err.contains(n), "{}: {n:?} missing in {err}", path.display());
        }
        assert!(err.contains(path.to_str().unwrap()), "the error names the file: {err}");
        assert!(!err.contains(SECRET), "{err}");
    }
    assert!(env.store().record("alice").unwrap().is_none());
    let both = env.twostep(&["enroll", "alice", "--secret-stdin", "--from-google-authenticator", "/x"]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

#[test]
fn wrong_user_names_are_refused_by_every_command_and_nothing_is_written() {
    let env = Env::new("");
    for user in ["../x", "", "a/b", ".hidden", "al\nice", "bob\u{1b}[2J", ".."] {
        for args in [
            vec!["enroll", user],
            vec!["disable", user],
            vec!["enable", user],
            vec!["reset", user],
            vec!["unlock", user],
            vec!["status", user],
            vec!["email", user, "x@district.org"],
        ] {
            let out = env.twostep(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}{}", stdout(&out), stderr(&out));
            assert!(!stderr(&out).contains('\u{1b}'), "{args:?}: the name is not echoed raw");
        }
    }
    assert!(std::fs::read_dir(&env.secrets).unwrap().next().is_none());
    assert!(std::fs::read_dir(&env.tally).unwrap().all(|e| e.unwrap().file_name().to_string_lossy().starts_with('.')));
}

#[test]
fn a_caller_who_is_not_root_is_told_to_run_as_root() {
    let env = Env::new("");
    env.enroll("alice");
    for args in [vec!["list"], vec!["status", "alice"], vec!["disable", "alice"], vec!["reset", "alice"]] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(twostep_bin())
            .args(["--config", env.config.to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        let err = fails(&out);
        assert!(err.contains("needs root") && err.contains("sudo"), "{args:?}: {err}");
    }
    assert!(env.store().record("alice").unwrap().unwrap().enabled);
}

#[test]
fn a_corrupt_record_is_reported_with_its_path_and_kept_until_reset_removes_it() {
    let env = Env::new("");
    let path = env.secrets.join("alice");
    let garbage = "version = 1\nsecret = \"!!\nenabled = maybe\n";
    std::fs::write(&path, garbage).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    for args in [
        vec!["status", "alice"],
        vec!["list"],
        vec!["disable", "alice"],
        vec!["enable", "alice"],
        vec!["enroll", "alice"],
        vec!["email", "alice", "alice@district.org"],
    ] {
        let err = fails(&env.twostep(&args));
        assert!(err.contains(path.to_str().unwrap()) && err.contains("corrupt"), "{args:?}: {err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), garbage, "{args:?} changed the file");
    }
    let out = ok(&env.twostep(&["reset", "alice"]));
    assert!(out.contains("removed the unreadable secrets record") && out.contains("corrupt"), "{out}");
    assert!(!path.exists());
    assert!(ok(&env.twostep(&["enroll", "alice"])).contains("Enrolled alice"));
}

#[test]
fn status_and_list_count_an_address_from_the_template_as_the_email_method() {
    let env = Env::new("[email]\naddress_template = \"{user}@district.org\"");
    env.enroll("alice");
    env.enroll_with("bob", Some(SECRET), Some("robert@example.org"));
    let s = json(&env.twostep(&["status", "alice", "--json"]));
    assert_eq!(s["methods"], serde_json::json!(["totp", "email"]), "{s}");
    assert_eq!(s["email"].as_str(), Some("a***@district.org"));
    assert_eq!(s["email_source"].as_str(), Some("template"));
    let s = json(&env.twostep(&["status", "bob", "--json"]));
    assert_eq!((s["email"].as_str(), s["email_source"].as_str()), (Some("r***@example.org"), Some("record")));
    let s = json(&env.twostep(&["status", "nobody", "--json"]));
    assert_eq!((s["enrolled"].as_bool(), s["email"].is_null()), (Some(false), true), "{s}");

    let table = ok(&env.twostep(&["list"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1].contains("totp,email") && lines[1].contains("a***@district.org (template)"), "{table}");
    // Every column starts at the same place on every line.
    for col in ["STATE", "METHODS", "EMAIL", "FAILURES", "LOCKED"] {
        let at = lines[0].find(col).unwrap();
        for l in &lines[1..] {
            assert!(l[..at].ends_with("  ") && !l[at..].starts_with(' '), "{col} misaligned:\n{table}");
        }
    }
}

#[test]
fn enroll_waits_for_the_lock_a_login_holds_while_it_saves_an_enrollment() {
    let env = Env::new("");
    // What a login enrolling at this moment holds while it checks and saves (tally lock).
    let lock = pam_twostep::trusted_fs::lock(&env.tally, "alice", pam_twostep::trusted_fs::Owner::ROOT).unwrap();
    let mut child = Command::new(twostep_bin())
        .args(["--config", env.config.to_str().unwrap(), "--log-socket", env.log_path.to_str().unwrap()])
        .args(["enroll", "alice", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while std::time::Instant::now() < until {
        assert!(child.try_wait().unwrap().is_none(), "enroll finished while the lock was held");
        assert!(env.store().record("alice").unwrap().is_none(), "written while the lock was held");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(lock);
    let out = child.wait_with_output().unwrap();
    let v = json(&out);
    let saved = env.store().record("alice").unwrap().unwrap().secret.unwrap();
    assert_eq!(v["secret"].as_str(), Some(saved.to_base32().as_str()));
}

#[test]
fn unlock_of_a_name_twostep_does_not_know_is_an_error_and_writes_nothing() {
    let env = Env::new("");
    env.enroll("alice");
    let err = fails(&env.twostep(&["unlock", "alcie"]));
    assert!(err.contains("nothing to unlock") && err.contains("twostep list"), "{err}");
    assert!(!env.tally.join("alcie").exists());
    assert!(!env.log_lines().iter().any(|l| l.contains("action=unlock")), "no audit line for a no-op");
    // A known user is unlocked as before, even with no failures yet.
    ok(&env.twostep(&["unlock", "alice"]));
}

/// Runs the real binary with `--pam-dir` pointing at `pam_dir`.
fn twostep_with_pam_dir(env: &Env, pam_dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--pam-dir", pam_dir.to_str().unwrap()];
    all.extend_from_slice(args);
    env.twostep(&all)
}

#[test]
fn commands_warn_about_deny_0_and_a_service_table_without_a_pam_service_and_still_succeed() {
    let env =
        Env::new("[lockout]\ndeny = 0\n[services.sshd]\nrequired = true\n[services.nosuchservice]\nrequired = true");
    let pam_dir = env.path().join("etc-pam.d");
    std::fs::create_dir(&pam_dir).unwrap();
    std::fs::write(pam_dir.join("sshd"), "auth required pam_permit.so\n").unwrap();
    env.enroll("alice");
    for args in [&["list"][..], &["list", "--json"], &["status", "alice"], &["status", "alice", "--json"]] {
        let out = twostep_with_pam_dir(&env, &pam_dir, args);
        let out_text = ok(&out);
        let err = stderr(&out);
        let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("twostep: warning: ")).collect();
        assert_eq!(warnings.len(), 2, "{args:?}: {err}");
        assert!(warnings[0].contains("deny = 0"), "{args:?}: {err}");
        assert!(err.contains("without limit"), "{args:?}: {err}");
        assert!(warnings[1].contains("[services.nosuchservice]"), "{args:?}: {err}");
        assert!(err.contains(&format!("{}/nosuchservice", pam_dir.display())), "{args:?}: {err}");
        assert!(!err.contains("[services.sshd]"), "sshd has a PAM file: {err}");
        assert!(err.lines().all(|l| l.chars().count() <= 72), "{args:?}: {err}");
        assert!(out_text.contains("alice"), "the command's own output is unchanged: {out_text}");
        if args.contains(&"--json") {
            serde_json::from_str::<serde_json::Value>(&out_text).expect("stdout stays plain JSON");
        }
    }
    // A failing command keeps its exit status; the warnings come first.
    let out = twostep_with_pam_dir(&env, &pam_dir, &["unlock", "nobody"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("twostep: warning: "), "{}", stderr(&out));
    assert!(stderr(&out).lines().last().unwrap().starts_with("twostep: "), "{}", stderr(&out));
}

#[test]
fn a_config_with_safe_settings_prints_no_warning() {
    let env = Env::new("[services.sshd]\nrequired = true");
    let pam_dir = env.path().join("etc-pam.d");
    std::fs::create_dir(&pam_dir).unwrap();
    std::fs::write(pam_dir.join("sshd"), "auth required pam_permit.so\n").unwrap();
    let out = twostep_with_pam_dir(&env, &pam_dir, &["list"]);
    ok(&out);
    assert_eq!(stderr(&out), "", "no warnings");
}

/// Nothing in `out` can drive a terminal: no control character but the newline
/// (ESC, BEL, DEL, C1 such as CSI) and no bidirectional override or isolate.
fn assert_terminal_safe(out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| {
                (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        assert!(bad.is_empty(), "{name} carries {bad:?}: {text:?}");
    }
}

/// User names that rewrite the screen, set the window title, or reverse the line.
const HOSTILE_NAMES: [&str; 3] = ["eve\x1b[2J\x1b[H", "mallory\x1b]0;owned\x07", "trudy\u{9b}31m\u{202e}nimda"];

#[test]
fn list_and_status_escape_user_names_decoded_from_file_names() {
    let env = Env::new("");
    for name in HOSTILE_NAMES {
        // Files as a login or an earlier tool could have left them: names decode to these bytes.
        env.enroll_with(name, Some(SECRET), Some("x@district.org"));
        env.store().change(name, |u| u.update_tally(|t| t.grace_used = 1)).unwrap();
    }
    let list = env.twostep(&["list"]);
    assert_terminal_safe(&list);
    let table = ok(&list);
    assert!(table.contains("eve\\u{1b}[2J\\u{1b}[H") && table.contains("mallory\\u{1b}]0;owned\\u{7}"), "{table}");
    assert!(table.contains("trudy\\u{9b}31m\\u{202e}nimda"), "{table}");

    let as_json = env.twostep(&["list", "--json"]);
    assert_terminal_safe(&as_json);
    let users: Vec<String> =
        json(&as_json).as_array().unwrap().iter().map(|u| u["user"].as_str().unwrap().into()).collect();
    let mut want: Vec<String> = HOSTILE_NAMES.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!(users, want, "JSON keeps the exact names, escaped the JSON way");

    // status takes a name from the command line: control characters are refused, a bidi override is shown escaped.
    env.enroll("x\u{202e}y");
    for args in [vec!["status", "x\u{202e}y"], vec!["status", "x\u{202e}y", "--json"], vec!["status", HOSTILE_NAMES[0]]]
    {
        assert_terminal_safe(&env.twostep(&args));
    }
    assert!(ok(&env.twostep(&["status", "x\u{202e}y"])).contains("x\\u{202e}y"));
    assert!(fails(&env.twostep(&["status", HOSTILE_NAMES[1]])).contains("mallory\\u{1b}]0;owned\\u{7}"));
}

#[test]
fn a_google_authenticator_file_cannot_send_escape_sequences_to_roots_terminal() {
    let env = Env::new("");
    let file = ga_path(&env, "ga\x1b[31m");
    std::fs::write(
        &file,
        format!(
            "{SECRET}\n\" TOTP_AUTH\n\" WINDOW_SIZE 9\x1b[2J\x1b]0;owned\x07\n\" TIME_SKEW \u{202e}5\n\" RATE_LIMIT 3\x1b[H 30\n"
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = env.twostep(&["enroll", "alice", "--from-google-authenticator", path]);
    assert_terminal_safe(&out);
    let text = ok(&out);
    assert!(text.contains("WINDOW_SIZE 9\\u{1b}[2J\\u{1b}]0;owned\\u{7} is not carried over"), "{text}");
    assert!(text.contains("TIME_SKEW \\u{202e}5") && text.contains("ga\\u{1b}[31m"), "{text}");
    let out = env.twostep(&["enroll", "alice", "--force", "--json", "--from-google-authenticator", path]);
    assert_terminal_safe(&out);
    assert!(json(&out)["notes"].to_string().contains("WINDOW_SIZE 9\\\\u{1b}"), "notes are escaped text");

    // In an error message too.
    std::fs::write(&file, format!("{SECRET}\n\" TOTP_AUTH\n\" STEP_SIZE 3\x1b[2J\n")).unwrap();
    let out = env.twostep(&["enroll", "bob", "--from-google-authenticator", path]);
    assert_terminal_safe(&out);
    assert!(fails(&out).contains("STEP_SIZE \"3\\u{1b}[2J\" is not a number"), "{}", stderr(&out));
}

#[test]
fn status_and_unlock_follow_even_deny_root_as_the_login_does() {
    // Root with five recent failures and a lock stamp: locked only while
    // even_deny_root is on, in status and unlock exactly as at the login.
    let lock_root = |env: &Env| {
        env.update_tally("root", |t| {
            t.failures = vec![now(); 5];
            t.locked_at = Some(now());
        })
    };
    let env = Env::new("[lockout]\neven_deny_root = false");
    env.enroll("root");
    lock_root(&env);
    let s = json(&env.twostep(&["status", "root", "--json"]));
    assert_eq!((s["locked"].as_bool(), s["locked_until"].is_null()), (Some(false), true), "{s}");
    assert!(ok(&env.twostep(&["unlock", "root"])).contains("root was not locked"));
    assert!(env.login("root", &[&code(SECRET, 0)]).succeeded(), "the login agrees: root is not locked");

    env.write_config("[lockout]\neven_deny_root = true");
    lock_root(&env);
    let s = json(&env.twostep(&["status", "root", "--json"]));
    assert_eq!(s["locked"].as_bool(), Some(true), "{s}");
    assert!(ok(&env.twostep(&["unlock", "root"])).contains("Unlocked root"));
}

/// Writes `text` as `dir/name`, root 0600, as the store would (but unreadable as a record or tally).
fn plant(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
    std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn list_reports_a_damaged_record_or_tally_in_its_row_lists_the_others_and_exits_1() {
    let env = Env::new("");
    env.enroll("alice");
    env.enroll("bob");
    env.enroll("dave");
    plant(&env.secrets, "bob", "version = 1\nsecret = \"!!\n");
    plant(&env.tally, "dave", "version = 99\n");
    let out = env.twostep(&["list", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout stays one JSON array");
    let rows = rows.as_array().unwrap();
    let users: Vec<&str> = rows.iter().map(|r| r["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["alice", "bob", "dave"]);
    assert_eq!((rows[0]["enrolled"].as_bool(), rows[0].get("error")), (Some(true), None), "{}", rows[0]);
    for (row, file) in [(&rows[1], env.secrets.join("bob")), (&rows[2], env.tally.join("dave"))] {
        let error = row["error"].as_str().unwrap_or_else(|| panic!("no error in {row}"));
        assert!(error.contains(file.to_str().unwrap()), "{error}");
        assert_eq!(row.as_object().unwrap().len(), 2, "only user and error: nothing guessed: {row}");
    }
    let err = stderr(&out);
    assert!(err.starts_with("twostep: the files of 2 users could not be read:\n  bob: "), "{err}");
    assert!(err.contains("\n  dave: ") && err.contains("format version 99"), "{err}");

    let out = env.twostep(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    let table = stdout(&out);
    let line = |u: &str| table.lines().find(|l| l.contains(u)).unwrap_or_else(|| panic!("no {u}: {table}"));
    assert!(line("alice").starts_with("alice ") && line("alice").contains("enabled"), "{table}");
    assert!(line("bob").starts_with("! bob ") && line("bob").contains("unreadable"), "{table}");
    assert!(line("dave").starts_with("! dave ") && line("dave").contains("unreadable"), "{table}");
    // A single damaged user: one error line, with the file.
    std::fs::remove_file(env.tally.join("dave")).unwrap();
    let err = fails(&env.twostep(&["list"]));
    assert!(err.starts_with("twostep: bob: ") && err.contains(env.secrets.join("bob").to_str().unwrap()), "{err}");
    assert_eq!(std::fs::read_to_string(env.secrets.join("bob")).unwrap(), "version = 1\nsecret = \"!!\n", "kept");
}

#[test]
fn list_locked_shows_only_users_locked_now_and_unreadable_ones() {
    let env = Env::new("[lockout]\ndeny = 2\nunlock_time = 600");
    for u in ["alice", "bob", "carol", "erin"] {
        env.enroll(u);
    }
    let bad = wrong_code(SECRET);
    env.login("alice", &[&bad]);
    env.login("bob", &[&bad]);
    env.login("bob", &[&bad]);
    // carol was locked, but the lock has run out.
    env.update_tally("carol", |t| {
        t.failures = vec![now() - 1000, now() - 900];
        t.locked_at = Some(now() - 900);
    });
    let rows = json(&env.twostep(&["list", "--locked", "--json"]));
    let users: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["bob"], "{rows}");
    assert_eq!(rows[0]["locked"].as_bool(), Some(true));
    let table = ok(&env.twostep(&["list", "--locked"]));
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("bob ") && table.contains("until "), "{table}");

    // Whether erin is locked cannot be known: she is shown (fail closed), and the exit status says so.
    plant(&env.tally, "erin", "garbage");
    let out = env.twostep(&["list", "--locked", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[1]["user"].as_str(), Some("erin"));
    assert!(rows[1]["error"].is_string(), "{rows}");

    ok(&env.twostep(&["unlock", "bob"]));
    std::fs::remove_file(env.tally.join("erin")).unwrap();
    assert_eq!(ok(&env.twostep(&["list", "--locked"])).trim(), "No user is locked out.");
    assert_eq!(ok(&env.twostep(&["list", "--locked", "--json"])).trim(), "[]");
}

#[test]
fn list_unenrolled_shows_members_of_required_groups_without_a_record_minus_exempt_ones() {
    let staff = TestGroup::new();
    let ssh_only = TestGroup::new();
    let robots = TestGroup::new();
    let other = TestGroup::new();
    let member = Account::new(None, &[&staff]);
    let primary = Account::new(Some(&staff), &[]);
    let enrolled = Account::new(None, &[&staff]);
    let disabled = Account::new(None, &[&staff]);
    let exempt = Account::new(None, &[&staff, &robots]);
    let outsider = Account::new(None, &[&other]);
    let sshd_member = Account::new(Some(&ssh_only), &[]);
    let env = Env::new(&format!(
        "[policy]\nrequired_groups = [\"{}\"]\nexempt_groups = [\"{}\"]\n\
         [services.sshd]\nrequired_groups = [\"{}\"]\n[services.login]\nrequired = false\nrequired_groups = [\"{}\"]\n",
        staff.0, robots.0, ssh_only.0, other.0
    ));
    env.enroll(&enrolled.0);
    env.enroll(&disabled.0);
    ok(&env.twostep(&["disable", &disabled.0]));
    env.update_tally(&member.0, |t| t.grace_used = 2);

    let rows = json(&env.twostep(&["list", "--unenrolled", "--json"]));
    let mut users: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["user"].as_str().unwrap()).collect();
    users.sort();
    let mut want = vec![member.0.as_str(), primary.0.as_str(), sshd_member.0.as_str()];
    want.sort();
    assert_eq!(users, want, "{rows}");
    for r in rows.as_array().unwrap() {
        assert_eq!(r["enrolled"].as_bool(), Some(false), "{r}");
    }
    let table = ok(&env.twostep(&["list", "--unenrolled"]));
    let listed: Vec<&str> = table.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(listed, want, "{table}");
    let line = table.lines().find(|l| l.split_whitespace().next() == Some(&member.0)).unwrap();
    assert!(line.contains(" not enrolled, 2 grace logins used "), "{table}");
    for a in [&exempt, &outsider, &enrolled, &disabled] {
        assert!(!listed.contains(&a.0.as_str()), "{} listed: {table}", a.0);
    }

    // Once they enroll, they drop off the list.
    for a in [&member, &primary, &sshd_member] {
        env.enroll(&a.0);
    }
    assert_eq!(ok(&env.twostep(&["list", "--unenrolled"])).trim(), "Every member of the required groups is enrolled.");
}

#[test]
fn list_unenrolled_when_every_account_must_enroll_says_so_and_exits_2() {
    for config in [
        "",
        "[policy]\nrequired = false\nrequired_groups = [\"x\"]\n[services.sshd]\nrequired = true\nrequired_groups = []",
    ] {
        let env = Env::new(config);
        let out = env.twostep(&["list", "--unenrolled"]);
        assert_eq!(out.status.code(), Some(2), "{config}: {}{}", stdout(&out), stderr(&out));
        assert_eq!(stderr(&out), "twostep: --unenrolled needs required_groups: every account must enroll\n");
        assert_eq!(stdout(&out), "");
    }
    let env = Env::new("");
    assert_eq!(
        env.twostep(&["list", "--unenrolled", "--locked"]).status.code(),
        Some(2),
        "the filters exclude each other"
    );
}

/// The last used step belongs to a secret: a new one (`enroll --force`) starts
/// without the old one's, which a clock jump may have pushed into the future
/// (it refused every new code until then); the same secret given again keeps
/// it, so its used codes stay used.
#[test]
fn a_new_secret_starts_without_the_old_ones_last_step_and_the_same_secret_keeps_it() {
    let env = Env::new("");
    env.enroll("alice");
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());
    let ahead = now() / 30 + 120;
    env.update_tally("alice", |t| t.last_step = Some(ahead));
    ok(&env.twostep_stdin(&["enroll", "alice", "--force", "--secret-stdin"], &format!("{SECRET}\n")));
    assert_eq!(env.store().tally("alice").unwrap().last_step, Some(ahead), "the same secret keeps its last step");
    assert!(!env.login("alice", &[&code(SECRET, 1)]).succeeded(), "a code up to that step stays used");
    let out: serde_json::Value =
        serde_json::from_str(&ok(&env.twostep(&["enroll", "alice", "--force", "--json"]))).unwrap();
    let new = out["secret"].as_str().unwrap();
    assert_eq!(env.store().tally("alice").unwrap().last_step, None, "a new secret has no used step");
    assert!(env.login("alice", &[&code(new, 0)]).succeeded(), "the new secret's code works at once");
}
