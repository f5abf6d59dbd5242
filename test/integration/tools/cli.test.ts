import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type ToolsLab } from './harness.js';

// The installed command: the bin runs the tsc output (npm test builds first: scripts/build.mjs).
const bin = fileURLToPath(new URL('../../../toolkit/bin/xenlab-tools.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../../toolkit/dist/tools/cli.js', import.meta.url));

function xenlabTools(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

let lab: ToolsLab;
beforeAll(async () => {
  if (!existsSync(built))
    throw new Error('toolkit/dist is missing: run `npx tsc -b` (npm test does) before this suite');
  lab = await startLab('cli');
});
afterAll(async () => {
  await lab.close();
});

describe('the xenlab-tools command', () => {
  it('lists the tools, and exits 2 when run without one', async () => {
    const help = await xenlabTools(['--help']);
    expect(help.code).toBe(0);
    for (const t of ['provision', 'top', 'bottleneck', 'balance', 'pxe', 'ha', 'net', 'report'])
      expect(help.stdout).toMatch(new RegExp(`\\n  ${t} +\\S`));
    const none = await xenlabTools([]);
    expect(none.code).toBe(2);
    const unknown = await xenlabTools(['provison']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'xenlab-tools: unknown tool "provison" [TOOLS_ERR_USAGE]\n  tools: provision, top, bottleneck, balance, pxe, ha, net, report\n',
    );
  });

  it('runs a tool against a pool named by the environment, with a piped stdout', async () => {
    const r = await xenlabTools(['report', '--format', 'json'], {
      XENLAB_URL: lab.sim.url,
      XENLAB_PASSWORD: 'xenlab',
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { totals: { hosts: number } }).totals.hosts).toBe(3);
    const top = await xenlabTools(['top'], { XENLAB_URL: lab.sim.url, XENLAB_PASSWORD: 'xenlab' });
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^# .* sort=cpu\nHOST /);
    expect(top.stdout).not.toContain('\x1b[');
  });
});
