//! Process-wide signal actions of the host (sshd, login, su, sudo) that
//! twostep changes for a while and puts back: [`SignalGuard`].
//!
//! - SIGXFSZ is ignored for the whole of `pam_sm_authenticate`. Under a
//!   setuid host such as `su`, resource limits and signal dispositions are
//!   the caller's: a caller who sets `ulimit -f` low would otherwise have the
//!   kernel kill the module in the middle of writing the tally. Ignored, the
//!   write fails with `EFBIG` instead and the login fails closed (an answer is
//!   never judged before its failure is on disk, see `auth::verify`).
//! - SIGCHLD is set to its default action while the mail command runs. The
//!   host may reap any child in its SIGCHLD handler, or ignore SIGCHLD (which
//!   auto-reaps): our child's exit status would be lost and a delivered
//!   message look like a failure. pam_unix does the same around its helper.
//!
//! What changing a process-wide action means for a threaded host: the action
//! is shared by all threads for as long as the guard lives. Another thread of
//! the host that expects SIGCHLD to reach its handler (or to be ignored) in
//! that window sees the default instead: a child of that thread that exits
//! then is not reaped until the host's own waitpid, which then still finds
//! it. With SIGXFSZ ignored, another thread's write past its file size limit
//! fails with EFBIG instead of killing the process. None of sshd, login, su
//! or sudo run such threads during authentication; PAM modules of the same
//! stack (pam_unix with its helper) make the same change.

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// `signal` set to `handler` (SIG_IGN or SIG_DFL only) until dropped (also
/// on unwind), then the host's action again.
pub struct SignalGuard {
    signal: Signal,
    previous: Option<SigAction>,
}

impl SignalGuard {
    /// Ignores `signal` until the guard is dropped.
    pub fn ignore(signal: Signal) -> SignalGuard {
        SignalGuard::set(signal, SigHandler::SigIgn)
    }

    /// Gives `signal` its default action until the guard is dropped.
    pub fn default_action(signal: Signal) -> SignalGuard {
        SignalGuard::set(signal, SigHandler::SigDfl)
    }

    fn set(signal: Signal, handler: SigHandler) -> SignalGuard {
        let action = SigAction::new(handler, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN and SIG_DFL install no handler code, so no
        // async-signal-safety rule applies; see the module comment for what a
        // process-wide change means for other threads of the host.
        let previous = unsafe { sigaction(signal, &action) }.ok();
        SignalGuard { signal, previous }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: puts back exactly the action the host had installed.
            let _ = unsafe { sigaction(self.signal, previous) };
        }
    }
}
