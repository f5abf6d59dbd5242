/**
 * The seam between the gateway and the places shells run. Every driver (local jail, docker, qemu-xen, a real XCP
 * host over SSH) gives environments through the same small interface, so lessons and checks never know which runs.
 */
import type { PoolAccess, PoolAddress } from './pool-access.js';

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
  /**
   * Input bytes `write` accepted and the process has not taken yet (queued while its pty or stream is full).
   * `write` never blocks; the caller bounds this (see `INPUT_BACKLOG_BYTES` in `sessions/shared-terminal.ts`).
   * A driver that has it also has {@link onInputDrain}.
   */
  inputBacklog?(): number;
  /** Called whenever the queued input has all been taken (the backlog is back to zero). */
  onInputDrain?(listener: () => void): void;
}

/** Resource limits of one environment (each driver enforces what it can and documents the rest). */
export interface SandboxLimits {
  /** Memory for the whole environment, MiB. */
  memoryMb?: number;
  /** Most processes/threads at once (a fork bomb stops here). */
  pids?: number;
  /** CPU share, in cores (e.g. 0.5). */
  cpus?: number;
  /** Disk the learner may fill (home and /tmp), MiB. */
  diskMb?: number;
}

/** One machine of a multi-node environment (e.g. two storage nodes and a client for a DRBD lab). */
export interface NodeSpec {
  /** Name, unique in the environment; also its hostname on the environment's private network. */
  readonly name: string;
  /** Image (docker) or profile (qemu-xen) of this node; the driver's default when absent. */
  readonly image?: string;
  /** qemu-xen: the machine's RAM in MiB (the driver's default when absent). */
  readonly memoryMb?: number;
  /** qemu-xen: blank writable data disks, in order (/dev/vdb, /dev/vdc…); `name` is the disk's serial. */
  readonly disks?: readonly { readonly name: string; readonly sizeMb: number }[];
  /** qemu-xen: NICs on the environment's private network (default 1 when it has two machines or more). */
  readonly nics?: number;
  /** qemu-xen, xen machines: NUMA nodes QEMU presents (CPUs and RAM split evenly); one when absent. */
  readonly numaNodes?: number;
  /** qemu-xen, xen machines: Xen's scheduler (`sched=` on its command line); Xen's default when absent. */
  readonly xenScheduler?: 'credit' | 'credit2' | 'rtds' | 'arinc653' | 'null';
}

/**
 * A fault played on a machine of an environment (qemu-xen): power cut and back, a NIC's link (`<node>/eth0`), a data
 * disk's I/O errors (`<node>/<disk>`). Same shapes as the lab manifest's faults of these kinds.
 */
export type MachineFault =
  | { readonly kind: 'machine-power-off' | 'machine-power-on'; readonly target: string }
  | { readonly kind: 'link-down' | 'link-up'; readonly target: string }
  | { readonly kind: 'disk-errors' | 'disk-ok'; readonly target: string };

/** What an environment is: where its files live and what its terminals see. */
export interface EnvironmentSpec {
  /** Stable id of the environment (a learner × lab); creating the same id again re-attaches. */
  readonly id: string;
  /** Host directory holding the learner's home (local driver; others may keep files inside the sandbox). */
  readonly home: string;
  /** Extra environment variables for shells and `exec` (a lab's parameters). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The environment's own pool (its simulator, on the gateway host's loopback). The driver makes it reachable from
   * inside, and from no other environment, and points `xe` and the tools at it (`~/.xe`, XENLAB_URL…; see
   * pool-access.ts).
   */
  readonly pool?: PoolAccess;
  /**
   * The ports (on the gateway host's loopback) of the environment's other pools (a lab with `environment.pools`):
   * reachable from inside at 127.0.0.1:<port> like the first one (the lab gives their logins in its variables).
   * Only the local driver relays them.
   */
  readonly otherPoolPorts?: readonly number[];
  /** Nodes of a multi-node environment; one node named `main` when absent. */
  readonly nodes?: readonly NodeSpec[];
  readonly limits?: SandboxLimits;
}

/** Result of running a command in an environment (checks use this). */
export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command was killed for running past its timeout. */
  readonly timedOut: boolean;
}

export interface ExecOptions {
  /** Node to run on; the first node when absent. */
  readonly node?: string;
  readonly timeoutMs?: number;
  /** Text given on standard input. */
  readonly input?: string;
  /** Run as root inside the environment (checks that inspect the system); the learner's user otherwise. */
  readonly root?: boolean;
}

/** A driver's opaque snapshot of an environment (files, container image, saved VM state…). */
export interface SandboxSnapshot {
  readonly driver: string;
  readonly id: string;
  /** Driver-specific handle: a tarball path, an image id, a QEMU state file. */
  readonly ref: string;
  readonly createdAt: string;
}

/** A live environment. */
export interface Sandbox {
  readonly id: string;
  readonly nodes: readonly string[];
  /** Where the environment's processes reach its pool (`spec.pool`); undefined without one. */
  readonly pool: PoolAddress | undefined;
  attachTerminal(size: { cols: number; rows: number }, node?: string): TerminalProcess;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Back to a fresh environment (the learner's files and processes gone). */
  reset(): Promise<void>;
  snapshot(): Promise<SandboxSnapshot>;
  restore(snapshot: SandboxSnapshot): Promise<void>;
  /** Stops everything and frees every resource; the environment can not be used afterwards. */
  destroy(): Promise<void>;
  /**
   * Lets go of the environment without ending it, for a gateway shutting down to restart: the next `create` with
   * this id picks it up as it was (docker: the containers keep running; qemu-xen: the machines are saved to disk).
   * Where nothing can outlive the gateway (local shells), it ends the processes; files in `home` stay either way.
   */
  detach(): Promise<void>;
  /**
   * Plays a machine fault (qemu-xen only; absent elsewhere). Rejects with a XenlabError: `SANDBOX_ERR_NO_NODE`,
   * `SANDBOX_ERR_BAD_FAULT` (no such NIC or disk, or the machine is off).
   */
  machineFault?(fault: MachineFault): Promise<void>;
}

export interface SandboxDriver {
  /** Driver name shown to the learner (`local`, `docker`, …). */
  readonly name: string;
  /** Whether shells are isolated from the host and each other. */
  readonly jailed: boolean;
  /** Why not, when not: shown in the terminal. */
  readonly notice: string | undefined;
  /** Creates the environment, or re-attaches to it when one with this id already runs (after a gateway restart). */
  create(spec: EnvironmentSpec): Promise<Sandbox>;
  /** Ids of environments this driver runs now (to re-attach after a restart); drivers without state return []. */
  list(): Promise<string[]>;
}
