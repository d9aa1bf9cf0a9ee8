//! `scripts/demo`, run for real: it starts a private sshd for a throwaway
//! user enrolled in its own store; paramiko (`--json`) and OpenSSH under a pty
//! (the printed `ssh` line) log in through it with the printed password and a
//! code computed from the printed secret; a wrong code is refused; the
//! password opens no other service (the account is expired for pam_unix);
//! SIGINT (with a session still open), the end of standard input or a failure
//! half-way leave nothing behind (sshd process, sessions, PAM file, user,
//! group, temporary directory); and right after `install.sh` (in an overlay)
//! it runs the installed module. The machine's own sshd and PAM files are
//! only read, to check that they did not change.
//!
//! Each test gives the script its own TMPDIR, so "the temporary directory is
//! gone" is checked without trusting what the script says about it; names are
//! unique per script PID, ports random: the tests run in parallel.

mod common;
mod e2e;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::*;
use e2e::{PYTHON, ParamikoRun, repo};

const PASSWORD: &str = "Password: ";
const CODE: &str = "Verification code: ";

/// A running `scripts/demo`: stdout lines arrive on a channel, stderr is
/// collected by a thread. Dropped while still running (a failed assertion),
/// it is sent SIGTERM by PID and waited for, so it cleans up after itself.
struct Demo {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    tmpdir: tempfile::TempDir,
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let mut cmd = Command::new(repo().join("scripts/demo"));
        cmd.args(args);
        Demo::spawn(cmd)
    }

    /// Runs `cmd`, which ends by running (or exec'ing) the script.
    fn spawn(mut cmd: Command) -> Demo {
        let tmpdir = tempfile::Builder::new().prefix("twostep-demo-test-").tempdir().unwrap();
        let mut child = cmd
            .env("TMPDIR", tmpdir.path())
            // Its own process group, so that Drop can stop whatever it still runs (install.sh's build).
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Demo { stdin: child.stdin.take(), child, lines, stderr: Some(stderr), tmpdir }
    }

    /// The built module and admin command, instead of the installed ones.
    fn start_built(extra: &[&str]) -> Demo {
        let module = module_path();
        let twostep = twostep_bin();
        let mut args = vec!["--module", module.to_str().unwrap(), "--twostep", twostep.to_str().unwrap()];
        args.extend_from_slice(extra);
        Demo::start(&args)
    }

    /// The script's PID, which names everything it creates (`twostep-demo-PID`).
    fn name(&self) -> String {
        format!("twostep-demo-{}", self.child.id())
    }

    /// The next stdout line, or None when stdout closed or 60 s passed.
    fn line(&self) -> Option<String> {
        self.line_within(Duration::from_secs(60))
    }

    fn line_within(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Waits (up to 60 s) for the script to exit; returns its status and stderr.
    fn wait(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.stderr.take().unwrap().join().unwrap());
            }
            assert!(Instant::now() < deadline, "scripts/demo did not exit within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Nothing is left in the script's TMPDIR.
    fn assert_tmpdir_empty(&self) {
        let left: Vec<PathBuf> = std::fs::read_dir(self.tmpdir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // The script cleans up on SIGTERM; the rest of its group is ours too.
            let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// What `scripts/demo --json` prints.
#[derive(Debug, serde::Deserialize)]
struct Started {
    port: u16,
    user: String,
    password: String,
    secret: String,
    otpauth_uri: String,
    ssh: String,
    sshd_pid: i32,
    pam_service: PathBuf,
    module: PathBuf,
    config: PathBuf,
    dir: PathBuf,
}

/// paramiko (tests/e2e/paramiko_login.py) logs in over keyboard-interactive and runs `command`.
fn paramiko(port: u16, user: &str, answers: &[(&str, Vec<String>)], command: &str) -> ParamikoRun {
    let spec = serde_json::json!({"port": port, "user": user, "answers": answers, "key": null, "command": command});
    let out =
        Command::new(PYTHON).arg(repo().join("tests/e2e/paramiko_login.py")).arg(spec.to_string()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "paramiko_login.py failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("paramiko_login.py printed {stdout:?}: {e}"))
}

fn getent(db: &str, name: &str) -> bool {
    Command::new("getent").args([db, name]).stdout(Stdio::null()).status().unwrap().success()
}

/// The program a PID runs, if it still exists.
fn exe(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

fn uid_of(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    assert!(out.status.success(), "no user {user}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The PIDs running as `uid` (real uid), zombies left out (they run nothing;
/// a killed session's processes may wait a moment for init to reap them).
fn processes_of(uid: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().map_while(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        let field =
            |key: &str| status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next());
        if field("Uid:") == Some(uid.to_string().as_str()) && field("State:") != Some("Z") {
            pids.push(pid);
        }
    }
    pids
}

/// The machine's own sshd and PAM configuration, which the demo must not change.
fn machine_config() -> Vec<(String, Option<Vec<u8>>)> {
    let mut paths: Vec<String> =
        ["/etc/ssh/sshd_config", "/etc/pam.d/sshd", "/etc/pam.d/common-auth"].iter().map(|s| s.to_string()).collect();
    if let Ok(dir) = std::fs::read_dir("/etc/ssh/sshd_config.d") {
        paths.extend(dir.map(|e| e.unwrap().path().display().to_string()));
    }
    paths.sort();
    paths.into_iter().map(|p| (p.clone(), std::fs::read(&p).ok())).collect()
}

fn assert_all_removed(name: &str, stderr: &str) {
    assert!(!getent("passwd", name), "the user {name} is still there");
    assert!(!getent("group", name), "the group {name} is still there");
    let pam_file = format!("/etc/pam.d/{name}");
    assert!(!Path::new(&pam_file).exists(), "{pam_file} is still there");
    // Removed, not merely never made: the script says so for each.
    assert!(stderr.contains(&format!("removed the user {name}")), "{stderr}");
    assert!(stderr.contains(&format!("removed {pam_file}")), "{stderr}");
}

#[test]
fn the_demo_logs_in_with_password_and_code_refuses_a_wrong_code_and_removes_everything_on_ctrl_c() {
    let before = machine_config();
    let mut demo = Demo::start_built(&["--json"]);
    let line = demo.line().expect("a JSON line");
    let s: Started = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!(s.user, demo.name());
    assert_eq!(s.ssh, format!("ssh -p {} {}@localhost", s.port, s.user));
    assert_eq!(s.module, module_path());
    assert!(s.otpauth_uri.starts_with(&format!("otpauth://totp/twostep%20demo:{}?secret={}", s.user, s.secret)));
    assert!(s.dir.starts_with(demo.tmpdir.path()), "{s:?}");
    assert!(s.config.starts_with(&s.dir), "{s:?}");

    // Its own PAM service, naming the module with its own config.
    assert_eq!(s.pam_service, Path::new("/etc/pam.d").join(&s.user));
    let pam = std::fs::read_to_string(&s.pam_service).unwrap();
    let twostep_line = format!("auth required {} config={}", s.module.display(), s.config.display());
    assert!(pam.lines().any(|l| l == twostep_line), "{pam}");
    assert_eq!(exe(s.sshd_pid), Some(PathBuf::from("/usr/sbin/sshd")));
    assert!(getent("passwd", &s.user));

    let wrong =
        paramiko(s.port, &s.user, &[(PASSWORD, vec![s.password.clone()]), (CODE, vec![wrong_code(&s.secret)])], "true");
    assert!(!wrong.ok, "{wrong:?}");
    assert!(wrong.instructions().contains("Incorrect verification code. 4 attempts remain"), "{wrong:?}");

    let right =
        paramiko(s.port, &s.user, &[(PASSWORD, vec![s.password.clone()]), (CODE, vec![code(&s.secret, 0)])], "id -un");
    assert!(right.ok, "{right:?}");
    assert_eq!(right.stdout.trim(), s.user);
    assert_eq!(right.prompts(), [PASSWORD, CODE]);

    // The printed password opens nothing else: pam_unix's account check,
    // which the machine's services run (common-account), refuses the account.
    let confdir = demo.tmpdir.path().join("pam.d");
    std::fs::create_dir(&confdir).unwrap();
    std::fs::write(confdir.join("unix"), "auth required pam_unix.so\naccount required pam_unix.so\n").unwrap();
    let mut pamdrive = Command::new(pamdrive_bin());
    pamdrive.arg("--confdir").arg(&confdir).args(["--service", "unix", "--user", &s.user, "--account"]);
    let unix = Transcript::parse(&stdout(&run_with_stdin(pamdrive, &format!("{}\n", s.password))));
    assert!(unix.succeeded(), "the password is right: {unix:?}");
    assert!(unix.steps.iter().any(|(step, code)| step == "acct_mgmt" && code != "PAM_SUCCESS"), "{unix:?}");
    assert!(unix.said().contains("Your account has expired"), "{unix:?}");
    std::fs::remove_dir_all(&confdir).unwrap();

    // Still logged in when the demo stops: the session ends with it.
    let uid = uid_of(&s.user);
    let spec = serde_json::json!({"port": s.port, "user": s.user, "key": null, "command": "sleep 120",
        "answers": [(PASSWORD, vec![s.password.clone()]), (CODE, vec![code(&s.secret, 1)])]});
    let session = Command::new(PYTHON)
        .arg(repo().join("tests/e2e/paramiko_login.py"))
        .arg(spec.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !processes_of(uid).iter().any(|pid| exe(*pid) == Some(PathBuf::from("/usr/bin/sleep"))) {
        assert!(Instant::now() < deadline, "the session's sleep never started");
        std::thread::sleep(Duration::from_millis(50));
    }

    demo.signal(nix::sys::signal::SIGINT);
    let (status, stderr) = demo.wait();
    assert!(status.success(), "{status}: {stderr}");
    demo.assert_tmpdir_empty();
    assert_eq!(exe(s.sshd_pid), None, "sshd (PID {}) still runs: {stderr}", s.sshd_pid);
    assert!(stderr.contains(&format!("stopped sshd (PID {})", s.sshd_pid)), "{stderr}");
    assert_all_removed(&demo.name(), &stderr);
    assert_eq!(processes_of(uid), Vec::<i32>::new(), "processes of the demo user are left");
    let ended = session.wait_with_output().unwrap();
    let ended: ParamikoRun = serde_json::from_slice(&ended.stdout).unwrap();
    assert!(ended.ok && ended.exit != Some(0), "the session was cut off: {ended:?}");
    assert!(!s.dir.exists(), "{} is still there", s.dir.display());
    assert!(stderr.contains(&format!("removed {}", s.dir.display())), "{stderr}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err(), "nothing listens on the port any more");
    assert_eq!(machine_config(), before, "the machine's sshd or PAM configuration changed");
}

#[test]
fn the_interactive_demo_shows_the_qr_code_and_the_ssh_line_and_stops_when_its_input_closes() {
    let mut demo = Demo::start_built(&[]);
    let mut shown = Vec::new();
    while let Some(line) = demo.line() {
        let done = line.starts_with("Press Enter");
        shown.push(line);
        if done {
            break;
        }
    }
    let text = shown.join("\n");
    let name = demo.name();
    assert!(text.lines().filter(|l| l.contains('█')).count() > 10, "a QR code: {text}");
    assert!(text.contains(&format!("otpauth://totp/twostep%20demo:{name}?secret=")), "{text}");
    assert!(text.contains("secret key: "), "{text}");
    let ssh = text.lines().find(|l| l.trim_start().starts_with("ssh -p ")).expect("the ssh line").trim();
    assert!(ssh.ends_with(&format!(" {name}@localhost")), "{ssh}");
    let password = text.lines().find_map(|l| l.trim().strip_prefix("password  ")).expect("the password").trim();
    assert_eq!(password.len(), 16, "{text}");
    assert!(getent("passwd", &name));

    // A person types the printed ssh line (OpenSSH under a pty), the printed
    // password and the code for the secret key shown under the QR code.
    let secret: String = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret key: "))
        .expect("the secret key")
        .split_whitespace()
        .collect();
    let mut words = ssh.split_whitespace();
    assert_eq!(words.next(), Some("ssh"));
    let mut argv: Vec<String> = ["/usr/bin/ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no"]
        .into_iter()
        .chain(["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20"])
        .map(String::from)
        .collect();
    argv.extend(words.map(String::from));
    argv.push("echo logged-in-as-$(id -un)".into());
    let run = e2e::pty(&argv, &[(PASSWORD, vec![password.to_string()]), (CODE, vec![code(&secret, 0)])], &[]);
    assert_eq!(run.exit, Some(0), "{run:?}");
    assert!(run.transcript.contains(&format!("logged-in-as-{name}")), "{run:?}");

    drop(demo.stdin.take());
    let (status, stderr) = demo.wait();
    assert!(status.success(), "{status}: {stderr}");
    assert_all_removed(&name, &stderr);
    demo.assert_tmpdir_empty();
}

#[test]
fn a_failure_half_way_removes_what_the_demo_had_made() {
    // Enrollment fails after the user, the PAM file and the directory exist.
    let module = module_path();
    let mut demo = Demo::start(&["--json", "--module", module.to_str().unwrap(), "--twostep", "/bin/false"]);
    let (status, stderr) = demo.wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("twostep enroll failed"), "{stderr}");
    assert_eq!(demo.line(), None, "no JSON line for a demo that did not start");
    assert_all_removed(&demo.name(), &stderr);
    demo.assert_tmpdir_empty();
}

#[test]
fn a_module_others_could_change_is_refused_before_anything_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pam_twostep.so");
    std::fs::copy(module_path(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let twostep = twostep_bin();
    let mut demo = Demo::start(&["--json", "--module", copy.to_str().unwrap(), "--twostep", twostep.to_str().unwrap()]);
    let (status, stderr) = demo.wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("must be owned by root and not group/world-writable"), "{stderr}");
    assert!(!getent("passwd", &demo.name()));
    assert!(!Path::new(&format!("/etc/pam.d/{}", demo.name())).exists());
    demo.assert_tmpdir_empty();
}

/// Right after `sudo ./install.sh`, with no options, the demo uses the
/// installed module and command. Run inside a throwaway overlay of this
/// machine (tests/e2e/overlay.sh: what install.sh and the demo write there
/// vanishes), sharing the network, so paramiko logs in from outside.
#[test]
fn right_after_install_sh_the_demo_runs_the_installed_module() {
    build();
    let target = target_dir().parent().unwrap().to_path_buf();
    let scratch = tempfile::Builder::new().prefix("twostep-demo-overlay-").tempdir().unwrap();
    let mut cmd = Command::new(repo().join("tests/e2e/overlay.sh"));
    cmd.env("OVERLAY_BIND", &target).arg(scratch.path()).args([
        "/bin/sh",
        "-c",
        &format!("cd {} && ./install.sh >&2 && exec scripts/demo --json", repo().display()),
    ]);
    let mut demo = Demo::spawn(cmd);
    // install.sh builds the release profile first (shared with tests/install.rs).
    let Some(line) = demo.line_within(Duration::from_secs(1200)) else {
        let (status, stderr) = demo.wait();
        panic!("no JSON line; install.sh and the demo ended {status}: {stderr}");
    };
    let s: Started = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!(s.module, Path::new("/usr/lib/x86_64-linux-gnu/security/pam_twostep.so"));
    assert_eq!(s.user, demo.name());
    let run =
        paramiko(s.port, &s.user, &[(PASSWORD, vec![s.password.clone()]), (CODE, vec![code(&s.secret, 0)])], "id -un");
    assert!(run.ok, "{run:?}");
    assert_eq!(run.stdout.trim(), s.user);

    demo.signal(nix::sys::signal::SIGTERM);
    let (status, stderr) = demo.wait();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains(&format!("removed the user {}", s.user)), "{stderr}");
    assert_eq!(exe(s.sshd_pid), None, "sshd still runs: {stderr}");
    demo.assert_tmpdir_empty();
}
