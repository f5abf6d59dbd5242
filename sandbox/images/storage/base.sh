#!/usr/bin/env bash
# The slow, rarely-changing half of the storage node image: Debian's kernel (drbd.ko is one of its modules) and a
# debootstrapped root filesystem with the HA NFS stack — drbd-utils, corosync, pacemaker, crmsh, resource-agents,
# nfs-kernel-server, and iptables for the portblock agent (its tickle ACKs reset NFS clients' connections after a
# failover). build.sh calls this and adds the fast-changing half (init, the shared exec agent) on top.
#
# usage: base.sh DEST     writes DEST/{vmlinuz,rootfs.tar,versions}
# Environment: KPKG KVER SUITE MIRROR (chosen by build.sh).
set -euo pipefail
DEST=$1
: "${KPKG:?}" "${KVER:?}" "${SUITE:?}" "${MIRROR:?}"
KV=${KPKG#linux-image-}
log() { echo "[storage-image $(date +%T)] $*"; }

W=$(mktemp -d "${TMPDIR:-/tmp}/xenlab-storage-base.XXXXXX")
trap 'umount "$W/rootfs/proc" 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
R=$W/rootfs
chmod 755 "$W"   # apt-get download runs as _apt when it can read the folder

log "downloading $KPKG=$KVER"
apt-get download -qq -o APT::Sandbox::User=root "$KPKG=$KVER"
dpkg-deb -x "${KPKG}"_*.deb kpkg
cp "kpkg/boot/vmlinuz-$KV" vmlinuz

log "root filesystem: debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include=iproute2,kmod,procps,busybox-static,python3,nano,less,iputils-ping \
  "$SUITE" "$R" "$MIRROR" > debootstrap.log 2>&1 || { tail -30 debootstrap.log; exit 1; }
# The HA stack through apt inside the root (its dependency solver, not debootstrap's); no service starts in a chroot.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d" && chmod 755 "$R/usr/sbin/policy-rc.d"
mount -t proc proc "$R/proc"
log "HA stack: apt-get install drbd-utils corosync pacemaker crmsh resource-agents nfs-kernel-server iptables"
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  drbd-utils corosync pacemaker pacemaker-cli-utils crmsh resource-agents nfs-kernel-server nfs-common rpcbind \
  iptables e2fsprogs psmisc > apt.log 2>&1 || { tail -30 apt.log; exit 1; }
umount "$R/proc"
chroot "$R" dpkg-query -W drbd-utils corosync pacemaker crmsh resource-agents nfs-kernel-server > versions || true
rm -f "$R/usr/sbin/policy-rc.d"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* \
  "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/* "$R"/usr/share/info/*
# Only the modules a storage node needs (and what they depend on): DRBD, virtio (disks, NIC, the agent's port),
# ext4/xfs and overlay (the root), the NFS server and client, and what iptables (nft backend) needs for portblock's
# DROP rule on the NFS port.
MODS="drbd drbd_transport_tcp virtio_pci virtio_console virtio_net virtio_blk ext4 xfs overlay nfsd nfsv3 nfsv4 af_packet
      crc32c_generic nf_tables nft_compat xt_multiport x_tables"
mkdir -p "$R/lib/modules" && cp -a "kpkg/lib/modules/$KV" "$R/lib/modules/" && chroot "$R" depmod "$KV"
KEEP=$(for m in $MODS; do chroot "$R" modprobe -S "$KV" --show-depends $m 2>/dev/null; done | awk '$1=="insmod"{print $2}' | sort -u)
mkdir -p keep
for f in $KEEP; do install -D "$R$f" "keep$f"; done
cp "$R"/lib/modules/"$KV"/modules.{order,builtin,builtin.modinfo} "keep/lib/modules/$KV/"
rm -rf "${R:?}/lib/modules/$KV" && cp -a "keep/lib/modules/$KV" "$R/lib/modules/" && chroot "$R" depmod "$KV"
tar -C "$R" --numeric-owner -cf rootfs.tar .

mkdir -p "$DEST"
mv vmlinuz rootfs.tar versions "$DEST/"
log "base done: $DEST"
