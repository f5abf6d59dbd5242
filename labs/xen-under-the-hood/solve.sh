#!/usr/bin/env bash
# Solves "Xen under the hood" from a fresh host (run in dom0 by `xenlab lab test`).
set -euo pipefail
echo "ANSWER scheduler $(xl info | sed -n 's/^xen_scheduler *: //p')"
echo "ANSWER dom0-memory $(xl list Domain-0 | awk 'NR==2{print $3}')"

cat > "/root/$LAB_GUEST_NAME.cfg" <<CFG
name = "$LAB_GUEST_NAME"
type = "pv"
memory = 128
vcpus = 1
kernel = "/root/vmlinux-domU.gz"
ramdisk = "/root/domU-initrd.cpio.gz"
extra = "console=hvc0"
vif = [ 'bridge=xenbr0' ]
CFG
xl create "/root/$LAB_GUEST_NAME.cfg" >&2
# The guest prints DOMU-READY on its console when its shell is up (xenconsoled logs it; 5-60 s under TCG).
for _ in $(seq 240); do
  grep -q DOMU-READY "/var/log/xen/console/guest-$LAB_GUEST_NAME.log" 2>/dev/null && break
  sleep 0.5
done

xenstore-write "/local/domain/$(xl domid "$LAB_GUEST_NAME")/data/owner" dom0-was-here

xl cpupool-cpu-remove Pool-0 1
printf 'name = "labpool"\nsched = "credit2"\ncpus = ["1"]\n' > /root/labpool.cfg
xl cpupool-create /root/labpool.cfg >&2
xl cpupool-migrate "$LAB_GUEST_NAME" labpool
# After the move: a domain entering a cpupool starts with that pool's scheduler defaults.
xl sched-credit2 -d "$LAB_GUEST_NAME" -w "$LAB_WEIGHT" -c "$LAB_CAP"
