#!/usr/bin/env bash
# Solves "Templates and installing guests" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
xe vm-install template="Debian Bookworm 12" new-name-label="$LAB_GOLDEN" >/dev/null
xe vm-memory-limits-set vm="$LAB_GOLDEN" static-min=1GiB dynamic-min=1GiB dynamic-max=1GiB static-max=1GiB
xe vm-param-set uuid="$(xe vm-list name-label="$LAB_GOLDEN" --minimal)" is-a-template=true

xe vm-install template="$LAB_GOLDEN" new-name-label="$LAB_CANARY" >/dev/null
xe vm-start vm="$LAB_CANARY"

for i in $(seq -w 1 20); do xe vm-install template="$LAB_GOLDEN" new-name-label="$LAB_FLEET-$i" >/dev/null; done

xe vm-copy vm="$LAB_GOLDEN" new-name-label="$LAB_GOLDEN-copy" sr-uuid="$(xe sr-list name-label='NFS storage' --minimal)" >/dev/null
echo "ANSWER which-command-copies vm-copy"
echo "ANSWER parent-key vhd-parent"
