/**
 * The typed XenAPI client: sessions, typed and raw calls, async tasks, the event watcher, error translation
 * (SESSION_INVALID re-login, HOST_IS_SLAVE redirect). Transport-agnostic: see `transport.ts`.
 */
import { ClientErrorCode, XapiClientError, XapiError } from './errors.js';
import type { Methods } from './generated/types.js';
import type { CallOptions } from './http-post.js';
import { decodeValue, encodeValue, findMessage } from './normalise.js';
import type { Transport, TransportKind } from './transport.js';
import { createAutoTransport } from './transport-auto.js';
import { createJsonRpcTransport } from './transport-json-rpc.js';
import { createXmlRpcTransport } from './transport-xml-rpc.js';
import type { Ref, XapiEvent } from './types-base.js';
import { decodeXmlRpcValue } from './xmlrpc-codec.js';
import { createEventWatcher, type EventWatcher, type WatchOptions } from './event-watcher.js';

/** Every method name of the generated `Methods` table (`VM.start`, `pool.get_all`, …). */
export type MethodName = keyof Methods;
/** A method's arguments, the session left out (the client injects it), optional trailing params optional. */
export type MethodArgs<M extends MethodName> = Parameters<Methods[M]>;
/** A method's normalised result. */
export type MethodResult<M extends MethodName> = ReturnType<Methods[M]>;

/**
 * Options of {@link createClient}.
 * @example
 * const options: ClientOptions = { url: 'https://192.0.2.10', user: 'root', password: 's', allowUnauthorized: true };
 */
export interface ClientOptions {
  /** The pool coordinator, e.g. `https://192.0.2.10` or `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** Wire protocol: `auto` (default) tries JSON-RPC and falls back to XML-RPC. */
  readonly transport?: TransportKind;
  /** Accept self-signed TLS certificates (XCP-ng / XenServer hosts generate one at install); off by default. */
  readonly allowUnauthorized?: boolean;
  /** Trust these certificates (PEM), e.g. the host's own self-signed one, instead of turning verification off. */
  readonly ca?: string | readonly string[];
  /** Timeout of one HTTP request, in ms (default 60 000). Blocking `event.from` calls get their own, longer one. */
  readonly timeoutMs?: number;
  /** Sent as `session.login_with_password`'s `originator` (XAPI limits sessions per originator). */
  readonly originator?: string;
}

/**
 * The client. Create it with {@link createClient}.
 * @example
 * const xapi = createClient({ url: 'http://127.0.0.1:8080', user: 'root', password: 'secret' });
 * const [pool] = await xapi.call('pool.get_all');
 * console.log(await xapi.call('pool.get_name_label', pool!));
 */
export interface XapiClient {
  /** The URL calls go to now (changes after a HOST_IS_SLAVE redirect). */
  readonly url: URL;
  /** The current session ref, if logged in. */
  readonly sessionId: Ref<'session'> | undefined;
  /** The wire protocol in use: `auto` until the first call has chosen one. */
  readonly transportKind: 'xml-rpc' | 'json-rpc' | 'auto';
  /** Logs in (once; later calls reuse the session). Calls log in by themselves when needed. */
  login(): Promise<Ref<'session'>>;
  /** Logs the session out (a session already gone is not an error). */
  logout(): Promise<void>;
  /**
   * Calls a XenAPI method with typed arguments (the session is injected) and returns its normalised result:
   * ints and floats as numbers, datetimes as `Date`, records by their class's field types — the same values
   * over JSON-RPC and XML-RPC.
   */
  call<M extends MethodName>(method: M, ...args: MethodArgs<M>): Promise<MethodResult<M>>;
  /**
   * Calls any method without the datamodel: arguments go as given (a non-integer number as `<double>`, a `Date`
   * as a UTC datetime), the result comes back as the wire decoded it (XML-RPC ints are strings). The session is
   * injected when the datamodel says the method takes one, and for unknown methods except `system.*`.
   */
  callRaw(method: string, ...args: unknown[]): Promise<unknown>;
  /**
   * Runs `Async.<method>`, follows the task with `event.from` until it leaves `pending`, destroys it, and returns
   * the decoded, normalised `task.result` — or throws the task's `error_info` as an {@link XapiError}.
   */
  callAsync<M extends MethodName>(method: M, ...args: MethodArgs<M>): Promise<MethodResult<M>>;
  /**
   * Watches `event.from` for the given classes (`['VM', 'task']`, `['*']`, `['VM/OpaqueRef:…']`) from now on,
   * calling `onEvent` for each event, in order. Restarts after errors; stop it with `stop()`.
   */
  watchEvents(
    classes: readonly string[],
    onEvent: (event: XapiEvent) => void | Promise<void>,
    options?: WatchOptions,
  ): EventWatcher;
  /** Stops watchers, logs out and closes the keep-alive connections. */
  close(): Promise<void>;
}

/**
 * Methods callable without a session (xenapi/NOTES.md §1.2): the datamodel has no session parameter for the others.
 */
const NO_SESSION_PREFIX = 'system.';
const MAX_REDIRECTS = 3;
/** How long `callAsync` lets one `event.from` block, in seconds (sent as a double). */
const TASK_EVENT_TIMEOUT_S = 30;

interface InvokeOptions {
  readonly typed: boolean;
  readonly call?: CallOptions;
}

function makeTransport(kind: TransportKind, url: URL, options: ClientOptions): Transport {
  const httpOptions = {
    ...(options.allowUnauthorized === undefined ? {} : { allowUnauthorized: options.allowUnauthorized }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  };
  switch (kind) {
    case 'xml-rpc':
      return createXmlRpcTransport(url, httpOptions);
    case 'json-rpc':
      return createJsonRpcTransport(url, httpOptions);
    case 'auto':
      return createAutoTransport(url, httpOptions);
  }
}

/** The URL of the coordinator named by HOST_IS_SLAVE's parameter (an address, possibly `host:port` or a URL). */
function redirectUrl(current: URL, master: string): URL {
  if (/^https?:\/\//i.test(master)) return new URL(master);
  const next = new URL(current.href);
  const colons = master.split(':').length - 1;
  if (colons > 1 && !master.startsWith('['))
    next.hostname = `[${master}]`; // a bare IPv6 address
  else if (colons === 1 || master.startsWith('[')) next.host = master;
  else next.hostname = master;
  return next;
}

/**
 * Decodes `task.result`: an XML-RPC `<value>` string whatever the transport (ocaml/xapi/taskHelper.ml stores
 * `Xmlrpc.to_string`); text that is not XML is taken as a plain string value.
 */
async function decodeTaskResult(result: unknown, method: string): Promise<unknown> {
  if (typeof result !== 'string') return result;
  if (!result.trimStart().startsWith('<')) return result === '' ? undefined : result;
  try {
    return await decodeXmlRpcValue(result);
  } catch (err) {
    throw new XapiClientError(
      ClientErrorCode.BAD_RESPONSE,
      `task.result of ${method} is not an XML-RPC value: ${result.slice(0, 200)}`,
      { cause: err },
    );
  }
}

class Client implements XapiClient {
  readonly #options: ClientOptions;
  readonly #kind: TransportKind;
  #transport: Transport;
  #session: string | undefined;
  #loggingIn: Promise<string> | undefined;
  readonly #watchers = new Set<EventWatcher>();

  constructor(options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (err) {
      throw new XapiClientError(
        ClientErrorCode.BAD_ARGUMENT,
        `createClient: url '${options.url}' is not a URL`,
        {
          cause: err,
        },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new XapiClientError(
        ClientErrorCode.BAD_ARGUMENT,
        `createClient: url must be http: or https:, not ${url.protocol}`,
      );
    }
    const kind = options.transport ?? 'auto';
    if (!['auto', 'json-rpc', 'xml-rpc'].includes(kind)) {
      throw new XapiClientError(
        ClientErrorCode.BAD_ARGUMENT,
        `createClient: transport must be auto, json-rpc or xml-rpc, not '${kind}'`,
      );
    }
    this.#options = options;
    this.#kind = kind;
    this.#transport = makeTransport(kind, url, options);
  }

  get url(): URL {
    return new URL(this.#transport.url.href);
  }
  get sessionId(): Ref<'session'> | undefined {
    return this.#session as Ref<'session'> | undefined;
  }
  get transportKind(): 'xml-rpc' | 'json-rpc' | 'auto' {
    return this.#transport.kind;
  }

  login(): Promise<Ref<'session'>> {
    if (this.#session !== undefined) return Promise.resolve(this.#session as Ref<'session'>);
    this.#loggingIn ??= (async () => {
      try {
        const { user, password, originator } = this.#options;
        const args = originator === undefined ? [user, password] : [user, password, '1.0', originator];
        const session = await this.#invoke('session.login_with_password', args, { typed: false });
        if (typeof session !== 'string' || session === '') {
          throw new XapiClientError(
            ClientErrorCode.BAD_RESPONSE,
            `session.login_with_password returned ${JSON.stringify(session)}`,
          );
        }
        this.#session = session;
        return session;
      } finally {
        this.#loggingIn = undefined;
      }
    })();
    return this.#loggingIn as Promise<Ref<'session'>>;
  }

  async logout(): Promise<void> {
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    try {
      await this.#transport.call('session.logout', [session]);
    } catch (err) {
      // A session that already expired or was logged out elsewhere is logged out: that is what was asked.
      if (!(err instanceof XapiError && err.code === 'SESSION_INVALID')) throw err;
    }
  }

  async call<M extends MethodName>(method: M, ...args: MethodArgs<M>): Promise<MethodResult<M>> {
    return (await this.#invoke(method, args, { typed: true })) as MethodResult<M>;
  }

  callRaw(method: string, ...args: unknown[]): Promise<unknown> {
    return this.#invoke(method, args, { typed: false });
  }

  /** For the event watcher and tasks: a typed call with per-call options (signal, timeout). */
  callWith(method: string, args: readonly unknown[], options: CallOptions): Promise<unknown> {
    return this.#invoke(method, args, { typed: true, call: options });
  }

  async callAsync<M extends MethodName>(method: M, ...args: MethodArgs<M>): Promise<MethodResult<M>> {
    const spec = findMessage(method);
    const task = (await this.#invoke(`Async.${method}`, args, { typed: true })) as string;
    try {
      const record = await this.#waitForTask(task);
      if (record.status === 'success') {
        const value = await decodeTaskResult(record.result, method);
        return (spec ? decodeValue(spec.r, value) : value) as MethodResult<M>;
      }
      const info =
        Array.isArray(record.error_info) && record.error_info.length > 0 ? record.error_info : undefined;
      if (info) throw XapiError.fromDescription(info, method);
      throw new XapiError(
        record.status === 'cancelled' ? 'TASK_CANCELLED' : 'INTERNAL_ERROR',
        [task],
        method,
      );
    } finally {
      // Tasks live on in XAPI until destroyed (completed_task_timeout, 65 min): clean up like npm xen-api does.
      await this.#invoke('task.destroy', [task], { typed: false }).catch(() => undefined);
    }
  }

  /** Follows one task with event.from until it is no longer pending; returns its (normalised) record. */
  async #waitForTask(task: string): Promise<{ status?: unknown; result?: unknown; error_info?: unknown }> {
    // `task/<ref>` narrows the subscription to the one task (ocaml/xapi/xapi_event.ml); a server that does not
    // parse that form gets the whole `task` class, filtered here.
    let classes = [`task/${task}`];
    let token = '';
    const timeoutMs = Math.max(this.#options.timeoutMs ?? 60_000, TASK_EVENT_TIMEOUT_S * 1000 + 15_000);
    for (;;) {
      let batch: { events: XapiEvent[]; token: string };
      try {
        batch = (await this.callWith('event.from', [classes, token, TASK_EVENT_TIMEOUT_S], {
          timeoutMs,
        })) as typeof batch;
      } catch (err) {
        if (
          err instanceof XapiError &&
          err.code === 'EVENT_SUBSCRIPTION_PARSE_FAILURE' &&
          classes[0] !== 'task'
        ) {
          classes = ['task'];
          token = '';
          continue;
        }
        throw err;
      }
      token = batch.token;
      for (const event of batch.events) {
        if (event.ref !== task) continue;
        if (event.operation === 'del')
          throw new XapiError('HANDLE_INVALID', ['task', task], 'task.get_record');
        const record = (event.snapshot ?? {}) as { status?: unknown };
        if (record.status !== 'pending' && record.status !== 'cancelling') return record;
      }
    }
  }

  watchEvents(
    classes: readonly string[],
    onEvent: (event: XapiEvent) => void | Promise<void>,
    options: WatchOptions = {},
  ): EventWatcher {
    const watcher = createEventWatcher(
      {
        call: (method, args, callOptions) => this.callWith(method, args, callOptions),
        timeoutMs: this.#options.timeoutMs ?? 60_000,
      },
      classes,
      onEvent,
      options,
    );
    this.#watchers.add(watcher);
    void watcher.done.finally(() => this.#watchers.delete(watcher));
    return watcher;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#watchers].map((w) => w.stop()));
    try {
      await this.logout();
    } finally {
      this.#transport.close();
    }
  }

  async #invoke(method: string, args: readonly unknown[], options: InvokeOptions): Promise<unknown> {
    const isAsync = method.startsWith('Async.');
    const spec = findMessage(isAsync ? method.slice(6) : method);
    const needsSession = spec ? spec.p[0]?.[0] === 'session_id' : !method.startsWith(NO_SESSION_PREFIX);
    const paramSpecs = spec ? spec.p.slice(needsSession ? 1 : 0) : [];
    if (options.typed && spec && args.length > paramSpecs.length) {
      throw new XapiClientError(
        ClientErrorCode.BAD_ARGUMENT,
        `${method} takes ${paramSpecs.length} argument(s) (${paramSpecs.map((p) => p[0]).join(', ')}), got ${args.length}`,
      );
    }
    const encoded =
      options.typed && spec ? args.map((a, i) => encodeValue(paramSpecs[i]?.[1] ?? '', a)) : [...args];

    let reloggedIn = false;
    let redirects = 0;
    for (;;) {
      const session = needsSession ? await this.login() : undefined;
      try {
        const value = await this.#transport.call(
          method,
          session === undefined ? encoded : [session, ...encoded],
          options.call,
        );
        if (!options.typed || !spec || isAsync) return value;
        return decodeValue(spec.r, value);
      } catch (err) {
        if (!(err instanceof XapiError)) throw err;
        if (
          err.code === 'SESSION_INVALID' &&
          session !== undefined &&
          !reloggedIn &&
          method !== 'session.logout'
        ) {
          // The session expired or was logged out behind our back: log in again once and retry.
          reloggedIn = true;
          if (this.#session === session) this.#session = undefined;
          continue;
        }
        if (err.code === 'HOST_IS_SLAVE' && err.params[0]) {
          // A pool member refuses API calls and names its coordinator (xenapi/NOTES.md §1.1): move there, log in,
          // retry.
          if (++redirects > MAX_REDIRECTS) {
            throw new XapiClientError(
              ClientErrorCode.TOO_MANY_REDIRECTS,
              `HOST_IS_SLAVE redirected ${MAX_REDIRECTS} times (last: ${err.params[0]})`,
              {
                cause: err,
              },
            );
          }
          const next = redirectUrl(this.#transport.url, err.params[0]);
          this.#transport.close();
          this.#transport = makeTransport(this.#kind, next, this.#options);
          this.#session = undefined;
          continue;
        }
        throw err;
      }
    }
  }
}

/**
 * Creates a XenAPI client for a pool coordinator (or the xenlab simulator).
 * @example
 * import { createClient } from '@xenlab/toolkit/xenapi';
 * const xapi = createClient({ url: 'https://192.0.2.10', user: 'root', password: 'secret', allowUnauthorized: true });
 * const vms = await xapi.call('VM.get_all_records');
 * for (const [ref, vm] of Object.entries(vms)) if (!vm.is_a_template) console.log(ref, vm.name_label, vm.power_state);
 * const clone = await xapi.callAsync('VM.clone', someVm, 'copy of it');
 * await xapi.close();
 */
export function createClient(options: ClientOptions): XapiClient {
  return new Client(options);
}
