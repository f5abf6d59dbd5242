#!/usr/bin/env bash
# Solves "The XenAPI" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
cd ~
head='import { createClient } from "@xenlab/toolkit/xenapi";
const env = process.env;
const xapi = createClient({ url: env.XENLAB_XAPI_URL, user: env.XENLAB_XAPI_USER, password: env.XENLAB_XAPI_PASSWORD });'

cat > list-vms.mjs <<JS
$head
const vms = await xapi.call("VM.get_all_records");
for (const vm of Object.values(vms)) if (!vm.is_a_template && !vm.is_control_domain) console.log(vm.name_label);
await xapi.close();
JS
node list-vms.mjs >/dev/null

cat > start-vm.mjs <<JS
$head
const [vm] = await xapi.call("VM.get_by_name_label", process.argv[2]);
await xapi.callAsync("VM.start", vm, false, false);
await xapi.close();
JS
node start-vm.mjs "$LAB_VM_NAME"

cat > watch.mjs <<JS
$head
const w = xapi.watchEvents(["VM"], (ev) => {
  if (ev.snapshot) console.log(ev.snapshot.name_label + " " + ev.snapshot.power_state);
});
await w.ready;
console.error("watching");
JS
node watch.mjs > events.log 2> watch.err &
watcher=$!
for _ in $(seq 100); do grep -q watching watch.err && break; sleep 0.1; done
xe vm-shutdown vm="$LAB_VM_NAME"
for _ in $(seq 100); do grep -q "^$LAB_VM_NAME Halted" events.log && break; sleep 0.1; done
kill $watcher

xe host-disable host=xcp-ng-03
xe host-evacuate host=xcp-ng-03
