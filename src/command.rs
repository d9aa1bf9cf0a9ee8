//! Running a helper command (the mail command, the SMS command): a fixed
//! argv from the config (no shell), a cleared environment (only a fixed
//! [`PATH`]), directory `/`, the input on stdin (an in-memory file, so writing
//! it can neither block nor raise SIGPIPE) and stdout+stderr on one pipe whose
//! start is kept for the syslog reason: the secret (the code) is redacted from
//! it here, before it is cut to [`MAX_OUTPUT`] bytes, and a code cut in half
//! at the end loses its digits too ([`RunError`] only ever holds redacted
//! text). The caller's `setup` hook puts the child in a process group of its
//! own (the PAM glue also resets what the host process handed down: ids,
//! limits, umask, signals, session, descriptors; see `src/pam/child.rs`);
//! after the timeout the whole group is killed with SIGKILL and the child
//! reaped. A grandchild that keeps the pipe open (a daemonizing MTA) never
//! makes us wait: once the child itself has exited we stop reading.
//!
//! What to run and how to word its failure is the caller's: [`crate::sendmail`]
//! for mail, [`crate::sms`] for text messages; the LDAP client
//! (`src/store/ldap/client.rs`) takes [`PATH`] and [`own_process_group`] from here.

use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// `PATH`, the only environment variable a command gets.
pub const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Bytes of the command's output kept for the log (after redaction and folding).
pub const MAX_OUTPUT: usize = 1024;
/// Bytes of the command's output read (more than is kept, so that a code around
/// the [`MAX_OUTPUT`] boundary is seen whole and redacted before the cut).
const READ_OUTPUT: usize = 4 * MAX_OUTPUT;
/// What replaces the code in the command's output.
pub const REDACTED: &str = "[code]";

/// Why a command did not succeed; the caller words it for its setting
/// ([`crate::sendmail::SendError`], [`crate::sms::SmsError`]).
#[derive(Debug)]
pub enum RunError {
    /// The program does not exist.
    Missing(String),
    /// The program could not be started.
    Spawn(String, io::Error),
    /// The program ran and failed; `output` is its start, code redacted, one line.
    Failed { program: String, status: ExitStatus, output: String },
    /// The program did not finish in time and was killed.
    TimedOut { program: String, secs: u64 },
    /// Something around the program failed (pipe, memory file, wait).
    Io(&'static str, io::Error),
}

/// The least a `setup` hook does: a process group of its own, so that a timeout
/// kills whatever the command started too.
pub fn own_process_group(cmd: &mut Command) {
    cmd.process_group(0);
}

/// Runs `argv` with `stdin` as its standard input; success is exit status 0 within `timeout`.
///
/// `setup` gets the command with argv, environment, directory and stdio set, and
/// must put the child in a new process group ([`own_process_group`], or a new
/// session). `secret` (the code; may be empty) never appears in the error.
pub fn run(
    argv: &[String],
    timeout: Duration,
    stdin: &[u8],
    secret: &str,
    setup: &dyn Fn(&mut Command),
) -> Result<(), RunError> {
    let program = argv.first().cloned().unwrap_or_default();
    let input = memory_file(stdin).map_err(|e| RunError::Io("prepare the message", e))?;
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| RunError::Io("create a pipe", io::Error::from(e)))?;
    let mut reader = std::fs::File::from(reader);
    let writer2 = writer.try_clone().map_err(|e| RunError::Io("create a pipe", e))?;
    let mut cmd = Command::new(&program);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", PATH)
        .current_dir("/")
        .stdin(Stdio::from(input))
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2));
    setup(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(RunError::Missing(program)),
        Err(e) => return Err(RunError::Spawn(program, e)),
    };
    // Our copies of the write end are gone with `cmd`: EOF comes when the child side closes.
    drop(cmd);

    let deadline = Instant::now() + timeout;
    let mut output = Captured::default();
    let mut eof = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                return Err(RunError::Io("wait", e));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            kill_group(&mut child);
            return Err(RunError::TimedOut { program, secs: timeout.as_secs() });
        }
        // Short slices: we notice the child's exit soon even if a grandchild holds the pipe.
        let slice = left.min(Duration::from_millis(20));
        if eof {
            std::thread::sleep(slice);
        } else {
            eof = read_some(&mut reader, &mut output, slice);
        }
    };
    // Whatever is already buffered (bounded: a grandchild may still be writing).
    let mut rounds = 0;
    while !eof && rounds < 64 && !read_some(&mut reader, &mut output, Duration::ZERO) {
        rounds += 1;
    }
    if status.success() {
        Ok(())
    } else {
        Err(RunError::Failed { program, status, output: output_for_log(&output.bytes, output.cut, secret) })
    }
}

/// The start of the command's output; `cut` when more came than was kept.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    cut: bool,
}

/// Waits up to `wait` for output and reads one chunk; returns true at end of file
/// (or on a read error, which ends reading just the same).
fn read_some(reader: &mut std::fs::File, output: &mut Captured, wait: Duration) -> bool {
    let ready = {
        let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::from(wait.as_millis().min(1000) as u16);
        match poll(&mut fds, ms) {
            Ok(n) => n > 0,
            Err(nix::errno::Errno::EINTR) => false,
            Err(_) => return true,
        }
    };
    if !ready {
        // Nothing within `wait`: not the end, just quiet.
        return false;
    }
    let mut buf = [0u8; 4096];
    match reader.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => {
            let room = READ_OUTPUT.saturating_sub(output.bytes.len());
            output.bytes.extend_from_slice(&buf[..n.min(room)]);
            output.cut |= n > room;
            false
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
        Err(_) => true,
    }
}

/// SIGKILL to the child's process group (the child and what it started), then reap the child.
fn kill_group(child: &mut Child) {
    // The child is not reaped yet, so its pid (= the group id) cannot have been reused.
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// `bytes` in an anonymous in-memory file, positioned at the start.
fn memory_file(bytes: &[u8]) -> io::Result<std::fs::File> {
    let fd = nix::sys::memfd::memfd_create(c"twostep-mail", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(io::Error::from)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}

/// The command's output as one line for the log: `secret` replaced by
/// [`REDACTED`] first, whitespace runs folded, then at most [`MAX_OUTPUT`] bytes.
/// Where the text was cut (`cut`: by the reader, or here), a tail that is the
/// start of `secret` is dropped as well, so no prefix of a code survives.
fn output_for_log(bytes: &[u8], mut cut: bool, secret: &str) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if !secret.is_empty() {
        text = text.replace(secret, REDACTED);
    }
    let mut line = text.split_whitespace().collect::<Vec<&str>>().join(" ");
    if line.len() > MAX_OUTPUT {
        let mut end = MAX_OUTPUT;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        cut = true;
    }
    let prefix = if cut { (1..secret.len()).rev().find(|&k| line.ends_with(&secret[..k])).unwrap_or(0) } else { 0 };
    line.truncate(line.len() - prefix);
    line.truncate(line.trim_end().len());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    /// [`run`] with no code to hide and only a process group of its own.
    fn run_plain(argv: &[String], timeout: Duration, stdin: &[u8]) -> Result<(), RunError> {
        run(argv, timeout, stdin, "", &own_process_group)
    }

    #[test]
    fn a_command_that_succeeds_gets_the_message_on_stdin_and_no_environment() {
        let dir = crate::trusted_fs::private_tempdir();
        let out = dir.path().join("out");
        let script = format!("cat > {0}.msg; env > {0}.env; echo \"$@\" > {0}.args", out.display());
        let mut argv = sh(&script);
        argv.extend(["x".into(), "-t".into(), "-i".into()]);
        run_plain(&argv, Duration::from_secs(5), b"To: a@b.c\n\nhello\n").unwrap();
        assert_eq!(std::fs::read_to_string(out.with_extension("msg")).unwrap(), "To: a@b.c\n\nhello\n");
        let env = std::fs::read_to_string(out.with_extension("env")).unwrap();
        let names: Vec<&str> = env.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
        assert!(names.iter().all(|n| ["PATH", "PWD", "SHLVL", "_"].contains(n)), "{env}");
        assert!(env.contains("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), "{env}");
        assert_eq!(std::fs::read_to_string(out.with_extension("args")).unwrap(), "-t -i\n");
    }

    #[test]
    fn a_failing_command_reports_its_status_and_output() {
        let e = run_plain(&sh("echo 'relay access denied' >&2; exit 75"), Duration::from_secs(5), b"").unwrap_err();
        let RunError::Failed { program, status, output } = e else { panic!("{e:?}") };
        assert_eq!((program.as_str(), status.code()), ("/bin/sh", Some(75)));
        assert_eq!(output, "relay access denied");
    }

    #[test]
    fn output_kept_for_the_log_is_bounded() {
        let e =
            run_plain(&sh("head -c 100000 /dev/zero | tr '\\0' x; exit 1"), Duration::from_secs(5), b"").unwrap_err();
        let RunError::Failed { output, .. } = e else { panic!("{e:?}") };
        assert_eq!(output.len(), MAX_OUTPUT);
    }

    #[test]
    fn the_code_is_redacted_before_the_output_is_cut_even_across_the_boundary() {
        let code = "042917";
        // Every position of the code around the MAX_OUTPUT cut, whole or split by it.
        for start in MAX_OUTPUT - 8..MAX_OUTPUT + 2 {
            let text = format!("{}{code} tail", "x".repeat(start));
            let line = output_for_log(text.as_bytes(), false, code);
            assert!(line.len() <= MAX_OUTPUT, "{start}: {}", line.len());
            assert!(!line.contains(code), "{start}");
            for k in 1..code.len() {
                assert!(!line.ends_with(&code[..k]), "{start}: a prefix of the code survived: {line:?}");
            }
        }
        // Cut by the reader (more output than is read): the prefix goes too.
        assert_eq!(output_for_log(b"code is: 0429", true, code), "code is:");
        assert_eq!(output_for_log(b"code is: 0429", false, code), "code is: 0429", "not cut: no code there");
        assert_eq!(output_for_log(b"a 042917\n\n b 042917", false, code), "a [code] b [code]");
        assert_eq!(output_for_log(b"exit 1", true, ""), "exit 1");
    }

    #[test]
    fn a_command_that_echoes_the_message_gets_its_code_redacted_in_the_error() {
        let code = "042917";
        // 1020 bytes, then the code (on stdin): the cut at MAX_OUTPUT falls inside it.
        let echo = sh("head -c 1020 /dev/zero | tr '\\0' x; cat; exit 1");
        let e = run(&echo, Duration::from_secs(5), code.as_bytes(), code, &own_process_group).unwrap_err();
        let RunError::Failed { output, .. } = &e else { panic!("{e:?}") };
        assert!(output.len() <= MAX_OUTPUT && output.starts_with("xxx"), "{e:?}");
        assert!(!output.contains("04") && !output.ends_with(|c: char| c.is_ascii_digit()), "{output}");
        // Cut by the reader inside the code (the spaces fold away): nothing of it either.
        let echo = sh(&format!("head -c {} /dev/zero | tr '\\0' ' '; cat; exit 1", READ_OUTPUT - 2));
        let e = run(&echo, Duration::from_secs(5), code.as_bytes(), code, &own_process_group).unwrap_err();
        assert!(!format!("{e:?}").contains("04"), "{e:?}");
    }

    #[test]
    fn a_missing_command_is_named() {
        let e = run_plain(&["/nonexistent/sendmail".to_string()], Duration::from_secs(5), b"").unwrap_err();
        let RunError::Missing(program) = e else { panic!("{e:?}") };
        assert_eq!(program, "/nonexistent/sendmail");
    }

    #[test]
    fn a_hung_command_is_killed_with_everything_it_started() {
        let dir = crate::trusted_fs::private_tempdir();
        let pidfile = dir.path().join("grandchild");
        // The grandchild keeps the output pipe open and would outlive a plain kill of the child.
        let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
        let started = Instant::now();
        let e = run_plain(&sh(&script), Duration::from_secs(1), b"").unwrap_err();
        assert!(matches!(e, RunError::TimedOut { secs: 1, .. }), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // Killed (and reaped by init, or a zombie at worst): not running any more.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let running = state.split(") ").nth(1).is_some_and(|s| !s.starts_with('Z'));
            if !running {
                break;
            }
            assert!(Instant::now() < deadline, "grandchild {pid} still running: {state}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_grandchild_holding_the_pipe_does_not_delay_success() {
        let dir = crate::trusted_fs::private_tempdir();
        let pidfile = dir.path().join("grandchild");
        let started = Instant::now();
        // The child exits at once; its background grandchild keeps stdout open for 30 s.
        run_plain(&sh(&format!("sleep 30 & echo $! > {}; exit 0", pidfile.display())), Duration::from_secs(10), b"")
            .unwrap();
        let elapsed = started.elapsed();
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
}
