//! Sending an email code: composing the RFC 5322 message and handing it to the
//! server's mail system through a sendmail-compatible command (`[email] command`).
//!
//! The command runs with [`crate::command::run`] (fixed argv, no shell, empty
//! environment but `PATH`, the message on stdin, output kept for the log with
//! the code redacted, killed with its process group at `[email] timeout`);
//! [`SendError`] words the runner's failures for `[email]`.
//!
//! When to send and what to record is [`crate::auth`]'s job; the code rules
//! are in [`crate::email_code`].

use std::fmt;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::address::{Sender, default_sender};
use crate::command::{self, RunError};
use crate::config::EmailConfig;
use crate::email_code::describe_duration;
use crate::secret::{RandomError, fill_random};

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

/// Why the mail command did not deliver the message: the runner's error
/// ([`RunError`], which never holds the code), worded for `[email]`.
#[derive(Debug)]
pub struct SendError(pub RunError);

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            RunError::Missing(p) => {
                write!(f, "mail command {p} does not exist; install an MTA that provides it or set [email] command")
            }
            RunError::Spawn(p, e) => write!(f, "cannot run mail command {p}: {e}"),
            RunError::Failed { program, status, output } => {
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
            RunError::TimedOut { program, secs } => write!(
                f,
                "mail command {program} did not finish within {secs} seconds and was killed; check the mail system or raise [email] timeout"
            ),
            RunError::Io(what, e) => write!(f, "cannot {what} for the mail command: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// The real [`Mailer`]: runs `[email] command`, prepared by `setup` (see [`command::run`]).
pub struct Sendmail<'a> {
    pub setup: &'a dyn Fn(&mut Command),
}

impl Mailer for Sendmail<'_> {
    fn send(&mut self, cfg: &EmailConfig, message: &Message) -> Result<(), SendError> {
        let argv = command_for(cfg, message);
        command::run(&argv, Duration::from_secs(cfg.timeout), message.as_bytes(), &message.code, self.setup)
            .map_err(SendError)
    }
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

    /// [`command::run`] with no code to hide and only a process group of its own, worded for mail.
    fn run_plain(argv: &[String], timeout: Duration, stdin: &[u8]) -> Result<(), SendError> {
        command::run(argv, timeout, stdin, "", &command::own_process_group).map_err(SendError)
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
    fn a_failing_mail_command_is_reported_with_its_status_and_output() {
        let e = run_plain(&sh("echo 'relay access denied' >&2; exit 75"), Duration::from_secs(5), b"").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("mail command /bin/sh failed with exit status 75: relay access denied"), "{text}");
    }

    #[test]
    fn a_missing_mail_command_is_named() {
        let e = run_plain(&["/nonexistent/sendmail".to_string()], Duration::from_secs(5), b"").unwrap_err();
        assert!(matches!(e, SendError(RunError::Missing(_))));
        assert!(e.to_string().contains("/nonexistent/sendmail does not exist"), "{e}");
    }
}
