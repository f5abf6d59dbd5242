import type { WebSocket } from 'ws';
import { CLOSE, GatewayError, PROTOCOL_VERSION, TERM_LIMITS, parseClientMessage } from '../protocol/index.js';
import type { RoomPace, ServerMessage } from '../protocol/index.js';
import type { EnvironmentNotice, SharedTerminal, Viewer } from '../sessions/index.js';
import { VIEWER_BACKLOG_BYTES } from '../sessions/shared-terminal.js';

/** How long a client may take to say `term.hello` after the upgrade before the socket is closed. */
const HELLO_TIMEOUT_MS = 10_000;

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.trunc(n)));

/** What the link needs from the gateway once the page said hello: the terminal to watch, and its setting. */
export interface LinkTarget {
  readonly terminal: SharedTerminal;
  readonly driver: string;
  readonly jailed: boolean;
  readonly lab: string;
  readonly name: string;
  /** Notice for the learner (not jailed; respawned after a restart…). */
  readonly notice: string | undefined;
  /** The learner typed: restarts the environment's idle clock. */
  readonly activity: () => void;
  /** Subscribes to the environment's notices; returns the unsubscribe function. */
  readonly subscribe: (listener: (n: EnvironmentNotice) => void) => () => void;
  /** An instructor watching: input and resizes are ignored, and the learner's shell is never held back by it. */
  readonly readOnly?: boolean;
  /** Read-only: what a keystroke is answered with (an `error`, at most one per 10 s); none: ignored silently. */
  readonly readOnlyRefusal?: { readonly code: string; readonly message: string };
  /** The instructor's mode for this lab (a shared demo, a table): `env.seat` after `term.ready` and on changes. */
  readonly seat?: {
    view(): Omit<Extract<ServerMessage, { type: 'env.seat' }>, 'type'> | undefined;
    subscribe(listener: () => void): () => void;
  };
  /** The room's pacing, pushed to the page after `term.ready` and on every change (`room.pace`). */
  readonly pace?: { view(): RoomPace; subscribe(listener: () => void): () => void };
}

/**
 * Unsent bytes a socket may have queued before it is cut off. Terminal output is capped per viewer by the terminal
 * (`VIEWER_BACKLOG_BYTES`); this also covers the small JSON replies (`pong`, `error`), which a client that never
 * reads could otherwise pile up by sending pings or junk.
 */
const SOCKET_BACKLOG_BYTES = VIEWER_BACKLOG_BYTES + 64 * 1024;

/**
 * Joins one WebSocket to one shared terminal: keystrokes (binary frames) go in, output comes out (binary frames,
 * batched and flow-controlled by the terminal), JSON control messages resize and acknowledge. The shell is found
 * (or spawned) on `term.hello`, at the browser's size; a page coming back after a drop gets only what it missed.
 * Anything malformed is answered with an `error` message — the terminal and the gateway carry on.
 */
export function linkTerminal(
  ws: WebSocket,
  resolve: (size: { cols: number; rows: number }) => Promise<LinkTarget>,
): void {
  /** Drops a link that is not reading what it is sent (terminate: a close frame would queue behind the backlog). */
  const overflowed = () => {
    if (target?.readOnly && ws.readyState === ws.OPEN) {
      // An instructor's tab that fell behind: it reconnects (it is slow, not lying).
      ws.close(CLOSE.BEHIND, 'fell behind');
      setTimeout(() => {
        ws.terminate();
      }, 2_000).unref();
      return;
    }
    ws.terminate();
  };
  const send = (msg: ServerMessage) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > SOCKET_BACKLOG_BYTES) {
      overflowed();
      return;
    }
    ws.send(JSON.stringify(msg));
  };
  let target: LinkTarget | undefined;
  let unsubscribe: (() => void) | undefined;
  let unsubscribePace: (() => void) | undefined;
  let unsubscribeSeat: (() => void) | undefined;
  let refusedAt = -Infinity;
  let starting = false;
  const viewer: Viewer = {
    send: (data) => {
      if (ws.readyState === ws.OPEN) ws.send(data, { binary: true });
    },
    backlog: () => ws.bufferedAmount,
    overflowed,
    exited: (code) => {
      send({ type: 'term.exit', code });
      if (ws.readyState === ws.OPEN) ws.close(CLOSE.EXITED, 'shell exited');
    },
    resized: (cols, rows) => {
      send({ type: 'term.size', cols, rows });
    },
    // Input backpressure: the shell has a lot of this learner's input queued, so stop reading the socket (the
    // browser's own buffer then fills, not the gateway's). Frames already received are still delivered.
    holdInput: () => {
      if (ws.readyState === ws.OPEN) ws.pause();
    },
    releaseInput: () => {
      ws.resume();
    },
  };
  const helloTimer = setTimeout(() => {
    if (!starting) ws.close(CLOSE.PROTOCOL, 'no hello');
  }, HELLO_TIMEOUT_MS);

  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) {
      if (target?.readOnly && target.readOnlyRefusal && Date.now() - refusedAt > 10_000) {
        refusedAt = Date.now();
        send({ type: 'error', code: target.readOnlyRefusal.code, message: target.readOnlyRefusal.message });
      }
      if (!target || target.readOnly) return;
      target.terminal.write(buf);
      target.activity();
      return;
    }
    const parsed = parseClientMessage(buf.toString('utf8'));
    if (!parsed.ok) {
      send({
        type: 'error',
        code: GatewayError.BAD_MESSAGE,
        message: `ignored a malformed message: ${parsed.error}`,
      });
      return;
    }
    const msg = parsed.value;
    switch (msg.type) {
      case 'term.hello': {
        if (msg.v !== PROTOCOL_VERSION) {
          send({
            type: 'error',
            code: GatewayError.BAD_VERSION,
            message: `protocol v${msg.v} is not supported (gateway speaks v${PROTOCOL_VERSION}); reload the page`,
          });
          ws.close(CLOSE.PROTOCOL, 'protocol version');
          return;
        }
        if (starting) return;
        starting = true;
        clearTimeout(helloTimer);
        const cols = clamp(msg.cols, TERM_LIMITS.minCols, TERM_LIMITS.maxCols);
        const rows = clamp(msg.rows, TERM_LIMITS.minRows, TERM_LIMITS.maxRows);
        resolve({ cols, rows }).then(
          (t) => {
            if (ws.readyState !== ws.OPEN) return;
            target = t;
            if (!t.readOnly) t.terminal.resize(cols, rows);
            const ready = (offset: number) => {
              send({
                type: 'term.ready',
                v: PROTOCOL_VERSION,
                driver: t.driver,
                jailed: t.jailed,
                ...(t.notice ? { notice: t.notice } : {}),
                instance: t.terminal.instance,
                offset,
                lab: t.lab,
                terminal: t.name,
                ...(t.readOnly ? { readOnly: true } : {}),
                ...(t.readOnly && t.terminal.size ? { size: t.terminal.size } : {}),
              });
            };
            // Ready first (with the offset after the replay), then the replay, then live output.
            const resume = msg.resume;
            ready(t.terminal.replayStart(resume));
            t.terminal.attach(viewer, resume, { watcher: t.readOnly === true });
            unsubscribe = t.subscribe((n) => {
              if (n.kind === 'idle') send({ type: 'env.idle', cullAt: n.cullAt });
              else if (n.kind === 'active') send({ type: 'env.active' });
              else if (n.kind === 'message') send({ type: 'env.message', text: n.text });
              else {
                send({ type: 'env.culled', reason: n.reason });
                ws.close(CLOSE.EXITED, 'environment culled');
              }
            });
            const seat = t.seat;
            if (seat) {
              const sendSeat = () => {
                const v = seat.view();
                if (v) send({ type: 'env.seat', ...v });
              };
              sendSeat();
              unsubscribeSeat = seat.subscribe(sendSeat);
            }
            const pace = t.pace;
            if (pace) {
              // The time left is measured when each message goes: the page counts down from when it got it.
              const sendPace = () => {
                send({ type: 'room.pace', pace: pace.view() });
              };
              sendPace();
              unsubscribePace = pace.subscribe(sendPace);
            }
          },
          (err: unknown) => {
            send({
              type: 'error',
              code: GatewayError.SPAWN_FAILED,
              message: `could not start a shell: ${String(err)}`,
            });
            ws.close(CLOSE.EXITED, 'spawn failed');
          },
        );
        return;
      }
      case 'term.resize':
        if (!target?.readOnly) target?.terminal.resize(msg.cols, msg.rows);
        return;
      case 'term.ack':
        target?.terminal.ack(viewer, msg.bytes);
        return;
      case 'ping':
        send({ type: 'pong', t: msg.t });
        return;
      case 'env.extend':
        target?.activity();
        return;
    }
  });

  ws.on('close', () => {
    clearTimeout(helloTimer);
    unsubscribe?.();
    unsubscribePace?.();
    unsubscribeSeat?.();
    target?.terminal.detach(viewer);
  });
}
