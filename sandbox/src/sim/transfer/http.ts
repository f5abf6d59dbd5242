/**
 * The transfer endpoints beside the API, as xapi serves them (ocaml/xapi/xapi.ml `common_http_handlers`):
 *
 * | request                                                                  | xapi source            |
 * | ------------------------------------------------------------------------ | ---------------------- |
 * | `GET /export?(uuid=\|ref=)[&use_compression=][&preserve_power_state=]`     | export.ml `handler`    |
 * | `GET /export_metadata?(uuid=\|ref=\|all=true)[&export_snapshots=]`        | export.ml `metadata_handler` |
 * | `PUT /import[?sr_id=\|sr_uuid=][&restore=][&force=]`                       | import.ml `handler`    |
 * | `PUT /import_metadata[?restore=][&live=]`                                | import.ml `metadata_handler` |
 * | `GET /export_raw_vdi?vdi=[&format=raw\|vhd\|tar][&base=]`                  | export_raw_vdi.ml      |
 * | `PUT /import_raw_vdi?(vdi=\|sr_id=)[&format=raw\|vhd\|tar]`                | import_raw_vdi.ml      |
 *
 * Each takes `session_id=` (cookie or query) or HTTP basic auth — else 401 `Basic realm="<action>"` — and
 * `task_id=`: that task (else a new one named like xapi's) gets progress 0 at the start, then `success` with its
 * result or `failure` with the error, and goes back in the `task-id` response header. Errors before the response
 * headers are HTTP 500 pages naming the error (xapi's `Generic_error`) or the 4xx xapi sends; after them the
 * connection closes and the task says why. Bodies are streamed with backpressure: nothing holds more than one
 * 1 MiB chunk (plus ova.xml, at most 16 MiB) whatever a client sends.
 * @module
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { Gzip } from 'node:zlib';
import { XapiFailure } from '../contract.js';
import type { Engine } from '../engine.js';
import { failureOf } from '../engine.js';
import { internalError } from '../server.js';
import type { ExtraRoute } from '../server.js';
import { NULL_REF } from '../wire-types.js';
import { vmOperationError } from '../behaviour/vm-lifecycle.js';
import { BLOCK_SIZE } from './contents.js';
import type { DiskContents } from './contents.js';
import { completeImport, importObjects, importedDisks, undo } from './import-objects.js';
import type { ImportState } from './import-objects.js';
import { OVA_XML, OvaError, exportMetadata, exportedDisks, parseOva, thisVersion } from './ova.js';
import type { ArchiveDisk, ExportOptions } from './ova.js';
import { EndOfStream, StreamIdle, StreamReader } from './stream-reader.js';
import { TAR_END, TarError, padding, readEntry, tarHeader } from './tar.js';
import { vhdImage } from './vdi-image.js';
import { MAX_VHD_SIZE, VhdError, readVhd } from './vhd.js';
import { xxh64Hex } from './xxhash64.js';

/** The largest ova.xml read (a pool's worth of VM metadata is far smaller). */
export const MAX_OVA_XML_BYTES = 16 * 1024 * 1024;
/** Transfers one simulator runs at once; more are refused with 503. */
export const MAX_CONCURRENT_TRANSFERS = 4;
/** A checksum file is 16 (xxhash) or 40 (sha1) characters. */
const MAX_CHECKSUM_BYTES = 128;

/** Options of {@link transferRoute}. */
export interface TransferOptions {
  readonly engine: Engine;
  readonly contents: DiskContents;
  /** Makes the pool's changes durable (the server's `beforeAnswer`), called when a transfer ends. */
  readonly commit?: () => void;
  readonly maxConcurrent?: number;
  /** A body that sends nothing for this long is abandoned (default 60 s). */
  readonly idleMs?: number;
}

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

// ---------------------------------------------------------------------------------------------------------------
// Requests, authentication, tasks

/** A parameter as xapi reads it: from the cookie first, then the query (xapi_http.ml `lookup_param_of_req`). */
function param(req: IncomingMessage, url: URL, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return url.searchParams.get(name) ?? undefined;
}

/** OCaml `bool_of_string` of a flag, `dflt` when absent; anything but true/false raises (a 500, as in xapi). */
function flag(req: IncomingMessage, url: URL, name: string, dflt: boolean): boolean {
  const v = param(req, url, name);
  if (v === undefined) return dflt;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new HttpFailure('Invalid_argument("bool_of_string")');
}

/** An error xapi answers with a 500 page whose detail is this text (an OCaml exception, not an API error). */
class HttpFailure extends Error {}

/** The client went away mid-transfer. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/** ExnHelper.string_of_exn: `CODE: [ p1; p2 ]`. */
function exnString(e: unknown): string {
  if (e instanceof HttpFailure) return e.message;
  const f = failureOf(e);
  return `${f.code}: [ ${f.params.join('; ')} ]`;
}

function unauthorised(res: ServerResponse, realm: string): void {
  const body =
    '<html><body><h1>HTTP 401 unauthorised</h1>Please check your credentials and retry.</body></html>';
  res.writeHead(401, 'Unauthorised', {
    'content-type': 'text/html',
    connection: 'close',
    'cache-control': 'no-cache, no-store',
    'www-authenticate': `Basic realm="${realm}"`,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Headers-only answers xapi gives some refusals (http.ml `http_400_badrequest`, `http_403_forbidden`, …). */
function bare(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, text, {
    connection: 'close',
    'cache-control': 'no-cache, no-store',
    'content-length': 0,
  });
  res.end();
}

interface Auth {
  readonly session: string;
  /** A session made from basic auth for this request, logged out at its end. */
  readonly temporary: boolean;
}

function authenticate(engine: Engine, req: IncomingMessage, url: URL): Auth | undefined {
  const sid = param(req, url, 'session_id');
  try {
    if (sid !== undefined) {
      engine.checkSession(sid);
      return { session: sid, temporary: false };
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [user = '', ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      const client = req.socket.remoteAddress ?? 'unknown';
      return { session: engine.login(user, rest.join(':'), `${client} using Basic auth`), temporary: true };
    }
  } catch (e) {
    if (!(e instanceof XapiFailure)) throw e;
  }
  return undefined;
}

/** The task of one HTTP action: the one named by `task_id`, else a new one (xapi_http.ml `with_context`). */
class Task {
  readonly ref: string;
  readonly #engine: Engine;
  #lastProgress = -1;
  #lastAt = 0;

  constructor(engine: Engine, given: string | undefined, label: string) {
    this.#engine = engine;
    const store = engine.store;
    if (given !== undefined) {
      store.get('task', given); // HANDLE_INVALID
      this.ref = given;
    } else
      this.ref = store.create('task', {
        name_label: label,
        name_description: '',
        status: 'pending',
        progress: 0,
        created: engine.clock.now(),
        finished: new Date(0),
        resident_on: engine.master(),
        allowed_operations: ['cancel'],
        other_config: {},
      });
  }

  #pending(): boolean {
    return this.#engine.store.find('task', this.ref)?.status === 'pending';
  }

  /** Progress 0..1, at most every 100 ms or 1 % (an event each). */
  progress(p: number, force = false): void {
    const now = Date.now();
    if (!force && p - this.#lastProgress < 0.01 && now - this.#lastAt < 100) return;
    if (!this.#pending()) return;
    this.#lastProgress = p;
    this.#lastAt = now;
    this.#engine.store.update('task', this.ref, { progress: Math.max(0, Math.min(1, p)) });
  }

  /** TASK_CANCELLED once `task.cancel` was called (TaskHelper.exn_if_cancelling). */
  checkCancel(): void {
    if (this.#engine.store.find('task', this.ref)?.status === 'cancelling')
      throw new XapiFailure('TASK_CANCELLED', [this.ref]);
  }

  otherConfig(key: string, value: string): void {
    const rec = this.#engine.store.find('task', this.ref);
    if (!rec) return;
    this.#engine.store.update('task', this.ref, {
      other_config: { ...((rec.other_config ?? {}) as Record<string, string>), [key]: value },
    });
  }

  /** TaskHelper.complete: success with a result (an XML-RPC value string, '' for none), only while pending. */
  complete(result = ''): void {
    if (!this.#pending()) return;
    this.#engine.store.update('task', this.ref, {
      status: 'success',
      progress: 1,
      result,
      finished: this.#engine.clock.now(),
      allowed_operations: [],
    });
  }

  /** TaskHelper.failed (or cancel): the error into `error_info`. */
  fail(e: unknown): void {
    const store = this.#engine.store;
    const rec = store.find('task', this.ref);
    if (!rec) return;
    const f = failureOf(e);
    const cancelled = f.code === 'TASK_CANCELLED';
    if (rec.status !== 'pending' && !(cancelled && rec.status === 'cancelling')) return;
    store.update('task', this.ref, {
      status: cancelled ? 'cancelled' : 'failure',
      progress: 1,
      error_info: [f.code, ...f.params],
      finished: this.#engine.clock.now(),
      allowed_operations: [],
    });
  }
}

/** Writes to the response (through gzip if asked) with backpressure; throws {@link ClientGone} once it is gone. */
class Out {
  readonly #res: ServerResponse;
  readonly #gzip: Gzip | undefined;
  #gone = false;

  constructor(res: ServerResponse, gzip: boolean) {
    this.#res = res;
    res.on('close', () => {
      this.#gone = true;
    });
    if (gzip) {
      this.#gzip = createGzip();
      this.#gzip.pipe(res);
    }
  }

  async write(b: Buffer): Promise<void> {
    if (this.#gone || this.#res.destroyed) throw new ClientGone();
    const w = this.#gzip ?? this.#res;
    if (w.write(b)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        w.off('drain', onDrain);
        this.#res.off('close', onClose);
      };
      const onDrain = (): void => {
        done();
        resolve();
      };
      const onClose = (): void => {
        done();
        reject(new ClientGone());
      };
      w.once('drain', onDrain);
      this.#res.once('close', onClose);
    });
  }

  /** Ends the body; {@link ClientGone} when the connection closed before all of it went out. */
  async end(): Promise<void> {
    await finish(this.#res, () => {
      if (this.#gzip) this.#gzip.end();
      else this.#res.end();
    });
  }
}

/**
 * Runs `end` and waits until the response is flushed ('finish') or its connection gone ('close', which a destroyed
 * response emits without 'finish': an `end` callback would never run then).
 */
async function finish(res: ServerResponse, end: () => void): Promise<void> {
  if (!res.destroyed) {
    await new Promise<void>((resolve) => {
      res.once('finish', resolve);
      res.once('close', resolve);
      end();
    });
  }
  if (!res.writableFinished) throw new ClientGone();
}

/** Response headers of a successful start (`http_200_ok` + `task-id` + what the action adds). */
function ok(res: ServerResponse, task: Task, extra: Record<string, string | number>): void {
  res.sendDate = false;
  // No Content-Length and no chunked encoding: the body ends when the connection closes, as xapi's does.
  if (extra['content-length'] === undefined) res.removeHeader('transfer-encoding');
  res.writeHead(200, 'OK', {
    connection: 'close',
    'cache-control': 'no-cache, no-store',
    'task-id': task.ref,
    ...extra,
  });
  res.flushHeaders();
}

// ---------------------------------------------------------------------------------------------------------------
// The route

interface Ctx {
  readonly o: TransferOptions;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
}

type Handler = (c: Ctx) => Promise<void>;

/** `METHOD path` → [realm (the http action's name), handler]. */
const ROUTES: Readonly<Record<string, readonly [string, Handler]>> = {
  'GET /export': ['get_export', exportVm],
  'GET /export_metadata': ['get_export_metadata', exportVmMetadata],
  'PUT /import': ['put_import', importVm],
  'PUT /import_metadata': ['put_import', importMetadata],
  'GET /export_raw_vdi': ['get_export_raw_vdi', exportRawVdi],
  'PUT /import_raw_vdi': ['put_import_raw_vdi', importRawVdi],
};

/** The transfer endpoints, as a route of the API server. */
export function transferRoute(o: TransferOptions): ExtraRoute {
  let running = 0;
  const max = o.maxConcurrent ?? MAX_CONCURRENT_TRANSFERS;
  return async (req, res, url) => {
    const route = ROUTES[`${req.method ?? ''} ${url.pathname}`];
    if (!route) return false;
    const [realm, handler] = route;
    const auth = authenticate(o.engine, req, url);
    if (!auth) {
      unauthorised(res, realm);
      req.resume();
      return true;
    }
    if (running >= max) {
      const body = `xenlab: this simulator runs at most ${String(max)} imports and exports at once; retry later\n`;
      res.writeHead(503, { 'content-type': 'text/plain', connection: 'close', 'retry-after': '5' });
      res.end(body);
      req.resume();
      return true;
    }
    running++;
    try {
      await handler({ o, req, res, url });
    } catch (e) {
      // Before the headers: a 500 page naming the error. After them, the body just ends (the task says why).
      if (!res.headersSent) internalError(res, exnString(e));
      else if (!res.writableEnded) res.end();
    } finally {
      running--;
      if (auth.temporary) await o.engine.call('session.logout', [auth.session]);
      try {
        o.commit?.();
      } catch {
        // the saver keeps changes for its next attempt
      }
      // Whatever is left of a request body is not read: end the connection rather than drain it.
      if (!req.complete) req.destroy();
    }
    return true;
  };
}

/** Runs `body` with `op` in the VMs' current operations (export.ml `with_vm_locked`). */
async function withVmsLocked<T>(
  engine: Engine,
  vms: readonly string[],
  task: Task,
  op: string,
  body: () => Promise<T>,
): Promise<T> {
  const store = engine.store;
  const ctx = engine.context();
  const locked: string[] = [];
  try {
    for (const vm of vms) {
      const rec = store.get('VM', vm);
      const err = vmOperationError(vm, rec, op);
      if (err) throw err;
      store.update('VM', vm, {
        current_operations: { ...((rec.current_operations ?? {}) as Record<string, string>), [task.ref]: op },
      });
      engine.afterChange(ctx, 'VM', vm);
      locked.push(vm);
    }
    return await body();
  } finally {
    for (const vm of locked) {
      const rec = store.find('VM', vm);
      if (!rec) continue;
      const ops = { ...((rec.current_operations ?? {}) as Record<string, string>) };
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by task ref, as XAPI stores it
      delete ops[task.ref];
      store.update('VM', vm, { current_operations: ops });
      engine.afterChange(ctx, 'VM', vm);
    }
  }
}

/** The VM of `ref=` or `uuid=` (export.ml `vm_from_request`). */
function vmOfRequest(c: Ctx): string {
  const ref = param(c.req, c.url, 'ref');
  const store = c.o.engine.store;
  if (ref !== undefined) {
    store.get('VM', ref);
    return ref;
  }
  const uuid = param(c.req, c.url, 'uuid');
  if (uuid === undefined) throw new HttpFailure('Not_found');
  return store.byUuid('VM', uuid);
}

/** Opens the action's task; an unknown `task_id` is a 500. */
function openTask(c: Ctx, label: string): Task {
  return new Task(c.o.engine, param(c.req, c.url, 'task_id'), label);
}

// ---------------------------------------------------------------------------------------------------------------
// XVA export

/** Writes a tar member. */
async function member(out: Out, name: string, data: Buffer, mtime = 0): Promise<void> {
  await out.write(tarHeader(name, data.length, mtime));
  await out.write(data);
  const pad = padding(data.length);
  if (pad > 0) await out.write(Buffer.alloc(pad));
}

const zeroHashes = new Map<number, string>();

/**
 * Streams disks as XVA chunks (stream_vdi.ml `send_one`): 1 MiB files `<prefix>/%08d`, each followed by its
 * `.xxhash`; chunks of zeros are left out except the first and the last, which always go (the importer needs
 * them to know the chunk size and where the disk ends).
 */
async function sendDisks(
  out: Out,
  disks: readonly ArchiveDisk[],
  contents: DiskContents,
  task: Task,
): Promise<void> {
  const total = disks.reduce((n, d) => n + d.size, 0);
  let done = 0;
  for (const d of disks) {
    const chunks = Math.ceil(d.size / BLOCK_SIZE);
    const data = new Set(contents.dataBlocks(d.vdi));
    for (let i = 0; i < chunks; i++) {
      const len = Math.min(BLOCK_SIZE, d.size - i * BLOCK_SIZE);
      if (i === 0 || i === chunks - 1 || data.has(i)) {
        const block = contents.readBlock(d.vdi, i);
        const bytes = (block ?? ZERO_BLOCK).subarray(0, len);
        let sum = block ? undefined : zeroHashes.get(len);
        if (sum === undefined) {
          sum = xxh64Hex(bytes);
          if (!block) zeroHashes.set(len, sum);
        }
        const name = `${d.prefix}/${String(i).padStart(8, '0')}`;
        await member(out, name, bytes);
        await member(out, `${name}.xxhash`, Buffer.from(sum, 'ascii'));
      }
      done += len;
      task.progress(total > 0 ? done / total : 1);
      task.checkCancel();
    }
  }
}

async function exportVm(c: Ctx): Promise<void> {
  const { engine, contents } = c.o;
  const vm = vmOfRequest(c);
  const compression = param(c.req, c.url, 'use_compression');
  const gzip = compression === 'true' || compression === 'gzip';
  if (compression === 'zstd')
    throw new HttpFailure('xenlab: zstd compression is not simulated (use use_compression=gzip, or none)');
  const task = openTask(c, 'VM.export');
  try {
    task.progress(0, true);
    const preserve = flag(c.req, c.url, 'preserve_power_state', false);
    await withVmsLocked(engine, [vm], task, 'export', async () => {
      contents.prune();
      const options: ExportOptions = { preservePowerState: preserve, withSnapshotMetadata: false };
      const { table, xml } = exportMetadata(
        engine.store,
        [vm],
        thisVersion(engine.store, engine.master()),
        options,
      );
      const disks = exportedDisks(engine.store, vm, table, preserve);
      ok(c.res, task, {
        server: serverHeader(engine),
        'content-type': 'application/octet-stream',
        'content-disposition': 'attachment; filename="export.xva"',
      });
      const out = new Out(c.res, gzip);
      await member(out, OVA_XML, Buffer.from(xml, 'utf8'), Math.floor(Date.now() / 1000));
      await sendDisks(out, disks, contents, task);
      await out.write(TAR_END);
      await out.end();
    });
    task.complete();
  } catch (e) {
    task.fail(e instanceof ClientGone ? new XapiFailure('CLIENT_ERROR', [e.message]) : e);
    throw e;
  }
}

/** `Server: xapi/<major>.<minor>` (Xapi_version.xapi_user_agent). */
function serverHeader(engine: Engine): string {
  const v = thisVersion(engine.store, engine.master());
  return `xapi/${String(v.xapi_major)}.${String(v.xapi_minor)}`;
}

async function exportVmMetadata(c: Ctx): Promise<void> {
  const { engine } = c.o;
  const task = openTask(c, 'VM.export_metadata');
  try {
    const store = engine.store;
    const all = flag(c.req, c.url, 'all', false);
    const withSnapshots = flag(c.req, c.url, 'export_snapshots', true);
    const includeDom0 = flag(c.req, c.url, 'include_dom0', true);
    const excluded = new Set(
      (param(c.req, c.url, 'excluded_device_types') ?? '')
        .split(',')
        .filter((x) => x !== '')
        .map((x) => {
          const t = x.toLowerCase();
          if (!['vif', 'vbd', 'vgpu', 'vtpm'].includes(t))
            throw new HttpFailure(`Failure("of_string: Type '${x}' not one of [vif; vbd; vgpu; vtpm]")`);
          return t;
        }),
    );
    let vms: string[];
    if (all)
      vms = store
        .all('VM')
        .filter(([, v]) => {
          const other = (v.other_config ?? {}) as Record<string, string>;
          const defaultTemplate =
            v.is_default_template === true || (v.is_a_template === true && other.default_template === 'true');
          const dom0 = v.is_control_domain === true && v.domid === 0;
          return !defaultTemplate && (!dom0 || includeDom0);
        })
        .map(([r]) => r);
    else vms = [vmOfRequest(c)];
    const xml = await withVmsLocked(engine, vms, task, 'metadata_export', () =>
      Promise.resolve(
        exportMetadata(store, vms, thisVersion(store, engine.master()), {
          preservePowerState: true,
          withSnapshotMetadata: withSnapshots,
          excluded,
        }).xml,
      ),
    );
    const data = Buffer.from(xml, 'utf8');
    const tar = Buffer.concat([
      tarHeader(OVA_XML, data.length, Math.floor(Date.now() / 1000)),
      data,
      Buffer.alloc(padding(data.length)),
      TAR_END,
    ]);
    ok(c.res, task, {
      server: serverHeader(engine),
      'content-type': 'application/octet-stream',
      'content-length': tar.length,
      'content-disposition': 'attachment; filename="export.xva"',
    });
    await finish(c.res, () => c.res.end(tar));
    task.complete();
  } catch (e) {
    task.fail(e);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// XVA import

/** The error an import failure leaves on its task (import.ml `with_error_handling`). */
function importError(e: unknown): XapiFailure {
  if (e instanceof XapiFailure) return e;
  if (e instanceof EndOfStream) return new XapiFailure('IMPORT_ERROR_PREMATURE_EOF', []);
  if (e instanceof StreamIdle)
    return new XapiFailure('IMPORT_ERROR_GENERIC', [`xenlab: the upload stalled (${e.message})`]);
  if (e instanceof TarError || e instanceof OvaError || e instanceof VhdError)
    return new XapiFailure('IMPORT_ERROR_GENERIC', [e.message]);
  const message = e instanceof Error ? e.message : String(e);
  return new XapiFailure('IMPORT_ERROR_GENERIC', [message]);
}

/** The request body, decompressed when it starts with gzip's magic (import.ml `with_open_archive`). */
async function archiveReader(c: Ctx): Promise<StreamReader> {
  const raw = new StreamReader(c.req, c.o.idleMs);
  const first = await raw.readUpTo(4);
  if (first.length === 0) throw new EndOfStream(512, 0);
  raw.unshift(first);
  if (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd)
    throw new XapiFailure('IMPORT_ERROR_GENERIC', [
      'xenlab: this simulator does not read zstd-compressed archives; send it uncompressed or gzip-compressed',
    ]);
  if (first[0] === 0x1f && first[1] === 0x8b) {
    const gunzip = createGunzip();
    const source = Readable.from(raw.rest());
    source.on('error', (e) => gunzip.destroy(e));
    source.pipe(gunzip);
    return new StreamReader(gunzip, c.o.idleMs);
  }
  return raw;
}

/**
 * Receives disks' chunks (stream_vdi.ml `recv_all_vdi`): each disk's chunks in increasing order under its prefix,
 * the gaps being chunks of zeros; the first and last always present. Each chunk's `.xxhash` or `.checksum` is
 * checked (a mismatch fails the import unless `force`).
 */
async function receiveDisks(
  r: StreamReader,
  disks: readonly ArchiveDisk[],
  contents: DiskContents,
  task: Task,
  checksums: boolean,
  force: boolean,
): Promise<void> {
  const total = disks.reduce((n, d) => n + d.size, 0);
  let done = 0;
  let firstLength = -1;
  for (const d of disks) {
    contents.clear(d.vdi);
    let last = -1;
    let offset = 0;
    while (offset < d.size) {
      const e = await readEntry(r);
      if (!e) throw new EndOfStream(1, 0);
      if (!e.name.startsWith(`${d.prefix}/`))
        throw new XapiFailure('IMPORT_ERROR_GENERIC', [
          `Stream_vdi.Failure("Invalid XVA file"): expected a chunk of ${d.prefix}, found ${JSON.stringify(e.name)}`,
        ]);
      const suffix = e.name.slice(d.prefix.length + 1);
      const n = /^\d{1,9}$/.test(suffix) ? Number(suffix) : NaN;
      if (!Number.isInteger(n) || n <= last)
        throw new XapiFailure('IMPORT_ERROR_GENERIC', [
          `Stream_vdi.Failure("Invalid XVA file"): chunk ${JSON.stringify(e.name)} after chunk ${String(last)}`,
        ]);
      if (e.size > BLOCK_SIZE)
        throw new XapiFailure('IMPORT_ERROR_GENERIC', [
          `xenlab: chunk ${e.name} holds ${String(e.size)} bytes, more than 1 MiB`,
        ]);
      if (firstLength < 0) firstLength = e.size;
      const skipped = (n - last - 1) * firstLength;
      offset += skipped;
      if (offset + e.size > d.size)
        throw new XapiFailure('VDI_IO_ERROR', [
          `Device I/O errors (xenlab: chunk ${e.name} ends at byte ${String(offset + e.size)}, past the end of the ${String(d.size)}-byte disk)`,
        ]);
      const data = await r.read(e.size);
      await r.skip(padding(e.size));
      if (checksums) {
        const c = await readEntry(r);
        if (!c) throw new EndOfStream(1, 0);
        const ext = c.name.endsWith('.xxhash')
          ? 'xxhash'
          : c.name.endsWith('.checksum')
            ? 'checksum'
            : undefined;
        if (ext === undefined || c.name.slice(0, c.name.lastIndexOf('.')) !== e.name)
          throw new XapiFailure('IMPORT_ERROR_GENERIC', [
            `Stream_vdi.Failure("Expected to find a supported inline checksum file, instead found a file called: ${c.name}")`,
          ]);
        if (c.size > MAX_CHECKSUM_BYTES)
          throw new XapiFailure('IMPORT_ERROR_GENERIC', [`xenlab: checksum file ${c.name} is too large`]);
        const original = (await r.read(c.size)).toString('latin1');
        await r.skip(padding(c.size));
        const recomputed = ext === 'xxhash' ? xxh64Hex(data) : createHash('sha1').update(data).digest('hex');
        if (original !== recomputed && !force)
          throw new XapiFailure('IMPORT_ERROR_GENERIC', [
            `Stream_vdi.Invalid_checksum("Block ${e.name} checksum failed: original = ${original}; recomputed = ${recomputed}")`,
          ]);
      }
      contents.write(d.vdi, offset, data);
      offset += e.size;
      last = n;
      done += skipped + e.size;
      task.progress(total > 0 ? done / total : 1);
      task.checkCancel();
    }
  }
}

/** The SR an import goes to: `sr_id`, `sr_uuid`, else the pool's default SR (importexport.ml `sr_of_req`). */
function importSr(c: Ctx): string {
  const store = c.o.engine.store;
  const id = param(c.req, c.url, 'sr_id');
  if (id !== undefined) {
    store.get('SR', id);
    return id;
  }
  const uuid = param(c.req, c.url, 'sr_uuid');
  if (uuid !== undefined) return store.byUuid('SR', uuid);
  const pool = store.all('pool')[0]?.[1];
  const sr = typeof pool?.default_SR === 'string' ? pool.default_SR : NULL_REF;
  if (!store.find('SR', sr)) throw new XapiFailure('DEFAULT_SR_NOT_FOUND', [sr]);
  return sr;
}

async function importVm(c: Ctx): Promise<void> {
  await importArchive(c, undefined);
}

/**
 * `PUT /import_metadata?restore=&live=` (import.ml `metadata_handler`, what cross-pool migration sends:
 * importexport.ml `remote_metadata_export_import`): an archive holding only ova.xml; its disks are already here,
 * found by their `other_config:maps_to`, and VIFs join the network theirs name there. Not done: `dry_run` (the
 * simulator's assert_can_migrate asks the destination with API calls instead).
 */
async function importMetadata(c: Ctx): Promise<void> {
  await importArchive(c, { live: param(c.req, c.url, 'live') === 'true' });
}

async function importArchive(c: Ctx, metadata: { readonly live: boolean } | undefined): Promise<void> {
  const { engine, contents } = c.o;
  const fullRestore = param(c.req, c.url, 'restore') === 'true';
  const force = param(c.req, c.url, 'force') === 'true';
  const sr = metadata ? NULL_REF : importSr(c);
  const task = openTask(c, metadata ? 'VM.import_metadata' : 'VM.import');
  let state: ImportState | undefined;
  try {
    task.progress(0, true);
    if (!metadata && engine.store.get('SR', sr).content_type === 'iso') {
      bare(c.res, 400, 'Bad Request');
      throw new XapiFailure('SR_OPERATION_NOT_SUPPORTED', []);
    }
    if (c.req.headers['transfer-encoding'] !== undefined) {
      bare(c.res, 403, 'Forbidden');
      throw new XapiFailure('IMPORT_ERROR_CANNOT_HANDLE_CHUNKED', []);
    }
    ok(c.res, task, { 'content-type': 'application/octet-stream' });
    let vms: string[];
    try {
      const r = await archiveReader(c);
      const first = await readEntry(r);
      if (!first) throw new EndOfStream(512, 0);
      if (first.name !== OVA_XML)
        throw new XapiFailure('IMPORT_ERROR_UNEXPECTED_FILE', [OVA_XML, first.name]);
      if (first.size > MAX_OVA_XML_BYTES)
        throw new XapiFailure('IMPORT_ERROR_GENERIC', [
          `xenlab: ova.xml is ${String(first.size)} bytes, more than the ${String(MAX_OVA_XML_BYTES)} this simulator reads`,
        ]);
      const xml = (await r.read(first.size)).toString('utf8');
      await r.skip(padding(first.size));
      const header = parseOva(xml);
      const ours = thisVersion(engine.store, engine.master());
      if (
        ours.xapi_major < header.version.xapi_major ||
        (ours.xapi_major === header.version.xapi_major && ours.xapi_minor < header.version.xapi_minor)
      )
        throw new XapiFailure('IMPORT_INCOMPATIBLE_VERSION', []);
      if (fullRestore) assertCanRestore(engine, header.objects);
      state = await importObjects(engine, header, {
        sr,
        fullRestore,
        force,
        task: task.ref,
        ...(metadata ? { metadata } : {}),
      });
      task.otherConfig('object_creation', 'complete');
      if (metadata === undefined)
        await receiveDisks(
          r,
          importedDisks(header, state),
          contents,
          task,
          header.version.export_vsn > 0,
          force,
        );
      task.checkCancel();
      if (header.version.export_vsn < 2) {
        // Pre-Miami archives end with a checksum table: read past it (the inline checksums were checked).
        const table = await readEntry(r);
        if (table) await r.skip(table.size + padding(table.size));
      }
      await r.drain(1024 * 1024);
      vms = completeImport(engine, state, task.ref);
    } catch (e) {
      if (state && !force) await undo(state);
      throw importError(e);
    }
    const result = `<value><array><data>${vms.map((v) => `<value>${v}</value>`).join('')}</data></array></value>`;
    task.complete(result);
    c.res.end();
  } catch (e) {
    task.fail(e);
    throw e;
  }
}

/** import.ml `assert_can_restore_backup`: a MAC seed another VM uses refuses a restore (DUPLICATE_MAC_SEED). */
function assertCanRestore(engine: Engine, objects: readonly { cls: string; snapshot: unknown }[]): void {
  const seedOf = (v: Record<string, unknown>): string | undefined =>
    ((v.other_config ?? {}) as Record<string, string>).mac_seed;
  const incoming: { seed: string; uuid: unknown; snap: boolean }[] = [];
  for (const o of objects) {
    if (o.cls !== 'VM' || !(o.snapshot instanceof Map)) continue;
    const m = o.snapshot as Map<string, unknown>;
    const other = m.get('other_config');
    const seed = other instanceof Map ? (other as Map<string, unknown>).get('mac_seed') : undefined;
    if (typeof seed === 'string')
      incoming.push({ seed, uuid: m.get('uuid'), snap: m.get('is_a_snapshot') === true });
  }
  for (const [, v] of engine.store.all('VM')) {
    const seed = seedOf(v);
    if (seed === undefined) continue;
    for (const x of incoming)
      if (x.seed === seed && !x.snap && v.is_a_snapshot !== true && x.uuid !== v.uuid)
        throw new XapiFailure('DUPLICATE_MAC_SEED', [seed]);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw VDI export and import

type Format = 'raw' | 'vhd' | 'tar' | 'qcow2';
const FORMATS: Readonly<Record<string, Format>> = { raw: 'raw', vhd: 'vhd', tar: 'tar', qcow2: 'qcow2' };
const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  raw: 'application/octet-stream',
  vhd: 'application/vhd',
  tar: 'application/x-tar',
  qcow2: 'application/x-qemu-disk',
};

/** `format=` (importexport.ml `Format.of_req`): raw by default, `Unknown` otherwise. */
function formatOf(c: Ctx): Format | { unknown: string } {
  const f = param(c.req, c.url, 'format');
  if (f === undefined) return 'raw';
  return FORMATS[f.toLowerCase()] ?? { unknown: f };
}

/** A VDI named by ref or uuid (importexport.ml `vdi_of_req`). */
function vdiOf(c: Ctx, name: string): string | undefined {
  const v = param(c.req, c.url, name);
  if (v === undefined) return undefined;
  const store = c.o.engine.store;
  return store.find('VDI', v) ? v : store.byUuid('VDI', v);
}

async function exportRawVdi(c: Ctx): Promise<void> {
  const { engine, contents } = c.o;
  const vdi = vdiOf(c, 'vdi');
  if (vdi === undefined) throw new HttpFailure('Failure("Missing vdi query parameter")');
  const task = openTask(c, 'Exporting raw VDI');
  try {
    task.progress(0, true);
    const format = formatOf(c);
    if (typeof format !== 'string') {
      task.fail(new XapiFailure('INTERNAL_ERROR', [`Unknown format ${format.unknown}`]));
      bare(c.res, 404, 'Not Found');
      return;
    }
    const rec = engine.store.get('VDI', vdi);
    const uuid = String(rec.uuid);
    const size = typeof rec.virtual_size === 'number' ? rec.virtual_size : 0;
    const base = vdiOf(c, 'base');
    contents.prune();
    ok(c.res, task, {
      'content-type': CONTENT_TYPES[format],
      'content-disposition': `attachment; filename="${uuid}.${format}"`,
    });
    const out = new Out(c.res, false);
    if (format === 'qcow2')
      throw new XapiFailure('INTERNAL_ERROR', ['xenlab: qcow2 export is not simulated (use raw or vhd)']);
    if (format === 'tar') {
      await sendDisks(out, [{ prefix: 'vdi', vdi, size }], contents, task);
      await out.write(TAR_END);
    } else if (format === 'vhd') {
      if (size > MAX_VHD_SIZE) throw new XapiFailure('VDI_TOO_LARGE', [vdi, String(MAX_VHD_SIZE)]);
      const image = vhdImage(contents, vdi, size, uuid, engine.clock.now(), base);
      let sent = 0;
      await image.write(async (b) => {
        await out.write(b);
        sent += b.length;
        task.progress(sent / image.length);
        task.checkCancel();
      });
    } else {
      for (let off = 0, i = 0; off < size; off += BLOCK_SIZE, i++) {
        const len = Math.min(BLOCK_SIZE, size - off);
        await out.write((contents.readBlock(vdi, i) ?? ZERO_BLOCK).subarray(0, len));
        task.progress((off + len) / size);
        task.checkCancel();
      }
    }
    await out.end();
    task.complete();
  } catch (e) {
    task.fail(e instanceof ClientGone ? new XapiFailure('CLIENT_ERROR', [e.message]) : e);
    throw e;
  }
}

/** The error a failed raw import leaves (vhd_tool_wrapper.ml: any vhd-tool failure is VDI_IO_ERROR). */
function rawImportError(e: unknown): XapiFailure {
  if (e instanceof XapiFailure) return e;
  const detail =
    e instanceof EndOfStream
      ? 'the upload ended before the image did'
      : e instanceof Error
        ? e.message
        : String(e);
  return new XapiFailure('VDI_IO_ERROR', [`Device I/O errors (xenlab: ${detail})`]);
}

async function importRawVdi(c: Ctx): Promise<void> {
  const { engine, contents } = c.o;
  const store = engine.store;
  let vdi = vdiOf(c, 'vdi');
  const srId = param(c.req, c.url, 'sr_id');
  const srUuid = param(c.req, c.url, 'sr_uuid');
  const sr = srId ?? (srUuid === undefined ? undefined : store.byUuid('SR', srUuid));
  if (vdi === undefined && sr === undefined) {
    const given = param(c.req, c.url, 'task_id');
    if (given !== undefined && store.find('task', given))
      new Task(engine, given, '').fail(new XapiFailure('VDI_MISSING', []));
    bare(c.res, 400, 'Bad Request');
    return;
  }
  const task = openTask(c, 'Importing raw VDI');
  try {
    task.progress(0, true);
    const format = formatOf(c);
    // import_raw_vdi.ml `HandleError`: the error on the task, and a bare 404 or 400.
    const refuse = (status: number, text: string, message: string): void => {
      task.fail(new XapiFailure('INTERNAL_ERROR', [message]));
      bare(c.res, status, text);
    };
    const te = c.req.headers['transfer-encoding'];
    if (typeof format !== 'string') {
      refuse(404, 'Not Found', `Unknown format ${format.unknown}`);
      return;
    }
    if (format !== 'raw' && param(c.req, c.url, 'chunked') !== undefined) {
      refuse(404, 'Not Found', 'Cannot handle chunked VHD');
      return;
    }
    if (te !== undefined) {
      refuse(404, 'Not Found', `Cannot handle encoding: ${te}`);
      return;
    }
    if (vdi === undefined) {
      const length = Number(c.req.headers['content-length'] ?? NaN);
      if (format === 'raw' && Number.isSafeInteger(length) && sr !== undefined)
        vdi = String(
          await engine.invoke('VDI.create', [
            {
              name_label: 'Imported VDI',
              name_description: '',
              SR: sr,
              virtual_size: length,
              type: 'user',
              sharable: false,
              read_only: false,
              other_config: {},
              xenstore_data: {},
              sm_config: {},
              tags: [],
            },
          ]),
        );
      else {
        refuse(
          400,
          'Bad Request',
          format === 'vhd'
            ? 'Importing a VHD directly into an SR not yet supported'
            : format === 'qcow2'
              ? 'Importing a QCOW2 directly into an SR not yet supported'
              : 'Not enough info supplied to import',
        );
        return;
      }
    }
    const rec = store.get('VDI', vdi);
    const size = typeof rec.virtual_size === 'number' ? rec.virtual_size : 0;
    ok(c.res, task, { 'content-type': 'application/octet-stream' });
    const r = new StreamReader(c.req, c.o.idleMs);
    const target = vdi;
    try {
      if (format === 'qcow2')
        throw new XapiFailure('INTERNAL_ERROR', ['xenlab: qcow2 import is not simulated (use raw or vhd)']);
      contents.prune();
      if (format === 'vhd') {
        const length = Number(c.req.headers['content-length'] ?? 0);
        // xenlab_delta=true (the simulator's own, what a pool sends another when a disk moves there as a delta over
        // a clone of a similar disk already sent: behaviour/migrate-cross-pool.ts): the image's blocks go over what
        // the VDI reads, and only those that differ are kept; otherwise the image replaces the whole disk.
        const delta = param(c.req, c.url, 'xenlab_delta') === 'true';
        if (!delta) contents.clear(target);
        await readVhd(r, size, (offset, data) => {
          if (delta) contents.patch(target, offset, data);
          else contents.write(target, offset, data);
          if (length > 0) task.progress(r.consumed / length);
          task.checkCancel();
        });
      } else if (format === 'tar') {
        await receiveDisks(r, [{ prefix: 'vdi', vdi: target, size }], contents, task, true, false);
        await r.drain(1024 * 1024);
      } else {
        let offset = 0;
        for (;;) {
          const b = await r.readSome(BLOCK_SIZE);
          if (!b) break;
          if (offset + b.length > size)
            throw new VhdError(
              `${String(offset + b.length)} bytes sent for a disk of ${String(size)} bytes (the VDI is too small)`,
            );
          contents.write(target, offset, b);
          offset += b.length;
          task.progress(size > 0 ? offset / size : 1);
          task.checkCancel();
        }
      }
    } catch (e) {
      throw rawImportError(e);
    }
    task.complete(`<value>${target}</value>`);
    c.res.end();
  } catch (e) {
    task.fail(e);
    throw e;
  }
}
