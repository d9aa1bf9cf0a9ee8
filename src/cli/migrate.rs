//! `twostep migrate-to-ldap [--force]`: copies every record and tally of the
//! file store (`secrets_dir`, `tally_dir`) into the directory of `[ldap]`.
//!
//! Run it before (or after) switching `[store] backend` to `"ldap"`; the file
//! store is only read, never changed. Per user, under the entry's directory lock:
//! - the record is written when the directory has none. A record already
//!   there is newer than the file's (logins and the admin command changed it
//!   since: a used backup code must not come back) and is kept; when its
//!   secret differs (enrolled again there) that is reported and counts as
//!   not copied. `--force` writes the file's record over it, as on file;
//! - the login state is copied with the record (or when the directory has
//!   none, for a user with no record); with a record already there, the
//!   directory's is live and kept (an empty one may be a success's, whose
//!   cleared failures must not come back), but never with an older used time
//!   step than the file's (a code used on a file server stays used).
//!
//! A second run finds every user "unchanged" and says so: idempotent. Users
//! with no directory entry matching `[ldap] user_filter` are reported and
//! make the command exit 1 (after every other user was copied).

use super::{CliError, Context};
use crate::config::Backend;
use crate::store::StoreError;
use crate::store::UserStore;
use crate::store::record::UserRecord;
use crate::store::tally::{MAX_FAILURES_KEPT, Tally};
use crate::trusted_fs::Owner;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Replace a different secret already in the directory with the one on file
    #[arg(long)]
    force: bool,
}

/// What happened to one user.
#[derive(Debug, PartialEq, Eq)]
enum Done {
    Copied,
    Updated,
    Unchanged,
    /// A different secret is in the directory (no `--force`): nothing written.
    OtherSecret,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let Some(ldap) = &ctx.config.ldap else {
        return Err(CliError::Migrate(
            "the configuration has no [ldap] table; describe the directory there first (see twostep.toml(5))".into(),
        ));
    };
    let files = UserStore::for_login(ctx.config.secrets_dir.clone(), ctx.config.tally_dir.clone(), Owner::ROOT)?;
    let directory = UserStore::directory(ldap, Owner::ROOT)?;
    let mut users = files.enrolled_users()?;
    users.extend(files.tally_users()?);
    users.sort();
    users.dedup();
    let (mut changed, mut unchanged, mut failed) = (0, 0, Vec::new());
    for user in &users {
        match migrate_one(&files, &directory, user, args.force) {
            Ok(Done::Copied) => {
                say!("{user}: copied");
                changed += 1;
                ctx.audit("migrate_to_ldap", user);
            }
            Ok(Done::Updated) => {
                say!("{user}: updated");
                changed += 1;
                ctx.audit("migrate_to_ldap", user);
            }
            Ok(Done::Unchanged) => {
                say!("{user}: unchanged (already in the directory)");
                unchanged += 1;
            }
            Ok(Done::OtherSecret) => {
                let why = "a different secret is already in the directory (enrolled there?); \
                           kept it; rerun with --force to replace it with the one on file";
                say!("{user}: not copied: {why}");
                failed.push(user.clone());
            }
            Err(e) => {
                say!("{user}: not copied: {e}");
                failed.push(user.clone());
            }
        }
    }
    if changed == 0 && failed.is_empty() {
        say!("Nothing to do: the directory already holds all {unchanged} user(s) of the file store.");
    } else {
        say!("{changed} copied or updated, {unchanged} unchanged, {} not copied.", failed.len());
    }
    if ctx.config.backend == Backend::Files && failed.is_empty() {
        say!("Logins still use the file store; set [store] backend = \"ldap\" to use the directory.");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Migrate(format!("{} user(s) not copied ({}); see above", failed.len(), failed.join(", "))))
    }
}

fn migrate_one(files: &UserStore, directory: &UserStore, user: &str, force: bool) -> Result<Done, StoreError> {
    let record = files.record(user)?;
    let tally = files.tally(user)?;
    directory.change(user, |e| -> Result<Done, StoreError> {
        let mut done = Done::Unchanged;
        let had_record = e.record()?.is_some();
        if let Some(record) = record {
            match e.record()? {
                None => {
                    e.save_record(record)?;
                    done = Done::Copied;
                }
                Some(there) if same_record(there, &record) => {}
                Some(_) if force => {
                    e.save_record(record)?;
                    done = Done::Updated;
                }
                Some(there) if !same_secret(there, &record) => return Ok(Done::OtherSecret),
                Some(_) => {}
            }
        }
        let there = e.tally()?.clone();
        // With a record already there, the directory's login state is live
        // (an empty one may be a success's): only the used step is merged.
        let merged = if had_record && !force {
            Tally { last_step: there.last_step.max(tally.last_step), ..there.clone() }
        } else {
            merge(&there, &tally)
        };
        if merged != there {
            e.save_tally(merged)?;
            if done == Done::Unchanged {
                done = if there == Tally::default() { Done::Copied } else { Done::Updated };
            }
        }
        Ok(done)
    })
}

fn same_secret(a: &UserRecord, b: &UserRecord) -> bool {
    match (&a.secret, &b.secret) {
        (Some(x), Some(y)) => x.same_as(y),
        (None, None) => true,
        _ => false,
    }
}

fn same_record(a: &UserRecord, b: &UserRecord) -> bool {
    same_secret(a, b)
        && (&a.email, &a.phone, a.enabled, a.created, a.disabled_until, &a.backup_codes, &a.bypass)
            == (&b.email, &b.phone, b.enabled, b.created, b.disabled_until, &b.backup_codes, &b.bypass)
}

/// The login state to keep: the file's when the directory has none (as the
/// directory reads it back: the failures it keeps, no version of its own);
/// else the directory's, live since the switch, with the later of the two
/// used time steps (a code used on a file server stays used).
fn merge(there: &Tally, file: &Tally) -> Tally {
    if *there == Tally::default() {
        let mut m = file.clone();
        if m.failures.len() > MAX_FAILURES_KEPT {
            m.failures.drain(..m.failures.len() - MAX_FAILURES_KEPT);
        }
        m.version = m.oldest_version();
        return m;
    }
    Tally { last_step: there.last_step.max(file.last_step), ..there.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directorys_login_state_is_kept_but_never_with_an_older_used_step() {
        let file = Tally { failures: vec![20, 30], last_step: Some(90), locked_at: Some(25), ..Tally::default() };
        let copied = merge(&Tally::default(), &file);
        assert_eq!(copied, file, "copied when the directory has none");
        assert_eq!(merge(&copied, &file), copied, "a second run changes nothing");
        let live = Tally { failures: vec![40], last_step: Some(80), ..Tally::default() };
        let m = merge(&live, &file);
        assert_eq!((m.failures, m.last_step, m.locked_at), (vec![40], Some(90), None));
    }
}
