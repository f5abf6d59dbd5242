// A lab with two data centers (environment.pools): each pool is its own simulator with its own password, `xe` with
// no flags reaches the first, the learner's shell finds both in XENLAB_POOLS / XENLAB_XAPI_URL_<NAME>…, a VM crosses
// from one to the other with `xe vm-migrate remote-master=…` as on XCP-ng, and the second pool is kept across a
// restart of the environment. Manifest mistakes about pools are clear errors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@xenlab/toolkit/xenapi';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../../sandbox/src/lab-runtime/environment.js';
import { LabError, loadLab } from '../../../sandbox/src/labs/loader.js';

let root: string;

/** Where the lab's checks see web01 running now: [in the first pool, in dc-west (a check with `pool:`)]. */
async function webIn(env: LabEnvironment): Promise<(boolean | undefined)[]> {
  const view = await env.grader.evaluate('check', false);
  const pass = (id: string) => view.tasks[0]?.checks.find((c) => c.id === id)?.pass;
  return [pass('web-in-east'), pass('web-in-west')];
}
const driver = createLabLocalDriver();

const WEST = `pool: { name: dc-west }
seed: west
hosts:
  - { name: west-01, cpus: 8, memoryGiB: 32, nics: [eth0, eth1] }
  - { name: west-02, cpus: 8, memoryGiB: 32, nics: [eth0, eth1] }
sharedStorage:
  - { name: West NFS, type: nfs, sizeGiB: 1024, deviceConfig: { server: 10.1.0.5, serverpath: /srv/west }, default: true }
`;

function writeLab(id: string, environment: string, files: Record<string, string> = {}): string {
  const dir = join(root, id);
  mkdirSync(dir);
  writeFileSync(join(dir, 'guide.mdx'), '---\ntitle: Two data centers\n---\n');
  writeFileSync(join(dir, 'solve.sh'), 'true\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(
    join(dir, 'lab.yaml'),
    `id: ${id}
title: Two data centers
summary: A VM crosses the WAN.
environment:
${environment}
tasks:
  - id: t
    title: T
    text: T
    checks:
      - { id: web-in-east, kind: xapi, select: VM, where: { name_label: web01, power_state: Running } }
      - { id: web-in-west, kind: xapi, pool: dc-west, select: VM, where: { name_label: web01, power_state: Running } }
`,
  );
  return dir;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-multi-pool-lab-'));
  writeLab(
    'two-dcs',
    `  pools:
    - { name: dc-east }
    - { name: dc-west, scenario: west.yaml }
  wan: { latencyMs: 40, mbps: 200 }
  setup: |
    vm=$(xe vm-install template="Debian Bookworm 12" new-name-label=web01)
    net=$(xe network-list name-label="Pool-wide network associated with eth0" params=uuid --minimal)
    xe vif-create vm-uuid=$vm network-uuid=$net device=0 >/dev/null
    xe vm-start vm=web01`,
    { 'west.yaml': WEST },
  );
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('a lab with several pools', () => {
  it(
    'gives each pool its simulator and password, finds them by name, and migrates across with xe',
    { timeout: 180_000 },
    async () => {
      const home = join(root, 'home');
      const stateFile = join(root, 'state', 'pool.json');
      mkdirSync(join(root, 'state'));
      const lab = loadLab(join(root, 'two-dcs'));
      const env = await createLabEnvironment({ lab, driver, learnerId: 'l', home, stateFile, pollMs: 200 });
      let westUuid = '';
      try {
        expect(env.pools.map((p) => p.name)).toEqual(['dc-east', 'dc-west']);
        const [east, west] = env.pools;
        expect(east?.url).toBe(env.xapi.url);
        expect(west?.password).not.toBe(east?.password);
        const sh = async (script: string): Promise<string> => {
          const r = await env.sandbox.exec(['bash', '-c', script]);
          expect(r.code, r.stderr).toBe(0);
          return r.stdout.trim();
        };
        expect(await sh('echo "$XENLAB_POOLS"')).toBe('dc-east,dc-west');
        expect(await sh('echo "$XENLAB_XAPI_URL_DC_WEST"')).toBe(west?.url);
        expect(await sh('[ "$XENLAB_XAPI_URL" = "$XENLAB_XAPI_URL_DC_EAST" ] && echo same')).toBe('same');
        // xe with no flags: the first pool; with the variables: the second.
        expect(await sh('xe pool-list params=name-label --minimal')).toBe('xenlab');
        expect(
          await sh(
            'xe -s 127.0.0.1 -p "${XENLAB_XAPI_URL_DC_WEST##*:}" -u root -pw "$XENLAB_XAPI_PASSWORD_DC_WEST" pool-list params=name-label --minimal',
          ),
        ).toBe('dc-west');
        // No reset to a task: a checkpoint would restore only the first pool.
        expect(env.steps.view().resetUnavailable).toContain('several pools');
        await expect(env.steps.reset('t')).rejects.toMatchObject({ code: 'LAB_ERR_RESET_UNAVAILABLE' });
        // The check sees web01 running in the first pool.
        expect(await webIn(env)).toEqual([true, false]);
        // Across the WAN, as on XCP-ng.
        const out = await sh(`vif=$(xe vif-list vm-name-label=web01 params=uuid --minimal)
net=$(xe -s 127.0.0.1 -p "\${XENLAB_XAPI_URL_DC_WEST##*:}" -u root -pw "$XENLAB_XAPI_PASSWORD_DC_WEST" network-list name-label="Pool-wide network associated with eth0" params=uuid --minimal)
xe vm-migrate vm=web01 remote-master="$XENLAB_XAPI_URL_DC_WEST" remote-username="$XENLAB_XAPI_USER_DC_WEST" \\
  remote-password="$XENLAB_XAPI_PASSWORD_DC_WEST" host=west-02 vif:$vif=$net`);
        expect(out).toContain('Will migrate to remote host: west-02');
        const client = createClient({ url: west?.url ?? '', user: 'root', password: west?.password ?? '' });
        try {
          const [vm] = await client.call('VM.get_by_name_label', 'web01');
          expect(vm).toBeDefined();
          const rec = await client.call('VM.get_record', vm as never);
          expect(rec.power_state).toBe('Running');
          westUuid = rec.uuid;
        } finally {
          await client.close();
        }
        expect(await sh('xe vm-list name-label=web01 --minimal')).toBe('');
        expect(await webIn(env)).toEqual([false, true]);
      } finally {
        await env.close();
      }
      // Brought back from the saved pools: web01 is still in dc-west.
      const again = await createLabEnvironment({ lab, driver, learnerId: 'l', home, stateFile, pollMs: 200 });
      try {
        const west = again.pools[1];
        const client = createClient({ url: west?.url ?? '', user: 'root', password: west?.password ?? '' });
        try {
          const vm = await client.call('VM.get_by_uuid', westUuid);
          expect(await client.call('VM.get_name_label', vm)).toBe('web01');
        } finally {
          await client.close();
        }
      } finally {
        await again.close();
      }
    },
  );

  it('refuses pools beside scenario, twice the same name, a missing file, wan without pools, a check naming no pool', () => {
    const problems = (id: string, environment: string): string => {
      writeLab(id, environment);
      try {
        loadLab(join(root, id));
      } catch (e) {
        if (e instanceof LabError) return e.message;
        throw e;
      }
      return 'loaded';
    };
    expect(problems('both', '  scenario: x.yaml\n  pools: [{ name: a }]')).toContain('pools[].scenario');
    expect(problems('twice', '  pools: [{ name: a }, { name: a }]')).toContain('pool "a" is declared twice');
    expect(problems('missing', '  pools: [{ name: a, scenario: nope.yaml }]')).toContain(
      'nope.yaml does not exist',
    );
    expect(problems('wan-alone', '  wan: { mbps: 10 }')).toContain('declare environment.pools');
    expect(problems('bad-name', '  pools: [{ name: DC_East }]')).toContain('kebab-case');
    // The lab's second check reads pool dc-west.
    expect(problems('other-pools', '  pools: [{ name: a }, { name: b }]')).toContain(
      'no pool "dc-west" in environment.pools (pools: a, b)',
    );
  });
});
