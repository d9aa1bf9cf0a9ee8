//! Process-wide settings of the host (sshd, login, su, sudo) that twostep
//! changes for the length of one `pam_sm_authenticate`, and puts back.
//!
//! Under a setuid host such as `su`, signal dispositions and resource limits
//! are the caller's. A caller who sets `ulimit -f` low would otherwise have the
//! kernel kill the module with SIGXFSZ in the middle of writing the tally.
//! With SIGXFSZ ignored the write fails with `EFBIG` instead, and the login
//! flow fails closed (an answer is never judged before its failure is written,
//! see `auth::Login::verify`).

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// One signal set to be ignored until dropped (also on unwind), then the
/// host's action again.
pub struct IgnoredSignal {
    signal: Signal,
    previous: Option<SigAction>,
}

impl IgnoredSignal {
    pub fn install(signal: Signal) -> IgnoredSignal {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN installs no handler code, so no async-signal-safety
        // rule applies. The action is process-wide: in a threaded host another
        // thread that relies on SIGXFSZ would see writes fail with EFBIG instead
        // for this short while; none of sshd, login, su or sudo do.
        let previous = unsafe { sigaction(signal, &ignore) }.ok();
        IgnoredSignal { signal, previous }
    }
}

impl Drop for IgnoredSignal {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: puts back exactly the action the host had installed.
            let _ = unsafe { sigaction(self.signal, previous) };
        }
    }
}
