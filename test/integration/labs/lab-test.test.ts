// `xenlab lab test` for every lab, as CI runs it: on a fresh environment every check fails, the solve script
// runs, every check passes — twice from scratch. Labs on another driver (qemu-xen, docker) run where that driver
// can start, and are skipped (saying why) where it cannot — except qemu-xen labs under XENLAB_REQUIRE_XEN=1 (CI),
// which must run.
import { describe, expect, it } from 'vitest';
import type { SandboxDriver } from '../../../sandbox/src/drivers/types.js';
import { createDriverForLab } from '../../../sandbox/src/lab-runtime/drivers.js';
import { LABS_DIR, loadAllLabs } from '../../../sandbox/src/labs/loader.js';
import { proveLab } from '../../../sandbox/src/lab-runtime/prove.js';

const { labs, errors } = loadAllLabs(LABS_DIR);
// CI (`.ci/run`) builds the nested-Xen images and sets this: there a qemu-xen lab that cannot start fails.
const requireXen = process.env.XENLAB_REQUIRE_XEN === '1';
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
    // Two rounds of a lab with several emulated machines (a cluster failing over under TCG) take far longer than
    // one Xen host: 25 min per round of budget for those, 10 min per lab otherwise.
    const machines = (lab.manifest.environment.nodes ?? []).filter((n) => n.image !== 'local').length;
    const timeout = machines > 1 ? 3_000_000 : 600_000;
    it(`proves ${lab.id} (${name} driver)`, { timeout }, async (ctx) => {
      let driver: SandboxDriver;
      try {
        driver = await driverFor(name);
      } catch (e) {
        if (name === 'qemu-xen' && requireXen)
          throw new Error(`XENLAB_REQUIRE_XEN=1 but the qemu-xen driver cannot run: ${(e as Error).message}`);
        ctx.skip(`the ${name} driver cannot run here: ${(e as Error).message}`);
        return;
      }
      // Each part's time in the CI log: where a slow lab spends it.
      const r = await proveLab(lab, driver, {
        rounds: 2,
        log: (line) => {
          console.log(`${lab.id}${line}`);
        },
      });
      expect(r.problems).toEqual([]);
      expect(r.ok).toBe(true);
    });
  }
});
