/**
 * `VIF.configure_ipv4` / `VIF.configure_ipv6`: the address a guest agent should give an interface (XenServer 7.0's
 * "guest IP setting"; Ansible's xenserver_guest calls them for a VM whose tools advertise it).
 *
 * As ocaml/xapi/xapi_vif_helpers.ml does: for mode `Static` the address must be a CIDR (`INVALID_CIDR_ADDRESS_SPECIFIED
 * [address]`, Helpers.assert_is_valid_cidr), allowed by the VIF's effective locking mode
 * (`ADDRESS_VIOLATES_LOCKING_CONSTRAINT [address]` when `locked` and the address is not in `ipv4_allowed` /
 * `ipv6_allowed`), and a non-empty gateway an IP (`INVALID_IP_ADDRESS_SPECIFIED [gateway]`); then, whatever the mode,
 * the VM's guest metrics must list `feature-static-ip-setting` = 1 (`VM_LACKS_FEATURE [vm]`) — the simulator's guests
 * never do, as guests without XenServer 7's tools. Only then are `ipv4_configuration_mode`, `ipv4_addresses`
 * (`[address]`) and `ipv4_gateway` (or the ipv6 ones) set.
 */
import { isIP } from 'node:net';
import type { SimBehaviour, SimContext } from '../contract.js';
import { arg, fail, map, ref, str, strings } from './util.js';

type Family = 4 | 6;

/** `a.b.c.d/len` (or an IPv6 address and prefix) of the family, as Helpers.parse_cidr reads it. */
function parseCidr(family: Family, cidr: string): string | undefined {
  const m = /^([^/]+)\/(\d+)$/.exec(cidr);
  if (!m?.[1] || m[2] === undefined) return undefined;
  const len = Number(m[2]);
  if (isIP(m[1]) !== family || len > (family === 4 ? 32 : 128)) return undefined;
  return m[1];
}

/** The VIF's locking mode, its network's default when it says `network_default` (xapi_vif_helpers.ml). */
function effectiveLockingMode(ctx: SimContext, vif: string): string {
  const rec = ctx.store.get('VIF', vif);
  const mode = str(rec, 'locking_mode');
  if (mode !== 'network_default') return mode;
  return str(ctx.store.get('network', ref(rec, 'network')), 'default_locking_mode') === 'disabled'
    ? 'disabled'
    : 'unlocked';
}

function configure(family: Family) {
  const v = family === 4 ? 'ipv4' : 'ipv6';
  return (ctx: SimContext, args: readonly unknown[]): string => {
    const vif = arg.str(args, 0);
    const mode = arg.str(args, 1);
    const address = arg.str(args, 2);
    const gateway = arg.str(args, 3);
    const rec = ctx.store.get('VIF', vif);
    if (mode === 'Static') {
      const ip = parseCidr(family, address);
      if (ip === undefined) fail('INVALID_CIDR_ADDRESS_SPECIFIED', 'address');
      if (effectiveLockingMode(ctx, vif) === 'locked' && !strings(rec, `${v}_allowed`).includes(ip))
        fail('ADDRESS_VIOLATES_LOCKING_CONSTRAINT', address);
      if (gateway !== '' && isIP(gateway) !== family) fail('INVALID_IP_ADDRESS_SPECIFIED', 'gateway');
    }
    const vm = ref(rec, 'VM');
    const metrics = ref(ctx.store.get('VM', vm), 'guest_metrics');
    const other = map(ctx.store.find('VM_guest_metrics', metrics), 'other');
    if (other['feature-static-ip-setting'] !== '1') fail('VM_LACKS_FEATURE', vm);
    ctx.store.update('VIF', vif, {
      [`${v}_configuration_mode`]: mode,
      [`${v}_addresses`]: [address],
      [`${v}_gateway`]: gateway,
    });
    return '';
  };
}

/** VIF.configure_ipv4 and VIF.configure_ipv6. */
export const vifIpConfigBehaviour: SimBehaviour = {
  handlers: {
    'VIF.configure_ipv4': configure(4),
    'VIF.configure_ipv6': configure(6),
  },
};
