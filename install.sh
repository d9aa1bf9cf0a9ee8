#!/bin/sh
# Builds and installs twostep on a Debian/Ubuntu machine from this checkout.
#
#   sudo ./install.sh              install, or update an earlier install (safe to re-run)
#   sudo ./install.sh --uninstall  remove what install.sh installed (keeps config and state)
#
# Installs: the build dependencies (apt), a release build, pam_twostep.so into
# the multiarch PAM module directory, twostep into /usr/sbin, the default
# /etc/security/twostep.toml (root 0644, only if there is none: an admin's file
# is never overwritten), /var/lib/twostep/{secrets,tally} (root 0700), the man
# pages, the pam-auth-update profile (off) and the example PAM/sshd snippets.
#
# It never edits PAM or sshd configuration: turning twostep on is the admin's
# step (README.md, "Configure sshd").
set -eu
cd "$(dirname "$0")"

say() { echo "install.sh: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: sudo $0 $*"

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine 2>/dev/null || echo "$(uname -m)-linux-gnu")
# Where libpam looks for modules: next to pam_unix.so.
moddir=/usr/lib/$multiarch/security
for d in "/usr/lib/$multiarch/security" "/lib/$multiarch/security" /usr/lib/security /lib/security; do
    if [ -e "$d/pam_unix.so" ]; then moddir=$d; break; fi
done
docdir=/usr/share/doc/twostep
profile=/usr/share/pam-configs/twostep
manpages="pam_twostep.8 twostep.8 twostep.toml.5"

uninstall() {
    # Removing the module while a PAM file still loads it would break those logins.
    users=$(grep -l -E '^[^#]*pam_twostep\.so' /etc/pam.d/* 2>/dev/null || true)
    if [ -n "$users" ]; then
        die "these PAM files still use pam_twostep.so: $(echo $users). Remove those lines first (for common-auth: pam-auth-update --disable twostep), then run $0 --uninstall again."
    fi
    rm -f "$moddir/pam_twostep.so" /usr/sbin/twostep "$profile"
    rm -rf /usr/libexec/twostep /run/twostep
    for page in $manpages; do rm -f "/usr/share/man/man${page##*.}/$page.gz"; done
    rm -rf "$docdir"
    say "removed pam_twostep.so, twostep, the man pages and examples."
    say "kept /etc/security/twostep.toml and /var/lib/twostep (secrets and state); delete them yourself if you no longer need them."
}

install_deps() {
    missing=""
    for pkg in build-essential libpam0g-dev pkg-config dpkg-dev curl ca-certificates; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        say "installing build dependencies:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq $missing >/dev/null
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        if [ ! -x "$HOME/.cargo/bin/cargo" ]; then
            say "installing Rust (rustup, minimal profile) for root"
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        fi
        PATH="$HOME/.cargo/bin:$PATH"
    fi
}

case "${1:-}" in
    --uninstall) uninstall; exit 0 ;;
    "") ;;
    *) die "unknown argument '$1' (use no argument to install, or --uninstall)" ;;
esac

install_deps
say "building (release)"
cargo build --release --locked --quiet

install -d -o root -g root -m 0755 "$moddir"
install -o root -g root -m 0644 target/release/libpam_twostep.so "$moddir/pam_twostep.so"
install -D -o root -g root -m 0755 target/release/twostep /usr/sbin/twostep
if [ -e /etc/security/twostep.toml ]; then
    say "kept the existing /etc/security/twostep.toml (the default is in $docdir/examples/twostep.toml)"
else
    install -D -o root -g root -m 0644 pam-config/twostep.toml /etc/security/twostep.toml
fi
install -d -o root -g root -m 0700 /var/lib/twostep /var/lib/twostep/secrets /var/lib/twostep/tally
for page in $manpages; do
    section=${page##*.}
    install -d -m 0755 "/usr/share/man/man$section"
    gzip -9n -c "packaging/man/$page" > "/usr/share/man/man$section/$page.gz"
    chmod 0644 "/usr/share/man/man$section/$page.gz"
done
install -D -o root -g root -m 0644 pam-config/pam-auth-update "$profile"
install -d -m 0755 "$docdir/examples/pam.d" "$docdir/examples/sshd_config.d" "$docdir/examples/fail2ban"
install -m 0644 pam-config/twostep.toml "$docdir/examples/"
install -m 0644 pam-config/pam.d/* "$docdir/examples/pam.d/"
install -m 0644 pam-config/sshd_config.d/* "$docdir/examples/sshd_config.d/"
install -m 0644 pam-config/fail2ban/* "$docdir/examples/fail2ban/"
install -d -o root -g root -m 0755 /usr/libexec/twostep
install -o root -g root -m 0755 pam-config/sms/sms-http-gateway pam-config/sms/sms-email-gateway /usr/libexec/twostep/

say "installed $moddir/pam_twostep.so, /usr/sbin/twostep, man pages (man pam_twostep) and examples in $docdir/examples."
say "your PAM and sshd files were not changed. Next:"
say "  1. twostep enroll USER            (scan the QR code with the authenticator app)"
say "  2. set up sshd as in README.md, 'Configure sshd', keeping a root shell open"
