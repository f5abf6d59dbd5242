/**
 * The parts of one grader wired together: progress (and its history), the pool's records, the backoff, the script
 * checks in flight, the scheduler, the view publisher and the answer limit, with the flags they share.
 * @module
 */
import type { XapiClient } from '@xenlab/toolkit/xenapi';
import type { Lab } from '../labs/loader.js';
import type { Params } from '../labs/params.js';
import type { LabView } from '../protocol/lab.js';
import { AnswerLimiter } from './answer-limit.js';
import type { GraderOptions } from './api.js';
import { Backoff } from './backoff.js';
import { evaluatePass, settle } from './evaluate.js';
import { PoolMirror } from './pool.js';
import { Progress } from './progress.js';
import { Scheduler, type GraderStatus } from './schedule.js';
import { ScriptRunner } from './scripts.js';
import { ViewPublisher, labView, type ViewSource } from './view.js';

/** Default interval of the short poll. */
const POLL_MS = 2000;

/** One grader's state and parts. */
export interface GraderCore {
  readonly lab: Lab;
  readonly params: Params;
  readonly xapi: XapiClient;
  readonly status: GraderStatus;
  readonly progress: Progress;
  readonly pool: PoolMirror;
  readonly backoff: Backoff;
  readonly scripts: ScriptRunner;
  readonly scheduler: Scheduler;
  readonly views: ViewPublisher;
  readonly answerLimit: AnswerLimiter;
  /** What views are made of. */
  readonly source: ViewSource;
  /** The learner's view now. */
  readonly view: () => LabView;
  /** The event subscription, once started. */
  watcher: ReturnType<XapiClient['watchEvents']> | undefined;
  /** The other pools' event subscriptions (checks with `pool:`), once started. */
  poolWatchers: ReturnType<XapiClient['watchEvents']>[];
  /** The other pools' clients (GraderOptions.pools). */
  readonly pools: ReadonlyMap<string, XapiClient>;
}

/** Builds the parts of a grader (nothing runs until it starts). */
export function createCore(options: GraderOptions): GraderCore {
  const { lab, params, xapi, sandbox } = options;
  const status: GraderStatus = {
    closed: false,
    started: false,
    watchers: 0,
    evaluations: 0,
    lastError: undefined,
  };
  const progress = new Progress(lab, params, options.db, options.learnerId);
  const pool = new PoolMirror(xapi, progress.tasks, options.pools, options.firstPool);
  const backoff = new Backoff(options.pollMs ?? POLL_MS, options.retryCapMs);
  const source: ViewSource = { lab, params, progress, pendingSince: (id) => scripts.pendingSince(id) };
  const view = (): LabView => labView(source);
  const views = new ViewPublisher(view);
  const scripts = new ScriptRunner(sandbox, progress, backoff, options.pendingAfterMs, {
    closed: () => status.closed,
    settle: (trigger, at) => {
      settle(progress, views, trigger, at);
    },
    publish: (trigger, at) => {
      views.publish(trigger, at);
    },
    errored: (message) => {
      status.lastError = message;
    },
  });
  const core: GraderCore = {
    lab,
    params,
    xapi,
    status,
    progress,
    pool,
    backoff,
    scripts,
    scheduler: new Scheduler(status, backoff, pool, (trigger, runs) => evaluatePass(core, trigger, runs)),
    views,
    answerLimit: new AnswerLimiter(options.answerLimit),
    source,
    view,
    watcher: undefined,
    poolWatchers: [],
    pools: options.pools ?? new Map(),
  };
  return core;
}
