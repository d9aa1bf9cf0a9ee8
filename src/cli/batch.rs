//! `twostep enroll --batch FILE` and `twostep enroll --from-google-authenticator-all`:
//! many users in one process, each under that user's lock, one JSON line per
//! user on stdout (`{"user","status","secret","otpauth_uri",…}`) for a script
//! that mails or prints enrollment sheets, and a summary on stderr.
//!
//! Per user, as `twostep enroll USER` decides: the name is checked and keyed on
//! the account's name from NSS; an enrolled user is kept unless `--force`
//! ("skipped" when the file gave no secret or the same one, an error when it
//! gave another: that import would be lost); a bad line is an error. A
//! google-authenticator file's scratch codes become the user's backup codes
//! (hashed, replacing any on file), as with `--from-google-authenticator`. The rest
//! go on; exit 1 at the end if any line was an error. A user named twice is an
//! error the second time (the first line's sheet must stay valid).
//!
//! Durability: each record is written whole (temp file, fsync, rename) under the
//! user's lock, but the records directory is fsynced once per group of up to
//! [`GROUP`] enrolled users instead of once per user: one directory fsync makes
//! every rename before it durable. No line says "enrolled" (and nothing is
//! audited) before that fsync has returned; if it fails, those users are
//! reported as errors. A crash or kill mid-group can leave up to [`GROUP`]
//! users enrolled without a line on stdout: they show as skipped ("already
//! enrolled since …") on a second run; enroll them with `--force` (see twostep(8)).
//! The QR files of `--qr-svg` are made durable with the same fsync step.
//!
//! Where the users come from (the input file, the home directories) is `batch/sources.rs`.

mod sources;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::batch_input::{self, InputError};
use super::last_step;
use super::{CliError, Context};
use crate::address::validate_address;
use crate::backup_codes::{self, CodeHash};
use crate::secret::TotpSecret;
use crate::store::UserStore;
use crate::store::record::UserRecord;
use crate::trusted_fs::{self, FsError, Owner, Trust};
use crate::{qr, totp};
use sources::{Item, Origin, Wanted, from_file, from_homes};

/// Users per group: saved, then made durable by one fsync, then reported.
pub const GROUP: usize = 256;
/// Users of a group saved at the same time.
const WORKERS: usize = 16;

/// What `twostep enroll` was asked to do in batch.
pub struct Options {
    pub source: Source,
    pub force: bool,
    /// Write one SVG QR code per enrolled user into this directory.
    pub qr_svg: Option<PathBuf>,
}

pub enum Source {
    /// CSV or JSON lines ([`batch_input`]); `-` is standard input.
    File(PathBuf),
    /// Every account NSS lists (`getent passwd`), optionally only those whose
    /// home is under the given directory: its `~/.google_authenticator`.
    GoogleAuthenticatorHomes { under: Option<PathBuf> },
}

/// Why a batch did not run, or did not enroll everyone it names.
#[derive(Debug)]
pub enum BatchError {
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    TooLarge {
        path: PathBuf,
    },
    Input(InputError),
    /// `getent passwd` could not list the accounts.
    Passwd(String),
    QrDir(FsError),
    /// Some lines were errors (the counts).
    Incomplete(Counts),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Read { path, error } => write!(f, "cannot read the batch input {}: {error}", path.display()),
            BatchError::TooLarge { path } => write!(
                f,
                "the batch input {} is larger than {} MiB; split it",
                path.display(),
                batch_input::MAX_INPUT >> 20
            ),
            BatchError::Input(e) => e.fmt(f),
            BatchError::Passwd(why) => write!(f, "cannot list the accounts with getent passwd: {why}"),
            BatchError::QrDir(e) => write!(f, "cannot write QR codes there: {e}"),
            BatchError::Incomplete(counts) => write!(
                f,
                "{counts}; the lines with \"status\":\"error\" on standard output say what to fix, then run the batch again"
            ),
        }
    }
}

impl std::error::Error for BatchError {}

/// How many users ended how.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub enrolled: usize,
    pub skipped: usize,
    pub failed: usize,
    /// `--from-google-authenticator-all`: accounts looked at that have no file.
    pub without_file: Option<usize>,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "batch: {} enrolled, {} skipped (already enrolled), {} failed",
            self.enrolled, self.skipped, self.failed
        )?;
        if let Some(n) = self.without_file {
            write!(f, ", {n} account(s) without a google-authenticator file")?;
        }
        Ok(())
    }
}

enum Status {
    Enrolled {
        action: &'static str,
        secret: Zeroizing<String>,
        uri: Zeroizing<String>,
        qr: Option<PathBuf>,
        /// Backup codes came with it (the scratch codes of a google-authenticator file).
        backup_codes: bool,
    },
    Skipped(String),
    Failed(String),
}

/// One line of output, waiting for its group's fsync.
struct Outcome {
    origin: Origin,
    user: Option<String>,
    status: Status,
    notes: Vec<String>,
}

/// The batch in progress.
struct Batch<'a> {
    ctx: &'a Context,
    store: UserStore,
    force: bool,
    qr_dir: Option<PathBuf>,
    /// Accounts named so far, and where.
    seen: HashMap<String, Origin>,
    pending: Vec<Outcome>,
    counts: Counts,
}

pub fn run(ctx: &Context, options: Options) -> Result<(), CliError> {
    let store = ctx.store()?;
    let qr_dir = options.qr_svg.as_deref().map(qr_dir).transpose().map_err(BatchError::QrDir)?;
    let (wanted, without_file) = match &options.source {
        Source::File(path) => (from_file(path)?, None),
        Source::GoogleAuthenticatorHomes { under } => {
            let (wanted, without) = from_homes(ctx, under.as_deref())?;
            (wanted, Some(without))
        }
    };
    let mut batch = Batch {
        ctx,
        store,
        force: options.force,
        qr_dir,
        seen: HashMap::new(),
        pending: Vec::new(),
        counts: Counts { without_file, ..Counts::default() },
    };
    let mut items = wanted.into_iter();
    loop {
        let group: Vec<Item> = items.by_ref().take(GROUP).collect();
        if group.is_empty() {
            break;
        }
        // In input order: names, duplicates and addresses; then the saves in parallel.
        let prepared = group.into_iter().map(|item| batch.prepare(item)).collect();
        batch.pending = batch.save_all(prepared);
        batch.flush();
    }
    let counts = batch.counts;
    if counts.failed > 0 {
        return Err(BatchError::Incomplete(counts).into());
    }
    eprintln!("twostep: {counts}");
    Ok(())
}

/// A user whose name, uniqueness and address are checked, ready to save.
struct Ready {
    wanted: Wanted,
    account: String,
}

/// A user ready to save, or a line whose outcome is already known.
enum Prepared {
    Ready(Ready),
    Done(Outcome),
}

impl Batch<'_> {
    /// Checks a user's name (keyed on the account's name from NSS), that no
    /// earlier line named the same account, and the address.
    fn prepare(&mut self, item: Item) -> Prepared {
        let w = match item {
            Item::Wanted(w) => w,
            Item::Failed(outcome) => return Prepared::Done(outcome),
        };
        let fail = |w: Wanted, user: String, reason: String| {
            Prepared::Done(Outcome {
                origin: w.origin,
                user: Some(user),
                status: Status::Failed(reason),
                notes: Vec::new(),
            })
        };
        let account = match self.ctx.account(&w.user) {
            Ok(a) => a,
            Err(e) => {
                let user = w.user.clone();
                return fail(w, user, e.to_string());
            }
        };
        if let Some(first) = self.seen.get(&account) {
            let reason = format!("{account} is named twice (first at {first}); name each user once");
            return fail(w, account, reason);
        }
        self.seen.insert(account.clone(), w.origin.clone());
        if let Some(Err(e)) = w.email.as_deref().map(validate_address) {
            return fail(w, account, CliError::from(e).to_string());
        }
        Prepared::Ready(Ready { wanted: w, account })
    }

    /// Saves a group, [`WORKERS`] users at a time (their fsyncs overlap, and
    /// the file system commits them together); the outcomes in input order.
    fn save_all(&self, group: Vec<Prepared>) -> Vec<Outcome> {
        let per_worker = group.len().div_ceil(WORKERS).max(1);
        let mut chunks: Vec<Vec<Prepared>> = Vec::new();
        let mut group = group.into_iter();
        loop {
            let chunk: Vec<Prepared> = group.by_ref().take(per_worker).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }
        std::thread::scope(|scope| {
            let workers: Vec<_> = chunks
                .into_iter()
                .map(|chunk| scope.spawn(move || chunk.into_iter().map(|p| self.save(p)).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        })
    }

    fn save(&self, prepared: Prepared) -> Outcome {
        let Ready { wanted: w, account } = match prepared {
            Prepared::Ready(ready) => ready,
            Prepared::Done(outcome) => return outcome,
        };
        let status = self.attempt(&w, &account).unwrap_or_else(|e| Status::Failed(e.to_string()));
        let notes = w.migration.map(|m| m.notes).unwrap_or_default();
        Outcome { origin: w.origin, user: Some(account), status, notes }
    }

    /// Enrolls one user under their lock; the record is saved but not yet durable.
    fn attempt(&self, w: &Wanted, account: &str) -> Result<Status, CliError> {
        let secret = match &w.secret {
            Some(s) => s.clone(),
            None => TotpSecret::generate()?,
        };
        let config = &self.ctx.config;
        let uri = totp::otpauth_uri(&secret, &config.issuer, account, &config.totp);
        // Sealed before the lock is taken (randomness; the hashing is the slow part).
        let scratch: Option<Vec<CodeHash>> = match &w.migration {
            Some(m) if !m.scratch_codes.is_empty() => Some(backup_codes::seal_all(&m.scratch_codes)?),
            _ => None,
        };
        self.store.change(account, |u| -> Result<Status, CliError> {
            let existing = u.record()?.cloned();
            if let Some(old) = existing.as_ref().and_then(|r| r.secret.as_ref())
                && !self.force
            {
                return Ok(refusal(w, old, existing.as_ref().map_or(0, |r| r.created)));
            }
            let qr = match &self.qr_dir {
                Some(dir) => Some(write_svg(dir, account, &uri)?),
                None => None,
            };
            let record = UserRecord {
                secret: Some(secret.clone()),
                email: w.email.clone().or_else(|| existing.as_ref().and_then(|r| r.email.clone())),
                // A phone, backup codes and a help-desk code on file stay, as with
                // `enroll --force`; imported scratch codes replace the backup codes.
                phone: existing.as_ref().and_then(|r| r.phone.clone()),
                enabled: true,
                created: self.ctx.now,
                disabled_until: None,
                backup_codes: scratch
                    .clone()
                    .unwrap_or_else(|| existing.as_ref().map(|r| r.backup_codes.clone()).unwrap_or_default()),
                bypass: existing.as_ref().and_then(|r| r.bypass.clone()),
            };
            let old = existing.as_ref().and_then(|r| r.secret.as_ref());
            let imported = w.migration.as_ref().and_then(|m| m.last_step);
            let saved =
                last_step::save_with_last_step(u, old, &secret, imported, |u| Ok(u.save_record_unsynced(record)?));
            if let Err(e) = saved {
                if let Some(path) = &qr {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e);
            }
            let action = match (&w.migration, &existing) {
                (Some(_), _) => "migrate",
                (None, Some(_)) => "re-enroll",
                (None, None) => "enroll",
            };
            let backup_codes = scratch.is_some();
            Ok(Status::Enrolled { action, secret: secret.to_base32(), uri, qr, backup_codes })
        })
    }

    /// Makes the group's records durable, then prints its lines and audits its enrollments.
    fn flush(&mut self) {
        if self.pending.iter().any(|o| matches!(o.status, Status::Enrolled { .. })) {
            let synced = self.store.sync_records().map_err(CliError::from).and_then(|()| match &self.qr_dir {
                Some(dir) => trusted_fs::sync_filesystem(dir).map_err(CliError::from),
                None => Ok(()),
            });
            if let Err(e) = synced {
                for o in &mut self.pending {
                    if matches!(o.status, Status::Enrolled { .. }) {
                        o.status = Status::Failed(format!(
                            "saved, but not known to be on disk ({e}); check the disk, then enroll this user again with --force"
                        ));
                    }
                }
            }
        }
        for o in std::mem::take(&mut self.pending) {
            let mut line = serde_json::json!({ "user": o.user });
            match &o.origin {
                Origin::Line(n) => line["line"] = serde_json::json!(n),
                Origin::File(p) => line["file"] = serde_json::json!(p.to_string_lossy()),
                Origin::Passwd => {}
            }
            match &o.status {
                Status::Enrolled { action, secret, uri, qr, backup_codes } => {
                    self.counts.enrolled += 1;
                    if let Some(user) = &o.user {
                        self.ctx.audit(action, user);
                        if *backup_codes {
                            self.ctx.audit("backup_codes", user);
                        }
                    }
                    line["status"] = "enrolled".into();
                    line["secret"] = serde_json::json!(&**secret);
                    line["otpauth_uri"] = serde_json::json!(&**uri);
                    if let Some(path) = qr {
                        line["qr_svg"] = serde_json::json!(path.to_string_lossy());
                    }
                    if !matches!(o.origin, Origin::Line(_)) {
                        line["notes"] = serde_json::json!(o.notes);
                    }
                }
                Status::Skipped(reason) => {
                    self.counts.skipped += 1;
                    line["status"] = "skipped".into();
                    line["reason"] = serde_json::json!(reason);
                }
                Status::Failed(reason) => {
                    self.counts.failed += 1;
                    line["status"] = "error".into();
                    line["reason"] = serde_json::json!(reason);
                }
            }
            super::say_json(&line);
        }
    }
}

/// What happens to an enrolled user without `--force`.
fn refusal(w: &Wanted, old: &TotpSecret, since: u64) -> Status {
    let since = crate::time::rfc3339(since);
    match &w.secret {
        None => Status::Skipped(format!("already enrolled (since {since}); --force replaces the secret")),
        Some(new) if new.same_as(old) => Status::Skipped(format!("already enrolled with this secret (since {since})")),
        Some(_) => Status::Failed(format!(
            "already enrolled (since {since}) with another secret; --force replaces it with this one (the current app entry then stops working)"
        )),
    }
}

/// The directory for `--qr-svg`: created 0700 when missing; an existing one
/// must be root's and not writable by others (the files in it are 0600).
fn qr_dir(dir: &Path) -> Result<PathBuf, FsError> {
    let dir = std::path::absolute(dir).map_err(|err| FsError::Io { path: dir.to_path_buf(), op: "resolve", err })?;
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => trusted_fs::ensure_private_dir(&dir, Owner::ROOT)?,
        _ => trusted_fs::check_dir(&dir, Trust::Protected(Owner::ROOT))?,
    }
    Ok(dir)
}

/// Writes `user`'s QR code as `DIR/NAME.svg` (the store's file name, 0600);
/// durable after the group's fsync of DIR.
fn write_svg(dir: &Path, user: &str, uri: &str) -> Result<PathBuf, CliError> {
    let name = format!("{}.svg", crate::user::file_name(user)?);
    let svg = Zeroizing::new(qr::svg(uri)?);
    trusted_fs::write_atomic_unsynced(dir, &name, svg.as_bytes())?;
    Ok(dir.join(name))
}
