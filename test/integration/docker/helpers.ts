import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectEngine, pingEngine, removeLabelled } from '../../../sandbox/src/drivers/docker/client.js';
import { buildImages, labImageCurrent } from '../../../sandbox/src/drivers/docker/image.js';

/** The engine the tests use: the local socket (CI starts dockerd in .ci/run). */
export const docker = connectEngine();

/** A label unique to one test file's run: every object it makes carries it, and `cleanup` removes by it. */
export function runLabel(): { key: string; value: string; filter: string } {
  const value = randomBytes(4).toString('hex');
  return { key: 'xenlab.test', value, filter: `xenlab.test=${value}` };
}

/** Removes everything a test file made. */
export async function cleanup(label: { filter: string }): Promise<void> {
  await removeLabelled(docker, label.filter);
}

/**
 * Makes sure the lab image exists (CI builds it once in .ci/run; this covers a developer's first run). Test files
 * run in parallel, so one builds while the others wait on a lock directory.
 */
export async function ensureImage(): Promise<void> {
  // No engine: fail with the driver's own clear message (SANDBOX_ERR_NO_ENGINE), not a socket error.
  await pingEngine(docker);
  if (await labImageCurrent(docker)) return;
  const lock = join(tmpdir(), 'xenlab-image-build.lock');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than the longest build is left over from a killed run.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 600_000) rmdirSync(lock);
      if (Date.now() > deadline)
        throw new Error('timed out waiting for another test file to build the lab image');
      await new Promise((r) => setTimeout(r, 1000));
      if (await labImageCurrent(docker)) return;
    }
  }
  try {
    if (!(await labImageCurrent(docker))) await buildImages(docker);
  } finally {
    rmdirSync(lock);
  }
}

/** Polls `f` until it returns a value (not undefined) or the deadline passes. */
export async function until<T>(
  f: () => Promise<T | undefined> | T | undefined,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Collects a terminal's output as text (escape sequences left in). */
export function collect(term: { onData(l: (d: Buffer) => void): void }): { text: () => string } {
  let text = '';
  term.onData((d) => {
    text += d.toString('utf8');
    if (text.length > 2_000_000) text = text.slice(-500_000);
  });
  return { text: () => text };
}
