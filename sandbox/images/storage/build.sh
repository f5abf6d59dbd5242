#!/usr/bin/env bash
# Builds the storage node image (lab "Lose a storage array"): a small Debian bookworm machine with DRBD, corosync,
# Pacemaker (crmsh), resource-agents and the NFS server, booted by QEMU directly (no Xen): the Debian kernel, the
# root filesystem as a read-only ext4 disk under a tmpfs overlay (the first stage is the Xen image's diskinit), a
# small /init that starts the exec agent (the Xen image's agent.py, the same file) and a console shell. Nothing is
# compiled.
#
# usage: build.sh [--out DIR] [--force]      (as root: debootstrap and chroot need it)
#   DIR defaults to $XENLAB_STORAGE_CACHE or /var/cache/xenlab/storage. The slow part (downloads, debootstrap, apt:
#   ~3 min) is cached in DIR/base-<key>/ keyed by base.sh and the kernel version; the image lands in DIR/<key>/
#   keyed by that and the files it is assembled from (seconds to redo); DIR/current points at it. A run with
#   nothing changed does nothing, so CI keeps DIR between runs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
XEN=$HERE/../xen
OUT=${XENLAB_STORAGE_CACHE:-/var/cache/xenlab/storage}
FORCE=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root (debootstrap, chroot)" >&2; exit 2; }
for t in debootstrap cpio dpkg-deb apt-get gzip sha256sum mkfs.ext4; do
  command -v $t >/dev/null || { echo "build.sh: missing $t (apt-get install debootstrap cpio)" >&2; exit 2; }
done
[ -x /bin/busybox ] || { echo "build.sh: missing /bin/busybox (apt-get install busybox-static)" >&2; exit 2; }
log() { echo "[storage-image $(date +%T)] $*"; }

export SUITE=bookworm
MIRROR=${MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)}
MIRROR=${MIRROR:-$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
export MIRROR=${MIRROR:-http://deb.debian.org/debian}
[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq

KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
KVER=$(apt-cache policy "$KPKG" | awk '/Candidate:/{print $2}')
export KPKG KVER
[ -n "$KPKG" ] && [ -n "$KVER" ] || { echo "build.sh: apt knows no kernel package" >&2; exit 1; }

BASEKEY=$( (cat "$HERE/base.sh"; echo "$KPKG=$KVER $SUITE") | sha256sum | cut -c1-16)
BASE=$OUT/base-$BASEKEY
KEY=$( (echo "$BASEKEY"; cat "$HERE/build.sh" "$HERE"/node/* "$XEN/dom0/agent.py" "$XEN/diskinit/init") | sha256sum | cut -c1-16)
DEST=$OUT/$KEY
mkdir -p "$OUT"
if [ -f "$DEST/manifest.json" ] && [ $FORCE = 0 ]; then
  ln -sfn "$KEY" "$OUT/current"
  log "cached: $DEST"
  exit 0
fi
if [ ! -f "$BASE/rootfs.tar" ] || [ $FORCE = 1 ]; then
  rm -rf "$BASE"
  bash "$HERE/base.sh" "$BASE.tmp"
  mv "$BASE.tmp" "$BASE"
fi
KV=${KPKG#linux-image-}

W=$(mktemp -d "${TMPDIR:-/tmp}/xenlab-storage-build.XXXXXX")
trap 'rm -rf "$W" "$DEST.tmp"' EXIT
cd "$W"

log "root disk (ext4)"
mkdir rootfs && tar -C rootfs -xf "$BASE/rootfs.tar"
R=$W/rootfs
install -m 755 "$HERE/node/init" "$R/init"
install -D -m 755 "$HERE/node/up" "$R/usr/local/lib/xenlab/storage-up"
# The exec agent is the Xen image's own (one protocol, one file).
install -D -m 755 "$XEN/dom0/agent.py" "$R/usr/local/lib/xenlab/agent.py"
install -D -m 644 "$HERE/node/bashrc" "$R/root/.bashrc"
for f in "$HERE"/node/sbin/*; do [ -e "$f" ] || continue; install -D -m 755 "$f" "$R/usr/local/sbin/$(basename "$f")"; done
echo "storage" > "$R/etc/hostname"
# Debian's nfs-kernel-server script starts no nfsd while /etc/exports is empty ("Not starting NFS kernel daemon: no
# exports"), so Pacemaker's nfsserver failed with "Failed to start NFS server: /proc/fs/nfsd/threads": here the
# exports are the exportfs resource's, added after nfsd runs. Start it regardless.
sed -i 's|^\([[:space:]]*\)if \[ -f /etc/exports \] && grep -q .*\$export_files$|\1if true  # xenlab: Pacemaker (exportfs) adds the exports after nfsd starts|' \
  "$R/etc/init.d/nfs-kernel-server"
grep -q 'if true  # xenlab' "$R/etc/init.d/nfs-kernel-server" || { echo "build.sh: nfs-kernel-server's exports test not found" >&2; exit 1; }
mkdir -p "$DEST.tmp"
MB=$(( $(du -sm "$R" | cut -f1) * 5 / 4 + 32 ))
mkfs.ext4 -q -F -L xenlab-storage -m 0 -d "$R" "$DEST.tmp/rootfs.ext4" "${MB}M"

log "the initramfs that mounts it (the Xen image's diskinit)"
mkdir -p di/bin di/dev di/proc di/sys di/mods
cp /bin/busybox di/bin/ && ln -s busybox di/bin/sh
for m in virtio_pci virtio_blk crc32c_generic ext4 overlay; do chroot "$R" modprobe -S "$KV" --show-depends $m; done |
  awk '$1=="insmod"{print $2}' | awk '!seen[$0]++' | while read -r f; do
    cp "$R$f" di/mods/
    basename "$f" >> di/mods/order
  done
install -m 755 "$XEN/diskinit/init" di/init
(cd di && find . | cpio -H newc -o --quiet | gzip -1 > "$DEST.tmp/diskinit.cpio.gz")
ln "$BASE/vmlinuz" "$DEST.tmp/vmlinuz" 2>/dev/null || cp "$BASE/vmlinuz" "$DEST.tmp/vmlinuz"
cp "$BASE/versions" "$DEST.tmp/versions"
cat > "$DEST.tmp/manifest.json" <<JSON
{
  "key": "$KEY",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "suite": "$SUITE",
  "kernelPackage": "$KPKG=$KVER",
  "kernelRelease": "$KV",
  "packages": "$(tr '\t\n' '= ' < "$BASE/versions" | sed 's/ $//')",
  "files": { "vmlinuz": "vmlinuz", "rootDisk": "rootfs.ext4", "diskInit": "diskinit.cpio.gz" }
}
JSON
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
ln -sfn "$KEY" "$OUT/current"
for d in "$OUT"/*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  case $(basename "$d") in
    "$KEY" | "base-$BASEKEY" | states) ;;
    *) if [ -f "$d/manifest.json" ] || [ -f "$d/rootfs.tar" ]; then rm -rf "$d"; fi ;;
  esac
done
du -sh "$DEST"/* | sed 's/^/  /'
log "done: $DEST"
