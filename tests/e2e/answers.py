"""Answers shared by the e2e drivers (ssh_pty.py, paramiko_login.py)."""
import re
import time


def resolve(answer, timeout=30):
    """An answer is typed as is, unless it is a from_file() marker
    ("\x01from_file\x01PATH\x01REGEX", see tests/e2e/mod.rs): then the file is
    polled until REGEX matches and its first group is typed (e.g. a code that
    arrived by email a moment ago)."""
    if not answer.startswith("\x01from_file\x01"):
        return answer
    _, _, path, pattern = answer.split("\x01", 3)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                m = re.search(pattern, f.read())
            if m:
                return m.group(1)
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("from_file: %r never matched in %s" % (pattern, path))
        time.sleep(0.05)
