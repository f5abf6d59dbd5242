#!/usr/bin/env bash
# Solves "Finding the bottleneck" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
# The hogs start with the environment, and the metric history shows them from the start: one look is enough.
host=$(xenlab-tools bottleneck --window 60 --json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const f = JSON.parse(s).findings.find((x) => x.resource === "cpu" && x.subject.kind === "host");
    process.stdout.write(f ? f.subject.name : "none");
  });')
echo "ANSWER saturated-host $host"
xe vm-migrate vm=batch-1 host=xcp-ng-03
xe vm-param-set uuid="$(xe vm-list name-label=etl-1 --minimal)" VCPUs-params:cap=200
# The cap reaches the scheduler when the domain is built again: a live migration does that without downtime.
xe vm-migrate vm=etl-1 host=xcp-ng-02
xe vm-param-set uuid="$(xe vm-list name-label=web-1 --minimal)" VCPUs-params:weight=512
