// `xenlab lab test` for every lab, as CI runs it: on a fresh environment every check fails, the solve script
// runs, every check passes — twice from scratch. Labs on another driver (qemu-xen, docker) run where that driver
// can start, and are skipped (saying why) where it cannot.
import { describe, expect, it } from 'vitest';
import type { SandboxDriver } from '../../../sandbox/src/drivers/types.js';
import { createDriverForLab } from '../../../sandbox/src/lab-runtime/drivers.js';
import { LABS_DIR, loadAllLabs } from '../../../sandbox/src/labs/loader.js';
import { proveLab } from '../../../sandbox/src/lab-runtime/prove.js';

const { labs, errors } = loadAllLabs(LABS_DIR);
const drivers = new Map<string, Promise<SandboxDriver>>();
const driverFor = (name: string): Promise<SandboxDriver> => {
  let d = drivers.get(name);
  if (!d) {
    d = createDriverForLab(name);
    drivers.set(name, d);
  }
  return d;
};

describe('every lab is valid, solvable, and every check can fail', () => {
  it('loads every lab without errors', () => {
    expect(errors.map((e) => e.message)).toEqual([]);
  });

  for (const lab of labs) {
    const name = lab.manifest.environment.driver;
    it(`proves ${lab.id} (${name} driver)`, { timeout: 600_000 }, async (ctx) => {
      let driver: SandboxDriver;
      try {
        driver = await driverFor(name);
      } catch (e) {
        ctx.skip(`the ${name} driver cannot run here: ${(e as Error).message}`);
        return;
      }
      const r = await proveLab(lab, driver, { rounds: 2 });
      expect(r.problems).toEqual([]);
      expect(r.ok).toBe(true);
    });
  }
});
