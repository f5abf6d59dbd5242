/**
 * The tools' own failures: a stable code (documented in the reference page) and a message that says what to do.
 * XenAPI failures pass through as `XapiError` from the client, unchanged.
 */

/** Stable error codes of `xenlab-tools`. */
export const ToolErrorCode = {
  /** Bad command line: unknown tool or option, a missing or malformed value. */
  usage: 'TOOLS_ERR_USAGE',
  /** No pool to talk to: neither `--url` nor `XENLAB_URL`. */
  noPool: 'TOOLS_ERR_NO_POOL',
  /** An input file (inventory, plan) is malformed or inconsistent. */
  input: 'TOOLS_ERR_INPUT',
  /** The input conflicts with itself or with the pool (duplicate MAC, IP outside the subnet, bonded NIC…). */
  conflict: 'TOOLS_ERR_CONFLICT',
  /** A named object (template, host, network, device) does not exist in the pool. */
  notFound: 'TOOLS_ERR_NOT_FOUND',
  /** A file could not be read or written. */
  file: 'TOOLS_ERR_FILE',
  /** The metrics endpoint (`/rrd_updates`) could not be read or parsed. */
  metrics: 'TOOLS_ERR_METRICS',
} as const;
/** What each code means and what to do, for the reference page. */
export const TOOL_ERROR_DOCS: Readonly<Record<ToolErrorCode, string>> = {
  TOOLS_ERR_USAGE:
    'Bad command line: unknown tool or option, missing or malformed value. Exit code 2. See `--help`.',
  TOOLS_ERR_NO_POOL: 'The tool talks to a pool but got none: pass `--url` or set `XENLAB_URL`.',
  TOOLS_ERR_INPUT: 'An input file or option set is malformed; every problem is listed under the message.',
  TOOLS_ERR_CONFLICT:
    'The input conflicts with itself or with the pool (duplicate MAC/IP, NIC already bonded…); nothing was changed.',
  TOOLS_ERR_NOT_FOUND: 'A named template, host, network or NIC does not exist in the pool.',
  TOOLS_ERR_FILE: 'A file could not be read or written (the message names it and the system error).',
  TOOLS_ERR_METRICS: 'The pool’s `/rrd_updates` could not be read or parsed, or holds no samples yet.',
};

/** One of {@link ToolErrorCode}'s values. */
export type ToolErrorCode = (typeof ToolErrorCode)[keyof typeof ToolErrorCode];

/**
 * A failure the user can fix; printed as `xenlab-tools <tool>: <message> [<code>]`.
 * @example
 * throw new ToolError(ToolErrorCode.notFound, 'no template named "Debian 13"; list them with `xe template-list`');
 */
export class ToolError extends Error {
  readonly code: ToolErrorCode;
  /** Extra lines printed under the message (e.g. every conflict of an inventory). */
  readonly details: readonly string[];
  constructor(code: ToolErrorCode, message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'ToolError';
    this.code = code;
    this.details = details;
  }
}
