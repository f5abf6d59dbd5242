/**
 * What a lab page sees while its environment comes up, or when it cannot: a nested Xen host boots for a minute or
 * two, so the terminal shows the boot console from its first line with an ETA (`env.starting`) and the task panel
 * says what is starting (`lab.starting`), instead of a blank screen. A lab whose driver cannot run on this machine
 * gets one clear, permanent error (which driver, why, what to do) and a close code that tells the page not to
 * reconnect.
 * @module
 */
import type { WebSocket } from 'ws';
import { DriverUnavailableError } from '../drivers/index.js';
import type { BootEvent, BootListener } from '../drivers/index.js';
import { CLOSE, GatewayError } from '../protocol/index.js';
import type { ServerMessage } from '../protocol/index.js';
import { LabChannelError } from '../protocol/lab.js';
import type { LabServerMessage } from '../protocol/lab.js';

/** Follows an environment's bring-up (`LabProvisioner.watchStart` bound to its id). */
export type WatchStart = (listener: BootListener) => () => void;

/** How often the terminal is told how long is left while a boot goes on. */
const TICK_MS = 15_000;

/** "1 min 20 s", "45 s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60
    ? `${String(Math.floor(s / 60))} min${s % 60 ? ` ${String(s % 60)} s` : ''}`
    : `${String(s)} s`;
}

/** What the learner reads about a phase: "booting a Xen host (software emulation): about 1 min 40 s". */
export function startingLine(e: Extract<BootEvent, { kind: 'starting' }>, now = Date.now()): string {
  if (e.etaMs === undefined) return `${e.what}…`;
  const left = e.startedAt + e.etaMs - now;
  return left > 0
    ? `${e.what}: about ${formatDuration(left)} left`
    : `${e.what}: taking longer than usual (${formatDuration(now - e.startedAt)} so far)`;
}

const isOpen = (ws: WebSocket) => ws.readyState === ws.OPEN;

/**
 * On a terminal socket waiting for its environment: `env.starting` for each phase, and the boot console (plus a
 * line with the time left every 15 s) as output frames. The page clears its screen on `term.ready`, whose replay
 * holds the boot log. Returns the function that stops (call it once the environment is up or failed).
 */
export function showStartOnTerminal(ws: WebSocket, watch: WatchStart): () => void {
  let phase: Extract<BootEvent, { kind: 'starting' }> | undefined;
  const say = (text: string) => {
    if (isOpen(ws)) ws.send(Buffer.from(`\r\n\x1b[33m[xenlab] ${text}\x1b[0m\r\n`), { binary: true });
  };
  const tick = setInterval(() => {
    if (phase?.etaMs !== undefined) say(startingLine(phase));
  }, TICK_MS);
  tick.unref();
  const off = watch((e) => {
    if (!isOpen(ws)) return;
    if (e.kind === 'starting') {
      phase = e;
      const msg: ServerMessage = {
        type: 'env.starting',
        driver: e.driver ?? '',
        what: e.what,
        startedAt: e.startedAt,
        ...(e.etaMs === undefined ? {} : { etaMs: e.etaMs }),
      };
      ws.send(JSON.stringify(msg));
      say(startingLine(e));
    } else if (e.kind === 'console') ws.send(e.data, { binary: true });
    else clearInterval(tick);
  });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(tick);
    off();
  };
  ws.once('close', stop);
  return stop;
}

/**
 * Wraps a lab channel's pending environment: `lab.starting` for each phase while it comes up; when its driver
 * cannot run here, the permanent error (`LAB_ERR_DRIVER_UNAVAILABLE`) and close code 4003 before the channel's own
 * failure handling (which then finds the socket closing and stays quiet).
 */
export function labStarting<T>(ws: WebSocket, watch: WatchStart, pending: Promise<T>): Promise<T> {
  const off = watch((e) => {
    if (e.kind !== 'starting' || !isOpen(ws)) return;
    const msg: LabServerMessage = {
      type: 'lab.starting',
      driver: e.driver ?? '',
      what: e.what,
      startedAt: e.startedAt,
      ...(e.etaMs === undefined ? {} : { etaMs: e.etaMs }),
    };
    ws.send(JSON.stringify(msg));
  });
  ws.once('close', off);
  return pending.then(
    (v) => {
      off();
      return v;
    },
    (err: unknown) => {
      off();
      if (err instanceof DriverUnavailableError) refuse(ws, LabChannelError.DRIVER_UNAVAILABLE, err);
      throw err;
    },
  );
}

/**
 * A terminal socket's environment, with its bring-up shown meanwhile ({@link showStartOnTerminal}); when its
 * driver cannot run here, the permanent refusal ({@link refuseUnavailableTerminal}) before the rejection.
 * @example
 * const env = await openShowingStart(ws, (l) => labs.watchStart(envId, l), environments.open(learnerId, lab));
 */
export async function openShowingStart<T>(ws: WebSocket, watch: WatchStart, pending: Promise<T>): Promise<T> {
  const stop = showStartOnTerminal(ws, watch);
  try {
    return await pending;
  } catch (err) {
    refuseUnavailableTerminal(ws, err);
    throw err;
  } finally {
    stop();
  }
}

/**
 * On a terminal socket whose environment failed to come up: when its driver cannot run here, the permanent error
 * (`GATEWAY_ERR_DRIVER_UNAVAILABLE`) and close code 4003, and true; false for any other failure.
 */
export function refuseUnavailableTerminal(ws: WebSocket, err: unknown): boolean {
  if (!(err instanceof DriverUnavailableError)) return false;
  refuse(ws, GatewayError.DRIVER_UNAVAILABLE, err);
  return true;
}

function refuse(ws: WebSocket, code: string, err: DriverUnavailableError): void {
  if (!isOpen(ws)) return;
  ws.send(JSON.stringify({ type: 'error', code, message: err.message }));
  // A close reason is at most 123 bytes: the message above has the details.
  ws.close(CLOSE.UNAVAILABLE, `the ${err.driver} driver cannot run here`.slice(0, 120));
}
