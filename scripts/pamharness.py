"""Shared harness of scripts/memcheck and scripts/faultcheck.

A private installation in a temp directory (config, secrets and tally
directories, a PAM service directory naming the freshly built
libpam_twostep.so by absolute path, a datagram socket standing in for
syslog), a local SMTP sink for the email path, and logins through the real
module: examples/pamdrive calls pam_start_confdir and pam_authenticate, and
this harness answers each prompt from what the module said before it (the
code of the secret shown at enrollment, the code in the delivered email).

Everything goes through the public behaviour (the .so, the twostep binary,
pamdrive, the files on disk), never through the crate's internal API, so it
keeps working while src/ is restructured. Codes are computed with oathtool,
an implementation independent of twostep's own.
"""

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "debug")
MODULE = os.path.join(TARGET, "libpam_twostep.so")
TWOSTEP = os.path.join(TARGET, "twostep")
PAMDRIVE = os.path.join(TARGET, "examples", "pamdrive")

# A fixed base32 secret for tests (the one tests/common uses); never used outside tests.
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SERVICE = "twostep-fault"
FROM = "twostep@test.example"
DENY = 5


def build():
    """Builds the module, the admin binary and pamdrive: never a stale .so."""
    subprocess.run(["cargo", "build", "--quiet", "--lib", "--bins", "--examples"], cwd=REPO, check=True)
    for f in (MODULE, TWOSTEP, PAMDRIVE):
        if not os.path.exists(f):
            sys.exit(f"{f} was not built")


def totp(secret, delta=0):
    """The TOTP code of `secret` now (+ `delta` steps), by oathtool."""
    at = int(time.time()) + 30 * delta
    out = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "-N", f"@{at}"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def wrong_code(secret):
    """A code that is wrong at every step of a ±3 window around now."""
    at = int(time.time()) - 90
    out = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "-w", "6", "-N", f"@{at}"], capture_output=True, text=True, check=True
    )
    window = set(out.stdout.split())
    return next(c for c in (f"{n:06d}" for n in range(1000000)) if c not in window)


# The SMTP sink the Rust tests use too (tests/common/smtp.rs): INBOX/NNNNN.eml, .rcpt, .from.
SMTP_SINK = os.path.join(REPO, "tests", "common", "smtp_sink.py")


class Smtp:
    """A local SMTP server (tests/common/smtp_sink.py) writing each message to INBOX/NNNNN.eml."""

    def __init__(self, dir):
        self.inbox = os.path.join(dir, "inbox")
        os.mkdir(self.inbox)
        self.proc = subprocess.Popen(["/usr/bin/python3", SMTP_SINK, self.inbox], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        try:
            self.port = int(line)
        except ValueError:
            self.stop()
            sys.exit(f"the SMTP sink did not start (python3-aiosmtpd?): {line!r}")

    def count(self):
        return len([n for n in os.listdir(self.inbox) if n.endswith(".eml")])

    def wait_code(self, n, timeout):
        """The code in message number `n` (1-based), or None if it does not arrive in time."""
        deadline = time.monotonic() + timeout
        path = os.path.join(self.inbox, "%05d.eml" % n)
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)
        with open(path, "rb") as f:
            body = f.read().decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n", 1)[-1]
        codes = [w.strip() for w in body.split("\n") if re.fullmatch(r"\s*\d{6}\s*", w)]
        return codes[0] if codes else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()  # our own child, by PID
        self.proc.wait()


class Run:
    """What one pamdrive run did."""

    def __init__(self):
        self.messages = []  # (style, text)
        self.steps = []  # (step, name)
        self.returncode = None
        self.hung = False
        self.stderr = ""
        self.bad_lines = []

    @property
    def result(self):
        for step, name in self.steps:
            if step in ("authenticate", "start"):
                return name
        return None

    def said(self, fragment):
        return any(fragment in " ".join(t.split()) for s, t in self.messages if not s.startswith("prompt"))

    def prompts(self):
        return [t for s, t in self.messages if s.startswith("prompt")]

    def signal(self):
        return -self.returncode if self.returncode is not None and self.returncode < 0 else None


class Install:
    """A private installation: config, secrets, tally, PAM service, log socket."""

    # What snapshot() keeps and restore() puts back: the state and the config's compiled copy.
    STATE = ("secrets", "tally", "run")

    def __init__(self, config_extra=""):
        self.dir = tempfile.mkdtemp(prefix="twostep-fault-")
        os.chmod(self.dir, 0o700)
        self.secrets = os.path.join(self.dir, "secrets")
        self.tally = os.path.join(self.dir, "tally")
        self.confdir = os.path.join(self.dir, "pam.d")
        for d in (self.secrets, self.tally, self.confdir):
            os.mkdir(d, 0o700)
        self.config = os.path.join(self.dir, "twostep.toml")
        # The compiled copy of the config, as an installation has one (src/config/cache.rs).
        self.copy_dir = os.path.join(self.dir, "run")
        self.copy = os.path.join(self.copy_dir, "config.cache")
        self.log_path = os.path.join(self.dir, "log.sock")
        self.log_lines = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.log_path)
        threading.Thread(target=self._drain, daemon=True).start()
        self.write_config(config_extra)
        # twostep, then pam_permit: a PAM_IGNORE from twostep would let this
        # stack succeed, so "never PAM_SUCCESS without the code" also catches
        # a module that steps aside for an enrolled user.
        with open(os.path.join(self.confdir, SERVICE), "w") as f:
            f.write(
                f"auth required {MODULE} config={self.config} config_cache={self.copy} log_socket={self.log_path}\n"
                "auth required pam_permit.so\n"
            )

    def _drain(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            self.log_lines.append(data.decode("utf-8", "replace"))

    def write_config(self, extra):
        with open(self.config, "w") as f:
            f.write(f'issuer = "Test District"\nsecrets_dir = "{self.secrets}"\ntally_dir = "{self.tally}"\n{extra}\n')
        os.chmod(self.config, 0o644)

    def twostep(self, *args, stdin=""):
        cmd = [TWOSTEP, "--config", self.config, "--log-socket", self.log_path, *args]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)

    def status(self, user):
        """`twostep status USER --json` as a dict, or None when it fails."""
        out = self.twostep("status", user, "--json")
        if out.returncode != 0:
            return None
        try:
            return json.loads(out.stdout)
        except json.JSONDecodeError:
            return None

    def record(self, user):
        """The user's secrets file: (sha256 of its bytes, parsed TOML or None), or None if absent."""
        path = os.path.join(self.secrets, user)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        try:
            parsed = tomllib.loads(data.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            parsed = None
        return hashlib.sha256(data).hexdigest(), parsed

    def snapshot(self, name):
        dest = os.path.join(self.dir, "snap-" + name)
        shutil.rmtree(dest, ignore_errors=True)
        os.mkdir(dest, 0o700)
        for d in self.STATE:
            if os.path.isdir(os.path.join(self.dir, d)):
                shutil.copytree(os.path.join(self.dir, d), os.path.join(dest, d), symlinks=True)
        return dest

    def restore(self, snap):
        for d in self.STATE:
            shutil.rmtree(os.path.join(self.dir, d), ignore_errors=True)
            if os.path.isdir(os.path.join(snap, d)):
                shutil.copytree(os.path.join(snap, d), os.path.join(self.dir, d), symlinks=True)

    def login(self, user, answerer, wrapper=(), env=None, timeout=40):
        """Runs pamdrive for `user`, answering each prompt with `answerer(run)`
        (None: end of input, like Ctrl-D). A run still going after `timeout`
        seconds is killed and marked hung."""
        cmd = [*wrapper, PAMDRIVE, "--confdir", self.confdir, "--service", SERVICE, "--user", user]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        run = Run()
        lines = queue.Queue()

        def read_out():
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        err = []

        def read_err():
            err.append(proc.stderr.read())

        threading.Thread(target=read_out, daemon=True).start()
        t_err = threading.Thread(target=read_err, daemon=True)
        t_err.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                run.hung = True
                break
            if line is None:
                break
            try:
                v = json.loads(line)
            except json.JSONDecodeError:
                run.bad_lines.append(line)
                continue
            if "step" in v:
                run.steps.append((v["step"], v["name"]))
                continue
            if "style" not in v:
                continue
            run.messages.append((v["style"], v["text"]))
            if v["style"].startswith("prompt"):
                answer = answerer(run)
                try:
                    if answer is None:
                        proc.stdin.close()
                    else:
                        proc.stdin.write(answer + "\n")
                        proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            run.hung = True
            proc.kill()  # our own child, by PID
            proc.wait()
        t_err.join(timeout=5)
        run.returncode = proc.returncode
        run.stderr = "".join(err)
        return run

    def make_copy(self):
        """Waits until the config has settled (two seconds unchanged) and lets one
        login (of a user with no record) make its compiled copy."""
        time.sleep(max(0.0, os.stat(self.config).st_ctime + 2.2 - time.time()))
        self.login("nobody-copy", lambda run: None)
        if not os.path.exists(self.copy):
            sys.exit(f"no compiled copy of the config at {self.copy} after a login")

    def leftovers(self):
        """Temp files in the state directories and the compiled config's."""
        found = []
        for d in (self.secrets, self.tally, self.copy_dir):
            if os.path.isdir(d):
                found += [os.path.join(d, n) for n in os.listdir(d) if n.endswith(".tmp")]
        return found

    def bad_modes(self):
        """State files or directories that are not root's or are open to group/others."""
        bad = []
        for d in (self.secrets, self.tally):
            for p in [d] + [os.path.join(d, n) for n in os.listdir(d)]:
                st = os.lstat(p)
                if st.st_uid != 0 or st.st_mode & 0o077:
                    bad.append(f"{p} uid={st.st_uid} mode={st.st_mode & 0o7777:04o}")
        return bad

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- the login paths ----


class Answerer:
    """Answers prompts for one path and remembers whether the right code was typed."""

    def __init__(self, path, smtp):
        self.path = path
        self.smtp = smtp
        self.right_typed = False
        self.right_code = None  # the right code as typed (to try it again)
        self.shown_secret = None
        self.inbox_before = smtp.count() if smtp else 0

    def __call__(self, run):
        p = self.path.kind
        if p in ("success", "locked"):
            return self.right(totp(SECRET))
        if p in ("wrong", "lock"):
            return wrong_code(SECRET)
        if p == "email":
            prompt = run.prompts()[-1]
            if "email" in prompt:
                return "email"
            if run.said("A verification code was sent"):
                code = self.smtp.wait_code(self.inbox_before + 1, timeout=15)
                if code:
                    return self.right(code)
            return wrong_code(SECRET)
        if p == "enroll":
            for style, text in run.messages:
                m = re.search(r"[?&]secret=([A-Z2-7]+)", text)
                if m:
                    self.shown_secret = m.group(1)
            if self.shown_secret:
                return self.right(totp(self.shown_secret))
            return wrong_code(SECRET)
        raise ValueError(p)

    def right(self, code):
        self.right_typed = True
        self.right_code = code
        return code


class LoginPath:
    def __init__(self, kind, user):
        self.kind = kind
        self.user = user


PATHS = [
    LoginPath("success", "alice"),  # the right TOTP code
    LoginPath("wrong", "alice"),  # a wrong code: counted, refused
    LoginPath("email", "bob"),  # types "email", then the code from the delivered message
    LoginPath("enroll", "dave"),  # enrollment at login: the code of the secret shown
    LoginPath("lock", "erin"),  # the wrong code that reaches deny: the lock engages
    LoginPath("locked", "frank"),  # the right code while locked: refused unasked
]


def config_for(smtp):
    return (
        f"[lockout]\ndeny = {DENY}\n\n[policy]\nenroll_at_login = true\n\n"
        f'[email]\ncommand = ["/usr/bin/msmtp", "--host=127.0.0.1", "--port={smtp.port}", "--from={FROM}", "-t"]\n'
        f'from = "{FROM}"\n'
    )


def setup(inst, smtp):
    """Enrolls the users of PATHS through the admin command and gives alice and
    bob 2 failures, erin deny-1 and frank a lock, through unfaulted wrong logins."""
    for user in ("alice", "bob", "erin", "frank"):
        out = inst.twostep("enroll", user, "--secret-stdin", "--json", stdin=SECRET + "\n")
        if out.returncode != 0:
            sys.exit(f"twostep enroll {user} failed: {out.stderr}")
    out = inst.twostep("email", "bob", "bob@test.example")
    if out.returncode != 0:
        sys.exit(f"twostep email bob failed: {out.stderr}")
    # Failures on record before every path: a fault that made the module
    # read the tally as empty would show as a count that went down.
    for user, n in (("alice", 2), ("bob", 2), ("erin", DENY - 1), ("frank", DENY)):
        for _ in range(n):
            run = inst.login(user, lambda run: wrong_code(SECRET))
            if run.result != "PAM_AUTH_ERR":
                sys.exit(f"setup: a wrong code for {user} gave {run.result}")
    st = inst.status("frank")
    if not st or not st["locked_until"]:
        sys.exit(f"setup: frank is not locked: {st}")


def expect_unfaulted(path, run, before, after, answerer):
    """What a login of `path` must do when nothing fails; returns a list of problems."""
    problems = []
    want = {
        "success": "PAM_SUCCESS",
        "wrong": "PAM_AUTH_ERR",
        "email": "PAM_SUCCESS",
        "enroll": "PAM_SUCCESS",
        "lock": "PAM_AUTH_ERR",
        "locked": "PAM_AUTH_ERR",
    }[path.kind]
    if run.result != want:
        problems.append(f"result {run.result}, expected {want}")
    if after is None:
        problems.append("twostep status failed afterwards")
        return problems
    if path.kind == "wrong" and after["failures"] != before["failures"] + 1:
        problems.append(f"failures {before['failures']} -> {after['failures']}, expected +1")
    if path.kind == "lock" and not (after["failures"] == DENY and after["locked_until"]):
        problems.append(f"not locked after the {DENY}th wrong code: {after}")
    if path.kind == "locked" and (run.prompts() or not after["locked_until"]):
        problems.append(f"a locked user was asked or unlocked: prompts {run.prompts()}, {after}")
    if path.kind == "enroll" and not (answerer.shown_secret and after["enrolled"]):
        problems.append(f"enrollment at login did not enroll: {after}")
    if path.kind in ("success", "email") and after["failures"] != 0:
        problems.append(f"failures not cleared: {after}")
    return problems


def on_signals(cleanup):
    """Runs `cleanup` on SIGTERM/SIGINT/SIGHUP too (atexit alone misses signals)."""

    def handler(signum, frame):
        cleanup()
        sys.exit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, handler)
