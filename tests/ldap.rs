//! The directory backend against a real, private slapd (Debian's slapd and
//! ldap-utils): three "servers" (three configs, three PAM service dirs) share
//! one directory. Skipped (with a note) when slapd is not installed.
//!
//! slapd runs as the test with a throwaway mdb database, the OATH-LDAP
//! schema from the `otp` module, the shipped `pam-config/ldap/twostep.schema`
//! and an ACL in the shipped shape; it listens on `ldapi://`, and for the TLS
//! tests also on `ldaps://` and `ldap://` (StartTLS) on loopback ports, with
//! a certificate from a CA the test makes with openssl. It is stopped by PID
//! when the guard drops (also when a test fails).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::smtp::{SmtpSink, code_in};
use common::*;

const BASE: &str = "dc=example,dc=org";
const SERVICE_DN: &str = "cn=twostep,ou=services,dc=example,dc=org";
const SERVICE_PW: &str = "service-secret";

struct Slapd {
    dir: tempfile::TempDir,
    pid: Option<u32>,
    uri: String,
    /// The ldapi URI, then (TLS) `ldaps://127.0.0.1:P`, `ldaps://127.0.0.2:P`, `ldap://127.0.0.1:Q`.
    listen: Vec<String>,
}

/// The TLS side of a [`Slapd::start_tls`]: its URIs and the CA files.
struct Tls {
    ldaps: String,
    /// The same server under an address its certificate does not name.
    ldaps_other_host: String,
    starttls: String,
    ca: PathBuf,
    other_ca: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A self-signed CA, `NAME.pem` and `NAME.key`, valid for a day.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (key, pem, subject) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN=twostep test {name}"));
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        dir,
        &[&["req", "-x509"][..], &ec, &["-keyout", &key, "-out", &pem, "-days", "1", "-subj", &subject]].concat(),
    );
    dir.join(pem)
}

/// `server.pem`/`server.key`, signed by CA `ca`, naming only 127.0.0.1.
fn make_server_cert(dir: &Path, ca: &str) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        dir,
        &[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat(),
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n").unwrap();
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        &["x509", "-req", "-in", "server.csr", "-CA", &ca_pem, "-CAkey", &ca_key, "-CAcreateserial"][..]
            .iter()
            .copied()
            .chain(["-out", "server.pem", "-days", "1", "-extfile", "server.ext"])
            .collect::<Vec<_>>(),
    );
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
    /// slapd on `ldapi://` only.
    fn start() -> Slapd {
        Slapd::start_with(false).0
    }

    /// slapd on `ldapi://`, `ldaps://` and `ldap://` with StartTLS.
    fn start_tls() -> (Slapd, Tls) {
        let (s, tls) = Slapd::start_with(true);
        (s, tls.unwrap())
    }

    fn start_with(with_tls: bool) -> (Slapd, Option<Tls>) {
        let dir = tempfile::Builder::new().prefix("twostep-slapd-").tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        let tls = with_tls.then(|| {
            let ca = make_ca(d, "ca");
            let other_ca = make_ca(d, "other-ca");
            make_server_cert(d, "ca");
            let (p, q) = (free_port(), free_port());
            Tls {
                ldaps: format!("ldaps://127.0.0.1:{p}"),
                ldaps_other_host: format!("ldaps://127.0.0.2:{p}"),
                starttls: format!("ldap://127.0.0.1:{q}"),
                ca,
                other_ca,
            }
        });
        let tls_conf = if tls.is_some() {
            format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\n",
                d = d.display()
            )
        } else {
            String::new()
        };
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let acl = std::fs::read_to_string(repo.join("pam-config/ldap/acl.conf"))
            .unwrap()
            .replace("SERVICE", SERVICE_DN)
            .replace("PARAMS", &format!("cn=twostep-totp,{BASE}"));
        let conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload otp\n\
             include {schema}\npidfile {d}/slapd.pid\n{tls_conf}\
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
             mail: alice@example.org\nuserPassword: alice-pw\n\n\
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
        let mut listen = vec![uri.clone()];
        if let Some(t) = &tls {
            listen.extend([t.ldaps.clone(), t.ldaps_other_host.clone(), t.starttls.clone()]);
        }
        let mut s = Slapd { dir, pid: None, uri, listen };
        s.run();
        (s, tls)
    }

    fn run(&mut self) {
        let d = self.dir.path();
        let child = Command::new("/usr/sbin/slapd")
            .args(["-f", d.join("slapd.conf").to_str().unwrap(), "-h", &self.listen.join(" "), "-d", "0"])
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
        self.ldap_config_for(&self.uri, "", timeout)
    }

    /// A config reaching the directory at `uri`, with `extra` lines in `[ldap]`.
    fn ldap_config_for(&self, uri: &str, extra: &str, timeout: u64) -> String {
        format!(
            "[store]\nbackend = \"ldap\"\n[ldap]\n{extra}uris = [\"{}\"]\nbase_dn = \"{BASE}\"\nuser_filter = \"(&(objectClass=inetOrgPerson)(uid={{user}}))\"\n\
             bind_dn = \"{SERVICE_DN}\"\npassword_file = \"{}\"\ntimeout = {timeout}\n",
            uri,
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

/// Spawns one login per server in `servers` (round robin), `n` in all, waits
/// until every one shows its prompt, then answers them all at once with `answer`.
fn released_together(servers: &[Env], user: &str, n: usize, answer: &str) -> Vec<Transcript> {
    let mut sessions: Vec<Session> = (0..n).map(|i| Session::of(servers[i % servers.len()].spawn(user))).collect();
    for s in &mut sessions {
        let m = s.next();
        assert_eq!(m.style, "prompt_echo_off", "{:?}", s.seen);
    }
    for s in &mut sessions {
        s.answer(answer);
    }
    sessions.into_iter().map(Session::finish).collect()
}

#[test]
fn thirty_concurrent_wrong_codes_from_three_servers_are_counted_exactly() {
    need_slapd!();
    let slapd = Slapd::start();
    // deny above 30: no lock stops a login before it is judged.
    let s: Vec<Env> = (0..3).map(|_| Env::new(&format!("{}[lockout]\ndeny = 100\n", slapd.ldap_config(10)))).collect();
    enroll(&s[0], "bob");
    let wrong = wrong_code(SECRET);
    let started = Instant::now();
    let results = released_together(&s, "bob", 30, &wrong);
    let took = started.elapsed();
    let logs: Vec<String> = s.iter().flat_map(Env::log_lines).collect();
    // What is asserted: every login that was judged wrong (PAM_AUTH_ERR,
    // logged result=wrong_code) is counted once, and nothing else is: a login
    // that could not take the entry's lock ends "unavailable" without being
    // judged or counted. Under this load every one of the 30 is judged.
    let judged = results.iter().filter(|t| t.result == "PAM_AUTH_ERR").count();
    let wrong_lines = logs.iter().filter(|l| l.contains("result=wrong_code")).count();
    assert_eq!((judged, wrong_lines), (30, 30), "in {took:?}: {results:?} {logs:?}");
    let entry = slapd.read(&format!("uid=bob,ou=people,{BASE}"));
    assert!(entry.contains("oathFailureCount: 30\n"), "{entry}");
    let failures = entry.lines().find_map(|l| l.strip_prefix("twostepFailures: ")).unwrap();
    assert_eq!(failures.split(' ').count(), 30, "{entry}");
    assert!(!entry.contains("twostepLock"), "every lock was released: {entry}");
    let out = s[2].twostep(&["status", "bob", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["failures"].as_u64(), Some(30), "{status}");
}

#[test]
fn the_same_right_code_at_the_same_moment_on_three_servers_lets_exactly_one_in() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 10);
    enroll(&s[0], "alice");
    let results = released_together(&s, "alice", 3, &code(SECRET, 0));
    assert_eq!(results.iter().filter(|t| t.succeeded()).count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|t| t.result == "PAM_AUTH_ERR").count(), 2, "{results:?}");
    let logs: Vec<String> = s.iter().flat_map(Env::log_lines).collect();
    assert_eq!(logs.iter().filter(|l| l.contains("result=replay")).count(), 2, "{logs:?}");
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

#[test]
fn logins_go_over_ldaps_and_starttls_checked_against_the_ca_in_ca_file() {
    need_slapd!();
    let (slapd, tls) = Slapd::start_tls();
    let ca = format!("ca_file = \"{}\"\n", tls.ca.display());
    let over_ldaps = Env::new(&slapd.ldap_config_for(&tls.ldaps, &ca, 5));
    let over_starttls = Env::new(&slapd.ldap_config_for(&tls.starttls, &format!("{ca}starttls = true\n"), 5));
    enroll(&over_ldaps, "alice");
    let t = over_starttls.login("alice", &[&code(SECRET, 0)]);
    assert!(t.succeeded(), "{t:?} {:?}", over_starttls.log_lines());
    let t = over_ldaps.login("alice", &[&code(SECRET, 1)]);
    assert!(t.succeeded(), "{t:?} {:?}", over_ldaps.log_lines());
    // A URI whose certificate does not verify is passed over for the next one.
    let uris = format!("{}\", \"{}", tls.ldaps_other_host, tls.starttls);
    let fallback = Env::new(&slapd.ldap_config_for(&uris, &format!("{ca}starttls = true\n"), 5));
    let out = fallback.twostep(&["status", "alice", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"enrolled\":true"), "{}", stdout(&out));
}

/// `twostep check` on `server` with an empty PAM directory of its own: the exit status, the text, the findings.
fn check(server: &Env) -> (Option<i32>, String, Vec<String>) {
    let pam = server.path().join("check-pam.d");
    private_dir(&pam);
    let run = |json: &[&str]| server.twostep(&[&["--pam-dir", pam.to_str().unwrap(), "check"][..], json].concat());
    let out = run(&[]);
    let v: serde_json::Value = serde_json::from_slice(&run(&["--json"]).stdout).unwrap();
    let findings = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}: {} | fix: {}", f["severity"].as_str().unwrap(), f["what"].as_str().unwrap(), f["fix"]))
        .collect();
    (out.status.code(), unwrapped(&stdout(&out)), findings)
}

fn found(findings: &[String], words: &[&str]) -> bool {
    findings.iter().any(|f| words.iter().all(|w| f.contains(w)))
}

#[test]
fn twostep_check_reports_the_ldap_files_a_login_would_refuse_and_asks_every_uri() {
    need_slapd!();
    let (slapd, tls) = Slapd::start_tls();
    let ca = format!("ca_file = \"{}\"\n", tls.ca.display());
    // A mail program that exists: nothing else to warn about.
    let conf =
        |uris: &str, ca: &str| format!("{}[email]\ncommand = [\"/bin/true\"]\n", slapd.ldap_config_for(uris, ca, 5));
    let server = Env::new(&conf(&tls.ldaps, &ca));
    enroll(&server, "alice");
    // As set up: passes, says the directory answered, and read the record there.
    let (status, text, findings) = check(&server);
    assert_eq!(status, Some(0), "{text}");
    assert!(text.trim_end().ends_with("twostep check: 0 errors, 0 warnings"), "{text}");
    assert!(found(&findings, &["info: directory reachable: ", &tls.ldaps, BASE]), "{findings:?}");
    assert!(found(&findings, &["info: read 1 record"]), "{findings:?}");

    // A second URI whose certificate does not name its host: a warning naming it and why.
    let uris = format!("{}\", \"{}", tls.ldaps, tls.ldaps_other_host);
    server.write_config(&conf(&uris, &ca));
    let (status, text, findings) = check(&server);
    assert_eq!(status, Some(0), "{text}");
    assert!(found(&findings, &["warning: ", &tls.ldaps_other_host, "TLS: hostname", "other URIs"]), "{findings:?}");

    // A password file others can read and a CA file that is not there: one error each, as a login refuses them.
    let missing = server.path().join("no-such-ca.pem");
    server.write_config(&conf(&tls.ldaps, &format!("ca_file = \"{}\"\n", missing.display())));
    let pw = slapd.dir.path().join("service.pw");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, text, findings) = check(&server);
    assert_eq!(status, Some(1), "{text}");
    let pw_line = format!("[ldap] password_file: {} is insecure: its mode is 0644", pw.display());
    assert!(text.contains(&format!("error: {pw_line}")), "{text}");
    assert!(found(&findings, &[&pw_line, "every login is refused", &format!("fix: \"run chmod 600 {}", pw.display())]));
    let ca_line = format!("[ldap] ca_file: {} does not exist, so every login is refused", missing.display());
    assert!(found(&findings, &[&ca_line, "fix: \"install the directory's CA certificate"]), "{findings:?}");
    assert!(text.trim_end().ends_with("twostep check: 2 errors, 0 warnings"), "{text}");
    let t = server.login("alice", &[&code(SECRET, 0)]);
    assert!(
        !t.succeeded() && t.said().contains("Two-step verification is unavailable"),
        "a login refuses it too: {t:?}"
    );

    // Files right, the password wrong: the server's answer, naming the URI.
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    server.write_config(&conf(&tls.ldaps, &ca));
    std::fs::write(&pw, "not-the-password").unwrap();
    let (status, text, findings) = check(&server);
    assert_eq!(status, Some(1), "{text}");
    assert!(
        found(&findings, &["error: directory ", &tls.ldaps, "LDAP result 49", "bind_dn, password_file"]),
        "{findings:?}"
    );
}

#[test]
fn a_certificate_from_another_ca_or_for_another_host_is_refused_and_the_log_says_why() {
    need_slapd!();
    let (slapd, tls) = Slapd::start_tls();
    let good = Env::new(&slapd.ldap_config_for(&tls.ldaps, &format!("ca_file = \"{}\"\n", tls.ca.display()), 5));
    enroll(&good, "alice");
    let other_ca = format!("ca_file = \"{}\"\n", tls.other_ca.display());
    let ca = format!("ca_file = \"{}\"\n", tls.ca.display());
    for (uri, extra, why) in [
        (&tls.ldaps, other_ca.clone(), "peer cert untrusted"),
        (&tls.starttls, format!("{other_ca}starttls = true\n"), "peer cert untrusted"),
        (&tls.ldaps_other_host, ca, "does not match"),
    ] {
        let server = Env::new(&slapd.ldap_config_for(uri, &extra, 5));
        let t = server.login("alice", &[&code(SECRET, 0)]);
        assert_eq!(t.result, "PAM_SYSTEM_ERR", "{uri}: {t:?}");
        assert!(t.said().contains("unavailable"), "{t:?}");
        let logs = server.log_lines();
        assert!(
            logs.iter().any(|l| l.contains("result=unavailable") && l.contains(uri.as_str()) && l.contains(why)),
            "{uri}: {logs:?}"
        );
        // The admin command says the same.
        let out = server.twostep(&["status", "alice"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
    // Nothing reached the directory from the refused servers: still unused.
    let entry = slapd.read(&format!("uid=alice,ou=people,{BASE}"));
    assert!(!entry.contains("oathTOTPLastTimeStep") && !entry.contains("oathFailureCount"), "{entry}");
    // Plain ldap:// without StartTLS is refused by the config, naming the key.
    let plain = Env::new(&slapd.ldap_config_for(&tls.starttls, &format!("ca_file = \"{}\"\n", tls.ca.display()), 5));
    let t = plain.login("alice", &[&code(SECRET, 0)]);
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "{t:?}");
    assert!(t.said().contains("unavailable"), "{t:?}");
    let logs = plain.log_lines();
    assert!(logs.iter().any(|l| l.contains("ldap.uris") && l.contains("clear")), "{logs:?}");
    let out = plain.twostep(&["status", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("starttls = true"), "{}", stderr(&out));
}

#[test]
fn thirty_concurrent_wrong_codes_with_deny_5_get_exactly_five_judged() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 10);
    enroll(&s[0], "bob");
    let results = released_together(&s, "bob", 30, &wrong_code(SECRET));
    let logs: Vec<String> = s.iter().flat_map(Env::log_lines).collect();
    let wrong = logs.iter().filter(|l| l.contains("result=wrong_code")).count();
    assert_eq!(wrong, 5, "{logs:?}");
    assert!(results.iter().all(|t| t.result == "PAM_AUTH_ERR"), "{results:?}");
    let entry = slapd.read(&format!("uid=bob,ou=people,{BASE}"));
    assert!(entry.contains("oathFailureCount: 5\n") && entry.contains("twostepLockedAt:"), "{entry}");
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), stderr(out));
    stdout(out)
}

fn status_json(server: &Env, user: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&server.twostep(&["status", user, "--json"]))).unwrap()
}

#[test]
fn the_admin_command_manages_users_in_the_directory_from_any_server() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 5);
    let alice = format!("uid=alice,ou=people,{BASE}");
    // status of a user with an entry but no record, and of a user with no entry.
    assert_eq!(status_json(&s[0], "alice")["enrolled"], false);
    assert_eq!(status_json(&s[0], "nobody")["enrolled"], false);
    assert_eq!(ok(&s[0].twostep(&["list", "--json"])).trim(), "[]");
    enroll(&s[0], "alice");
    enroll(&s[0], "bob");
    // email and phone, set on one server, seen on another.
    ok(&s[0].twostep(&["email", "alice", "alice@district.example"]));
    ok(&s[1].twostep(&["phone", "alice", "+15551234567"]));
    let st = status_json(&s[2], "alice");
    assert_eq!(st["methods"], serde_json::json!(["totp", "email", "sms"]), "{st}");
    assert_eq!(st["email"], "a***@district.example", "{st}");
    let entry = slapd.read(&alice);
    assert!(entry.contains("twostepEmail: alice@district.example") && entry.contains("twostepPhone: +15551234567"));
    ok(&s[2].twostep(&["email", "alice", "--clear"]));
    ok(&s[2].twostep(&["phone", "alice", "--clear"]));
    let entry = slapd.read(&alice);
    assert!(!entry.contains("twostepEmail") && !entry.contains("twostepPhone"), "{entry}");
    assert!(entry.contains("mail: alice@example.org"), "the account's own address is kept: {entry}");
    // list: both users.
    let list: serde_json::Value = serde_json::from_str(&ok(&s[1].twostep(&["list", "--json"]))).unwrap();
    let users: Vec<&str> = list.as_array().unwrap().iter().map(|u| u["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["alice", "bob"], "{list}");
    assert!(ok(&s[1].twostep(&["list"])).contains("alice"));
    // disable on one server: every server steps aside; enable brings the code back.
    ok(&s[0].twostep(&["disable", "alice"]));
    assert_eq!(status_json(&s[1], "alice")["enabled"], false);
    let t = s[1].login("alice", &[]);
    assert_eq!(t.result, IGNORED, "{t:?}");
    ok(&s[2].twostep(&["enable", "alice"]));
    assert!(s[1].login("alice", &[&code(SECRET, 0)]).succeeded());
    // unlock after failures spread over the servers.
    let wrong = wrong_code(SECRET);
    for server in &s {
        assert_eq!(server.login("alice", &[&wrong]).result, "PAM_AUTH_ERR");
    }
    assert_eq!(status_json(&s[0], "alice")["failures"], 3);
    ok(&s[0].twostep(&["unlock", "alice"]));
    assert_eq!(status_json(&s[1], "alice")["failures"], 0);
    // reset: the secret and the state are gone, the account entry stays.
    ok(&s[1].twostep(&["reset", "alice"]));
    let st = status_json(&s[2], "alice");
    assert_eq!(st["enrolled"], false, "{st}");
    let entry = slapd.read(&alice);
    assert!(entry.contains("uid: alice"), "{entry}");
    for gone in ["oathSecret", "oathTOTPLastTimeStep", "oathFailureCount", "twostepFailures", "twostepLock"] {
        assert!(!entry.contains(gone), "{gone}: {entry}");
    }
    let list: serde_json::Value = serde_json::from_str(&ok(&s[1].twostep(&["list", "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // A user with no entry in the directory: a clear refusal naming the filter.
    let out = s[0].twostep(&["email", "ghost", "ghost@district.example"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = s[0].twostep_stdin(&["enroll", "ghost", "--secret-stdin"], SECRET);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no directory entry matches"), "{}", stderr(&out));
}

#[test]
fn backup_codes_help_desk_codes_and_disable_for_are_shared_by_every_server() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 5);
    let alice = format!("uid=alice,ou=people,{BASE}");
    enroll(&s[0], "alice");
    let made: serde_json::Value =
        serde_json::from_str(&ok(&s[0].twostep(&["backup-codes", "alice", "--json"]))).unwrap();
    let codes: Vec<String> =
        made["backup_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    let entry = slapd.read(&alice);
    assert!(entry.contains("twostepBackupCodes: "), "{entry}");
    assert!(codes.iter().all(|c| !entry.contains(c.as_str())), "only hashes are stored");
    // Used on server 1, refused on server 2; the others still work on server 3.
    assert!(s[0].login("alice", &[&codes[0]]).succeeded());
    let t = s[1].login("alice", &[&codes[0]]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(s[2].login("alice", &[&codes[1]]).succeeded());
    assert_eq!(status_json(&s[1], "alice")["backup_codes_left"], 8);
    // The same unused code on three servers at once: one gets in.
    let results = released_together(&s, "alice", 3, &codes[2]);
    assert_eq!(results.iter().filter(|t| t.succeeded()).count(), 1, "{results:?}");
    assert_eq!(status_json(&s[0], "alice")["backup_codes_left"], 7);
    // A help-desk code made on server 2 works once, on server 3.
    let mut cmd = s[1].twostep_command(&["bypass", "alice", "--valid", "30m", "--json"]);
    cmd.env("SUDO_USER", "helpdesk hana");
    let made: serde_json::Value = serde_json::from_str(&ok(&run_with_stdin(cmd, ""))).unwrap();
    let bypass = made["code"].as_str().unwrap().to_string();
    assert_eq!(status_json(&s[0], "alice")["bypass_pending"]["uses_left"], 1);
    assert!(s[2].login("alice", &[&bypass]).succeeded());
    assert_eq!(s[0].login("alice", &[&bypass]).result, "PAM_AUTH_ERR");
    assert_eq!(status_json(&s[0], "alice")["bypass_pending"], serde_json::Value::Null);
    // disable --for on server 1: every server steps aside until then.
    ok(&s[0].twostep(&["disable", "alice", "--for", "2h"]));
    assert!(slapd.read(&alice).contains("twostepDisabledUntil: "));
    assert_eq!(s[2].login("alice", &[]).result, IGNORED);
    ok(&s[1].twostep(&["enable", "alice"]));
    assert!(!slapd.read(&alice).contains("twostepDisabledUntil"));
    // reset takes them all away.
    ok(&s[1].twostep(&["reset", "alice"]));
    let entry = slapd.read(&alice);
    assert!(!entry.contains("twostepBackupCodes") && !entry.contains("twostepBypass"), "{entry}");
}

#[test]
fn an_address_typed_and_confirmed_at_login_lands_in_the_directory_and_another_server_sends_codes_to_it() {
    need_slapd!();
    let slapd = Slapd::start();
    let bob = format!("uid=bob,ou=people,{BASE}");
    let first = Env::new("");
    let smtp = SmtpSink::start(first.path());
    let policy = "[policy]\nenroll_at_login = true\nenroll_methods = [\"app\", \"email\"]\n";
    first.write_config(&format!("{}{}", slapd.ldap_config(5), smtp.config(policy)));
    let second = Env::new(&format!("{}{}", slapd.ldap_config(5), smtp.config("")));

    let mut s = Session::start(&first, "bob");
    assert!(s.next().text.contains("\n  email  email to your address"));
    let m = s.next();
    assert_eq!((m.style.as_str(), m.text.as_str()), ("prompt_echo_on", "Type app or email: "));
    s.answer("email");
    let m = s.next();
    assert_eq!((m.style.as_str(), m.text.as_str()), ("prompt_echo_on", "Email address: "));
    s.answer("new.bob@district.org");
    let sent = s.said("info");
    assert!(sent.starts_with("A code was sent to n***@district.org."), "{sent}");
    s.prompt("Verification code: ");
    let code = code_in(&smtp.wait_message(1));
    assert_eq!(smtp.recipients(1).trim(), "new.bob@district.org");
    // Pending: the code and its contact as salted hashes in the entry, nothing enrolled.
    let entry = slapd.read(&bob);
    assert!(entry.contains("twostepContactCode: email ") && entry.contains("twostepContactSends: "), "{entry}");
    assert!(!entry.contains("district.org") && !entry.contains(&format!(" {code} ")), "{entry}");
    assert_eq!(status_json(&second, "bob")["enrolled"], false);
    s.answer(&code);
    assert!(s.said("info").starts_with("Two-step verification is set up."));
    assert!(s.finish().succeeded());
    let entry = slapd.read(&bob);
    assert!(entry.contains("twostepEmail: new.bob@district.org"), "{entry}");
    assert!(!entry.contains("twostepContactCode") && !entry.contains("twostepContactSends"), "spent: {entry}");
    assert!(!entry.contains("oathSecret"), "no app was set up: {entry}");
    let logs = first.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=contact_verified method=email to=n***@district.org")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&code)), "{logs:?}");

    // The other server knows the address: its login mails a code there.
    let status = status_json(&second, "bob");
    assert_eq!((status["enrolled"].as_bool(), status["email"].as_str()), (Some(true), Some("n***@district.org")));
    let mut s = Session::start(&second, "bob");
    let sent = s.said("info");
    assert!(sent.starts_with("A verification code was sent to n***@district.org"), "{sent}");
    s.prompt("Verification code: ");
    let message = smtp.wait_message(2);
    assert_eq!(smtp.recipients(2).trim(), "new.bob@district.org");
    s.answer(&code_in(&message));
    assert!(s.finish().succeeded(), "{:?}", second.log_lines());
}

#[test]
fn migrate_to_ldap_copies_the_file_store_once_and_refuses_to_replace_another_secret_without_force() {
    need_slapd!();
    let slapd = Slapd::start();
    let dir = servers(&slapd, 5);
    // A server still on the file store, with its [ldap] table already written.
    let old = Env::new(&slapd.ldap_config(5).replace("backend = \"ldap\"", "backend = \"files\""));
    old.enroll_phone("alice", Some(SECRET), Some("alice@district.example"), None);
    old.enroll("bob");
    old.enroll("ghost"); // no directory entry
    assert!(old.login("alice", &[&code(SECRET, 0)]).succeeded());
    assert_eq!(old.login("bob", &[&wrong_code(SECRET)]).result, "PAM_AUTH_ERR");
    let made: serde_json::Value = serde_json::from_str(&ok(&old.twostep(&["backup-codes", "bob", "--json"]))).unwrap();
    let backup = made["backup_codes"][0].as_str().unwrap().to_string();
    let out = old.twostep(&["migrate-to-ldap"]);
    assert_eq!(out.status.code(), Some(1), "ghost has no entry: {}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("alice: copied") && text.contains("bob: copied"), "{text}");
    assert!(text.contains("ghost: not copied: no directory entry matches"), "{text}");
    assert!(stderr(&out).contains("1 user(s) not copied (ghost)"), "{}", stderr(&out));
    // The directory now has it all: the used step, the failure, the address, the backup codes.
    assert_eq!(dir[0].login("alice", &[&code(SECRET, 0)]).result, "PAM_AUTH_ERR", "the used code stays used");
    let st = status_json(&dir[1], "alice");
    assert_eq!(st["email"], "a***@district.example", "{st}");
    let st = status_json(&dir[1], "bob");
    assert_eq!((st["failures"].as_u64(), st["backup_codes_left"].as_u64()), (Some(1), Some(10)), "{st}");
    assert!(dir[2].login("bob", &[&backup]).succeeded());
    // A second run (ghost gone) changes nothing and says so.
    ok(&old.twostep(&["reset", "ghost"]));
    let text = ok(&old.twostep(&["migrate-to-ldap"]));
    assert!(text.contains("alice: unchanged") && text.contains("bob: unchanged"), "{text}");
    assert!(text.contains("Nothing to do"), "{text}");
    assert_eq!(status_json(&dir[0], "bob")["backup_codes_left"], 9, "a used backup code does not come back");
    assert_eq!(dir[1].login("bob", &[&backup]).result, "PAM_AUTH_ERR");
    // Re-enrolled in the directory meanwhile: a different secret is kept unless --force.
    let other = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let out = dir[0].twostep_stdin(&["enroll", "alice", "--secret-stdin", "--force"], other);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = old.twostep(&["migrate-to-ldap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("alice: not copied: a different secret"), "{}", stdout(&out));
    let secret_in_directory = || {
        let entry = slapd.read(&format!("uid=alice,ou=people,{BASE}"));
        // Base64 unless the bytes happen to be printable.
        let e = &pam_twostep::store::ldap::ldif::parse_ldif(entry.as_bytes()).unwrap()[0];
        e.first("oathSecret").unwrap().to_vec()
    };
    let bytes = |b32: &str| pam_twostep::secret::TotpSecret::from_base32(b32).unwrap().expose().to_vec();
    assert_eq!(secret_in_directory(), bytes(other), "the directory's secret was kept");
    let text = ok(&old.twostep(&["migrate-to-ldap", "--force"]));
    assert!(text.contains("alice: updated"), "{text}");
    assert_eq!(secret_in_directory(), bytes(SECRET), "the file's secret now");
    // The file store was only read.
    assert!(old.secrets.join("alice").exists() && old.tally.join("bob").exists());
}

#[test]
fn with_the_shipped_acl_users_never_read_the_secret_nor_change_the_lockout() {
    need_slapd!();
    let slapd = Slapd::start();
    let s = servers(&slapd, 5);
    enroll(&s[0], "alice");
    assert_eq!(s[0].login("alice", &[&wrong_code(SECRET)]).result, "PAM_AUTH_ERR");
    let alice = format!("uid=alice,ou=people,{BASE}");
    let as_user = |who: &str, pw: &str, program: &str, args: &[&str], stdin: &str| {
        let mut cmd = Command::new(program);
        cmd.args(["-H", &slapd.uri, "-x", "-D", &format!("uid={who},ou=people,{BASE}"), "-w", pw]).args(args);
        run_with_stdin(cmd, stdin)
    };
    let read = ["-LLL", "-b", alice.as_str(), "-s", "base", "(objectClass=*)", "*"];
    // Alice herself (password + code through the otp overlay) and another user.
    let own = as_user("alice", &format!("alice-pw{}", code(SECRET, 0)), "/usr/bin/ldapsearch", &read, "");
    let other = as_user("bob", "bob-pw", "/usr/bin/ldapsearch", &read, "");
    assert!(stdout(&own).contains("uid: alice"), "alice reads her entry: {own:?}");
    for out in [&own, &other] {
        let text = stdout(out);
        for hidden in ["oathSecret", "oathFailureCount", "twostepFailures", "twostepBackupCodes"] {
            assert!(!text.contains(hidden), "{hidden} readable: {text}");
        }
    }
    // Alice cannot clear her own failures.
    let clear = format!("dn: {alice}\nchangetype: modify\ndelete: twostepFailures\n-\n");
    let out = as_user("alice", &format!("alice-pw{}", code(SECRET, 1)), "/usr/bin/ldapmodify", &[], &clear);
    assert_eq!(out.status.code(), Some(50), "insufficient access, after a bind that worked: {out:?}");
    assert!(slapd.read(&alice).contains("twostepFailures: "));
}
