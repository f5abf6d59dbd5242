/** Storage (SR, PBD, VDI, VBD) and network (network, PIF, VIF, VLAN, bond) commands (cli_operations.ml). */
import type { CommandContext, CommandDef } from '../command-types.js';
import { CliFailure } from '../errors.js';
import { bytesOfString } from '../records.js';
import { bool, get, mapParams, need, refOf, uuidOf } from './common.js';
import { define } from './define.js';

const NULL = 'OpaqueRef:NULL';

/** `<cmd> uuid=<uuid>` → `<Class>.<method>(ref)`: the many one-object commands. */
function onUuid(name: string, cls: string, method: string): CommandDef {
  return define(name, async (ctx) => {
    await ctx.api.call(method, await refOf(ctx, cls, need(ctx, 'uuid')));
  });
}

async function printUuid(ctx: CommandContext, cls: string, ref: string): Promise<void> {
  ctx.printer.list([await uuidOf(ctx, cls, ref)]);
}

/** cli_operations.ml `parse_host_uuid`: the named host, else the master when standalone or asked to. */
async function hostForSr(ctx: CommandContext, defaultMaster: boolean): Promise<string> {
  const uuid = get(ctx, 'host-uuid');
  if (uuid !== undefined) return refOf(ctx, 'host', uuid);
  const hosts = (await ctx.api.call('host.get_all')) as string[];
  if (hosts.length === 1 || defaultMaster) {
    const pools = (await ctx.api.call('pool.get_all')) as string[];
    return (await ctx.api.call('pool.get_master', pools[0])) as string;
  }
  throw new CliFailure('Required parameter not found: host-uuid');
}

const vlanTag = (ctx: CommandContext): number => {
  const v = get(ctx, 'vlan') ?? '';
  if (!/^-?\d+$/.test(v)) throw new CliFailure("Failed to parse parameter 'vlan': expecting an integer");
  return Number(v);
};

/** The storage and network commands. */

/** The `mode=` of bond-create / bond-set-mode as the API spells it (balance-slb when absent). */
function bondMode(ctx: Parameters<typeof get>[0]): string {
  const m = (get(ctx, 'mode') ?? '').toLowerCase();
  const modes: Record<string, string> = {
    '': 'balance-slb',
    'balance-slb': 'balance-slb',
    'active-backup': 'active-backup',
    lacp: 'lacp',
  };
  const mode = modes[m];
  if (mode === undefined) throw new CliFailure(`Invalid bond mode. Got ${m}`);
  return mode;
}

export function storageNetworkCommands(): CommandDef[] {
  return [
    define('sr-create', async (ctx) => {
      const shared = bool(ctx, 'shared');
      const host = await hostForSr(ctx, shared);
      let physicalSize = 0;
      try {
        physicalSize = bytesOfString('physical-size', need(ctx, 'physical-size'));
      } catch {
        physicalSize = 0;
      }
      const sr = (await ctx.api.call(
        'SR.create',
        host,
        mapParams(ctx, 'device-config'),
        physicalSize,
        need(ctx, 'name-label'),
        get(ctx, 'name-description') ?? '',
        need(ctx, 'type'),
        get(ctx, 'content-type') ?? '',
        shared,
        mapParams(ctx, 'sm-config'),
      )) as string;
      await printUuid(ctx, 'SR', sr);
    }),
    onUuid('sr-destroy', 'SR', 'SR.destroy'),
    onUuid('sr-forget', 'SR', 'SR.forget'),
    onUuid('sr-scan', 'SR', 'SR.scan'),
    define('pbd-create', async (ctx) => {
      const host = await refOf(ctx, 'host', need(ctx, 'host-uuid'));
      const sr = await refOf(ctx, 'SR', need(ctx, 'sr-uuid'));
      // `device-config:key=v`, and the old `device-config-key=v` (the prefix is cut at the same length).
      const deviceConfig: Record<string, string> = {};
      const len = 'device-config:'.length;
      for (const [k, v] of ctx.params)
        if (k.startsWith('device-config') && k.length > len) deviceConfig[k.slice(len)] = v;
      const pbd = (await ctx.api.call('PBD.create', {
        host,
        SR: sr,
        device_config: deviceConfig,
        other_config: {},
      })) as string;
      await printUuid(ctx, 'PBD', pbd);
    }),
    onUuid('pbd-destroy', 'PBD', 'PBD.destroy'),
    onUuid('pbd-plug', 'PBD', 'PBD.plug'),
    onUuid('pbd-unplug', 'PBD', 'PBD.unplug'),
    define('vdi-create', async (ctx) => {
      const sr = await refOf(ctx, 'SR', need(ctx, 'sr-uuid'));
      const size = bytesOfString('virtual-size', need(ctx, 'virtual-size'));
      const type = get(ctx, 'type') ?? 'user';
      if (!['system', 'user', 'suspend', 'crashdump'].includes(type))
        throw new CliFailure(`Unknown vdi type: ${type}`);
      const tags = Object.keys(mapParams(ctx, 'tags'));
      const vdi = (await ctx.api.call('VDI.create', {
        name_label: need(ctx, 'name-label'),
        name_description: '',
        SR: sr,
        virtual_size: size,
        type,
        sharable: bool(ctx, 'sharable'),
        read_only: false,
        other_config: {},
        xenstore_data: {},
        sm_config: mapParams(ctx, 'sm-config'),
        tags,
      })) as string;
      await printUuid(ctx, 'VDI', vdi);
    }),
    onUuid('vdi-destroy', 'VDI', 'VDI.destroy'),
    onUuid('vdi-forget', 'VDI', 'VDI.forget'),
    define('vdi-clone', async (ctx) => {
      const vdi = await refOf(ctx, 'VDI', need(ctx, 'uuid'));
      const nv = (await ctx.api.call('VDI.clone', vdi, mapParams(ctx, 'driver-params'))) as string;
      const label = get(ctx, 'new-name-label');
      const desc = get(ctx, 'new-name-description');
      if (label !== undefined) await ctx.api.call('VDI.set_name_label', nv, label);
      if (desc !== undefined) await ctx.api.call('VDI.set_name_description', nv, desc);
      await printUuid(ctx, 'VDI', nv);
    }),
    define('vdi-snapshot', async (ctx) => {
      const vdi = await refOf(ctx, 'VDI', need(ctx, 'uuid'));
      await printUuid(
        ctx,
        'VDI',
        (await ctx.api.call('VDI.snapshot', vdi, mapParams(ctx, 'driver-params'))) as string,
      );
    }),
    define('vdi-copy', async (ctx) => {
      const vdi = await refOf(ctx, 'VDI', need(ctx, 'uuid'));
      const baseUuid = get(ctx, 'base-vdi-uuid');
      const base = baseUuid === undefined ? NULL : await refOf(ctx, 'VDI', baseUuid);
      const srUuid = get(ctx, 'sr-uuid');
      const intoUuid = get(ctx, 'into-vdi-uuid');
      if ((srUuid === undefined) === (intoUuid === undefined)) {
        throw new CliFailure(
          'Please specify one but not both of: a destination sr-uuid (I will create a fresh VDI); or a destination into-vdi-uuid (I will copy the blocks into this VDI)',
        );
      }
      const sr = srUuid === undefined ? NULL : await refOf(ctx, 'SR', srUuid);
      const into = intoUuid === undefined ? NULL : await refOf(ctx, 'VDI', intoUuid);
      const nv = (await ctx.api.call('VDI.copy', vdi, sr, base, into)) as string;
      if (into === NULL) await printUuid(ctx, 'VDI', nv);
    }),
    // cli_operations.ml vdi_pool_migrate: the migrated disk is a new VDI; its uuid is printed.
    define('vdi-pool-migrate', async (ctx) => {
      const vdi = await refOf(ctx, 'VDI', need(ctx, 'uuid'));
      const sr = await refOf(ctx, 'SR', need(ctx, 'sr-uuid'));
      const format = get(ctx, 'dest-img-format');
      const options = format === undefined ? {} : { 'dest-img-format': format };
      await printUuid(ctx, 'VDI', (await ctx.api.call('VDI.pool_migrate', vdi, sr, options)) as string);
    }),
    define('vdi-resize', async (ctx) => {
      const vdi = await refOf(ctx, 'VDI', need(ctx, 'uuid'));
      const size = bytesOfString('disk-size', need(ctx, 'disk-size'));
      await ctx.api.call(get(ctx, 'online') === 'true' ? 'VDI.resize_online' : 'VDI.resize', vdi, size);
    }),
    define('vbd-create', async (ctx) => {
      const vm = await refOf(ctx, 'VM', need(ctx, 'vm-uuid'));
      const vdiUuid = get(ctx, 'vdi-uuid');
      const empty = vdiUuid === undefined;
      const vdi = vdiUuid === undefined ? NULL : await refOf(ctx, 'VDI', vdiUuid);
      const bootable = bool(ctx, 'bootable');
      const m = get(ctx, 'mode');
      let mode = 'RW';
      if (m !== undefined) {
        const l = m.toLowerCase();
        if (l !== 'ro' && l !== 'rw') throw new CliFailure(`Unknown mode: ${l} (should be "ro" or "rw"`);
        mode = l.toUpperCase();
      }
      const t = get(ctx, 'type');
      let type = 'Disk';
      if (t !== undefined) {
        const l = t.toLowerCase();
        const map: Record<string, string> = { cd: 'CD', disk: 'Disk', floppy: 'Floppy' };
        const v = map[l];
        if (v === undefined) throw new CliFailure(`"Unknown type: ${l} (should be "cd", "disk" or "floppy"`);
        type = v;
      }
      const unpluggable = bool(ctx, 'unpluggable', true);
      if (type === 'Disk' && empty) throw new CliFailure('Empty VBDs can only be made for type=CD');
      const vbd = (await ctx.api.call('VBD.create', {
        VM: vm,
        VDI: vdi,
        userdevice: need(ctx, 'device'),
        bootable,
        mode,
        type,
        unpluggable,
        empty,
        qos_algorithm_type: '',
        qos_algorithm_params: {},
        other_config: {},
        device: '',
        currently_attached: false,
      })) as string;
      await printUuid(ctx, 'VBD', vbd);
    }),
    onUuid('vbd-destroy', 'VBD', 'VBD.destroy'),
    onUuid('vbd-plug', 'VBD', 'VBD.plug'),
    define('vbd-unplug', async (ctx) => {
      const vbd = await refOf(ctx, 'VBD', need(ctx, 'uuid'));
      await ctx.api.call(bool(ctx, 'force') ? 'VBD.unplug_force' : 'VBD.unplug', vbd);
    }),
    onUuid('vbd-eject', 'VBD', 'VBD.eject'),
    define('vbd-insert', async (ctx) => {
      const vbd = await refOf(ctx, 'VBD', need(ctx, 'uuid'));
      await ctx.api.call('VBD.insert', vbd, await refOf(ctx, 'VDI', need(ctx, 'vdi-uuid')));
    }),
    define('network-create', async (ctx) => {
      const mtu = get(ctx, 'MTU');
      const net = (await ctx.api.call('network.create', {
        name_label: need(ctx, 'name-label'),
        name_description: get(ctx, 'name-description') ?? '',
        MTU: mtu === undefined ? 1500 : Number(mtu),
        other_config: {},
        bridge: get(ctx, 'bridge') ?? '',
        managed: bool(ctx, 'managed', true),
        tags: [],
      })) as string;
      await printUuid(ctx, 'network', net);
    }),
    onUuid('network-destroy', 'network', 'network.destroy'),
    define('pif-reconfigure-ip', async (ctx) => {
      const pif = await refOf(ctx, 'PIF', need(ctx, 'uuid'));
      const modeStr = need(ctx, 'mode');
      const modes: Record<string, string> = { dhcp: 'DHCP', none: 'None', static: 'Static' };
      const mode = modes[modeStr.toLowerCase()];
      if (mode === undefined)
        throw new CliFailure(`Expected 'dhcp','none' or 'static', got ${modeStr.toLowerCase()}`);
      // IP and DNS are matched case-insensitively (ip=, IP=); netmask and gateway are not.
      const ci = (key: string) => ctx.params.find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1] ?? '';
      await ctx.api.call(
        'PIF.reconfigure_ip',
        pif,
        mode,
        ci('IP'),
        get(ctx, 'netmask') ?? '',
        get(ctx, 'gateway') ?? '',
        ci('DNS'),
      );
    }),
    onUuid('pif-plug', 'PIF', 'PIF.plug'),
    onUuid('pif-unplug', 'PIF', 'PIF.unplug'),
    onUuid('pif-forget', 'PIF', 'PIF.forget'),
    define('pif-scan', async (ctx) => {
      await ctx.api.call('PIF.scan', await refOf(ctx, 'host', need(ctx, 'host-uuid')));
    }),
    define('vif-create', async (ctx) => {
      const vm = await refOf(ctx, 'VM', need(ctx, 'vm-uuid'));
      const network = await refOf(ctx, 'network', need(ctx, 'network-uuid'));
      let mac = get(ctx, 'mac') ?? '';
      if (mac === 'random') {
        // record_util.ml `random_mac_local`: locally administered, unicast.
        const b = Array.from({ length: 6 }, () => Math.floor(Math.random() * 256));
        b[0] = ((b[0] ?? 0) | 0x2) & ~0x1;
        mac = b.map((x) => x.toString(16).padStart(2, '0')).join(':');
      }
      const mtu = await ctx.api.call('network.get_MTU', network);
      const vif = (await ctx.api.call('VIF.create', {
        device: need(ctx, 'device'),
        network,
        VM: vm,
        MAC: mac,
        MTU: mtu,
        other_config: {},
        currently_attached: false,
        qos_algorithm_type: '',
        qos_algorithm_params: {},
        locking_mode: 'network_default',
        ipv4_allowed: [],
        ipv6_allowed: [],
      })) as string;
      await printUuid(ctx, 'VIF', vif);
    }),
    onUuid('vif-destroy', 'VIF', 'VIF.destroy'),
    onUuid('vif-plug', 'VIF', 'VIF.plug'),
    define('vif-unplug', async (ctx) => {
      const vif = await refOf(ctx, 'VIF', need(ctx, 'uuid'));
      await ctx.api.call(bool(ctx, 'force') ? 'VIF.unplug_force' : 'VIF.unplug', vif);
    }),
    define('vif-move', async (ctx) => {
      const vif = await refOf(ctx, 'VIF', need(ctx, 'uuid'));
      await ctx.api.call('VIF.move', vif, await refOf(ctx, 'network', need(ctx, 'network-uuid')));
    }),
    define('vlan-create', async (ctx) => {
      const network = await refOf(ctx, 'network', need(ctx, 'network-uuid'));
      const pif = await refOf(ctx, 'PIF', need(ctx, 'pif-uuid'));
      const vlan = (await ctx.api.call('VLAN.create', pif, vlanTag(ctx), network)) as string;
      // The real CLI prints the new VLAN *PIF*'s uuid (a Rio-era convention), not the VLAN's.
      const untagged = (await ctx.api.call('VLAN.get_untagged_PIF', vlan)) as string;
      await printUuid(ctx, 'PIF', untagged);
    }),
    define('vlan-destroy', async (ctx) => {
      const uuid = need(ctx, 'uuid');
      let vlan: string;
      try {
        vlan = await refOf(ctx, 'VLAN', uuid);
      } catch (e) {
        // Rio allowed the VLAN PIF's uuid here too.
        let pif: string | undefined;
        try {
          pif = await refOf(ctx, 'PIF', uuid);
        } catch {
          throw e;
        }
        await ctx.api.call('PIF.destroy', pif);
        return;
      }
      await ctx.api.call('VLAN.destroy', vlan);
    }),
    define('bond-create', async (ctx) => {
      const network = await refOf(ctx, 'network', need(ctx, 'network-uuid'));
      const pifs = await Promise.all(
        need(ctx, 'pif-uuids')
          .split(',')
          .map((u) => refOf(ctx, 'PIF', u)),
      );
      const mode = bondMode(ctx);
      const bond = (await ctx.api.call(
        'Bond.create',
        network,
        pifs,
        get(ctx, 'mac') ?? '',
        mode,
        mapParams(ctx, 'properties'),
      )) as string;
      await printUuid(ctx, 'Bond', bond);
    }),
    onUuid('bond-destroy', 'Bond', 'Bond.destroy'),
    define('bond-set-mode', async (ctx) => {
      const bond = await refOf(ctx, 'Bond', need(ctx, 'uuid'));
      const mode = bondMode(ctx);
      await ctx.api.call('Bond.set_mode', bond, mode);
    }),
  ];
}
