import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { macFromSeed } from './network.js';
import { createTestWorld, type TestWorld } from './test-harness.js';

let w: TestWorld;
beforeEach(async () => {
  w = await createTestWorld();
});
afterEach(() => {
  w.close();
});

const host = (name = 'xcp-ng-01') => w.byName('host', name);
const pif = (device: string, h = host()) =>
  w.engine.store.all('PIF').find(([, p]) => p.host === h && p.device === device && p.VLAN === -1)?.[0] ?? '';
const newNetwork = async (name: string) =>
  (await w.call('network.create', {
    name_label: name,
    name_description: '',
    MTU: 1500,
    other_config: {},
    tags: [],
  })) as string;
const vifRecord = (vm: string, network: string, device = '0', MAC = '') => ({
  device,
  network,
  VM: vm,
  MAC,
  MTU: 1500,
  other_config: {},
  qos_algorithm_type: '',
  qos_algorithm_params: {},
});

describe('networks and VIFs', () => {
  it('derives VIF MACs from the VM mac_seed: stable, locally administered, unicast', () => {
    const mac = macFromSeed('seed', '0');
    expect(mac).toBe(macFromSeed('seed', '0'));
    expect(mac).not.toBe(macFromSeed('seed', '1'));
    expect(parseInt(mac.slice(0, 2), 16) & 0x03).toBe(0x02);
  });

  it('creates a network with a free xapiN bridge and refuses to destroy it while attached VIFs or PIFs use it', async () => {
    const net = await newNetwork('storage');
    expect(w.get('network', net).bridge).toMatch(/^xapi\d+$/);
    const vm = (await w.call('VM.clone', w.byName('VM', 'Alpine Linux 3.20'), 'n')) as string;
    await w.call('VM.provision', vm);
    const vif = (await w.call('VIF.create', vifRecord(vm, net))) as string;
    expect(await w.fails('VIF.create', vifRecord(vm, net))).toEqual(['DEVICE_ALREADY_EXISTS', '0']);
    expect(await w.fails('VIF.create', vifRecord(vm, net, '1', 'zz:zz'))).toEqual(['MAC_INVALID', 'zz:zz']);
    await w.call('VM.start', vm, false, false);
    expect(await w.fails('network.destroy', net)).toEqual(['NETWORK_CONTAINS_VIF', vif]);
    expect(await w.fails('VIF.destroy', vif)).toEqual([
      'OPERATION_NOT_ALLOWED',
      'VIF currently attached to a running VM',
    ]);
    await w.call('VM.hard_shutdown', vm);
    await w.call('network.destroy', net);
    expect(w.engine.store.find('VIF', vif)).toBeUndefined();
    const eth0 = w.byName('network', 'Pool-wide network associated with eth0');
    const [code, ...pifs] = await w.fails('network.destroy', eth0);
    expect(code).toBe('NETWORK_CONTAINS_PIF');
    expect(pifs).toHaveLength(3);
    const internal = w.byName('network', 'Host internal management network');
    expect(await w.fails('network.destroy', internal)).toEqual(['CANNOT_DESTROY_SYSTEM_NETWORK', internal]);
  });

  it('plugs, unplugs and moves VIFs of a running VM', async () => {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Alpine Linux 3.20'), 'n')) as string;
    await w.call('VM.provision', vm);
    const eth0 = w.byName('network', 'Pool-wide network associated with eth0');
    const eth1 = w.byName('network', 'Pool-wide network associated with eth1');
    const vif = (await w.call('VIF.create', vifRecord(vm, eth0))) as string;
    expect(await w.fails('VIF.plug', vif)).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
    await w.call('VM.start', vm, false, false);
    expect(w.get('VIF', vif).currently_attached).toBe(true);
    expect(await w.fails('VIF.plug', vif)).toEqual(['DEVICE_ALREADY_ATTACHED', vif]);
    await w.call('VIF.move', vif, eth1);
    expect(w.get('VIF', vif).network).toBe(eth1);
    await w.call('VIF.unplug', vif);
    expect(await w.fails('VIF.unplug', vif)).toEqual(['DEVICE_ALREADY_DETACHED', vif]);
  });
});

describe('PIFs', () => {
  it('reconfigures IP (static needs a valid address) and refuses to unplug the management PIF', async () => {
    const eth1 = pif('eth1');
    expect(
      await w.fails('PIF.reconfigure_ip', eth1, 'Static', '10.1.0.300', '255.255.255.0', '', ''),
    ).toEqual(['INVALID_IP_ADDRESS_SPECIFIED', 'IP']);
    await w.call('PIF.reconfigure_ip', eth1, 'Static', '10.1.0.11', '255.255.255.0', '10.1.0.1', '10.1.0.1');
    expect(w.get('PIF', eth1)).toMatchObject({
      ip_configuration_mode: 'Static',
      IP: '10.1.0.11',
      gateway: '10.1.0.1',
    });
    const eth0 = pif('eth0');
    expect(await w.fails('PIF.unplug', eth0)).toEqual(['PIF_IS_MANAGEMENT_INTERFACE', eth0]);
    expect(await w.fails('PIF.reconfigure_ip', eth0, 'None', '', '', '', '')).toEqual([
      'PIF_IS_MANAGEMENT_INTERFACE',
      eth0,
    ]);
    expect(await w.fails('PIF.reconfigure_ip', eth1, 'Static', '10.1.0.12', '24', '', '')).toEqual([
      'INVALID_IP_ADDRESS_SPECIFIED',
      'netmask',
    ]);
    expect(await w.fails('PIF.reconfigure_ip', eth1, 'Static', '', '255.255.255.0', '', '')).toEqual([
      'INVALID_IP_ADDRESS_SPECIFIED',
      'IP',
    ]);
    expect(await w.fails('PIF.reconfigure_ip', eth1, 'DHCP', '', '', 'gw', '')).toEqual([
      'INVALID_IP_ADDRESS_SPECIFIED',
      'gateway',
    ]);
    // A PIF that may not be unplugged can still be given an address (disallow_unplug guards PIF.unplug only).
    await w.call('PIF.set_disallow_unplug', pif('eth1', host('xcp-ng-02')), true);
    await w.call(
      'PIF.reconfigure_ip',
      pif('eth1', host('xcp-ng-02')),
      'Static',
      '10.2.0.5',
      '255.255.0.0',
      '',
      '10.2.0.1,fe80::1,x',
    );
    expect(w.get('PIF', pif('eth1', host('xcp-ng-02')))).toMatchObject({ IP: '10.2.0.5', DNS: '10.2.0.1' });
    expect(await w.fails('PIF.unplug', pif('eth1', host('xcp-ng-02')))).toEqual([
      'PIF_DOES_NOT_ALLOW_UNPLUG',
      pif('eth1', host('xcp-ng-02')),
    ]);
    // With HA on, an attached PIF keeps its address; only its DNS servers may change.
    const poolRef = w.engine.store.all('pool')[0]?.[0] ?? '';
    w.engine.store.update('pool', poolRef, { ha_enabled: true });
    expect(
      await w.fails(
        'PIF.reconfigure_ip',
        pif('eth1', host('xcp-ng-02')),
        'Static',
        '10.2.0.6',
        '255.255.0.0',
        '',
        '',
      ),
    ).toEqual(['HA_IS_ENABLED']);
    await w.call(
      'PIF.reconfigure_ip',
      pif('eth1', host('xcp-ng-02')),
      'Static',
      '10.2.0.5',
      '255.255.0.0',
      '',
      '10.2.0.2',
    );
    expect(w.get('PIF', pif('eth1', host('xcp-ng-02'))).DNS).toBe('10.2.0.2');
    w.engine.store.update('pool', poolRef, { ha_enabled: false });
    await w.call('host.management_reconfigure', eth1);
    expect(w.get('PIF', eth1).management).toBe(true);
    expect(w.get('PIF', eth0).management).toBe(false);
    expect(w.get('host', host()).address).toBe('10.1.0.11');
    await w.call('PIF.unplug', eth0);
    expect(w.get('PIF', eth0).currently_attached).toBe(false);
  });
});

describe('VLANs', () => {
  it('creates a VLAN PIF on the tagged PIF: same device, MAC fe:ff:ff:ff:ff:ff, plugged', async () => {
    const net = await newNetwork('vlan 100');
    const vlan = (await w.call('VLAN.create', pif('eth1'), 100, net)) as string;
    const untagged = w.get('VLAN', vlan).untagged_PIF as string;
    expect(w.get('PIF', untagged)).toMatchObject({
      device: 'eth1',
      VLAN: 100,
      MAC: 'fe:ff:ff:ff:ff:ff',
      currently_attached: true,
      network: net,
    });
    expect(w.get('PIF', pif('eth1')).VLAN_slave_of).toContain(vlan);
    await w.call('VLAN.destroy', vlan);
    expect(w.engine.store.find('PIF', untagged)).toBeUndefined();
  });

  it('rejects bad tags, duplicates (PIF_VLAN_EXISTS with the device name), VLAN on VLAN and bonded members', async () => {
    const net = await newNetwork('v');
    expect(await w.fails('VLAN.create', pif('eth1'), 4095, net)).toEqual(['VLAN_TAG_INVALID', '4095']);
    const vlan = (await w.call('VLAN.create', pif('eth1'), 7, net)) as string;
    const net2 = await newNetwork('v2');
    expect(await w.fails('VLAN.create', pif('eth1'), 7, net2)).toEqual(['PIF_VLAN_EXISTS', 'eth1']);
    const untagged = w.get('VLAN', vlan).untagged_PIF as string;
    expect(await w.fails('VLAN.create', untagged, 8, net2)).toEqual(['PIF_IS_VLAN', untagged]);
    expect((await w.fails('VLAN.create', pif('eth0'), 9, net))[0]).toBe('NETWORK_ALREADY_CONNECTED');
  });

  it('creates a VLAN on every host with pool.create_VLAN_from_PIF', async () => {
    const net = await newNetwork('pool vlan');
    const pifs = (await w.call('pool.create_VLAN_from_PIF', pif('eth1'), net, 42)) as string[];
    expect(pifs).toHaveLength(3);
    expect(new Set(pifs.map((p) => w.get('PIF', p).host)).size).toBe(3);
    expect(pifs.map((p) => w.get('PIF', p))).toEqual(
      Array(3).fill(expect.objectContaining({ device: 'eth1', VLAN: 42, currently_attached: true })),
    );
  });

  it('pool.create_VLAN_from_PIF follows the PIF network (bond masters), refuses bad tags and undoes a half-made VLAN', async () => {
    const bnet = await newNetwork('bond');
    const masters: string[] = [];
    for (const h of ['xcp-ng-01', 'xcp-ng-02', 'xcp-ng-03']) {
      const bond = (await w.call(
        'Bond.create',
        bnet,
        [pif('eth0', host(h)), pif('eth1', host(h))],
        '',
        'active-backup',
        {},
      )) as string;
      masters.push(w.get('Bond', bond).master as string);
    }
    const vnet = await newNetwork('storage');
    expect(await w.fails('pool.create_VLAN_from_PIF', masters[0], vnet, 4095)).toEqual([
      'VLAN_TAG_INVALID',
      '4095',
    ]);
    expect(await w.fails('pool.create_VLAN_from_PIF', pif('eth1', host('xcp-ng-02')), vnet, 10)).toEqual([
      'CANNOT_ADD_VLAN_TO_BOND_SLAVE',
      pif('eth1'), // the first PIF of that network: xcp-ng-01's member
    ]);
    // xcp-ng-03's bond master already carries tag 20: the call fails with its device, and the VLANs it made on the
    // other hosts are gone again.
    const other = await newNetwork('other');
    await w.call('VLAN.create', masters[2], 20, other);
    const before = w.engine.store.all('VLAN').length;
    expect(await w.fails('pool.create_VLAN_from_PIF', masters[1], vnet, 20)).toEqual([
      'PIF_VLAN_EXISTS',
      'bond0',
    ]);
    expect(w.engine.store.all('VLAN')).toHaveLength(before);
    const pifs = (await w.call('pool.create_VLAN_from_PIF', masters[1], vnet, 21)) as string[];
    expect(
      pifs.map((p) => w.get('VLAN', w.get('PIF', p).VLAN_master_of as string).tagged_PIF).sort(),
    ).toEqual([...masters].sort());
    // Host offline: only live hosts get one (xapi filters on host_metrics.live).
    const net3 = await newNetwork('third');
    const m3 = w.get('host', host('xcp-ng-03')).metrics as string;
    w.engine.store.update('host_metrics', m3, { live: false });
    expect((await w.call('pool.create_VLAN_from_PIF', masters[0], net3, 22)) as string[]).toHaveLength(2);
  });

  it('pool.create_VLAN needs the device on every host: INVALID_VALUE and nothing made', async () => {
    const net = await newNetwork('by device');
    expect(await w.fails('pool.create_VLAN', 'eth9', net, 30)).toEqual(['INVALID_VALUE', 'device', 'eth9']);
    expect(w.engine.store.all('VLAN')).toHaveLength(0);
    expect((await w.call('pool.create_VLAN', 'eth1', net, 30)) as string[]).toHaveLength(3);
  });
});

describe('bonds', () => {
  it('bonds eth0+eth1 into bond0, moving the management IP to the bond master', async () => {
    const net = await newNetwork('bond');
    const bond = (await w.call(
      'Bond.create',
      net,
      [pif('eth0'), pif('eth1')],
      '',
      'active-backup',
      {},
    )) as string;
    const master = w.get('Bond', bond).master as string;
    expect(w.get('PIF', master)).toMatchObject({
      device: 'bond0',
      management: true,
      ip_configuration_mode: 'DHCP',
      IP: '10.0.0.11',
    });
    expect(w.get('PIF', master).MAC).toBe(w.get('PIF', pif('eth0')).MAC);
    expect(w.get('PIF', pif('eth0'))).toMatchObject({
      management: false,
      ip_configuration_mode: 'None',
      bond_slave_of: bond,
    });
    expect(w.get('Bond', bond)).toMatchObject({ mode: 'active-backup', links_up: 2 });
    await w.call('Bond.set_mode', bond, 'lacp');
    expect(w.get('Bond', bond).mode).toBe('lacp');
    await w.call('Bond.destroy', bond);
    expect(w.get('PIF', pif('eth0'))).toMatchObject({ management: true, IP: '10.0.0.11' });
  });

  it('rejects no members, members of two hosts, bonded members, VLAN members and bad MACs', async () => {
    const net = await newNetwork('bond');
    expect(await w.fails('Bond.create', net, [], '', 'balance-slb', {})).toEqual([
      'PIF_BOND_NEEDS_MORE_MEMBERS',
    ]);
    expect(
      await w.fails('Bond.create', net, [pif('eth1'), pif('eth1', host('xcp-ng-02'))], '', 'balance-slb', {}),
    ).toEqual(['PIF_CANNOT_BOND_CROSS_HOST']);
    expect(await w.fails('Bond.create', net, [pif('eth0'), pif('eth1')], 'nope', 'balance-slb', {})).toEqual([
      'MAC_INVALID',
      'nope',
    ]);
    const vnet = await newNetwork('vlan');
    const vlan = (await w.call('VLAN.create', pif('eth1'), 5, vnet)) as string;
    const untagged = w.get('VLAN', vlan).untagged_PIF as string;
    expect(await w.fails('Bond.create', net, [pif('eth0'), untagged], '', 'balance-slb', {})).toEqual([
      'PIF_VLAN_EXISTS',
      'eth1',
    ]);
    await w.call('VLAN.destroy', vlan);
    await w.call('Bond.create', net, [pif('eth0'), pif('eth1')], '', 'balance-slb', {});
    const net2 = await newNetwork('bond2');
    expect(await w.fails('Bond.create', net2, [pif('eth0'), pif('eth1')], '', 'balance-slb', {})).toEqual([
      'PIF_ALREADY_BONDED',
      pif('eth0'),
    ]);
    expect(await w.fails('VLAN.create', pif('eth1'), 10, net2)).toEqual([
      'CANNOT_ADD_VLAN_TO_BOND_SLAVE',
      pif('eth1'),
    ]);
  });

  it('counts links_up from member carriers when a link goes down', async () => {
    const net = await newNetwork('bond');
    const bond = (await w.call(
      'Bond.create',
      net,
      [pif('eth0'), pif('eth1')],
      '',
      'active-backup',
      {},
    )) as string;
    const { faults } = (await import('./index.js')).behaviours.find((b) => b.faults) ?? {};
    await faults?.pifLinkDown?.(w.ctx, pif('eth1'));
    expect(w.get('Bond', bond).links_up).toBe(1);
    expect(w.get('PIF_metrics', w.get('PIF', pif('eth1')).metrics as string).carrier).toBe(false);
    const master = w.get('Bond', bond).master as string;
    const carrier = (p: string) => w.get('PIF_metrics', w.get('PIF', p).metrics as string).carrier;
    expect(carrier(master)).toBe(true);
    const vnet = await newNetwork('on the bond');
    const vlan = (await w.call('VLAN.create', master, 50, vnet)) as string;
    const vpif = w.get('VLAN', vlan).untagged_PIF as string;
    expect(carrier(vpif)).toBe(true);
    await faults?.pifLinkDown?.(w.ctx, pif('eth0'));
    expect(w.get('Bond', bond).links_up).toBe(0);
    expect(carrier(master)).toBe(false);
    expect(carrier(vpif)).toBe(false);
    await faults?.pifLinkUp?.(w.ctx, pif('eth1'));
    await faults?.pifLinkUp?.(w.ctx, pif('eth0'));
    expect(w.get('Bond', bond).links_up).toBe(2);
    expect(carrier(vpif)).toBe(true);
  });
});
