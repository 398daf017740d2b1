#!/bin/bash
# Builds the sandbox base image offline from Debian packages:
#   debootstrap --variant=minbase bookworm  +  chroot apt-get install <packages.txt>
#   tar | docker import  (labelled with the content hash that Build-SandboxImage checks).
# Usage: build-rootfs.sh IMAGE HASH [MIRROR]   (run as root; called by Build-SandboxImage)
set -euo pipefail
image="$1"; hash="$2"; mirror="${3:-http://deb.debian.org/debian}"
here="$(cd "$(dirname "$0")" && pwd)"
mapfile -t packages < <(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$')
work="$(mktemp -d /var/tmp/upgradeops-sandbox-rootfs.XXXXXX)"
root="$work/rootfs"

cleanup() {
  # Never delete through a mount: unmount first, then stay on this file system.
  for m in "$root/proc" "$root/sys" "$root/dev/pts"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "sandbox base: debootstrap --variant=minbase bookworm ($mirror)"
start=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; echo "debootstrap failed" >&2; exit 1; }
echo "sandbox base: debootstrap done in $(( $(date +%s) - start ))s"

# No service starts inside the chroot; no default PostgreSQL cluster (the entrypoint runs initdb).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/postgresql-common/createcluster.d"
echo 'create_main_cluster = false' > "$root/etc/postgresql-common/createcluster.d/upgradeops.conf"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$root/etc/apt/apt.conf.d/90upgradeops"

mount -t proc proc "$root/proc"
echo "sandbox base: apt-get install ${packages[*]}"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
if ! { chroot "$root" apt-get update -q && chroot "$root" apt-get install -y -q "${packages[@]}"; } > "$work/apt.log" 2>&1; then
  tail -n 30 "$work/apt.log" >&2; echo "apt-get install in the chroot failed" >&2; exit 1
fi
chroot "$root" apt-get clean
umount "$root/proc"
echo "sandbox base: packages installed in $(( $(date +%s) - start ))s"

# Slim down and make the tree neutral: no apt lists/caches, docs, host files or logs.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
       "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
: > "$root/etc/machine-id"
# The containers' HTTP healthcheck (a Python start per check cost more CPU than the rest of an idle sandbox).
install -m 755 "$here/http-health" "$root/usr/local/bin/http-health"
# Paces a healthcheck once it has passed (an exec every ~22 s in a healthy container instead of every 1-3 s).
install -m 755 "$here/paced-health" "$root/usr/local/bin/paced-health"
# Directories the role entrypoints use.
mkdir -p "$root/opt/sandbox/storage" "$root/opt/sandbox/repositories" "$root/run/postgresql"
chroot "$root" chown postgres:postgres /run/postgresql

echo "sandbox base: docker import $image"
tar --numeric-owner -C "$root" -c . | docker import \
  --change "LABEL upgradeops.sandbox.base-hash=$hash" \
  --change "LABEL org.opencontainers.image.title=upgradeops-sandbox-base" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" \
  --change 'CMD ["/bin/bash"]' \
  - "$image" > /dev/null
echo "sandbox base: $(docker image inspect --format '{{.Id}} {{.Size}}' "$image")"
