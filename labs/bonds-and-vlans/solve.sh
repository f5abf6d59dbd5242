#!/usr/bin/env bash
# Solves "Bonds and VLANs" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
net=$(xe network-create name-label="$LAB_BOND_NET")
for h in $(xe host-list --minimal | tr , ' '); do
  xe bond-create network-uuid="$net" mode=balance-slb \
    pif-uuids="$(xe pif-list host-uuid="$h" device=eth1 --minimal),$(xe pif-list host-uuid="$h" device=eth2 --minimal)" >/dev/null
done
for b in $(xe bond-list --minimal | tr , ' '); do xe bond-set-mode uuid="$b" mode=active-backup; done
vnet=$(xe network-create name-label="$LAB_VLAN_NET")
for h in $(xe host-list --minimal | tr , ' '); do
  xe vlan-create network-uuid="$vnet" vlan="$LAB_VLAN" \
    pif-uuid="$(xe pif-list network-uuid="$net" host-uuid="$h" --minimal)" >/dev/null
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
