#!/usr/bin/env bash
# Solves "Lose a storage array" from a fresh environment (run by `xenlab lab test`). `# xenlab-lab-test: on <node>`
# runs the parts after it on that machine, `# xenlab-lab-test: press <fault id>` presses that button of the task
# panel. Each part is its own bash with at most 300 s: long waits are split over several parts, which pass when the
# wait runs out, and the last one of a wait fails. No pipefail: `crm_mon | grep -q` would fail at random when grep
# exits early and crm_mon gets SIGPIPE (exit 141). The configuration is what `xenlab-tools ha` writes (the workbench
# part checks it still does); it is written on the nodes here because they have no copy of the toolkit.

# xenlab-lab-test: on workbench
set -eu
xenlab-tools ha --drbd 8.4 --token 5000 --nfsd everywhere --nodes storage-a=10.77.0.11,storage-b=10.77.0.12 \
  --vip 10.77.0.50/24 --disk /dev/vdb --clients 10.77.0.0/24 --out ~/ha >&2
grep -q 'fencing resource-only' ~/ha/drbd/r0.res
! grep -q node-id ~/ha/drbd/r0.res
grep -q 'two_node: 1' ~/ha/corosync/corosync.conf
grep -q 'ip=10.77.0.50' ~/ha/pacemaker/crm.txt
grep -q 'tickle_dir=/srv/nfs/tickle' ~/ha/pacemaker/crm.txt
! grep -q nfsserver ~/ha/pacemaker/crm.txt

# xenlab-lab-test: on storage-a
set -eu
# The node setup, kept in /root (on the state disk) and run on both nodes: the DRBD resource and corosync.conf as
# xenlab-tools ha --drbd 8.4 --token 5000 writes them, metadata, resource up.
cat > /root/setup.sh <<'SETUP'
set -eu
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
  token: 5000
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
set -eu
# The same setup (written out again: the nodes share nothing but the network, and a first try serving the file
# with busybox nc hung — nc keeps the connection open after its input ends).
cat > /root/setup.sh <<'SETUP'
set -eu
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
  token: 5000
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
set -eu
for _ in $(seq 60); do [ "$(drbdadm cstate r0)" = Connected ] && break; sleep 2; done
drbdadm primary --force r0
# The first full sync (64 MiB): wait for UpToDate on both sides, over as many parts as it takes.
for _ in $(seq 140); do [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] && break; sleep 2; done

# xenlab-lab-test: on storage-a
set -eu
for _ in $(seq 140); do [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] && break; sleep 2; done
[ "$(drbdadm dstate r0)" = UpToDate/UpToDate ]
mkfs.ext4 -q /dev/drbd0
mount /dev/drbd0 /mnt && mkdir /mnt/export /mnt/tickle && umount /mnt
drbdadm secondary r0 && drbdadm down r0
# Both nodes start the stack at the same time (it takes a minute under emulation): in the background here. The NFS
# server runs on both nodes outside the cluster (--nfsd everywhere): a failover then starts no NFS server.
setsid sh -c 'service nfs-kernel-server start && service corosync start && service pacemaker start' >/root/cluster-start.log 2>&1 </dev/null &

# xenlab-lab-test: on storage-b
set -eu
drbdadm down r0
service nfs-kernel-server start && service corosync start && service pacemaker start

# xenlab-lab-test: on storage-a
set -eu
# Pacemaker's configuration, once both nodes are members: xenlab-tools ha's pacemaker/cib.xml for these nodes (the
# same as its crm.txt; `crm configure load update crm.txt` loads that form but crmsh takes minutes under emulation,
# cibadmin seconds), section by section, and a preference for storage-a for the first start only.
for _ in $(seq 140); do crm_mon -1 2>/dev/null | grep -q 'Online: \[ storage-a storage-b \]' && break; sleep 2; done
crm_mon -1 | grep -q 'Online: \[ storage-a storage-b \]'
cat > /root/cib.xml <<'CIB'
<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="cib-bootstrap-options-no-quorum-policy" name="no-quorum-policy" value="stop"/>
      </cluster_property_set>
    </crm_config>
    <rsc_defaults>
      <meta_attributes id="rsc-options">
        <nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="100"/>
      </meta_attributes>
    </rsc_defaults>
    <resources>
      <clone id="ms_drbd_r0">
        <meta_attributes id="ms_drbd_r0-meta_attributes">
          <nvpair id="ms_drbd_r0-meta_attributes-promotable" name="promotable" value="true"/>
          <nvpair id="ms_drbd_r0-meta_attributes-promoted-max" name="promoted-max" value="1"/>
          <nvpair id="ms_drbd_r0-meta_attributes-promoted-node-max" name="promoted-node-max" value="1"/>
          <nvpair id="ms_drbd_r0-meta_attributes-clone-max" name="clone-max" value="2"/>
          <nvpair id="ms_drbd_r0-meta_attributes-clone-node-max" name="clone-node-max" value="1"/>
          <nvpair id="ms_drbd_r0-meta_attributes-notify" name="notify" value="true"/>
        </meta_attributes>
        <primitive id="p_drbd_r0" class="ocf" provider="linbit" type="drbd">
          <instance_attributes id="p_drbd_r0-instance_attributes">
            <nvpair id="p_drbd_r0-instance_attributes-drbd_resource" name="drbd_resource" value="r0"/>
          </instance_attributes>
          <operations>
            <op id="p_drbd_r0-start-0s" name="start" interval="0s" timeout="240s"/>
            <op id="p_drbd_r0-stop-0s" name="stop" interval="0s" timeout="100s"/>
            <op id="p_drbd_r0-promote-0s" name="promote" interval="0s" timeout="90s"/>
            <op id="p_drbd_r0-demote-0s" name="demote" interval="0s" timeout="90s"/>
            <op id="p_drbd_r0-monitor-29s" name="monitor" interval="29s" role="Promoted"/>
            <op id="p_drbd_r0-monitor-31s" name="monitor" interval="31s" role="Unpromoted"/>
          </operations>
        </primitive>
      </clone>
      <group id="g_nfs">
        <primitive id="p_fs_nfs" class="ocf" provider="heartbeat" type="Filesystem">
          <instance_attributes id="p_fs_nfs-instance_attributes">
            <nvpair id="p_fs_nfs-instance_attributes-device" name="device" value="/dev/drbd0"/>
            <nvpair id="p_fs_nfs-instance_attributes-directory" name="directory" value="/srv/nfs"/>
            <nvpair id="p_fs_nfs-instance_attributes-fstype" name="fstype" value="ext4"/>
          </instance_attributes>
          <operations>
            <op id="p_fs_nfs-start-0s" name="start" interval="0s" timeout="60s"/>
            <op id="p_fs_nfs-stop-0s" name="stop" interval="0s" timeout="60s"/>
            <op id="p_fs_nfs-monitor-20s" name="monitor" interval="20s" timeout="40s"/>
          </operations>
        </primitive>
        <primitive id="p_exportfs" class="ocf" provider="heartbeat" type="exportfs">
          <instance_attributes id="p_exportfs-instance_attributes">
            <nvpair id="p_exportfs-instance_attributes-directory" name="directory" value="/srv/nfs/export"/>
            <nvpair id="p_exportfs-instance_attributes-clientspec" name="clientspec" value="10.77.0.0/24"/>
            <nvpair id="p_exportfs-instance_attributes-options" name="options" value="rw,sync,no_root_squash"/>
            <nvpair id="p_exportfs-instance_attributes-fsid" name="fsid" value="1"/>
          </instance_attributes>
          <operations>
            <op id="p_exportfs-start-0s" name="start" interval="0s" timeout="40s"/>
            <op id="p_exportfs-stop-0s" name="stop" interval="0s" timeout="120s"/>
            <op id="p_exportfs-monitor-30s" name="monitor" interval="30s"/>
          </operations>
        </primitive>
        <primitive id="p_vip" class="ocf" provider="heartbeat" type="IPaddr2">
          <instance_attributes id="p_vip-instance_attributes">
            <nvpair id="p_vip-instance_attributes-ip" name="ip" value="10.77.0.50"/>
            <nvpair id="p_vip-instance_attributes-cidr_netmask" name="cidr_netmask" value="24"/>
          </instance_attributes>
          <operations>
            <op id="p_vip-monitor-10s" name="monitor" interval="10s"/>
          </operations>
        </primitive>
        <primitive id="p_tickle" class="ocf" provider="heartbeat" type="portblock">
          <instance_attributes id="p_tickle-instance_attributes">
            <nvpair id="p_tickle-instance_attributes-protocol" name="protocol" value="tcp"/>
            <nvpair id="p_tickle-instance_attributes-portno" name="portno" value="2049"/>
            <nvpair id="p_tickle-instance_attributes-ip" name="ip" value="10.77.0.50"/>
            <nvpair id="p_tickle-instance_attributes-action" name="action" value="unblock"/>
            <nvpair id="p_tickle-instance_attributes-tickle_dir" name="tickle_dir" value="/srv/nfs/tickle"/>
          </instance_attributes>
          <operations>
            <op id="p_tickle-start-0s" name="start" interval="0s" timeout="40s"/>
            <op id="p_tickle-stop-0s" name="stop" interval="0s" timeout="40s"/>
            <op id="p_tickle-monitor-10s" name="monitor" interval="10s" timeout="40s"/>
          </operations>
        </primitive>
      </group>
    </resources>
    <constraints>
      <rsc_colocation id="c_nfs_with_drbd" score="INFINITY" rsc="g_nfs" with-rsc="ms_drbd_r0" with-rsc-role="Promoted"/>
      <rsc_order id="o_drbd_before_nfs" kind="Mandatory" first="ms_drbd_r0" first-action="promote" then="g_nfs" then-action="start"/>
      <rsc_location id="l_start_on_a" rsc="ms_drbd_r0" role="Promoted" score="10" node="storage-a"/>
    </constraints>
  </configuration>
  <status/>
</cib>
CIB
# The cluster options as single attributes (replacing crm_config would drop what Pacemaker keeps there itself), then
# the resource defaults, resources and constraints in one update, so order and colocation hold from the first start
# (constraints alone are refused: they name resources that do not exist yet).
crm_attribute -t crm_config -n stonith-enabled -v false
crm_attribute -t crm_config -n no-quorum-policy -v stop
{
  echo '<configuration>'
  sed -n '/^    <rsc_defaults>/,/^    <\/rsc_defaults>/p;/^    <resources>/,/^    <\/resources>/p;/^    <constraints>/,/^    <\/constraints>/p' /root/cib.xml
  echo '</configuration>'
} > /root/configuration.xml
cibadmin --modify --xml-file /root/configuration.xml

# xenlab-lab-test: on storage-a
set -eu
up() { ip -4 -o addr show | grep -q ' 10\.77\.0\.50/' && m=$(crm_mon -1 -r) && echo "$m" | grep -q 'p_tickle.*Started' &&
  ! echo "$m" | grep -Eq 'Stopped|Starting|FAILED'; }
for _ in $(seq 140); do up && break; sleep 2; done

# xenlab-lab-test: on storage-a
set -eu
up() { ip -4 -o addr show | grep -q ' 10\.77\.0\.50/' && m=$(crm_mon -1 -r) && echo "$m" | grep -q 'p_tickle.*Started' &&
  ! echo "$m" | grep -Eq 'Stopped|Starting|FAILED'; }
for _ in $(seq 140); do up && break; sleep 2; done
up
# The preference for storage-a only placed the first start; without it the service stays where it fails over to.
cibadmin --delete -o constraints --xml-text '<rsc_location id="l_start_on_a"/>'

# xenlab-lab-test: on xen-1
set -eu
guest=${LAB_GUEST_NAME:-$(. /etc/profile.d/xenlab-lab.sh 2>/dev/null; echo "${LAB_GUEST_NAME:-}")}
[ -n "$guest" ]
mkdir -p /mnt/nfs
# hard: retry forever, never an error to the guest; timeo=10,retrans=2: retry (and reconnect to the floating IP)
# every 1-3 s instead of backing off to 30 s; nolock: no lock daemon in this dom0, and a disk image needs none.
mount -t nfs -o vers=3,proto=tcp,hard,timeo=10,retrans=2,nolock 10.77.0.50:/srv/nfs/export /mnt/nfs
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
# The write loop, typed into the guest's console as the learner types it (guest-run, through the same console): a
# sequence number and the time written to the disk every second, each write flushed, and a SEQ line on the console
# saying whether it worked. In braces so that guest-run's `; echo` may follow the `&`.
loop='i=0; while :; do i=$((i+1)); if echo "$i $(date +%s)" | dd of=/dev/xvda bs=512 seek=$((i % 2048)) conv=notrunc,fsync 2>/dev/null; then echo "SEQ $i $(date +%s) ok"; else echo "SEQ $i $(date +%s) EIO"; fi; sleep 1; done'
/usr/local/lib/xenlab/guest-run $guest "{ $loop & }" 60 >&2
for _ in $(seq 30); do grep -aq '^SEQ ' /var/log/xen/console/guest-$guest.log && break; sleep 1; done
grep -aq '^SEQ ' /var/log/xen/console/guest-$guest.log

# xenlab-lab-test: press pull-the-plug

# xenlab-lab-test: on storage-b
set -eu
took() { ip -4 -o addr show | grep -q ' 10\.77\.0\.50/' && drbdadm role r0 | grep -q '^Primary/'; }
for _ in $(seq 140); do took && break; sleep 2; done
took

# xenlab-lab-test: on xen-1
set -eu
# The guest's console, as the learner watches it: its writes go on once the NFS client reaches storage-b.
guest=${LAB_GUEST_NAME:-$(. /etc/profile.d/xenlab-lab.sh 2>/dev/null; echo "${LAB_GUEST_NAME:-}")}
log=/var/log/xen/console/guest-$guest.log
fresh() { [ $(( $(date +%s) - $(stat -c %Y $log) )) -le 3 ]; }
for _ in $(seq 120); do fresh && break; sleep 1; done
fresh
grep -a '^SEQ ' $log | awk 'p { g = $3 - p; if (g > m) m = g } { p = $3 } END { print "longest pause between two writes: " m " s" }' >&2

# xenlab-lab-test: press power-on

# xenlab-lab-test: on storage-a
set -eu
# Back from the power cut: the configuration is on the state disk; the cluster is started by hand.
for _ in $(seq 60); do [ -f /etc/corosync/corosync.conf ] && break; sleep 2; done
modprobe drbd
service nfs-kernel-server start && service corosync start && service pacemaker start

# xenlab-lab-test: on storage-b
set -eu
back() { [ "$(drbdadm role r0)" = Primary/Secondary ] && [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ]; }
for _ in $(seq 140); do back && break; sleep 2; done

# xenlab-lab-test: on storage-b
set -eu
back() { [ "$(drbdadm role r0)" = Primary/Secondary ] && [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ]; }
for _ in $(seq 140); do back && break; sleep 2; done
back
