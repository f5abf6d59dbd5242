/**
 * The API engine: resolves wire method names, checks arity and sessions, decodes arguments by the datamodel, runs
 * handlers (behaviour modules first, then the generic implicit messages), and runs `Async.*` calls as tasks. Sessions,
 * tasks, events and alerts live here because every class needs them.
 */
import { randomUUID } from 'node:crypto';
import { CLASSES } from '@xenlab/toolkit/xenapi';
import type { MessageSpec } from '@xenlab/toolkit/xenapi';
import { XapiFailure } from './contract.js';
import type { SimBehaviour, SimContext, SimHandler, SimRecord, SimTask } from './contract.js';
import { Clock } from './clock.js';
import { decodeValue, newMap, xmlValueString } from './codec.js';
import type { EventBatchValue, Loose } from './codec.js';
import { uuidFrom } from './random.js';
import { Store } from './store.js';
import { matchWhere, parseWhere } from './where.js';
import { NULL_REF, canonicalClass, fieldSpec, liveFields, parseType } from './wire-types.js';
import type { WireType } from './wire-types.js';

/** A resolved method. */
export interface MethodDef {
  /** `Class.message`. */
  readonly full: string;
  readonly cls: string;
  readonly name: string;
  /** Parameters after the session: name, type, optional. */
  readonly params: readonly (readonly [string, WireType, boolean])[];
  /** True when the first wire parameter is a session ref. */
  readonly needsSession: boolean;
  readonly result: WireType;
  /** Whether `Async.` may be used (xapi: not for session.*, task.*, event.* or DB field accessors). */
  readonly asyncAllowed: boolean;
  readonly handler: SimHandler;
  /**
   * Where the handler came from (for diagnostics and `not implemented` reporting); `removed` is a message the
   * datamodel marks Removed, which xapi still dispatches only to answer `MESSAGE_REMOVED []`.
   */
  readonly source: 'core' | 'generic' | 'behaviour' | 'missing' | 'removed';
  /** A message the published datamodel hides (a behaviour's `hidden`): callable, never listed. */
  readonly hidden?: true;
}

/** The outcome of a call, before wire encoding. */
export type CallResult =
  | { readonly ok: true; readonly type: WireType; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly params: readonly string[] };

/** Options of the engine. */
export interface EngineOptions {
  readonly user: string;
  readonly password: string;
  readonly fast: boolean;
  readonly durations?: Readonly<Record<string, number>>;
  readonly random: () => number;
  readonly behaviours: readonly SimBehaviour[];
}

// xapi_globs.ml limits.
const MAX_SESSIONS_PER_ORIGINATOR = 500;
const INACTIVE_SESSION_TIMEOUT_MS = 86_400_000;
const COMPLETED_TASK_TIMEOUT_MS = 3_900_000;
const MESSAGE_LIMIT = 10_000;

/** Database tables (classes with a uuid, except message and event, which are not tables). */
const TABLES = Object.keys(CLASSES).filter(
  (c) => c !== 'message' && c !== 'event' && CLASSES[c]?.f.some((f) => f.n === 'uuid' && !f.removed),
);

const ASYNC_PREFIX = 'Async.';

function pad20(n: number): string {
  return String(n).padStart(20, '0');
}

const enginesByStore = new WeakMap<object, Engine>();

/** The engine whose live store this is (behaviours that call other handlers, or open a foreign database). */
export function engineOf(store: object): Engine | undefined {
  return enginesByStore.get(store);
}

/** The running engine. */
export class Engine {
  readonly store: Store;
  /**
   * Sessions another engine answers: a foreign pool database opened by `VDI.open_database` (behaviour/dr.ts). Every
   * call made with such a session goes to that engine; when it no longer knows the session (logged out), it is closed.
   */
  readonly foreignSessions = new Map<string, Engine>();
  readonly clock: Clock;
  random: () => number;
  readonly #options: EngineOptions;
  readonly #methods = new Map<string, MethodDef>();
  readonly #alt = new Map<string, string>();
  readonly #lastActive = new Map<string, number>();
  readonly #cancelled = new Set<string>();
  readonly #waiters = new Set<{ wants: (cls: string) => boolean; wake: () => void }>();
  readonly #dirty = new Set<string>();
  readonly #registrations = new Map<string, { classes: Set<string>; since: number }>();
  #flushScheduled = false;
  #closed = false;
  readonly #sweeper: NodeJS.Timeout;
  readonly #unsubscribe: () => void;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.random = options.random;
    this.store = new Store(() => uuidFrom(() => this.random()));
    enginesByStore.set(this.store, this);
    this.clock = new Clock({
      fast: options.fast,
      ...(options.durations ? { durations: options.durations } : {}),
    });
    this.#buildMethods();
    this.#unsubscribe = this.store.subscribe((cls) => {
      this.#dirty.add(cls);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flush();
        });
      }
    });
    this.#sweeper = setInterval(() => {
      this.#sweep();
    }, 60_000);
    this.#sweeper.unref();
  }

  /** Stops timers and wakes every waiting `event.from`. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#unsubscribe();
    this.clock.close();
    for (const foreign of this.foreignSessions.values()) foreign.close();
    this.foreignSessions.clear();
    for (const w of this.#waiters) w.wake();
    this.#waiters.clear();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Method table

  #buildMethods(): void {
    const behaviourHandlers = new Map<string, SimHandler>();
    for (const b of this.#options.behaviours)
      for (const [k, h] of Object.entries(b.handlers)) behaviourHandlers.set(k, h);
    const core = this.#coreHandlers();
    for (const [cls, spec] of Object.entries(CLASSES)) {
      // Removed messages stay in the table: gen_server.ml still matches them (arity, then session) and answers
      // MESSAGE_REMOVED [] without reading the other arguments.
      const messages: MessageSpec[] = [...spec.m];
      const allRecords = spec.m.find((m) => m.n === 'get_all_records');
      if (allRecords && !messages.some((m) => m.n === 'get_all_records_where')) {
        messages.push({
          n: 'get_all_records_where',
          p: [
            ['session_id', 'session ref'],
            ['expr', 'string'],
          ],
          r: `(${cls} ref -> ${cls} record) map`,
          i: 1,
          ...(allRecords.removed ? { removed: 1 as const } : {}),
        });
      }
      for (const m of messages)
        this.#define(cls, m, core[`${cls}.${m.n}`], behaviourHandlers.get(`${cls}.${m.n}`));
    }
    // Messages xapi dispatches though its published datamodel hides them: only a behaviour that declares one has it.
    for (const b of this.#options.behaviours)
      for (const [full, m] of Object.entries(b.hidden ?? {})) {
        const handler = b.handlers[full];
        if (handler) this.#define(full.slice(0, full.indexOf('.')), m, undefined, handler, true);
      }
  }

  /** Adds one message to the method table, its handler from core, a behaviour or the generic ones. */
  #define(
    cls: string,
    m: MessageSpec,
    coreHandler: SimHandler | undefined,
    behaviour: SimHandler | undefined,
    hidden = false,
  ): void {
    const full = `${cls}.${m.n}`;
    const needsSession = m.p[0]?.[0] === 'session_id' && m.p[0][1] === 'session ref';
    const params = (needsSession ? m.p.slice(1) : m.p).map(
      (p) => [p[0], parseType(p[1]), p.length === 3] as const,
    );
    const generic = coreHandler ? undefined : this.#generic(cls, m);
    let handler: SimHandler;
    let source: MethodDef['source'];
    if (m.removed) {
      handler = () => {
        throw new XapiFailure('MESSAGE_REMOVED', []);
      };
      source = 'removed';
    } else if (coreHandler && (cls === 'session' || cls === 'event' || cls === 'task' || !behaviour)) {
      handler = coreHandler;
      source = 'core';
    } else if (behaviour) {
      handler = behaviour;
      source = 'behaviour';
    } else if (generic) {
      handler = generic;
      source = 'generic';
    } else {
      handler = () => {
        throw new XapiFailure('NOT_IMPLEMENTED', [full]);
      };
      source = 'missing';
    }
    const accessor = m.i === 1 && m.n !== 'create' && m.n !== 'destroy';
    const def: MethodDef = {
      full,
      cls,
      name: m.n,
      params,
      needsSession,
      result: parseType(m.r),
      // A removed message answers MESSAGE_REMOVED whatever the prefix (gen_server.ml strips `Async.` first).
      asyncAllowed: m.removed === 1 || (!accessor && cls !== 'session' && cls !== 'task' && cls !== 'event'),
      handler,
      source,
      ...(hidden ? { hidden: true as const } : {}),
    };
    this.#methods.set(full, def);
    this.#alt.set(`${cls}_${m.n}`, full);
  }

  /** Every resolved method, with where its handler comes from (`missing` = answers NOT_IMPLEMENTED). */
  methods(): MethodDef[] {
    return [...this.#methods.values()];
  }

  /** Every method name `system.listMethods` reports. */
  listMethods(): string[] {
    const out: string[] = [];
    for (const d of this.#methods.values()) {
      if (d.source === 'missing' || d.hidden === true) continue;
      // Sync names only: clients (npm xen-api) derive class names from `<Class>.get_all_records` entries. Removed
      // messages are listed too, and `system.listMethods` itself is not (gen_server.ml lists every message of every
      // class, nothing else).
      out.push(d.full);
    }
    return out;
  }

  /** Resolves a wire name (`VM.get_all`, `VM_get_all`, `Async.VM.clone`). */
  resolve(wire: string): { def: MethodDef; async: boolean } | undefined {
    let name = wire;
    let isAsync = false;
    if (name.startsWith(ASYNC_PREFIX)) {
      isAsync = true;
      name = name.slice(ASYNC_PREFIX.length);
    }
    const def = this.#methods.get(name) ?? this.#methods.get(this.#alt.get(name) ?? '');
    if (!def || (isAsync && !def.asyncAllowed)) return undefined;
    return { def, async: isAsync };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Calls

  /** Runs one API call. Never throws: failures come back as `{ ok: false }`. */
  async call(wire: string, params: readonly Loose[]): Promise<CallResult> {
    const foreign = typeof params[0] === 'string' ? this.foreignSessions.get(params[0]) : undefined;
    if (foreign) {
      if (foreign.store.find('session', params[0] as string)) return foreign.call(wire, params);
      this.foreignSessions.delete(params[0] as string);
      foreign.close();
    }
    try {
      if (wire === 'system.listMethods')
        return { ok: true, type: { k: 'set', of: { k: 'string' } }, value: this.listMethods() };
      const hit = this.resolve(wire);
      if (!hit) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [wire]);
      const { def } = hit;
      const total = def.params.length + (def.needsSession ? 1 : 0);
      const required = def.params.filter((p) => !p[2]).length + (def.needsSession ? 1 : 0);
      if (params.length < required || params.length > total) {
        // Both counts leave out the session; "expected" counts only mandatory parameters (gen_server.ml).
        const skip = def.needsSession ? 1 : 0;
        throw new XapiFailure('MESSAGE_PARAMETER_COUNT_MISMATCH', [
          wire,
          String(required - skip),
          String(params.length - skip),
        ]);
      }
      let session = { ref: NULL_REF, user: '' };
      if (def.needsSession) session = this.#checkSession(params[0]);
      if (def.source === 'removed') throw new XapiFailure('MESSAGE_REMOVED', []);
      const rest = def.needsSession ? params.slice(1) : params;
      const args = def.params.map(([pname, type], i) => {
        const v = rest[i];
        return v === undefined ? defaultArg(type) : decodeValue(type, v, pname);
      });
      if (hit.async) {
        const ref = this.#startTask(def, session, args);
        return { ok: true, type: { k: 'ref', cls: 'task' }, value: ref };
      }
      const ctx = this.#context(session, undefined);
      const value: unknown = await def.handler(ctx, args);
      return { ok: true, type: def.result, value };
    } catch (e) {
      return failureOf(e);
    }
  }

  #context(session: { ref: string; user: string }, task: SimTask | undefined): SimContext {
    return this.context(session, task);
  }

  /** A handler context (also used for fault injection, metrics and scenario hooks; `store` defaults to the live one). */
  context(
    session = { ref: NULL_REF, user: 'xenlab' },
    task?: SimTask,
    store: Store = this.store,
  ): SimContext {
    return {
      store,
      clock: this.clock,
      session,
      task,
      random: () => this.random(),
      uuid: () => uuidFrom(() => this.random()),
      message: (name, priority, cls, objUuid, body) => {
        this.createMessage(name, priority, cls, objUuid, body);
      },
    };
  }

  /** Creates an alert (`message.create` semantics). */
  createMessage(name: string, priority: number, cls: string, objUuid: string, body: string): string {
    // xapi keeps at most xapi_globs `message_limit` (10 000) messages; the oldest go first.
    const excess = this.store.count('message') - MESSAGE_LIMIT + 1;
    if (excess > 0)
      for (const [ref] of this.store.all('message').slice(0, excess)) this.store.destroy('message', ref);
    return this.store.create('message', {
      name,
      priority,
      cls,
      obj_uuid: objUuid,
      timestamp: this.clock.now(),
      body,
    });
  }

  /**
   * Runs a method's handler directly with typed arguments (no session, no wire decoding): scenario set-up uses it
   * to install VMs exactly as a client would. Throws `XapiFailure` like the handler.
   */
  async invoke(full: string, args: readonly unknown[], store: Store = this.store): Promise<unknown> {
    const def = this.#methods.get(full);
    if (!def) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [full]);
    return await def.handler(this.context(undefined, undefined, store), args);
  }

  /** Runs every behaviour's `afterChange` hook for one object. */
  afterChange(ctx: SimContext, cls: string, ref: string): void {
    this.#afterChange(ctx, cls, ref);
  }

  #afterChange(ctx: SimContext, cls: string, ref: string): void {
    for (const b of this.#options.behaviours) b.afterChange?.(ctx, cls, ref);
  }

  /** The pool master (task.resident_on, session.this_host). */
  master(): string {
    const pool = this.store.all('pool')[0];
    const m = pool?.[1].master;
    return typeof m === 'string' ? m : NULL_REF;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Sessions

  /** Logs in (used by the API and by HTTP basic auth); throws `SESSION_AUTHENTICATION_FAILED`. */
  login(user: string, password: string, originator = ''): string {
    this.checkPassword(user, password);
    const same = this.store.all('session').filter(([, s]) => s.originator === originator);
    // max_sessions_per_originator: the oldest session goes (xapi_session.ml destroy_oldest_sessions).
    for (const [ref] of same.slice(0, Math.max(0, same.length - MAX_SESSIONS_PER_ORIGINATOR + 1)))
      this.#dropSession(ref);
    // Session refs are secrets: always from the CSPRNG, never from the scenario seed.
    const ref = `OpaqueRef:${randomUUID()}`;
    const now = this.clock.now();
    this.store.create(
      'session',
      {
        uuid: randomUUID(),
        this_host: this.master(),
        last_active: now,
        validation_time: now,
        is_local_superuser: true,
        auth_user_name: user,
        originator,
        rbac_permissions: [],
      },
      ref,
    );
    this.#lastActive.set(ref, Date.now());
    return ref;
  }

  /** Checks credentials without creating a session; throws `SESSION_AUTHENTICATION_FAILED [user, message]`. */
  checkPassword(user: string, password: string): void {
    if (user !== this.#options.user || password !== this.#options.password)
      // Actual params (ocaml/xapi/xapi_session.ml do_local_auth): [uname, PAM message].
      throw new XapiFailure('SESSION_AUTHENTICATION_FAILED', [user, 'Authentication failure']);
  }

  #dropSession(ref: string): void {
    this.#lastActive.delete(ref);
    this.#registrations.delete(ref);
    if (this.store.find('session', ref)) this.store.destroy('session', ref);
  }

  /** Validates a session ref from the wire; throws `SESSION_INVALID [ref]`. */
  checkSession(raw: unknown): { ref: string; user: string } {
    return this.#checkSession(raw as Loose);
  }

  #checkSession(raw: Loose | undefined): { ref: string; user: string } {
    const ref = typeof raw === 'string' ? raw : '';
    const rec = this.store.find('session', ref);
    if (!rec) throw new XapiFailure('SESSION_INVALID', [ref]);
    const now = Date.now();
    const last = this.#lastActive.get(ref) ?? now;
    if (now - last > INACTIVE_SESSION_TIMEOUT_MS) {
      this.#dropSession(ref);
      throw new XapiFailure('SESSION_INVALID', [ref]);
    }
    this.#lastActive.set(ref, now);
    return { ref, user: typeof rec.auth_user_name === 'string' ? rec.auth_user_name : '' };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Tasks

  #startTask(def: MethodDef, session: { ref: string; user: string }, args: unknown[]): string {
    const store = this.store;
    const ref = store.create('task', {
      name_label: `${ASYNC_PREFIX}${def.full}`,
      status: 'pending',
      progress: 0,
      created: this.clock.now(),
      finished: new Date(0),
      resident_on: this.master(),
      allowed_operations: ['cancel'],
      other_config: newMap(),
    });
    this.#linkTask(session.ref, ref);
    const cancelled = this.#cancelled;
    const task: SimTask = {
      ref,
      setProgress: (p: number) => {
        if (store.find('task', ref)) store.update('task', ref, { progress: Math.max(0, Math.min(1, p)) });
      },
      get cancelled() {
        return cancelled.has(ref);
      },
    };
    const ctx = this.#context(session, task);
    // Started on the next turn, so the caller has its task ref before anything happens (as with xapi's forwarding).
    setImmediate(() => {
      void (async () => {
        let patch: SimRecord;
        try {
          const value: unknown = await def.handler(ctx, args);
          patch = {
            status: 'success',
            progress: 1,
            // task.result is an XML-RPC value string even over JSON-RPC (ocaml/xapi/taskHelper.ml Xmlrpc.to_string).
            result: def.result.k === 'void' ? '' : xmlValueString(def.result, value),
          };
        } catch (e) {
          const f = failureOf(e);
          patch = {
            status: f.code === 'TASK_CANCELLED' ? 'cancelled' : 'failure',
            progress: 1,
            error_info: [f.code, ...f.params],
          };
        }
        cancelled.delete(ref);
        if (!this.#closed && store.find('task', ref))
          store.update('task', ref, { ...patch, finished: this.clock.now(), allowed_operations: [] });
      })();
    });
    return ref;
  }

  /**
   * Records a task in its session's `tasks` (datamodel.ml relation task.session ↔ session.tasks; `task.session` is
   * an internal field clients never see): tasks made by `task.create` or an `Async.*` call with that session.
   */
  #linkTask(session: string, task: string): void {
    const s = this.store.find('session', session);
    if (!s) return;
    const tasks = Array.isArray(s.tasks) ? (s.tasks as string[]) : [];
    this.store.update('session', session, { tasks: [...tasks, task] });
  }

  /** Destroys a task and drops it from its session's `tasks`. */
  #destroyTask(task: string): void {
    this.store.destroy('task', task);
    for (const [ref, s] of this.store.all('session'))
      if (Array.isArray(s.tasks) && (s.tasks as string[]).includes(task))
        this.store.update('session', ref, { tasks: (s.tasks as string[]).filter((t) => t !== task) });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [ref, t] of this.store.all('task')) {
      const finished = t.finished instanceof Date ? t.finished.getTime() : 0;
      if (t.status !== 'pending' && finished > 0 && now - finished > COMPLETED_TASK_TIMEOUT_MS)
        this.#destroyTask(ref);
    }
    for (const [ref] of this.store.all('session')) {
      const last = this.#lastActive.get(ref);
      if (last !== undefined && now - last > INACTIVE_SESSION_TIMEOUT_MS) this.#dropSession(ref);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Events

  /** The current event token (`%020d,%020d`: db generation, message generation — xapi_event.ml). */
  token(): string {
    return `${pad20(this.store.generation)},${pad20(this.store.messageGeneration)}`;
  }

  #flush(): void {
    this.#flushScheduled = false;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const w of this.#waiters) {
      if (dirty.some((c) => w.wants(c))) {
        this.#waiters.delete(w);
        w.wake();
      }
    }
  }

  /** Resolves on the next change to a class `wantsClass` accepts, or at `deadline` (ms since the epoch). */
  #waitForChange(wantsClass: (cls: string) => boolean, deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiter = {
        wants: wantsClass,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(
        () => {
          this.#waiters.delete(waiter);
          resolve();
        },
        Math.max(0, deadline - Date.now()),
      );
      this.#waiters.add(waiter);
    });
  }

  /** The deprecated event.register/next API (xapi_event.ml `register`, `next`), kept for old scripts and SDK samples. */
  #legacyEvents(): Record<string, SimHandler> {
    const store = this.store;
    const regs = this.#registrations;
    const parse = (classes: unknown): string[] =>
      (Array.isArray(classes) ? (classes as string[]) : []).map((entry) => {
        if (entry === '*') return '*';
        const c = canonicalClass(entry);
        if (!c || c === 'event') throw new XapiFailure('EVENT_SUBSCRIPTION_PARSE_FAILURE', [entry]);
        return c;
      });
    return {
      'event.register': (ctx, [classes]) => {
        const list = parse(classes);
        let reg = regs.get(ctx.session.ref);
        if (!reg) {
          reg = { classes: new Set(), since: store.generation };
          regs.set(ctx.session.ref, reg);
        }
        for (const c of list) reg.classes.add(c);
      },
      'event.unregister': (ctx, [classes]) => {
        const reg = regs.get(ctx.session.ref);
        for (const c of parse(classes)) reg?.classes.delete(c);
      },
      'event.next': async (ctx) => {
        const reg = regs.get(ctx.session.ref);
        if (!reg) throw new XapiFailure('SESSION_NOT_REGISTERED', [ctx.session.ref]);
        const wantsClass = (cls: string): boolean =>
          cls !== 'session' && (reg.classes.has('*') || reg.classes.has(cls));
        for (;;) {
          const changes = store.changesSince(reg.since, (cls) => wantsClass(cls));
          if (changes.length > 0 || this.#closed || !regs.has(ctx.session.ref)) {
            reg.since = store.generation;
            const now = this.clock.now();
            return changes.map((ch) => {
              const rec = ch.operation === 'del' ? undefined : store.find(ch.cls, ch.ref);
              return {
                id: ch.gen,
                timestamp: now,
                class: ch.cls.toLowerCase(),
                operation: ch.operation,
                ref: ch.ref,
                obj_uuid: typeof rec?.uuid === 'string' ? rec.uuid : '',
                ...(rec ? { snapshot: { cls: ch.cls, record: rec } } : {}),
              };
            });
          }
          // event.next blocks until something happens; a day is "forever" for a lab.
          await this.#waitForChange(wantsClass, Date.now() + 86_400_000);
        }
      },
    };
  }

  async #eventFrom(classes: readonly string[], token: string, timeout: number): Promise<EventBatchValue> {
    let all = false;
    const wantClass = new Set<string>();
    const wantObject = new Set<string>();
    for (const entry of classes) {
      if (entry === '*') {
        all = true;
        continue;
      }
      const slash = entry.indexOf('/');
      const c = canonicalClass(slash === -1 ? entry : entry.slice(0, slash));
      if (!c || c === 'event') throw new XapiFailure('EVENT_SUBSCRIPTION_PARSE_FAILURE', [entry]);
      if (slash === -1) wantClass.add(c);
      else wantObject.add(`${c}/${entry.slice(slash + 1)}`);
    }
    // Sessions generate no events (datamodel gen_events=false): their refs are secrets.
    const wants = (cls: string, ref: string): boolean =>
      cls !== 'session' &&
      (all || wantClass.has(cls) || (wantObject.size > 0 && wantObject.has(`${cls}/${ref}`)));
    const wantsClass = (cls: string): boolean =>
      cls !== 'session' &&
      (all || wantClass.has(cls) || [...wantObject].some((k) => k.startsWith(`${cls}/`)));
    let since: number;
    if (token === '') since = -1;
    else {
      const m = /^(\d+)(?:,(\d+))?$/.exec(token);
      if (!m) throw new XapiFailure('EVENT_FROM_TOKEN_PARSE_FAILURE', [token]);
      since = Number(m[1]);
    }
    const store = this.store;
    // Every database table, subscribed or not (xapi_event.ml folds over the whole tableset); messages are not a table.
    const counts = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const c of TABLES) out[c.toLowerCase()] = store.count(c);
      return out;
    };
    if (since < 0) {
      const events: EventBatchValue['events'][number][] = [];
      for (const c of [...TABLES, 'message']) {
        if (c === 'event' || !wantsClass(c)) continue;
        for (const [ref, rec] of store.all(c)) {
          if (!wants(c, ref)) continue;
          events.push({
            // xapi_event.ml `event_of`: an add carries the creation generation; messages carry 0.
            id: c === 'message' ? '0' : String(store.createdAt(c, ref)),
            timestamp: '0.0',
            class: c.toLowerCase(),
            operation: 'add',
            ref,
            snapshot: { cls: c, record: rec },
          });
        }
      }
      return { events, valid_ref_counts: counts(), token: this.token() };
    }
    const deadline =
      Date.now() + Math.max(0, Math.min(Number.isFinite(timeout) ? timeout : 0, 86_400)) * 1000;
    for (;;) {
      const changes = store.changesSince(since, wants);
      if (changes.length > 0 || Date.now() >= deadline || this.#closed) {
        const events = changes.map((ch) => {
          const rec = ch.operation === 'del' ? undefined : store.find(ch.cls, ch.ref);
          return {
            id: ch.cls === 'message' ? '0' : String(ch.operation === 'add' ? ch.created : ch.gen),
            timestamp: '0.0',
            class: ch.cls.toLowerCase(),
            operation: ch.operation,
            ref: ch.ref,
            ...(rec ? { snapshot: { cls: ch.cls, record: rec } } : {}),
          };
        });
        return { events, valid_ref_counts: counts(), token: this.token() };
      }
      await this.#waitForChange(wantsClass, deadline);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Core handlers (session, task, event, message)

  #coreHandlers(): Record<string, SimHandler> {
    const store = this.store;
    const str = (v: unknown): string => (typeof v === 'string' ? v : '');
    const login: SimHandler = (_ctx, [user, pwd, _version, originator]) =>
      this.login(str(user), str(pwd), str(originator));
    const logout: SimHandler = (ctx) => {
      this.#dropSession(ctx.session.ref);
    };
    const messageMap = (filter: (m: Readonly<SimRecord>) => boolean): Record<string, unknown> => {
      const out = newMap();
      for (const [ref, m] of store.all('message')) if (filter(m)) out[ref] = m;
      return out;
    };
    const liveTasks = (rec: Readonly<SimRecord>): string[] =>
      (Array.isArray(rec.tasks) ? (rec.tasks as string[]) : []).filter((t) => store.find('task', t));
    const after = (since: unknown) => (m: Readonly<SimRecord>) =>
      m.timestamp instanceof Date && since instanceof Date && m.timestamp.getTime() > since.getTime();
    return {
      'session.login_with_password': login,
      'session.slave_local_login_with_password': login,
      'session.logout': logout,
      'session.local_logout': logout,
      // A restore keeps sessions but may drop their tasks: only tasks that still exist are reported.
      'session.get_tasks': (_ctx, [self]) => liveTasks(store.get('session', str(self))),
      'session.get_record': (_ctx, [self]) => {
        const rec = store.get('session', str(self));
        return { ...rec, tasks: liveTasks(rec) };
      },
      'task.create': (ctx, [label, description]) => {
        const ref = store.create('task', {
          name_label: str(label),
          name_description: str(description),
          status: 'pending',
          created: this.clock.now(),
          resident_on: this.master(),
          allowed_operations: ['cancel'],
        });
        this.#linkTask(ctx.session.ref, ref);
        return ref;
      },
      'task.cancel': (_ctx, [task]) => {
        const ref = str(task);
        const t = store.get('task', ref);
        if (t.status !== 'pending')
          throw new XapiFailure('OPERATION_NOT_ALLOWED', [`task ${ref} is not pending`]);
        this.#cancelled.add(ref);
        store.update('task', ref, { status: 'cancelling', allowed_operations: [] });
      },
      'task.destroy': (_ctx, [task]) => {
        const ref = str(task);
        store.get('task', ref);
        this.#cancelled.delete(ref);
        this.#destroyTask(ref);
      },
      'event.from': (_ctx, [classes, token, timeout]) =>
        this.#eventFrom(
          Array.isArray(classes) ? (classes as string[]) : [],
          str(token),
          typeof timeout === 'number' ? timeout : 0,
        ),
      'event.inject': (_ctx, [cls, ref]) => {
        const c = canonicalClass(str(cls));
        if (!c || !store.find(c, str(ref))) throw new XapiFailure('HANDLE_INVALID', [str(cls), str(ref)]);
        store.touch(c, str(ref));
        // The token just before the touch (xapi_event.ml `inject`: generation - 1, message part 0), so the next
        // event.from from it returns the injected object at once.
        return `${pad20(store.generation - 1)},${pad20(0)}`;
      },
      'event.get_current_id': () => store.generation,
      ...this.#legacyEvents(),
      'message.create': (_ctx, [name, priority, cls, objUuid, body]) =>
        this.createMessage(
          str(name),
          typeof priority === 'number' ? priority : 0,
          str(cls),
          str(objUuid),
          str(body),
        ),
      'message.get': (_ctx, [cls, objUuid, since]) =>
        messageMap((m) => m.cls === cls && m.obj_uuid === objUuid && after(since)(m)),
      'message.get_since': (_ctx, [since]) => messageMap(after(since)),
      'message.destroy_many': (_ctx, [refs]) => {
        for (const r of Array.isArray(refs) ? (refs as string[]) : []) store.destroy('message', r);
      },
      'message.destroy_all': (_ctx, [filters]) => {
        const f = (filters ?? {}) as Record<string, unknown>;
        for (const [ref, m] of store.all('message'))
          if (Object.keys(f).every((k) => String(m[k]) === f[k])) store.destroy('message', ref);
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Generic implicit messages (doc/content/xen-api/basics.md; ocaml/idl/datamodel_utils.ml)

  #generic(cls: string, m: MessageSpec): SimHandler | undefined {
    const store = this.store;
    const name = m.n;
    const records = (filter: (rec: Readonly<SimRecord>) => boolean): Record<string, unknown> => {
      const out = newMap();
      for (const [ref, rec] of store.all(cls)) if (filter(rec)) out[ref] = rec;
      return out;
    };
    const ref = (v: unknown): string => (typeof v === 'string' ? v : '');
    switch (name) {
      case 'get_all':
        return () => store.all(cls).map(([r]) => r);
      case 'get_all_records':
        return () => records(() => true);
      case 'get_all_records_where':
        return (_ctx, [expr]) => {
          const e = parseWhere(ref(expr));
          return records((rec) => matchWhere(e, rec));
        };
      case 'get_record':
        return (_ctx, [self]) => store.get(cls, ref(self));
      case 'get_by_uuid':
        return (_ctx, [uuid]) => store.byUuid(cls, ref(uuid));
      case 'get_by_name_label':
        return (_ctx, [label]) =>
          store
            .all(cls)
            .filter(([, r]) => r.name_label === label)
            .map(([r]) => r);
      case 'create':
        if (m.p.length !== 2 || m.p[1]?.[1] !== `${cls} record`) return undefined;
        return (ctx, [record]) => {
          const r = store.create(cls, (record ?? {}) as SimRecord);
          this.#afterChange(ctx, cls, r);
          return r;
        };
      case 'destroy':
        if (m.p.length !== 2 || m.p[1]?.[1] !== `${cls} ref`) return undefined;
        return (_ctx, [self]) => {
          store.destroy(cls, ref(self));
        };
    }
    const field = (prefix: string): string | undefined => {
      if (!name.startsWith(prefix)) return undefined;
      const f = name.slice(prefix.length);
      return fieldSpec(cls, f) ? f : undefined;
    };
    const getter = field('get_');
    if (getter) return (_ctx, [self]) => store.get(cls, ref(self))[getter];
    const setter = field('set_');
    if (setter)
      return (ctx, [self, value]) => {
        store.get(cls, ref(self));
        store.update(cls, ref(self), { [setter]: value });
        this.#afterChange(ctx, cls, ref(self));
      };
    const addTo = field('add_to_');
    if (addTo)
      return (ctx, [self, key, value]) => {
        const rec = store.get(cls, ref(self));
        const map = (rec[addTo] ?? {}) as Record<string, unknown>;
        const k = ref(key);
        if (Object.hasOwn(map, k))
          throw new XapiFailure('MAP_DUPLICATE_KEY', [cls, addTo, String(rec.uuid), k]);
        const next = newMap();
        Object.assign(next, map);
        next[k] = value;
        store.update(cls, ref(self), { [addTo]: next });
        this.#afterChange(ctx, cls, ref(self));
      };
    const removeFrom = field('remove_from_');
    if (removeFrom)
      return (ctx, [self, key]) => {
        const rec = store.get(cls, ref(self));
        const map = (rec[removeFrom] ?? {}) as Record<string, unknown>;
        const k = ref(key);
        if (!Object.hasOwn(map, k)) return;
        const next = newMap();
        for (const x of Object.keys(map)) if (x !== k) next[x] = map[x];
        store.update(cls, ref(self), { [removeFrom]: next });
        this.#afterChange(ctx, cls, ref(self));
      };
    const add = field('add_');
    if (add)
      return (ctx, [self, value]) => {
        const set = (store.get(cls, ref(self))[add] ?? []) as unknown[];
        if (set.includes(value)) return;
        store.update(cls, ref(self), { [add]: [...set, value] });
        this.#afterChange(ctx, cls, ref(self));
      };
    const remove = field('remove_');
    if (remove)
      return (ctx, [self, value]) => {
        const set = (store.get(cls, ref(self))[remove] ?? []) as unknown[];
        if (!set.includes(value)) return;
        store.update(cls, ref(self), { [remove]: set.filter((x) => x !== value) });
        this.#afterChange(ctx, cls, ref(self));
      };
    return undefined;
  }

  /** Every field of a class (for tools that walk records). */
  fields(cls: string): readonly string[] {
    return liveFields(cls).map((f) => f.n);
  }
}

function defaultArg(t: WireType): unknown {
  switch (t.k) {
    case 'bool':
      return false;
    case 'int':
    case 'float':
      return 0;
    case 'set':
      return [];
    case 'map':
    case 'record':
      return newMap();
    case 'ref':
      return NULL_REF;
    default:
      return '';
  }
}

/** Turns anything thrown into a failure: XapiFailure as is, anything else `INTERNAL_ERROR [message]`. */
export function failureOf(e: unknown): CallResult & { ok: false } {
  if (e instanceof XapiFailure) return { ok: false, code: e.code, params: e.params.map(String) };
  const message = e instanceof Error ? e.message : String(e);
  return { ok: false, code: 'INTERNAL_ERROR', params: [message] };
}
