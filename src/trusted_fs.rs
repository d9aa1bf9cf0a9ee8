//! Every file and directory twostep reads or writes goes through this module.
//!
//! It owns the three helpers the rest of the crate relies on (see STYLE.md):
//! one *safe open* (absolute path, `O_NOFOLLOW`, `fstat` owner/mode/type, size
//! cap), one *atomic write* (temp file + fsync + rename + fsync of the
//! directory) and one *exclusive lock* (a `flock` on a per-user lock file that
//! is never renamed, so it stays valid across atomic replacements). Callers
//! decide what the bytes mean; this module only decides whether the file can be
//! trusted. "File does not exist" is the only condition reported as absence;
//! everything else is an error, so callers fail closed.
//!
//! The safe open and the checks are here; the atomic write is
//! `trusted_fs/atomic_write.rs`, the lock `trusted_fs/user_lock.rs` (both
//! re-exported here).

mod atomic_write;
mod safe_open;
/// The system calls of a login's file work, without `std::fs`'s copies.
mod sys;
mod user_lock;

pub use atomic_write::{
    Durability, Staged, remove, sync_dir, sync_file, sync_filesystem, write_atomic, write_atomic_as, write_atomic_made,
    write_atomic_unsynced,
};
pub use safe_open::{Contents, FileId, TrustedFile, file_id, open_trusted, read_trusted};
pub use user_lock::{UserLock, lock, try_lock};

use std::fmt;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Largest per-user state file (store record or tally) we agree to read.
pub const MAX_STATE_FILE: u64 = 64 * 1024;
/// Largest configuration file we agree to read.
pub const MAX_CONFIG_FILE: u64 = 1024 * 1024;

/// The user who must own trusted files: root in production; tests of the
/// library pass their own uid so that `cargo test --lib` works for a normal user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner(pub u32);

impl Owner {
    pub const ROOT: Owner = Owner(0);

    /// The effective user of this process (for tests).
    pub fn current() -> Owner {
        Owner(nix::unistd::geteuid().as_raw())
    }
}

/// What a file or directory must look like before we trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Owned by `Owner`, no permission bits at all for group or others (0600, 0400, 0700).
    Private(Owner),
    /// Owned by `Owner`, not writable by group or others (0644 is fine).
    Protected(Owner),
    /// Any owner and mode: a file read once to import data from it (a user's
    /// `~/.google_authenticator`), never trusted for configuration or state.
    /// It must still be a regular file reached without a final symlink, within the size cap.
    Imported,
}

/// Why a path could not be used.
#[derive(Debug)]
pub enum FsError {
    /// A file or directory that must exist does not.
    Missing(PathBuf),
    /// The path exists but fails the ownership/mode/type rules.
    Insecure { path: PathBuf, why: String },
    /// The file is larger than we are prepared to read.
    TooLarge { path: PathBuf, limit: u64 },
    /// The operating system refused an operation.
    Io { path: PathBuf, op: &'static str, err: io::Error },
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::Missing(p) => write!(f, "{} does not exist", p.display()),
            FsError::Insecure { path, why } => write!(f, "{} is insecure: {why}", path.display()),
            FsError::TooLarge { path, limit } => {
                write!(f, "{} is larger than {limit} bytes", path.display())
            }
            FsError::Io { path, op, err } => write!(f, "cannot {op} {}: {err}", path.display()),
        }
    }
}

impl std::error::Error for FsError {}

/// `dir/PREFIXnameSUFFIX`, built on the stack when it fits (a login builds
/// about ten of these; a `PathBuf` costs an allocation each, `Path::join`
/// more). `name` is one path component (the names here never hold a `/`).
pub fn child(dir: &Path, prefix: &str, name: &str, suffix: &str) -> ChildPath {
    debug_assert!(!name.contains('/'), "{name:?} is not one path component");
    let dir = dir.as_os_str().as_encoded_bytes();
    let slash: &[u8] = if dir.ends_with(b"/") { b"" } else { b"/" };
    let parts = [dir, slash, prefix.as_bytes(), name.as_bytes(), suffix.as_bytes()];
    let len: usize = parts.iter().map(|p| p.len()).sum();
    // Room for the NUL the system calls need after the path (the array's last zero).
    if len < CHILD_INLINE {
        let mut bytes = [0u8; CHILD_INLINE];
        let mut at = 0;
        for part in parts {
            bytes[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        ChildPath(ChildRepr::Inline(len, bytes))
    } else {
        let mut path = Vec::with_capacity(len);
        parts.iter().for_each(|p| path.extend_from_slice(p));
        ChildPath(ChildRepr::Heap(PathBuf::from(std::ffi::OsString::from_vec(path))))
    }
}

/// The longest [`child`] path kept on the stack (what `std` copies a path
/// into on its way to the system call is as long).
const CHILD_INLINE: usize = 384;

/// A path made by [`child`]; a [`Path`] through `Deref`.
pub struct ChildPath(ChildRepr);

// Large on purpose: the point is that the usual path is no allocation.
#[allow(clippy::large_enum_variant)]
enum ChildRepr {
    Inline(usize, [u8; CHILD_INLINE]),
    Heap(PathBuf),
}

impl std::ops::Deref for ChildPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        match &self.0 {
            ChildRepr::Inline(len, bytes) => Path::new(std::ffi::OsStr::from_bytes(&bytes[..*len])),
            ChildRepr::Heap(path) => path,
        }
    }
}

/// The path as the kernel takes it, without the copy `std` and `nix` make
/// of other paths to add the NUL (an inline path already ends in one).
impl nix::NixPath for ChildPath {
    fn is_empty(&self) -> bool {
        self.as_os_str().is_empty()
    }

    fn len(&self) -> usize {
        self.as_os_str().len()
    }

    fn with_nix_path<T, F: FnOnce(&std::ffi::CStr) -> T>(&self, f: F) -> nix::Result<T> {
        match &self.0 {
            ChildRepr::Inline(len, bytes) => {
                std::ffi::CStr::from_bytes_with_nul(&bytes[..=*len]).map(f).map_err(|_| nix::errno::Errno::EINVAL)
            }
            ChildRepr::Heap(path) => path.as_path().with_nix_path(f),
        }
    }
}

impl AsRef<Path> for ChildPath {
    fn as_ref(&self) -> &Path {
        self
    }
}

impl fmt::Debug for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |err| FsError::Io { path: path.to_path_buf(), op, err }
}

/// Checks owner, mode and type of already-obtained metadata.
fn check_meta(path: &Path, meta: &sys::Inode, want_dir: bool, trust: Trust) -> Result<(), FsError> {
    let insecure = |why: String| Err(FsError::Insecure { path: path.to_path_buf(), why });
    if meta.is_symlink() {
        return insecure("it is a symbolic link; use the real path".into());
    }
    if want_dir && !meta.is_dir() {
        return insecure("it is not a directory".into());
    }
    if !want_dir && !meta.is_file() {
        return insecure("it is not a regular file".into());
    }
    let owner = match trust {
        Trust::Private(o) | Trust::Protected(o) => Some(o),
        Trust::Imported => None,
    };
    if let Some(Owner(uid)) = owner
        && meta.uid != uid
    {
        let who = if uid == 0 { "root".to_string() } else { format!("uid {uid}") };
        let chown = if uid == 0 { "root:".to_string() } else { format!("{uid}:") };
        return insecure(format!("it is owned by uid {}, not {who}; run chown {chown} {}", meta.uid, path.display()));
    }
    let mode = meta.mode & 0o7777;
    match trust {
        Trust::Private(_) if mode & 0o077 != 0 => {
            let want = if want_dir { "700" } else { "600" };
            insecure(format!(
                "its mode is {mode:04o}, group/other must have no access; run chmod {want} {}",
                path.display()
            ))
        }
        Trust::Protected(_) if mode & 0o022 != 0 => insecure(format!(
            "its mode is {mode:04o}, it must not be writable by group or others; run chmod go-w {}",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// Refuses relative paths: every path we use comes from root's config and must be absolute.
fn require_absolute(path: &Path) -> Result<(), FsError> {
    if path.is_absolute() {
        Ok(())
    } else {
        Err(FsError::Insecure { path: path.to_path_buf(), why: "it is not an absolute path".into() })
    }
}

/// Checks that `dir` is a real (not symlinked) directory owned by root with the given trust.
pub fn check_dir(dir: &Path, trust: Trust) -> Result<(), FsError> {
    require_absolute(dir)?;
    let meta = match sys::lstat(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FsError::Missing(dir.to_path_buf())),
        Err(e) => return Err(io_err(dir, "inspect")(e)),
    };
    check_meta(dir, &meta, true, trust)
}

/// Creates `dir` (mode 0700, owned by the caller) when it does not exist, then
/// checks that it is private to `owner`.
pub fn ensure_private_dir(dir: &Path, owner: Owner) -> Result<(), FsError> {
    require_absolute(dir)?;
    // Almost always there: one lstat instead of a mkdir that fails.
    match check_dir(dir, Trust::Private(owner)) {
        Err(FsError::Missing(_)) => {}
        done => return done,
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(dir, "create")(e)),
    }
    check_dir(dir, Trust::Private(owner))
}

/// Names of the regular entries of `dir` that are not hidden (state files, not locks or temp files).
pub fn list_names(dir: &Path) -> Result<Vec<String>, FsError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir, "list"))? {
        let entry = entry.map_err(io_err(dir, "list"))?;
        if let Some(name) = entry.file_name().to_str()
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// A fresh temporary directory with mode 0700, as the state directories must be.
#[cfg(test)]
pub fn private_tempdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    d
}
#[cfg(test)]
mod tests {
    #[test]
    fn a_child_path_is_the_joined_path() {
        for dir in ["/var/lib/twostep/tally", "/var/lib/twostep/tally/", "/"] {
            let dir = Path::new(dir);
            assert_eq!(&*super::child(dir, "", "alice", ""), dir.join("alice"));
            assert_eq!(&*super::child(dir, ".", "alice", ".tmp"), dir.join(".alice.tmp"));
        }
        // Too long for the stack: the same path on the heap.
        let long = "d".repeat(super::CHILD_INLINE);
        let dir = Path::new("/").join(&long);
        assert_eq!(&*super::child(&dir, ".", "alice", ".lock"), dir.join(".alice.lock"));
        // The longest inline path: one byte is left for its NUL.
        let fits = "d".repeat(super::CHILD_INLINE - 1 - "/x/".len() - "/.alice.lock".len());
        let dir = Path::new("/x").join(&fits);
        let path = super::child(&dir, ".", "alice", ".lock");
        assert_eq!(path.as_os_str().len(), super::CHILD_INLINE - 1);
        assert!(matches!(path.0, super::ChildRepr::Inline(..)));
        assert_eq!(&*path, dir.join(".alice.lock"));
        // What the kernel is given is the same path, inline or not.
        for path in [
            path,
            super::child(&Path::new("/").join(&long), ".", "alice", ".lock"),
            super::child(Path::new("/d"), "", "a", ""),
        ] {
            let c = nix::NixPath::with_nix_path(&path, |c| c.to_bytes().to_vec()).unwrap();
            assert_eq!(c, path.as_os_str().as_encoded_bytes());
        }
        let nul = super::child(Path::new("/d"), "", "a\0b", "");
        assert_eq!(
            nix::NixPath::with_nix_path(&nul, |_| ()),
            Err(nix::errno::Errno::EINVAL),
            "an inner NUL is refused"
        );
    }

    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private_tmp() -> tempfile::TempDir {
        private_tempdir()
    }

    #[test]
    fn written_files_are_private_and_read_back() {
        let d = private_tmp();
        write_atomic(d.path(), "alice", b"hello").unwrap();
        let mode = std::fs::metadata(d.path().join("alice")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            read_trusted(&d.path().join("alice"), Trust::Private(Owner::current()), 100).unwrap().unwrap(),
            b"hello"
        );
    }

    #[test]
    fn a_file_is_read_into_the_buffer_when_it_fits_and_into_memory_when_not() {
        let d = private_tmp();
        write_atomic(d.path(), "alice", b"hello").unwrap();
        let path = d.path().join("alice");
        let open = || open_trusted(&path, Trust::Private(Owner::current()), 100).unwrap().unwrap();
        for (room, inline) in [(64, true), (6, true), (5, false), (0, false)] {
            let mut buf = vec![0u8; room];
            let contents = open().read_into(&mut buf).unwrap();
            assert_eq!((&*contents, matches!(contents, Contents::Inline(_))), (&b"hello"[..], inline), "{room}");
            drop(contents);
            assert!(buf.iter().all(|&b| b == 0), "the buffer is wiped after use");
        }
        // Grown since it was opened (written in place): read again, whole.
        use std::io::Write;
        let file = open();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b", world").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(&*file.read_into(&mut buf).unwrap(), b"hello, world");
    }

    #[test]
    fn missing_file_is_the_only_absence() {
        let d = private_tmp();
        assert!(read_trusted(&d.path().join("nobody"), Trust::Private(Owner::current()), 100).unwrap().is_none());
    }

    #[test]
    fn symlinks_are_refused() {
        let d = private_tmp();
        write_atomic(d.path(), "real", b"x").unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
        let err = read_trusted(&d.path().join("link"), Trust::Private(Owner::current()), 100).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[test]
    fn group_readable_files_are_refused_as_private() {
        let d = private_tmp();
        write_atomic(d.path(), "f", b"x").unwrap();
        std::fs::set_permissions(d.path().join("f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(read_trusted(&d.path().join("f"), Trust::Private(Owner::current()), 100).is_err());
        assert!(read_trusted(&d.path().join("f"), Trust::Protected(Owner::current()), 100).is_ok());
    }

    #[test]
    fn imported_files_may_have_any_owner_but_must_be_regular_and_not_symlinks() {
        let d = private_tmp();
        write_atomic(d.path(), "f", b"x").unwrap();
        std::fs::set_permissions(d.path().join("f"), std::fs::Permissions::from_mode(0o644)).unwrap();
        // Owned by us, so owned by "someone else" for a check that wants another owner.
        let someone_else = Owner(Owner::current().0.wrapping_add(1));
        let err = read_trusted(&d.path().join("f"), Trust::Private(someone_else), 100).unwrap_err();
        assert!(err.to_string().contains("owned by uid"), "{err}");
        assert_eq!(read_trusted(&d.path().join("f"), Trust::Imported, 100).unwrap().unwrap(), b"x");
        std::os::unix::fs::symlink(d.path().join("f"), d.path().join("link")).unwrap();
        assert!(read_trusted(&d.path().join("link"), Trust::Imported, 100).is_err());
        assert!(read_trusted(d.path(), Trust::Imported, 100).is_err());
    }

    #[test]
    fn oversized_files_are_refused() {
        let d = private_tmp();
        write_atomic(d.path(), "big", &[b'a'; 101]).unwrap();
        assert!(matches!(
            read_trusted(&d.path().join("big"), Trust::Private(Owner::current()), 100),
            Err(FsError::TooLarge { .. })
        ));
    }

    #[test]
    fn relative_paths_are_refused() {
        assert!(read_trusted(Path::new("relative"), Trust::Private(Owner::current()), 100).is_err());
        assert!(check_dir(Path::new("relative"), Trust::Private(Owner::current())).is_err());
    }

    #[test]
    fn hidden_entries_are_not_listed() {
        let d = private_tmp();
        write_atomic(d.path(), "bob", b"x").unwrap();
        let _l = lock(d.path(), "bob", Owner::current()).unwrap();
        assert_eq!(list_names(d.path()).unwrap(), vec!["bob".to_string()]);
    }
}
