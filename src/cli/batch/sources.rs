//! Where the users of a batch come from: the lines of `--batch FILE`
//! ([`batch_input`]) or, for `--from-google-authenticator-all`, each
//! account's `~/.google_authenticator`; each becomes a user to enroll or a
//! line already known to be an error.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{BatchError, Outcome, Status};
use crate::cli::{Context, batch_input, google};
use crate::secret::TotpSecret;
use crate::trusted_fs::{self, FsError, Owner, Trust};

/// Where a user came from: a line of the input, or a google-authenticator file.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    Line(usize),
    File(PathBuf),
    /// An account whose passwd entry could not be read.
    Passwd,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(n) => write!(f, "line {n}"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Passwd => f.write_str("the passwd entry"),
        }
    }
}

/// One user to enroll.
pub(super) struct Wanted {
    pub(super) origin: Origin,
    pub(super) user: String,
    pub(super) email: Option<String>,
    /// To import; `None`: generate one.
    pub(super) secret: Option<TotpSecret>,
    /// From a google-authenticator file.
    pub(super) migration: Option<Migration>,
}

/// What a google-authenticator file brings besides its secret.
pub(super) struct Migration {
    /// For the admin (one sentence each).
    pub(super) notes: Vec<String>,
    /// The last step google-authenticator saw used (DISALLOW_REUSE).
    pub(super) last_step: Option<u64>,
    /// The scratch codes, to keep as backup codes (wiped from memory when dropped).
    pub(super) scratch_codes: Vec<Zeroizing<String>>,
}

/// A user to enroll, or a line already known to be an error.
pub(super) enum Item {
    Wanted(Wanted),
    Failed(Outcome),
}

pub(super) type Items = Vec<Item>;

fn failed(origin: Origin, user: Option<String>, reason: String) -> Outcome {
    Outcome { origin, user, status: Status::Failed(reason), notes: Vec::new() }
}

/// Reads and parses `--batch FILE` (`-`: standard input).
pub(super) fn from_file(path: &Path) -> Result<Items, BatchError> {
    let mut bytes = Zeroizing::new(Vec::new());
    let read = if path == Path::new("-") {
        std::io::stdin().take(batch_input::MAX_INPUT + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(batch_input::MAX_INPUT + 1).read_to_end(&mut bytes))
    };
    read.map_err(|error| BatchError::Read { path: path.to_path_buf(), error })?;
    if bytes.len() as u64 > batch_input::MAX_INPUT {
        return Err(BatchError::TooLarge { path: path.to_path_buf() });
    }
    let (_, rows) = batch_input::parse(&bytes).map_err(BatchError::Input)?;
    Ok(rows
        .into_iter()
        .map(|r| match r {
            Ok(row) => Item::Wanted(Wanted {
                origin: Origin::Line(row.line),
                user: row.user,
                email: row.email,
                secret: row.secret,
                migration: None,
            }),
            Err(e) => Item::Failed(failed(Origin::Line(e.line), e.user, e.reason)),
        })
        .collect())
}

/// The account names `getent passwd` lists, first spelling of each only.
fn passwd_names() -> Result<Vec<String>, BatchError> {
    let out = std::process::Command::new("/usr/bin/getent")
        .arg("passwd")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| BatchError::Passwd(e.to_string()))?;
    if !out.status.success() {
        return Err(BatchError::Passwd(format!("it exited with {}", out.status)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.split(':').next().filter(|n| !n.is_empty())
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// `--from-google-authenticator-all`: each account's `~/.google_authenticator`,
/// which must belong to that account and be private to it (as
/// google-authenticator itself requires); also how many accounts have none.
pub(super) fn from_homes(ctx: &Context, under: Option<&Path>) -> Result<(Items, usize), BatchError> {
    let mut items = Vec::new();
    let mut without = 0;
    for name in passwd_names()? {
        let origin = Origin::Passwd;
        let account = match nix::unistd::User::from_name(&name) {
            Ok(Some(a)) => a,
            Ok(None) => continue, // listed, then gone
            Err(e) => {
                items.push(Item::Failed(failed(origin, Some(name.clone()), format!("cannot look up {name}: {e}"))));
                continue;
            }
        };
        if under.is_some_and(|root| !account.dir.starts_with(root)) || !account.dir.is_absolute() {
            continue;
        }
        let path = account.dir.join(".google_authenticator");
        let origin = Origin::File(path.clone());
        let uid = account.uid.as_raw();
        match trusted_fs::read_trusted(&path, Trust::Private(Owner(uid)), google::MAX_FILE) {
            Ok(None) => without += 1,
            Ok(Some(bytes)) => {
                let bytes = Zeroizing::new(bytes);
                let parsed = google::GaFile::parse(&bytes)
                    .and_then(|file| google::decide(&file, &ctx.config.totp).map(|notes| (file, notes)));
                items.push(match parsed {
                    Ok((file, notes)) => Item::Wanted(Wanted {
                        origin,
                        user: name,
                        email: None,
                        migration: Some(Migration {
                            notes,
                            last_step: file.last_used_step(),
                            scratch_codes: file.scratch_codes,
                        }),
                        secret: Some(file.secret),
                    }),
                    Err(e) => {
                        Item::Failed(failed(origin, Some(name), format!("cannot migrate {}: {e}", path.display())))
                    }
                });
            }
            Err(FsError::Insecure { .. }) => {
                let reason = untrusted_file(&path, &name, uid);
                items.push(Item::Failed(failed(origin, Some(name), reason)));
            }
            Err(e) => items.push(Item::Failed(failed(origin, Some(name), e.to_string()))),
        }
    }
    Ok((items, without))
}

/// Why `path` is not migrated: the words for an admin, not trusted_fs's chmod advice
/// (a file that is not the user's or that others can read is not to be repaired but replaced).
fn untrusted_file(path: &Path, user: &str, uid: u32) -> String {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return format!("{shown} changed while it was read; run the batch again");
    };
    if !meta.file_type().is_file() {
        return format!(
            "{shown} is not a regular file (a symbolic link?); enroll {user} afresh with twostep enroll {user}"
        );
    }
    if meta.uid() != uid {
        return format!(
            "{shown} belongs to uid {}, not to {user} (uid {uid}): google-authenticator refuses such a file too, and someone else may have written it; if you trust it, migrate it with twostep enroll {user} --from-google-authenticator {shown}, else enroll {user} afresh",
            meta.uid()
        );
    }
    format!(
        "{shown} can be read by others (mode {:04o}): its secret may be known to someone else; enroll {user} afresh with twostep enroll {user} (they scan a new code)",
        meta.mode() & 0o7777
    )
}
