//! The directory backend against a real, private slapd (Debian's slapd and
//! ldap-utils): three "servers" (three configs, three PAM service dirs) share
//! one directory. Skipped (with a note) when slapd is not installed.
//!
//! slapd runs as the test with a throwaway mdb database, the OATH-LDAP
//! schema from the `otp` module, the shipped `pam-config/ldap/twostep.schema`
//! and an ACL in the shipped shape; it listens on `ldapi://` only and is
//! stopped by PID when the guard drops (also when a test fails).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BASE: &str = "dc=example,dc=org";
const SERVICE_DN: &str = "cn=twostep,ou=services,dc=example,dc=org";
const SERVICE_PW: &str = "service-secret";

struct Slapd {
    dir: tempfile::TempDir,
    pid: Option<u32>,
    uri: String,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn slapd_installed() -> bool {
    Path::new("/usr/sbin/slapd").exists() && Path::new("/usr/bin/ldapmodify").exists()
}

impl Slapd {
    fn start() -> Slapd {
        let dir = tempfile::Builder::new().prefix("twostep-slapd-").tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let acl = std::fs::read_to_string(repo.join("pam-config/ldap/acl.conf"))
            .unwrap()
            .replace("SERVICE", SERVICE_DN)
            .replace("PARAMS", &format!("cn=twostep-totp,{BASE}"));
        let conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload otp\n\
             include {schema}\npidfile {d}/slapd.pid\n\
             database mdb\nsuffix \"{BASE}\"\nrootdn \"cn=admin,{BASE}\"\nrootpw admin\n\
             directory {d}/db\noverlay otp\n{acl}\n",
            schema = repo.join("pam-config/ldap/twostep.schema").display(),
            d = d.display(),
        );
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let params =
            std::fs::read_to_string(repo.join("pam-config/ldap/totp-params.ldif")).unwrap().replace("BASE_DN", BASE);
        let data = format!(
            "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
             dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n\n\
             dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n\
             cn: twostep\nuserPassword: {SERVICE_PW}\n\n\
             dn: uid=alice,ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice\nsn: A\n\
             userPassword: alice-pw\n\n\
             dn: uid=bob,ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\nsn: B\n\
             userPassword: bob-pw\n\n{params}\n"
        );
        std::fs::write(d.join("data.ldif"), data).unwrap();
        let out = Command::new("/usr/sbin/slapadd")
            .args(["-f", d.join("slapd.conf").to_str().unwrap(), "-l", d.join("data.ldif").to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "slapadd: {}", String::from_utf8_lossy(&out.stderr));
        let socket = d.join("ldapi");
        let uri = format!("ldapi://{}", socket.to_str().unwrap().replace('/', "%2F"));
        let mut s = Slapd { dir, pid: None, uri };
        s.run();
        s
    }

    fn run(&mut self) {
        let d = self.dir.path();
        let child = Command::new("/usr/sbin/slapd")
            .args(["-f", d.join("slapd.conf").to_str().unwrap(), "-h", &self.uri, "-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.pid = Some(child.id());
        // Reaped by nobody until stop(): keep the handle's pid only.
        std::mem::forget(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !d.join("ldapi").exists() {
            assert!(Instant::now() < deadline, "slapd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = nix::sys::wait::waitpid(pid, None);
            let _ = std::fs::remove_file(self.dir.path().join("ldapi"));
        }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid.unwrap() as i32);
        nix::sys::signal::kill(pid, sig).unwrap();
    }

    /// The password file the servers share (root's, 0600, no newline).
    fn password_file(&self) -> PathBuf {
        let p = self.dir.path().join("service.pw");
        std::fs::write(&p, SERVICE_PW).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    fn ldap_config(&self, timeout: u64) -> String {
        format!(
            "[store]\nbackend = \"ldap\"\n[ldap]\nuris = [\"{}\"]\nbase_dn = \"{BASE}\"\nuser_filter = \"(&(objectClass=inetOrgPerson)(uid={{user}}))\"\n\
             bind_dn = \"{SERVICE_DN}\"\npassword_file = \"{}\"\ntimeout = {timeout}\n",
            self.uri,
            self.password_file().display()
        )
    }

    /// `dn`'s attributes as the directory manager sees them.
    fn read(&self, dn: &str) -> String {
        let out = Command::new("/usr/bin/ldapsearch")
            .args([
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                &self.uri,
                "-x",
                "-D",
                &format!("cn=admin,{BASE}"),
                "-w",
                "admin",
            ])
            .args(["-b", dn, "-s", "base", "(objectClass=*)", "*"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Three servers on one directory.
fn servers(slapd: &Slapd, timeout: u64) -> Vec<Env> {
    (0..3).map(|_| Env::new(&slapd.ldap_config(timeout))).collect()
}

macro_rules! need_slapd {
    () => {
        if !slapd_installed() {
            eprintln!("skipped: slapd and ldap-utils are not installed");
            return;
        }
    };
}

fn enroll(server: &Env, user: &str) {
    let out = server.twostep_stdin(&["enroll", user, "--secret-stdin"], SECRET);
    assert!(out.status.success(), "enroll: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn enrolled_on_one_server_a_user_logs_in_on_another_and_a_used_code_is_refused_on_a_third() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 5);
    enroll(&s[0], "alice");
    let entry = slapd.read(&format!("uid=alice,ou=people,{BASE}"));
    assert!(entry.contains("objectClass: oathTOTPUser") && entry.contains("oathSecret::"), "{entry}");
    assert!(entry.contains(&format!("oathTOTPParams: cn=twostep-totp,{BASE}")), "{entry}");
    let code = code(SECRET, 0);
    let t = s[1].login("alice", &[&code]);
    assert!(t.succeeded(), "{t:?} {:?}", s[1].log_lines());
    let step = now() / 30;
    let entry = slapd.read(&format!("uid=alice,ou=people,{BASE}"));
    assert!(
        entry.contains(&format!("oathTOTPLastTimeStep: {step}"))
            || entry.contains(&format!("oathTOTPLastTimeStep: {}", step - 1)),
        "{entry}"
    );
    assert!(!entry.contains("twostepLock"), "the lock is released: {entry}");
    let t = s[2].login("alice", &[&code]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(s[2].log_lines().iter().any(|l| l.contains("result=replay")));
    // The admin command reads the same state on any server.
    let out = s[2].twostep(&["status", "alice", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((status["enrolled"].as_bool(), status["failures"].as_u64()), (Some(true), Some(1)), "{status}");
}

#[test]
fn five_wrong_codes_spread_over_three_servers_lock_the_user_everywhere() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 5);
    enroll(&s[0], "alice");
    let wrong = wrong_code(SECRET);
    for i in 0..5 {
        let t = s[i % 3].login("alice", &[&wrong]);
        assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    }
    let entry = slapd.read(&format!("uid=alice,ou=people,{BASE}"));
    assert!(entry.contains("oathFailureCount: 5") && entry.contains("twostepLockedAt:"), "{entry}");
    for server in &s {
        let t = server.login("alice", &[&code(SECRET, 0)]);
        assert!(t.said().contains("Try again after") || t.said().contains("locked"), "{t:?}");
        assert_eq!(t.result, "PAM_AUTH_ERR");
    }
    let out = s[1].twostep(&["unlock", "alice"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s[2].login("alice", &[&code(SECRET, 0)]).succeeded());
}

#[test]
fn concurrent_wrong_codes_from_three_servers_are_all_counted() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 10);
    enroll(&s[0], "alice");
    let out = s[0].twostep_stdin(&["enroll", "bob", "--secret-stdin"], SECRET);
    assert!(out.status.success());
    let wrong = wrong_code(SECRET);
    // bob: 4 at once (under deny = 5, so every one is judged).
    let children: Vec<_> = (0..4).map(|i| s[i % 3].spawn("bob")).collect();
    for child in children {
        assert_eq!(finish(child, &[&wrong]).result, "PAM_AUTH_ERR");
    }
    let entry = slapd.read(&format!("uid=bob,ou=people,{BASE}"));
    assert!(entry.contains("oathFailureCount: 4"), "{entry}");
    // The same right code at the same moment on two servers: one wins.
    let code = code(SECRET, 0);
    let a = s[0].spawn("alice");
    let b = s[1].spawn("alice");
    let (a, b) = (finish(a, &[&code]), finish(b, &[&code]));
    assert_eq!([a.succeeded(), b.succeeded()].iter().filter(|x| **x).count(), 1, "{a:?} {b:?}");
}

#[test]
fn a_stopped_or_hung_directory_refuses_within_the_timeout_and_names_the_uri() {
    need_slapd!();
    let mut slapd = Slapd::start();
    let s = servers(&slapd, 2);
    enroll(&s[0], "alice");
    // Hung: slapd stopped with SIGSTOP accepts nothing.
    slapd.signal(nix::sys::signal::Signal::SIGSTOP);
    let started = Instant::now();
    let t = s[1].login("alice", &[&code(SECRET, 0)]);
    let took = started.elapsed();
    slapd.signal(nix::sys::signal::Signal::SIGCONT);
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "{t:?}");
    assert!(t.said().contains("unavailable"), "{t:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let logs = s[1].log_lines();
    assert!(logs.iter().any(|l| l.contains("result=unavailable") && l.contains(&slapd.uri)), "{logs:?}");
    // Gone: refused at once.
    slapd.stop();
    let t = s[2].login("alice", &[&code(SECRET, 0)]);
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "{t:?}");
    assert!(s[2].log_lines().iter().any(|l| l.contains("directory unavailable")));
    // Back: logins work again.
    slapd.run();
    assert!(s[0].login("alice", &[&code(SECRET, 0)]).succeeded());
}

#[test]
fn slapds_otp_overlay_accepts_a_bind_with_password_and_code_for_a_token_twostep_enrolled() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 5);
    enroll(&s[0], "alice");
    let bind = |pw: &str| {
        Command::new("/usr/bin/ldapwhoami")
            .args(["-H", &slapd.uri, "-x", "-D", &format!("uid=alice,ou=people,{BASE}"), "-w", pw])
            .output()
            .unwrap()
            .status
            .success()
    };
    let code = code(SECRET, 0);
    assert!(!bind("alice-pw"), "the overlay wants the code after the password");
    assert!(bind(&format!("alice-pw{code}")), "password+code binds");
    // The step the overlay used is used for twostep too.
    let t = s[1].login("alice", &[&code]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    // And the reverse: a code twostep accepted does not bind.
    let next = code_at(SECRET, now() / 30 + 1);
    assert!(s[2].login("alice", &[&next]).succeeded());
    assert!(!bind(&format!("alice-pw{next}")));
}
