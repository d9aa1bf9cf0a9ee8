//! Per-user state: the secrets record and the tally, each one file per user.
//!
//! - [`files`]: a directory of per-user versioned TOML files (name encoding,
//!   safe open, atomic write, the per-user lock).
//! - [`record`]: the second-factor setup (secret, address, enabled flag).
//! - [`tally`]: the login state the module keeps (failures, lock, last step,
//!   pending email code, grace logins used).
#![forbid(unsafe_code)]

pub mod files;
pub mod record;
pub mod tally;
