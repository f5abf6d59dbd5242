import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type ToolsLab } from './harness.js';

const TEMPLATE = 'Debian Bookworm 12';
let lab: ToolsLab;
beforeAll(async () => {
  lab = await startLab('provision');
});
afterAll(async () => {
  await lab.close();
});

async function template() {
  const [ref] = await lab.client.call('VM.get_by_name_label', TEMPLATE);
  if (!ref) throw new Error('the default scenario has no ' + TEMPLATE);
  return ref;
}

async function vmsNamed(prefix: string) {
  const all = await lab.client.call('VM.get_all_records');
  return Object.values(all).filter((v) => v.name_label.startsWith(prefix));
}

describe('provision', () => {
  it('plans without changing anything in --dry-run, spreading VMs over the hosts', async () => {
    const r = await lab.run([
      'provision',
      '--template',
      TEMPLATE,
      '--count',
      '6',
      '--name',
      'web-{n:2}',
      '--dry-run',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('wanted: 6  create: 6');
    expect(r.stdout).toMatch(/xcp-ng-01\s+\d+\s+2\n/);
    expect(r.stdout).toMatch(/xcp-ng-02\s+\d+\s+2\n/);
    expect(r.stdout).toContain('web-01');
    expect(await vmsNamed('web-')).toHaveLength(0);
  });

  it('creates the VMs as fast clones, placed by free memory, and a rerun changes nothing', async () => {
    const r = await lab.run([
      'provision',
      '--template',
      TEMPLATE,
      '--count',
      '6',
      '--name',
      'web-{n:2}',
      '--start',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created 6, completed 0, started 6, already there 0, failed 0/);
    const vms = await vmsNamed('web-');
    expect(vms.map((v) => v.name_label).sort()).toEqual([
      'web-01',
      'web-02',
      'web-03',
      'web-04',
      'web-05',
      'web-06',
    ]);
    expect(vms.every((v) => !v.is_a_template && v.power_state === 'Running')).toBe(true);
    const hosts = new Set(vms.map((v) => v.resident_on));
    expect(hosts.size).toBe(3);
    const again = await lab.run([
      'provision',
      '--template',
      TEMPLATE,
      '--count',
      '6',
      '--name',
      'web-{n:2}',
      '--start',
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/created 0, completed 0, started 0, already there 6, failed 0/);
  });

  it('completes what an interrupted run left: a marked clone that was never provisioned', async () => {
    const half = await lab.client.call('VM.clone', await template(), 'db-2');
    await lab.client.call('VM.add_to_other_config', half, 'xenlab_provision', 'db-{n}');
    const r = await lab.run([
      'provision',
      '--template',
      TEMPLATE,
      '--count',
      '3',
      '--name',
      'db-{n}',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { created: number; completed: number };
    expect(summary).toMatchObject({ created: 2, completed: 1 });
    expect(await lab.client.call('VM.get_is_a_template', half)).toBe(false);
  });

  it('refuses to touch a template it did not make that has a wanted name', async () => {
    await lab.client.call('VM.clone', await template(), 'app-1');
    const r = await lab.run(['provision', '--template', TEMPLATE, '--count', '2', '--name', 'app-{n}']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('app-1: conflict: a template not made by provision is named app-1');
    expect(r.stdout).toContain('created 1');
  });

  it('reports a VM the pool cannot start as a failure with its XenAPI code, and the others still complete', async () => {
    const r = await lab.run([
      'provision',
      '--template',
      TEMPLATE,
      '--count',
      '40',
      '--name',
      'big-{n}',
      '--start',
    ]);
    // 3 hosts × 32 GiB cannot run 40 × 2 GiB VMs: the ones past capacity fail with XAPI's own error.
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /failed \(rerun the same command to retry them\):\n {2}big-\d+: HOST_NOT_ENOUGH_FREE_MEMORY/,
    );
  });

  it('draws a progress bar on a terminal and erases it before the summary', async () => {
    const r = await lab.run(['provision', '--template', TEMPLATE, '--count', '3', '--name', 'bar-{n}'], {
      tty: true,
    });
    expect(r.code).toBe(0);
    expect(r.stderr.startsWith(`\r\x1b[Kprovision [${'.'.repeat(24)}]   0% 0/3 `)).toBe(true);
    expect(r.stderr).toContain('] 100% 3/3 ');
    expect(r.stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(r.stdout).toMatch(/^provisioned 3 wanted VMs in /);
  });

  it('stops starting VMs when interrupted, and a rerun finishes the job', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await lab.run(['provision', '--template', TEMPLATE, '--count', '4', '--name', 'cut-{n}'], {
      signal: controller.signal,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('interrupted: 4 VM(s) not attempted; rerun the same command to finish');
    const again = await lab.run(['provision', '--template', TEMPLATE, '--count', '4', '--name', 'cut-{n}']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('created 4,');
  });

  it('explains a missing template and a pattern without {n}', async () => {
    const r = await lab.run(['provision', '--template', 'Nope', '--count', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'xenlab-tools provision: no template "Nope" in the pool; list them with `xe template-list params=name-label` [TOOLS_ERR_NOT_FOUND]\n',
    );
    const p = await lab.run(['provision', '--template', TEMPLATE, '--count', '2', '--name', 'same']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('needs {n} (or {n:3}) to tell 2 VMs apart [TOOLS_ERR_USAGE]');
    const u = await lab.run(['provision', '--count', 'x']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('--count wants a number, got "x"');
  });

  it('needs a pool', async () => {
    const r = await lab.run(['provision', '--template', TEMPLATE, '--count', '1'], {
      env: { XENLAB_URL: '' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[TOOLS_ERR_NO_POOL]');
  });
});
