/**
 * Cross-pool migration as xapi does it (ocaml/xapi/xapi_host.ml `migrate_receive`, xapi_vm_migrate.ml
 * `migrate_send'`, `assert_can_migrate`, `check_vdi_map`, `infer_vif_map`):
 *
 * - `host.migrate_receive(host, network, options)` on the destination logs in a new session for the caller and
 *   answers the dest map: `SM` and `xenops` URLs on the host's IP on that network, `host`, `session_id`, `master`
 *   (the pool's URL: here the simulator's own, which is what the source must reach) — plus `xenlab-link`, a MAC of
 *   `master` under the environment's link secret (cross-pool.ts): a source follows a dest map only to a pool of its
 *   own environment, never to another learner's.
 * - `VM.migrate_send(vm, dest, live, vdi_map, vif_map, options[, vgpu_map, vdi_format_map])` on the source checks the
 *   VM's operation, every VDI in `vdi_map` (`VDI_NOT_IN_MAP`), then calls the destination over XML-RPC with the dest
 *   map's session (`SESSION_INVALID` from there) for the host and the mapped SRs (`HANDLE_INVALID`), then copy mode
 *   (`options:copy=true`: a halted VM only unless `force=true`, `VM_BAD_POWER_STATE`), that the host is enabled
 *   (`HOST_DISABLED`), every VIF in `vif_map` or inferred from a mapped VIF with the same MAC (`VIF_NOT_IN_MAP`), the
 *   mapped networks (`HANDLE_INVALID`) and the host's memory (`HOST_NOT_ENOUGH_FREE_MEMORY`). Then, as migrate_send'
 *   does: the disks (mirrored: the receiving VDIs carry `sm_config:base_mirror` until the end; the snapshots' disks
 *   copied, to the SR the map gives them or the disk they are snapshots of, else the destination's default SR, and
 *   made snapshots there — in copy mode too, where the snapshots' records stay behind), the metadata import (the
 *   destination's `/import_metadata` with the disks and networks in `other_config:maps_to`: the VM, same uuid,
 *   arrives Halted — Suspended with its image — with its VBDs, VIFs and snapshots), its memory reserved on the
 *   destination host (`host.allocate_resources_for_vm`, which checks it fits again), the VM waiting there while the
 *   memory crosses, the domain handed over to the destination host
 *   (`VM.pool_migrate_complete` there: no VM.start, no VM_STARTED), and only then the VM leaves the source (stays, in copy mode). A failure or a cancel on the way
 *   removes what was made on the destination and leaves the source as it was.
 * - A dest map whose host is one of this pool's is storage motion within the pool ({@link migrateWithinPool}).
 * - Durations follow the WAN link: the disk bytes sent (blocks holding data) then memory bytes over its bandwidth,
 *   plus its latency per round trip, on the simulator's clock (`VM.migrate_send` counts per millisecond of WAN time;
 *   zero in fast mode), with progress on the task.
 *
 * An unreachable destination (down, or not a pool of this environment) is `INTERNAL_ERROR` with the Unix error xapi's
 * HTTP client raises. The disks' contents (transfer/contents.ts) travel with them: streamed to the destination's
 * `/import_raw_vdi` as they are made there ({@link sendContents}), within the pool handed from the old VDI to the new
 * one; the source's go when its VDIs do (kept in copy mode).
 * @module
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  XapiClientError,
  XapiError,
  createXmlRpcTransport,
  decodeValue,
  encodeValue,
  findMessage,
} from '@xenlab/toolkit/xenapi';
import type { MessageSpec, Transport } from '@xenlab/toolkit/xenapi';
import { XapiFailure } from '../contract.js';
import type { SimBehaviour, SimContext, SimRecord, SimStore, SimTask } from '../contract.js';
import { DEFAULT_WAN, crossPoolOf } from '../cross-pool.js';
import { BLOCK_SIZE, diskContentsOf } from '../transfer/contents.js';
import { MAPS_TO, takeArrivingDomain } from '../transfer/import-objects.js';
import { OVA_XML, exportMetadata, thisVersion } from '../transfer/ova.js';
import { TAR_END, padding, tarHeader } from '../transfer/tar.js';
import { vhdImage } from '../transfer/vdi-image.js';
import type { VhdImage } from '../transfer/vdi-image.js';
import { VM_MESSAGES, migrated, vmMessage } from './messages.js';
import { bootHereError, hostFreeMemory, hostSeesSr, schedule, vmReservedMemory } from './placement.js';
import {
  cloneVdi,
  createVdi,
  destroyVdi,
  initialPhysical,
  refreshVbd,
  refreshVdi,
  vdiDataSize,
} from './storage.js';
import { bootDomain, haltDomain, migrateDomain } from './vm.js';
import {
  NULL_REF,
  arg,
  destroyVmDevices,
  fail,
  isNull,
  map,
  num,
  ref,
  str,
  strings,
  vbdsOf,
  vifsOf,
} from './util.js';
import { assertVmOperation, refreshVm, withOperation } from './vm-lifecycle.js';

/** The dest map's keys (xapi_vm_migrate.ml). */
const SM = 'SM';
const HOST = 'host';
const XENOPS = 'xenops';
const SESSION = 'session_id';
const MASTER = 'master';
/** Host.allocate_resources_for_vm: a message xapi dispatches but hides from its datamodel (datamodel_host.ml). */
const ALLOCATE = 'host.allocate_resources_for_vm';
/** VM.pool_migrate_complete, hidden from the datamodel too (datamodel_vm.ml): the source's last call there. */
const COMPLETE = 'VM.pool_migrate_complete';
/** The hidden VDI setters SM calls on a migrated snapshot disk (datamodel.ml, VDI `set_is_a_snapshot`, …). */
const SET_IS_A_SNAPSHOT = 'VDI.set_is_a_snapshot';
const SET_SNAPSHOT_OF = 'VDI.set_snapshot_of';
const SET_SNAPSHOT_TIME = 'VDI.set_snapshot_time';

/** The simulator's own key: proves `master` is a pool of this environment. */
export const LINK_KEY = 'xenlab-link';

/** What xapi's HTTP client raises when nothing answers at the destination (Printexc of the Unix error). */
const REFUSED = 'Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")';

function linkMac(secret: string, master: string): string {
  return createHmac('sha256', secret).update(`xenlab-cross-pool:${master}`).digest('base64url');
}

const VDI_FIELDS = [
  'name_label',
  'name_description',
  'virtual_size',
  'type',
  'sharable',
  'read_only',
  'other_config',
  'xenstore_data',
  'sm_config',
  'tags',
] as const;

function pick(rec: Readonly<SimRecord>, fields: readonly string[]): SimRecord {
  const out: SimRecord = {};
  for (const f of fields) if (rec[f] !== undefined) out[f] = rec[f];
  return out;
}

/** A connection to the destination pool with the dest map's session; errors come back as the pool sent them. */
class Remote {
  readonly #t: Transport;
  readonly #session: string;
  constructor(url: string, session: string) {
    this.#t = createXmlRpcTransport(new URL(url), { timeoutMs: 60_000 });
    this.#session = session;
  }
  async call(method: string, ...args: unknown[]): Promise<unknown> {
    const spec = findMessage(method);
    const types = spec ? spec.p.slice(1) : [];
    const encoded = args.map((a, i) => encodeValue(types[i]?.[1] ?? '', a));
    try {
      const value = await this.#t.call(method, [this.#session, ...encoded]);
      return spec ? decodeValue(spec.r, value) : value;
    } catch (e) {
      if (e instanceof XapiError) throw new XapiFailure(e.code, e.params);
      if (e instanceof XapiClientError) throw new XapiFailure('INTERNAL_ERROR', [REFUSED]);
      throw e;
    }
  }
  close(): void {
    this.#t.close();
  }
}

/** The dest map's keys, present: what remote_of_dest reads (a missing key raises Not_found there). */
interface DestKeys {
  readonly master: string;
  readonly session: string;
  readonly host: string;
}

/** The dest map, checked: where to call, with which session, for which host. */
type Dest = DestKeys;

function destKeys(dest: Record<string, string>): DestKeys {
  const master = dest[MASTER];
  const session = dest[SESSION];
  const host = dest[HOST];
  const xenops = dest[XENOPS];
  // remote_of_dest: List.assoc on a missing key raises Not_found.
  if (master === undefined || session === undefined || host === undefined || xenops === undefined)
    fail('INTERNAL_ERROR', 'Not_found');
  return { master, session, host };
}

/**
 * xapi_vm_migrate.ml `migration_type`: intra-pool when the dest map's host is a host of this pool. The session must be
 * one of this pool's too (a pool of another environment seeded alike could hold a host with the same ref; sessions
 * are random).
 */
function isIntraPool(store: SimStore, keys: DestKeys): boolean {
  return store.find('host', keys.host) !== undefined && store.find('session', keys.session) !== undefined;
}

function parseDest(ctx: SimContext, keys: DestKeys, dest: Record<string, string>): Dest {
  const { master } = keys;
  const own = crossPoolOf(ctx.store);
  const given = dest[LINK_KEY] ?? '';
  let url: URL;
  try {
    url = new URL(master);
  } catch {
    return fail('INTERNAL_ERROR', `Cannot extract foreign IP address from: ${master}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    fail('INTERNAL_ERROR', `Cannot extract foreign IP address from: ${master}`);
  // Only a pool of this environment is reachable: one that holds the same link secret made this map.
  const expected = own.link === undefined ? undefined : Buffer.from(linkMac(own.link, master));
  const got = Buffer.from(given);
  if (expected === undefined) return fail('INTERNAL_ERROR', REFUSED);
  if (expected.length !== got.length || !timingSafeEqual(expected, got)) fail('INTERNAL_ERROR', REFUSED);
  return keys;
}

/** A boolean of the options map as xapi reads it (`bool_of_string`, anything but "true"/"false" is false). */
function option(options: Record<string, string>, key: string): boolean {
  return options[key] === 'true';
}

/** One disk of the VM: the VBD, its VDI (none for a CD or an empty drive) and the SR the map sends it to. */
interface Disk {
  readonly vbd: string;
  readonly vdi: string | undefined;
  readonly sr: string | undefined;
}

/** A disk of a snapshot, or a checkpoint's memory image: the SR the maps give it, if they do. */
interface ExtraVdi {
  readonly vdi: string;
  readonly sr: string | undefined;
  readonly suspend: boolean;
}

/**
 * migrate_send' `extra_vdi_map`: a snapshot's disk goes where the map sends it, else where the map sends the disk
 * it is a snapshot of, else (resolved on the destination) to the default SR; a checkpoint's memory image to the
 * suspend SR. CD drives stay behind as the VM's do.
 */
function snapshotVdis(
  store: SimStore,
  snapshots: readonly string[],
  vdiMap: Record<string, string>,
): ExtraVdi[] {
  const out: ExtraVdi[] = [];
  for (const snap of snapshots) {
    for (const vbd of vbdsOf(store, snap)) {
      const b = store.get('VBD', vbd);
      const vdi = ref(b, 'VDI');
      const v = store.find('VDI', vdi);
      if (str(b, 'type') === 'CD' || !v || out.some((e) => e.vdi === vdi)) continue;
      out.push({ vdi, sr: vdiMap[vdi] ?? vdiMap[ref(v, 'snapshot_of')], suspend: false });
    }
    const rec = store.get('VM', snap);
    const image = ref(rec, 'suspend_VDI');
    if (str(rec, 'power_state') === 'Suspended' && store.find('VDI', image))
      out.push({ vdi: image, sr: vdiMap[image], suspend: true });
  }
  return out;
}

/** What moves: disks to their SRs, VIFs to their networks, the bytes on the wire. */
interface Plan {
  readonly vm: string;
  readonly rec: Readonly<SimRecord>;
  /** Live (xapi's `is_live`: running or paused): disks mirrored, memory checked, reserved and sent. */
  readonly running: boolean;
  /** Copy mode (`options:copy=true`): the source stays, the copy arrives with a new uuid and new MACs. */
  readonly copy: boolean;
  /** `options:force=true`: copy mode allowed on a VM that is not halted. */
  readonly force: boolean;
  readonly disks: Disk[];
  /** A suspended VM's memory image and the SR it goes to (resolved against the destination later). */
  readonly suspendVdi: string | undefined;
  /**
   * The VM's snapshots: their VIFs must be mapped and their disks are copied, in copy mode too; only their records
   * stay behind in copy mode (`send_snapshots = not copy`), so the copied disks arrive without them.
   */
  readonly snapshots: string[];
  /** Their disks and checkpoint images, with the SR each goes to when the maps say (else resolved there). */
  readonly extraVdis: ExtraVdi[];
  readonly diskBytes: number;
  readonly memoryBytes: number;
}

/**
 * The bytes a full copy of a VDI sends: the blocks holding data that it reads (through its VHD parents), as the
 * mirror and sparse_dd send only allocated blocks — not its virtual size, nor the SR's allocation for it (a thick
 * LVM disk's full size). An estimate for the task's progress; the WAN time follows what was actually sent.
 */
function dataBytes(store: SimStore, vdi: string): number {
  return (diskContentsOf(store)?.dataBlocks(vdi).length ?? 0) * BLOCK_SIZE;
}

/** check_vdi_map: every disk's VDI (CD drives aside) is in the map. */
function mapDisks(
  store: SimStore,
  vm: string,
  vdiMap: Record<string, string>,
): { disks: Disk[]; bytes: number } {
  const disks: Disk[] = [];
  let bytes = 0;
  for (const vbd of vbdsOf(store, vm)) {
    const b = store.get('VBD', vbd);
    const vdi = ref(b, 'VDI');
    // CD drives travel empty (xapi ejects ISOs: they are not mirrored).
    if (str(b, 'type') === 'CD' || isNull(vdi) || !store.find('VDI', vdi)) {
      disks.push({ vbd, vdi: undefined, sr: undefined });
      continue;
    }
    const sr = vdiMap[vdi];
    if (sr === undefined) fail('VDI_NOT_IN_MAP', vdi);
    disks.push({ vbd, vdi, sr });
    bytes += dataBytes(store, vdi);
  }
  return { disks, bytes };
}

function plan(
  ctx: SimContext,
  vm: string,
  vdiMap: Record<string, string>,
  options: Record<string, string>,
): Plan {
  const { store } = ctx;
  const rec = store.get('VM', vm);
  const power = str(rec, 'power_state');
  const { disks, bytes } = mapDisks(store, vm, vdiMap);
  const copy = option(options, 'copy');
  const sv = power === 'Suspended' ? ref(rec, 'suspend_VDI') : NULL_REF;
  const suspendVdi = !isNull(sv) && store.find('VDI', sv) ? sv : undefined;
  const suspendBytes = suspendVdi === undefined ? 0 : dataBytes(store, suspendVdi);
  // A live VM's domain leaves with its memory, in a forced copy too: xapi's migrate_send' mirrors the disks, checks
  // and reserves the memory there and hands the domain to xenopsd there whatever the mode (under the VM's uuid, which
  // the copy does not have: the copy stays Halted, the source is left without its domain).
  const running = power === 'Running' || power === 'Paused';
  const metrics = store.find('VM_metrics', ref(rec, 'metrics'));
  const memoryBytes = running ? num(metrics, 'memory_actual') || num(rec, 'memory_static_max') : 0;
  const snapshots = strings(rec, 'snapshots').filter((x) => store.find('VM', x));
  const extraVdis = snapshotVdis(store, snapshots, vdiMap);
  const extraBytes = extraVdis.reduce((n, e) => n + dataBytes(store, e.vdi), 0);
  return {
    vm,
    rec,
    running,
    copy,
    force: option(options, 'force'),
    disks,
    suspendVdi,
    snapshots,
    extraVdis,
    diskBytes: bytes + suspendBytes + extraBytes,
    memoryBytes,
  };
}

/** infer_vif_map: a VIF left out takes the network of a mapped VIF with the same MAC. */
function mapVifs(
  store: SimStore,
  vms: readonly string[],
  vifMap: Record<string, string>,
): { vif: string; network: string }[] {
  const byMac = new Map<string, string>();
  for (const [v, n] of Object.entries(vifMap)) {
    const r = store.find('VIF', v);
    if (r) byMac.set(str(r, 'MAC'), n);
  }
  const vifs: { vif: string; network: string }[] = [];
  for (const vif of vms.flatMap((vm) => vifsOf(store, vm))) {
    const network = vifMap[vif] ?? byMac.get(str(store.get('VIF', vif), 'MAC'));
    if (network === undefined) fail('VIF_NOT_IN_MAP', vif);
    vifs.push({ vif, network });
  }
  return vifs;
}

/**
 * What assert_can_migrate checks, in its order (xapi_vm_migrate.ml, `cross_pool` branch): the session and host there,
 * the mapped SRs there, copy mode on a VM that is not halted, that the host is enabled, the VIF map, then (the
 * metadata import's dry run) the networks and the host's free memory.
 */
async function checkRemote(
  ctx: SimContext,
  remote: Remote,
  dest: Dest,
  p: Plan,
  vifMap: Record<string, string>,
): Promise<{ vif: string; network: string }[]> {
  // host_versions_not_decreasing reads the host there, assert_sr_support_operations each mapped SR's type.
  await remote.call('host.get_software_version', dest.host);
  for (const sr of new Set([...p.disks, ...p.extraVdis].map((d) => d.sr).filter((s) => s !== undefined)))
    await remote.call('SR.get_type', sr);
  // "The copy mode is only allow on stopped VM" (unless forced): running, paused or suspended are refused.
  const power = str(p.rec, 'power_state');
  if (p.copy && !p.force && power !== 'Halted')
    fail('VM_BAD_POWER_STATE', p.vm, 'halted', power.toLowerCase());
  if ((await remote.call('host.get_enabled', dest.host)) !== true) fail('HOST_DISABLED', dest.host);
  const vifs = mapVifs(ctx.store, [p.vm, ...p.snapshots], vifMap);
  for (const net of new Set(vifs.map((v) => v.network))) await remote.call('network.get_uuid', net);
  if (p.running) {
    const needed = vmReservedMemory(p.rec);
    const free = Number(await remote.call('host.compute_free_memory', dest.host));
    if (needed > free) fail('HOST_NOT_ENOUGH_FREE_MEMORY', String(needed), String(free));
  }
  return vifs;
}

/**
 * Where a suspended VM's memory image goes (migrate_send' `suspend_sr_ref`): the destination pool's
 * suspend_image_SR, else the host's suspend_image_sr, else the pool's default SR, else VDI_NOT_IN_MAP.
 */
async function remoteSuspendSr(remote: Remote, dest: Dest, vdi: string): Promise<string> {
  const [pool] = (await remote.call('pool.get_all')) as string[];
  const candidates = [
    pool === undefined ? NULL_REF : ((await remote.call('pool.get_suspend_image_SR', pool)) as string),
    (await remote.call('host.get_suspend_image_sr', dest.host)) as string,
    pool === undefined ? NULL_REF : ((await remote.call('pool.get_default_SR', pool)) as string),
  ];
  const sr = candidates.find((c) => !isNull(c));
  return sr ?? fail('VDI_NOT_IN_MAP', vdi);
}

/** The SR of each snapshot disk and checkpoint image the maps leave out (migrate_send' `extra_vdi_map`). */
async function resolveExtraSrs(remote: Remote, dest: Dest, p: Plan): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (p.extraVdis.length === 0) return out;
  const [pool] = (await remote.call('pool.get_all')) as string[];
  const fallback =
    pool === undefined ? NULL_REF : ((await remote.call('pool.get_default_SR', pool)) as string);
  for (const e of p.extraVdis) {
    const sr = e.sr ?? (e.suspend ? await remoteSuspendSr(remote, dest, e.vdi) : fallback);
    if (isNull(sr)) fail('VDI_NOT_IN_MAP', e.vdi);
    out.set(e.vdi, sr);
  }
  return out;
}

/**
 * A snapshot disk's copy becomes, there, a snapshot of the copy of the disk it was a snapshot of, taken when it was
 * (SM's update_snapshot_info_dest: the hidden VDI.set_is_a_snapshot, set_snapshot_of, set_snapshot_time).
 */
async function linkSnapshotVdi(
  store: SimStore,
  remote: Remote,
  vdis: ReadonlyMap<string, string>,
  vdi: string,
): Promise<void> {
  const rec = store.get('VDI', vdi);
  const there = vdis.get(vdi);
  const of = vdis.get(ref(rec, 'snapshot_of'));
  if (there === undefined || rec.is_a_snapshot !== true) return;
  await remote.call(SET_IS_A_SNAPSHOT, there, true);
  if (of !== undefined) await remote.call(SET_SNAPSHOT_OF, there, of);
  if (rec.snapshot_time instanceof Date) await remote.call(SET_SNAPSHOT_TIME, there, rec.snapshot_time);
}

/**
 * PUTs a VHD image, as the metadata is sent (whole, with its length: the import wants one): at most the pool's cap
 * of contents plus headers. Resolves whether the destination answered; what went wrong there, its task says.
 */
async function putImage(url: URL, cookie: string, image: VhdImage): Promise<boolean> {
  const parts: Buffer[] = [];
  await image.write((b) => {
    parts.push(Buffer.from(b));
    return Promise.resolve();
  });
  try {
    const res = await fetch(url, {
      method: 'PUT',
      body: Buffer.concat(parts),
      headers: { cookie, 'content-type': 'application/octet-stream' },
      signal: AbortSignal.timeout(60_000),
    });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** The text of a failure from the destination, as a VDI_COPY_FAILED parameter (ExnHelper's `CODE: [ a; b ]`). */
function failureText(code: string, params: readonly string[]): string {
  return code === 'INTERNAL_ERROR' && params.length === 1
    ? String(params[0])
    : `${code}: [ ${params.join('; ')} ]`;
}

/**
 * A disk's bytes cross to the VDI made for it there. xapi's mirror (a running VM's disk) or sparse_dd (a copied
 * one) write them over NBD (storage_smapiv1_migrate.ml); here the source streams them as a dynamic VHD, only the
 * blocks holding data, to the destination's `/import_raw_vdi` under a task made there, as `xe vdi-import` does, so
 * the destination keeps them within its own cap. When it cannot: `MIRROR_FAILED [vdi]` for a mirrored disk
 * (xapi_vm_migrate.ml), `VDI_COPY_FAILED [why]` for a copied one (sparse_dd_wrapper.ml). A disk without data sends
 * nothing. With `base` (a similar disk already sent, whose copy `there` is a clone of) only the blocks that differ
 * from it go, and the destination keeps only those. Answers the bytes sent (the WAN time follows them).
 */
async function sendContents(
  ctx: SimContext,
  remote: Remote,
  dest: Dest,
  vdi: string,
  there: string,
  mirror: boolean,
  base?: string,
): Promise<number> {
  const contents = diskContentsOf(ctx.store);
  if (!contents) return 0;
  const rec = ctx.store.get('VDI', vdi);
  const image = vhdImage(contents, vdi, num(rec, 'virtual_size'), str(rec, 'uuid'), ctx.clock.now(), base);
  if (image.blocks === 0) return 0;
  const task = (await remote.call('task.create', 'VDI contents', '')) as string;
  try {
    const delta = base === undefined ? '' : '&xenlab_delta=true';
    const url = new URL(`import_raw_vdi?vdi=${encodeURIComponent(there)}&format=vhd${delta}`, dest.master);
    const reached = await putImage(url, `session_id=${dest.session}; task_id=${task}`, image);
    const status = (await remote.call('task.get_status', task)) as string;
    if (status === 'success' && reached) return image.length;
    // Nothing answered, or the import never ended: what xapi's HTTP client raises.
    if (status !== 'failure') fail('INTERNAL_ERROR', REFUSED);
    const [code = 'INTERNAL_ERROR', ...params] = (await remote.call('task.get_error_info', task)) as string[];
    if (mirror) fail('MIRROR_FAILED', vdi);
    fail('VDI_COPY_FAILED', failureText(code, params));
  } finally {
    await remote.call('task.destroy', task).catch(() => undefined);
  }
}

/**
 * inter_pool_metadata_transfer: the maps ride in the disks' and VIFs' `other_config:maps_to` while the VM's metadata
 * (with its snapshots unless a copy) is exported and sent to the destination's `/import_metadata` (restore unless
 * a copy: the uuids and MACs are kept), under a task made there; the keys are removed again whatever happens.
 * Answers the VM made there and every VM the import made (the snapshots too).
 */
async function sendMetadata(
  ctx: SimContext,
  remote: Remote,
  dest: Dest,
  p: Plan,
  vdis: ReadonlyMap<string, string>,
  vifs: readonly { vif: string; network: string }[],
): Promise<{ vm: string; all: string[] }> {
  const { store } = ctx;
  const marked: [string, string][] = [];
  const mark = (cls: string, r: string, to: string): void => {
    store.update(cls, r, { other_config: { ...map(store.get(cls, r), 'other_config'), [MAPS_TO]: to } });
    marked.push([cls, r]);
  };
  let xml: string;
  try {
    for (const [vdi, to] of vdis) mark('VDI', vdi, to);
    for (const v of vifs) mark('VIF', v.vif, v.network);
    const master = ref(store.all('pool')[0]?.[1], 'master');
    xml = exportMetadata(store, [p.vm], thisVersion(store, master), {
      preservePowerState: true,
      withSnapshotMetadata: !p.copy,
    }).xml;
  } finally {
    for (const [cls, r] of marked) {
      const { [MAPS_TO]: _gone, ...rest } = map(store.find(cls, r), 'other_config');
      if (store.find(cls, r)) store.update(cls, r, { other_config: rest });
    }
  }
  const data = Buffer.from(xml, 'utf8');
  const body = Buffer.concat([
    tarHeader(OVA_XML, data.length),
    data,
    Buffer.alloc(padding(data.length)),
    TAR_END,
  ]);
  const task = (await remote.call('task.create', 'VM metadata import', '')) as string;
  try {
    const query = `restore=${String(!p.copy)}&live=${String(p.running)}&dry_run=false&export_snapshots=${String(!p.copy)}`;
    try {
      const res = await fetch(new URL(`import_metadata?${query}`, dest.master), {
        method: 'PUT',
        body,
        headers: { cookie: `session_id=${dest.session}; task_id=${task}` },
        signal: AbortSignal.timeout(60_000),
      });
      await res.arrayBuffer();
    } catch {
      throw new XapiFailure('INTERNAL_ERROR', [REFUSED]);
    }
    const status = (await remote.call('task.get_status', task)) as string;
    if (status !== 'success') {
      const [code = 'INTERNAL_ERROR', ...params] = (await remote.call(
        'task.get_error_info',
        task,
      )) as string[];
      throw new XapiFailure(code, params);
    }
    const made = String(await remote.call('task.get_result', task)).match(/OpaqueRef:[^<\s]+/g) ?? [];
    const [vm] = made;
    if (vm === undefined) return fail('INTERNAL_ERROR', 'the metadata import made no VM');
    const snapshots = (await remote.call('VM.get_snapshots', vm)) as string[];
    return { vm, all: [...snapshots, vm] };
  } finally {
    await remote.call('task.destroy', task).catch(() => undefined);
  }
}

/**
 * migrate_send' `find_cds_to_eject` / `eject_cds`: before anything moves, the VM's CD drives (not its snapshots')
 * whose disc the VDI map does not keep in its SR are ejected here (not for a suspended VM), and stay ejected — in
 * copy mode too, and when the migration then fails. The VM arrives with empty drives.
 */
function ejectCds(ctx: SimContext, p: Plan, vdiMap: Record<string, string>): void {
  const { store } = ctx;
  if (str(p.rec, 'power_state') === 'Suspended') return;
  for (const vbd of vbdsOf(store, p.vm)) {
    const b = store.get('VBD', vbd);
    const disc = store.find('VDI', ref(b, 'VDI'));
    if (str(b, 'type') !== 'CD' || b.empty === true || !disc || vdiMap[ref(b, 'VDI')] === ref(disc, 'SR'))
      continue;
    store.update('VBD', vbd, { VDI: NULL_REF, empty: true });
    refreshVbd(store, vbd);
    refreshVdi(store, ref(b, 'VDI'));
  }
}

/** A VDI to copy, the SR it goes to, whether it is mirrored, and the earlier item it is a delta against. */
interface CopyItem {
  readonly vdi: string;
  readonly sr: string;
  readonly mirror: boolean;
  /** An earlier item of the same VHD tree, size and SR, copied in full: this one's copy is a clone of that one's. */
  readonly base: string | undefined;
}

/** The uuid at the root of a VDI's VHD chain: VDIs with the same root share data (SM's `similar_content`). */
function chainRoot(store: SimStore, vdi: string): string {
  let rec = store.get('VDI', vdi);
  let uuid = str(rec, 'uuid');
  for (let i = 0; i < 32; i++) {
    const parent = map(rec, 'sm_config')['vhd-parent'];
    if (parent === undefined || parent === '') break;
    let next: string;
    try {
      next = store.byUuid('VDI', parent);
    } catch {
      break; // a parent no longer in the database
    }
    rec = store.get('VDI', next);
    uuid = parent;
  }
  return uuid;
}

function snapshotTime(rec: Readonly<SimRecord>): number {
  return rec.snapshot_time instanceof Date ? rec.snapshot_time.getTime() : 0;
}

/**
 * migrate_send' order (xapi_vm_migrate.ml: sorted by virtual size, then snapshot time — so a VM's own disks, never
 * snapshotted, come before their snapshots' of the same size), and what SM does with it (storage_migrate.ml `copy'`,
 * `receive_start` with `similar`): a disk similar to one already copied there is made as a clone of that copy and
 * only the blocks that differ cross, so the destination's chain shares what they have in common. Here "similar" is
 * the first full copy of the same VHD tree with the same size on the same SR (a clone of it stays one empty leaf over
 * the shared base, whatever else was cloned from it).
 */
function copyOrder(store: SimStore, items: readonly Omit<CopyItem, 'base'>[]): CopyItem[] {
  const size = (v: string): number => num(store.get('VDI', v), 'virtual_size');
  const unique = items.filter((it, i) => items.findIndex((o) => o.vdi === it.vdi) === i);
  const sorted = [...unique].sort(
    (a, b) =>
      size(a.vdi) - size(b.vdi) ||
      snapshotTime(store.get('VDI', a.vdi)) - snapshotTime(store.get('VDI', b.vdi)),
  );
  const out: CopyItem[] = [];
  for (const it of sorted) {
    const root = chainRoot(store, it.vdi);
    const base = out.find(
      (o) =>
        o.base === undefined &&
        o.sr === it.sr &&
        size(o.vdi) === size(it.vdi) &&
        chainRoot(store, o.vdi) === root,
    );
    out.push({ ...it, base: base?.vdi });
  }
  return out;
}

/** The receiving VDI of a delta there: a clone of `baseThere` (VDI.clone), given the source disk's fields. */
async function cloneThere(
  store: SimStore,
  remote: Remote,
  baseThere: string,
  item: CopyItem,
): Promise<string> {
  const rec = store.get('VDI', item.vdi);
  const made = (await remote.call('VDI.clone', baseThere, {})) as string;
  try {
    await remote.call('VDI.remove_from_sm_config', made, BASE_MIRROR);
    if (item.mirror) await remote.call('VDI.add_to_sm_config', made, BASE_MIRROR, mirrorId(store, item.vdi));
    await remote.call('VDI.set_name_label', made, str(rec, 'name_label'));
    await remote.call('VDI.set_name_description', made, str(rec, 'name_description'));
    await remote.call('VDI.set_other_config', made, map(rec, 'other_config'));
    await remote.call('VDI.set_xenstore_data', made, map(rec, 'xenstore_data'));
    await remote.call('VDI.set_tags', made, strings(rec, 'tags'));
    await remote.call('VDI.set_sharable', made, rec.sharable === true);
    await remote.call('VDI.set_read_only', made, rec.read_only === true);
  } catch (e) {
    await remote.call('VDI.destroy', made).catch(() => undefined);
    throw e;
  }
  return made;
}

/** A task view whose progress runs from `lo` to `hi` of the real task's. */
function span(task: SimTask | undefined, lo: number, hi: number): SimTask | undefined {
  if (!task) return undefined;
  return {
    ref: task.ref,
    get cancelled() {
      return task.cancelled;
    },
    setProgress: (p) => {
      task.setProgress(lo + (hi - lo) * p);
    },
  };
}

/** Milliseconds to move `bytes` over a link (one round trip of latency included). */
function linkMs(link: { latencyMs: number; mbps: number }, bytes: number): number {
  return 2 * link.latencyMs + (bytes * 8 * 1000) / (Math.max(link.mbps, 0.001) * 1e6);
}

/** Milliseconds of WAN time to move `bytes` to another pool. */
function wanMs(store: SimStore, bytes: number): number {
  return linkMs(crossPoolOf(store).wan, bytes);
}

/** The SM mirror's id, `<SR uuid>/<VDI location>` (storage_migrate State.mirror_id_of). */
function mirrorId(store: SimStore, vdi: string): string {
  const v = store.get('VDI', vdi);
  return `${str(store.find('SR', ref(v, 'SR')), 'uuid')}/${str(v, 'location') || str(v, 'uuid')}`;
}

/** The key a receiving VDI carries in sm_config while its mirror runs (storage_smapiv1_migrate.ml receive_start). */
const BASE_MIRROR = 'base_mirror';

async function migrateSend(ctx: SimContext, args: readonly unknown[], dryRun: boolean): Promise<string> {
  const { store } = ctx;
  const vm = arg.str(args, 0);
  store.get('VM', vm);
  // with_vm_operation first (power state, blocked operations, other operations), then assert_can_migrate.
  assertVmOperation(store, vm, 'migrate_send');
  const destMap = arg.map(args, 1);
  const vdiMap = arg.map(args, 3);
  const vifMap = arg.map(args, 4);
  const options = arg.map(args, 5);
  const keys = destKeys(destMap);
  if (isIntraPool(store, keys)) return migrateWithinPool(ctx, vm, keys.host, vdiMap, vifMap, options, dryRun);
  const dest = parseDest(ctx, keys, destMap);
  const p = plan(ctx, vm, vdiMap, options);
  const remote = new Remote(dest.master, dest.session);
  try {
    const vifs = await checkRemote(ctx, remote, dest, p, vifMap);
    const suspendSr =
      p.suspendVdi === undefined ? undefined : await remoteSuspendSr(remote, dest, p.suspendVdi);
    if (dryRun) return NULL_REF;
    const extraSrs = await resolveExtraSrs(remote, dest, p);
    const made = await withOperation(ctx, 'VM', vm, 'migrate_send', refreshVm, () => {
      ejectCds(ctx, p, vdiMap);
      return copyToRemote(ctx, remote, dest, p, vifs, suspendSr, extraSrs);
    });
    if (!p.copy) removeHere(ctx, p);
    // A forced copy of a live VM: its domain went with the memory (xenopsd's migration; xapi's refresh_vm then finds
    // no domain here, "assuming VM has shut down"). No alert: no API shutdown happened.
    else if (p.running) haltDomain(ctx, vm);
    return made;
  } finally {
    remote.close();
  }
}

/**
 * Creates the VM on the destination as xapi's migrate_send' does: the disks first (mirrored while a running VM keeps
 * writing: `sm_config:base_mirror` on the receiving VDI; copied when it is halted), then the metadata import — the
 * VM record appears there, Halted, with its VBDs and VIFs — then the memory; the domain runs on the destination
 * host (`VM.pool_migrate_complete`) and the mirrors end. On failure or cancel removes what was made there (the VM, then its disks) and rethrows.
 */
async function copyToRemote(
  ctx: SimContext,
  remote: Remote,
  dest: Dest,
  p: Plan,
  vifs: readonly { vif: string; network: string }[],
  suspendSr: string | undefined,
  extraSrs: ReadonlyMap<string, string>,
): Promise<string> {
  const { store } = ctx;
  const created: [string, string][] = [];
  const total = Math.max(1, p.diskBytes + p.memoryBytes);
  const diskShare = p.diskBytes / total;
  const mirrored: string[] = [];
  let sent = 0;
  const vdis = new Map<string, string>();
  const sendVdi = async (item: CopyItem): Promise<string> => {
    const rec = store.get('VDI', item.vdi);
    const baseThere = item.base === undefined ? undefined : vdis.get(item.base);
    const made = await (baseThere === undefined
      ? (remote.call('VDI.create', {
          ...pick(rec, VDI_FIELDS),
          sm_config: item.mirror ? { [BASE_MIRROR]: mirrorId(store, item.vdi) } : {},
          SR: item.sr,
        }) as Promise<string>)
      : cloneThere(store, remote, baseThere, item));
    created.push(['VDI', made]);
    if (item.mirror) mirrored.push(made);
    sent += await sendContents(ctx, remote, dest, item.vdi, made, item.mirror, item.base);
    return made;
  };
  try {
    // Disks first (the storage mirror; the snapshots' disks and memory images copied), their bytes over the link,
    // in migrate_send's order, each similar one as a delta against the first copy of its kind there.
    const items = copyOrder(store, [
      ...p.disks.flatMap((d) =>
        d.vdi === undefined || d.sr === undefined ? [] : [{ vdi: d.vdi, sr: d.sr, mirror: p.running }],
      ),
      ...(p.suspendVdi === undefined || suspendSr === undefined
        ? []
        : [{ vdi: p.suspendVdi, sr: suspendSr, mirror: false }]),
      ...p.extraVdis.flatMap((e) => {
        const sr = extraSrs.get(e.vdi);
        return sr === undefined ? [] : [{ vdi: e.vdi, sr, mirror: false }];
      }),
    ]);
    for (const item of items) vdis.set(item.vdi, await sendVdi(item));
    // The snapshots' disks become snapshots of the disks they were snapshots of (update_snapshot_info: SM's
    // update_snapshot_info_dest on the destination).
    for (const e of p.extraVdis) await linkSnapshotVdi(store, remote, vdis, e.vdi);
    await ctx.clock.work('VM.migrate_send', span(ctx.task, 0, 0.9 * diskShare), wanMs(store, sent));
    // The metadata import: the VM (its uuid kept, unless a copy) and its snapshots.
    const { vm: vmRef, all } = await sendMetadata(ctx, remote, dest, p, vdis, vifs);
    for (const r of all) created.push(['VM', r]);
    // Reserve its memory on the host there before the pages cross (migrate_send' after the import).
    if (p.running) await remote.call(ALLOCATE, dest.host, vmRef, true);
    // Then memory (the live part): the VM waits there, Halted, while its pages cross; then its domain comes up.
    await ctx.clock.work(
      'VM.migrate_send',
      span(ctx.task, 0.9 * diskShare, 0.95),
      p.running ? wanMs(store, p.memoryBytes) : 0,
    );
    // Its domain is there now (xenopsd's handover, not a VM.start: no VM_STARTED); the destination takes it over.
    await remote.call(COMPLETE, vmRef, dest.host);
    // The mirrors end (receive_finalize): the receiving disks lose their mark.
    for (const vdi of mirrored) await remote.call('VDI.remove_from_sm_config', vdi, BASE_MIRROR);
    ctx.task?.setProgress(0.99);
    return vmRef;
  } catch (e) {
    // VM.destroy takes its VBDs and VIFs; the disks go after it.
    for (const [cls, r] of created.reverse()) {
      if (cls === 'VM') await remote.call('VM.hard_shutdown', r).catch(() => undefined);
      await remote.call(`${cls}.destroy`, r).catch(() => undefined);
    }
    throw e;
  }
}

/**
 * The VM has left: its domain, then for it and its snapshots the devices, disks (memory images too) and records go
 * from the source pool (migrate_send': the VBDs, the mirrored VDIs, `Db.VM.destroy` of vm_and_snapshots).
 */
function removeHere(ctx: SimContext, p: Plan): void {
  const { store } = ctx;
  if (p.running) haltDomain(ctx, p.vm);
  const vdis = [...p.disks.map((d) => d.vdi), p.suspendVdi, ...p.extraVdis.map((e) => e.vdi)].filter(
    (v) => v !== undefined,
  );
  for (const vm of [...p.snapshots, p.vm]) destroyVmDevices(store, vm, store.get('VM', vm));
  // Snapshot disks first: a disk is not destroyed under its snapshots' links.
  for (const vdi of vdis.reverse()) if (store.find('VDI', vdi)) destroyVdi(store, vdi);
  for (const vm of [...p.snapshots, p.vm]) store.destroy('VM', vm);
}

/**
 * Whether the pool can keep the moved disks' data (its cap counts every SR): a disk's own blocks move with it, the
 * blocks it reads from its parents are copied, and a delta (a snapshot's disk after its VM's) only what differs.
 * When they do not fit: `MIRROR_FAILED [vdi]` for a running VM's disk (xapi_vm_migrate.ml), `VDI_COPY_FAILED [why]`
 * for a copied one.
 */
function assertRoomToMove(store: SimStore, items: readonly CopyItem[]): void {
  const contents = diskContentsOf(store);
  if (!contents) return;
  let needed = 0;
  for (const item of items) {
    needed +=
      item.base === undefined
        ? contents.copyCost(item.vdi, true)
        : contents.deltaCost(item.vdi, item.base, true);
    try {
      contents.assertRoom(needed);
    } catch (e) {
      if (item.mirror) fail('MIRROR_FAILED', item.vdi);
      throw e;
    }
  }
}

/**
 * The snapshots' disks in a move within the pool (migrate_send' `extra_vdi_map`, intra-pool too): each goes where
 * the map sends it, else where the map sends the disk it is a snapshot of, else to the pool's default SR
 * (`VDI_NOT_IN_MAP` without one); moved when that is another SR. A checkpoint's memory image stays (the host sees
 * its SR).
 */
function snapshotMoves(
  store: SimStore,
  vm: string,
  vdiMap: Record<string, string>,
): { vdi: string; sr: string }[] {
  const snapshots = strings(store.get('VM', vm), 'snapshots').filter((x) => store.find('VM', x));
  const fallback = ref(store.all('pool')[0]?.[1], 'default_SR');
  const out: { vdi: string; sr: string }[] = [];
  for (const e of snapshotVdis(store, snapshots, vdiMap)) {
    if (e.suspend) continue;
    const sr = e.sr ?? (isNull(fallback) || !store.find('SR', fallback) ? undefined : fallback);
    if (sr === undefined) return fail('VDI_NOT_IN_MAP', e.vdi);
    if (ref(store.get('VDI', e.vdi), 'SR') !== sr) out.push({ vdi: e.vdi, sr });
  }
  return out;
}

/** What a moved disk's new VDI takes from the old one (not its size, sm-config or snapshot links). */
function movedFields(src: Readonly<SimRecord>): SimRecord {
  const { sm_config: _sm, virtual_size: _size, ...rest } = pick(src, VDI_FIELDS);
  return rest;
}

/**
 * The new VDIs' data and links once the VM has moved (after the point of no return): in copy order, a full copy
 * takes the old disk's blocks, a delta is a clone of its base's copy with the blocks that differ; VBDs (the VM's and
 * its snapshots') point at them, the snapshots' disks stay snapshots of the moved disks, the old disks go.
 */
function commitMoves(ctx: SimContext, items: readonly CopyItem[], made: ReadonlyMap<string, string>): void {
  const { store } = ctx;
  const contents = diskContentsOf(store);
  const moved = new Map<string, string>();
  for (const item of items) {
    const src = store.get('VDI', item.vdi);
    const baseCopy = item.base === undefined ? undefined : moved.get(item.base);
    let vdi = made.get(item.vdi);
    if (vdi !== undefined) {
      const { [BASE_MIRROR]: _mirror, ...sm } = map(store.get('VDI', vdi), 'sm_config');
      store.update('VDI', vdi, { sm_config: sm });
      contents?.copyData(item.vdi, vdi, true);
    } else if (baseCopy !== undefined) {
      vdi = cloneVdi(ctx, baseCopy, movedFields(src));
      contents?.copyDelta(item.vdi, vdi, baseCopy, true);
    } else continue;
    moved.set(item.vdi, vdi);
  }
  for (const [old, vdi] of moved) {
    const src = store.get('VDI', old);
    for (const vbd of strings(src, 'VBDs').filter((b) => store.find('VBD', b))) {
      store.update('VBD', vbd, { VDI: vdi });
      refreshVbd(store, vbd);
    }
    if (src.is_a_snapshot === true)
      store.update('VDI', vdi, {
        is_a_snapshot: true,
        snapshot_of: moved.get(ref(src, 'snapshot_of')) ?? ref(src, 'snapshot_of'),
        snapshot_time: src.snapshot_time,
      });
  }
  for (const old of moved.keys()) if (store.find('VDI', old)) destroyVdi(store, old);
}

/**
 * VM.migrate_send within one pool (storage motion; xapi_vm_migrate.ml, `intra_pool` branches): assert_can_migrate
 * checks the VDI map, that the VM could boot on the host (no SR check) and that no VIF is mapped (the VIFs stay on
 * their networks); migrate_send' refuses copy mode. Each disk mapped to another SR is mirrored (copied when the VM is
 * not running) into a new VDI there, the VM's VBDs then point at it and the old one goes; a disk mapped to its own SR
 * stays. Its snapshots' disks go along (copied: `extra_vdi_map`, the SR of the disk they are snapshots of unless
 * mapped), as deltas over their VM's disk's copy where they share its VHD tree ({@link copyOrder}). A running VM
 * moves its memory to the host (none when it is the host it runs on). The VM keeps its record. The bytes cross the
 * pool's own network (a gigabit link, the default WAN's figures). `announce` false: no VM_MIGRATED, as when
 * VDI.pool_migrate calls xapi_vm_migrate.ml `migrate_send` directly rather than through message_forwarding.ml.
 */
export async function migrateWithinPool(
  ctx: SimContext,
  vm: string,
  host: string,
  vdiMap: Record<string, string>,
  vifMap: Record<string, string>,
  options: Record<string, string>,
  dryRun: boolean,
  announce = true,
): Promise<string> {
  const { store } = ctx;
  const rec = store.get('VM', vm);
  const { disks } = mapDisks(store, vm, vdiMap);
  const moves = disks
    .filter((d): d is Disk & { vdi: string; sr: string } => d.vdi !== undefined && d.sr !== undefined)
    .filter((d) => ref(store.get('VDI', d.vdi), 'SR') !== d.sr);
  // assert_sr_support_operations reads each mapped SR.
  for (const d of disks) if (d.sr !== undefined) store.get('SR', d.sr);
  const err = bootHereError(store, vm, host, { ignoreSrs: true });
  if (err) throw err;
  if (Object.keys(vifMap).length > 0)
    fail(
      'OPERATION_NOT_ALLOWED',
      'VIF mapping is not allowed for intra-pool migration -all VIFs must be on the same network',
    );
  // The mirror attaches the new disk on the host: an SR the host cannot reach is the boot check's error [est].
  for (const d of moves) if (!hostSeesSr(store, host, d.sr)) fail('VM_REQUIRES_SR', vm, d.sr);
  if (dryRun) return NULL_REF;
  if (option(options, 'copy'))
    fail(
      'OPERATION_NOT_ALLOWED',
      'Copy mode is disallowed on intra pool storage migration, try efficient alternatives, for example, VM.copy/clone.',
    );
  const power = str(rec, 'power_state');
  const running = power === 'Running' || power === 'Paused';
  const from = ref(rec, 'resident_on');
  const moving = running && from !== host;
  const metrics = store.find('VM_metrics', ref(rec, 'metrics'));
  const memoryBytes = moving ? num(metrics, 'memory_actual') || num(rec, 'memory_static_max') : 0;
  const items = copyOrder(store, [
    ...moves.map((d) => ({ vdi: d.vdi, sr: d.sr, mirror: running })),
    ...snapshotMoves(store, vm, vdiMap).map((e) => ({ ...e, mirror: false })),
  ]);
  const contents = diskContentsOf(store);
  const diskBytes = items.reduce(
    (n, it) =>
      n +
      (it.base === undefined || !contents ? dataBytes(store, it.vdi) : contents.deltaCost(it.vdi, it.base)),
    0,
  );
  const share = diskBytes / Math.max(1, diskBytes + memoryBytes);
  const lan = { latencyMs: DEFAULT_WAN.latencyMs, mbps: DEFAULT_WAN.mbps };
  await withOperation(ctx, 'VM', vm, 'migrate_send', refreshVm, async () => {
    // The receiving VDIs of full copies now; a delta's is a clone of its base's copy once that holds the data.
    const made = new Map<string, string>();
    if (moving) schedule(store, vm, host);
    try {
      for (const item of items) {
        if (item.base !== undefined) continue;
        const src = store.get('VDI', item.vdi);
        const size = num(src, 'virtual_size');
        const vdi = createVdi(ctx, item.sr, {
          ...pick(src, VDI_FIELDS),
          sm_config: item.mirror ? { [BASE_MIRROR]: mirrorId(store, item.vdi) } : {},
          virtual_size: size,
          physical_utilisation: Math.max(
            initialPhysical(store.get('SR', item.sr), size),
            Math.min(vdiDataSize(store, src), size),
          ),
        });
        made.set(item.vdi, vdi);
      }
      assertRoomToMove(store, items);
      await ctx.clock.work('VM.migrate_send', span(ctx.task, 0, 0.9 * share), linkMs(lan, diskBytes));
      await ctx.clock.work(
        'VM.migrate_send',
        span(ctx.task, 0.9 * share, 0.95),
        moving ? linkMs(lan, memoryBytes) : 0,
      );
    } catch (e) {
      for (const vdi of made.values()) if (store.find('VDI', vdi)) destroyVdi(store, vdi);
      if (moving) schedule(store, vm, '');
      throw e;
    }
    // Past the memory hand-over there is no way back (set_not_cancellable).
    if (moving) migrateDomain(ctx, vm, from, host);
    commitMoves(ctx, items, made);
    ctx.task?.setProgress(0.99);
  });
  // message_forwarding.ml migrate_send: VM_MIGRATED for a live intra-pool move only (to the same host too); a
  // cross-pool move raises none (since xen-api 45f7cd0: the VM may be in another pool by then).
  if (running && announce) vmMessage(ctx, vm, VM_MESSAGES.migrated, migrated(ctx, from, host));
  return vm;
}

/**
 * Host.allocate_resources_for_vm(self, vm, live) on the destination (message_forwarding.ml `allocate_vm_to_host`):
 * sets the arriving VM's scheduled_to_be_resident_on, so its memory counts against the host while its pages cross
 * (a VM.start there, or another VM arriving, sees it) until its domain starts there, or the VM is removed on
 * failure or cancel. The live import's memory check (import.ml `assert_can_live_import`, HOST_NOT_ENOUGH_FREE_MEMORY
 * [needed; available]) runs in the same step, so two VMs arriving at once cannot both take the host's last memory.
 * The source calls it for a running VM only: a halted VM's reservation is cleared at once by pool_migrate_complete.
 */
function allocateResources(ctx: SimContext, args: readonly unknown[]): void {
  const { store } = ctx;
  const host = arg.str(args, 0);
  const vm = arg.str(args, 1);
  store.get('host', host);
  const rec = store.get('VM', vm);
  const needed = vmReservedMemory(rec);
  const free = hostFreeMemory(store, host, vm);
  if (needed > free) fail('HOST_NOT_ENOUGH_FREE_MEMORY', String(needed), String(free));
  schedule(store, vm, host);
}

/**
 * VM.pool_migrate_complete(vm, host) on the destination (xapi_vm_migrate.ml `pool_migrate_complete`): when the domain
 * with the VM's uuid has arrived (a live import of a running or paused VM kept its uuid: import-objects.ts), the VM
 * runs on the host from now on, without a VM.start (xenopsd's domain; no VM_STARTED); then, as
 * `force_state_reset_keep_current_operations` with its power state, a VM still Halted or Suspended is resident
 * nowhere and reserves no memory (a copy: its new uuid has no domain, it stays Halted).
 */
function poolMigrateComplete(ctx: SimContext, args: readonly unknown[]): void {
  const { store } = ctx;
  const vm = arg.str(args, 0);
  const host = arg.str(args, 1);
  const rec = store.get('VM', vm);
  store.get('host', host);
  const domain = takeArrivingDomain(store, vm);
  const power = str(rec, 'power_state');
  if (domain !== undefined && power === 'Halted') bootDomain(ctx, vm, host, domain === 'Paused');
  else if (power === 'Halted' || power === 'Suspended') {
    schedule(store, vm, NULL_REF);
    store.update('VM', vm, { resident_on: NULL_REF, domid: -1 });
  }
  refreshVm(store, vm);
}

function migrateReceive(ctx: SimContext, args: readonly unknown[]): Record<string, string> {
  const { store } = ctx;
  const host = arg.str(args, 0);
  const network = arg.str(args, 1);
  store.get('host', host);
  store.get('network', network);
  const pif = store.all('PIF').find(([, r]) => ref(r, 'network') === network && ref(r, 'host') === host);
  if (!pif) fail('HOST_CANNOT_ATTACH_NETWORK', host, network);
  const [pifRef, pifRec] = pif;
  const ip = str(pifRec, 'IP');
  if (ip === '') {
    const mode = str(pifRec, 'ip_configuration_mode');
    if (mode === 'None' || mode === '') fail('PIF_HAS_NO_NETWORK_CONFIGURATION', pifRef);
    if (mode === 'DHCP') fail('INTERFACE_HAS_NO_IP', pifRef);
    fail('INTERNAL_ERROR', 'No IP address on PIF');
  }
  // Xapi_session.login_no_password: a new session like the caller's, for the source to use.
  const caller = store.find('session', ctx.session.ref);
  const session = `OpaqueRef:${randomUUID()}`;
  const now = ctx.clock.now();
  (store as SimStore & { create(cls: string, f: SimRecord, ref?: string): string }).create(
    'session',
    {
      uuid: randomUUID(),
      this_host: host,
      last_active: now,
      validation_time: now,
      is_local_superuser: caller ? caller.is_local_superuser === true : true,
      auth_user_name: str(caller, 'auth_user_name') || ctx.session.user,
      originator: str(caller, 'originator'),
      rbac_permissions: [],
    },
    session,
  );
  const own = crossPoolOf(store);
  const master = own.self === '' ? `http://${masterIp(store) || ip}/` : `${own.self}/`;
  return {
    [SM]: `http://${ip}/services/SM?session_id=${session}`,
    [HOST]: host,
    [XENOPS]: `http://${ip}/services/xenops?session_id=${session}`,
    [SESSION]: session,
    [MASTER]: master,
    ...(own.link === undefined ? {} : { [LINK_KEY]: linkMac(own.link, master) }),
  };
}

/** The coordinator's management IP. */
function masterIp(store: SimStore): string {
  const pool = store.all('pool')[0]?.[1];
  const master = ref(pool, 'master');
  const mgmt = store.all('PIF').find(([, r]) => ref(r, 'host') === master && r.management === true);
  return str(mgmt?.[1], 'IP');
}

/** The signature of a hidden VDI field setter (xapi_vdi.ml: a plain database write). */
function vdiSetter(name: string, type: string): MessageSpec {
  return {
    n: name,
    p: [
      ['session_id', 'session ref'],
      ['self', 'VDI ref'],
      ['value', type],
    ],
    r: 'void',
  };
}

function setVdiField(ctx: SimContext, args: readonly unknown[], field: string, value: unknown): void {
  const vdi = arg.str(args, 0);
  ctx.store.get('VDI', vdi);
  ctx.store.update('VDI', vdi, { [field]: value });
}

/** Cross-pool migration handlers. */
export const crossPoolMigrationBehaviour: SimBehaviour = {
  hidden: {
    [SET_IS_A_SNAPSHOT]: vdiSetter('set_is_a_snapshot', 'bool'),
    [SET_SNAPSHOT_OF]: vdiSetter('set_snapshot_of', 'VDI ref'),
    [SET_SNAPSHOT_TIME]: vdiSetter('set_snapshot_time', 'datetime'),
    [COMPLETE]: {
      n: 'pool_migrate_complete',
      p: [
        ['session_id', 'session ref'],
        ['vm', 'VM ref'],
        ['host', 'host ref'],
      ],
      r: 'void',
    },
    [ALLOCATE]: {
      n: 'allocate_resources_for_vm',
      p: [
        ['session_id', 'session ref'],
        ['self', 'host ref'],
        ['vm', 'VM ref'],
        ['live', 'bool'],
      ],
      r: 'void',
    },
  },
  handlers: {
    'host.migrate_receive': (ctx, args) => migrateReceive(ctx, args),
    [ALLOCATE]: (ctx, args) => {
      allocateResources(ctx, args);
    },
    [COMPLETE]: (ctx, args) => {
      poolMigrateComplete(ctx, args);
    },
    [SET_IS_A_SNAPSHOT]: (ctx, args) => {
      setVdiField(ctx, args, 'is_a_snapshot', arg.bool(args, 1));
    },
    [SET_SNAPSHOT_OF]: (ctx, args) => {
      setVdiField(ctx, args, 'snapshot_of', arg.str(args, 1));
    },
    [SET_SNAPSHOT_TIME]: (ctx, args) => {
      setVdiField(ctx, args, 'snapshot_time', args[1]);
    },
    'VM.migrate_send': (ctx, args) => migrateSend(ctx, args, false),
    'VM.assert_can_migrate': async (ctx, args) => {
      await migrateSend(ctx, args, true);
    },
  },
};
