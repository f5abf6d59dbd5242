// Fixtures of broken states: the exact feedback (and hint) a learner sees for the mistakes people make.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { gradingHistory } from '../../../sandbox/src/grading/store.js';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../../sandbox/src/lab-runtime/environment.js';

const driver = createLabLocalDriver();
const open: { env: LabEnvironment; home: string }[] = [];

async function start(
  lab: string,
  learnerId = 'learner-1',
  db?: Database.Database,
  home?: string,
): Promise<LabEnvironment> {
  const h = home ?? mkdtempSync(join(tmpdir(), 'xenlab-feedback-'));
  const env = await createLabEnvironment({
    lab,
    driver,
    learnerId,
    home: h,
    pollMs: 3_600_000,
    fast: true,
    ...(db ? { db } : {}),
  });
  open.push({ env, home: h });
  return env;
}

async function sh(env: LabEnvironment, script: string): Promise<string> {
  const r = await env.sandbox.exec(['bash', '-c', `set -e\n${script}`], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`script failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

const checkOf = (env: LabEnvironment, id: string) =>
  env.grader
    .view()
    .tasks.flatMap((t) => t.checks)
    .find((c) => c.id === id);
const taskOf = (env: LabEnvironment, id: string) => env.grader.view().tasks.find((t) => t.id === id);

afterEach(async () => {
  for (const { env, home } of open.splice(0)) {
    await env.close();
    rmSync(home, { recursive: true, force: true });
  }
});

describe('feedback a learner sees', () => {
  it(
    'lab 2: VMs shut down instead of evacuated — the temporal check says so, and a clean retry passes',
    { timeout: 60_000 },
    async () => {
      const env = await start('the-xenapi');
      await sh(env, 'xe host-disable host=xcp-ng-03; xe vm-shutdown vm=app-1 --force');
      await env.grader.evaluate('check', false);
      expect(checkOf(env, 'apps-kept-running')).toEqual({
        id: 'apps-kept-running',
        kind: 'temporal',
        pass: false,
        message:
          'app-1 and app-2 did not stay running while xcp-ng-03 was disabled (found 1 matching VM, expected exactly 2).',
      });
      expect(taskOf(env, 'maintenance')?.cause).toBe('apps-moved');
      env.grader.hint('maintenance');
      expect(taskOf(env, 'maintenance')?.hints).toEqual([
        '`host.evacuate` live-migrates every VM to the other hosts: `xe host-evacuate host=xcp-ng-03`.',
      ]);
      // The learner follows the third hint: start app-1 again, re-enable, and retry the right way.
      await sh(env, 'xe host-enable host=xcp-ng-03; xe vm-start vm=app-1 on=xcp-ng-03');
      await env.grader.evaluate('check', false);
      await sh(env, 'xe host-disable host=xcp-ng-03; xe host-evacuate host=xcp-ng-03');
      await env.grader.evaluate('check', false);
      expect(taskOf(env, 'maintenance')?.pass).toBe(true);
    },
  );

  it(
    'lab 2: a listing script that prints templates too gets the wrong-list feedback and hint',
    { timeout: 60_000 },
    async () => {
      const env = await start('the-xenapi');
      await sh(
        env,
        `cat > ~/list-vms.mjs <<'JS'
import { createClient } from '@xenlab/toolkit/xenapi';
const e = process.env;
const xapi = createClient({ url: e.XENLAB_XAPI_URL, user: e.XENLAB_XAPI_USER, password: e.XENLAB_XAPI_PASSWORD });
for (const vm of Object.values(await xapi.call('VM.get_all_records'))) console.log(vm.name_label);
await xapi.close();
JS`,
      );
      await env.grader.evaluate('check', true);
      const c = checkOf(env, 'list-vms-prints-guests');
      expect(c?.message).toMatch(
        /^it printed \d+ line\(s\); the pool has 3 guests \(VMs that are neither templates nor control domains\)\.$/,
      );
      expect(taskOf(env, 'sessions-and-records')?.cause).toBe('wrong-list');
      env.grader.hint('sessions-and-records');
      expect(taskOf(env, 'sessions-and-records')?.hints).toEqual([
        '`VM.get_all_records` returns templates and control domains too: filter on `is_a_template` and `is_control_domain`.',
      ]);
    },
  );

  it(
    'lab 3: a fleet made with vm-copy is counted but not accepted as fast clones',
    { timeout: 90_000 },
    async () => {
      const env = await start('templates-and-guests');
      const fleet = env.params.fleet ?? '';
      await sh(
        env,
        `xe vm-install template="Debian Bookworm 12" new-name-label="$LAB_GOLDEN" >/dev/null
       for i in $(seq -w 1 20); do xe vm-copy vm="$LAB_GOLDEN" new-name-label="$LAB_FLEET-$i" >/dev/null; done`,
      );
      await env.grader.evaluate('check', false);
      expect(checkOf(env, 'fleet-of-twenty')?.pass).toBe(true);
      expect(checkOf(env, 'fleet-fast-clones')?.message).toBe(
        `Fewer than 20 ${fleet}-* VMs have fast-cloned disks: install them from the template (VM.clone), not with vm-copy.`,
      );
    },
  );

  it(
    'keeps a learner’s progress across a restart of the environment, and shows the instructor when',
    { timeout: 60_000 },
    async () => {
      const db = new Database(':memory:');
      const home = mkdtempSync(join(tmpdir(), 'xenlab-feedback-'));
      const first = await start('anatomy-of-a-pool', 'learner-9', db, home);
      await sh(first, 'xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME');
      expect((await first.grader.answer('how-many-pifs', '5')).correct).toBe(false);
      expect((await first.grader.answer('how-many-pifs', '6')).correct).toBe(true);
      await first.grader.evaluate('check', false);
      expect(first.grader.view().score).toBe(10);
      const closed = open.splice(
        open.findIndex((o) => o.env === first),
        1,
      );
      await closed[0]?.env.close();

      const again = await start('anatomy-of-a-pool', 'learner-9', db, home);
      expect(checkOf(again, 'how-many-pifs')?.pass).toBe(true);
      expect(again.grader.view().score).toBe(10);
      const rows = gradingHistory(db, { learner: 'learner-9' });
      expect(rows.find((r) => r.task === 'name-the-pool')?.firstPassedAt).toEqual(expect.any(Number));
      expect(rows.find((r) => r.task === 'create-a-disk')).toBeUndefined();
    },
  );

  it('gives two learners different parameters for the same lab', { timeout: 60_000 }, async () => {
    const a = await start('the-xenapi', 'alice');
    const b = await start('the-xenapi', 'bob');
    expect(a.params.vmName).not.toBe(b.params.vmName);
    expect(a.xapi.password).not.toBe(b.xapi.password);
    expect(await sh(a, 'xe vm-list name-label=$LAB_VM_NAME params=name-label --minimal')).toBe(
      `${a.params.vmName ?? ''}\n`,
    );
    expect(await sh(b, `xe vm-list name-label=${a.params.vmName ?? ''} --minimal`)).toBe('\n');
  });

  it(
    'survives its pool going away: no crash, the last good view stays, the failure is reported',
    { timeout: 30_000 },
    async () => {
      const home = mkdtempSync(join(tmpdir(), 'xenlab-feedback-'));
      const env = await createLabEnvironment({
        lab: 'anatomy-of-a-pool',
        driver,
        learnerId: 'l-gone',
        home,
        pollMs: 50,
        fast: true,
      });
      open.push({ env, home });
      env.grader.watch(); // a page is open: the grader polls (nobody watching, it would not)
      const before = env.grader.view();
      await env.sim.close();
      const deadline = Date.now() + 10_000;
      while (env.grader.lastError() === undefined && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(env.grader.lastError()).toEqual(expect.any(String));
      expect(env.grader.view()).toEqual(before);
      await expect(env.grader.check()).rejects.toThrow();
    },
  );
});
