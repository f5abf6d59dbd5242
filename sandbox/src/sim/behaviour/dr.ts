/**
 * Disaster recovery as xapi does it (ocaml/xapi/xapi_sr.ml `enable_database_replication`,
 * `find_or_create_metadata_vdi`, xapi_vdi_helpers.ml, xapi_dr_task.ml, xapi_dr.ml `recover_vms`, xapi_vdi.ml
 * `open_database`, xapi_vm_helpers.ml `assert_can_be_recovered`, `get_SRs_required_for_recovery`, import.ml's
 * Metadata_import rules):
 *
 * - `SR.enable_database_replication` checks that every host has a plugged PBD to the SR (`SR_NO_PBDS [sr]`), that
 *   its driver stores metadata (`SR_OPERATION_NOT_SUPPORTED [sr]`) and that the pool replicates to fewer than 8 VDIs
 *   (`NO_MORE_REDO_LOGS_ALLOWED []`), then finds or creates the SR's metadata VDI ("Metadata for DR", type
 *   `metadata`, 3 988 783 104 bytes, `sm-config:type=raw`, `metadata_of_pool` = the pool, `metadata_latest` true,
 *   plugged into the coordinator's dom0). From then on the pool's database — VMs, snapshots, VBDs, VIFs, VDIs, SRs,
 *   networks, vApps — is written to the SR after every change, as the redo log keeps it current.
 *   `disable_database_replication` destroys the pool's metadata VDIs on the SR (and their VBDs).
 * - What "the SR" holds lives in the simulator's `sharedStorage` directory (shared-storage.ts), under the SR's
 *   device-config (NFS server+serverpath, iSCSI target+targetIQN, HBA SCSIid, else all keys but credentials): one
 *   JSON file per SR with its VDIs and the databases replicated to it. Without the option nothing is shared.
 * - `DR_task.create(type, device_config, whitelist)` refuses drivers without metadata support (`OPERATION_NOT_ALLOWED
 *   ["Disaster recovery not supported on SRs of type …"]`), probes the device-config (SRs found there), keeps the
 *   whitelisted ones the pool does not have already, introduces each (same uuid, `shared`, a plugged PBD per host
 *   with the device-config, its VDIs as a scan finds them, `introduced_by` the task). `DR_task.destroy` unplugs and
 *   forgets the SRs it still owns (recovering a VM takes the SRs it needs out of the task).
 * - `VDI.open_database` (type `metadata` only: `VDI_INCOMPATIBLE_TYPE [vdi, type]`) opens the replicated database
 *   read from the SR: the returned session's calls are answered by that database (a separate engine, engine.ts
 *   `foreignSessions`), until `session.logout`. There, `VM.recover(session_to, force)`,
 *   `VM_appliance.recover`, `*.assert_can_be_recovered` (`VM_REQUIRES_SR [vm, sr]`: an SR of a disk is unknown to
 *   the pool of `session_to` or has no attached PBD; ISO SRs do not count) and `get_SRs_required_for_recovery`
 *   act on the pool of `session_to`: VMs keep their uuid (a halted VM with it and an older version is replaced;
 *   running: `VM_BAD_POWER_STATE`, same or newer version: `VM_TO_IMPORT_IS_NOT_NEWER_VERSION`; `force` skips those),
 *   their disks are the introduced VDIs found by uuid (else by location; missing: `VDI_LOCATION_MISSING [sr,
 *   location]`), networks are matched by uuid, name, then bridge (else created).
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimBehaviour, SimContext, SimHandler, SimRecord, SimStore } from '../contract.js';
import { Engine, engineOf } from '../engine.js';
import { onSharedStorage, sharedStorageOf } from '../shared-storage.js';
import type { Store, StoreDump } from '../store.js';
import { diskContentsOf, onContentsChange } from '../transfer/contents.js';
import { applianceVms, refreshAppliance } from './appliance.js';
import { SR_TYPES, createVdi, destroyVdi, refreshSr, refreshVdi } from './storage.js';
import {
  NULL_REF,
  arg,
  bool,
  fail,
  isNull,
  map,
  num,
  pbdsOf,
  ref,
  str,
  strings,
  thePool,
  vdisOf,
} from './util.js';

/** Redo_log.minimum_vdi_size: (4 000 000 000 / 4 MiB − 2) × 4 MiB. */
export const METADATA_VDI_SIZE = (Math.floor(4_000_000_000 / 4194304) - 2) * 4194304;
/** Foreign databases a pool keeps open at once (xenlab's bound; xapi has none). */
const MAX_OPEN = 8;
/** Xapi_globs.redo_log_max_instances. */
const MAX_REDO_LOGS = 8;
/** [est] SM drivers whose capabilities include SR_METADATA (LVHD-based and NFS/EXT). */
const METADATA_TYPES = new Set(['lvm', 'lvmoiscsi', 'lvmohba', 'lvmofcoe', 'nfs', 'ext']);
/** Classes the replicated database holds (what recovery reads). */
const DB_CLASSES = ['pool', 'host', 'SR', 'VDI', 'network', 'VM', 'VBD', 'VIF', 'VM_appliance'] as const;
/** Credentials never go into the storage key. */
const SECRET = /pass|secret|chap|key/i;

// ---------------------------------------------------------------------------------------------------------------
// Shared storage: one JSON file per SR, in a folder per device-config

/** What the storage behind one SR holds. */
interface SrImage {
  readonly version: 1;
  readonly key: string;
  readonly sr: SimRecord;
  /** The SR's VDIs as a scan would find them. */
  readonly vdis: SimRecord[];
  /** Databases replicated to the SR, by metadata VDI uuid. */
  readonly databases: Record<string, { pool_uuid: string; pool_name: string; dump: StoreDump }>;
}

/** The storage key of a device-config: what identifies the storage itself (not how it is mounted). */
export function storageKey(type: string, dc: Readonly<Record<string, string>>): string {
  const pick = (...keys: string[]): string => [type, ...keys.map((k) => `${k}=${dc[k] ?? ''}`)].join('\n');
  if (type === 'nfs' || type === 'cephfs') return pick('server', 'serverpath');
  if (type === 'lvmoiscsi' || type === 'iscsi') return pick('target', 'targetIQN');
  if (type === 'lvmohba' || type === 'lvmofcoe') return pick('SCSIid');
  const rest = Object.keys(dc)
    .filter((k) => !SECRET.test(k))
    .sort();
  return pick(...rest);
}

function folderOf(root: string, key: string): string {
  return join(root, `sr-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function readImages(root: string, key: string): SrImage[] {
  const dir = folderOf(root, key);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: SrImage[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.json') || !UUID_RE.test(n.slice(0, -5))) continue;
    try {
      const img = JSON.parse(readFileSync(join(dir, n), 'utf8')) as Partial<SrImage>;
      if (img.version === 1 && img.key === key && img.sr && Array.isArray(img.vdis) && img.databases)
        out.push(img as SrImage);
    } catch {
      // a torn or foreign file is no SR
    }
  }
  return out;
}

function writeImage(root: string, img: SrImage): void {
  const dir = folderOf(root, img.key);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${str(img.sr, 'uuid')}.json`);
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, JSON.stringify(img));
  renameSync(tmp, file);
}

/** The SR's type and storage key, from its first PBD's device-config. */
function srKey(store: SimStore, sr: string): string {
  const pbd = pbdsOf(store, sr)[0];
  return storageKey(
    str(store.get('SR', sr), 'type'),
    pbd ? map(store.find('PBD', pbd), 'device_config') : {},
  );
}

function plain(store: SimStore, cls: string, r: string): SimRecord | undefined {
  const s = store as SimStore & { dumpObject?: (cls: string, ref: string) => SimRecord | undefined };
  return s.dumpObject?.(cls, r);
}

/** The pool's database as recovery reads it (default templates and dom0 left out: every pool has its own). */
function databaseDump(store: SimStore): StoreDump {
  const tables: Record<string, (readonly [string, SimRecord])[]> = {};
  for (const cls of DB_CLASSES) {
    const rows: (readonly [string, SimRecord])[] = [];
    for (const [r, rec] of store.all(cls)) {
      if (cls === 'VM') {
        const other = map(rec, 'other_config');
        if (rec.is_control_domain === true) continue;
        if (
          rec.is_a_template === true &&
          (rec.is_default_template === true || other.default_template === 'true')
        )
          continue;
      }
      const p = plain(store, cls, r);
      if (p) rows.push([r, p]);
    }
    tables[cls] = rows;
  }
  const gen = (store as SimStore & { generation?: number }).generation ?? 0;
  return { version: 1, generation: gen, tables };
}

/** Metadata VDIs of this pool on an SR that replication is writing to. */
function replicaVdis(store: SimStore, sr: string): string[] {
  const [pool] = thePool(store);
  return vdisOf(store, sr).filter((v) => {
    const rec = store.find('VDI', v);
    return str(rec, 'type') === 'metadata' && ref(rec, 'metadata_of_pool') === pool;
  });
}

function replicating(store: SimStore): string[] {
  const [pool] = thePool(store);
  return store
    .all('VDI')
    .filter(([, v]) => v.type === 'metadata' && v.metadata_of_pool === pool && v.metadata_latest === true)
    .map(([r]) => r);
}

/** Writes the SR's image: its VDIs and, for each of this pool's live metadata VDIs, the pool's database. */
function replicate(store: SimStore, sr: string): void {
  const root = sharedStorageOf(store);
  if (root === undefined || !store.find('SR', sr)) return;
  const key = srKey(store, sr);
  const srRec = plain(store, 'SR', sr) ?? {};
  const uuid = str(srRec, 'uuid');
  const old = readImages(root, key).find((i) => str(i.sr, 'uuid') === uuid);
  const [, poolRec] = thePool(store);
  const live = replicaVdis(store, sr).filter((v) => bool(store.find('VDI', v), 'metadata_latest'));
  const ours = new Set(replicaVdis(store, sr).map((v) => str(store.find('VDI', v), 'uuid')));
  const databases: SrImage['databases'] = {};
  // Databases other pools wrote to this SR stay; ours are rewritten (or dropped once replication stopped).
  for (const [vdiUuid, db] of Object.entries(old?.databases ?? {}))
    if (!ours.has(vdiUuid) && db.pool_uuid !== str(poolRec, 'uuid')) databases[vdiUuid] = db;
  if (live.length > 0) {
    const dump = databaseDump(store);
    for (const v of live)
      databases[str(store.find('VDI', v), 'uuid')] = {
        pool_uuid: str(poolRec, 'uuid'),
        pool_name: str(poolRec, 'name_label'),
        dump,
      };
  }
  const vdis = vdisOf(store, sr)
    .map((v) => plain(store, 'VDI', v))
    .filter((v): v is SimRecord => v !== undefined);
  writeImage(root, { version: 1, key, sr: srRec, vdis, databases });
  syncContents(store, sr);
}

// The SR's data: what the guests wrote lives on the storage too (replicated storage is the same SR at both sites),
// a folder per VDI uuid beside the SR's file, a file per 1 MiB block (empty: zeros over the parent's data).

function dataDir(root: string, key: string, srUuid: string): string {
  return join(folderOf(root, key), `${srUuid}.data`);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** What this pool last wrote for each VDI uuid (blocks are never written in place: compared by identity). */
const written = new WeakMap<SimStore, Map<string, ReadonlyMap<number, Buffer | null>>>();

/** Writes the blocks of the SR's disks that changed since the last time, and removes those of disks gone. */
function syncContents(store: SimStore, sr: string): void {
  const contents = diskContentsOf(store);
  const root = sharedStorageOf(store);
  if (!contents || root === undefined || !store.find('SR', sr)) return;
  const srUuid = str(store.get('SR', sr), 'uuid');
  if (!UUID_RE.test(srUuid)) return;
  const dir = dataDir(root, srKey(store, sr), srUuid);
  let memo = written.get(store);
  if (!memo) written.set(store, (memo = new Map<string, ReadonlyMap<number, Buffer | null>>()));
  const present = new Set<string>();
  for (const v of vdisOf(store, sr)) {
    const rec = store.find('VDI', v);
    if (!rec || str(rec, 'type') === 'metadata') continue;
    const uuid = str(rec, 'uuid');
    // The uuid names a folder on the host: only a uuid's spelling may (scenario files and restores carry their own).
    if (!UUID_RE.test(uuid)) continue;
    present.add(uuid);
    const now = contents.ownBlocks(v);
    const before = memo.get(uuid);
    const vdir = join(dir, uuid);
    // First time here (or after a restart): what the folder holds is unknown, so it is written afresh.
    if (before === undefined) rmSync(vdir, { recursive: true, force: true });
    if (now.size > 0) mkdirSync(vdir, { recursive: true });
    for (const [i, b] of now)
      if (before?.get(i) !== b || !before.has(i)) writeFileSync(join(vdir, String(i)), b ?? Buffer.alloc(0));
    for (const i of before?.keys() ?? []) if (!now.has(i)) rmSync(join(vdir, String(i)), { force: true });
    memo.set(uuid, now);
  }
  for (const name of listDir(dir))
    if (!present.has(name)) {
      rmSync(join(dir, name), { recursive: true, force: true });
      memo.delete(name);
    }
}

/** A disk's blocks as the storage holds them. */
function readDisk(root: string, key: string, srUuid: string, vdiUuid: string): Map<number, Buffer | null> {
  const out = new Map<number, Buffer | null>();
  if (!UUID_RE.test(srUuid) || !UUID_RE.test(vdiUuid)) return out;
  const vdir = join(dataDir(root, key, srUuid), vdiUuid);
  for (const name of listDir(vdir)) {
    if (!/^\d+$/.test(name)) continue;
    const b = readFileSync(join(vdir, name));
    out.set(Number(name), b.length === 0 ? null : b);
  }
  return out;
}

/** The SRs this pool replicates its database to (their data is kept on the storage as well). */
function replicatedSrs(store: SimStore): Set<string> {
  return new Set(replicating(store).map((v) => ref(store.find('VDI', v), 'SR')));
}

// After the disks' contents change (a write, a copy), the replicated SRs' data is brought up to date, once per batch.
const contentsQueued = new WeakSet<SimStore>();
onContentsChange((s) => {
  const store = s as SimStore;
  if (!watched.has(store) || contentsQueued.has(store)) return;
  contentsQueued.add(store);
  queueMicrotask(() => {
    contentsQueued.delete(store);
    try {
      if (store.all('pool').length === 0) return;
      for (const sr of replicatedSrs(store)) syncContents(store, sr);
    } catch (e) {
      process.emitWarning(`xenlab sim: writing replicated disk contents failed: ${(e as Error).message}`);
    }
  });
});

// The redo log: after any change to what the database holds, every SR this pool replicates to is rewritten, once
// per batch of changes (a microtask: before the answer of the call that made them goes out).
const watched = new WeakSet<SimStore>();
const WATCHED_CLASSES = new Set<string>([...DB_CLASSES]);

function watch(store: SimStore): void {
  if (watched.has(store) || sharedStorageOf(store) === undefined) return;
  const s = store as SimStore & { subscribe?: (fn: (cls: string, ref: string) => void) => () => void };
  if (typeof s.subscribe !== 'function') return;
  watched.add(store);
  let queued = false;
  s.subscribe((cls) => {
    if (queued || !WATCHED_CLASSES.has(cls)) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      try {
        if (store.all('pool').length === 0) return; // still being built
        for (const sr of replicatedSrs(store)) replicate(store, sr);
      } catch (e) {
        process.emitWarning(`xenlab sim: writing replicated metadata failed: ${(e as Error).message}`);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// SR.enable/disable_database_replication

function enableReplication(ctx: SimContext, args: readonly unknown[]): void {
  const { store } = ctx;
  const sr = arg.str(args, 0);
  const srRec = store.get('SR', sr);
  const pbds = pbdsOf(store, sr);
  const hosts = new Set(pbds.map((p) => ref(store.find('PBD', p), 'host')));
  if (store.all('host').some(([h]) => !hosts.has(h))) fail('SR_NO_PBDS', sr);
  if (pbds.some((p) => !bool(store.find('PBD', p), 'currently_attached'))) fail('SR_NO_PBDS', sr);
  if (!METADATA_TYPES.has(str(srRec, 'type'))) fail('SR_OPERATION_NOT_SUPPORTED', sr);
  const existing = replicaVdis(store, sr).find(
    (v) => num(store.find('VDI', v), 'virtual_size') >= METADATA_VDI_SIZE,
  );
  const active = replicating(store);
  if (active.length >= MAX_REDO_LOGS) fail('NO_MORE_REDO_LOGS_ALLOWED');
  if (existing !== undefined && active.includes(existing)) return; // already replicating there
  const [pool] = thePool(store);
  const vdi =
    existing ??
    createVdi(ctx, sr, {
      name_label: 'Metadata for DR',
      name_description: 'Used for disaster recovery',
      virtual_size: METADATA_VDI_SIZE,
      type: 'metadata',
      sm_config: { type: 'raw' },
      other_config: {},
      xenstore_data: {},
      tags: [],
    });
  // The redo log's block device: a VBD of the coordinator's dom0, plugged.
  for (const b of strings(store.get('VDI', vdi), 'VBDs')) if (store.find('VBD', b)) store.destroy('VBD', b);
  const master = ref(store.get('pool', pool), 'master');
  const dom0 = ref(store.find('host', master), 'control_domain');
  if (store.find('VM', dom0)) {
    const used = new Set(
      strings(store.get('VM', dom0), 'VBDs').map((b) => str(store.find('VBD', b), 'userdevice')),
    );
    let n = 0;
    while (used.has(String(n))) n++;
    store.create('VBD', {
      uuid: ctx.uuid(),
      VM: dom0,
      VDI: vdi,
      userdevice: String(n),
      device: `xvd${String.fromCharCode(97 + (n % 26))}`,
      bootable: false,
      mode: 'RW',
      type: 'Disk',
      unpluggable: true,
      empty: false,
      currently_attached: true,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    });
  }
  store.update('VDI', vdi, { metadata_of_pool: pool, metadata_latest: true });
  refreshVdi(store, vdi);
  watch(store);
  replicate(store, sr);
}

function disableReplication(ctx: SimContext, args: readonly unknown[]): void {
  const { store } = ctx;
  const sr = arg.str(args, 0);
  store.get('SR', sr);
  const vdis = replicaVdis(store, sr);
  for (const vdi of vdis) {
    store.update('VDI', vdi, { metadata_latest: false });
    for (const b of strings(store.get('VDI', vdi), 'VBDs')) if (store.find('VBD', b)) store.destroy('VBD', b);
    destroyVdi(store, vdi);
  }
  if (vdis.length > 0) replicate(store, sr);
}

// ---------------------------------------------------------------------------------------------------------------
// DR_task

function drTaskCreate(ctx: SimContext, args: readonly unknown[]): string {
  const { store } = ctx;
  const type = arg.str(args, 0);
  const dc = arg.map(args, 1);
  const whitelist = new Set(arg.strings(args, 2));
  if (!SR_TYPES.has(type)) fail('SR_UNKNOWN_DRIVER', type);
  if (!METADATA_TYPES.has(type))
    fail('OPERATION_NOT_ALLOWED', `Disaster recovery not supported on SRs of type ${type}`);
  if (type === 'nfs' && (!dc.server || !dc.serverpath))
    fail(
      'SR_BACKEND_FAILURE_101',
      '',
      dc.server
        ? 'The request is missing the serverpath parameter'
        : 'The request is missing the server parameter',
      '',
    );
  // SR.probe with sm-config:metadata=true: the SRs on that storage.
  const root = sharedStorageOf(store);
  const found = root === undefined ? [] : readImages(root, storageKey(type, dc));
  const task = store.create('DR_task', { uuid: ctx.uuid() });
  for (const img of found) {
    const uuid = str(img.sr, 'uuid');
    if (!whitelist.has(uuid)) continue;
    if (storeFindUuid(store, 'SR', uuid) !== undefined) continue; // already introduced: not this task's
    introduceSr(ctx, img, type, dc, task);
  }
  return task;
}

function storeFindUuid(store: SimStore, cls: string, uuid: string): string | undefined {
  const s = store as SimStore & { findByUuid?: (cls: string, uuid: string) => string | undefined };
  if (s.findByUuid) return s.findByUuid(cls, uuid);
  return store.all(cls).find(([, r]) => r.uuid === uuid)?.[0];
}

/** SR.introduce, PBD.create + plug on every host, the scan's VDIs (xapi_dr_task.ml try_create_sr_from_record). */
function introduceSr(
  ctx: SimContext,
  img: SrImage,
  type: string,
  dc: Record<string, string>,
  task: string,
): void {
  const { store } = ctx;
  // The disks' data is on that storage: the guests' writes before the site was lost (checked against the cap first).
  const root = sharedStorageOf(store);
  const contents = diskContentsOf(store);
  const data = new Map<string, Map<number, Buffer | null>>();
  if (root !== undefined && contents)
    for (const v of img.vdis) {
      const uuid = str(v, 'uuid');
      if (uuid === '' || storeFindUuid(store, 'VDI', uuid) !== undefined) continue;
      const blocks = readDisk(root, img.key, str(img.sr, 'uuid'), uuid);
      if (blocks.size > 0) data.set(uuid, blocks);
    }
  let bytes = 0;
  for (const blocks of data.values()) for (const b of blocks.values()) if (b) bytes += b.length;
  contents?.assertCanHold(bytes);
  const sr = store.create('SR', {
    uuid: str(img.sr, 'uuid'),
    name_label: str(img.sr, 'name_label'),
    name_description: str(img.sr, 'name_description'),
    type,
    content_type: '',
    shared: true,
    sm_config: {},
    other_config: {},
    physical_size: num(img.sr, 'physical_size'),
    physical_utilisation: 0,
    virtual_allocation: 0,
    introduced_by: task,
  });
  for (const [h] of store.all('host'))
    store.create('PBD', {
      uuid: ctx.uuid(),
      host: h,
      SR: sr,
      device_config: dc,
      currently_attached: true,
      other_config: {},
    });
  const [pool] = thePool(store);
  for (const v of img.vdis) {
    const uuid = str(v, 'uuid');
    if (uuid === '' || storeFindUuid(store, 'VDI', uuid) !== undefined) continue;
    // A scan knows what SM stores: the VDI's identity, size, type and sm-config; not the pool's own fields.
    const foreignPool = str(v, 'metadata_of_pool');
    const vdi = store.create('VDI', {
      uuid,
      name_label: str(v, 'name_label'),
      name_description: str(v, 'name_description'),
      SR: sr,
      virtual_size: num(v, 'virtual_size'),
      physical_utilisation: num(v, 'physical_utilisation'),
      type: str(v, 'type') || 'user',
      sharable: v.sharable === true,
      read_only: v.read_only === true,
      managed: v.managed !== false,
      missing: false,
      location: str(v, 'location') || uuid,
      sm_config: map(v, 'sm_config'),
      other_config: {},
      is_a_snapshot: v.is_a_snapshot === true,
      on_boot: 'persist',
      // The database's pool ref, as the SR records it for a foreign pool's metadata VDI.
      metadata_of_pool: foreignPool === pool || foreignPool === '' ? NULL_REF : foreignPool,
      metadata_latest: str(v, 'type') === 'metadata' && img.databases[uuid] !== undefined,
    });
    const blocks = data.get(uuid);
    if (blocks) contents?.restore(vdi, blocks);
    refreshVdi(store, vdi);
  }
  refreshSr(store, sr);
}

async function drTaskDestroy(ctx: SimContext, args: readonly unknown[]): Promise<void> {
  const { store } = ctx;
  const task = arg.str(args, 0);
  store.get('DR_task', task);
  const engine = engineOf(store);
  const srs = store
    .all('SR')
    .filter(([, r]) => r.introduced_by === task)
    .map(([r]) => r);
  for (const sr of srs) {
    for (const pbd of pbdsOf(store, sr)) {
      if (engine) await engine.invoke('PBD.unplug', [pbd]);
      else store.update('PBD', pbd, { currently_attached: false });
    }
    if (engine) await engine.invoke('SR.forget', [sr]);
  }
  store.destroy('DR_task', task);
}

// ---------------------------------------------------------------------------------------------------------------
// Foreign databases

/** The pool whose session opened a foreign database (to check `session_to` and write recovered VMs there). */
const homeOf = new WeakMap<object, Engine>();

function openDatabase(ctx: SimContext, args: readonly unknown[]): string {
  const { store } = ctx;
  const vdi = arg.str(args, 0);
  const rec = store.get('VDI', vdi);
  if (str(rec, 'type') !== 'metadata') fail('VDI_INCOMPATIBLE_TYPE', vdi, str(rec, 'type'));
  const home = engineOf(store);
  if (!home) fail('INTERNAL_ERROR', 'xenlab: no engine for this pool');
  const sr = ref(rec, 'SR');
  const root = sharedStorageOf(store);
  const image =
    root === undefined
      ? undefined
      : readImages(root, srKey(store, sr)).find(
          (i) => str(i.sr, 'uuid') === str(store.get('SR', sr), 'uuid'),
        );
  let dump = image?.databases[str(rec, 'uuid')]?.dump;
  // This pool's own metadata VDI without shared storage: the redo log is the pool's database.
  if (dump === undefined && replicating(store).includes(vdi)) dump = databaseDump(store);
  if (dump === undefined)
    fail('COULD_NOT_IMPORT_DATABASE', `no database was found in VDI ${str(rec, 'uuid')}`);
  const password = randomUUID();
  const foreign = new Engine({
    user: 'disaster-recovery',
    password,
    fast: true,
    random: ctx.random,
    behaviours: [foreignBehaviour],
  });
  foreign.store.load(dump, { quiet: true });
  homeOf.set(foreign.store, home);
  const session = foreign.login('disaster-recovery', password, 'VDI.open_database');
  // Each open database holds a copy of a pool: the oldest ones close beyond a few (their sessions become invalid).
  for (const [old, e] of [...home.foreignSessions].slice(
    0,
    Math.max(0, home.foreignSessions.size - MAX_OPEN + 1),
  )) {
    home.foreignSessions.delete(old);
    e.close();
  }
  home.foreignSessions.set(session, foreign);
  return session;
}

function readDatabasePoolUuid(ctx: SimContext, args: readonly unknown[]): string {
  const { store } = ctx;
  const vdi = arg.str(args, 0);
  const rec = store.get('VDI', vdi);
  const root = sharedStorageOf(store);
  if (root === undefined || str(rec, 'type') !== 'metadata') return '';
  const sr = ref(rec, 'SR');
  const image = readImages(root, srKey(store, sr)).find(
    (i) => str(i.sr, 'uuid') === str(store.get('SR', sr), 'uuid'),
  );
  return image?.databases[str(rec, 'uuid')]?.pool_uuid ?? '';
}

/** The pool recovery writes to: `session_to`'s (checked), from the foreign database's home pool or this one. */
function target(ctx: SimContext, sessionTo: string): Engine {
  const home = homeOf.get(ctx.store) ?? engineOf(ctx.store);
  if (!home) fail('INTERNAL_ERROR', 'xenlab: no engine for this pool');
  home.checkSession(sessionTo);
  return home;
}

/** xapi_vm_helpers.ml list_required_SRs: SRs of the VM's non-CD disks, ISO libraries left out. */
function requiredSrs(store: SimStore, vm: string): string[] {
  const out: string[] = [];
  for (const b of strings(store.get('VM', vm), 'VBDs')) {
    const vbd = store.find('VBD', b);
    if (!vbd || str(vbd, 'type') === 'CD') continue;
    const vdi = store.find('VDI', ref(vbd, 'VDI'));
    const sr = ref(vdi, 'SR');
    const srRec = store.find('SR', sr);
    if (!srRec || str(srRec, 'content_type') === 'iso') continue;
    if (!out.includes(sr)) out.push(sr);
  }
  return out;
}

/** An SR of the target pool with this uuid and an attached PBD. */
function usableSr(to: Store, uuid: string): string | undefined {
  const sr = to.findByUuid('SR', uuid);
  if (sr === undefined) return undefined;
  return pbdsOf(to, sr).some((p) => bool(to.find('PBD', p), 'currently_attached')) ? sr : undefined;
}

function missingSrs(ctx: SimContext, vm: string, to: Store): string[] {
  return requiredSrs(ctx.store, vm).filter(
    (sr) => usableSr(to, str(ctx.store.get('SR', sr), 'uuid')) === undefined,
  );
}

function assertRecoverable(ctx: SimContext, vm: string, to: Store): void {
  const missing = missingSrs(ctx, vm, to)[0];
  if (missing !== undefined) fail('VM_REQUIRES_SR', vm, missing);
}

/** Fields that are sets of refs the store keeps from the other side, or runtime state a recovered VM starts without. */
const VM_DROP = new Set([
  'VBDs',
  'VIFs',
  'consoles',
  'crash_dumps',
  'VTPMs',
  'VUSBs',
  'PCIs',
  'VGPUs',
  'attached_PCIs',
  'snapshots',
  'children',
  'tasks',
  'metrics',
  'guest_metrics',
  'resident_on',
  'scheduled_to_be_resident_on',
  'affinity',
  'appliance',
  'snapshot_of',
  'parent',
  'suspend_VDI',
  'suspend_SR',
  'protection_policy',
  'snapshot_schedule',
  'current_operations',
  'allowed_operations',
  'blocked_operations',
  'groups',
  'pending_guidances',
  'pending_guidances_recommended',
  'pending_guidances_full',
]);

/** xapi_dr.ml recover_vms: a metadata import (full restore) of the VMs and their snapshots into `home`'s pool. */
async function recoverVms(
  ctx: SimContext,
  vms: readonly string[],
  home: Engine,
  force: boolean,
): Promise<string[]> {
  const from = ctx.store;
  const to = home.store;
  const hctx = home.context();
  const created: string[] = [];
  const cleanup: (() => void)[] = [];
  const all = [...vms];
  for (const vm of vms)
    for (const s of strings(from.get('VM', vm), 'snapshots'))
      if (from.find('VM', s) && !all.includes(s)) all.push(s);
  const table = new Map<string, string>();
  try {
    for (const vm of all) {
      const rec = from.get('VM', vm);
      const uuid = str(rec, 'uuid');
      const same = to.findByUuid('VM', uuid);
      if (same !== undefined) {
        const power = str(to.get('VM', same), 'power_state');
        if (power !== 'Halted') {
          if (force) continue;
          fail('VM_BAD_POWER_STATE', same, 'halted', power.toLowerCase());
        }
        const have = num(to.get('VM', same), 'version');
        const incoming = num(rec, 'version');
        if (have >= incoming && !force)
          fail('VM_TO_IMPORT_IS_NOT_NEWER_VERSION', same, String(have), String(incoming));
        for (const b of strings(to.get('VM', same), 'VBDs')) if (to.find('VBD', b)) to.destroy('VBD', b);
        for (const v of strings(to.get('VM', same), 'VIFs')) if (to.find('VIF', v)) to.destroy('VIF', v);
        await home.invoke('VM.destroy', [same]);
      }
      const fields: SimRecord = {};
      for (const [k, v] of Object.entries(plain(from, 'VM', vm) ?? {})) if (!VM_DROP.has(k)) fields[k] = v;
      const metrics = to.create('VM_metrics', { uuid: hctx.uuid(), memory_actual: 0, VCPUs_number: 0 });
      const hostUuid = str(from.find('host', ref(rec, 'affinity')), 'uuid');
      const created1 = to.create('VM', {
        ...fields,
        uuid,
        power_state: 'Halted',
        domid: -1,
        metrics,
        affinity: (hostUuid === '' ? undefined : to.findByUuid('host', hostUuid)) ?? NULL_REF,
        version: num(rec, 'version') + 1,
      });
      cleanup.unshift(() => {
        if (to.find('VM', created1)) to.destroy('VM', created1);
        if (to.find('VM_metrics', metrics)) to.destroy('VM_metrics', metrics);
      });
      table.set(vm, created1);
      created.push(created1);
    }
    for (const [vm, mine] of table) {
      const rec = from.get('VM', vm);
      const snapOf = table.get(ref(rec, 'snapshot_of'));
      if (snapOf !== undefined) to.update('VM', mine, { snapshot_of: snapOf });
      const parent = table.get(ref(rec, 'parent'));
      if (parent !== undefined) to.update('VM', mine, { parent });
      for (const b of strings(rec, 'VBDs')) {
        const vbd = from.find('VBD', b);
        if (!vbd) continue;
        const fromVdi = from.find('VDI', ref(vbd, 'VDI'));
        let vdi = NULL_REF;
        if (fromVdi) {
          const srUuid = str(from.find('SR', ref(fromVdi, 'SR')), 'uuid');
          const toSr = to.findByUuid('SR', srUuid);
          vdi =
            to.findByUuid('VDI', str(fromVdi, 'uuid')) ??
            (toSr === undefined
              ? undefined
              : vdisOf(to, toSr).find(
                  (v) => str(to.find('VDI', v), 'location') === str(fromVdi, 'location'),
                )) ??
            NULL_REF;
          if (isNull(vdi) && str(vbd, 'type') !== 'CD') {
            if (force) continue;
            if (toSr !== undefined) fail('VDI_LOCATION_MISSING', toSr, str(fromVdi, 'location'));
            fail('VDI_CONTENT_ID_MISSING');
          }
        }
        const fresh = to.findByUuid('VBD', str(vbd, 'uuid')) === undefined;
        const r = to.create('VBD', {
          uuid: fresh ? str(vbd, 'uuid') : hctx.uuid(),
          VM: mine,
          VDI: vdi,
          userdevice: str(vbd, 'userdevice'),
          bootable: bool(vbd, 'bootable'),
          mode: str(vbd, 'mode') || 'RW',
          type: str(vbd, 'type') || 'Disk',
          unpluggable: vbd.unpluggable !== false,
          empty: isNull(vdi),
          device: '',
          currently_attached: false,
          other_config: map(vbd, 'other_config'),
          qos_algorithm_type: str(vbd, 'qos_algorithm_type'),
          qos_algorithm_params: map(vbd, 'qos_algorithm_params'),
        });
        if (!isNull(vdi)) refreshVdi(to, vdi);
        home.afterChange(hctx, 'VBD', r);
      }
      for (const v of strings(rec, 'VIFs')) {
        const vif = from.find('VIF', v);
        if (!vif) continue;
        const network = await recoverNetwork(home, from, ref(vif, 'network'), cleanup);
        const fresh = to.findByUuid('VIF', str(vif, 'uuid')) === undefined;
        const r = to.create('VIF', {
          uuid: fresh ? str(vif, 'uuid') : hctx.uuid(),
          device: str(vif, 'device'),
          network,
          VM: mine,
          MAC: str(vif, 'MAC'),
          MAC_autogenerated: bool(vif, 'MAC_autogenerated'),
          MTU: num(vif, 'MTU') || 1500,
          currently_attached: false,
          other_config: map(vif, 'other_config'),
          qos_algorithm_type: str(vif, 'qos_algorithm_type'),
          qos_algorithm_params: map(vif, 'qos_algorithm_params'),
          locking_mode: str(vif, 'locking_mode') || 'network_default',
        });
        home.afterChange(hctx, 'VIF', r);
      }
    }
  } catch (e) {
    if (!force) for (const undo of cleanup) undo();
    throw e;
  }
  for (const vm of created) if (to.find('VM', vm)) home.afterChange(hctx, 'VM', vm);
  // xapi_dr.ml clear_sr_introduced_by: the SRs the VMs need are the pool's now, not the DR task's.
  for (const vm of created)
    for (const sr of requiredSrs(to, vm))
      if (!isNull(ref(to.find('SR', sr), 'introduced_by'))) to.update('SR', sr, { introduced_by: NULL_REF });
  return created.filter((vm) => to.find('VM', vm) && to.get('VM', vm).is_a_snapshot !== true);
}

async function recoverNetwork(
  home: Engine,
  from: SimStore,
  net: string,
  cleanup: (() => void)[],
): Promise<string> {
  const to = home.store;
  const rec = from.find('network', net);
  if (!rec) return NULL_REF;
  const byUuid = to.findByUuid('network', str(rec, 'uuid'));
  if (byUuid !== undefined) return byUuid;
  const byName = to.all('network').find(([, n]) => n.name_label === rec.name_label)?.[0];
  if (byName !== undefined) return byName;
  const byBridge = to
    .all('network')
    .find(([, n]) => str(rec, 'bridge') !== '' && n.bridge === rec.bridge)?.[0];
  if (byBridge !== undefined) return byBridge;
  const made = String(
    await home.invoke('network.create', [
      {
        name_label: str(rec, 'name_label'),
        name_description: str(rec, 'name_description'),
        MTU: num(rec, 'MTU') || 1500,
        other_config: map(rec, 'other_config'),
        tags: [],
      },
    ]),
  );
  cleanup.unshift(() => {
    if (to.find('network', made)) to.destroy('network', made);
  });
  return made;
}

function vmArg(ctx: SimContext, args: readonly unknown[]): string {
  const vm = arg.str(args, 0);
  ctx.store.get('VM', vm);
  return vm;
}

const vmHandlers: Record<string, SimHandler> = {
  'VM.assert_can_be_recovered': (ctx, args) => {
    const vm = vmArg(ctx, args);
    assertRecoverable(ctx, vm, target(ctx, arg.str(args, 1)).store);
  },
  'VM.get_SRs_required_for_recovery': (ctx, args) => {
    const vm = vmArg(ctx, args);
    return missingSrs(ctx, vm, target(ctx, arg.str(args, 1)).store);
  },
  'VM.recover': async (ctx, args) => {
    const vm = vmArg(ctx, args);
    // message_forwarding.ml: a VM of a vApp is recovered with VM_appliance.recover.
    const appliance = ref(ctx.store.get('VM', vm), 'appliance');
    if (ctx.store.find('VM_appliance', appliance)) fail('VM_IS_PART_OF_AN_APPLIANCE', vm, appliance);
    const home = target(ctx, arg.str(args, 1));
    assertRecoverable(ctx, vm, home.store);
    await recoverVms(ctx, [vm], home, arg.bool(args, 2));
  },
  'VM_appliance.assert_can_be_recovered': (ctx, args) => {
    const self = arg.str(args, 0);
    ctx.store.get('VM_appliance', self);
    const to = target(ctx, arg.str(args, 1)).store;
    for (const vm of applianceVms(ctx.store, self)) assertRecoverable(ctx, vm, to);
  },
  'VM_appliance.get_SRs_required_for_recovery': (ctx, args) => {
    const self = arg.str(args, 0);
    ctx.store.get('VM_appliance', self);
    const to = target(ctx, arg.str(args, 1)).store;
    const out: string[] = [];
    for (const vm of applianceVms(ctx.store, self))
      for (const sr of missingSrs(ctx, vm, to)) if (!out.includes(sr)) out.push(sr);
    return out;
  },
  'VM_appliance.recover': async (ctx, args) => {
    const self = arg.str(args, 0);
    const old = ctx.store.get('VM_appliance', self);
    const home = target(ctx, arg.str(args, 1));
    const to = home.store;
    const vms = applianceVms(ctx.store, self);
    for (const vm of vms) assertRecoverable(ctx, vm, to);
    const recovered = await recoverVms(ctx, vms, home, arg.bool(args, 2));
    // A new appliance with the old name, the recovered VMs in it, and the old uuid unless the pool has it already.
    const uuid = str(old, 'uuid');
    const app = to.create('VM_appliance', {
      uuid: to.findByUuid('VM_appliance', uuid) === undefined ? uuid : home.context().uuid(),
      name_label: str(old, 'name_label'),
      name_description: str(old, 'name_description'),
      allowed_operations: [],
      current_operations: {},
    });
    for (const vm of recovered)
      if (to.get('VM', vm).is_a_template !== true) to.update('VM', vm, { appliance: app });
    refreshAppliance(to, app);
  },
};

/** What a foreign database's session can do beyond reading (generic getters come from the engine). */
const foreignBehaviour: SimBehaviour = { handlers: vmHandlers };

const handlers: Record<string, SimHandler> = {
  ...vmHandlers,
  'SR.enable_database_replication': enableReplication,
  'SR.disable_database_replication': disableReplication,
  'DR_task.create': drTaskCreate,
  'DR_task.destroy': drTaskDestroy,
  'VDI.open_database': openDatabase,
  'VDI.read_database_pool_uuid': readDatabasePoolUuid,
};

// Every pool with shared storage follows its changes from the start, so one that was replicating when it was saved
// goes on replicating after a restart (the watcher writes only while a metadata VDI of the pool is live).
onSharedStorage((store) => {
  watch(store as SimStore);
});

export const drBehaviour: SimBehaviour = { handlers };
