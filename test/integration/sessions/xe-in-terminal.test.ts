import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import { openTerminal } from '../../helpers/terminal-client.js';

let gateway: Gateway;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-xe-term-'));
  gateway = await createGateway({
    port: 0,
    dataDir,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
  });
});
afterAll(async () => {
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('xe in a learner’s terminal', () => {
  it('reaches the learner’s own pool with no flags, and changes made there stay there', async () => {
    const a = await openTerminal(gateway.url);
    const b = await openTerminal(gateway.url);
    a.type(
      'xe host-list params=name-label --minimal; xe pool-param-set uuid=$(xe pool-list --minimal) name-label=pool-of-a; echo a-done\r',
    );
    await a.waitFor(/^a-done$/m, 20_000);
    expect(a.plain).toMatch(/^xcp-ng-01,xcp-ng-02,xcp-ng-03$/m);
    b.type('xe pool-list params=name-label --minimal; echo b-done\r');
    await b.waitFor(/^b-done$/m, 20_000);
    // b's pool is its own: a's rename did not reach it.
    expect(b.plain).toMatch(/^xenlab$/m);
    a.type('xe pool-list params=name-label --minimal; echo a-again\r');
    await a.waitFor(/^a-again$/m, 20_000);
    expect(a.plain).toMatch(/^pool-of-a$/m);
    a.close();
    b.close();
  });

  it('has xenlab-tools on PATH, pointed at the learner’s pool', async () => {
    const t = await openTerminal(gateway.url);
    t.type('xenlab-tools report --format json | grep -c xcp-ng-0; echo tools-done\r');
    await t.waitFor(/^tools-done$/m, 30_000);
    expect(t.plain).not.toMatch(/command not found|TOOLS_ERR/);
    expect(t.plain).toMatch(/^[1-9]\d*$/m);
    t.close();
  });
});
