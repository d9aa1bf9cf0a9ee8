//! The email fallback end to end: the real module, loaded through real libpam,
//! sends through the real `msmtp` to a local SMTP server (aiosmtpd, started and
//! stopped by each test: tests/common/smtp.rs) whose messages land in the
//! test's temp dir. The tests
//! read the delivered message, take the code from it and type it at the prompt.
//! Plus: hung, failing and missing mail commands, the lockout, the resend
//! throttle, `address_template`, `twostep email` / `enroll --email`, and one
//! login through a real sshd (where the host process has its own SIGCHLD handling).

mod common;
mod e2e;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::smtp::{FROM, SmtpSink, code_in};
use common::*;

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .map(str::trim)
}

const WITH_EMAIL: &str = "Verification code (or type \"email\" to get a code by email): ";
const PLAIN: &str = "Verification code: ";

/// Types `email` at the first prompt, checks the "sent" notice, returns the session at the code prompt.
fn ask_for_email(env: &Env, user: &str) -> Session {
    let mut s = Session::start(env, user);
    s.prompt(WITH_EMAIL);
    s.answer("email");
    let sent = s.said("info");
    assert!(sent.starts_with("A verification code was sent to "), "{sent}");
    s.prompt(PLAIN);
    s
}

fn setup(extra: &str) -> (Env, SmtpSink) {
    let env = Env::new("");
    let smtp = SmtpSink::start(env.path());
    env.write_config(&smtp.config(extra));
    (env, smtp)
}

#[test]
fn a_code_sent_by_email_lets_the_user_in_exactly_once() {
    let (env, smtp) = setup("");
    env.enroll_with("jane", Some(SECRET), Some("jane.doe@district.org"));
    let mut s = Session::start(&env, "jane");
    s.prompt(WITH_EMAIL);
    s.answer("email");
    assert_eq!(s.said("info"), "A verification code was sent to j***@district.org. It is valid for 10 minutes.");
    s.prompt(PLAIN);

    let message = smtp.wait_message(1);
    let code = code_in(&message);
    assert_eq!(smtp.recipients(1).trim(), "jane.doe@district.org");
    assert_eq!(header(&message, "From"), Some(FROM));
    assert_eq!(header(&message, "To"), Some("jane.doe@district.org"));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    assert_eq!(header(&message, "Subject"), Some(format!("Your verification code for {host}").as_str()));
    let date = header(&message, "Date").expect("Date");
    let sent = chrono::DateTime::parse_from_rfc2822(date).unwrap_or_else(|e| panic!("Date {date:?}: {e}"));
    assert!((sent.timestamp() - now() as i64).abs() < 60, "{date}");
    assert!(header(&message, "Message-ID").is_some_and(|id| id.starts_with('<') && id.ends_with('>')));
    assert_eq!(header(&message, "MIME-Version"), Some("1.0"));
    assert_eq!(header(&message, "Content-Type"), Some("text/plain; charset=utf-8"));
    assert!(message.contains(&format!("signing in to {host} as jane ")), "{message}");
    assert!(message.contains("valid for 10 minutes"), "{message}");
    assert!(!message.contains(SECRET), "no secret but the code");

    s.answer(&code);
    let t = s.finish();
    assert!(t.succeeded(), "{t:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=email_sent method=email") && l.contains("to=j***@district.org")));
    assert!(logs.iter().any(|l| l.contains("user=jane") && l.contains("result=success method=email")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&code)), "the code is never logged: {logs:?}");
    let tally = env.store().tally("jane").unwrap();
    assert_eq!(tally.email_code, None, "used up");
    let stored = std::fs::read_to_string(env.tally.join("jane")).unwrap_or_default();
    assert!(!stored.contains(&code));

    // The same code a second time: refused, and counted.
    let t = env.login("jane", &[&code]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(t.said().contains("Incorrect verification code. 4 attempts remain"), "{t:?}");
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn the_tally_keeps_only_a_salted_hash_of_the_code() {
    let (env, smtp) = setup("");
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    let s = ask_for_email(&env, "jane");
    let code = code_in(&smtp.wait_message(1));
    let t = s.finish();
    assert_eq!(t.result, "PAM_CONV_ERR", "Ctrl-D at the code prompt: {t:?}");
    let stored = std::fs::read_to_string(env.tally.join("jane")).unwrap();
    assert!(!stored.contains(&code), "{stored}");
    let pending = env.store().tally("jane").unwrap().email_code.unwrap();
    assert_eq!(pending.hash.len(), 64);
    assert_eq!(pending.expires_at - pending.sent_at, 600);
}

/// An administrator who clears or changes the address (a mailbox taken over,
/// a wrong address) also takes back a code already sent to it.
#[test]
fn clearing_or_changing_the_address_takes_back_a_code_already_sent() {
    let (env, smtp) = setup("");
    for (n, change) in [["email", "jane", "--clear"], ["email", "jane", "jane.new@district.org"]].iter().enumerate() {
        env.enroll_with("jane", Some(SECRET), Some("jane.doe@district.org"));
        let mut s = Session::start(&env, "jane");
        s.prompt(WITH_EMAIL);
        s.answer("email");
        assert!(s.said("info").starts_with("A verification code was sent to j***@district.org."));
        s.prompt(PLAIN);
        let code = code_in(&smtp.wait_message(n + 1));
        assert!(env.twostep(&change[..]).status.success(), "{change:?}");
        assert_eq!(env.store().tally("jane").unwrap().email_code, None, "{change:?}");
        s.answer(&code);
        assert!(!s.finish().succeeded(), "the code sent before `twostep {}` let jane in", change.join(" "));
        assert!(
            env.log_lines().iter().any(|l| l.contains("user=jane") && l.contains("result=wrong_code method=email"))
        );
        env.twostep(&["reset", "jane"]);
    }
}

#[test]
fn asking_again_inside_the_throttle_sends_nothing_and_the_first_code_still_works() {
    let (env, smtp) = setup("code_valid = 600\nresend_after = 300");
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    let s = ask_for_email(&env, "jane");
    let code = code_in(&smtp.wait_message(1));
    drop(s.finish());

    let mut s = Session::start(&env, "jane");
    s.prompt(WITH_EMAIL);
    s.answer("email");
    let told = s.said("info");
    assert!(told.starts_with("A code was already sent to j***@district.org at "), "{told}");
    assert!(told.contains("and still works. You can ask for a new one after "), "{told}");
    s.prompt(PLAIN);
    // Asking once more in the same login changes nothing either.
    s.answer("EMAIL");
    assert!(s.said("info").starts_with("A code was already sent"));
    s.prompt(PLAIN);
    s.answer(&code);
    assert!(s.finish().succeeded());
    assert_eq!(smtp.messages().len(), 1, "no second message");
    let logs = env.log_lines();
    assert_eq!(logs.iter().filter(|l| l.contains("result=email_sent")).count(), 1, "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("result=email_throttled") && l.contains("next=")), "{logs:?}");
}

#[test]
fn an_expired_email_code_is_refused() {
    let (env, smtp) = setup("code_valid = 60\nresend_after = 30");
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    let s = ask_for_email(&env, "jane");
    let code = code_in(&smtp.wait_message(1));
    drop(s.finish());
    // The shortest allowed code_valid is a minute: rather than wait, move the
    // pending code's times back past its expiry (as the clock would).
    env.update_tally("jane", |t| {
        let c = t.email_code.as_mut().unwrap();
        c.sent_at -= 61;
        c.expires_at -= 61;
    });
    let t = env.login("jane", &[&code]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(t.said().contains("That email code has expired. Log in again to get a new one."), "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("result=expired method=email")));
    let tally = env.store().tally("jane").unwrap();
    assert_eq!(tally.email_code, None, "the expired code is dropped");

    // A new one may be sent at once, and works.
    let mut s = ask_for_email(&env, "jane");
    let fresh = code_in(&smtp.wait_message(2));
    s.answer(&fresh);
    assert!(s.finish().succeeded());
}

#[test]
fn an_email_only_user_gets_a_code_without_asking() {
    let (env, smtp) = setup("");
    env.enroll_with("bob", None, Some("bob@district.org"));
    let mut s = Session::start(&env, "bob");
    assert_eq!(s.said("info"), "A verification code was sent to b***@district.org. It is valid for 10 minutes.");
    s.prompt(PLAIN);
    s.answer(&code_in(&smtp.wait_message(1)));
    assert!(s.finish().succeeded());
}

#[test]
fn each_wrong_email_code_counts_towards_the_lockout() {
    let (env, smtp) = setup("[lockout]\ndeny = 2");
    env.enroll_with("bob", None, Some("bob@district.org"));
    let s = Session::start(&env, "bob");
    let code = code_in(&smtp.wait_message(1));
    drop(s);
    let wrong = if code == "000000" { "000001" } else { "000000" };

    let t = env.login("bob", &[wrong]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains("Incorrect verification code. 1 attempt remains"), "{t:?}");
    let t = env.login("bob", &[wrong]);
    assert!(t.said().contains("Too many incorrect codes. Try again after "), "{t:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=wrong_code method=email")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("event=lock")), "{logs:?}");

    // Locked: not even asked, and no mail goes out.
    let t = env.login("bob", &[&code]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.prompts().is_empty(), "{t:?}");
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn the_address_template_gives_users_without_an_address_one() {
    let (env, smtp) = setup("address_template = \"{user}@test.example\"");
    env.enroll("alice");
    let mut s = ask_for_email(&env, "alice");
    let message = smtp.wait_message(1);
    assert_eq!(header(&message, "To"), Some("alice@test.example"));
    s.answer(&code_in(&message));
    assert!(s.finish().succeeded());
}

#[test]
fn without_an_address_the_prompt_offers_no_email_and_asking_for_one_is_not_a_failure() {
    let (env, smtp) = setup("");
    env.enroll("alice");
    let t = env.login("alice", &["email"]);
    assert_eq!(t.prompts(), [PLAIN, PLAIN], "asked again after the refusal: {t:?}");
    assert_eq!(t.result, "PAM_CONV_ERR", "Ctrl-D at the second prompt: {t:?}");
    assert!(t.said().contains("Codes by email are not set up for your account."), "{t:?}");
    assert!(env.store().tally("alice").unwrap().failures.is_empty(), "not counted");
    assert!(env.log_lines().iter().any(|l| l.contains("result=not_set_up method=email")));
    assert!(smtp.messages().is_empty());
}

#[test]
fn the_totp_code_still_works_after_an_email_was_sent() {
    let (env, smtp) = setup("");
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    let mut s = ask_for_email(&env, "jane");
    smtp.wait_message(1);
    s.answer(&code(SECRET, 0));
    assert!(s.finish().succeeded());
    assert!(env.log_lines().iter().any(|l| l.contains("result=success method=totp")));
}

/// A session where `email` is typed and the mail command fails: returns the transcript and how long it took.
fn failed_send(env: &Env) -> (Transcript, Duration) {
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    let started = Instant::now();
    let t = env.login("jane", &["email", &code(SECRET, 0)]);
    (t, started.elapsed())
}

const SEND_FAILED: &str =
    "The code could not be sent by email (the mail system failed). Try again later or contact your administrator.";

#[test]
fn a_hung_mail_command_is_killed_after_the_timeout_and_the_login_refused() {
    let env = Env::new("");
    let pidfile = env.path().join("sleeper.pid");
    // The sleeper is a grandchild holding the output pipe: it must die too.
    let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
    env.write_config(&format!("[email]\ncommand = [\"/bin/sh\", \"-c\", {script:?}]\ntimeout = 1\n"));
    let (t, took) = failed_send(&env);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert_eq!(t.prompts().len(), 1, "refused at once, not asked for a code: {t:?}");
    assert!(t.said().contains(SEND_FAILED), "{t:?}");
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(8), "{took:?}");
    let logs = env.log_lines();
    assert!(
        logs.iter().any(|l| l.contains("result=mail_failed") && l.contains("did not finish within 1 seconds")),
        "{logs:?}"
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
        if stat.split(") ").nth(1).is_none_or(|s| s.starts_with('Z')) {
            break;
        }
        assert!(Instant::now() < deadline, "the hung command's child still runs: {stat}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Nothing was sent, so nothing blocks a new request.
    assert_eq!(env.store().tally("jane").unwrap().email_code, None);
}

#[test]
fn a_failing_mail_command_refuses_the_login_with_a_clear_message_and_a_log_line() {
    let env = Env::new("[email]\ncommand = [\"/bin/sh\", \"-c\", \"echo 'relay access denied' >&2; exit 1\"]");
    let (t, _) = failed_send(&env);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains(SEND_FAILED), "{t:?}");
    let logs = env.log_lines();
    let line = logs.iter().find(|l| l.contains("result=mail_failed")).unwrap_or_else(|| panic!("{logs:?}"));
    assert!(line.contains("exit status 1") && line.contains("relay access denied"), "{line}");
    assert!(line.contains("user=jane") && line.contains("method=email"), "{line}");
}

#[test]
fn a_missing_mail_command_is_named_in_the_log() {
    let env = Env::new("[email]\ncommand = [\"/nonexistent/sendmail\", \"-t\", \"-i\"]");
    let (t, _) = failed_send(&env);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains(SEND_FAILED), "{t:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("/nonexistent/sendmail does not exist")), "{logs:?}");
}

#[test]
fn twostep_email_sets_and_clears_the_address() {
    let (env, smtp) = setup("");
    env.enroll("alice");
    let out = env.twostep(&["email", "alice", "alice@district.org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Codes for alice will be sent to alice@district.org."));
    let s: serde_json::Value = serde_json::from_str(&stdout(&env.twostep(&["status", "alice", "--json"]))).unwrap();
    assert_eq!(s["email"], "a***@district.org");
    assert_eq!(s["methods"], serde_json::json!(["totp", "email"]));
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice action=email_set")));

    let mut session = ask_for_email(&env, "alice");
    session.answer(&code_in(&smtp.wait_message(1)));
    assert!(session.finish().succeeded());

    let out = env.twostep(&["email", "alice", "--clear"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_str(&stdout(&env.twostep(&["status", "alice", "--json"]))).unwrap();
    assert_eq!(s["email"], serde_json::Value::Null);
    assert_eq!(env.login("alice", &[]).prompts(), [PLAIN]);
}

#[test]
fn twostep_email_for_a_new_user_makes_an_email_only_user_whose_address_cannot_be_cleared() {
    let (env, smtp) = setup("");
    let out = env.twostep(&["email", "bob", "bob@district.org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("no authenticator app"), "{}", stdout(&out));
    let mut s = Session::start(&env, "bob");
    assert!(s.said("info").starts_with("A verification code was sent to b***@district.org"));
    s.prompt(PLAIN);
    s.answer(&code_in(&smtp.wait_message(1)));
    assert!(s.finish().succeeded());

    let out = env.twostep(&["email", "bob", "--clear"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("only second factor"), "{}", stderr(&out));
}

#[test]
fn invalid_addresses_are_refused_with_a_clear_error() {
    let env = Env::new("");
    env.enroll("alice");
    let long = format!("{}@district.org", "a".repeat(250));
    for (bad, why) in [
        ("jane@district.org\r\nBcc: all@district.org", "control characters"),
        ("jane@district.org\nBcc: all@district.org", "control characters"),
        ("jane.district.org", "no @"),
        ("jane@", "domain"),
        (long.as_str(), "longer than 254"),
        ("jane@district.org, eve@evil.example", "spaces"),
    ] {
        for args in [vec!["email", "alice", bad], vec!["enroll", "carol", "--email", bad]] {
            let out = env.twostep(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?} {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.starts_with("twostep: invalid email address") && err.contains(why), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        }
    }
    assert!(env.store().record("alice").unwrap().unwrap().email.is_none());
    assert!(env.store().record("carol").unwrap().is_none());
    // Neither an address nor --clear, or both: usage errors.
    assert_eq!(env.twostep(&["email", "alice"]).status.code(), Some(2));
    assert_eq!(env.twostep(&["email", "alice", "a@b.org", "--clear"]).status.code(), Some(2));
}

#[test]
fn enroll_with_email_records_the_address() {
    let env = Env::new("");
    let out = env.twostep(&["enroll", "dave", "--email", "dave@district.org", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.store().record("dave").unwrap().unwrap().email.as_deref(), Some("dave@district.org"));
}

#[test]
fn an_openssh_user_gets_in_with_a_code_by_email_through_sshd() {
    let (env, smtp) = setup("");
    let user = e2e::TestUser::new();
    env.enroll_with(&user.name, Some(SECRET), Some("jane@district.org"));
    let sshd =
        e2e::Sshd::start(&env, &user, "pam-config/pam.d/sshd", "pam-config/sshd_config.d/10-twostep-password.conf");
    let argv = sshd.ssh_argv(&user, "keyboard-interactive", &[], "echo logged-in-as-$(id -un)");
    let mail = smtp.file(1, "eml");
    let run = e2e::pty(
        &argv,
        &[
            ("Password: ", vec![user.password.clone()]),
            (WITH_EMAIL, vec!["email".into()]),
            (PLAIN, vec![e2e::from_file(&mail, r"code is:\s+(\d{6})")]),
        ],
        &[],
    );
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    assert!(run.transcript.contains(&format!("logged-in-as-{}", user.name)), "{run:?}");
    assert!(run.transcript.contains("A verification code was sent to j***@district.org."), "{run:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=success method=email")), "{logs:?}");
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn a_host_that_ignores_sigchld_still_sees_the_mail_command_succeed() {
    // With SIGCHLD ignored the kernel reaps children at once, so a plain wait
    // could not get the mail command's status: the module must restore the
    // default action while the command runs (as pam_unix does around its helper).
    let (env, smtp) = setup("");
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    let ignoring =
        "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])";
    let child = Command::new("/usr/bin/python3")
        .args(["-c", ignoring])
        .arg(pamdrive_bin())
        .args(["--confdir", env.confdir.to_str().unwrap(), "--service", SERVICE, "--user", "jane"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = Session::of(child);
    s.prompt(WITH_EMAIL);
    s.answer("email");
    assert!(s.said("info").starts_with("A verification code was sent to "), "{:?}", s.seen);
    s.prompt(PLAIN);
    s.answer(&code_in(&smtp.wait_message(1)));
    assert!(s.finish().succeeded());
}

#[test]
fn a_failing_mail_command_that_echoes_the_message_does_not_put_the_code_in_the_log() {
    let env = Env::new("[email]\ncommand = [\"/bin/sh\", \"-c\", \"cat >&2; exit 1\"]");
    let (t, _) = failed_send(&env);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    let logs = env.log_lines();
    let line = logs.iter().find(|l| l.contains("result=mail_failed")).unwrap_or_else(|| panic!("{logs:?}"));
    assert!(line.contains("Your verification code is: [code] Enter it"), "{line}");
}

/// Run by the test below in front of pamdrive: sets up what a hostile caller of
/// a setuid host (`su`) hands down, then execs `setpriv` (real uid and gid
/// nobody, effective root, supplementary group `users`, like su) → pamdrive.
const HOSTILE_CALLER: &str = r#"
import fcntl, os, resource, signal, sys, termios
marker = os.open(sys.argv[1], os.O_RDONLY)
os.dup2(marker, 7)    # dup2 makes inheritable (no close-on-exec) descriptors
os.dup2(marker, 900)  # above the lowered descriptor limit
os.close(marker)
_, tty = os.openpty()
os.setsid()
fcntl.ioctl(tty, termios.TIOCSCTTY, 0)  # a controlling terminal the caller owns
# Lowered hard limits only where root may raise them again (CAP_SYS_RESOURCE; not in every container).
fsize_hard, nofile_hard = (4096, 64) if os.environ["CAN_RAISE"] == "1" else (-1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, fsize_hard))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, nofile_hard))
resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
os.umask(0)
os.nice(5)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGRTMIN + 2):
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGALRM})
setpriv = ["/usr/bin/setpriv", "--ruid=65534", "--euid=0", "--rgid=65534", "--egid=0", "--groups=100"]
os.execv(setpriv[0], setpriv + sys.argv[2:])
"#;

#[test]
fn the_mail_command_starts_clean_of_what_a_setuid_hosts_caller_chose() {
    let env = Env::new("");
    let report = env.path().join("report");
    let marker = env.path().join("inherited-marker");
    std::fs::write(&marker, "").unwrap();
    // Whatever the mail command got, one line each; /proc/$$/status is read with
    // builtins only, as dash blocks signals around a fork.
    let probe = format!(
        "exec > {} 2>&1; id -ru; id -rg; umask; ulimit -f; ulimit -n; ulimit -Hn; ulimit -c; \
         while read -r k v; do case $k in Groups:|SigBlk:|SigIgn:) echo $k $v;; esac; done < /proc/$$/status; cut -d' ' -f1,6,7,19 /proc/$$/stat; \
         ls -l /proc/$$/fd",
        report.display()
    );
    env.write_config(&format!("[email]\ncommand = [\"/bin/sh\", \"-c\", {probe:?}]\n"));
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim();
    let can_raise = u64::from_str_radix(caps, 16).unwrap() & (1 << 24) != 0; // CAP_SYS_RESOURCE
    let child = Command::new("/usr/bin/python3")
        .args(["-c", HOSTILE_CALLER])
        .env("CAN_RAISE", if can_raise { "1" } else { "0" })
        .arg(&marker)
        .arg(pamdrive_bin())
        .args(["--confdir", env.confdir.to_str().unwrap(), "--service", SERVICE, "--user", "jane"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = Session::of(child);
    s.prompt(WITH_EMAIL);
    s.answer("email");
    let sent = s.next();
    assert!(sent.text.starts_with("A verification code was sent to "), "{sent:?}\n{:?}", env.log_lines());
    s.prompt(PLAIN);
    drop(s.finish());

    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let fields = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(&lines[..7], ["0", "0", "0077", "unlimited", "1024", "4096", "0"], "uids, umask, limits: {text}");
    assert_eq!(fields(lines[7]), ["Groups:"], "no supplementary groups: {text}");
    assert_eq!(fields(lines[8]), ["SigBlk:", "0000000000000000"], "no blocked signals: {text}");
    assert_eq!(fields(lines[9]), ["SigIgn:", "0000000000000000"], "no ignored signals: {text}");
    let stat = fields(lines[10]);
    assert_eq!(stat[0], stat[1], "a session of its own: {text}");
    assert_eq!(stat[2..], ["0", "0"], "no controlling terminal, nice 0: {text}");
    let fds = &lines[12..];
    assert!(!text.contains("inherited-marker"), "inherited descriptors are closed: {text}");
    assert!(!fds.iter().any(|l| l.contains(" 7 -> ") || l.contains(" 900 -> ")), "{text}");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&report).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "umask 077 applied to what the command creates");
}

/// `[email]` sending through msmtp to `port` with the sender `from`, the
/// envelope sender given to msmtp as `{from}` (the bare address).
fn msmtp_config(port: u16, from: &str, extra: &str) -> String {
    format!(
        "[email]\ncommand = [\"/usr/bin/msmtp\", \"--host=127.0.0.1\", \"--port={port}\", \"--from={{from}}\", \"-t\"]\nfrom = \"{from}\"\n{extra}\n"
    )
}

#[test]
fn a_test_message_arrives_through_msmtp_from_the_display_name_and_bare_envelope_sender() {
    let (env, smtp) = setup("");
    env.write_config(&msmtp_config(smtp.port, "District IT <it@test.example>", ""));
    env.enroll_with("jane", Some(SECRET), Some("jane.doe@district.org"));
    let out = env.twostep(&["email", "jane", "--test"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(said.starts_with("Sent a test message to jane.doe@district.org from it@test.example."), "{said}");
    assert!(said.lines().all(|l| l.chars().count() <= 72), "{said}");

    let message = smtp.wait_message(1);
    assert_eq!(smtp.recipients(1).trim(), "jane.doe@district.org");
    assert_eq!(smtp.envelope_sender(1).trim(), "it@test.example", "the bare address, not the display name");
    assert_eq!(header(&message, "From"), Some("\"District IT\" <it@test.example>"));
    assert_eq!(header(&message, "To"), Some("jane.doe@district.org"));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    assert_eq!(header(&message, "Subject"), Some(format!("Test message: verification codes for {host}").as_str()));
    assert!(message.contains("This is a test message") && message.contains("no code in it"), "{message}");
    let body = message.replace("\r\n", "\n");
    let body = body.split_once("\n\n").unwrap().1;
    assert!(!body.split(|c: char| !c.is_ascii_digit()).any(|w| w.len() >= 6), "nothing like a code: {body}");
    assert!(env.log_lines().iter().any(|l| l.contains("user=jane action=email_test ")), "{:?}", env.log_lines());
    // Nothing about jane's login state changed: no code is pending, nothing is counted.
    let tally = env.store().tally("jane").unwrap();
    assert_eq!((tally.email_code, tally.failures.len()), (None, 0));
}

#[test]
fn a_test_message_goes_to_the_template_address_of_a_user_without_one() {
    let (env, smtp) = setup("");
    env.write_config(&msmtp_config(smtp.port, FROM, "address_template = \"{user}@district.org\""));
    let out = env.twostep(&["email", "newhire", "--test"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("address_template") && said.contains("newhire is not enrolled"), "{said}");
    smtp.wait_message(1);
    assert_eq!(smtp.recipients(1).trim(), "newhire@district.org");
    assert!(env.store().record("newhire").unwrap().is_none(), "a test creates no record");
}

#[test]
fn a_test_message_the_mail_system_refuses_is_reported_with_the_commands_error_and_exit_1() {
    let env = Env::new("");
    env.enroll_with("jane", Some(SECRET), Some("jane@district.org"));
    // Nothing listens on this port: msmtp cannot connect.
    let port = e2e::free_port();
    env.write_config(&msmtp_config(port, FROM, ""));
    let out = env.twostep(&["email", "jane", "--test"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("twostep: the test message to jane@district.org was not sent: "), "{err}");
    assert!(err.contains("mail command /usr/bin/msmtp failed with exit status") && err.contains("127.0.0.1"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(env.log_lines().iter().any(|l| l.contains("user=jane action=email_test_failed")));

    // No address at all: said, and nothing is run.
    env.write_config("[email]\ncommand = [\"/nonexistent/sendmail\"]");
    let out = env.twostep(&["email", "bob", "--test"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "twostep: bob has no email address; set one: twostep email bob ADDR\n");
    // --test takes no address and cannot be combined with --clear.
    for args in [&["email", "jane", "--test", "x@y.org"][..], &["email", "jane", "--test", "--clear"]] {
        assert_eq!(env.twostep(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_new_user_sets_up_a_typed_address_at_login_confirmed_through_msmtp() {
    let (env, smtp) = setup("[policy]\nenroll_at_login = true\nenroll_methods = [\"app\", \"email\"]\n");
    let mut s = Session::start(&env, "newbie");
    let menu = s.next();
    assert!(menu.text.contains("\n  email  email to your address"), "{menu:?}");
    let m = s.next();
    assert_eq!((m.style.as_str(), m.text.as_str()), ("prompt_echo_on", "Type app or email: "));
    s.answer("email");
    let m = s.next();
    assert_eq!((m.style.as_str(), m.text.as_str()), ("prompt_echo_on", "Email address: "));
    s.answer("new.user@district.org");
    let sent = s.said("info");
    assert!(sent.starts_with("A code was sent to n***@district.org. It is valid for 10 minutes."), "{sent}");
    s.prompt(PLAIN);
    let message = smtp.wait_message(1);
    assert_eq!(smtp.recipients(1).trim(), "new.user@district.org");
    assert!(env.store().record("newbie").unwrap().is_none(), "nothing saved before the code");
    let code = code_in(&message);
    s.answer(&code);
    assert!(s.said("info").starts_with("Two-step verification is set up."));
    assert!(s.finish().succeeded());
    let rec = env.store().record("newbie").unwrap().unwrap();
    assert_eq!((rec.email.as_deref(), rec.secret.is_some()), (Some("new.user@district.org"), false));
    let logs = env.log_lines();
    let want = "result=contact_verified method=email to=n***@district.org";
    assert!(logs.iter().any(|l| l.contains(want)), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&code)), "{logs:?}");
}
