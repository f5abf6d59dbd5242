import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { GatewayError, PATHS, PLAYGROUND_LAB, isName } from '../protocol/index.js';
import { LAB_PATH } from '../protocol/lab.js';
import type { SandboxDriver } from '../drivers/types.js';
import { attachLabChannel } from '../grading/index.js';
import type { LabProvisioner } from '../lab-runtime/index.js';
import { EnvironmentManager } from '../sessions/index.js';
import type { Learners } from '../store/index.js';
import { pathOf } from './http.js';
import type { Instructor } from './instructor.js';
import { READ_ONLY_DEMO, readOnlyLab, seatMessage, type RoomModes, type Seat } from './modes.js';
import type { RoomCapacity } from './room-capacity.js';
import type { OriginPolicy } from './origins.js';
import { lockedLab, type Pacing } from './pacing.js';
import { readSession } from './session-cookie.js';
import type { Sockets } from './sockets.js';
import { labStarting, openShowingStart } from './starting.js';
import { linkTerminal } from './terminal-link.js';
import type { TicketIssuer } from './tickets.js';

/** What the WebSocket upgrades need. */
export interface UpgradeDeps {
  /** The origin policy: it knows the gateway's own origin once the server listens, so ask it per upgrade. */
  policy(): OriginPolicy;
  readonly tickets: TicketIssuer;
  readonly learners: Learners;
  readonly environments: EnvironmentManager;
  readonly labs: LabProvisioner;
  readonly instructor: Instructor;
  /** Locked labs are refused (423 GATEWAY_ERR_LAB_LOCKED); terminals get the room's pacing pushed. */
  readonly pacing: Pacing;
  readonly sockets: Sockets;
  /** The instructor's mode per lab: whose environment a page opens (own, the shared demo, the table's). */
  readonly modes: RoomModes;
  /** Admission control: environments beyond the machine's capacity wait in line. */
  readonly capacity: RoomCapacity;
  /** The default driver (lesson pages and `local` labs). */
  readonly driver: SandboxDriver;
  /** For the refusal's message: how many labs a learner may have open. */
  readonly liveEnvironmentsPerLearner: number;
  readonly logError: (what: string, err: unknown) => void;
}

export interface Upgrades {
  /** The server's 'upgrade' listener: never throws, never leaves a socket without an error listener. */
  readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Live terminals (shells running now). */
  readonly terminals: number;
  /** Shells ever started: a refused upgrade never changes it. */
  readonly spawned: number;
}

/** Refuses an upgrade with a plain HTTP answer, before any WebSocket (or shell) exists. */
function refuse(socket: Duplex, status: number, code: GatewayError, message: string): void {
  const body = JSON.stringify({ code, message });
  const reason =
    status === 401
      ? 'Unauthorized'
      : status === 404
        ? 'Not Found'
        : status === 429
          ? 'Too Many Requests'
          : status === 423
            ? 'Locked'
            : 'Forbidden';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * The WebSocket endpoints: `/ws/terminal` (a learner's shell, or `?watch=` for the instructor) and `/ws/lab` (the
 * lab panel's channel). Every upgrade is checked — Host, Origin (exact allowlist), a single-use ticket bound to the
 * session cookie, a joined learner, the live-environment cap — before it is accepted, so a refused client never
 * gets a shell.
 */
export function createUpgrades(d: UpgradeDeps): Upgrades {
  const { environments, labs, sockets } = d;
  let terminals = 0;
  let spawned = 0;

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      refuse(socket, 404, GatewayError.BAD_MESSAGE, 'bad request URL');
      return;
    }
    if (url.pathname !== PATHS.terminal && url.pathname !== LAB_PATH) {
      refuse(socket, 404, GatewayError.BAD_MESSAGE, 'no WebSocket endpoint here');
      return;
    }
    const policy = d.policy();
    if (!policy.allowsHost(req.headers.host)) {
      refuse(socket, 403, GatewayError.BAD_HOST, 'unknown Host header');
      return;
    }
    if (!policy.allowsOrigin(req.headers.origin)) {
      refuse(
        socket,
        403,
        GatewayError.BAD_ORIGIN,
        `origin ${req.headers.origin ?? '(none)'} may not open terminals here`,
      );
      return;
    }
    const check = d.tickets.redeem(url.searchParams.get('token'), readSession(req));
    if (!check.ok) {
      refuse(socket, 401, check.code, check.reason);
      return;
    }
    const watch = url.searchParams.get('watch');
    if (watch !== null && url.pathname === PATHS.terminal) {
      watchTerminal(req, socket, head, watch, url.searchParams.get('terminal') ?? 'main');
      return;
    }
    const learner = d.learners.bySession(check.sessionId);
    const lab = url.searchParams.get('lab') ?? PLAYGROUND_LAB;
    const name = url.searchParams.get('terminal') ?? 'main';
    const instructor = d.instructor.recognises(req);
    // The instructor's browser is no learner: it opens the shared demo it drives, nothing else of its own.
    if (!learner && !(instructor && isName(lab) && d.modes.get(lab).mode === 'demo')) {
      refuse(socket, 403, GatewayError.NOT_JOINED, 'join the course first');
      return;
    }
    if (!isName(lab) || !isName(name)) {
      refuse(socket, 404, GatewayError.BAD_TARGET, 'lab and terminal names are kebab-case');
      return;
    }
    // A lab the instructor locked: no environment is made (the instructor may still open it, to prepare).
    if (d.pacing.isLocked(lab) && !d.instructor.recognises(req)) {
      const { code, message } = lockedLab();
      refuse(socket, 423, code, message);
      return;
    }
    // Whose environment this page opens: the learner's, the instructor's shared demo, or their table's.
    const learnerId = learner?.id ?? '';
    const seat = d.modes.seat(learnerId, lab, instructor);
    if (!environments.admits(seat.owner, lab)) {
      refuse(
        socket,
        429,
        GatewayError.TOO_MANY_ENVIRONMENTS,
        `you have ${String(d.liveEnvironmentsPerLearner)} labs open already: close the page of one of them first`,
      );
      return;
    }
    if (url.pathname === LAB_PATH) labChannel(req, socket, head, learnerId, lab, seat);
    else terminal(req, socket, head, learnerId, lab, name, seat);
  };

  /**
   * Every page of a lab: a mode change for its lab closes it (1012, the page reconnects to its new seat: its own
   * environment, the demo, a table); someone sitting down at its table resends the seat (`send`).
   */
  const followSeat = (ws: WebSocket, lab: string, seat: Seat, send?: () => void) => {
    const off = d.modes.subscribe((e) => {
      if (e.lab !== lab) return;
      if (e.kind === 'mode') {
        if (ws.readyState === ws.OPEN) ws.close(1012, 'the lab mode changed');
      } else if (seat.table === e.table) send?.();
    });
    ws.once('close', off);
  };

  /**
   * The lab panel's channel. It waits for the environment (a nested-Xen lab takes a while to boot); meanwhile the
   * page hears what is starting (lab.starting); a driver that cannot run here is a permanent
   * LAB_ERR_DRIVER_UNAVAILABLE (close 4003).
   */
  const labChannel = (
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    learnerId: string,
    lab: string,
    seat: Seat,
  ) => {
    sockets.accept(req, socket, head, (ws) => {
      const envId = EnvironmentManager.idFor(seat.owner, lab);
      const sendSeat = () => {
        const v = seatMessage(d.modes, seat, lab, learnerId);
        if (v && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'lab.seat', ...v }));
      };
      sendSeat();
      followSeat(ws, lab, seat, sendSeat);
      attachLabChannel(
        ws,
        labStarting(
          ws,
          (l) => labs.watchStart(envId, l),
          d.capacity.open(ws, 'lab', seat.owner, lab, envId).then(async (env) => {
            const labEnv = await labs.environment(env.row.id);
            if (!labEnv) throw new Error(`"${lab}" is not a lab`);
            return seat.readOnly ? readOnlyLab(labEnv) : labEnv;
          }),
        ),
      );
    });
  };

  /** A learner's terminal: the shell starts on `term.hello`, in the learner's environment of that lab. */
  const terminal = (
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    learnerId: string,
    lab: string,
    name: string,
    seat: Seat,
  ) => {
    sockets.accept(req, socket, head, (ws) => {
      const envId = EnvironmentManager.idFor(seat.owner, lab);
      const seatListeners = new Set<() => void>();
      followSeat(ws, lab, seat, () => {
        for (const l of seatListeners) l();
      });
      linkTerminal(ws, async (size) => {
        // While a slow driver brings the lab up the page sees the boot (console, ETA); a driver that cannot run
        // here is refused for good (GATEWAY_ERR_DRIVER_UNAVAILABLE, close 4003).
        // Beyond the machine's capacity the page waits in line first (env.queued: its place, about how long).
        const env = await openShowingStart(
          ws,
          (l) => labs.watchStart(envId, l),
          d.capacity.open(ws, 'terminal', seat.owner, lab, envId),
        );
        // The driver this environment runs on (a lab's own, or the default one).
        const driver = labs.driverOf(env.row.id) ?? d.driver;
        // A lab names its terminals (and the node each runs on); other names are refused.
        const labEnv = await labs.environment(env.row.id);
        let node: string | undefined;
        if (labEnv) {
          const spec =
            labEnv.terminals.find((t) => t.name === name) ??
            (name === 'main' ? labEnv.terminals[0] : undefined);
          if (!spec) throw new Error(`this lab has no terminal named "${name}"`);
          node = spec.node;
        }
        const before = env.terminals.get(name);
        const fresh = !before || before.exited;
        const shared = environments.terminal(env, name, size, node);
        if (fresh) {
          terminals++;
          spawned++;
          shared.onEnd(() => {
            terminals--;
          });
        }
        const notices = [
          driver.notice,
          fresh && env.revived && !env.announced && !seat.readOnly
            ? 'Welcome back: this is a new shell. Your files and your pool are as you left them.'
            : undefined,
        ].filter(Boolean);
        if (fresh && !seat.readOnly) env.announced = true;
        return {
          terminal: shared,
          driver: driver.name,
          jailed: driver.jailed,
          lab,
          name,
          notice: notices.length ? notices.join(' ') : undefined,
          activity: () => {
            if (!seat.readOnly) environments.activity(env);
          },
          subscribe: (l) => {
            env.listeners.add(l);
            return () => env.listeners.delete(l);
          },
          pace: d.pacing,
          ...(seat.readOnly ? { readOnly: true, readOnlyRefusal: READ_ONLY_DEMO } : {}),
          ...(seat.mode === 'individual'
            ? {}
            : {
                seat: {
                  view: () => seatMessage(d.modes, seat, lab, learnerId),
                  subscribe: (l: () => void) => {
                    seatListeners.add(l);
                    return () => seatListeners.delete(l);
                  },
                },
              }),
        };
      });
    });
  };

  /** An instructor watching a learner's running terminal: read-only, and only a terminal that already runs. */
  const watchTerminal = (req: IncomingMessage, socket: Duplex, head: Buffer, envId: string, name: string) => {
    if (!d.instructor.recognises(req)) {
      refuse(socket, 403, GatewayError.NOT_INSTRUCTOR, 'only the instructor can watch terminals');
      return;
    }
    const env = environments.find(envId);
    const watched = env?.terminals.get(name);
    if (!env || !watched || watched.exited) {
      refuse(socket, 404, GatewayError.BAD_TARGET, 'that terminal is not running');
      return;
    }
    sockets.accept(req, socket, head, (ws) => {
      linkTerminal(ws, () =>
        Promise.resolve({
          terminal: watched,
          driver: (labs.driverOf(env.row.id) ?? d.driver).name,
          jailed: (labs.driverOf(env.row.id) ?? d.driver).jailed,
          lab: env.row.labId,
          name,
          notice: undefined,
          activity: () => undefined,
          subscribe: () => () => undefined,
          readOnly: true,
        }),
      );
    });
  };

  return {
    onUpgrade: (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      try {
        upgrade(req, socket, head);
      } catch (err) {
        d.logError(`upgrade ${pathOf(req)}`, err);
        socket.destroy();
      }
    },
    get terminals() {
      return terminals;
    },
    get spawned() {
      return spawned;
    },
  };
}
