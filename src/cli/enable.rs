//! `twostep disable USER [--for DURATION]` / `twostep enable USER`: suspend
//! or restore a user's second factor. The record (secret, address, backup
//! codes) is kept; only its `enabled` flag changes. The module treats a
//! disabled user as exempt: PAM_IGNORE, no prompt. `--for 2h` (up to 90d)
//! disables with an end: the record keeps `disabled_until`, and from then on
//! the user is asked for a code again ([`UserRecord::enabled_at`]), with
//! nothing to run. Disabling an already disabled user the same way (or
//! enabling an enabled one) changes nothing and succeeds; a user with no
//! record is an error.

use super::{CliError, Context, duration};
use crate::store::record::UserRecord;
use crate::time::{local_time, rfc3339};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
}

#[derive(Debug, clap::Args)]
pub struct DisableArgs {
    /// The login name (as PAM sees it)
    user: String,
    /// Only for this long (30m, 2h, 1d; at most 90d); then they are asked again
    #[arg(long = "for", value_name = "DURATION", value_parser = duration::disable_for)]
    for_secs: Option<u64>,
}

pub fn disable(ctx: &Context, args: DisableArgs) -> Result<(), CliError> {
    let until = args.for_secs.map(|s| ctx.now.saturating_add(s));
    set_enabled(ctx, &args.user, false, until)
}

pub fn enable(ctx: &Context, args: Args) -> Result<(), CliError> {
    set_enabled(ctx, &args.user, true, None)
}

fn set_enabled(ctx: &Context, user: &str, enabled: bool, until: Option<u64>) -> Result<(), CliError> {
    let user = &ctx.account(user)?;
    let verb = if enabled { "enable" } else { "disable" };
    // Under the user's lock, so a record replaced meanwhile is not written
    // back with its old secret.
    let changed = ctx.store()?.change(user, |u| -> Result<bool, CliError> {
        let Some(record) = u.record()?.cloned() else {
            let user = user.to_string();
            return Err(if enabled { CliError::NotEnrolled { user } } else { CliError::NothingToDisable { user } });
        };
        if (record.enabled, record.disabled_until) == (enabled, until) {
            return Ok(false);
        }
        u.save_record(UserRecord { enabled, disabled_until: until, ..record })?;
        Ok(true)
    })?;
    if !changed {
        say!("Two-step verification is already {verb}d for {user}; nothing changed.");
        return Ok(());
    }
    match until {
        Some(t) => ctx.audit_with(verb, user, &[("until", &rfc3339(t))]),
        None => ctx.audit(verb, user),
    }
    if enabled {
        say!("Enabled two-step verification for {user}: they are asked for a code again at their next login.");
    } else if let Some(t) = until {
        say!(
            "Disabled two-step verification for {user} until {}: they log in without a code until then and are asked for one again after. twostep enable {user} ends it sooner.",
            local_time(t, ctx.now)
        );
    } else {
        say!(
            "Disabled two-step verification for {user}: they log in without a code until twostep enable {user}. Their secret and address are kept."
        );
    }
    Ok(())
}
