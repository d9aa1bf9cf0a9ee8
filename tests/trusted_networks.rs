//! `trusted_networks`: a login whose PAM_RHOST is a literal address inside one
//! of them is not asked for a code (PAM_IGNORE), through real libpam
//! (pamdrive `--rhost`) and through a real sshd listening on 127.0.0.1 and
//! ::1, where sshd itself sets PAM_RHOST from the client's address.

mod common;
mod e2e;

use common::*;
use e2e::*;

const CODE: &str = "Verification code: ";
const PASSWORD: &str = "Password: ";
const NETWORKS: &str = "[policy]\ntrusted_networks = [\"10.20.0.0/16\", \"2001:db8::/32\"]";

/// A login of `user` from `rhost` (none when empty) that answers no prompt.
fn from(env: &Env, service: &str, user: &str, rhost: &str) -> Transcript {
    let extra: &[&str] = if rhost.is_empty() { &[] } else { &["--rhost", rhost] };
    env.login_service(service, user, &[], extra)
}

#[test]
fn a_login_from_a_trusted_network_is_not_asked_and_the_log_names_rhost_and_network() {
    let env = Env::new(NETWORKS);
    env.enroll("alice");
    for (rhost, net) in [
        ("10.20.1.2", "10.20.0.0/16"),
        ("::ffff:10.20.1.2", "10.20.0.0/16"),
        ("2001:db8::7", "2001:db8::/32"),
        ("[2001:db8::7]", "2001:db8::/32"),
    ] {
        // Alone in its stack the module's PAM_IGNORE leaves libpam nothing that said yes...
        let t = from(&env, SERVICE, "alice", rhost);
        assert_eq!((t.result.as_str(), t.messages.len()), (IGNORED, 0), "{rhost}: {t:?}");
        // ...followed by pam_permit, the login succeeds without a word.
        let t = from(&env, STACKED, "alice", rhost);
        assert!(t.succeeded() && t.messages.is_empty(), "{rhost}: {t:?}");
        let logs = env.log_lines();
        assert_eq!(logs.len(), 2, "{logs:?}");
        let want = format!(
            "user=alice service={SERVICE} rhost={rhost} result=ignored method=none reason=\"trusted network {net}\""
        );
        assert!(logs[0].ends_with(&want), "{logs:?}\nwant {want}");
    }
    // An unenrolled user, who would be refused (required = true), is let through too.
    assert!(from(&env, STACKED, "nobody", "10.20.9.9").succeeded());
}

#[test]
fn host_names_empty_scoped_and_outside_addresses_are_asked_for_a_code() {
    let env = Env::new(&format!("{NETWORKS}\n[lockout]\ndeny = 0"));
    env.enroll("alice");
    for rhost in ["", "10.21.0.1", "10.19.255.255", "2001:db9::1", "office.example.org", "fe80::1%eth0", "10.20.1.2:22"]
    {
        let t = from(&env, STACKED, "alice", rhost);
        assert_eq!(t.prompts(), [CODE], "{rhost:?}: {t:?}");
        assert!(!t.succeeded(), "{rhost:?}: {t:?}");
    }
    let code = code(SECRET, 0);
    let t = env.login_service(STACKED, "alice", &[&code], &["--rhost", "10.21.0.1"]);
    assert!(t.succeeded(), "{t:?}");
}

#[test]
fn a_service_table_replaces_the_policy_list() {
    let env = Env::new(&format!(
        "{NETWORKS}\n[services.{SERVICE}]\ntrusted_networks = []\n[services.{STACKED}]\ntrusted_networks = [\"192.0.2.0/24\"]"
    ));
    env.enroll("alice");
    assert_eq!(from(&env, SERVICE, "alice", "10.20.1.2").prompts(), [CODE], "the empty list turns it off");
    assert_eq!(from(&env, STACKED, "alice", "10.20.1.2").prompts(), [CODE], "not extended by [policy]'s");
    assert!(from(&env, STACKED, "alice", "192.0.2.99").succeeded());
}

#[test]
fn an_invalid_network_refuses_every_login_and_the_log_names_key_and_value() {
    let env = Env::new("[policy]\ntrusted_networks = [\"10.20.0.0/16\", \"10.20.0.0/33\"]");
    env.enroll("alice");
    for rhost in ["10.20.1.2", "192.0.2.7"] {
        let t = from(&env, STACKED, "alice", rhost);
        assert!(!t.succeeded() && t.prompts().is_empty(), "{t:?}");
        assert!(t.said().contains("Two-step verification is unavailable"), "{t:?}");
    }
    let logs = env.log_lines();
    assert!(
        logs.iter().all(|l| l.contains("result=unavailable")
            && l.contains("trusted_networks: \\\"10.20.0.0/33\\\" is not a network")),
        "{logs:?}"
    );
}

/// The acceptance test: sshd on 127.0.0.1 and ::1, one network trusted at a
/// time; only the login from inside it skips the code (the config is read at
/// every login, so one sshd serves both halves).
#[test]
fn through_sshd_only_the_trusted_loopback_family_skips_the_code() {
    let env = Env::new("[policy]\ntrusted_networks = [\"127.0.0.0/8\"]");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start_with(
        &env,
        &[&user.name],
        "pam-config/pam.d/sshd",
        &e2e::shipped("pam-config/sshd_config.d/10-twostep-password.conf"),
        "ListenAddress ::1\n",
    );
    assert!(sshd.log_text().contains(&format!("Server listening on ::1 port {}", sshd.port)), "{}", sshd.log_text());
    let codes_used = std::cell::Cell::new(0);
    let login = |host: &str, with_code: bool| {
        let mut answers = vec![(PASSWORD, vec![user.password.clone()])];
        if with_code {
            // A code is accepted once: each login with a code uses the next step.
            answers.push((CODE, vec![code(SECRET, codes_used.get())]));
            codes_used.set(codes_used.get() + 1);
        }
        let run = paramiko_at(host, &sshd, &user, None, &answers, "id -un");
        assert!(run.ok, "{host}: {run:?}\n{}", sshd.log_text());
        assert_eq!(run.stdout.trim(), user.name);
        run.prompts().into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let service = sshd.service().to_string();
    let line =
        |rhost: &str, result: &str| format!("user={} service={service} rhost={rhost} result={result}", user.name);

    assert_eq!(login("127.0.0.1", false), [PASSWORD], "trusted: the password alone");
    assert_eq!(login("::1", true), [PASSWORD, CODE], "::1 is not in 127.0.0.0/8");
    let logs = env.log_lines();
    assert!(
        logs.iter().any(|l| l.contains(&line("127.0.0.1", "ignored"))
            && l.ends_with("reason=\"trusted network 127.0.0.0/8\"")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.contains(&line("::1", "success"))), "{logs:?}");

    env.write_config("[policy]\ntrusted_networks = [\"::1/128\"]");
    assert_eq!(login("::1", false), [PASSWORD], "trusted: the password alone");
    assert_eq!(login("127.0.0.1", true), [PASSWORD, CODE], "127.0.0.1 is not in ::1/128");
    let logs = env.log_lines();
    assert!(
        logs.iter().any(|l| l.contains(&line("::1", "ignored")) && l.ends_with("reason=\"trusted network ::1/128\"")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.contains(&line("127.0.0.1", "success"))), "{logs:?}");
}
