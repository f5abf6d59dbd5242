/**
 * A network of its own per environment (root only): a named network namespace (`ip netns`) holding nothing but
 * `lo`, where the environment's pool appears at 127.0.0.1:<pool port>, as on the host. A short-lived helper started
 * inside the namespace listens on that address and hands the listening socket to the gateway over Node's IPC; the
 * gateway pipes each connection to the simulator on the host's loopback. Nothing else is reachable from inside:
 * not the gateway, not other learners' pools, not the host's services, not the internet.
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { XenlabError } from '../../errors/index.js';

const run = (cmd: string, args: readonly string[]): { ok: boolean; err: string } => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, err: r.stderr.trim() !== '' ? r.stderr.trim() : (r.error?.message ?? '') };
};

/** The namespace name of an environment (`xenlab-` and 12 hex digits of its id's hash). */
export const netnsName = (id: string): string =>
  `xenlab-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;

/** Where `ip netns` keeps a namespace (what `nsenter --net=` takes). */
export const netnsPath = (name: string): string => `/run/netns/${name}`;

/** True when we may make network namespaces and enter them (root, `ip` and `nsenter` present). */
export function netnsWork(): boolean {
  if (process.getuid?.() !== 0) return false;
  const name = `xenlab-probe-${String(process.pid)}`;
  const ok = run('ip', ['netns', 'add', name]).ok;
  if (!ok) return false;
  const entered = run('nsenter', [`--net=${netnsPath(name)}`, 'true']).ok;
  run('ip', ['netns', 'delete', name]);
  return entered;
}

/** The helper run inside the namespace: listen on 127.0.0.1:<port>, hand the socket over, exit. */
const LISTENER = `const net=require('node:net');const s=net.createServer();s.on('error',(e)=>{console.error(String(e));process.exit(3)});s.listen(Number(process.argv[1]),'127.0.0.1',()=>process.send('listener',s,()=>process.exit(0)));`;

/** A listening socket on 127.0.0.1:port inside the namespace, usable by the gateway. */
function listenInside(path: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${path}`, process.execPath, '-e', LISTENER, String(port)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('message', (m, handle) => {
      if (m === 'listener' && handle instanceof net.Server) {
        clearTimeout(timer);
        resolve(handle);
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      // After a handle arrived this is a no-op.
      reject(
        new XenlabError(
          'SANDBOX_ERR_NETWORK',
          `no listener for the pool in ${path} (exit ${String(code)}): ${err.trim()}`,
        ),
      );
    });
  });
}

/** An environment's network namespace and the pool's way in. */
export class EnvironmentNetwork {
  readonly name: string;
  readonly path: string;
  readonly #servers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();

  private constructor(name: string) {
    this.name = name;
    this.path = netnsPath(name);
  }

  /**
   * Makes (or, after a gateway restart, reuses) the environment's namespace, brings `lo` up and, with a pool,
   * relays 127.0.0.1:<pool port> inside to the same port on the host's loopback (and so for the ports of the
   * environment's other pools).
   * @throws Error `SANDBOX_ERR_NETWORK` when the namespace or the relay can not be made.
   */
  static async open(
    id: string,
    poolPort?: number,
    otherPorts: readonly number[] = [],
  ): Promise<EnvironmentNetwork> {
    const n = new EnvironmentNetwork(netnsName(id));
    if (!existsSync(n.path)) {
      const add = run('ip', ['netns', 'add', n.name]);
      if (!add.ok && !existsSync(n.path))
        throw new XenlabError('SANDBOX_ERR_NETWORK', `ip netns add ${n.name}: ${add.err}`);
    }
    const lo = run('ip', ['-n', n.name, 'link', 'set', 'lo', 'up']);
    if (!lo.ok) throw new XenlabError('SANDBOX_ERR_NETWORK', `ip -n ${n.name} link set lo up: ${lo.err}`);
    for (const port of poolPort === undefined ? [] : [poolPort, ...otherPorts]) {
      const server = await listenInside(n.path, port);
      server.on('connection', (inside: net.Socket) => {
        const host = net.connect(port, '127.0.0.1');
        n.#sockets.add(inside);
        n.#sockets.add(host);
        const end = () => {
          inside.destroy();
          host.destroy();
          n.#sockets.delete(inside);
          n.#sockets.delete(host);
        };
        inside.on('error', end).on('close', end);
        host.on('error', end).on('close', end);
        inside.pipe(host).pipe(inside);
      });
      server.on('error', () => undefined);
      n.#servers.push(server);
    }
    return n;
  }

  /** Stops relaying (the namespace stays, for a gateway restart). */
  close(): void {
    for (const s of this.#servers) s.close();
    this.#servers.length = 0;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  /** Stops relaying and deletes the namespace. */
  remove(): void {
    this.close();
    run('ip', ['netns', 'delete', this.name]);
  }
}
