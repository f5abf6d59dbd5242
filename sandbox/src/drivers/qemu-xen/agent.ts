import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { ExecResult } from '../types.js';

/** What the dom0 agent answers (sandbox/images/xen/dom0/agent.py documents the protocol). */
interface AgentReply {
  id?: unknown;
  error?: string;
  code?: number | null;
  stdout?: string;
  stderr?: string;
  timedOut?: boolean;
  ok?: boolean;
  ready?: boolean;
  uptime?: number;
  hostname?: string;
}

/**
 * The host end of dom0's exec agent: JSON lines over the virtio-serial port `org.xenlab.agent`, which QEMU exposes
 * here as a unix socket. Checks run through this channel, never by typing into the learner's console.
 */
export class AgentClient {
  private buf = '';
  // Ids start at a random point: a VM restored from a saved state can still hold replies its agent had not sent
  // when the state was saved, addressed to the client of that time; they must not match this client's requests.
  private nextId = randomInt(1, 2 ** 47);
  private readonly pending = new Map<number, (reply: AgentReply) => void>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        let reply: AgentReply;
        try {
          reply = JSON.parse(line) as AgentReply;
        } catch {
          continue; // boot noise never reaches this port, but a torn line must not stop the client
        }
        if (typeof reply.id !== 'number') continue;
        const p = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        p?.(reply);
      }
    });
    const fail = () => {
      this.closed = true;
      for (const p of this.pending.values()) p({ error: 'AGENT_ERR_CLOSED: the VM went away' });
      this.pending.clear();
    };
    socket.on('close', fail);
    socket.on('error', fail);
    // A newline first: whatever half line an earlier client left in the guest's buffer ends here.
    socket.write('\n');
  }

  /** Connects to the agent socket QEMU serves (QEMU must be running; the guest agent may not be up yet). */
  static async connect(path: string): Promise<AgentClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => {
        resolve(s);
      });
      s.once('error', reject);
    });
    return new AgentClient(socket);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private request(body: Record<string, unknown>, timeoutMs: number): Promise<AgentReply> {
    if (this.closed) return Promise.resolve({ error: 'AGENT_ERR_CLOSED: the VM went away' });
    const id = this.nextId++;
    return new Promise<AgentReply>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ error: 'AGENT_ERR_TIMEOUT: no answer from the dom0 agent' });
      }, timeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.socket.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  /**
   * What the agent says about dom0 when it answers within `timeoutMs`: `ready` once dom0's init has the Xen daemons
   * and the bridge up (the agent starts earlier, in parallel with them).
   */
  async ping(timeoutMs = 1000): Promise<{ ready: boolean; uptime: number; hostname: string } | undefined> {
    const r = await this.request({ op: 'ping' }, timeoutMs);
    return r.ok ? { ready: r.ready ?? false, uptime: r.uptime ?? 0, hostname: r.hostname ?? '' } : undefined;
  }

  /** Sets dom0's clock (a restored VM wakes up at the time its state was saved). */
  async setTime(epochSeconds: number): Promise<void> {
    const r = await this.request({ op: 'settime', epoch: epochSeconds }, 5000);
    if (r.error) throw new Error(r.error);
  }

  /** Runs argv in dom0 as root. The agent kills the command's whole session at the timeout. */
  async exec(
    argv: readonly string[],
    opts: { timeoutMs: number; input?: string; env?: Readonly<Record<string, string>> },
  ): Promise<ExecResult> {
    // The agent enforces the timeout; the extra margin covers the trip through a slow (TCG) guest.
    const r = await this.request(
      { op: 'exec', argv, input: opts.input ?? '', timeoutMs: opts.timeoutMs, env: opts.env ?? {} },
      opts.timeoutMs + 15_000,
    );
    if (r.error) {
      return {
        code: null,
        stdout: '',
        stderr: `${r.error}\n`,
        timedOut: r.error.startsWith('AGENT_ERR_TIMEOUT'),
      };
    }
    return {
      code: r.code ?? null,
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      timedOut: r.timedOut ?? false,
    };
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
