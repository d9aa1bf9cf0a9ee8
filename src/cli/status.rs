//! `twostep status USER [--json]` and `twostep list [--json]`: who has two-step
//! verification, with which methods, and whether they are failing or locked.
//!
//! JSON keys (stable, documented in the README): `user`, `enrolled`, `enabled`,
//! `methods`, `email` (masked or null), `failures` (inside `fail_interval`),
//! `locked_until` (RFC 3339, or null), `locked` (bool).
#![forbid(unsafe_code)]

use serde_json::{Value, json};

use super::{CliError, Context, check_user_arg};
use crate::auth::rfc3339;
use crate::email::mask_address;
use crate::policy::{self, Lock};
use crate::store::{Store, UserRecord};
use crate::tally::TallyStore;

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
}

/// One user's state, as shown by `status` and `list`.
struct Row {
    user: String,
    record: Option<UserRecord>,
    failures: u32,
    lock: Lock,
}

impl Row {
    fn read(ctx: &Context, store: &Store, tally: &TallyStore, user: &str) -> Result<Row, CliError> {
        let record = store.load(user)?;
        let t = tally.load(user)?;
        let cfg = &ctx.config.lockout;
        Ok(Row {
            user: user.to_string(),
            record,
            failures: policy::failures_in_window(&t, cfg, ctx.now),
            lock: policy::lock_state(&t, cfg, false, ctx.now),
        })
    }

    fn json(&self) -> Value {
        let methods: Vec<&str> =
            self.record.as_ref().map(|r| r.methods().iter().map(|m| m.name()).collect()).unwrap_or_default();
        json!({
            "user": self.user,
            "enrolled": self.record.as_ref().is_some_and(|r| !r.methods().is_empty()),
            "enabled": self.record.as_ref().is_some_and(|r| r.enabled),
            "methods": methods,
            "email": self.record.as_ref().and_then(|r| r.email.as_deref()).map(mask_address),
            "failures": self.failures,
            "locked": self.lock.is_locked(),
            "locked_until": match self.lock {
                Lock::Until(t) => Value::String(rfc3339(t)),
                _ => Value::Null,
            },
        })
    }

    fn cells(&self) -> [String; 6] {
        let r = self.record.as_ref();
        let methods: Vec<&str> = r.map(|r| r.methods().iter().map(|m| m.name()).collect()).unwrap_or_default();
        [
            self.user.clone(),
            match r {
                None => "not enrolled".into(),
                Some(r) if r.methods().is_empty() => "not enrolled".into(),
                Some(r) if r.enabled => "enabled".into(),
                Some(_) => "disabled".into(),
            },
            if methods.is_empty() { "-".into() } else { methods.join(",") },
            r.and_then(|r| r.email.as_deref()).map(mask_address).unwrap_or_else(|| "-".into()),
            self.failures.to_string(),
            match self.lock {
                Lock::Open => "-".into(),
                Lock::Until(t) => format!("until {}", crate::auth::local_time(t)),
                Lock::UntilUnlocked => "until unlocked".into(),
            },
        ]
    }
}

fn table(rows: &[Row]) -> String {
    let header = ["USER", "STATE", "METHODS", "EMAIL", "FAILURES", "LOCKED"].map(String::from);
    let body: Vec<[String; 6]> = rows.iter().map(Row::cells).collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&body) {
        let line: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub fn status(ctx: &Context, args: StatusArgs) -> Result<(), CliError> {
    check_user_arg(&args.user)?;
    let row = Row::read(ctx, &ctx.store()?, &ctx.tally()?, &args.user)?;
    if args.json {
        println!("{}", row.json());
    } else {
        print!("{}", table(std::slice::from_ref(&row)));
    }
    Ok(())
}

pub fn list(ctx: &Context, args: ListArgs) -> Result<(), CliError> {
    let store = ctx.store()?;
    let tally = ctx.tally()?;
    let mut users = store.users()?;
    for u in tally.users()? {
        if !users.contains(&u) {
            users.push(u);
        }
    }
    users.sort();
    let rows = users.iter().map(|u| Row::read(ctx, &store, &tally, u)).collect::<Result<Vec<_>, _>>()?;
    if args.json {
        println!("{}", Value::Array(rows.iter().map(Row::json).collect()));
    } else if rows.is_empty() {
        println!("No users have two-step verification yet; enroll one with: twostep enroll USER");
    } else {
        print!("{}", table(&rows));
    }
    Ok(())
}
