#!/usr/bin/env bash
# Solves "Repair without moving a finger" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
cat > ~/balance.yaml <<'YAML'
thresholds:
  cpu: { high: 0.75, target: 0.6 }
hysteresis: { samples: 2 }
spare: { hosts: [xcp-ng-02] }
affinity: { anti: [anti:db] }
YAML
for v in db-1 db-2; do
  xe vm-param-add uuid="$(xe vm-list name-label=$v --minimal)" param-name=tags param-key=anti:db
done
xenlab-tools balance --policy ~/balance.yaml --once --dry-run >/dev/null
xenlab-tools balance start --policy ~/balance.yaml
# Hands off: the lab raises the load as the balancer starts; wait for its move and for xcp-ng-01 to cool down.
h1=$(xe host-list name-label=xcp-ng-01 --minimal)
for _ in $(seq 240); do
  if [ -n "$(xe message-list name=XENLAB_BALANCE_MOVE --minimal)" ] &&
    awk -v v="$(xe host-data-source-query uuid="$h1" data-source=cpu_avg)" 'BEGIN { exit !(v < 0.75) }'; then
    break
  fi
  sleep 1
done
xenlab-tools balance status
xenlab-tools balance stop
