//! Every record and tally in the store, read as a login reads them
//! ([`read_users`]): a damaged one is a finding, and the check goes on;
//! what it counted is left for the other checks ([`Users`]).

use super::report::{Report, plural, split_fix};
use crate::config::Config;
use crate::store::{StoreError, UserStore};

/// What the store check leaves for the next-login check.
pub(super) struct Users {
    pub(super) store: UserStore,
    /// Records with an address of their own.
    pub(super) email_users: usize,
    /// Users with a phone number on file (text-message codes).
    pub(super) phone_users: usize,
    /// The tally directory exists and is private (reading a tally through
    /// the store would otherwise create it: a check changes nothing).
    pub(super) tally_ok: bool,
}

/// Every record and tally in `store`, read as a login reads them; a damaged
/// one is a finding and the check goes on.
pub(super) fn read_users(r: &mut Report, cfg: &Config, store: UserStore, tally_ok: bool) -> Users {
    // A damaged file refuses that user's logins; the fix says what removing it costs.
    let damaged = |r: &mut Report, e: &StoreError, fix: String| {
        let (what, _) = split_fix(&e.to_string());
        r.error(format!("{what}: the user's logins are refused"), fix);
    };
    let shown = crate::user::for_terminal;
    let mut email_users = 0;
    let mut phone_users = 0;
    let (mut records, mut tallies) = (0, 0);
    match store.enrolled_users() {
        Ok(users) => {
            records = users.len();
            for u in &users {
                match store.record(u) {
                    Ok(Some(rec)) => {
                        email_users += usize::from(rec.email.is_some());
                        phone_users += usize::from(rec.phone.is_some());
                    }
                    Ok(None) => {}
                    Err(e) => damaged(
                        r,
                        &e,
                        format!("inspect it; twostep reset {} removes it and they enroll again", shown(u)),
                    ),
                }
            }
        }
        Err(e) => r.error_message(&e.to_string(), "fix the directory, then check again"),
    }
    if tally_ok {
        match store.tally_users() {
            Ok(users) => {
                tallies = users.len();
                for u in &users {
                    if let Err(e) = store.tally(u) {
                        let fix = "inspect it, then delete it: the user starts from zero failures".to_string();
                        damaged(r, &e, fix);
                    }
                }
            }
            Err(e) => r.error_message(&e.to_string(), "fix the directory, then check again"),
        }
    }
    r.info(format!("read {} and {}", plural(records, "record"), plural(tallies, "login state")));
    if !cfg.email.address_template.is_empty() {
        email_users += 1;
    }
    Users { store, email_users, phone_users, tally_ok }
}
