/**
 * `top`: a live, xentop-like view of the pool from `rrd_updates` — hosts, then VMs sorted by CPU, memory, disk or
 * network — redrawn in place on a terminal (keys: c m d n a to sort, q to quit), or printed as plain tables for
 * pipes and logs.
 */
import { defineTool } from '../command.js';
import type { ToolContext } from '../context.js';
import { bytes, pct, table } from '../format.js';
import { readPoolView, type PoolView, type VmView } from '../pool-view.js';

/** Sort keys of the VM table. */
export const TOP_SORTS = ['cpu', 'mem', 'disk', 'net', 'name'] as const;
/** One of {@link TOP_SORTS}. */
export type TopSort = (typeof TOP_SORTS)[number];

const KEY_SORT: Readonly<Record<string, TopSort>> = { c: 'cpu', m: 'mem', d: 'disk', n: 'net', a: 'name' };

const rate = (n: number): string => (Number.isFinite(n) ? `${bytes(n)}/s` : '-');

/** Sorts VMs, biggest first (name: alphabetical). */
export function sortVms(vms: readonly VmView[], by: TopSort): VmView[] {
  const key: Record<TopSort, (v: VmView) => number> = {
    cpu: (v) => v.cpu * v.vcpus,
    mem: (v) => v.memory,
    disk: (v) => v.diskRead + v.diskWrite,
    net: (v) => v.netRx + v.netTx,
    name: () => 0,
  };
  const val = (v: VmView): number => {
    const k = key[by](v);
    return Number.isFinite(k) ? k : -1;
  };
  return [...vms].sort((a, b) =>
    by === 'name'
      ? a.name.localeCompare(b.name, undefined, { numeric: true })
      : val(b) - val(a) || a.name.localeCompare(b.name),
  );
}

/** The tables of one refresh. */
export function renderTop(view: PoolView, by: TopSort, maxVms: number): string {
  const hosts = table(view.hosts, [
    { title: 'HOST', value: (h) => h.name },
    { title: 'CPU', value: (h) => pct(h.cpu), right: true },
    { title: 'PCPUS', value: (h) => String(h.pcpus), right: true },
    { title: 'LOAD', value: (h) => (Number.isFinite(h.load) ? h.load.toFixed(2) : '-'), right: true },
    { title: 'MEM USED', value: (h) => bytes(h.memTotal - h.memFree), right: true },
    { title: 'MEM TOTAL', value: (h) => bytes(h.memTotal), right: true },
    { title: 'NET', value: (h) => rate(h.net), right: true },
    { title: 'VMS', value: (h) => String(view.vms.filter((v) => v.host === h.name).length), right: true },
  ]);
  const sorted = sortVms(view.vms, by);
  const shown = sorted.slice(0, Math.max(0, maxVms));
  const vms = table(shown, [
    { title: 'VM', value: (v) => v.name },
    { title: 'HOST', value: (v) => v.host },
    { title: 'CPU', value: (v) => pct(v.cpu), right: true },
    { title: 'VCPUS', value: (v) => String(v.vcpus), right: true },
    { title: 'MEM', value: (v) => bytes(v.memory), right: true },
    { title: 'DISK RD', value: (v) => rate(v.diskRead), right: true },
    { title: 'DISK WR', value: (v) => rate(v.diskWrite), right: true },
    { title: 'NET RX', value: (v) => rate(v.netRx), right: true },
    { title: 'NET TX', value: (v) => rate(v.netTx), right: true },
  ]);
  const more = sorted.length - shown.length;
  return `${hosts}\n${vms}${more > 0 ? `… ${more} more VMs\n` : ''}`;
}

async function* noKeys(): AsyncIterable<string> {
  // No terminal input: nothing ever arrives.
}

async function live(
  ctx: ToolContext,
  o: { interval: number; iterations: number; sort: TopSort; perHost: boolean },
): Promise<number> {
  // Mutated by the key loop while the refresh loop runs.
  const state = { sort: o.sort, quit: false };
  let wake: (() => void) | undefined;
  const keys = (ctx.keys ?? noKeys())[Symbol.asyncIterator]();
  const keyLoop = (async () => {
    for (;;) {
      const next = await keys.next();
      if (next.done) return;
      for (const k of next.value) {
        if (k === 'q' || k === '\u0003') state.quit = true;
        const s = KEY_SORT[k.toLowerCase()];
        if (s) state.sort = s;
      }
      wake?.();
      if (state.quit) return;
    }
  })();
  const client = ctx.client();
  const allow = ctx.target?.allowUnauthorized ?? false;
  ctx.io.stdout('\x1b[?25l'); // hide the cursor while redrawing
  try {
    for (let i = 0; (o.iterations === 0 || i < o.iterations) && !state.quit && !ctx.signal.aborted; i++) {
      const view = await readPoolView(client, {
        seconds: Math.max(10, o.interval * 2),
        reduce: 'latest',
        allowUnauthorized: allow,
        perHost: o.perHost,
      });
      const head = `xenlab top — ${view.hosts.length} hosts, ${view.vms.length} running VMs — ${new Date(view.window.end * 1000).toISOString().slice(11, 19)} UTC — sort: ${state.sort} (c m d n a; q quits)`;
      const body = renderTop(view, state.sort, Math.max(1, ctx.io.rows - view.hosts.length - 6));
      const lines = `${head}\n\n${body}`.split('\n').map((l) => l.slice(0, ctx.io.columns));
      ctx.io.stdout(`\x1b[H\x1b[2J${lines.slice(0, ctx.io.rows - 1).join('\n')}`);
      if (o.iterations !== 0 && i + 1 >= o.iterations) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, o.interval * 1000);
        function done(): void {
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        }
        wake = done;
        ctx.signal.addEventListener('abort', done);
        if (ctx.signal.aborted) done();
      });
    }
  } finally {
    ctx.io.stdout('\x1b[?25h\n');
    state.quit = true;
    void keys.return?.();
    void keyLoop;
  }
  return 0;
}

/** The `top` tool. */
export const topTool = defineTool({
  name: 'top',
  summary: 'live xentop-like view of hosts and VMs from rrd_updates',
  description:
    'Shows each host (CPU, load, memory, network, VMs) and the running VMs (CPU, memory, disk and network rates) from the newest rrd_updates sample, refreshed every --interval seconds. On a terminal it redraws in place: c, m, d, n, a sort by CPU, memory, disk, network, name; q quits. Piped (or with --plain) it prints plain tables, once unless --iterations says otherwise. On a real pool pass --per-host: xapi reports only the VMs resident on the host asked.',
  examples: [
    'xenlab-tools top',
    'xenlab-tools top --plain --sort disk --limit 10',
    'xenlab-tools top --plain --iterations 12 --interval 5 >> load.log',
  ],
  usesPool: true,
  options: {
    sort: { type: 'string', default: 'cpu', choices: TOP_SORTS, description: 'Sort VMs by.' },
    interval: {
      type: 'number',
      default: 5,
      min: 0.2,
      placeholder: 'SECONDS',
      description: 'Refresh period (xapi samples every 5 s).',
    },
    iterations: {
      type: 'number',
      default: 0,
      min: 0,
      placeholder: 'N',
      description: 'Refreshes before exiting; 0 = until q (1 in plain mode).',
    },
    plain: { type: 'boolean', description: 'Plain tables even on a terminal.' },
    limit: {
      type: 'number',
      min: 1,
      placeholder: 'N',
      description: 'At most N VMs (plain mode; a terminal shows what fits).',
    },
    perHost: { type: 'boolean', description: 'Read metrics from every host address (real pools).' },
  },
  async run(ctx, o) {
    if (ctx.io.stdoutIsTTY && !o.plain) return live(ctx, o);
    const client = ctx.client();
    const n = o.iterations === 0 ? 1 : o.iterations;
    for (let i = 0; i < n && !ctx.signal.aborted; i++) {
      if (i > 0) await ctx.sleep(o.interval * 1000);
      const view = await readPoolView(client, {
        seconds: Math.max(10, o.interval * 2),
        reduce: 'latest',
        allowUnauthorized: ctx.target?.allowUnauthorized ?? false,
        perHost: o.perHost,
      });
      ctx.io.stdout(
        `${i > 0 ? '\n' : ''}# ${new Date(view.window.end * 1000).toISOString()} sort=${o.sort}\n${renderTop(view, o.sort, o.limit ?? Infinity)}`,
      );
    }
    return 0;
  },
});
