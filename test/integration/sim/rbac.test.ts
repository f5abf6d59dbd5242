/**
 * Roles and subjects on a pool without external authentication: the static roles and permissions of
 * xapi_role.ml/rbac_static.ml, the local superuser's session (no subject, no rbac_permissions), and AUTH_IS_DISABLED
 * wherever a directory would be asked.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fails, login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

const POOL_ADMIN = 'OpaqueRef:0165f154-ba3e-034e-6b27-5d271af109ba';
const ROLE_NAMES = [
  'pool-admin',
  'pool-operator',
  'vm-power-admin',
  'vm-admin',
  'vm-operator',
  'client-cert',
  'read-only',
];

interface Role {
  uuid: string;
  name_label: string;
  name_description: string;
  subroles: string[];
  is_internal: boolean;
}

let sim: RunningSimulator;
let s = '';
beforeAll(async () => {
  sim = await start();
  s = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

describe('static roles', () => {
  test('role.get_all: every permission, then the seven roles; pool-admin has the fixed uuid', async () => {
    const all = await ok<string[]>(sim.url, 'role.get_all', s);
    expect(all.length).toBeGreaterThan(1500);
    const composite = await ok<Record<string, Role>>(
      sim.url,
      'role.get_all_records_where',
      s,
      'subroles<>[]',
    );
    expect(Object.values(composite).map((r) => r.name_label)).toEqual(ROLE_NAMES);
    expect(Object.keys(composite)).toContain(POOL_ADMIN);
    expect(all.slice(-7)).toEqual(Object.keys(composite));
    const leaves = await ok<Record<string, Role>>(sim.url, 'role.get_all_records_where', s, 'subroles=[]');
    expect(Object.keys(leaves)).toHaveLength(all.length - 7);
  });

  test('role lookups by name, uuid and ref (JSON-RPC and XML-RPC)', async () => {
    expect(await ok(sim.url, 'role.get_by_name_label', s, 'pool-admin')).toEqual([POOL_ADMIN]);
    expect(await ok(sim.url, 'role.get_by_name_label', s, 'no-such-role')).toEqual([]);
    const admin = await ok<Role>(sim.url, 'role.get_record', s, POOL_ADMIN);
    expect(admin).toMatchObject({
      uuid: '0165f154-ba3e-034e-6b27-5d271af109ba',
      name_label: 'pool-admin',
      is_internal: false,
    });
    expect(admin.name_description).toMatch(/^The Pool Administrator role has full access/);
    // Permissions are named by their wire name in lower case; the uuid is the MD5 of the wire name.
    const [start] = await ok<string[]>(sim.url, 'role.get_by_name_label', s, 'vm.start');
    expect(start).toBe('OpaqueRef:24b924aa-926c-879e-d2c1-fe778e82ccee');
    expect(await ok(sim.url, 'role.get_record', s, start)).toEqual({
      uuid: '24b924aa-926c-879e-d2c1-fe778e82ccee',
      name_label: 'vm.start',
      name_description: 'A basic permission',
      subroles: [],
      is_internal: true,
    });
    expect(await ok(sim.url, 'role.get_by_uuid', s, '24b924aa-926c-879e-d2c1-fe778e82ccee')).toBe(start);
    expect(await fails(sim.url, 'role.get_by_uuid', s, 'nope')).toEqual(['UUID_INVALID', 'role', 'nope']);
    expect(await fails(sim.url, 'role.get_record', s, 'OpaqueRef:nope')).toEqual([
      'HANDLE_INVALID',
      'role',
      'OpaqueRef:nope',
    ]);
    const xml = await post(sim.url, xmlCall('role.get_name_label', v(s), v(POOL_ADMIN)));
    expect(xml.text).toContain('<name>Value</name><value>pool-admin</value>');
  });

  test('permissions per role follow the datamodel: VM.start needs vm-operator, host.call_plugin pool-admin', async () => {
    const [readOnly] = await ok<string[]>(sim.url, 'role.get_by_name_label', s, 'read-only');
    const ro = await ok<string[]>(sim.url, 'role.get_permissions_name_label', s, readOnly);
    expect(ro).toContain('vm.get_record');
    expect(ro).not.toContain('vm.start');
    const byPerm = async (name: string) =>
      Promise.all(
        (await ok<string[]>(sim.url, 'role.get_by_permission_name_label', s, name)).map((r) =>
          ok<string>(sim.url, 'role.get_name_label', s, r),
        ),
      );
    expect(await byPerm('vm.start')).toEqual([
      'pool-admin',
      'pool-operator',
      'vm-power-admin',
      'vm-admin',
      'vm-operator',
    ]);
    expect(await byPerm('host.call_plugin')).toEqual(['pool-admin']);
    expect(await byPerm('vm.get_record')).toEqual(ROLE_NAMES);
    expect(await byPerm('task.destroy/any')).toEqual(['pool-admin', 'pool-operator']);
    const admin = await ok<string[]>(sim.url, 'role.get_permissions', s, POOL_ADMIN);
    expect(admin).toHaveLength((await ok<string[]>(sim.url, 'role.get_all', s)).length - 7);
  });
});

describe('sessions and subjects without external authentication', () => {
  test("root's session: local superuser, no subject, no rbac_permissions (xapi_session.ml)", async () => {
    expect(await ok(sim.url, 'session.get_is_local_superuser', s, s)).toBe(true);
    expect(await ok(sim.url, 'session.get_subject', s, s)).toBe('OpaqueRef:NULL');
    expect(await ok(sim.url, 'session.get_rbac_permissions', s, s)).toEqual([]);
    expect(await ok(sim.url, 'session.get_all_subject_identifiers', s)).toEqual([]);
  });

  test('subject.create and auth.* answer AUTH_IS_DISABLED; subjects and roles are checked first', async () => {
    expect(await ok(sim.url, 'subject.get_all', s)).toEqual([]);
    expect(
      await fails(sim.url, 'subject.create', s, { subject_identifier: 'S-1-5-21-1', other_config: {} }),
    ).toEqual(['AUTH_IS_DISABLED']);
    expect(await fails(sim.url, 'auth.get_subject_identifier', s, 'alice')).toEqual(['AUTH_IS_DISABLED']);
    expect(await fails(sim.url, 'auth.get_group_membership', s, 'S-1-5-21-1')).toEqual(['AUTH_IS_DISABLED']);
    expect(await fails(sim.url, 'subject.add_to_roles', s, 'OpaqueRef:x', 'OpaqueRef:not-a-role')).toEqual([
      'ROLE_NOT_FOUND',
    ]);
    expect(await fails(sim.url, 'subject.add_to_roles', s, 'OpaqueRef:x', POOL_ADMIN)).toEqual([
      'HANDLE_INVALID',
      'subject',
      'OpaqueRef:x',
    ]);
  });
});
