/**
 * How the balancer's plans read: the text printed per evaluation, the body of the pool message recorded for each
 * move, and the machine line in that body from which later runs rebuild their history.
 */
import type { Decision, Plan, PastMove } from './decide.js';
import { formatMetric } from './decide.js';
import type { BalancePolicy, Metric } from './policy.js';

/** Name of the message recorded for each move (class VM, the VM's uuid). */
export const MOVE_MESSAGE = 'XENLAB_BALANCE_MOVE';
/** Name of the message recorded when a move failed (class VM). */
export const FAILED_MESSAGE = 'XENLAB_BALANCE_FAILED';
/** Name of the message recorded when the balancer starts or stops acting (class Pool). */
export const SERVICE_MESSAGE = 'XENLAB_BALANCE';
/** The originator the balancer's sessions log in with (`session.login_with_password`'s 4th parameter). */
export const BALANCE_ORIGINATOR = 'xenlab-balance';

/** Configured metrics, in order. */
function metricsOf(policy: BalancePolicy): Metric[] {
  return (['cpu', 'memory', 'disk', 'network'] as const).filter((m) => policy.thresholds[m] !== undefined);
}

const WORD: Readonly<Record<Metric, string>> = {
  cpu: 'cpu',
  memory: 'memory used',
  disk: 'disk',
  network: 'network',
};

/** Pool time (Unix seconds) as `2026-01-02 03:04:05Z`. */
export function poolTime(t: number): string {
  return Number.isFinite(t) && t > 0
    ? `${new Date(t * 1000).toISOString().slice(0, 19).replace('T', ' ')}Z`
    : '-';
}

/** The headline of a decision: `hog-07: xcp-ng-05 → xcp-ng-09 (cpu, critical)`. */
export function headline(d: Decision): string {
  const names = d.vms.map((v) => v.name).join(' + ');
  const why = d.reason === 'maintenance' ? 'maintenance' : `${d.reason}, ${d.level}`;
  return `${names}: ${d.from.name} → ${d.to.name} (${why})`;
}

/** The lines that explain a decision (indented by the caller). */
export function explain(d: Decision, policy: BalancePolicy): string[] {
  const ms = metricsOf(policy);
  const change = (
    before: Readonly<Record<Metric, number>>,
    after: Readonly<Record<Metric, number>>,
  ): string =>
    ms.map((m) => `${WORD[m]} ${formatMetric(m, before[m])} → ${formatMetric(m, after[m])}`).join(', ');
  const lines = [
    `host:      ${d.why.host}`,
    `vm:        ${d.why.vm}`,
    `target:    ${d.why.target}`,
    `predicted: ${d.from.name} ${change(d.predicted.from.before, d.predicted.from.after)}; ${d.to.name} ${change(d.predicted.to.before, d.predicted.to.after)}`,
  ];
  if (d.why.skipped.length) {
    const shown = d.why.skipped.slice(0, 6);
    lines.push(
      `passed:    ${shown.join('; ')}${d.why.skipped.length > shown.length ? `; and ${d.why.skipped.length - shown.length} more` : ''}`,
    );
  }
  return lines;
}

/** Text of one evaluation: a headline, each decision with its reasons, the notes; hosts too when `verbose`. */
export function renderPlan(
  plan: Plan,
  policy: BalancePolicy,
  o: { readonly dryRun: boolean; readonly verbose?: boolean },
): string {
  const count = (c: string): number => plan.hosts.filter((h) => h.condition === c).length;
  const states = (['hot', 'watching', 'settling', 'maintenance', 'no-data', 'down', 'ok'] as const)
    .map((c) => [c, count(c)] as const)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${n} ${c}`)
    .join(', ');
  const n = plan.decisions.reduce((k, d) => k + d.vms.length, 0);
  const verb = o.dryRun ? 'recommended (dry run: nothing moves)' : 'to make';
  const out = [
    `${poolTime(plan.time)}  ${plan.hosts.length} hosts: ${states}; ${n === 0 ? 'no move' : `${n} move${n === 1 ? '' : 's'} ${verb}`}`,
  ];
  for (const d of plan.decisions) {
    out.push(`  ${o.dryRun ? 'RECOMMEND' : 'MOVE'} ${headline(d)}`);
    for (const l of explain(d, policy)) out.push(`    ${l}`);
  }
  for (const note of plan.notes) out.push(`  note: ${note}`);
  if (o.verbose)
    for (const h of plan.hosts) out.push(`  ${h.name.padEnd(12)} ${h.condition.padEnd(11)} ${h.text}`);
  return `${out.join('\n')}\n`;
}

/** The machine line closing a move's message body: what later runs read back as history. */
export function machineLine(d: Decision, vm: { uuid: string }, time: number): string {
  return `${BALANCE_ORIGINATOR}: vm=${vm.uuid} from=${d.from.uuid} to=${d.to.uuid} reason=${d.reason} level=${d.level} time=${Math.round(time)}`;
}

/** The body of the message recorded for a move of one VM. */
export function messageBody(
  d: Decision,
  vm: { uuid: string; name: string },
  policy: BalancePolicy,
  time: number,
  error?: string,
): string {
  const head = error
    ? `could not move VM ${vm.name} from ${d.from.name} to ${d.to.name}: ${error}`
    : `moved VM ${vm.name} from ${d.from.name} to ${d.to.name} (${d.reason === 'maintenance' ? 'maintenance' : `${d.reason} ${d.level}`})`;
  return [head, ...explain(d, policy), machineLine(d, vm, time)].join('\n');
}

/** Reads the machine line of a move message body back; undefined for other bodies. */
export function parseMachineLine(body: string): PastMove | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${BALANCE_ORIGINATOR}: vm=`));
  if (!line) return undefined;
  const field = (k: string): string | undefined => new RegExp(`\\b${k}=(\\S+)`).exec(line)?.[1];
  const vm = field('vm');
  const from = field('from');
  const to = field('to');
  const time = Number(field('time'));
  if (!vm || !from || !to || !Number.isFinite(time)) return undefined;
  return { vm, from, to, time };
}

/** Message priority (1 highest … 5 informational, as XenCenter shows them) of a move. */
export function priorityOf(d: Decision, failed: boolean): number {
  if (failed) return 2;
  return d.level === 'critical' ? 3 : d.level === 'maintenance' ? 4 : 5;
}
