/**
 * Storage: SR, PBD, VDI and VBD behaviour (ocaml/xapi/xapi_sr.ml, xapi_pbd.ml, xapi_vdi.ml, xapi_vbd.ml,
 * xapi_vbd_helpers.ml). VHD-based SRs: ext/nfs/file are thin (a VDI uses what was written), lvm* are thick (a VDI
 * occupies its full virtual size); fast clones are VHD children of their source (sm_config `vhd-parent`).
 */
import type { SimBehaviour, SimContext, SimRecord, SimStore } from '../contract.js';
import {
  GiB,
  MiB,
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
  vbdsOf,
  vbdsOfVdi,
  vdisOf,
} from './util.js';
import { diskContentsOf } from '../transfer/contents.js';
import { withOperation } from './vm-lifecycle.js';

/** SR types the simulated SM knows (xapi `SM` records on XCP-ng 8.x). */
export const SR_TYPES = new Set([
  'lvm',
  'ext',
  'nfs',
  'iso',
  'udev',
  'file',
  'lvmoiscsi',
  'lvmohba',
  'smb',
  'xfs',
  'zfs',
  'gfs2',
  'largeblock',
  'cephfs',
  'glusterfs',
  'moosefs',
  'linstor',
]);
const THIN = new Set(['ext', 'nfs', 'file', 'smb', 'xfs', 'zfs', 'gfs2', 'cephfs', 'glusterfs', 'moosefs']);
/** VHD chains longer than this fail with SR_BACKEND_FAILURE_109 ("Snapshot chain too long"). */
export const MAX_VHD_CHAIN = 30;

/** Whether an SR allocates lazily (VHD files) rather than up front (VHD on LVM). */
export function isThin(sr: Readonly<SimRecord>): boolean {
  return THIN.has(str(sr, 'type'));
}

/** VHD metadata for a disk of `size` bytes: footer, header and a 4-byte BAT entry per 2 MiB block. */
function vhdOverhead(size: number): number {
  return 512 + 1024 + Math.ceil((4 * Math.ceil(size / (2 * MiB))) / 512) * 512;
}

/** Bytes a new VDI of `size` occupies on `sr` before anything is written. */
export function initialPhysical(sr: Readonly<SimRecord>, size: number): number {
  if (isThin(sr)) return vhdOverhead(size);
  const content = str(sr, 'content_type');
  if (content === 'iso' || str(sr, 'type') === 'udev') return size;
  return Math.ceil((size + vhdOverhead(size)) / (4 * MiB)) * 4 * MiB; // LVs come in 4 MiB extents
}

/** Recomputes an SR's physical_utilisation and virtual_allocation from its VDIs. */
export function refreshSrCapacity(store: SimStore, sr: string): void {
  const rec = store.find('SR', sr);
  if (!rec) return;
  let phys = 0;
  let virt = 0;
  for (const v of vdisOf(store, sr)) {
    const vdi = store.find('VDI', v);
    phys += num(vdi, 'physical_utilisation');
    virt += num(vdi, 'virtual_size');
  }
  if (num(rec, 'physical_utilisation') !== phys || num(rec, 'virtual_allocation') !== virt) {
    store.update('SR', sr, { physical_utilisation: phys, virtual_allocation: virt });
  }
}

/** Adds to an SR's physical_utilisation and virtual_allocation (one VDI came or went). */
function adjustSrCapacity(store: SimStore, sr: string, physical: number, virtual: number): void {
  const rec = store.find('SR', sr);
  if (!rec || (physical === 0 && virtual === 0)) return;
  store.update('SR', sr, {
    physical_utilisation: Math.max(0, num(rec, 'physical_utilisation') + physical),
    virtual_allocation: Math.max(0, num(rec, 'virtual_allocation') + virtual),
  });
}

/** Fails like the SM does when `bytes` more do not fit on the SR (SR_BACKEND_FAILURE_44, "insufficient space"). */
export function assertSpace(store: SimStore, sr: string, bytes: number): void {
  const rec = store.get('SR', sr);
  const size = num(rec, 'physical_size');
  if (size <= 0 || str(rec, 'content_type') === 'iso') return;
  if (num(rec, 'physical_utilisation') + bytes > size) {
    fail('SR_BACKEND_FAILURE_44', '', 'There is insufficient space', '');
  }
}

/** An SR must be attached somewhere for the SM to act on it (SR_HAS_NO_PBDS otherwise, xapi_sr.ml). */
function assertSrUsable(store: SimStore, sr: string): void {
  const anyAttached = pbdsOf(store, sr).some((p) => bool(store.find('PBD', p), 'currently_attached'));
  if (!anyAttached) fail('SR_HAS_NO_PBDS', sr);
  const rec = store.get('SR', sr);
  if (map(rec, 'other_config').xenlab_failed === 'true') {
    // A failed array (control API): the SM cannot reach it — what a dead NFS server or LUN looks like.
    fail('SR_BACKEND_FAILURE_47', '', 'The SR is not available', `sr ${str(rec, 'uuid')} is unreachable`);
  }
}

/** The VHD parent of a VDI (sm_config `vhd-parent` holds its uuid), if it is still in the database. */
function vhdParent(store: SimStore, vdi: Readonly<SimRecord>): Readonly<SimRecord> | undefined {
  const uuid = map(vdi, 'sm_config')['vhd-parent'];
  if (uuid === undefined || uuid === '') return undefined;
  try {
    return store.get('VDI', store.byUuid('VDI', uuid));
  } catch {
    return undefined; // the parent was destroyed: SM keeps hidden bases, xapi forgets them
  }
}

function chainDepth(store: SimStore, vdi: Readonly<SimRecord>): number {
  let depth = 0;
  for (let cur = vhdParent(store, vdi); cur && depth <= MAX_VHD_CHAIN; cur = vhdParent(store, cur)) depth++;
  return depth;
}

/** Data actually held by a VDI including the VHD parents it reads through (what a full copy must move). */
export function vdiDataSize(store: SimStore, vdi: Readonly<SimRecord>): number {
  let total = 0;
  let hops = 0;
  for (
    let cur: Readonly<SimRecord> | undefined = vdi;
    cur && hops <= MAX_VHD_CHAIN;
    cur = vhdParent(store, cur)
  ) {
    total += num(cur, 'physical_utilisation');
    hops++;
  }
  return Math.min(total, num(vdi, 'virtual_size'));
}

const VDI_CREATE_FIELDS = [
  'name_label',
  'name_description',
  'type',
  'sharable',
  'read_only',
  'other_config',
  'xenstore_data',
  'sm_config',
  'tags',
] as const;

/** Creates a VDI on an SR, checking space; returns its ref. */
export function createVdi(ctx: SimContext, sr: string, fields: SimRecord): string {
  const srRec = ctx.store.get('SR', sr);
  const size = Math.max(0, Number(fields.virtual_size ?? 0));
  const physical =
    typeof fields.physical_utilisation === 'number'
      ? fields.physical_utilisation
      : initialPhysical(srRec, size);
  assertSpace(ctx.store, sr, physical);
  const uuid = ctx.uuid();
  const vdi = ctx.store.create('VDI', {
    name_label: '',
    name_description: '',
    type: 'user',
    sharable: false,
    read_only: false,
    managed: true,
    missing: false,
    on_boot: 'persist',
    ...fields,
    uuid,
    SR: sr,
    virtual_size: size,
    physical_utilisation: physical,
    location: typeof fields.location === 'string' && fields.location !== '' ? fields.location : uuid,
  });
  adjustSrCapacity(ctx.store, sr, physical, size);
  refreshVdi(ctx.store, vdi);
  return vdi;
}

/**
 * VDI.clone (and snapshot): a fast copy-on-write clone on the same SR, as SM's VHD drivers make it (sm
 * drivers/cleanup.py and VDI.py `_snapshot`, the "base copy"): the source's data becomes a hidden, read-only
 * **base copy** — a VDI with `managed=false`, named "base copy", that an SR scan introduces — and both the source
 * and the new VDI become empty leaves whose `sm-config:vhd-parent` names that base. So after a clone the source's
 * own `vhd-parent` changes too, and its physical utilisation moves to the base. Thin SRs allocate only VHD
 * metadata for the leaves; thick (LVM) ones inflate a new leaf to its full size.
 */
export function cloneVdi(ctx: SimContext, src: string, extra: SimRecord = {}): string {
  const v = ctx.store.get('VDI', src);
  const sr = ref(v, 'SR');
  assertSrUsable(ctx.store, sr);
  if (chainDepth(ctx.store, v) + 1 > MAX_VHD_CHAIN) {
    fail('SR_BACKEND_FAILURE_109', '', 'The snapshot chain is too long', '');
  }
  const srRec = ctx.store.get('SR', sr);
  const size = num(v, 'virtual_size');
  const leaf = isThin(srRec) ? vhdOverhead(size) : initialPhysical(srRec, size);
  const parent = map(v, 'sm_config')['vhd-parent'];
  if (parent !== undefined && parent !== '' && num(v, 'physical_utilisation') <= leaf) {
    // An empty leaf (nothing written since it was made, as a template's disk after its first clone): vhd-util
    // links the new child to the leaf's parent, and SM drops the base it would have made (LVHDSR `_snapshot`,
    // `_finishSnapshot` "deleting unused base"). So cloning one template a thousand times never grows the chain.
    return createVdi(ctx, sr, {
      ...cloneFields(v),
      virtual_size: size,
      physical_utilisation: leaf,
      ...extra,
    });
  }
  // The base takes the source's blocks; the source keeps only a leaf's worth (moved first: no double count).
  const data = num(v, 'physical_utilisation');
  adjustSrCapacity(ctx.store, sr, leaf - data, 0);
  ctx.store.update('VDI', src, { physical_utilisation: leaf });
  const base = createVdi(ctx, sr, {
    name_label: 'base copy',
    type: str(v, 'type') || 'user',
    read_only: true,
    managed: false,
    sm_config: pickParent(map(v, 'sm_config')),
    virtual_size: size,
    physical_utilisation: data,
  });
  const baseUuid = str(ctx.store.get('VDI', base), 'uuid');
  ctx.store.update('VDI', src, { sm_config: { ...map(v, 'sm_config'), 'vhd-parent': baseUuid } });
  return createVdi(ctx, sr, {
    ...cloneFields(ctx.store.get('VDI', src)),
    virtual_size: size,
    physical_utilisation: leaf,
    ...extra,
  });
}

/** What a new leaf takes from the VDI it is cloned from (its `vhd-parent` included). */
function cloneFields(v: Readonly<SimRecord>): SimRecord {
  return {
    name_label: str(v, 'name_label'),
    name_description: str(v, 'name_description'),
    type: str(v, 'type') || 'user',
    sharable: bool(v, 'sharable'),
    read_only: bool(v, 'read_only'),
    other_config: map(v, 'other_config'),
    sm_config: map(v, 'sm_config'),
  };
}

/** Only the `vhd-parent` key of an sm-config (what a base copy inherits from the leaf it was made from). */
function pickParent(sm: Record<string, string>): Record<string, string> {
  const parent = sm['vhd-parent'];
  return parent === undefined ? {} : { 'vhd-parent': parent };
}

/**
 * After a VDI is destroyed, SM's garbage collector removes base copies no VDI builds on any more (cleanup.py
 * coalesces or deletes them; here at once), walking up the chain.
 */
function collectBases(store: SimStore, parentUuid: string | undefined): void {
  for (let uuid = parentUuid; uuid !== undefined && uuid !== '';) {
    let base: string;
    try {
      base = store.byUuid('VDI', uuid);
    } catch {
      return; // already gone
    }
    const rec = store.get('VDI', base);
    if (rec.managed !== false) return;
    const children = store.all('VDI').some(([, r]) => map(r, 'sm_config')['vhd-parent'] === uuid);
    if (children) return;
    const next = map(rec, 'sm_config')['vhd-parent'];
    store.destroy('VDI', base);
    adjustSrCapacity(store, ref(rec, 'SR'), -num(rec, 'physical_utilisation'), -num(rec, 'virtual_size'));
    uuid = next;
  }
}

/**
 * VDI.copy: a full, independent copy into `sr` with the source's data (xapi_vdi.ml `copy`: a new VDI, then
 * sparse_dd copies every block); takes time proportional to the data moved. A copy whose data the pool cannot keep
 * fails with `VDI_COPY_FAILED` and leaves no VDI behind (xapi destroys the one it made).
 */
export async function copyVdi(ctx: SimContext, src: string, sr: string): Promise<string> {
  const v = ctx.store.get('VDI', src);
  assertSrUsable(ctx.store, ref(v, 'SR'));
  assertSrUsable(ctx.store, sr);
  const dst = ctx.store.get('SR', sr);
  const data = vdiDataSize(ctx.store, v);
  const size = num(v, 'virtual_size');
  const physical = isThin(dst) ? data + vhdOverhead(size) : initialPhysical(dst, size);
  assertSpace(ctx.store, sr, physical);
  const contents = diskContentsOf(ctx.store);
  contents?.assertRoom(contents.copyCost(src));
  await ctx.clock.work('VDI.copy', ctx.task, Math.max(data, 1) / GiB);
  const sm = map(v, 'sm_config');
  delete sm['vhd-parent'];
  const made = createVdi(ctx, sr, {
    name_label: str(v, 'name_label'),
    name_description: str(v, 'name_description'),
    type: str(v, 'type') || 'user',
    sharable: bool(v, 'sharable'),
    read_only: bool(v, 'read_only'),
    other_config: map(v, 'other_config'),
    sm_config: sm,
    virtual_size: size,
    physical_utilisation: physical,
  });
  try {
    if (ctx.store.find('VDI', src)) contents?.copyData(src, made);
  } catch (e) {
    destroyVdi(ctx.store, made);
    throw e;
  }
  return made;
}

/** Whether a VDI is plugged into a running domain. */
function attachedVbds(store: SimStore, vdi: string): string[] {
  return vbdsOfVdi(store, vdi).filter((b) => bool(store.find('VBD', b), 'currently_attached'));
}

/** Destroys a VDI (and the VBDs that referenced it, as xapi_vdi.ml does); VDI_IN_USE while attached. */
export function destroyVdi(store: SimStore, vdi: string): void {
  const rec = store.get('VDI', vdi);
  if (attachedVbds(store, vdi).length > 0) fail('VDI_IN_USE', vdi, 'destroy');
  for (const vbd of vbdsOfVdi(store, vdi)) store.destroy('VBD', vbd);
  const sr = ref(rec, 'SR');
  store.destroy('VDI', vdi);
  adjustSrCapacity(store, sr, -num(rec, 'physical_utilisation'), -num(rec, 'virtual_size'));
  collectBases(store, map(rec, 'sm_config')['vhd-parent']);
}

/**
 * Keeps VDI.allowed_operations true (xapi_vdi.ml `check_operation_error`, simplified to in-use, type and CBT): `mirror`
 * (storage motion: VDI.pool_migrate, migrate_send) can run while the disk is attached, as snapshot and clone can,
 * but not with changed-block tracking on; every SR type here but ISO and udev has the SM's VDI_MIRROR.
 */
export function refreshVdi(store: SimStore, vdi: string): void {
  const rec = store.find('VDI', vdi);
  if (!rec) return;
  const sr = store.find('SR', ref(rec, 'SR'));
  const inUse = attachedVbds(store, vdi).length > 0;
  const busy = Object.keys(map(rec, 'current_operations')).length > 0;
  const mirror = bool(rec, 'cbt_enabled') ? [] : ['mirror'];
  let ops: string[];
  if (str(sr, 'content_type') === 'iso' || str(sr, 'type') === 'udev') ops = [];
  else if (busy) ops = [];
  else if (inUse)
    ops = ['clone', 'snapshot', 'copy', 'update', 'generate_config', 'resize_online', ...mirror];
  else
    ops = [
      'clone',
      'snapshot',
      'copy',
      'resize',
      'destroy',
      'forget',
      'update',
      'generate_config',
      ...mirror,
    ];
  store.update('VDI', vdi, { allowed_operations: ops });
}

/** Keeps SR.allowed_operations true: destroy/forget only once no PBD is attached. */
export function refreshSr(store: SimStore, sr: string): void {
  const rec = store.find('SR', sr);
  if (!rec) return;
  const attached = pbdsOf(store, sr).some((p) => bool(store.find('PBD', p), 'currently_attached'));
  const readOnly = str(rec, 'content_type') === 'iso' || str(rec, 'type') === 'udev';
  const ops = attached
    ? readOnly
      ? ['scan', 'unplug', 'plug', 'update', 'pbd_create', 'pbd_destroy']
      : [
          'scan',
          'unplug',
          'plug',
          'update',
          'pbd_create',
          'pbd_destroy',
          'vdi_create',
          'vdi_destroy',
          'vdi_resize',
          'vdi_clone',
          'vdi_snapshot',
          'vdi_copy',
          'vdi_introduce',
          'vdi_forget',
        ]
    : [
        'plug',
        'forget',
        'pbd_create',
        'pbd_destroy',
        ...(pbdsOf(store, sr).length > 0 &&
        vdisOf(store, sr).every((v) => store.find('VDI', v)?.managed === false)
          ? ['destroy']
          : []),
      ];
  store.update('SR', sr, { allowed_operations: ops });
}

/** Keeps VBD.allowed_operations true (xapi_vbd_helpers.ml, simplified). */
export function refreshVbd(store: SimStore, vbd: string): void {
  const rec = store.find('VBD', vbd);
  if (!rec) return;
  const vm = store.find('VM', ref(rec, 'VM'));
  const running = str(vm, 'power_state') === 'Running';
  const ops: string[] = [];
  if (bool(rec, 'currently_attached')) {
    if (bool(rec, 'unpluggable') || str(rec, 'type') === 'CD') ops.push('unplug', 'unplug_force');
  } else {
    ops.push('attach');
    if (running) ops.push('plug');
  }
  if (str(rec, 'type') === 'CD') ops.push(bool(rec, 'empty') ? 'insert' : 'eject');
  store.update('VBD', vbd, { allowed_operations: ops });
}

/** Device name for a userdevice number: 0 → xvda, 1 → xvdb, … (PV and PVHVM naming). */
export function deviceName(userdevice: string): string {
  const n = Number(userdevice);
  return Number.isInteger(n) && n >= 0 && n < 26 ? `xvd${String.fromCharCode(97 + n)}` : userdevice;
}

function nextUserdevice(store: SimStore, vm: string): string {
  const used = new Set(vbdsOf(store, vm).map((b) => str(store.find('VBD', b), 'userdevice')));
  for (let i = 0; ; i++) if (!used.has(String(i))) return String(i);
}

/** Creates a VBD with XAPI's checks (DEVICE_ALREADY_EXISTS, autodetect userdevice). */
export function createVbd(ctx: SimContext, fields: SimRecord): string {
  const vm = typeof fields.VM === 'string' ? fields.VM : NULL_REF;
  ctx.store.get('VM', vm);
  const vdi = typeof fields.VDI === 'string' ? fields.VDI : NULL_REF;
  if (!isNull(vdi)) ctx.store.get('VDI', vdi);
  let userdevice = typeof fields.userdevice === 'string' ? fields.userdevice : '';
  if (userdevice === '' || userdevice === 'autodetect') userdevice = nextUserdevice(ctx.store, vm);
  else if (vbdsOf(ctx.store, vm).some((b) => str(ctx.store.find('VBD', b), 'userdevice') === userdevice)) {
    fail('DEVICE_ALREADY_EXISTS', userdevice);
  }
  const type = typeof fields.type === 'string' ? fields.type : 'Disk';
  const vbd = ctx.store.create('VBD', {
    bootable: false,
    mode: 'RW',
    unpluggable: true,
    other_config: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    ...fields,
    uuid: ctx.uuid(),
    VM: vm,
    VDI: vdi,
    userdevice,
    type,
    empty: isNull(vdi),
    device: '',
    currently_attached: false,
  });
  refreshVbd(ctx.store, vbd);
  if (!isNull(vdi)) refreshVdi(ctx.store, vdi);
  return vbd;
}

function assertVmRunning(store: SimStore, vm: string): void {
  const power = str(store.get('VM', vm), 'power_state');
  if (power !== 'Running') fail('VM_BAD_POWER_STATE', vm, 'running', power.toLowerCase());
}

/** Attaches a VBD into its running VM. */
export function plugVbd(store: SimStore, vbd: string): void {
  const rec = store.get('VBD', vbd);
  store.update('VBD', vbd, { currently_attached: true, device: deviceName(str(rec, 'userdevice')) });
  refreshVbd(store, vbd);
  const vdi = ref(rec, 'VDI');
  if (!isNull(vdi)) refreshVdi(store, vdi);
}

/** Detaches a VBD (the domain went away or the device was unplugged). */
export function unplugVbd(store: SimStore, vbd: string): void {
  const rec = store.get('VBD', vbd);
  store.update('VBD', vbd, { currently_attached: false });
  refreshVbd(store, vbd);
  const vdi = ref(rec, 'VDI');
  if (!isNull(vdi)) refreshVdi(store, vdi);
}

function srTypeDefaultSize(type: string): number {
  // [est] sizes of a lab host's disks: local SRs 500 GiB, network SRs 2 TiB.
  return type === 'nfs' || type === 'lvmoiscsi' || type === 'smb' ? 2048 * GiB : 500 * GiB;
}

/** SR.create: the SR plus a PBD per host (every host when shared), plugged. */
function srCreate(ctx: SimContext, args: readonly unknown[]): string {
  const host = arg.str(args, 0);
  ctx.store.get('host', host);
  const deviceConfig = arg.map(args, 1);
  const size = arg.num(args, 2);
  const type = arg.str(args, 5);
  const contentType = arg.str(args, 6);
  const shared = arg.bool(args, 7);
  const smConfig = arg.map(args, 8);
  if (!SR_TYPES.has(type)) fail('SR_UNKNOWN_DRIVER', type);
  if (type === 'nfs' && (!deviceConfig.server || !deviceConfig.serverpath)) {
    // SM NFSSR: "The request is missing the server parameter" / serverpath (XE_SR_ERRORCODES 101/102)
    fail(
      'SR_BACKEND_FAILURE_101',
      '',
      deviceConfig.server
        ? 'The request is missing the serverpath parameter'
        : 'The request is missing the server parameter',
      '',
    );
  }
  const sr = ctx.store.create('SR', {
    uuid: ctx.uuid(),
    name_label: arg.str(args, 3),
    name_description: arg.str(args, 4),
    type,
    content_type: contentType,
    shared,
    sm_config: smConfig,
    other_config: {},
    physical_size: Number.isFinite(size) && size > 0 ? size : srTypeDefaultSize(type),
    physical_utilisation: 0,
    virtual_allocation: 0,
  });
  const hosts = shared ? ctx.store.all('host').map(([h]) => h) : [host];
  for (const h of hosts) {
    ctx.store.create('PBD', {
      uuid: ctx.uuid(),
      host: h,
      SR: sr,
      device_config: deviceConfig,
      currently_attached: true,
      other_config: {},
    });
  }
  refreshSr(ctx.store, sr);
  return sr;
}

function srRemove(ctx: SimContext, sr: string, destroy: boolean): void {
  // xapi_sr_operations.ml: attached PBDs block destroy and forget (CA-70294); destroy also needs PBDs to exist
  // (the SM runs through one) and no managed VDI left.
  const rec = ctx.store.get('SR', sr);
  const pbds = pbdsOf(ctx.store, sr);
  if (pbds.some((p) => bool(ctx.store.find('PBD', p), 'currently_attached'))) fail('SR_HAS_PBD', sr);
  if (destroy && pbds.length === 0) fail('SR_HAS_NO_PBDS', sr);
  const vdis = vdisOf(ctx.store, sr);
  if (destroy && vdis.some((v) => ctx.store.find('VDI', v)?.managed !== false)) fail('SR_NOT_EMPTY');
  if (destroy && bool(rec, 'is_tools_sr')) fail('SR_OPERATION_NOT_SUPPORTED', sr);
  for (const v of vdis) {
    for (const b of vbdsOfVdi(ctx.store, v)) ctx.store.destroy('VBD', b);
    ctx.store.destroy('VDI', v);
  }
  for (const p of pbdsOf(ctx.store, sr)) ctx.store.destroy('PBD', p);
  ctx.store.destroy('SR', sr);
}

function pbdSet(ctx: SimContext, pbd: string, attached: boolean): void {
  const rec = ctx.store.get('PBD', pbd);
  const sr = ref(rec, 'SR');
  if (bool(rec, 'currently_attached') === attached) return; // plug/unplug are idempotent (xapi_pbd.ml)
  if (!attached) {
    const host = ref(rec, 'host');
    for (const v of vdisOf(ctx.store, sr)) {
      for (const b of attachedVbds(ctx.store, v)) {
        const vm = ctx.store.find('VM', ref(ctx.store.find('VBD', b), 'VM'));
        if (vm?.resident_on === host) fail('VDI_IN_USE', v, 'unplug');
      }
    }
  } else if (map(ctx.store.get('SR', sr), 'other_config').xenlab_failed === 'true') {
    fail('SR_BACKEND_FAILURE_47', '', 'The SR is not available', '');
  }
  ctx.store.update('PBD', pbd, { currently_attached: attached });
  refreshSr(ctx.store, sr);
}

const handlers: Record<string, (ctx: SimContext, args: readonly unknown[]) => unknown> = {
  'SR.create': srCreate,
  'SR.destroy': (ctx, args) => {
    srRemove(ctx, arg.str(args, 0), true);
  },
  'SR.forget': (ctx, args) => {
    srRemove(ctx, arg.str(args, 0), false);
  },
  'SR.scan': (ctx, args) => {
    const sr = arg.str(args, 0);
    assertSrUsable(ctx.store, sr);
    refreshSrCapacity(ctx.store, sr);
  },
  'SR.update': (ctx, args) => {
    refreshSrCapacity(ctx.store, arg.str(args, 0));
  },
  'PBD.plug': (ctx, args) => {
    pbdSet(ctx, arg.str(args, 0), true);
  },
  'PBD.unplug': (ctx, args) => {
    pbdSet(ctx, arg.str(args, 0), false);
  },
  'VDI.create': (ctx, args) => {
    const rec = (args[0] ?? {}) as SimRecord;
    const sr = typeof rec.SR === 'string' ? rec.SR : NULL_REF;
    ctx.store.get('SR', sr);
    assertSrUsable(ctx.store, sr);
    const size = Number(rec.virtual_size ?? 0);
    if (!Number.isFinite(size) || size < 0) fail('INVALID_VALUE', 'virtual_size', String(rec.virtual_size));
    // Only what VDI.create takes (its constructor fields); runtime fields are the SM's to set.
    const fields: SimRecord = {};
    for (const k of VDI_CREATE_FIELDS) if (rec[k] !== undefined) fields[k] = rec[k];
    return createVdi(ctx, sr, { ...fields, virtual_size: size });
  },
  'VDI.destroy': (ctx, args) => {
    const vdi = arg.str(args, 0);
    assertSrUsable(ctx.store, ref(ctx.store.get('VDI', vdi), 'SR'));
    destroyVdi(ctx.store, vdi);
  },
  'VDI.clone': (ctx, args) => cloneVdi(ctx, arg.str(args, 0)),
  'VDI.snapshot': (ctx, args) => {
    const vdi = arg.str(args, 0);
    const snap = cloneVdi(ctx, vdi, {
      is_a_snapshot: true,
      snapshot_of: vdi,
      snapshot_time: ctx.clock.now(),
    });
    return snap;
  },
  'VDI.copy': async (ctx, args) => {
    const vdi = arg.str(args, 0);
    const src = ctx.store.get('VDI', vdi);
    let sr = arg.str(args, 1);
    if (isNull(sr)) sr = ref(src, 'SR');
    ctx.store.get('SR', sr);
    return withOperation(ctx, 'VDI', vdi, 'copy', refreshVdi, () => copyVdi(ctx, vdi, sr));
  },
  'VDI.resize': (ctx, args) => {
    const vdi = arg.str(args, 0);
    const size = arg.num(args, 1);
    const rec = ctx.store.get('VDI', vdi);
    if (attachedVbds(ctx.store, vdi).length > 0) fail('VDI_IN_USE', vdi, 'resize');
    const current = num(rec, 'virtual_size');
    if (!Number.isFinite(size) || size < current) fail('VDI_TOO_SMALL', vdi, String(current));
    const sr = ctx.store.get('SR', ref(rec, 'SR'));
    const grow = isThin(sr) ? 0 : initialPhysical(sr, size) - num(rec, 'physical_utilisation');
    assertSpace(ctx.store, ref(rec, 'SR'), Math.max(0, grow));
    ctx.store.update('VDI', vdi, {
      virtual_size: size,
      physical_utilisation: isThin(sr) ? num(rec, 'physical_utilisation') : initialPhysical(sr, size),
    });
    refreshSrCapacity(ctx.store, ref(rec, 'SR'));
  },
  'VBD.create': (ctx, args) => createVbd(ctx, (args[0] ?? {}) as SimRecord),
  'VBD.destroy': (ctx, args) => {
    const vbd = arg.str(args, 0);
    const rec = ctx.store.get('VBD', vbd);
    if (bool(rec, 'currently_attached')) {
      const vm = ctx.store.find('VM', ref(rec, 'VM'));
      fail('OPERATION_NOT_ALLOWED', `VBD '${str(rec, 'uuid')}' still attached to '${str(vm, 'uuid')}'`);
    }
    ctx.store.destroy('VBD', vbd);
    const vdi = ref(rec, 'VDI');
    if (!isNull(vdi)) refreshVdi(ctx.store, vdi);
  },
  'VBD.plug': (ctx, args) => {
    const vbd = arg.str(args, 0);
    const rec = ctx.store.get('VBD', vbd);
    assertVmRunning(ctx.store, ref(rec, 'VM'));
    if (bool(rec, 'currently_attached')) fail('DEVICE_ALREADY_ATTACHED', vbd);
    plugVbd(ctx.store, vbd);
  },
  'VBD.unplug': (ctx, args) => {
    const vbd = arg.str(args, 0);
    const rec = ctx.store.get('VBD', vbd);
    if (!bool(rec, 'currently_attached')) fail('DEVICE_ALREADY_DETACHED', vbd);
    assertVmRunning(ctx.store, ref(rec, 'VM'));
    if (!bool(rec, 'unpluggable')) fail('VBD_NOT_UNPLUGGABLE', vbd);
    unplugVbd(ctx.store, vbd);
  },
  'VBD.unplug_force': (ctx, args) => {
    const vbd = arg.str(args, 0);
    if (!bool(ctx.store.get('VBD', vbd), 'currently_attached')) fail('DEVICE_ALREADY_DETACHED', vbd);
    unplugVbd(ctx.store, vbd);
  },
  'VBD.insert': (ctx, args) => {
    const vbd = arg.str(args, 0);
    const vdi = arg.str(args, 1);
    const rec = ctx.store.get('VBD', vbd);
    ctx.store.get('VDI', vdi);
    if (str(rec, 'type') !== 'CD' && str(rec, 'type') !== 'Floppy') fail('VBD_NOT_REMOVABLE_MEDIA', vbd);
    if (!bool(rec, 'empty')) fail('VBD_NOT_EMPTY', vbd);
    ctx.store.update('VBD', vbd, { VDI: vdi, empty: false });
    refreshVbd(ctx.store, vbd);
    refreshVdi(ctx.store, vdi);
  },
  'VBD.eject': (ctx, args) => {
    const vbd = arg.str(args, 0);
    const rec = ctx.store.get('VBD', vbd);
    if (str(rec, 'type') !== 'CD' && str(rec, 'type') !== 'Floppy') fail('VBD_NOT_REMOVABLE_MEDIA', vbd);
    if (bool(rec, 'empty')) fail('VBD_IS_EMPTY', vbd);
    const vdi = ref(rec, 'VDI');
    ctx.store.update('VBD', vbd, { VDI: NULL_REF, empty: true });
    refreshVbd(ctx.store, vbd);
    if (!isNull(vdi)) refreshVdi(ctx.store, vdi);
  },
};

/** Storage behaviour: SR, PBD, VDI and VBD handlers. */
export const storageBehaviour: SimBehaviour = {
  handlers,
  afterChange(ctx, cls, ref) {
    if (cls === 'VBD') refreshVbd(ctx.store, ref);
    else if (cls === 'VDI') refreshVdi(ctx.store, ref);
    else if (cls === 'SR') refreshSr(ctx.store, ref);
  },
};

/** Fails or restores an SR (control API): its PBDs drop, running VMs keep running until their I/O fails. */
export function setSrFailed(store: SimStore, sr: string, failed: boolean): void {
  const rec = store.get('SR', sr);
  store.update('SR', sr, {
    other_config: { ...map(rec, 'other_config'), xenlab_failed: failed ? 'true' : 'false' },
  });
  for (const p of pbdsOf(store, sr)) store.update('PBD', p, { currently_attached: !failed });
  refreshSr(store, sr);
}

/** Detaches an SR from every host (control API), as if its PBDs were unplugged by an admin. */
export function detachSr(store: SimStore, sr: string): void {
  store.get('SR', sr);
  for (const p of pbdsOf(store, sr)) store.update('PBD', p, { currently_attached: false });
  refreshSr(store, sr);
}
