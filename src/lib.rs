//! twostep: two-step verification for Linux logins.
//!
//! `pam_twostep.so` asks for a 6-digit code from an authenticator app after the
//! password stage; `twostep` (the admin command) enrolls users and manages
//! their second factor. Both are built from this crate.
//!
//! Which file owns what:
//! - [`pam`] (`src/pam/`): the only code that knows libpam: entry points,
//!   conversation, items, the outcome → PAM code mapping, and the host-process
//!   guards around the mail command (SIGCHLD; the child's clean start, `child.rs`).
//! - [`auth`]: one login start to finish, against traits (conversation, log, accounts).
//! - [`policy`]: pure decisions on plain data: who must use a second factor
//!   (required/exempt groups, per service), grace logins, the lockout gate.
//! - [`config`]: `/etc/security/twostep.toml`, raw → validated;
//!   [`config_warnings`]: legal but dangerous or ineffective settings (the CLI prints them).
//! - [`store`]: per-user secret records; [`tally`]: per-user login state.
//! - [`state`]: a directory of per-user TOML files with versions;
//!   [`trusted_fs`]: safe open, atomic write, flock.
//! - [`totp`]: RFC 6238 codes, the check window, the otpauth URI; [`secret`]: the secret type.
//! - [`user`]: user names → file names, NSS lookups (canonical account name,
//!   groups); [`log`]: syslog lines.
//! - [`email`]: the email fallback's rules (addresses, one-time codes, resend
//!   throttle); [`mail`]: composing the message and running the mail command.
//! - [`qr`]: terminal QR codes; [`cli`]: the admin command.
//! - [`time`]: the clock and time formatting; [`zone`]: the system time zone
//!   (`/etc/localtime` only, never `$TZ`).
//!
//! Data flow of one login: libpam → `pam::authenticate` (user, service, rhost,
//! args) → `auth::Login::authenticate` → `user::account_name` (NSS: the
//! account's canonical name keys everything below) → `Config::load` → `Store::load` →
//! `policy::decide` (NSS groups only if a group rule needs them): ignore, or a
//! user without a second factor (grace login / enrollment at login / refusal),
//! or an enrolled user → lock gate on the tally → prompt "Verification code: " (typing `email`, or
//! being an email-only user, first sends a code: `email` throttle + reserve in
//! the tally, `mail::compose`, the `Mailer`) → `email::check` / `totp::check`
//! and the tally update under the user's flock → one syslog line → PAM code.

pub mod auth;
pub mod cli;
pub mod config;
pub mod config_warnings;
pub mod email_code;
pub mod log;
mod pam;
pub mod policy;
pub mod qr;
pub mod secret;
pub mod sendmail;
pub mod store;
pub mod time;
pub mod totp;
pub mod trusted_fs;
pub mod user;
pub mod zone;
