/**
 * One grammar for workloads, shared by the control API (`POST /_xenlab/workload`, see control.ts for the shapes) and
 * scenarios (a VM's `workload`): reads a spec into a workload patch, checking every field so a typo is an error
 * rather than a silent default, and writes workloads back compactly. The behaviour modules apply them
 * (`SimFaults.vmWorkload`, behaviour/workload.ts).
 */
import type { SimDemand, SimWorkloadPatch, SimWorkloadResource, SimWorkloadView } from './contract.js';

const RESOURCES: readonly SimWorkloadResource[] = ['cpu', 'memory', 'io', 'net'];
const PATTERNS: readonly SimDemand['pattern'][] = ['steady', 'diurnal', 'bursts'];
/** Fields that shape a demand, given per resource or once at the top level for every resource. */
const SHAPE = ['pattern', 'base', 'period', 'on', 'every', 'phase'] as const;
const SPEC_KEYS = new Set<string>([...RESOURCES, ...SHAPE]);
const BODY_KEYS = new Set<string>(['uuid', 'name_label', 'clear', ...SPEC_KEYS]);
const DEMAND_KEYS = new Set<string>(['peak', 'level', ...SHAPE]);

/** Defaults: a day for diurnal, one minute in five for bursts. */
const DEFAULTS = { pattern: 'steady', base: 0, period: 86_400, on: 60, every: 300, phase: 0 } as const;

/** A workload spec that cannot be read: the control API answers 400 with its message, a scenario names the VM. */
export class WorkloadRequestError extends Error {}

function bad(message: string): never {
  throw new WorkloadRequestError(message);
}

function number(v: unknown, what: string, check: (n: number) => boolean, rule: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v))
    bad(`${what} must be ${rule}, not ${JSON.stringify(v)}`);
  return v;
}

const level = (v: unknown, what: string): number => number(v, what, (n) => n >= 0 && n <= 1, 'a number 0..1');
const seconds = (v: unknown, what: string): number =>
  number(v, what, (n) => n > 0, 'a number of seconds > 0');

function unknownKeys(o: Record<string, unknown>, known: ReadonlySet<string>, where: string): void {
  const extra = Object.keys(o).filter((k) => !known.has(k));
  if (extra.length > 0) bad(`unknown ${where} ${extra.join(', ')}; known: ${[...known].join(', ')}`);
}

/** One resource's demand from its value (a level, an object, or null to remove it) over the top-level shape. */
function demandOf(
  r: SimWorkloadResource,
  v: unknown,
  top: Record<string, unknown>,
  since: number,
): SimDemand | null {
  if (v === null) return null;
  const own: Record<string, unknown> =
    typeof v === 'number' ? { peak: v } : v && typeof v === 'object' && !Array.isArray(v) ? { ...v } : {};
  if (typeof v !== 'number' && Object.keys(own).length === 0)
    bad(`${r} must be a level 0..1, an object or null`);
  unknownKeys(own, DEMAND_KEYS, `${r} field`);
  if (own.level !== undefined && own.peak !== undefined) bad(`${r}: give peak or level, not both`);
  const get = (k: (typeof SHAPE)[number]): unknown => own[k] ?? top[k] ?? DEFAULTS[k];
  const pattern = get('pattern');
  if (!PATTERNS.includes(pattern as SimDemand['pattern']))
    bad(`${r}.pattern must be one of ${PATTERNS.join(', ')}, not ${JSON.stringify(pattern)}`);
  const peak = level(own.peak ?? own.level, `${r}.peak`);
  const d: SimDemand = {
    pattern: pattern as SimDemand['pattern'],
    base: pattern === 'steady' ? peak : level(get('base'), `${r}.base`),
    peak,
    period: seconds(get('period'), `${r}.period`),
    on: seconds(get('on'), `${r}.on`),
    every: seconds(get('every'), `${r}.every`),
    phase: number(get('phase'), `${r}.phase`, () => true, 'a number of seconds'),
    since,
  };
  if (d.base > d.peak) bad(`${r}.base (${String(d.base)}) must not exceed ${r}.peak (${String(d.peak)})`);
  if (d.on > d.every) bad(`${r}.on (${String(d.on)} s) must not exceed ${r}.every (${String(d.every)} s)`);
  return d;
}

function patchOf(spec: Record<string, unknown>, clear: boolean, since: number): SimWorkloadPatch {
  const demands: Partial<Record<SimWorkloadResource, SimDemand | null>> = {};
  for (const r of RESOURCES) if (r in spec) demands[r] = demandOf(r, spec[r], spec, since);
  if (Object.keys(demands).length === 0 && !clear)
    bad(`give at least one of ${RESOURCES.join(', ')} (a level 0..1, an object, or null), or clear: true`);
  return { clear, demands };
}

/** Reads a `POST /_xenlab/workload` body (its target aside) into a patch; throws WorkloadRequestError. */
export function parseWorkloadBody(body: Record<string, unknown>, since: number): SimWorkloadPatch {
  unknownKeys(body, BODY_KEYS, 'field');
  if (body.clear !== undefined && typeof body.clear !== 'boolean') bad('clear must be true or false');
  return patchOf(body, body.clear === true, since);
}

/** Reads a scenario VM's `workload` (the body's resources and shape, no target) into a patch replacing all. */
export function parseWorkloadSpec(spec: Record<string, unknown>, since: number): SimWorkloadPatch {
  unknownKeys(spec, SPEC_KEYS, 'workload field');
  return patchOf(spec, true, since);
}

/** A demand with only the fields its pattern uses. */
function compact(d: SimDemand): Record<string, unknown> {
  const since = new Date(d.since).toISOString();
  if (d.pattern === 'steady') return { pattern: d.pattern, peak: d.peak, since };
  if (d.pattern === 'diurnal')
    return { pattern: d.pattern, base: d.base, peak: d.peak, period: d.period, phase: d.phase, since };
  return { pattern: d.pattern, base: d.base, peak: d.peak, on: d.on, every: d.every, phase: d.phase, since };
}

/** A VM's workload as the control API answers it. */
export function workloadJson(v: SimWorkloadView): Record<string, unknown> {
  const out: Record<string, unknown> = { uuid: v.uuid, name_label: v.name_label };
  for (const r of RESOURCES) {
    const d = v.demands[r];
    if (d) out[r] = compact(d);
  }
  out.now = v.now;
  return out;
}
