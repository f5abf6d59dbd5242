/**
 * What a simulated pool needs to reach the other pools of its environment (option `crossPool` of `startSimulator`):
 * the URL it serves on (the `master` of `host.migrate_receive`'s dest map), the environment's link secret (pools of
 * one environment share it; a dest map is only followed to a pool that holds the same secret, so a learner's pool never
 * calls another learner's), and the WAN link between the pools (migration durations). Core records it per store here
 * once the server listens; behaviour/migrate-cross-pool.ts reads it.
 * @module
 */

/** The WAN link between the pools of one environment. */
export interface WanLink {
  /** One-way latency in milliseconds (default 0). */
  readonly latencyMs: number;
  /** Bandwidth in megabits per second (default 1000). */
  readonly mbps: number;
}

/** The `crossPool` option: the link secret shared by the pools of one environment, and the WAN between them. */
export interface CrossPoolOptions {
  /** A secret every pool of the environment gets (random per environment; never shown to the learner). */
  readonly link: string;
  readonly wan?: Partial<WanLink>;
}

/** A pool's cross-pool settings, as behaviours read them. */
export interface CrossPoolLink {
  /** This simulator's URL (`http://127.0.0.1:port`), once it listens. */
  readonly self: string;
  readonly link: string | undefined;
  readonly wan: WanLink;
}

const links = new WeakMap<object, CrossPoolLink>();

/** The default WAN: a gigabit LAN with no latency (two pools side by side). */
export const DEFAULT_WAN: WanLink = { latencyMs: 0, mbps: 1000 };

/** Records a pool's own URL and cross-pool settings (undefined options: no peer is ever reachable). */
export function setCrossPool(store: object, self: string, options: CrossPoolOptions | undefined): void {
  links.set(store, {
    self,
    link: options?.link,
    wan: { ...DEFAULT_WAN, ...options?.wan },
  });
}

/** A pool's cross-pool settings (its URL unknown — empty — in a simulator that does not listen: unit tests). */
export function crossPoolOf(store: object): CrossPoolLink {
  return links.get(store) ?? { self: '', link: undefined, wan: DEFAULT_WAN };
}
