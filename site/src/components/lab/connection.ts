import {
  LAB_PATH,
  LAB_PROTOCOL_VERSION,
  type LabClientMessage,
  type LabServerMessage,
} from '@xenlab/sandbox/protocol';
import { ReconnectingSocket } from '../../terminal/reconnecting-socket.js';
import { mismatchDetail, mismatchLog } from '../../terminal/server-message.js';
import { readLabServerMessage } from './server-message.js';

/**
 * The page's lab channel: a {@link ReconnectingSocket} to `/ws/lab?lab=<id>&token=…` (ticket, backoff, permanent
 * close), `lab.hello` on each open, and the grader's messages from then on. A message the page cannot read
 * (`server-message.ts`) goes to `onMismatch` with which type and field, and to the console with zod's issues; the
 * socket stays open and later messages are taken as before (unlike the terminal, the panel has nothing to wait for
 * that a dropped message could leave hanging: the next state replaces the last).
 */
export class LabConnection {
  readonly #socket: ReconnectingSocket;

  constructor(
    lab: string,
    onMessage: (msg: LabServerMessage) => void,
    onState: (state: 'connecting' | 'open' | 'closed', detail: string) => void,
    onMismatch: (detail: string) => void,
  ) {
    this.#socket = new ReconnectingSocket({
      path: LAB_PATH,
      params: { lab },
      state: onState,
      refused: (detail) => {
        onState('closed', detail);
      },
      created: () => undefined,
      opened: () => {
        this.#socket.resetBackoff();
        this.send({ type: 'lab.hello', v: LAB_PROTOCOL_VERSION });
        onState('open', 'Live');
      },
      message: (data) => {
        if (typeof data !== 'string') return;
        const received = readLabServerMessage(data);
        if (received.kind === 'mismatch') {
          // A warning, not an error: the panel goes on; it says so on the page too.
          console.warn(...mismatchLog(received.type, received.issues, data));
          onMismatch(mismatchDetail(received.type, received.issues));
          return;
        }
        if (received.warning !== undefined) console.warn(`[xenlab] ${received.warning}`);
        if (received.kind === 'message') onMessage(received.msg);
      },
      closed: () => ({ reconnect: 'Connection lost.' }),
    });
  }

  connect(): Promise<void> {
    return this.#socket.connect();
  }

  send(msg: LabClientMessage): void {
    this.#socket.sendJson(msg);
  }

  stop(): void {
    this.#socket.stop();
  }
}
