/**
 * `ova.xml`, the metadata of an XVA: one XML-RPC struct `{version, objects}` where each object is
 * `{class, id, snapshot}` — a record as `get_record` gives it, with references rewritten to archive ids (`Ref:0`,
 * `Ref:1`, …). Built as ocaml/xapi/export.ml does (`update_table` walks the VM: VIFs and their networks, VBDs,
 * their VDIs and SRs, snapshots for a metadata export, the suspend VDI, metrics, guest metrics, resident_on and
 * affinity — a NULL among those also gets an id, as in xapi; `make_*` clear or filter the fields xapi clears) and
 * read back for an import (ocaml/xapi/importexport.ml `header`).
 * @module
 */
import { XapiFailure } from '../contract.js';
import type { SimRecord, SimStore } from '../contract.js';
import { decodeValue, xmlOf, xmlToLoose } from '../codec.js';
import type { Loose } from '../codec.js';
import { NULL_REF, liveFields } from '../wire-types.js';
import { escapeXml, parseXml } from '../xml.js';

/** ova.xml's format version (xapi_globs.ml `export_vsn`): 2 means inline checksums, no trailing table. */
export const EXPORT_VSN = 2;
/** The archive member holding the metadata. */
export const OVA_XML = 'ova.xml';

/** The exporting host's version block (importexport.ml `version`). */
export interface ExportVersion {
  readonly hostname: string;
  readonly date: string;
  readonly product_version: string;
  readonly product_brand: string;
  readonly build_number: string;
  readonly xapi_major: number;
  readonly xapi_minor: number;
  readonly export_vsn: number;
}

/** One archived object. */
export interface OvaObject {
  readonly cls: string;
  readonly id: string;
  /** The record as decoded from the wire (untyped until a handler types it by its class). */
  readonly snapshot: Loose;
}

/** A parsed ova.xml. */
export interface OvaHeader {
  readonly version: ExportVersion;
  readonly objects: readonly OvaObject[];
}

/** The version block this pool writes: its master's `software_version` (XCP-ng 8.3 in the built-in scenarios). */
export function thisVersion(store: SimStore, master: string): ExportVersion {
  const sv = (store.find('host', master)?.software_version ?? {}) as Record<string, unknown>;
  const s = (k: string, d: string): string => (typeof sv[k] === 'string' ? sv[k] : d);
  const [major = 0, minor = 0] = s('xapi', '24.19')
    .split('.')
    .map((x) => Number.parseInt(x, 10) || 0);
  return {
    hostname: s('hostname', ''),
    date: s('date', ''),
    product_version: s('product_version', ''),
    product_brand: s('product_brand', ''),
    build_number: s('build_number', ''),
    xapi_major: major,
    xapi_minor: minor,
    export_vsn: EXPORT_VSN,
  };
}

/** What an export includes. */
export interface ExportOptions {
  /** Keep power state, attachment and the suspend VDI (`preserve_power_state`; metadata exports always do). */
  readonly preservePowerState: boolean;
  /** Snapshot fields and the VM's snapshots (metadata export with `export_snapshots`, the default there). */
  readonly withSnapshotMetadata: boolean;
  /** `excluded_device_types`: `vif`, `vbd` (the simulator has no vGPUs or vTPMs). */
  readonly excluded?: ReadonlySet<string>;
}

/** The archive ids of the exported objects and the ova.xml text. */
export interface ExportMetadata {
  /** Internal ref → archive id (`Ref:n`). */
  readonly table: ReadonlyMap<string, string>;
  readonly xml: string;
}

type Rec = Record<string, unknown>;

const asRef = (v: unknown): string => (typeof v === 'string' ? v : NULL_REF);
const asRefs = (v: unknown): string[] => (Array.isArray(v) ? (v as unknown[]).map(asRef) : []);

/** export.ml `update_table`: walks one VM and gives each object it reaches an archive id. */
function walk(
  store: SimStore,
  table: Map<string, string>,
  vm: string,
  includeSnapshots: boolean,
  o: ExportOptions,
): void {
  const add = (r: string): void => {
    if (!table.has(r)) table.set(r, `Ref:${String(table.size)}`);
  };
  const addVdi = (v: string): void => {
    add(v);
    const rec = store.find('VDI', v);
    if (rec) add(asRef(rec.SR));
  };
  const rec = store.find('VM', vm);
  if (!rec || table.has(vm)) return;
  add(vm);
  if (!o.excluded?.has('vif'))
    for (const vif of asRefs(rec.VIFs)) {
      const v = store.find('VIF', vif);
      if (!v) continue;
      add(vif);
      add(asRef(v.network));
    }
  if (!o.excluded?.has('vbd'))
    for (const vbd of asRefs(rec.VBDs)) {
      const b = store.find('VBD', vbd);
      if (!b) continue;
      add(vbd);
      if (b.empty !== true) addVdi(asRef(b.VDI));
    }
  if (includeSnapshots) for (const s of asRefs(rec.snapshots)) walk(store, table, s, false, o);
  const suspend = asRef(rec.suspend_VDI);
  if (o.preservePowerState && rec.power_state === 'Suspended' && store.find('VDI', suspend)) addVdi(suspend);
  add(asRef(rec.metrics));
  add(asRef(rec.guest_metrics));
  add(asRef(rec.resident_on));
  add(asRef(rec.affinity));
  const parent = asRef(rec.parent);
  if (includeSnapshots && store.find('VM', parent)) walk(store, table, parent, false, o);
}

/** The archive form of each class's records (export.ml `make_host`, `make_vm`, …). */
function exported(
  cls: string,
  rec: Readonly<SimRecord>,
  table: ReadonlyMap<string, string>,
  o: ExportOptions,
): Rec {
  const lookup = (v: unknown): string => table.get(asRef(v)) ?? NULL_REF;
  const filter = (v: unknown): string[] => asRefs(v).flatMap((r) => (table.has(r) ? [lookup(r)] : []));
  const noOps = { current_operations: {}, allowed_operations: [] };
  const attached = (v: unknown): boolean => (o.preservePowerState ? v === true : false);
  switch (cls) {
    case 'host':
      return {
        ...rec,
        PIFs: [],
        PBDs: [],
        PGPUs: [],
        PCIs: [],
        host_CPUs: [],
        license_params: {},
        blobs: {},
        external_auth_type: '',
        external_auth_service_name: '',
        external_auth_configuration: {},
        metrics: NULL_REF,
        patches: [],
        crashdumps: [],
        logging: {},
        supported_bootloaders: [],
        cpu_configuration: {},
        other_config: {},
        capabilities: [],
        software_version: {},
        sched_policy: '',
        ha_statefiles: [],
        ha_network_peers: [],
        tags: [],
        crash_dump_sr: lookup(rec.crash_dump_sr),
        suspend_image_sr: lookup(rec.suspend_image_sr),
        resident_VMs: filter(rec.resident_VMs),
      };
    case 'VM': {
      const snap = o.withSnapshotMetadata;
      return {
        ...rec,
        power_state: o.preservePowerState ? rec.power_state : 'Halted',
        suspend_VDI: o.preservePowerState ? lookup(rec.suspend_VDI) : NULL_REF,
        is_a_snapshot: snap ? rec.is_a_snapshot : false,
        snapshot_of: snap ? lookup(rec.snapshot_of) : NULL_REF,
        snapshots: snap ? rec.snapshots : [],
        snapshot_time: snap ? rec.snapshot_time : new Date(0),
        transportable_snapshot_id: snap ? rec.transportable_snapshot_id : '',
        parent: snap ? lookup(rec.parent) : NULL_REF,
        ...noOps,
        VIFs: filter(rec.VIFs),
        VBDs: filter(rec.VBDs),
        VGPUs: filter(rec.VGPUs),
        crash_dumps: [],
        VTPMs: filter(rec.VTPMs),
        resident_on: lookup(rec.resident_on),
        affinity: lookup(rec.affinity),
        consoles: [],
        metrics: lookup(rec.metrics),
        guest_metrics: lookup(rec.guest_metrics),
        protection_policy: NULL_REF,
        blobs: {},
      };
    }
    case 'VIF':
      return {
        ...rec,
        currently_attached: attached(rec.currently_attached),
        network: lookup(rec.network),
        VM: lookup(rec.VM),
        metrics: NULL_REF,
        ...noOps,
      };
    case 'network':
      return { ...rec, VIFs: filter(rec.VIFs), PIFs: [], ...noOps };
    case 'VBD':
      return {
        ...rec,
        currently_attached: attached(rec.currently_attached),
        VDI: lookup(rec.VDI),
        VM: lookup(rec.VM),
        metrics: NULL_REF,
        ...noOps,
      };
    case 'VDI':
      return { ...rec, VBDs: filter(rec.VBDs), crash_dumps: [], SR: lookup(rec.SR), ...noOps };
    case 'SR':
      return { ...rec, VDIs: filter(rec.VDIs), PBDs: [], ...noOps };
    default:
      return { ...rec };
  }
}

/** The order export.ml `make_all` lists classes in. */
const EXPORT_CLASSES = ['host', 'VM', 'VM_metrics', 'VM_guest_metrics', 'VBD', 'VIF', 'network', 'VDI', 'SR'];

function versionXml(v: ExportVersion): string {
  const s = (x: string): string => `<value>${escapeXml(x)}</value>`;
  const i = (x: number): string => `<value>${String(x)}</value>`;
  const m = (k: string, x: string): string => `<member><name>${k}</name>${x}</member>`;
  return (
    '<value><struct>' +
    m('hostname', s(v.hostname)) +
    m('date', s(v.date)) +
    m('product_version', s(v.product_version)) +
    m('product_brand', s(v.product_brand)) +
    m('build_number', s(v.build_number)) +
    m('xapi_major', i(v.xapi_major)) +
    m('xapi_minor', i(v.xapi_minor)) +
    m('export_vsn', i(v.export_vsn)) +
    '</struct></value>'
  );
}

/** ova.xml for some VMs (export.ml `vm_metadata`). */
export function exportMetadata(
  store: SimStore,
  vms: readonly string[],
  version: ExportVersion,
  o: ExportOptions,
): ExportMetadata {
  const table = new Map<string, string>();
  for (const vm of vms) walk(store, table, vm, o.withSnapshotMetadata, o);
  let objects = '';
  for (const cls of EXPORT_CLASSES) {
    for (const [ref, rec] of store.all(cls)) {
      const id = table.get(ref);
      if (id === undefined) continue;
      const snapshot = xmlOf({ k: 'record', cls }, exported(cls, rec, table, o));
      objects +=
        `<value><struct><member><name>class</name><value>${cls}</value></member>` +
        `<member><name>id</name><value>${id}</value></member>` +
        `<member><name>snapshot</name>${snapshot}</member></struct></value>`;
    }
  }
  const xml =
    `<value><struct><member><name>version</name>${versionXml(version)}</member>` +
    `<member><name>objects</name><value><array><data>${objects}</data></array></value></member></struct></value>`;
  return { table, xml };
}

/** One disk's place in the archive: chunks go under `<prefix>/`. */
export interface ArchiveDisk {
  readonly prefix: string;
  readonly vdi: string;
  readonly size: number;
}

/**
 * The disks an XVA streams, in archive order (export.ml `export`: the VM's non-CD VBDs' VDIs, plus the suspend VDI
 * when the power state is kept, minus ISO SRs; stream_vdi.ml sorts them by archive id as strings).
 */
export function exportedDisks(
  store: SimStore,
  vm: string,
  table: ReadonlyMap<string, string>,
  preservePowerState: boolean,
): ArchiveDisk[] {
  const rec = store.get('VM', vm);
  const vdis: string[] = [];
  for (const vbd of asRefs(rec.VBDs)) {
    const b = store.find('VBD', vbd);
    if (b && b.type !== 'CD') vdis.push(asRef(b.VDI));
  }
  if (preservePowerState && rec.power_state === 'Suspended') vdis.unshift(asRef(rec.suspend_VDI));
  const out: ArchiveDisk[] = [];
  for (const vdi of vdis) {
    const v = store.find('VDI', vdi);
    const id = table.get(vdi);
    if (!v || id === undefined) continue;
    if (store.find('SR', asRef(v.SR))?.content_type === 'iso') continue;
    out.push({ prefix: id, vdi, size: typeof v.virtual_size === 'number' ? v.virtual_size : 0 });
  }
  return out.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** An ova.xml that cannot be used; the import fails with `IMPORT_ERROR_GENERIC [message]`. */
export class OvaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OvaError';
  }
}

function field(m: ReadonlyMap<string, Loose>, k: string, where: string): Loose {
  const v = m.get(k);
  if (v === undefined) throw new OvaError(`Failed to find key '${k}' in ${where}`);
  return v;
}

function intOf(v: Loose): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw new OvaError(`not an integer: ${typeof v === 'string' ? v : typeof v}`);
  return n;
}

/** Parses ova.xml (importexport.ml `header_of_rpc`). */
export function parseOva(text: string): OvaHeader {
  let root: Loose;
  try {
    root = xmlToLoose(parseXml(text, { maxDepth: 64, maxElements: 5_000_000 }));
  } catch (e) {
    throw new OvaError(`ova.xml is not an XML-RPC value: ${(e as Error).message}`);
  }
  if (!(root instanceof Map)) throw new OvaError('ova.xml does not hold a struct');
  const header = root as ReadonlyMap<string, Loose>;
  const v = field(header, 'version', 'header');
  if (!(v instanceof Map)) throw new OvaError('version_of_rpc: malformed RPC');
  const vm = v as ReadonlyMap<string, Loose>;
  const s = (k: string): string => {
    const x = field(vm, k, 'version data');
    return typeof x === 'string' ? x : typeof x === 'number' ? String(x) : '';
  };
  let exportVsn = 0;
  try {
    exportVsn = intOf(field(vm, 'export_vsn', 'version data'));
  } catch {
    exportVsn = 0;
  }
  const version: ExportVersion = {
    hostname: s('hostname'),
    date: s('date'),
    product_version: s('product_version'),
    product_brand: s('product_brand'),
    build_number: s('build_number'),
    xapi_major: intOf(field(vm, 'xapi_major', 'version data')),
    xapi_minor: intOf(field(vm, 'xapi_minor', 'version data')),
    export_vsn: exportVsn,
  };
  const objs = field(header, 'objects', 'header');
  if (!Array.isArray(objs)) throw new OvaError('objects is not an array');
  const objects: OvaObject[] = [];
  for (const o of objs as readonly Loose[]) {
    if (!(o instanceof Map)) throw new OvaError('an object is not a struct');
    const om = o as ReadonlyMap<string, Loose>;
    const cls = field(om, 'class', 'obj');
    const id = field(om, 'id', 'obj');
    if (typeof cls !== 'string' || typeof id !== 'string') throw new OvaError('an object has no class or id');
    objects.push({ cls, id, snapshot: field(om, 'snapshot', 'obj') });
  }
  return { version, objects };
}

/** A snapshot typed by its class (`API.<cls>_t_of_rpc`); unknown members ignored, missing ones defaulted. */
export function typedRecord(cls: string, snapshot: Loose): SimRecord {
  if (!(snapshot instanceof Map)) throw new OvaError(`the ${cls} snapshot is not a struct`);
  try {
    return decodeValue({ k: 'record', cls }, snapshot, cls) as SimRecord;
  } catch (e) {
    if (e instanceof XapiFailure) throw new OvaError(`${cls} record: ${e.code} ${e.params.join(' ')}`);
    throw e;
  }
}

/** Whether a class has a field (for records of other xapi versions). */
export function hasField(cls: string, name: string): boolean {
  return liveFields(cls).some((f) => f.n === name);
}
