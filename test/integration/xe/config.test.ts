/**
 * Where `xe` finds its server and credentials, as the real thin client (newcli.ml): `~/.xe`, `XE_EXTRA_ARGS`,
 * flags, `-pwf`; and the confirmation prompt of destructive commands.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runXe, startXe, type XeHarness } from './harness.js';

let h: XeHarness;
beforeAll(async () => {
  h = await startXe({ seed: 'xe-config' });
});
afterAll(async () => {
  await h.close();
});

const hostNames = 'xcp-ng-01,xcp-ng-02,xcp-ng-03\n';

describe('connection settings', () => {
  test('a ~/.xe file alone is enough (this is how a lab terminal is set up)', async () => {
    const rc = `server=127.0.0.1\nport=${h.port}\nusername=root\npassword=xenlab\nnossl=true\n`;
    const r = await runXe(['host-list', 'params=name-label', '--minimal'], {
      env: { HOME: '/home/learner' },
      files: { '/home/learner/.xe': rc },
    });
    expect(r).toEqual({ code: 0, stdout: hostNames, stderr: '' });
  });

  test('XE_EXTRA_ARGS works without a file, and flags override both', async () => {
    const env = { HOME: '/nowhere', XE_EXTRA_ARGS: `server=127.0.0.1,port=${h.port},password=xenlab` };
    expect(await runXe(['host-list', 'params=name-label', '--minimal'], { env })).toEqual({
      code: 0,
      stdout: hostNames,
      stderr: '',
    });
    expect((await runXe(['host-list', '-pw', 'wrong'], { env })).stderr).toBe(
      "Authentication failed\nFor usage run: 'xe help'\n",
    );
  });

  test('-pwf reads the user name and password from a file', async () => {
    const files = { '/tmp/creds': 'root\nxenlab\n' };
    expect(
      await runXe(['host-list', '-p', h.port, '-pwf', '/tmp/creds', 'params=name-label', '--minimal'], {
        files,
      }),
    ).toEqual({ code: 0, stdout: hostNames, stderr: '' });
    expect(await runXe(['host-list', '-p', h.port, '-pwf', '/tmp/none'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "Error opening password file '/tmp/none'\n",
    });
    expect(
      await runXe(['host-list', '-p', h.port, '-pwf', '/tmp/one'], { files: { '/tmp/one': 'root' } }),
    ).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'Error: password file format: expecting username on the first line, password on the second line\n',
    });
  });

  test('a malformed ~/.xe is reported and ignored', async () => {
    const r = await runXe(['host-list', '-p', h.port, '-pw', 'xenlab', 'params=name-label', '--minimal'], {
      env: { HOME: '/h' },
      files: { '/h/.xe': 'this is not key=value\nbroken\n' },
    });
    expect(r).toEqual({ code: 0, stdout: hostNames, stderr: 'Error parsing rc file. No defaults loaded\n' });
  });

  test('no arguments print the usage on stderr and exit 0', async () => {
    const r = await runXe([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'A full list of commands can be obtained by running\n  xe help -s <server> -p <port>\n',
    );
  });
});

describe('confirmation prompts', () => {
  test('vm-uninstall without --force asks, and anything but "yes" aborts without an error', async () => {
    const base = ['-p', h.port, '-pw', 'xenlab'];
    const vm = (await h.ok('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=doomed')).trim();
    // The disk provisioned from the template belongs to the VM (VBD other-config:owner), so it goes too.
    const disk = (await h.ok('vdi-list', 'name-label=doomed 0', '--minimal')).trim();
    expect(disk).toMatch(/^[0-9a-f-]{36}$/);
    const no = await runXe([...base, 'vm-uninstall', `uuid=${vm}`], { input: 'no\n' });
    expect(no.code).toBe(0);
    expect(no.stdout).toMatch(
      new RegExp(
        `^The following items are about to be destroyed\nVM : ${vm} \\(doomed\\)\nVDI: ${disk} \\(doomed 0\\) \nType 'yes' to continue\nAborted \\(you typed: 'no'\\)\n$`,
      ),
    );
    expect(await h.ok('vm-list', `uuid=${vm}`, '--minimal')).toBe(`${vm}\n`);
    const yes = await runXe([...base, 'vm-uninstall', `uuid=${vm}`], { input: 'yes\n' });
    expect(yes.stdout.endsWith("Type 'yes' to continue\nAll objects destroyed\n")).toBe(true);
    expect(await h.ok('vm-list', `uuid=${vm}`, '--minimal')).toBe('\n');
    expect(await h.ok('vdi-list', `uuid=${disk}`, '--minimal')).toBe('\n');
  });
});
