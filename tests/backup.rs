//! Backup codes, help-desk bypass codes and `disable --for`, through the real
//! `twostep` binary and real logins through libpam (pamdrive): what the
//! admin makes works at the code prompt exactly as often as promised, and
//! `status --json` tells how much is left. `disable --for` is checked past
//! its end with libfaketime in the pamdrive process only (as tests/threats.rs).

mod common;

use std::process::Output;

use common::*;

const PROMPT: &str = "Verification code: ";

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "twostep failed: {}{}", stdout(out), stderr(out));
    stdout(out)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

fn status(env: &Env, user: &str) -> serde_json::Value {
    json(&env.twostep(&["status", user, "--json"]))
}

#[test]
fn backup_codes_from_the_command_log_in_once_each_and_status_counts_them() {
    let env = Env::new("");
    env.enroll("alice");
    let before = status(&env, "alice");
    assert_eq!((before["backup_codes_left"].as_u64(), &before["bypass_pending"]), (Some(0), &serde_json::Value::Null));

    let made = json(&env.twostep(&["backup-codes", "alice", "--json"]));
    let codes: Vec<String> =
        made["backup_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit())), "{codes:?}");
    let on_disk = std::fs::read_to_string(env.secrets.join("alice")).unwrap();
    assert!(on_disk.starts_with("version = 3\n"), "{on_disk}");
    assert!(codes.iter().all(|c| !on_disk.contains(c.as_str())), "only hashes are stored");
    assert_eq!(status(&env, "alice")["backup_codes_left"].as_u64(), Some(10));

    // Typed as printed for reading (grouped), at the plain prompt.
    let t = env.login("alice", &[&format!("{} {}", &codes[0][..4], &codes[0][4..])]);
    assert!(t.succeeded(), "{t:?}");
    assert_eq!(t.prompts(), [PROMPT]);
    assert_eq!(status(&env, "alice")["backup_codes_left"].as_u64(), Some(9));
    let t = env.login("alice", &[&codes[0]]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "used once: refused, {t:?}");
    assert!(t.said().contains("Incorrect verification code. 4 attempts remain"), "{t:?}");
    assert_eq!(status(&env, "alice")["failures"].as_u64(), Some(1), "and counted");
    // The app code still works beside them.
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());

    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("user=alice action=backup_codes by=")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("result=success method=backup backup_codes_left=9")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("result=wrong_code method=backup")), "{logs:?}");
    assert!(logs.iter().all(|l| codes.iter().all(|c| !l.contains(c.as_str()))), "no code in a log line");

    // A new set replaces the old one; the plain output groups them for reading.
    let out = ok(&env.twostep(&["backup-codes", "alice"]));
    assert!(out.contains("The 9 unused backup code(s) of the earlier set no longer work."), "{out}");
    let shown: Vec<&str> = out.lines().filter(|l| l.starts_with("    ")).map(str::trim).collect();
    assert!(shown.len() == 10 && shown.iter().all(|c| c.len() == 9 && c.as_bytes()[4] == b' '), "{out}");
    assert_eq!(env.login("alice", &[&codes[1]]).result, "PAM_AUTH_ERR", "the old set is gone");
    assert!(env.login("alice", &[shown[3]]).succeeded());
    let text = ok(&env.twostep(&["status", "alice"]));
    assert!(text.contains("Backup codes: 9 left"), "{text}");
}

#[test]
fn backup_codes_need_an_enrolled_user_and_come_with_enroll_on_request() {
    let env = Env::new("");
    let out = env.twostep(&["backup-codes", "bob"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("user bob is not enrolled; run twostep enroll bob"), "{}", stderr(&out));
    assert!(env.store().record("bob").unwrap().is_none());

    let e = json(&env.twostep(&["enroll", "bob", "--backup-codes", "--json"]));
    let codes = e["backup_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(env.login("bob", &[codes[9].as_str().unwrap()]).succeeded());
    assert_eq!(status(&env, "bob")["backup_codes_left"].as_u64(), Some(9));
}

#[test]
fn a_bypass_code_for_two_uses_lets_in_twice_then_is_refused() {
    let env = Env::new("");
    env.enroll("alice");
    let mut cmd = env.twostep_command(&["bypass", "alice", "--uses", "2", "--valid", "30m", "--json"]);
    cmd.env("SUDO_USER", "helpdesk-hana");
    let made: serde_json::Value = serde_json::from_str(&ok(&run_with_stdin(cmd, ""))).unwrap();
    let code = made["code"].as_str().unwrap().to_string();
    assert!(code.len() == 9 && code.bytes().all(|b| b.is_ascii_digit()), "{made}");
    assert_eq!(made["uses_left"].as_u64(), Some(2));
    let pending = &status(&env, "alice")["bypass_pending"];
    assert_eq!(pending["uses_left"].as_u64(), Some(2), "{pending}");
    assert_eq!(pending["expires"], made["expires"]);

    let spoken = format!("{} {} {}", &code[..3], &code[3..6], &code[6..]);
    assert!(env.login("alice", &[&spoken]).succeeded());
    assert_eq!(status(&env, "alice")["bypass_pending"]["uses_left"].as_u64(), Some(1));
    assert!(env.login("alice", &[&code]).succeeded());
    assert_eq!(status(&env, "alice")["bypass_pending"], serde_json::Value::Null);
    let t = env.login("alice", &[&code]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");

    let logs = env.log_lines();
    let audit = logs.iter().find(|l| l.contains("action=bypass")).expect("audit line");
    assert!(audit.contains("user=alice action=bypass by=helpdesk-hana uses=2 expires="), "{audit}");
    assert_eq!(logs.iter().filter(|l| l.contains("result=success method=bypass")).count(), 2, "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("result=wrong_code method=bypass")), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(&code)), "no code in a log line");
}

#[test]
fn a_bypass_code_can_be_revoked_and_bad_arguments_are_usage_errors() {
    let env = Env::new("");
    env.enroll("alice");
    let out = ok(&env.twostep(&["bypass", "alice"]));
    let code: String = out.lines().find_map(|l| l.strip_prefix("Help-desk code for alice: ")).unwrap().replace(' ', "");
    assert!(out.contains("log in once") && out.contains("(for 1 hour)"), "{out}");
    assert!(ok(&env.twostep(&["status", "alice"])).contains("Help-desk code: pending, 1 use left"));
    let out = ok(&env.twostep(&["bypass", "alice", "--revoke"]));
    assert!(out.contains("Revoked the help-desk code of alice"), "{out}");
    assert_eq!(env.login("alice", &[&code]).result, "PAM_AUTH_ERR");
    assert!(ok(&env.twostep(&["bypass", "alice", "--revoke"])).contains("nothing to revoke"));
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice action=bypass_revoke")));
    for bad in [
        vec!["bypass", "alice", "--valid", "8d"],
        vec!["bypass", "alice", "--valid", "soon"],
        vec!["bypass", "alice", "--uses", "0"],
        vec!["bypass", "alice", "--uses", "11"],
        vec!["bypass", "alice", "--revoke", "--uses", "2"],
        vec!["disable", "alice", "--for", "1y"],
    ] {
        let out = env.twostep(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
    assert_eq!(status(&env, "alice")["bypass_pending"], serde_json::Value::Null);
}

#[test]
fn disable_for_an_hour_skips_the_code_now_and_asks_again_after() {
    let env = Env::new("");
    env.enroll("alice");
    let out = ok(&env.twostep(&["disable", "alice", "--for", "1h"]));
    assert!(out.contains("Disabled two-step verification for alice until"), "{out}");
    let s = status(&env, "alice");
    assert_eq!(s["enabled"].as_bool(), Some(false));
    let until = s["disabled_until"].as_str().expect("an end time").to_string();
    assert!(ok(&env.twostep(&["status", "alice"])).contains("disabled until"));
    assert!(env.log_lines().iter().any(|l| l.contains("action=disable") && l.contains(&format!("until={until}"))));

    let t = env.login("alice", &[]);
    assert_eq!(t.result, IGNORED, "{t:?}");
    assert!(t.messages.is_empty(), "{t:?}");

    // Two hours later (for the module only): asked for a code again, and the right one works.
    let later = |answer: &str| finish(env.faked_clock("later", "alice", "+2h").0, &[answer]);
    let t = later(&code_at(SECRET, (now() + 7200) / 30));
    assert_eq!(t.prompts(), [PROMPT], "{t:?}");
    assert!(t.succeeded(), "{t:?}");
    assert_eq!(later(&wrong_code(SECRET)).result, "PAM_AUTH_ERR");

    // Back in the present: the step used "two hours from now" is cleared by unlock
    // (tests/threats.rs), then `enable` ends a timed disable at once.
    ok(&env.twostep(&["unlock", "alice"]));
    ok(&env.twostep(&["disable", "alice", "--for", "1d"]));
    assert_eq!(env.login("alice", &[]).result, IGNORED);
    ok(&env.twostep(&["enable", "alice"]));
    let s = status(&env, "alice");
    assert_eq!((s["enabled"].as_bool(), &s["disabled_until"]), (Some(true), &serde_json::Value::Null));
    assert!(env.login("alice", &[&code(SECRET, 1)]).succeeded());
}

#[test]
fn google_authenticator_scratch_codes_become_backup_codes_that_work_once() {
    let env = Env::new("");
    let home = env.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join(".google_authenticator");
    let out = std::process::Command::new("google-authenticator")
        .args(["--force", "--quiet", "--no-confirm", "-t", "-d", "-u", "-w", "3", "-e", "4", "--secret"])
        .arg(&file)
        .env("HOME", &home)
        .output()
        .expect("run google-authenticator (apt-get install libpam-google-authenticator)");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let scratch: Vec<&str> = text.lines().filter(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit())).collect();
    assert_eq!(scratch.len(), 4, "{text}");

    let out = ok(&env.twostep(&["enroll", "carol", "--from-google-authenticator", file.to_str().unwrap()]));
    assert!(out.contains("4 emergency scratch code(s) are kept as backup codes"), "{out}");
    assert!(scratch.iter().all(|c| !out.contains(c)), "the codes are not echoed");
    assert_eq!(status(&env, "carol")["backup_codes_left"].as_u64(), Some(4));
    assert!(env.login("carol", &[scratch[2]]).succeeded());
    assert_eq!(env.login("carol", &[scratch[2]]).result, "PAM_AUTH_ERR", "once");
    assert!(env.login("carol", &[scratch[0]]).succeeded());
    assert_eq!(status(&env, "carol")["backup_codes_left"].as_u64(), Some(2));
    let on_disk = std::fs::read_to_string(env.secrets.join("carol")).unwrap();
    assert!(scratch.iter().all(|c| !on_disk.contains(c)), "only hashes are stored");
}
