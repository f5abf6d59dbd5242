/** `xe event-wait` blocks until a record of the class matches every condition (`key=value`, `key=/=value`). */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startXe, type XeHarness } from './harness.js';

let h: XeHarness;
beforeAll(async () => {
  h = await startXe({ seed: 'xe-event-wait' });
});
afterAll(async () => {
  await h.close();
});

test('event-wait returns only after the VM reaches the awaited power state', async () => {
  const vm = (await h.ok('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=waiter')).trim();
  let settled = false;
  const waiting = h.xe('event-wait', 'class=vm', `uuid=${vm}`, 'power-state=running').then((r) => {
    settled = true;
    return r;
  });
  // Other commands complete while the wait is still blocked in event.from.
  await h.ok('vm-list', `uuid=${vm}`);
  await h.ok('vm-param-set', `uuid=${vm}`, 'name-description=still halted');
  expect(settled).toBe(false);
  await h.ok('vm-start', `uuid=${vm}`);
  expect(await waiting).toEqual({ code: 0, stdout: '', stderr: '' });
});

test('"/=" waits for a field to differ; an unknown field is reported', async () => {
  expect(await h.xe('event-wait', 'class=host', 'name-label=xcp-ng-01', 'enabled=/=false')).toEqual({
    code: 0,
    stdout: '',
    stderr: '',
  });
  expect(await h.xe('event-wait', 'class=vm', 'colour=blue')).toEqual({
    code: 1,
    stdout: '',
    stderr: 'Error: key missing: colour\n',
  });
  expect((await h.xe('event-wait', 'class=bogus')).stderr).toBe(
    "Error: Cli listening for class 'bogus' not currently implemented\n",
  );
});
