#!/usr/bin/env bash
# Suspend a VM, check the state with vm-param-get, resume it, check again.
set -euo pipefail
VM=$(xe vm-install template="Alpine Linux 3.20" new-name-label=sr-vm)
xe vm-start uuid="$VM"
xe vm-suspend uuid="$VM"
state=$(xe vm-param-get uuid="$VM" param-name=power-state)
if [ "$state" != suspended ]; then
  echo "expected suspended, got $state" >&2
  exit 1
fi
echo "suspended"
xe vm-resume uuid="$VM"
echo "after resume: $(xe vm-param-get uuid="$VM" param-name=power-state)"
