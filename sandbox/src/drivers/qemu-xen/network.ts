/**
 * An environment's private network: the machines of one environment (and only they) on one L2 segment per NIC
 * index — a Linux bridge in a network namespace of the environment's own, one tap per machine NIC, QEMU started
 * inside that namespace. Nothing else is in the namespace: no route to this host, its services, other learners or
 * the internet. Each machine has a fixed address (NIC j of machine i: 10.77.j.(11+i)/24) and every machine knows the
 * others by node name (/etc/hosts: names are NIC 0's addresses, `<name>-eth<j>` the others).
 * @module
 */
import { spawnSync } from 'node:child_process';
import { XenlabError } from '../../errors/index.js';
import type { VmNic } from './vm.js';

/** The first two octets of every environment's private network (each environment has its own namespace). */
export const PRIVATE_PREFIX = '10.77';

/** Where machine `i`'s NIC `j` is: its tap, MAC, and address with prefix. */
export interface NicPlan extends VmNic {
  readonly address: string;
}

/** NIC `j` of the `i`-th machine of an environment. */
export function planNic(i: number, j: number): NicPlan {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return {
    id: `nic${String(j)}`,
    tap: `t${String(i)}n${String(j)}`,
    mac: `52:54:00:77:${hex(i)}:${hex(j)}`,
    address: `${PRIVATE_PREFIX}.${String(j)}.${String(11 + i)}/24`,
  };
}

/** The /etc/hosts lines of an environment's machines (NIC 0 by name, the others as `<name>-eth<j>`). */
export function hostsLines(
  machines: ReadonlyMap<string, readonly NicPlan[]>,
): { name: string; address: string }[] {
  const out: { name: string; address: string }[] = [];
  for (const [name, nics] of machines) {
    nics.forEach((n, j) => {
      out.push({ name: j === 0 ? name : `${name}-eth${String(j)}`, address: n.address.split('/')[0] ?? '' });
    });
  }
  return out;
}

function ip(args: readonly string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error)
    throw new XenlabError(
      'SANDBOX_ERR_NETWORK',
      `ip ${args.join(' ')}: ${r.error.message} (install iproute2)`,
    );
  if (r.status !== 0)
    throw new XenlabError(
      'SANDBOX_ERR_NETWORK',
      `ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${String(r.status)}`}`,
    );
}

/** Whether network namespace `ns` exists. */
export function netnsExists(ns: string): boolean {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.split('\n').some((l) => l.split(' ')[0] === ns);
}

/** Removes namespace `ns` and everything in it (bridges, taps); nothing when it is gone already. */
export function removeNetns(ns: string): void {
  if (netnsExists(ns)) spawnSync('ip', ['netns', 'delete', ns], { encoding: 'utf8' });
}

/**
 * Makes namespace `ns` with a bridge per NIC index (`br0`, `br1`…) and the taps of `machines`, each on its index's
 * bridge. Needs root.
 * @throws XenlabError `SANDBOX_ERR_NEEDS_ROOT` when not root, `SANDBOX_ERR_NETWORK` when `ip` fails (the namespace is
 *   removed again).
 */
export function createPrivateNetwork(ns: string, machines: ReadonlyMap<string, readonly NicPlan[]>): void {
  if (process.getuid?.() !== 0)
    throw new XenlabError(
      'SANDBOX_ERR_NEEDS_ROOT',
      'this lab has machines on a private network: its namespace, bridge and taps need root (run the gateway as root)',
    );
  ip(['netns', 'add', ns]);
  try {
    const bridges = Math.max(0, ...[...machines.values()].map((n) => n.length));
    for (let j = 0; j < bridges; j++) {
      // No STP, no forwarding delay: the segment is a plain switch, frames pass as soon as a tap is up.
      ip([
        '-n',
        ns,
        'link',
        'add',
        `br${String(j)}`,
        'type',
        'bridge',
        'stp_state',
        '0',
        'forward_delay',
        '0',
      ]);
      ip(['-n', ns, 'link', 'set', `br${String(j)}`, 'up']);
    }
    for (const nics of machines.values()) {
      nics.forEach((n, j) => {
        ip(['-n', ns, 'tuntap', 'add', 'dev', n.tap, 'mode', 'tap']);
        ip(['-n', ns, 'link', 'set', n.tap, 'master', `br${String(j)}`, 'up']);
      });
    }
  } catch (err) {
    removeNetns(ns);
    throw err;
  }
}
