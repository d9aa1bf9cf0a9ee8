//! Sending an email code: composing the RFC 5322 message and handing it to the
//! server's mail system through a sendmail-compatible command (`[email] command`).
//!
//! The command runs with the fixed argv from the config (no shell), a cleared
//! environment (only a fixed `PATH`), the message on stdin (an in-memory file,
//! so writing it can neither block nor raise SIGPIPE) and stdout+stderr on one
//! pipe whose start is kept for the syslog reason: the code is redacted from it
//! here, before it is cut to [`MAX_OUTPUT`] bytes, and a code cut in half at
//! the end loses its digits too ([`SendError`] only ever holds redacted text).
//! The caller's `setup` hook puts the child in a process group of its own (the
//! PAM glue also resets what the host process handed down: ids, limits, umask,
//! signals, session, descriptors; see `src/pam/child.rs`); after `[email]
//! timeout` seconds the whole group is killed with SIGKILL and the child
//! reaped. A grandchild that keeps the pipe open (a daemonizing MTA) never
//! makes us wait: once the child itself has exited we stop reading.
//!
//! When to send and what to record is [`crate::auth`]'s job; the code rules
//! are in [`crate::email_code`].

use std::fmt;
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use zeroize::Zeroizing;

use crate::address::{Sender, default_sender};
use crate::config::EmailConfig;
use crate::email_code::describe_duration;
use crate::secret::{RandomError, fill_random};

/// `PATH`, the only environment variable the mail command gets.
pub const MAIL_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Bytes of the command's output kept for the log (after redaction and folding).
pub const MAX_OUTPUT: usize = 1024;
/// Bytes of the command's output read (more than is kept, so that a code around
/// the [`MAX_OUTPUT`] boundary is seen whole and redacted before the cut).
const READ_OUTPUT: usize = 4 * MAX_OUTPUT;
/// What replaces the code in the command's output.
pub const REDACTED: &str = "[code]";

/// What one email needs besides the configuration. Its `Debug` leaves the code out.
#[derive(Clone, Copy)]
pub struct Letter<'a> {
    /// A validated address ([`crate::address::validate_address`]).
    pub to: &'a str,
    pub user: &'a str,
    pub host: &'a str,
    pub code: &'a str,
    /// Seconds since the epoch.
    pub now: u64,
}

impl fmt::Debug for Letter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Letter")
            .field("to", &self.to)
            .field("user", &self.user)
            .field("host", &self.host)
            .field("code", &"<redacted>")
            .field("now", &self.now)
            .finish()
    }
}

/// This machine's name for the message (`Message-ID`, body), reduced to
/// characters that are safe in a header: letters, digits, `.` and `-`.
pub fn hostname() -> String {
    let raw = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    host_for_mail_header(&raw)
}

/// The host name for the Subject and Message-ID headers: letters, digits,
/// `.` and `-` only, so nothing from the host name can add a header.
fn host_for_mail_header(raw: &str) -> String {
    let clean: String = raw.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')).take(253).collect();
    let clean = clean.trim_matches('.').to_string();
    if clean.is_empty() { "localhost".into() } else { clean }
}

/// A user name for the body of a message: control characters and the
/// invisible ones that reorder or break a line ([`crate::user::unsafe_on_terminal`])
/// become `?`, and very long names are cut, so it can never break a line or
/// the message, or read as something else in a mail client.
fn user_for_mail_body(user: &str) -> String {
    let mut out: String =
        user.chars().take(100).map(|c| if crate::user::unsafe_on_terminal(c) { '?' } else { c }).collect();
    if user.chars().count() > 100 {
        out.push('…');
    }
    out
}

/// A composed message and the code in it (so that the runner can keep the code
/// out of what the mail command prints). Its `Debug` shows neither.
pub struct Message {
    text: Zeroizing<String>,
    code: Zeroizing<String>,
    /// The sender's bare address, for `{from}` in the command ([`command_for`]).
    envelope_from: String,
}

impl Message {
    /// The complete message, as the mail command gets it on stdin.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message").field("len", &self.text.len()).finish_non_exhaustive()
    }
}

/// Handing a message to the mail system (the login flow talks to this trait;
/// [`Sendmail`] is the real one, wrapped by the PAM glue for the host process).
pub trait Mailer {
    /// Delivers `message` (a complete RFC 5322 message) with `[email] command`;
    /// the error says what went wrong, for the log (the code already redacted).
    fn send(&mut self, cfg: &EmailConfig, message: &Message) -> Result<(), SendError>;
}

/// Why no message could be composed (nothing was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeError {
    /// The time (seconds since the epoch) has no calendar date for the `Date:` header.
    ClockOutOfRange(u64),
    /// No random Message-ID.
    Random(RandomError),
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComposeError::ClockOutOfRange(_) => f.write_str("the clock is out of range"),
            ComposeError::Random(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ComposeError {}

impl From<RandomError> for ComposeError {
    fn from(e: RandomError) -> Self {
        ComposeError::Random(e)
    }
}

/// The sender of the messages: `[email] from`, else `twostep@` the host's
/// mail domain ([`crate::address::default_sender`]: /etc/mailname, else `host`
/// when it has a domain part, else `localhost`).
pub fn sender(cfg: &EmailConfig, host: &str) -> Sender {
    if let Some(from) = &cfg.from {
        return from.clone();
    }
    // Debian's name for the domain outgoing mail comes from; a short read, as it is one line.
    let mailname = std::fs::File::open(MAILNAME).ok().and_then(|f| {
        let mut text = String::new();
        f.take(256).read_to_string(&mut text).ok().map(|_| text)
    });
    default_sender(&host_for_mail_header(host), mailname.as_deref())
}

/// Where Debian keeps the mail domain of the host.
pub const MAILNAME: &str = "/etc/mailname";

/// The complete message (LF line ends, as sendmail-compatible commands expect on stdin).
///
/// Header values are the sender (checked by the config or built from a
/// sanitized host name), the validated address, a sanitized host name and
/// fixed text: nothing a user controls reaches a header.
pub fn compose(cfg: &EmailConfig, letter: &Letter<'_>) -> Result<Message, ComposeError> {
    let valid = describe_duration(cfg.code_valid);
    let host = host_for_mail_header(letter.host);
    let user = user_for_mail_body(letter.user);
    // Sized so that it never grows: no copy of the code is left behind in freed memory.
    let mut body = Zeroizing::new(String::with_capacity(4096));
    // Writing into a String cannot fail.
    let _ = fmt::Write::write_fmt(
        &mut *body,
        format_args!(
            "Someone is signing in to {host} as {user} and asked for a code by email.\n\
         \n\
         Your verification code is:\n\
         \n\
         \x20   {code}\n\
         \n\
         Enter it at the \"Verification code:\" prompt. It is valid for {valid}\n\
         and can be used once.\n\
         \n\
         If this was not you, do not share the code with anyone: someone may know\n\
         your password. Tell your administrator.\n",
            code = letter.code,
        ),
    );
    let subject = format!("Your verification code for {host}");
    assemble(cfg, letter, &subject, body)
}

/// A message that proves the mail path works (`twostep email USER --test`):
/// the headers of a code message and a body that says it is a test. It has no
/// code in it; `letter.code` is ignored.
pub fn compose_test(cfg: &EmailConfig, letter: &Letter<'_>) -> Result<Message, ComposeError> {
    let host = host_for_mail_header(letter.host);
    let user = user_for_mail_body(letter.user);
    let body = format!(
        "This is a test message from two-step verification on {host}.\n\
         No action is needed and there is no code in it.\n\
         \n\
         An administrator sent it to check that verification codes for the\n\
         account {user} reach this address. When {user} asks for a code by\n\
         email at a login, it comes the same way, from the same sender.\n"
    );
    let subject = format!("Test message: verification codes for {host}");
    assemble(cfg, &Letter { code: "", ..*letter }, &subject, Zeroizing::new(body))
}

/// The headers for `letter`, then `body`.
fn assemble(
    cfg: &EmailConfig,
    letter: &Letter<'_>,
    subject: &str,
    body: Zeroizing<String>,
) -> Result<Message, ComposeError> {
    let date = chrono::DateTime::from_timestamp(letter.now as i64, 0)
        .ok_or(ComposeError::ClockOutOfRange(letter.now))?
        .to_rfc2822();
    let mut id = [0u8; 12];
    fill_random(&mut id)?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let host = host_for_mail_header(letter.host);
    let from = sender(cfg, &host);
    let mut m = Zeroizing::new(String::with_capacity(4096 + body.len()));
    // Writing into a String cannot fail.
    let _ = fmt::Write::write_fmt(
        &mut *m,
        format_args!(
            "From: {from}\n\
         To: {to}\n\
         Subject: {subject}\n\
         Date: {date}\n\
         Message-ID: <{id}.{now}.twostep@{host}>\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: 8bit\n\
         Auto-Submitted: auto-generated\n\
         \n\
         {body}",
            from = from.header(),
            to = letter.to,
            now = letter.now,
            body = body.as_str(),
        ),
    );
    Ok(Message { text: m, code: Zeroizing::new(letter.code.to_string()), envelope_from: from.address })
}

/// `[email] command` for one message: every `{from}` in an argument becomes
/// the bare sender address (`"-f", "{from}"` for sendmail, `"--from={from}"`
/// for msmtp), so that the envelope sender matches the `From:` address even
/// when `from` has a display name. The address is checked (no spaces, no
/// control characters), and no shell ever sees the arguments.
pub fn command_for(cfg: &EmailConfig, message: &Message) -> Vec<String> {
    cfg.command.iter().map(|a| a.replace("{from}", &message.envelope_from)).collect()
}

/// Why the mail command did not deliver the message.
#[derive(Debug)]
pub enum SendError {
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

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Missing(p) => {
                write!(f, "mail command {p} does not exist; install an MTA that provides it or set [email] command")
            }
            SendError::Spawn(p, e) => write!(f, "cannot run mail command {p}: {e}"),
            SendError::Failed { program, status, output } => {
                match (status.code(), status.signal()) {
                    (Some(c), _) => write!(f, "mail command {program} failed with exit status {c}")?,
                    (None, Some(s)) => write!(f, "mail command {program} was killed by signal {s}")?,
                    _ => write!(f, "mail command {program} failed")?,
                }
                if !output.is_empty() {
                    write!(f, ": {output}")?;
                }
                Ok(())
            }
            SendError::TimedOut { program, secs } => write!(
                f,
                "mail command {program} did not finish within {secs} seconds and was killed; check the mail system or raise [email] timeout"
            ),
            SendError::Io(what, e) => write!(f, "cannot {what} for the mail command: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// The real [`Mailer`]: runs `[email] command`, prepared by `setup` (see [`run`]).
pub struct Sendmail<'a> {
    pub setup: &'a dyn Fn(&mut Command),
}

impl Mailer for Sendmail<'_> {
    fn send(&mut self, cfg: &EmailConfig, message: &Message) -> Result<(), SendError> {
        let argv = command_for(cfg, message);
        run(&argv, Duration::from_secs(cfg.timeout), message.as_bytes(), &message.code, self.setup)
    }
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
) -> Result<(), SendError> {
    let program = argv.first().cloned().unwrap_or_default();
    let input = memory_file(stdin).map_err(|e| SendError::Io("prepare the message", e))?;
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SendError::Io("create a pipe", io::Error::from(e)))?;
    let mut reader = std::fs::File::from(reader);
    let writer2 = writer.try_clone().map_err(|e| SendError::Io("create a pipe", e))?;
    let mut cmd = Command::new(&program);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", MAIL_PATH)
        .current_dir("/")
        .stdin(Stdio::from(input))
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2));
    setup(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SendError::Missing(program)),
        Err(e) => return Err(SendError::Spawn(program, e)),
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
                return Err(SendError::Io("wait", e));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            kill_group(&mut child);
            return Err(SendError::TimedOut { program, secs: timeout.as_secs() });
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
        Err(SendError::Failed { program, status, output: output_for_log(&output.bytes, output.cut, secret) })
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

    fn cfg() -> EmailConfig {
        EmailConfig {
            command: vec!["/bin/true".into()],
            from: Some(Sender { name: None, address: "twostep@district.org".into() }),
            code_valid: 600,
            resend_after: 300,
            timeout: 5,
            address_template: String::new(),
        }
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    /// [`run`] with no code to hide and only a process group of its own.
    fn run_plain(argv: &[String], timeout: Duration, stdin: &[u8]) -> Result<(), SendError> {
        run(argv, timeout, stdin, "", &own_process_group)
    }

    #[test]
    fn the_message_has_the_headers_and_names_host_user_code_and_validity() {
        let letter = Letter {
            to: "jane@district.org",
            user: "jane",
            host: "web01.district.org",
            code: "042917",
            now: 1_700_000_000,
        };
        let m = compose(&cfg(), &letter).unwrap();
        let m = m.text();
        let (head, body) = m.split_once("\n\n").unwrap();
        let headers: Vec<&str> = head.lines().collect();
        assert_eq!(headers[0], "From: twostep@district.org");
        assert_eq!(headers[1], "To: jane@district.org");
        assert_eq!(headers[2], "Subject: Your verification code for web01.district.org");
        assert_eq!(headers[3], "Date: Tue, 14 Nov 2023 22:13:20 +0000");
        assert!(headers[4].starts_with("Message-ID: <") && headers[4].ends_with(".twostep@web01.district.org>"));
        assert!(headers.iter().all(|h| h.contains(": ")), "{headers:?}");
        assert!(body.contains("web01.district.org") && body.contains(" as jane "), "{body}");
        assert!(body.contains("    042917\n") && body.contains("valid for 10 minutes"), "{body}");
        assert!(!head.contains("042917"), "the code is in the body only");
        let other = compose(&cfg(), &letter).unwrap();
        assert_ne!(m.lines().nth(4), other.text().lines().nth(4), "Message-IDs are unique");
    }

    #[test]
    fn a_display_name_goes_in_the_from_header_and_the_bare_address_in_the_command() {
        let mut cfg = cfg();
        cfg.from = Some(crate::address::parse_sender("District IT <it@district.org>").unwrap());
        cfg.command = ["/usr/bin/msmtp", "--from={from}", "-t", "-f", "{from}"].map(String::from).to_vec();
        let letter = Letter { to: "jane@district.org", user: "jane", host: "web01", code: "042917", now: 0 };
        let m = compose(&cfg, &letter).unwrap();
        assert!(m.text().starts_with("From: \"District IT\" <it@district.org>\nTo: "), "{}", m.text());
        assert_eq!(command_for(&cfg, &m), ["/usr/bin/msmtp", "--from=it@district.org", "-t", "-f", "it@district.org"]);
    }

    #[test]
    fn without_from_the_sender_is_twostep_at_a_qualified_host_name() {
        let mut cfg = cfg();
        cfg.from = None;
        // The host's /etc/mailname, if any, wins over the host name: read it as the code does.
        let expected = match std::fs::read_to_string(MAILNAME) {
            Ok(m) => crate::address::default_sender("web01.district.org", Some(&m)).address,
            Err(_) => "twostep@web01.district.org".to_string(),
        };
        let letter = Letter { to: "jane@district.org", user: "jane", host: "web01.district.org", code: "1", now: 0 };
        assert_eq!(sender(&cfg, letter.host).address, expected);
        assert!(compose(&cfg, &letter).unwrap().text().starts_with(&format!("From: {expected}\n")));
    }

    #[test]
    fn the_test_message_says_it_is_a_test_and_carries_no_code() {
        let letter = Letter { to: "jane@district.org", user: "jane", host: "web", code: "042917", now: 0 };
        let m = compose_test(&cfg(), &letter).unwrap();
        let (head, body) = m.text().split_once("\n\n").unwrap();
        assert!(head.contains("\nSubject: Test message: verification codes for web\n"), "{head}");
        assert!(head.starts_with("From: twostep@district.org\nTo: jane@district.org\n"), "{head}");
        assert!(body.starts_with("This is a test message") && body.contains("account jane"), "{body}");
        assert!(!m.text().contains("042917") && !body.chars().any(|c| c.is_ascii_digit()), "{body}");
        assert!(m.code.is_empty(), "nothing to redact");
        assert!(body.lines().all(|l| l.chars().count() <= 72), "{body}");
    }

    #[test]
    fn hostile_user_and_host_names_cannot_add_headers_or_lines() {
        let letter = Letter {
            to: "jane@district.org",
            user: "eve\nBcc: all@district.org\n\n.",
            host: "evil\r\nBcc: x@y.z",
            code: "123456",
            now: 0,
        };
        let m = compose(&cfg(), &letter).unwrap();
        let m = m.text();
        let (head, body) = m.split_once("\n\n").unwrap();
        assert!(!head.lines().any(|l| l.starts_with("Bcc")) && !head.contains('\r'), "{head}");
        assert_eq!(head.lines().count(), 9, "{head}");
        assert!(head.contains("Subject: Your verification code for evilBccxy.z\n"), "{head}");
        assert!(body.contains("as eve?Bcc: all@district.org??. "), "{body}");
        assert!(!body.lines().any(|l| l == "."), "{body}");
        assert_eq!(host_for_mail_header("\n\n"), "localhost");
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
        let text = e.to_string();
        assert!(text.contains("exit status 75") && text.contains("relay access denied"), "{text}");
    }

    #[test]
    fn output_kept_for_the_log_is_bounded() {
        let e =
            run_plain(&sh("head -c 100000 /dev/zero | tr '\\0' x; exit 1"), Duration::from_secs(5), b"").unwrap_err();
        let SendError::Failed { output, .. } = e else { panic!("{e}") };
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
        let SendError::Failed { output, .. } = &e else { panic!("{e}") };
        assert!(output.len() <= MAX_OUTPUT && output.starts_with("xxx"), "{e}");
        assert!(!output.contains("04") && !output.ends_with(|c: char| c.is_ascii_digit()), "{output}");
        // Cut by the reader inside the code (the spaces fold away): nothing of it either.
        let echo = sh(&format!("head -c {} /dev/zero | tr '\\0' ' '; cat; exit 1", READ_OUTPUT - 2));
        let e = run(&echo, Duration::from_secs(5), code.as_bytes(), code, &own_process_group).unwrap_err();
        assert!(!e.to_string().contains("04"), "{e}");
    }

    #[test]
    fn a_missing_command_is_named() {
        let e = run_plain(&["/nonexistent/sendmail".to_string()], Duration::from_secs(5), b"").unwrap_err();
        assert!(matches!(e, SendError::Missing(_)));
        assert!(e.to_string().contains("/nonexistent/sendmail does not exist"), "{e}");
    }

    #[test]
    fn a_hung_command_is_killed_with_everything_it_started() {
        let dir = crate::trusted_fs::private_tempdir();
        let pidfile = dir.path().join("grandchild");
        // The grandchild keeps the output pipe open and would outlive a plain kill of the child.
        let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
        let started = Instant::now();
        let e = run_plain(&sh(&script), Duration::from_secs(1), b"").unwrap_err();
        assert!(matches!(e, SendError::TimedOut { secs: 1, .. }), "{e}");
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
