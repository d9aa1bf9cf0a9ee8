#!/bin/sh
# Runs "$@" as root inside a throwaway copy of this machine: a private mount
# namespace whose root is an overlay (the real / read-only below, a tmpfs on
# top). Whatever the command installs or removes (dpkg -i, pam-auth-update,
# ...) vanishes when it exits; the real file system is never written, and
# tests running at the same time do not see it. /proc, /dev, /sys and /tmp
# are the real ones, and so are the directories listed in OVERLAY_BIND
# (space-separated absolute paths, e.g. a cargo target directory to reuse).
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
    exec chroot "$scratch/root" "$@"
' overlay "$scratch" "$@"
