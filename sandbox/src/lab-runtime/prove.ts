/**
 * Proving a lab (`xenlab lab test`): in a fresh environment every check must fail, then the solve script runs,
 * then every task must be done — twice from scratch, to catch flaky checks (iximiuz vets community challenges the
 * same way: a scripted solution, run twice). Tasks are judged at the end, and also before each fault button the
 * script presses: a task passed before a machine loses power stays done, as in the learner's panel.
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxDriver } from '../drivers/types.js';
import { createLabEnvironment } from './environment.js';
import type { Lab } from '../labs/loader.js';

/** One problem found while proving a lab. */
export interface ProveProblem {
  readonly round: number;
  readonly phase: 'before' | 'solve' | 'after' | 'environment';
  readonly check?: string;
  readonly message: string;
}

/** The result of proving one lab. */
export interface ProveResult {
  readonly lab: string;
  readonly ok: boolean;
  readonly checks: number;
  readonly rounds: number;
  readonly ms: number;
  readonly problems: readonly ProveProblem[];
}

/**
 * Proves one lab in `rounds` fresh environments.
 * @example
 * const r = await proveLab(loadLab('labs/anatomy-of-a-pool'), driver);
 * if (!r.ok) console.log(r.problems);
 */
export async function proveLab(
  lab: Lab,
  driver: SandboxDriver,
  options: { rounds?: number; log?: (line: string) => void } = {},
): Promise<ProveResult> {
  const rounds = options.rounds ?? 2;
  const started = Date.now();
  const problems: ProveProblem[] = [];
  const solve = readFileSync(join(lab.dir, lab.manifest.solve), 'utf8');
  const checkCount = lab.manifest.tasks.reduce((n, t) => n + t.checks.length, 0);
  for (let round = 1; round <= rounds; round++) {
    const home = mkdtempSync(join(tmpdir(), `xenlab-labtest-${lab.id}-`));
    const learnerId = `lab-test-${String(round)}-${String(process.pid)}`;
    let env;
    const roundStarted = Date.now();
    const secs = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
    try {
      env = await createLabEnvironment({ lab, driver, learnerId, home, pollMs: 3_600_000, fast: true });
      options.log?.(`  round ${String(round)}: environment up in ${secs(roundStarted)}`);
    } catch (e) {
      problems.push({ round, phase: 'environment', message: (e as Error).message });
      rmSync(home, { recursive: true, force: true });
      continue;
    }
    try {
      // Wait for every check's result, slow ones included (a PXE boot takes minutes): the grader's passes no longer
      // wait for slow script checks by themselves (issue #12).
      const before = await env.grader.evaluate('check', true, { wait: true });
      for (const t of before.tasks)
        for (const c of t.checks)
          if (c.pass)
            problems.push({
              round,
              phase: 'before',
              check: c.id,
              message: `passes before the solve script ran: it can never fail (task ${t.id})`,
            });
      options.log?.(`  round ${String(round)}: ${String(checkCount)} checks red before solving`);
      // A line `# xenlab-lab-test: press <fault id>` is where the learner presses that fault's button: the parts of
      // the script run in turn (each its own bash) and the button is pressed between them. `# xenlab-lab-test: on
      // <node>` runs the parts after it on that node of a multi-node environment (in that node's terminal).
      let stdout = '';
      let partNo = 0;
      for (const part of solveParts(solve)) {
        if ('press' in part) {
          // A button changes the world (a machine loses power): the tasks done before it are judged before it, as
          // the learner's panel judges them while they work, and stay done (a task once passed is passed).
          await env.grader.evaluate('check', true, { wait: true });
          try {
            await env.faults.press(part.press);
            options.log?.(`  round ${String(round)}: pressed ${part.press}`);
          } catch (e) {
            problems.push({
              round,
              phase: 'solve',
              message: `pressing ${part.press}: ${(e as Error).message}`,
            });
          }
          continue;
        }
        // A part of nothing but comments (the header before the first `on` line) runs nowhere.
        if (part.script.split('\n').every((l) => /^\s*(#.*)?$/.test(l))) continue;
        const partStarted = Date.now();
        const r = await env.sandbox.exec(['bash', '-s'], {
          input: part.script,
          timeoutMs: 300_000,
          ...(part.node === undefined ? {} : { node: part.node }),
        });
        stdout += r.stdout;
        // Where a long solve spends its time (an author tuning a multi-machine lab needs it per part).
        options.log?.(
          `  round ${String(round)}: part ${String(++partNo)}${part.node === undefined ? '' : ` on ${part.node}`} ${secs(partStarted)}`,
        );
        if (r.code !== 0) {
          problems.push({
            round,
            phase: 'solve',
            message: `${lab.manifest.solve} exited ${String(r.code)}${r.timedOut ? ' (timed out)' : ''}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`,
          });
          break;
        }
      }
      for (const line of stdout.split('\n')) {
        const mm = /^ANSWER\s+(\S+)\s+(.*)$/.exec(line);
        if (!mm) continue;
        const res = await env.grader.answer(mm[1] ?? '', mm[2] ?? '');
        if (!res.correct)
          problems.push({
            round,
            phase: 'solve',
            check: mm[1] ?? '',
            message: `the solve script's answer "${mm[2] ?? ''}" is wrong`,
          });
      }
      const after = await env.grader.evaluate('check', true, { wait: true });
      for (const t of after.tasks)
        for (const c of t.checks)
          if (!c.pass && t.firstPassedAt === undefined)
            problems.push({
              round,
              phase: 'after',
              check: c.id,
              message: `still fails after the solve script: ${c.message ?? ''} (task ${t.id})`,
            });
      options.log?.(
        `  round ${String(round)}: solved, ${String(after.tasks.filter((t) => t.firstPassedAt !== undefined).length)}/${String(after.tasks.length)} tasks green (round ${secs(roundStarted)})`,
      );
    } finally {
      await env.close();
      rmSync(home, { recursive: true, force: true });
    }
  }
  return {
    lab: lab.id,
    ok: problems.length === 0,
    checks: checkCount,
    rounds,
    ms: Date.now() - started,
    problems,
  };
}

/**
 * The solve script cut at its `# xenlab-lab-test: press <fault id>` and `# xenlab-lab-test: on <node>` lines; each
 * script part carries the node it runs on (none: the environment's default).
 */
export function solveParts(solve: string): ({ script: string; node?: string } | { press: string })[] {
  const out: ({ script: string; node?: string } | { press: string })[] = [];
  let lines: string[] = [];
  let node: string | undefined;
  const flush = () => {
    out.push(node === undefined ? { script: lines.join('\n') } : { script: lines.join('\n'), node });
    lines = [];
  };
  for (const line of solve.split('\n')) {
    const m = /^#\s*xenlab-lab-test:\s*(press|on)\s+(\S+)\s*$/.exec(line);
    if (!m) lines.push(line);
    else if (m[1] === 'press') {
      flush();
      out.push({ press: m[2] ?? '' });
    } else {
      flush();
      node = m[2];
    }
  }
  flush();
  return out;
}
