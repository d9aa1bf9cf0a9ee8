//! The one exclusive lock of the crate: a `flock` on a per-user lock file
//! that is never renamed, so it stays valid across atomic replacements.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;

use super::{FsError, Owner, Trust, check_meta, io_err, sys};

/// How long we wait for another login holding the same user's lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// An exclusive lock on one user's state; released when dropped: closing the
/// descriptor releases the `flock` (no unlock call that could fail, or panic,
/// on the way out).
pub struct UserLock {
    _file: File,
}

impl fmt::Debug for UserLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserLock")
    }
}

/// Takes the exclusive lock for `dir/name`, waiting up to a few seconds for another holder.
///
/// The lock file `dir/.name.lock` is never renamed or deleted while in use, so every
/// process that locks it locks the same inode.
pub fn lock(dir: &Path, name: &str, owner: Owner) -> Result<UserLock, FsError> {
    lock_within(dir, name, owner, LOCK_WAIT)?.ok_or_else(|| {
        let err = io::Error::from_raw_os_error(libc::EWOULDBLOCK);
        FsError::Io { path: super::child(dir, ".", name, ".lock").to_path_buf(), op: "lock", err }
    })
}

/// [`lock`] without waiting: `Ok(None)` when another process holds it. For
/// work another process may as well do, such as writing a cache: a holder a
/// caller has stopped (SIGSTOP to su) must not hold anyone else up.
pub fn try_lock(dir: &Path, name: &str, owner: Owner) -> Result<Option<UserLock>, FsError> {
    lock_within(dir, name, owner, Duration::ZERO)
}

fn lock_within(dir: &Path, name: &str, owner: Owner, wait: Duration) -> Result<Option<UserLock>, FsError> {
    let path = super::child(dir, ".", name, ".lock");
    let flags = OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let file = sys::open(&path, flags, 0o600).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            FsError::Insecure { path: path.to_path_buf(), why: "it is a symbolic link".into() }
        } else {
            io_err(&path, "open")(e)
        }
    })?;
    let meta = sys::fstat(&file).map_err(io_err(&path, "inspect"))?;
    check_meta(&path, &meta, false, Trust::Private(owner))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(UserLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(FsError::Io { path: path.to_path_buf(), op: "lock", err });
            }
        }
    }
}
