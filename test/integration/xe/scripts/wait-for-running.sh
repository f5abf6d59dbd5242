#!/usr/bin/env bash
# Wait in the background for a VM to reach "running" while another command starts it.
set -euo pipefail
VM=$(xe vm-install template="Alpine Linux 3.20" new-name-label=ev-vm)
xe event-wait class=vm uuid="$VM" power-state=running &
WAITER=$!
xe vm-start uuid="$VM"
wait "$WAITER"
echo "saw $(xe vm-param-get uuid="$VM" param-name=power-state)"
