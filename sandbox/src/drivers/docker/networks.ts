/**
 * One private network per environment, and the host firewall rules that keep containers away from host services.
 *
 * Separate bridge networks can't reach each other (Docker's isolation chains drop the traffic; measured: ping to
 * another learner's network 100% lost). But containers on any bridge, `--internal` ones included, can open TCP
 * connections to services listening on the host (through the bridge's gateway address and the host's own
 * addresses): measured on these VMs, see the project's docker-engine reference, "Security finding". Dropping new
 * connections that enter the host from a Docker bridge on the INPUT chain fixes it, while container DNS
 * (127.0.0.11, inside the container) and traffic between a learner's own nodes keep working.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { LABEL, LABEL_ENV, LABEL_POOL } from './client.js';
import { XenlabError } from '../../errors/index.js';

/** Interfaces Docker attaches containers through: user bridges, the default bridge, swarm's gateway bridge. */
export const BRIDGE_INTERFACES = ['br-+', 'docker0', 'docker_gwbridge'] as const;

/** The iptables rule (without `-I`/`-C`) that drops new connections from one bridge interface to the host. */
export function inputRule(iface: string): string[] {
  return ['INPUT', '-i', iface, '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP'];
}

/** What {@link hostFirewall} found or did. */
export interface FirewallState {
  readonly ok: boolean;
  /** Interfaces whose rule is missing (after applying, when asked to apply). */
  readonly missing: readonly string[];
  readonly message: string;
}

/**
 * Checks (and with `apply`, inserts) the INPUT rules that stop containers reaching host services. Needs the
 * gateway to run on the engine's host with iptables and root; a remote engine has to be set up by its operator.
 */
export function hostFirewall(apply: boolean): FirewallState {
  const run = (args: string[]) =>
    spawnSync('iptables', ['-w', '5', ...args], { encoding: 'utf8', timeout: 10_000 });
  const probe = run(['-S', 'INPUT']);
  if (probe.error || probe.status !== 0) {
    return {
      ok: false,
      missing: [...BRIDGE_INTERFACES],
      message: `iptables is not usable here (${probe.error?.message ?? probe.stderr.trim()}); containers may reach host services`,
    };
  }
  const missing: string[] = [];
  for (const iface of BRIDGE_INTERFACES) {
    if (run(['-C', ...inputRule(iface)]).status === 0) continue;
    if (apply && run(['-I', ...inputRule(iface)]).status === 0) continue;
    missing.push(iface);
  }
  return missing.length === 0
    ? { ok: true, missing, message: 'new connections from Docker bridges to the host are dropped' }
    : {
        ok: false,
        missing,
        message:
          `containers could reach host services: no INPUT drop rule for ${missing.join(', ')} ` +
          `(iptables -I ${inputRule(missing[0] ?? 'br-+').join(' ')})`,
      };
}

/** Options of an environment network. */
export interface NetworkOptions {
  /** Allow traffic out of the host (package mirrors…); off by default: no egress, nothing to mine with. */
  readonly egress?: boolean;
  /** Swarm mode: an attachable overlay network instead of a bridge. */
  readonly overlay?: boolean;
  /** Extra labels (environment id, pool marker). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * IPv4 /16 that bridge networks are carved from, as /26s (1024 learners, 61 hosts each). Docker 20.10's default
   * pools hand out /16s and /20s and run out after about 31 networks, far below a room; `10.213.0.0/16` by default.
   */
  readonly subnetPool?: string;
}

/** A random /26 inside a /16 given as `a.b.0.0/16`. */
function randomSubnet(pool: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/.exec(pool);
  if (!m)
    throw new XenlabError('SANDBOX_ERR_BAD_OPTION', `subnetPool must look like 10.213.0.0/16 (got ${pool})`);
  const n = randomBytes(2).readUInt16BE(0) % 1024;
  return `${m[1] ?? ''}.${m[2] ?? ''}.${Math.floor(n / 4)}.${(n % 4) * 64}/26`;
}

/** Creates a fresh private network for one environment; returns its name. */
export async function createEnvNetwork(docker: Docker, options: NetworkOptions = {}): Promise<string> {
  const name = `xenlab-net-${randomBytes(6).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await docker.createNetwork({
        Name: name,
        Driver: options.overlay ? 'overlay' : 'bridge',
        Attachable: options.overlay === true,
        Internal: options.egress !== true,
        CheckDuplicate: true,
        Labels: { [LABEL]: '1', ...options.labels },
        // Overlay networks come from swarm's own 10.0.0.0/8 pool in /24s, which is big enough.
        ...(options.overlay
          ? {}
          : {
              IPAM: {
                Driver: 'default',
                Config: [{ Subnet: randomSubnet(options.subnetPool ?? '10.213.0.0/16') }],
              },
            }),
      });
      return name;
    } catch (err) {
      // Two environments drew the same /26: draw again.
      if (attempt < 20 && /overlap/i.test((err as Error).message)) continue;
      throw err;
    }
  }
}

/** Removes a network, ignoring one that is already gone. */
export async function removeNetwork(docker: Docker, name: string): Promise<void> {
  await docker
    .getNetwork(name)
    .remove()
    .catch(() => undefined); // deliberate: already gone (or removed with its environment)
}

/** Names of the xenlab networks a container is attached to. */
export async function networksOf(docker: Docker, container: Docker.Container): Promise<string[]> {
  const info = await container.inspect();
  const names = Object.keys(info.NetworkSettings.Networks);
  const ours = await docker.listNetworks({ filters: JSON.stringify({ label: [`${LABEL}=1`] }) });
  const mine = new Set(ours.map((n) => n.Name));
  return names.filter((n) => mine.has(n));
}

export { LABEL_ENV, LABEL_POOL };
