/** Host and pool commands (cli_operations.ml `host_*`, `pool_*`). */
import type { CommandContext, CommandDef } from '../command-types.js';
import { CliFailure } from '../errors.js';
import { formatFloat, RecordView, type Rec } from '../records.js';
import { bool, dataSourceKvs, doHostOp, get, mapParams, need, refOf } from './common.js';
import { define } from './define.js';

const NULL = 'OpaqueRef:NULL';
// Constants.fuse_time (10 s), printed with the CLI's string_of_float (records.ml: "%.3f").
const FUSE_TIME = formatFloat(10);

/** cli_operations.ml `pool_eject`: warn about local SR contents and ask unless --force. */
async function poolEject(ctx: CommandContext): Promise<void> {
  const host = await refOf(ctx, 'host', need(ctx, 'host-uuid'));
  const go = async () => {
    await ctx.api.call('pool.eject', host);
    ctx.printer.list([
      `Specified host will attempt to restart as a master of a new pool in ${FUSE_TIME} seconds...`,
    ]);
  };
  if (bool(ctx, 'force')) {
    await go();
    return;
  }
  const warnings: string[] = [];
  try {
    const pbds = (await ctx.api.call('host.get_PBDs', host)) as string[];
    for (const pbd of pbds) {
      const sr = (await ctx.api.call('PBD.get_SR', pbd)) as string;
      const others = (await ctx.api.call('SR.get_PBDs', sr)) as string[];
      const hosts = await Promise.all(others.map((p) => ctx.api.call('PBD.get_host', p)));
      if (hosts.some((h) => h !== host)) continue;
      for (const vdi of (await ctx.api.call('SR.get_VDIs', sr)) as string[]) {
        const uuid = (await ctx.api.call('VDI.get_uuid', vdi)) as string;
        const name = (await ctx.api.call('VDI.get_name_label', vdi)) as string;
        warnings.unshift(`VDI: ${uuid} (${name})`);
      }
    }
  } catch {
    /* best effort, as in the real CLI */
  }
  ctx.printer.list([
    "WARNING: Ejecting a host from the pool will reinitialise that host's local SRs.",
    'WARNING: Any data contained with the local SRs will be lost.',
  ]);
  if (warnings.length > 0) ctx.printer.list(['The following VDI objects will be destroyed:', ...warnings]);
  ctx.printer.list(["Type 'yes' to continue"]);
  const answer = (await ctx.readLine()).trim();
  if (answer === 'yes') await go();
  else ctx.printer.list([`Aborted (you typed: '${answer}')`]);
}

/** The host and pool commands. */
export function hostPoolCommands(): CommandDef[] {
  return [
    define('host-disable', async (ctx) => {
      const autoEnable = bool(ctx, 'auto-enable', true);
      await doHostOp(ctx, (h) => ctx.api.call('host.disable', h.ref, autoEnable), {
        ignore: ['auto-enable'],
      });
    }),
    define('host-enable', async (ctx) => {
      await doHostOp(ctx, async (h) => {
        await ctx.api.call('host.remove_from_other_config', h.ref, 'MAINTENANCE_MODE');
        await ctx.api.call('host.enable', h.ref);
      });
    }),
    define('host-evacuate', async (ctx) => {
      const net = get(ctx, 'network-uuid');
      const network = net === undefined ? NULL : await refOf(ctx, 'network', net);
      const batch = Number(get(ctx, 'batch-size') ?? '0');
      await doHostOp(ctx, (h) => ctx.api.call('host.evacuate', h.ref, network, batch), {
        multiple: false,
        ignore: ['network-uuid', 'batch-size'],
      });
    }),
    define('host-reboot', async (ctx) => {
      await doHostOp(ctx, (h) => ctx.api.call('host.reboot', h.ref));
    }),
    define('host-shutdown', async (ctx) => {
      await doHostOp(ctx, (h) => ctx.api.call('host.shutdown', h.ref));
    }),
    define('host-management-reconfigure', async (ctx) => {
      await ctx.api.call('host.management_reconfigure', await refOf(ctx, 'PIF', need(ctx, 'pif-uuid')));
    }),
    define('host-data-source-list', async (ctx) => {
      await doHostOp(
        ctx,
        async (h) => {
          const dss = (await ctx.api.call('host.get_data_sources', h.ref)) as Rec[];
          ctx.printer.table(dss.map(dataSourceKvs));
        },
        { multiple: false },
      );
    }),
    define('host-data-source-query', async (ctx) => {
      const ds = need(ctx, 'data-source');
      await doHostOp(
        ctx,
        async (h) => {
          const v = await ctx.api.call('host.query_data_source', h.ref, ds);
          ctx.printer.list([Number(v).toFixed(6)]);
        },
        { multiple: false, ignore: ['data-source'] },
      );
    }),
    define('host-get-vms-which-prevent-evacuation', async (ctx) => {
      const host = await refOf(ctx, 'host', need(ctx, 'uuid'));
      const vms = (await ctx.api.call('host.get_vms_which_prevent_evacuation', host)) as Record<
        string,
        string[]
      >;
      const view = new RecordView(ctx.db, 'vm');
      const ps = get(ctx, 'params');
      const wanted = ps === undefined ? ['uuid', 'name-label', 'reason'] : ps === 'all' ? [] : ps.split(',');
      const fields = view.rc.fields.filter((f) => wanted.length === 0 || wanted.includes(f.n));
      for (const [vm, reasons] of Object.entries(vms)) {
        const rec = (await ctx.api.call('VM.get_record', vm)) as Rec;
        const printed = await view.printed({ ref: vm, rec }, fields, false);
        // The extra `reason` field is appended after the VM's own fields (RO, comma-joined error).
        if (wanted.length === 0 || wanted.includes('reason'))
          printed.push(['reason ( RO)', reasons.join(',')]);
        ctx.printer.table([printed]);
      }
    }),
    define('pool-join', async (ctx) => {
      const args = [need(ctx, 'master-address'), need(ctx, 'master-username'), need(ctx, 'master-password')];
      try {
        await ctx.api.call(bool(ctx, 'force') ? 'pool.join_force' : 'pool.join', ...args);
        ctx.printer.list([`Host agent will restart and attempt to join pool in ${FUSE_TIME} seconds...`]);
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'POOL_JOINING_HOST_CONNECTION_FAILED') throw e;
        ctx.printer.list([
          'Host cannot contact destination host: connection refused.',
          'Check destination host has services running and accessible from this host.',
        ]);
      }
    }),
    define('pool-eject', poolEject),
    define('pool-designate-new-master', async (ctx) => {
      await ctx.api.call('pool.designate_new_master', await refOf(ctx, 'host', need(ctx, 'host-uuid')));
    }),
    define('pool-ha-enable', async (ctx) => {
      const uuids = get(ctx, 'heartbeat-sr-uuids');
      const srs =
        uuids === undefined ? [] : await Promise.all(uuids.split(',').map((u) => refOf(ctx, 'SR', u)));
      await ctx.api.call('pool.enable_ha', srs, mapParams(ctx, 'ha-config'));
    }),
    define('pool-ha-disable', async (ctx) => {
      await ctx.api.call('pool.disable_ha');
    }),
    define('pool-ha-compute-max-host-failures-to-tolerate', async (ctx) => {
      const n = await ctx.api.call('pool.ha_compute_max_host_failures_to_tolerate');
      ctx.printer.list([String(n)]);
    }),
    define('pool-sync-database', async (ctx) => {
      await ctx.api.call('pool.sync_database');
    }),
    define('pool-management-reconfigure', async (ctx) => {
      await ctx.api.call(
        'pool.management_reconfigure',
        await refOf(ctx, 'network', need(ctx, 'network-uuid')),
      );
    }),
    define('pool-vlan-create', async (ctx) => {
      // cli_operations.ml `pool_vlan_create`: network, then PIF, then the tag (validate_and_get_vlan).
      const network = await refOf(ctx, 'network', need(ctx, 'network-uuid'));
      const pif = await refOf(ctx, 'PIF', need(ctx, 'pif-uuid'));
      const tag = need(ctx, 'vlan');
      if (!/^-?\d+$/.test(tag))
        throw new CliFailure("Failed to parse parameter 'vlan': expecting an integer");
      const vlan = Number(tag);
      const pifs = (await ctx.api.call('pool.create_VLAN_from_PIF', pif, network, vlan)) as string[];
      const uuids = await Promise.all(pifs.map((p) => ctx.api.call('PIF.get_uuid', p) as Promise<string>));
      ctx.printer.list([uuids.join(',')]);
    }),
  ];
}
