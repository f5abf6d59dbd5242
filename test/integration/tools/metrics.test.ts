import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BottleneckReport } from '../../../toolkit/src/tools/index.js';
import { startLab, type RunResult, type ToolsLab } from './harness.js';

// A noisy pool: ten CPU hogs started on one host (20 vCPUs wanted of 8 physical), one I/O hog on another.
let lab: ToolsLab;
let idle: RunResult;
beforeAll(async () => {
  lab = await startLab('metrics');
  idle = await lab.run(['bottleneck', '--window', '600']);
  const made = await lab.run([
    'provision',
    '--template',
    'Debian Bookworm 12',
    '--count',
    '10',
    '--name',
    'hog-{n:2}',
  ]);
  expect(made.code).toBe(0);
  const io = await lab.run([
    'provision',
    '--template',
    'Debian Bookworm 12',
    '--count',
    '1',
    '--name',
    'disk-{n}',
  ]);
  expect(io.code).toBe(0);
  const [h1] = await lab.client.call('host.get_by_name_label', 'xcp-ng-01');
  const [h2] = await lab.client.call('host.get_by_name_label', 'xcp-ng-02');
  if (!h1 || !h2) throw new Error('default scenario hosts missing');
  for (let i = 1; i <= 10; i++) {
    const name = `hog-${String(i).padStart(2, '0')}`;
    const [vm] = await lab.client.call('VM.get_by_name_label', name);
    if (!vm) throw new Error(name);
    await lab.client.call('VM.start_on', vm, h1, false, false);
    await lab.control('fault/vm-hog', { name_label: name, kind: 'cpu', level: 1 });
  }
  const [disk] = await lab.client.call('VM.get_by_name_label', 'disk-1');
  if (!disk) throw new Error('disk-1');
  await lab.client.call('VM.start_on', disk, h2, false, false);
  await lab.control('fault/vm-hog', { name_label: 'disk-1', kind: 'io', level: 1 });
  // One CPU hog alone on the third host: limited by its own two vCPUs.
  const solo = await lab.run([
    'provision',
    '--template',
    'Debian Bookworm 12',
    '--count',
    '1',
    '--name',
    'solo-{n}',
  ]);
  expect(solo.code).toBe(0);
  const [h3] = await lab.client.call('host.get_by_name_label', 'xcp-ng-03');
  const [vm] = await lab.client.call('VM.get_by_name_label', 'solo-1');
  if (!h3 || !vm) throw new Error('solo-1');
  await lab.client.call('VM.start_on', vm, h3, false, false);
  await lab.control('fault/vm-hog', { name_label: 'solo-1', kind: 'cpu', level: 1 });
});
afterAll(async () => {
  await lab.close();
});

const findings = (r: RunResult): BottleneckReport['findings'] =>
  r.code === 0 ? (JSON.parse(r.stdout) as BottleneckReport).findings : [];

describe('bottleneck', () => {
  it('finds nothing on an idle pool, and says what it looked at', () => {
    expect(idle.code).toBe(0);
    expect(idle.stdout).toMatch(
      /^no saturation in the last 600 s \(\d+ samples; 3 hosts, 0 running VMs\)\n$/,
    );
  });

  it('finds the saturated host and recommends migrating its busiest VM to a host with room', async () => {
    const r = await lab.until(['bottleneck', '--window', '5', '--json'], (x) =>
      findings(x).some((f) => f.resource === 'cpu'),
    );
    const cpu = findings(r).find((f) => f.resource === 'cpu');
    expect(cpu?.subject).toMatchObject({ kind: 'host', name: 'xcp-ng-01' });
    expect(cpu?.evidence.join('\n')).toMatch(/10 running VM\(s\) use [78]\.\d of 8 physical CPUs/);
    expect(cpu?.evidence.join('\n')).toMatch(/VM\(s\) wait for a CPU \(runstate_runnable up to \d+\.\d%\)/);
    expect(cpu?.repair.action).toBe('migrate');
    expect(cpu?.repair.text).toMatch(
      /^migrate VM hog-\d\d to host xcp-ng-0[23] \(cpu_avg \d+\.\d%, [\d.]+ GiB free\)$/,
    );
    expect(cpu?.repair.command).toMatch(
      /^xe vm-migrate uuid=[0-9a-f-]{36} host-uuid=[0-9a-f-]{36} live=true$/,
    );
  });

  it('tells a VM limited by its own size from one starved by its neighbours', async () => {
    const r = await lab.until(['bottleneck', '--window', '5', '--json'], (x) =>
      findings(x).some((f) => f.subject.name === 'solo-1'),
    );
    const all = findings(r).filter((f) => f.resource === 'cpu');
    const solo = all.find((f) => f.subject.name === 'solo-1');
    expect(solo?.summary).toMatch(/^VM solo-1 CPU-bound: (9\d|100)\.\d% of its 2 vCPU\(s\)$/);
    expect(solo?.repair).toMatchObject({ action: 'add-vcpus' });
    expect(solo?.repair.command).toMatch(
      /^xe vm-param-set uuid=[0-9a-f-]{36} VCPUs-max=4 VCPUs-at-startup=4$/,
    );
    // The hogs on the saturated host get the host finding, not one each.
    expect(all.filter((f) => f.subject.kind === 'vm' && f.subject.name.startsWith('hog-'))).toEqual([]);
  });

  it('finds the saturated disk and recommends moving the heaviest disk off the busy SR', async () => {
    const r = await lab.until(['bottleneck', '--window', '5', '--json'], (x) =>
      findings(x).some((f) => f.resource === 'disk'),
    );
    const disk = findings(r).find((f) => f.resource === 'disk');
    expect(disk?.subject).toMatchObject({ kind: 'vm', name: 'disk-1' });
    expect(disk?.summary).toMatch(/^VM disk-1 disk xvda saturated: \d+\.\d ms latency$/);
    expect(disk?.evidence).toContain('on SR NFS storage (nfs), shared by 12 running VM(s)');
    expect(disk?.repair.action).toBe('move-disk');
    expect(disk?.repair.text).toBe(
      'move disk xvda of VM disk-1 (10.0 GiB) from SR NFS storage to SR Local storage',
    );
    expect(disk?.repair.command).toMatch(/^xe vdi-pool-migrate uuid=[0-9a-f-]{36} sr-uuid=[0-9a-f-]{36}$/);
  });

  it('reports memory pressure on a host and inside a guest with a lower threshold', async () => {
    const r = await lab.until(['bottleneck', '--window', '5', '--memory', '0.5', '--json'], (x) =>
      findings(x).some((f) => f.resource === 'memory' && f.subject.name === 'disk-1'),
    );
    const memory = findings(r).filter((f) => f.resource === 'memory');
    const host = memory.find((f) => f.subject.kind === 'host');
    expect(host?.summary).toMatch(/^host xcp-ng-01 memory nearly full: \d+\.\d% used$/);
    expect(host?.repair.text).toMatch(
      /^migrate VM hog-\d\d to host xcp-ng-0[23] \(most free memory, [\d.]+ GiB free\)$/,
    );
    const guest = memory.find((f) => f.subject.name === 'disk-1');
    expect(guest?.evidence[0]).toMatch(/^memory_internal_free [\d.]+ MiB of 2\.0 GiB$/);
    expect(guest?.repair).toMatchObject({ action: 'add-memory' });
    expect(guest?.repair.command).toMatch(
      /^xe vm-memory-limits-set uuid=[0-9a-f-]{36} static-min=\d+ dynamic-min=\d+ dynamic-max=4294967296 static-max=4294967296$/,
    );
  });

  it('prints the same findings as text with evidence and the xe command', async () => {
    const r = await lab.until(['bottleneck', '--window', '5'], (x) =>
      x.stdout.includes('CPU     host xcp-ng-01'),
    );
    expect(r.stdout).toMatch(/CPU {5}host xcp-ng-01 CPU saturated: cpu_avg \d+\.\d%\n {8}evidence: cpu_avg/);
    expect(r.stdout).toMatch(
      /\n {8}repair: {3}migrate VM hog-\d\d to host xcp-ng-0[23].*\n {18}xe vm-migrate uuid=/,
    );
  });

  it('rejects a window too short to hold a sample', async () => {
    const r = await lab.run(['bottleneck', '--window', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--window must be at least 5');
  });
});

describe('top', () => {
  it('prints hosts and the busiest VMs as plain tables when piped', async () => {
    const r = await lab.until(['top', '--limit', '3'], (x) =>
      /\nhog-\d\d\s+xcp-ng-01\s+[1-9]\d\.\d%/.test(x.stdout),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^# \d{4}-\d\d-\d\dT[\d:.]+Z sort=cpu\nHOST +CPU +PCPUS +LOAD +MEM USED +MEM TOTAL +NET +VMS\n/,
    );
    expect(r.stdout).toMatch(/\nxcp-ng-01 +9\d\.\d% +8 /);
    expect(r.stdout).toContain('… 9 more VMs\n');
  });

  it('sorts by disk', async () => {
    const r = await lab.until(['top', '--sort', 'disk', '--limit', '1'], (x) =>
      /\nVM .*\ndisk-1 /.test(x.stdout),
    );
    expect(r.stdout).toMatch(/\ndisk-1 +xcp-ng-02 +[\d.]+% +2 +2\.0 GiB +\d+\.\d MiB\/s/);
  });

  it('redraws in place on a terminal, changes the sort on a key and quits on q', async () => {
    async function* keys(): AsyncIterable<string> {
      yield await Promise.resolve('d');
      yield 'q';
    }
    const r = await lab.run(['top', '--interval', '0.5'], { tty: true, keys: keys() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\x1b[H\x1b[2J');
    expect(r.stdout).toMatch(
      /xenlab top — 3 hosts, 12 running VMs — [\d:]+ UTC — sort: disk \(c m d n a; q quits\)/,
    );
    expect(r.stdout.endsWith('\x1b[?25h\n')).toBe(true);
  });

  it('stops a live view when the user interrupts', async () => {
    const controller = new AbortController();
    const running = lab.run(['top', '--interval', '60'], { tty: true, signal: controller.signal });
    controller.abort();
    const r = await running;
    expect(r.code).toBe(0);
  });
});
