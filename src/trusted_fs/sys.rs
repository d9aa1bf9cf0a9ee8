//! The system calls of the file work a login does, through `nix` rather
//! than `std::fs`: a path made by [`super::child`] already ends in a NUL and
//! goes to the kernel as it is (`std` copies every path once more to add
//! one), and `fstat`/`lstat` fill an [`Inode`] with the few fields the checks
//! read (`std` builds a `Metadata` from `statx`). A login makes about twenty
//! of these calls; the difference was about 2,500 instructions
//! (`docs/benchmarks.md`). Errors are `io::Error`s, as `std`'s are.

use std::fs::File;
use std::io;

use nix::NixPath;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// What the checks read of a file's inode (from `fstat` or `lstat`).
#[derive(Debug, Clone, Copy)]
pub struct Inode {
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    pub uid: u32,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Inode {
    fn of(st: &libc::stat) -> Inode {
        let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        Inode {
            mode: st.st_mode,
            uid: st.st_uid,
            dev: st.st_dev,
            ino: st.st_ino,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime_ns: nanos(st.st_mtime, st.st_mtime_nsec),
            ctime_ns: nanos(st.st_ctime, st.st_ctime_nsec),
        }
    }

    fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    pub fn is_symlink(&self) -> bool {
        self.kind() == libc::S_IFLNK
    }

    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }

    pub fn is_file(&self) -> bool {
        self.kind() == libc::S_IFREG
    }
}

/// `open(2)` with `flags` (and `mode` for a file it creates), again when a
/// signal interrupted it (as `std` does).
pub fn open<P: ?Sized + NixPath>(path: &P, flags: OFlag, mode: u32) -> io::Result<File> {
    loop {
        match nix::fcntl::open(path, flags, Mode::from_bits_truncate(mode)) {
            Err(nix::errno::Errno::EINTR) => {}
            opened => return Ok(File::from(opened?)),
        }
    }
}

/// `fstat(2)` of an open file.
pub fn fstat(file: &File) -> io::Result<Inode> {
    Ok(Inode::of(&nix::sys::stat::fstat(file)?))
}

/// `lstat(2)`: the path itself, a symlink not followed.
pub fn lstat<P: ?Sized + NixPath>(path: &P) -> io::Result<Inode> {
    Ok(Inode::of(&nix::sys::stat::lstat(path)?))
}

/// `rename(2)`.
pub fn rename<P: ?Sized + NixPath, Q: ?Sized + NixPath>(from: &P, to: &Q) -> io::Result<()> {
    Ok(nix::fcntl::renameat(nix::fcntl::AT_FDCWD, from, nix::fcntl::AT_FDCWD, to)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn an_inode_holds_what_std_reads() {
        let d = crate::trusted_fs::private_tempdir();
        let path = d.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        for inode in [lstat(path.as_path()).unwrap(), fstat(&File::open(&path).unwrap()).unwrap()] {
            assert_eq!(
                (inode.mode, inode.uid, inode.dev, inode.ino, inode.size),
                (meta.mode(), meta.uid(), meta.dev(), meta.ino(), 5)
            );
            assert_eq!(inode.mtime_ns, i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()));
            assert_eq!(inode.ctime_ns, i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()));
            assert!(inode.is_file() && !inode.is_dir() && !inode.is_symlink());
        }
        std::os::unix::fs::symlink(&path, d.path().join("l")).unwrap();
        assert!(lstat(d.path().join("l").as_path()).unwrap().is_symlink());
        assert!(lstat(d.path()).unwrap().is_dir());
        let e = lstat(d.path().join("missing").as_path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
