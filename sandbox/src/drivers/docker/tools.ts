/**
 * The learner's tools in containers: the host's own `node` and the toolkit (`xe`, `xenlab-tools`), bound read-only
 * at /opt/xenlab, rather than baked into the image. The image stays small and needs no rebuild when the toolkit
 * changes, and `xe` in a container is the same build as on the host. It needs the engine on this host (bind
 * mounts name host paths) and an image with glibc and libstdc++ (Debian bookworm's base has both).
 * @module
 */
import { mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TOOLKIT_DIR } from '../local/learner-tools.js';

/** Where the tools appear inside containers; its `bin` goes first on the learner's PATH. */
export const TOOLS_DIR = '/opt/xenlab';
export const TOOLS_BIN = `${TOOLS_DIR}/bin`;

/** The commands, as links inside the container (they dangle on the host, on purpose). */
const LINKS: readonly (readonly [string, string])[] = [
  ['node', `${TOOLS_DIR}/node`],
  ['xe', `${TOOLS_DIR}/toolkit/bin/xe.js`],
  ['xenlab-tools', `${TOOLS_DIR}/toolkit/bin/xenlab-tools.mjs`],
];

/** A host folder of links to bind at {@link TOOLS_BIN}; the same content every time, so it can outlive gateways. */
function binFolder(): string {
  const dir = join(tmpdir(), 'xenlab-docker-bin');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, target] of LINKS) {
    const at = join(dir, name);
    let current: string | undefined;
    try {
      current = readlinkSync(at);
    } catch {
      current = undefined; // deliberate: no link yet
    }
    if (current === target) continue;
    rmSync(at, { force: true });
    symlinkSync(target, at);
  }
  return dir;
}

/** The read-only binds that give a container `node`, `xe` and `xenlab-tools`. */
export function toolBinds(toolkitDir: string = TOOLKIT_DIR): string[] {
  return [
    `${process.execPath}:${TOOLS_DIR}/node:ro`,
    `${toolkitDir}:${TOOLS_DIR}/toolkit:ro`,
    // The toolkit's dependencies: Node looks for them in /opt/xenlab/node_modules, beside toolkit/.
    `${resolve(toolkitDir, '..', 'node_modules')}:${TOOLS_DIR}/node_modules:ro`,
    `${binFolder()}:${TOOLS_BIN}:ro`,
  ];
}
