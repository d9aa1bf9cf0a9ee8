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

/// `println!` for the CLI: each line escaped for the terminal ([`emit`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::emit(&mut std::io::stdout().lock(), format_args!($($arg)*))
    };
}

mod backup;
mod batch;
mod batch_input;
mod bypass;
mod check;
mod duration;
mod email;
mod enable;
mod enroll;
/// Public for the fuzz targets (`fuzz/`): [`google::GaFile::parse`] reads a file the user owns.
pub mod google;
mod migrate;
mod phone;
mod reset;
mod status;
mod unenrolled;
mod unlock;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

use crate::address::AddressError;
use crate::config::{self, Config, ConfigError};
use crate::config_warnings;
use crate::log::{AuditLog, Level, Line, Syslog};
use crate::phone::PhoneError;
use crate::qr::QrError;
use crate::secret::SecretError;
use crate::store::UserStore;
use crate::store::files::StoreError;
use crate::trusted_fs::{FsError, Owner};
use crate::user::{AccountsError, UserNameError};
use google::GaError;

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
    /// Where the PAM service files are: `[services.NAME]` names, `check` (tests)
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
    /// Set (or with --clear remove) the number text-message codes are sent to
    Phone(phone::Args),
    /// Make a new set of single-use backup codes (shown once)
    BackupCodes(backup::Args),
    /// Make (or with --revoke cancel) a help-desk code for a user without their phone
    Bypass(bypass::Args),
    /// Suspend a user's second factor (kept; they log in without a code)
    Disable(enable::DisableArgs),
    /// Restore a suspended second factor
    Enable(enable::Args),
    /// Delete a user's setup and login state (lost phone); they enroll again
    Reset(reset::Args),
    /// Check the configuration, state files, PAM stacks and sshd settings
    Check(check::Args),
    /// Copy every record and login state of the file store into the [ldap] directory
    MigrateToLdap(migrate::Args),
}

/// An error for the admin: what went wrong and how to fix it (one line on
/// stderr after `twostep: `, escaped for the terminal by [`main`]).
///
/// First the refusals the command itself decides, then one variant per lower
/// layer (each with its own `From`, so `?` works), worded by that layer.
#[derive(Debug)]
pub enum CliError {
    /// Not run as root.
    NeedsRoot,
    /// A user name argument with control characters ([`check_user_arg`]).
    ControlCharsInName {
        user: String,
    },
    /// A user name argument with a `/` or a leading `.` ([`check_user_arg`]).
    NotLoginName {
        user: String,
    },
    /// An address refused by [`crate::address::validate_address`]; `address`
    /// is named when the message shows it (`twostep email`), not otherwise.
    InvalidAddress {
        address: Option<String>,
        why: AddressError,
    },
    /// `twostep email USER --clear` for a user whose only method is email.
    EmailIsOnlyFactor {
        user: String,
    },
    /// A number refused by [`crate::phone::normalize_phone`], as typed.
    InvalidPhone {
        number: String,
        why: PhoneError,
    },
    /// `twostep phone USER --clear` for a user whose only method is text messages.
    PhoneIsOnlyFactor {
        user: String,
    },
    /// `twostep enable USER` for a user without a record.
    NotEnrolled {
        user: String,
    },
    /// `twostep disable USER` for a user without a record.
    NothingToDisable {
        user: String,
    },
    /// `twostep enroll USER` without `--force` for a user with a secret;
    /// `importing` when the new secret comes from stdin or a file.
    AlreadyEnrolled {
        user: String,
        importing: bool,
    },
    /// `twostep unlock USER` for a user with neither record nor tally.
    NothingToUnlock {
        user: String,
    },
    /// `twostep reset USER` for a user with neither record nor tally.
    NothingToReset {
        user: String,
    },
    /// `twostep check` found errors (listed on stdout).
    CheckFailed {
        errors: usize,
    },
    /// `twostep email USER --test` with no address on file nor from the template.
    NoAddress {
        user: String,
    },
    /// `twostep email USER --test`: the message could not be composed or sent.
    TestMail {
        to: String,
        why: String,
    },
    /// `twostep list`: the files of these users (name, why) could not be
    /// read; each is also a marked row of the list.
    DamagedEntries(Vec<(String, String)>),
    /// `twostep list --unenrolled` with nobody to list by: required for
    /// every account and no `required_groups`.
    UnenrolledNeedsGroups,
    /// `twostep list --unenrolled`: the required groups' members could not be listed.
    ListMembers(String),
    /// `twostep migrate-to-ldap`: no `[ldap]` table, or users not copied.
    Migrate(String),
    /// `--secret-stdin`: standard input could not be read.
    ReadStdin(io::Error),
    /// `--secret-stdin`: standard input is not UTF-8.
    StdinNotText,
    /// `--secret-stdin`: what was read is not a usable secret.
    StdinSecret(SecretError),
    /// `--from-google-authenticator PATH`: no absolute path for `path`.
    UnusablePath {
        path: PathBuf,
        error: io::Error,
    },
    /// `--from-google-authenticator PATH`: no file at `path` (absolute).
    NoGoogleFile {
        path: PathBuf,
    },
    /// `--from-google-authenticator PATH`: the file at `path` cannot be migrated.
    Google {
        path: PathBuf,
        error: GaError,
    },
    /// NSS could not say under which account name a user's files are kept.
    AccountName(AccountsError),
    /// Any other NSS lookup.
    Accounts(AccountsError),
    UserName(UserNameError),
    Config(ConfigError),
    Store(StoreError),
    Fs(FsError),
    Secret(SecretError),
    Qr(QrError),
    /// `enroll --batch` / `--from-google-authenticator-all` ([`batch`]).
    Batch(batch::BatchError),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::user::for_terminal;
        match self {
            CliError::NeedsRoot => {
                f.write_str("twostep needs root (the secrets and tally directories are root-only); run it with sudo")
            }
            CliError::ControlCharsInName { user } => {
                write!(f, "the user name \"{}\" contains control characters; check the name", for_terminal(user))
            }
            CliError::NotLoginName { user } => write!(
                f,
                "\"{}\" is not a login name (it contains / or starts with .); check the name",
                for_terminal(user)
            ),
            CliError::InvalidAddress { address: Some(address), why } => {
                write!(f, "invalid email address {address:?}: {why}")
            }
            CliError::InvalidAddress { address: None, why } => write!(f, "invalid email address: {why}"),
            CliError::EmailIsOnlyFactor { user } => write!(
                f,
                "email is {user}'s only second factor; enroll an authenticator app first (twostep enroll {user}) or remove the setup with twostep reset {user}"
            ),
            CliError::InvalidPhone { number, why } => write!(f, "invalid phone number {number:?}: {why}"),
            CliError::PhoneIsOnlyFactor { user } => write!(
                f,
                "text messages are {user}'s only second factor; enroll an authenticator app first (twostep enroll {user}) or remove the setup with twostep reset {user}"
            ),
            CliError::NotEnrolled { user } => write!(f, "user {user} is not enrolled; run twostep enroll {user}"),
            CliError::NothingToDisable { user } => write!(
                f,
                "user {user} is not enrolled, so there is nothing to disable; run twostep enroll {user} to set it up, or exempt users who are not enrolled with [policy] required = false or exempt_groups"
            ),
            CliError::AlreadyEnrolled { user, importing } => {
                let consequence = if *importing {
                    "the imported secret replaces the one on file"
                } else {
                    "their current authenticator entry will stop working"
                };
                write!(
                    f,
                    "user {user} is already enrolled; use --force to replace the secret ({consequence}), or twostep reset {user} first"
                )
            }
            CliError::NothingToUnlock { user } => write!(
                f,
                "user {user} has no two-step setup and no login state, so there is nothing to unlock; check the name with twostep list"
            ),
            CliError::NothingToReset { user } => write!(
                f,
                "user {user} has no two-step setup and no login state, so there is nothing to reset; check the name with twostep list"
            ),
            CliError::CheckFailed { errors } => {
                write!(f, "check found {errors} error(s), listed above; fix them and check again")
            }
            CliError::NoAddress { user } => {
                write!(f, "{user} has no email address; set one: twostep email {user} ADDR")
            }
            CliError::TestMail { to, why } => write!(f, "the test message to {to} was not sent: {why}"),
            CliError::DamagedEntries(users) if users.len() == 1 => write!(f, "{}: {}", users[0].0, users[0].1),
            CliError::DamagedEntries(users) => {
                write!(f, "the files of {} users could not be read:", users.len())?;
                users.iter().try_for_each(|(user, why)| write!(f, "\n  {user}: {why}"))
            }
            CliError::UnenrolledNeedsGroups => {
                f.write_str("--unenrolled needs required_groups: every account must enroll")
            }
            CliError::ListMembers(why) => write!(f, "{why}; the unenrolled members cannot be listed"),
            CliError::Migrate(why) => f.write_str(why),
            CliError::ReadStdin(e) => write!(f, "cannot read the secret from standard input: {e}"),
            CliError::StdinNotText => f.write_str("the secret on standard input is not text"),
            CliError::StdinSecret(e) => write!(f, "{e} (read from standard input)"),
            CliError::UnusablePath { path, error } => write!(f, "cannot use {}: {error}", path.display()),
            CliError::NoGoogleFile { path } => {
                write!(f, "{} does not exist; give the path of the user's .google_authenticator file", path.display())
            }
            CliError::Google { path, error } => write!(f, "cannot migrate {}: {error}", path.display()),
            CliError::AccountName(e) => write!(
                f,
                "{e}\nrecords are kept under the account's name from NSS;\nfix the lookup (sssd, winbind, LDAP) and try again"
            ),
            CliError::Accounts(e) => e.fmt(f),
            CliError::UserName(e) => e.fmt(f),
            CliError::Config(e) => e.fmt(f),
            CliError::Store(e) => e.fmt(f),
            CliError::Fs(e) => e.fmt(f),
            CliError::Secret(e) => e.fmt(f),
            CliError::Qr(e) => e.fmt(f),
            CliError::Batch(e) => e.fmt(f),
        }
    }
}

impl CliError {
    /// 2 for a request the configuration makes meaningless (like a usage
    /// error), else 1.
    pub fn exit_code(&self) -> u8 {
        if matches!(self, CliError::UnenrolledNeedsGroups) { 2 } else { 1 }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::InvalidAddress { why, .. } => Some(why),
            CliError::InvalidPhone { why, .. } => Some(why),
            CliError::ReadStdin(e) | CliError::UnusablePath { error: e, .. } => Some(e),
            CliError::StdinSecret(e) | CliError::Secret(e) => Some(e),
            CliError::Google { error, .. } => Some(error),
            CliError::AccountName(e) | CliError::Accounts(e) => Some(e),
            CliError::UserName(e) => Some(e),
            CliError::Config(e) => Some(e),
            CliError::Store(e) => Some(e),
            CliError::Fs(e) => Some(e),
            CliError::Qr(e) => Some(e),
            CliError::Batch(e) => Some(e),
            CliError::NeedsRoot
            | CliError::ControlCharsInName { .. }
            | CliError::NotLoginName { .. }
            | CliError::EmailIsOnlyFactor { .. }
            | CliError::PhoneIsOnlyFactor { .. }
            | CliError::NotEnrolled { .. }
            | CliError::NothingToDisable { .. }
            | CliError::AlreadyEnrolled { .. }
            | CliError::NothingToUnlock { .. }
            | CliError::NothingToReset { .. }
            | CliError::CheckFailed { .. }
            | CliError::NoAddress { .. }
            | CliError::TestMail { .. }
            | CliError::DamagedEntries(_)
            | CliError::UnenrolledNeedsGroups
            | CliError::ListMembers(_)
            | CliError::Migrate(_)
            | CliError::StdinNotText
            | CliError::NoGoogleFile { .. } => None,
        }
    }
}

/// An address given without being shown in the message (`enroll --email`).
impl From<AddressError> for CliError {
    fn from(why: AddressError) -> Self {
        CliError::InvalidAddress { address: None, why }
    }
}

/// A lookup other than the account name's ([`Context::account`] words that one).
impl From<AccountsError> for CliError {
    fn from(e: AccountsError) -> Self {
        CliError::Accounts(e)
    }
}

impl From<UserNameError> for CliError {
    fn from(e: UserNameError) -> Self {
        CliError::UserName(e)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e)
    }
}

impl From<FsError> for CliError {
    fn from(e: FsError) -> Self {
        CliError::Fs(e)
    }
}

impl From<SecretError> for CliError {
    fn from(e: SecretError) -> Self {
        CliError::Secret(e)
    }
}

/// Drawing a backup or bypass code.
impl From<crate::secret::RandomError> for CliError {
    fn from(e: crate::secret::RandomError) -> Self {
        CliError::Secret(SecretError::Random(e))
    }
}

impl From<QrError> for CliError {
    fn from(e: QrError) -> Self {
        CliError::Qr(e)
    }
}

impl From<batch::BatchError> for CliError {
    fn from(e: batch::BatchError) -> Self {
        CliError::Batch(e)
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
        return Err(CliError::ControlCharsInName { user: user.to_string() });
    }
    if user.contains('/') || user.starts_with('.') {
        return Err(CliError::NotLoginName { user: user.to_string() });
    }
    Ok(())
}

/// Every command reads or writes root-only state: refuse early, before the config is even read.
fn require_root() -> Result<(), CliError> {
    if nix::unistd::geteuid().is_root() { Ok(()) } else { Err(CliError::NeedsRoot) }
}

fn run(cli: Cli) -> Result<(), CliError> {
    require_root()?;
    // `--config twostep.toml` means the file in the current directory (the module needs absolute paths).
    let path = std::path::absolute(&cli.config).unwrap_or(cli.config);
    let check =
        |a| check::run(&check::Inputs { config: &path, pam_dir: &cli.pam_dir, now: crate::time::wall_clock() }, a);
    if let Command::Check(a) = cli.command {
        // A broken config is one of the findings, not a reason to stop.
        return check(a);
    }
    let config = Config::load(&path)?;
    warn_about(&config, &cli.pam_dir);
    let ctx = Context { config, now: crate::time::wall_clock(), log_socket: cli.log_socket };
    match cli.command {
        Command::Enroll(a) => enroll::run(&ctx, a),
        Command::Status(a) => status::status(&ctx, a),
        Command::List(a) => status::list(&ctx, a),
        Command::Unlock(a) => unlock::run(&ctx, a),
        Command::Email(a) => email::run(&ctx, a),
        Command::Phone(a) => phone::run(&ctx, a),
        Command::BackupCodes(a) => backup::run(&ctx, a),
        Command::Bypass(a) => bypass::run(&ctx, a),
        Command::Disable(a) => enable::disable(&ctx, a),
        Command::Enable(a) => enable::enable(&ctx, a),
        Command::Reset(a) => reset::run(&ctx, a),
        Command::MigrateToLdap(a) => migrate::run(&ctx, a),
        Command::Check(a) => check(a),
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
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_and_how_to_fix_it_in_the_words_admins_see() {
        let lookup = AccountsError::Lookup { user: "alice".into(), errno: nix::errno::Errno::EIO };
        assert_eq!(
            CliError::AccountName(lookup.clone()).to_string(),
            format!(
                "{lookup}\nrecords are kept under the account's name from NSS;\nfix the lookup (sssd, winbind, LDAP) and try again"
            )
        );
        assert_eq!(CliError::from(lookup.clone()).to_string(), lookup.to_string(), "other lookups: NSS's words only");
        let why = AddressError::NoAt;
        assert_eq!(
            CliError::InvalidAddress { address: Some("jane".into()), why }.to_string(),
            "invalid email address \"jane\": the address has no @"
        );
        assert_eq!(CliError::from(why).to_string(), "invalid email address: the address has no @");
        let enrolled = |importing| CliError::AlreadyEnrolled { user: "bob".into(), importing }.to_string();
        assert!(enrolled(false).contains("(their current authenticator entry will stop working)"));
        assert!(enrolled(true).contains("(the imported secret replaces the one on file)"));
        assert_eq!(
            check_user_arg("a\x1bb").unwrap_err().to_string(),
            "the user name \"a\\u{1b}b\" contains control characters; check the name"
        );
        assert!(matches!(check_user_arg("../x"), Err(CliError::NotLoginName { .. })));
        assert!(matches!(check_user_arg(""), Err(CliError::UserName(UserNameError::Empty))));
    }
}
