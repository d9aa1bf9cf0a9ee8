//! `twostep check [--json] [--sshd-config FILE]`: everything that decides
//! whether logins will work, and work safely, read without changing anything.
//!
//! - the configuration (every `[services.NAME]` merged over `[policy]`) and
//!   its [`crate::config_warnings`];
//! - the secrets and tally directories (owner, mode: [`crate::trusted_fs`])
//!   and every record and tally file, read as a login reads them
//!   ([`crate::store::UserStore`]); a damaged file is a finding with its
//!   path, and the check goes on; with `[store] backend = "ldap"` instead,
//!   the `[ldap]` password and CA files (the checks a login makes,
//!   [`crate::store::ldap::file_problems`]), each URI asked once (bind and
//!   `base_dn`, bounded by the timeout), and every record and tally in the
//!   directory;
//! - the `[email] command` program, and the `[sms] command` one when set:
//!   present, executable, and not replaceable by anyone but root (they run
//!   as root);
//! - every file of the PAM directory that loads `pam_twostep.so`, how
//!   (control, arguments, through which included file), and what the stack
//!   around it does ([`pam_stack`]), and the compiled copy of the config
//!   its arguments name, when there is one ([`config_copy`]: root's own, or
//!   logins do not use it);
//! - sshd's effective settings (`sshd -T`, [`sshd`]) when sshd's stack
//!   loads the module;
//! - whether the admin running the command (`SUDO_USER`) or root would be
//!   refused at the next login ([`crate::policy`] on their record and tally).
//!
//! Exit status, like `sshd -t` and `visudo -c`: 1 when an error was found
//! (something that refuses logins or lets one in without the code), else 0;
//! warnings are listed but do not change it. `--json` prints one object.
//!
//! This file reads the config and runs the checks in order; each group has
//! its own file: [`file_store`] or [`directory`] (then [`users`]),
//! [`commands`], [`pam`] (on [`pam_stack`], with [`config_copy`]), [`sshd_settings`] (on [`sshd`]),
//! [`next_login`]; [`report`] keeps and prints the findings.

mod commands;
mod config_copy;
mod directory;
mod file_store;
mod next_login;
mod pam;
mod pam_stack;
mod report;
mod sshd;
mod sshd_settings;
mod users;

use std::path::{Path, PathBuf};

use serde_json::json;

use super::CliError;
use crate::config::{Backend, Config};
use crate::config_warnings;
use crate::trusted_fs::FsError;
use report::{Report, Severity, summary, wrap};
use users::Users;

/// The sshd PAM service name (Debian, RHEL, SUSE).
const SSHD_SERVICE: &str = "sshd";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object
    #[arg(long)]
    json: bool,
    /// Check the sshd settings of this file (sshd -T -f FILE) instead of sshd's own
    #[arg(long, value_name = "FILE")]
    sshd_config: Option<PathBuf>,
    /// The sshd program (tests)
    #[arg(long, value_name = "PATH", hide = true, default_value = "/usr/sbin/sshd")]
    sshd: PathBuf,
}

/// Everything the check looks at, as given on the command line.
pub struct Inputs<'a> {
    pub config: &'a Path,
    pub pam_dir: &'a Path,
    pub now: u64,
}

pub fn run(inputs: &Inputs<'_>, args: Args) -> Result<(), CliError> {
    let mut r = Report::default();
    let config = match Config::load(inputs.config) {
        Ok(c) => Some(c),
        Err(crate::config::ConfigError::File(FsError::Missing(p))) => {
            r.error(
                format!("the configuration {} does not exist, so every login is refused", p.display()),
                "install it (see README: Set up) or give --config PATH",
            );
            None
        }
        Err(e) => {
            r.error_message(&e.to_string(), "correct the file (man twostep.toml), then check again");
            None
        }
    };
    let services = match pam_stack::scan(inputs.pam_dir) {
        Ok(s) => Some(s),
        Err(e) => {
            r.warning(
                format!("cannot list {}: {e}; the PAM stacks were not checked", inputs.pam_dir.display()),
                "run twostep check as root",
            );
            None
        }
    };
    let services = services.unwrap_or_default();
    let users = match &config {
        Some(cfg) => {
            let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
            for w in config_warnings::warnings(cfg, inputs.pam_dir, Some(&names)) {
                r.add(Severity::Warning, w, None);
            }
            let users = check_store(&mut r, cfg);
            commands::check_mail_command(&mut r, cfg, users.as_ref().is_some_and(|u| u.email_users > 0));
            if cfg.sms.enabled() {
                commands::check_sms_command(&mut r, cfg, users.as_ref().is_some_and(|u| u.phone_users > 0));
            }
            users
        }
        None => None,
    };
    let loading = pam::check_pam(&mut r, inputs, &services);
    sshd_settings::check_sshd(&mut r, &services, &args);
    if let (Some(cfg), Some(users)) = (&config, &users) {
        next_login::check_next_login(&mut r, cfg, users, &loading, inputs.now);
    }
    r.findings.sort_by_key(|f| f.severity);
    let (errors, warnings) = (r.count(Severity::Error), r.count(Severity::Warning));
    if args.json {
        super::say_json(&json!({
            "config": inputs.config.display().to_string(),
            "pam_dir": inputs.pam_dir.display().to_string(),
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "findings": r.findings.iter().map(|f| json!({
                "severity": f.severity.name(),
                "what": f.what,
                "fix": f.fix,
            })).collect::<Vec<_>>(),
            "pam": r.pam,
        }));
    } else {
        for f in &r.findings {
            say!("{}", wrap(&format!("{}:", f.severity.name()), &f.what, "  "));
            if let Some(fix) = &f.fix {
                say!("{}", wrap("  fix:", fix, "    "));
            }
        }
        say!("{}", summary(errors, warnings));
    }
    if errors > 0 { Err(CliError::CheckFailed { errors }) } else { Ok(()) }
}

/// The store `[store] backend` names, and every record and tally in it.
fn check_store(r: &mut Report, cfg: &Config) -> Option<Users> {
    match (&cfg.backend, &cfg.ldap) {
        (Backend::Ldap, Some(ldap)) => directory::check_directory(r, cfg, ldap),
        _ => file_store::check_file_store(r, cfg),
    }
}
