/**
 * Creating the objects of an XVA's ova.xml in the pool, handler by handler in xapi's order (ocaml/xapi/import.ml
 * `handlers`: host, SR, VDI, VM_guest_metrics, VM_metrics, VM, network, VBD, VIF), with xapi's rules:
 * - hosts are looked up by uuid; SRs all map to the target SR (ISO SRs to nothing); VDIs are created in it
 *   (`sm-config:import_task`), ISO VDIs looked up by location in the pool's ISO SRs (ejected when absent);
 * - a default template whose name exists is not imported again; a VM gets a fresh uuid, MAC seed and generation id,
 *   version 0, `other-config:import_task`, power Halted (Suspended with its suspend VDI), and `import` in its
 *   current operations until the import completes — unless `restore`, which keeps the VM's uuid (replacing a halted
 *   VM that has it and an older version: VM_BAD_POWER_STATE / VM_TO_IMPORT_IS_NOT_NEWER_VERSION otherwise), its
 *   MAC seed and the VIFs' MACs, and the VBDs' and VIFs' uuids;
 * - networks are matched by name, then by bridge, else created; VBDs of disks not in the archive are dropped (CDs
 *   ejected); VIFs get fresh MACs;
 * - on failure everything created is destroyed again (not with `force`).
 * @module
 */
import { XapiFailure } from '../contract.js';
import type { SimContext, SimRecord } from '../contract.js';
import type { Engine } from '../engine.js';
import type { Store } from '../store.js';
import { NULL_REF, liveFields } from '../wire-types.js';
import type { ArchiveDisk, OvaHeader, OvaObject } from './ova.js';
import { typedRecord } from './ova.js';

/** How to import (import.ml `config`, Full_import). */
export interface ImportConfig {
  readonly sr: string;
  readonly fullRestore: boolean;
  readonly force: boolean;
  /** The import task (goes into `import_task` keys and the VMs' current operations). */
  readonly task: string;
  /**
   * A metadata import (import.ml `Metadata_import`, cross-pool migration): no disk is created, each is the VDI its
   * record's `other_config:maps_to` names here; a VIF joins the network its `maps_to` names. `live` keeps the VM's
   * generation id (the guest sees the same disks).
   */
  readonly metadata?: { readonly live: boolean };
}

/** The key cross-pool migration maps VDIs and VIFs with (constants.ml `storage_migrate_vdi_map_key`, `…_vif_…`). */
export const MAPS_TO = 'maps_to';

/** A domain's state as it crosses in a migration. */
export type ArrivingDomain = 'Running' | 'Paused';

/**
 * The VMs a live metadata import made from a running or paused VM with its uuid kept: the domain a cross-pool
 * migration hands over next has that uuid (xenopsd knows domains by uuid), so `VM.pool_migrate_complete` finds it
 * there (behaviour/migrate-cross-pool.ts). A copy's new uuid has none, as in xapi. Per pool, in memory.
 */
const arriving = new WeakMap<object, Map<string, ArrivingDomain>>();

/** The domain arriving for `vm` in the pool of `store`, if any; it is taken (asked once). */
export function takeArrivingDomain(store: object, vm: string): ArrivingDomain | undefined {
  const m = arriving.get(store);
  const d = m?.get(vm);
  m?.delete(vm);
  return d;
}

function expectDomain(store: object, vm: string, state: ArrivingDomain): void {
  let m = arriving.get(store);
  if (!m) {
    m = new Map();
    arriving.set(store, m);
  }
  m.set(vm, state);
}

/** What an import created so far. */
export interface ImportState {
  /** Archive id → ref in this pool (import.ml `table`). */
  readonly table: Map<string, string>;
  readonly createdVms: string[];
  /** Undo actions, newest first. */
  readonly cleanup: (() => Promise<void> | void)[];
  readonly objects: readonly OvaObject[];
}

type Rec = Record<string, unknown>;
/** VM fields that are sets of refs (VBDs, VIFs, snapshots, children…). */
const VM_REF_SETS = new Set(
  liveFields('VM')
    .filter((f) => f.type.k === 'set' && f.type.of.k === 'ref')
    .map((f) => f.n),
);
const s = (r: Rec, k: string): string => (typeof r[k] === 'string' ? r[k] : '');
const m = (r: Rec, k: string): Record<string, string> => ({ ...((r[k] ?? {}) as Record<string, string>) });
const isRef = (v: string): boolean => v !== '' && v !== NULL_REF;

function failedToFind(id: string): XapiFailure {
  return new XapiFailure('IMPORT_ERROR_FAILED_TO_FIND_OBJECT', [id]);
}

function lookup(state: ImportState, id: string): string {
  const r = state.table.get(id);
  if (r === undefined) throw failedToFind(id);
  return r;
}

function findInExport(state: ImportState, id: string): OvaObject {
  const o = state.objects.find((x) => x.id === id);
  if (!o) throw failedToFind(id);
  return o;
}

/** A fresh generation id like xapi_vm_helpers.ml `fresh_genid` ("" stays ""). */
function freshGenid(ctx: SimContext, current: string): string {
  if (current === '') return '';
  const n = (): string => String(Math.floor(ctx.random() * Number.MAX_SAFE_INTEGER));
  return `${n()}:${n()}`;
}

/** Runs xapi's handlers over the archive's objects; on failure undoes what it did (unless `force`) and rethrows. */
export async function importObjects(
  engine: Engine,
  header: OvaHeader,
  config: ImportConfig,
): Promise<ImportState> {
  const state: ImportState = { table: new Map(), createdVms: [], cleanup: [], objects: header.objects };
  const ctx = engine.context();
  const store = engine.store;
  const call = (method: string, ...args: unknown[]): Promise<unknown> => engine.invoke(method, args);
  const of = (cls: string): OvaObject[] => header.objects.filter((o) => o.cls === cls);
  try {
    // host: found by uuid, else NULL
    for (const x of of('host')) {
      const rec = typedRecord('host', x.snapshot);
      const hit = store.findByUuid('host', String(rec.uuid));
      state.table.set(x.id, hit ?? NULL_REF);
    }
    // SR: everything lands in the target SR, except ISO libraries (their disks are looked up or ejected)
    for (const x of of('SR')) {
      const rec = typedRecord('SR', x.snapshot);
      if (rec.content_type !== 'iso') state.table.set(x.id, config.sr);
    }
    // VDI
    for (const x of of('VDI')) {
      const rec = typedRecord('VDI', x.snapshot);
      const srRec = typedRecord('SR', findInExport(state, s(rec, 'SR')).snapshot);
      if (srRec.content_type === 'iso') {
        const isoSrs = new Set(
          store
            .all('SR')
            .filter(([, sr]) => sr.content_type === 'iso' && sr.type !== 'udev')
            .map(([r]) => r),
        );
        const hit = store
          .all('VDI')
          .find(([, v]) => v.location === rec.location && isoSrs.has(s(v as Rec, 'SR')))?.[0];
        if (hit !== undefined) state.table.set(x.id, hit);
        continue;
      }
      if (config.metadata) {
        // import.ml VDI `precheck`, Metadata_import: the disk the migration made here, else none.
        const to = m(rec, 'other_config')[MAPS_TO];
        if (to !== undefined && store.find('VDI', to)) state.table.set(x.id, to);
        else if (!config.force) throw new XapiFailure('VDI_CONTENT_ID_MISSING', []);
        continue;
      }
      const sm = m(rec, 'sm_config');
      delete sm.import_task;
      const vdi = String(
        await call('VDI.create', {
          name_label: rec.name_label,
          name_description: rec.name_description,
          SR: lookup(state, s(rec, 'SR')),
          virtual_size: rec.virtual_size,
          type: rec.type,
          sharable: rec.sharable,
          read_only: rec.read_only,
          other_config: rec.other_config,
          xenstore_data: rec.xenstore_data,
          sm_config: { import_task: config.task, ...sm },
          tags: rec.tags,
        }),
      );
      state.cleanup.unshift(() => call('VDI.destroy', vdi).then(() => undefined));
      state.table.set(x.id, vdi);
    }
    // VM_guest_metrics and VM_metrics: copies with fresh uuids
    for (const cls of ['VM_guest_metrics', 'VM_metrics'] as const)
      for (const x of of(cls)) {
        const rec = typedRecord(cls, x.snapshot);
        const r = store.create(cls, { ...rec, uuid: ctx.uuid() });
        state.cleanup.unshift(() => {
          if (store.find(cls, r)) store.destroy(cls, r);
        });
        state.table.set(x.id, r);
      }
    for (const x of of('VM')) await importVm(engine, ctx, state, config, x);
    for (const x of of('network')) await importNetwork(engine, ctx, state, config, x);
    for (const x of of('VBD')) await importVbd(engine, state, config, x);
    for (const x of of('VIF')) await importVif(engine, state, config, x);
    // update_snapshot_and_parent_links
    for (const vm of state.createdVms) {
      const rec = store.find('VM', vm);
      if (!rec) continue;
      const snapOf = s(rec, 'snapshot_of');
      if (rec.is_a_snapshot === true && isRef(snapOf) && !store.find('VM', snapOf)) {
        const target = state.table.get(snapOf);
        if (target === undefined)
          throw new XapiFailure('IMPORT_ERROR_GENERIC', [
            `Failed to find the VM which is snapshot of ${s(rec, 'name_label')}`,
          ]);
        store.update('VM', vm, { snapshot_of: target });
      }
      const parent = s(rec, 'parent');
      if (isRef(parent) && !store.find('VM', parent))
        store.update('VM', vm, { parent: state.table.get(parent) ?? NULL_REF });
    }
    return state;
  } catch (e) {
    if (!config.force) await undo(state);
    throw e;
  }
}

/** Runs the undo actions (import.ml `cleanup`), each on its own: one failing does not stop the others. */
export async function undo(state: ImportState): Promise<void> {
  for (const action of state.cleanup.splice(0)) {
    try {
      await action();
    } catch {
      // best effort, as xapi's log_exn_continue
    }
  }
}

async function importVm(
  engine: Engine,
  ctx: SimContext,
  state: ImportState,
  config: ImportConfig,
  x: OvaObject,
): Promise<void> {
  const store = engine.store;
  const rec = typedRecord('VM', x.snapshot);
  const other = m(rec, 'other_config');
  const isDefaultTemplate =
    rec.is_default_template === true || (rec.is_a_template === true && other.default_template === 'true');
  if (isDefaultTemplate) {
    const existing = store.all('VM').find(([, v]) => v.name_label === rec.name_label)?.[0];
    if (existing !== undefined) {
      state.table.set(x.id, existing);
      state.createdVms.push(existing);
      return;
    }
  }
  let replace: string | undefined;
  const sameUuid = store.findByUuid('VM', String(rec.uuid));
  if (config.fullRestore && sameUuid !== undefined) {
    const existing = store.get('VM', sameUuid);
    const power = s(existing, 'power_state');
    if (power !== 'Halted') {
      if (config.force) return; // skipped
      throw new XapiFailure('VM_BAD_POWER_STATE', [sameUuid, 'halted', power.toLowerCase()]);
    }
    const have = Number(existing.version ?? 0);
    const incoming = Number(rec.version ?? 0);
    if (have >= incoming && !config.force)
      throw new XapiFailure('VM_TO_IMPORT_IS_NOT_NEWER_VERSION', [sameUuid, String(have), String(incoming)]);
    replace = sameUuid;
  } else if (!config.force) {
    rec.is_default_template = false;
    delete other.default_template;
  }
  if (replace !== undefined) {
    for (const vif of (store.get('VM', replace).VIFs as string[] | undefined) ?? [])
      await engine.invoke('VIF.destroy', [vif]);
    for (const vbd of (store.get('VM', replace).VBDs as string[] | undefined) ?? [])
      await engine.invoke('VBD.destroy', [vbd]);
    await engine.invoke('VM.destroy', [replace]);
  }
  delete other.grant_api_access;
  if (!config.fullRestore) other.mac_seed = ctx.uuid();
  other.import_task = config.task;
  const lookupOr = (v: unknown): string => state.table.get(typeof v === 'string' ? v : '') ?? NULL_REF;
  let haPriority = s(rec, 'ha_restart_priority');
  let order = rec.order;
  if (['0', '1', '2', '3'].includes(haPriority)) {
    order = Number(haPriority);
    haPriority = 'restart';
  }
  // Sets of objects are kept by the store from the other side (VM.VBDs from VBD.VM…): never copied.
  const fields: SimRecord = {};
  for (const [k, v] of Object.entries(rec)) if (!VM_REF_SETS.has(k)) fields[k] = v;
  let metrics = lookupOr(rec.metrics);
  if (!store.find('VM_metrics', metrics)) {
    metrics = store.create('VM_metrics', { uuid: ctx.uuid(), memory_actual: 0, VCPUs_number: 0 });
    const created = metrics;
    state.cleanup.unshift(() => {
      if (store.find('VM_metrics', created)) store.destroy('VM_metrics', created);
    });
  }
  const guest = lookupOr(rec.guest_metrics);
  const suspendSr = s(rec, 'suspend_SR');
  const suspended = rec.power_state === 'Suspended';
  let suspendVdi = NULL_REF;
  if (suspended) {
    suspendVdi = lookupOr(rec.suspend_VDI);
    if (!store.find('VDI', suspendVdi) && !config.force)
      throw new XapiFailure('IMPORT_ERROR_GENERIC', [
        `Failed to find VM's suspend_VDI: ${s(rec, 'suspend_VDI')}`,
      ]);
  }
  const isSuspended = suspended && store.find('VDI', suspendVdi) !== undefined;
  const vm = store.create('VM', {
    ...fields,
    uuid: config.fullRestore ? rec.uuid : ctx.uuid(),
    power_state: isSuspended ? 'Suspended' : 'Halted',
    suspend_VDI: isSuspended ? suspendVdi : NULL_REF,
    suspend_SR: store.find('SR', suspendSr) ? suspendSr : NULL_REF,
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    affinity: lookupOr(rec.affinity),
    domid: -1,
    metrics,
    guest_metrics: store.find('VM_guest_metrics', guest) ? guest : NULL_REF,
    other_config: other,
    version: config.fullRestore ? Number(rec.version ?? 0) + 1 : 0,
    generation_id:
      rec.is_a_template === true || config.metadata?.live === true
        ? rec.generation_id
        : freshGenid(ctx, s(rec, 'generation_id')),
    appliance: NULL_REF,
    ha_restart_priority: haPriority,
    order,
    current_operations: config.force ? {} : { [config.task]: 'import' },
    allowed_operations: [],
  });
  state.cleanup.unshift(async () => {
    if (!store.find('VM', vm)) return;
    store.update('VM', vm, { current_operations: {}, power_state: 'Halted', suspend_VDI: NULL_REF });
    try {
      await engine.invoke('VM.destroy', [vm]);
    } catch {
      if (store.find('VM', vm)) store.destroy('VM', vm);
    }
  });
  if (
    config.metadata?.live === true &&
    config.fullRestore &&
    (rec.power_state === 'Running' || rec.power_state === 'Paused')
  )
    expectDomain(store, vm, rec.power_state);
  engine.afterChange(ctx, 'VM', vm);
  state.table.set(x.id, vm);
  state.createdVms.push(vm);
}

async function importNetwork(
  engine: Engine,
  ctx: SimContext,
  state: ImportState,
  config: ImportConfig,
  x: OvaObject,
): Promise<void> {
  const store = engine.store;
  const rec = typedRecord('network', x.snapshot);
  const byName = store.all('network').find(([, n]) => n.name_label === rec.name_label)?.[0];
  const byBridge = store.all('network').find(([, n]) => n.bridge === rec.bridge)?.[0];
  const found = byName ?? byBridge;
  if (found !== undefined) {
    state.table.set(x.id, found);
    return;
  }
  const net = String(
    await engine.invoke('network.create', [
      {
        name_label: rec.name_label,
        name_description: rec.name_description,
        MTU: rec.MTU,
        other_config: { ...m(rec, 'other_config'), import_task: config.task },
        bridge: rec.bridge,
        managed: rec.managed,
        tags: rec.tags,
      },
    ]),
  );
  engine.afterChange(ctx, 'network', net);
  state.cleanup.unshift(() => engine.invoke('network.destroy', [net]).then(() => undefined));
  state.table.set(x.id, net);
}

/** On a full restore an object whose uuid is still here is used as it is (import.ml `find_or_create`). */
function keptOnRestore(
  store: Store,
  state: ImportState,
  config: ImportConfig,
  cls: string,
  id: string,
  rec: Readonly<Record<string, unknown>>,
): boolean {
  const same = config.fullRestore ? store.findByUuid(cls, String(rec.uuid)) : undefined;
  if (same !== undefined) state.table.set(id, same);
  return same !== undefined;
}

async function importVbd(
  engine: Engine,
  state: ImportState,
  config: ImportConfig,
  x: OvaObject,
): Promise<void> {
  const store = engine.store;
  const rec = typedRecord('VBD', x.snapshot);
  if (keptOnRestore(store, state, config, 'VBD', x.id, rec)) return;
  const vm = lookup(state, s(rec, 'VM'));
  const original = typedRecord('VM', findInExport(state, s(rec, 'VM')).snapshot);
  const vdiId = s(rec, 'VDI');
  const haveVdi = state.table.has(vdiId);
  const type = s(rec, 'type');
  if (rec.currently_attached === true && !haveVdi) {
    // Only a CD of an HVM guest may lose its disk (will_have_qemu: HVM boot policy set).
    const hvm = s(original, 'HVM_boot_policy') !== '';
    if (!(type === 'CD' && hvm)) throw new XapiFailure('IMPORT_ERROR_ATTACHED_DISKS_NOT_FOUND', []);
  }
  let vdi: string;
  let empty = rec.empty === true;
  if (haveVdi) vdi = lookup(state, vdiId);
  else if (type === 'CD' || type === 'Floppy') {
    vdi = NULL_REF;
    empty = true;
  } else return; // a disk not in the archive (an ISO attached as a disk): omitted, as xapi does
  const vbd = String(
    await engine.invoke('VBD.create', [
      {
        VM: vm,
        VDI: vdi,
        userdevice: rec.userdevice,
        bootable: rec.bootable,
        mode: rec.mode,
        type,
        unpluggable: rec.unpluggable,
        empty,
        other_config: rec.other_config,
        qos_algorithm_type: rec.qos_algorithm_type,
        qos_algorithm_params: rec.qos_algorithm_params,
        device: '',
        currently_attached: false,
      },
    ]),
  );
  if (config.fullRestore) store.update('VBD', vbd, { uuid: rec.uuid });
  state.cleanup.unshift(() => {
    if (store.find('VBD', vbd)) store.destroy('VBD', vbd);
  });
  state.table.set(x.id, vbd);
}

async function importVif(
  engine: Engine,
  state: ImportState,
  config: ImportConfig,
  x: OvaObject,
): Promise<void> {
  const store = engine.store;
  const rec = typedRecord('VIF', x.snapshot);
  if (keptOnRestore(store, state, config, 'VIF', x.id, rec)) return;
  const vm = lookup(state, s(rec, 'VM'));
  // The cross-pool migration's network, else the one imported for it; the key does not travel further.
  const { [MAPS_TO]: mapped, ...otherConfig } = m(rec, 'other_config');
  const network = mapped ?? lookup(state, s(rec, 'network'));
  const locked = rec.locking_mode === 'locked';
  const vif = String(
    await engine.invoke('VIF.create', [
      {
        device: rec.device,
        network,
        VM: vm,
        MAC: config.fullRestore ? rec.MAC : '',
        MTU: rec.MTU,
        other_config: otherConfig,
        qos_algorithm_type: rec.qos_algorithm_type,
        qos_algorithm_params: rec.qos_algorithm_params,
        locking_mode: rec.locking_mode,
        ipv4_allowed: locked ? rec.ipv4_allowed : [],
        ipv6_allowed: locked ? rec.ipv6_allowed : [],
      },
    ]),
  );
  if (config.fullRestore) store.update('VIF', vif, { uuid: rec.uuid });
  state.cleanup.unshift(() => {
    if (store.find('VIF', vif)) store.destroy('VIF', vif);
  });
  state.table.set(x.id, vif);
}

/** The disks the archive streams, in archive order (import.ml `non_cdrom_vdis`, keeping those created). */
export function importedDisks(header: OvaHeader, state: ImportState): ArchiveDisk[] {
  const objects = header.objects;
  const diskVdis = new Set<string>();
  for (const o of objects) {
    if (o.cls !== 'VBD') continue;
    const b = typedRecord('VBD', o.snapshot);
    if (b.type === 'CD') continue;
    const vdiId = s(b, 'VDI');
    const vdiObj = objects.find((x) => x.id === vdiId);
    if (!vdiObj) continue;
    const v = typedRecord('VDI', vdiObj.snapshot);
    const srObj = objects.find((x) => x.id === s(v, 'SR'));
    if (!srObj) throw failedToFind(s(v, 'SR'));
    if (typedRecord('SR', srObj.snapshot).content_type !== 'iso') diskVdis.add(vdiId);
  }
  const out: ArchiveDisk[] = [];
  for (const o of objects) {
    if (o.cls !== 'VDI') continue;
    const v = typedRecord('VDI', o.snapshot);
    if (!diskVdis.has(o.id) && v.type !== 'suspend') continue;
    const ref = state.table.get(o.id);
    if (ref === undefined) continue;
    out.push({ prefix: o.id, vdi: ref, size: typeof v.virtual_size === 'number' ? v.virtual_size : 0 });
  }
  return out.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
}

/**
 * import.ml `complete_import`: takes `import` out of the VMs' current operations and returns the task result, the
 * VMs (only the snapshots when nothing else was imported) as an XML-RPC `VM ref set`.
 */
export function completeImport(engine: Engine, state: ImportState, task: string): string[] {
  const store = engine.store;
  const ctx = engine.context();
  const vms = [...new Set(state.createdVms)].filter((vm) => store.find('VM', vm));
  for (const vm of vms) {
    const ops = { ...((store.get('VM', vm).current_operations ?? {}) as Record<string, string>) };
    if (task in ops) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by task ref, as XAPI stores it
      delete ops[task];
      store.update('VM', vm, { current_operations: ops });
    }
    engine.afterChange(ctx, 'VM', vm);
  }
  const nonSnapshots = vms.filter((vm) => store.get('VM', vm).is_a_snapshot !== true);
  return nonSnapshots.length > 0 ? nonSnapshots : vms;
}
