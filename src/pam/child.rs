//! The mail command's process, started from inside a host process (sshd,
//! login, su, sudo, …). A setuid host such as `su` runs with what its caller
//! chose: real uid and supplementary groups, resource limits, nice value,
//! umask, ignored signals, signal mask, session and controlling terminal, and
//! descriptors left open across exec. None of that is the mail command's
//! business and some of it is dangerous: a caller who may signal or stop the
//! MTA (same real uid, same terminal), a limit that cuts a queue file short or
//! makes the MTA fail, a core file holding the message and its code, a
//! descriptor the MTA inherits. [`isolate`] resets all of it in the child,
//! between fork and exec:
//!
//! | what | reset to | by |
//! | --- | --- | --- |
//! | real uid, real gid | the effective ones (root) | std `CommandExt::uid`/`gid` |
//! | supplementary groups | none | `setgroups(0)` |
//! | session, process group, controlling terminal | a new session and group, no terminal | `setsid` |
//! | resource limits | [`LIMITS`]: Linux's own defaults, no core files | `setrlimit` |
//! | nice value | 0 | `setpriority` |
//! | umask | 077 (files it makes are root's alone) | `umask` |
//! | signal dispositions | default, signals 1 to SIGRTMAX | `sigaction` |
//! | signal mask | empty | std, before our hook (tested) |
//! | descriptors above 2 | closed at exec | `close_range(CLOSE_RANGE_CLOEXEC)` |
//!
//! Descriptors are marked close-on-exec rather than closed, so that std's own
//! pipe (which reports a failed exec back to us) still works. A reset that
//! fails makes the spawn fail, so the code is not sent (fail closed); the one
//! exception is raising a limit or the nice value without the capability for
//! it (CAP_SYS_RESOURCE, CAP_SYS_NICE; missing in some containers), which is
//! done as far as permitted, since a lowered limit can only make the command
//! fail (see [`set_limit`]).
//! Not reset: namespaces, cgroup, CPU affinity, I/O priority, capabilities
//! bounding set, `no_new_privs` and seccomp (a caller who set the last two
//! could not have become root through a setuid host at all).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use libc::{c_int, c_uint, rlim_t};

const INFINITY: rlim_t = libc::RLIM_INFINITY;
const MIB: rlim_t = 1 << 20;

/// Resource limits of the mail command: (resource, soft, hard). These are the
/// kernel's defaults for a freshly booted system (what `init` starts with),
/// except no core files at all, because a core dump of the MTA would hold the
/// message with its code. CPU time is bounded by `[email] timeout` instead.
/// Root is not held to RLIMIT_NPROC, so that one (and the queued-signal
/// limit, whose default also depends on memory) is unlimited.
pub const LIMITS: [(libc::__rlimit_resource_t, rlim_t, rlim_t); 16] = [
    (libc::RLIMIT_CPU, INFINITY, INFINITY),
    (libc::RLIMIT_FSIZE, INFINITY, INFINITY),
    (libc::RLIMIT_DATA, INFINITY, INFINITY),
    (libc::RLIMIT_STACK, 8 * MIB, INFINITY),
    (libc::RLIMIT_CORE, 0, 0),
    (libc::RLIMIT_RSS, INFINITY, INFINITY),
    (libc::RLIMIT_NPROC, INFINITY, INFINITY),
    (libc::RLIMIT_NOFILE, 1024, 4096),
    (libc::RLIMIT_MEMLOCK, 8 * MIB, 8 * MIB),
    (libc::RLIMIT_AS, INFINITY, INFINITY),
    (libc::RLIMIT_LOCKS, INFINITY, INFINITY),
    (libc::RLIMIT_SIGPENDING, INFINITY, INFINITY),
    (libc::RLIMIT_MSGQUEUE, 819_200, 819_200),
    (libc::RLIMIT_NICE, 0, 0),
    (libc::RLIMIT_RTPRIO, 0, 0),
    (libc::RLIMIT_RTTIME, INFINITY, INFINITY),
];

/// Without `close_range` (Linux < 5.11), every descriptor below this is marked
/// one by one (the default `fs.nr_open`: no descriptor can be higher unless an
/// administrator raised it).
const FALLBACK_FD_LIMIT: c_int = 1 << 20;

/// The `setup` hook for [`crate::command::run`] inside a host process: prepares
/// `cmd` so that the child starts with the settings of the table above.
pub fn isolate(cmd: &mut Command) {
    cmd.uid(nix::unistd::geteuid().as_raw()).gid(nix::unistd::getegid().as_raw());
    // Read here, in the parent: the child only makes system calls.
    let max_signal = libc::SIGRTMAX();
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe functions may be called. `reset_in_child` makes only
    // such calls (setgroups, setsid, setrlimit, setpriority, umask, sigaction,
    // close_range/fcntl: each a plain system call), allocates nothing, takes no
    // lock and touches no memory shared with the parent's other threads; its
    // only capture is an integer.
    unsafe {
        cmd.pre_exec(move || reset_in_child(max_signal));
    }
}

/// -1 → the `errno` error (which needs no allocation).
fn check(rc: c_int) -> io::Result<()> {
    if rc == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// The resets of the table, in the child between fork and exec (std has set the
/// uid, gid and stdio and emptied the signal mask by then). Never call it
/// elsewhere: it changes the whole process.
fn reset_in_child(max_signal: c_int) -> io::Result<()> {
    // SAFETY: a system call with no pointer to read (the list is empty).
    check(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    // SAFETY: a system call without arguments. It fails if the child leads a
    // process group, which it does not: the hook replaces `process_group(0)`.
    check(unsafe { libc::setsid() })?;
    for (resource, soft, hard) in LIMITS {
        set_limit(resource, soft, hard)?;
    }
    // SAFETY: a system call on plain integers (0 = this process). The glibc type
    // of `which` differs from the constant's, hence the cast.
    let niced = check(unsafe { libc::setpriority(libc::PRIO_PROCESS as _, 0, 0) });
    // Without CAP_SYS_NICE a raised nice value stays: that only makes the command slower.
    if niced.as_ref().is_err_and(|e| !matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES))) {
        return niced;
    }
    // SAFETY: a system call that cannot fail.
    unsafe { libc::umask(0o077) };
    // SAFETY: an all-zero `sigaction` is SIG_DFL with an empty mask and no flags.
    let default: libc::sigaction = unsafe { std::mem::zeroed() };
    for signal in 1..=max_signal {
        // SAFETY: a system call reading `default` on our stack; SIG_DFL installs
        // no handler.
        if unsafe { libc::sigaction(signal, &default, std::ptr::null_mut()) } == -1
            && signal != libc::SIGKILL
            && signal != libc::SIGSTOP
        {
            // glibc refuses its two internal signals (32, 33), yet a caller can
            // have them ignored: ask the kernel directly. All zero is SIG_DFL, no
            // flags, empty mask in every architecture's layout of its sigaction.
            let zero = [0u64; 8];
            // SAFETY: a system call reading `zero` on our stack (larger than any
            // kernel sigaction); no handler is installed. Best effort: glibc and
            // musl install their own actions for these at program start anyway.
            unsafe { libc::syscall(libc::SYS_rt_sigaction, signal, zero.as_ptr(), 0usize, KERNEL_SIGSET_SIZE) };
        }
    }
    close_above_stderr_at_exec()
}

/// The kernel's `sizeof(sigset_t)`, which `rt_sigaction` insists on.
const KERNEL_SIGSET_SIZE: usize = if cfg!(any(target_arch = "mips", target_arch = "mips64")) { 16 } else { 8 };

/// Sets one limit. Raising a hard limit needs CAP_SYS_RESOURCE, which root
/// lacks in some containers: then the limit is set as close as permitted (the
/// current hard limit). A limit the caller lowered and we cannot raise can only
/// make the command fail, and a failed command refuses the login.
fn set_limit(resource: libc::__rlimit_resource_t, soft: rlim_t, hard: rlim_t) -> io::Result<()> {
    let wanted = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: a system call reading the `rlimit` on our stack.
    let set = check(unsafe { libc::setrlimit(resource, &wanted) });
    if set.as_ref().is_ok() || set.as_ref().is_err_and(|e| e.raw_os_error() != Some(libc::EPERM)) {
        return set;
    }
    let mut now = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: a system call writing the `rlimit` on our stack.
    check(unsafe { libc::getrlimit(resource, &mut now) })?;
    let hard = hard.min(now.rlim_max);
    let closest = libc::rlimit { rlim_cur: soft.min(hard), rlim_max: hard };
    // SAFETY: as above.
    check(unsafe { libc::setrlimit(resource, &closest) })
}

/// Marks every descriptor above 2 close-on-exec.
fn close_above_stderr_at_exec() -> io::Result<()> {
    // SAFETY: the raw system call (no glibc wrapper needed, so the module does
    // not require glibc 2.34) on plain integers.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3 as c_uint, c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) {
        return Err(err);
    }
    for fd in 3..FALLBACK_FD_LIMIT {
        // SAFETY: fcntl on an integer; a descriptor that is not open gives EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}
