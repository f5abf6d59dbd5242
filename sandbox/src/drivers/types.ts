/**
 * The seam between the gateway and the places shells run. Every driver (local jail, docker, qemu-xen, a real XCP
 * host over SSH) gives terminals through the same small interface, so lessons and checks never know which runs.
 */

/** A running terminal process: bytes in, bytes out, a size, and an end. */
export interface TerminalProcess {
  readonly pid: number;
  write(data: string | Uint8Array): void;
  resize(cols: number, rows: number): void;
  /** Stops reading output (flow control); the process blocks once the pty buffer fills. */
  pause(): void;
  resume(): void;
  /** Ends the process and frees its pty. Safe to call twice. */
  kill(): void;
  onData(listener: (data: Buffer) => void): void;
  onExit(listener: (code: number | null) => void): void;
}

/** What an environment is: where its files live and what its terminals see. */
export interface EnvironmentSpec {
  /** Stable id of the environment (e.g. derived from the browser session). */
  readonly id: string;
  /** Host directory holding the learner's home. */
  readonly home: string;
  /** Extra environment variables for shells (e.g. the learner's XenAPI URL for `xe`). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface SandboxDriver {
  /** Driver name shown to the learner (`local`, `docker`, …). */
  readonly name: string;
  /** Whether shells are isolated from the host and each other. */
  readonly jailed: boolean;
  /** Why not, when not: shown in the terminal. */
  readonly notice: string | undefined;
  /** Starts a shell in the environment at the given size. */
  attachTerminal(env: EnvironmentSpec, size: { cols: number; rows: number }): TerminalProcess;
}
