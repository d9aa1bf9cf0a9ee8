#!/bin/sh
# Builds and installs twostep on Debian/Ubuntu. Never edits PAM or sshd configuration.
#   sudo ./install.sh             install (safe to re-run; keeps an existing config)
#   sudo ./install.sh --uninstall remove the module and command (keeps config and state)
set -eu
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo ./install.sh)" >&2; exit 1; }

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)
moddir=/lib/$multiarch/security

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$moddir/pam_twostep.so" /usr/sbin/twostep
    echo "Removed pam_twostep.so and twostep. Config (/etc/security/twostep.toml) and state (/var/lib/twostep) were kept."
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq build-essential libpam0g-dev pkg-config curl ca-certificates >/dev/null
if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] || curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    PATH="$HOME/.cargo/bin:$PATH"
fi
cargo build --release --locked
install -D -o root -g root -m 0644 target/release/libpam_twostep.so "$moddir/pam_twostep.so"
install -D -o root -g root -m 0755 target/release/twostep /usr/sbin/twostep
if [ ! -e /etc/security/twostep.toml ]; then
    install -D -o root -g root -m 0644 pam-config/twostep.toml /etc/security/twostep.toml
fi
install -d -o root -g root -m 0700 /var/lib/twostep /var/lib/twostep/secrets /var/lib/twostep/tally
echo "Installed $moddir/pam_twostep.so and /usr/sbin/twostep."
echo "Next: enroll a user (twostep enroll USER), then add 'auth required pam_twostep.so' to /etc/pam.d/sshd."
