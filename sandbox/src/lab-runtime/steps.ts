/**
 * Reset to the start of a task, and skip ahead (issue #16): a room that must finish.
 *
 * Checkpoints: when a fresh environment comes up (setup done, setup faults played) the start of the first task is
 * saved, and each time a task passes (first, or again after a reset) the start of the next one: the learner's pool
 * (the simulator's whole state, from its control API) and their files (the driver's `Sandbox.snapshot`: a copy of
 * the home on `local`, a tarball of each node's home on `docker`). Kept in the gateway's database
 * (`lab_checkpoints`, one row per learner × lab × task, the pool as JSON, the files' snapshot handle), so they
 * outlive a gateway restart; without a database (`lab test`, tests) in memory.
 *
 * Reset to task N restores N's checkpoint — files first (the driver ends the environment's processes: the
 * learner's shells start again), then the pool (clients see the changes as events) — rewinds the faults fired since
 * (they may fire again), drops the checkpoints of later tasks, and has the grader reopen tasks N and later (their
 * passes and points cleared for the panel; the instructor's history keeps the first pass and the best points).
 *
 * Skip to task N applies the solutions of the open tasks before it, in order: the ```sh blocks of each task's
 * `solution` and its `file=` blocks (```js file=~/list-vms.mjs: saved there), rendered with the learner's
 * parameters, run as the learner in their home (as `lab test` runs solve.sh) — an `until=stopped` block (a watcher)
 * started, not waited for, and stopped once its task is graded (until-stopped.ts); the task is marked skipped first
 * (its pass earns nothing, its questions count as skipped, not answered), then graded; a solution that fails, or
 * leaves the task failing, stops the skip with the end of its output (`LAB_ERR_SKIP_FAILED`), the task open again.
 *
 * qemu-xen labs: the driver can save whole machines (RAM and devices), but doing it at every task pass would pause
 * a nested Xen host for seconds and cost a machine's memory in disk per task per learner, so no checkpoints are
 * taken there and reset is off (the panel says why). Skip works on every driver.
 * @module
 */
import { existsSync, rmSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { ExecResult, Sandbox, SandboxSnapshot } from '../drivers/types.js';
import { XenlabError } from '../errors/index.js';
import type { Grader } from '../grading/engine.js';
import type { Lab } from '../labs/loader.js';
import { render, type Params } from '../labs/params.js';
import { isShellBlock, solutionBlocks } from '../labs/solution-blocks.js';
import { moduleLogger } from '../log/index.js';
import type { LabView, StepsView, Trigger } from '../protocol/lab.js';
import { callControl } from '../sim/index.js';
import { migrate } from '../store/index.js';
import type { FaultPlayer } from './faults.js';
import { SETTLE_MS, startUntilStopped, type RunningBlock } from './until-stopped.js';

const log = moduleLogger('lab-runtime');

/** One saved start of a task. */
export interface Checkpoint {
  /** The task it is the start of. */
  readonly task: string;
  /** The simulator's whole state (a store dump), as JSON. */
  readonly pool: string;
  /** The driver's snapshot of the learner's files. */
  readonly files: SandboxSnapshot;
  /** When it was taken (ms since epoch). */
  readonly at: number;
}

const MIGRATIONS = [
  `CREATE TABLE lab_checkpoints (
     learner TEXT NOT NULL, lab TEXT NOT NULL, task TEXT NOT NULL,
     pool TEXT NOT NULL, files TEXT NOT NULL, at INTEGER NOT NULL,
     PRIMARY KEY (learner, lab, task)
   );`,
];

/** Where one learner × lab's checkpoints are kept (memory only without a database). */
export class CheckpointStore {
  readonly #db: Database.Database | undefined;
  readonly #learner: string;
  readonly #lab: string;
  readonly #memory = new Map<string, Checkpoint>();

  constructor(db: Database.Database | undefined, learner: string, lab: string) {
    this.#db = db;
    this.#learner = learner;
    this.#lab = lab;
    if (db) migrate(db, 'lab-checkpoints', MIGRATIONS);
  }

  get(task: string): Checkpoint | undefined {
    const db = this.#db;
    if (!db) return this.#memory.get(task);
    const r = db
      .prepare('SELECT pool, files, at FROM lab_checkpoints WHERE learner = ? AND lab = ? AND task = ?')
      .get(this.#learner, this.#lab, task) as { pool: string; files: string; at: number } | undefined;
    return r && { task, pool: r.pool, files: JSON.parse(r.files) as SandboxSnapshot, at: r.at };
  }

  /** Ids of the tasks with a checkpoint. */
  tasks(): string[] {
    const db = this.#db;
    if (!db) return [...this.#memory.keys()];
    return (
      db
        .prepare('SELECT task FROM lab_checkpoints WHERE learner = ? AND lab = ?')
        .all(this.#learner, this.#lab) as {
        task: string;
      }[]
    ).map((r) => r.task);
  }

  /** Keeps `cp`, replacing (and deleting the files of) an older one of the same task. */
  put(cp: Checkpoint): void {
    const old = this.get(cp.task);
    if (this.#db)
      this.#db
        .prepare(
          `INSERT INTO lab_checkpoints (learner, lab, task, pool, files, at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (learner, lab, task) DO UPDATE SET pool = excluded.pool, files = excluded.files, at = excluded.at`,
        )
        .run(this.#learner, this.#lab, cp.task, cp.pool, JSON.stringify(cp.files), cp.at);
    else this.#memory.set(cp.task, cp);
    if (old && old.files.ref !== cp.files.ref) dropFiles(old.files);
  }

  /** Deletes the checkpoints of these tasks (and their files). */
  drop(tasks: readonly string[]): void {
    for (const task of tasks) {
      const old = this.get(task);
      if (!old) continue;
      if (this.#db)
        this.#db
          .prepare('DELETE FROM lab_checkpoints WHERE learner = ? AND lab = ? AND task = ?')
          .run(this.#learner, this.#lab, task);
      else this.#memory.delete(task);
      dropFiles(old.files);
    }
  }
}

/** Deletes a snapshot's folder (local and docker keep one per snapshot, made by the driver). */
function dropFiles(s: SandboxSnapshot): void {
  try {
    if ((s.driver === 'local' || s.driver === 'docker') && existsSync(s.ref))
      rmSync(s.ref, { recursive: true, force: true });
  } catch (err) {
    log.warn('deleting an old checkpoint of the files failed', { ref: s.ref, err });
  }
}

/** One thing Skip runs of a solution: a shell script, on the machine of a terminal, to its end or started only. */
export interface SolutionScript {
  readonly script: string;
  /** The terminal it is for (its machine); the lab's first when absent. */
  readonly terminal?: string;
  /** ```` ```sh until=stopped ````: started, not waited for (see {@link startUntilStopped}). */
  readonly untilStopped?: true;
}

/** A heredoc that writes `body` to `file` (in the home), with a delimiter that is no line of it. */
function writeFileScript(file: string, body: string): string {
  let end = 'XENLAB_FILE_END';
  while (body.split('\n').includes(end)) end += '_';
  // `file` is checked by the loader (solution-blocks.ts): a path in the home the shell neither splits nor expands
  // beyond its leading ~.
  return `mkdir -p "$(dirname ${file})"\ncat > ${file} <<'${end}'\n${body}${end}\n`;
}

/**
 * What Skip runs of a solution (`labs/solution-blocks.ts`), in order: its shell blocks, and its `file=` blocks as
 * scripts that write the file (```` ```js file=~/list-vms.mjs ````: the learner saves it, then the next block runs
 * it). Consecutive ones for the same terminal are joined (one bash each: what one block sets, the next may use),
 * except a block that runs `until=stopped`, which stands alone. Blocks that name no terminal are for the first.
 */
export function solutionScripts(markdown: string): SolutionScript[] {
  const out: { script: string; terminal?: string; untilStopped?: true }[] = [];
  for (const b of solutionBlocks(markdown)) {
    const script = isShellBlock(b)
      ? b.body
      : b.file !== undefined
        ? writeFileScript(b.file, b.body)
        : undefined;
    if (script === undefined) continue;
    const last = out.at(-1);
    if (last && last.terminal === b.terminal && !last.untilStopped && !b.untilStopped)
      last.script += `\n${script}`;
    else
      out.push({
        script,
        ...(b.terminal === undefined ? {} : { terminal: b.terminal }),
        ...(b.untilStopped ? { untilStopped: true as const } : {}),
      });
  }
  return out;
}

/** The last lines of a command's output, for the panel. */
function tail(text: string, lines = 12): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** Options of {@link createLabSteps}. */
export interface LabStepsOptions {
  readonly lab: Lab;
  readonly params: Params;
  readonly sandbox: Sandbox;
  /** The simulator's control API. */
  readonly sim: { readonly controlUrl: string; readonly controlToken: string };
  readonly faults: FaultPlayer;
  readonly store: CheckpointStore;
  /** Why resets are off for this lab (its driver), when they are. */
  readonly resetUnavailable?: string;
}

/** Reset and skip of one lab environment (what the lab channel calls). */
export interface LabSteps {
  view(): StepsView;
  reset(task: string): Promise<void>;
  skip(task: string): Promise<void>;
  onChange(listener: (trigger: Trigger) => void): () => void;
  /** Saves the start of `task` now (the first task's, as a fresh environment comes up). */
  checkpoint(task: string): Promise<void>;
  /** Follows the grader: the start of the next task is saved each time a task passes. */
  follow(grader: Grader): void;
  close(): void;
}

/** A request the steps refused or could not carry out; `code` is stable (the page gets it). */
export class StepError extends XenlabError {
  constructor(
    code: 'LAB_ERR_RESET_UNAVAILABLE' | 'LAB_ERR_SKIP_FAILED' | 'LAB_ERR_STEP_BUSY' | 'LAB_ERR_UNKNOWN_TASK',
    message: string,
  ) {
    super(code, message, { codeInMessage: false });
  }
}

/**
 * Creates the reset and skip of a lab environment.
 * @example
 * const steps = createLabSteps({ lab, params, sandbox, sim, faults, store: new CheckpointStore(db, learnerId, lab.id) });
 * if (fresh) await steps.checkpoint(lab.manifest.tasks[0].id);
 * steps.follow(grader);
 */
export function createLabSteps(options: LabStepsOptions): LabSteps {
  const { lab, params, sandbox, sim, faults, store } = options;
  const tasks = lab.manifest.tasks;
  const listeners = new Set<(trigger: Trigger) => void>();
  let busy: 'reset' | 'skip' | undefined;
  let grader: Grader | undefined;
  let unfollow: (() => void) | undefined;
  let passed = new Set<string>();
  let closed = false;
  /** Checkpoints are taken one at a time. */
  let queue: Promise<unknown> = Promise.resolve();

  const changed = (trigger: Trigger) => {
    for (const l of listeners) {
      try {
        l(trigger);
      } catch (err) {
        log.warn('a steps listener failed', { lab: lab.id, err });
      }
    }
  };

  const take = async (task: string): Promise<void> => {
    if (options.resetUnavailable !== undefined || closed) return;
    const state = await callControl(sim, 'state');
    if (state.status !== 200)
      throw new Error(`the pool's state could not be read: ${state.body.message ?? String(state.status)}`);
    const files = await sandbox.snapshot();
    store.put({ task, pool: JSON.stringify(state.body), files, at: Date.now() });
  };
  const checkpoint = (task: string): Promise<void> => {
    const next = queue.then(() => take(task));
    queue = next.catch((err: unknown) => {
      log.warn('saving the start of a task failed: it cannot be reset to', { lab: lab.id, task, err });
    });
    return next;
  };

  const passedIn = (view: LabView) =>
    new Set(view.tasks.filter((t) => t.firstPassedAt !== undefined).map((t) => t.id));

  /** A task passed (outside a reset or skip, which save what they need): its next task's start is saved. */
  const onView = (view: LabView) => {
    const now = passedIn(view);
    const fresh = [...now].filter((id) => !passed.has(id));
    passed = now;
    if (busy !== undefined) return;
    for (const id of fresh) {
      const next = tasks[tasks.findIndex((t) => t.id === id) + 1];
      if (next)
        void checkpoint(next.id)
          .then(() => {
            changed('event');
          })
          .catch(() => undefined);
    }
  };

  const indexOf = (task: string): number => {
    const i = tasks.findIndex((t) => t.id === task);
    if (i < 0) throw new StepError('LAB_ERR_UNKNOWN_TASK', `this lab has no task "${task}"`);
    return i;
  };

  /** Runs `fn` as the one reset or skip of this environment. */
  const exclusive = async (kind: 'reset' | 'skip', fn: (g: Grader) => Promise<void>): Promise<void> => {
    if (!grader || closed) throw new StepError('LAB_ERR_STEP_BUSY', 'the lab is not ready yet: try again');
    if (busy !== undefined)
      throw new StepError('LAB_ERR_STEP_BUSY', `a ${busy} is running already: wait for it to finish`);
    busy = kind;
    changed(kind);
    try {
      await queue;
      await fn(grader);
    } finally {
      busy = undefined;
      passed = passedIn(grader.view());
      changed(kind);
    }
  };

  /** Runs a task's solution scripts in order; a block that runs until stopped is started and left in `running`. */
  const applyScripts = async (
    id: string,
    title: string,
    scripts: readonly SolutionScript[],
    running: RunningBlock[],
  ): Promise<void> => {
    const fail = (r: ExecResult) => {
      grader?.skip(id, false);
      return new StepError(
        'LAB_ERR_SKIP_FAILED',
        `the solution of "${title}" could not be applied (exit ${String(r.code)}${r.timedOut ? ', timed out' : ''}); the tasks before it are skipped:\n${tail(`${r.stdout}\n${r.stderr}`)}`,
      );
    };
    for (const { script, terminal, untilStopped } of scripts) {
      // A block for a named terminal runs on that terminal's machine, as the learner would type it there.
      const node = lab.manifest.environment.terminals.find((x) => x.name === terminal)?.node;
      if (untilStopped) {
        const started = await startUntilStopped(sandbox, script, node);
        if ('stop' in started) running.push(started);
        else if (started.ended.code !== 0) throw fail(started.ended);
        continue;
      }
      const r = await sandbox.exec(['bash', '-s'], {
        input: `set -euo pipefail\ncd\n${script}\n`,
        timeoutMs: 300_000,
        ...(node === undefined ? {} : { node }),
      });
      if (r.code !== 0) throw fail(r);
    }
  };

  /**
   * Grades task `i` after its solution was applied; throws when it fails. While a block started until stopped still
   * runs (a watcher whose output a check reads), the task has {@link SETTLE_MS} to turn green: that output may lag.
   */
  const passes = async (
    i: number,
    id: string,
    title: string,
    scripts: number,
    live: boolean,
  ): Promise<void> => {
    const g = grader;
    if (!g) return;
    const deadline = Date.now() + (live ? SETTLE_MS : 0);
    let after = (await g.evaluate('skip', true, { wait: true })).tasks[i];
    while (!after?.pass && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = (await g.evaluate('skip', true, { wait: true })).tasks[i];
    }
    if (after?.pass) return;
    g.skip(id, false);
    const why = (after?.checks ?? [])
      .filter((c) => !c.pass)
      .map((c) => c.message ?? c.id)
      .join('; ');
    throw new StepError(
      'LAB_ERR_SKIP_FAILED',
      `${scripts === 0 ? `"${title}" has no solution to apply (no shell block, no file= block)` : `the solution of "${title}" was applied`} but the task still fails${why ? `: ${why}` : ''}`,
    );
  };

  return {
    view() {
      const saved = new Set(options.resetUnavailable === undefined ? store.tasks() : []);
      return {
        resettable: tasks.filter((t) => saved.has(t.id)).map((t) => t.id),
        ...(options.resetUnavailable === undefined ? {} : { resetUnavailable: options.resetUnavailable }),
        ...(busy === undefined ? {} : { busy }),
      };
    },

    reset(task) {
      const i = indexOf(task);
      return exclusive('reset', async (g) => {
        if (options.resetUnavailable !== undefined)
          throw new StepError('LAB_ERR_RESET_UNAVAILABLE', options.resetUnavailable);
        const cp = store.get(task);
        if (!cp)
          throw new StepError(
            'LAB_ERR_RESET_UNAVAILABLE',
            `the start of "${render(tasks[i]?.title ?? task, params)}" was not saved (the task before it has not passed since resets exist), so it cannot be reset to`,
          );
        await sandbox.restore(cp.files);
        const r = await callControl(sim, 'restore', { state: JSON.parse(cp.pool) as unknown });
        if (r.status !== 200)
          throw new StepError(
            'LAB_ERR_RESET_UNAVAILABLE',
            `the pool could not be restored: ${r.body.message ?? String(r.status)}`,
          );
        await faults.rewind(cp.at);
        store.drop(tasks.slice(i + 1).map((t) => t.id));
        await g.reopen(task);
      });
    },

    skip(task) {
      const target = indexOf(task);
      return exclusive('skip', async (g) => {
        for (let i = 0; i < target; i++) {
          const t = tasks[i];
          if (!t) continue;
          const tv = g.view().tasks[i];
          if (tv?.firstPassedAt !== undefined) continue; // done already (passed or skipped)
          const title = render(t.title, params);
          g.skip(t.id, true);
          const scripts = t.solution === undefined ? [] : solutionScripts(render(t.solution, params));
          const running: RunningBlock[] = [];
          // A watcher Skip started has done its part once the task is graded (what it wrote is in the files).
          const stopAll = async () => {
            const ended: string[] = [];
            for (const r of running) {
              const res = await r.stop().catch(() => undefined);
              // The keeper exits 0 when stopped: anything else is the block's own failure, said with the skip's.
              if (res && res.code !== 0)
                ended.push(
                  `a block that runs until stopped ended (exit ${String(res.code)}):\n${tail(res.stdout)}`,
                );
            }
            return ended;
          };
          try {
            await applyScripts(t.id, title, scripts, running);
            await passes(i, t.id, title, scripts.length, running.length > 0);
          } catch (err) {
            const ended = await stopAll();
            if (err instanceof StepError && ended.length > 0)
              throw new StepError('LAB_ERR_SKIP_FAILED', [err.message, ...ended].join('\n'));
            throw err;
          }
          await stopAll();
          const next = tasks[i + 1];
          if (next) await checkpoint(next.id).catch(() => undefined);
        }
      });
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    checkpoint,

    follow(g) {
      grader = g;
      passed = passedIn(g.view());
      unfollow = g.onChange((view) => {
        onView(view);
      });
    },

    close() {
      closed = true;
      unfollow?.();
      unfollow = undefined;
    },
  };
}
