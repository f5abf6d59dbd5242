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
 *   VM's operation, every VDI in `vdi_map` (`VDI_NOT_IN_MAP`), every VIF in `vif_map` or inferred from a mapped VIF
 *   with the same MAC (`VIF_NOT_IN_MAP`), then calls the destination over XML-RPC with the dest map's session
 *   (`SESSION_INVALID` from there), checks the mapped SRs and networks exist there (`HANDLE_INVALID`) and that the
 *   host has the memory (`HOST_NOT_ENOUGH_FREE_MEMORY`), creates the VDIs in their SRs, the VM (same uuid), its
 *   VBDs and VIFs there, starts it on the destination host when it ran here, and only then removes it from the source.
 *   A failure on the way removes what was made on the destination and leaves the source as it was.
 * - Durations follow the WAN link: disk bytes then memory bytes over its bandwidth, plus its latency per round trip,
 *   on the simulator's clock (`VM.migrate_send` counts per millisecond of WAN time; zero in fast mode), with progress
 *   on the task.
 *
 * An unreachable destination (down, or not a pool of this environment) is `INTERNAL_ERROR` with the Unix error xapi's
 * HTTP client raises. Not done: intra-pool storage motion (a dest map naming this pool), suspended VMs, snapshots and
 * disk contents travelling with the VM.
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
import type { Transport } from '@xenlab/toolkit/xenapi';
import { XapiFailure } from '../contract.js';
import type { SimBehaviour, SimContext, SimRecord, SimStore, SimTask } from '../contract.js';
import { crossPoolOf } from '../cross-pool.js';
import { vmReservedMemory } from './placement.js';
import { destroyVdi, vdiDataSize } from './storage.js';
import { haltDomain } from './vm.js';
import { NULL_REF, arg, fail, isNull, num, ref, str, vbdsOf, vifsOf } from './util.js';
import { assertVmOperation, refreshVm, withOperation } from './vm-lifecycle.js';

/** The dest map's keys (xapi_vm_migrate.ml). */
const SM = 'SM';
const HOST = 'host';
const XENOPS = 'xenops';
const SESSION = 'session_id';
const MASTER = 'master';
/** The simulator's own key: proves `master` is a pool of this environment. */
export const LINK_KEY = 'xenlab-link';

/** What xapi's HTTP client raises when nothing answers at the destination (Printexc of the Unix error). */
const REFUSED = 'Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")';

function linkMac(secret: string, master: string): string {
  return createHmac('sha256', secret).update(`xenlab-cross-pool:${master}`).digest('base64url');
}

/** The fields of a VM record that travel (VM.create's record; the uuid too, as a metadata import with restore). */
const VM_FIELDS = [
  'uuid',
  'name_label',
  'name_description',
  'user_version',
  'is_a_template',
  'memory_target',
  'memory_static_max',
  'memory_dynamic_max',
  'memory_dynamic_min',
  'memory_static_min',
  'VCPUs_params',
  'VCPUs_max',
  'VCPUs_at_startup',
  'actions_after_shutdown',
  'actions_after_reboot',
  'actions_after_crash',
  'actions_after_softreboot',
  'PV_bootloader',
  'PV_kernel',
  'PV_ramdisk',
  'PV_args',
  'PV_bootloader_args',
  'PV_legacy_args',
  'HVM_boot_policy',
  'HVM_boot_params',
  'HVM_shadow_multiplier',
  'platform',
  'PCI_bus',
  'other_config',
  'recommendations',
  'xenstore_data',
  'ha_always_run',
  'ha_restart_priority',
  'tags',
  'blocked_operations',
  'start_delay',
  'shutdown_delay',
  'order',
  'version',
  'generation_id',
  'hardware_platform_version',
  'has_vendor_device',
  'reference_label',
  'domain_type',
  'NVRAM',
] as const;

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

const VBD_FIELDS = [
  'device',
  'userdevice',
  'bootable',
  'mode',
  'type',
  'unpluggable',
  'empty',
  'other_config',
  'qos_algorithm_type',
  'qos_algorithm_params',
] as const;

const VIF_FIELDS = [
  'device',
  'MAC',
  'MTU',
  'other_config',
  'qos_algorithm_type',
  'qos_algorithm_params',
  'locking_mode',
  'ipv4_allowed',
  'ipv6_allowed',
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

/** The dest map, checked: where to call, with which session, for which host. */
interface Dest {
  readonly master: string;
  readonly session: string;
  readonly host: string;
}

function parseDest(ctx: SimContext, dest: Record<string, string>): Dest {
  const master = dest[MASTER];
  const session = dest[SESSION];
  const host = dest[HOST];
  const xenops = dest[XENOPS];
  // remote_of_dest: List.assoc on a missing key raises Not_found.
  if (master === undefined || session === undefined || host === undefined || xenops === undefined)
    fail('INTERNAL_ERROR', 'Not_found');
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
  if (sameUrl(master, own.self))
    fail('NOT_IMPLEMENTED', 'xenlab: VM.migrate_send within one pool (storage motion); use VM.pool_migrate');
  return { master, session, host };
}

function sameUrl(a: string, b: string): boolean {
  if (b === '') return false;
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** What moves: disks to their SRs, VIFs to their networks, the bytes on the wire. */
interface Plan {
  readonly vm: string;
  readonly rec: Readonly<SimRecord>;
  readonly running: boolean;
  readonly disks: { vbd: string; vdi: string | undefined; sr: string | undefined }[];
  readonly vifs: { vif: string; network: string }[];
  readonly diskBytes: number;
  readonly memoryBytes: number;
}

function plan(
  ctx: SimContext,
  vm: string,
  vdiMap: Record<string, string>,
  vifMap: Record<string, string>,
): Plan {
  const { store } = ctx;
  const rec = assertVmOperation(store, vm, 'migrate_send');
  const power = str(rec, 'power_state');
  if (power === 'Suspended')
    fail('NOT_IMPLEMENTED', 'xenlab: cross-pool migration of a suspended VM (resume or shut it down first)');
  const disks: Plan['disks'] = [];
  let diskBytes = 0;
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
    diskBytes += vdiDataSize(store, store.get('VDI', vdi));
  }
  // infer_vif_map: a VIF left out takes the network of a mapped VIF with the same MAC.
  const byMac = new Map<string, string>();
  for (const [v, n] of Object.entries(vifMap)) {
    const r = store.find('VIF', v);
    if (r) byMac.set(str(r, 'MAC'), n);
  }
  const vifs: Plan['vifs'] = [];
  for (const vif of vifsOf(store, vm)) {
    const network = vifMap[vif] ?? byMac.get(str(store.get('VIF', vif), 'MAC'));
    if (network === undefined) fail('VIF_NOT_IN_MAP', vif);
    vifs.push({ vif, network });
  }
  const running = power === 'Running' || power === 'Paused';
  const metrics = store.find('VM_metrics', ref(rec, 'metrics'));
  const memoryBytes = running ? num(metrics, 'memory_actual') || num(rec, 'memory_static_max') : 0;
  return { vm, rec, running, disks, vifs, diskBytes, memoryBytes };
}

/** What assert_can_migrate asks the destination: the session, the SRs and networks, the host's free memory. */
async function checkRemote(remote: Remote, dest: Dest, p: Plan): Promise<void> {
  await remote.call('host.get_uuid', dest.host);
  for (const sr of new Set(p.disks.map((d) => d.sr).filter((s) => s !== undefined)))
    await remote.call('SR.get_uuid', sr);
  for (const net of new Set(p.vifs.map((v) => v.network))) await remote.call('network.get_uuid', net);
  if (p.running) {
    const needed = vmReservedMemory(p.rec);
    const free = Number(await remote.call('host.compute_free_memory', dest.host));
    if (needed > free) fail('HOST_NOT_ENOUGH_FREE_MEMORY', String(needed), String(free));
  }
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

/** Milliseconds of WAN time to move `bytes` (one round trip of latency included). */
function wanMs(store: SimStore, bytes: number): number {
  const { wan } = crossPoolOf(store);
  return 2 * wan.latencyMs + (bytes * 8 * 1000) / (Math.max(wan.mbps, 0.001) * 1e6);
}

async function migrateSend(ctx: SimContext, args: readonly unknown[], dryRun: boolean): Promise<string> {
  const { store } = ctx;
  const vm = arg.str(args, 0);
  store.get('VM', vm);
  const dest = parseDest(ctx, arg.map(args, 1));
  const p = plan(ctx, vm, arg.map(args, 3), arg.map(args, 4));
  const remote = new Remote(dest.master, dest.session);
  try {
    await checkRemote(remote, dest, p);
    if (dryRun) return NULL_REF;
    const made = await withOperation(ctx, 'VM', vm, 'migrate_send', refreshVm, () =>
      copyToRemote(ctx, remote, dest, p),
    );
    removeHere(ctx, p);
    return made;
  } finally {
    remote.close();
  }
}

/** Creates the VM on the destination; on failure removes what was made there and rethrows. */
async function copyToRemote(ctx: SimContext, remote: Remote, dest: Dest, p: Plan): Promise<string> {
  const { store } = ctx;
  const created: [string, string][] = [];
  const total = Math.max(1, p.diskBytes + p.memoryBytes);
  const diskShare = p.diskBytes / total;
  try {
    // Disks first (the storage mirror), their bytes over the link.
    const vdis = new Map<string, string>();
    for (const d of p.disks) {
      if (d.vdi === undefined || d.sr === undefined) continue;
      const rec = store.get('VDI', d.vdi);
      const made = (await remote.call('VDI.create', { ...pick(rec, VDI_FIELDS), SR: d.sr })) as string;
      created.push(['VDI', made]);
      vdis.set(d.vdi, made);
    }
    await ctx.clock.work('VM.migrate_send', span(ctx.task, 0, 0.9 * diskShare), wanMs(store, p.diskBytes));
    const vmRef = (await remote.call('VM.create', {
      ...pick(p.rec, VM_FIELDS),
      affinity: NULL_REF,
      suspend_SR: NULL_REF,
      appliance: NULL_REF,
    })) as string;
    created.push(['VM', vmRef]);
    for (const d of p.disks) {
      const b = store.get('VBD', d.vbd);
      const vdi = d.vdi === undefined ? undefined : vdis.get(d.vdi);
      await remote.call('VBD.create', {
        ...pick(b, VBD_FIELDS),
        VM: vmRef,
        VDI: vdi ?? NULL_REF,
        empty: vdi === undefined,
      });
    }
    for (const v of p.vifs) {
      const rec = store.get('VIF', v.vif);
      await remote.call('VIF.create', { ...pick(rec, VIF_FIELDS), VM: vmRef, network: v.network });
    }
    // Then memory (the live part), and the domain comes up on the destination host.
    await ctx.clock.work(
      'VM.migrate_send',
      span(ctx.task, 0.9 * diskShare, 0.95),
      p.running ? wanMs(store, p.memoryBytes) : 0,
    );
    if (p.running)
      await remote.call('VM.start_on', vmRef, dest.host, str(p.rec, 'power_state') === 'Paused', false);
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

/** The VM has left: its domain, devices, disks and record go from the source pool. */
function removeHere(ctx: SimContext, p: Plan): void {
  const { store } = ctx;
  if (p.running) haltDomain(ctx, p.vm);
  const rec = store.get('VM', p.vm);
  for (const vbd of vbdsOf(store, p.vm)) store.destroy('VBD', vbd);
  for (const vif of vifsOf(store, p.vm)) store.destroy('VIF', vif);
  for (const d of p.disks) if (d.vdi !== undefined && store.find('VDI', d.vdi)) destroyVdi(store, d.vdi);
  for (const [cls, f] of [
    ['VM_metrics', 'metrics'],
    ['VM_guest_metrics', 'guest_metrics'],
  ] as const) {
    const r = ref(rec, f);
    if (!isNull(r) && store.find(cls, r)) store.destroy(cls, r);
  }
  store.destroy('VM', p.vm);
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

/** Cross-pool migration handlers. */
export const crossPoolMigrationBehaviour: SimBehaviour = {
  handlers: {
    'host.migrate_receive': (ctx, args) => migrateReceive(ctx, args),
    'VM.migrate_send': (ctx, args) => migrateSend(ctx, args, false),
    'VM.assert_can_migrate': async (ctx, args) => {
      await migrateSend(ctx, args, true);
    },
  },
};
