/**
 * `session.tasks`: the tasks made with a session — by `task.create` or an `Async.*` call — kept by xapi through the
 * relation task.session ↔ session.tasks (ocaml/idl/datamodel.ml `all_relations`; `task.session` is internal).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { eventually, login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let a = '';
let b = '';
beforeAll(async () => {
  sim = await start();
  a = await login(sim.url);
  b = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

test('task.create and Async.* calls add to their own session’s tasks; task.destroy removes', async () => {
  expect(await ok<string[]>(sim.url, 'session.get_tasks', a, a)).toEqual([]);
  const made = await ok<string>(sim.url, 'task.create', a, 'mine', 'made by session a');
  const [host] = await ok<string[]>(sim.url, 'host.get_all', a);
  const async = await ok<string>(sim.url, 'Async.host.compute_free_memory', a, host);
  expect(await ok<string[]>(sim.url, 'session.get_tasks', a, a)).toEqual([made, async]);
  // Another session's view of session a is the same list; its own stays empty.
  expect(await ok<string[]>(sim.url, 'session.get_tasks', b, a)).toEqual([made, async]);
  expect(await ok<string[]>(sim.url, 'session.get_tasks', b, b)).toEqual([]);
  const rec = await ok<{ tasks: string[] }>(sim.url, 'session.get_record', a, a);
  expect(rec.tasks).toEqual([made, async]);
  const xml = await post(sim.url, xmlCall('session.get_tasks', v(a), v(a)));
  expect(xml.text).toContain(`<data><value>${made}</value><value>${async}</value></data>`);
  await eventually(
    async () => (await ok<{ status: string }>(sim.url, 'task.get_record', a, async)).status === 'success',
  );
  await ok(sim.url, 'task.destroy', a, async);
  await ok(sim.url, 'task.destroy', b, made);
  expect(await ok<string[]>(sim.url, 'session.get_tasks', a, a)).toEqual([]);
});
