/**
 * Reading performance data the way xapi serves it: `GET /rrd_updates?session_id=…&start=…&host=true&json=true`
 * (xenapi/NOTES.md §4; xapi-project doc/content/xen-api/topics/metrics.md, ocaml/libs/xapi-rrd/lib/rrd_updates.ml).
 * The reply is JSON on xapi ≥ 23.17 and the simulator, the `<xport>` XML elsewhere; both are parsed. Values arrive as
 * strings (`"0.0282"`, `"NaN"`); rows come newest first. Legend entries are `CF:kind:uuid:metric`.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { XapiClient } from '../xenapi/index.js';
import { ToolError, ToolErrorCode } from './errors.js';

/** Samples of every object, by `host:<uuid>` / `vm:<uuid>` then metric name; each series is oldest first. */
export interface MetricsWindow {
  /** Seconds between samples. */
  readonly step: number;
  /** Unix time of the newest sample. */
  readonly end: number;
  /** Number of samples. */
  readonly rows: number;
  readonly series: ReadonlyMap<string, ReadonlyMap<string, readonly number[]>>;
}

function getText(url: URL, allowUnauthorized: boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        rejectUnauthorized: !allowUnauthorized,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200)
            reject(
              new ToolError(
                ToolErrorCode.metrics,
                `${url.pathname} answered HTTP ${res.statusCode ?? 0}: ${text.slice(0, 200)}`,
              ),
            );
          else resolve(text);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => {
      reject(
        e instanceof ToolError
          ? e
          : new ToolError(ToolErrorCode.metrics, `cannot read ${url.pathname}: ${e.message}`),
      );
    });
    req.end();
  });
}

function parseNumber(s: string): number {
  const n = Number(s);
  return Number.isNaN(n) ? NaN : n;
}

/** Parses an `rrd_updates` reply (JSON or XML) into series. Exported for tests of the parser. */
export function parseRrdUpdates(text: string): MetricsWindow {
  let legend: string[];
  let step: number;
  let end: number;
  let data: { t: number; values: number[] }[];
  const trimmed = text.trimStart();
  try {
    if (trimmed.startsWith('{')) {
      const j = JSON.parse(trimmed) as {
        meta?: { step?: unknown; end?: unknown; legend?: unknown };
        data?: { t?: unknown; values?: unknown }[];
      };
      if (!j.meta || !Array.isArray(j.meta.legend) || !Array.isArray(j.data))
        throw new Error('no meta/legend/data');
      legend = j.meta.legend.map(String);
      step = Number(j.meta.step);
      end = Number(j.meta.end);
      data = j.data.map((r) => ({
        t: Number(r.t),
        values: (Array.isArray(r.values) ? r.values : []).map((v) => parseNumber(String(v))),
      }));
    } else {
      const meta = /<meta>([\s\S]*?)<\/meta>/.exec(trimmed)?.[1];
      if (meta === undefined) throw new Error('no <meta>');
      legend = [...meta.matchAll(/<entry>([^<]*)<\/entry>/g)].map((m) => m[1] ?? '');
      step = Number(/<step>(\d+)<\/step>/.exec(meta)?.[1]);
      end = Number(/<end>(\d+)<\/end>/.exec(meta)?.[1]);
      data = [...trimmed.matchAll(/<row>([\s\S]*?)<\/row>/g)].map((m) => ({
        t: Number(/<t>(\d+)<\/t>/.exec(m[1] ?? '')?.[1]),
        values: [...(m[1] ?? '').matchAll(/<v>([^<]*)<\/v>/g)].map((v) => parseNumber(v[1] ?? '')),
      }));
    }
  } catch (e) {
    throw new ToolError(
      ToolErrorCode.metrics,
      `rrd_updates reply is not JSON or <xport> XML: ${(e as Error).message}`,
    );
  }
  const series = new Map<string, Map<string, number[]>>();
  const oldestFirst = [...data].sort((a, b) => a.t - b.t);
  legend.forEach((entry, col) => {
    // CF:kind:uuid:metric — the metric itself may not contain ':' but be safe and join the rest.
    const [, kind, uuid, ...rest] = entry.split(':');
    if (!kind || !uuid || rest.length === 0) return;
    const key = `${kind}:${uuid}`;
    let m = series.get(key);
    if (!m) {
      m = new Map();
      series.set(key, m);
    }
    m.set(
      rest.join(':'),
      oldestFirst.map((r) => r.values[col] ?? NaN),
    );
  });
  return {
    step: Number.isFinite(step) ? step : 5,
    end: Number.isFinite(end) ? end : 0,
    rows: data.length,
    series,
  };
}

/** Merges windows read from several hosts (xapi reports only the VMs resident on the host asked). */
export function mergeWindows(windows: readonly MetricsWindow[]): MetricsWindow {
  const series = new Map<string, ReadonlyMap<string, readonly number[]>>();
  for (const w of windows) for (const [k, v] of w.series) if (!series.has(k)) series.set(k, v);
  return {
    step: windows[0]?.step ?? 5,
    end: Math.max(0, ...windows.map((w) => w.end)),
    rows: Math.max(0, ...windows.map((w) => w.rows)),
    series,
  };
}

/** Options of {@link readMetrics}. */
export interface ReadMetricsOptions {
  /** Seconds of history to read (the newest `seconds`). */
  readonly seconds: number;
  readonly allowUnauthorized: boolean;
  /** Extra base URLs to ask (pool members); the client's URL is always asked. */
  readonly memberUrls?: readonly string[];
}

/**
 * Reads the last `seconds` of host and VM metrics from the pool.
 * @example
 * const w = await readMetrics(client, { seconds: 300, allowUnauthorized: false });
 * w.series.get(`host:${uuid}`)?.get('cpu_avg');
 */
export async function readMetrics(client: XapiClient, options: ReadMetricsOptions): Promise<MetricsWindow> {
  const session = await client.login();
  const bases = [client.url.href, ...(options.memberUrls ?? [])];
  const windows = await Promise.all(
    bases.map(async (base) => {
      const url = new URL('/rrd_updates', base);
      url.searchParams.set('session_id', session);
      // A negative start is relative to the last update (rrdd_http_handler.ml), which avoids clock skew.
      url.searchParams.set('start', String(-Math.max(1, Math.round(options.seconds))));
      url.searchParams.set('host', 'true');
      url.searchParams.set('json', 'true');
      url.searchParams.set('cf', 'AVERAGE');
      return parseRrdUpdates(await getText(url, options.allowUnauthorized, 30_000));
    }),
  );
  return mergeWindows(windows);
}

/** Mean of the finite values of a series (NaN when none). */
export function mean(xs: readonly number[] | undefined): number {
  const ok = (xs ?? []).filter(Number.isFinite);
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
}

/** The newest finite value of a series (NaN when none). */
export function latest(xs: readonly number[] | undefined): number {
  const s = xs ?? [];
  for (let i = s.length - 1; i >= 0; i--) {
    const v = s[i];
    if (v !== undefined && Number.isFinite(v)) return v;
  }
  return NaN;
}

/** Sums, per sample, every series of an object whose metric name matches (NaN where none has a value). */
export function sumMatching(
  metrics: ReadonlyMap<string, readonly number[]> | undefined,
  re: RegExp,
): number[] {
  const out: number[] = [];
  for (const [name, xs] of metrics ?? []) {
    if (!re.test(name)) continue;
    xs.forEach((v, i) => {
      const prev = out[i];
      if (Number.isFinite(v)) out[i] = (prev !== undefined && Number.isFinite(prev) ? prev : 0) + v;
      else out[i] = prev ?? NaN;
    });
  }
  return Array.from({ length: out.length }, (_, i) => out[i] ?? NaN);
}

/**
 * One metrics window of the whole pool: from the coordinator, and with `perHost` from every other host too (xapi
 * serves a VM's metrics only from the host it runs on).
 */
export async function readPoolMetrics(
  client: XapiClient,
  hosts: Readonly<Record<string, { readonly address: string }>>,
  o: { readonly seconds: number; readonly allowUnauthorized: boolean; readonly perHost: boolean },
): Promise<MetricsWindow> {
  const memberUrls = o.perHost
    ? Object.values(hosts)
        .map((h) => `${client.url.protocol}//${h.address}/`)
        .filter((u) => new URL(u).host !== client.url.host)
    : [];
  return readMetrics(client, { seconds: o.seconds, allowUnauthorized: o.allowUnauthorized, memberUrls });
}
