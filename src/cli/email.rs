//! `twostep email USER ADDR` / `twostep email USER --clear`: set or clear the
//! address email codes go to. Setting an address for a user with no record
//! creates an email-only record (codes by email, no authenticator app);
//! clearing the only method a user has is refused (`twostep reset` does that;
//! a phone number on file is a method too, see `twostep phone`).
//!
//! `twostep email USER --test` sends a test message (no code in it) to the
//! address a code would go to (on file, else from `address_template`) through
//! `[email] command`, with the module's message headers and the same runner
//! ([`crate::command::run`]: fixed argv, empty environment, timeout, output
//! redacted and cut). The child gets a process group of its own, not the
//! module's full reset (`src/pam/child.rs`, the PAM glue, which the CLI never
//! uses): that reset undoes what a setuid host's caller hands down, while here
//! root runs the command from root's own shell. A message the command accepts
//! may still be refused further on: the admin checks that it arrives.

use super::{CliError, Context};
use crate::address::{address_for, validate_address};
use crate::sendmail::{self, Letter, Mailer, Sendmail};
use crate::store::Entry;
use crate::store::record::UserRecord;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
    /// The address codes are sent to, e.g. jane@district.org
    #[arg(value_name = "ADDR", required_unless_present_any = ["clear", "test"], conflicts_with_all = ["clear", "test"])]
    address: Option<String>,
    /// Remove the address (the user can no longer get codes by email)
    #[arg(long, conflicts_with = "test")]
    clear: bool,
    /// Send a test message (no code) to the user's address through [email] command
    #[arg(long)]
    test: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let user = &ctx.account(&args.user)?;
    if args.test {
        return send_test(ctx, user);
    }
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
    let changed = existing.as_ref().and_then(|r| r.email.as_deref()).is_some_and(|old| old != address);
    let record = match existing {
        Some(r) => UserRecord { email: Some(address.to_string()), ..r },
        None => {
            UserRecord { email: Some(address.to_string()), enabled: true, created: ctx.now, ..UserRecord::default() }
        }
    };
    u.save_record(record.clone())?;
    if changed {
        // A code sent to the old address no longer lets anyone in.
        u.update_tally(|t| t.email_code = None)?;
    }
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
    // An email code sent before stays usable until it expires unless it goes too.
    u.update_tally(|t| t.email_code = None)?;
    ctx.audit("email_clear", user);
    say!("Cleared the email address of {user}; they can no longer get codes by email.");
    if !ctx.config.email.address_template.is_empty() {
        say!("Note: [email] address_template is set, so codes may still go to the address it gives.");
    }
    Ok(())
}

/// `--test`: one message through the mail command; its refusal is the error.
fn send_test(ctx: &Context, user: &str) -> Result<(), CliError> {
    let record = ctx.store()?.record(user)?;
    let on_file = record.as_ref().and_then(|r| r.email.as_deref());
    let template = &ctx.config.email.address_template;
    let to = address_for(on_file, template, user).ok_or_else(|| CliError::NoAddress { user: user.to_string() })?;
    let host = sendmail::hostname();
    let letter = Letter { to: &to, user, host: &host, code: "", now: ctx.now };
    let failed = |why: String| CliError::TestMail { to: to.clone(), why };
    let message = sendmail::compose_test(&ctx.config.email, &letter).map_err(|e| failed(e.to_string()))?;
    let result = Sendmail { setup: &crate::command::own_process_group }.send(&ctx.config.email, &message);
    ctx.audit(if result.is_ok() { "email_test" } else { "email_test_failed" }, user);
    result.map_err(|e| failed(e.to_string()))?;
    let from = sendmail::sender(&ctx.config.email, &host);
    say!("Sent a test message to {to} from {}.", from.address);
    say!("The mail command accepted it; check that it arrives (and not as spam).");
    if on_file.is_none() {
        say!("The address comes from [email] address_template.");
    }
    if !record.as_ref().is_some_and(|r| r.is_enrolled()) {
        say!("Note: {user} is not enrolled; logins send codes only to enrolled users.");
    }
    Ok(())
}
