import { expect, test } from 'vitest';
import { XapiFailure } from './contract.js';

/** The XapiFailure `fn` throws, as plain data. */
function failureOf(fn: () => unknown): { code: string; params?: readonly string[] } {
  try {
    fn();
  } catch (e) {
    if (e instanceof XapiFailure) return { code: e.code, params: e.params };
    throw e;
  }
  throw new Error('expected an XapiFailure');
}
import { Store } from './store.js';
import { seededRandom, uuidFrom } from './random.js';

const makeStore = () => {
  const r = seededRandom('store-test');
  return new Store(() => uuidFrom(r));
};

test('inverse relations follow the forward ref: create, move, destroy', () => {
  const s = makeStore();
  const sr1 = s.create('SR', { name_label: 'a' });
  const sr2 = s.create('SR', { name_label: 'b' });
  const vdi = s.create('VDI', { SR: sr1 });
  expect(s.get('SR', sr1).VDIs).toEqual([vdi]);
  s.update('VDI', vdi, { SR: sr2 });
  expect(s.get('SR', sr1).VDIs).toEqual([]);
  expect(s.get('SR', sr2).VDIs).toEqual([vdi]);
  s.destroy('VDI', vdi);
  expect(s.get('SR', sr2).VDIs).toEqual([]);
});

test('changes coalesce per object and report add/mod/del relative to the token', () => {
  const s = makeStore();
  const net = s.create('network', { name_label: 'n' });
  const other = s.create('network', { name_label: 'o' });
  const t = s.generation;
  s.update('network', net, { name_label: 'x' });
  s.update('network', net, { name_label: 'y' });
  s.destroy('network', other);
  const ephemeral = s.create('network', { name_label: 'e' });
  s.destroy('network', ephemeral); // created and destroyed after the token: not reported
  const all = () => true;
  expect(s.changesSince(t, all).map((c) => [c.ref, c.operation])).toEqual([
    [net, 'mod'],
    [other, 'del'],
  ]);
  expect(s.changesSince(0, all).find((c) => c.ref === net)?.operation).toBe('add');
  expect(s.changesSince(s.generation, all)).toEqual([]);
});

test('stale refs and uuids raise HANDLE_INVALID and UUID_INVALID with the class', () => {
  const s = makeStore();
  expect(failureOf(() => s.get('VM', 'OpaqueRef:x'))).toEqual({
    code: 'HANDLE_INVALID',
    params: ['VM', 'OpaqueRef:x'],
  });
  expect(failureOf(() => s.byUuid('VM', 'u'))).toEqual({ code: 'UUID_INVALID', params: ['VM', 'u'] });
});

test('records get every field with its datamodel default; unknown fields are ignored', () => {
  const s = makeStore();
  const vm = s.get('VM', s.create('VM', { name_label: 'v', nonsense: 1 }));
  expect(vm.power_state).toBe('Halted');
  expect(vm.resident_on).toBe('OpaqueRef:NULL');
  expect(vm.other_config).toEqual({});
  expect(vm).not.toHaveProperty('nonsense');
});

test('dump and load round-trip dates and emit events for what changed', () => {
  const s = makeStore();
  const t = s.create('task', { created: new Date(Date.UTC(2025, 0, 1)) });
  const dump = JSON.parse(JSON.stringify(s.dump())) as ReturnType<Store['dump']>;
  s.destroy('task', t);
  const gen = s.generation;
  s.load(dump);
  expect((s.get('task', t).created as Date).toISOString()).toBe('2025-01-01T00:00:00.000Z');
  expect(s.changesSince(gen, () => true).map((c) => c.operation)).toContain('add');
});

test('a saved pool keeps a map key named __proto__ as data (a learner may set one), and pollutes nothing', () => {
  const s = makeStore();
  // A null-prototype map (as the codec builds them) with an own key `__proto__` (JSON.parse makes one).
  const other = Object.assign(
    Object.create(null) as Record<string, string>,
    JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>,
  );
  const net = s.create('network', { name_label: 'n', other_config: other });
  const saved = JSON.parse(JSON.stringify(s.dumpObject('network', net))) as Record<string, unknown>;
  expect(Object.keys(saved.other_config as object)).toEqual(['__proto__', 'a']);
  const dump = JSON.parse(JSON.stringify(s.dump())) as ReturnType<Store['dump']>;
  s.load(dump);
  expect({ ...(s.get('network', net).other_config as object) }).toEqual(other);
  expect(({} as Record<string, unknown>).a).toBeUndefined();
});
