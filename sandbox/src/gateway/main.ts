import { existsSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDriverRegistry, DriverUnavailableError } from '../drivers/index.js';
import { createLearnerLocalDriver } from '../drivers/local/learner-tools.js';
import type { SandboxDriver } from '../drivers/types.js';
import { createGateway } from './server.js';
import type { Gateway } from './server.js';
import { PATHS } from '../protocol/index.js';
import { LIMIT_ENV, type GatewayLimits } from './limits.js';
import { parseCapacity } from '../sessions/capacity.js';
import { configureLogging, logErrorTo, logOptionsFrom } from '../log/index.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, seen from sandbox/dist/gateway (compiled) or sandbox/src/gateway (tests). */
const repoRoot = resolve(here, '..', '..', '..');

export interface ServeIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

export const SERVE_HELP = `Usage: xenlab serve [--port N] [--host ADDR] [--data-dir DIR] [--site-dir DIR] [--jail auto|off|required]

Runs the course site and the terminal gateway.
  --port N        port to listen on (env PORT; default 4321; 0 picks a free port)
  --host ADDR     address to bind (env HOST; default 127.0.0.1). Binding elsewhere exposes shells: set
                  XENLAB_ALLOWED_ORIGINS to the public origin(s) learners use.
  --data-dir DIR  learners' homes and state (env XENLAB_DATA_DIR; default ./.xenlab)
  --site-dir DIR  the built site (default site/dist of this checkout)
  --jail MODE     auto: jail shells with bubblewrap when it works here (default); off: plain shells;
                  required: refuse to start without the jail (env XENLAB_JAIL)
  --course-code C learners must enter C to join (env XENLAB_COURSE_CODE); without it everyone joins at once
                  (the link /join?code=C, printed at start, joins in one click)
                  The instructor view's link is printed at start; XENLAB_INSTRUCTOR_KEY keeps it across restarts.
  --driver NAME   local (default): bash in a bubblewrap jail; docker: hardened containers from the image
                  "xenlab image build" makes (env XENLAB_DRIVER; DOCKER_HOST picks a remote engine)
  --log-level L   fatal, error, warn, info (default), debug, trace or silent (env XENLAB_LOG_LEVEL); logs go to
                  stderr, one readable line each, or JSON lines with XENLAB_LOG_FORMAT=json
  --capacity D=N  environments that may run at once per driver, e.g. qemu-xen=6,local=80 (env XENLAB_CAPACITY);
                  without it the limits are measured from this machine's memory, cores and KVM. Learners beyond
                  them wait in line (their page shows their place and about how long).
Environment: XENLAB_IDLE_MINUTES (default 60) culls idle environments after a 5-minute warning;
XENLAB_GRACE_MINUTES (default 30) keeps a shell running after its page is gone.
Limits (whole numbers): XENLAB_MAX_CONNECTIONS (default 4000), XENLAB_MAX_CONNECTIONS_PER_IP (1000),
XENLAB_NEW_LEARNERS_PER_IP_PER_MINUTE (300), XENLAB_LIVE_ENVIRONMENTS_PER_LEARNER (3).
XENLAB_INSTRUCTOR_KEY (16 characters or more) sets the instructor link's key; without it one is made on first
start and kept in DATA_DIR/instructor-key.`;

/** The first line of the help: shown under every start-up error. */
const USAGE_LINE = SERVE_HELP.split('\n')[0] ?? '';

/** Whether `dir` is (or can be made) a directory this process can write; the reason when not. */
function unusableDir(dir: string): string | null {
  try {
    // One level at a time: a recursive mkdir under /proc never returns (Node loops on its ENOENT).
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = dirname(d)) {
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
    for (const d of missing) mkdirSync(d);
    if (!statSync(dir).isDirectory()) return 'it is not a directory';
    const probe = join(dir, `.xenlab-write-test-${String(process.pid)}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

/** Limits from the environment; an error message for a value that is not a whole number above 0. */
function limitsFromEnv(env: ServeIo['env']): GatewayLimits | string {
  const limits: GatewayLimits = {};
  for (const [key, name] of Object.entries(LIMIT_ENV) as [keyof GatewayLimits, string][]) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    if (!/^\d+$/.test(text) || Number(text) < 1)
      return `${name} must be a whole number above 0, not "${text}"`;
    limits[key] = Number(text);
  }
  return limits;
}

/** An optional duration in minutes from the environment, as gateway options in ms. */
function minutes<K extends 'idleMs' | 'graceMs'>(
  key: K,
  text: string | undefined,
): Partial<Record<K, number>> {
  const n = Number(text);
  return text !== undefined && Number.isFinite(n) && n > 0
    ? ({ [key]: n * 60_000 } as Partial<Record<K, number>>)
    : {};
}

/** `xenlab serve`: parses flags and environment, starts the gateway, prints where it listens. */
export async function serve(argv: readonly string[], io: ServeIo): Promise<Gateway | null> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'site-dir': { type: 'string' },
        jail: { type: 'string' },
        'course-code': { type: 'string' },
        driver: { type: 'string' },
        'log-level': { type: 'string' },
        capacity: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.err(`xenlab serve: ${(err as Error).message}\n\n${SERVE_HELP}`);
    return null;
  }
  if (values.help) {
    io.out(SERVE_HELP);
    return null;
  }
  /** A start-up error: one line, the usage line, no stack; `xenlab serve` exits 2. */
  const bad = (message: string): null => {
    io.err(`xenlab serve: ${message}`);
    io.err(USAGE_LINE);
    return null;
  };
  const portText = values.port ?? io.env.PORT ?? '4321';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    return bad(`--port must be a number from 0 to 65535, not "${portText}"`);
  const jail = values.jail ?? io.env.XENLAB_JAIL ?? 'auto';
  if (jail !== 'auto' && jail !== 'off' && jail !== 'required')
    return bad(`--jail must be auto, off or required, not "${jail}"`);
  for (const name of ['XENLAB_IDLE_MINUTES', 'XENLAB_GRACE_MINUTES']) {
    const text = io.env[name];
    if (text !== undefined && text !== '' && !(Number(text) > 0))
      return bad(`${name} must be a number of minutes above 0, not "${text}"`);
  }
  const limits = limitsFromEnv(io.env);
  if (typeof limits === 'string') return bad(limits);
  let capacity: Map<string, number>;
  try {
    capacity = parseCapacity(values.capacity ?? io.env.XENLAB_CAPACITY ?? '');
  } catch (err) {
    return bad(`--capacity: ${(err as Error).message}`);
  }
  const logOptions = logOptionsFrom(values['log-level'], io.env);
  if (typeof logOptions === 'string') return bad(logOptions);
  const logger = configureLogging(logOptions);
  const instructorKey = io.env.XENLAB_INSTRUCTOR_KEY;
  if (instructorKey !== undefined && instructorKey !== '' && instructorKey.length < 16)
    return bad(
      "XENLAB_INSTRUCTOR_KEY must be at least 16 characters long (it is the instructor link's password)",
    );
  const dataDirArg = values['data-dir'] ?? io.env.XENLAB_DATA_DIR ?? '.xenlab';
  const unusable = unusableDir(resolve(dataDirArg));
  if (unusable !== null)
    return bad(
      `the data directory ${resolve(dataDirArg)} can not be used (${unusable}): give a writable directory`,
    );
  const siteDir = resolve(values['site-dir'] ?? resolve(repoRoot, 'site', 'dist'));
  if (!existsSync(resolve(siteDir, 'index.html'))) {
    io.err(`xenlab serve: no built site at ${siteDir} (run npm run build); serving the API only`);
  }
  const dataDir = resolve(values['data-dir'] ?? io.env.XENLAB_DATA_DIR ?? '.xenlab');
  const driverName = values.driver ?? io.env.XENLAB_DRIVER ?? 'local';
  // One registry: the default driver serves lesson pages and local labs; a lab naming docker or qemu-xen gets
  // that driver (created on first use, shared). The local driver is the learner variant: the toolkit on PATH.
  const drivers = createDriverRegistry({
    local: () => createLearnerLocalDriver({ jail, toolBinDir: resolve(dataDir, 'bin') }),
    docker: { pool: Number(io.env.XENLAB_DOCKER_POOL ?? 0) || 0 },
  });
  if (driverName !== 'local' && driverName !== 'docker') {
    io.err(`xenlab serve: --driver must be local or docker, not "${driverName}"`);
    return null;
  }
  let driver: SandboxDriver;
  try {
    driver = await drivers.get(driverName);
  } catch (err) {
    const why =
      err instanceof DriverUnavailableError ? `${err.code}: ${err.reason}. ${err.fix}` : String(err);
    io.err(`xenlab serve: the ${driverName} driver can not start: ${why}`);
    return null;
  }
  const courseCode = values['course-code'] ?? io.env.XENLAB_COURSE_CODE ?? '';
  const gateway = await createGateway({
    host: values.host ?? io.env.HOST ?? '127.0.0.1',
    port,
    siteDir,
    dataDir,
    driver,
    drivers,
    courseCode,
    ...(io.env.XENLAB_INSTRUCTOR_KEY ? { instructorKey: io.env.XENLAB_INSTRUCTOR_KEY } : {}),
    ...minutes('idleMs', io.env.XENLAB_IDLE_MINUTES),
    ...minutes('graceMs', io.env.XENLAB_GRACE_MINUTES),
    allowedOrigins: (io.env.XENLAB_ALLOWED_ORIGINS ?? '').split(',').filter(Boolean),
    limits,
    ...(capacity.size > 0 ? { capacity } : {}),
    logError: logErrorTo(logger),
  });
  logger.info('gateway listening', { url: gateway.url, driver: driverName });
  io.out(`xenlab listening on ${gateway.url}`);
  if (courseCode)
    io.out(
      `learners join with the code ${courseCode}, or the link ${gateway.url}${PATHS.joinLink}?code=${encodeURIComponent(courseCode)} (use the address they reach)`,
    );
  io.out(`instructor view (keep it to yourself): ${gateway.instructorUrl}`);
  if (driver.notice) io.err(`xenlab: ${driver.notice}`);
  // Labs on the other drivers: said at start, so the instructor fixes it before learners open those labs.
  for (const name of drivers.names().filter((n) => n !== 'local' && n !== driverName)) {
    const a = await drivers.available(name);
    if (!a.ok)
      io.err(`xenlab: labs on the ${name} driver cannot run here (${a.code}): ${a.reason}. ${a.fix}`);
    else if (a.note) io.out(`xenlab: labs on the ${name} driver: ${a.note}`);
  }
  return gateway;
}
