//! No core dump while a login handles the secret.
//!
//! A crash in `pam_sm_authenticate` would write the host's memory, with the
//! user's TOTP secret and the typed code in it, to a core file (or hand it to
//! systemd-coredump). For the duration of the call only, the process is made
//! non-dumpable (`PR_SET_DUMPABLE` 0: enforced by the kernel for every
//! `core_pattern`, pipes included) and its soft `RLIMIT_CORE` is set to 0 (no
//! core file even where `suid_dumpable = 2` would dump a non-dumpable process;
//! systemd-coredump also skips a process whose limit is 0). Both are put back
//! when the call returns, so the host (sshd's monitor, the user's session that
//! inherits the limit across `exec`) behaves as before. A host that is
//! `2` ("dump as root", setuid programs with `suid_dumpable = 2`) cannot be put
//! back (the kernel only accepts 0 and 1) and stays non-dumpable: the safer side.

use std::mem::MaybeUninit;

/// Restores the dumpable flag and the core limit when dropped (also on unwind).
pub struct NoCoreDumps {
    /// The core limit to put back, when we changed it.
    limit: Option<libc::rlimit>,
    /// Whether the process was dumpable (1) and must be made so again.
    dumpable: bool,
}

impl NoCoreDumps {
    pub fn install() -> NoCoreDumps {
        // SAFETY: PR_GET_DUMPABLE takes no pointers; the result is 0, 1, 2 or -1.
        let was = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
        // SAFETY: PR_SET_DUMPABLE with 0 takes no pointers and only clears a flag.
        let cleared = (was == 1 || was == 2) && unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == 0;
        let dumpable = was == 1 && cleared;
        let mut old = MaybeUninit::<libc::rlimit>::uninit();
        // SAFETY: getrlimit writes one rlimit through a valid pointer.
        let limit = if unsafe { libc::getrlimit(libc::RLIMIT_CORE, old.as_mut_ptr()) } == 0 {
            // SAFETY: getrlimit succeeded, so it initialised `old`.
            let old = unsafe { old.assume_init() };
            let zero = libc::rlimit { rlim_cur: 0, rlim_max: old.rlim_max };
            // SAFETY: setrlimit reads one rlimit through a valid pointer; lowering the soft limit needs no privilege.
            (old.rlim_cur != 0 && unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } == 0).then_some(old)
        } else {
            None
        };
        NoCoreDumps { limit, dumpable }
    }
}

impl Drop for NoCoreDumps {
    fn drop(&mut self) {
        if let Some(old) = &self.limit {
            // SAFETY: puts back exactly the limit read in install (the hard limit was never changed).
            unsafe { libc::setrlimit(libc::RLIMIT_CORE, old) };
        }
        if self.dumpable {
            // SAFETY: PR_SET_DUMPABLE with 1 takes no pointers; it restores the flag read in install.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
        }
    }
}
