/**
 * A solution block that runs until stopped (```` ```sh until=stopped ````: a watcher, an event loop), as Skip runs
 * it: started in the learner's environment, waited for only until it has started — its first output, or
 * {@link SETTLE_MS} — and stopped once Skip is done with its task. Waiting for its end would hold Skip for the
 * exec's whole time limit and then fail it.
 *
 * The block runs under a small bash that keeps it in its own process group (`set -m`: a pipeline such as
 * `node watch.mjs | tee events.log` is stopped whole) and writes its output to a folder in the home, which other
 * execs on the same machine see (the local jail's /tmp is its own per exec): `out` says it has started, `stop`
 * tells the keeper to end it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ExecResult, Sandbox } from '../drivers/types.js';

/** How long Skip waits for a block that runs until stopped to print its first output before going on. */
export const SETTLE_MS = 10_000;
/** How often it looks. */
const POLL_MS = 200;
/** The longest such a block may run (Skip stops it far sooner: when its task has been graded). */
const LIMIT_MS = 300_000;

/**
 * The keeper: $1 is the folder (in the home), the block comes on standard input. It exits with the block's status
 * when the block ends by itself, 0 when stopped; either way it prints the block's output and removes the folder.
 */
const KEEPER = `set -u
cd || exit 1
d=$1
mkdir -p "$d" && cat > "$d/run.sh" || exit 1
set -m
(cd && exec bash -euo pipefail "$d/run.sh") > "$d/out" 2>&1 < /dev/null &
job=$!
while kill -0 "$job" 2>/dev/null && [ ! -e "$d/stop" ]; do sleep 0.2; done
if [ -e "$d/stop" ]; then
  kill -TERM -- "-$job" 2>/dev/null
  wait "$job"
  code=0
else
  wait "$job"
  code=$?
fi
cat "$d/out"
rm -rf "$d"
exit "$code"
`;

/** A block started by {@link startUntilStopped}. */
export interface RunningBlock {
  /** Ends the block (if it still runs) and resolves with what it did. */
  stop(): Promise<ExecResult>;
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Starts `script` in the learner's home on `node` and resolves once it has printed something or
 * {@link SETTLE_MS} passed — or with its result, when it ended before that (a block that fails at once).
 * @example
 * const r = await startUntilStopped(sandbox, 'node ~/watch.mjs | tee ~/events.log');
 * if ('stop' in r) { …; await r.stop(); }
 */
export async function startUntilStopped(
  sandbox: Sandbox,
  script: string,
  node?: string,
  settleMs = SETTLE_MS,
): Promise<RunningBlock | { readonly ended: ExecResult }> {
  const dir = `.xenlab-until-stopped-${randomBytes(6).toString('hex')}`;
  const on = node === undefined ? {} : { node };
  let ended: ExecResult | undefined;
  const run = sandbox.exec(['bash', '-c', KEEPER, 'xenlab-until-stopped', dir], {
    input: script,
    timeoutMs: LIMIT_MS,
    ...on,
  });
  const finished = run.then((r) => (ended = r));
  const deadline = Date.now() + settleMs;
  while (ended === undefined && Date.now() < deadline) {
    const started = await sandbox.exec(['bash', '-c', 'cd && test -s "$1/out"', 'xenlab-started', dir], {
      timeoutMs: 10_000,
      ...on,
    });
    if (started.code === 0) break;
    await Promise.race([sleep(POLL_MS), finished]);
  }
  if (ended !== undefined) return { ended };
  return {
    async stop() {
      // The folder may not exist yet on a machine so slow the keeper has not begun: made here, the keeper sees `stop`.
      await sandbox.exec(['bash', '-c', 'cd && mkdir -p "$1" && touch "$1/stop"', 'xenlab-stop', dir], {
        timeoutMs: 10_000,
        ...on,
      });
      const r = await finished;
      // The keeper removes it; but it may have ended on its own just before `stop` made it again.
      await sandbox.exec(['bash', '-c', 'cd && rm -rf "$1"', 'xenlab-clean', dir], {
        timeoutMs: 10_000,
        ...on,
      });
      return r;
    },
  };
}
