/**
 * The event watcher: the `event.from` loop npm xen-api and XO Lite run (xenapi/NOTES.md §1.7). The start token comes
 * from `event.inject('pool', poolRef)` so the watch begins "now" instead of replaying an `add` for every object; each
 * `event.from` blocks up to `timeoutS` seconds (sent as a double: npm xen-api notes it "must be float for XML-RPC").
 */
import { XapiError } from './errors.js';
import type { CallOptions } from './http-post.js';
import type { XapiEvent } from './types-base.js';

/**
 * Options of `XapiClient.watchEvents`.
 * @example
 * client.watchEvents(['task'], onTask, { timeoutS: 30, onError: (e) => console.warn('event loop:', e) });
 */
export interface WatchOptions {
  /** How long one `event.from` may block, in seconds (default 60). */
  readonly timeoutS?: number;
  /** Told about each error the loop recovers from (it restarts by itself), and about errors of `onEvent`. */
  readonly onError?: (error: unknown) => void;
}

/**
 * A running watcher.
 * @example
 * const w = client.watchEvents(['VM'], console.log);
 * await w.ready; // changes from now on are seen
 * await w.stop();
 */
export interface EventWatcher {
  /** Resolves once the start token is taken: changes made after this are seen. */
  readonly ready: Promise<void>;
  /** Resolves when the loop has ended (after `stop()`). */
  readonly done: Promise<void>;
  /** Stops the loop, cancelling the `event.from` in flight; resolves when it has ended. */
  stop(): Promise<void>;
}

/** What the watcher needs from the client. */
export interface WatcherHost {
  call(method: string, args: readonly unknown[], options: CallOptions): Promise<unknown>;
  readonly timeoutMs: number;
}

/** Errors after which the token is useless and a fresh one is taken (events in between are lost). */
const TOKEN_ERRORS = new Set(['EVENTS_LOST', 'EVENT_FROM_TOKEN_PARSE_FAILURE']);

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * Starts an event loop on a client. Use `XapiClient.watchEvents`.
 * @example
 * const watcher = client.watchEvents(['VM'], (ev) => console.log(ev.operation, ev.ref, ev.snapshot?.power_state));
 * await watcher.ready;
 * // … later
 * await watcher.stop();
 */
export function createEventWatcher(
  host: WatcherHost,
  classes: readonly string[],
  onEvent: (event: XapiEvent) => void | Promise<void>,
  options: WatchOptions = {},
): EventWatcher {
  const timeoutS = options.timeoutS ?? 60;
  const callTimeoutMs = Math.max(host.timeoutMs, timeoutS * 1000 + 15_000);
  const abort = new AbortController();
  const signal = abort.signal;
  // A function, not `signal.aborted` inline: the flag changes across awaits, which narrowing cannot see.
  const stopped = (): boolean => signal.aborted;
  let markReady: () => void = () => undefined;
  let failReady: (err: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  // A watcher stopped before it was ready has nothing to wait for; keep an unawaited `ready` from crashing.
  ready.catch(() => undefined);

  const report = (err: unknown): void => {
    try {
      options.onError?.(err);
    } catch {
      // An error reporter that throws must not kill the loop.
    }
  };

  const loop = async (): Promise<void> => {
    let token: string | undefined;
    let backoffMs = 100;
    while (!stopped()) {
      try {
        if (token === undefined) {
          const pools = (await host.call('pool.get_all', [], { signal })) as string[];
          const pool = pools[0];
          if (pool === undefined) throw new XapiError('HANDLE_INVALID', ['pool', ''], 'pool.get_all');
          token = (await host.call('event.inject', ['pool', pool], { signal })) as string;
          markReady();
        }
        const batch = (await host.call('event.from', [classes, token, timeoutS], {
          signal,
          timeoutMs: callTimeoutMs,
        })) as { events: XapiEvent[]; token: string };
        token = batch.token;
        backoffMs = 100;
        for (const event of batch.events) {
          if (stopped()) break;
          try {
            await onEvent(event);
          } catch (err) {
            report(err);
          }
        }
      } catch (err) {
        if (stopped()) break;
        report(err);
        // SESSION_INVALID was already retried once after a re-login by the client; the next turn logs in again.
        if (err instanceof XapiError && TOKEN_ERRORS.has(err.code)) token = undefined;
        await delay(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 5_000);
      }
    }
  };

  const done = loop().finally(() => {
    failReady(new Error('event watcher stopped before it started'));
  });

  return {
    ready,
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}
