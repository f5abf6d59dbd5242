/**
 * VM, template and snapshot commands (cli_operations.ml `vm_*`, `template_*`, `snapshot_*`). Each makes the same
 * XenAPI calls as the real one; selection (`vm=`, field filters, `--multiple`) is `doVmOp`.
 */
import type { CommandContext, CommandDef } from '../command-types.js';
import { CliFailure, isApiError } from '../errors.js';
import { RecordView, type Obj, type Rec } from '../records.js';
import { bool, dataSourceKvs, doVmOp, get, need, refOf, uuidOf } from './common.js';
import { define } from './define.js';
import { SXM_PARAMS, migrateToRemotePool } from './vm-migrate-remote.js';

const NULL = 'OpaqueRef:NULL';

/** cli_operations.ml `get_host_by_name_or_id`: the first host whose name-label or uuid matches. */
async function hostByNameOrId(ctx: CommandContext, name: string): Promise<string> {
  const hosts = await ctx.db.list('host');
  const h = hosts.find((o) => o.rec.name_label === name || o.rec.uuid === name);
  if (!h) throw new CliFailure(`Host ${name} not found`);
  return h.ref;
}

/** An error as OCaml's Printexc shows a XenAPI one: `Server_error(CODE, [ a; b ])`. */
function printexc(e: unknown): string {
  if (isApiError(e)) return `Server_error(${e.code}, [ ${e.params.join('; ')} ])`;
  return e instanceof Error ? e.message : String(e);
}

/** Why a VM cannot start on a host, in the words of cli_operations.ml `print_assert_exception`. */
async function assertReason(ctx: CommandContext, e: unknown): Promise<string> {
  if (!isApiError(e)) return printexc(e);
  const ref = async (v: string | undefined) => {
    if (v === undefined) return '<server did not provide reference>';
    for (const cls of ['SR', 'network']) {
      try {
        const r = (await ctx.api.call(`${cls}.get_record`, v)) as Rec;
        return `${String(r.uuid)} (${String(r.name_label)})`;
      } catch {
        /* not of this class */
      }
    }
    return v;
  };
  const [a, b] = e.params;
  switch (e.code) {
    case 'VM_REQUIRES_SR':
      return `VM requires access to SR: ${await ref(b)}`;
    case 'HOST_DISABLED':
      return "Host disabled (use 'xe host-enable' to re-enable)";
    case 'HOST_DISABLED_INDEFINITELY':
      return "Host disabled indefinitely (use 'xe host-enable' to re-enable)";
    case 'HOST_NOT_LIVE':
      return 'Host down';
    case 'HOST_NOT_ENOUGH_FREE_MEMORY':
      return 'Not enough free memory';
    case 'HOST_NOT_ENOUGH_PCPUS':
      if (e.params.length === 2) return `Not enough CPUs (VM needs ${a ?? ''}, but host has ${b ?? ''})`;
      break;
    case 'VM_REQUIRES_NETWORK':
      return `VM requires access to network: ${await ref(b)}`;
    case 'HOST_CANNOT_ATTACH_NETWORK':
      return `Host cannot attach to network: ${await ref(b)}`;
    case 'VM_HVM_REQUIRED':
      return 'HVM not supported';
    case 'INVALID_VALUE':
      if (e.params.length === 2) return `Field has invalid value: ${a ?? ''} = ${b ?? ''}`;
      break;
  }
  return printexc(e);
}

/**
 * cli_operations.ml `hook_no_hosts_available`: when a start or resume finds no host, say why for each host
 * (VM.assert_can_boot_here) before failing with the error.
 */
async function explainNoHosts<T>(ctx: CommandContext, vm: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isApiError(e) && e.code === 'NO_HOSTS_AVAILABLE') {
      ctx.printer.list([
        'There are no suitable hosts to start this VM on.',
        'The following table provides per-host reasons for why the VM could not be started:',
        '',
      ]);
      const rows: [string, string][] = [];
      for (const host of (await ctx.api.call('host.get_all')) as string[]) {
        const name = (await ctx.api.call('host.get_name_label', host)) as string;
        try {
          await ctx.api.call('VM.assert_can_boot_here', vm, host);
          rows.push([name, 'OK']);
        } catch (err) {
          rows.push([name, `Cannot start here [${await assertReason(ctx, err)}]`]);
        }
      }
      ctx.printer.table([rows]);
    }
    throw e;
  }
}

/** The pool's default SR uuid, if it has one (cli_util.ml `get_default_sr_uuid`). */
async function defaultSrUuid(ctx: CommandContext): Promise<string | undefined> {
  const pools = (await ctx.api.call('pool.get_all')) as string[];
  const pool = pools[0];
  if (pool === undefined) return undefined;
  const sr = (await ctx.api.call('pool.get_default_SR', pool)) as string;
  try {
    return (await ctx.api.call('SR.get_uuid', sr)) as string;
  } catch {
    return undefined;
  }
}

/** Rewrites `other_config:disks` so every disk is created on `srUuid` (cli_util.ml `rewrite_provisioning_xml`). */
async function rewriteProvisioningXml(ctx: CommandContext, vm: string, srUuid: string): Promise<void> {
  const oc = (await ctx.api.call('VM.get_other_config', vm)) as Record<string, string>;
  const disks = oc.disks;
  if (disks === undefined) return;
  // Either quote is XML (xapi reads the value with xmlm); the rewritten attribute is double-quoted, as Xml.to_string
  // writes it.
  const srAttr = /\bsr\s*=\s*(?:"[^"]*"|'[^']*')/;
  const rewritten = disks.replace(/<disk\b([^>]*?)\/?>/g, (whole, attrs: string) => {
    const next = srAttr.test(attrs) ? attrs.replace(srAttr, `sr="${srUuid}"`) : attrs;
    return whole.replace(attrs, next);
  });
  await ctx.api.call('VM.remove_from_other_config', vm, 'disks');
  await ctx.api.call('VM.add_to_other_config', vm, 'disks', rewritten);
}

async function vmInstall(ctx: CommandContext): Promise<void> {
  const vms = await ctx.db.list('VM');
  const findByName = async (name: string): Promise<string> => {
    const view = new RecordView(ctx.db, 'vm');
    let t = await view.filter(vms, 'name-label', name);
    t = await view.filter(t, 'is-a-template', 'true');
    t = await view.filter(t, 'is-control-domain', 'false');
    if (t.length === 0) throw new CliFailure('No templates matched');
    if (t.length > 1) throw new CliFailure('More than one matching template found');
    const [found] = t;
    if (!found) throw new CliFailure('No templates matched');
    return found.ref;
  };
  let template: string;
  const tUuid = get(ctx, 'template-uuid');
  const tName = get(ctx, 'template-name-label') ?? get(ctx, 'template-name');
  const t = get(ctx, 'template');
  if (tUuid !== undefined) {
    try {
      template = await refOf(ctx, 'VM', tUuid);
    } catch {
      throw new CliFailure('Cannot find template');
    }
  } else if (tName !== undefined) template = await findByName(tName);
  else if (t !== undefined) {
    try {
      template = await refOf(ctx, 'VM', t);
    } catch {
      template = await findByName(t);
    }
  } else {
    throw new CliFailure(
      "Template must be specified by parameter 'template-uuid', 'template-name', 'template-name-label' or 'template'",
    );
  }
  if (!((await ctx.api.call('VM.get_is_a_template', template)) as boolean)) {
    throw new CliFailure('Can only install from templates');
  }
  const newName = need(ctx, 'new-name-label');
  const isSnapshot = (await ctx.api.call('VM.get_is_a_snapshot', template)) as boolean;
  const srUuidParam = get(ctx, 'sr-uuid');
  const srName = get(ctx, 'sr-name-label');
  let sr: string | undefined;
  if (isSnapshot) {
    if (srUuidParam !== undefined || srName !== undefined) {
      throw new CliFailure(
        'Do not use the sr-name-label or sr-uuid argument when installing from a snapshot. By default, it will install each new disk on the same SR as the corresponding snapshot disks.',
      );
    }
    sr = NULL;
  } else if (srUuidParam !== undefined) sr = await refOf(ctx, 'SR', srUuidParam);
  if (srName !== undefined) {
    const list = (await ctx.api.call('SR.get_by_name_label', srName)) as string[];
    if (list.length === 0) throw new CliFailure('No SR with that name-label found');
    if (sr !== undefined) {
      if (!list.includes(sr)) {
        throw new CliFailure("SR specified via sr-uuid doesn't have the name specified via sr-name-label");
      }
    } else if (list.length === 1) sr = list[0];
    else throw new CliFailure('Multiple SRs with that name-label found');
  }
  const suspendSr =
    sr !== undefined && sr !== NULL ? sr : ((await ctx.api.call('VM.get_suspend_SR', template)) as string);
  let srUuid: string;
  if (sr !== undefined && sr !== NULL) srUuid = (await ctx.api.call('SR.get_uuid', sr)) as string;
  else {
    const d = await defaultSrUuid(ctx);
    if (d !== undefined) srUuid = d;
    else {
      const oc = (await ctx.api.call('VM.get_other_config', template)) as Record<string, string>;
      if ('disks' in oc) {
        throw new CliFailure(
          'Failed to find a valid default SR for the Pool. Please provide an sr-name-label or sr-uuid parameter.',
        );
      }
      srUuid = '';
    }
  }
  // With an SR the disks are fully copied there (VM.copy); without, fast-cloned (VM.clone) — xcp-ng/xcp#61.
  const newVm = (
    sr !== undefined && sr !== NULL
      ? await ctx.api.call('VM.copy', template, newName, sr)
      : await ctx.api.call('VM.clone', template, newName)
  ) as string;
  try {
    await ctx.api.call('VM.set_name_description', newVm, 'Installed via xe CLI');
    await ctx.api.call('VM.set_suspend_SR', newVm, suspendSr);
    await rewriteProvisioningXml(ctx, newVm, srUuid);
    await ctx.api.call('VM.provision', newVm);
    const biosFrom = get(ctx, 'copy-bios-strings-from');
    if (biosFrom !== undefined) {
      await ctx.api.call('VM.copy_bios_strings', newVm, await refOf(ctx, 'host', biosFrom));
    }
    ctx.printer.list([(await ctx.api.call('VM.get_uuid', newVm)) as string]);
  } catch (e) {
    await ctx.api.call('VM.destroy', newVm).catch(() => undefined);
    throw e;
  }
}

/** vm-clone / vm-snapshot / vm-checkpoint (cli_operations.ml `vm_clone_aux`). */
function cloneAux(
  method: string,
  includeTemplates: boolean,
  extra?: (ctx: CommandContext) => Promise<unknown[]>,
) {
  return async (ctx: CommandContext): Promise<void> => {
    const newName = need(ctx, 'new-name-label');
    const desc = get(ctx, 'new-name-description');
    const more = extra ? await extra(ctx) : [];
    const newVms = await doVmOp(
      ctx,
      async (vm) => (await ctx.api.call(method, vm.ref, newName, ...more)) as string,
      { includeTemplates, ignore: ['new-name-label', 'new-name-description', 'ignore-vdi-uuids'] },
    );
    if (desc !== undefined && newVms[0] !== undefined)
      await ctx.api.call('VM.set_name_description', newVms[0], desc);
    ctx.printer.list(await Promise.all(newVms.map((v) => uuidOf(ctx, 'VM', v))));
  };
}

async function vmCopy(ctx: CommandContext): Promise<void> {
  const newName = need(ctx, 'new-name-label');
  const desc = get(ctx, 'new-name-description');
  const srUuid = get(ctx, 'sr-uuid');
  const sr = srUuid === undefined ? NULL : await refOf(ctx, 'SR', srUuid);
  const newVms = await doVmOp(
    ctx,
    async (vm) => (await ctx.api.call('VM.copy', vm.ref, newName, sr)) as string,
    {
      multiple: false,
      includeTemplates: true,
      ignore: ['new-name-label', 'sr-uuid', 'new-name-description'],
    },
  );
  if (desc !== undefined && newVms[0] !== undefined)
    await ctx.api.call('VM.set_name_description', newVms[0], desc);
  ctx.printer.list(await Promise.all(newVms.map((v) => uuidOf(ctx, 'VM', v))));
}

/** vm-uninstall / template-uninstall / snapshot-uninstall (cli_operations.ml `vm_uninstall_common`). */
async function uninstallCommon(ctx: CommandContext, vms: readonly string[]): Promise<void> {
  const toPrint: string[] = [];
  const actions: (() => Promise<void>)[] = [];
  const vdiLine = async (vdi: string): Promise<string> => {
    const r = (await ctx.api.call('VDI.get_record', vdi)) as Rec;
    const vbds = (r.VBDs as unknown[] | undefined) ?? [];
    return `VDI: ${String(r.uuid)} (${String(r.name_label)}) ${vbds.length > 1 ? ' ** WARNING: disk is shared by other VMs' : ''}`;
  };
  for (const vm of vms) {
    const r = (await ctx.api.call('VM.get_record', vm)) as Rec;
    const vdis: string[] = [];
    for (const vbd of (r.VBDs as string[] | undefined) ?? []) {
      try {
        const oc = (await ctx.api.call('VBD.get_other_config', vbd)) as Record<string, string>;
        const vdi = (await ctx.api.call('VBD.get_VDI', vbd)) as string;
        await ctx.api.call('VDI.get_uuid', vdi);
        // Only disks the VM owns (VBD other-config:owner, set by provisioning) go with it.
        if ('owner' in oc) vdis.push(vdi);
      } catch {
        /* an empty CD or a VDI gone: nothing to destroy */
      }
    }
    let suspendVdi = NULL;
    try {
      const v = r.suspend_VDI as string;
      await ctx.api.call('VDI.get_uuid', v);
      suspendVdi = v;
    } catch {
      suspendVdi = NULL;
    }
    toPrint.push(`VM : ${String(r.uuid)} (${String(r.name_label)})`);
    for (const v of vdis) toPrint.push(await vdiLine(v));
    if (suspendVdi !== NULL) toPrint.push(await vdiLine(suspendVdi));
    actions.push(async () => {
      if ((await ctx.api.call('VM.get_power_state', vm)) !== 'Halted')
        await ctx.api.call('VM.hard_shutdown', vm);
      await ctx.api.call('VM.destroy', vm);
      for (const v of vdis) await ctx.api.call('VDI.destroy', v);
      if (suspendVdi !== NULL) await ctx.api.call('VDI.destroy', suspendVdi).catch(() => undefined);
    });
  }
  ctx.printer.list(['The following items are about to be destroyed', ...toPrint]);
  if (!bool(ctx, 'force')) {
    // cli_util.ml `user_says_yes`: anything but "yes" aborts, and that is not an error.
    ctx.printer.list(["Type 'yes' to continue"]);
    const answer = (await ctx.readLine()).trim();
    if (answer !== 'yes') {
      ctx.printer.list([`Aborted (you typed: '${answer}')`]);
      return;
    }
  }
  for (const a of actions) await a();
  ctx.printer.list(['All objects destroyed']);
}

async function snapshotRef(ctx: CommandContext): Promise<string> {
  const uuid = get(ctx, 'snapshot-uuid') ?? get(ctx, 'uuid');
  if (uuid === undefined) throw new CliFailure('Required parameter not found: snapshot-uuid or uuid.');
  const ref = await refOf(ctx, 'VM', uuid);
  if (!((await ctx.api.call('VM.get_is_a_snapshot', ref)) as boolean)) {
    throw new CliFailure(
      `This operation can only be performed on a VM snapshot. ${uuid} is not a VM snapshot.`,
    );
  }
  return ref;
}

async function templateRef(ctx: CommandContext, uuid: string): Promise<string> {
  const ref = await refOf(ctx, 'VM', uuid);
  if (!((await ctx.api.call('VM.get_is_a_template', ref)) as boolean)) {
    throw new CliFailure(
      `This operation can only be performed on a VM template. ${uuid} is not a VM template.`,
    );
  }
  return ref;
}

/** vm-disk-list / vm-cd-list (cli_operations.ml `vm_disk_list_aux`). */
function diskList(isCd: boolean) {
  return async (ctx: CommandContext): Promise<void> => {
    await doVmOp(
      ctx,
      async (vm) => {
        const vbdView = new RecordView(ctx.db, 'vbd');
        const vdiView = new RecordView(ctx.db, 'vdi');
        const vbdAll = await ctx.db.all('VBD');
        const vbds = ((vm.rec.VBDs as string[] | undefined) ?? []).flatMap((ref): Obj[] => {
          const rec = vbdAll.get(ref);
          return rec?.type === (isCd ? 'CD' : 'Disk') ? [{ ref, rec }] : [];
        });
        const pick = (view: RecordView, key: string, dflt: string[]) => {
          const ps = get(ctx, key);
          const wanted = ps === undefined ? dflt : ps === 'all' ? [] : ps.split(',');
          return view.rc.fields.filter((f) => wanted.length === 0 || wanted.includes(f.n));
        };
        const vbdFields = pick(
          vbdView,
          'vbd-params',
          isCd ? ['uuid', 'vm-name-label', 'userdevice', 'empty'] : ['uuid', 'vm-name-label', 'userdevice'],
        );
        const vdiFields = pick(vdiView, 'vdi-params', [
          'uuid',
          'name-label',
          'virtual-size',
          'sr-name-label',
        ]);
        const vdiAll = await ctx.db.all('VDI');
        let n = 0;
        for (const vbd of vbds) {
          const disk = `${isCd ? 'CD' : 'Disk'} ${n}`;
          ctx.printer.msg(`${disk} VBD:`);
          ctx.printer.table([await vbdView.printed(vbd, vbdFields, false)]);
          const vdiRef = vbd.rec.VDI as string;
          const vdi = vdiAll.get(vdiRef);
          if (vbd.rec.empty !== true && vdi) {
            ctx.printer.msg(`${disk} VDI:`);
            ctx.printer.table([await vdiView.printed({ ref: vdiRef, rec: vdi }, vdiFields, false)]);
          }
          n++;
        }
      },
      { ignore: ['vbd-params', 'vdi-params'] },
    );
  };
}

async function isoVdisNamed(ctx: CommandContext, name: string): Promise<string[]> {
  const vdis = (await ctx.api.call('VDI.get_by_name_label', name)) as string[];
  const out: string[] = [];
  for (const vdi of vdis) {
    const sr = (await ctx.api.call('VDI.get_SR', vdi)) as string;
    if ((await ctx.api.call('SR.get_content_type', sr)) === 'iso') out.push(vdi);
  }
  return out;
}

/** cli_operations.ml `create_vbd_and_plug`: create the VBD, then try to hot-plug it (ignoring plug errors). */
async function createVbdAndPlug(
  ctx: CommandContext,
  vm: string,
  vdi: string,
  device: string,
  bootable: boolean,
  mode: 'RO' | 'RW',
  type: 'CD' | 'Disk',
  otherConfig: Record<string, string> = {},
): Promise<void> {
  const vbd = (await ctx.api.call('VBD.create', {
    VM: vm,
    VDI: vdi,
    userdevice: device,
    bootable,
    mode,
    type,
    unpluggable: true,
    empty: false,
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    other_config: otherConfig,
    device: '',
    currently_attached: false,
  })) as string;
  try {
    await ctx.api.call('VBD.plug', vbd);
  } catch (e) {
    if (!isApiError(e)) throw e;
  }
}

/** The VM commands. */
export function vmCommands(): CommandDef[] {
  return [
    define('vm-start', async (ctx) => {
      const force = bool(ctx, 'force');
      const paused = bool(ctx, 'paused');
      const on = get(ctx, 'on');
      await doVmOp(
        ctx,
        async (vm) => {
          if (on !== undefined)
            await ctx.api.call('VM.start_on', vm.ref, await hostByNameOrId(ctx, on), paused, force);
          else await explainNoHosts(ctx, vm.ref, () => ctx.api.call('VM.start', vm.ref, paused, force));
        },
        { includeControl: true, ignore: ['on', 'paused', 'progress'] },
      );
    }),
    define('vm-shutdown', async (ctx) => {
      const method = bool(ctx, 'force') ? 'VM.hard_shutdown' : 'VM.clean_shutdown';
      await doVmOp(ctx, (vm) => ctx.api.call(method, vm.ref), { ignore: ['progress'] });
    }),
    define('vm-reboot', async (ctx) => {
      const method = bool(ctx, 'force') ? 'VM.hard_reboot' : 'VM.clean_reboot';
      await doVmOp(ctx, (vm) => ctx.api.call(method, vm.ref));
    }),
    define('vm-suspend', async (ctx) => {
      await doVmOp(ctx, (vm) => ctx.api.call('VM.suspend', vm.ref), { ignore: ['progress'] });
    }),
    define('vm-resume', async (ctx) => {
      const force = bool(ctx, 'force');
      const on = get(ctx, 'on');
      await doVmOp(
        ctx,
        async (vm) => {
          if (on !== undefined)
            await ctx.api.call('VM.resume_on', vm.ref, await hostByNameOrId(ctx, on), false, force);
          else await explainNoHosts(ctx, vm.ref, () => ctx.api.call('VM.resume', vm.ref, false, force));
        },
        { ignore: ['on', 'progress'] },
      );
    }),
    define('vm-clone', cloneAux('VM.clone', true)),
    define(
      'vm-snapshot',
      cloneAux('VM.snapshot', false, async (ctx) => {
        const ids = get(ctx, 'ignore-vdi-uuids');
        if (ids === undefined) return [];
        return [await Promise.all(ids.split(',').map((u) => refOf(ctx, 'VDI', u)))];
      }),
    ),
    define('vm-checkpoint', cloneAux('VM.checkpoint', false)),
    define('vm-copy', vmCopy),
    define('vm-install', vmInstall),
    define('vm-uninstall', async (ctx) => {
      const vms = await doVmOp(ctx, (vm) => Promise.resolve(vm.ref));
      const snaps = (
        await Promise.all(vms.map((v) => ctx.api.call('VM.get_snapshots', v)))
      ).flat() as string[];
      await uninstallCommon(ctx, [...vms, ...snaps]);
    }),
    define('template-uninstall', async (ctx) => {
      await uninstallCommon(ctx, [await templateRef(ctx, need(ctx, 'template-uuid'))]);
    }),
    define('snapshot-uninstall', async (ctx) => {
      await uninstallCommon(ctx, [await snapshotRef(ctx)]);
    }),
    define('vm-destroy', async (ctx) => {
      const vm = await refOf(ctx, 'VM', need(ctx, 'uuid'));
      if ((await ctx.api.call('VM.get_is_control_domain', vm)) === true) {
        throw Object.assign(new Error('OPERATION_NOT_ALLOWED'), {
          code: 'OPERATION_NOT_ALLOWED',
          params: ['You cannot destroy a control domain via the CLI'],
        });
      }
      await ctx.api.call('VM.destroy', vm);
    }),
    define('snapshot-destroy', async (ctx) => {
      await ctx.api.call('VM.destroy', await snapshotRef(ctx));
    }),
    define('snapshot-revert', async (ctx) => {
      await ctx.api.call('VM.revert', await snapshotRef(ctx));
    }),
    define('snapshot-clone', async (ctx) => {
      const snap = await snapshotRef(ctx);
      const vm = (await ctx.api.call('VM.clone', snap, need(ctx, 'new-name-label'))) as string;
      const desc = get(ctx, 'new-name-description');
      if (desc !== undefined) await ctx.api.call('VM.set_name_description', vm, desc);
      ctx.printer.list([await uuidOf(ctx, 'VM', vm)]);
    }),
    define('snapshot-copy', async (ctx) => {
      const snap = await snapshotRef(ctx);
      const srUuid = get(ctx, 'sr-uuid');
      const sr = srUuid === undefined ? NULL : await refOf(ctx, 'SR', srUuid);
      const vm = (await ctx.api.call('VM.copy', snap, need(ctx, 'new-name-label'), sr)) as string;
      const desc = get(ctx, 'new-name-description');
      if (desc !== undefined) await ctx.api.call('VM.set_name_description', vm, desc);
      ctx.printer.list([await uuidOf(ctx, 'VM', vm)]);
    }),
    define('vm-migrate', async (ctx) => {
      const params = ctx.params.map(
        ([k, v]) => [k === 'host-uuid' || k === 'host-name' ? 'host' : k, v] as const,
      );
      const h = params.find(([k]) => k === 'host')?.[1];
      const options: Record<string, string> = {};
      for (const k of ['force', 'live', 'copy']) options[k] = String(bool(ctx, k));
      const compress = get(ctx, 'compress');
      if (compress !== undefined) options.compress = compress;
      // Any storage-migration parameter means the cross-pool (SXM) code path, as cli_operations.ml decides.
      if (params.some(([k]) => SXM_PARAMS.some((p) => k.startsWith(p)))) {
        await migrateToRemotePool({ ...ctx, params }, options);
        return;
      }
      if (h === undefined) throw new CliFailure('No destination host specified');
      const host = await hostByNameOrId(ctx, h);
      await doVmOp({ ...ctx, params }, (vm) => ctx.api.call('VM.pool_migrate', vm.ref, host, options), {
        includeControl: true,
        ignore: ['host', 'host-uuid', 'host-name', 'live', 'compress', 'copy'],
      });
    }),
    define('vm-disk-list', diskList(false)),
    define('vm-cd-list', diskList(true)),
    define('vm-vif-list', async (ctx) => {
      const view = new RecordView(ctx.db, 'vif');
      const ps = get(ctx, 'params');
      const wanted =
        ps === undefined
          ? ['uuid', 'device', 'MAC', 'network-uuid', 'network-name-label', 'vm-name-label']
          : ps === 'all'
            ? []
            : ps.split(',');
      const fields = view.rc.fields.filter((f) => wanted.length === 0 || wanted.includes(f.n));
      const all = await ctx.db.all('VIF');
      await doVmOp(
        { ...ctx, params: [['multiple', 'true'], ...ctx.params] },
        async (vm) => {
          const vifs = ((vm.rec.VIFs as string[] | undefined) ?? []).flatMap((ref) => {
            const rec = all.get(ref);
            return rec ? [{ ref, rec }] : [];
          });
          ctx.printer.table(await Promise.all(vifs.map((o) => view.printed(o, fields, false))));
        },
        { ignore: ['params'] },
      );
    }),
    define('vm-cd-add', async (ctx) => {
      const name = need(ctx, 'cd-name');
      const vdi = (await isoVdisNamed(ctx, name))[0];
      if (vdi === undefined) throw new CliFailure(`CD ${name} not found!`);
      const device = need(ctx, 'device');
      await doVmOp(ctx, (vm) => createVbdAndPlug(ctx, vm.ref, vdi, device, false, 'RO', 'CD'), {
        ignore: ['cd-name', 'device', 'cd-location'],
      });
    }),
    define('vm-cd-remove', async (ctx) => {
      const name = need(ctx, 'cd-name');
      await doVmOp(
        ctx,
        async (vm) => {
          for (const vbd of (vm.rec.VBDs as string[] | undefined) ?? []) {
            let match: boolean;
            try {
              const vdi = (await ctx.api.call('VBD.get_VDI', vbd)) as string;
              const sr = (await ctx.api.call('VDI.get_SR', vdi)) as string;
              match =
                (await ctx.api.call('SR.get_content_type', sr)) === 'iso' &&
                (await ctx.api.call('VDI.get_name_label', vdi)) === name;
            } catch {
              match = name === '<EMPTY>';
            }
            if (match) {
              await ctx.api.call('VBD.destroy', vbd);
              return;
            }
          }
          throw new CliFailure('Disk not found');
        },
        { ignore: ['cd-name'] },
      );
    }),
    define('vm-cd-eject', async (ctx) => {
      await doVmOp(ctx, async (vm) => {
        const cds: string[] = [];
        for (const vbd of (vm.rec.VBDs as string[] | undefined) ?? []) {
          if ((await ctx.api.call('VBD.get_type', vbd)) === 'CD') cds.push(vbd);
        }
        if (cds.length === 0) throw new CliFailure('No CDs found');
        if (cds.length > 1) throw new CliFailure('Two or more CDs found. Please use vbd-eject');
        await ctx.api.call('VBD.eject', cds[0]);
      });
    }),
    define('vm-cd-insert', async (ctx) => {
      const name = need(ctx, 'cd-name');
      const vdis = await isoVdisNamed(ctx, name);
      if (vdis.length === 0) throw new CliFailure(`CD ${name} not found`);
      if (vdis.length > 1)
        throw new CliFailure(`Multiple CDs named ${name} found. Please use vbd-insert and specify uuids`);
      await doVmOp(
        ctx,
        async (vm) => {
          const empty: string[] = [];
          for (const vbd of (vm.rec.VBDs as string[] | undefined) ?? []) {
            if (
              (await ctx.api.call('VBD.get_type', vbd)) === 'CD' &&
              (await ctx.api.call('VBD.get_empty', vbd)) === true
            ) {
              empty.push(vbd);
            }
          }
          if (empty.length === 0) throw new CliFailure('No empty CD devices found');
          if (empty.length > 1)
            throw new CliFailure('Two or more empty CD devices found. Please use vbd-insert');
          await ctx.api.call('VBD.insert', empty[0], vdis[0]);
        },
        { ignore: ['cd-name'] },
      );
    }),
    define('vm-data-source-list', async (ctx) => {
      await doVmOp(
        ctx,
        async (vm) => {
          const dss = (await ctx.api.call('VM.get_data_sources', vm.ref)) as Rec[];
          ctx.printer.table(dss.map(dataSourceKvs));
        },
        { includeControl: true, multiple: false },
      );
    }),
    define('vm-data-source-query', async (ctx) => {
      const ds = need(ctx, 'data-source');
      await doVmOp(
        ctx,
        async (vm) => {
          const v = await ctx.api.call('VM.query_data_source', vm.ref, ds);
          ctx.printer.list([Number(v).toFixed(6)]);
        },
        { includeControl: true, multiple: false, ignore: ['data-source'] },
      );
    }),
    define('vm-memory-limits-set', async (ctx) => {
      const { bytesOfString } = await import('../records.js');
      const v = (k: string) => bytesOfString(k, need(ctx, k));
      const [smin, smax, dmin, dmax] = [v('static-min'), v('static-max'), v('dynamic-min'), v('dynamic-max')];
      await doVmOp(ctx, (vm) => ctx.api.call('VM.set_memory_limits', vm.ref, smin, smax, dmin, dmax), {
        ignore: ['static-min', 'static-max', 'dynamic-min', 'dynamic-max'],
      });
    }),
    define('vm-reset-powerstate', async (ctx) => {
      if (!bool(ctx, 'force')) {
        throw new CliFailure(
          'This operation is dangerous and may cause data loss. This operation must be forced (use --force).',
        );
      }
      await doVmOp(ctx, (vm) => ctx.api.call('VM.power_state_reset', vm.ref));
    }),
  ];
}
