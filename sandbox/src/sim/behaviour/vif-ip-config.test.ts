/**
 * VIF.configure_ipv4 / configure_ipv6 as ocaml/xapi/xapi_vif_helpers.ml has them: the arguments are checked first,
 * then the guest must advertise `feature-static-ip-setting`; only then does the VIF change.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestWorld, type TestWorld } from './test-harness.js';

let w: TestWorld;
let vm = '';
let vif = '';
beforeEach(async () => {
  w = await createTestWorld();
  vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'web-1')) as string;
  await w.call('VM.provision', vm);
  const net = w.byName('network', 'Pool-wide network associated with eth0');
  vif = (await w.call('VIF.create', {
    VM: vm,
    network: net,
    device: '0',
    MAC: '',
    MTU: 1500,
    other_config: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
  })) as string;
  await w.call('VM.start', vm, false, false);
});
afterEach(() => {
  w.close();
});

/** What a guest whose tools can set addresses reports (XenServer 7.0+ guest agents). */
function advertiseStaticIp(): void {
  const gm = w.get('VM', vm).guest_metrics as string;
  const other = w.get('VM_guest_metrics', gm).other as Record<string, string>;
  w.ctx.store.update('VM_guest_metrics', gm, { other: { ...other, 'feature-static-ip-setting': '1' } });
}

describe('VIF.configure_ipv4', () => {
  it('refuses a guest without the feature (VM_LACKS_FEATURE) and leaves the VIF as it was', async () => {
    expect(await w.fails('VIF.configure_ipv4', vif, 'Static', '192.168.10.5/24', '192.168.10.1')).toEqual([
      'VM_LACKS_FEATURE',
      vm,
    ]);
    expect(await w.fails('VIF.configure_ipv4', vif, 'None', '', '')).toEqual(['VM_LACKS_FEATURE', vm]);
    const rec = w.get('VIF', vif);
    expect([rec.ipv4_configuration_mode, rec.ipv4_addresses, rec.ipv4_gateway]).toEqual(['None', [], '']);
  });

  it('checks the address and gateway before the feature', async () => {
    expect(await w.fails('VIF.configure_ipv4', vif, 'Static', '192.168.10.5', '')).toEqual([
      'INVALID_CIDR_ADDRESS_SPECIFIED',
      'address',
    ]);
    expect(await w.fails('VIF.configure_ipv4', vif, 'Static', '192.168.10.5/33', '')).toEqual([
      'INVALID_CIDR_ADDRESS_SPECIFIED',
      'address',
    ]);
    expect(await w.fails('VIF.configure_ipv4', vif, 'Static', '192.168.10.5/24', 'gw')).toEqual([
      'INVALID_IP_ADDRESS_SPECIFIED',
      'gateway',
    ]);
  });

  it('sets the mode, the address and the gateway for a guest with the feature', async () => {
    advertiseStaticIp();
    await w.call('VIF.configure_ipv4', vif, 'Static', '192.168.10.5/24', '192.168.10.1');
    const rec = w.get('VIF', vif);
    expect([rec.ipv4_configuration_mode, rec.ipv4_addresses, rec.ipv4_gateway]).toEqual([
      'Static',
      ['192.168.10.5/24'],
      '192.168.10.1',
    ]);
    await w.call('VIF.configure_ipv6', vif, 'Static', 'fd00::5/64', 'fd00::1');
    const six = w.get('VIF', vif);
    expect([six.ipv6_configuration_mode, six.ipv6_addresses, six.ipv6_gateway]).toEqual([
      'Static',
      ['fd00::5/64'],
      'fd00::1',
    ]);
  });

  it('keeps a locked VIF to its allowed addresses', async () => {
    advertiseStaticIp();
    await w.call('VIF.set_locking_mode', vif, 'locked');
    await w.call('VIF.set_ipv4_allowed', vif, ['192.168.10.7']);
    expect(await w.fails('VIF.configure_ipv4', vif, 'Static', '192.168.10.5/24', '')).toEqual([
      'ADDRESS_VIOLATES_LOCKING_CONSTRAINT',
      '192.168.10.5/24',
    ]);
    await w.call('VIF.configure_ipv4', vif, 'Static', '192.168.10.7/24', '');
    expect(w.get('VIF', vif).ipv4_addresses).toEqual(['192.168.10.7/24']);
  });
});
