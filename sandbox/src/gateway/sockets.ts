import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_FRAME_BYTES } from '../protocol/index.js';

/** The gateway's WebSockets: one way in ({@link Sockets.accept}), a heartbeat for all, and an end for all. */
export interface Sockets {
  /**
   * Accepts a checked upgrade and hands over the WebSocket once it has an `error` listener (a broken client — bad
   * frame, too big, reset — only ever ends its own socket: ws closes it with the matching code, 1009 for an
   * oversized frame, and the socket's 'close' handlers clean up) and joins the heartbeat.
   */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, use: (ws: WebSocket) => void): void;
  /** Ends every WebSocket and the heartbeat. */
  close(): void;
}

/**
 * `ws` with `noServer` (upgrades are checked before they are accepted), frames up to 64 KiB, no compression, and a
 * ping every `heartbeatMs`: a socket that missed the previous pong is terminated.
 */
export function createSockets(heartbeatMs: number): Sockets {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: true,
  });
  const alive = new WeakMap<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, heartbeatMs);
  heartbeat.unref();
  return {
    accept: (req, socket, head, use) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => undefined);
        alive.set(ws, true);
        ws.on('pong', () => alive.set(ws, true));
        use(ws);
      });
    },
    close: () => {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
