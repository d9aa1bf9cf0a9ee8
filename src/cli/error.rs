//! [`CliError`]: every way an admin command can fail, each worded for the
//! admin as what went wrong and how to fix it, and its exit code. The
//! commands decide the refusals; the lower layers' errors are wrapped here
//! (one `From` each) and keep their own words.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::batch;
use super::google::GaError;
use crate::address::AddressError;
use crate::config::ConfigError;
use crate::phone::PhoneError;
use crate::qr::QrError;
use crate::secret::SecretError;
use crate::store::StoreError;
use crate::trusted_fs::FsError;
use crate::user::{AccountsError, UserNameError};

/// An error for the admin: what went wrong and how to fix it (one line on
/// stderr after `twostep: `, escaped for the terminal by [`super::main`]).
///
/// First the refusals the command itself decides, then one variant per lower
/// layer (each with its own `From`, so `?` works), worded by that layer.
#[derive(Debug)]
pub enum CliError {
    /// Not run as root.
    NeedsRoot,
    /// A user name argument with control characters ([`super::check_user_arg`]).
    ControlCharsInName {
        user: String,
    },
    /// A user name argument with a `/` or a leading `.` ([`super::check_user_arg`]).
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

/// A lookup other than the account name's ([`super::Context::account`] words that one).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::check_user_arg;

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
