/**
 * Performance data as xapi serves it (toolkit/src/xenapi/NOTES.md §4; ocaml/xcp-rrdd rrdd_http_handler.ml, xapi-rrd
 * rrd_updates.ml): `/rrd_updates` (XML `<xport>` or JSON), `/host_rrd` and `/vm_rrd` (rrdtool-style dumps). Core
 * samples the behaviour engineer's metrics model every 5 s (the RRD step) into a ring buffer of 10 minutes; a flat
 * idle model stands in when no behaviour provides one.
 *
 * The history starts full: at the first read, the whole window is seeded from the pool as it is then, as if it had
 * been like that all along (see {@link Metrics.seed}) — a lab whose setup just started VMs and whose faults just
 * made one burn its CPUs shows a busy past, not ten minutes of idle bring-up.
 *
 * Known simplification: every host of the simulated pool shares one URL, so `/rrd_updates` reports the VMs of the
 * whole pool rather than only those resident on the host that was asked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimContext, SimDataSources, SimMetrics } from './contract.js';
import { formatG } from './codec.js';
import type { Engine } from './engine.js';
import { authorize } from './server.js';
import type { ExtraRoute } from './server.js';

/** Seconds between samples. */
export const RRD_STEP = 5;
const ROWS = 120;

interface Row {
  readonly t: number;
  readonly hosts: ReadonlyMap<string, SimDataSources>;
  readonly vms: ReadonlyMap<string, SimDataSources>;
}

/** A flat, idle model: what a pool with nothing to do reports. */
export const IDLE_METRICS: SimMetrics = {
  host(ctx, host) {
    const rec = ctx.store.get('host', host);
    const cpus = Array.isArray(rec.host_CPUs) ? rec.host_CPUs.length : 1;
    const running = Array.isArray(rec.resident_VMs) ? rec.resident_VMs.length : 0;
    const metrics = ctx.store.find('host_metrics', String(rec.metrics));
    const total = Number(metrics?.memory_total ?? 0);
    const free = Number(metrics?.memory_free ?? 0);
    const out: Record<string, number> = {
      cpu_avg: 0.01 + 0.002 * running,
      loadavg: 0.05 * running,
      memory_total_kib: Math.round(total / 1024),
      memory_free_kib: Math.round(free / 1024),
    };
    for (let i = 0; i < cpus; i++) out[`cpu${i}`] = out.cpu_avg ?? 0;
    return out;
  },
  vm(ctx, vm) {
    const rec = ctx.store.get('VM', vm);
    const n = Number(rec.VCPUs_at_startup ?? 1);
    const out: Record<string, number> = {
      memory: Number(rec.memory_dynamic_max ?? 0),
      memory_target: Number(rec.memory_target ?? rec.memory_dynamic_max ?? 0),
    };
    for (let i = 0; i < n; i++) out[`cpu${i}`] = 0.01;
    return out;
  },
};

/** Samples the metrics model and serves the RRD endpoints. */
export class Metrics {
  readonly #engine: Engine;
  readonly #model: SimMetrics;
  readonly #context: () => SimContext;
  readonly #rows: Row[] = [];
  readonly #timer: NodeJS.Timeout;
  /** The history has been served to someone: from then on it is only ever appended to. */
  #seen = false;

  constructor(engine: Engine, model: SimMetrics | undefined, context: () => SimContext) {
    this.#engine = engine;
    this.#model = model ?? IDLE_METRICS;
    this.#context = context;
    this.sample();
    this.#timer = setInterval(() => {
      this.sample();
    }, RRD_STEP * 1000);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Takes one sample now (aligned to the step); replaces a sample of the same step. */
  sample(): void {
    const now = new Date();
    const t = Math.floor(now.getTime() / 1000 / RRD_STEP) * RRD_STEP;
    const row = this.#rowAt(t, now);
    const last = this.#rows[this.#rows.length - 1];
    if (last?.t === t) this.#rows.pop();
    this.#rows.push(row);
    if (this.#rows.length > ROWS) this.#rows.shift();
  }

  /**
   * Seeds the whole window (10 minutes) from the pool as it is now, as if it had been like this all along, unless
   * someone has already read the history. Bring-up (a scenario, a lab's setup starting VMs, faults such as a CPU
   * hog) takes seconds and nobody watches it: without this, `bottleneck --window 60` averages an idle past and
   * reports no saturation for the first minute while `top` shows 99 %. History someone has seen is never
   * rewritten (a hog injected later starts when it is injected). Called on the first read; true if it seeded.
   */
  seed(): boolean {
    if (this.#seen) return false;
    this.#seen = true;
    const now = Date.now();
    const last = Math.floor(now / 1000 / RRD_STEP) * RRD_STEP;
    const rows: Row[] = [];
    for (let i = ROWS - 1; i >= 1; i--) {
      const t = last - i * RRD_STEP;
      rows.push(this.#rowAt(t, new Date(t * 1000)));
    }
    rows.push(this.#rowAt(last, new Date(now)));
    this.#rows.splice(0, this.#rows.length, ...rows);
    return true;
  }

  /** One row: the model's data sources of every host and running VM at `now` (the pool as it is). */
  #rowAt(t: number, now: Date): Row {
    const ctx = this.#context();
    const store = this.#engine.store;
    const hosts = new Map<string, SimDataSources>();
    const vms = new Map<string, SimDataSources>();
    for (const [ref, h] of store.all('host')) {
      try {
        hosts.set(String(h.uuid), this.#model.host(ctx, ref, now));
      } catch {
        // A model error for one object must not stop sampling of the others.
      }
    }
    for (const [ref, vm] of store.all('VM')) {
      if (vm.power_state !== 'Running' || vm.is_a_template === true) continue;
      try {
        vms.set(String(vm.uuid), this.#model.vm(ctx, ref, now));
      } catch {
        // as above
      }
    }
    return { t, hosts, vms };
  }

  /** The `/rrd_updates`, `/host_rrd`, `/vm_rrd` routes. */
  route(): ExtraRoute {
    return (req, res, url) => {
      const p = url.pathname;
      if (req.method !== 'GET' || (p !== '/rrd_updates' && p !== '/host_rrd' && p !== '/vm_rrd'))
        return false;
      if (!authorize(this.#engine, req, res, url)) return true;
      this.seed();
      if (p === '/rrd_updates') this.#updates(req, res, url);
      else this.#dump(res, url, p === '/host_rrd');
      return true;
    };
  }

  #updates(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    const lastT = this.#rows[this.#rows.length - 1]?.t ?? 0;
    let start = Number(q.get('start') ?? '0');
    if (!Number.isFinite(start)) start = 0;
    if (start < 0) start = lastT + start;
    const cf = (q.get('cf') ?? 'AVERAGE').toUpperCase();
    const withHost = q.get('host') === 'true';
    const vmFilter = new Set(q.getAll('vm_uuid'));
    const rows = this.#rows.filter((r) => r.t > start).reverse(); // newest first
    const columns: { kind: 'host' | 'vm'; uuid: string; name: string }[] = [];
    const seen = new Set<string>();
    const addColumns = (kind: 'host' | 'vm', uuid: string, ds: SimDataSources): void => {
      for (const name of Object.keys(ds)) {
        const key = `${kind}:${uuid}:${name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        columns.push({ kind, uuid, name });
      }
    };
    for (const r of [...rows].reverse()) {
      if (withHost) for (const [uuid, ds] of r.hosts) addColumns('host', uuid, ds);
      for (const [uuid, ds] of r.vms)
        if (vmFilter.size === 0 || vmFilter.has(uuid)) addColumns('vm', uuid, ds);
    }
    const value = (r: Row, c: (typeof columns)[number]): string => {
      const v = (c.kind === 'host' ? r.hosts : r.vms).get(c.uuid)?.[c.name];
      return v === undefined ? 'NaN' : formatValue(v);
    };
    const legend = columns.map((c) => `${cf}:${c.kind}:${c.uuid}:${c.name}`);
    const end = rows[0]?.t ?? lastT;
    const first = rows[rows.length - 1]?.t ?? start;
    const json = q.get('json') === 'true' || (req.headers.accept ?? '').includes('application/json');
    if (json) {
      const body = JSON.stringify({
        meta: { start: first, step: RRD_STEP, end, rows: rows.length, columns: columns.length, legend },
        data: rows.map((r) => ({ t: r.t, values: columns.map((c) => value(r, c)) })),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const out: string[] = [
      `<?xml version="1.0" encoding="UTF-8"?><xport><meta><start>${first}</start><step>${RRD_STEP}</step><end>${end}</end>`,
      `<rows>${rows.length}</rows><columns>${columns.length}</columns><legend>`,
      ...legend.map((l) => `<entry>${l}</entry>`),
      '</legend></meta><data>',
    ];
    for (const r of rows)
      out.push(`<row><t>${r.t}</t>`, ...columns.map((c) => `<v>${value(r, c)}</v>`), '</row>');
    out.push('</data></xport>');
    const body = out.join('');
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  #dump(res: ServerResponse, url: URL, isHost: boolean): void {
    const store = this.#engine.store;
    let uuid: string;
    if (isHost) {
      const master = this.#engine.master();
      const u = store.find('host', master)?.uuid;
      uuid = typeof u === 'string' ? u : '';
    } else uuid = url.searchParams.get('uuid') ?? '';
    const pick = (r: Row): SimDataSources | undefined => (isHost ? r.hosts : r.vms).get(uuid);
    const rows = this.#rows.filter((r) => pick(r));
    if (rows.length === 0) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`no RRD for ${isHost ? 'host' : 'VM'} ${uuid}\n`);
      return;
    }
    const last = rows[rows.length - 1];
    if (!last) return;
    const names = Object.keys(pick(last) ?? {});
    const out: string[] = [
      `<?xml version="1.0" encoding="UTF-8"?><rrd><version>0003</version><step>${RRD_STEP}</step><lastupdate>${last.t}</lastupdate>`,
    ];
    for (const n of names) {
      const v = pick(last)?.[n] ?? 0;
      out.push(
        `<ds><name>${n}</name><type>GAUGE</type><minimal_heartbeat>300.0000</minimal_heartbeat><min>0.0</min><max>Infinity</max>`,
        `<last_ds>${formatValue(v)}</last_ds><value>${formatValue(v)}</value><unknown_sec>0</unknown_sec></ds>`,
      );
    }
    out.push('<rra><cf>AVERAGE</cf><pdp_per_row>1</pdp_per_row><params><xff>0.5000</xff></params><cdp_prep>');
    for (const _n of names)
      out.push(
        '<ds><primary_value>0.0</primary_value><secondary_value>0.0</secondary_value><value>0.0</value><unknown_datapoints>0</unknown_datapoints></ds>',
      );
    out.push('</cdp_prep><database>');
    for (const r of rows)
      out.push('<row>', ...names.map((n) => `<v>${formatValue(pick(r)?.[n] ?? NaN)}</v>`), '</row>');
    out.push('</database></rra></rrd>');
    const body = out.join('');
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** Values as xapi-rrd prints them (`%0.15g`, `NaN`, `Infinity`). */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  const s = formatG(v, 15);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}
