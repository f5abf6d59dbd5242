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
 * Debian's python3-os-xenapi (OpenStack's os-xenapi) carries the XenAPI SDK module Citrix ships as XenAPI.py, here:
 * `dpkg -L python3-os-xenapi`. Ansible's community.general xenserver_* modules `import XenAPI`.
 */
export const DEBIAN_XENAPI_PY = '/usr/lib/python3/dist-packages/os_xenapi/client/XenAPI.py';

/**
 * A folder (`<bin>/python`) with just `XenAPI.py`, a link to the Debian package's module, for the learner's
 * PYTHONPATH: `import XenAPI` works in the jail (which binds the host's /usr) without putting the rest of
 * os_xenapi/client (`session`, `utils`, `exception`…) first on every Python program's path. Undefined when the
 * package is not installed (`apt-get install python3-os-xenapi`; `.ci/run` installs it).
 */
export function learnerPythonDir(bin: string, xenapiPy = DEBIAN_XENAPI_PY): string | undefined {
  const dir = join(bin, 'python');
  if (!existsSync(xenapiPy)) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  rmSync(join(dir, 'XenAPI.py'), { force: true });
  symlinkSync(xenapiPy, join(dir, 'XenAPI.py'));
  return dir;
}

/**
 * The local driver as learners get it: the toolkit and its dependencies visible read-only in the jail, and `xe`
 * and `xenlab-tools` first on PATH, and `import XenAPI` in Python (see {@link learnerPythonDir}).
 * @example
 * const driver = createLearnerLocalDriver({ toolBinDir: '.xenlab/bin' });
 */
export function createLearnerLocalDriver(
  options: LocalDriverOptions & { toolBinDir?: string } = {},
): SandboxDriver {
  const { toolBinDir, ...local } = options;
  const bin = learnerToolBin(toolBinDir);
  const python = learnerPythonDir(bin);
  return createLocalDriver({
    ...local,
    env: { ...(python === undefined ? {} : { PYTHONPATH: python }), ...local.env },
    readOnlyBinds: [
      ...(local.readOnlyBinds ?? []),
      TOOLKIT_DIR,
      resolve(TOOLKIT_DIR, '..', 'node_modules'),
      bin,
    ],
    path: [bin, ...(local.path ?? [])],
  });
}
