#!/bin/sh
# Runs "$@" as root inside a throwaway copy of this machine: a private mount
# namespace whose root is an overlay (the real / read-only below, a tmpfs on
# top). Whatever the command installs or removes (dpkg -i, pam-auth-update,
# ...) vanishes when it exits; the real file system is never written, and
# tests running at the same time do not see it. /proc, /dev, /sys and /tmp
# are the real ones, and so are the directories listed in OVERLAY_BIND
# (space-separated absolute paths, e.g. a cargo target directory to reuse).
#
# The copy's /etc/pam.d is a snapshot taken at the start (later changes to
# the real one do not show through). It starts as a machine where PAM does
# not use twostep, whatever the
# real one does (an admin who followed the README quick start, or enabled the
# pam-auth-update profile): the profile is removed from the common-* files
# and every line loading pam_twostep.so is taken out of the copy's /etc/pam.d.
# The tests install and remove the package from there; set OVERLAY_KEEP_PAM=1
# to see the machine's PAM files as they are.
# Used by tests/deb.rs and tests/install.rs.
#   [OVERLAY_BIND="/dir ..."] tests/e2e/overlay.sh SCRATCH_DIR COMMAND [ARGS...]
set -eu
scratch=$1
shift
exec unshare --mount --propagation private /bin/sh -eu -c '
    scratch=$1; shift
    mount -t tmpfs -o mode=0755 twostep-overlay "$scratch"
    mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
    mount -t overlay twostep-overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/root"
    for d in /proc /dev /sys /tmp ${OVERLAY_BIND:-}; do mount --rbind "$d" "$scratch/root$d"; done
    # /etc/pam.d as it is now, private to the copy: PAM files other tests create
    # on the real machine meanwhile (twostep-test-*) must not show through the
    # overlay and make the package refuse its removal.
    mkdir "$scratch/pam.d"
    cp -a /etc/pam.d/. "$scratch/pam.d/"
    mount --bind "$scratch/pam.d" "$scratch/root/etc/pam.d"
    exec chroot "$scratch/root" /bin/sh -eu -c "
        if [ -z \"\${OVERLAY_KEEP_PAM:-}\" ]; then
            if command -v pam-auth-update >/dev/null; then
                DEBIAN_FRONTEND=noninteractive pam-auth-update --package --remove twostep
            fi
            for f in \$(grep -l -E \"^[^#]*pam_twostep\" /etc/pam.d/* 2>/dev/null || true); do
                sed -i -E \"/^[^#]*pam_twostep/d\" \"\$f\"
            done
        fi
        exec \"\$@\"
    " overlay "$@"
' overlay "$scratch" "$@"
