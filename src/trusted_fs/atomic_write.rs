//! The one atomic write of the crate: a temp file next to the target, fsync,
//! rename, fsync of the directory (or less, by [`Durability`]), and the
//! removal that also takes away a temp file a killed writer left.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use nix::fcntl::OFlag;

use super::{FsError, io_err, sys};

/// Replaces `dir/name` with `data` atomically: a crash leaves either the old or the new file.
///
/// The new file is written to `dir/.name.tmp` (0600), fsynced, renamed over the
/// target, and the directory is fsynced so the rename itself is durable. The
/// temp name is fixed per user and callers hold that user's lock, so a temp file
/// left by a process that was killed half-way is simply replaced by the next
/// write (and removed by [`remove`]). A failed write removes its temp file.
pub fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<(), FsError> {
    write_atomic_as(dir, name, data, Durability::Durable)
}

/// How far a write must have reached when [`write_atomic_as`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The new contents and the rename survive a power loss (file and directory fsynced).
    Durable,
    /// Nothing is fsynced: durable only once [`sync_filesystem`] of the
    /// directory returns `Ok` (batches, which make thousands of files durable
    /// with one sync and report none of them as saved before it), or once
    /// [`sync_file`] of the file returns `Ok` (a login: its tally, after the
    /// verdict).
    Deferred,
}

/// [`write_atomic`] with nothing fsynced ([`Durability::Deferred`]): durable
/// only once [`sync_filesystem`] of `dir` returns `Ok`. For batches: many
/// files, then one sync of the file system, which writes all of them (data,
/// inodes and directory entries). Nothing may be reported as saved before it.
/// A crash before that sync may leave a new file empty (the name renamed, the
/// data not yet written): it then reads as corrupt, never as someone else's.
pub fn write_atomic_unsynced(dir: &Path, name: &str, data: &[u8]) -> Result<(), FsError> {
    write_atomic_as(dir, name, data, Durability::Deferred)
}

/// Makes everything written on the file system that holds `dir` durable
/// (`syncfs`): one call for all the files a batch wrote with
/// [`Durability::Deferred`].
pub fn sync_filesystem(dir: &Path) -> Result<(), FsError> {
    let d = File::open(dir).map_err(io_err(dir, "open"))?;
    nix::unistd::syncfs(&d).map_err(|e| io_err(dir, "sync the file system of")(io::Error::from_raw_os_error(e as i32)))
}

/// [`write_atomic`] with a choice of [`Durability`].
pub fn write_atomic_as(dir: &Path, name: &str, data: &[u8], durability: Durability) -> Result<(), FsError> {
    write_atomic_made(dir, name, durability, |_: &Staged<'_>| Some(data)).map(drop)
}

/// The temp file of a [`write_atomic_made`], before anything is written to it.
pub struct Staged<'a> {
    file: &'a File,
}

impl Staged<'_> {
    /// When the temp file was created (its ctime, nanoseconds since the epoch),
    /// by the clock the kernel stamps files with.
    pub fn created_ns(&self) -> Option<i128> {
        Some(super::sys::fstat(self.file).ok()?.ctime_ns)
    }
}

/// [`write_atomic_as`] with contents made once the temp file exists: `make`
/// may ask when it was created ([`Staged::created_ns`]) and returns the
/// contents, or `None` to write nothing (the temp file is removed;
/// `Ok(false)`). For a file that remembers which state of another file it
/// was made from: that file, read inside `make`, cannot have changed unseen
/// after that time.
pub fn write_atomic_made<D: AsRef<[u8]>>(
    dir: &Path,
    name: &str,
    durability: Durability,
    make: impl FnOnce(&Staged<'_>) -> Option<D>,
) -> Result<bool, FsError> {
    let target = super::child(dir, "", name, "");
    let tmp = temp_path(dir, name);
    let result = (|| {
        let create = || {
            let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            sys::open(&tmp, flags, 0o600)
        };
        // A temp file (or anything else) left at the temp name by a writer
        // that was killed is removed, and the file created anew: never
        // written through.
        let mut f = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp).map_err(io_err(&tmp, "remove the leftover"))?;
                create()
            }
            created => created,
        }
        .map_err(io_err(&tmp, "create"))?;
        let Some(data) = make(&Staged { file: &f }) else {
            return Ok(false);
        };
        f.write_all(data.as_ref()).map_err(io_err(&tmp, "write"))?;
        if durability != Durability::Deferred {
            f.sync_all().map_err(io_err(&tmp, "fsync"))?;
        }
        sys::rename(&tmp, &target).map_err(io_err(&target, "replace"))?;
        match durability {
            Durability::Durable => sync_dir(dir).map(|()| true),
            Durability::Deferred => Ok(true),
        }
    })();
    if !matches!(result, Ok(true)) {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where [`write_atomic`] stages the new contents of `dir/name`.
fn temp_path(dir: &Path, name: &str) -> super::ChildPath {
    super::child(dir, ".", name, ".tmp")
}

/// Makes the contents of `dir/name`, written with [`Durability::Deferred`],
/// durable (one fsync of the file; not of the directory).
pub fn sync_file(dir: &Path, name: &str) -> Result<(), FsError> {
    let path = super::child(dir, "", name, "");
    sys::open(&path, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, 0)
        .and_then(|f| f.sync_all())
        .map_err(io_err(&path, "fsync"))
}

/// Makes the entries of `dir` (renames, new and removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "fsync"))
}

/// Removes `dir/name` (and a temp file a killed writer may have left); returns
/// whether the file existed.
pub fn remove(dir: &Path, name: &str) -> Result<bool, FsError> {
    let tmp = temp_path(dir, name);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&tmp, "remove")(e)),
    }
    let path = super::child(dir, "", name, "");
    match std::fs::remove_file(&path) {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(&path, "remove")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trusted_fs::private_tempdir as private_tmp;

    #[test]
    fn a_temp_file_left_by_a_killed_writer_is_replaced_and_removed() {
        let d = private_tmp();
        std::fs::write(d.path().join(".bob.tmp"), b"half").unwrap();
        write_atomic(d.path(), "bob", b"whole").unwrap();
        assert!(!d.path().join(".bob.tmp").exists());
        assert_eq!(std::fs::read(d.path().join("bob")).unwrap(), b"whole");
        std::fs::write(d.path().join(".bob.tmp"), b"half").unwrap();
        assert!(remove(d.path(), "bob").unwrap());
        assert!(!d.path().join(".bob.tmp").exists());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp_file() {
        let d = private_tmp();
        write_atomic(d.path(), "bob", b"old").unwrap();
        // A directory in place of the target makes the rename fail.
        write_atomic(d.path(), "dir", b"x").unwrap();
        std::fs::remove_file(d.path().join("dir")).unwrap();
        std::fs::create_dir(d.path().join("dir")).unwrap();
        std::fs::write(d.path().join("dir/x"), b"").unwrap();
        assert!(write_atomic(d.path(), "dir", b"new").is_err());
        assert!(!d.path().join(".dir.tmp").exists());
        assert_eq!(std::fs::read(d.path().join("bob")).unwrap(), b"old");
    }

    #[test]
    fn remove_reports_whether_the_file_existed() {
        let d = private_tmp();
        write_atomic(d.path(), "bob", b"x").unwrap();
        assert!(remove(d.path(), "bob").unwrap());
        assert!(!remove(d.path(), "bob").unwrap());
    }
}
