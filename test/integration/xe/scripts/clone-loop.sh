#!/usr/bin/env bash
# A classic: install one VM, clone it N times, then walk `vm-list --minimal` to start the clones, and count them.
set -euo pipefail
N=${N:-5}
TEMPLATE=$(xe template-list name-label="Alpine Linux 3.20" --minimal)
BASE=$(xe vm-install template-uuid="$TEMPLATE" new-name-label=base)
for i in $(seq 1 "$N"); do
  xe vm-clone uuid="$BASE" new-name-label="web-$i" new-name-description="clone $i of base" > /dev/null
done
IFS=, read -r -a ALL <<< "$(xe vm-list params=uuid --minimal)"
for uuid in "${ALL[@]}"; do
  name=$(xe vm-param-get uuid="$uuid" param-name=name-label)
  case "$name" in
    web-*) xe vm-start uuid="$uuid" ;;
  esac
done
echo "running clones: $(xe vm-list power-state=running params=name-label --minimal | tr ',' '\n' | grep -c '^web-')"
echo "halted: $(xe vm-list power-state=halted params=name-label --minimal)"
