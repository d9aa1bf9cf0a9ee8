//! `twostep email USER ADDR` / `twostep email USER --clear`: set or clear the
//! address email codes go to. Setting an address for a user with no record
//! creates an email-only record (codes by email, no authenticator app);
//! clearing the only method a user has is refused (`twostep reset` does that;
//! a phone number on file is a method too, see `twostep phone`).

use super::{CliError, Context};
use crate::address::validate_address;
use crate::store::Entry;
use crate::store::record::UserRecord;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
    /// The address codes are sent to, e.g. jane@district.org
    #[arg(value_name = "ADDR", required_unless_present = "clear", conflicts_with = "clear")]
    address: Option<String>,
    /// Remove the address (the user can no longer get codes by email)
    #[arg(long)]
    clear: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let user = &ctx.account(&args.user)?;
    if let Some(address) = &args.address {
        validate_address(address).map_err(|why| CliError::InvalidAddress { address: Some(address.clone()), why })?;
    }
    // Under the user's lock, so a record replaced meanwhile (another admin,
    // enrollment at login) is not written back with its old secret.
    ctx.store()?.change(user, |u| {
        let existing = u.record()?.cloned();
        match &args.address {
            None => clear(ctx, u, user, existing),
            Some(address) => set(ctx, u, user, existing, address),
        }
    })
}

fn set(
    ctx: &Context,
    u: &mut Entry<'_>,
    user: &str,
    existing: Option<UserRecord>,
    address: &str,
) -> Result<(), CliError> {
    let record = match existing {
        Some(r) => UserRecord { email: Some(address.to_string()), ..r },
        None => {
            UserRecord { email: Some(address.to_string()), enabled: true, created: ctx.now, ..UserRecord::default() }
        }
    };
    u.save_record(record.clone())?;
    ctx.audit("email_set", user);
    say!("Codes for {user} will be sent to {address}.");
    if record.secret.is_none() && record.phone.is_none() {
        say!("{user} has no authenticator app enrolled: they get a code by email at each login.");
    }
    if !record.enabled {
        say!("Note: two-step verification is disabled for {user}; twostep enable {user} turns it back on.");
    }
    Ok(())
}

fn clear(ctx: &Context, u: &mut Entry<'_>, user: &str, existing: Option<UserRecord>) -> Result<(), CliError> {
    let Some(record) = existing.filter(|r| r.email.is_some()) else {
        say!("{user} has no email address on file; nothing to clear.");
        return Ok(());
    };
    if record.secret.is_none() && record.phone.is_none() {
        return Err(CliError::EmailIsOnlyFactor { user: user.to_string() });
    }
    u.save_record(UserRecord { email: None, ..record })?;
    ctx.audit("email_clear", user);
    say!("Cleared the email address of {user}; they can no longer get codes by email.");
    if !ctx.config.email.address_template.is_empty() {
        say!("Note: [email] address_template is set, so codes may still go to the address it gives.");
    }
    Ok(())
}
