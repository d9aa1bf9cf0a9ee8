//! `twostep phone USER NUMBER` / `twostep phone USER --clear`: set or clear
//! the number text-message codes go to. The number is stored in E.164 form
//! (`+1 (555) 123-4567` is taken as `+15551234567`). Setting a number for a
//! user with no record creates a text-only record (codes by text, no
//! authenticator app); clearing the only method a user has is refused
//! (`twostep reset` does that). Like `twostep email`.

use super::{CliError, Context};
use crate::phone::{mask_phone, normalize_phone};
use crate::store::Entry;
use crate::store::record::UserRecord;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
    /// The mobile number with country code, e.g. +15551234567
    #[arg(value_name = "NUMBER", required_unless_present = "clear", conflicts_with = "clear")]
    number: Option<String>,
    /// Remove the number (the user can no longer get codes by text message)
    #[arg(long)]
    clear: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let user = &ctx.account(&args.user)?;
    let number = match &args.number {
        Some(typed) => {
            Some(normalize_phone(typed).map_err(|why| CliError::InvalidPhone { number: typed.clone(), why })?)
        }
        None => None,
    };
    // Under the user's lock, so a record replaced meanwhile is not written back.
    ctx.store()?.change(user, |u| {
        let existing = u.record()?.cloned();
        match &number {
            None => clear(ctx, u, user, existing),
            Some(number) => set(ctx, u, user, existing, number),
        }
    })
}

fn set(
    ctx: &Context,
    u: &mut Entry<'_>,
    user: &str,
    existing: Option<UserRecord>,
    number: &str,
) -> Result<(), CliError> {
    let changed = existing.as_ref().and_then(|r| r.phone.as_deref()).is_some_and(|old| old != number);
    let record = match existing {
        Some(r) => UserRecord { phone: Some(number.to_string()), ..r },
        None => {
            UserRecord { phone: Some(number.to_string()), enabled: true, created: ctx.now, ..UserRecord::default() }
        }
    };
    u.save_record(record.clone())?;
    if changed {
        // A code texted to the old number no longer lets anyone in.
        u.update_tally(|t| t.sms_code = None)?;
    }
    ctx.audit("phone_set", user);
    say!("Text-message codes for {user} will be sent to {number} ({}).", mask_phone(number));
    if record.secret.is_none() && record.email.is_none() {
        say!("{user} has no authenticator app enrolled: they get a code by text message at each login.");
    }
    if !ctx.config.sms.enabled() {
        say!(
            "Note: [sms] command is not set in the configuration, so no text messages are sent until it is (see twostep.toml(5))."
        );
    }
    if !record.enabled {
        say!("Note: two-step verification is disabled for {user}; twostep enable {user} turns it back on.");
    }
    Ok(())
}

fn clear(ctx: &Context, u: &mut Entry<'_>, user: &str, existing: Option<UserRecord>) -> Result<(), CliError> {
    let Some(record) = existing.filter(|r| r.phone.is_some()) else {
        say!("{user} has no phone number on file; nothing to clear.");
        return Ok(());
    };
    if record.secret.is_none() && record.email.is_none() {
        return Err(CliError::PhoneIsOnlyFactor { user: user.to_string() });
    }
    u.save_record(UserRecord { phone: None, ..record })?;
    // A text code sent before stays usable until it expires unless it goes too.
    u.update_tally(|t| t.sms_code = None)?;
    ctx.audit("phone_clear", user);
    say!("Cleared the phone number of {user}; they can no longer get codes by text message.");
    Ok(())
}
