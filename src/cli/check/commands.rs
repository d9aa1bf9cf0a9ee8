//! The programs twostep runs as root at logins (`[email] command`, and
//! `[sms] command` when set): present, executable, and not replaceable by
//! anyone but root.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::report::Report;
use crate::config::Config;

/// Why `path` could be replaced by someone other than root: it, or a
/// directory above it, is not root's or is writable by group or others.
fn replaceable(path: &Path) -> Option<String> {
    for p in path.ancestors() {
        let Ok(meta) = std::fs::symlink_metadata(p) else { continue };
        if meta.uid() != 0 {
            return Some(format!("{} is owned by uid {}, not root", p.display(), meta.uid()));
        }
        // A sticky directory (/tmp) lets nobody replace the root-owned entry below it.
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 && !meta.file_type().is_symlink() {
            return Some(format!("{} is writable by group or others (mode {:04o})", p.display(), meta.mode() & 0o7777));
        }
    }
    None
}

/// The `[email] command` program runs as root at logins that send a code.
pub(super) fn check_mail_command(r: &mut Report, cfg: &Config, used: bool) {
    let consequences = (
        "codes by email cannot be sent, and logins that need one are refused",
        "nobody has an address now, but codes by email could not be sent",
    );
    let fix = "install a mail program (postfix, nullmailer, msmtp) or set [email] command to one";
    check_command_program(r, "[email] command", &cfg.email.command[0], used, consequences, fix);
}

/// The `[sms] command` program (when set) runs as root at logins that send a text.
pub(super) fn check_sms_command(r: &mut Report, cfg: &Config, used: bool) {
    let consequences = (
        "codes by text message cannot be sent, and logins that need one are refused",
        "nobody has a phone number now, but codes by text message could not be sent",
    );
    let fix = "install the program (examples: /usr/libexec/twostep/) or fix [sms] command";
    check_command_program(r, "[sms] command", &cfg.sms.command[0], used, consequences, fix);
}

/// A program twostep runs as root: present, executable, and not replaceable
/// by anyone but root; `consequences` is (when users need it, when not).
fn check_command_program(r: &mut Report, key: &str, prog: &str, used: bool, consequences: (&str, &str), fix: &str) {
    let prog = Path::new(prog);
    let problem = match std::fs::metadata(prog) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("does not exist".to_string()),
        Err(e) => Some(format!("cannot be inspected: {e}")),
        Ok(m) if !m.is_file() => Some("is not a regular file".to_string()),
        Ok(m) if m.mode() & 0o111 == 0 => Some("is not executable".to_string()),
        Ok(_) => None,
    };
    if let Some(problem) = problem {
        let consequence = if used { consequences.0 } else { consequences.1 };
        let what = format!("the {key} {} {problem}: {consequence}", prog.display());
        if used {
            r.error(what, fix)
        } else {
            r.warning(what, fix)
        }
        return;
    }
    let real = std::fs::canonicalize(prog).unwrap_or_else(|_| prog.to_path_buf());
    for p in [prog, real.as_path()] {
        if let Some(why) = replaceable(p) {
            r.error(
                format!("the {key} {} runs as root, but {why}: that user could run anything as root", prog.display()),
                "use a program in a root-owned directory, or chown root: and chmod go-w the path",
            );
            return;
        }
    }
}
