//! [`EnrollMethod`]: a way to set up two-step verification at login, as
//! `enroll_methods` names it in the file and as the validated config holds it.

use serde::Deserialize;

/// A way to set up two-step verification at login (`[policy] enroll_methods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrollMethod {
    /// An authenticator app: the QR code and one confirming code.
    App,
    /// A mobile number the user types, confirmed with a code sent to it.
    Text,
    /// An email address the user types, confirmed with a code sent to it.
    Email,
}

impl EnrollMethod {
    /// The word the user types to choose it (and the word in the config).
    pub fn word(self) -> &'static str {
        match self {
            EnrollMethod::App => "app",
            EnrollMethod::Text => "text",
            EnrollMethod::Email => "email",
        }
    }
}
