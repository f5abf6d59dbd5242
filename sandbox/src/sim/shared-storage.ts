/**
 * Storage several simulated pools can see (option `sharedStorage` of `startSimulator`): a directory where an SR's
 * replicated pool metadata (`SR.enable_database_replication`) lives, keyed by its device-config (NFS server +
 * serverpath, iSCSI target + IQN…), so another pool's `DR_task.create` on the same storage finds it. Core records
 * the directory per store here; behaviour/dr.ts reads it. Without the option, storage is private to its pool.
 * @module
 */

const dirs = new WeakMap<object, string>();
const listeners = new Set<(store: object, dir: string) => void>();

/** Records the shared-storage directory of a pool's store (undefined: the pool sees no shared storage). */
export function setSharedStorage(store: object, dir: string | undefined): void {
  if (dir === undefined) dirs.delete(store);
  else {
    dirs.set(store, dir);
    for (const fn of listeners) fn(store, dir);
  }
}

/** Calls `fn` whenever a store is given a directory (behaviour/dr.ts starts its redo log there: before any load). */
export function onSharedStorage(fn: (store: object, dir: string) => void): void {
  listeners.add(fn);
}

/** The shared-storage directory of a pool's store, if it has one. */
export function sharedStorageOf(store: object): string | undefined {
  return dirs.get(store);
}
