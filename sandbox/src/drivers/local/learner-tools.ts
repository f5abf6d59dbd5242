import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SandboxDriver } from '../types.js';
import { createLocalDriver, type LocalDriverOptions } from './index.js';

/** The toolkit of this checkout (sandbox/{src,dist}/drivers/local → toolkit). */
export const TOOLKIT_DIR = resolve(
  fileURLToPath(new URL('.', import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'toolkit',
);

/** The commands learners get, by name, and the toolkit file each runs. */
const LEARNER_COMMANDS = [
  ['xe', 'xe.js'],
  ['xenlab-tools', 'xenlab-tools.mjs'],
] as const;

/**
 * A folder holding just the toolkit's commands (`xe`, `xenlab-tools`) as links, for the learner's PATH: their
 * shells get the tools without the repository's development binaries (`node_modules/.bin`).
 */
export function learnerToolBin(
  dir: string = mkdtempSync(join(tmpdir(), 'xenlab-bin-')),
  toolkitDir = TOOLKIT_DIR,
): string {
  mkdirSync(dir, { recursive: true });
  // mkdtemp makes it 0700: a jail whose learner has a host uid of its own could not reach the commands.
  chmodSync(dir, 0o755);
  for (const [name, file] of LEARNER_COMMANDS) {
    const target = resolve(toolkitDir, 'bin', file);
    rmSync(join(dir, name), { force: true });
    if (existsSync(target)) symlinkSync(target, join(dir, name));
  }
  return dir;
}

/**
 * The local driver as learners get it: the toolkit and its dependencies visible read-only in the jail, and `xe`
 * and `xenlab-tools` first on PATH.
 * @example
 * const driver = createLearnerLocalDriver({ toolBinDir: '.xenlab/bin' });
 */
export function createLearnerLocalDriver(
  options: LocalDriverOptions & { toolBinDir?: string } = {},
): SandboxDriver {
  const { toolBinDir, ...local } = options;
  const bin = learnerToolBin(toolBinDir);
  return createLocalDriver({
    ...local,
    readOnlyBinds: [
      ...(local.readOnlyBinds ?? []),
      TOOLKIT_DIR,
      resolve(TOOLKIT_DIR, '..', 'node_modules'),
      bin,
    ],
    path: [bin, ...(local.path ?? [])],
  });
}
