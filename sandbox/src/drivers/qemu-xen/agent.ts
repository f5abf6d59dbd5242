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

  /**
   * Reseeds the guest kernel's random number generator with `seed` (host randomness): a VM loaded from a saved state
   * (a template shared by every machine of a shape, a snapshot, a hibernated machine) wakes up with the generator of
   * the moment it was saved, so two machines of one template would hand out the same "random" bytes (xl's random
   * MACs, UUIDs, keys) until their kernel reseeds itself. Mixed in with RNDADDENTROPY (credited, so a kernel whose
   * CRNG was not ready is), then RNDRESEEDCRNG makes the CRNG take the pool now and drop its per-CPU keys
   * (drivers/char/random.c, Linux 6.1). Through `exec` and the guest's python3 (both images run their agent with it),
   * so the images need no new agent op. Throws when the guest did not take it.
   */
  async reseed(seed: Buffer): Promise<void> {
    const r = await this.exec(['python3', '-c', RESEED_SCRIPT], {
      timeoutMs: 30_000,
      input: seed.toString('hex'),
    });
    if (r.code !== 0) {
      throw new Error(
        `reseeding the guest's random number generator failed: ${r.stderr.trim() || `exit ${String(r.code)}`}`,
      );
    }
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

/**
 * Run by the guest's python3 as root, the seed in hex on stdin. The numbers are Linux's x86_64 uapi
 * (include/uapi/linux/random.h, checked against this machine's <linux/random.h>): RNDADDENTROPY = _IOW('R', 0x03,
 * int[2]) = 0x40085203 takes a struct rand_pool_info { int entropy_count (bits); int buf_size (bytes); __u32 buf[]; },
 * RNDRESEEDCRNG = _IO('R', 0x07) = 0x5207 (since 4.17; ENODATA while the CRNG is not ready, which the credit above
 * has just made it). Both need CAP_SYS_ADMIN: the agent runs as root.
 */
const RESEED_SCRIPT = [
  'import fcntl, struct, sys',
  'seed = bytes.fromhex(sys.stdin.read().strip())',
  'with open("/dev/random", "wb", buffering=0) as f:',
  '    fcntl.ioctl(f, 0x40085203, struct.pack("ii", 8 * len(seed), len(seed)) + seed)',
  '    fcntl.ioctl(f, 0x5207)',
].join('\n');
