/**
 * Clone, copy, provision, snapshot/checkpoint/revert and destroy of VMs (ocaml/xapi/xapi_vm_clone.ml,
 * xapi_vm_snapshot.ml, xapi_vm.ml `provision`, xapi_templates.ml). Clones are fast: their disks are VHD children
 * of the source's (VDI.clone); copies move every byte into the target SR and take time.
 */
import { CLASSES } from '@xenlab/toolkit/xenapi';
import type { SimBehaviour, SimContext, SimRecord } from '../contract.js';
import { parseProvisionXml } from './clone-provision.js';
import { VM_MESSAGES, vmMessage } from './messages.js';
import { createVif } from './network.js';
import { cloneVdi, copyVdi, createVbd, createVdi, destroyVdi } from './storage.js';
import {
  NULL_REF,
  arg,
  bool,
  destroyVmDevices,
  fail,
  isNull,
  map,
  num,
  ref,
  str,
  thePool,
  vbdsOf,
  vifsOf,
} from './util.js';
import { VCPUS_UTILISATION, bootDomain, haltDomain } from './vm.js';
import { assertVmOperation, refreshVm, withOperation } from './vm-lifecycle.js';

/** VM fields a clone does not inherit: identity, runtime state, and relations rebuilt for the new VM. */
const NOT_COPIED = new Set([
  'uuid',
  'allowed_operations',
  'current_operations',
  'power_state',
  'resident_on',
  'scheduled_to_be_resident_on',
  'domid',
  'metrics',
  'guest_metrics',
  'suspend_VDI',
  'snapshot_of',
  'snapshot_time',
  'snapshot_info',
  'snapshot_metadata',
  'transportable_snapshot_id',
  'is_a_snapshot',
  'is_default_template',
  'parent',
  'ha_always_run',
  'requires_reboot',
  'pending_guidances',
]);
/** Inverse relations (`VM ref set`, `VBD ref set`, …) are kept by the store, never copied. */
const INVERSE = new Set((CLASSES.VM?.f ?? []).filter((f) => f.t.endsWith(' ref set')).map((f) => f.n));

function copiedFields(src: Readonly<SimRecord>): SimRecord {
  const out: SimRecord = {};
  for (const [k, v] of Object.entries(src)) if (!NOT_COPIED.has(k) && !INVERSE.has(k)) out[k] = v;
  return out;
}

type DiskMode =
  { kind: 'clone' } | { kind: 'copy'; sr: string | undefined } | { kind: 'snapshot'; ignore: Set<string> };

/**
 * Creates the new VM record and its devices. Disks: CDs keep their ISO; others are fast-cloned, fully copied
 * (into `sr` or their own SR) or snapshotted.
 */
async function cloneRecord(
  ctx: SimContext,
  vm: string,
  newName: string,
  mode: DiskMode,
  extra: SimRecord,
): Promise<string> {
  const { store } = ctx;
  const src = store.get('VM', vm);
  const other = map(src, 'other_config');
  delete other.default_template;
  other.mac_seed = ctx.uuid();
  const disks: [string, string][] = [];
  try {
    for (const vbd of vbdsOf(store, vm)) {
      const b = store.get('VBD', vbd);
      const vdi = ref(b, 'VDI');
      if (isNull(vdi) || str(b, 'type') === 'CD') {
        disks.push([vbd, vdi]);
        continue;
      }
      if (mode.kind === 'snapshot' && mode.ignore.has(vdi)) continue;
      let nv: string;
      if (mode.kind === 'clone') nv = cloneVdi(ctx, vdi);
      else if (mode.kind === 'copy')
        nv = await copyVdi(ctx, vdi, mode.sr ?? ref(store.get('VDI', vdi), 'SR'));
      else nv = cloneVdi(ctx, vdi, { is_a_snapshot: true, snapshot_of: vdi, snapshot_time: ctx.clock.now() });
      disks.push([vbd, nv]);
    }
  } catch (e) {
    // xapi_vm_clone.ml `safe_clone_disks`: a disk that fails deletes those made so far (a VM.copy that runs out
    // of room leaves no half-copied disks behind).
    for (const [vbd, nv] of disks)
      if (str(store.find('VBD', vbd), 'type') !== 'CD' && !isNull(nv) && store.find('VDI', nv))
        destroyVdi(store, nv);
    throw e;
  }
  const srcMetrics = store.find('VM_metrics', ref(src, 'metrics'));
  const metrics = store.create('VM_metrics', {
    uuid: ctx.uuid(),
    memory_actual: 0,
    VCPUs_number: 0,
    // xapi_vm_helpers.ml copies the source's (Removed) VCPUs_utilisation, `{0: 0.}` when it has no metrics.
    VCPUs_utilisation: srcMetrics?.VCPUs_utilisation ?? VCPUS_UTILISATION(),
  });
  const created = store.create('VM', {
    ...copiedFields(src),
    uuid: ctx.uuid(),
    name_label: newName,
    power_state: 'Halted',
    is_a_template: bool(src, 'is_a_template') || bool(src, 'is_a_snapshot'),
    is_default_template: false,
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    domid: -1,
    other_config: other,
    metrics,
    guest_metrics: NULL_REF,
    suspend_VDI: NULL_REF,
    current_operations: {},
    ...extra,
  });
  for (const [vbd, vdi] of disks) {
    const b = store.get('VBD', vbd);
    createVbd(ctx, {
      VM: created,
      VDI: vdi,
      userdevice: str(b, 'userdevice'),
      bootable: bool(b, 'bootable'),
      mode: str(b, 'mode') || 'RW',
      type: str(b, 'type') || 'Disk',
      unpluggable: bool(b, 'unpluggable'),
      other_config: map(b, 'other_config'),
    });
  }
  for (const vif of vifsOf(store, vm)) {
    const v = store.get('VIF', vif);
    createVif(ctx, {
      VM: created,
      network: ref(v, 'network'),
      device: str(v, 'device'),
      // A snapshot keeps the MACs (it is the same machine); clones and copies get MACs from their new seed.
      MAC: mode.kind === 'snapshot' ? str(v, 'MAC') : '',
      MTU: num(v, 'MTU'),
      other_config: map(v, 'other_config'),
      locking_mode: str(v, 'locking_mode') || 'network_default',
    });
  }
  refreshVm(store, created);
  return created;
}

/** Parses a template's `other_config:disks` provision XML as xapi does (see clone-provision.ts). */
export { parseProvisionXml } from './clone-provision.js';

async function provision(ctx: SimContext, vm: string): Promise<void> {
  const { store } = ctx;
  const rec = assertVmOperation(store, vm, 'provision');
  const other = map(rec, 'other_config');
  // xapi_templates.ml `get_template_record`: no `disks` key is no disks; any value is parsed (and may fail).
  const disks = other.disks === undefined ? [] : parseProvisionXml(other.disks);
  if (disks.length === 0 && other.postinstall === undefined) {
    // Nothing to install (`needs_to_be_installed` is false): xapi only clears is_a_template; the key stays.
    store.update('VM', vm, { is_a_template: false });
    refreshVm(store, vm);
    return;
  }
  await withOperation(ctx, 'VM', vm, 'provision', refreshVm, async () => {
    const created: string[] = [];
    try {
      for (const d of disks) {
        let sr: string;
        if (d.sr === '') {
          sr = ref(thePool(store)[1], 'default_SR');
          if (isNull(sr) || !store.find('SR', sr)) fail('UUID_INVALID', 'sr', '');
        } else {
          const found = store.all('SR').find(([, s]) => s.uuid === d.sr);
          if (!found) fail('UUID_INVALID', 'sr', d.sr);
          sr = found[0];
        }
        const vdi = createVdi(ctx, sr, {
          name_label:
            d.device === '0' ? `${str(rec, 'name_label')} 0` : `${str(rec, 'name_label')} ${d.device}`,
          name_description: 'Created by template provisioner',
          type: d.type,
          virtual_size: d.size,
          other_config: {},
        });
        created.push(vdi);
        createVbd(ctx, {
          VM: vm,
          VDI: vdi,
          userdevice: d.device,
          bootable: d.bootable,
          mode: 'RW',
          type: 'Disk',
          // The VM owns the disks it was provisioned with: `xe vm-uninstall` destroys them with it.
          other_config: { owner: '' },
        });
      }
    } catch (e) {
      for (const v of created) destroyVdi(store, v);
      throw e;
    }
    await ctx.clock.work('VM.provision', ctx.task);
    // xapi_templates.ml `post_install` removes both install keys.
    delete other.disks;
    delete other.postinstall;
    store.update('VM', vm, { is_a_template: false, other_config: other });
  });
}

function destroyVm(ctx: SimContext, vm: string): void {
  const { store } = ctx;
  const rec = assertVmOperation(store, vm, 'destroy');
  // VM.destroy removes the record and its devices, never its disks (xe vm-uninstall deletes those).
  destroyVmDevices(store, vm, rec);
  const sv = ref(rec, 'suspend_VDI');
  if (!isNull(sv) && store.find('VDI', sv)) destroyVdi(store, sv);
  // Snapshots of a destroyed VM stay, orphaned (snapshot_of dangles exactly like in XAPI).
  store.destroy('VM', vm);
}

async function snapshot(
  ctx: SimContext,
  vm: string,
  newName: string,
  ignore: string[],
  op: string,
): Promise<string> {
  const rec = assertVmOperation(ctx.store, vm, op);
  const made = await withOperation(ctx, 'VM', vm, op, refreshVm, async () => {
    await ctx.clock.work(op === 'checkpoint' ? 'VM.checkpoint' : 'VM.snapshot', ctx.task);
    const snap = await cloneRecord(
      ctx,
      vm,
      newName,
      { kind: 'snapshot', ignore: new Set(ignore) },
      {
        is_a_snapshot: true,
        is_a_template: true,
        snapshot_of: vm,
        snapshot_time: ctx.clock.now(),
        other_config: map(rec, 'other_config'),
        power_state: op === 'checkpoint' && str(rec, 'power_state') === 'Running' ? 'Suspended' : 'Halted',
      },
    );
    if (op === 'checkpoint' && str(rec, 'power_state') === 'Running') {
      // The checkpoint keeps the memory image as its suspend VDI.
      const sr = ref(thePool(ctx.store)[1], 'suspend_image_SR');
      const srRef = !isNull(sr) && ctx.store.find('SR', sr) ? sr : undefined;
      const firstDisk = vbdsOf(ctx.store, snap)
        .map((b) => ref(ctx.store.get('VBD', b), 'VDI'))
        .find((v) => !isNull(v) && ctx.store.find('VDI', v));
      const target =
        srRef ?? (firstDisk === undefined ? undefined : ref(ctx.store.get('VDI', firstDisk), 'SR'));
      if (target !== undefined) {
        const sv = createVdi(ctx, target, {
          name_label: 'Suspend image',
          type: 'suspend',
          virtual_size: num(rec, 'memory_static_max'),
        });
        ctx.store.update('VM', snap, { suspend_VDI: sv });
      }
    }
    return snap;
  });
  vmMessage(
    ctx,
    vm,
    op === 'checkpoint' ? VM_MESSAGES.checkpointed : VM_MESSAGES.snapshotted,
    `${op === 'checkpoint' ? 'checkpointed' : 'snapshotted'}, snapshot name: ${newName}`,
  );
  return made;
}

async function revert(ctx: SimContext, snap: string): Promise<void> {
  const { store } = ctx;
  const s = assertVmOperation(store, snap, 'revert');
  const vm = ref(s, 'snapshot_of');
  if (isNull(vm) || !store.find('VM', vm)) fail('VM_REVERT_FAILED', snap, vm);
  await withOperation(ctx, 'VM', vm, 'reverting', refreshVm, async () => {
    await ctx.clock.work('VM.revert', ctx.task);
    const power = str(store.get('VM', vm), 'power_state');
    if (power !== 'Halted') {
      // message_forwarding.ml shuts it down with Client.VM.hard_shutdown, which raises its own alert.
      haltDomain(ctx, vm);
      vmMessage(ctx, vm, VM_MESSAGES.shutdown, 'shutdown forcibly');
    }
    // Disks: the VM's current disks are replaced by fresh clones of the snapshot's.
    for (const vbd of vbdsOf(store, vm)) {
      const b = store.get('VBD', vbd);
      const vdi = ref(b, 'VDI');
      store.destroy('VBD', vbd);
      if (!isNull(vdi) && str(b, 'type') !== 'CD' && store.find('VDI', vdi)) destroyVdi(store, vdi);
    }
    for (const vbd of vbdsOf(store, snap)) {
      const b = store.get('VBD', vbd);
      const vdi = ref(b, 'VDI');
      const nv = isNull(vdi) || str(b, 'type') === 'CD' ? vdi : cloneVdi(ctx, vdi);
      createVbd(ctx, {
        VM: vm,
        VDI: nv,
        userdevice: str(b, 'userdevice'),
        bootable: bool(b, 'bootable'),
        mode: str(b, 'mode') || 'RW',
        type: str(b, 'type') || 'Disk',
        unpluggable: bool(b, 'unpluggable'),
      });
    }
    // The VM's fields come back as they were when the snapshot was taken (xapi_vm_snapshot.ml copies them from
    // snapshot_metadata): its own name then, not the snapshot's name, which is the one the record keeps.
    const keep = ['name_description', 'memory_static_min', 'memory_static_max', 'memory_dynamic_min'];
    const patch: SimRecord = { parent: snap };
    for (const k of [...keep, 'memory_dynamic_max', 'VCPUs_max', 'VCPUs_at_startup', 'platform']) {
      if (s[k] !== undefined) patch[k] = s[k];
    }
    store.update('VM', vm, patch);
    if (str(s, 'power_state') === 'Suspended') {
      // Reverting to a checkpoint resumes the memory image.
      const host = ref(thePool(store)[1], 'master');
      bootDomain(ctx, vm, host, false);
    }
    refreshVm(store, vm);
  });
  vmMessage(
    ctx,
    vm,
    VM_MESSAGES.snapshotReverted,
    `reverted to snapshot: ${str(store.find('VM', snap), 'name_label')} (uuid ${str(store.find('VM', snap), 'uuid')})`,
  );
}

const handlers: Record<string, (ctx: SimContext, args: readonly unknown[]) => unknown> = {
  'VM.clone': async (ctx, args) => {
    const vm = arg.str(args, 0);
    assertVmOperation(ctx.store, vm, 'clone');
    return withOperation(ctx, 'VM', vm, 'clone', refreshVm, async () => {
      await ctx.clock.work('VM.clone', ctx.task);
      return cloneRecord(ctx, vm, arg.str(args, 1), { kind: 'clone' }, {});
    });
  },
  'VM.copy': async (ctx, args) => {
    const vm = arg.str(args, 0);
    const sr = arg.str(args, 2);
    assertVmOperation(ctx.store, vm, 'copy');
    if (!isNull(sr)) ctx.store.get('SR', sr);
    return withOperation(ctx, 'VM', vm, 'copy', refreshVm, () =>
      cloneRecord(ctx, vm, arg.str(args, 1), { kind: 'copy', sr: isNull(sr) ? undefined : sr }, {}),
    );
  },
  'VM.provision': (ctx, args) => provision(ctx, arg.str(args, 0)),
  'VM.snapshot': (ctx, args) =>
    snapshot(ctx, arg.str(args, 0), arg.str(args, 1), arg.strings(args, 2), 'snapshot'),
  'VM.checkpoint': (ctx, args) => snapshot(ctx, arg.str(args, 0), arg.str(args, 1), [], 'checkpoint'),
  'VM.revert': (ctx, args) => revert(ctx, arg.str(args, 0)),
  'VM.destroy': (ctx, args) => {
    destroyVm(ctx, arg.str(args, 0));
  },
  'VM.make_into_template': (ctx, args) => {
    const vm = arg.str(args, 0);
    assertVmOperation(ctx.store, vm, 'make_into_template');
    ctx.store.update('VM', vm, { is_a_template: true });
    refreshVm(ctx.store, vm);
  },
  'VM.set_is_a_template': (ctx, args) => {
    const vm = arg.str(args, 0);
    const value = arg.bool(args, 1);
    const rec = ctx.store.get('VM', vm);
    if (value) assertVmOperation(ctx.store, vm, 'make_into_template');
    else if (bool(rec, 'is_a_snapshot')) fail('VM_IS_SNAPSHOT', vm, 'set_is_a_template');
    ctx.store.update('VM', vm, { is_a_template: value, ...(value ? {} : { is_default_template: false }) });
    refreshVm(ctx.store, vm);
  },
};

/** Clone/copy/provision/snapshot behaviour. */
export const cloneBehaviour: SimBehaviour = { handlers };
