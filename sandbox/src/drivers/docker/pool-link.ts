/**
 * The link from one environment's network to its learner's pool.
 *
 * The learner's simulator listens on the gateway host's loopback, which containers can't reach, and the host's INPUT
 * rules (networks.ts) drop every new connection from a Docker bridge to the host. A link is a TCP relay that listens
 * on the environment network's gateway address (the host's end of that bridge), plus one ACCEPT rule ahead of the
 * drop rules for exactly that bridge, address and port. Another learner's container enters the host through its own
 * bridge, so the rule doesn't match it and the drop rule still applies; nothing else of the host becomes reachable.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type Docker from 'dockerode';
import type { PoolAddress } from '../pool-access.js';
import { XenlabError } from '../../errors/index.js';

/** Connections one environment may hold open to its pool at once (`xe` uses one per call, events one more). */
export const MAX_LINK_CONNECTIONS = 64;
/** Marks the rules links insert, so stale ones (a gateway killed mid-run) can be told from the operator's. */
const RULE_COMMENT = 'xenlab-pool-link';

/** A live link: where the environment reaches its pool, and how to take the link down. */
export interface PoolLink extends PoolAddress {
  /** Connections relayed now. */
  readonly connections: number;
  close(): Promise<void>;
}

/** The host's end of a bridge network: its interface name and gateway address. */
export async function bridgeOf(docker: Docker, network: string): Promise<{ iface: string; gateway: string }> {
  const info = (await docker.getNetwork(network).inspect()) as {
    Id: string;
    Driver: string;
    Options?: Record<string, string>;
    IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] };
  };
  if (info.Driver !== 'bridge') {
    throw new XenlabError(
      'SANDBOX_ERR_POOL_LINK',
      `network ${network} is a ${info.Driver} network; the pool link needs a bridge on this host`,
    );
  }
  // Docker gives the bridge the subnet's first address when the network names no gateway (ours don't).
  const config = info.IPAM?.Config?.find((c) => c.Gateway ?? c.Subnet?.includes('.'));
  const gateway = config?.Gateway ?? (config?.Subnet ? firstHost(config.Subnet) : undefined);
  if (!gateway) throw new XenlabError('SANDBOX_ERR_POOL_LINK', `network ${network} has no gateway address`);
  const iface = info.Options?.['com.docker.network.bridge.name'] ?? `br-${info.Id.slice(0, 12)}`;
  return { iface, gateway };
}

/** The first host address of an IPv4 subnet `a.b.c.d/len`. */
export function firstHost(cidr: string): string {
  const [ip = '', len = '32'] = cidr.split('/');
  const n = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(len));
  const first = n - (n % size) + 1;
  return [2 ** 24, 2 ** 16, 2 ** 8, 1].map((d) => Math.floor(first / d) % 256).join('.');
}

function acceptRule(iface: string, address: string, port: number): string[] {
  return [
    'INPUT',
    '-i',
    iface,
    '-d',
    address,
    '-p',
    'tcp',
    '--dport',
    String(port),
    '-m',
    'comment',
    '--comment',
    RULE_COMMENT,
    '-j',
    'ACCEPT',
  ];
}

const iptables = (args: string[]) =>
  spawnSync('iptables', ['-w', '5', ...args], { encoding: 'utf8', timeout: 10_000 });

/** Removes link rules of an interface left by an earlier gateway (its relays are gone with it). */
export function dropStaleRules(iface: string): void {
  const listed = iptables(['-S', 'INPUT']);
  if (listed.status !== 0) return;
  for (const line of listed.stdout.split('\n')) {
    if (!line.includes(RULE_COMMENT) || !line.includes(`-i ${iface} `)) continue;
    const args = line.replace(/^-A /, '').split(' ').filter(Boolean);
    // The comment is printed quoted only when it has spaces; ours has none.
    iptables(['-D', ...args]);
  }
}

/**
 * Opens the link of one environment's network to a pool on the host's loopback.
 * @example
 * const link = await openPoolLink(docker, 'xenlab-net-0a1b2c', 40123);
 * // inside the environment: curl http://${link.host}:${link.port}/
 */
export async function openPoolLink(docker: Docker, network: string, poolPort: number): Promise<PoolLink> {
  const { iface, gateway } = await bridgeOf(docker, network);
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (inside) => {
    if (sockets.size >= MAX_LINK_CONNECTIONS) {
      inside.destroy();
      return;
    }
    const pool = connect({ host: '127.0.0.1', port: poolPort, noDelay: true });
    sockets.add(inside);
    sockets.add(pool);
    const end = () => {
      inside.destroy();
      pool.destroy();
      sockets.delete(inside);
      sockets.delete(pool);
    };
    inside.on('error', end).on('close', end);
    pool.on('error', end).on('close', end);
    inside.pipe(pool);
    pool.pipe(inside);
  });
  server.maxConnections = MAX_LINK_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        new XenlabError(
          'SANDBOX_ERR_POOL_LINK',
          `can't listen on ${gateway} (${err.message}); the engine must run on this host`,
        ),
      );
    });
    server.listen({ host: gateway, port: 0 }, resolve);
  });
  const port = (server.address() as { port: number }).port;
  dropStaleRules(iface);
  const rule = acceptRule(iface, gateway, port);
  const added = iptables(['-I', ...rule]);
  if (added.status !== 0) {
    server.close();
    throw new XenlabError(
      'SANDBOX_ERR_POOL_LINK',
      `can't let ${iface} reach the pool (iptables: ${added.error?.message ?? added.stderr.trim()}); run the gateway as root`,
    );
  }
  let closed = false;
  return {
    host: gateway,
    port,
    get connections() {
      return sockets.size / 2;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      iptables(['-D', ...rule]);
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
