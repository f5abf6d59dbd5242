/**
 * The alerts xapi raises for VM operations (ocaml/xapi/message_forwarding.ml `create_vm_message`, names and
 * priorities from ocaml/xapi-consts/api_messages.ml): class VM, the VM's uuid, bodies as xapi words them; seen by
 * message.get_since / message.get and by event.from on `message`.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

interface Message {
  name: string;
  priority: number;
  cls: string;
  obj_uuid: string;
  body: string;
  timestamp: string;
}

let sim: RunningSimulator;
let s = '';
beforeAll(async () => {
  sim = await start({ seed: 'vm-messages' });
  s = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

const all = (): Promise<Record<string, Message>> =>
  ok<Record<string, Message>>(sim.url, 'message.get_since', s, '19700101T00:00:00Z');
const since = async (): Promise<Message[]> => Object.values(await all());

/** Runs `f` and returns the [name, body] of the messages it raised, oldest first. */
async function raised(f: () => Promise<unknown>): Promise<[string, string][]> {
  const before = new Set(Object.keys(await all()));
  await f();
  return Object.entries(await all())
    .filter(([ref]) => !before.has(ref))
    .map(([, m]) => [m.name, m.body]);
}

test('a fresh pool has no VM alerts; a clone and a provision raise none', async () => {
  expect((await since()).filter((m) => m.cls === 'VM')).toEqual([]);
  const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Alpine Linux 3.20');
  expect(
    await raised(async () => {
      const vm = await ok<string>(sim.url, 'VM.clone', s, tpl, 'msg-vm');
      await ok(sim.url, 'VM.provision', s, vm);
    }),
  ).toEqual([]);
});

test('every power operation raises its alert, worded as xapi words it', async () => {
  const [vm] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'msg-vm');
  const uuid = await ok<string>(sim.url, 'VM.get_uuid', s, vm);
  const hosts = await ok<Record<string, { name_label: string; uuid: string }>>(
    sim.url,
    'host.get_all_records',
    s,
  );
  const [h1, h2] = Object.entries(hosts);
  const at = (h: typeof h1) => `${h?.[1].name_label ?? ''} (uuid: ${h?.[1].uuid ?? ''})`;
  const me = `VM 'msg-vm' (uuid: ${uuid})`;
  const token = await ok<{ token: string }>(sim.url, 'event.from', s, ['message'], '', 0.1);
  expect(await raised(() => ok(sim.url, 'VM.start_on', s, vm, h1?.[0], false, false))).toEqual([
    ['VM_STARTED', `${me} started on host: ${at(h1)}`],
  ]);
  const batch = await ok<{ events: { class: string; operation: string; snapshot: Message }[] }>(
    sim.url,
    'event.from',
    s,
    ['message'],
    token.token,
    5,
  );
  expect(
    batch.events.map((e) => [e.class, e.operation, e.snapshot.name, e.snapshot.cls, e.snapshot.obj_uuid]),
  ).toEqual([['message', 'add', 'VM_STARTED', 'VM', uuid]]);
  expect(await raised(() => ok(sim.url, 'VM.pause', s, vm))).toEqual([['VM_PAUSED', `${me} paused`]]);
  expect(await raised(() => ok(sim.url, 'VM.unpause', s, vm))).toEqual([['VM_UNPAUSED', `${me} unpaused`]]);
  expect(await raised(() => ok(sim.url, 'VM.clean_reboot', s, vm))).toEqual([
    ['VM_REBOOTED', `${me} rebooted cleanly`],
  ]);
  expect(await raised(() => ok(sim.url, 'VM.hard_reboot', s, vm))).toEqual([
    ['VM_REBOOTED', `${me} rebooted forcibly`],
  ]);
  expect(await raised(() => ok(sim.url, 'VM.pool_migrate', s, vm, h2?.[0], {}))).toEqual([
    [
      'VM_MIGRATED',
      `${me} migrated from host '${h1?.[1].name_label ?? ''}' (uuid: ${h1?.[1].uuid ?? ''}) to host '${h2?.[1].name_label ?? ''}' (uuid: ${h2?.[1].uuid ?? ''})`,
    ],
  ]);
  expect(await raised(() => ok(sim.url, 'VM.suspend', s, vm))).toEqual([['VM_SUSPENDED', `${me} suspended`]]);
  const resumed = await raised(() => ok(sim.url, 'VM.resume', s, vm, false, false));
  expect(resumed).toHaveLength(1);
  expect(resumed[0]?.[0]).toBe('VM_RESUMED');
  expect(resumed[0]?.[1]).toMatch(
    new RegExp(`^${me.replace(/[()]/g, '\\$&')} resumed on host: .+ \\(uuid: [0-9a-f-]{36}\\)$`),
  );
  expect(await raised(() => ok(sim.url, 'VM.snapshot', s, vm, 'snap-1'))).toEqual([
    ['VM_SNAPSHOTTED', `${me} snapshotted, snapshot name: snap-1`],
  ]);
  expect(await raised(() => ok(sim.url, 'VM.checkpoint', s, vm, 'cp-1'))).toEqual([
    ['VM_CHECKPOINTED', `${me} checkpointed, snapshot name: cp-1`],
  ]);
  const [snap] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'snap-1');
  const snapUuid = await ok<string>(sim.url, 'VM.get_uuid', s, snap);
  // Reverting a running VM shuts it down first, through the API (its own alert).
  expect(await raised(() => ok(sim.url, 'VM.revert', s, snap))).toEqual([
    ['VM_SHUTDOWN', `${me} shutdown forcibly`],
    ['VM_SNAPSHOT_REVERTED', `${me} reverted to snapshot: snap-1 (uuid ${snapUuid})`],
  ]);
  await ok(sim.url, 'VM.start', s, vm, false, false);
  expect(await raised(() => ok(sim.url, 'VM.clean_shutdown', s, vm))).toEqual([
    ['VM_SHUTDOWN', `${me} shutdown`],
  ]);
  await ok(sim.url, 'VM.start', s, vm, false, false);
  expect(await raised(() => ok(sim.url, 'VM.hard_shutdown', s, vm))).toEqual([
    ['VM_SHUTDOWN', `${me} shutdown forcibly`],
  ]);
  // A failed operation raises nothing.
  expect(await raised(() => post(sim.url, xmlCall('VM.pause', v(s), v(vm ?? ''))))).toEqual([]);
});

test('alerts have priority 5 and class VM; message.get filters by object (XML-RPC record too)', async () => {
  const [vm] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'msg-vm');
  const uuid = await ok<string>(sim.url, 'VM.get_uuid', s, vm);
  const mine = await ok<Record<string, Message>>(sim.url, 'message.get', s, 'VM', uuid, '19700101T00:00:00Z');
  const all = Object.values(mine);
  expect(all.length).toBeGreaterThanOrEqual(14);
  expect(all.every((m) => m.priority === 5 && m.cls === 'VM' && m.obj_uuid === uuid)).toBe(true);
  const [ref] = Object.keys(mine);
  const xml = await post(sim.url, xmlCall('message.get_record', v(s), v(ref ?? '')));
  expect(xml.text).toContain('<member><name>priority</name><value>5</value></member>');
  expect(xml.text).toContain('<member><name>cls</name><value>VM</value></member>');
});
