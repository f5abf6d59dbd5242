/**
 * Starting and stopping a grader: the first evaluation, then the event subscription (XenAPI and temporal checks
 * re-run on every event of a class they read) and the poll; closing stops all of it.
 * @module
 */
import type { XapiEvent } from '@xenlab/toolkit/xenapi';
import type { GraderCore } from './core.js';
import { ScriptRuns } from './schedule.js';

/** An event of the learner's pool: re-evaluates (never running script checks) when a check reads its class. */
function onEvent(core: GraderCore, ev: XapiEvent, pool?: string): void {
  if (!core.pool.markChanged(ev.class, pool)) return;
  // The learner changed the pool: a script check backing off may pass now.
  core.backoff.retryNow();
  core.scheduler.kick('event', ScriptRuns.NONE);
}

/** Evaluates once, then follows events and (while a page watches) polls; resolves after the first evaluation. */
export async function start(core: GraderCore): Promise<void> {
  const { status, scheduler } = core;
  // Script checks wait for a page (the first watcher runs them); without one this spawns nothing.
  const watchedAtStart = status.watchers > 0;
  await scheduler.schedule('initial', watchedAtStart ? ScriptRuns.FORCE : ScriptRuns.NONE);
  if (status.closed) return;
  core.watcher = core.xapi.watchEvents(
    ['*'],
    (ev) => {
      onEvent(core, ev);
    },
    { timeoutS: 30, onError: () => undefined },
  );
  // The other pools that checks name (`pool:`), each through its own event stream.
  for (const name of core.pool.watchedPools()) {
    const client = core.pools.get(name);
    if (!client) continue;
    core.poolWatchers.push(
      client.watchEvents(
        ['*'],
        (ev) => {
          onEvent(core, ev, name);
        },
        { timeoutS: 30, onError: () => undefined },
      ),
    );
  }
  await Promise.all([core.watcher.ready, ...core.poolWatchers.map((w) => w.ready)]);
  // Anything that changed between the first evaluation and the watch taking hold (and the scripts, when a page
  // began watching meanwhile).
  core.pool.markAllDirty();
  scheduler.kick('event', status.watchers > 0 && !watchedAtStart ? ScriptRuns.FORCE : ScriptRuns.NONE);
  status.started = true;
  scheduler.startPolling();
}

/** Stops events and polls; script checks still running end with the sandbox, their results dropped. */
export async function close(core: GraderCore): Promise<void> {
  core.status.closed = true;
  core.scheduler.stopPolling();
  core.scripts.stopTimers();
  await core.watcher?.stop();
  await Promise.all(core.poolWatchers.map((w) => w.stop()));
  await core.scheduler.idle;
}
