//! `twostep disable USER` / `twostep enable USER`: suspend or restore a user's
//! second factor. The record (secret, address) is kept; only its `enabled`
//! flag changes. The module treats a disabled user as exempt: PAM_IGNORE,
//! no prompt. Disabling an already disabled user (or enabling an enabled
//! one) changes nothing and succeeds; a user with no record is an error.

use super::{CliError, Context};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
}

pub fn disable(ctx: &Context, args: Args) -> Result<(), CliError> {
    set_enabled(ctx, &args.user, false)
}

pub fn enable(ctx: &Context, args: Args) -> Result<(), CliError> {
    set_enabled(ctx, &args.user, true)
}

fn set_enabled(ctx: &Context, user: &str, enabled: bool) -> Result<(), CliError> {
    let user = &ctx.account(user)?;
    let verb = if enabled { "enable" } else { "disable" };
    // Under the user's lock, so a record replaced meanwhile is not written
    // back with its old secret.
    let changed = ctx.store()?.change(user, |u| -> Result<bool, CliError> {
        let Some(record) = u.record()?.cloned() else {
            let user = user.to_string();
            return Err(if enabled { CliError::NotEnrolled { user } } else { CliError::NothingToDisable { user } });
        };
        if record.enabled == enabled {
            return Ok(false);
        }
        u.save_record(crate::store::record::UserRecord { enabled, ..record })?;
        Ok(true)
    })?;
    if !changed {
        say!("Two-step verification is already {verb}d for {user}; nothing changed.");
        return Ok(());
    }
    ctx.audit(verb, user);
    if enabled {
        say!("Enabled two-step verification for {user}: they are asked for a code again at their next login.");
    } else {
        say!(
            "Disabled two-step verification for {user}: they log in without a code until twostep enable {user}. Their secret and address are kept."
        );
    }
    Ok(())
}
