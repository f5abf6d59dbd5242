// Faults in a lab with several pools (environment.pools): a fault plays in the pool it names (`pool: dc-west`), in
// the first one when it names none — a setup fault, a button, a data center going dark — as each pool's own XenAPI
// shows it, and the Events list says where. A fault naming a pool the lab does not have is a clear manifest error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabEnvironment, createLabLocalDriver } from '../../../sandbox/src/lab-runtime/environment.js';
import { PRESS_INTERVAL_MS } from '../../../sandbox/src/lab-runtime/faults.js';
import { LabError, loadLab, type Lab } from '../../../sandbox/src/labs/loader.js';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { writeLab } from '../../helpers/lab-channel.js';

let root: string;
let lab: Lab;

const WEST = `pool: { name: dc-west }
seed: west
hosts:
  - { name: west-01, cpus: 8, memoryGiB: 32, nics: [eth0, eth1] }
  - { name: west-02, cpus: 8, memoryGiB: 32, nics: [eth0, eth1] }
sharedStorage:
  - { name: West NFS, type: nfs, sizeGiB: 1024, deviceConfig: { server: 10.1.0.5, serverpath: /srv/west }, default: true }
`;

const yaml = (
  id: string,
  faults: string,
  pools = '[{ name: dc-east }, { name: dc-west, scenario: west.yaml }]',
) => `id: ${id}
title: Two data centers in trouble
summary: Faults in each pool.
environment:
  pools: ${pools}
  faults:
${faults}
tasks:
  - id: t
    title: T
    text: T
    checks: [{ id: any, kind: xapi, select: host }]
`;

function twoPoolLab(id: string, faults: string, pools?: string): string {
  const dir = writeLab(root, id, {
    title: 'Two data centers',
    solve: 'true\n',
    yaml: yaml(id, faults, pools),
  });
  writeFileSync(join(dir, 'west.yaml'), WEST);
  return dir;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-faults-per-pool-'));
  lab = loadLab(
    twoPoolLab(
      'split-trouble',
      `    - { kind: host-power-off, target: west-02, pool: dc-west }
    - { kind: host-power-off, target: xcp-ng-03 }
    - { id: lose-west-nfs, kind: sr-lost, target: West NFS, pool: dc-west, trigger: { button: 'Lose the west NFS' } }
    - { id: dark-west, kind: pool-power-off, pool: dc-west, trigger: { button: 'Lose dc-west' } }`,
    ),
  );
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('faults in a lab with several pools', () => {
  it('play in the pool they name, the first pool when they name none', { timeout: 180_000 }, async () => {
    const env = await createLabEnvironment({
      lab,
      driver: createLabLocalDriver(),
      learnerId: 'l',
      home: join(root, 'home'),
      stateFile: join(root, 'state.json'),
      fast: true,
    });
    const [east, west] = env.pools;
    const e = createClient({ url: east?.url ?? '', user: 'root', password: east?.password ?? '' });
    const w = createClient({ url: west?.url ?? '', user: 'root', password: west?.password ?? '' });
    /** host name → live, as the pool's own XenAPI says. */
    const live = async (x: typeof e): Promise<Record<string, boolean>> => {
      const hosts = Object.values(await x.call('host.get_all_records'));
      const out: Record<string, boolean> = {};
      for (const h of hosts) out[h.name_label] = await x.call('host_metrics.get_live', h.metrics);
      return out;
    };
    const attached = async (x: typeof e, sr: string): Promise<boolean[]> => {
      const [ref] = await x.call('SR.get_by_name_label', sr);
      const pbds = await x.call('SR.get_PBDs', ref as never);
      return Promise.all(pbds.map((p) => x.call('PBD.get_currently_attached', p)));
    };
    try {
      // Setup faults: west-02 in dc-west, xcp-ng-03 in the first pool (dc-east), nothing else.
      expect(await live(w)).toEqual({ 'west-01': true, 'west-02': false });
      expect(await live(e)).toEqual({ 'xcp-ng-01': true, 'xcp-ng-02': true, 'xcp-ng-03': false });
      // A button naming dc-west loses West NFS there.
      await env.faults.press('lose-west-nfs');
      expect((await attached(w, 'West NFS')).some(Boolean)).toBe(false);
      // dc-west goes dark (one button every 3 s); dc-east keeps its power.
      await new Promise((r) => setTimeout(r, PRESS_INTERVAL_MS + 100));
      await env.faults.press('dark-west');
      expect(await live(w)).toEqual({ 'west-01': false, 'west-02': false });
      expect(await live(e)).toEqual({ 'xcp-ng-01': true, 'xcp-ng-02': true, 'xcp-ng-03': false });
      expect(env.faults.view()?.events.map((ev) => ev.text)).toEqual([
        'dc-west: SR "West NFS" failed',
        'dc-west: every host of the pool lost power',
      ]);
    } finally {
      await e.close();
      await w.close();
      await env.close();
    }
  });

  it('refuses a fault naming a pool the lab does not have, or any pool in a lab with one', () => {
    const problems = (dir: string): string => {
      try {
        loadLab(dir);
      } catch (err) {
        if (err instanceof LabError) return err.message;
        throw err;
      }
      return 'loaded';
    };
    expect(
      problems(twoPoolLab('typo', '    - { kind: host-power-off, target: west-02, pool: dc-wset }')),
    ).toContain('no pool "dc-wset" in environment.pools (pools: dc-east, dc-west)');
    const single = writeLab(root, 'single', {
      title: 'One pool',
      solve: 'true\n',
      yaml: `id: single
title: One pool
summary: One pool.
environment:
  faults:
    - { kind: host-power-off, target: xcp-ng-02, pool: dc-west }
tasks:
  - id: t
    title: T
    text: T
    checks: [{ id: any, kind: xapi, select: host }]
`,
    });
    expect(problems(single)).toContain(
      'pool "dc-west": this lab has one pool (declare environment.pools to name several)',
    );
  });
});
