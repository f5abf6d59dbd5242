/**
 * The file transfers of `vm-export`, `vm-import`, `vdi-export` and `vdi-import`: what the real thin client does when
 * the server sends it `HttpGet (filename, uri)` or `HttpPut (filename, uri)` (xen-api ocaml/xe-cli/newcli.ml) —
 * a GET whose 200 body goes into a new file (never overwriting one: `O_EXCL`, mode 0600; `filename=` empty means
 * stdout), or a PUT of a file with its Content-Length (streamed, never read whole). Anything but a 200 is a failed
 * transfer; the caller then learns why from the task.
 */
import { constants, createReadStream, createWriteStream, openSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';

/** How a transfer went: `clientError` is a problem on this side (newcli.ml `ClientSideError`), printed as such. */
export interface TransferOutcome {
  readonly ok: boolean;
  readonly clientError?: string;
}

/** The thin client's two transfers against one server. */
export interface XeTransfer {
  /** The server's URL (`http://host:port`). */
  readonly base: string;
  /** GETs `path` (with its query) into `filename`. */
  get(path: string, filename: string): Promise<TransferOutcome>;
  /** PUTs `filename` to `path` (with its query). */
  put(path: string, filename: string): Promise<TransferOutcome>;
}

/** OCaml's `Sys_error` text for a failed open (what newcli prints after `Operation failed. Error: `). */
function sysError(filename: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const reason =
    code === 'EEXIST'
      ? 'File exists'
      : code === 'ENOENT'
        ? 'No such file or directory'
        : code === 'EACCES'
          ? 'Permission denied'
          : code === 'EISDIR'
            ? 'Is a directory'
            : (e as Error).message;
  return `Sys_error("${filename}: ${reason}")`;
}

/** Transfers over node:http(s); self-signed certificates are accepted, as the real `xe` does. */
export function createTransfer(base: string, options: { allowUnauthorized?: boolean } = {}): XeTransfer {
  const url = (path: string): URL => new URL(path, base);
  const lib = (u: URL): typeof http | typeof https => (u.protocol === 'https:' ? https : http);
  const tls = { rejectUnauthorized: options.allowUnauthorized !== true };
  return {
    base,
    get(path, filename) {
      const u = url(path);
      return new Promise<TransferOutcome>((resolve) => {
        const req = lib(u).get(u, { ...tls, headers: { connection: 'close' } }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            resolve({ ok: false });
            return;
          }
          let out: NodeJS.WritableStream;
          if (filename === '') out = process.stdout;
          else {
            try {
              const fd = openSync(filename, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
              out = createWriteStream('', { fd });
            } catch (e) {
              res.destroy();
              resolve({ ok: false, clientError: sysError(filename, e) });
              return;
            }
          }
          const done = filename === '' ? pipeline(res, out, { end: false }) : pipeline(res, out);
          done.then(
            () => {
              resolve({ ok: true });
            },
            () => {
              resolve({ ok: false });
            },
          );
        });
        req.on('error', () => {
          resolve({ ok: false });
        });
      });
    },
    put(path, filename) {
      let size: number | undefined;
      try {
        const st = statSync(filename);
        if (st.isFile()) size = st.size;
      } catch {
        return Promise.resolve({ ok: false, clientError: `file '${filename}' does not exist` });
      }
      const u = url(path);
      return new Promise<TransferOutcome>((resolve) => {
        // Done when the answer has ended and the upload has (both: their events come in either order).
        let status: number | undefined;
        let uploaded: boolean | undefined;
        let settled = false;
        const check = (): void => {
          if (settled || status === undefined || uploaded === undefined) return;
          settled = true;
          // The server ends its 200 only once it has read the whole body (its headers go first, as xapi's do), so a
          // request the file was all piped into counts as uploaded even when the connection's close is seen before
          // the request's own 'finish' (seen under load in CI: the import succeeded, xe said CLIENT_ERROR). Whether
          // the import worked is the task's to say.
          resolve({ ok: status === 200 && (uploaded || req.writableEnded) });
        };
        const req = lib(u).request(
          u,
          {
            ...tls,
            method: 'PUT',
            headers: { connection: 'close', ...(size === undefined ? {} : { 'content-length': size }) },
          },
          (res) => {
            res.resume();
            res.on('close', () => {
              status = res.statusCode ?? 0;
              check();
            });
          },
        );
        req.on('finish', () => {
          uploaded ??= true;
          check();
        });
        req.on('close', () => {
          uploaded ??= req.writableFinished;
          check();
        });
        req.on('error', () => {
          uploaded ??= false;
          status ??= 0;
          check();
        });
        const file = createReadStream(filename);
        file.on('error', () => {
          req.destroy();
        });
        file.pipe(req);
      });
    },
  };
}
