#!/usr/bin/env bash
# Solves "A thousand VMs in an instant" from a fresh environment (run by `xenlab lab test`).
set -euo pipefail
cd ~
# The naive loop: twenty VMs one after the other, as `xe vm-install` + `xe vm-start` make them (VM.clone,
# VM.provision, VM.start), in one node process rather than forty `xe` processes to keep the lab test quick.
node --input-type=module -e '
  import { writeFileSync } from "node:fs";
  import { createClient } from "@xenlab/toolkit/xenapi";
  const env = process.env;
  const xapi = createClient({ url: env.XENLAB_XAPI_URL, user: env.XENLAB_XAPI_USER, password: env.XENLAB_XAPI_PASSWORD });
  const [golden] = await xapi.call("VM.get_by_name_label", env.LAB_GOLDEN);
  const t0 = Date.now();
  for (let i = 1; i <= 20; i++) {
    const vm = await xapi.call("VM.clone", golden, `${env.LAB_NAIVE}-${String(i).padStart(2, "0")}`);
    await xapi.call("VM.provision", vm);
    await xapi.call("VM.start", vm, false, false);
  }
  // Minutes for a thousand at the loop pace, timed here (not around node: its start-up is not the loop).
  writeFileSync("estimate.txt", `${(((Date.now() - t0) / 20) * 1000) / 60000}\n`);
  await xapi.close();'

xenlab-tools provision --template "$LAB_GOLDEN" --count 1000 --name "$LAB_FLEET-{n:4}" --start --concurrency 32

echo "ANSWER chain-depth 2"
