import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEBIAN_XENAPI_PY,
  createLearnerLocalDriver,
} from '../../../sandbox/src/drivers/local/learner-tools.js';
import type { Sandbox } from '../../../sandbox/src/drivers/types.js';
import { startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';

// The orchestration lab's Ansible modules `import XenAPI`; the module comes from Debian's python3-os-xenapi, which
// .ci/run installs. Without the package there is nothing to test here (and that lab's `lab test` fails, saying so).
const installed = existsSync(DEBIAN_XENAPI_PY);

let dir: string;
let sim: RunningSimulator | undefined;
let sandbox: Sandbox | undefined;

beforeAll(async () => {
  if (!installed) return;
  dir = mkdtempSync(join(tmpdir(), 'xenlab-py-xenapi-'));
  sim = await startSimulator({ port: 0, fast: true, password: 'py-secret' });
  const driver = createLearnerLocalDriver({ jail: 'auto', toolBinDir: join(dir, 'bin') });
  sandbox = await driver.create({
    id: 'py-xenapi',
    home: join(dir, 'home'),
    pool: { port: Number(new URL(sim.url).port), user: 'root', password: 'py-secret' },
  });
});
afterAll(async () => {
  await sandbox?.destroy();
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!installed)('Python’s XenAPI in a learner’s environment (python3-os-xenapi)', () => {
  it('imports XenAPI and logs in to the learner’s pool as the Ansible modules do', async () => {
    if (!sandbox) throw new Error('no sandbox');
    // As community.general's module_utils/xenserver.py does: a Session on the URL, login with a version and an
    // originator, then calls through session.xenapi.
    const py = [
      'import os, XenAPI',
      's = XenAPI.Session(os.environ["XENLAB_XAPI_URL"])',
      's.login_with_password(os.environ["XENLAB_XAPI_USER"], os.environ["XENLAB_XAPI_PASSWORD"], "2.14", "Ansible")',
      'x = s.xenapi',
      'print("hosts:" + ",".join(sorted(x.host.get_name_label(h) for h in x.host.get_all())))',
    ].join('\n');
    const r = await sandbox.exec(['python3', '-c', py], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^hosts:xcp-ng-01,xcp-ng-02,xcp-ng-03$/m);
  });

  it('does not put the rest of os_xenapi/client (session, utils…) first on every Python program’s path', async () => {
    if (!sandbox) throw new Error('no sandbox');
    const r = await sandbox.exec(['python3', '-c', 'import session'], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No module named 'session'/);
  });
});
