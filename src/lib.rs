//! twostep: two-step verification for Linux logins.
//!
//! `pam_twostep.so` asks for a 6-digit code from an authenticator app after the
//! password stage; `twostep` (the admin command) enrolls users and manages
//! their second factor. Both are built from this crate.
//!
//! One login, step by step (each step names the file that owns it):
//!
//! 1. libpam calls `pam_sm_authenticate` ([`pam`], `src/pam/mod.rs`): user,
//!    service, rhost and module arguments become a `Request`; for the length
//!    of the call SIGXFSZ is ignored and core dumps are off (`src/pam/host.rs`,
//!    `src/pam/nocore.rs`). The only `unsafe` of the crate is in `src/pam/`.
//! 2. [`auth::Login::authenticate`] (`src/auth/mod.rs`) loads the config
//!    ([`config`]: raw → validated) and keys the login on the account's
//!    canonical name from NSS ([`user`]).
//! 3. The user's record is read ([`store`]: `store/record.rs`); [`policy`]
//!    decides on plain data: step aside, refuse, must enroll, or verify (NSS
//!    groups only when a rule needs them; a login from a `trusted_networks`
//!    network, [`cidr`], steps aside first).
//! 4. Must enroll (`src/auth/enroll.rs`): a grace login, enrollment at login
//!    (QR code from [`qr`], a new secret from [`secret`]; or, when
//!    `enroll_methods` offers more, a menu and a typed number or address
//!    confirmed with a code sent to it, `src/auth/enroll_contact.rs`), or a refusal.
//! 5. Verify (`src/auth/verify.rs`): the lock gate on the tally
//!    (`store/tally.rs`); the prompt (the method menu in `src/auth/menu.rs`,
//!    every text in `src/auth/text.rs`); on
//!    `email` or `text`, a code is sent (`src/auth/send_code.rs`:
//!    [`email_code`] rules for both; [`sendmail`] message and command, or
//!    [`sms`] text and command to a [`phone`] number, through the same
//!    runner, [`command`], started clean by `src/pam/child.rs`).
//! 6. The answer, under the user's lock ([`store::UserStore::change`], files
//!    through [`trusted_fs`]): the clock read now ([`time`]), the record read
//!    again, the answer written down as a failure, judged ([`totp`] or a
//!    sent code), and turned into a success if right.
//! 7. One log line ([`log`]); the [`auth::Outcome`] becomes a PAM code in [`pam`].
//!
//! The admin command ([`cli`], one file per command) uses the same store,
//! policy and config, never the login flow or the PAM glue;
//! [`config_warnings`] lists settings that are legal but dangerous. Local
//! times come from [`zone`] (`/etc/localtime` only, never `$TZ`).

pub mod address;
pub mod auth;
pub mod backup_codes;
pub mod cidr;
pub mod cli;
pub mod command;
pub mod config;
pub mod config_warnings;
pub mod decimal;
pub mod email_code;
pub mod log;
pub mod module_args;
mod pam;
pub mod phone;
pub mod policy;
#[cfg(test)]
mod properties;
pub mod qr;
pub mod secret;
pub mod sendmail;
pub mod sms;
pub mod store;
pub mod time;
pub mod toml_fast;
pub mod totp;
pub mod trusted_fs;
pub mod user;
pub mod zone;
