import { expect, test } from 'vitest';
import { main } from './index.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

test('without a command it prints the command table and exits 2', async () => {
  const c = capture();
  expect(await main([], c.io)).toBe(2);
  expect(c.out.join('\n')).toMatch(/usage: xenlab <command>[\s\S]*sim\s+run a simulated XCP-ng pool/);
});

test('an unknown command is named in the error', async () => {
  const c = capture();
  expect(await main(['frobnicate'], c.io)).toBe(2);
  expect(c.err[0]).toBe("xenlab: unknown command 'frobnicate'");
});

test('sim --help shows its options', async () => {
  const c = capture();
  expect(await main(['sim', '--help'], c.io)).toBe(0);
  expect(c.out.join('\n')).toContain('--scenario FILE');
});

test('sim rejects bad options and ports with exit 2', async () => {
  const c = capture();
  expect(await main(['sim', '--bogus'], c.io)).toBe(2);
  expect(c.err[0]).toMatch(/^xenlab sim: Unknown option '--bogus'/);
  const d = capture();
  expect(await main(['sim', '--port', 'eighty'], d.io)).toBe(2);
  expect(d.err[0]).toBe("xenlab sim: --port must be a number from 0 to 65535, got 'eighty'");
});

test('sim with a missing scenario file fails with exit 1 and names the file', async () => {
  const c = capture();
  expect(await main(['sim', '--scenario', '/nonexistent/pool.yaml'], c.io)).toBe(1);
  expect(c.err[0]).toMatch(/^cannot read scenario \/nonexistent\/pool\.yaml: /);
});
