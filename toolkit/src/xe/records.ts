/**
 * Reading and writing objects through their `xe` field tables: how each field renders as a string, the
 * RO/RW/MRO/MRW/SRO/SRW marker, map and set views for filters, and the setters behind `*-param-set/add/remove/clear`.
 * Rendering rules follow xen-api ocaml/xapi-cli-server/records.ml (refs shown as uuids, `<not in database>` for a
 * ref that resolves to nothing — including OpaqueRef:NULL —, floats `%.3f`, sets joined with `; ` or `, `,
 * maps as `k: v; k2: v2`, datetimes as `YYYYMMDDThh:mm:ssZ`).
 */
import { CliFailure, FieldNotFound, isApiError } from './errors.js';
import { RECORDS } from './generated/records.js';
import type { RecordClass, RecordField } from './record-types.js';

/** A XenAPI record as the client returns it (wire field names, ints as numbers, datetimes as Date). */
export type Rec = Readonly<Record<string, unknown>>;

/** The one thing `xe` needs from a XenAPI client: a session-bound, untyped call. */
export interface Api {
  call(method: string, ...args: unknown[]): Promise<unknown>;
}

/** One object of a class: its ref and record. */
export interface Obj {
  readonly ref: string;
  readonly rec: Rec;
}

/** Printed for a ref that does not resolve (records.ml `nid`). */
export const NOT_IN_DATABASE = '<not in database>';
const NULL_REF = 'OpaqueRef:NULL';

/** Per-command cache of whole classes (`get_all_records`), standing in for xapi's Ref_index. */
export class Db {
  readonly api: Api;
  readonly #cache = new Map<string, Promise<Map<string, Rec>>>();

  constructor(api: Api) {
    this.api = api;
  }

  /** Every object of a class by ref, fetched once per command. */
  all(cls: string): Promise<Map<string, Rec>> {
    let p = this.#cache.get(cls);
    if (!p) {
      p = this.api
        .call(`${cls}.get_all_records`)
        .then((r) => new Map(Object.entries(r as Record<string, Rec>)));
      // A class the server does not serve resolves nothing rather than failing the whole listing.
      p = p.catch(() => new Map<string, Rec>());
      this.#cache.set(cls, p);
    }
    return p;
  }

  /** Forget what was read (after a write, before reading again). */
  invalidate(cls?: string): void {
    if (cls === undefined) this.#cache.clear();
    else this.#cache.delete(cls);
  }

  /** The objects of a class in server order. */
  async list(cls: string): Promise<Obj[]> {
    const all = await this.all(cls);
    return [...all].map(([ref, rec]) => ({ ref, rec }));
  }

  /** The object with this uuid (`<cls>.get_by_uuid`, so a bad uuid fails `UUID_INVALID` like the real CLI). */
  async byUuid(cls: string, uuid: string): Promise<Obj> {
    const ref = (await this.api.call(`${cls}.get_by_uuid`, uuid)) as string;
    const rec = (await this.api.call(`${cls}.get_record`, ref)) as Rec;
    return { ref, rec };
  }

  async uuidOf(cls: string, ref: unknown): Promise<string> {
    if (typeof ref !== 'string' || ref === NULL_REF) return NOT_IN_DATABASE;
    const rec = (await this.all(cls)).get(ref);
    return typeof rec?.uuid === 'string' ? rec.uuid : NOT_IN_DATABASE;
  }

  async nameOf(cls: string, ref: unknown): Promise<string> {
    if (typeof ref !== 'string' || ref === NULL_REF) return NOT_IN_DATABASE;
    const rec = (await this.all(cls)).get(ref);
    return typeof rec?.name_label === 'string' ? rec.name_label : NOT_IN_DATABASE;
  }
}

/** The field table of a CLI class (`vm`, `template` and `snapshot` share the VM table). */
export function recordClass(cliClass: string): RecordClass {
  const key = cliClass === 'template' || cliClass === 'snapshot' ? 'vm' : cliClass;
  const rc = RECORDS[key];
  if (!rc) throw new Error(`no record table for ${cliClass}`);
  return rc;
}

/** Looks a field up by name (hidden ones included), failing like records.ml `field_lookup`. */
export function fieldLookup(rc: RecordClass, name: string): RecordField {
  const f = rc.fields.find((x) => x.n === name);
  if (!f) throw new FieldNotFound(name);
  return f;
}

const has = (f: RecordField, flag: string): boolean => f.x?.includes(flag) ?? false;
/** Field flag helpers. */
export const isHidden = (f: RecordField): boolean => has(f, 'h');
export const isExpensive = (f: RecordField): boolean => has(f, 'e');
export const isSet = (f: RecordField): boolean => has(f, 'S');
export const isMap = (f: RecordField): boolean => has(f, 'M');
export const isCaseInsensitive = (f: RecordField): boolean => has(f, 'i');

/** The key `xe` prints: name, marker (cli_operations.ml `print_field`), and ` [DEPRECATED]`. */
export function fieldKey(f: RecordField): string {
  let marker: string;
  if (isSet(f)) marker = has(f, 'a') ? ' (SRW)' : ' (SRO)';
  else if (isMap(f)) marker = has(f, 'A') ? ' (MRW)' : ' (MRO)';
  else marker = has(f, 's') ? ' ( RW)' : ' ( RO)';
  return f.n + marker + (has(f, 'd') ? ' [DEPRECATED]' : '');
}

/** XAPI's datetime form, `YYYYMMDDThh:mm:ssZ` (ocaml/libs/clock/date.ml `to_rfc3339`). */
export function formatDate(v: unknown): string {
  const d = v instanceof Date ? v : new Date(typeof v === 'string' || typeof v === 'number' ? v : 0);
  if (Number.isNaN(d.getTime())) return typeof v === 'string' ? v : '';
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}Z`
  );
}

/** `%.3f`, OCaml style (records.ml `string_of_float`). */
export function formatFloat(v: unknown): string {
  const n = typeof v === 'number' ? v : Number(v);
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return n.toFixed(3);
}

const refClass = (t: string): string | undefined => (t.endsWith(' ref') ? t.slice(0, -4) : undefined);
const setElem = (t: string): string | undefined => (t.endsWith(' set') ? t.slice(0, -4) : undefined);
const mapTypes = (t: string): [string, string] | undefined => {
  const m = /^\((.+) -> (.+)\) map$/.exec(t);
  return m ? [m[1] ?? 'string', m[2] ?? 'string'] : undefined;
};

/** A wire value as text (numbers, booleans, dates in XAPI's form; '' for nothing). */
export function toText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return formatDate(v);
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}

/** One scalar of datamodel type `t`, as records.ml renders it. */
async function scalar(
  db: Db,
  t: string,
  v: unknown,
  refsAs: 'uuid' | 'name' | 'raw' = 'uuid',
): Promise<string> {
  const rc = refClass(t);
  if (rc && refsAs !== 'raw') return refsAs === 'name' ? db.nameOf(rc, v) : db.uuidOf(rc, v);
  if (t === 'float') return formatFloat(v);
  if (t === 'datetime') return formatDate(v);
  return toText(v);
}

/** The value of a set field as a list of strings (refs as uuids), or of a map field's values. */
async function setItems(db: Db, f: RecordField, v: unknown): Promise<string[]> {
  const t = f.t ?? 'string set';
  const mt = mapTypes(t);
  if (mt) {
    const vals = Object.values((v ?? {}) as Record<string, unknown>);
    return Promise.all(vals.map((x) => scalar(db, mt[1], x)));
  }
  const elem = setElem(t) ?? 'string';
  const items = Array.isArray(v) ? (v as unknown[]) : [];
  return Promise.all(items.map((x) => scalar(db, elem, x)));
}

async function mapItems(db: Db, f: RecordField, v: unknown): Promise<[string, string][]> {
  const mt = mapTypes(f.t ?? '') ?? ['string', 'string'];
  const entries = Object.entries((v ?? {}) as Record<string, unknown>);
  const refs = f.k === 'uuidmap' ? 'uuid' : 'raw';
  return Promise.all(
    entries.map(async ([k, x]): Promise<[string, string]> => [k, await scalar(db, mt[1], x, refs)]),
  );
}

/** A field computed by the CLI rather than read from one record field (records.ml getters with API calls). */
interface Computed {
  get(db: Db, obj: Obj): Promise<string>;
  set?(db: Db, obj: Obj): Promise<string[]>;
  map?(db: Db, obj: Obj): Promise<[string, string][]>;
}

async function tryCall(db: Db, method: string, ...args: unknown[]): Promise<unknown> {
  try {
    return await db.api.call(method, ...args);
  } catch {
    return undefined;
  }
}

/** records.ml `get_consistent_field_or_default`: a host field every host agrees on, else `<inconsistent>`. */
async function consistentHostField(db: Db, field: string, t: string): Promise<string> {
  const hosts = [...(await db.all('host')).values()];
  if (hosts.length === 0) return '<inconsistent>';
  const values = await Promise.all(hosts.map((h) => scalar(db, t, h[field])));
  return values.every((v) => v === values[0]) ? (values[0] ?? '') : '<inconsistent>';
}

async function vcpusUtilisation(db: Db, obj: Obj): Promise<[string, string][]> {
  const metrics = (await db.all('VM_metrics')).get(toText(obj.rec.metrics));
  const n = Number(metrics?.VCPUs_number ?? 0);
  const out: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const v = await db.api.call('VM.query_data_source', obj.ref, `cpu${i}`);
    out.push([String(i), formatFloat(v)]);
  }
  return out;
}

/** record_util.ml `vdi_type_to_string` (capitalised, unlike the wire names). */
const VDI_TYPES: Readonly<Record<string, string>> = {
  system: 'System',
  user: 'User',
  ephemeral: 'Ephemeral',
  suspend: 'Suspend',
  crashdump: 'Crashdump',
  ha_statefile: 'HA statefile',
  metadata: 'Metadata',
  redo_log: 'Redo log',
  rrd: 'rrd',
  pvs_cache: 'PVS cache',
  cbt_metadata: 'CBT metadata',
};

/**
 * record_util.ml `vm_operation_to_string`, used by the VM's allowed-, current- and blocked-operations: the wire
 * names, except two spelled differently and the operations its table lacks, shown as `(unknown operation)`.
 */
const VM_OPERATIONS: ReadonlyMap<string, string> = new Map([
  ...'changing_dynamic_range changing_static_range changing_shadow_memory clean_reboot clean_shutdown clone snapshot checkpoint snapshot_with_quiesce copy revert reverting provision destroy export metadata_export import get_boot_record hard_reboot hard_shutdown migrate_send pause resume resume_on changing_VCPUs_live changing_NVRAM start start_on shutdown suspend unpause update_allowed_operations make_into_template send_sysrq send_trigger changing_memory_live awaiting_memory_live changing_shadow_memory_live pool_migrate power_state_reset csvm call_plugin create_vtpm sysprep'
    .split(' ')
    .map((op): [string, string] => [op, op]),
  ['assert_operation_valid', 'assertoperationvalid'],
  ['data_source_op', 'data_sources_op'],
]);
const vmOperation = (op: unknown): string => VM_OPERATIONS.get(toText(op)) ?? '(unknown operation)';

const ON_NORMAL_EXIT = { destroy: 'Destroy', restart: 'Restart' };
const TRISTATE = { yes: 'true', no: 'false' };
const DOMAIN_TYPE = { pv_in_pvh: 'pv-in-pvh' };
const TASK_OPERATIONS = { cancel: 'Cancel', destroy: 'Destroy' };
/**
 * Enum values the CLI spells unlike the wire (record_util.ml "intentional shadowing": capitalised exit actions,
 * `pv-in-pvh`, tristates as true/false, `VT100`…). Keyed by `<cli class>.<field>`; values not listed pass as is.
 */
const RENAMES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'vm.actions-after-shutdown': ON_NORMAL_EXIT,
  'vm.actions-after-reboot': ON_NORMAL_EXIT,
  'vm.actions-after-crash': {
    destroy: 'Destroy',
    coredump_and_destroy: 'Core dump and destroy',
    restart: 'Restart',
    coredump_and_restart: 'Core dump and restart',
    preserve: 'Preserve',
    rename_restart: 'Rename restart',
  },
  'vm.actions-after-softreboot': {
    destroy: 'Destroy',
    restart: 'Restart',
    preserve: 'Preserve',
    soft_reboot: 'Soft reboot',
  },
  'vm.domain-type': DOMAIN_TYPE,
  'vm.current-domain-type': DOMAIN_TYPE,
  'vm.can-use-hotplug-vbd': TRISTATE,
  'vm.can-use-hotplug-vif': TRISTATE,
  'task.allowed_operations': TASK_OPERATIONS,
  'task.current_operations': TASK_OPERATIONS,
  'console.protocol': { vt100: 'VT100', rfb: 'RFB', rdp: 'RDP' },
};

/** Applies a rename table to a wire value (a scalar, each member of a set, each value of a map). */
function renamed(table: Readonly<Record<string, string>> | undefined, v: unknown): unknown {
  if (!table) return v;
  const one = (x: unknown) => (typeof x === 'string' ? (table[x] ?? x) : x);
  if (Array.isArray(v)) return v.map(one);
  if (typeof v === 'object' && v !== null && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, one(x)]));
  }
  return one(v);
}

/** The wire value for what a user typed into a renamed field (`Destroy` or `destroy` → `destroy`). */
export function wireSpelling(cliClass: string, field: string, typed: string): string {
  const key = `${cliClass === 'template' || cliClass === 'snapshot' ? 'vm' : cliClass}.${field}`;
  const table = RENAMES[key];
  if (!table) return typed;
  const hit = Object.entries(table).find(
    ([wire, shown]) => shown.toLowerCase() === typed.toLowerCase() || wire === typed.toLowerCase(),
  );
  return hit ? hit[0] : typed;
}

/** `ha-statefiles`: refs kept as strings, shown as VDI uuids. */
const vmOps = (v: unknown): string[] => (Array.isArray(v) ? v.map(vmOperation) : []);

/** record_util.ml `host_operation_to_string`: `vm_start` → `VM.start`, `vm_resume`, `vm_migrate` likewise. */
const hostOperation = (op: unknown): string => toText(op).replace(/^vm_/, 'VM.');
/** record_util.ml `sr_operation_to_string`: `vdi_create` → `VDI.create`, `pbd_create` → `PBD.create`. */
const srOperation = (op: unknown): string => toText(op).replace(/^vdi_/, 'VDI.').replace(/^pbd_/, 'PBD.');

/** allowed-operations / current-operations of a class whose operation names the CLI respells. */
function operations(
  field: 'allowed_operations' | 'current_operations',
  name: (op: unknown) => string,
): Computed {
  const list = (obj: Obj): string[] => {
    const v = obj.rec[field];
    const ops = field === 'allowed_operations' ? (Array.isArray(v) ? v : []) : Object.values(mapOf(v));
    return ops.map(name);
  };
  return {
    get: (_db, obj) => Promise.resolve(list(obj).join('; ')),
    set: (_db, obj) => Promise.resolve(list(obj)),
  };
}
const mapOf = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};

async function statefiles(db: Db, obj: Obj): Promise<string> {
  const refs = Array.isArray(obj.rec.ha_statefiles) ? (obj.rec.ha_statefiles as unknown[]) : [];
  return (await Promise.all(refs.map((r) => db.uuidOf('VDI', r)))).join('; ');
}

const COMPUTED: Readonly<Record<string, Computed>> = {
  'sr.host': {
    // records.ml: "<shared>" when plugged on several hosts, else the name of the one host (via its PBD).
    async get(db, obj) {
      const pbds = Array.isArray(obj.rec.PBDs) ? (obj.rec.PBDs as string[]) : [];
      if (pbds.length > 1) return '<shared>';
      const pbd = pbds.length === 1 ? (await db.all('PBD')).get(pbds[0] ?? '') : undefined;
      return db.nameOf('host', pbd?.host ?? NULL_REF);
    },
  },
  'vbd.vdi-name-label': {
    async get(db, obj) {
      return obj.rec.empty === true ? '<EMPTY>' : db.nameOf('VDI', obj.rec.VDI);
    },
  },
  'vdi.type': {
    get(_db, obj) {
      const t = toText(obj.rec.type);
      return Promise.resolve(VDI_TYPES[t] ?? t);
    },
  },
  'vm.allowed-operations': {
    get: (_db, obj) => Promise.resolve(vmOps(obj.rec.allowed_operations).join('; ')),
    set: (_db, obj) => Promise.resolve(vmOps(obj.rec.allowed_operations)),
  },
  'vm.current-operations': {
    get: (_db, obj) => Promise.resolve(vmOps(Object.values(mapOf(obj.rec.current_operations))).join('; ')),
    set: (_db, obj) => Promise.resolve(vmOps(Object.values(mapOf(obj.rec.current_operations)))),
  },
  'vm.blocked-operations': {
    get: (_db, obj) =>
      Promise.resolve(
        Object.entries(mapOf(obj.rec.blocked_operations))
          .map(([k, v]) => `${vmOperation(k)}: ${toText(v)}`)
          .join('; '),
      ),
    map: (_db, obj) =>
      Promise.resolve(
        Object.entries(mapOf(obj.rec.blocked_operations)).map(([k, v]): [string, string] => [
          vmOperation(k),
          toText(v),
        ]),
      ),
  },
  'host.allowed-operations': operations('allowed_operations', hostOperation),
  'host.current-operations': operations('current_operations', hostOperation),
  'sr.allowed-operations': operations('allowed_operations', srOperation),
  'sr.current-operations': operations('current_operations', srOperation),
  'pool.ha-statefiles': { get: statefiles },
  'host.ha-statefiles': { get: statefiles },
  'vm.memory-target': {
    async get(db, obj) {
      try {
        const v = await db.api.call('VM.query_data_source', obj.ref, 'memory_target');
        return String(Math.trunc(Number(v)));
      } catch (e) {
        return isApiError(e) && e.code === 'VM_BAD_POWER_STATE' ? '0' : '<unknown>';
      }
    },
  },
  'vm.allowed-VBD-devices': {
    async get(db, obj) {
      return (
        ((await tryCall(db, 'VM.get_allowed_VBD_devices', obj.ref)) as string[] | undefined)?.join('; ') ?? ''
      );
    },
    async set(db, obj) {
      return ((await tryCall(db, 'VM.get_allowed_VBD_devices', obj.ref)) as string[] | undefined) ?? [];
    },
  },
  'vm.allowed-VIF-devices': {
    async get(db, obj) {
      return (
        ((await tryCall(db, 'VM.get_allowed_VIF_devices', obj.ref)) as string[] | undefined)?.join('; ') ?? ''
      );
    },
    async set(db, obj) {
      return ((await tryCall(db, 'VM.get_allowed_VIF_devices', obj.ref)) as string[] | undefined) ?? [];
    },
  },
  'vm.possible-hosts': {
    async get(db, obj) {
      const hosts = (await db.api.call('VM.get_possible_hosts', obj.ref)) as string[];
      return (await Promise.all(hosts.map((h) => db.uuidOf('host', h)))).join('; ');
    },
  },
  'vm.VCPUs-utilisation': {
    async get(db, obj) {
      try {
        return (await vcpusUtilisation(db, obj)).map(([k, v]) => `${k}: ${v}`).join('; ');
      } catch {
        return '';
      }
    },
    async map(db, obj) {
      try {
        return await vcpusUtilisation(db, obj);
      } catch {
        return [];
      }
    },
  },
  'vm.cooperative': {
    async get() {
      // Deprecated and always true on current XAPI (records.ml falls back to true on any error).
      return Promise.resolve('true');
    },
  },
  'host.memory-free-computed': {
    async get(db, obj) {
      return toText(await db.api.call('host.compute_free_memory', obj.ref));
    },
  },
  'host.patches': {
    async get() {
      return Promise.resolve('');
    },
    async set() {
      return Promise.resolve([]);
    },
  },
  'host.updates': {
    async get(db, obj) {
      return (await setItems(db, { n: 'updates', k: 'set', t: 'pool_update ref set' }, obj.rec.updates)).join(
        ', ',
      );
    },
    async set(db, obj) {
      return setItems(db, { n: 'updates', k: 'set', t: 'pool_update ref set' }, obj.rec.updates);
    },
  },
  'pool.supported-sr-types': {
    async get(db) {
      return ((await tryCall(db, 'SR.get_supported_types')) as string[] | undefined)?.join('; ') ?? '';
    },
  },
  'pool.license-state': {
    async get(db, obj) {
      const m = ((await tryCall(db, 'pool.get_license_state', obj.ref)) ?? {}) as Record<string, unknown>;
      return Object.entries(m)
        .map(([k, v]) => `${k}: ${toText(v)}`)
        .join('; ');
    },
  },
  'pool.https-only': {
    async get(db) {
      const hosts = [...(await db.all('host')).values()];
      return String(hosts.every((h) => h.https_only === true));
    },
  },
  'pool.ssh-enabled': { get: (db) => consistentHostField(db, 'ssh_enabled', 'bool') },
  'pool.ssh-enabled-timeout': { get: (db) => consistentHostField(db, 'ssh_enabled_timeout', 'int') },
  'pool.ssh-expiry': { get: (db) => consistentHostField(db, 'ssh_expiry', 'datetime') },
  'pool.console-idle-timeout': { get: (db) => consistentHostField(db, 'console_idle_timeout', 'int') },
  'pool.ssh-auto-mode': { get: (db) => consistentHostField(db, 'ssh_auto_mode', 'bool') },
  'vbd.attachable': {
    async get(db, obj) {
      try {
        await db.api.call('VBD.assert_attachable', obj.ref);
        return 'true';
      } catch (e) {
        const code = isApiError(e) ? `Server_error(${e.code}, [ ${e.params.join('; ')} ])` : String(e);
        return `false (error: ${code})`;
      }
    },
  },
};

/** Reads fields of objects of one CLI class. */
export class RecordView {
  readonly db: Db;
  readonly cli: string;
  readonly rc: RecordClass;

  constructor(db: Db, cliClass: string) {
    this.db = db;
    this.cli = cliClass === 'template' || cliClass === 'snapshot' ? 'vm' : cliClass;
    this.rc = recordClass(cliClass);
  }

  /** The record (main object or the one reached through `f.v`) holding the field's value, or undefined. */
  async #source(obj: Obj, f: RecordField): Promise<Rec | undefined> {
    if (f.v === undefined || f.c === undefined) return obj.rec;
    return (await this.db.all(f.c)).get(toText(obj.rec[f.v]));
  }

  /** The string `xe` prints for a field (records.ml `get`). */
  async value(obj: Obj, f: RecordField): Promise<string> {
    const computed = COMPUTED[`${this.cli}.${f.n}`];
    if (computed) return computed.get(this.db, obj);
    if (f.f === undefined) return '';
    const src = await this.#source(obj, f);
    if (!src) return NOT_IN_DATABASE;
    const v = renamed(RENAMES[`${this.cli}.${f.n}`], src[f.f]);
    const t = f.t ?? 'string';
    switch (f.k) {
      case 'uuid':
        return this.db.uuidOf(refClass(t) ?? f.c ?? '', v);
      case 'name':
        return this.db.nameOf(refClass(t) ?? f.c ?? '', v);
      case 'uuids':
      case 'set':
        return (await setItems(this.db, f, v)).join('; ');
      case 'setcomma':
        return (await setItems(this.db, f, v)).join(', ');
      case 'values':
        return (await setItems(this.db, f, v)).join('; ');
      case 'map':
      case 'uuidmap':
        return (await mapItems(this.db, f, v)).map(([k, x]) => `${k}: ${x}`).join('; ');
      case 'lower': {
        const s = toText(v);
        return s.charAt(0).toLowerCase() + s.slice(1);
      }
      case 'date':
        return formatDate(v);
      case 'float':
        return formatFloat(v);
      default:
        if (mapTypes(t)) return (await mapItems(this.db, f, v)).map(([k, x]) => `${k}: ${x}`).join('; ');
        if (setElem(t)) return (await setItems(this.db, f, v)).join('; ');
        return scalar(this.db, t, v);
    }
  }

  /** The field as a set (records.ml `get_set`): for `:contains` filters and param-remove/clear. */
  async setOf(obj: Obj, f: RecordField): Promise<string[]> {
    const computed = COMPUTED[`${this.cli}.${f.n}`];
    if (computed?.set) return computed.set(this.db, obj);
    if (f.f === undefined) return [];
    const src = await this.#source(obj, f);
    return src ? setItems(this.db, f, renamed(RENAMES[`${this.cli}.${f.n}`], src[f.f])) : [];
  }

  /** The field as a map (records.ml `get_map`): for `map:key=value` filters, param-get param-key, param-remove. */
  async mapOf(obj: Obj, f: RecordField): Promise<[string, string][]> {
    const computed = COMPUTED[`${this.cli}.${f.n}`];
    if (computed?.map) return computed.map(this.db, obj);
    if (f.f === undefined) return [];
    const src = await this.#source(obj, f);
    return src ? mapItems(this.db, f, src[f.f]) : [];
  }

  /** `[key-with-marker, value]` for printing; expensive fields show `<expensive field>` when `cheap`. */
  async printed(obj: Obj, fields: readonly RecordField[], cheap: boolean): Promise<[string, string][]> {
    return Promise.all(
      fields.map(async (f): Promise<[string, string]> => [
        fieldKey(f),
        cheap && isExpensive(f) ? '<expensive field>' : await this.safeValue(obj, f),
      ]),
    );
  }

  /** records.ml `safe_get_field`: a ref gone stale reads `<invalid reference>`. */
  async safeValue(obj: Obj, f: RecordField): Promise<string> {
    try {
      return await this.value(obj, f);
    } catch (e) {
      if (isApiError(e) && e.code === 'HANDLE_INVALID') return '<invalid reference>';
      throw e;
    }
  }

  /**
   * Filters objects on `field=value`, `map:key=value`, `set:contains=x` (and the old `map-name-key=value` form), as
   * cli_operations.ml `filter_records_on_fields`. An unknown field fails `Unknown field 'x'` unless nothing is left.
   */
  async filter(objs: Obj[], k: string, v: string): Promise<Obj[]> {
    if (objs.length === 0) return objs;
    const type = fieldType(this.rc, k);
    const keep = await Promise.all(
      objs.map(async (o) => {
        if (type.kind === 'normal') {
          const f = fieldLookup(this.rc, k);
          const val = await this.safeValue(o, f);
          return isCaseInsensitive(f) ? val.toLowerCase() === v.toLowerCase() : val === v;
        }
        const f = fieldLookup(this.rc, type.field);
        const sub = k.slice(type.field.length + 1);
        try {
          if (type.kind === 'set') {
            if (sub !== 'contains') {
              throw new CliFailure('Invalid syntax for set filtering (should be set-param:contains=key)');
            }
            const items = await this.setOf(o, f);
            return isCaseInsensitive(f)
              ? items.map((s) => s.toLowerCase()).includes(v.toLowerCase())
              : items.includes(v);
          }
          const m = await this.mapOf(o, f);
          const ci = isCaseInsensitive(f);
          const hit = m.find(([mk]) => (ci ? mk.toLowerCase() === sub.toLowerCase() : mk === sub));
          return hit !== undefined && (ci ? hit[1].toLowerCase() === v.toLowerCase() : hit[1] === v);
        } catch (e) {
          if (e instanceof CliFailure) throw e;
          return false;
        }
      }),
    );
    return objs.filter((_, i) => keep[i]);
  }
}

/** The kind of a parameter name against a record (cli_operations.ml `get_field_type`). */
export function fieldType(
  rc: RecordClass,
  name: string,
): { kind: 'normal' } | { kind: 'set' | 'map'; field: string } {
  if (rc.fields.some((f) => f.n === name)) return { kind: 'normal' };
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const real = name.slice(0, colon);
    const f = rc.fields.find((x) => x.n === real);
    if (!f) throw new CliFailure(`Unknown field '${name}'`);
    if (isSet(f)) return { kind: 'set', field: f.n };
    if (isMap(f)) return { kind: 'map', field: f.n };
    throw new CliFailure(`Field '${f.n}' is not a set or map`);
  }
  // The old `param-name-key=value` form: the longest map (then set) whose name + '-' prefixes the parameter.
  const byLength = (a: RecordField, b: RecordField) => b.n.length - a.n.length;
  const m = rc.fields
    .filter(isMap)
    .sort(byLength)
    .find((f) => name.startsWith(f.n + '-'));
  if (m) return { kind: 'map', field: m.n };
  const s = rc.fields
    .filter(isSet)
    .sort(byLength)
    .find((f) => name.startsWith(f.n + '-'));
  if (s) return { kind: 'set', field: s.n };
  throw new CliFailure(`Unknown field '${name}'`);
}

/** Parses `param=value` into the wire value of datamodel type `t` (records.ml / record_util.ml conversions). */
export async function parseValue(db: Db, field: string, t: string, v: string): Promise<unknown> {
  const rc = refClass(t);
  if (rc) return db.api.call(`${rc}.get_by_uuid`, v);
  if (t === 'int') {
    const n = field.startsWith('memory') ? bytesOfString(field, v) : Number(v);
    if (!/^-?\d+$/.test(String(n))) {
      throw new CliFailure(`Failed to parse parameter '${field}': expecting an integer`);
    }
    return n;
  }
  if (t === 'float') {
    const n = Number(v);
    if (v.trim() === '' || Number.isNaN(n))
      throw new CliFailure(`Parameter ${field} must be a floating-point number`);
    return n;
  }
  if (t === 'bool') {
    // OCaml bool_of_string: exactly "true" or "false" (records.ml safe_bool_of_string).
    if (v !== 'true' && v !== 'false') {
      throw new CliFailure(`Failed to parse parameter '${field}': expecting a boolean (true or false)`);
    }
    return v === 'true';
  }
  if (setElem(t)) return v === '' ? [] : v.split(',');
  return v;
}

/** record_util.ml `bytes_of_string`: an integer with an optional KiB/MiB/GiB/TiB (or K/M/G/T) suffix. */
export function bytesOfString(field: string, s: string): number {
  const m = /^\s*(\d+)\s*(KiB|MiB|GiB|TiB|K|M|G|T|B)?\s*$/i.exec(s);
  if (!m)
    throw new CliFailure(`Failed to parse parameter '${field}': expecting an integer (possibly with suffix)`);
  const unit = (m[2] ?? '').toUpperCase();
  const mult: Record<string, number> = {
    '': 1,
    B: 1,
    K: 2 ** 10,
    KIB: 2 ** 10,
    M: 2 ** 20,
    MIB: 2 ** 20,
    G: 2 ** 30,
    GIB: 2 ** 30,
    T: 2 ** 40,
    TIB: 2 ** 40,
  };
  return Number(m[1]) * (mult[unit] ?? 1);
}
