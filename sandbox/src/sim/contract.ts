/**
 * The seam between the simulator's core (wire protocol, object store, sessions, tasks, events, persistence) and its
 * behaviour modules (VM lifecycle, storage, networking, pool, host, HA, metrics). Core owns the store and the
 * dispatch; a behaviour module is a table of handlers keyed by wire method name, plus optional hooks.
 *
 * Values inside the store are typed JS values, keyed by the XenAPI wire field names (`name_label`, `VCPUs_max`):
 * string, number (int and float), boolean, Date (datetime), string[] (sets, refs as `OpaqueRef:…` strings),
 * Record<string, …> (maps). Core converts to and from the wire using the datamodel types.
 */
import type { MessageSpec } from '@xenlab/toolkit/xenapi';

/** A record as stored: wire field names to typed values. */
export type SimRecord = Record<string, unknown>;

/** Thrown by handlers (and core) for an API error: travels as `Status: Failure`, `ErrorDescription: [code, ...params]`. */
export class XapiFailure extends Error {
  readonly code: string;
  readonly params: readonly string[];
  constructor(code: string, params: readonly string[] = []) {
    super(`${code}(${params.join(', ')})`);
    this.name = 'XapiFailure';
    this.code = code;
    this.params = params;
  }
}

/**
 * The object store. Every mutation emits the matching event (`add`, `mod`, `del`) and bumps the generation.
 * Inverse relations (VM.VBDs from VBD.VM, SR.VDIs from VDI.SR, host.resident_VMs from VM.resident_on, …) are kept
 * by the store itself: a handler sets only the forward field.
 */
export interface SimStore {
  /** Creates an object; fields left out take their datamodel default or the zero value of their type. Returns its ref. */
  create(cls: string, fields: SimRecord): string;
  /** The live record; throws `HANDLE_INVALID [cls, ref]` when absent. Do not mutate it: use `update`. */
  get(cls: string, ref: string): Readonly<SimRecord>;
  /** Like `get`, but undefined when absent. */
  find(cls: string, ref: string): Readonly<SimRecord> | undefined;
  /** Changes fields and emits one `mod` event (coalesced per object per event batch). */
  update(cls: string, ref: string, patch: SimRecord): void;
  /** Removes an object and emits `del`. */
  destroy(cls: string, ref: string): void;
  /** Every object of a class as `[ref, record]`, in creation order. */
  all(cls: string): [string, Readonly<SimRecord>][];
  /** The ref of the object with this uuid; throws `UUID_INVALID [cls, uuid]` when absent. */
  byUuid(cls: string, uuid: string): string;
}

/** A running task, given to handlers called through `Async.*` (and to long synchronous ones, which get a hidden task). */
export interface SimTask {
  readonly ref: string;
  /** 0..1; emits a `mod` event on the task. */
  setProgress(progress: number): void;
  /** True once `task.cancel` was called; a handler that honours it throws `TASK_CANCELLED [task]`. */
  readonly cancelled: boolean;
}

/** Simulated time: operations take configurable durations (zero in fast mode), with progress on the task. */
export interface SimClock {
  now(): Date;
  /**
   * Waits for the configured duration of an operation (e.g. `VM.start`, `VM.clone`, `VDI.copy`), reporting progress
   * on the task in a few steps. In fast mode returns at once. `scale` multiplies the duration (e.g. by GiB copied).
   */
  work(operation: string, task: SimTask | undefined, scale?: number): Promise<void>;
}

/** What a handler gets besides its arguments. */
export interface SimContext {
  readonly store: SimStore;
  readonly clock: SimClock;
  /** The caller's session ref and user name. */
  readonly session: { readonly ref: string; readonly user: string };
  /** The task when called as `Async.*`. */
  readonly task: SimTask | undefined;
  /** Deterministic randomness (seeded from the scenario), for MACs, uuids in tests, load noise. */
  readonly random: () => number;
  /** A fresh uuid (deterministic under a seed). */
  uuid(): string;
  /** Queues an alert into the `message` class (`message.create` semantics). */
  message(name: string, priority: number, cls: string, objUuid: string, body: string): void;
}

/**
 * A handler: arguments arrive decoded to typed values by the datamodel parameter types (session argument removed,
 * optional trailing parameters filled with their defaults when the caller left them out). The result is encoded by
 * the message's result type. Throw `XapiFailure` for API errors; anything else becomes `INTERNAL_ERROR`.
 */
export type SimHandler = (ctx: SimContext, args: readonly unknown[]) => unknown;

/** A behaviour module: handlers by wire method name (`VM.start`), overriding the generic implicit ones. */
export interface SimBehaviour {
  readonly handlers: Readonly<Record<string, SimHandler>>;
  /**
   * Messages xapi dispatches though its published datamodel hides them (`~hide_from_docs:true` in ocaml/idl/datamodel_*.ml), by wire
   * name, with their signature: the handler of the same name answers them; `system.listMethods` leaves them out.
   */
  readonly hidden?: Readonly<Record<string, MessageSpec>>;
  /**
   * Called after the generic handler of a field setter or `create`, to keep derived state true
   * (e.g. refresh `allowed_operations` after anything touches a VM). Optional.
   */
  afterChange?(ctx: SimContext, cls: string, ref: string): void;
  /** The metrics load model (see {@link SimMetrics}); core falls back to a flat idle model when none is given. */
  readonly metrics?: SimMetrics;
  /** Fault injection for the control API (see {@link SimFaults}). */
  readonly faults?: SimFaults;
}

/** One sample of an object's data sources by name (toolkit/src/xenapi/NOTES.md §4 names: `cpu0`, `cpu_avg`, `memory`, `vif_0_rx`, …). */
export type SimDataSources = Readonly<Record<string, number>>;

/**
 * The metrics load model. Core samples it every 5 s (the RRD step) into ring buffers and serves `/rrd_updates`,
 * `/host_rrd` and `/vm_rrd` from them, so the model only says what the values are now.
 */
export interface SimMetrics {
  /** Data sources of a host now: `cpu<N>` and `cpu_avg` (0..1), `loadavg`, `memory_total_kib`, `memory_free_kib`, `pif_<dev>_rx|tx` (B/s). */
  host(ctx: SimContext, host: string, now: Date): SimDataSources;
  /** Data sources of a running VM now: `cpu<N>` (0..1), `memory` (bytes), `memory_target`, `vif_<N>_rx|tx`, `vbd_<dev>_read|write` (B/s), `vbd_<dev>_iops_total`, `vbd_<dev>_latency`. */
  vm(ctx: SimContext, vm: string, now: Date): SimDataSources;
}

/**
 * Faults the out-of-band control API injects (`POST /_xenlab/fault/<name>`), for the HA, storage, networking and
 * performance lessons. Core resolves the target (by uuid or name_label) and calls the behaviour; each returns when
 * the visible effects (records, events) are in place. A missing function answers HTTP 501.
 */
export interface SimFaults {
  /** The host dies (power loss): host_metrics.live=false, its VMs halt; HA restarts protected ones elsewhere. */
  failHost?(ctx: SimContext, host: string): void | Promise<void>;
  /** The host comes back (rebooted, empty). */
  recoverHost?(ctx: SimContext, host: string): void | Promise<void>;
  /** The SR's backend fails (PBDs report errors, VDI operations fail with SR_BACKEND_FAILURE_*). */
  failSr?(ctx: SimContext, sr: string): void | Promise<void>;
  /** The SR's PBDs become detached (currently_attached=false). */
  detachSr?(ctx: SimContext, sr: string): void | Promise<void>;
  /** The SR works again. */
  recoverSr?(ctx: SimContext, sr: string): void | Promise<void>;
  /** The PIF loses link (carrier false; bonds fail over; VLANs on it go down). */
  pifLinkDown?(ctx: SimContext, pif: string): void | Promise<void>;
  /** The PIF regains link. */
  pifLinkUp?(ctx: SimContext, pif: string): void | Promise<void>;
  /** A VM starts burning CPU or I/O (`level` 0..1 of its capacity; 0 stops the hog): a steady workload. */
  vmHog?(ctx: SimContext, vm: string, kind: 'cpu' | 'io', level: number): void | Promise<void>;
  /**
   * Changes a VM's workload (`POST /_xenlab/workload`): each resource in `patch` replaces that resource's demand,
   * `null` removes it; `clear` drops every demand first. Returns the VM's workload as {@link workloads} lists it.
   */
  vmWorkload?(ctx: SimContext, vm: string, patch: SimWorkloadPatch): SimWorkloadView;
  /** Every VM's workload and its levels now (`GET /_xenlab/workload`). */
  workloads?(ctx: SimContext): SimWorkloadView[];
}

/** The resources a workload drives: CPU per vCPU, guest memory in use, disk I/O, network. */
export type SimWorkloadResource = 'cpu' | 'memory' | 'io' | 'net';

/**
 * How one resource's demand varies (levels 0..1; see behaviour/workload.ts for what 1 means per resource). Time runs
 * from `since` (ms since the epoch, when it was set) shifted by `phase` seconds.
 */
export interface SimDemand {
  /** `steady` (always `peak`), `diurnal` (a sinusoid from `base` up to `peak` and back over `period`), `bursts`. */
  readonly pattern: 'steady' | 'diurnal' | 'bursts';
  readonly base: number;
  readonly peak: number;
  /** diurnal: seconds per cycle. */
  readonly period: number;
  /** bursts: `on` seconds at `peak` at the start of every `every` seconds, `base` in between. */
  readonly on: number;
  readonly every: number;
  readonly phase: number;
  readonly since: number;
}

/** A change to a VM's workload. */
export interface SimWorkloadPatch {
  readonly clear?: boolean;
  readonly demands: Partial<Record<SimWorkloadResource, SimDemand | null>>;
}

/** A VM's workload as the control API shows it: its demands and their levels now. */
export interface SimWorkloadView {
  readonly uuid: string;
  readonly name_label: string;
  readonly demands: Partial<Record<SimWorkloadResource, SimDemand>>;
  readonly now: Record<SimWorkloadResource, number>;
}

/**
 * Loading convention: `sandbox/src/sim/behaviour/index.ts` exports `behaviours: readonly SimBehaviour[]`. Core merges
 * their `handlers` (later modules win), calls every `afterChange` (also once per object after a scenario is built),
 * uses the first `metrics` it finds and the union of `faults`.
 */
export type SimBehaviourList = readonly SimBehaviour[];
