#!/usr/bin/env bash
# Builds the nested-Xen lab image from Debian's packages: the Xen hypervisor, a Debian kernel (uncompressed vmlinux
# for dom0), dom0's root filesystem (the xl toolstack, python3 for the exec agent) as an ext4 disk plus a small
# initramfs that mounts it, and as a gzipped initramfs for PXE boots, and a tiny busybox domU. Nothing is compiled.
#
# usage: build.sh [--out DIR] [--force]      (as root: debootstrap and chroot need it)
#   DIR defaults to $XENLAB_XEN_CACHE or /var/cache/xenlab/xen. The slow part (downloads, debootstrap: ~2 min) is
#   cached in DIR/base-<key>/ keyed by base.sh and the package versions; the image lands in DIR/<key>/ keyed by that
#   and this folder's files (seconds to redo); DIR/current points at it. A run with nothing changed does nothing,
#   so CI keeps DIR between runs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${XENLAB_XEN_CACHE:-/var/cache/xenlab/xen}
FORCE=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root (debootstrap, chroot)" >&2; exit 2; }
for t in debootstrap cpio dpkg-deb apt-get python3 gzip sha256sum mkfs.ext4; do
  command -v $t >/dev/null || { echo "build.sh: missing $t (apt-get install debootstrap cpio)" >&2; exit 2; }
done
[ -x /bin/busybox ] || { echo "build.sh: missing /bin/busybox (apt-get install busybox-static)" >&2; exit 2; }
log() { echo "[xen-image $(date +%T)] $*"; }

export SUITE=bookworm
# The Debian mirror this machine already uses: the URIs: line of apt's deb822 sources (or the one-line format).
MIRROR=${MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)}
MIRROR=${MIRROR:-$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
export MIRROR=${MIRROR:-http://deb.debian.org/debian}
[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq

# The newest kernel and Xen 4.17 the mirror offers; their versions are part of the cache keys.
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
KVER=$(apt-cache policy "$KPKG" | awk '/Candidate:/{print $2}')
XPKG=xen-hypervisor-4.17-amd64
XVER=$(apt-cache policy $XPKG | awk '/Candidate:/{print $2}')
export KPKG KVER XPKG XVER
[ -n "$KPKG" ] && [ -n "$KVER" ] && [ -n "$XVER" ] || { echo "build.sh: apt knows no kernel or Xen 4.17 package" >&2; exit 1; }

BASEKEY=$( (cat "$HERE/base.sh"; echo "$KPKG=$KVER $XPKG=$XVER $SUITE") | sha256sum | cut -c1-16)
BASE=$OUT/base-$BASEKEY
KEY=$( (echo "$BASEKEY"; cat "$HERE/build.sh" "$HERE"/dom0/* "$HERE"/domu/* "$HERE"/diskinit/*) | sha256sum | cut -c1-16)
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

W=$(mktemp -d "${TMPDIR:-/tmp}/xenlab-xen-build.XXXXXX")
trap 'rm -rf "$W" "$DEST.tmp"' EXIT
cd "$W"

log "domU initramfs (busybox)"
mkdir -p domu/bin domu/dev domu/proc domu/sys domu/mods
cp /bin/busybox domu/bin/ && ln -s busybox domu/bin/sh
cp "$BASE/xen-netfront.ko" "$BASE/xen-blkfront.ko" domu/mods/
install -m 755 "$HERE/domu/init" domu/init
(cd domu && find . | cpio -H newc -o --quiet | gzip -9 > ../domU-initrd.cpio.gz)

log "dom0 initramfs"
mkdir rootfs && tar -C rootfs -xf "$BASE/rootfs.tar"
R=$W/rootfs
cp "$BASE/vmlinux.gz" "$R/root/vmlinux-domU.gz"
cp domU-initrd.cpio.gz "$R/root/domU-initrd.cpio.gz"
install -m 755 "$HERE/dom0/init" "$R/init"
install -D -m 755 "$HERE/dom0/agent.py" "$R/usr/local/lib/xenlab/agent.py"
install -D -m 644 "$HERE/dom0/bashrc" "$R/root/.bashrc"
install -D -m 755 "$HERE/dom0/guest-run" "$R/usr/local/lib/xenlab/guest-run"
echo "xenhost" > "$R/etc/hostname"
mkdir -p "$DEST.tmp"
(cd "$R" && find . -xdev | cpio -H newc -o --quiet | gzip -1 > "$DEST.tmp/dom0-rootfs.cpio.gz")

log "dom0 root disk (ext4) and the initramfs that mounts it"
MB=$(( $(du -sm "$R" | cut -f1) * 5 / 4 + 32 ))
mkfs.ext4 -q -F -L xenlab-dom0 -m 0 -d "$R" "$DEST.tmp/dom0-rootfs.ext4" "${MB}M"
mkdir -p di/bin di/dev di/proc di/sys di/mods
cp /bin/busybox di/bin/ && ln -s busybox di/bin/sh
# insmod order from modprobe's own dependency resolution, inside the rootfs that holds the modules.
# (one module per modprobe call: further arguments would be parameters of the first).
for m in virtio_pci virtio_blk crc32c_generic ext4 overlay; do chroot "$R" modprobe -S "$KV" --show-depends $m; done |
  awk '$1=="insmod"{print $2}' | awk '!seen[$0]++' | while read -r f; do
    cp "$R$f" di/mods/
    basename "$f" >> di/mods/order
  done
install -m 755 "$HERE/diskinit/init" di/init
(cd di && find . | cpio -H newc -o --quiet | gzip -1 > "$DEST.tmp/diskinit.cpio.gz")
for f in xen vmlinux vmlinuz; do ln "$BASE/$f" "$DEST.tmp/$f" 2>/dev/null || cp "$BASE/$f" "$DEST.tmp/$f"; done
XEN_VERSION=${XVER%%+*}
cat > "$DEST.tmp/manifest.json" <<JSON
{
  "key": "$KEY",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "suite": "$SUITE",
  "kernelPackage": "$KPKG=$KVER",
  "kernelRelease": "$KV",
  "xenPackage": "$XPKG=$XVER",
  "xenVersion": "$XEN_VERSION",
  "files": { "xen": "xen", "vmlinux": "vmlinux", "vmlinuz": "vmlinuz", "rootDisk": "dom0-rootfs.ext4",
             "diskInit": "diskinit.cpio.gz", "rootfsGz": "dom0-rootfs.cpio.gz" }
}
JSON
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
ln -sfn "$KEY" "$OUT/current"
# Older images and their saved VM states (named <image key>-…) are dead weight: the driver only uses current.
for d in "$OUT"/*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  case $(basename "$d") in
    "$KEY" | "base-$BASEKEY" | states) ;;
    *) if [ -f "$d/manifest.json" ] || [ -f "$d/rootfs.tar" ]; then rm -rf "$d"; fi ;;
  esac
done
find "$OUT/states/templates" -name '*.state' ! -name "$KEY-*" -delete 2>/dev/null || true
du -sh "$DEST"/* | sed 's/^/  /'
log "done: $DEST"
