/**
 * vApps and disaster recovery between two real simulators over XML-RPC (xapi_vm_appliance.ml, xapi_sr.ml
 * enable_database_replication, xapi_dr_task.ml, xapi_vdi.ml open_database, xapi_dr.ml recover_vms): a vApp starts
 * its VMs group by group in `order` with each VM's `start_delay` on the simulated clock, and shuts them down in the
 * reverse order; pool "east" replicates its database to its NFS SR, which pool "west" (same sharedStorage directory)
 * finds with DR_task.create and recovers VMs and a vApp from, with the same uuids and disks; the errors a client sees;
 * a pool of another environment (another directory) finds nothing.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { XapiError, createXmlRpcTransport } from '@xenlab/toolkit/xenapi';
import { startIsolatedSimulator, type ScenarioInput } from '../../../sandbox/src/sim/index.js';
import { DEFAULT_DURATIONS } from '../../../sandbox/src/sim/clock.js';
import { start, type RunningSimulator } from '../sim/helpers.js';

const pool = (name: string, extra: Partial<ScenarioInput> = {}): ScenarioInput => ({
  pool: { name },
  seed: name,
  hosts: [
    { name: `${name}-01`, cpus: 8, memoryGiB: 16, nics: ['eth0'] },
    { name: `${name}-02`, cpus: 8, memoryGiB: 16, nics: ['eth0'] },
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
  ...extra,
});

/** Every operation instant except the vApp delays: 300 ms of simulated wait per second of delay. */
const DELAY_MS = 300;
const durations = {
  ...Object.fromEntries(Object.keys(DEFAULT_DURATIONS).map((k) => [k, 0])),
  'VM.start_delay': DELAY_MS,
  'VM.shutdown_delay': DELAY_MS,
};

/** Raw XML-RPC calls with an explicit session (a foreign database's session is not the client's own). */
class Wire {
  readonly #t;
  session = '';
  constructor(url: string) {
    this.#t = createXmlRpcTransport(new URL(url));
  }
  async login(password: string): Promise<this> {
    this.session = (await this.#t.call('session.login_with_password', [
      'root',
      password,
      '2.21',
      'test',
    ])) as string;
    return this;
  }
  /** A call with this wire's session first. */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return this.as<T>(this.session, method, ...args);
  }
  /** A call with another session. */
  async as<T = unknown>(session: string, method: string, ...args: unknown[]): Promise<T> {
    return (await this.#t.call(method, [session, ...args])) as T;
  }
  async byName(cls: string, name: string): Promise<string> {
    const [r] = await this.call<string[]>(`${cls}.get_by_name_label`, name);
    if (r === undefined) throw new Error(`no ${cls} ${name}`);
    return r;
  }
  /** Runs Async.<method> and waits for the task; returns its status and error. */
  async task(method: string, ...args: unknown[]): Promise<{ status: string; error: string[] }> {
    const task = await this.call<string>(`Async.${method}`, ...args);
    for (;;) {
      const status = await this.call<string>('task.get_status', task);
      if (status !== 'pending') {
        const error = await this.call<string[]>('task.get_error_info', task);
        await this.call('task.destroy', task);
        return { status, error };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  close(): void {
    this.#t.close();
  }
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

let shared: string;
let elsewhere: string;
let east: RunningSimulator;
let west: RunningSimulator;
let stranger: RunningSimulator;
let a: Wire;
let b: Wire;
let c: Wire;

beforeAll(async () => {
  shared = mkdtempSync(join(tmpdir(), 'xenlab-dr-'));
  elsewhere = mkdtempSync(join(tmpdir(), 'xenlab-dr-other-'));
  const vm = (name: string) => ({ name, power_state: 'Halted' as const, memoryMiB: 512 });
  east = await start({
    fast: false,
    password: 'east-pw',
    sharedStorage: shared,
    scenario: pool('east', { vms: [vm('db01'), vm('app01'), vm('web01'), vm('solo01')], durations }),
  });
  west = await start({ fast: true, password: 'west-pw', sharedStorage: shared, scenario: pool('west') });
  stranger = await start({
    fast: true,
    password: 'other-pw',
    sharedStorage: elsewhere,
    scenario: pool('other'),
  });
  a = await new Wire(east.url).login('east-pw');
  b = await new Wire(west.url).login('west-pw');
  c = await new Wire(stranger.url).login('other-pw');
});
afterAll(async () => {
  for (const w of [a, b, c]) w.close();
  await Promise.all([east.close(), west.close(), stranger.close()]);
  rmSync(shared, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

let shop = '';

describe('VM_appliance', () => {
  test('a vApp gathers VMs; allowed_operations follow their power states', async () => {
    shop = await a.call<string>('VM_appliance.create', {
      name_label: 'shop',
      name_description: 'three tiers',
    });
    const empty = await a.call<Record<string, unknown>>('VM_appliance.get_record', shop);
    expect(empty).toMatchObject({
      name_label: 'shop',
      allowed_operations: [],
      current_operations: {},
      VMs: [],
    });
    expect(await code(a.call('VM_appliance.start', shop, false))).toEqual([
      'OPERATION_NOT_ALLOWED',
      'Appliance has no VMs.',
    ]);
    const settings: [string, number, number, number][] = [
      ['db01', 0, 2, 0],
      ['app01', 1, 1, 1],
      ['web01', 2, 0, 2],
    ];
    for (const [name, order, startDelay, shutdownDelay] of settings) {
      const vm = await a.byName('VM', name);
      await a.call('VM.set_appliance', vm, shop);
      await a.call('VM.set_order', vm, order);
      await a.call('VM.set_start_delay', vm, startDelay);
      await a.call('VM.set_shutdown_delay', vm, shutdownDelay);
    }
    const rec = await a.call<Record<string, unknown>>('VM_appliance.get_record', shop);
    expect((rec.VMs as string[]).length).toBe(3);
    // A vApp's VM does not become a template (xapi_vm_lifecycle.ml check_appliance).
    const db = await a.byName('VM', 'db01');
    expect(await a.call('VM.get_allowed_operations', db)).not.toContain('make_into_template');
    expect(await code(a.call('VM.set_is_a_template', db, true))).toEqual([
      'VM_IS_PART_OF_AN_APPLIANCE',
      db,
      shop,
    ]);
    expect(rec.allowed_operations).toEqual(['start']);
    expect(await code(a.call('VM_appliance.clean_shutdown', shop))).toEqual([
      'OPERATION_NOT_ALLOWED',
      'There are no running VMs in this appliance.',
    ]);
    const template = await a.byName('VM', 'Debian Bookworm 12');
    expect(await code(a.call('VM.set_appliance', template, shop))).toEqual([
      'OPERATION_NOT_ALLOWED',
      'Control domains, templates and snapshots cannot be assigned to appliances.',
    ]);
  });

  test('start runs the groups in ascending order, each after the previous group’s start delays', async () => {
    const task = await a.call<string>('Async.VM_appliance.start', shop, false);
    // While it runs, the operation is in current_operations and nothing else is allowed.
    const during = await a.call<Record<string, unknown>>('VM_appliance.get_record', shop);
    expect(Object.values(during.current_operations as object)).toEqual(['start']);
    expect(during.allowed_operations).toEqual([]);
    expect(await code(a.call('VM_appliance.hard_shutdown', shop))).toEqual([
      'OTHER_OPERATION_IN_PROGRESS',
      'VM_appliance',
      shop,
    ]);
    while ((await a.call('task.get_status', task)) === 'pending') await new Promise((r) => setTimeout(r, 20));
    expect(await a.call('task.get_status', task)).toBe('success');
    // When each VM booted, from the simulator's own clock (ms), read in-process.
    const store = east.sim.store;
    const booted = (name: string): number => {
      const [vm, rec] = store.all('VM').find(([, r]) => r.name_label === name) ?? [];
      expect(rec?.power_state, name).toBe('Running');
      return (
        store.get('VM_metrics', String(store.get('VM', String(vm)).metrics)).start_time as Date
      ).getTime();
    };
    const [db, app, web] = [booted('db01'), booted('app01'), booted('web01')];
    expect(app - db).toBeGreaterThanOrEqual(2 * DELAY_MS); // db01's start_delay of 2 s before group 1
    expect(web - app).toBeGreaterThanOrEqual(1 * DELAY_MS); // app01's 1 s before group 2
    const after = await a.call<Record<string, unknown>>('VM_appliance.get_record', shop);
    expect(after.current_operations).toEqual({});
    expect(after.allowed_operations).toEqual(['clean_shutdown', 'hard_shutdown', 'shutdown']);
    expect(await code(a.call('VM_appliance.start', shop, false))).toEqual([
      'OPERATION_NOT_ALLOWED',
      'There are no halted VMs in this appliance.',
    ]);
  });

  test('clean_shutdown stops the groups in descending order', async () => {
    const halted: string[] = [];
    const names = new Map<string, string>();
    for (const n of ['db01', 'app01', 'web01']) names.set(await a.byName('VM', n), n);
    let token = (await a.call<{ token: string }>('event.from', ['vm'], '', 0)).token;
    const done = a.task('VM_appliance.clean_shutdown', shop);
    while (halted.length < 3) {
      const batch = await a.call<{
        token: string;
        events: { ref: string; snapshot?: Record<string, unknown> }[];
      }>('event.from', ['vm'], token, 1.5);
      token = batch.token;
      for (const e of batch.events) {
        const name = names.get(e.ref);
        if (name && e.snapshot?.power_state === 'Halted' && !halted.includes(name)) halted.push(name);
      }
    }
    expect(await done).toEqual({ status: 'success', error: [] });
    expect(halted).toEqual(['web01', 'app01', 'db01']);
  });
});

describe('disaster recovery', () => {
  let eastSr = '';
  let eastSrUuid = '';
  let metadataVdi = '';

  test('SR.enable_database_replication makes a metadata VDI on the SR, refuses SRs it cannot use', async () => {
    eastSr = await a.byName('SR', 'east NFS');
    eastSrUuid = await a.call<string>('SR.get_uuid', eastSr);
    const [local] = await a.call<string[]>('SR.get_by_name_label', 'Local storage');
    // A host's local SR: the other host has no PBD to it.
    expect(await code(a.call('SR.enable_database_replication', local))).toEqual(['SR_NO_PBDS', local]);
    await a.call('SR.enable_database_replication', eastSr);
    const vdis = await a.call<string[]>('SR.get_VDIs', eastSr);
    const records = await Promise.all(vdis.map((v) => a.call<Record<string, unknown>>('VDI.get_record', v)));
    const meta = records.filter((r) => r.type === 'metadata');
    expect(meta).toHaveLength(1);
    expect(meta[0]).toMatchObject({
      name_label: 'Metadata for DR',
      name_description: 'Used for disaster recovery',
      virtual_size: '3988783104',
      metadata_latest: true,
      sm_config: { type: 'raw' },
    });
    const [poolRef] = await a.call<string[]>('pool.get_all');
    expect(meta[0]?.metadata_of_pool).toBe(poolRef);
    // Enabling again reuses it.
    await a.call('SR.enable_database_replication', eastSr);
    expect((await a.call<string[]>('SR.get_VDIs', eastSr)).length).toBe(vdis.length);
    expect(readdirSync(shared).length).toBe(1);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  test('DR_task.create checks the type; storage another environment wrote is not there', async () => {
    expect(await code(b.call('DR_task.create', 'iso', { location: '/x' }, []))).toEqual([
      'OPERATION_NOT_ALLOWED',
      'Disaster recovery not supported on SRs of type iso',
    ]);
    expect(await code(b.call('DR_task.create', 'bogus', {}, []))).toEqual(['SR_UNKNOWN_DRIVER', 'bogus']);
    const dc = { server: '10.0.0.5', serverpath: '/srv/east' };
    const task = await c.call<string>('DR_task.create', 'nfs', dc, [eastSrUuid]);
    expect(await c.call('DR_task.get_introduced_SRs', task)).toEqual([]);
    expect(await code(c.call('SR.get_by_uuid', eastSrUuid))).toEqual(['UUID_INVALID', 'SR', eastSrUuid]);
    // Not whitelisted: nothing introduced either.
    const none = await b.call<string>('DR_task.create', 'nfs', dc, []);
    expect(await b.call('DR_task.get_introduced_SRs', none)).toEqual([]);
    await b.call('DR_task.destroy', none);
  });

  test('the other pool introduces the SR with its disks; DR_task.destroy forgets it again', async () => {
    // A change after enabling reaches the replica (the redo log keeps it current).
    const solo = await a.byName('VM', 'solo01');
    await a.call('VM.set_name_description', solo, 'added after replication started');
    const dc = { server: '10.0.0.5', serverpath: '/srv/east' };
    const task = await b.call<string>('DR_task.create', 'nfs', dc, [eastSrUuid]);
    const [sr] = await b.call<string[]>('DR_task.get_introduced_SRs', task);
    expect(await b.call('SR.get_uuid', sr)).toBe(eastSrUuid);
    const rec = await b.call<Record<string, unknown>>('SR.get_record', sr);
    expect(rec).toMatchObject({ name_label: 'east NFS', type: 'nfs', shared: true, introduced_by: task });
    const pbds = rec.PBDs as string[];
    expect(pbds).toHaveLength(2);
    for (const p of pbds)
      expect(await b.call<Record<string, unknown>>('PBD.get_record', p)).toMatchObject({
        currently_attached: true,
        device_config: dc,
      });
    const eastVdis = await Promise.all(
      (await a.call<string[]>('SR.get_VDIs', eastSr)).map((v) => a.call('VDI.get_uuid', v)),
    );
    const westVdis = await Promise.all((rec.VDIs as string[]).map((v) => b.call('VDI.get_uuid', v)));
    expect(westVdis.sort()).toEqual(eastVdis.sort());
    await b.call('DR_task.destroy', task);
    expect(await code(b.call('SR.get_by_uuid', eastSrUuid))).toEqual(['UUID_INVALID', 'SR', eastSrUuid]);
    expect(await b.call('DR_task.get_all')).toEqual([]);
  });

  let db = '';
  test('VDI.open_database opens east’s database; VMs and the vApp are recovered with their uuids and disks', async () => {
    const dc = { server: '10.0.0.5', serverpath: '/srv/east' };
    const task = await b.call<string>('DR_task.create', 'nfs', dc, [eastSrUuid]);
    const [sr] = await b.call<string[]>('DR_task.get_introduced_SRs', task);
    const vdis = await b.call<string[]>('SR.get_VDIs', sr);
    for (const v of vdis) if ((await b.call('VDI.get_type', v)) === 'metadata') metadataVdi = v;
    const user = vdis.find((v) => v !== metadataVdi) ?? '';
    expect(await code(b.call('VDI.open_database', user))).toEqual([
      'VDI_INCOMPATIBLE_TYPE',
      user,
      await b.call('VDI.get_type', user),
    ]);
    const [eastPool] = await a.call<string[]>('pool.get_all');
    expect(await b.call('VDI.read_database_pool_uuid', metadataVdi)).toBe(
      await a.call('pool.get_uuid', eastPool),
    );
    db = await b.call<string>('VDI.open_database', metadataVdi);
    // The session reads east's database: its VMs, not west's.
    const soloUuid = await a.call<string>('VM.get_uuid', await a.byName('VM', 'solo01'));
    const foreignSolo = await b.as<string>(db, 'VM.get_by_uuid', soloUuid);
    expect(await b.as(db, 'VM.get_name_description', foreignSolo)).toBe('added after replication started');
    expect(await code(b.call('VM.get_by_uuid', soloUuid))).toEqual(['UUID_INVALID', 'VM', soloUuid]);
    expect(await code(b.as(db, 'VM.recover', foreignSolo, 'OpaqueRef:nobody', false))).toEqual([
      'SESSION_INVALID',
      'OpaqueRef:nobody',
    ]);
    expect(await b.as(db, 'VM.get_SRs_required_for_recovery', foreignSolo, b.session)).toEqual([]);
    await b.as(db, 'VM.assert_can_be_recovered', foreignSolo, b.session);
    await b.as(db, 'VM.recover', foreignSolo, b.session, false);
    const solo = await b.call<string>('VM.get_by_uuid', soloUuid);
    const rec = await b.call<Record<string, unknown>>('VM.get_record', solo);
    expect(rec).toMatchObject({ name_label: 'solo01', power_state: 'Halted', is_a_template: false });
    const disks = await Promise.all(
      (rec.VBDs as string[]).map(async (vbd) =>
        b.call<string>('VDI.get_uuid', await b.call<string>('VBD.get_VDI', vbd)),
      ),
    );
    const eastSolo = await a.byName('VM', 'solo01');
    const eastDisks = await Promise.all(
      (await a.call<string[]>('VM.get_VBDs', eastSolo)).map(async (vbd) =>
        a.call<string>('VDI.get_uuid', await a.call<string>('VBD.get_VDI', vbd)),
      ),
    );
    expect(disks.sort()).toEqual(eastDisks.sort());
    expect((rec.VIFs as string[]).length).toBe(1);
    // The recovered VM boots in west; its SR now belongs to west (no longer the DR task's).
    expect(await b.call('SR.get_introduced_by', sr)).toBe('OpaqueRef:NULL');
    await b.call('VM.start', solo, false, false);
    expect(await b.call('VM.get_power_state', solo)).toBe('Running');
    // Recovering it again: the running copy cannot be replaced.
    expect(await code(b.as(db, 'VM.recover', foreignSolo, b.session, false))).toEqual([
      'VM_BAD_POWER_STATE',
      solo,
      'halted',
      'running',
    ]);
    await b.call('VM.hard_shutdown', solo);
    expect((await code(b.as(db, 'VM.recover', foreignSolo, b.session, false)))[0]).toBe(
      'VM_TO_IMPORT_IS_NOT_NEWER_VERSION',
    );
    // A vApp's VM goes with its vApp.
    const eastShop = await a.call<string>('VM_appliance.get_uuid', shop);
    const foreignShop = await b.as<string>(db, 'VM_appliance.get_by_uuid', eastShop);
    const foreignDb = await b.as<string>(
      db,
      'VM.get_by_uuid',
      await a.call('VM.get_uuid', await a.byName('VM', 'db01')),
    );
    expect(await code(b.as(db, 'VM.recover', foreignDb, b.session, false))).toEqual([
      'VM_IS_PART_OF_AN_APPLIANCE',
      foreignDb,
      foreignShop,
    ]);
    await b.as(db, 'VM_appliance.assert_can_be_recovered', foreignShop, b.session);
    await b.as(db, 'VM_appliance.recover', foreignShop, b.session, false);
    const westShop = await b.call<string>('VM_appliance.get_by_uuid', eastShop);
    const shopRec = await b.call<Record<string, unknown>>('VM_appliance.get_record', westShop);
    expect(shopRec).toMatchObject({
      name_label: 'shop',
      name_description: 'three tiers',
      allowed_operations: ['start'],
    });
    const names = await Promise.all((shopRec.VMs as string[]).map((vm) => b.call('VM.get_name_label', vm)));
    expect(names.sort()).toEqual(['app01', 'db01', 'web01']);
    for (const vm of shopRec.VMs as string[]) {
      const r = await b.call<Record<string, unknown>>('VM.get_record', vm);
      const eastVm = await a.byName('VM', String(r.name_label));
      expect(r.uuid).toBe(await a.call('VM.get_uuid', eastVm));
      expect(r.order).toBe(await a.call('VM.get_order', eastVm));
    }
  });

  test('a VM whose disk is on an SR the pool lacks needs that SR (VM_REQUIRES_SR)', async () => {
    // East gives web01 a second disk on another NFS SR west never introduced.
    const [host] = await a.call<string[]>('host.get_all');
    const other = await a.call<string>(
      'SR.create',
      host,
      { server: '10.0.0.6', serverpath: '/srv/archive' },
      0,
      'archive NFS',
      '',
      'nfs',
      'user',
      true,
      {},
    );
    const vdi = await a.call<string>('VDI.create', {
      name_label: 'logs',
      name_description: '',
      SR: other,
      virtual_size: 1024 ** 3,
      type: 'user',
      sharable: false,
      read_only: false,
      other_config: {},
      xenstore_data: {},
      sm_config: {},
      tags: [],
    });
    const web = await a.byName('VM', 'web01');
    await a.call('VBD.create', {
      VM: web,
      VDI: vdi,
      userdevice: '3',
      bootable: false,
      mode: 'RW',
      type: 'Disk',
      unpluggable: true,
      empty: false,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    });
    const session = await b.call<string>('VDI.open_database', metadataVdi);
    const shopUuid = await a.call<string>('VM_appliance.get_uuid', shop);
    const foreignShop = await b.as<string>(session, 'VM_appliance.get_by_uuid', shopUuid);
    const foreignWeb = await b.as<string>(session, 'VM.get_by_uuid', await a.call('VM.get_uuid', web));
    const foreignOther = await b.as<string>(session, 'SR.get_by_uuid', await a.call('SR.get_uuid', other));
    expect(await code(b.as(session, 'VM.assert_can_be_recovered', foreignWeb, b.session))).toEqual([
      'VM_REQUIRES_SR',
      foreignWeb,
      foreignOther,
    ]);
    expect(await b.as(session, 'VM_appliance.get_SRs_required_for_recovery', foreignShop, b.session)).toEqual(
      [foreignOther],
    );
    expect(await code(b.as(session, 'VM_appliance.recover', foreignShop, b.session, true))).toEqual([
      'VM_REQUIRES_SR',
      foreignWeb,
      foreignOther,
    ]);
    // After logout the database session is gone.
    await b.as(session, 'session.logout');
    expect(await code(b.as(session, 'VM.get_all'))).toEqual(['SESSION_INVALID', session]);
    // Open databases are bounded: the ninth closes the first.
    const opened: string[] = [];
    for (let i = 0; i < 9; i++) opened.push(await b.call<string>('VDI.open_database', metadataVdi));
    expect(await code(b.as(String(opened[0]), 'VM.get_all'))).toEqual(['SESSION_INVALID', opened[0]]);
    expect((await b.as<string[]>(String(opened[8]), 'VM.get_all')).length).toBeGreaterThan(0);
    for (const o of opened.slice(1)) await b.as(o, 'session.logout');
  });

  test('disable_database_replication removes the metadata VDI and the database from the storage', async () => {
    await a.call('SR.disable_database_replication', eastSr);
    const types = await Promise.all(
      (await a.call<string[]>('SR.get_VDIs', eastSr)).map((v) => a.call('VDI.get_type', v)),
    );
    expect(types).not.toContain('metadata');
    const [folder] = readdirSync(shared);
    const image = JSON.parse(readFileSync(join(shared, String(folder), `${eastSrUuid}.json`), 'utf8')) as {
      databases: object;
      vdis: { type: string }[];
    };
    expect(image.databases).toEqual({});
    expect(image.vdis.map((v) => v.type)).not.toContain('metadata');
    // A pool without the storage's database: opening the VDI it knew fails.
    expect(await code(b.call('VDI.open_database', metadataVdi))).toEqual([
      'COULD_NOT_IMPORT_DATABASE',
      expect.stringContaining('no database was found') as unknown as string,
    ]);
  });

  test('a simulator in a worker thread gets the sharedStorage directory too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-dr-worker-'));
    const iso = await startIsolatedSimulator({
      fast: true,
      password: 'iso-pw',
      sharedStorage: dir,
      scenario: pool('iso'),
    });
    const w = await new Wire(iso.url).login('iso-pw');
    try {
      await w.call('SR.enable_database_replication', await w.byName('SR', 'iso NFS'));
      const [folder] = readdirSync(dir);
      expect(readdirSync(join(dir, String(folder)))).toHaveLength(1);
    } finally {
      w.close();
      await iso.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a restarted pool goes on replicating from its saved state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-dr-restart-'));
    const stateFile = join(dir, 'pool.json');
    const storage = join(dir, 'storage');
    const scenario = pool('again', { vms: [{ name: 'p1', power_state: 'Halted', memoryMiB: 512 }] });
    const image = (): {
      databases: Record<string, { dump: { tables: { VM: [string, Record<string, unknown>][] } } }>;
    } => {
      const [folder] = readdirSync(storage);
      const [file] = readdirSync(join(storage, String(folder)));
      return JSON.parse(readFileSync(join(storage, String(folder), String(file)), 'utf8')) as never;
    };
    const p1State = (): unknown =>
      Object.values(image().databases)[0]?.dump.tables.VM.find(([, r]) => r.name_label === 'p1')?.[1]
        .power_state;
    try {
      const first = await start({ password: 'pw', stateFile, sharedStorage: storage, scenario });
      const w1 = await new Wire(first.url).login('pw');
      await w1.call('SR.enable_database_replication', await w1.byName('SR', 'again NFS'));
      expect(p1State()).toBe('Halted');
      w1.close();
      await first.close();
      const second = await start({ password: 'pw', stateFile, sharedStorage: storage, scenario });
      const w2 = await new Wire(second.url).login('pw');
      // VM.start changes the VM in a behaviour handler (no generic setter): the replica follows.
      await w2.call('VM.start', await w2.byName('VM', 'p1'), false, false);
      expect(p1State()).toBe('Running');
      w2.close();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
