/**
 * Progress of an environment that takes a while to create (a nested Xen host boots for a minute or two under
 * software emulation): what is starting, when it should be up, and its console from the first line. Drivers that
 * boot machines offer it ({@link BootWatchable}); the gateway shows it on the lab page instead of a blank terminal.
 * @module
 */
import type { SandboxDriver } from './types.js';

/** One thing a creation in progress reports. */
export type BootEvent =
  /** A (new) phase began: what starts, since when, and how long it is expected to take (undefined: unknown). */
  | {
      readonly kind: 'starting';
      /** The driver, when the reporter knows it (the gateway's provisioner does). */
      readonly driver?: string;
      readonly what: string;
      readonly startedAt: number;
      readonly etaMs: number | undefined;
    }
  /** Console output of a machine booting (Xen's messages, then dom0's). */
  | { readonly kind: 'console'; readonly data: Buffer }
  /** The creation finished (up, or failed: the caller hears which from `create`). */
  | { readonly kind: 'done' };

export type BootListener = (event: BootEvent) => void;

/** A driver that can tell how the creation of an environment goes. */
export interface BootWatchable {
  /**
   * Follows the creation of environment `id`, under way or still to come: what was reported so far is replayed
   * first. Returns the function that stops following.
   */
  watchBoot(id: string, listener: BootListener): () => void;
  /** How long creating an environment is expected to take now (ms), from the boots measured so far. */
  bootEstimateMs(): number | undefined;
}

/** Whether a driver reports boot progress. */
export const canWatchBoot = (driver: SandboxDriver): driver is SandboxDriver & BootWatchable =>
  typeof (driver as Partial<BootWatchable>).watchBoot === 'function';

/** Console kept per creation for late watchers (a page opened mid-boot sees the boot from its first line). */
const KEEP_BYTES = 256 * 1024;

/**
 * Boot feeds by environment id: watchers may subscribe before a creation begins (the gateway subscribes when it
 * starts provisioning; the driver begins its feed later), and late ones get the history.
 */
export class BootFeeds {
  readonly #watchers = new Map<string, Set<BootListener>>();
  readonly #feeds = new Map<string, { events: BootEvent[]; bytes: number }>();

  watch(id: string, listener: BootListener): () => void {
    let set = this.#watchers.get(id);
    if (!set) {
      set = new Set();
      this.#watchers.set(id, set);
    }
    set.add(listener);
    for (const e of this.#feeds.get(id)?.events ?? []) listener(e);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#watchers.get(id) === set) this.#watchers.delete(id);
    };
  }

  /** Whether a creation of `id` is in progress. */
  active(id: string): boolean {
    return this.#feeds.has(id);
  }

  /** A creation (or a new phase of it) begins. */
  begin(id: string, what: string, etaMs: number | undefined, startedAt = Date.now(), driver?: string): void {
    let feed = this.#feeds.get(id);
    if (!feed) {
      feed = { events: [], bytes: 0 };
      this.#feeds.set(id, feed);
    }
    this.#emit(id, feed, {
      kind: 'starting',
      what,
      startedAt,
      etaMs,
      ...(driver === undefined ? {} : { driver }),
    });
  }

  console(id: string, data: Buffer): void {
    const feed = this.#feeds.get(id);
    if (!feed) return;
    feed.bytes += data.length;
    this.#emit(id, feed, { kind: 'console', data });
    // Keep the phases, drop the oldest console output beyond the budget.
    while (feed.bytes > KEEP_BYTES) {
      const i = feed.events.findIndex((e) => e.kind === 'console');
      if (i < 0) break;
      const [gone] = feed.events.splice(i, 1);
      if (gone?.kind === 'console') feed.bytes -= gone.data.length;
    }
  }

  end(id: string): void {
    const feed = this.#feeds.get(id);
    if (!feed) return;
    this.#feeds.delete(id);
    for (const l of [...(this.#watchers.get(id) ?? [])]) l({ kind: 'done' });
  }

  #emit(id: string, feed: { events: BootEvent[] }, event: BootEvent): void {
    feed.events.push(event);
    for (const l of [...(this.#watchers.get(id) ?? [])]) l(event);
  }
}
