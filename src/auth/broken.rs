//! Why a login could not be evaluated: every lower layer's error, as one
//! enum. The login then fails closed (PAM_SYSTEM_ERR, "unavailable"); the
//! text goes to the log only, never to the user.

use std::fmt;

use crate::config::ConfigError;
use crate::qr::QrError;
use crate::secret::{RandomError, SecretError};
use crate::sendmail::ComposeError;
use crate::store::StoreError;
use crate::user::AccountsError;

/// Why a login could not be evaluated (fail closed); logged, never shown.
#[derive(Debug)]
pub(super) enum Broken {
    Config(ConfigError),
    State(StoreError),
    Accounts(AccountsError),
    Secret(SecretError),
    Qr(QrError),
    /// No email code or salt could be drawn.
    Random(RandomError),
    /// No message could be composed for the email code.
    Email(ComposeError),
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Config(e) => e.fmt(f),
            Broken::State(e) => e.fmt(f),
            Broken::Accounts(e) => e.fmt(f),
            Broken::Secret(e) => e.fmt(f),
            Broken::Qr(e) => e.fmt(f),
            Broken::Random(e) => e.fmt(f),
            Broken::Email(e) => e.fmt(f),
        }
    }
}

impl From<ConfigError> for Broken {
    fn from(e: ConfigError) -> Self {
        Broken::Config(e)
    }
}

impl From<StoreError> for Broken {
    fn from(e: StoreError) -> Self {
        Broken::State(e)
    }
}

impl From<SecretError> for Broken {
    fn from(e: SecretError) -> Self {
        Broken::Secret(e)
    }
}

impl From<AccountsError> for Broken {
    fn from(e: AccountsError) -> Self {
        Broken::Accounts(e)
    }
}

impl From<QrError> for Broken {
    fn from(e: QrError) -> Self {
        Broken::Qr(e)
    }
}

impl From<RandomError> for Broken {
    fn from(e: RandomError) -> Self {
        Broken::Random(e)
    }
}

impl From<ComposeError> for Broken {
    fn from(e: ComposeError) -> Self {
        Broken::Email(e)
    }
}
