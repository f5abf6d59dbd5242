import type { WebSocket } from 'ws';
import { CLOSE, GatewayError, PROTOCOL_VERSION, TERM_LIMITS, parseClientMessage } from '../protocol/index.js';
import type { ServerMessage } from '../protocol/index.js';
import type { TerminalProcess } from '../drivers/types.js';
import { FlowControl } from './flow.js';

/** Largest batch of output sent as one frame; output is coalesced until the next turn of the event loop. */
const MAX_BATCH = 256 * 1024;

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.trunc(n)));

export interface TerminalLinkInfo {
  driver: string;
  jailed: boolean;
  notice: string | undefined;
}

/**
 * Joins one WebSocket to one terminal process: keystrokes (binary frames) go in, output goes out in batched
 * binary frames under flow control, and JSON control messages resize the pty and acknowledge output.
 * Anything malformed is answered with an `error` message and, if it breaks the protocol, a close — the
 * terminal and the gateway carry on.
 */
/** How long a client may take to say `term.hello` after the upgrade before the socket is closed. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Joins one WebSocket to one terminal process: keystrokes (binary frames) go in, output goes out in batched
 * binary frames under flow control, and JSON control messages resize the pty and acknowledge output.
 * The shell is spawned on `term.hello`, at the browser's size. Anything malformed is answered with an `error`
 * message and, if it breaks the protocol, a close — the terminal and the gateway carry on.
 */
export function linkTerminal(
  ws: WebSocket,
  spawn: (size: { cols: number; rows: number }) => Promise<TerminalProcess>,
  info: TerminalLinkInfo,
): void {
  const send = (msg: ServerMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  let term: TerminalProcess | undefined;
  let starting = false;
  let exited = false;
  const helloTimer = setTimeout(() => {
    if (!term) ws.close(CLOSE.PROTOCOL, 'no hello');
  }, HELLO_TIMEOUT_MS);

  const start = async (cols: number, rows: number): Promise<TerminalProcess> => {
    const t = await spawn({ cols, rows });
    if (ws.readyState !== ws.OPEN) {
      t.kill();
      return t;
    }
    const flow = new FlowControl(
      () => {
        t.pause();
      },
      () => {
        t.resume();
      },
    );
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      if (batchBytes === 0) return;
      const data = batch.length === 1 && batch[0] ? batch[0] : Buffer.concat(batch, batchBytes);
      batch = [];
      batchBytes = 0;
      if (ws.readyState !== ws.OPEN) return;
      ws.send(data, { binary: true });
      flow.sent(data.length);
    };
    t.onData((chunk) => {
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= MAX_BATCH) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
    t.onExit((code) => {
      exited = true;
      flush();
      send({ type: 'term.exit', code });
      if (ws.readyState === ws.OPEN) ws.close(CLOSE.EXITED, 'shell exited');
    });
    acked = (bytes) => {
      flow.acked(bytes);
    };
    return t;
  };
  let acked: (bytes: number) => void = () => undefined;

  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) {
      term?.write(buf);
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
      case 'term.hello':
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
        start(
          clamp(msg.cols, TERM_LIMITS.minCols, TERM_LIMITS.maxCols),
          clamp(msg.rows, TERM_LIMITS.minRows, TERM_LIMITS.maxRows),
        ).then(
          (t) => {
            term = t;
            send({
              type: 'term.ready',
              v: PROTOCOL_VERSION,
              driver: info.driver,
              jailed: info.jailed,
              ...(info.notice ? { notice: info.notice } : {}),
            });
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
      case 'term.resize':
        term?.resize(msg.cols, msg.rows);
        return;
      case 'term.ack':
        acked(msg.bytes);
        return;
      case 'ping':
        send({ type: 'pong', t: msg.t });
        return;
    }
  });

  ws.on('close', () => {
    clearTimeout(helloTimer);
    if (term && !exited) term.kill();
  });
}
