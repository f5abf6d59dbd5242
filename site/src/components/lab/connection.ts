import {
  LAB_PATH,
  LAB_PROTOCOL_VERSION,
  parseLabServerMessage,
  type LabClientMessage,
  type LabServerMessage,
} from '@xenlab/sandbox/protocol';
import { ReconnectingSocket } from '../../terminal/reconnecting-socket.js';

/**
 * The page's lab channel: a {@link ReconnectingSocket} to `/ws/lab?lab=<id>&token=…` (ticket, backoff, permanent
 * close), `lab.hello` on each open, and the grader's messages from then on.
 */
export class LabConnection {
  readonly #socket: ReconnectingSocket;

  constructor(
    lab: string,
    onMessage: (msg: LabServerMessage) => void,
    onState: (state: 'connecting' | 'open' | 'closed', detail: string) => void,
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
        const parsed = parseLabServerMessage(data);
        if (parsed.ok) onMessage(parsed.value);
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
