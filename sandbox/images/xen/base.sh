#!/usr/bin/env bash
# The slow, rarely-changing half of the Xen lab image: Debian's Xen hypervisor and kernel, and a debootstrapped dom0
# root filesystem with the xl toolstack. build.sh calls this and adds the fast-changing half (init, agent) on top.
#
# usage: base.sh DEST     writes DEST/{xen,vmlinux,vmlinuz,vmlinux.gz,xen-netfront.ko,xen-blkfront.ko,rootfs.tar,versions}
# (a folder of its own: build.sh assembles images from it)
# Environment: KPKG KVER XPKG XVER SUITE MIRROR (chosen by build.sh).
set -euo pipefail
DEST=$1
: "${KPKG:?}" "${KVER:?}" "${XPKG:?}" "${XVER:?}" "${SUITE:?}" "${MIRROR:?}"
KV=${KPKG#linux-image-}
log() { echo "[xen-image $(date +%T)] $*"; }

W=$(mktemp -d "${TMPDIR:-/tmp}/xenlab-xen-base.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
R=$W/rootfs
chmod 755 "$W"   # apt-get download runs as _apt when it can read the folder

log "downloading $KPKG=$KVER and $XPKG=$XVER"
apt-get download -qq -o APT::Sandbox::User=root "$KPKG=$KVER" "$XPKG=$XVER"
dpkg-deb -x "${KPKG}"_*.deb kpkg
dpkg-deb -x "${XPKG}"_*.deb xpkg
# The multiboot1 ELF that QEMU's -kernel and iPXE's `kernel` load; Debian ships it gzipped.
gzip -dc xpkg/boot/xen-4.17-amd64.gz > xen
cp "kpkg/boot/vmlinuz-$KV" vmlinuz
# Debian's bzImage holds an xz stream: cut at its magic and decompress to the plain ELF vmlinux. Xen boots the
# ELF directly, which saves dom0 seconds of xz under TCG (reference measurement: /init at 18.5 s instead of 24.5 s).
python3 - <<'PY'
import lzma
d = open('vmlinuz', 'rb').read()
o = d.find(b'\xfd7zXZ\x00')
if o < 0: raise SystemExit('vmlinuz: no xz payload found')
open('vmlinux', 'wb').write(lzma.LZMADecompressor().decompress(d[o:]))
PY
gzip -1 -c vmlinux > vmlinux.gz
cp "kpkg/lib/modules/$KV/kernel/drivers/net/xen-netfront.ko" "kpkg/lib/modules/$KV/kernel/drivers/block/xen-blkfront.ko" .

log "dom0 root filesystem: debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include=xen-utils-4.17,iproute2,kmod,procps,busybox-static,python3,nano,less \
  "$SUITE" "$R" "$MIRROR" > debootstrap.log 2>&1 || { tail -30 debootstrap.log; exit 1; }
# Open vSwitch, as XCP-ng's dom0 runs it (one OVS bridge per network, bonds, VLAN tags on vifs, OpenFlow), and
# iputils' ping (-D timestamps: the OVS lab grades a failover from a ping log), and nfs-common's mount.nfs (the
# storage lab mounts an NFS export in dom0 and runs a guest's disk from it, as an XCP NFS SR does). Installed in the chroot with
# policy-rc.d refusing service starts: the package's postinst would otherwise start ovsdb-server on the build host.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d" && chmod 755 "$R/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
{ chroot "$R" apt-get -o APT::Sandbox::User=root update -qq &&
  DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get -o APT::Sandbox::User=root install -y -qq \
    --no-install-recommends openvswitch-switch iputils-ping nfs-common; } > ovs-install.log 2>&1 || { tail -30 ovs-install.log; exit 1; }
rm -f "$R/usr/sbin/policy-rc.d"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* \
  "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/* "$R"/usr/share/info/*
# Only the modules dom0 needs (and what they depend on): Xen backends, the bridge, virtio for the agent port, what
# the disk boot's initramfs needs to mount the root (virtio_blk, ext4, overlay), Open vSwitch's datapath, and the
# NFS v3 client.
MODS="xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-netback bridge loop tun
      virtio_pci virtio_console virtio_net virtio_blk ext4 overlay openvswitch nfsv3"
mkdir -p "$R/lib/modules" && cp -a "kpkg/lib/modules/$KV" "$R/lib/modules/" && chroot "$R" depmod "$KV"
KEEP=$(for m in $MODS; do chroot "$R" modprobe -S "$KV" --show-depends $m; done | awk '$1=="insmod"{print $2}' | sort -u)
mkdir -p keep
for f in $KEEP; do install -D "$R$f" "keep$f"; done
cp "$R"/lib/modules/"$KV"/modules.{order,builtin,builtin.modinfo} "keep/lib/modules/$KV/"
rm -rf "${R:?}/lib/modules/$KV" && cp -a "keep/lib/modules/$KV" "$R/lib/modules/" && chroot "$R" depmod "$KV"
# xenconsoled writes each guest's console to a file, so checks can read what a domU printed.
echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >> "$R/etc/default/xen"
tar -C "$R" --numeric-owner -cf rootfs.tar .
chroot "$R" dpkg-query -W xen-utils-4.17 openvswitch-switch nfs-common > versions || true

mkdir -p "$DEST"
mv xen vmlinux vmlinuz vmlinux.gz xen-netfront.ko xen-blkfront.ko rootfs.tar versions "$DEST/"
log "base done: $DEST"
