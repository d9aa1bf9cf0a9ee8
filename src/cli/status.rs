//! `twostep status USER [--json]` and `twostep list [--json]`: who has two-step
//! verification, with which methods, and whether they are failing or locked.
//!
//! JSON keys (stable, documented in the README): `user`, `enrolled`, `enabled`,
//! `methods` (`"totp"`, `"email"`, `"sms"`), `email` (masked or null), `phone`
//! (masked, `•••• ••• 4567`, or null), `failures` (inside `fail_interval`),
//! `locked_until` (RFC 3339, or null), `locked` (bool), `email_source`
//! (`"record"`, `"template"` or null), `grace_used` (grace logins used while
//! not enrolled; `twostep reset` sets it back to 0), `disabled_until` (RFC
//! 3339 end of a `disable --for` still running, else null), `backup_codes_left`
//! (unused backup codes), `bypass_pending` (null, or `{"uses_left": N,
//! "expires": RFC 3339}` for a help-desk code that still works). `enabled` is
//! whether the second factor is in force now (a `disable --for` that ended
//! counts as enabled).
//!
//! Like the module, an enrolled user with no address on file but one given by
//! `[email] address_template` has the email method, with that address.

use serde_json::{Value, json};

use super::{CliError, Context, unenrolled};
use crate::address::mask_address;
use crate::phone::mask_phone;
use crate::policy::{self, Lock};
use crate::store::UserStore;
use crate::store::record::{Method, UserRecord};
use crate::time::rfc3339;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The login name
    user: String,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print a JSON array
    #[arg(long)]
    json: bool,
    /// Only users locked out now
    #[arg(long, conflicts_with = "unenrolled")]
    locked: bool,
    /// Only members of the required groups who have not enrolled yet
    #[arg(long)]
    unenrolled: bool,
}

/// One user's state, as shown by `status` and `list`.
struct Row {
    user: String,
    record: Option<UserRecord>,
    /// The address codes go to and whether it comes from the template (not the record).
    email: Option<(String, bool)>,
    failures: u32,
    lock: Lock,
    grace_used: u32,
    /// When this was read (for "today" in local times).
    now: u64,
}

impl Row {
    fn read(ctx: &Context, store: &UserStore, user: &str) -> Result<Row, CliError> {
        let record = store.record(user)?;
        let t = store.tally(user)?;
        let cfg = &ctx.config.lockout;
        let email = record
            .as_ref()
            .and_then(|r| r.code_address(&ctx.config.email.address_template, user))
            .map(|a| (a.address, a.from_template));
        Ok(Row {
            user: user.to_string(),
            record,
            email,
            failures: policy::failures_in_window(&t, cfg, ctx.now),
            lock: policy::lock_of(&t, cfg, ctx.is_root(user)?, ctx.now),
            grace_used: t.grace_used,
            now: ctx.now,
        })
    }

    /// The record's methods, plus email when the address comes from the template.
    fn methods(&self) -> Vec<&'static str> {
        let mut m: Vec<&str> =
            self.record.as_ref().map(|r| r.methods().iter().map(|m| m.name()).collect()).unwrap_or_default();
        if matches!(self.email, Some((_, true))) {
            m.push(Method::Email.name());
        }
        m
    }

    fn json(&self) -> Value {
        let methods = self.methods();
        json!({
            "user": self.user,
            "enrolled": self.record.as_ref().is_some_and(|r| !r.methods().is_empty()),
            "enabled": self.record.as_ref().is_some_and(|r| r.enabled_at(self.now)),
            "disabled_until": self.disabled_until().map(rfc3339),
            "backup_codes_left": self.record.as_ref().map_or(0, |r| r.backup_codes.len()),
            "bypass_pending": self.record.as_ref().and_then(|r| r.live_bypass(self.now)).map(|b| json!({
                "uses_left": b.uses_left,
                "expires": rfc3339(b.expires),
            })),
            "methods": methods,
            "email": self.email.as_ref().map(|(a, _)| mask_address(a)),
            "email_source": self.email.as_ref().map(|(_, t)| if *t { "template" } else { "record" }),
            "phone": self.record.as_ref().and_then(|r| r.phone.as_deref()).map(mask_phone),
            "failures": self.failures,
            "grace_used": self.grace_used,
            "locked": self.lock.is_locked(),
            "locked_until": match self.lock {
                Lock::Until(t) => Value::String(rfc3339(t)),
                _ => Value::Null,
            },
        })
    }

    /// The end of a `disable --for` that is still running.
    fn disabled_until(&self) -> Option<u64> {
        let r = self.record.as_ref()?;
        r.disabled_until.filter(|_| !r.enabled_at(self.now))
    }

    /// What `status` says below the table: backup codes and a pending help-desk code.
    fn details(&self) -> Vec<String> {
        let Some(r) = self.record.as_ref().filter(|r| r.is_enrolled()) else {
            return Vec::new();
        };
        let mut lines = vec![match r.backup_codes.len() {
            0 => format!("Backup codes: none (make some with twostep backup-codes {})", self.user),
            n => format!("Backup codes: {n} left"),
        }];
        if let Some(b) = r.live_bypass(self.now) {
            let uses = if b.uses_left == 1 { "1 use".to_string() } else { format!("{} uses", b.uses_left) };
            lines.push(format!(
                "Help-desk code: pending, {uses} left until {} (made by {})",
                crate::time::local_time(b.expires, self.now),
                crate::user::for_terminal(&b.by)
            ));
        }
        lines
    }

    /// "not enrolled", with the grace logins used during a roll-out.
    fn not_enrolled(&self) -> String {
        match self.grace_used {
            0 => "not enrolled".into(),
            1 => "not enrolled, 1 grace login used".into(),
            n => format!("not enrolled, {n} grace logins used"),
        }
    }

    fn cells(&self) -> [String; 7] {
        let r = self.record.as_ref();
        let methods = self.methods();
        [
            // Decoded from a file name: any bytes at all (escaped here too, for the column widths).
            crate::user::for_terminal(&self.user),
            match r {
                Some(r) if r.methods().is_empty() => self.not_enrolled(),
                None => self.not_enrolled(),
                Some(r) if r.enabled_at(self.now) => "enabled".into(),
                Some(_) => match self.disabled_until() {
                    Some(t) => format!("disabled until {}", crate::time::local_time(t, self.now)),
                    None => "disabled".into(),
                },
            },
            if methods.is_empty() { "-".into() } else { methods.join(",") },
            match &self.email {
                None => "-".into(),
                Some((a, false)) => mask_address(a),
                Some((a, true)) => format!("{} (template)", mask_address(a)),
            },
            self.record.as_ref().and_then(|r| r.phone.as_deref()).map_or_else(|| "-".into(), mask_phone),
            self.failures.to_string(),
            match self.lock {
                Lock::Open => "-".into(),
                Lock::Until(t) => format!("until {}", crate::time::local_time(t, self.now)),
                Lock::UntilUnlocked => "until unlocked".into(),
            },
        ]
    }
}

fn table(body: &[[String; 7]]) -> String {
    let header = ["USER", "STATE", "METHODS", "EMAIL", "PHONE", "FAILURES", "LOCKED"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(body) {
        let line: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub fn status(ctx: &Context, args: StatusArgs) -> Result<(), CliError> {
    let user = ctx.account(&args.user)?;
    let row = Row::read(ctx, &ctx.store()?, &user)?;
    if args.json {
        super::say_json(&row.json());
    } else {
        say!("{}", table(&[row.cells()]).trim_end());
        for line in row.details() {
            say!("{line}");
        }
    }
    Ok(())
}

/// A user `list` could not read: the row says so and the others are still listed.
struct Damaged {
    user: String,
    error: CliError,
}

impl Damaged {
    fn json(&self) -> Value {
        json!({ "user": self.user, "error": self.error.to_string() })
    }

    fn cells(&self) -> [String; 7] {
        let dash = || "-".to_string();
        [
            format!("! {}", crate::user::for_terminal(&self.user)),
            "unreadable".into(),
            dash(),
            dash(),
            dash(),
            dash(),
            "?".into(),
        ]
    }
}

pub fn list(ctx: &Context, args: ListArgs) -> Result<(), CliError> {
    let store = ctx.store()?;
    let users = if args.unenrolled {
        unenrolled::candidates(ctx)?
    } else {
        let mut users = store.enrolled_users()?;
        for u in store.tally_users()? {
            if !users.contains(&u) {
                users.push(u);
            }
        }
        users.sort();
        users
    };
    let mut rows = Vec::new();
    for user in users {
        match Row::read(ctx, &store, &user) {
            Ok(row) if args.locked && !row.lock.is_locked() => {}
            Ok(row) if args.unenrolled && row.record.as_ref().is_some_and(|r| r.is_enrolled()) => {}
            Ok(row) => rows.push(Ok(row)),
            // Unreadable: maybe locked, maybe enrolled; shown under every filter (fail closed).
            Err(error) => rows.push(Err(Damaged { user, error })),
        }
    }
    if args.json {
        let items = rows.iter().map(|r| r.as_ref().map_or_else(Damaged::json, Row::json)).collect();
        super::say_json(&Value::Array(items));
    } else if rows.is_empty() {
        say!("{}", empty_list(&args));
    } else {
        let cells: Vec<[String; 7]> = rows.iter().map(|r| r.as_ref().map_or_else(Damaged::cells, Row::cells)).collect();
        say!("{}", table(&cells).trim_end());
    }
    let damaged: Vec<(String, String)> =
        rows.iter().filter_map(|r| r.as_ref().err()).map(|d| (d.user.clone(), d.error.to_string())).collect();
    if damaged.is_empty() { Ok(()) } else { Err(CliError::DamagedEntries(damaged)) }
}

/// What an empty `list` says, by filter.
fn empty_list(args: &ListArgs) -> &'static str {
    if args.locked {
        "No user is locked out."
    } else if args.unenrolled {
        "Every member of the required groups is enrolled."
    } else {
        "No users have two-step verification yet; enroll one with: twostep enroll USER"
    }
}
