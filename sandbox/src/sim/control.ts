/**
 * The out-of-band control API, never part of the XenAPI: `/_xenlab/…` on the simulator's port, guarded by its own
 * bearer token (compared in constant time). Instructors, graders and lab setup use it to snapshot, restore and reset
 * a learner's pool and to inject faults through the behaviour modules.
 *
 * Routes (JSON in, JSON out):
 * - `GET  /_xenlab/health` → `{ ok, generation, cpuMs, rssMiB }` (cpu and rss of the whole process)
 * - `GET  /_xenlab/state` → the whole state (a store dump)
 * - `POST /_xenlab/snapshot` `{ name? }` → keeps a named in-memory snapshot (default "default")
 * - `POST /_xenlab/restore` `{ name? }` or `{ state }` → restores it (clients see the changes as events)
 * - `POST /_xenlab/reset` → rebuilds the scenario from scratch
 * - `POST /_xenlab/fault/partition` `{ groups: [["xcp-ng-01"], ["xcp-ng-02", "xcp-ng-03"]] }` (hosts by name_label
 *   or uuid; hosts in no group form one more group) → `{ ok, groups }` (refs): the network splits, every host still
 *   sees the storage; with HA the best partition survives and the others fence (behaviour/ha-failover.ts).
 *   `POST /_xenlab/fault/heal` `{}` → `{ ok }`: the network is whole again.
 * - `POST /_xenlab/fault/<name>` `{ uuid | name_label, kind?, level? }` where name is one of host-fail, host-recover,
 *   sr-fail, sr-detach, sr-recover, pif-down, pif-up, vm-hog (`kind` cpu|io, default cpu; `level` 0..1, default 1:
 *   the same as a steady workload of that level)
 * - `POST /_xenlab/workload` `{ uuid | name_label, clear?, cpu?, memory?, io?, net?, pattern?, base?, period?, on?,
 *   every?, phase? }` → `{ ok, ref, workload }`: what the VM's guest asks of each resource, which its metrics follow
 *   (behaviour/workload.ts; grammar in workload-spec.ts). Each resource is a level 0..1 (the peak), an object
 *   `{ peak | level, pattern?, base?, period?, on?, every?, phase? }`, or null to remove it; resources left out keep
 *   their demand, `clear: true` drops them all first. Top-level pattern/base/period/on/every/phase are defaults for
 *   the resources given. Levels: cpu = fraction of each vCPU, memory = share of the guest's memory in use, io = disk
 *   (1 saturates it), net = network (1 saturates a 1 GbE link). Patterns: `steady` (default: always the peak),
 *   `diurnal` (base at time 0, peak half a `period` later, a sinusoid; period default 86400 s), `bursts` (peak for
 *   the first `on` s of every `every` s, base between; defaults 60 and 300). Time 0 is now, shifted by `phase` s.
 *   Example: `{ "name_label": "web-1", "cpu": 0.9, "pattern": "diurnal", "base": 0.1, "period": 600 }`.
 * - `GET  /_xenlab/workload` → `{ workloads: [{ uuid, name_label, cpu?, memory?, io?, net?, now }] }` (every VM with
 *   a demand; `now` holds each resource's level at this instant, where RRD samples average over their 5-s step).
 *   Workloads live in the simulator's memory like hogs (a restart forgets them); bad fields answer 400.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { XapiFailure } from './contract.js';
import type { SimContext, SimFaults } from './contract.js';
import { readBody } from './server.js';
import type { ExtraRoute } from './server.js';
import type { StoreDump } from './store.js';
import { parseWorkloadBody, workloadJson, WorkloadRequestError } from './workload-spec.js';

/** Control API error codes (stable strings). */
export const CONTROL_ERRORS = {
  unauthorized: 'SIM_ERR_CONTROL_UNAUTHORIZED',
  notFound: 'SIM_ERR_CONTROL_NOT_FOUND',
  badRequest: 'SIM_ERR_CONTROL_BAD_REQUEST',
  notImplemented: 'SIM_ERR_FAULT_NOT_IMPLEMENTED',
  noTarget: 'SIM_ERR_FAULT_TARGET_NOT_FOUND',
} as const;

/** What the control API needs from the simulator. */
export interface ControlHost {
  readonly token: string;
  generation(): number;
  dump(): StoreDump;
  restore(dump: StoreDump): void;
  reset(): void | Promise<void>;
  faults(): SimFaults;
  context(): SimContext;
  /** Finds an object by uuid or name_label; undefined when none. */
  find(cls: string, key: { uuid?: string; name_label?: string }): string | undefined;
}

const FAULTS: Readonly<Record<string, readonly [cls: string, fn: keyof SimFaults]>> = {
  'host-fail': ['host', 'failHost'],
  'host-recover': ['host', 'recoverHost'],
  'sr-fail': ['SR', 'failSr'],
  'sr-detach': ['SR', 'detachSr'],
  'sr-recover': ['SR', 'recoverSr'],
  'pif-down': ['PIF', 'pifLinkDown'],
  'pif-up': ['PIF', 'pifLinkUp'],
  'vm-hog': ['VM', 'vmHog'],
};

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function authorised(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization ?? '';
  if (!h.startsWith('Bearer ')) return false;
  const given = Buffer.from(h.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The control API as an extra route of the API server. */
export function controlRoute(host: ControlHost, prefix = '/_xenlab/'): ExtraRoute {
  const snapshots = new Map<string, StoreDump>();
  return async (req, res, url) => {
    if (!url.pathname.startsWith(prefix)) return false;
    if (!authorised(req, host.token)) {
      send(res, 401, {
        error: CONTROL_ERRORS.unauthorized,
        message: 'send Authorization: Bearer <control token>',
      });
      return true;
    }
    const route = url.pathname.slice(prefix.length);
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      const text = await readBody(req, res, 64 * 1024 * 1024);
      if (text === undefined) return true;
      try {
        const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
          throw new Error('expected a JSON object');
        body = parsed as Record<string, unknown>;
      } catch (e) {
        send(res, 400, { error: CONTROL_ERRORS.badRequest, message: (e as Error).message });
        return true;
      }
    }
    const name = typeof body.name === 'string' ? body.name : 'default';
    if (req.method === 'GET' && route === 'health') {
      // Process figures (shared by every simulator in the process): the benchmark reads server CPU time here.
      const cpu = process.cpuUsage();
      send(res, 200, {
        ok: true,
        generation: host.generation(),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        rssMiB: Math.round(process.memoryUsage().rss / 1048576),
      });
    } else if (req.method === 'GET' && route === 'state') send(res, 200, host.dump());
    else if (req.method === 'POST' && route === 'snapshot') {
      snapshots.set(name, host.dump());
      send(res, 200, { ok: true, name });
    } else if (req.method === 'POST' && route === 'restore') {
      const dump =
        body.state && typeof body.state === 'object' ? (body.state as StoreDump) : snapshots.get(name);
      if (dump?.version !== 1)
        send(res, 404, { error: CONTROL_ERRORS.notFound, message: `no snapshot named ${name}` });
      else {
        host.restore(dump);
        send(res, 200, { ok: true });
      }
    } else if (req.method === 'POST' && route === 'reset') {
      await host.reset();
      send(res, 200, { ok: true });
    } else if (req.method === 'POST' && route.startsWith('fault/')) {
      await fault(host, route.slice(6), body, res);
    } else if ((req.method === 'POST' || req.method === 'GET') && route === 'workload') {
      workload(host, req.method === 'POST' ? body : undefined, res);
    } else
      send(res, 404, {
        error: CONTROL_ERRORS.notFound,
        message: `no control route ${req.method ?? ''} ${url.pathname}`,
      });
    return true;
  };
}

async function fault(
  host: ControlHost,
  kind: string,
  body: Record<string, unknown>,
  res: ServerResponse,
): Promise<void> {
  if (kind === 'partition' || kind === 'heal') {
    await networkFault(host, kind, body, res);
    return;
  }
  const spec = FAULTS[kind];
  if (!spec) {
    send(res, 404, {
      error: CONTROL_ERRORS.notFound,
      message: `unknown fault ${kind}; known: ${[...Object.keys(FAULTS), 'partition', 'heal'].join(', ')}`,
    });
    return;
  }
  const [cls, fnName] = spec;
  const faults = host.faults();
  if (!faults[fnName]) {
    send(res, 501, {
      error: CONTROL_ERRORS.notImplemented,
      message: `${kind} is not implemented by the behaviour modules`,
    });
    return;
  }
  const key: { uuid?: string; name_label?: string } = {};
  if (typeof body.uuid === 'string') key.uuid = body.uuid;
  if (typeof body.name_label === 'string') key.name_label = body.name_label;
  const ref = host.find(cls, key);
  if (!ref) {
    send(res, 404, { error: CONTROL_ERRORS.noTarget, message: `no ${cls} with ${JSON.stringify(key)}` });
    return;
  }
  try {
    if (fnName === 'vmHog') {
      const hogKind = body.kind === 'io' ? 'io' : 'cpu';
      const level = typeof body.level === 'number' ? Math.max(0, Math.min(1, body.level)) : 1;
      await host.faults().vmHog?.(host.context(), ref, hogKind, level);
    } else await callFault(faults, fnName, host.context(), ref);
    send(res, 200, { ok: true, ref });
  } catch (e) {
    if (e instanceof XapiFailure) send(res, 409, { error: e.code, params: e.params });
    else throw e;
  }
}

/** `GET|POST /_xenlab/workload` (see the header): a body to change one VM's workload, none to list them all. */
function workload(host: ControlHost, body: Record<string, unknown> | undefined, res: ServerResponse): void {
  const faults = host.faults();
  if (!faults.vmWorkload || !faults.workloads) {
    send(res, 501, {
      error: CONTROL_ERRORS.notImplemented,
      message: 'workloads are not implemented by the behaviour modules',
    });
    return;
  }
  const ctx = host.context();
  if (body === undefined) {
    send(res, 200, { workloads: faults.workloads(ctx).map(workloadJson) });
    return;
  }
  let patch;
  try {
    patch = parseWorkloadBody(body, ctx.clock.now().getTime());
  } catch (e) {
    if (!(e instanceof WorkloadRequestError)) throw e;
    send(res, 400, { error: CONTROL_ERRORS.badRequest, message: e.message });
    return;
  }
  const key: { uuid?: string; name_label?: string } = {};
  if (typeof body.uuid === 'string') key.uuid = body.uuid;
  if (typeof body.name_label === 'string') key.name_label = body.name_label;
  const ref = host.find('VM', key);
  if (!ref) {
    send(res, 404, { error: CONTROL_ERRORS.noTarget, message: `no VM with ${JSON.stringify(key)}` });
    return;
  }
  send(res, 200, { ok: true, ref, workload: workloadJson(faults.vmWorkload(ctx, ref, patch)) });
}

/** Faults of the network between hosts rather than of one object (behaviour/ha-failover.ts). */
interface NetworkFaults {
  /** The network splits into groups of hosts (refs) that see each other; hosts in no group form one more. */
  readonly partitionHosts?: (ctx: SimContext, groups: readonly (readonly string[])[]) => void | Promise<void>;
  /** The network is whole again. */
  readonly healPartition?: (ctx: SimContext) => void | Promise<void>;
}

/**
 * `POST /_xenlab/fault/partition` `{ groups: [[host, …], …] }` (hosts by name_label or uuid) and
 * `POST /_xenlab/fault/heal` `{}`.
 */
async function networkFault(
  host: ControlHost,
  kind: 'partition' | 'heal',
  body: Record<string, unknown>,
  res: ServerResponse,
): Promise<void> {
  // The behaviour modules' faults object carries these beside SimFaults' own (behaviour/ha.ts).
  const faults = host.faults() as SimFaults & NetworkFaults;
  if ((kind === 'partition' ? faults.partitionHosts : faults.healPartition) === undefined) {
    send(res, 501, {
      error: CONTROL_ERRORS.notImplemented,
      message: `${kind} is not implemented by the behaviour modules`,
    });
    return;
  }
  const groups: string[][] = [];
  if (kind === 'partition') {
    const given = body.groups;
    if (
      !Array.isArray(given) ||
      given.length === 0 ||
      !given.every((g) => Array.isArray(g) && g.length > 0 && g.every((h) => typeof h === 'string'))
    ) {
      send(res, 400, {
        error: CONTROL_ERRORS.badRequest,
        message:
          'groups must be a list of lists of hosts (name_label or uuid), e.g. [["xcp-ng-01"], ["xcp-ng-02"]]',
      });
      return;
    }
    for (const g of given as string[][]) {
      const refs: string[] = [];
      for (const name of g) {
        const ref = host.find('host', { uuid: name }) ?? host.find('host', { name_label: name });
        if (!ref) {
          send(res, 404, {
            error: CONTROL_ERRORS.noTarget,
            message: `no host with name_label or uuid ${name}`,
          });
          return;
        }
        refs.push(ref);
      }
      groups.push(refs);
    }
  }
  try {
    if (kind === 'partition') await faults.partitionHosts?.(host.context(), groups);
    else await faults.healPartition?.(host.context());
    send(res, 200, kind === 'partition' ? { ok: true, groups } : { ok: true });
  } catch (e) {
    if (e instanceof XapiFailure) send(res, 409, { error: e.code, params: e.params });
    else throw e;
  }
}

async function callFault(
  faults: SimFaults,
  name: Exclude<keyof SimFaults, 'vmHog'>,
  ctx: SimContext,
  ref: string,
): Promise<void> {
  switch (name) {
    case 'failHost':
      return faults.failHost?.(ctx, ref);
    case 'recoverHost':
      return faults.recoverHost?.(ctx, ref);
    case 'failSr':
      return faults.failSr?.(ctx, ref);
    case 'detachSr':
      return faults.detachSr?.(ctx, ref);
    case 'recoverSr':
      return faults.recoverSr?.(ctx, ref);
    case 'pifLinkDown':
      return faults.pifLinkDown?.(ctx, ref);
    case 'pifLinkUp':
      return faults.pifLinkUp?.(ctx, ref);
  }
}

/** The answer of a control-API call: HTTP status and the JSON body. */
export interface ControlAnswer {
  readonly status: number;
  readonly body: { readonly error?: string; readonly message?: string } & Record<string, unknown>;
}

/**
 * Calls a simulator's control API over HTTP (the simulator may run in another thread or process).
 * @example
 * await callControl(sim, 'fault/vm-hog', { name_label: 'burner', kind: 'cpu', level: 1 });
 */
export async function callControl(
  sim: { readonly controlUrl: string; readonly controlToken: string },
  route: string,
  body?: Record<string, unknown>,
): Promise<ControlAnswer> {
  const res = await fetch(new URL(route, sim.controlUrl), {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${sim.controlToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: ControlAnswer['body'];
  try {
    parsed = JSON.parse(text) as ControlAnswer['body'];
  } catch {
    parsed = { error: 'SIM_ERR_CONTROL_BAD_ANSWER', message: text.slice(0, 200) };
  }
  return { status: res.status, body: parsed };
}
