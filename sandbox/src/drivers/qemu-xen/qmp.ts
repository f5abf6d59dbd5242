import { connect, type Socket } from 'node:net';
import { XenlabError } from '../../errors/index.js';

/** A QMP reply's error, as QEMU reports it (`{"error": {"class": …, "desc": …}}`). */
export class QmpError extends XenlabError {
  constructor(
    readonly qmpClass: string,
    desc: string,
  ) {
    super('QEMU_ERR_QMP', `${qmpClass}: ${desc}`);
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * A minimal QMP client (QEMU Machine Protocol: one JSON object per line; greeting, then `qmp_capabilities`, then
 * commands answered in order with `{"return": …}` or `{"error": …}`; asynchronous `{"event": …}` lines in between).
 * Commands are sent one at a time and matched by an `id`, so events interleaving with replies do no harm.
 */
export class QmpClient {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line) this.onLine(line);
      }
    });
    const fail = () => {
      this.closed = true;
      for (const p of this.pending.values())
        p.reject(new XenlabError('QEMU_ERR_QMP_CLOSED', 'QEMU closed its monitor'));
      this.pending.clear();
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }

  /** Connects to a QMP unix socket and negotiates capabilities. */
  static async connect(path: string): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => {
        resolve(s);
      });
      s.once('error', reject);
    });
    const client = new QmpClient(socket);
    await client.execute('qmp_capabilities');
    return client;
  }

  private onLine(line: string): void {
    let msg: { id?: unknown; return?: unknown; error?: { class?: string; desc?: string } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      // Deliberate: QMP writes only JSON, so this is a torn line; a command waiting on it reports its own timeout.
      return;
    }
    if (typeof msg.id !== 'string') return; // greeting or event
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new QmpError(msg.error.class ?? 'GenericError', msg.error.desc ?? ''));
    else p.resolve(msg.return);
  }

  /** Runs one QMP command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new XenlabError('QEMU_ERR_QMP_CLOSED', 'QEMU closed its monitor'));
    const id = `x${String(this.nextId++)}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (v) => {
          resolve(v as T);
        },
        reject,
      });
      this.socket.write(
        `${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`,
      );
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
