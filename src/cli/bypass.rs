//! `twostep bypass USER [--uses N] [--valid DURATION] [--json]` and
//! `twostep bypass USER --revoke`: a help-desk code for a user who cannot
//! give a code (lost phone, no mail): 9 digits, shown `123 456 789`, read to
//! the user on the phone after the help desk checked who is calling. It lets
//! them in `--uses` times (default 1, at most 10) until `--valid` has passed
//! (default 1h, at most 7d), typed at the verification code prompt like any
//! code; wrong guesses count towards the lockout. Stored only as a salted
//! hash with its expiry, uses left and the admin who made it
//! ([`crate::backup_codes`]); a new one replaces the one pending. The audit
//! line names the admin (`by=`, `SUDO_USER`), the uses and the expiry.
//! `--json` prints `{"user","code","uses_left","expires"}`.

use serde_json::json;

use super::backup::say_json_wiped;
use super::{CliError, Context, duration};
use crate::backup_codes::{self, MAX_BYPASS_USES, grouped};
use crate::store::record::UserRecord;
use crate::time::{local_time, rfc3339};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
    /// Logins the code allows (1 to 10)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BYPASS_USES)))]
    uses: u32,
    /// How long the code works: 30m, 2h, 1d (at most 7d)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration::bypass_valid)]
    valid: u64,
    /// Cancel the pending code instead
    #[arg(long, conflicts_with_all = ["uses", "valid", "json"])]
    revoke: bool,
    /// Print {"user","code","uses_left","expires"} as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let user = &ctx.account(&args.user)?;
    if args.revoke {
        return revoke(ctx, user);
    }
    let by = ctx.admin();
    let (code, bypass) = backup_codes::new_bypass(ctx.now, args.valid, args.uses, &by)?;
    let expires = bypass.expires;
    let replaced = ctx.store()?.change(user, |u| -> Result<bool, CliError> {
        let Some(record) = u.record()?.filter(|r| r.is_enrolled()).cloned() else {
            return Err(CliError::NotEnrolled { user: user.to_string() });
        };
        let replaced = record.live_bypass(ctx.now).is_some();
        u.save_record(UserRecord { bypass: Some(bypass), ..record })?;
        Ok(replaced)
    })?;
    let uses = args.uses.to_string();
    ctx.audit_with("bypass", user, &[("uses", &uses), ("expires", &rfc3339(expires))]);
    if args.json {
        say_json_wiped(json!({
            "user": user,
            "code": code.as_str(),
            "uses_left": args.uses,
            "expires": rfc3339(expires),
        }));
        return Ok(());
    }
    if replaced {
        say!("The help-desk code made before for {user} no longer works.");
    }
    let times = if args.uses == 1 { "once".to_string() } else { format!("{} times", args.uses) };
    say!("Help-desk code for {user}: {}\n", &*grouped(&code));
    say!(
        "It lets {user} log in {times}, until {} (for {}). Read it to them only after\nchecking who is calling; they type it at the verification code prompt.\nCancel it with: twostep bypass {user} --revoke",
        local_time(expires, ctx.now),
        duration::describe(args.valid)
    );
    Ok(())
}

fn revoke(ctx: &Context, user: &str) -> Result<(), CliError> {
    let revoked = ctx.store()?.change(user, |u| -> Result<bool, CliError> {
        let Some(record) = u.record()?.filter(|r| r.bypass.is_some()).cloned() else {
            return Ok(false);
        };
        let live = record.live_bypass(ctx.now).is_some();
        u.save_record(UserRecord { bypass: None, ..record })?;
        Ok(live)
    })?;
    if !revoked {
        say!("{user} has no pending help-desk code; nothing to revoke.");
        return Ok(());
    }
    ctx.audit("bypass_revoke", user);
    say!("Revoked the help-desk code of {user}; it no longer works.");
    Ok(())
}
