/**
 * `provision`: N VMs from a template, fast-cloned (VM.clone + VM.provision, like `xe vm-install` without sr-uuid —
 * xenapi/NOTES.md §3: sr-uuid forces a full VM.copy, minutes instead of seconds), named from a pattern, placed across
 * hosts by free memory (affinity, and `VM.start_on` with --start), with bounded concurrency.
 *
 * Resumable and idempotent: every clone is marked at once (`other_config:xenlab_provision`), so a rerun finds what is
 * already there — finished VMs are left alone, clones whose provisioning did not finish are completed, halted ones
 * are started with --start — and only the missing VMs are created.
 */
import type { Ref, VMRecord, XapiClient } from '../../xenapi/index.js';
import { XapiError } from '../../xenapi/index.js';
import { defineTool } from '../command.js';
import { ToolError, ToolErrorCode } from '../errors.js';
import { duration, percentile, table } from '../format.js';

/** The other_config key marking VMs made by provision; its value is the name pattern. */
export const PROVISION_MARK = 'xenlab_provision';

/** What to do for one wanted VM. */
export type ProvisionAction = 'create' | 'complete' | 'start' | 'done' | 'conflict';

/** One line of the plan. */
export interface PlannedVm {
  readonly name: string;
  readonly action: ProvisionAction;
  /** Existing VM, for complete/start/done. */
  readonly ref?: Ref<'VM'>;
  /** Host chosen by free memory (name_label), for create/complete/start. */
  readonly host?: string;
  readonly hostRef?: Ref<'host'>;
  /** Why a conflict. */
  readonly reason?: string;
}

/** Options of {@link planProvision} / {@link runProvision}. */
export interface ProvisionOptions {
  /** Template name_label or uuid. */
  readonly template: string;
  readonly count: number;
  /** Name pattern: `{n}` is the number, `{n:3}` zero-pads it to 3 digits. */
  readonly pattern: string;
  /** First number (default 1). */
  readonly first: number;
  /** Start the VMs on their chosen hosts. */
  readonly start: boolean;
}

/** The plan: the template, the hosts and one entry per wanted VM. */
export interface ProvisionPlan {
  readonly template: {
    readonly ref: Ref<'VM'>;
    readonly name: string;
    readonly memory: number;
    /** The template's provisioning XML (`other_config:disks`), which every clone starts with; absent when none. */
    readonly disks?: string;
  };
  readonly hosts: readonly { readonly name: string; readonly free: number }[];
  readonly vms: readonly PlannedVm[];
}

/** The outcome of a run. */
export interface ProvisionSummary {
  readonly wanted: number;
  readonly created: number;
  readonly completed: number;
  readonly started: number;
  readonly unchanged: number;
  readonly failed: readonly { readonly name: string; readonly error: string }[];
  readonly wallMs: number;
  /** Per step (clone, mark, provision, affinity, start): count, p50 and p95 in ms. */
  readonly steps: Readonly<Record<string, { count: number; p50: number; p95: number }>>;
  /** VMs placed (created, completed or started) per host name. */
  readonly placement: Readonly<Record<string, number>>;
  /** VMs not attempted because the run was interrupted. */
  readonly skipped: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Expands a name pattern for number `n`. */
export function vmName(pattern: string, n: number): string {
  return pattern.replace(/\{n(?::(\d+))?\}/g, (_m, width: string | undefined) =>
    String(n).padStart(width === undefined ? 0 : Number(width), '0'),
  );
}

async function findTemplate(client: XapiClient, key: string): Promise<Ref<'VM'>> {
  let refs: Ref<'VM'>[];
  if (UUID_RE.test(key)) {
    try {
      refs = [await client.call('VM.get_by_uuid', key)];
    } catch (e) {
      if (e instanceof XapiError && e.code === 'UUID_INVALID') refs = [];
      else throw e;
    }
  } else refs = await client.call('VM.get_by_name_label', key);
  const templates: Ref<'VM'>[] = [];
  for (const r of refs) if (await client.call('VM.get_is_a_template', r)) templates.push(r);
  if (templates.length === 0)
    throw new ToolError(
      ToolErrorCode.notFound,
      `no template "${key}" in the pool; list them with \`xe template-list params=name-label\``,
    );
  if (templates.length > 1)
    throw new ToolError(
      ToolErrorCode.conflict,
      `${templates.length} templates are named "${key}"; pass its uuid`,
    );
  const [ref] = templates;
  if (!ref) throw new Error('unreachable');
  return ref;
}

/**
 * Looks at the pool and decides, for every wanted VM, what is missing. Changes nothing.
 * @example
 * const plan = await planProvision(client, { template: 'Debian Bookworm 12', count: 10, pattern: 'web-{n:2}', first: 1, start: false });
 */
export async function planProvision(client: XapiClient, o: ProvisionOptions): Promise<ProvisionPlan> {
  if (o.count > 1 && !/\{n(?::\d+)?\}/.test(o.pattern))
    throw new ToolError(
      ToolErrorCode.usage,
      `--name "${o.pattern}" needs {n} (or {n:3}) to tell ${o.count} VMs apart`,
    );
  const templateRef = await findTemplate(client, o.template);
  const [template, vms, hosts, metrics] = await Promise.all([
    client.call('VM.get_record', templateRef),
    client.call('VM.get_all_records'),
    client.call('host.get_all_records'),
    client.call('host_metrics.get_all_records'),
  ]);
  const byName = new Map<string, [Ref<'VM'>, VMRecord][]>();
  for (const [ref, vm] of Object.entries(vms) as [Ref<'VM'>, VMRecord][]) {
    if (vm.is_control_domain || vm.is_a_snapshot || ref === templateRef) continue;
    const list = byName.get(vm.name_label) ?? [];
    list.push([ref, vm]);
    byName.set(vm.name_label, list);
  }
  // Free memory per usable host: enabled and live (host.compute_free_memory is what VM.start checks against).
  const pool: { ref: Ref<'host'>; name: string; free: number }[] = [];
  for (const [ref, h] of Object.entries(hosts) as [Ref<'host'>, (typeof hosts)[Ref<'host'>]][]) {
    const live = metrics[h.metrics]?.live ?? true;
    if (!h.enabled || !live) continue;
    pool.push({ ref, name: h.name_label, free: await client.call('host.compute_free_memory', ref) });
  }
  const hostFree = pool.map((h) => ({ name: h.name, free: h.free }));
  if (pool.length === 0)
    throw new ToolError(ToolErrorCode.notFound, 'no enabled, live host in the pool to place VMs on');
  const need = template.memory_static_max + template.memory_overhead;
  const place = (): { host: string; hostRef: Ref<'host'> } => {
    let best = pool[0];
    for (const h of pool) if (best && h.free > best.free) best = h;
    if (!best) throw new Error('unreachable');
    best.free -= need;
    return { host: best.name, hostRef: best.ref };
  };
  const out: PlannedVm[] = [];
  for (let i = 0; i < o.count; i++) {
    const name = vmName(o.pattern, o.first + i);
    const found = byName.get(name) ?? [];
    const [hit] = found;
    if (!hit) {
      out.push({ name, action: 'create', ...place() });
      continue;
    }
    const [ref, vm] = hit;
    const ours = vm.other_config[PROVISION_MARK] !== undefined;
    if (found.length > 1)
      out.push({ name, action: 'conflict', reason: `${found.length} VMs are named ${name}` });
    else if (vm.is_a_template && !ours)
      out.push({
        name,
        action: 'conflict',
        ref,
        reason: `a template not made by provision is named ${name}`,
      });
    else if (vm.is_a_template) out.push({ name, action: 'complete', ref, ...place() });
    else if (o.start && vm.power_state === 'Halted') out.push({ name, action: 'start', ref, ...place() });
    else out.push({ name, action: 'done', ref });
  }
  return {
    template: {
      ref: templateRef,
      name: template.name_label,
      memory: template.memory_static_max,
      ...(template.other_config.disks === undefined ? {} : { disks: template.other_config.disks }),
    },
    hosts: hostFree,
    vms: out,
  };
}

/** Hooks of {@link runProvision}. */
export interface ProvisionHooks {
  readonly now: () => number;
  /** Called once per planned VM when its work ends (ok or failed). */
  readonly onDone?: (vm: PlannedVm, error?: string) => void;
  /** When aborted (Ctrl-C), no new VM is started; those in flight finish and the summary is returned. */
  readonly signal?: AbortSignal;
}

/**
 * Carries out a plan with at most `concurrency` VMs in flight. Failures are collected, not thrown: a rerun picks up
 * what failed.
 */
/** The pool's default SR uuid, if it has one. */
async function defaultSrUuid(client: XapiClient): Promise<string | undefined> {
  const [pool] = await client.call('pool.get_all');
  if (pool === undefined) return undefined;
  const sr = await client.call('pool.get_default_SR', pool);
  try {
    return await client.call('SR.get_uuid', sr);
  } catch {
    return undefined; // OpaqueRef:NULL: no default SR; VM.provision will say what is missing
  }
}

/** The provisioning XML with every empty `sr` attribute (either quote style) naming `srUuid`; others kept. */
export function fillEmptySrAttributes(xml: string, srUuid: string): string {
  return xml.replace(/\bsr\s*=\s*(?:""|'')/g, `sr="${srUuid}"`);
}

/**
 * Gives every `<disk>` of the VM's provisioning XML with an empty `sr` the default SR (either quote style). `known`
 * is the XML when the caller knows it (a fresh clone has its template's): one call fewer per VM.
 */
async function fillEmptySrs(
  client: XapiClient,
  vm: Ref<'VM'>,
  srUuid: string,
  known?: { readonly disks: string | undefined },
): Promise<void> {
  const disks = known ? known.disks : (await client.call('VM.get_other_config', vm)).disks;
  if (disks === undefined) return;
  const filled = fillEmptySrAttributes(disks, srUuid);
  if (filled === disks) return;
  await client.call('VM.remove_from_other_config', vm, 'disks');
  await client.call('VM.add_to_other_config', vm, 'disks', filled);
}

export async function runProvision(
  client: XapiClient,
  plan: ProvisionPlan,
  o: ProvisionOptions & { readonly concurrency: number },
  hooks: ProvisionHooks,
): Promise<ProvisionSummary> {
  const t0 = hooks.now();
  const times: Record<string, number[]> = {};
  const timed = async <T>(step: string, f: () => Promise<T>): Promise<T> => {
    const s = hooks.now();
    const r = await f();
    (times[step] ??= []).push(hooks.now() - s);
    return r;
  };
  const counts = { created: 0, completed: 0, started: 0, unchanged: 0 };
  const failed: { name: string; error: string }[] = [];
  const placement: Record<string, number> = {};
  const work = plan.vms.filter((v) => v.action !== 'done' && v.action !== 'conflict');
  for (const v of plan.vms) {
    if (v.action === 'done') counts.unchanged++;
    if (v.action === 'conflict') failed.push({ name: v.name, error: `conflict: ${v.reason ?? ''}` });
  }
  // Templates' `other-config:disks` leave `sr=""`: xe vm-install fills in the pool's default SR before
  // VM.provision (cli_util.ml `rewrite_provisioning_xml`), and real xapi answers UUID_INVALID [sr, ""] without it.
  const defaultSr = await defaultSrUuid(client);
  const one = async (v: PlannedVm): Promise<void> => {
    let ref = v.ref;
    const hostRef = v.hostRef;
    if (!hostRef) throw new Error('unplaced VM in plan');
    if (v.action === 'create') {
      const made = await timed('clone', () => client.call('VM.clone', plan.template.ref, v.name));
      ref = made;
      // Marked before anything else can fail, so a rerun recognises a half-made VM as its own.
      await timed('mark', () => client.call('VM.add_to_other_config', made, PROVISION_MARK, o.pattern));
    }
    if (!ref) throw new Error('no VM ref');
    const vm = ref;
    if (v.action === 'create' || v.action === 'complete') {
      // A fresh clone carries its template's `disks` (VM.clone copies other_config); a half-made one is read.
      const known = v.action === 'create' ? { disks: plan.template.disks } : undefined;
      const mayNeedSr =
        known === undefined ||
        (known.disks !== undefined &&
          defaultSr !== undefined &&
          fillEmptySrAttributes(known.disks, defaultSr) !== known.disks);
      if (defaultSr !== undefined && mayNeedSr)
        await timed('provision', () => fillEmptySrs(client, vm, defaultSr, known));
      await timed('provision', () => client.call('VM.provision', vm));
      await timed('affinity', () => client.call('VM.set_affinity', vm, hostRef));
    }
    if (o.start) await timed('start', () => client.call('VM.start_on', vm, hostRef, false, false));
    if (v.action === 'create') counts.created++;
    else if (v.action === 'complete') counts.completed++;
    if (o.start) counts.started++;
    if (v.host !== undefined) placement[v.host] = (placement[v.host] ?? 0) + 1;
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (hooks.signal?.aborted) return;
      const v = work[next++];
      if (!v) return;
      try {
        await one(v);
        hooks.onDone?.(v);
      } catch (e) {
        const error = e instanceof XapiError ? `${e.code} ${JSON.stringify(e.params)}` : (e as Error).message;
        failed.push({ name: v.name, error });
        hooks.onDone?.(v, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, work.length)) }, worker));
  const steps: Record<string, { count: number; p50: number; p95: number }> = {};
  for (const [k, xs] of Object.entries(times))
    steps[k] = { count: xs.length, p50: percentile(xs, 50), p95: percentile(xs, 95) };
  return {
    wanted: plan.vms.length,
    ...counts,
    failed,
    wallMs: hooks.now() - t0,
    steps,
    placement,
    skipped: Math.max(0, work.length - next),
  };
}

function planText(plan: ProvisionPlan): string {
  const by = (a: ProvisionAction): number => plan.vms.filter((v) => v.action === a).length;
  const lines = [
    `template: ${plan.template.name}`,
    `wanted: ${plan.vms.length}  create: ${by('create')}  complete: ${by('complete')}  start: ${by('start')}  already done: ${by('done')}  conflicts: ${by('conflict')}`,
    '',
  ];
  const per = new Map<string, number>();
  for (const v of plan.vms) if (v.host !== undefined) per.set(v.host, (per.get(v.host) ?? 0) + 1);
  lines.push(
    table(plan.hosts, [
      { title: 'host', value: (h) => h.name },
      { title: 'free MiB', value: (h) => String(Math.floor(h.free / 2 ** 20)), right: true },
      { title: 'new VMs', value: (h) => String(per.get(h.name) ?? 0), right: true },
    ]),
  );
  const shown = plan.vms.filter((v) => v.action !== 'done').slice(0, 20);
  if (shown.length) {
    lines.push(
      table(shown, [
        { title: 'vm', value: (v) => v.name },
        { title: 'action', value: (v) => v.action },
        { title: 'host', value: (v) => v.host ?? '' },
        { title: 'note', value: (v) => v.reason ?? '' },
      ]),
    );
    const more = plan.vms.filter((v) => v.action !== 'done').length - shown.length;
    if (more > 0) lines.push(`… and ${more} more\n`);
  }
  return lines.join('\n');
}

function summaryText(s: ProvisionSummary): string {
  const rate = s.wallMs > 0 ? ((s.created + s.completed + s.started) / s.wallMs) * 1000 : 0;
  const lines = [
    `provisioned ${s.wanted} wanted VMs in ${duration(s.wallMs)} (${rate.toFixed(1)} VMs/s): created ${s.created}, completed ${s.completed}, started ${s.started}, already there ${s.unchanged}, failed ${s.failed.length}`,
  ];
  const steps = Object.entries(s.steps);
  if (steps.length)
    lines.push(
      '',
      table(steps, [
        { title: 'step', value: ([k]) => k },
        { title: 'calls', value: ([, v]) => String(v.count), right: true },
        { title: 'p50', value: ([, v]) => duration(v.p50), right: true },
        { title: 'p95', value: ([, v]) => duration(v.p95), right: true },
      ]).trimEnd(),
    );
  const placed = Object.entries(s.placement);
  if (placed.length) lines.push('', `placement: ${placed.map(([h, n]) => `${h} ${n}`).join(', ')}`);
  if (s.skipped > 0)
    lines.push('', `interrupted: ${s.skipped} VM(s) not attempted; rerun the same command to finish`);
  if (s.failed.length) {
    lines.push('', 'failed (rerun the same command to retry them):');
    for (const f of s.failed.slice(0, 10)) lines.push(`  ${f.name}: ${f.error}`);
    if (s.failed.length > 10) lines.push(`  … and ${s.failed.length - 10} more`);
  }
  return `${lines.join('\n')}\n`;
}

/** The `provision` tool. */
export const provisionTool = defineTool({
  name: 'provision',
  summary: 'create N VMs from a template: fast clones, placed by free memory, resumable',
  description:
    'Creates the VMs a name pattern describes from a template by fast clone (VM.clone + VM.provision, as `xe vm-install` does without sr-uuid), placing each on the host with the most free memory (affinity; started there with --start), at most --concurrency at a time. Rerunning the same command completes what is missing: finished VMs are left alone, half-made ones (marked other_config:xenlab_provision) are completed, failed ones retried. --dry-run prints the plan and changes nothing.',
  examples: [
    'xenlab-tools provision --template "Debian Bookworm 12" --count 10 --name "web-{n:2}" --dry-run',
    'xenlab-tools provision --template "Debian Bookworm 12" --count 1000 --name "vm-{n:4}" --concurrency 32',
    'xenlab-tools provision --template "Debian Bookworm 12" --count 3 --name "db-{n}" --start --json',
  ],
  usesPool: true,
  details: `### Placement, resuming, speed

Each VM goes to the enabled, live host with the most free memory (\`host.compute_free_memory\`), counting the VMs
already placed by this run; it gets that host as \`affinity\` and, with \`--start\`, is started there
(\`VM.start_on\`). A failed start keeps the VM (halted); rerun to retry.
\`npm run bench:provision\` compares 1000 VMs made by provision with a sequential \`xe vm-install\` loop on one simulator.`,
  options: {
    template: { type: 'string', required: true, placeholder: 'NAME|UUID', description: 'Template to clone.' },
    count: {
      type: 'number',
      required: true,
      min: 1,
      placeholder: 'N',
      description: 'How many VMs the pattern names.',
    },
    name: {
      type: 'string',
      default: 'vm-{n}',
      placeholder: 'PATTERN',
      description: 'VM name pattern; {n} is the number, {n:3} pads it to 3 digits.',
    },
    first: { type: 'number', default: 1, min: 0, placeholder: 'N', description: 'Number of the first VM.' },
    concurrency: {
      type: 'number',
      default: 16,
      min: 1,
      placeholder: 'N',
      description: 'VMs in flight at once.',
    },
    start: { type: 'boolean', description: 'Start each VM on its chosen host (VM.start_on).' },
    dryRun: { type: 'boolean', description: 'Print the plan; change nothing.' },
    json: { type: 'boolean', description: 'Print the plan or the summary as JSON.' },
  },
  exitCodes: { 1: 'some VMs failed or conflict (listed); rerun to retry' },
  async run(ctx, o) {
    const client = ctx.client();
    const options = { template: o.template, count: o.count, pattern: o.name, first: o.first, start: o.start };
    const plan = await planProvision(client, options);
    if (o.dryRun) {
      ctx.io.stdout(
        o.json
          ? `${JSON.stringify({ plan: { ...plan, vms: plan.vms.map(({ hostRef: _h, ...v }) => v) } })}\n`
          : planText(plan),
      );
      return plan.vms.some((v) => v.action === 'conflict') ? 1 : 0;
    }
    const todo = plan.vms.filter((v) => v.action !== 'done' && v.action !== 'conflict').length;
    const bar = ctx.progress('provision', todo);
    let summary: ProvisionSummary;
    try {
      summary = await runProvision(
        client,
        plan,
        { ...options, concurrency: o.concurrency },
        {
          now: () => ctx.now(),
          onDone: () => {
            bar.tick();
          },
          signal: ctx.signal,
        },
      );
    } finally {
      bar.done();
    }
    ctx.io.stdout(o.json ? `${JSON.stringify(summary)}\n` : summaryText(summary));
    return summary.failed.length || summary.skipped ? 1 : 0;
  },
});
