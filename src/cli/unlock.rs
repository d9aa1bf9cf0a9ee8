//! `twostep unlock USER`: clear failed attempts and the lock (pam_faillock's `--reset`).

use super::{CliError, Context};
use crate::policy;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name
    user: String,
}

pub fn run(ctx: &Context, mut args: Args) -> Result<(), CliError> {
    args.user = ctx.account(&args.user)?;
    let store = ctx.store()?;
    if store.record(&args.user)?.is_none() && !store.has_tally(&args.user)? {
        return Err(CliError::NothingToUnlock { user: args.user });
    }
    let step_now = crate::totp::step_at(&ctx.config.totp, ctx.now);
    let is_root = ctx.is_root(&args.user)?;
    let (was_locked, future_step) = store.change(&args.user, |u| {
        u.update_tally(|t| {
            let locked = policy::lock_of(t, &ctx.config.lockout, is_root, ctx.now).is_locked();
            policy::unlock(t);
            // A last used step ahead of the clock (left by a clock that ran fast)
            // would refuse every code as "already used" until the clock catches up.
            let future = t.last_step.filter(|&s| s > step_now);
            if future.is_some() {
                t.last_step = None;
            }
            (locked, future)
        })
    })?;
    ctx.audit("unlock", &args.user);
    if was_locked {
        say!("Unlocked {}; their failed attempts were cleared.", args.user);
    } else {
        say!("{} was not locked; their failed attempts were cleared.", args.user);
    }
    if let Some(step) = future_step {
        let at = crate::time::rfc3339(step.saturating_mul(ctx.config.totp.period));
        say!(
            "Their last used code was from {at}, which is in the future (was the clock wrong?); that was cleared too, so codes from the app work again."
        );
    }
    Ok(())
}
