//! Where `pam_twostep.so` sits in a PAM service's auth stack, and what that
//! means: `twostep check` reads every file of the PAM directory, follows
//! `@include`, `include` and `substack` as libpam does, and runs the auth
//! stack through a model of libpam's dispatcher (`_pam_dispatch_aux`:
//! impression and status, `ok`/`done`/`bad`/`die`/`reset`/jumps, a substack
//! ending at its own `done` or `die`) for every outcome the modules may have.
//!
//! The modules are modelled for an ordinary user (not root): a password
//! module (`pam_unix.so`, `pam_sss.so`, …) says yes, no or "unknown user";
//! `pam_deny.so` always no, `pam_permit.so` always yes; modules that do not
//! judge the password (`pam_env.so`, `pam_faildelay.so`, …) yes; every
//! other module any of yes, no or ignore. From all the paths this says:
//!
//! - whether a wrong password can still reach twostep (anyone who knows a
//!   user name can then lock the user out, README "The code only after a
//!   right password"; `tests/stack_order.rs` shows it through real libpam);
//! - whether the stack can succeed without twostep running (a `sufficient`
//!   password module, or `include password-auth` on RHEL);
//! - whether twostep comes before any password (the public key + code
//!   pattern, safe only behind sshd's `AuthenticationMethods publickey,…`)
//!   and whether a code alone can then open the account.
//!
//! Nothing here runs a module: it reads text. [`scan`] is the only I/O.

//!
//! - [`load`]: reading the files, includes and substacks, into a [`Service`];
//! - [`stack`]: the flattened auth stack and what each module may return;
//! - [`modules`]: the known-module tables; [`control`]: control words;
//! - [`dispatch`]: the model of libpam's dispatcher, and its [`Verdict`].

mod control;
mod dispatch;
mod load;
mod modules;
mod stack;

pub use dispatch::{Verdict, analyse};
pub use load::{Service, scan, writable_by_others};

/// A PAM directory holding `files` (name, text), for the tests.
#[cfg(test)]
fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).unwrap();
    }
    d
}
