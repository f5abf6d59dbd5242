#!/usr/bin/env bash
# Solves "Finding the bottleneck" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
# The hogs start with the environment: wait until the last samples show the host saturated.
host=none
for _ in $(seq 40); do
  host=$(xenlab-tools bottleneck --window 10 --json | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const f = JSON.parse(s).findings.find((x) => x.resource === "cpu" && x.subject.kind === "host");
      process.stdout.write(f ? f.subject.name : "none");
    });')
  [ "$host" != none ] && break
  sleep 1
done
echo "ANSWER saturated-host $host"
xe vm-migrate vm=batch-1 host=xcp-ng-03
xe vm-param-set uuid="$(xe vm-list name-label=etl-1 --minimal)" VCPUs-params:cap=200
xe vm-param-set uuid="$(xe vm-list name-label=web-1 --minimal)" VCPUs-params:weight=512
