#!/bin/sh
# Runs the whole test suite: formatting, lints, unit tests, and the integration
# tests that load the real pam_twostep.so through libpam, run the real twostep
# binary, a real sshd and a real SMTP path. Needs root (tests create root-owned
# files, temporary users and /etc/pam.d/twostep-test-* files, all removed again).
#
#   sudo scripts/test.sh            # everything
#   sudo scripts/test.sh login      # only tests whose name matches "login"
#                                   # (the memory and fault-injection checks run only without a filter)
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: the tests need root (they create root-owned state files and test users); run: sudo $0" >&2
    exit 1
fi

missing=""
for pkg in libpam0g-dev libfaketime pamtester openssh-server openssh-client python3-paramiko python3-pexpect python3-aiosmtpd msmtp oathtool libpam-google-authenticator libpam-oath valgrind strace man-db lintian build-essential pkg-config dpkg-dev curl ca-certificates libnss-wrapper slapd ldap-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "scripts/test.sh: installing test dependencies:$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

# tests/deb.rs builds the package with cargo-deb (about 2 minutes to install once).
if ! cargo deb --version >/dev/null 2>&1; then
    echo "scripts/test.sh: installing cargo-deb" >&2
    cargo install cargo-deb --locked --quiet
fi

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
# The cdylib, the admin binary and the test PAM application (tests rebuild them too).
cargo build --quiet --lib --bins --examples
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
[ $# -gt 0 ] && exit 0   # a filtered run: only the tests asked for
# The unit and in-process tests need no root (they are given the owner of the state files).
scripts/unit-tests-unprivileged

# Memory and fault injection through the real .so, in their short CI modes
# (1.5 to 3 minutes; long modes by hand: docs/security.md, "Memory" and
# "Fault injection").
if [ $# -eq 0 ]; then
    scripts/memcheck
    scripts/faultcheck
    scripts/faultcheck --scope process --no-systematic --seeds 50
fi
