// The guides are tested like code: every shell block of a lab's guide, run in order in a fresh environment of
// that lab, succeeds (what a learner pressing every Run button would see).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLabEnvironment, createLabLocalDriver } from '../../../sandbox/src/lab-runtime/environment.js';
import { LABS_DIR, loadAllLabs } from '../../../sandbox/src/labs/loader.js';

const driver = createLabLocalDriver();
const { labs } = loadAllLabs(LABS_DIR);

describe('lab guides', () => {
  for (const lab of labs.filter((l) => l.manifest.environment.driver === 'local')) {
    it(
      `${lab.id}: every shell block runs, in order, in a fresh environment`,
      // Room for a guide that makes a thousand VMs (a-thousand-vms: a loop of 40 `xe` calls, then provision).
      { timeout: 400_000 },
      async () => {
        const guide = readFileSync(join(lab.dir, lab.manifest.guide), 'utf8');
        const blocks = [...guide.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
        expect(blocks.length).toBeGreaterThan(0);
        const home = mkdtempSync(join(tmpdir(), 'xenlab-guide-'));
        const env = await createLabEnvironment({
          lab,
          driver,
          learnerId: 'guide-reader',
          home,
          pollMs: 3_600_000,
          fast: true,
        });
        try {
          for (const [i, block] of blocks.entries()) {
            const r = await env.sandbox.exec(['bash', '-c', `set -eo pipefail\n${block}`], {
              timeoutMs: 180_000,
            });
            expect({ block: i, code: r.code, stderr: r.stderr }).toEqual({ block: i, code: 0, stderr: '' });
          }
        } finally {
          await env.close();
          rmSync(home, { recursive: true, force: true });
        }
      },
    );
  }
});
