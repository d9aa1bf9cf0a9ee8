//! Sending a code by text message: the short text, and handing it to the
//! site's SMS system through `[sms] command`.
//!
//! How the command is called (the documented interface, see twostep.toml(5)):
//! - argv is the configured list, no shell; in every argument after the
//!   program, `{phone}` becomes the number in E.164 form (`+15551234567`:
//!   only `+` and digits, checked by [`crate::phone`] before it gets here);
//! - the message is on standard input, one line of plain ASCII without a
//!   line end (`123456 is your verification code for HOST. …`);
//! - exit status 0 within `[sms] timeout` seconds means "sent".
//!
//! The command runs exactly like the mail command, with the same runner
//! ([`crate::command::run`]): an empty environment but a fixed `PATH`,
//! directory `/`, output captured with the code redacted before it is kept
//! for the log, and a process group of its own that is killed with SIGKILL
//! at the timeout. The PAM glue's `setup` hook also resets the child's
//! process state (`src/pam/child.rs`). Gateway URLs and API tokens belong in
//! a root-only file the command reads, never in argv (which every local user
//! can read in `/proc`) nor in the twostep config: see `pam-config/sms/`.
//!
//! When to send and what to record is [`crate::auth`]'s; the code rules are
//! [`crate::email_code`]'s (the same for both methods).

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::command::{self, RunError};
use crate::config::SmsConfig;
use crate::email_code::describe_duration;

/// What `{phone}` in an argument of `[sms] command` is replaced with.
pub const PHONE_PLACEHOLDER: &str = "{phone}";
/// Characters of the host name kept in a text (a text message is 160 characters).
const MAX_HOST_IN_TEXT: usize = 40;

/// A composed text message: where to, the text, and the code in it (so that the
/// runner can keep the code out of what the command prints). Its `Debug`
/// shows neither text nor code.
pub struct TextMessage {
    to: String,
    text: Zeroizing<String>,
    code: Zeroizing<String>,
}

impl TextMessage {
    /// The E.164 number.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// The text, as the command gets it on stdin.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for TextMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextMessage").field("to", &self.to).field("len", &self.text.len()).finish_non_exhaustive()
    }
}

/// The text for `code`, valid `cfg.code_valid` seconds, sent to `to` (a
/// validated E.164 number) for a login on `host`. Code first: phones offer
/// to fill it in from there.
pub fn compose(cfg: &SmsConfig, to: &str, host: &str, code: &str) -> TextMessage {
    let host: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')).collect();
    let host = match host.trim_matches('.') {
        "" => "localhost".to_string(),
        h => h.chars().take(MAX_HOST_IN_TEXT).collect(),
    };
    let valid = describe_duration(cfg.code_valid);
    let text = format!("{code} is your verification code for {host}. It is valid for {valid}. Do not share it.");
    TextMessage { to: to.to_string(), text: Zeroizing::new(text), code: Zeroizing::new(code.to_string()) }
}

/// The command line for a text to `phone`: `{phone}` replaced in every
/// argument after the program.
pub fn argv(cfg: &SmsConfig, phone: &str) -> Vec<String> {
    let mut argv = cfg.command.clone();
    for arg in argv.iter_mut().skip(1) {
        *arg = arg.replace(PHONE_PLACEHOLDER, phone);
    }
    argv
}

/// Handing a text message to the SMS system (the login flow talks to this
/// trait; [`SmsCommand`] is the real one, wrapped by the PAM glue).
pub trait SmsSender {
    /// Sends `message` with `[sms] command`; the error says what went wrong,
    /// for the log (the code already redacted).
    fn send(&mut self, cfg: &SmsConfig, message: &TextMessage) -> Result<(), SmsError>;
}

/// Why the text message command did not send the message: the runner's
/// error ([`RunError`], which never holds the code), worded for `[sms]`.
#[derive(Debug)]
pub struct SmsError(pub RunError);

impl fmt::Display for SmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            RunError::Missing(p) => {
                write!(f, "text message command {p} does not exist; install it or fix [sms] command")
            }
            RunError::Spawn(p, e) => write!(f, "cannot run text message command {p}: {e}"),
            RunError::Failed { program, status, output } => {
                match (status.code(), status.signal()) {
                    (Some(c), _) => write!(f, "text message command {program} failed with exit status {c}")?,
                    (None, Some(s)) => write!(f, "text message command {program} was killed by signal {s}")?,
                    _ => write!(f, "text message command {program} failed")?,
                }
                if !output.is_empty() {
                    write!(f, ": {output}")?;
                }
                Ok(())
            }
            RunError::TimedOut { program, secs } => write!(
                f,
                "text message command {program} did not finish within {secs} seconds and was killed; check the SMS gateway or raise [sms] timeout"
            ),
            RunError::Io(what, e) => write!(f, "cannot {what} for the text message command: {e}"),
        }
    }
}

impl std::error::Error for SmsError {}

/// The real [`SmsSender`]: runs `[sms] command`, prepared by `setup` (see
/// [`crate::command::run`]: it must at least give the child a process group
/// of its own, [`crate::command::own_process_group`]).
pub struct SmsCommand<'a> {
    pub setup: &'a dyn Fn(&mut Command),
}

impl SmsSender for SmsCommand<'_> {
    fn send(&mut self, cfg: &SmsConfig, message: &TextMessage) -> Result<(), SmsError> {
        let argv = argv(cfg, &message.to);
        let timeout = Duration::from_secs(cfg.timeout);
        command::run(&argv, timeout, message.text.as_bytes(), &message.code, self.setup).map_err(SmsError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::own_process_group;

    fn cfg(command: &[&str]) -> SmsConfig {
        SmsConfig {
            command: command.iter().map(|s| s.to_string()).collect(),
            code_valid: 600,
            resend_after: 60,
            timeout: 5,
        }
    }

    fn send(command: &[&str], phone: &str, code: &str) -> Result<(), SmsError> {
        let c = cfg(command);
        SmsCommand { setup: &own_process_group }.send(&c, &compose(&c, phone, "host.example", code))
    }

    #[test]
    fn the_text_is_short_plain_and_starts_with_the_code() {
        let m = compose(&cfg(&[]), "+15551234567", &format!("{}\nX-Evil: 1", "h".repeat(300)), "042917");
        assert!(m.text().starts_with("042917 is your verification code for hhhh"), "{}", m.text());
        assert!(m.text().ends_with("It is valid for 10 minutes. Do not share it."), "{}", m.text());
        assert!(m.text().len() <= 160 && m.text().is_ascii() && !m.text().contains('\n'), "{}", m.text());
        assert!(!format!("{m:?}").contains("042917"), "{m:?}");
    }

    #[test]
    fn the_number_replaces_the_placeholder_in_arguments_only() {
        let c = cfg(&["/usr/bin/{phone}", "--to={phone}", "{phone}@sms.example", "fixed"]);
        assert_eq!(
            argv(&c, "+15551234567"),
            ["/usr/bin/{phone}", "--to=+15551234567", "+15551234567@sms.example", "fixed"]
        );
    }

    #[test]
    fn the_command_gets_the_number_as_an_argument_the_text_on_stdin_and_no_environment() {
        let dir = crate::trusted_fs::private_tempdir();
        let out = dir.path().join("out");
        let script = format!("printf '%s\\n' \"$1\" > {0}.args; cat > {0}.text; env > {0}.env", out.display());
        send(&["/bin/sh", "-c", &script, "sh", "{phone}"], "+15551234567", "042917").unwrap();
        let read = |ext: &str| std::fs::read_to_string(out.with_extension(ext)).unwrap();
        assert_eq!(read("args"), "+15551234567\n");
        assert!(read("text").starts_with("042917 is your verification code for host.example."), "{}", read("text"));
        let names: Vec<String> = read("env").lines().filter_map(|l| l.split_once('=')).map(|(k, _)| k.into()).collect();
        assert!(names.iter().all(|n| ["PATH", "PWD", "SHLVL", "_"].contains(&n.as_str())), "{names:?}");
    }

    #[test]
    fn a_failing_command_is_worded_for_sms_and_its_output_never_holds_the_code() {
        let e = send(
            &["/bin/sh", "-c", "echo \"gateway said: $(cat)\" >&2; exit 22", "sh", "{phone}"],
            "+15551234567",
            "042917",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("text message command /bin/sh failed with exit status 22: gateway said: [code] is your"),
            "{e}"
        );
        assert!(!e.contains("042917"), "{e}");
    }

    #[test]
    fn a_missing_or_hung_command_says_what_to_fix() {
        let e = send(&["/nonexistent/sms", "{phone}"], "+15551234567", "042917").unwrap_err().to_string();
        assert_eq!(e, "text message command /nonexistent/sms does not exist; install it or fix [sms] command");
        let mut c = cfg(&["/bin/sh", "-c", "sleep 30", "sh", "{phone}"]);
        c.timeout = 1;
        let e = SmsCommand { setup: &own_process_group }
            .send(&c, &compose(&c, "+15551234567", "h", "042917"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did not finish within 1 seconds") && e.contains("[sms] timeout"), "{e}");
    }
}
