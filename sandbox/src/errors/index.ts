/**
 * The sandbox's one error type: {@link XenlabError}, with a stable `code` from the table in `codes.ts` (meaning
 * and what to do, published as the error-code reference page). The bottom room: it imports no other room, and
 * every room may use it.
 * @module
 */
import { isErrorCode, type ErrorCode } from './codes.js';

export {
  ERROR_AREAS,
  ERROR_CODES,
  areaOf,
  isErrorCode,
  type ErrorCode,
  type ErrorCodeInfo,
} from './codes.js';
export { renderErrorCodesPage } from './page.js';

export interface XenlabErrorOptions {
  /** The error this one explains (kept as `Error.cause`). */
  readonly cause?: unknown;
  /** Machine-readable facts for logs (ids, paths, exit codes); never shown to learners as they are. */
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * Whether `message` starts with `CODE: ` (default true: the form users, logs and tests have always seen, e.g.
   * `SANDBOX_ERR_NO_ENGINE: the Docker engine does not answer`). False for errors whose message goes to a
   * page or a lab author next to the code (lab loading, lab environments, the state database).
   */
  readonly codeInMessage?: boolean;
}

/**
 * An error with a stable code.
 * @example
 * throw new XenlabError('SANDBOX_ERR_NO_NODE', `environment ${id} has no node '${name}'`);
 * // .message === "SANDBOX_ERR_NO_NODE: environment e-1 has no node 'web'", .code === 'SANDBOX_ERR_NO_NODE'
 */
export class XenlabError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(code: ErrorCode, message: string, options: XenlabErrorOptions = {}) {
    super(
      options.codeInMessage === false ? message : `${code}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }
}

/** Whether `err` is a {@link XenlabError}, with `code` when given. */
export function isXenlabError(err: unknown, code?: ErrorCode): err is XenlabError {
  return err instanceof XenlabError && (code === undefined || err.code === code);
}

/**
 * The stable code of any thrown value, for logs: a `XenlabError`'s code, a `code` property (Node's `ENOENT`,
 * SQLite's `SQLITE_BUSY`…), or a `CODE: ` the message starts with; undefined when there is none.
 */
export function codeOf(err: unknown): string | undefined {
  if (err instanceof XenlabError) return err.code;
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  const message = (err as { message?: unknown }).message;
  if (typeof message !== 'string') return undefined;
  const m = /^([A-Z][A-Z0-9]*_ERR_[A-Z0-9_]+):/.exec(message);
  return m?.[1];
}

/** A code of the table found at the start of a message (`SANDBOX_ERR_X: …`), if any. */
export function tableCodeOf(err: unknown): ErrorCode | undefined {
  const code = codeOf(err);
  return isErrorCode(code) ? code : undefined;
}
