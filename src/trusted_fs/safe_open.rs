//! The one safe open of the crate: an absolute path opened with
//! `O_NOFOLLOW` (and `O_NONBLOCK`, against a planted FIFO), its owner, mode
//! and type checked on the open descriptor, its size capped; and [`FileId`],
//! which tells whether a path still names the same, unchanged file.

use std::io::{self, Read, Seek};
use std::path::Path;

use nix::NixPath;
use nix::fcntl::OFlag;

use super::sys::{self, Inode};
use super::{FsError, Trust, check_meta, io_err, require_absolute};

/// Opens `path` for reading without following symlinks, checks it and reads it whole.
///
/// Returns `Ok(None)` only when the file does not exist.
pub fn read_trusted(path: &Path, trust: Trust, limit: u64) -> Result<Option<Vec<u8>>, FsError> {
    open_trusted(path, trust, limit)?.map(TrustedFile::read_all).transpose()
}

/// Which file a path names, and its state: equal ids mean the same,
/// unchanged file (a file replaced by rename has a new inode and ctime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileId {
    fn of(inode: &Inode) -> FileId {
        FileId { dev: inode.dev, ino: inode.ino, size: inode.size, mtime_ns: inode.mtime_ns, ctime_ns: inode.ctime_ns }
    }
}

impl FileId {
    /// Bytes of [`FileId::to_bytes`].
    pub const BYTES: usize = 56;

    /// A fixed-size encoding (for files that remember which file they were made from).
    pub fn to_bytes(&self) -> [u8; FileId::BYTES] {
        let mut out = [0u8; FileId::BYTES];
        out[..8].copy_from_slice(&self.dev.to_le_bytes());
        out[8..16].copy_from_slice(&self.ino.to_le_bytes());
        out[16..24].copy_from_slice(&self.size.to_le_bytes());
        out[24..40].copy_from_slice(&self.mtime_ns.to_le_bytes());
        out[40..].copy_from_slice(&self.ctime_ns.to_le_bytes());
        out
    }

    /// Whether the file's contents and inode last changed (mtime and ctime)
    /// more than `margin_ns` before `t_ns` (nanoseconds since the epoch).
    pub fn changed_before(&self, t_ns: i128, margin_ns: i128) -> bool {
        self.mtime_ns.max(self.ctime_ns) + margin_ns < t_ns
    }
}

/// The id of the file at `path` without opening it (`None`: it does not exist).
pub fn file_id<P: ?Sized + NixPath + AsRef<Path>>(path: &P) -> Result<Option<FileId>, FsError> {
    match sys::lstat(path) {
        Ok(m) => Ok(Some(FileId::of(&m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path.as_ref(), "inspect")(e)),
    }
}

/// A file opened and checked by [`open_trusted`], not read yet.
pub struct TrustedFile<'a> {
    file: std::fs::File,
    path: &'a Path,
    limit: u64,
    /// The file as it was when opened.
    pub id: FileId,
}

impl TrustedFile<'_> {
    /// The file as it is now (`fstat` again).
    pub fn id_now(&self) -> Result<FileId, FsError> {
        Ok(FileId::of(&sys::fstat(&self.file).map_err(io_err(self.path, "inspect"))?))
    }

    /// The whole file, within the size cap.
    pub fn read_all(self) -> Result<Vec<u8>, FsError> {
        let (path, limit) = (self.path, self.limit);
        let mut buf = Vec::with_capacity(self.id.size.min(limit) as usize);
        self.file.take(limit + 1).read_to_end(&mut buf).map_err(io_err(path, "read"))?;
        if buf.len() as u64 > limit {
            return Err(FsError::TooLarge { path: path.to_path_buf(), limit });
        }
        Ok(buf)
    }

    /// The whole file, within the size cap, into `buf` when it fits there
    /// (no allocation: a login's state files are a few hundred bytes), else
    /// as [`TrustedFile::read_all`] reads it.
    pub fn read_into(mut self, buf: &mut [u8]) -> Result<Contents<'_>, FsError> {
        if self.id.size < buf.len() as u64 {
            let mut len = 0;
            while len < buf.len() {
                match self.file.read(&mut buf[len..]) {
                    Ok(0) => return Ok(Contents::Inline(&mut buf[..len])),
                    Ok(n) => len += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        zeroize::Zeroize::zeroize(&mut buf[..len]);
                        return Err(io_err(self.path, "read")(e));
                    }
                }
            }
            // Longer than when it was opened (written in place, which twostep
            // never does): read again from the start, whole.
            zeroize::Zeroize::zeroize(&mut buf[..len]);
            self.file.rewind().map_err(io_err(self.path, "read"))?;
        }
        Ok(Contents::Heap(zeroize::Zeroizing::new(self.read_all()?)))
    }
}

/// A file's contents read by [`TrustedFile::read_into`]: in the caller's
/// buffer (wiped when this is dropped) or, when they did not fit, in memory
/// wiped on drop.
pub enum Contents<'b> {
    Inline(&'b mut [u8]),
    Heap(zeroize::Zeroizing<Vec<u8>>),
}

impl std::ops::Deref for Contents<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Contents::Inline(bytes) => bytes,
            Contents::Heap(bytes) => bytes,
        }
    }
}

impl Drop for Contents<'_> {
    fn drop(&mut self) {
        if let Contents::Inline(bytes) = self {
            zeroize::Zeroize::zeroize(*bytes);
        }
    }
}

/// Opens `path` without following symlinks and checks it as [`read_trusted`]
/// does, without reading it. `Ok(None)` only when the file does not exist.
pub fn open_trusted<P: ?Sized + NixPath + AsRef<Path>>(
    path: &P,
    trust: Trust,
    limit: u64,
) -> Result<Option<TrustedFile<'_>>, FsError> {
    let (cpath, path) = (path, path.as_ref());
    require_absolute(path)?;
    // O_NONBLOCK: a FIFO planted in place of the file must not hang the login.
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    let file = match sys::open(cpath, flags, 0) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(FsError::Insecure {
                path: path.to_path_buf(),
                why: "it is a symbolic link; use the real path".into(),
            });
        }
        Err(e) => return Err(io_err(path, "open")(e)),
    };
    let meta = sys::fstat(&file).map_err(io_err(path, "inspect"))?;
    check_meta(path, &meta, false, trust)?;
    if meta.size > limit {
        return Err(FsError::TooLarge { path: path.to_path_buf(), limit });
    }
    Ok(Some(TrustedFile { file, path, limit, id: FileId::of(&meta) }))
}
