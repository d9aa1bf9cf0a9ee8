//! `twostep unlock USER`: clear failed attempts and the lock (pam_faillock's `--reset`).
#![forbid(unsafe_code)]

use super::{CliError, Context, check_user_arg};
use crate::policy;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name
    user: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    check_user_arg(&args.user)?;
    let tally = ctx.tally()?;
    if ctx.store()?.load(&args.user)?.is_none() && !tally.exists(&args.user)? {
        return Err(CliError(format!(
            "user {} has no two-step setup and no login state, so there is nothing to unlock; check the name with twostep list",
            args.user
        )));
    }
    let was_locked = tally.update(&args.user, |t| {
        let locked = policy::lock_state(t, &ctx.config.lockout, false, ctx.now).is_locked();
        policy::unlock(t);
        locked
    })?;
    ctx.audit("unlock", &args.user);
    if was_locked {
        say!("Unlocked {}; their failed attempts were cleared.", args.user);
    } else {
        say!("{} was not locked; their failed attempts were cleared.", args.user);
    }
    Ok(())
}
