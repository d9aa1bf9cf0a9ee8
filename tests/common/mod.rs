//! Test harness: a private temp directory holding a config, the secrets and
//! tally directories, a PAM service directory naming the freshly built
//! `libpam_twostep.so` by absolute path, and a datagram socket standing in for
//! syslog. Logins run the real module through real libpam
//! (`pam_start_confdir`) in a separate `pamdrive` process (examples/pamdrive.rs).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pam_twostep::config::TotpConfig;
use pam_twostep::secret::TotpSecret;
use pam_twostep::store::UserStore;
use pam_twostep::store::record::UserRecord;
use pam_twostep::store::tally::Tally;
use pam_twostep::trusted_fs::Owner;

pub mod cache;
pub mod smtp;

/// libfaketime, for logins whose clock jumps ([`Env::faked_clock`]).
pub const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// A fixed base32 secret for tests (never used outside tests).
pub const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// The default service: `auth required pam_twostep.so …` alone.
pub const SERVICE: &str = "twostep-test";
/// twostep followed by `auth required pam_permit.so`: an ignored login succeeds here.
pub const STACKED: &str = "twostep-test-stacked";
/// What libpam returns for [`SERVICE`] when twostep returns PAM_IGNORE: with no
/// module saying yes, the stack is denied. twostep itself never returns this code.
pub const IGNORED: &str = "PAM_PERM_DENIED";

/// `target/debug` (or whichever profile built this test).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Builds the cdylib, the admin binary and pamdrive once per test process, so
/// no test ever runs against a stale `.so`.
pub fn build() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--lib", "--bins", "--example", "pamdrive"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if target_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build failed");
    });
}

pub fn module_path() -> PathBuf {
    build();
    target_dir().join("libpam_twostep.so")
}

pub fn twostep_bin() -> PathBuf {
    build();
    target_dir().join("twostep")
}

pub fn pamdrive_bin() -> PathBuf {
    build();
    target_dir().join("examples/pamdrive")
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The current code for `secret` shifted by `delta` steps.
pub fn code(secret: &str, delta: i64) -> String {
    code_with(secret, delta, &TotpConfig { digits: 6, period: 30, skew: 1 })
}

/// A code that is wrong for `secret` at every step of the ±1 window around now
/// (a fixed code such as 123456 can be the right one by chance).
pub fn wrong_code(secret: &str) -> String {
    let window: Vec<String> = (-2..=2).map(|d| code(secret, d)).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !window.contains(c)).unwrap()
}

/// The code for `secret` at time step `step` (30 s steps).
pub fn code_at(secret: &str, step: u64) -> String {
    let s = TotpSecret::from_base32(secret).unwrap();
    pam_twostep::totp::code_at_step(&s, &TotpConfig { digits: 6, period: 30, skew: 1 }, step).to_string()
}

pub fn code_with(secret: &str, delta: i64, cfg: &TotpConfig) -> String {
    let s = TotpSecret::from_base32(secret).unwrap();
    let step = (pam_twostep::totp::step_at(cfg, now()) as i64 + delta) as u64;
    pam_twostep::totp::code_at_step(&s, cfg, step).to_string()
}

/// One message the module sent through the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub style: String,
    pub text: String,
}

/// A message as one line: the module wraps prose at 72 columns, tests match sentences.
pub fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a `pamdrive` run printed.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub messages: Vec<Message>,
    /// `PAM_SUCCESS`, `PAM_AUTH_ERR`, … of `pam_authenticate`.
    pub result: String,
    /// Every PAM call made, e.g. `[("authenticate","PAM_SUCCESS"),("setcred",…)]`.
    pub steps: Vec<(String, String)>,
}

impl Transcript {
    pub fn parse(stdout: &str) -> Transcript {
        let mut messages = Vec::new();
        let mut steps = Vec::new();
        for line in stdout.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad pamdrive line {line:?}: {e}"));
            if let Some(step) = v.get("step") {
                steps.push((step.as_str().unwrap().to_string(), v["name"].as_str().unwrap().to_string()));
            } else {
                messages.push(Message {
                    style: v["style"].as_str().unwrap().to_string(),
                    text: v["text"].as_str().unwrap().to_string(),
                });
            }
        }
        let result = steps.iter().find(|(s, _)| s == "authenticate" || s == "start").map(|(_, r)| r.clone());
        Transcript { messages, result: result.unwrap_or_else(|| format!("NO RESULT in {stdout:?}")), steps }
    }

    pub fn prompts(&self) -> Vec<&str> {
        self.messages.iter().filter(|m| m.style.starts_with("prompt")).map(|m| m.text.as_str()).collect()
    }

    /// All error and info texts, each unwrapped into one line, joined by newlines.
    pub fn said(&self) -> String {
        self.messages
            .iter()
            .filter(|m| !m.style.starts_with("prompt"))
            .map(|m| unwrapped(&m.text))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn succeeded(&self) -> bool {
        self.result == "PAM_SUCCESS"
    }
}

/// A complete, private test installation.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub secrets: PathBuf,
    pub tally: PathBuf,
    pub confdir: PathBuf,
    /// Lines received by the log socket, drained by a thread so senders never block.
    log: Arc<Mutex<Vec<String>>>,
    pub log_path: PathBuf,
}

/// Creates `path` as a directory with mode 0700.
pub fn private_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

impl Env {
    /// An installation whose config is `extra` appended to the directory settings.
    pub fn new(extra: &str) -> Env {
        let dir = tempfile::Builder::new().prefix("twostep-test-").tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let secrets = dir.path().join("secrets");
        let tally = dir.path().join("tally");
        let confdir = dir.path().join("pam.d");
        private_dir(&secrets);
        private_dir(&tally);
        private_dir(&confdir);
        let config = dir.path().join("twostep.toml");
        let log_path = dir.path().join("log.sock");
        let socket = UnixDatagram::bind(&log_path).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::downgrade(&log);
        // The thread ends with the test process; it holds only a weak handle.
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = socket.recv(&mut buf) {
                let Some(sink) = sink.upgrade() else { break };
                sink.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        let env = Env { dir, config, secrets, tally, confdir, log, log_path };
        env.write_config(extra);
        env.write_service(SERVICE, "");
        env.write_stacked(STACKED, "");
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// (Re)writes the config: directory settings, a test issuer, then `extra`.
    pub fn write_config(&self, extra: &str) {
        let text = format!(
            "issuer = \"Test District\"\nsecrets_dir = \"{}\"\ntally_dir = \"{}\"\n{extra}\n",
            self.secrets.display(),
            self.tally.display()
        );
        std::fs::write(&self.config, text).unwrap();
        std::fs::set_permissions(&self.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    /// Writes service file `name`: the module with our config and log socket, plus `args`.
    pub fn write_service(&self, name: &str, args: &str) {
        let text = format!(
            "auth required {} config={} log_socket={} {args}\naccount required {}\n",
            module_path().display(),
            self.config.display(),
            self.log_path.display(),
            module_path().display()
        );
        std::fs::write(self.confdir.join(name), text).unwrap();
    }

    /// Writes service file `name`: the module as in [`Env::write_service`], then pam_permit.
    pub fn write_stacked(&self, name: &str, args: &str) {
        let text = format!(
            "auth required {} config={} log_socket={} {args}\nauth required pam_permit.so\n",
            module_path().display(),
            self.config.display(),
            self.log_path.display(),
        );
        std::fs::write(self.confdir.join(name), text).unwrap();
    }

    pub fn store(&self) -> UserStore {
        UserStore::for_admin(&self.secrets, &self.tally, Owner::ROOT).unwrap()
    }

    /// A pamdrive for `user` whose clock (libfaketime, this process only) is the
    /// real one shifted by what the returned file says: `start` at first (e.g.
    /// `+0`, `+2h`); write e.g. `+40m` or `-1h` to the file to jump.
    pub fn faked_clock(&self, name: &str, user: &str, start: &str) -> (Child, PathBuf) {
        let offset = self.path().join(format!("faketime-{name}"));
        std::fs::write(&offset, format!("{start}\n")).unwrap();
        let child = self
            .pamdrive(&[], SERVICE, user, &[])
            .env("LD_PRELOAD", FAKETIME)
            .env("FAKETIME_TIMESTAMP_FILE", &offset)
            .env("FAKETIME_NO_CACHE", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .spawn()
            .unwrap();
        (child, offset)
    }

    /// Changes `user`'s tally under the user's lock, as the module does.
    pub fn update_tally(&self, user: &str, f: impl FnOnce(&mut Tally)) {
        self.store().change(user, |u| u.update_tally(f)).unwrap();
    }

    /// Enrolls `user` with the test secret (through the library, as `twostep enroll` does).
    pub fn enroll(&self, user: &str) {
        self.enroll_with(user, Some(SECRET), None);
    }

    pub fn enroll_with(&self, user: &str, secret: Option<&str>, email: Option<&str>) {
        self.enroll_phone(user, secret, email, None);
    }

    /// [`Env::enroll_with`] plus a phone number for text-message codes.
    pub fn enroll_phone(&self, user: &str, secret: Option<&str>, email: Option<&str>, phone: Option<&str>) {
        let rec = UserRecord {
            secret: secret.map(|s| TotpSecret::from_base32(s).unwrap()),
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            enabled: true,
            created: now(),
            ..UserRecord::default()
        };
        self.store().change(user, |u| u.save_record(rec)).unwrap();
    }

    /// Spawns pamdrive for `user` on the default service, with piped stdin/stdout.
    pub fn spawn(&self, user: &str) -> Child {
        self.spawn_service(SERVICE, user, &[])
    }

    pub fn spawn_service(&self, service: &str, user: &str, extra: &[&str]) -> Child {
        self.pamdrive(&[], service, user, extra).spawn().unwrap()
    }

    /// The pamdrive command line for `user` on `service`, run through `wrapper`
    /// (e.g. `["prlimit", "--fsize=64"]`, empty for none), with piped stdio.
    pub fn pamdrive(&self, wrapper: &[&str], service: &str, user: &str, extra: &[&str]) -> Command {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(pamdrive_bin());
                c
            }
            None => Command::new(pamdrive_bin()),
        };
        cmd.args(["--confdir", self.confdir.to_str().unwrap(), "--service", service, "--user", user])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Logs `user` in on the default service, answering the prompts with `answers` in order.
    pub fn login(&self, user: &str, answers: &[&str]) -> Transcript {
        self.login_service(SERVICE, user, answers, &[])
    }

    pub fn login_service(&self, service: &str, user: &str, answers: &[&str], extra: &[&str]) -> Transcript {
        let child = self.spawn_service(service, user, extra);
        finish(child, answers)
    }

    /// Log lines received since the last call.
    pub fn log_lines(&self) -> Vec<String> {
        // A line sent just before is in flight until the drain thread picks it up.
        let mut last = usize::MAX;
        loop {
            let n = self.log.lock().unwrap().len();
            if n == last {
                break;
            }
            last = n;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    /// Runs the real `twostep` binary with `--config` pointing at this installation.
    pub fn twostep(&self, args: &[&str]) -> Output {
        self.twostep_stdin(args, "")
    }

    pub fn twostep_stdin(&self, args: &[&str], stdin: &str) -> Output {
        run_with_stdin(self.twostep_command(args), stdin)
    }

    /// The `twostep` command for this installation, not yet run (add environment, then [`run_with_stdin`]).
    pub fn twostep_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(twostep_bin());
        cmd.arg("--config").arg(&self.config).arg("--log-socket").arg(&self.log_path).args(args);
        cmd
    }
}

/// Runs `cmd` with `stdin` as its input and collects its output.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The command may exit before reading it all (a refusal): EPIPE is not an error here.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Feeds `answers` to a spawned pamdrive and parses its transcript.
pub fn finish(mut child: Child, answers: &[&str]) -> Transcript {
    answer(&mut child, answers);
    collect(child)
}

/// Queues `answers` on the child's stdin (one line per prompt) and closes it.
pub fn answer(child: &mut Child, answers: &[&str]) {
    let mut stdin = child.stdin.take().unwrap();
    for a in answers {
        // The module may stop reading early (e.g. a locked account): ignore EPIPE.
        let _ = writeln!(stdin, "{a}");
    }
}

/// Waits for the child and parses its transcript.
pub fn collect(child: Child) -> Transcript {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pamdrive failed: {out:?}");
    Transcript::parse(&stdout)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One login driven message by message.
pub struct Session {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub seen: Vec<Message>,
}

impl Session {
    pub fn start(env: &Env, user: &str) -> Session {
        Session::of(env.spawn(user))
    }

    pub fn of(mut child: Child) -> Session {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session { child: Some(child), stdin, lines, seen: Vec::new() }
    }

    /// The next conversation message.
    pub fn next(&mut self) -> Message {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("no message from the module ({e}); so far: {:?}", self.seen));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v.get("step").is_none(), "the login ended early: {line}; so far: {:?}", self.seen);
        let m = Message { style: v["style"].as_str().unwrap().into(), text: v["text"].as_str().unwrap().into() };
        self.seen.push(m.clone());
        m
    }

    /// Waits for a prompt and checks its text.
    pub fn prompt(&mut self, text: &str) {
        let m = self.next();
        assert_eq!((m.style.as_str(), m.text.as_str()), ("prompt_echo_off", text), "{:?}", self.seen);
    }

    /// Waits for an info or error message and returns its text, unwrapped into one line.
    pub fn said(&mut self, style: &str) -> String {
        let m = self.next();
        assert_eq!(m.style, style, "{:?}", self.seen);
        unwrapped(&m.text)
    }

    pub fn answer(&mut self, text: &str) {
        writeln!(self.stdin.as_mut().unwrap(), "{text}").unwrap();
    }

    /// Closes stdin (Ctrl-D at the next prompt) and returns the rest of the transcript.
    pub fn finish(mut self) -> Transcript {
        drop(self.stdin.take());
        let mut rest: Vec<String> = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            rest.push(line);
        }
        let status = self.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "pamdrive failed: {status:?}");
        let mut t = Transcript::parse(&rest.join("\n"));
        let mut all = std::mem::take(&mut self.seen);
        all.append(&mut t.messages);
        t.messages = all;
        t
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
