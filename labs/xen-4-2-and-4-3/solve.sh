#!/usr/bin/env bash
# Solves "What Xen 4.2 and 4.3 changed" from a fresh host (run in dom0 by `xenlab lab test`).
set -euo pipefail
echo "ANSWER nodes $(xl info | sed -n 's/^nr_nodes *: //p')"
# numa_info: "node: memsize memfree distances"; node 0's distances are "to 0,to 1".
echo "ANSWER distance $(xl info -n | awk '$1=="0:" && NF==4 {split($4, d, ","); print d[2]}')"

ready() { # the guest prints DOMU-READY on its console when its shell is up (xenconsoled logs it; 5-60 s under TCG)
  for _ in $(seq 240); do
    grep -q DOMU-READY "/var/log/xen/console/guest-$1.log" 2>/dev/null && return 0
    sleep 0.5
  done
  echo "$1 did not boot" >&2
  return 1
}

cat > "/root/$LAB_GUEST_NAME.cfg" <<CFG
name = "$LAB_GUEST_NAME"
type = "pv"
memory = 128
vcpus = 1
kernel = "/root/vmlinux-domU.gz"
ramdisk = "/root/domU-initrd.cpio.gz"
extra = "console=hvc0"
CFG
xl create "/root/$LAB_GUEST_NAME.cfg" >&2
# The noisy tenant boots meanwhile (its configuration came with the lab's setup).
xl create "/root/$LAB_NOISY_NAME.cfg" >&2
ready "$LAB_GUEST_NAME"

xl vcpu-pin "$LAB_GUEST_NAME" all all 1

ready "$LAB_NOISY_NAME"
sleep 1
# Typing on its console: the line goes to the guest's shell through the console's pty in dom0.
printf 'while :; do :; done &\n' > "$(xenstore-read "/local/domain/$(xl domid "$LAB_NOISY_NAME")/console/tty")"
xl sched-credit -d "$LAB_NOISY_NAME" -c "$LAB_CAP"

xl cpupool-cpu-remove Pool-0 1
printf 'name = "%s"\nsched = "credit2"\ncpus = ["1"]\n' "$LAB_POOL_NAME" > "/root/$LAB_POOL_NAME.cfg"
xl cpupool-create "/root/$LAB_POOL_NAME.cfg" >&2
xl cpupool-migrate "$LAB_NOISY_NAME" "$LAB_POOL_NAME"
# After the move: a domain entering a cpupool starts with that pool's scheduler defaults.
xl sched-credit2 -d "$LAB_NOISY_NAME" -c "$LAB_CAP"
