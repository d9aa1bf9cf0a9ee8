//! `twostep reset USER`: forget a user's setup (lost phone, or starting over).
//!
//! Deletes the user's secrets record (authenticator secret, email address,
//! enabled flag) and their tally (failed codes, lock, last code step, pending
//! email code, grace logins used), so they can enroll again from scratch. A
//! record or tally that cannot be read (corrupt, newer format) is deleted too:
//! reset is the explicit way out. Exit status 1 when the user has neither
//! (most likely a mistyped name): nothing is changed and the admin is told.

use super::{CliError, Context};
use crate::address::mask_address;
use crate::store::StoreError;
use crate::store::record::UserRecord;
use crate::store::tally::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let user = &ctx.account(&args.user)?;
    // Under the user's lock, so a login enrolling (or judging) at this moment
    // cannot write either file back between the two removals.
    let (record, login_state, had_record, had_tally) = ctx.store()?.change(user, |u| -> Result<_, CliError> {
        let record = readable(u.record().map(|r| r.cloned()))?;
        let login_state = readable(u.tally().cloned())?;
        Ok((record, login_state, u.remove_record()?, u.remove_tally()?))
    })?;
    let mut removed = Vec::new();
    if had_record {
        removed.push(match &record {
            Ok(r) => format!("the secrets record ({})", describe_record(r.as_ref())),
            Err(why) => format!("the unreadable secrets record ({why})"),
        });
    }
    if had_tally {
        removed.push(match &login_state {
            Ok(t) => format!("the login state ({})", describe_tally(t)),
            Err(why) => format!("the unreadable login state ({why})"),
        });
    }
    if removed.is_empty() {
        return Err(CliError::NothingToReset { user: user.to_string() });
    }
    ctx.audit("reset", user);
    say!("Reset {user}: removed {}.", removed.join(" and "));
    say!(
        "{user} can now be enrolled again: twostep enroll {user}{}.",
        if ctx.config.policy.enroll_at_login { " (or they set it up at their next login)" } else { "" }
    );
    Ok(())
}

/// A file that exists but cannot be read is still removed by reset; only
/// problems with the user name or the directory itself stop it.
fn readable<T>(r: Result<T, StoreError>) -> Result<Result<T, StoreError>, CliError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e @ (StoreError::Corrupt { .. } | StoreError::NewerVersion { .. } | StoreError::Fs(_))) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

fn describe_record(r: Option<&UserRecord>) -> String {
    let Some(r) = r else { return "empty".into() };
    let mut parts = Vec::new();
    if r.secret.is_some() {
        parts.push("authenticator secret".to_string());
    }
    if let Some(addr) = &r.email {
        parts.push(format!("email address {}", mask_address(addr)));
    }
    if let Some(phone) = &r.phone {
        parts.push(format!("phone number {}", crate::phone::mask_phone(phone)));
    }
    if !r.backup_codes.is_empty() {
        parts.push(format!("{} backup code(s)", r.backup_codes.len()));
    }
    if r.bypass.is_some() {
        parts.push("a help-desk code".into());
    }
    if !r.enabled {
        parts.push("disabled".into());
    }
    if parts.is_empty() { "no methods".into() } else { parts.join(", ") }
}

fn describe_tally(t: &Tally) -> String {
    let mut parts = Vec::new();
    if !t.failures.is_empty() {
        parts.push(format!("{} failed code(s)", t.failures.len()));
    }
    if t.locked_at.is_some() {
        parts.push("a lock".into());
    }
    if t.last_step.is_some() {
        parts.push("the last code used".into());
    }
    if t.email_code.is_some() {
        parts.push("a pending email code".into());
    }
    if t.sms_code.is_some() {
        parts.push("a pending text-message code".into());
    }
    if t.grace_used > 0 {
        parts.push(format!("{} grace login(s) used", t.grace_used));
    }
    if parts.is_empty() { "empty".into() } else { parts.join(", ") }
}
