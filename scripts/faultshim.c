/*
 * faultshim: an LD_PRELOAD library that makes chosen system calls of a
 * process fail, deterministically, for scripts/faultcheck.
 *
 * libfiu (Debian's fiu-utils) wraps open/read/write/fsync/rename/unlink but
 * not flock, statx, fstat(64), lstat(64), mkdir, openat or renameat, which Rust's
 * std and the nix crate call, and it cannot restrict failures to one
 * directory or fail "exactly the Nth call". This shim can.
 *
 * Which calls are *eligible* (counted, and possibly failed):
 *   - path calls whose absolute path starts with one of the prefixes in
 *     FAULT_SCOPE (colon-separated), or that are relative to a descriptor
 *     obtained that way;
 *   - descriptor calls on a descriptor obtained that way (opened, or a
 *     socket connected to such a path);
 *   - with FAULT_SCOPE=/ every call on any descriptor but 0, 1 and 2 (the
 *     test harness reads the transcript from 1 and answers through 0), plus
 *     memfd_create, pipe2 and poll.
 * Only the process that loaded the shim is affected: a forked child (the
 * mail command before its exec) calls straight through.
 *
 * FAULT_MODE:
 *   count   fail nothing, log every eligible call
 *   nth     fail eligible call number FAULT_N (1-based); FAULT_PERSIST=1 also
 *           fails every later one (a full disk); FAULT_ACTION=kill sends
 *           SIGKILL to the process at that call instead of failing it
 *   random  fail each eligible call with probability FAULT_PROB per mille
 * The errno (or a short read/write, which is not an error but must be
 * handled) is drawn from a list that fits the call, by a hash of FAULT_SEED
 * and the call number: the same seed and N give the same run.
 * FAULT_LOG names a file that gets one line per eligible call
 * ("call N FUNCTION TARGET") and per injection ("inject N FUNCTION TARGET
 * ERRNO" or "kill N FUNCTION TARGET").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD 4096
#define MAX_PREFIXES 8
#define SHORT (-1) /* pseudo errno: a short read or write */

enum { OFF, COUNT, NTH, RANDOM };

static int mode = OFF;
static long fail_n;
static int persist;
static int kill_action;
static uint64_t seed;
static unsigned prob;
static pid_t armed_pid;
static int logfd = -1;
static int whole_process;
static char prefixes[MAX_PREFIXES][1024];
static int n_prefixes;
static unsigned char tracked[MAX_FD];
static long counter;

static uint64_t mix(uint64_t x)
{
	/* splitmix64 */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f) {
		static const char msg[] = "faultshim: a libc function is missing\n";
		(void)syscall(SYS_write, 2, msg, sizeof msg - 1);
		abort();
	}
	return f;
}

__attribute__((constructor)) static void init(void)
{
	const char *m = getenv("FAULT_MODE");
	if (!m)
		return;
	if (!strcmp(m, "count"))
		mode = COUNT;
	else if (!strcmp(m, "nth"))
		mode = NTH;
	else if (!strcmp(m, "random"))
		mode = RANDOM;
	else
		return;
	const char *v;
	fail_n = (v = getenv("FAULT_N")) ? atol(v) : 0;
	persist = (v = getenv("FAULT_PERSIST")) && !strcmp(v, "1");
	kill_action = (v = getenv("FAULT_ACTION")) && !strcmp(v, "kill");
	seed = (v = getenv("FAULT_SEED")) ? strtoull(v, NULL, 10) : 0;
	prob = (v = getenv("FAULT_PROB")) ? (unsigned)atoi(v) : 0;
	const char *scope = getenv("FAULT_SCOPE");
	if (scope) {
		char buf[8192];
		snprintf(buf, sizeof buf, "%s", scope);
		for (char *save, *p = strtok_r(buf, ":", &save); p && n_prefixes < MAX_PREFIXES;
		     p = strtok_r(NULL, ":", &save)) {
			if (!strcmp(p, "/"))
				whole_process = 1;
			snprintf(prefixes[n_prefixes++], sizeof prefixes[0], "%s", p);
		}
	}
	if ((v = getenv("FAULT_LOG"))) {
		int (*o)(const char *, int, ...) = real("open");
		int fd = o(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		/* Out of the way of the low numbers the program under test uses. */
		if (fd >= 0) {
			logfd = fcntl(fd, F_DUPFD_CLOEXEC, 900);
			close(fd);
		}
	}
	armed_pid = getpid();
}

static int path_in_scope(const char *path)
{
	if (!path || path[0] != '/')
		return 0;
	for (int i = 0; i < n_prefixes; i++)
		if (!strncmp(path, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

static int fd_in_scope(int fd)
{
	if (fd < 0 || fd == logfd)
		return 0;
	if (whole_process)
		return fd > 2;
	return fd < MAX_FD && tracked[fd];
}

static int at_in_scope(int dirfd, const char *path)
{
	if (path && path[0] == '/')
		return path_in_scope(path);
	return dirfd != AT_FDCWD && fd_in_scope(dirfd);
}

/* What each low descriptor was opened as, for the log. */
#define NAMED_FDS 256
static char fd_paths[NAMED_FDS][200];

static void track_as(int fd, int on, const char *path)
{
	if (fd >= 0 && fd < MAX_FD)
		tracked[fd] = (unsigned char)on;
	if (fd >= 0 && fd < NAMED_FDS)
		snprintf(fd_paths[fd], sizeof fd_paths[0], "%s", on && path ? path : "");
}

static void track(int fd, int on)
{
	track_as(fd, on, NULL);
}

static void log_line(const char *what, long n, const char *fn, const char *target, const char *err)
{
	if (logfd < 0)
		return;
	char line[1400];
	int len = snprintf(line, sizeof line, "%s %ld %s %s%s%s\n", what, n, fn, target, err ? " " : "",
			   err ? err : "");
	if (len > 0)
		(void)syscall(SYS_write, logfd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

static const char *errname(int e)
{
	switch (e) {
	case SHORT: return "SHORT";
	case EIO: return "EIO";
	case ENOSPC: return "ENOSPC";
	case EDQUOT: return "EDQUOT";
	case EFBIG: return "EFBIG";
	case EINTR: return "EINTR";
	case EACCES: return "EACCES";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case ENOMEM: return "ENOMEM";
	case EBUSY: return "EBUSY";
	case ENOLCK: return "ENOLCK";
	case EWOULDBLOCK: return "EWOULDBLOCK";
	case EROFS: return "EROFS";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENOBUFS: return "ENOBUFS";
	default: return "E?";
	}
}

/*
 * Decides whether this eligible call fails. Returns 0 to call through, or the
 * errno to fail with (SHORT for a short transfer). `errs` is the call's list.
 */
static int decide(const char *fn, const char *target, const int *errs, int n_errs)
{
	if (mode == OFF || getpid() != armed_pid)
		return 0;
	long n = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
	log_line("call", n, fn, target, NULL);
	int fail = 0;
	if (mode == NTH)
		fail = n == fail_n || (persist && fail_n > 0 && n > fail_n);
	else if (mode == RANDOM)
		fail = mix(seed * 1000003ULL + (uint64_t)n) % 1000 < prob;
	if (!fail)
		return 0;
	if (kill_action) {
		log_line("kill", n, fn, target, NULL);
		(void)syscall(SYS_kill, getpid(), SIGKILL);
	}
	int e = errs[mix(seed ^ ((uint64_t)n << 20) ^ 0x5eedULL) % (uint64_t)n_errs];
	log_line("inject", n, fn, target, errname(e));
	return e;
}

static const char *fdname(int fd)
{
	static __thread char buf[240];
	if (fd >= 0 && fd < NAMED_FDS && fd_paths[fd][0])
		snprintf(buf, sizeof buf, "fd%d=%s", fd, fd_paths[fd]);
	else
		snprintf(buf, sizeof buf, "fd%d", fd);
	return buf;
}

#define LIST(...) (const int[]){__VA_ARGS__}, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

#define OPEN_ERRS LIST(EACCES, EMFILE, ENFILE, EIO, ENOMEM, ENOSPC, EINTR)

/* ---- open family ---- */

static int open_common(const char *fn, int dirfd, const char *path, int flags, mode_t md)
{
	int in = at_in_scope(dirfd, path);
	if (in) {
		int e = decide(fn, path, OPEN_ERRS);
		if (e) {
			errno = e;
			return -1;
		}
	}
	static int (*o)(int, const char *, int, ...);
	if (!o)
		o = real("openat");
	int fd = o(dirfd, path, flags, md);
	if (fd >= 0)
		track_as(fd, in, path);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t md = mode_arg(flags, ap);
	va_end(ap);
	return open_common("open", AT_FDCWD, path, flags, md);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t md = mode_arg(flags, ap);
	va_end(ap);
	return open_common("open64", AT_FDCWD, path, flags, md);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t md = mode_arg(flags, ap);
	va_end(ap);
	return open_common("openat", dirfd, path, flags, md);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t md = mode_arg(flags, ap);
	va_end(ap);
	return open_common("openat64", dirfd, path, flags, md);
}

int close(int fd)
{
	static int (*c)(int);
	if (!c)
		c = real("close");
	if (fd == logfd && fd >= 0 && getpid() == armed_pid) {
		errno = EBADF;
		return -1;
	}
	track(fd, 0);
	return c(fd);
}

/* ---- data ---- */

ssize_t read(int fd, void *buf, size_t count)
{
	static ssize_t (*r)(int, void *, size_t);
	if (!r)
		r = real("read");
	if (fd_in_scope(fd)) {
		int e = decide("read", fdname(fd), LIST(EIO, EINTR, SHORT));
		if (e == SHORT && count > 1)
			return r(fd, buf, count / 2);
		if (e && e != SHORT) {
			errno = e;
			return -1;
		}
	}
	return r(fd, buf, count);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	static ssize_t (*w)(int, const void *, size_t);
	if (!w)
		w = real("write");
	if (fd_in_scope(fd)) {
		int e = decide("write", fdname(fd), LIST(EIO, ENOSPC, EDQUOT, EFBIG, EINTR, SHORT));
		if (e == SHORT && count > 1)
			return w(fd, buf, count / 2);
		if (e && e != SHORT) {
			errno = e;
			return -1;
		}
	}
	return w(fd, buf, count);
}

int fsync(int fd)
{
	static int (*f)(int);
	if (!f)
		f = real("fsync");
	if (fd_in_scope(fd)) {
		int e = decide("fsync", fdname(fd), LIST(EIO, ENOSPC, EDQUOT));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd);
}

int fdatasync(int fd)
{
	static int (*f)(int);
	if (!f)
		f = real("fdatasync");
	if (fd_in_scope(fd)) {
		int e = decide("fdatasync", fdname(fd), LIST(EIO, ENOSPC, EDQUOT));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd);
}

int flock(int fd, int op)
{
	static int (*f)(int, int);
	if (!f)
		f = real("flock");
	if (fd_in_scope(fd)) {
		/* EWOULDBLOCK only for a non-blocking try: another holder. */
		int e = (op & LOCK_NB) ? decide("flock", fdname(fd), LIST(ENOLCK, EINTR, EWOULDBLOCK))
				       : decide("flock", fdname(fd), LIST(ENOLCK, EINTR));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd, op);
}

/* ---- names ---- */

int rename(const char *from, const char *to)
{
	static int (*f)(const char *, const char *);
	if (!f)
		f = real("rename");
	if (path_in_scope(from) || path_in_scope(to)) {
		int e = decide("rename", to, LIST(EIO, ENOSPC, EDQUOT, EACCES, EBUSY));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	static int (*f)(int, const char *, int, const char *);
	if (!f)
		f = real("renameat");
	if (at_in_scope(fd1, from) || at_in_scope(fd2, to)) {
		int e = decide("renameat", to, LIST(EIO, ENOSPC, EDQUOT, EACCES, EBUSY));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	static int (*f)(int, const char *, int, const char *, unsigned);
	if (!f)
		f = real("renameat2");
	if (at_in_scope(fd1, from) || at_in_scope(fd2, to)) {
		int e = decide("renameat2", to, LIST(EIO, ENOSPC, EDQUOT, EACCES, EBUSY));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd1, from, fd2, to, flags);
}

int unlink(const char *path)
{
	static int (*f)(const char *);
	if (!f)
		f = real("unlink");
	if (path_in_scope(path)) {
		int e = decide("unlink", path, LIST(EIO, EACCES, EBUSY, EROFS));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	static int (*f)(int, const char *, int);
	if (!f)
		f = real("unlinkat");
	if (at_in_scope(dirfd, path)) {
		int e = decide("unlinkat", path, LIST(EIO, EACCES, EBUSY, EROFS));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(dirfd, path, flags);
}

int mkdir(const char *path, mode_t md)
{
	static int (*f)(const char *, mode_t);
	if (!f)
		f = real("mkdir");
	if (path_in_scope(path)) {
		int e = decide("mkdir", path, LIST(EACCES, ENOSPC, EIO));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(path, md);
}

/* ---- metadata (Rust's std calls statx, falling back to the *64 calls) ---- */

int statx(int dirfd, const char *path_arg, int flags, unsigned int mask, struct statx *buf)
{
	/* Declared nonnull, but Rust's std probes statx with a null path. */
	const char *volatile path = path_arg;
	static int (*f)(int, const char *, int, unsigned int, struct statx *);
	if (!f)
		f = real("statx");
	int in = (path && path[0] == '\0' && (flags & AT_EMPTY_PATH)) ? fd_in_scope(dirfd) : at_in_scope(dirfd, path);
	if (in) {
		int e = decide("statx", path && path[0] ? path : fdname(dirfd), LIST(EIO, ENOMEM, EACCES));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(dirfd, path, flags, mask, buf);
}

int fstat64(int fd, struct stat64 *buf)
{
	static int (*f)(int, struct stat64 *);
	if (!f)
		f = real("fstat64");
	if (fd_in_scope(fd)) {
		int e = decide("fstat64", fdname(fd), LIST(EIO, ENOMEM));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd, buf);
}

int stat64(const char *path, struct stat64 *buf)
{
	static int (*f)(const char *, struct stat64 *);
	if (!f)
		f = real("stat64");
	if (path_in_scope(path)) {
		int e = decide("stat64", path, LIST(EIO, ENOMEM, EACCES));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(path, buf);
}

int lstat64(const char *path, struct stat64 *buf)
{
	static int (*f)(const char *, struct stat64 *);
	if (!f)
		f = real("lstat64");
	if (path_in_scope(path)) {
		int e = decide("lstat64", path, LIST(EIO, ENOMEM, EACCES));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(path, buf);
}

/* The plain names, which nix calls and glibc 2.33+ exports apart from the
 * *64 ones: the same calls on the same struct on 64-bit, so the same faults. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "struct stat is struct stat64 here");

int fstat(int fd, struct stat *buf)
{
	return fstat64(fd, (struct stat64 *)buf);
}

int lstat(const char *path, struct stat *buf)
{
	return lstat64(path, (struct stat64 *)buf);
}

/* ---- the log socket ---- */

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int (*f)(int, const struct sockaddr *, socklen_t);
	if (!f)
		f = real("connect");
	int in = fd_in_scope(fd);
	char path[sizeof(struct sockaddr_un)] = "";
	if (addr && addr->sa_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (n >= sizeof un->sun_path)
			n = sizeof un->sun_path - 1;
		memcpy(path, un->sun_path, n);
		path[n] = '\0';
		in = in || path_in_scope(path);
	}
	if (in) {
		int e = decide("connect", path[0] ? path : fdname(fd), LIST(ECONNREFUSED, EACCES, ENOBUFS));
		if (e) {
			errno = e;
			return -1;
		}
	}
	int rc = f(fd, addr, len);
	if (rc == 0 && in)
		track_as(fd, 1, path);
	return rc;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	static ssize_t (*f)(int, const void *, size_t, int);
	if (!f)
		f = real("send");
	if (fd_in_scope(fd)) {
		int e = decide("send", fdname(fd), LIST(ENOBUFS, ECONNREFUSED, EINTR));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen)
{
	static ssize_t (*f)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	if (!f)
		f = real("sendto");
	int in = fd_in_scope(fd);
	if (!in && addr && addr->sa_family == AF_UNIX)
		in = path_in_scope(((const struct sockaddr_un *)addr)->sun_path);
	if (in) {
		int e = decide("sendto", fdname(fd), LIST(ENOBUFS, ECONNREFUSED, EINTR));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fd, buf, len, flags, addr, alen);
}

/* ---- the mail command's plumbing (FAULT_SCOPE=/ only) ---- */

int memfd_create(const char *name, unsigned int flags)
{
	static int (*f)(const char *, unsigned int);
	if (!f)
		f = real("memfd_create");
	if (whole_process) {
		int e = decide("memfd_create", name, LIST(EMFILE, ENFILE, ENOMEM));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(name, flags);
}

int pipe2(int fds[2], int flags)
{
	static int (*f)(int[2], int);
	if (!f)
		f = real("pipe2");
	if (whole_process) {
		int e = decide("pipe2", "-", LIST(EMFILE, ENFILE));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fds, flags);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	static int (*f)(struct pollfd *, nfds_t, int);
	if (!f)
		f = real("poll");
	/* Rust's runtime polls 0, 1 and 2 at start-up: only polls of other descriptors. */
	if (whole_process && n > 0 && fds[0].fd > 2) {
		int e = decide("poll", fdname(fds[0].fd), LIST(EINTR, ENOMEM));
		if (e) {
			errno = e;
			return -1;
		}
	}
	return f(fds, n, timeout);
}
