/**
 * The balancer's policy file (YAML or JSON): thresholds by level, hysteresis, moves per interval, affinity and
 * anti-affinity by VM tags, spare hosts, maintenance and exclusions. {@link parsePolicy} validates every field and
 * names each bad one (`thresholds.cpu.target: must be below thresholds.cpu.high (0.85), got 0.9`).
 *
 * Inside the balancer every metric is "higher is worse": memory is handled as the fraction used, so the file's
 * `memoryFree: { low, critical, target }` becomes `high = 1 - low`, `critical = 1 - critical`, `target = 1 - target`.
 */
import { parse as parseYaml } from 'yaml';
import { ToolError, ToolErrorCode } from '../errors.js';

/** What the balancer watches on each host. */
export const METRICS = ['cpu', 'memory', 'disk', 'network'] as const;
/** One of {@link METRICS}. */
export type Metric = (typeof METRICS)[number];

/** Marks of one metric, in the balancer's "higher is worse" units (fractions for cpu and memory, B/s otherwise). */
export interface Marks {
  /** Over this for `hysteresis.samples` samples: act. */
  readonly high: number;
  /** Over this for `hysteresis.criticalSamples` samples: act at once (optional). */
  readonly critical?: number;
  /** A target host must stay at or below this after the move (predicted). */
  readonly target: number;
}

/** A validated policy. */
export interface BalancePolicy {
  /** Seconds between evaluations (the CLI's `--interval` wins). */
  readonly interval?: number;
  /** Marks per metric; `disk` and `network` only when the file sets them. */
  readonly thresholds: {
    readonly cpu: Marks;
    readonly memory: Marks;
    readonly disk?: Marks;
    readonly network?: Marks;
  };
  readonly hysteresis: {
    /** Consecutive samples over `high` before acting. */
    readonly samples: number;
    /** Consecutive samples over `critical` before acting. */
    readonly criticalSamples: number;
    /** Seconds a moved VM stays where it was put. */
    readonly cooldown: number;
  };
  /** Most live migrations started per evaluation. */
  readonly maxMovesPerInterval: number;
  readonly affinity: {
    /** Tags (or `prefix*`) whose VMs never share a host. */
    readonly anti: readonly string[];
    /** Tags (or `prefix*`) whose VMs on one host move together. */
    readonly together: readonly string[];
  };
  readonly spare: {
    /** Hosts (name or uuid) never used as a target. */
    readonly hosts: readonly string[];
    /** Also keep this many hosts that run no VM empty (never a target). */
    readonly keepEmpty: number;
  };
  readonly maintenance: {
    /** Move VMs off disabled hosts (`xe host-disable`), toward the others. */
    readonly evacuate: boolean;
  };
  readonly exclude: {
    /** VMs (name or uuid) never moved. */
    readonly vms: readonly string[];
    /** VMs carrying one of these tags are never moved. */
    readonly tags: readonly string[];
  };
}

/** The built-in policy (what a file leaves out). */
export const DEFAULT_POLICY: BalancePolicy = {
  thresholds: {
    cpu: { high: 0.85, critical: 0.95, target: 0.65 },
    memory: { high: 0.9, critical: 0.95, target: 0.8 },
  },
  hysteresis: { samples: 2, criticalSamples: 1, cooldown: 300 },
  maxMovesPerInterval: 2,
  affinity: { anti: [], together: [] },
  spare: { hosts: [], keepEmpty: 0 },
  maintenance: { evacuate: false },
  exclude: { vms: [], tags: [] },
};

/** An example policy file, shown in the reference page and written by tests. */
export const EXAMPLE_POLICY = `# xenlab-tools balance --policy policy.yaml
thresholds:
  cpu:        { high: 0.85, critical: 0.95, target: 0.65 }  # host cpu_avg (fraction of its CPUs)
  memoryFree: { low: 0.10, critical: 0.05, target: 0.20 }   # fraction of host memory free
  disk:       { high: 200M, target: 120M }                  # B/s read+written by the host's VMs (optional)
  network:    { high: 100M, target: 60M }                   # B/s through the host's PIFs (optional)
hysteresis:
  samples: 2          # over "high" for 2 samples in a row before acting (5 s each)
  criticalSamples: 1  # over "critical": act on the first sample
  cooldown: 300       # seconds a moved VM stays put
maxMovesPerInterval: 2
affinity:
  anti: [ha-pair, "anti:*"]   # VMs sharing one of these tags never share a host
  together: [app-stack]      # VMs sharing one of these tags on a host move together
spare:
  hosts: [xcp-ng-16]         # never a target (kept empty for maintenance)
  keepEmpty: 0               # and keep this many more empty hosts empty
maintenance:
  evacuate: true             # move VMs off disabled hosts (xe host-disable)
exclude:
  tags: [no-balance]
  vms: []
`;

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
  ti: 1024 ** 4,
};

/** `200M`, `1.5G`, `64Mi`, `100MB/s` or a plain number → B/s; NaN when not one. */
export function parseRate(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?\s*(?:b|b\/s|bps)?\s*$/i.exec(v);
  if (!m) return NaN;
  const unit = UNITS[(m[2] ?? '').toLowerCase()];
  return unit === undefined ? NaN : Number(m[1]) * unit;
}

/** Collects problems while reading one file. */
class Reader {
  readonly problems: string[] = [];

  unknown(obj: Raw, path: string, known: readonly string[]): void {
    for (const k of Object.keys(obj))
      if (!known.includes(k))
        this.problems.push(`${path ? `${path}.` : ''}${k}: unknown field (known: ${known.join(', ')})`);
  }

  object(obj: Raw, key: string, path: string): Raw | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) {
      this.problems.push(`${path}: must be a mapping, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  number(
    obj: Raw,
    key: string,
    path: string,
    o: { min?: number; max?: number; minExclusive?: boolean; integer?: boolean; rate?: boolean },
  ): number | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    const n = o.rate ? parseRate(v) : typeof v === 'number' ? v : NaN;
    const range = `${o.min === undefined ? '' : `${o.minExclusive ? '>' : '≥'} ${o.min}`}${o.min !== undefined && o.max !== undefined ? ' and ' : ''}${o.max === undefined ? '' : `≤ ${o.max}`}`;
    const what = `${o.integer ? 'a whole number' : o.rate ? 'a rate in B/s (e.g. 200M)' : 'a number'}${range ? ` ${range}` : ''}`;
    if (
      !Number.isFinite(n) ||
      (o.integer && !Number.isInteger(n)) ||
      (o.min !== undefined && (o.minExclusive ? n <= o.min : n < o.min)) ||
      (o.max !== undefined && n > o.max)
    ) {
      this.problems.push(`${path}: must be ${what}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return n;
  }

  boolean(obj: Raw, key: string, path: string): boolean | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      this.problems.push(`${path}: must be true or false, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  strings(obj: Raw, key: string, path: string, tags = false): string[] | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.trim() === '')) {
      this.problems.push(`${path}: must be a list of names, got ${JSON.stringify(v)}`);
      return undefined;
    }
    const out = (list as string[]).map((s) => s.trim());
    if (tags)
      for (const s of out)
        if (s.slice(0, -1).includes('*') || s === '*')
          this.problems.push(`${path}: "${s}": a tag, or a prefix ending in one "*" (e.g. "anti:*")`);
    return out;
  }

  require(cond: boolean, message: string): void {
    if (!cond) this.problems.push(message);
  }
}

function readMarks(
  r: Reader,
  parent: Raw,
  key: string,
  kind: 'fraction' | 'free' | 'rate',
  fallback: Marks | undefined,
): Marks | undefined {
  const path = `thresholds.${key}`;
  const obj = r.object(parent, key, path);
  if (!obj) return fallback;
  const [hi, crit, tgt] = kind === 'free' ? ['low', 'critical', 'target'] : ['high', 'critical', 'target'];
  r.unknown(obj, path, [hi, crit, tgt]);
  const num = (k: string): number | undefined =>
    kind === 'rate'
      ? r.number(obj, k, `${path}.${k}`, { min: 0, minExclusive: true, rate: true })
      : r.number(obj, k, `${path}.${k}`, { min: 0, max: 1, minExclusive: true });
  const high = num(hi);
  const critical = num(crit);
  const target = num(tgt);
  if (kind === 'free') {
    // Free memory: lower is worse. Check in the file's terms, then turn into "used".
    const low = high ?? (fallback ? 1 - fallback.high : undefined);
    if (low === undefined) return undefined;
    // Left out: the defaults when `low` is the default too, else no critical level and the target at twice `low`.
    const keep = high === undefined && fallback !== undefined;
    const c = critical ?? (keep && fallback.critical !== undefined ? 1 - fallback.critical : undefined);
    const t = target ?? (keep ? 1 - fallback.target : Math.min(0.99, low * 2));
    if (c !== undefined) r.require(c < low, `${path}.critical: must be below ${path}.low (${low}), got ${c}`);
    r.require(t > low, `${path}.target: must be above ${path}.low (${low}), got ${t}`);
    return { high: 1 - low, ...(c === undefined ? {} : { critical: 1 - c }), target: 1 - t };
  }
  const h = high ?? fallback?.high;
  if (h === undefined) {
    r.require(false, `${path}.high: required (e.g. ${kind === 'rate' ? '200M' : '0.85'})`);
    return undefined;
  }
  // Left out: the defaults when `high` is the default too, else no critical level and the target at ¾ of high.
  const keep = high === undefined && fallback !== undefined;
  const c = critical ?? (keep ? fallback.critical : undefined);
  const t = target ?? (keep ? fallback.target : h * 0.75);
  if (c !== undefined) r.require(c > h, `${path}.critical: must be above ${path}.high (${h}), got ${c}`);
  r.require(t < h, `${path}.target: must be below ${path}.high (${h}), got ${t}`);
  return { high: h, ...(c === undefined ? {} : { critical: c }), target: t };
}

/**
 * Validates a parsed policy document; throws a `ToolError` (`TOOLS_ERR_INPUT`) listing every bad field.
 * @example
 * const policy = validatePolicy({ thresholds: { cpu: { high: 0.8 } } }, 'policy.yaml');
 */
export function validatePolicy(doc: unknown, source = 'policy'): BalancePolicy {
  const r = new Reader();
  doc ??= {};
  if (!isObject(doc))
    throw new ToolError(
      ToolErrorCode.input,
      `${source} is not a valid policy: the top level must be a mapping`,
    );
  r.unknown(doc, '', [
    'interval',
    'thresholds',
    'hysteresis',
    'maxMovesPerInterval',
    'affinity',
    'spare',
    'maintenance',
    'exclude',
  ]);
  const d = DEFAULT_POLICY;
  const interval = r.number(doc, 'interval', 'interval', { min: 1 });
  const th = r.object(doc, 'thresholds', 'thresholds') ?? {};
  r.unknown(th, 'thresholds', ['cpu', 'memoryFree', 'disk', 'network']);
  const cpu = readMarks(r, th, 'cpu', 'fraction', d.thresholds.cpu) ?? d.thresholds.cpu;
  const memory = readMarks(r, th, 'memoryFree', 'free', d.thresholds.memory) ?? d.thresholds.memory;
  const disk = readMarks(r, th, 'disk', 'rate', undefined);
  const network = readMarks(r, th, 'network', 'rate', undefined);
  const hy = r.object(doc, 'hysteresis', 'hysteresis') ?? {};
  r.unknown(hy, 'hysteresis', ['samples', 'criticalSamples', 'cooldown']);
  const samples =
    r.number(hy, 'samples', 'hysteresis.samples', { min: 1, max: 120, integer: true }) ??
    d.hysteresis.samples;
  const criticalSamples =
    r.number(hy, 'criticalSamples', 'hysteresis.criticalSamples', { min: 1, max: 120, integer: true }) ??
    Math.min(samples, d.hysteresis.criticalSamples);
  r.require(
    criticalSamples <= samples,
    `hysteresis.criticalSamples: must be at most hysteresis.samples (${samples}), got ${criticalSamples}`,
  );
  const cooldown = r.number(hy, 'cooldown', 'hysteresis.cooldown', { min: 0 }) ?? d.hysteresis.cooldown;
  const maxMovesPerInterval =
    r.number(doc, 'maxMovesPerInterval', 'maxMovesPerInterval', { min: 1, max: 1000, integer: true }) ??
    d.maxMovesPerInterval;
  const af = r.object(doc, 'affinity', 'affinity') ?? {};
  r.unknown(af, 'affinity', ['anti', 'together']);
  const sp = r.object(doc, 'spare', 'spare') ?? {};
  r.unknown(sp, 'spare', ['hosts', 'keepEmpty']);
  const mt = r.object(doc, 'maintenance', 'maintenance') ?? {};
  r.unknown(mt, 'maintenance', ['evacuate']);
  const ex = r.object(doc, 'exclude', 'exclude') ?? {};
  r.unknown(ex, 'exclude', ['vms', 'tags']);
  const policy: BalancePolicy = {
    ...(interval === undefined ? {} : { interval }),
    thresholds: {
      cpu,
      memory,
      ...(disk ? { disk } : {}),
      ...(network ? { network } : {}),
    },
    hysteresis: { samples, criticalSamples, cooldown },
    maxMovesPerInterval,
    affinity: {
      anti: r.strings(af, 'anti', 'affinity.anti', true) ?? [],
      together: r.strings(af, 'together', 'affinity.together', true) ?? [],
    },
    spare: {
      hosts: r.strings(sp, 'hosts', 'spare.hosts') ?? [],
      keepEmpty: r.number(sp, 'keepEmpty', 'spare.keepEmpty', { min: 0, max: 1000, integer: true }) ?? 0,
    },
    maintenance: { evacuate: r.boolean(mt, 'evacuate', 'maintenance.evacuate') ?? false },
    exclude: {
      vms: r.strings(ex, 'vms', 'exclude.vms') ?? [],
      tags: r.strings(ex, 'tags', 'exclude.tags', true) ?? [],
    },
  };
  for (const t of policy.affinity.anti)
    r.require(
      !policy.affinity.together.includes(t),
      `affinity: tag "${t}" is in both affinity.anti and affinity.together`,
    );
  if (r.problems.length)
    throw new ToolError(ToolErrorCode.input, `${source} is not a valid policy`, r.problems);
  return policy;
}

/**
 * Parses a policy file's text (YAML, of which JSON is a subset) and validates it.
 * @example
 * const policy = parsePolicy(ctx.files.read('policy.yaml'), 'policy.yaml');
 */
export function parsePolicy(text: string, source = 'policy'): BalancePolicy {
  let doc: unknown;
  try {
    doc = source.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ToolError(
      ToolErrorCode.input,
      `${source} is not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0] ?? ''}`,
    );
  }
  return validatePolicy(doc, source);
}

/** Whether a VM tag matches a policy tag (`prefix*` matches by prefix). */
export function tagMatches(pattern: string, tag: string): boolean {
  return pattern.endsWith('*') ? tag.startsWith(pattern.slice(0, -1)) : tag === pattern;
}
