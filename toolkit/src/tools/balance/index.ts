/**
 * `balance`: workload balancing in the spirit of XenServer's WLB, for the simulator and real pools. Every interval it
 * reads the pool (host cpu_avg and free memory, VM CPU, disk and network from `/rrd_updates`, as `top` does),
 * decides by a policy file ({@link decide}: a pure function of the snapshot, the policy and the recent moves), and
 * either recommends (`--dry-run`) or live-migrates (`VM.pool_migrate`, `live=true`). Each move is explained (which
 * host, metric, value against which threshold, why this VM, why this target, the predicted loads), recorded as a
 * pool message (`XENLAB_BALANCE_MOVE`, class VM) and in a log file. It logs in with the session originator
 * `xenlab-balance`. Ctrl-C or SIGTERM stops it after the move in flight; `start|stop|status` run it as a service.
 */
import { join } from 'node:path';
import type { XapiClient } from '../../xenapi/index.js';
import { XapiError } from '../../xenapi/index.js';
import { defineTool } from '../command.js';
import type { ToolContext } from '../context.js';
import { ToolError, ToolErrorCode } from '../errors.js';
import { decide, type Decision, type PastMove, type Plan } from './decide.js';
import { EXAMPLE_POLICY, parsePolicy, type BalancePolicy } from './policy.js';
import {
  BALANCE_ORIGINATOR,
  FAILED_MESSAGE,
  MOVE_MESSAGE,
  SERVICE_MESSAGE,
  headline,
  messageBody,
  parseMachineLine,
  priorityOf,
  renderPlan,
} from './render.js';
import {
  SERVICE_ENV,
  markRunning,
  markStopped,
  servicePaths,
  serviceStatus,
  startService,
  stopService,
  type LoggedDecision,
  type ServicePaths,
} from './service.js';
import { readPool, type PoolReading } from './snapshot.js';

export { decide as decideBalance, formatMetric } from './decide.js';
export type {
  Decision as BalanceDecision,
  HostSample as BalanceHostSample,
  HostState as BalanceHostState,
  HostVerdict as BalanceHostVerdict,
  Loads as BalanceLoads,
  PastMove as BalanceMove,
  Plan as BalancePlan,
  Snapshot as BalanceSnapshot,
  VmState as BalanceVmState,
} from './decide.js';
export {
  DEFAULT_POLICY as DEFAULT_BALANCE_POLICY,
  EXAMPLE_POLICY as EXAMPLE_BALANCE_POLICY,
  parsePolicy as parseBalancePolicy,
  validatePolicy as validateBalancePolicy,
  type BalancePolicy,
} from './policy.js';
export {
  BALANCE_ORIGINATOR,
  FAILED_MESSAGE as BALANCE_FAILED_MESSAGE,
  MOVE_MESSAGE as BALANCE_MOVE_MESSAGE,
  SERVICE_MESSAGE as BALANCE_SERVICE_MESSAGE,
  parseMachineLine as parseBalanceMessage,
  renderPlan as renderBalancePlan,
} from './render.js';
export { readPool as readBalanceSnapshot } from './snapshot.js';

/** What happened to one VM of a decision. */
interface Outcome {
  readonly decision: Decision;
  readonly vm: { readonly uuid: string; readonly name: string };
  readonly outcome: LoggedDecision['outcome'];
  readonly seconds?: number;
  readonly error?: string;
}

interface RunOptions {
  readonly policy: BalancePolicy;
  readonly policyPath: string;
  readonly interval: number;
  readonly once: boolean;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly log: string;
  readonly perHost: boolean;
  readonly paths: ServicePaths;
}

function errorText(e: unknown): string {
  if (e instanceof XapiError)
    return `the pool refused: ${e.code}${e.params.length ? ` ${JSON.stringify(e.params)}` : ''}`;
  return e instanceof Error ? e.message : String(e);
}

/** Moves this balancer made before (its pool messages), so a restart keeps cooldowns and hysteresis. */
async function loadHistory(client: XapiClient, since: number): Promise<PastMove[]> {
  const messages = await client.call('message.get_since', new Date(since * 1000));
  return Object.values(messages)
    .filter((m) => m.name === MOVE_MESSAGE)
    .map((m) => parseMachineLine(m.body))
    .filter((m): m is PastMove => m !== undefined)
    .sort((a, b) => a.time - b.time);
}

/** Records a message; resolves to its pool timestamp (Unix seconds), or undefined when the pool refused it. */
async function record(
  client: XapiClient,
  name: string,
  priority: number,
  cls: 'VM' | 'Pool',
  uuid: string,
  body: string,
): Promise<number | undefined> {
  try {
    const ref = await client.call('message.create', name, priority, cls, uuid, body);
    const rec = await client.call('message.get_record', ref);
    const t = rec.timestamp.getTime() / 1000;
    return Number.isFinite(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

function appendLog(ctx: ToolContext, path: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  const old = ctx.files.exists(path) ? ctx.files.read(path) : '';
  // Kept to its last 5000 decisions.
  const all = `${old}${lines.join('\n')}\n`.split('\n').filter((l) => l !== '');
  ctx.files.write(path, `${all.slice(-5000).join('\n')}\n`);
}

/** Carries out (or, in a dry run, only lists) a plan's moves: one VM at a time, stopping early when asked to. */
async function carryOut(
  ctx: ToolContext,
  client: XapiClient,
  reading: PoolReading,
  plan: Plan,
  r: RunOptions,
  history: PastMove[],
  readAt: number,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const d of plan.decisions)
    for (const vm of d.vms) {
      if (r.dryRun) {
        out.push({ decision: d, vm, outcome: 'recommended' });
        continue;
      }
      const vmRef = reading.vmRefs.get(vm.uuid);
      const hostRef = reading.hostRefs.get(d.to.uuid);
      if (ctx.signal.aborted || !vmRef || !hostRef) {
        out.push({
          decision: d,
          vm,
          outcome: 'not started',
          error: ctx.signal.aborted ? 'stopping' : 'gone',
        });
        continue;
      }
      const t0 = ctx.now();
      let error: string | undefined;
      try {
        await client.callAsync('VM.pool_migrate', vmRef, hostRef, { live: 'true' });
      } catch (e) {
        error = errorText(e);
      }
      const seconds = (ctx.now() - t0) / 1000;
      // The pool's clock says when it happened (samples are stamped by the pool too).
      const estimate = plan.time + (ctx.now() - readAt) / 1000 + 1;
      const stamped = await record(
        client,
        error ? FAILED_MESSAGE : MOVE_MESSAGE,
        priorityOf(d, error !== undefined),
        'VM',
        vm.uuid,
        messageBody(d, vm, r.policy, estimate, error),
      );
      // A VM whose move failed waits out the cooldown too (recorded as staying where it is), so a refusal the
      // snapshot cannot foresee is not retried every interval.
      history.push({
        vm: vm.uuid,
        from: d.from.uuid,
        to: error ? d.from.uuid : d.to.uuid,
        time: stamped ?? estimate,
      });
      out.push({
        decision: d,
        vm,
        outcome: error ? 'failed' : 'moved',
        seconds,
        ...(error ? { error } : {}),
      });
    }
  return out;
}

function logLines(plan: Plan, outcomes: readonly Outcome[]): string[] {
  const at = new Date().toISOString();
  return outcomes.map((o) => {
    const d = o.decision;
    const line: LoggedDecision = {
      at,
      poolTime: plan.time,
      outcome: o.outcome,
      vm: o.vm.name,
      vmUuid: o.vm.uuid,
      from: d.from.name,
      to: d.to.name,
      reason: d.reason,
      level: d.level,
      why: { ...d.why, trigger: d.trigger, predicted: d.predicted },
      ...(o.seconds === undefined ? {} : { seconds: Math.round(o.seconds * 1000) / 1000 }),
      ...(o.error === undefined ? {} : { error: o.error }),
    };
    return JSON.stringify(line);
  });
}

function outcomeText(outcomes: readonly Outcome[]): string {
  return outcomes
    .filter((o) => o.outcome !== 'recommended')
    .map((o) =>
      o.outcome === 'moved'
        ? `  moved ${o.vm.name} to ${o.decision.to.name} in ${(o.seconds ?? 0).toFixed(1)} s\n`
        : o.outcome === 'failed'
          ? `  FAILED to move ${o.vm.name} to ${o.decision.to.name}: ${o.error ?? ''}\n`
          : `  not started: ${o.vm.name} (${o.error ?? ''})\n`,
    )
    .join('');
}

async function runBalancer(ctx: ToolContext, r: RunOptions): Promise<number> {
  const client = ctx.client();
  const target = ctx.target;
  const allow = target?.allowUnauthorized ?? false;
  const hy = r.policy.hysteresis;
  const seconds = Math.max(30, (Math.max(hy.samples, hy.criticalSamples) + 3) * 5, r.interval * 2);
  const read = (): Promise<PoolReading> =>
    readPool(client, { seconds, allowUnauthorized: allow, perHost: r.perHost });
  // The first reading fails loudly (wrong URL, password, no metrics); later ones are retried.
  let reading = await read();
  let readAt = ctx.now();
  const history = await loadHistory(client, reading.snapshot.time - hy.cooldown - 3600).catch(
    () => [] as PastMove[],
  );
  const serviceDir = ctx.env[SERVICE_ENV];
  const service = serviceDir ? servicePaths(serviceDir) : undefined;
  if (service)
    markRunning(service, {
      pid: process.pid,
      since: new Date().toISOString(),
      policy: r.policyPath,
      dryRun: r.dryRun,
      interval: r.interval,
      url: target?.url ?? '',
      log: r.log,
      originator: BALANCE_ORIGINATOR,
    });
  const snap = reading.snapshot;
  if (!r.json)
    ctx.io.stdout(
      `balance: ${snap.hosts.length} hosts, ${snap.vms.length} running VMs; policy ${r.policyPath}; every ${r.interval} s; ` +
        `${r.dryRun ? 'dry run (recommends, moves nothing)' : `live-migrates up to ${r.policy.maxMovesPerInterval} VM(s) per interval`}; ` +
        `session originator ${BALANCE_ORIGINATOR}; decisions logged to ${r.log}\n`,
    );
  if (!r.dryRun)
    await record(
      client,
      SERVICE_MESSAGE,
      5,
      'Pool',
      reading.poolUuid,
      `balancer started (session originator ${BALANCE_ORIGINATOR}): policy ${r.policyPath}, every ${r.interval} s, at most ${r.policy.maxMovesPerInterval} move(s) per interval`,
    );
  // A function, not a property read: the signal flips while this loop awaits.
  const stopping = (): boolean => ctx.signal.aborted;
  let lastTime = -Infinity;
  let lastShown = '';
  let evaluations = 0;
  let moved = 0;
  let failed = 0;
  try {
    for (;;) {
      if (stopping()) break;
      const started = ctx.now();
      if (reading.snapshot.time !== lastTime) {
        lastTime = reading.snapshot.time;
        evaluations++;
        const recent = history.filter((m) => reading.snapshot.time - m.time < Math.max(hy.cooldown, 600));
        const plan = decide(reading.snapshot, r.policy, recent);
        const text = renderPlan(plan, r.policy, { dryRun: r.dryRun, verbose: r.verbose });
        // Quiet rounds print only when something changed (a host starts or stops being watched, a note appears).
        const gist = text.slice(text.indexOf('  '));
        const show = r.verbose || r.once || plan.decisions.length > 0 || gist !== lastShown;
        lastShown = gist;
        if (show && !r.json) ctx.io.stdout(text);
        const outcomes = await carryOut(ctx, client, reading, plan, r, history, readAt);
        moved += outcomes.filter((o) => o.outcome === 'moved').length;
        failed += outcomes.filter((o) => o.outcome === 'failed').length;
        if (r.json)
          ctx.io.stdout(
            `${JSON.stringify({
              time: plan.time,
              dryRun: r.dryRun,
              decisions: plan.decisions.map((d) => ({
                ...d,
                headline: headline(d),
                outcomes: outcomes.filter((o) => o.decision === d).map(({ decision: _d, ...rest }) => rest),
              })),
              notes: plan.notes,
              hosts: plan.hosts,
            })}\n`,
          );
        else ctx.io.stdout(outcomeText(outcomes));
        appendLog(ctx, r.log, logLines(plan, outcomes));
        if (r.once || stopping()) break;
        await ctx.sleep(Math.max(0, r.interval * 1000 - (ctx.now() - started)));
      } else {
        // No new sample yet (the pool samples every 5 s): look again shortly rather than a whole interval later.
        await ctx.sleep(Math.min(1000, r.interval * 1000));
      }
      if (stopping()) break;
      try {
        reading = await read();
        readAt = ctx.now();
      } catch (e) {
        ctx.io.stderr(`balance: cannot read the pool (${errorText(e)}); trying again in ${r.interval} s\n`);
        await ctx.sleep(r.interval * 1000);
      }
    }
  } finally {
    if (!r.dryRun)
      await record(
        client,
        SERVICE_MESSAGE,
        5,
        'Pool',
        reading.poolUuid,
        `balancer stopped after ${evaluations} evaluation(s): ${moved} move(s), ${failed} failed`,
      );
    if (service) markStopped(service, process.pid);
  }
  if (!r.json && !r.once)
    ctx.io.stdout(
      `balance: stopped after ${evaluations} evaluation(s): ${moved} move(s), ${failed} failed\n`,
    );
  return r.once && failed > 0 ? 1 : 0;
}

/** The `balance` tool. */
export const balanceTool = defineTool({
  name: 'balance',
  summary: 'workload balancing (like XenServer WLB): watch load, live-migrate VMs by a policy',
  description:
    'Watches the pool every --interval seconds (host cpu_avg and free memory, VM CPU, disk and network from rrd_updates, as top reads them) and, when a host stays over a threshold of the policy file (--policy, YAML or JSON) for the samples its hysteresis asks, live-migrates VMs (VM.pool_migrate, live=true) to the coolest host that stays under the policy\'s target mark after the move — never a spare or disabled host, never next to a VM sharing an anti-affinity tag, at most maxMovesPerInterval at a time. Each decision says which host, which metric, its value against which threshold, why this VM, why this target and the predicted loads; --dry-run only recommends. Moves are recorded as pool messages XENLAB_BALANCE_MOVE (class VM; XENLAB_BALANCE_FAILED when refused) and as JSON lines in --log. The balancer logs in with the session originator "xenlab-balance". Ctrl-C or SIGTERM stops it after the move in flight (exit 0). `balance start` runs it in the background (pid and output in --state-dir), `balance stop` stops it, `balance status` says whether it runs and shows the last decisions.',
  examples: [
    'xenlab-tools balance --policy policy.yaml --dry-run --once',
    'xenlab-tools balance --policy policy.yaml --interval 5',
    'xenlab-tools balance start --policy policy.yaml',
    'xenlab-tools balance status',
    'xenlab-tools balance stop',
  ],
  usesPool: true,
  originator: BALANCE_ORIGINATOR,
  exitCodes: { 3: 'status: the balancer is not running' },
  details: `### The policy file

YAML or JSON; every field is optional (the built-in values below apply) and each bad one is named
(\`thresholds.cpu.target: must be below thresholds.cpu.high (0.85), got 0.9\`).

\`\`\`yaml
${EXAMPLE_POLICY.trimEnd()}
\`\`\`

Built-in: cpu high 0.85, critical 0.95, target 0.65; memoryFree low 0.10, critical 0.05, target 0.20; disk and
network not watched; hysteresis 2 samples (critical 1), cooldown 300 s; 2 moves per interval; no affinity, spares,
evacuation or exclusions.

### How it decides

- **Load.** CPU is the hosts' \`cpu_avg\`; on a saturated host (≥ 95 %) the balancer estimates what the VMs *ask*
  (the busiest VM's share, and the VMs' runnable time), so it knows how much has to move — the CPU loads in its
  explanations are that demand, and over 100 % means the VMs ask for more than the host has. Memory is the
  fraction used (\`memory_free_kib\`), disk the VMs' \`vbd_*_read\`/\`write\`, network the host's
  \`pif_aggr_rx\`/\`tx\`.
- **Hysteresis.** A host acts when its last \`samples\` samples are all over \`high\` (\`criticalSamples\` over
  \`critical\`); only samples taken after a host's last move count, and a moved VM stays put for \`cooldown\`.
- **Which VM.** The smallest VM (or affinity group) whose move alone brings the host under \`high\`; if none, the
  biggest one that can go somewhere, and again until the host is predicted under \`high\` or the moves run out.
  VMs with a disk on a local SR, an operation in progress, an excluded tag or name never move.
- **Which host.** Enabled, live, not spare (\`spare.hosts\`, \`spare.keepEmpty\`), no VM sharing an anti-affinity tag,
  and every metric predicted at or under its \`target\` mark after the move; of those, the coolest. The gap between
  \`target\` and \`high\` is what stops a move from creating a new hot spot (and a balancer from moving VMs back
  and forth).
- **Maintenance.** A disabled host (\`xe host-disable\`) is never a target; with \`maintenance.evacuate\` its VMs
  move off, biggest first, within the moves per interval.

### What it records

- A pool message per move: name \`XENLAB_BALANCE_MOVE\` (\`XENLAB_BALANCE_FAILED\` when the pool refused), class
  VM, the VM's uuid, priority 5 (3 for a critical host, 4 for maintenance, 2 for a failure); the body is the
  explanation, then a line \`xenlab-balance: vm=<uuid> from=<host uuid> to=<host uuid> reason=… level=… time=…\`
  from which a restarted balancer rebuilds its cooldowns. A VM whose move failed is not tried again within the
  cooldown. \`XENLAB_BALANCE\` (class Pool) when it starts and stops.
  \`xe message-list name=XENLAB_BALANCE_MOVE\` lists the moves. A dry run records no message.
- Its XenAPI sessions log in with originator \`xenlab-balance\` (\`session.login_with_password\`'s fourth
  parameter; \`session.get_originator\`, xapi's audit log and the simulator's saved state show it). A live
  migration with no \`XENLAB_BALANCE_MOVE\` message for that VM, from and to those hosts, was not the balancer's.
- \`--log\` (default \`~/.xenlab/balance/decisions.jsonl\`): one JSON line per decision and VM, with the outcome.

### As a service

\`balance start\` runs the balancer detached with the same options; \`~/.xenlab/balance/\` (or \`--state-dir\`) holds
\`service.json\` (pid, policy, since), \`balance.log\` (its output) and \`decisions.jsonl\`. \`balance status\` exits 0
when it runs and 3 when it does not; \`balance stop\` sends SIGTERM and waits for the move in flight.`,
  options: {
    action: {
      type: 'string',
      default: 'run',
      choices: ['run', 'start', 'stop', 'status'],
      positional: true,
      description: 'run in the foreground, or start / stop / status of the background balancer.',
    },
    policy: {
      type: 'string',
      placeholder: 'FILE',
      description:
        'The policy file, YAML or JSON, every field optional: thresholds.cpu {high, critical, target} (fractions of cpu_avg), thresholds.memoryFree {low, critical, target} (fractions free), thresholds.disk and .network {high, critical, target} (B/s, e.g. 200M), hysteresis {samples, criticalSamples, cooldown (s)}, maxMovesPerInterval, affinity {anti, together} (VM tags, "prefix*" allowed), spare {hosts, keepEmpty}, maintenance {evacuate}, exclude {vms, tags}. The reference page has a full example. Needed to run or start.',
    },
    interval: {
      type: 'number',
      min: 1,
      placeholder: 'SECONDS',
      description:
        "Seconds between evaluations (default: the policy's interval, else 5 — xapi samples every 5 s).",
    },
    once: { type: 'boolean', description: 'Evaluate once (acting on it unless --dry-run), then exit.' },
    dryRun: {
      type: 'boolean',
      description: 'Recommend only: print and log each move with its reasons, move nothing.',
    },
    json: { type: 'boolean', description: 'One JSON line per evaluation (status: JSON).' },
    verbose: { type: 'boolean', description: "Print every evaluation with each host's state." },
    log: {
      type: 'string',
      placeholder: 'FILE',
      description: 'Decision log, one JSON line per move (default <state-dir>/decisions.jsonl).',
    },
    stateDir: {
      type: 'string',
      placeholder: 'DIR',
      env: 'XENLAB_BALANCE_DIR',
      description: 'Where the service keeps its pid, output and log (default ~/.xenlab/balance).',
    },
    timeout: {
      type: 'number',
      default: 120,
      min: 1,
      placeholder: 'SECONDS',
      description: 'stop: how long to wait for the move in flight.',
    },
    perHost: { type: 'boolean', description: 'Read metrics from every host address (real pools).' },
  },
  async run(ctx, o) {
    const paths = servicePaths(o.stateDir ?? join(ctx.env.HOME ?? '.', '.xenlab', 'balance'));
    if (o.action === 'status') return serviceStatus(ctx, paths, o.json);
    if (o.action === 'stop') return stopService(ctx, paths, o.timeout);
    if (o.policy === undefined)
      throw new ToolError(
        ToolErrorCode.usage,
        'give --policy FILE (YAML or JSON; the format is on the reference page, e.g. thresholds: { cpu: { high: 0.85 } })',
      );
    const policy = parsePolicy(ctx.files.read(o.policy), o.policy);
    const interval = o.interval ?? policy.interval ?? 5;
    const log = o.log ?? paths.decisions;
    if (o.action === 'start')
      return startService(ctx, paths, {
        policy: o.policy,
        interval,
        dryRun: o.dryRun,
        perHost: o.perHost,
        log,
      });
    return runBalancer(ctx, {
      policy,
      policyPath: o.policy,
      interval,
      once: o.once,
      dryRun: o.dryRun,
      json: o.json,
      verbose: o.verbose,
      log,
      perHost: o.perHost,
      paths,
    });
  },
});
