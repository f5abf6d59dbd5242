/**
 * One HTTP(S) POST with a keep-alive agent, a whole-reply timeout and cancellation. Shared by the transports.
 */
import http from 'node:http';
import https from 'node:https';
import { ClientErrorCode, XapiClientError } from './errors.js';

/** Options every transport takes. */
export interface HttpOptions {
  /**
   * Accept self-signed / untrusted TLS certificates (XCP-ng and XenServer hosts ship self-signed ones). Off by
   * default: verification is turned off only when asked.
   */
  readonly allowUnauthorized?: boolean;
  /**
   * Trust these certificates (PEM) instead of the system's CAs: the safe way to reach a host with a self-signed
   * certificate (the host's own `cert.pem`, like `curl --cacert`); the host name is still checked against it.
   */
  readonly ca?: string | readonly string[];
  /** Per-request timeout for the whole reply, in ms (default 60 000). */
  readonly timeoutMs?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Overrides the transport's timeout for this call (e.g. a blocking `event.from`). */
  readonly timeoutMs?: number;
  /** Cancels the call: it then rejects with `XENAPI_ERR_ABORTED`. */
  readonly signal?: AbortSignal;
}

export interface HttpReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** Replies larger than this are refused: no XAPI reply legitimately gets near it, a broken server might. */
const MAX_REPLY_BYTES = 512 * 1024 * 1024;

/** Keep-alive agents for one client (closed by {@link HttpPoster.close}). */
export class HttpPoster {
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  readonly #timeoutMs: number;

  constructor(options: HttpOptions = {}) {
    this.#http = new http.Agent({ keepAlive: true });
    this.#https = new https.Agent({
      keepAlive: true,
      rejectUnauthorized: options.allowUnauthorized !== true,
      ...(options.ca === undefined
        ? {}
        : { ca: typeof options.ca === 'string' ? options.ca : [...options.ca] }),
    });
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  post(url: URL, contentType: string, body: string, options: CallOptions = {}): Promise<HttpReply> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const isHttps = url.protocol === 'https:';
    if (!isHttps && url.protocol !== 'http:') {
      return Promise.reject(
        new XapiClientError(
          ClientErrorCode.BAD_ARGUMENT,
          `Unsupported URL scheme ${url.protocol} (use http: or https:)`,
        ),
      );
    }
    const payload = Buffer.from(body, 'utf8');
    return new Promise<HttpReply>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(err);
      };
      const onAbort = (): void => {
        fail(new XapiClientError(ClientErrorCode.ABORTED, `Call to ${url.origin} aborted`));
      };
      const timer = setTimeout(() => {
        fail(
          new XapiClientError(ClientErrorCode.TIMEOUT, `No reply from ${url.origin} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const req = (isHttps ? https : http).request(
        url,
        {
          method: 'POST',
          agent: isHttps ? this.#https : this.#http,
          headers: {
            'content-type': contentType,
            'content-length': payload.length,
            accept: contentType === 'application/json' ? 'application/json' : 'text/xml',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_REPLY_BYTES) {
              fail(
                new XapiClientError(
                  ClientErrorCode.BAD_RESPONSE,
                  `Reply from ${url.origin} exceeds ${MAX_REPLY_BYTES} bytes`,
                ),
              );
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (err) => {
            fail(
              new XapiClientError(
                ClientErrorCode.CONNECTION,
                `Reply from ${url.origin} broke: ${err.message}`,
                { cause: err },
              ),
            );
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            cleanup();
            resolve({
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'] ?? '',
              body: Buffer.concat(chunks),
            });
          });
        },
      );
      req.on('error', (err) => {
        fail(
          new XapiClientError(ClientErrorCode.CONNECTION, `Cannot reach ${url.origin}: ${err.message}`, {
            cause: err,
          }),
        );
      });
      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      options.signal?.addEventListener('abort', onAbort);
      req.end(payload);
    });
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

/** The first bytes of a body, for error messages. */
export function snippet(body: Buffer): string {
  const text = body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
  return body.length > 200 ? `${text}…` : text;
}
