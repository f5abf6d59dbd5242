// `xenlab lab test` for every lab, as CI runs it: on a fresh environment every check fails, the solve script
// runs, every check passes — twice from scratch.
import { describe, expect, it } from 'vitest';
import { createLabLocalDriver } from '../../../sandbox/src/labs/environment.js';
import { LABS_DIR, loadAllLabs } from '../../../sandbox/src/labs/loader.js';
import { proveLab } from '../../../sandbox/src/labs/prove.js';

const { labs, errors } = loadAllLabs(LABS_DIR);
const driver = createLabLocalDriver();

describe('every lab is valid, solvable, and every check can fail', () => {
  it('loads every lab without errors', () => {
    expect(errors.map((e) => e.message)).toEqual([]);
  });

  for (const lab of labs.filter((l) => l.manifest.environment.driver === 'local')) {
    it(`proves ${lab.id}`, { timeout: 240_000 }, async () => {
      const r = await proveLab(lab, driver, { rounds: 2 });
      expect(r.problems).toEqual([]);
      expect(r.ok).toBe(true);
    });
  }
});
