//! The admin command `twostep`: argument parsing, shared context and error
//! reporting. One file per command; `src/bin/twostep.rs` only calls [`main`].
//!
//! Exit codes: 0 success, 1 error (one line on stderr saying what and how to
//! fix it), 2 usage error (clap). Every change is also one syslog line
//! (authpriv, ident `twostep`) so that admins can audit who changed what.
//!
//! Everything printed goes through `say!` (stdout), [`say_json`] or the error
//! line in [`main`] (stderr), which escape what could drive the terminal
//! ([`crate::user::for_terminal`]): user names decoded from file names, file
//! contents, addresses and paths cannot send escape sequences to root's terminal.
#![forbid(unsafe_code)]

/// `println!` for the CLI: each line escaped for the terminal ([`emit`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::emit(&mut std::io::stdout().lock(), format_args!($($arg)*))
    };
}

mod email;
mod enable;
mod enroll;
mod google;
mod reset;
mod status;
mod unlock;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

use crate::config::{self, Config};
use crate::config_warnings;
use crate::log::{AuditLog, Level, Line, Syslog};
use crate::store::UserStore;
use crate::trusted_fs::Owner;

/// twostep: manage two-step verification (authenticator-app codes) for Linux logins.
#[derive(Debug, Parser)]
#[command(name = "twostep", version, about, long_about = None)]
struct Cli {
    /// Configuration file
    #[arg(long, global = true, value_name = "PATH", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Send audit log lines to this datagram socket instead of /dev/log (chroots, tests)
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    log_socket: Option<PathBuf>,
    /// Where the PAM service files are, for checking `[services.NAME]` names (tests)
    #[arg(long, global = true, value_name = "DIR", hide = true, default_value = "/etc/pam.d")]
    pam_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a user's secret and show the QR code to scan
    Enroll(enroll::Args),
    /// Show one user's two-step state
    Status(status::StatusArgs),
    /// Show every user with a two-step record
    List(status::ListArgs),
    /// Clear a user's failed attempts and lock
    Unlock(unlock::Args),
    /// Set (or with --clear remove) the address email codes are sent to
    Email(email::Args),
    /// Suspend a user's second factor (kept; they log in without a code)
    Disable(enable::Args),
    /// Restore a suspended second factor
    Enable(enable::Args),
    /// Delete a user's setup and login state (lost phone); they enroll again
    Reset(reset::Args),
}

/// An error for the admin: what went wrong and how to fix it.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

/// What every command gets: the loaded configuration and the time.
pub struct Context {
    pub config: Config,
    pub now: u64,
    log_socket: Option<PathBuf>,
}

impl Context {
    /// The records and tallies (directories created 0700 if missing); every
    /// change to a user goes through its [`UserStore::change`].
    pub fn store(&self) -> Result<UserStore, CliError> {
        Ok(UserStore::for_admin(&self.config.secrets_dir, &self.config.tally_dir, Owner::ROOT)?)
    }

    /// The name `user`'s record is kept under, as the module keys logins: the
    /// account's canonical name when NSS knows it under another spelling
    /// (`ALICE` → `alice`; said on stderr), else `user` as given. Checks the
    /// name ([`check_user_arg`]); an NSS failure is an error, never a guess.
    pub fn account(&self, user: &str) -> Result<String, CliError> {
        check_user_arg(user)?;
        let account = crate::user::account_name(&crate::user::Nss, user).map_err(|e| {
            CliError(format!(
                "{e}\nrecords are kept under the account's name from NSS;\nfix the lookup (sssd, winbind, LDAP) and try again"
            ))
        })?;
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
        let (record, tally) = self.store()?.files_of(spelling)?;
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
        Ok(crate::user::Nss.uid(user)? == Some(0))
    }

    /// Records an administrative change in syslog.
    pub fn audit(&self, action: &str, user: &str) {
        // Who ran it: the sudo caller, else the login name of the real uid (else the uid).
        let by = std::env::var("SUDO_USER").unwrap_or_else(|_| {
            let uid = nix::unistd::getuid();
            nix::unistd::User::from_uid(uid).ok().flatten().map_or_else(|| uid.to_string(), |u| u.name)
        });
        let line = Line::new().field("user", user).field("action", action).field("by", &by);
        Syslog::connect("twostep", self.log_socket.as_deref()).log(Level::Notice, line.as_str());
    }
}

/// Writes `args` to `out`, every line escaped with [`crate::user::for_terminal`]
/// and ended with a newline. The buffers are wiped after (a secret may be printed).
pub fn emit(out: &mut dyn Write, args: fmt::Arguments<'_>) {
    let mut text = Zeroizing::new(String::new());
    // Writing into a String cannot fail.
    let _ = fmt::Write::write_fmt(&mut *text, args);
    let mut shown = Zeroizing::new(String::with_capacity(text.len() + 1));
    for line in text.split('\n') {
        crate::user::push_for_terminal(&mut shown, line);
        shown.push('\n');
    }
    // Like println!, minus the panic: a closed stdout is not worth a backtrace.
    let _ = out.write_all(shown.as_bytes()).and_then(|()| out.flush());
}

/// Prints `value` as one line of JSON. serde_json escapes C0 controls; the rest
/// of what [`crate::user::unsafe_on_terminal`] names (DEL, C1, bidi) can only
/// be inside strings, where `\uXXXX` is the same value.
pub fn say_json(value: &serde_json::Value) {
    let text = Zeroizing::new(value.to_string());
    let mut shown = Zeroizing::new(String::with_capacity(text.len() + 1));
    for c in text.chars() {
        if crate::user::unsafe_on_terminal(c) {
            let _ = fmt::Write::write_fmt(&mut *shown, format_args!("\\u{:04x}", c as u32));
        } else {
            shown.push(c);
        }
    }
    shown.push('\n');
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(shown.as_bytes()).and_then(|()| out.flush());
}

/// Refuses user names that cannot be login names or be shown safely on a
/// terminal: empty, too long, control characters, a `/` anywhere or a leading `.`
/// (`../x`, `a/b`, `.hidden`). `DOMAIN\bob`, `bob@ad.example` and `élodie` are fine.
pub fn check_user_arg(user: &str) -> Result<(), CliError> {
    crate::user::file_name(user)?;
    if user.chars().any(char::is_control) {
        return Err(CliError(format!(
            "the user name \"{}\" contains control characters; check the name",
            crate::user::for_terminal(user)
        )));
    }
    if user.contains('/') || user.starts_with('.') {
        return Err(CliError(format!(
            "\"{}\" is not a login name (it contains / or starts with .); check the name",
            crate::user::for_terminal(user)
        )));
    }
    Ok(())
}

/// Every command reads or writes root-only state: refuse early, before the config is even read.
fn require_root() -> Result<(), CliError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(CliError("twostep needs root (the secrets and tally directories are root-only); run it with sudo".into()))
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    require_root()?;
    // `--config twostep.toml` means the file in the current directory (the module needs absolute paths).
    let path = std::path::absolute(&cli.config).unwrap_or(cli.config);
    let config = Config::load(&path).map_err(|e| CliError(format!("{e}")))?;
    warn_about(&config, &cli.pam_dir);
    let ctx = Context { config, now: crate::time::wall_clock(), log_socket: cli.log_socket };
    match cli.command {
        Command::Enroll(a) => enroll::run(&ctx, a),
        Command::Status(a) => status::status(&ctx, a),
        Command::List(a) => status::list(&ctx, a),
        Command::Unlock(a) => unlock::run(&ctx, a),
        Command::Email(a) => email::run(&ctx, a),
        Command::Disable(a) => enable::disable(&ctx, a),
        Command::Enable(a) => enable::enable(&ctx, a),
        Command::Reset(a) => reset::run(&ctx, a),
    }
}

/// Prints the config's dangerous or ineffective settings on stderr; the command goes on.
fn warn_about(config: &Config, pam_dir: &Path) {
    let services = pam_services(pam_dir);
    for w in config_warnings::warnings(config, pam_dir, services.as_deref()) {
        eprintln!("{}", config_warnings::render(&w));
    }
}

/// The PAM service names: the file names in `dir`, or `None` when it cannot be listed.
fn pam_services(dir: &Path) -> Option<Vec<String>> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
}

/// The admin command's entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            emit(&mut std::io::stderr().lock(), format_args!("twostep: {e}"));
            ExitCode::from(1)
        }
    }
}
