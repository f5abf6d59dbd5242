#!/usr/bin/env bash
# Solves "Anatomy of a pool" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
xe pool-param-set uuid="$(xe pool-list --minimal)" name-label="$LAB_POOL_NAME"

count() { tr , '\n' | grep -c .; }
echo "ANSWER how-many-pifs $(xe pif-list physical=true --minimal | count)"
nfs=$(xe sr-list name-label='NFS storage' --minimal)
echo "ANSWER nfs-pbds $(xe pbd-list sr-uuid="$nfs" --minimal | count)"

vdi=$(xe vdi-create sr-uuid="$nfs" name-label="$LAB_VDI_NAME" type=user virtual-size=1GiB)
vm=$(xe vm-list name-label=scratch --minimal)
xe vbd-create vm-uuid="$vm" vdi-uuid="$vdi" device=1 >/dev/null
net=$(xe pif-list device=eth1 params=network-uuid --minimal | cut -d, -f1)
xe network-param-set uuid="$net" name-label="$LAB_NET_NAME"
xe vif-create vm-uuid="$vm" network-uuid="$net" device=1 >/dev/null
