/**
 * Cross-pool migration between two real simulators over XML-RPC (xapi_host.ml migrate_receive, xapi_vm_migrate.ml
 * migrate_send): the dest map, the VM arriving with its uuid, disks in the mapped SRs and VIFs on the mapped
 * networks, gone from the source; the errors a client sees; a pool of another environment is never reached.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, XapiError } from '@xenlab/toolkit/xenapi';
import type { ScenarioInput } from '../../../sandbox/src/sim/index.js';
import { start, type RunningSimulator } from './helpers.js';

const pool = (name: string, vms: ScenarioInput['vms'] = []): ScenarioInput => ({
  pool: { name },
  seed: name,
  hosts: [
    { name: `${name}-01`, cpus: 8, memoryGiB: 16, nics: ['eth0', 'eth1'] },
    { name: `${name}-02`, cpus: 8, memoryGiB: 4, nics: ['eth0', 'eth1'] },
  ],
  sharedStorage: [
    {
      name: `${name} NFS`,
      type: 'nfs',
      sizeGiB: 512,
      deviceConfig: { server: '10.0.0.5', serverpath: `/srv/${name}` },
      default: true,
    },
  ],
  vms,
});

/** The client with method names as plain strings (these tests build calls from tables). */
interface Client {
  call(method: string, ...args: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}
const connect = (url: string, password: string): Client =>
  createClient({ url, user: 'root', password, transport: 'xml-rpc' });

let east: RunningSimulator;
let west: RunningSimulator;
let stranger: RunningSimulator;
let a: Client;
let b: Client;
let c: Client;

beforeAll(async () => {
  const crossPool = { link: 'env-1-secret', wan: { latencyMs: 40, mbps: 200 } };
  east = await start({
    fast: true,
    password: 'east-pw',
    crossPool,
    scenario: pool('east', [
      { name: 'web01', host: 'east-01', memoryMiB: 1024 },
      { name: 'db01', power_state: 'Halted', memoryMiB: 2048 },
      { name: 'big01', host: 'east-01', memoryMiB: 8192 },
    ]),
  });
  west = await start({ fast: true, password: 'west-pw', crossPool, scenario: pool('west') });
  // Another learner's pool: its own link secret.
  stranger = await start({
    fast: true,
    password: 'other-pw',
    crossPool: { link: 'env-2-secret' },
    scenario: pool('other'),
  });
  a = connect(east.url, 'east-pw');
  b = connect(west.url, 'west-pw');
  c = connect(stranger.url, 'other-pw');
});
afterAll(async () => {
  for (const x of [a, b, c]) await x.close().catch(() => undefined);
  await Promise.all([east.close(), west.close(), stranger.close()]);
});

async function byName(x: Client, cls: 'VM' | 'host' | 'SR' | 'network', name: string): Promise<string> {
  const [r] = (await x.call(`${cls}.get_by_name_label`, name)) as string[];
  if (r === undefined) throw new Error(`no ${cls} ${name}`);
  return r;
}

async function code(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof XapiError) return [e.code, ...e.params];
    throw e;
  }
  throw new Error('expected an API error');
}

/** The dest map of west-01 on eth0's network, and the maps that send every disk and VIF of `vm` there. */
async function toWest(vm: string) {
  const host = await byName(b, 'host', 'west-01');
  const eth0 = await byName(b, 'network', 'Pool-wide network associated with eth0');
  const dest = (await b.call('host.migrate_receive', host, eth0, {})) as Record<string, string>;
  const sr = await byName(b, 'SR', 'west NFS');
  const vdiMap: Record<string, string> = {};
  for (const vbd of (await a.call('VM.get_VBDs', vm)) as string[]) {
    const vdi = (await a.call('VBD.get_VDI', vbd)) as string;
    if ((await a.call('VBD.get_type', vbd)) === 'Disk') vdiMap[vdi] = sr;
  }
  const vifMap: Record<string, string> = {};
  for (const vif of (await a.call('VM.get_VIFs', vm)) as string[]) vifMap[vif] = eth0;
  return { host, eth0, sr, dest, vdiMap, vifMap };
}

describe('host.migrate_receive', () => {
  test('answers the dest map with a new session on the destination', async () => {
    const host = await byName(b, 'host', 'west-01');
    const eth0 = await byName(b, 'network', 'Pool-wide network associated with eth0');
    const dest = (await b.call('host.migrate_receive', host, eth0, {})) as Record<string, string>;
    expect(dest.host).toBe(host);
    expect(dest.master).toBe(`${west.url}/`);
    expect(dest.SM).toMatch(/^http:\/\/[\d.]+\/services\/SM\?session_id=OpaqueRef:/);
    expect(dest.xenops).toMatch(/^http:\/\/[\d.]+\/services\/xenops\?session_id=OpaqueRef:/);
    expect(dest.session_id).toMatch(/^OpaqueRef:/);
    // The session works on the destination.
    const r = await fetch(`${west.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'host.get_name_label',
        params: [dest.session_id, host],
      }),
    });
    expect(((await r.json()) as { result: string }).result).toBe('west-01');
  });

  test('a network the host has no PIF on: HOST_CANNOT_ATTACH_NETWORK', async () => {
    const host = await byName(b, 'host', 'west-01');
    const internal = (await b.call('network.create', {
      name_label: 'internal',
      other_config: {},
    })) as string;
    expect(await code(b.call('host.migrate_receive', host, internal, {}))).toEqual([
      'HOST_CANNOT_ATTACH_NETWORK',
      host,
      internal,
    ]);
  });
});

describe('VM.migrate_send', () => {
  test('a running VM moves to the other pool: same uuid, running on the host, disks and VIFs mapped', async () => {
    const vm = await byName(a, 'VM', 'web01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const mac = (await a.call('VIF.get_MAC', ((await a.call('VM.get_VIFs', vm)) as string[])[0])) as string;
    const { host, eth0, sr, dest, vdiMap, vifMap } = await toWest(vm);
    expect(Object.keys(vdiMap)).toHaveLength(1);
    await a.call('VM.assert_can_migrate', vm, dest, true, vdiMap, vifMap, {});
    const task = (await a.call('Async.VM.migrate_send', vm, dest, true, vdiMap, vifMap, {})) as string;
    let status = 'pending';
    while (status === 'pending') status = (await a.call('task.get_status', task)) as string;
    expect(status).toBe('success');
    expect(await a.call('task.get_progress', task)).toBe(1);
    // Gone from the source, disks included.
    expect(await code(a.call('VM.get_by_uuid', uuid))).toEqual(['UUID_INVALID', 'VM', uuid]);
    expect(await code(a.call('VDI.get_record', Object.keys(vdiMap)[0]))).toEqual([
      'HANDLE_INVALID',
      'VDI',
      Object.keys(vdiMap)[0],
    ]);
    // Running on west-01 with the same uuid, its disk in west NFS, its VIF on eth0 with its MAC.
    const there = (await b.call('VM.get_by_uuid', uuid)) as string;
    const rec = (await b.call('VM.get_record', there)) as Record<string, unknown>;
    expect(rec.name_label).toBe('web01');
    expect(rec.power_state).toBe('Running');
    expect(rec.resident_on).toBe(host);
    const vbds = rec.VBDs as string[];
    const srs = [];
    for (const vbd of vbds) {
      if ((await b.call('VBD.get_type', vbd)) !== 'Disk') continue;
      srs.push(await b.call('VDI.get_SR', await b.call('VBD.get_VDI', vbd)));
    }
    expect(srs).toEqual([sr]);
    const [vif] = rec.VIFs as string[];
    expect(await b.call('VIF.get_network', vif)).toBe(eth0);
    expect(await b.call('VIF.get_MAC', vif)).toBe(mac);
  });

  test('a halted VM arrives halted', async () => {
    const vm = await byName(a, 'VM', 'db01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const { dest, vdiMap, vifMap } = await toWest(vm);
    const made = (await a.call('VM.migrate_send', vm, dest, false, vdiMap, vifMap, {})) as string;
    expect(await b.call('VM.get_uuid', made)).toBe(uuid);
    expect(await b.call('VM.get_power_state', made)).toBe('Halted');
  });

  test('errors: VDI_NOT_IN_MAP, VIF_NOT_IN_MAP, SESSION_INVALID, HANDLE_INVALID, HOST_NOT_ENOUGH_FREE_MEMORY', async () => {
    const vm = await byName(a, 'VM', 'big01');
    const { dest, vdiMap, vifMap, eth0 } = await toWest(vm);
    const [vdi] = Object.keys(vdiMap);
    const [vif] = Object.keys(vifMap);
    expect(await code(a.call('VM.migrate_send', vm, dest, true, {}, vifMap, {}))).toEqual([
      'VDI_NOT_IN_MAP',
      vdi,
    ]);
    expect(await code(a.call('VM.migrate_send', vm, dest, true, vdiMap, {}, {}))).toEqual([
      'VIF_NOT_IN_MAP',
      vif,
    ]);
    const badSession = { ...dest, session_id: 'OpaqueRef:nope' };
    expect(await code(a.call('VM.migrate_send', vm, badSession, true, vdiMap, vifMap, {}))).toEqual([
      'SESSION_INVALID',
      'OpaqueRef:nope',
    ]);
    const badSr = { [String(vdi)]: 'OpaqueRef:no-such-sr' };
    expect(await code(a.call('VM.assert_can_migrate', vm, dest, true, badSr, vifMap, {}))).toEqual([
      'HANDLE_INVALID',
      'SR',
      'OpaqueRef:no-such-sr',
    ]);
    // west-02 has 4 GiB: an 8 GiB VM does not fit.
    const small = await byName(b, 'host', 'west-02');
    const dest2 = (await b.call('host.migrate_receive', small, eth0, {})) as Record<string, string>;
    const err = await code(a.call('VM.migrate_send', vm, dest2, true, vdiMap, vifMap, {}));
    expect(err[0]).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    expect(Number(err[1])).toBeGreaterThan(Number(err[2]));
    // Nothing moved, nothing left behind on the destination.
    expect(await a.call('VM.get_power_state', vm)).toBe('Running');
    expect(await b.call('VM.get_by_name_label', 'big01')).toEqual([]);
  });

  test('a paused VM: VM_BAD_POWER_STATE', async () => {
    const vm = await byName(a, 'VM', 'big01');
    await a.call('VM.pause', vm);
    const { dest, vdiMap, vifMap } = await toWest(vm);
    expect(await code(a.call('VM.migrate_send', vm, dest, true, vdiMap, vifMap, {}))).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'halted, suspended, running',
      'paused',
    ]);
    await a.call('VM.unpause', vm);
  });

  test("another environment's pool is never reached; a pool that is down is INTERNAL_ERROR", async () => {
    const vm = await byName(a, 'VM', 'big01');
    const host = await byName(c, 'host', 'other-01');
    const eth0 = await byName(c, 'network', 'Pool-wide network associated with eth0');
    const dest = (await c.call('host.migrate_receive', host, eth0, {})) as Record<string, string>;
    const refused = ['INTERNAL_ERROR', 'Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")'];
    expect(await code(a.call('VM.migrate_send', vm, dest, true, {}, {}, {}))).toEqual(refused);
    // A west map pointed at the stranger keeps west's link proof: refused too.
    const { dest: westMap } = await toWest(vm);
    expect(
      await code(a.call('VM.assert_can_migrate', vm, { ...westMap, master: dest.master }, true, {}, {}, {})),
    ).toEqual(refused);
    expect(await c.call('VM.get_by_name_label', 'big01')).toEqual([]);
  });
});

describe('over a slow WAN (realistic timings)', () => {
  let slowEast: RunningSimulator;
  let slowWest: RunningSimulator;
  let sa: Client;
  let sb: Client;
  beforeAll(async () => {
    // 50 Mbit/s and 20 ms, counted at a fiftieth of real time: a 1 GiB VM's memory takes about 3.4 s.
    const crossPool = { link: 'slow-link', wan: { latencyMs: 20, mbps: 50 } };
    const durations = { 'VM.migrate_send': 0.02 };
    slowEast = await start({
      fast: false,
      password: 'e',
      crossPool,
      scenario: {
        ...pool('east', [
          { name: 'app01', host: 'east-01', memoryMiB: 1024 },
          { name: 'app02', host: 'east-01', memoryMiB: 1024 },
        ]),
        durations,
      },
    });
    slowWest = await start({
      fast: false,
      password: 'w',
      crossPool,
      scenario: { ...pool('west'), durations },
    });
    sa = connect(slowEast.url, 'e');
    sb = connect(slowWest.url, 'w');
  });
  afterAll(async () => {
    await Promise.all([sa.close(), sb.close()]);
    await Promise.all([slowEast.close(), slowWest.close()]);
  });

  async function startMove(name: string): Promise<string> {
    const vm = await byName(sa, 'VM', name);
    const host = await byName(sb, 'host', 'west-01');
    const eth0 = await byName(sb, 'network', 'Pool-wide network associated with eth0');
    const dest = await sb.call('host.migrate_receive', host, eth0, {});
    const sr = await byName(sb, 'SR', 'west NFS');
    const vdiMap: Record<string, string> = {};
    for (const vbd of (await sa.call('VM.get_VBDs', vm)) as string[])
      if ((await sa.call('VBD.get_type', vbd)) === 'Disk')
        vdiMap[(await sa.call('VBD.get_VDI', vbd)) as string] = sr;
    const vifMap: Record<string, string> = {};
    for (const vif of (await sa.call('VM.get_VIFs', vm)) as string[]) vifMap[vif] = eth0;
    return (await sa.call('Async.VM.migrate_send', vm, dest, true, vdiMap, vifMap, {})) as string;
  }

  /** Polls the task until `until` holds for it; returns every progress seen. */
  async function follow(
    task: string,
    until: (status: string, progress: number) => boolean,
  ): Promise<number[]> {
    const seen: number[] = [];
    for (;;) {
      const status = (await sa.call('task.get_status', task)) as string;
      const progress = Number(await sa.call('task.get_progress', task));
      seen.push(progress);
      if (until(status, progress)) return seen;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('the task shows progress while the bytes cross, then succeeds', { timeout: 120_000 }, async () => {
    const task = await startMove('app01');
    const seen = await follow(task, (status) => status !== 'pending');
    expect(await sa.call('task.get_status', task)).toBe('success');
    expect(seen.some((p) => p > 0 && p < 1)).toBe(true);
    expect(await sb.call('VM.get_by_name_label', 'app01')).toHaveLength(1);
  });

  test(
    'task.cancel stops it: the VM stays where it was, nothing is left on the destination',
    { timeout: 120_000 },
    async () => {
      const task = await startMove('app02');
      await follow(task, (status, progress) => status !== 'pending' || progress > 0);
      await sa.call('task.cancel', task);
      await follow(task, (status) => status !== 'pending');
      expect(await sa.call('task.get_status', task)).toBe('cancelled');
      const vm = await byName(sa, 'VM', 'app02');
      expect(await sa.call('VM.get_power_state', vm)).toBe('Running');
      expect(await sb.call('VM.get_by_name_label', 'app02')).toEqual([]);
    },
  );
});
