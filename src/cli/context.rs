//! [`Context`], what every admin command gets (the configuration, the time,
//! the store, the account name, the audit log line), and the check of a user
//! name argument ([`check_user_arg`]) that it applies.

use std::path::PathBuf;

use super::CliError;
use crate::config::Config;
use crate::log::{AuditLog, Level, Line, Syslog};
use crate::store::UserStore;
use crate::trusted_fs::Owner;

/// What every command gets: the loaded configuration and the time.
pub struct Context {
    pub config: Config,
    pub now: u64,
    pub(super) log_socket: Option<PathBuf>,
}

impl Context {
    /// The records and tallies (directories created 0700 if missing); every
    /// change to a user goes through its [`UserStore::change`].
    pub fn store(&self) -> Result<UserStore, CliError> {
        Ok(UserStore::open_for_admin(&self.config, Owner::ROOT)?)
    }

    /// The name `user`'s record is kept under, as the module keys logins: the
    /// account's canonical name when NSS knows it under another spelling
    /// (`ALICE` → `alice`; said on stderr), else `user` as given. Checks the
    /// name ([`check_user_arg`]); an NSS failure is an error, never a guess.
    pub fn account(&self, user: &str) -> Result<String, CliError> {
        check_user_arg(user)?;
        let account = crate::user::account_name(&crate::user::Nss, user).map_err(CliError::AccountName)?;
        if account != user {
            check_user_arg(&account)?;
            eprintln!("twostep: note: NSS knows {user} as the account {account};\nusing {account}");
            self.note_stale_spelling(user)?;
        }
        Ok(account)
    }

    /// Files kept under a spelling that is not the account's name (written
    /// before records were keyed on it) are never used by logins: say where
    /// they are, so that they are not mistaken for the account's.
    fn note_stale_spelling(&self, spelling: &str) -> Result<(), CliError> {
        // The directory keys entries by its own filter: no files to point at.
        let Some((record, tally)) = self.store()?.files_of(spelling)? else { return Ok(()) };
        let mut stale = Vec::new();
        for file in [record, tally] {
            if std::fs::symlink_metadata(&file).is_ok() {
                stale.push(format!("\n  rm -- {}", file.display()));
            }
        }
        if !stale.is_empty() {
            eprintln!(
                "twostep: note: old files under the spelling {spelling} are not used\nby logins; remove them with:{}",
                stale.concat()
            );
        }
        Ok(())
    }

    /// Whether `user` is root (for `even_deny_root`), as the module decides it.
    pub fn is_root(&self, user: &str) -> Result<bool, CliError> {
        use crate::user::Accounts;
        Ok(crate::user::Nss.lookup(user)?.is_some_and(|a| a.uid == 0))
    }

    /// Records an administrative change in syslog.
    pub fn audit(&self, action: &str, user: &str) {
        self.audit_with(action, user, &[]);
    }

    /// [`Context::audit`] with more `key=value` fields after `by=`.
    pub fn audit_with(&self, action: &str, user: &str, fields: &[(&str, &str)]) {
        let mut line = Line::new().field("user", user).field("action", action).field("by", &self.admin());
        for (key, value) in fields {
            line = line.field(key, value);
        }
        Syslog::connect("twostep", self.log_socket.as_deref()).log(Level::Notice, line.as_str());
    }

    /// Who runs the command: the sudo caller, else the login name of the real uid (else the uid).
    pub fn admin(&self) -> String {
        std::env::var("SUDO_USER").unwrap_or_else(|_| {
            let uid = nix::unistd::getuid();
            nix::unistd::User::from_uid(uid).ok().flatten().map_or_else(|| uid.to_string(), |u| u.name)
        })
    }
}

/// Refuses user names that cannot be login names or be shown safely on a
/// terminal: empty, too long, control characters, a `/` anywhere or a leading `.`
/// (`../x`, `a/b`, `.hidden`). `DOMAIN\bob`, `bob@ad.example` and `élodie` are fine.
pub fn check_user_arg(user: &str) -> Result<(), CliError> {
    crate::user::file_name(user)?;
    if user.chars().any(char::is_control) {
        return Err(CliError::ControlCharsInName { user: user.to_string() });
    }
    if user.contains('/') || user.starts_with('.') {
        return Err(CliError::NotLoginName { user: user.to_string() });
    }
    Ok(())
}
