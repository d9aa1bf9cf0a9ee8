//! Talking to the directory: Debian's `ldapsearch` and `ldapmodify`
//! (ldap-utils) as short-lived child processes.
//!
//! Why child processes and not a library: this code runs inside sshd. The
//! Rust LDAP client (`ldap3`) is built on tokio, also behind its synchronous
//! API, so it would start a runtime and threads inside the host; linking
//! libldap directly would leave its TLS and connection state in the host.
//! A child that connects, does one operation and exits leaves nothing
//! behind: no thread, no socket, no runtime survives `pam_sm_authenticate`,
//! and a directory that hangs costs exactly the timeout (the child's whole
//! process group is killed with SIGKILL, then reaped).
//!
//! Every child gets: a fixed argv (no shell; the user name only inside an
//! RFC 4515-escaped filter), a cleared environment (`PATH`, `HOME` pointing
//! nowhere, the TLS settings: CA file, certificate check `demand`), `/` as
//! its directory, stdin/stdout/stderr on anonymous in-memory files (writing
//! can never block), and the host's clean-child hook (`src/pam/child.rs`,
//! installed with [`use_host_hooks`]). The bind password is never on the
//! command line: `-y FILE` (the root-only `password_file`). Every value
//! written goes base64-encoded into the LDIF (`attr:: …`), so no value can
//! inject LDIF.
//!
//! URIs are tried in order; only a client-side failure (cannot connect, TLS
//! failure, a failed StartTLS, timeout: see [`could_not_connect`]) moves on
//! to the next. An answer from a server (wrong credentials, no such entry, a
//! failed compare-and-swap) is final. When TLS was the failure, the log line
//! says why in libldap's words (see [`Client::tls_diagnosis`]).

use std::io::{self, Read, Seek, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::config::LdapConfig;

use super::ldif::{LdifEntry, parse_ldif};
use crate::store::error::DirectoryError;

/// Where the ldap-utils programs are (Debian's paths; absolute, never `$PATH`).
pub const LDAPSEARCH: &str = "/usr/bin/ldapsearch";
pub const LDAPMODIFY: &str = "/usr/bin/ldapmodify";
/// Most bytes of a command's output read (a search for `twostep list` of
/// thousands of users fits many times over).
const MAX_OUTPUT: u64 = 64 << 20;
/// Bytes of stderr kept for the log.
const MAX_DETAIL: usize = 300;

/// How children are started: the PAM glue installs its clean-child hook and
/// its SIGCHLD guard (see `src/pam/mod.rs`); the admin command and the tests
/// use the default (a process group of its own, nothing around).
#[derive(Clone, Copy)]
pub struct ChildHooks {
    pub setup: fn(&mut Command),
    pub around: fn(&mut dyn FnMut()),
}

static HOOKS: OnceLock<ChildHooks> = OnceLock::new();

/// Installs `hooks` for every later child (the first call wins: the PAM glue
/// installs the same ones on every login).
pub fn use_host_hooks(hooks: ChildHooks) {
    let _ = HOOKS.set(hooks);
}

fn hooks() -> ChildHooks {
    *HOOKS.get_or_init(|| ChildHooks { setup: crate::command::own_process_group, around: |f| f() })
}

/// LDAP result codes a caller tells apart.
pub mod code {
    pub const NO_SUCH_ATTRIBUTE: i32 = 16;
    pub const CONSTRAINT_VIOLATION: i32 = 19;
    pub const TYPE_OR_VALUE_EXISTS: i32 = 20;
    pub const NO_SUCH_OBJECT: i32 = 32;
    pub const OBJECT_CLASS_VIOLATION: i32 = 65;
}

/// A client for one `[ldap]` table. It remembers which URI answered last, so
/// that the rest of a login goes there first.
#[derive(Debug)]
pub struct Client {
    cfg: LdapConfig,
    preferred: AtomicUsize,
}

/// How one run of a program ended.
enum Ran {
    Exited { code: i32, stdout: Vec<u8>, stderr: Vec<u8> },
    TimedOut,
}

/// How one URI's try at an operation went.
enum Attempt {
    /// Done: the program's output.
    Answered(Vec<u8>),
    /// The server answered with an error: final, no other URI is tried.
    Refused(DirectoryError),
    /// Could not be used (down, TLS, timeout): why, naming the URI; the next URI is tried.
    Unreachable(String),
}

/// Seconds the TLS diagnosis may take at most (see [`Client::tls_diagnosis`]).
const DIAGNOSIS_TIMEOUT: u64 = 2;

impl Client {
    pub fn new(cfg: LdapConfig) -> Client {
        Client { cfg, preferred: AtomicUsize::new(0) }
    }

    pub fn config(&self) -> &LdapConfig {
        &self.cfg
    }

    /// Searches `base` (scope `sub` or `base`) for `filter`; returns the entries.
    pub fn search(
        &self,
        base: &str,
        scope: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<LdifEntry>, DirectoryError> {
        let mut args: Vec<String> = vec!["-LLL".into(), "-o".into(), "ldif-wrap=no".into()];
        args.extend(["-b".into(), base.into(), "-s".into(), scope.into(), filter.into()]);
        args.extend(attrs.iter().map(|a| a.to_string()));
        match self.run(LDAPSEARCH, &args, b"") {
            Ok(out) => parse_ldif(&out),
            // No such base: nothing found (a base-scope read of a deleted entry).
            Err(DirectoryError::Refused { code: code::NO_SUCH_OBJECT, .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Applies `ldif` (one or more change records) with `ldapmodify`.
    pub fn modify(&self, ldif: &[u8]) -> Result<(), DirectoryError> {
        self.run(LDAPMODIFY, &[], ldif).map(drop)
    }

    /// Runs `program` against each URI in turn, from the one that answered last.
    fn run(&self, program: &str, op_args: &[String], stdin: &[u8]) -> Result<Vec<u8>, DirectoryError> {
        let n = self.cfg.uris.len();
        let first = self.preferred.load(Ordering::Relaxed) % n;
        let mut failures = Vec::new();
        for i in (0..n).map(|k| (first + k) % n) {
            match self.attempt(&self.cfg.uris[i], program, op_args, stdin)? {
                Attempt::Answered(stdout) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(stdout);
                }
                Attempt::Refused(e) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Err(e);
                }
                Attempt::Unreachable(why) => failures.push(why),
            }
        }
        Err(DirectoryError::Unreachable(failures))
    }

    /// Reads `base` (scope base, no attributes) at every URI, one by one:
    /// whether each can be reached, verifies and accepts the bind, and has
    /// `base` (`twostep check`; at most `timeout` seconds per URI, plus the
    /// TLS diagnosis).
    pub fn probe(&self, base: &str) -> Vec<(String, Result<(), DirectoryError>)> {
        let args: Vec<String> =
            ["-LLL", "-b", base, "-s", "base", "(objectClass=*)", "1.1"].iter().map(|a| a.to_string()).collect();
        let probe = |uri: &String| match self.attempt(uri, LDAPSEARCH, &args, b"") {
            Ok(Attempt::Answered(_)) => Ok(()),
            Ok(Attempt::Refused(e)) | Err(e) => Err(e),
            Ok(Attempt::Unreachable(why)) => Err(DirectoryError::Unreachable(vec![why])),
        };
        self.cfg.uris.iter().map(|uri| (uri.clone(), probe(uri))).collect()
    }

    /// One run of `program` at `uri`. `Err`: a local failure (no child).
    fn attempt(&self, uri: &str, program: &str, op_args: &[String], stdin: &[u8]) -> Result<Attempt, DirectoryError> {
        let mut args = self.connection_args(uri);
        args.extend_from_slice(op_args);
        Ok(match self.run_once(program, &args, stdin, self.cfg.timeout)? {
            Ran::TimedOut => Attempt::Unreachable(format!("{uri}: no answer within {} s", self.cfg.timeout)),
            Ran::Exited { code: 0, stdout, .. } => Attempt::Answered(stdout),
            Ran::Exited { code, stderr, .. } if could_not_connect(code, &stderr) => {
                let mut why = format!("{uri}: {}", detail(&stderr));
                if let Some(tls) = self.tls_diagnosis(uri) {
                    why.push_str(&format!(
                        " ({tls}: the server's certificate does not verify against [ldap] ca_file, \
                         or does not name the host of the URI)"
                    ));
                }
                Attempt::Unreachable(why)
            }
            Ran::Exited { code, stderr, .. } => {
                Attempt::Refused(DirectoryError::Refused { uri: uri.to_string(), code, detail: detail(&stderr) })
            }
        })
    }

    fn connection_args(&self, uri: &str) -> Vec<String> {
        let t = self.cfg.timeout.to_string();
        let mut a: Vec<String> = vec!["-H".into(), uri.into(), "-o".into(), format!("nettimeout={t}")];
        let lower = uri.to_ascii_lowercase();
        if lower.starts_with("ldap://") && self.cfg.starttls {
            // -ZZ: StartTLS must succeed, never a fallback to clear text.
            a.push("-ZZ".into());
        }
        match (&self.cfg.bind_dn, &self.cfg.password_file) {
            (Some(dn), Some(file)) => {
                a.extend(["-x".into(), "-D".into(), dn.clone(), "-y".into(), file.display().to_string()]);
            }
            _ => a.extend(["-Q".into(), "-Y".into(), "EXTERNAL".into()]),
        }
        a
    }

    /// Why TLS to `uri` failed, in libldap's own words (`TLS: peer cert
    /// untrusted or revoked`, `TLS: hostname (…) does not match …`), or `None`
    /// when TLS was not the problem. ldap-utils report a failed certificate
    /// check only as "Can't contact LDAP server", and their trace output is not
    /// turned on for real operations (it could carry values); so the failed
    /// connection is tried once more, for a read of the root DSE with no
    /// credentials at all, with the trace on, keeping only its `TLS:` lines.
    /// The certificate is checked as strictly as before, so nothing reaches a
    /// server that does not verify. Bounded by [`DIAGNOSIS_TIMEOUT`].
    fn tls_diagnosis(&self, uri: &str) -> Option<String> {
        let lower = uri.to_ascii_lowercase();
        let starttls = lower.starts_with("ldap://") && self.cfg.starttls;
        if !lower.starts_with("ldaps://") && !starttls {
            return None;
        }
        let timeout = self.cfg.timeout.min(DIAGNOSIS_TIMEOUT);
        let mut args: Vec<String> = vec!["-H".into(), uri.into(), "-o".into(), format!("nettimeout={timeout}")];
        if starttls {
            args.push("-ZZ".into());
        }
        args.extend(["-d", "1", "-x", "-LLL", "-b", "", "-s", "base", "(objectClass=*)", "1.1"].map(String::from));
        let Ok(Ran::Exited { stderr, .. }) = self.run_once(LDAPSEARCH, &args, b"", timeout) else { return None };
        tls_lines(&stderr)
    }

    fn run_once(&self, program: &str, args: &[String], stdin: &[u8], timeout: u64) -> Result<Ran, DirectoryError> {
        let local = |what: &str, e: io::Error| DirectoryError::Local(format!("{what}: {e}"));
        let input = memory_file(stdin).map_err(|e| local("prepare input", e))?;
        let out = memory_file(b"").map_err(|e| local("prepare output", e))?;
        let err = memory_file(b"").map_err(|e| local("prepare output", e))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", crate::command::PATH)
            .env("HOME", "/nonexistent")
            .env("LDAPTLS_REQCERT", "demand")
            .current_dir("/")
            .stdin(Stdio::from(input))
            .stdout(Stdio::from(out.try_clone().map_err(|e| local("prepare output", e))?))
            .stderr(Stdio::from(err.try_clone().map_err(|e| local("prepare output", e))?));
        if let Some(ca) = &self.cfg.ca_file {
            cmd.env("LDAPTLS_CACERT", ca);
        }
        let hooks = hooks();
        (hooks.setup)(&mut cmd);
        let timeout = Duration::from_secs(timeout);
        let mut result = Err(DirectoryError::Local("not run".into()));
        (hooks.around)(&mut || result = wait_for(&mut cmd, program, timeout));
        drop(cmd);
        let status = match result? {
            Some(status) => status,
            None => return Ok(Ran::TimedOut),
        };
        let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let stdout = read_all(out).map_err(|e| local("read output", e))?;
        let stderr = read_all(err).map_err(|e| local("read output", e))?;
        Ok(Ran::Exited { code, stdout, stderr })
    }
}

/// Whether a run of ldap-utils ended before any server answered the
/// operation: they exit with the LDAP result code, and with 256 + code for
/// libldap's negative ones (server down -1, timeout -5, connect or TLS error
/// -11, …); a failed StartTLS (`-ZZ`) exits 1 after printing `ldap_start_tls:`.
fn could_not_connect(code: i32, stderr: &[u8]) -> bool {
    code >= 80 || (code == 1 && stderr.starts_with(b"ldap_start_tls"))
}

/// libldap's `TLS: …` trace lines that say why a handshake failed, joined.
fn tls_lines(trace: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(trace);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("TLS: ") && !l.starts_with("TLS: can't connect"))
        .collect();
    if lines.is_empty() { None } else { Some(detail(lines.join("; ").as_bytes())) }
}

/// Spawns `cmd` and waits at most `timeout`; `None` when it had to be killed.
fn wait_for(
    cmd: &mut Command,
    program: &str,
    timeout: Duration,
) -> Result<Option<std::process::ExitStatus>, DirectoryError> {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DirectoryError::Local(format!("{program} is missing; install ldap-utils")));
        }
        Err(e) => return Err(DirectoryError::Local(format!("cannot start {program}: {e}"))),
    };
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                return Err(DirectoryError::Local(format!("wait for {program}: {e}")));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            kill_group(&mut child);
            return Ok(None);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// SIGKILL to the child's process group, then reap the child.
fn kill_group(child: &mut std::process::Child) {
    // Not reaped yet, so its pid (= its group id) cannot have been reused.
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

fn memory_file(bytes: &[u8]) -> io::Result<std::fs::File> {
    let fd = nix::sys::memfd::memfd_create(c"twostep-ldap", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(io::Error::from)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}

fn read_all(mut file: std::fs::File) -> io::Result<Vec<u8>> {
    file.rewind()?;
    let mut bytes = Vec::new();
    (&mut file).take(MAX_OUTPUT).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The command's stderr for the log: one line, bounded.
fn detail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.len() > MAX_DETAIL {
        let mut cut = MAX_DETAIL;
        while !one.is_char_boundary(cut) {
            cut -= 1;
        }
        one.truncate(cut);
        one.push('…');
    }
    if one.is_empty() { "no message".into() } else { one }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_starttls_moves_on_but_a_server_answer_does_not() {
        assert!(could_not_connect(255, b"ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)"));
        assert!(could_not_connect(1, b"ldap_start_tls: Connect error (-11)"));
        assert!(!could_not_connect(1, b"ldap_modify: Operations error (1)"));
        assert!(!could_not_connect(49, b"ldap_bind: Invalid credentials (49)"));
    }

    #[test]
    fn only_the_tls_lines_of_a_trace_are_kept() {
        let trace = b"ldap_connect_to_host: Trying 127.0.0.1:636\nconnect success\n\
                      TLS: peer cert untrusted or revoked (0x42)\nTLS: can't connect: (unknown error code).\n";
        assert_eq!(tls_lines(trace).as_deref(), Some("TLS: peer cert untrusted or revoked (0x42)"));
        assert_eq!(tls_lines(b"ldap_connect_to_host: Trying\nconnect errno: 111\n"), None);
    }
}
