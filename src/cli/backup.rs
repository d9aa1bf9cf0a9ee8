//! `twostep backup-codes USER [--json]`: a new set of 10 single-use backup
//! codes for an enrolled user (8 digits, shown `1234 5678`), shown once and
//! stored only as salted hashes ([`crate::backup_codes`]); any earlier set
//! stops working. The user types one at the verification code prompt when
//! the phone is not at hand. `--json` prints `{"user","backup_codes"}` (the
//! codes without spaces).

use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

use super::{CliError, Context};
use crate::backup_codes::{self, grouped};
use crate::store::record::UserRecord;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The login name (as PAM sees it)
    user: String,
    /// Print {"user","backup_codes"} as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let user = &ctx.account(&args.user)?;
    let (codes, sealed) = backup_codes::new_set()?;
    // Under the user's lock: a login spending a code of the old set meanwhile
    // either finishes first or finds the new set.
    let replaced = ctx.store()?.change(user, |u| -> Result<usize, CliError> {
        let Some(record) = u.record()?.filter(|r| r.is_enrolled()).cloned() else {
            return Err(CliError::NotEnrolled { user: user.to_string() });
        };
        let before = record.backup_codes.len();
        u.save_record(UserRecord { backup_codes: sealed, ..record })?;
        Ok(before)
    })?;
    ctx.audit("backup_codes", user);
    if args.json {
        say_json_wiped(json!({ "user": user, "backup_codes": codes_json(&codes) }));
        return Ok(());
    }
    if replaced > 0 {
        say!("The {replaced} unused backup code(s) of the earlier set no longer work.");
    }
    show_codes(user, &codes);
    Ok(())
}

/// The codes as a JSON array of digit strings (wiped by [`say_json_wiped`]).
pub fn codes_json(codes: &[Zeroizing<String>]) -> Value {
    Value::Array(codes.iter().map(|c| Value::String(c.to_string())).collect())
}

/// Prints `value` as JSON, then wipes every string in it (it holds codes).
pub fn say_json_wiped(mut value: Value) {
    super::say_json(&value);
    wipe(&mut value);
}

fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

/// The codes for the admin to hand over, with what the user needs to know.
pub fn show_codes(user: &str, codes: &[Zeroizing<String>]) {
    say!("Backup codes for {user}: each works once, typed at the verification code prompt");
    say!("instead of a code from the app. They are shown only now; give them to {user}");
    say!("to keep somewhere safe, away from the phone. A new set replaces this one.\n");
    for code in codes {
        say!("    {}", &*grouped(code));
    }
}
