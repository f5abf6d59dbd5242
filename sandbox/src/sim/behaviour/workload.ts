/**
 * Workloads: what each VM's guest asks of its CPU, memory, disk and network over time, for the metrics model to
 * follow. Set through the control API (`POST /_xenlab/workload`, `fault/vm-hog`); a hog is a steady demand.
 *
 * Levels are 0..1 per resource:
 * - `cpu`: the fraction of each vCPU the guest wants to run (the credit scheduler decides what it gets);
 * - `memory`: the share of the guest's memory in use (`memory_internal_free` follows; the domain's allocation and
 *   so the host's free memory do not: no ballooning);
 * - `io`: disk I/O, 1 = a saturated disk (throughput, latency and queue on every disk of the VM);
 * - `net`: network, 1 = a saturated 1 GbE link, spread over the VM's VIFs.
 *
 * Patterns (`SimDemand` in contract.ts): `steady` (`peak` always), `diurnal` (`base` at time 0, `peak` half a period
 * later, a sinusoid; period 24 h unless given, e.g. 600 s for a class), `bursts` (`peak` for the first `on` seconds
 * of every `every` seconds, `base` otherwise). Time 0 is when the demand was set, shifted by `phase` seconds. A level
 * is the mean over the RRD step that ends at the instant asked (as rrdd's 5-second averages are): a 2-second burst
 * shows as 40 % of its peak in the step it falls in, not as a spike a sample may miss.
 *
 * Kept per store (a world) in memory, by VM uuid so a demand follows its VM through migration, like the hogs were:
 * the lab runtime plays a lab's faults again on every bring-up.
 */
import type {
  SimContext,
  SimDemand,
  SimStore,
  SimWorkloadPatch,
  SimWorkloadResource,
  SimWorkloadView,
} from '../contract.js';
import { forgetMemo } from './metrics-memo.js';
import { fail, str } from './util.js';

/** Every resource, in the order the control API lists them. */
export const RESOURCES: readonly SimWorkloadResource[] = ['cpu', 'memory', 'io', 'net'];

/** Seconds a level is averaged over: the RRD step (rrd.ts RRD_STEP). */
const STEP_S = 5;

type Workload = Partial<Record<SimWorkloadResource, SimDemand>>;

const worlds = new WeakMap<SimStore, Map<string, Workload>>();

function workloadsOf(store: SimStore): Map<string, Workload> {
  let m = worlds.get(store);
  if (!m) {
    m = new Map();
    worlds.set(store, m);
  }
  return m;
}

/** A steady demand at `level`. */
export function steady(level: number, since: number): SimDemand {
  return { pattern: 'steady', base: level, peak: level, period: 86_400, on: 0, every: 0, phase: 0, since };
}

/** ∫₀ˣ of the pattern's shape (0 at base, 1 at peak), in seconds: the step's mean is a difference of two. */
function shapeIntegral(d: SimDemand, x: number): number {
  if (d.pattern === 'diurnal') {
    // (1 − cos 2πx/P) / 2 integrates to x/2 − P/(4π) · sin 2πx/P.
    const w = (2 * Math.PI) / d.period;
    return x / 2 - Math.sin(w * x) / (2 * w);
  }
  if (d.pattern === 'bursts') {
    const cycles = Math.floor(x / d.every);
    return cycles * d.on + Math.min(x - cycles * d.every, d.on);
  }
  return x;
}

/** The pattern's shape at one instant (0 at base, 1 at peak). */
function shapeAt(d: SimDemand, x: number): number {
  if (d.pattern === 'diurnal') return (1 - Math.cos((2 * Math.PI * x) / d.period)) / 2;
  if (d.pattern === 'bursts') return x - Math.floor(x / d.every) * d.every < d.on ? 1 : 0;
  return 1;
}

/**
 * The demand's level over the `window` seconds ending at `t` (ms since the epoch): by default the RRD step, as a
 * sample reports it; 0 for the level at that instant (what the control API shows as `now`).
 */
export function levelAt(d: SimDemand, t: number, window = STEP_S): number {
  if (d.pattern === 'steady' || d.peak === d.base) return d.peak;
  const x = (t - d.since) / 1000 + d.phase;
  const shape = window > 0 ? (shapeIntegral(d, x) - shapeIntegral(d, x - window)) / window : shapeAt(d, x);
  return d.base + (d.peak - d.base) * Math.min(1, Math.max(0, shape));
}

/** A VM's levels over the `window` seconds ending at `t` (see {@link levelAt}): 0 for a resource without a demand. */
export function levelsAt(
  store: SimStore,
  vmUuid: string,
  t: number,
  window = STEP_S,
): Record<SimWorkloadResource, number> {
  const w = worlds.get(store)?.get(vmUuid);
  const at = (r: SimWorkloadResource): number => {
    const d = w?.[r];
    return d ? levelAt(d, t, window) : 0;
  };
  return { cpu: at('cpu'), memory: at('memory'), io: at('io'), net: at('net') };
}

function viewOf(store: SimStore, vm: string, t: number): SimWorkloadView {
  const rec = store.get('VM', vm);
  const uuid = str(rec, 'uuid');
  return {
    uuid,
    name_label: str(rec, 'name_label'),
    demands: { ...worlds.get(store)?.get(uuid) },
    now: levelsAt(store, uuid, t, 0),
  };
}

/** Changes a VM's workload; a demand that is nothing (peak 0) removes that resource. */
export function setWorkload(ctx: SimContext, vm: string, patch: SimWorkloadPatch): SimWorkloadView {
  const { store } = ctx;
  const uuid = str(store.get('VM', vm), 'uuid');
  const all = workloadsOf(store);
  const before: Workload = patch.clear ? {} : { ...all.get(uuid) };
  const next: Workload = {};
  for (const r of RESOURCES) {
    const d = r in patch.demands ? patch.demands[r] : before[r];
    if (d && d.peak > 0) next[r] = d;
  }
  if (Object.keys(next).length === 0) all.delete(uuid);
  else all.set(uuid, next);
  forgetMemo(store);
  return viewOf(store, vm, ctx.clock.now().getTime());
}

/** Sets (level > 0) or clears (0) a CPU or I/O hog: a steady demand of that level, following the VM. */
export function setHog(ctx: SimContext, vm: string, kind: 'cpu' | 'io', level: number): void {
  if (!Number.isFinite(level) || level < 0 || level > 1) fail('INVALID_VALUE', 'level', String(level));
  setWorkload(ctx, vm, { demands: { [kind]: steady(level, ctx.clock.now().getTime()) } });
}

/** Every VM with a workload (VMs since destroyed are forgotten), by name. */
export function listWorkloads(ctx: SimContext): SimWorkloadView[] {
  const { store } = ctx;
  const all = worlds.get(store);
  if (!all) return [];
  const t = ctx.clock.now().getTime();
  const out: SimWorkloadView[] = [];
  for (const uuid of [...all.keys()]) {
    const ref = store.all('VM').find(([, r]) => r.uuid === uuid)?.[0];
    if (ref === undefined) all.delete(uuid);
    else out.push(viewOf(store, ref, t));
  }
  return out.sort((a, b) => a.name_label.localeCompare(b.name_label));
}
