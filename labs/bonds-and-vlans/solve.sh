#!/usr/bin/env bash
# Solves "Bonds and VLANs" from a fresh environment (run by `xenlab lab test`).
# A line `# xenlab-lab-test: press <fault id>` is where the learner presses that fault's button in the task panel:
# the prover runs the parts of this script in turn and presses the button between them (each part is its own bash).
set -euo pipefail
net=$(xe network-create name-label="$LAB_BOND_NET")
for h in $(xe host-list --minimal | tr , ' '); do
  xe bond-create network-uuid="$net" mode=balance-slb \
    pif-uuids="$(xe pif-list host-uuid="$h" device=eth1 --minimal),$(xe pif-list host-uuid="$h" device=eth2 --minimal)" >/dev/null
done
for b in $(xe bond-list --minimal | tr , ' '); do xe bond-set-mode uuid="$b" mode=active-backup; done
# One VLAN on every host's bond, from one host's bond master (pool.create_VLAN_from_PIF).
vnet=$(xe network-create name-label="$LAB_VLAN_NET")
master=$(xe pif-list network-uuid="$net" host-name-label=xcp-ng-01 --minimal)
xe pool-vlan-create network-uuid="$vnet" pif-uuid="$master" vlan="$LAB_VLAN" >/dev/null
for pair in "xcp-ng-01:$LAB_STORAGE_SUBNET_FIRST" "xcp-ng-02:$LAB_STORAGE_SUBNET_LAST"; do
  pif=$(xe pif-list network-uuid="$vnet" host-name-label="${pair%%:*}" --minimal)
  xe pif-reconfigure-ip uuid="$pif" mode=static IP="${pair#*:}" netmask="$LAB_STORAGE_SUBNET_NETMASK"
done
echo "ANSWER pif-count $(xe pif-list --minimal | tr , '\n' | grep -c .)"
cat > ~/network.yaml <<PLAN
bonds:
  - network: $LAB_BOND_NET
    devices: [eth1, eth2]
    mode: active-backup
vlans:
  - network: $LAB_VLAN_NET
    tag: $LAB_VLAN
    on: $LAB_BOND_NET
PLAN
xenlab-tools net --plan ~/network.yaml --dry-run
xenlab-tools net links-up
# xenlab-lab-test: press eth1-goes
set -euo pipefail
eth1=$(xe pif-list host-name-label=xcp-ng-02 device=eth1 physical=true --minimal)
for _ in $(seq 1 30); do
  [ "$(xe pif-param-get uuid="$eth1" param-name=carrier)" = false ] && break
  sleep 1
done
[ "$(xe pif-param-get uuid="$eth1" param-name=carrier)" = false ] ||
  { echo "xcp-ng-02's eth1 still has link: nobody pressed the button" >&2; exit 1; }
rc=0
out=$(xenlab-tools net links-up) || rc=$?
echo "$out"
[ "$rc" = 3 ] || { echo "links-up exited $rc, expected 3 (a bond degraded)" >&2; exit 1; }
state=$(echo "$out" | awk '$1 == "xcp-ng-02" && $2 ~ /^bond/ { print $NF }')
echo "ANSWER links-up-state $state"
sleep 4 # the panel takes one press every 3 s
# xenlab-lab-test: press eth1-back
set -euo pipefail
for _ in $(seq 1 30); do
  xenlab-tools net links-up >/dev/null && break
  sleep 1
done
xenlab-tools net links-up
