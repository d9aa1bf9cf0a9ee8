//! End-to-end harness: real programs (sshd, ssh, paramiko, login, su) logging
//! in through the real pam_twostep.so, with the shipped `pam-config/` snippets
//! applied the way the README tells an administrator to.
//!
//! Everything system-wide gets a unique name and is removed by a Drop guard,
//! also when a test fails: the temporary user ([`TestUser`]), the PAM service
//! file ([`PamService`], `/etc/pam.d/twostep-test-…`), the sshd symlink and the
//! sshd process ([`Sshd`], killed by PID). The machine's own /etc/pam.d files
//! are only read, never written.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Env, module_path};

pub const PYTHON: &str = "/usr/bin/python3";

/// A name no other test (in this or another process) uses: `prefix` + pid + counter.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The repository root (for the shipped pam-config/ files and the Python helpers).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn shipped(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Runs an admin command (useradd, groupadd, …) and asserts it succeeded. Tests
/// run in parallel, so a passwd/group file locked by another test's useradd is
/// waited for rather than treated as a failure.
pub fn run(cmd: &mut Command) {
    if let Err(err) = try_run(cmd) {
        panic!("{cmd:?} failed: {err}");
    }
}

/// [`run`] for Drop guards: never panics, returns the error text.
pub fn try_run(cmd: &mut Command) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cmd.output().map_err(|e| e.to_string())?;
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            return Ok(());
        }
        if !err.contains("cannot lock") || Instant::now() >= deadline {
            return Err(err);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A temporary local user with a known password and a home directory.
pub struct TestUser {
    pub name: String,
    pub password: String,
    pub home: PathBuf,
}

impl TestUser {
    pub fn new() -> TestUser {
        let name = unique("tsu");
        let password = format!("Pw-{name}-9q");
        run(Command::new("useradd").args(["--create-home", "--shell", "/bin/sh", &name]));
        let user = TestUser { home: PathBuf::from(format!("/home/{name}")), name, password };
        let mut chpasswd = Command::new("chpasswd").stdin(Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        writeln!(chpasswd.stdin.take().unwrap(), "{}:{}", user.name, user.password).unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd failed");
        user
    }

    /// Installs `pubkey` (a `.pub` file's text) as the user's only authorized key.
    pub fn authorize_key(&self, pubkey: &str) {
        let ssh = self.home.join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(ssh.join("authorized_keys"), pubkey).unwrap();
        std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(ssh.join("authorized_keys"), std::fs::Permissions::from_mode(0o600)).unwrap();
        run(Command::new("chown").args(["-R", &format!("{0}:{0}", self.name)]).arg(&ssh));
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // -f: even if a stray session process of the user is still exiting.
        let _ = try_run(Command::new("userdel").args(["-f", "-r", &self.name]));
    }
}

/// `/etc/pam.d/NAME` for one test, removed on drop.
pub struct PamService {
    pub name: String,
    pub path: PathBuf,
}

impl PamService {
    pub fn new(prefix: &str, text: &str) -> PamService {
        let name = unique(prefix);
        let path = Path::new("/etc/pam.d").join(&name);
        std::fs::write(&path, text).unwrap();
        PamService { name, path }
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Applies a shipped pam.d snippet the way its comment tells an administrator:
/// the line `@include common-auth` of the distribution's service file
/// `distro` is replaced by the snippet's lines. `pam_twostep.so` is then
/// pointed at the freshly built module, the test's config and log socket.
///
/// So that a machine where twostep is already set up (README quick start,
/// `pam-auth-update --enable twostep`) runs the tests the same way, lines of
/// the machine's files that load pam_twostep are left out, and the snippet's
/// `@include common-auth` is expanded to the machine's common-auth without them.
pub fn apply_snippet(distro: &str, snippet: &str, env: &Env) -> String {
    let module =
        format!("{} config={} log_socket={}", module_path().display(), env.config.display(), env.log_path.display());
    let ours = |l: &&str| !l.contains("pam_twostep");
    let common_auth = std::fs::read_to_string("/etc/pam.d/common-auth").unwrap();
    let common_auth: Vec<&str> =
        common_auth.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).filter(ours).collect();
    let mut lines = Vec::new();
    for l in snippet.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        if l.trim() == "@include common-auth" {
            lines.extend(common_auth.iter().map(|l| l.to_string()));
        } else {
            lines.push(l.replace("pam_twostep.so", &module));
        }
    }
    let mut out = String::new();
    let mut replaced = false;
    for line in distro.lines().filter(ours) {
        if line.trim() == "@include common-auth" {
            assert!(!replaced, "two @include common-auth lines");
            replaced = true;
            for l in &lines {
                out.push_str(l);
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(replaced, "no `@include common-auth` line in:\n{distro}");
    out
}

/// The sshd symlink and its PAM service file, removed on drop.
struct SshdName {
    link: PathBuf,
    service: PamService,
}

impl Drop for SshdName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
    }
}

/// A real sshd on a loopback port, started through a uniquely named symlink
/// so that its PAM service is our own `/etc/pam.d/twostep-test-sshd-…`.
/// Killed by PID on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    name: Option<SshdName>,
    pub log: PathBuf,
    pub dir: PathBuf,
}

impl Sshd {
    /// Starts sshd for `user` with the distribution's /etc/pam.d/sshd changed by
    /// the shipped `pam_snippet` (e.g. "pam-config/pam.d/sshd") and the shipped
    /// `sshd_snippet` (e.g. "pam-config/sshd_config.d/10-twostep-password.conf")
    /// included at the top of the sshd_config.
    pub fn start(env: &Env, user: &TestUser, pam_snippet: &str, sshd_snippet: &str) -> Sshd {
        Sshd::start_with(env, &[&user.name], pam_snippet, &shipped(sshd_snippet), "")
    }

    /// [`Sshd::start`] for several `users` (sshd's `AllowUsers`), with the
    /// sshd_config snippet given as text (a shipped one with its commented
    /// `Match` blocks turned on), included at the top as the distributions'
    /// sshd_config includes `sshd_config.d/*.conf`, and `extra` lines at the
    /// end (e.g. `ListenAddress ::1\n` to listen on IPv6 loopback too).
    pub fn start_with(env: &Env, users: &[&str], pam_snippet: &str, sshd_text: &str, extra: &str) -> Sshd {
        let dir = env.path().join(unique("sshd"));
        std::fs::create_dir(&dir).unwrap();
        let snippet = dir.join("snippet.conf");
        std::fs::write(&snippet, sshd_text).unwrap();
        let pam = apply_snippet(&std::fs::read_to_string("/etc/pam.d/sshd").unwrap(), &shipped(pam_snippet), env);
        let service = PamService::new("twostep-test-sshd-", &pam);
        // OpenSSH names its PAM service after the program; it must run by absolute path.
        let link = Path::new("/usr/local/sbin").join(&service.name);
        std::os::unix::fs::symlink("/usr/sbin/sshd", &link).unwrap();
        let mut name = SshdName { link, service };
        let host_key = dir.join("host_key");
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&host_key));
        std::fs::create_dir_all("/run/sshd").unwrap();
        let log = dir.join("sshd.log");
        let config = dir.join("sshd_config");
        for attempt in 1.. {
            let port = free_port();
            std::fs::write(
                &config,
                format!(
                    "Include {snippet}\nPort {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {pid}\n\
                     AllowUsers {user}\nPermitRootLogin no\nUseDNS no\nLogLevel VERBOSE\nPrintMotd no\n{extra}",
                    snippet = snippet.display(),
                    key = host_key.display(),
                    pid = dir.join("sshd.pid").display(),
                    user = users.join(" "),
                ),
            )
            .unwrap();
            let _ = std::fs::remove_file(&log);
            let child = Command::new(&name.link)
                .args(["-D", "-f"])
                .arg(&config)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut sshd = Sshd { child, port, name: Some(name), log: log.clone(), dir: dir.clone() };
            match sshd.wait_listening() {
                Ok(()) => return sshd,
                // Another process took the port between our probe and sshd's bind.
                Err(why) if attempt < 5 => {
                    eprintln!("sshd did not start ({why}); retrying on another port");
                    name = sshd.into_name();
                }
                Err(why) => panic!("sshd did not start: {why}"),
            }
        }
        unreachable!()
    }

    /// The PAM service name sshd uses (as it appears in the log lines).
    pub fn service(&self) -> &str {
        &self.name.as_ref().unwrap().service.name
    }

    fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("sshd exited with {status}: {}", self.log_text()));
            }
            if self.log_text().contains("Server listening on") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no 'Server listening' after 15 s: {}", self.log_text()))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
        let _ = self.child.wait();
    }

    /// Stops sshd and hands back the symlink and service for another attempt.
    fn into_name(mut self) -> SshdName {
        self.name.take().unwrap()
    }

    /// Common `ssh` client arguments: no user or system config, no known_hosts.
    pub fn ssh_argv(&self, user: &TestUser, methods: &str, extra: &[&str], command: &str) -> Vec<String> {
        let mut argv: Vec<String> = [
            "/usr/bin/ssh",
            "-F",
            "/dev/null",
            "-p",
            &self.port.to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            // INFO (the default) is where ssh shows the server's keyboard-interactive messages.
            "-o",
            "LogLevel=INFO",
            "-o",
            &format!("PreferredAuthentications={methods}"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=20",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv.push(format!("{}@127.0.0.1", user.name));
        argv.push(command.to_string());
        argv
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What [`pty`] saw.
#[derive(Debug, serde::Deserialize)]
pub struct PtyRun {
    pub transcript: String,
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    pub unanswered: Option<String>,
}

/// Runs `argv` under a pty (tests/e2e/ssh_pty.py), typing `answers` at their prompts.
pub fn pty(argv: &[String], answers: &[(&str, Vec<String>)], env: &[(&str, &str)]) -> PtyRun {
    let spec = serde_json::json!({
        "argv": argv,
        "answers": answers,
        "timeout": 40,
        "env": env.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
    });
    python("ssh_pty.py", &spec)
}

/// What [`paramiko`] saw.
#[derive(Debug, serde::Deserialize)]
pub struct ParamikoRun {
    pub ok: bool,
    pub error: Option<String>,
    pub rounds: Vec<Round>,
    pub stdout: String,
    pub exit: Option<i32>,
}

/// One keyboard-interactive request from the server.
#[derive(Debug, serde::Deserialize)]
pub struct Round {
    pub title: String,
    pub instructions: String,
    /// (text, echo)
    pub prompts: Vec<(String, bool)>,
}

impl ParamikoRun {
    pub fn prompts(&self) -> Vec<&str> {
        self.rounds.iter().flat_map(|r| r.prompts.iter().map(|(p, _)| p.as_str())).collect()
    }
    pub fn instructions(&self) -> String {
        self.rounds.iter().map(|r| r.instructions.as_str()).collect::<Vec<_>>().join("\n")
    }
}

/// Logs in with paramiko (tests/e2e/paramiko_login.py): `key` first if given,
/// then keyboard-interactive answering `answers`, then runs `command`.
pub fn paramiko(
    sshd: &Sshd,
    user: &TestUser,
    key: Option<&Path>,
    answers: &[(&str, Vec<String>)],
    command: &str,
) -> ParamikoRun {
    paramiko_at("127.0.0.1", sshd, user, key, answers, command)
}

/// [`paramiko`] connecting to `host` (`"127.0.0.1"`, `"::1"`).
pub fn paramiko_at(
    host: &str,
    sshd: &Sshd,
    user: &TestUser,
    key: Option<&Path>,
    answers: &[(&str, Vec<String>)],
    command: &str,
) -> ParamikoRun {
    let spec = serde_json::json!({
        "host": host, "port": sshd.port, "user": user.name, "answers": answers, "key": key, "command": command,
    });
    python("paramiko_login.py", &spec)
}

fn python<T: serde::de::DeserializeOwned>(script: &str, spec: &serde_json::Value) -> T {
    let out = Command::new(PYTHON).arg(repo().join("tests/e2e").join(script)).arg(spec.to_string()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{script} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{script} printed {stdout:?}: {e}"))
}

/// An answer that is not known in advance: when its prompt appears, the
/// helper waits (up to 30 s) for `pattern` to match in the file at `path` and
/// types its first capture group. For example the code of an email that the
/// config's `email.command` (say `["/bin/sh", "-c", "cat > DIR/mail"]`) wrote:
/// `(CODE, vec!["email".into(), from_file(&mail, r"code is (\d{6})")])`.
pub fn from_file(path: &Path, pattern: &str) -> String {
    format!("\u{1}from_file\u{1}{}\u{1}{pattern}", path.display())
}

/// An answer typed like a person who just scanned the QR code: the current
/// code for the secret in the last `otpauth://` URI shown so far.
pub fn totp_shown() -> String {
    "\u{1}totp_shown".to_string()
}

/// Runs `script` with /bin/sh as root inside a throwaway overlay of this
/// machine (tests/e2e/overlay.sh, in the empty directory `scratch`), with
/// `bind` (if any) bind-mounted through; asserts it succeeded and returns its stdout.
pub fn in_overlay(scratch: &Path, bind: Option<&Path>, script: &str) -> String {
    let mut cmd = Command::new(repo().join("tests/e2e/overlay.sh"));
    if let Some(b) = bind {
        cmd.env("OVERLAY_BIND", b);
    }
    let out = cmd.arg(scratch).args(["/bin/sh", "-c", script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// `n` answers all equal to `s`.
pub fn times(s: &str, n: usize) -> Vec<String> {
    vec![s.to_string(); n]
}

/// A temporary group, removed on drop.
pub struct TestGroup(pub String);

impl TestGroup {
    pub fn new() -> TestGroup {
        let name = unique("tsg");
        run(Command::new("groupadd").arg(&name));
        TestGroup(name)
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = try_run(Command::new("groupdel").arg(&self.0));
    }
}

/// A temporary account without home or password, in the given groups; removed on drop.
pub struct Account(pub String);

impl Account {
    pub fn new(primary: Option<&TestGroup>, supplementary: &[&TestGroup]) -> Account {
        let name = unique("tsp");
        let mut cmd = Command::new("useradd");
        cmd.args(["--no-create-home", "--shell", "/usr/sbin/nologin"]);
        if let Some(g) = primary {
            cmd.args(["--no-user-group", "--gid", &g.0]);
        }
        if !supplementary.is_empty() {
            let list: Vec<&str> = supplementary.iter().map(|g| g.0.as_str()).collect();
            cmd.args(["--groups", &list.join(",")]);
        }
        run(cmd.arg(&name));
        Account(name)
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        // Also removes the user's own group when useradd created one.
        let _ = try_run(Command::new("userdel").arg(&self.0));
    }
}
