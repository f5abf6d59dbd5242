/**
 * Roles, subjects and external authentication as a pool without external authentication shows them.
 *
 * Roles are static in xapi: not database rows but a table generated from the datamodel (ocaml/xapi/xapi_role.ml
 * over the generated rbac_static.ml, ocaml/idl/ocaml_backend/gen_rbac.ml). `role.get_all` lists every permission —
 * one per API message, named by its wire name in lower case (`vm.start`), uuid the MD5 of the wire name, description
 * "A basic permission", no subroles, internal — and then the seven roles of ocaml/idl/datamodel_roles.ml, whose
 * subroles are their permissions (pool-admin's uuid is fixed, Constants.rbac_pool_admin_uuid; the others are the MD5
 * of their names). Refs are `OpaqueRef:<uuid>`.
 *
 * Sessions: the only login the simulator offers is the local superuser (root), and xapi gives that session no
 * subject and no `rbac_permissions` (xapi_session.ml `login_with_password`: `~subject:Ref.null
 * ~rbac_permissions:[]`); rbac.ml never checks a local superuser's calls, so RBAC_PERMISSION_DENIED cannot happen
 * here. Other users need external authentication (Active Directory), which is off: `subject.create` and the `auth`
 * calls answer AUTH_IS_DISABLED [] (extauth.ml `call_with_exception_handler`).
 *
 * The permission table covers every message of the published datamodel (rbac-roles.ts). Left out, as the published
 * datamodel does not carry them: messages hidden from the documentation, the per-key permissions of protected map
 * keys (`vm.add_to_other_config/key:folder`…) and the `http/…` permissions of HTTP handlers; the one extra
 * permission, `task.destroy/any`, is there.
 */
import { createHash } from 'node:crypto';
import { CLASSES } from '@xenlab/toolkit/xenapi';
import type { SimBehaviour, SimContext, SimHandler, SimRecord } from '../contract.js';
import { MESSAGE_ROLES } from './rbac-roles.js';
import { arg, fail, str, strings } from './util.js';

/** The static roles in datamodel_roles.ml's order (decreasing privilege; client-cert is internal). */
const ROLES: readonly (readonly [name: string, description: string, internal: boolean])[] = [
  [
    'pool-admin',
    'The Pool Administrator role has full access to all features and settings, including accessing Dom0 and managing subjects, roles and external authentication',
    false,
  ],
  [
    'pool-operator',
    'The Pool Operator role manages host- and pool-wide resources, including setting up storage, creating resource pools and managing patches, high availability (HA) and workload balancing (WLB)',
    false,
  ],
  [
    'vm-power-admin',
    'The VM Power Administrator role has full access to VM and template management and can choose where to start VMs and use the dynamic memory control and VM snapshot features',
    false,
  ],
  ['vm-admin', 'The VM Administrator role can manage VMs and templates', false],
  ['vm-operator', 'The VM Operator role can use VMs and interact with VM consoles', false],
  [
    'client-cert',
    'The Client Certificate role has access to functionality granted to those who authenticate using a client certificate',
    true,
  ],
  ['read-only', 'The Read-Only role can log in with basic read-only access', false],
];
/** The roles that are not internal, in decreasing privilege (datamodel_roles.ml `roles_gte` walks these). */
const LADDER = ['pool-admin', 'pool-operator', 'vm-power-admin', 'vm-admin', 'vm-operator', 'read-only'];
/** Constants.rbac_pool_admin_uuid (ocaml/xapi-consts/constants.ml): the default role in subject.roles. */
const POOL_ADMIN_UUID = '0165f154-ba3e-034e-6b27-5d271af109ba';
/** Permissions not tied to a message (datamodel.ml `extra_permissions`). */
const EXTRA_PERMISSIONS: readonly (readonly [string, string])[] = [['task.destroy/any', 'pool-operator']];

/** gen_rbac.ml `hash2uuid`: the 16 bytes of the MD5 of a name, written as a uuid. */
function md5Uuid(name: string): string {
  const h = createHash('md5').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** One static role or permission. */
interface StaticRole {
  readonly ref: string;
  readonly uuid: string;
  readonly name_label: string;
  readonly name_description: string;
  readonly subroles: readonly string[];
  readonly is_internal: boolean;
}

interface RoleTable {
  /** Permissions then roles, as `role.get_all` lists them. */
  readonly all: readonly StaticRole[];
  readonly byRef: ReadonlyMap<string, StaticRole>;
  readonly byUuid: ReadonlyMap<string, StaticRole>;
  readonly byName: ReadonlyMap<string, StaticRole>;
}

let table: RoleTable | undefined;

/** The static roles and permissions, built once. */
function roles(): RoleTable {
  if (table) return table;
  const lowest = new Map<string, string>();
  for (const [group, classes] of Object.entries(MESSAGE_ROLES))
    for (const [cls, names] of Object.entries(classes))
      for (const m of names.split(' ')) lowest.set(`${cls}.${m}`, group);
  // Permission wire names with the roles (by name) that hold them.
  const perms: [string, Set<string>][] = [];
  for (const [cls, spec] of Object.entries(CLASSES)) {
    for (const m of spec.m) {
      const wire = `${cls}.${m.n}`;
      const group =
        lowest.get(wire) ?? (m.n.startsWith('get_') ? 'read-only+client-cert' : 'local-root-only');
      if (group === 'local-root-only') continue;
      const [role = '', cc] = group.split('+');
      const holders = new Set(LADDER.slice(0, LADDER.indexOf(role) + 1));
      if (cc === 'client-cert') holders.add('client-cert');
      perms.push([wire, holders]);
    }
  }
  for (const [name, role] of EXTRA_PERMISSIONS)
    perms.push([name, new Set(LADDER.slice(0, LADDER.indexOf(role) + 1))]);
  const all: StaticRole[] = perms.map(([wire]) => {
    const uuid = md5Uuid(wire);
    return {
      ref: `OpaqueRef:${uuid}`,
      uuid,
      name_label: wire.toLowerCase(),
      name_description: 'A basic permission',
      subroles: [],
      is_internal: true,
    };
  });
  const permRefs = all.map((p) => p.ref);
  for (const [name, description, internal] of ROLES) {
    const uuid = name === 'pool-admin' ? POOL_ADMIN_UUID : md5Uuid(name);
    all.push({
      ref: `OpaqueRef:${uuid}`,
      uuid,
      name_label: name,
      name_description: description,
      subroles: perms.flatMap(([, holders], i) => (holders.has(name) ? [permRefs[i] ?? ''] : [])),
      is_internal: internal,
    });
  }
  table = {
    all,
    byRef: new Map(all.map((r) => [r.ref, r])),
    byUuid: new Map(all.map((r) => [r.uuid, r])),
    byName: new Map(all.map((r) => [r.name_label, r])),
  };
  return table;
}

function record(r: StaticRole): SimRecord {
  return {
    uuid: r.uuid,
    name_label: r.name_label,
    name_description: r.name_description,
    subroles: [...r.subroles],
    is_internal: r.is_internal,
  };
}

/** A static role by ref; HANDLE_INVALID [role, ref] as the database answers for any other ref. */
function roleOf(ref: string): StaticRole {
  const r = roles().byRef.get(ref);
  if (!r) fail('HANDLE_INVALID', 'role', ref);
  return r;
}

/** xapi_role.ml `get_permissions`: the leaves under a role (a permission is its own leaf). */
function permissionsOf(r: StaticRole): StaticRole[] {
  if (r.subroles.length === 0) return [r];
  const t = roles();
  return r.subroles.map((p) => t.byRef.get(p)).filter((p): p is StaticRole => p !== undefined);
}

/** xapi_role.ml `get_by_permission_common`: roles (not the permission itself) holding a permission. */
function rolesHolding(test: (p: StaticRole) => boolean, self?: string): string[] {
  return roles()
    .all.filter((r) => r.ref !== self && permissionsOf(r).some(test))
    .map((r) => r.ref);
}

const records = (list: readonly StaticRole[]): Record<string, unknown> => {
  const out = Object.create(null) as Record<string, unknown>;
  for (const r of list) out[r.ref] = record(r);
  return out;
};

const authIsDisabled = (): never => fail('AUTH_IS_DISABLED');

const handlers: Record<string, SimHandler> = {
  'role.get_all': () => roles().all.map((r) => r.ref),
  'role.get_all_records': () => records(roles().all),
  // xapi_role.ml `get_common_where`: two expressions are understood, anything else lists everything.
  'role.get_all_records_where': (_ctx, args) => {
    const expr = arg.str(args, 0);
    const all = roles().all;
    if (expr === 'subroles<>[]') return records(all.filter((r) => r.subroles.length > 0));
    if (expr === 'subroles=[]') return records(all.filter((r) => r.subroles.length === 0));
    return records(all);
  },
  'role.get_record': (_ctx, args) => record(roleOf(arg.str(args, 0))),
  'role.get_by_uuid': (_ctx, args) => {
    const uuid = arg.str(args, 0);
    const r = roles().byUuid.get(uuid);
    if (!r) fail('UUID_INVALID', 'role', uuid);
    return r.ref;
  },
  'role.get_by_name_label': (_ctx, args) => {
    const r = roles().byName.get(arg.str(args, 0));
    return r ? [r.ref] : [];
  },
  'role.get_uuid': (_ctx, args) => roleOf(arg.str(args, 0)).uuid,
  'role.get_name_label': (_ctx, args) => roleOf(arg.str(args, 0)).name_label,
  'role.get_name_description': (_ctx, args) => roleOf(arg.str(args, 0)).name_description,
  'role.get_subroles': (_ctx, args) => [...roleOf(arg.str(args, 0)).subroles],
  'role.get_is_internal': (_ctx, args) => roleOf(arg.str(args, 0)).is_internal,
  'role.get_permissions': (_ctx, args) => permissionsOf(roleOf(arg.str(args, 0))).map((p) => p.ref),
  'role.get_permissions_name_label': (_ctx, args) =>
    permissionsOf(roleOf(arg.str(args, 0))).map((p) => p.name_label),
  'role.get_by_permission': (_ctx, args) => {
    const perm = arg.str(args, 0);
    return rolesHolding((p) => p.ref === perm, perm);
  },
  'role.get_by_permission_name_label': (_ctx, args) => {
    const label = arg.str(args, 0);
    return rolesHolding((p) => p.name_label === label, roles().byName.get(label)?.ref);
  },

  // xapi_subject.ml: a new subject must be looked up in the directory, and there is none.
  'subject.create': (ctx: SimContext, args) => {
    const rec = (args[0] ?? {}) as SimRecord;
    const id = str(rec, 'subject_identifier');
    if (ctx.store.all('subject').some(([, s]) => s.subject_identifier === id)) fail('SUBJECT_ALREADY_EXISTS');
    return authIsDisabled();
  },
  'subject.add_to_roles': (ctx, args) => {
    const role = arg.str(args, 1);
    if (!roles().byRef.has(role)) fail('ROLE_NOT_FOUND');
    const held = strings(ctx.store.get('subject', arg.str(args, 0)), 'roles');
    if (held.includes(role)) fail('ROLE_ALREADY_EXISTS');
    ctx.store.update('subject', arg.str(args, 0), { roles: [...held, role] });
  },
  'subject.remove_from_roles': (ctx, args) => {
    const self = arg.str(args, 0);
    const role = arg.str(args, 1);
    const held = strings(ctx.store.get('subject', self), 'roles');
    if (!held.includes(role)) fail('ROLE_NOT_FOUND');
    ctx.store.update('subject', self, { roles: held.filter((r) => r !== role) });
  },
  'subject.get_permissions_name_label': (ctx, args) => {
    const held = strings(ctx.store.get('subject', arg.str(args, 0)), 'roles');
    const names = new Set<string>();
    for (const r of held) {
      const role = roles().byRef.get(r);
      if (role) for (const p of permissionsOf(role)) names.add(p.name_label);
    }
    return [...names];
  },

  // Every session is the local superuser's: none belongs to an external subject (xapi_session.ml).
  'session.get_all_subject_identifiers': () => [],
  'session.logout_subject_identifier': () => undefined,

  // xapi_auth.ml: each goes to the external authentication plugin, which is disabled.
  'auth.get_subject_identifier': authIsDisabled,
  'auth.get_group_membership': authIsDisabled,
  'auth.get_subject_information_from_identifier': authIsDisabled,
};

/** The static roles, subjects and the external-authentication calls. */
export const rbacBehaviour: SimBehaviour = { handlers };

/** The static role or permission named `name` (`pool-admin`, `vm.start`), for tests and tools. */
export function staticRole(name: string): SimRecord | undefined {
  const r = roles().byName.get(name);
  return r ? { ref: r.ref, ...record(r) } : undefined;
}
