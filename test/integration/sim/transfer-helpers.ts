/** Helpers of the import/export tests: raw HTTP transfers (exact status, headers, bytes) and small VMs to move. */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { login, ok, start } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

export { login, ok, start };
export type { RunningSimulator };

export const MiB = 1024 * 1024;

/** An HTTP answer read to its end (or to the connection's end). */
export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The connection ended with an error (reset) after the headers. */
  readonly broken: boolean;
}

/** A request; `body` a buffer (sent with Content-Length) or a stream (sent as it comes, `length` if known). */
export function request(
  url: string,
  method: string,
  body?: Buffer | Readable,
  headers: Record<string, string | number> = {},
  options: https.RequestOptions = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    let answered = false;
    const req = lib.request(
      u,
      {
        method,
        headers: {
          ...(Buffer.isBuffer(body) ? { 'content-length': body.length } : {}),
          ...headers,
        },
        ...options,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let broken = false;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => {
          broken = true;
        });
        res.on('close', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), broken });
        });
      },
    );
    req.on('error', (e) => {
      // A server that answered, then closed while we still uploaded (an import it refused half-way): the answer
      // resolves the promise when it closes.
      if (!answered) reject(e);
    });
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body) {
      body.on('error', () => req.destroy());
      body.pipe(req);
    } else req.end();
  });
}

/** A URL of a transfer endpoint with query parameters. */
export function endpoint(sim: RunningSimulator, path: string, query: Record<string, string>): string {
  return `${sim.url}${path}?${new URLSearchParams(query).toString()}`;
}

/** A task record as JSON-RPC gives it. */
export interface TaskRecord {
  readonly status: string;
  readonly progress: number;
  readonly result: string;
  readonly error_info: string[];
  readonly name_label: string;
  readonly other_config: Record<string, string>;
  readonly [field: string]: unknown;
}

/** Waits until a task leaves `pending`, returns its record. */
export async function settled(url: string, task: string, ms = 10_000): Promise<TaskRecord> {
  const deadline = Date.now() + ms;
  for (;;) {
    const rec = await ok<TaskRecord>(url, 'task.get_record', await session(url), task);
    if (rec.status !== 'pending') return rec;
    if (Date.now() > deadline) throw new Error(`task ${task} still pending`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sessions = new Map<string, string>();
/** One session per simulator URL for the helpers. */
export async function session(url: string): Promise<string> {
  let s = sessions.get(url);
  if (s === undefined) {
    s = await login(url);
    sessions.set(url, s);
  }
  return s;
}

/** A JSON-RPC call with the helpers' session. */
export async function call<T = unknown>(url: string, method: string, ...params: unknown[]): Promise<T> {
  return ok<T>(url, method, await session(url), ...params);
}

/** Creates a halted VM with a small disk (`size` bytes) and a NIC, from the default Debian template. */
export async function smallVm(
  url: string,
  name: string,
  size = 5 * MiB + 1000,
): Promise<{ vm: string; vdi: string; vbd: string; vif: string }> {
  const [template] = await call<string[]>(url, 'VM.get_by_name_label', 'Debian Bookworm 12');
  const vm = await call<string>(url, 'VM.clone', template, name);
  await call(url, 'VM.set_is_a_template', vm, false);
  const [pool] = await call<string[]>(url, 'pool.get_all');
  const sr = await call<string>(url, 'pool.get_default_SR', pool);
  const vdi = await call<string>(url, 'VDI.create', {
    name_label: `${name} disk`,
    name_description: 'test disk',
    SR: sr,
    virtual_size: size,
    type: 'user',
    sharable: false,
    read_only: false,
    other_config: {},
    xenstore_data: {},
    sm_config: {},
    tags: [],
  });
  const vbd = await call<string>(url, 'VBD.create', {
    VM: vm,
    VDI: vdi,
    userdevice: '0',
    bootable: true,
    mode: 'RW',
    type: 'Disk',
    unpluggable: false,
    empty: false,
    other_config: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
  });
  const [net] = await call<string[]>(
    url,
    'network.get_by_name_label',
    'Pool-wide network associated with eth0',
  );
  const vif = await call<string>(url, 'VIF.create', {
    device: '0',
    network: net,
    VM: vm,
    MAC: '',
    MTU: 1500,
    other_config: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
  });
  return { vm, vdi, vbd, vif };
}

/** A disk image of `size` bytes: zeros with a few recognisable non-zero regions (first, third and last MiB). */
export function pattern(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  const fill = (from: number, len: number): void => {
    for (let i = 0; i < len && from + i < size; i++) b[from + i] = (((from + i) * 31 + seed * 7) % 251) + 1;
  };
  fill(0, 4096);
  fill(2 * MiB + 100, 70_000);
  fill(size - 300, 300);
  return b;
}

/** Lists a tar archive's members (name, size) with GNU tar, the independent check of our format. */
export async function tarList(archive: Buffer): Promise<string[]> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const p = spawn('tar', ['-tvf', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`tar -tvf failed (${String(code)}): ${err}`));
      else resolve(out.trim().split('\n'));
    });
    p.stdin.end(archive);
  });
}

/** A stream of `total` bytes made on demand (never held at once). */
export function generated(total: number, byte: (i: number) => number = () => 0x41): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(256 * 1024, total - sent);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4096) b[i] = byte(sent + i);
      sent += n;
      this.push(b);
    },
  });
}
