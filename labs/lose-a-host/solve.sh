#!/usr/bin/env bash
# Solves "Lose a host: pool HA" from a fresh environment (run by `xenlab lab test`).
# A line `# xenlab-lab-test: press <fault id>` is where the learner presses that fault's button in the task panel:
# the prover runs the parts of this script in turn and presses the button between them (each part is its own bash).
set -euo pipefail
vm() { xe vm-list name-label="$1" --minimal; }

xe pool-ha-enable heartbeat-sr-uuids="$(xe sr-list name-label='NFS storage' --minimal)"

for v in db-1 web-1 web-2; do xe vm-param-set uuid="$(vm $v)" ha-restart-priority=restart; done
xe vm-param-set uuid="$(vm cache-1)" ha-restart-priority=best-effort
xe vm-param-set uuid="$(vm db-1)" order=1 start-delay=30
for v in web-1 web-2; do xe vm-param-set uuid="$(vm $v)" order=2; done

max=$(xe pool-ha-compute-max-host-failures-to-tolerate)
echo "ANSWER max-failures $max"
xe pool-param-set uuid="$(xe pool-list --minimal)" ha-host-failures-to-tolerate="$max"

# Protecting scratch-1 too must be refused; the answer is the error code behind xe's message.
if out=$(xe vm-param-set uuid="$(vm scratch-1)" ha-restart-priority=restart 2>&1); then
  echo "protecting scratch-1 was accepted; it should break the failover plan" >&2
  exit 1
fi
grep -q 'would invalidate VM failover planning' <<<"$out"
echo "ANSWER refusal HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN"

# xenlab-lab-test: press pull-the-plug
set -euo pipefail
for _ in $(seq 60); do
  [ "$(xe host-list name-label=xcp-ng-02 params=host-metrics-live --minimal)" = false ] && break
  sleep 0.2
done
[ "$(xe host-list name-label=xcp-ng-02 params=host-metrics-live --minimal)" = false ] ||
  { echo 'xcp-ng-02 still has power: nobody pressed "Pull the plug on xcp-ng-02"' >&2; exit 1; }
for v in db-1 web-1 web-2; do
  for _ in $(seq 300); do
    [ "$(xe vm-list name-label=$v params=power-state --minimal)" = running ] && break
    sleep 0.2
  done
done
xe message-list name=HA_HOST_FAILED params=body --minimal
echo "ANSWER cache-state $(xe vm-list name-label=cache-1 params=power-state --minimal)"

# Back on through the XenAPI, as a BMC or Wake-on-LAN would (the task panel's "Power xcp-ng-02 on" does the same):
# xapi powers a dead host on only when it has a power-on mode.
cd ~
cat > power-on.mjs <<'JS'
import { createClient } from '@xenlab/toolkit/xenapi';
const env = process.env;
const xapi = createClient({ url: env.XENLAB_XAPI_URL, user: env.XENLAB_XAPI_USER, password: env.XENLAB_XAPI_PASSWORD });
const [host] = await xapi.call('host.get_by_name_label', process.argv[2]);
await xapi.call('host.set_power_on_mode', host, 'wake-on-lan', {});
await xapi.call('host.power_on', host);
await xapi.close();
JS
node power-on.mjs xcp-ng-02
until [ "$(xe host-list name-label=xcp-ng-02 params=host-metrics-live --minimal)" = true ]; do sleep 0.2; done
xe vm-start vm=cache-1 on=xcp-ng-02
