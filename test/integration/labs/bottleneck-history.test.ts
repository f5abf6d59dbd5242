// Lab 5 starts true (issue #12): the simulator's metric history is seeded from the pool as brought up, so the
// guide's `xenlab-tools bottleneck --window 60`, run the moment the environment is ready, already names the
// saturated host (before, it said "no saturation" for 30–40 s while `top` showed 99.8 %).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../../sandbox/src/lab-runtime/environment.js';

let home: string;
let env: LabEnvironment;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'xenlab-bottleneck-'));
  env = await createLabEnvironment({
    lab: 'finding-the-bottleneck',
    driver: createLabLocalDriver(),
    learnerId: 'l',
    home,
    fast: true,
  });
}, 90_000);
afterAll(async () => {
  await env.close();
  rmSync(home, { recursive: true, force: true });
});

describe('finding the bottleneck, at once', () => {
  it("the guide's bottleneck command names the saturated host the moment the lab is up", async () => {
    const r = await env.sandbox.exec(['bash', '-c', 'xenlab-tools bottleneck --window 60'], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/host xcp-ng-01 CPU saturated: cpu_avg (9\d|100)\.\d%/);
    expect(r.stdout).not.toMatch(/no saturation/);
    // The whole window is history, not just the seconds since bring-up.
    const json = await env.sandbox.exec(['bash', '-c', 'xenlab-tools bottleneck --window 600 --json']);
    expect((JSON.parse(json.stdout) as { samples: number }).samples).toBeGreaterThanOrEqual(119);
  });
});
