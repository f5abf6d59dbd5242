/**
 * Faults as lesson steps (issue #14): the fault player of one lab environment plays the lab's `environment.faults`
 * in the learner's simulated pool when their trigger says —
 *
 * - `setup` (default): after setup, as the lab's starting state (never listed as an event: finding it may be the
 *   lesson);
 * - `{ after: N }`: once, N seconds after the environment first came up (the clock is kept in the gateway's
 *   database, so a gateway restart neither restarts the countdown nor fires it twice; a fault due while the
 *   gateway was down fires as it comes back);
 * - `{ task: id }`: once, when that task first passes (the grader's view says so; a task passed before a restart
 *   whose fault had not fired fires it on bring-up);
 * - `{ button: label }`: when the learner presses that button in the task panel (`lab.fault`). A button fires once,
 *   except kinds that only put things back (`host-power-on`, `nic-up`, `sr-back`, `heal`), which may be pressed
 *   again; presses are limited to one every few seconds per environment.
 *
 * Every fault fired after setup is recorded (which, by what, when: {@link FaultStore}) and shown on the page. What
 * the simulator keeps only in memory — a VM's load, a network partition — is played again, in firing order, on
 * every bring-up and when the simulator's worker comes back; the rest (a host powered off, a NIC without link, a
 * lost SR) is in the saved pool.
 *
 * Kinds map to the simulator's control API: `vm-load` → `fault/vm-hog`, `host-power-off` → `host-fail`,
 * `host-power-on` → `host-recover`, `pool-power-off` → `host-fail` for every host of the pool,
 * `nic-down`/`nic-up` → `pif-down`/`pif-up` (the PIF found by host and device), `sr-lost` → `sr-fail`, `sr-back` →
 * `sr-recover`, `partition` → `partition { groups }`, `heal` → `heal`. In a multi-pool lab a fault plays in the pool
 * it names (`pool: dc-west`), else in the first, the one `xe` reaches ({@link poolFaultApplier}).
 * @module
 */
import type { XapiClient } from '@xenlab/toolkit/xenapi';
import { XenlabError, type ErrorCode } from '../errors/index.js';
import type { Lab } from '../labs/loader.js';
import type { Fault, FaultKind } from '../labs/schema.js';
import type { MachineFault } from '../drivers/types.js';
import { moduleLogger } from '../log/index.js';
import type { FaultButtonView, FaultsView, LabView } from '../protocol/lab.js';
import { callControl } from '../sim/index.js';
import type { ControlAnswer } from '../sim/index.js';
import type { FaultStore, FiredBy } from './faults-store.js';

const log = moduleLogger('lab-runtime');

/** A fault that could not be played or fired; `code` is stable (the lab channel sends it to the page). */
export class FaultError extends XenlabError {
  constructor(code: ErrorCode, message: string) {
    super(code, message, { codeInMessage: false });
  }
}

/** Kinds that only put things back: their buttons may be pressed again, and need no confirmation. */
export const RESTORING_KINDS: ReadonlySet<FaultKind> = new Set([
  'host-power-on',
  'nic-up',
  'sr-back',
  'heal',
  'machine-power-on',
  'link-up',
  'disk-ok',
]);

/** Kinds whose effect the simulator keeps in memory only: played again on bring-up and worker restarts. */
export const MEMORY_KINDS: ReadonlySet<FaultKind> = new Set(['vm-load', 'partition', 'heal']);

/** Default shortest time between two fault-button presses of one environment. */
export const PRESS_INTERVAL_MS = 3000;

/** How a fault is known in the record: its id, or its place in `environment.faults`. */
export const faultKey = (f: Fault, index: number): string => f.id ?? `#${String(index)}`;

/** What a fault does, in words, for the page's Events list ("xcp-ng-02 lost power"; "dc-west: …" in a named pool). */
export function describeFault(f: Fault): string {
  const what = describeKind(f);
  return f.pool === undefined ? what : `${f.pool}: ${what}`;
}

function describeKind(f: Fault): string {
  switch (f.kind) {
    case 'vm-load': {
      const what = f.resource === 'cpu' ? 'CPU' : 'disks';
      return f.level === 0
        ? `${f.target} stopped loading its ${what}`
        : `${f.target} started loading its ${what} (${String(Math.round(f.level * 100))} %)`;
    }
    case 'host-power-off':
      return `${f.target} lost power`;
    case 'host-power-on':
      return `${f.target} was powered on`;
    case 'pool-power-off':
      return 'every host of the pool lost power';
    case 'nic-down': {
      const [host, device] = splitNic(f.target);
      return `${device} on ${host} lost its link`;
    }
    case 'nic-up': {
      const [host, device] = splitNic(f.target);
      return `${device} on ${host} has its link back`;
    }
    case 'sr-lost':
      return `SR "${f.target}" failed`;
    case 'sr-back':
      return `SR "${f.target}" works again`;
    case 'partition':
      return `the network split: ${f.target.map((g) => g.join(', ')).join(' | ')}`;
    case 'heal':
      return 'the network is whole again';
    case 'machine-power-off':
      return `${f.target} lost power`;
    case 'machine-power-on':
      return `${f.target} was powered on`;
    case 'link-down': {
      const [node, nic] = splitNic(f.target);
      return `${nic} on ${node} lost its link`;
    }
    case 'link-up': {
      const [node, nic] = splitNic(f.target);
      return `${nic} on ${node} has its link back`;
    }
    case 'disk-errors': {
      const [node, disk] = splitNic(f.target);
      return `disk ${disk} of ${node} started failing (I/O errors)`;
    }
    case 'disk-ok': {
      const [node, disk] = splitNic(f.target);
      return `disk ${disk} of ${node} works again`;
    }
  }
}

const splitNic = (target: string): [string, string] => {
  const i = target.indexOf('/');
  return [target.slice(0, i), target.slice(i + 1)];
};

/** Plays one fault in the learner's pool; rejects with a {@link FaultError}. */
export type FaultApplier = (f: Fault) => Promise<void>;

const CONTROL_ROUTE: Record<
  Exclude<FaultKind, 'nic-down' | 'nic-up' | 'pool-power-off' | MachineFault['kind']>,
  string
> = {
  'vm-load': 'fault/vm-hog',
  'host-power-off': 'fault/host-fail',
  'host-power-on': 'fault/host-recover',
  'sr-lost': 'fault/sr-fail',
  'sr-back': 'fault/sr-recover',
  partition: 'fault/partition',
  heal: 'fault/heal',
};

/**
 * Plays faults through a simulator's control API (it runs in a worker: over HTTP). NICs are found by host name
 * and device through the XenAPI (`xapi`: a client logged in to the same pool).
 * @example
 * const apply = simFaultApplier(env.sim, client);
 * await apply({ kind: 'host-power-off', target: 'xcp-ng-02', trigger: 'setup' });
 */
export function simFaultApplier(
  sim: { readonly controlUrl: string; readonly controlToken: string },
  xapi: XapiClient,
): FaultApplier {
  const pifOf = async (target: string): Promise<string> => {
    const [host, device] = splitNic(target);
    const hosts = await xapi.call('host.get_by_name_label', host);
    const h = hosts[0];
    if (h === undefined)
      throw new FaultError('LAB_ERR_FAULT', `there is no host "${host}" in the pool (NIC "${target}")`);
    const onHost = Object.values(await xapi.call('PIF.get_all_records')).filter(
      (p) => p.host === h && p.device === device,
    );
    // A VLAN on eth1 is a PIF with device eth1 too: the NIC is the physical one (or the untagged bond master).
    const pif = onHost.find((p) => p.physical) ?? onHost.find((p) => p.VLAN === -1);
    if (!pif) throw new FaultError('LAB_ERR_FAULT', `host "${host}" has no NIC "${device}"`);
    return pif.uuid;
  };
  const play: FaultApplier = async (f) => {
    let route: string;
    let body: Record<string, unknown>;
    switch (f.kind) {
      case 'nic-down':
      case 'nic-up':
        route = f.kind === 'nic-down' ? 'fault/pif-down' : 'fault/pif-up';
        body = { uuid: await pifOf(f.target) };
        break;
      case 'vm-load':
        route = CONTROL_ROUTE[f.kind];
        body = { name_label: f.target, kind: f.resource, level: f.level };
        break;
      case 'partition':
        route = CONTROL_ROUTE[f.kind];
        body = { groups: f.target };
        break;
      case 'heal':
        route = CONTROL_ROUTE[f.kind];
        body = {};
        break;
      case 'pool-power-off': {
        // The data center goes dark: every host, the coordinator last.
        const hosts = Object.entries(await xapi.call('host.get_all_records'));
        const masters = new Set(Object.values(await xapi.call('pool.get_all_records')).map((p) => p.master));
        const last = (ref: string) => Number(masters.has(ref as never));
        hosts.sort(([a], [b]) => last(a) - last(b));
        for (const [, h] of hosts)
          await play({ kind: 'host-power-off', target: h.name_label, trigger: f.trigger });
        return;
      }
      case 'machine-power-off':
      case 'machine-power-on':
      case 'link-down':
      case 'link-up':
      case 'disk-errors':
      case 'disk-ok':
        throw new FaultError(
          'LAB_ERR_FAULT_UNSUPPORTED',
          `"${f.kind}" plays on a machine of a qemu-xen environment, not in the simulator`,
        );
      default:
        route = CONTROL_ROUTE[f.kind];
        body = { name_label: f.target };
    }
    let r: ControlAnswer;
    try {
      r = await callControl(sim, route, body);
    } catch (e) {
      throw new FaultError('LAB_ERR_FAULT', `the simulator did not answer (${(e as Error).message})`);
    }
    if (r.status === 200) return;
    const unknownRoute = r.status === 404 && r.body.error === 'SIM_ERR_CONTROL_NOT_FOUND';
    if (unknownRoute || r.status === 501)
      throw new FaultError(
        'LAB_ERR_FAULT_UNSUPPORTED',
        `this simulator cannot play "${f.kind}" faults yet (${route}: ${r.body.message ?? String(r.status)})`,
      );
    const target = 'target' in f ? (typeof f.target === 'string' ? f.target : JSON.stringify(f.target)) : '';
    if (r.body.error === 'SIM_ERR_FAULT_TARGET_NOT_FOUND' && f.kind === 'partition')
      throw new FaultError(
        'LAB_ERR_FAULT',
        `partition: ${r.body.message ?? 'a host of the groups is not in the pool'}`,
      );
    if (r.body.error === 'SIM_ERR_FAULT_TARGET_NOT_FOUND')
      throw new FaultError(
        'LAB_ERR_FAULT',
        `${f.kind}: there is no ${f.kind === 'vm-load' ? 'VM' : f.kind.startsWith('sr') ? 'SR' : f.kind.startsWith('host') ? 'host' : 'target'} "${target}" in the pool`,
      );
    throw new FaultError(
      'LAB_ERR_FAULT',
      `${f.kind} ${target}: the simulator refused it (${r.body.error ?? String(r.status)}${r.body.message ? `: ${r.body.message}` : ''})`,
    );
  };
  return play;
}

/**
 * Plays each fault in the pool it names (`pool: dc-west`), the first pool when it names none: `pools` maps each pool
 * of the environment (`environment.pools[].name`, or `default`) to its {@link simFaultApplier}. A pool the
 * environment lacks is `LAB_ERR_FAULT` (the manifest check refuses it first).
 * @example
 * const apply = poolFaultApplier(new Map([['dc-east', simFaultApplier(east, a)], ['dc-west', simFaultApplier(west, b)]]), 'dc-east');
 */
export function poolFaultApplier(pools: ReadonlyMap<string, FaultApplier>, first: string): FaultApplier {
  return (f) => {
    const name = f.pool ?? first;
    const apply = pools.get(name);
    if (!apply)
      return Promise.reject(
        new FaultError(
          'LAB_ERR_FAULT',
          `${describeFault(f)}: there is no pool "${name}" in this environment (pools: ${[...pools.keys()].join(', ')})`,
        ),
      );
    return apply(f);
  };
}

/** What the player follows for task triggers: the grader's view and its changes. */
export interface TaskSource {
  view(): LabView;
  onChange(listener: (view: LabView) => void): () => void;
}

/** Options of {@link createFaultPlayer}. */
export interface FaultPlayerOptions {
  readonly lab: Lab;
  /** Plays a fault in the pool ({@link simFaultApplier}). */
  readonly apply: FaultApplier;
  /** Where fired faults and the clock are kept. */
  readonly store: FaultStore;
  /** Shortest time between two button presses (default {@link PRESS_INTERVAL_MS}). */
  readonly pressIntervalMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

/** The fault player of one lab environment. */
export interface FaultPlayer {
  /**
   * As the environment comes up, before the grader: a fresh environment (setup just ran) forgets any earlier record
   * and plays the setup faults — a failure is the lab's (`LAB_ERR_FAULT`), the environment does not come up; an
   * environment brought back plays again what the simulator keeps in memory only (failures are logged).
   */
  bringUp(fresh: boolean): Promise<void>;
  /** Plays again what the simulator keeps in memory only (its worker died and came back). */
  reapply(): Promise<void>;
  /**
   * A reset restored the pool as it was at `at`: the faults that fired since are forgotten (a task fault fires again
   * when its task passes again, a button works again, a timed fault that was due fires at once), and what the
   * simulator keeps in memory only is played again.
   */
  rewind(at: number): Promise<void>;
  /** Starts the timed faults' clocks and follows the grader for task triggers. */
  start(tasks: TaskSource): void;
  /** The buttons and the faults that fired, for the page; undefined when the lab has neither. */
  view(): FaultsView | undefined;
  /**
   * The learner pressed a fault's button. Rejects with a {@link FaultError}: `LAB_ERR_UNKNOWN_FAULT` (no such button:
   * faults without one cannot be fired this way), `LAB_ERR_FAULT_FIRED`, `LAB_ERR_FAULT_TOO_SOON`, `LAB_ERR_FAULT`,
   * `LAB_ERR_FAULT_UNSUPPORTED`.
   */
  press(id: string): Promise<void>;
  /** Called after each fault that fired (the lab channel sends the new state). */
  onChange(listener: () => void): () => void;
  /** Stops the clocks and the following; nothing fires after. */
  close(): void;
}

/**
 * Creates the fault player of a learner's lab environment.
 * @example
 * const faults = createFaultPlayer({ lab, apply: simFaultApplier(sim, client), store: new FaultStore(db, learnerId, lab.id) });
 * await faults.bringUp(fresh);
 * faults.start(grader);
 */
export function createFaultPlayer(options: FaultPlayerOptions): FaultPlayer {
  const { lab, apply, store } = options;
  const faults = lab.manifest.environment.faults;
  const now = options.now ?? Date.now;
  const pressIntervalMs = options.pressIntervalMs ?? PRESS_INTERVAL_MS;
  const byKey = new Map(faults.map((f, i) => [faultKey(f, i), f]));
  const listeners = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  /** Timed and task faults tried during this bring-up (a failed one is not retried on every view change). */
  const tried = new Set<string>();
  /** Button faults being fired now. */
  const firing = new Set<string>();
  let unfollow: (() => void) | undefined;
  let lastPress = Number.NEGATIVE_INFINITY;
  let closed = false;
  // Faults are played one at a time, in the order they fire.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const firedKeys = () => new Set(store.fired().map((r) => r.key));

  /** Plays fault `i` and records it (one at a time). */
  const fire = (i: number, by: FiredBy): Promise<void> =>
    serial(async () => {
      const f = faults[i];
      if (!f || closed) return;
      await apply(f);
      store.record({ key: faultKey(f, i), kind: f.kind, by, text: describeFault(f), at: now() });
      for (const l of listeners) {
        try {
          l();
        } catch (e) {
          log.warn('a fault listener failed', { lab: lab.id, err: e });
        }
      }
    });

  /** Arms the timer of timed fault `i` (from the environment's first start), unless it fired. */
  const arm = (i: number, startedAt: number): void => {
    const f = faults[i];
    if (!f || typeof f.trigger !== 'object' || !('after' in f.trigger)) return;
    if (firedKeys().has(faultKey(f, i))) return;
    const t = setTimeout(
      () => {
        timers.delete(t);
        fireOnce(i, 'after');
      },
      Math.max(0, startedAt + f.trigger.after * 1000 - now()),
    );
    t.unref();
    timers.add(t);
  };

  /** Fires a timed or task fault once (skipped when it fired before or was tried in this bring-up). */
  const fireOnce = (i: number, by: FiredBy): void => {
    const f = faults[i];
    if (!f || closed) return;
    const key = faultKey(f, i);
    if (tried.has(key) || firedKeys().has(key)) return;
    tried.add(key);
    fire(i, by).catch((e: unknown) => {
      log.warn('a lab fault could not be played', {
        lab: lab.id,
        fault: key,
        code: e instanceof XenlabError ? e.code : undefined,
        err: e,
      });
    });
  };

  const replayMemory = async (strictSetup: boolean): Promise<void> => {
    const setup = faults.filter((f) => f.trigger === 'setup' && MEMORY_KINDS.has(f.kind));
    const later = store
      .fired()
      .map((r) => byKey.get(r.key))
      .filter((f): f is Fault => f !== undefined && MEMORY_KINDS.has(f.kind));
    for (const f of [...setup, ...later]) {
      try {
        await serial(() => apply(f));
      } catch (e) {
        if (strictSetup && f.trigger === 'setup') throw e;
        log.warn('a lab fault could not be played again', { lab: lab.id, kind: f.kind, err: e });
      }
    }
  };

  const checkTasks = (view: LabView): void => {
    const passed = new Set(view.tasks.filter((t) => t.firstPassedAt !== undefined).map((t) => t.id));
    faults.forEach((f, i) => {
      if (typeof f.trigger === 'object' && 'task' in f.trigger && passed.has(f.trigger.task))
        fireOnce(i, 'task');
    });
  };

  return {
    async bringUp(fresh) {
      if (!fresh) {
        await replayMemory(false);
        return;
      }
      store.reset();
      for (const f of faults) {
        if (f.trigger !== 'setup') continue;
        try {
          await serial(() => apply(f));
        } catch (e) {
          const err = e as Error;
          throw new FaultError(
            e instanceof XenlabError ? e.code : 'LAB_ERR_FAULT',
            `lab ${lab.id}: the setup fault ${describeFault(f)} could not be played: ${err.message}`,
          );
        }
      }
    },
    reapply: () => replayMemory(false),
    async rewind(at) {
      if (closed) return;
      const gone = new Set(await serial(() => Promise.resolve(store.forgetSince(at))));
      for (const key of gone) tried.delete(key);
      const startedAt = store.startedAt(now());
      faults.forEach((f, i) => {
        if (gone.has(faultKey(f, i))) arm(i, startedAt);
      });
      await replayMemory(false);
      if (gone.size > 0) for (const l of listeners) l();
    },
    start(tasks) {
      if (closed) return;
      const startedAt = store.startedAt(now());
      faults.forEach((_f, i) => {
        arm(i, startedAt);
      });
      if (faults.some((f) => typeof f.trigger === 'object' && 'task' in f.trigger)) {
        unfollow = tasks.onChange(checkTasks);
        checkTasks(tasks.view());
      }
    },
    view() {
      const buttons: FaultButtonView[] = [];
      const fired = store.fired();
      faults.forEach((f, i) => {
        if (typeof f.trigger !== 'object' || !('button' in f.trigger) || f.id === undefined) return;
        const key = faultKey(f, i);
        const last = fired.filter((r) => r.key === key).at(-1);
        buttons.push({
          id: f.id,
          label: f.trigger.button,
          kind: f.kind,
          destructive: !RESTORING_KINDS.has(f.kind),
          repeatable: RESTORING_KINDS.has(f.kind),
          fired: last !== undefined,
          ...(last === undefined ? {} : { firedAt: last.at }),
        });
      });
      if (buttons.length === 0 && fired.length === 0) return undefined;
      return {
        buttons,
        events: fired.map((r) => ({
          ...(r.key.startsWith('#') ? {} : { fault: r.key }),
          kind: r.kind,
          text: r.text,
          at: r.at,
          by: r.by,
        })),
      };
    },
    async press(id) {
      const i = faults.findIndex(
        (f) => f.id === id && typeof f.trigger === 'object' && 'button' in f.trigger,
      );
      const f = faults[i];
      if (!f || closed) throw new FaultError('LAB_ERR_UNKNOWN_FAULT', `this lab has no fault button "${id}"`);
      const key = faultKey(f, i);
      if (!RESTORING_KINDS.has(f.kind) && (firing.has(key) || firedKeys().has(key)))
        throw new FaultError('LAB_ERR_FAULT_FIRED', `"${id}" has fired already; it fires once`);
      const t = now();
      const wait = lastPress + pressIntervalMs - t;
      if (wait > 0)
        throw new FaultError(
          'LAB_ERR_FAULT_TOO_SOON',
          `one fault button every ${String(Math.round(pressIntervalMs / 1000))} s: try again in ${String(Math.ceil(wait / 1000))} s`,
        );
      lastPress = t;
      firing.add(key);
      try {
        await fire(i, 'button');
      } finally {
        firing.delete(key);
      }
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      unfollow?.();
      unfollow = undefined;
    },
  };
}
