/**
 * The balancer's decision core: a pure function from a metrics snapshot, a policy and the recent moves to the moves
 * to make, each with its explanation. No I/O, no clock: the same input gives the same plan (goldens, benchmarks).
 *
 * How it decides, per evaluation:
 * 1. Each host's load now: CPU as demand (what its VMs ask for, which is more than `cpu_avg` shows once the host is
 *    saturated), memory as the fraction used, disk and network in B/s — from its newest sample, corrected for moves
 *    the samples do not show yet.
 * 2. Hysteresis: only samples taken after the host's last move count ("fresh"). A host is hot when its last
 *    `hysteresis.samples` fresh samples are all over `high`, or its last `criticalSamples` over `critical`.
 * 3. Sources in order: disabled hosts (when `maintenance.evacuate`), then critical hosts, then the rest, the furthest
 *    over first. From each, VMs (or affinity groups) move until the host is predicted below `high`: the smallest
 *    one whose move alone is enough, else the largest that can go somewhere.
 * 4. A target must be enabled, live, not spare, keep every anti-affinity tag apart, and stay at or below the
 *    policy's `target` mark on every metric after the move (predicted) — the band between `target` and `high` is what
 *    keeps a move from making a new hot spot, and so keeps the balancer from moving VMs back and forth. The coolest
 *    such host wins. A moved VM stays put for `cooldown` seconds.
 */
import type { BalancePolicy, Marks, Metric } from './policy.js';
import { tagMatches } from './policy.js';

/** One host sample (values NaN when unknown). */
export interface HostSample {
  /** Pool time of the sample, Unix seconds. */
  readonly t: number;
  /** cpu_avg, 0..1. */
  readonly cpu: number;
  /** Fraction of memory used, 0..1. */
  readonly memory: number;
  /** B/s read + written by the VMs on the host. */
  readonly disk: number;
  /** B/s through the host's PIFs. */
  readonly network: number;
}

/** A host as the balancer sees it. */
export interface HostState {
  readonly uuid: string;
  readonly name: string;
  /** `host.enabled` (false: in maintenance, never a target). */
  readonly enabled: boolean;
  /** `host_metrics.live`. */
  readonly live: boolean;
  readonly pcpus: number;
  /** Bytes. */
  readonly memoryTotal: number;
  /** Oldest first. */
  readonly samples: readonly HostSample[];
}

/** A running VM as the balancer sees it (newest sample). */
export interface VmState {
  readonly uuid: string;
  readonly name: string;
  /** uuid of the host it runs on now. */
  readonly host: string;
  readonly vcpus: number;
  /** Mean use of its vCPUs, 0..1. */
  readonly cpu: number;
  /** Fraction of time runnable but not running (waiting for a pCPU); NaN when unknown. */
  readonly runnable: number;
  /** Bytes of memory it holds (what a target must have free). */
  readonly memory: number;
  /** B/s read + written. */
  readonly disk: number;
  /** B/s received + sent. */
  readonly network: number;
  readonly tags: readonly string[];
  /** Why it cannot be live-migrated now (local disk, operation in progress…); absent when it can. */
  readonly blocked?: string;
}

/** What the pool looks like. */
export interface Snapshot {
  /** Pool time of the newest sample, Unix seconds. */
  readonly time: number;
  /** Seconds between samples. */
  readonly step: number;
  readonly hosts: readonly HostState[];
  readonly vms: readonly VmState[];
}

/** A move made earlier (by this balancer), pool time. */
export interface PastMove {
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  /** Pool time the move completed, Unix seconds. */
  readonly time: number;
}

/** A host's load per metric: cpu as a fraction of its CPUs (demand, may exceed 1), memory used, disk and network B/s. */
export type Loads = Readonly<Record<Metric, number>>;

/** Why a move is made. */
export type Level = 'high' | 'critical' | 'maintenance';

/** An object by uuid and name. */
export interface Named {
  readonly uuid: string;
  readonly name: string;
}

/** One recommended move: a VM (or an affinity group) from one host to another, with the reasons. */
export interface Decision {
  /** The VMs that move (several when an affinity tag holds them together), first the one chosen. */
  readonly vms: readonly Named[];
  readonly from: Named;
  readonly to: Named;
  /** The metric that made the host hot, or `maintenance`. */
  readonly reason: Metric | 'maintenance';
  readonly level: Level;
  /** What the host showed: newest value, the mark it crossed, for how many samples. */
  readonly trigger?: {
    readonly metric: Metric;
    readonly value: number;
    readonly threshold: number;
    readonly samples: number;
  };
  /** Loads of both hosts before and after the move (predicted). */
  readonly predicted: {
    readonly from: { readonly before: Loads; readonly after: Loads };
    readonly to: { readonly before: Loads; readonly after: Loads };
  };
  /** Sentences: which host and why, why this VM, why this target, and the hosts passed over. */
  readonly why: {
    readonly host: string;
    readonly vm: string;
    readonly target: string;
    readonly skipped: readonly string[];
  };
}

/** A host's state in this evaluation. */
export type HostCondition = 'ok' | 'watching' | 'hot' | 'settling' | 'maintenance' | 'no-data' | 'down';

/** How one host stands. */
export interface HostVerdict extends Named {
  readonly condition: HostCondition;
  readonly text: string;
  readonly loads: Loads;
}

/** The outcome of one evaluation. */
export interface Plan {
  readonly time: number;
  readonly decisions: readonly Decision[];
  readonly hosts: readonly HostVerdict[];
  /** Why a hot host stays as it is, or a move waits. */
  readonly notes: readonly string[];
}

/** `cpu_avg` at which a host counts as saturated (its VMs get less than they ask). */
const SATURATED = 0.95;

const byName = <T extends { readonly name: string }>(a: T, b: T): number =>
  a.name.localeCompare(b.name, undefined, { numeric: true }) ||
  (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '-');
const pctMark = (v: number): string => `${Number((v * 100).toFixed(1))}%`;

function rate(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let x = v;
  let u = 0;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return `${u === 0 ? Math.round(x) : Number(x.toFixed(1))} ${units[u] ?? ''}`;
}

/** A metric's value as people read it. */
export function formatMetric(metric: Metric, v: number): string {
  return metric === 'cpu' || metric === 'memory' ? pct(v) : rate(v);
}

function formatMark(metric: Metric, v: number): string {
  return metric === 'cpu' || metric === 'memory' ? pctMark(v) : rate(v);
}

const METRIC_WORD: Readonly<Record<Metric, string>> = {
  cpu: 'cpu',
  memory: 'memory used',
  disk: 'disk',
  network: 'network',
};

const SAMPLE_WORD = (n: number): string => `${n} sample${n === 1 ? '' : 's'}`;

interface Work {
  loads: Record<Metric, number>;
  residents: Set<string>;
}

/**
 * Decides what to move now.
 * @example
 * const plan = decide(snapshot, policy, recentMoves);
 * for (const d of plan.decisions) console.log(d.vms[0]?.name, d.from.name, '→', d.to.name, d.why.host);
 */
export function decide(snap: Snapshot, policy: BalancePolicy, history: readonly PastMove[]): Plan {
  const marks: [Metric, Marks][] = [
    ['cpu', policy.thresholds.cpu],
    ['memory', policy.thresholds.memory],
  ];
  if (policy.thresholds.disk) marks.push(['disk', policy.thresholds.disk]);
  if (policy.thresholds.network) marks.push(['network', policy.thresholds.network]);
  const hosts = [...snap.hosts].sort(byName);
  const hostBy = new Map(hosts.map((h) => [h.uuid, h]));
  const vms = [...snap.vms].filter((v) => hostBy.has(v.host)).sort(byName);
  const vmBy = new Map(vms.map((v) => [v.uuid, v]));
  const notes: string[] = [];

  // Moves: the last per host and per VM, and those the newest samples do not show yet (pending).
  const lastHostMove = new Map<string, number>();
  const lastVmMove = new Map<string, number>();
  for (const m of history) {
    for (const h of [m.from, m.to]) lastHostMove.set(h, Math.max(lastHostMove.get(h) ?? -Infinity, m.time));
    lastVmMove.set(m.vm, Math.max(lastVmMove.get(m.vm) ?? -Infinity, m.time));
  }
  const pending = [...history].filter((m) => m.time >= snap.time).sort((a, b) => a.time - b.time);
  // Where each VM was when the newest sample was taken.
  const sampleHost = new Map<string, string>();
  for (const v of vms) sampleHost.set(v.uuid, pending.find((m) => m.vm === v.uuid)?.from ?? v.host);

  // CPU: a saturated host's VMs get a share of what they ask; estimate that share to know their demand.
  const share = new Map<string, number>();
  const demandOf = new Map<string, number>();
  const hostVms = (h: string): VmState[] => vms.filter((v) => sampleHost.get(v.uuid) === h);
  for (const h of hosts) {
    const last = h.samples.at(-1);
    let s = 1;
    if (last && last.cpu >= SATURATED) {
      const usage = last.cpu * h.pcpus;
      const on = hostVms(h.uuid).filter((v) => Number.isFinite(v.cpu));
      const maxU = Math.max(0, ...on.map((v) => v.cpu));
      // Two estimates of the demand: the busiest VM's share tells what every VM gets (all are served alike);
      // runnable time says what each waited for. Both overestimate in their own bad case, so take the lower.
      const fromShare = maxU > 0 ? h.pcpus / maxU : Infinity;
      const fromRunnable = on.reduce(
        (n, v) => n + v.vcpus * Math.min(1, v.cpu + (Number.isFinite(v.runnable) ? v.runnable : 0)),
        0,
      );
      const demand = Math.max(usage, Math.min(fromShare, fromRunnable));
      s = demand > 0 ? Math.min(1, usage / demand) : 1;
    }
    share.set(h.uuid, s);
  }
  for (const v of vms) {
    const s = share.get(sampleHost.get(v.uuid) ?? v.host) ?? 1;
    const u = Number.isFinite(v.cpu) ? v.cpu : 0;
    demandOf.set(v.uuid, Math.min(v.vcpus, (v.vcpus * u) / Math.max(s, 1e-6)));
  }
  const contribution = (v: VmState, h: HostState): Loads => ({
    cpu: (demandOf.get(v.uuid) ?? 0) / Math.max(1, h.pcpus),
    memory: h.memoryTotal > 0 ? v.memory / h.memoryTotal : 0,
    disk: Number.isFinite(v.disk) ? v.disk : 0,
    network: Number.isFinite(v.network) ? v.network : 0,
  });

  // Working state: loads and residents as planned so far.
  const work = new Map<string, Work>();
  for (const h of hosts) {
    const last = h.samples.at(-1);
    work.set(h.uuid, {
      loads: {
        // Demand as a fraction of the host's CPUs: what cpu_avg would show if it had enough of them.
        cpu: last === undefined ? NaN : last.cpu / Math.max(share.get(h.uuid) ?? 1, 1e-6),
        memory: last?.memory ?? NaN,
        disk: last?.disk ?? NaN,
        network: last?.network ?? NaN,
      },
      residents: new Set(hostVms(h.uuid).map((v) => v.uuid)),
    });
  }
  const apply = (v: VmState, from: HostState, to: HostState): void => {
    const f = work.get(from.uuid);
    const t = work.get(to.uuid);
    if (!f || !t) return;
    const cf = contribution(v, from);
    const ct = contribution(v, to);
    for (const m of ['cpu', 'memory', 'disk', 'network'] as const) {
      f.loads[m] = Math.max(0, f.loads[m] - cf[m]);
      t.loads[m] += ct[m];
    }
    f.residents.delete(v.uuid);
    t.residents.add(v.uuid);
  };
  // Moves the samples do not show yet: their VMs count where they are now.
  for (const m of pending) {
    const v = vmBy.get(m.vm);
    const from = hostBy.get(m.from);
    const to = hostBy.get(m.to);
    if (v && from && to && work.get(from.uuid)?.residents.has(v.uuid)) apply(v, from, to);
  }
  const loadsOf = (h: HostState): Loads => ({
    ...(work.get(h.uuid)?.loads ?? { cpu: NaN, memory: NaN, disk: NaN, network: NaN }),
  });

  // Hysteresis per host: the metric and level that make it hot, from fresh samples only.
  interface Heat {
    metric: Metric;
    level: 'high' | 'critical';
    value: number;
    threshold: number;
    samples: number;
    over: number;
  }
  const heat = new Map<string, Heat[]>();
  const verdicts: HostVerdict[] = [];
  for (const h of hosts) {
    const loads = loadsOf(h);
    const since = lastHostMove.get(h.uuid) ?? -Infinity;
    const fresh = h.samples.filter((s) => s.t > since);
    const base = { uuid: h.uuid, name: h.name, loads };
    if (!h.live) {
      verdicts.push({ ...base, condition: 'down', text: 'not live (host_metrics.live is false)' });
      continue;
    }
    if (h.samples.length === 0) {
      verdicts.push({ ...base, condition: 'no-data', text: 'no metrics yet' });
      continue;
    }
    const hot: Heat[] = [];
    const watching: string[] = [];
    for (const [metric, mk] of marks) {
      const values = fresh.map((s) => s[metric]);
      const run = (th: number): number => {
        let n = 0;
        for (let i = values.length - 1; i >= 0 && (values[i] ?? NaN) >= th; i--) n++;
        return n;
      };
      const newest = values.at(-1) ?? NaN;
      if (mk.critical !== undefined && run(mk.critical) >= policy.hysteresis.criticalSamples) {
        const n = run(mk.critical);
        hot.push({
          metric,
          level: 'critical',
          value: newest,
          threshold: mk.critical,
          samples: n,
          over: newest / mk.high,
        });
      } else if (run(mk.high) >= policy.hysteresis.samples) {
        const n = run(mk.high);
        hot.push({
          metric,
          level: 'high',
          value: newest,
          threshold: mk.high,
          samples: n,
          over: newest / mk.high,
        });
      } else if (newest >= mk.high)
        watching.push(
          `${METRIC_WORD[metric]} ${formatMetric(metric, newest)} ≥ high ${formatMark(metric, mk.high)} for ${run(mk.high)} of ${SAMPLE_WORD(policy.hysteresis.samples)}`,
        );
    }
    hot.sort((a, b) => Number(b.level === 'critical') - Number(a.level === 'critical') || b.over - a.over);
    const summary = `cpu ${pct(loads.cpu)}, memory ${pct(loads.memory)} used`;
    if (!h.enabled)
      verdicts.push({ ...base, condition: 'maintenance', text: `disabled (maintenance); ${summary}` });
    else if (fresh.length === 0)
      verdicts.push({
        ...base,
        condition: 'settling',
        text: `settling: no sample since its last move; ${summary} predicted`,
      });
    else if (hot[0]) {
      heat.set(h.uuid, hot);
      const top = hot[0];
      verdicts.push({
        ...base,
        condition: 'hot',
        text: `${METRIC_WORD[top.metric]} ${formatMetric(top.metric, top.value)} ≥ ${top.level} ${formatMark(top.metric, top.threshold)} for ${SAMPLE_WORD(top.samples)}`,
      });
    } else if (watching.length)
      verdicts.push({ ...base, condition: 'watching', text: `watching: ${watching.join('; ')}` });
    else verdicts.push({ ...base, condition: 'ok', text: summary });
  }

  // Targets that can never be used this time, and why.
  const isNamed = (list: readonly string[], o: Named): boolean =>
    list.includes(o.name) || list.includes(o.uuid);
  const closed = new Map<string, string>();
  for (const h of hosts) {
    if (!h.live) closed.set(h.uuid, 'not live');
    else if (h.samples.length === 0) closed.set(h.uuid, 'no metrics');
    else if (!h.enabled) closed.set(h.uuid, 'disabled (maintenance)');
    else if (isNamed(policy.spare.hosts, h)) closed.set(h.uuid, 'spare (policy spare.hosts)');
  }
  let keep = policy.spare.keepEmpty;
  for (const h of hosts) {
    if (keep <= 0) break;
    if (!closed.has(h.uuid) && (work.get(h.uuid)?.residents.size ?? 0) === 0) {
      closed.set(h.uuid, 'kept empty (policy spare.keepEmpty)');
      keep--;
    }
  }

  // Which VMs may move, and the groups that move together.
  const now = snap.time;
  const blocked = (v: VmState): string | undefined => {
    if (v.blocked) return v.blocked;
    if (isNamed(policy.exclude.vms, v)) return 'excluded (policy exclude.vms)';
    const tag = v.tags.find((t) => policy.exclude.tags.some((p) => tagMatches(p, t)));
    if (tag !== undefined) return `excluded by its tag "${tag}"`;
    const last = lastVmMove.get(v.uuid);
    if (last !== undefined && now - last < policy.hysteresis.cooldown)
      return `moved ${Math.max(0, Math.round(now - last))} s ago (cooldown ${policy.hysteresis.cooldown} s)`;
    return undefined;
  };
  const antiTags = (v: VmState): string[] =>
    v.tags.filter((t) => policy.affinity.anti.some((p) => tagMatches(p, t)));
  const togetherTags = (v: VmState): string[] =>
    v.tags.filter((t) => policy.affinity.together.some((p) => tagMatches(p, t)));
  /** The VMs on `host` that move with `v` (itself first). */
  const unitOf = (v: VmState, host: string): VmState[] => {
    const on = [...(work.get(host)?.residents ?? [])]
      .map((u) => vmBy.get(u))
      .filter((x): x is VmState => !!x);
    const unit = [v];
    // Grows while it iterates: a VM that joins brings the VMs sharing its own tags.
    for (const member of unit) {
      const tags = togetherTags(member);
      if (tags.length === 0) continue;
      for (const w of on)
        if (!unit.includes(w) && togetherTags(w).some((t) => tags.includes(t))) unit.push(w);
    }
    return [v, ...unit.slice(1).sort(byName)];
  };

  const sum = (unit: readonly VmState[], h: HostState): Loads => {
    const out = { cpu: 0, memory: 0, disk: 0, network: 0 };
    for (const v of unit) {
      const c = contribution(v, h);
      for (const m of ['cpu', 'memory', 'disk', 'network'] as const) out[m] += c[m];
    }
    return out;
  };

  interface Target {
    host: HostState;
    before: Loads;
    after: Loads;
    score: number;
    /** Hosts that could have taken it. */
    eligible: number;
  }
  /** The coolest host that takes `unit` within every mark, and why each other host does not. */
  const bestTarget = (unit: readonly VmState[], from: HostState): { best?: Target; skipped: string[] } => {
    const skipped: string[] = [];
    let best: Target | undefined;
    let eligible = 0;
    const unitIds = new Set(unit.map((v) => v.uuid));
    for (const h of hosts) {
      if (h.uuid === from.uuid) continue;
      const why = closed.get(h.uuid);
      if (why) {
        skipped.push(`${h.name}: ${why}`);
        continue;
      }
      const w = work.get(h.uuid);
      if (!w) continue;
      const before = { ...w.loads };
      const add = sum(unit, h);
      const after: Loads = {
        cpu: before.cpu + add.cpu,
        memory: before.memory + add.memory,
        disk: before.disk + add.disk,
        network: before.network + add.network,
      };
      const over = marks.find(([m, mk]) => !(after[m] <= mk.target));
      if (over) {
        const [m, mk] = over;
        skipped.push(
          `${h.name}: would reach ${METRIC_WORD[m]} ${formatMetric(m, after[m])} > target mark ${formatMark(m, mk.target)}`,
        );
        continue;
      }
      let clash: string | undefined;
      for (const u of unit) {
        const mine = antiTags(u);
        if (mine.length === 0) continue;
        for (const id of w.residents) {
          if (unitIds.has(id)) continue;
          const other = vmBy.get(id);
          const shared = other ? antiTags(other).find((t) => mine.includes(t)) : undefined;
          if (other && shared !== undefined) {
            clash = `runs ${other.name}, which shares anti-affinity tag "${shared}" with ${u.name}`;
            break;
          }
        }
        if (clash) break;
      }
      if (clash) {
        skipped.push(`${h.name}: ${clash}`);
        continue;
      }
      const score = Math.max(...marks.map(([m, mk]) => after[m] / mk.high));
      eligible++;
      if (!best || score < best.score - 1e-12) best = { host: h, before, after, score, eligible: 0 };
    }
    return best ? { best: { ...best, eligible }, skipped } : { skipped };
  };

  const decisions: Decision[] = [];
  let budget = policy.maxMovesPerInterval;
  const planned = new Set<string>();

  const record = (
    unit: readonly VmState[],
    from: HostState,
    target: Target,
    reason: Metric | 'maintenance',
    level: Level,
    why: { host: string; vm: string },
    skipped: readonly string[],
    trigger?: Decision['trigger'],
  ): void => {
    const fromBefore = loadsOf(from);
    for (const v of unit) apply(v, from, target.host);
    const fromAfter = loadsOf(from);
    const shown = marks.map(
      ([m, mk]) =>
        `${METRIC_WORD[m]} ${formatMetric(m, target.before[m])} → ${formatMetric(m, target.after[m])} (mark ${formatMark(m, mk.target)})`,
    );
    decisions.push({
      vms: unit.map((v) => ({ uuid: v.uuid, name: v.name })),
      from: { uuid: from.uuid, name: from.name },
      to: { uuid: target.host.uuid, name: target.host.name },
      reason,
      level,
      ...(trigger ? { trigger } : {}),
      predicted: {
        from: { before: fromBefore, after: fromAfter },
        to: { before: target.before, after: target.after },
      },
      why: {
        ...why,
        target: `${target.host.name} is the coolest of ${target.eligible} eligible host${target.eligible === 1 ? '' : 's'}: ${shown.join(', ')}`,
        skipped,
      },
    });
    for (const v of unit) planned.add(v.uuid);
    budget -= unit.length;
  };

  /** VMs that move together: the one chosen first, then its affinity group. */
  interface Unit {
    readonly lead: VmState;
    readonly all: readonly VmState[];
    /** Why it cannot move, when it cannot. */
    readonly why?: string;
  }
  const memoryOf = (u: Unit): number => u.all.reduce((n, v) => n + v.memory, 0);
  const candidates = (from: HostState): Unit[] => {
    const seen = new Set<string>();
    const out: Unit[] = [];
    const on = [...(work.get(from.uuid)?.residents ?? [])]
      .map((u) => vmBy.get(u))
      .filter((x): x is VmState => !!x && !planned.has(x.uuid))
      .sort(byName);
    for (const v of on) {
      if (seen.has(v.uuid)) continue;
      const all = unitOf(v, from.uuid);
      for (const u of all) seen.add(u.uuid);
      let why: string | undefined;
      for (const u of all) {
        const b = blocked(u);
        if (b === undefined) continue;
        why = `${u.name}: ${b}${all.length > 1 ? ` (holds its affinity group of ${all.length})` : ''}`;
        break;
      }
      out.push(why === undefined ? { lead: v, all } : { lead: v, all, why });
    }
    return out;
  };

  const groupNote = (u: Unit): string =>
    u.all.length > 1
      ? `; it moves with ${u.all
          .slice(1)
          .map((x) => x.name)
          .join(', ')} (affinity tag "${togetherTags(u.lead).join('", "')}")`
      : '';

  // 1. Maintenance: empty disabled hosts, biggest VMs first (the hardest to place).
  if (policy.maintenance.evacuate)
    for (const h of hosts) {
      if (h.enabled || !h.live || budget <= 0) continue;
      const units = candidates(h);
      for (const u of units) if (u.why) notes.push(`${h.name} (maintenance): ${u.why}; it stays`);
      const movable = units
        .filter((u) => u.why === undefined)
        .sort((a, b) => memoryOf(b) - memoryOf(a) || byName(a.lead, b.lead));
      for (const u of movable) {
        const left = work.get(h.uuid)?.residents.size ?? 0;
        if (budget < u.all.length) {
          notes.push(
            `${h.name} (maintenance): maxMovesPerInterval (${policy.maxMovesPerInterval}) reached; the rest move next time`,
          );
          break;
        }
        const { best, skipped } = bestTarget(u.all, h);
        if (!best) {
          notes.push(`${h.name} (maintenance): no host can take ${u.lead.name}: ${skipped.join('; ')}`);
          continue;
        }
        record(
          u.all,
          h,
          best,
          'maintenance',
          'maintenance',
          {
            host: `${h.name} is disabled (maintenance) and the policy evacuates disabled hosts (${left} VM(s) there before this move)`,
            vm: `${u.lead.name} is the largest movable VM left there (${(memoryOf(u) / 1024 ** 3).toFixed(1)} GiB)${groupNote(u)}`,
          },
          skipped,
        );
      }
    }

  // 2. Hot hosts: critical first, then the furthest over.
  const sources = hosts
    .flatMap((h) => {
      const top = heat.get(h.uuid)?.[0];
      return h.enabled && top ? [{ h, top }] : [];
    })
    .sort(
      (a, b) =>
        Number(b.top.level === 'critical') - Number(a.top.level === 'critical') ||
        b.top.over - a.top.over ||
        byName(a.h, b.h),
    );
  for (const { h } of sources) {
    for (const hot of heat.get(h.uuid) ?? []) {
      const mk = marks.find(([m]) => m === hot.metric)?.[1];
      if (!mk) continue;
      const m = hot.metric;
      const load = (): number => work.get(h.uuid)?.loads[m] ?? NaN;
      if (!(load() >= mk.high)) {
        if (decisions.some((d) => d.from.uuid === h.uuid)) continue;
        notes.push(
          `${h.name}: ${METRIC_WORD[m]} ${formatMetric(m, hot.value)} was over ${hot.level} but moves not yet in its samples bring it to ${formatMetric(m, load())}; waiting`,
        );
        continue;
      }
      let first = true;
      while (load() >= mk.high) {
        if (budget <= 0) {
          notes.push(
            `${h.name}: ${METRIC_WORD[m]} still ${formatMetric(m, load())} ≥ high ${formatMark(m, mk.high)}; maxMovesPerInterval (${policy.maxMovesPerInterval}) reached, more next time`,
          );
          break;
        }
        interface Option {
          readonly unit: Unit;
          readonly c: number;
          readonly target: Target;
          readonly skipped: string[];
        }
        const options: Option[] = [];
        const refused: string[] = [];
        for (const u of candidates(h)) {
          if (u.why !== undefined) {
            refused.push(u.why);
            continue;
          }
          if (u.all.length > budget) {
            refused.push(`${u.lead.name}: its affinity group of ${u.all.length} exceeds the moves left`);
            continue;
          }
          const c = sum(u.all, h)[m];
          if (!(c > 0)) continue;
          const { best, skipped } = bestTarget(u.all, h);
          if (best) options.push({ unit: u, c, target: best, skipped });
          else refused.push(`${u.lead.name}: no host can take it`);
        }
        const need = load() - mk.high;
        // Enough on its own: the smallest such move (least to copy, least disturbance); else the biggest that fits.
        const enough = options
          .filter((o) => o.c > need + 1e-12)
          .sort(
            (a, b) => a.c - b.c || memoryOf(a.unit) - memoryOf(b.unit) || byName(a.unit.lead, b.unit.lead),
          );
        const biggest = [...options].sort((a, b) => b.c - a.c || byName(a.unit.lead, b.unit.lead));
        const chosen = enough[0] ?? biggest[0];
        if (!chosen) {
          notes.push(
            `${h.name} stays at ${METRIC_WORD[m]} ${formatMetric(m, first ? hot.value : load())} (≥ ${hot.level} ${formatMark(m, hot.threshold)}): no VM can move within the policy${refused.length ? ` (${refused.slice(0, 4).join('; ')}${refused.length > 4 ? `; and ${refused.length - 4} more` : ''})` : ''}`,
          );
          break;
        }
        const lead = chosen.unit.lead;
        const adds =
          m === 'cpu'
            ? `needs ≈ ${(chosen.c * h.pcpus).toFixed(2)} of ${h.name}'s ${h.pcpus} pCPUs (runs at ${pct(lead.cpu)} of its ${lead.vcpus} vCPU(s))`
            : m === 'memory'
              ? `holds ${(memoryOf(chosen.unit) / 1024 ** 3).toFixed(1)} GiB (${pct(chosen.c)} of the host)`
              : `moves ${formatMetric(m, chosen.c)} of ${METRIC_WORD[m]} traffic`;
        const vmWhy =
          chosen === enough[0]
            ? `${lead.name} ${adds}: the smallest move that brings ${h.name} below ${formatMark(m, mk.high)} (→ ${formatMetric(m, load() - chosen.c)})`
            : `${lead.name} ${adds}: the biggest ${METRIC_WORD[m]} user that can move; no single move brings ${h.name} below ${formatMark(m, mk.high)}`;
        const s = share.get(h.uuid) ?? 1;
        const cpuNote =
          m === 'cpu' && s < 1
            ? `; its VMs ask ≈ ${((hot.value * h.pcpus) / s).toFixed(2)} of ${h.pcpus} pCPUs and get ${pct(s)} of it`
            : '';
        record(
          chosen.unit.all,
          h,
          chosen.target,
          m,
          hot.level,
          {
            host: first
              ? `${h.name} ${METRIC_WORD[m]} ${formatMetric(m, hot.value)} ≥ ${hot.level} ${formatMark(m, hot.threshold)} for ${SAMPLE_WORD(hot.samples)} (policy: ${hot.level === 'critical' ? policy.hysteresis.criticalSamples : policy.hysteresis.samples})${cpuNote}`
              : `${h.name} is still predicted at ${METRIC_WORD[m]} ${formatMetric(m, load())} ≥ high ${formatMark(m, mk.high)} after the moves above`,
            vm: `${vmWhy}${groupNote(chosen.unit)}`,
          },
          chosen.skipped,
          { metric: m, value: hot.value, threshold: hot.threshold, samples: hot.samples },
        );
        first = false;
      }
    }
  }

  return { time: snap.time, decisions, hosts: verdicts, notes };
}
