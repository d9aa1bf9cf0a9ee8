"""Answers shared by the e2e drivers (ssh_pty.py, paramiko_login.py)."""
import base64
import hashlib
import hmac
import re
import struct
import time


def totp_now(base32_secret, period=30, digits=6):
    """RFC 6238 (HMAC-SHA1), what an authenticator app shows now."""
    key = base64.b32decode(base32_secret + "=" * (-len(base32_secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // period), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10 ** digits
    return str(value).zfill(digits)


def resolve(answer, seen="", timeout=30):
    """An answer is typed as is, unless it is a marker (see tests/e2e/mod.rs):
    - from_file() ("\x01from_file\x01PATH\x01REGEX"): the file is polled until
      REGEX matches and its first group is typed (e.g. a code that arrived by
      email a moment ago);
    - totp_shown() ("\x01totp_shown"): the current code for the secret of the
      last otpauth:// URI in `seen` (what the user was shown so far), as a
      person would type it after scanning the QR code."""
    if answer == "\x01totp_shown":
        secrets = re.findall(r"otpauth://\S*?[?&]secret=([A-Z2-7]+)", seen)
        if not secrets:
            raise SystemExit("totp_shown: no otpauth URI was shown")
        return totp_now(secrets[-1])
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
