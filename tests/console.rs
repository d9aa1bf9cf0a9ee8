//! End to end on the console: the real `login` and `su` under a pty, with
//! their PAM service file changed by the shipped pam-config/pam.d/login
//! snippet only inside a private mount namespace (`unshare -m` + a bind mount
//! over /etc/pam.d/SERVICE). The machine's own /etc/pam.d stays untouched.

mod common;
mod e2e;

use common::*;
use e2e::*;

const SNIPPET: &str = "pam-config/pam.d/login";

/// argv that runs `program args…` in a private mount namespace in which
/// /etc/pam.d/`service` is the distribution's file with the shipped snippet applied.
fn in_namespace(env: &Env, service: &str, program: &[&str]) -> Vec<String> {
    let distro = format!("/etc/pam.d/{service}");
    let text = apply_snippet(&std::fs::read_to_string(&distro).unwrap(), &shipped(SNIPPET), env);
    let file = env.path().join(unique("pam-"));
    std::fs::write(&file, text).unwrap();
    let mut argv: Vec<String> = ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.push("mount --bind \"$0\" \"$1\" && shift && exec \"$@\"".into());
    argv.push(file.to_str().unwrap().into());
    argv.push(distro);
    argv.extend(program.iter().map(|s| s.to_string()));
    argv
}

fn untouched(service: &str) {
    let text = std::fs::read_to_string(format!("/etc/pam.d/{service}")).unwrap();
    assert!(!text.contains("twostep"), "/etc/pam.d/{service} was changed outside the namespace");
}

#[test]
fn console_login_asks_for_password_then_code_and_opens_a_shell() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let argv = in_namespace(&env, "login", &["/usr/bin/login", &user.name]);
    let run = pty(
        &argv,
        &[
            ("Password: ", vec![user.password.clone()]),
            ("Verification code: ", vec![code(SECRET, 0)]),
            ("$ ", vec!["echo console-ok-$(id -un); exit".into()]),
        ],
        &[],
    );
    untouched("login");
    let t = &run.transcript;
    assert!(t.contains(&format!("console-ok-{}", user.name)), "{run:?}");
    assert!(t.find("Password: ").unwrap() < t.find("Verification code: ").unwrap(), "{run:?}");
    let logs = env.log_lines();
    assert!(
        logs.iter().any(|l| l.contains(&format!("user={} service=login rhost=- result=success", user.name))),
        "{logs:?}"
    );
}

#[test]
fn su_with_a_wrong_code_is_refused_and_says_why() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    // su from root never asks (pam_rootok); run it as an ordinary user, as staff would.
    let argv = in_namespace(
        &env,
        "su",
        &[
            "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/su",
            "-c",
            "echo su-ok",
            &user.name,
        ],
    );
    let wrong = wrong_code(SECRET);
    let run = pty(
        &argv,
        &[("Password: ", vec![user.password.clone()]), ("Verification code: ", vec![wrong.clone()])],
        &[("LC_ALL", "C")],
    );
    untouched("su");
    assert!(run.transcript.contains("Incorrect verification code. 4 attempts remain"), "{run:?}");
    assert!(run.transcript.contains("su: Authentication failure"), "{run:?}");
    assert!(!run.transcript.contains("su-ok"), "{run:?}");
    assert_ne!(run.exit, Some(0));

    // And the right code lets the user through.
    let run =
        pty(&argv, &[("Password: ", vec![user.password.clone()]), ("Verification code: ", vec![code(SECRET, 1)])], &[]);
    assert!(run.transcript.contains("su-ok"), "{run:?}");
    assert_eq!(run.exit, Some(0), "{run:?}");
}
