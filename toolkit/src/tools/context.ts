/**
 * What a tool gets from its surroundings: output streams, environment, files, a clock and the XenAPI client. The
 * process entry (`cli.ts`) passes the real ones; tests pass their own and a simulator's URL.
 */
import type { ClientOptions, XapiClient } from '../xenapi/index.js';
import type { Progress } from './progress.js';

/** Output and terminal facts. */
export interface ToolIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stdout is a terminal (live views redraw; otherwise they print plain snapshots). */
  readonly stdoutIsTTY: boolean;
  /** stderr is a terminal (progress bars are drawn only then). */
  readonly stderrIsTTY: boolean;
  /** Terminal width in columns (80 when unknown). */
  readonly columns: number;
  /** Terminal height in rows (24 when unknown). */
  readonly rows: number;
}

/** Files, relative paths resolved against the working directory by the caller's implementation. */
export interface ToolFiles {
  /** Reads a text file; throws a `ToolError` (`TOOLS_ERR_FILE`) naming the path when it cannot. */
  read(path: string): string;
  /** Writes a text file, creating missing directories; `mode` e.g. 0o600 for files holding secrets. */
  write(path: string, text: string, mode?: number): void;
  /** Whether a path exists. */
  exists(path: string): boolean;
}

/** Where the pool is and how to log in. */
export interface PoolTarget {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly allowUnauthorized: boolean;
}

/** Everything a tool's `run` receives besides its options. */
export interface ToolContext {
  readonly io: ToolIo;
  readonly files: ToolFiles;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds from an arbitrary origin (performance.now in production). */
  now(): number;
  /** Sleeps (top's refresh); resolves early when `signal` aborts. */
  sleep(ms: number): Promise<void>;
  /** Aborted on Ctrl-C / `q` in live views, or by a test. */
  readonly signal: AbortSignal;
  /** Key presses while a live view runs (raw-mode stdin); absent when stdin is not a terminal. */
  readonly keys?: AsyncIterable<string>;
  /** The pool connection: present for tools that talk to a pool. */
  readonly target?: PoolTarget;
  /** The XenAPI client for {@link target} (created on first use, closed by the runner). */
  client(): XapiClient;
  /** A progress bar on stderr. */
  progress(label: string, total: number): Progress;
}

/** What the runner needs to build a {@link ToolContext}. */
export interface ToolHost {
  readonly io: ToolIo;
  readonly files: ToolFiles;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => number;
  readonly createClient: (options: ClientOptions) => XapiClient;
  readonly signal?: AbortSignal;
  readonly keys?: AsyncIterable<string>;
}
