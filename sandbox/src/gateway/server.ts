import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GatewayError, PATHS } from '../protocol/index.js';
import type { SandboxDriver } from '../drivers/types.js';
import type { DriverRegistry } from '../drivers/index.js';
import { LABS_DIR } from '../labs/index.js';
import { createLabProvisioner, type LabProvisioner } from '../lab-runtime/index.js';
import { EnvironmentManager, type Provisioner } from '../sessions/index.js';
import { Learners, openStore, type Db } from '../store/index.js';
import { createHandlerKit, json, pathOf } from './http.js';
import { Instructor } from './instructor.js';
import { instructorApi } from './instructor-api.js';
import { learnerRoutes } from './learner-api.js';
import { DEFAULT_LIMITS, RateLimiter, capConnections, type GatewayLimits } from './limits.js';
import { OriginPolicy } from './origins.js';
import { progressRoutes } from './progress-api.js';
import { paceRoutes } from './pace-api.js';
import { Pacing } from './pacing.js';
import { RoomModes } from './modes.js';
import { RoomCapacity } from './room-capacity.js';
import type { HostFacts } from '../sessions/capacity.js';
import { createRouter } from './router.js';
import { persistentSecret } from './secrets.js';
import { pageSetsCookie, sessionCookie } from './session-cookie.js';
import { createSockets } from './sockets.js';
import { createStaticSite } from './static-site.js';
import { ResumeCodes, TicketIssuer, newSessionId } from './tickets.js';
import { createUpgrades } from './upgrade.js';

export interface GatewayOptions {
  /** Address to bind; loopback unless told otherwise. */
  host?: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** The built course site (`site/dist`); without it only the API and WebSocket are served. */
  siteDir?: string;
  /** Where learners' scratch homes live. */
  dataDir: string;
  /** Runs the shells of lesson pages (the playground) and of labs whose driver is `local`. */
  driver: SandboxDriver;
  /** Where labs naming another driver (docker, qemu-xen) get theirs (default: a registry around `driver`). */
  drivers?: DriverRegistry;
  /** Origins allowed besides the gateway's own (e.g. the Astro dev server's). */
  allowedOrigins?: readonly string[];
  /** Lifetime of a WebSocket ticket (ms). */
  ticketTtlMs?: number;
  /** Interval between WebSocket pings; a socket that missed the previous pong is terminated. */
  heartbeatMs?: number;
  /** The course code learners must enter to join; none (the default) = self-paced, everyone joins at once. */
  courseCode?: string;
  /** SQLite state file (default `<dataDir>/xenlab.db`). */
  dbPath?: string;
  /** How long a terminal keeps running with no page attached (default 30 min). */
  graceMs?: number;
  /** Idle time before an environment is culled (default 60 min), and the warning before it (default 5 min). */
  idleMs?: number;
  warnMs?: number;
  /**
   * Brings up an environment's parts. The default: labs from `labsDir` get their lab environment (scenario,
   * parameters, grader); anything else the learner's own default pool and a driver sandbox.
   */
  provision?: Provisioner;
  /** Where the labs live (default: the repository's `labs/`). */
  labsDir?: string;
  /** How often lab graders poll besides following events (ms; the grader's default when absent). */
  labPollMs?: number;
  /**
   * The secret of the instructor's link, at least 16 characters (default: one made on first start and kept in
   * `<dataDir>/instructor-key`, mode 0600, so the printed link stays valid across restarts; see `instructorUrl`).
   */
  instructorKey?: string;
  /** Connection caps, timeouts, body size, rates: see {@link GatewayLimits} (defaults fit a room behind one NAT). */
  limits?: GatewayLimits;
  /**
   * Environments that may run at once per driver, replacing the limits measured from this machine (`--capacity
   * qemu-xen=6,local=80`, `XENLAB_CAPACITY`); beyond them learners wait in line (see `room-capacity.ts`).
   */
  capacity?: ReadonlyMap<string, number>;
  /** The machine the measured limits come from (default: measured at start; tests give their own). */
  hostFacts?: HostFacts;
  /** Where a request that failed is reported (default: console.error); the gateway answers 500 and carries on. */
  logError?: (what: string, err: unknown) => void;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Number of live terminals (shells running now). */
  readonly terminals: number;
  /** Number of shells ever started: a refused upgrade must never change it. */
  readonly spawned: number;
  readonly environments: EnvironmentManager;
  /** Live lab environments (grader, parameters) by environment id. */
  readonly labs: LabProvisioner;
  readonly db: Db;
  /** The instructor's link: opening it makes that browser the instructor's (room view, broadcast, watching). */
  readonly instructorUrl: string;
  /** The room's pacing: locked labs, "everyone to lab N", the countdown (durable in `db`). */
  readonly pacing: Pacing;
  /** Each lab's mode: individual, shared demo, tables of N (durable in `db`). */
  readonly modes: RoomModes;
  /** Admission control and the line (limits per driver, places, estimates). */
  readonly capacity: RoomCapacity;
  /** Open TCP connections (HTTP and WebSocket) now. */
  readonly connections: number;
  /** Files the static site holds in memory (found files only: misses are never cached). */
  readonly staticCacheEntries: number;
  close(): Promise<void>;
}

/**
 * Starts the gateway: one HTTP server for the built site, the learner's and instructor's APIs (`learner-api.ts`,
 * `instructor-api.ts`, routed by `router.ts`) and the WebSockets (`upgrade.ts`, `sockets.ts`).
 *
 * Every upgrade is checked (Host, Origin, a single-use ticket bound to the browser's session cookie) before the
 * WebSocket is accepted, so a refused client never gets a shell.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const host = options.host ?? '127.0.0.1';
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const logError =
    options.logError ??
    ((what: string, err: unknown) => {
      console.error(`xenlab: ${what} failed:`, err);
    });
  if (options.instructorKey !== undefined && options.instructorKey.length < 16)
    throw new Error('the instructor key must be at least 16 characters long');

  // State: the store, environments (with labs), tickets, secrets kept in the data dir.
  const tickets = new TicketIssuer(options.ticketTtlMs === undefined ? {} : { ttlMs: options.ticketTtlMs });
  const site = options.siteDir ? createStaticSite(options.siteDir) : undefined;
  const db = openStore(options.dbPath ?? join(options.dataDir, 'xenlab.db'));
  const learners = new Learners(db);
  const labs: LabProvisioner = createLabProvisioner({
    driver: options.driver,
    ...(options.drivers ? { drivers: options.drivers } : {}),
    db,
    ...(options.labsDir ? { labsDir: options.labsDir } : {}),
    ...(options.labPollMs === undefined ? {} : { pollMs: options.labPollMs }),
  });
  const environments = new EnvironmentManager({
    db,
    driver: options.driver,
    dataDir: options.dataDir,
    ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
    ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
    ...(options.warnMs === undefined ? {} : { warnMs: options.warnMs }),
    maxLivePerLearner: limits.liveEnvironmentsPerLearner,
    provision: options.provision ?? labs.provision,
  });
  const instructorKey =
    options.instructorKey ??
    persistentSecret(options.dataDir, 'instructor-key', () => randomBytes(18).toString('base64url'));
  const resumeCodes = new ResumeCodes(
    Buffer.from(
      persistentSecret(options.dataDir, 'resume-key', () => randomBytes(32).toString('base64url')),
      'utf8',
    ),
  );
  const instructor = new Instructor({
    key: instructorKey,
    db,
    environments,
    labsDir: options.labsDir ?? LABS_DIR,
  });
  const pacing = new Pacing(db, () => instructor.labs());
  const modes = new RoomModes(db);
  const capacity = new RoomCapacity({
    db,
    environments,
    labsDir: options.labsDir ?? LABS_DIR,
    ...(options.capacity ? { overrides: options.capacity } : {}),
    ...(options.hostFacts ? { host: options.hostFacts } : {}),
    ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
  });

  // Limits per address: new learners, and wrong guesses (resume codes and instructor keys share one budget).
  const newLearners = new RateLimiter(limits.newLearnersPerIpPerMinute);
  const guesses = new RateLimiter(limits.guessesPerIpPerMinute);
  // The gateway's own origin is known once it listens (its port): until then, no origin is ours.
  let policy = new OriginPolicy([]);
  const kit = createHandlerKit({ policy: () => policy, maxBodyBytes: limits.maxBodyBytes, logError });

  const sockets = createSockets(options.heartbeatMs ?? 30_000);
  const upgrades = createUpgrades({
    policy: () => policy,
    tickets,
    learners,
    environments,
    labs,
    instructor,
    pacing,
    sockets,
    modes,
    capacity,
    driver: options.driver,
    liveEnvironmentsPerLearner: limits.liveEnvironmentsPerLearner,
    logError,
  });
  const instructorEndpoints = instructorApi({
    kit,
    instructor,
    environments,
    guesses,
    pacing,
    modes,
    capacity,
  });
  const route = createRouter(
    [
      ...learnerRoutes({
        kit,
        learners,
        tickets,
        resumeCodes,
        instructor,
        courseCode: options.courseCode ?? '',
        driver: options.driver,
        newLearners,
        guesses,
        pacing,
      }),
      ...paceRoutes(pacing),
      ...instructorEndpoints.routes,
      ...progressRoutes({ learners, db }),
      {
        methods: ['GET', 'HEAD'],
        path: '/api/health',
        handle: (_req, res) => {
          const { name, jailed } = options.driver;
          json(res, 200, { ok: true, driver: name, jailed, terminals: upgrades.terminals });
        },
      },
    ],
    [instructorEndpoints.gate],
  );

  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const server = createServer(
    {
      noDelay: true,
      maxHeaderSize: 16 * 1024,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often slow requests and silent new connections are looked for.
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(headersTimeout / 4))),
    },
    kit.guard((req, res) => {
      if (!policy.allowsHost(req.headers.host)) {
        json(res, 403, { code: GatewayError.BAD_HOST, message: 'unknown Host header' });
        return;
      }
      const path = pathOf(req);
      if (route(req, res, path)) return;
      if (pageSetsCookie(req, path)) res.setHeader('Set-Cookie', sessionCookie(newSessionId()));
      if (site?.(req, res)) return;
      json(res, 404, { code: GatewayError.NOT_FOUND, message: 'not found' });
    }),
  );
  const connections = capConnections(server, limits);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });
  server.on('upgrade', upgrades.onUpgrade);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  policy = OriginPolicy.forListen(host, port, options.allowedOrigins ?? []);
  const shown = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${shown}:${port}`,
    port,
    server,
    get terminals() {
      return upgrades.terminals;
    },
    get spawned() {
      return upgrades.spawned;
    },
    get connections() {
      return connections.open;
    },
    get staticCacheEntries() {
      return site?.cacheEntries ?? 0;
    },
    environments,
    labs,
    db,
    pacing,
    modes,
    capacity,
    instructorUrl: `http://${shown}:${port}${PATHS.instructorLink}?key=${instructorKey}`,
    close: () =>
      (closing ??= (async () => {
        sockets.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
        // Simulators save their pools; environment records stay active so learners get them back.
        await environments.close();
        db.close();
      })()),
  };
}
