#!/usr/bin/env bash
# Solves "Lose a storage array" from a fresh environment (run by `xenlab lab test`). `# xenlab-lab-test: on <node>`
# runs the parts after it on that machine, `# xenlab-lab-test: press <fault id>` presses that button of the task
# panel. Each part is its own bash with at most 300 s: long waits are split over several parts, which pass when the
# wait runs out, and the last one of a wait fails. The configuration is what `xenlab-tools ha` writes (the workbench
# part checks it still does); it is written on the nodes here because they have no copy of the toolkit.

# xenlab-lab-test: on workbench
set -euo pipefail
xenlab-tools ha --drbd 8.4 --token 10000 --nodes storage-a=10.77.0.11,storage-b=10.77.0.12 --vip 10.77.0.50/24 \
  --disk /dev/vdb --clients 10.77.0.0/24 --out ~/ha >&2
grep -q 'fencing resource-only' ~/ha/drbd/r0.res
! grep -q node-id ~/ha/drbd/r0.res
grep -q 'two_node: 1' ~/ha/corosync/corosync.conf
grep -q 'ip=10.77.0.50' ~/ha/pacemaker/crm.txt

# xenlab-lab-test: on storage-a
set -euo pipefail
# The node setup, kept in /root (on the state disk) and run on both nodes: the DRBD resource and corosync.conf as
# xenlab-tools ha --drbd 8.4 --token 10000 writes them, metadata, resource up.
cat > /root/setup.sh <<'SETUP'
set -euo pipefail
modprobe drbd
cat > /etc/drbd.d/r0.res <<'RES'
resource r0 {
  device    /dev/drbd0;
  disk      /dev/vdb;
  meta-disk internal;
  net {
    protocol C;
    after-sb-0pri discard-zero-changes;
    after-sb-1pri discard-secondary;
    after-sb-2pri disconnect;
  }
  disk {
    fencing resource-only;
    c-plan-ahead 0;
    resync-rate 40M;
  }
  handlers {
    fence-peer "/usr/lib/drbd/crm-fence-peer.sh";
    after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";
  }
  on storage-a {
    address   10.77.0.11:7789;
  }
  on storage-b {
    address   10.77.0.12:7789;
  }
}
RES
mkdir -p /var/log/corosync
cat > /etc/corosync/corosync.conf <<'CONF'
totem {
  version: 2
  cluster_name: storage
  transport: knet
  crypto_cipher: none
  crypto_hash: none
  token: 10000
}
nodelist {
  node {
    ring0_addr: 10.77.0.11
    name: storage-a
    nodeid: 1
  }
  node {
    ring0_addr: 10.77.0.12
    name: storage-b
    nodeid: 2
  }
}
quorum {
  provider: corosync_votequorum
  two_node: 1
}
logging {
  to_logfile: yes
  logfile: /var/log/corosync/corosync.log
  to_syslog: no
  timestamp: on
}
CONF
drbdadm create-md --force r0 >/dev/null 2>&1
drbdadm up r0
SETUP
bash /root/setup.sh

# xenlab-lab-test: on storage-b
set -euo pipefail
# The same setup (written out again: the nodes share nothing but the network, and a first try serving the file
# with busybox nc hung — nc keeps the connection open after its input ends).
cat > /root/setup.sh <<'SETUP'
set -euo pipefail
modprobe drbd
cat > /etc/drbd.d/r0.res <<'RES'
resource r0 {
  device    /dev/drbd0;
  disk      /dev/vdb;
  meta-disk internal;
  net {
    protocol C;
    after-sb-0pri discard-zero-changes;
    after-sb-1pri discard-secondary;
    after-sb-2pri disconnect;
  }
  disk {
    fencing resource-only;
    c-plan-ahead 0;
    resync-rate 40M;
  }
  handlers {
    fence-peer "/usr/lib/drbd/crm-fence-peer.sh";
    after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";
  }
  on storage-a {
    address   10.77.0.11:7789;
  }
  on storage-b {
    address   10.77.0.12:7789;
  }
}
RES
mkdir -p /var/log/corosync
cat > /etc/corosync/corosync.conf <<'CONF'
totem {
  version: 2
  cluster_name: storage
  transport: knet
  crypto_cipher: none
  crypto_hash: none
  token: 10000
}
nodelist {
  node {
    ring0_addr: 10.77.0.11
    name: storage-a
    nodeid: 1
  }
  node {
    ring0_addr: 10.77.0.12
    name: storage-b
    nodeid: 2
  }
}
quorum {
  provider: corosync_votequorum
  two_node: 1
}
logging {
  to_logfile: yes
  logfile: /var/log/corosync/corosync.log
  to_syslog: no
  timestamp: on
}
CONF
drbdadm create-md --force r0 >/dev/null 2>&1
drbdadm up r0
SETUP
bash /root/setup.sh

# xenlab-lab-test: on storage-a
set -euo pipefail
for _ in $(seq 60); do [ "$(drbdadm cstate r0)" = Connected ] && break; sleep 2; done
drbdadm primary --force r0
# The first full sync (128 MiB): wait for UpToDate on both sides, over as many parts as it takes.
for _ in $(seq 140); do [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] && break; sleep 2; done

# xenlab-lab-test: on storage-a
set -euo pipefail
for _ in $(seq 140); do [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] && break; sleep 2; done
[ "$(drbdadm dstate r0)" = UpToDate/UpToDate ]
mkfs.ext4 -q /dev/drbd0
mount /dev/drbd0 /mnt && mkdir /mnt/export /mnt/nfsinfo && umount /mnt
drbdadm secondary r0 && drbdadm down r0
service corosync start && service pacemaker start

# xenlab-lab-test: on storage-b
set -euo pipefail
drbdadm down r0
service corosync start && service pacemaker start

# xenlab-lab-test: on storage-a
set -euo pipefail
# Pacemaker's configuration (xenlab-tools ha's pacemaker/crm.txt for these nodes), once both nodes are members.
for _ in $(seq 90); do crm_mon -1 2>/dev/null | grep -q 'Online: \[ storage-a storage-b \]' && break; sleep 2; done
cat > /root/crm.txt <<'CRM'
property cib-bootstrap-options: stonith-enabled=false no-quorum-policy=stop
primitive p_drbd_r0 ocf:linbit:drbd \
  params drbd_resource=r0 \
  op start interval=0s timeout=240s \
  op stop interval=0s timeout=100s \
  op promote interval=0s timeout=90s \
  op demote interval=0s timeout=90s \
  op monitor interval=29s role=Promoted \
  op monitor interval=31s role=Unpromoted
clone ms_drbd_r0 p_drbd_r0 \
  meta promotable=true promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true
primitive p_fs_nfs ocf:heartbeat:Filesystem \
  params device=/dev/drbd0 directory=/srv/nfs fstype=ext4 \
  op start interval=0s timeout=60s \
  op stop interval=0s timeout=60s \
  op monitor interval=20s timeout=40s
primitive p_nfsserver ocf:heartbeat:nfsserver \
  params nfs_shared_infodir=/srv/nfs/nfsinfo \
  op start interval=0s timeout=40s \
  op stop interval=0s timeout=20s \
  op monitor interval=30s
primitive p_exportfs ocf:heartbeat:exportfs \
  params directory=/srv/nfs/export clientspec=10.77.0.0/24 options=rw,sync,no_root_squash fsid=1 \
  op start interval=0s timeout=40s \
  op stop interval=0s timeout=120s \
  op monitor interval=30s
primitive p_vip ocf:heartbeat:IPaddr2 \
  params ip=10.77.0.50 cidr_netmask=24 \
  op monitor interval=10s
group g_nfs p_fs_nfs p_nfsserver p_exportfs p_vip
colocation c_nfs_with_drbd inf: g_nfs ms_drbd_r0:Promoted
order o_drbd_before_nfs Mandatory: ms_drbd_r0:promote g_nfs:start
location l_start_on_a ms_drbd_r0 role=Promoted 10: storage-a
CRM
crm configure load update /root/crm.txt

# xenlab-lab-test: on storage-a
set -euo pipefail
up() { ip -4 -o addr show | grep -q ' 10\.77\.0\.50/' && ! crm_mon -1 | grep -Eq 'Stopped|Starting|FAILED'; }
for _ in $(seq 140); do up && break; sleep 2; done

# xenlab-lab-test: on storage-a
set -euo pipefail
up() { ip -4 -o addr show | grep -q ' 10\.77\.0\.50/' && ! crm_mon -1 | grep -Eq 'Stopped|Starting|FAILED'; }
for _ in $(seq 140); do up && break; sleep 2; done
up
# The preference for storage-a only placed the first start; without it the service stays where it fails over to.
crm configure delete l_start_on_a

# xenlab-lab-test: on xen-1
set -euo pipefail
guest=${LAB_GUEST_NAME:-$(. /etc/profile.d/xenlab-lab.sh 2>/dev/null; echo "${LAB_GUEST_NAME:-}")}
[ -n "$guest" ]
mkdir -p /mnt/nfs
mount -t nfs -o vers=3,hard,timeo=100 10.77.0.50:/srv/nfs/export /mnt/nfs
dd if=/dev/zero of=/mnt/nfs/$guest.img bs=1M count=8 2>/dev/null
cat > /root/$guest.cfg <<CFG
name = "$guest"
type = "pv"
memory = 128
vcpus = 1
kernel = "/root/vmlinux-domU.gz"
ramdisk = "/root/domU-initrd.cpio.gz"
extra = "console=hvc0"
disk = [ 'file:/mnt/nfs/$guest.img,xvda,w' ]
CFG
xl create /root/$guest.cfg
for _ in $(seq 60); do grep -q DOMU-READY /var/log/xen/console/guest-$guest.log 2>/dev/null && break; sleep 1; done
# The write loop, typed into the guest's console: a sequence number and the time written to the disk every second,
# each write flushed, and a SEQ line on the console saying whether it worked.
loop='i=0; while :; do i=$((i+1)); if echo "$i $(date +%s)" | dd of=/dev/xvda bs=512 seek=$((i % 2048)) conv=notrunc,fsync 2>/dev/null; then echo "SEQ $i $(date +%s) ok"; else echo "SEQ $i $(date +%s) EIO"; fi; sleep 1; done &'
printf '%s\r' "$loop" | timeout 5 xl console $guest >/dev/null 2>&1 || true
for _ in $(seq 30); do grep -aq '^SEQ ' /var/log/xen/console/guest-$guest.log && break; sleep 1; done
grep -aq '^SEQ ' /var/log/xen/console/guest-$guest.log

# xenlab-lab-test: press pull-the-plug

# xenlab-lab-test: on storage-b
set -euo pipefail
took() { ip -4 -o addr show | grep -q ' 10\.77\.0\.50/' && drbdadm role r0 | grep -q '^Primary/'; }
for _ in $(seq 140); do took && break; sleep 2; done
took

# xenlab-lab-test: press power-on

# xenlab-lab-test: on storage-a
set -euo pipefail
# Back from the power cut: the configuration is on the state disk; the cluster is started by hand.
for _ in $(seq 60); do [ -f /etc/corosync/corosync.conf ] && break; sleep 2; done
modprobe drbd
service corosync start && service pacemaker start

# xenlab-lab-test: on storage-b
set -euo pipefail
back() { [ "$(drbdadm role r0)" = Primary/Secondary ] && [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ]; }
for _ in $(seq 140); do back && break; sleep 2; done

# xenlab-lab-test: on storage-b
set -euo pipefail
back() { [ "$(drbdadm role r0)" = Primary/Secondary ] && [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ]; }
for _ in $(seq 140); do back && break; sleep 2; done
back
