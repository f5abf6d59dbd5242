// A lab's faults: the simulator plays them from the start (a hogging VM shows in its metrics, as the learner will
// see it), again after a restart from the saved pool, and a fault naming a VM setup did not make is a clear error.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabEnvironment, createLabLocalDriver } from '../../../sandbox/src/lab-runtime/environment.js';
import { loadLab } from '../../../sandbox/src/labs/loader.js';

let root: string;
const driver = createLabLocalDriver();

function writeLab(id: string, hog: string): void {
  const dir = join(root, id);
  mkdirSync(dir);
  writeFileSync(join(dir, 'guide.mdx'), '---\ntitle: Faults\n---\n');
  writeFileSync(join(dir, 'solve.sh'), 'true\n');
  writeFileSync(
    join(dir, 'lab.yaml'),
    `id: ${id}
title: Faults
summary: A hog.
environment:
  setup: |
    xe vm-install template="Debian Bookworm 12" new-name-label=burner >/dev/null
    xe vm-start vm=burner
  faults:
    - { kind: vm-load, target: ${hog}, resource: cpu, level: 1 }
tasks:
  - id: t
    title: T
    text: T
    checks: [{ id: c, kind: xapi, select: VM, where: { name_label: nothing } }]
`,
  );
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-faults-lab-'));
  writeLab('hog-lab', 'burner');
  writeLab('bad-hog-lab', 'no-such-vm');
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The VM's CPU in the newest sample `xenlab-tools top --plain` shows, once it is above 80 % (or the last seen). */
async function burnerCpu(env: Awaited<ReturnType<typeof createLabEnvironment>>): Promise<number> {
  let last = 0;
  for (let i = 0; i < 40; i++) {
    const r = await env.sandbox.exec(['xenlab-tools', 'top', '--plain']);
    last = Number(/^burner\s+\S+\s+([\d.]+)%/m.exec(r.stdout)?.[1] ?? 0);
    if (last > 80) return last;
    await new Promise((res) => setTimeout(res, 500));
  }
  return last;
}

describe('lab faults', () => {
  it('make a VM hog its CPU from the start, and again when the environment comes back', async () => {
    const home = join(root, 'home');
    const stateFile = join(root, 'pool.json');
    const lab = loadLab(join(root, 'hog-lab'));
    const first = await createLabEnvironment({ lab, driver, learnerId: 'l', home, stateFile });
    try {
      expect(await burnerCpu(first)).toBeGreaterThan(80);
    } finally {
      await first.close();
    }
    // Brought back from the saved pool (setup does not run again): the hog does.
    const again = await createLabEnvironment({ lab, driver, learnerId: 'l', home, stateFile });
    try {
      expect(await burnerCpu(again)).toBeGreaterThan(80);
    } finally {
      await again.close();
    }
  }, 60_000);

  it('naming a VM that setup did not make fails with LAB_ERR_FAULT', async () => {
    const lab = loadLab(join(root, 'bad-hog-lab'));
    const err: unknown = await createLabEnvironment({
      lab,
      driver,
      learnerId: 'l',
      home: join(root, 'home2'),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'LAB_ERR_FAULT' });
    expect((err as Error).message).toMatch(/"no-such-vm"/);
  });
});
