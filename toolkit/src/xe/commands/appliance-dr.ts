/**
 * vApp and disaster-recovery commands (cli_operations.ml `vm_appliance_*`, `dr_task_*`, `sr_*_database_replication`,
 * `vm_recover`, `vm_assert_can_be_recovered`, `with_database_vdi`): `appliance-create/destroy/start/shutdown/
 * recover/assert-can-be-recovered`, `drtask-create/destroy`, `sr-enable/disable-database-replication`,
 * `vm-recover`, `vm-assert-can-be-recovered`. `appliance-list`/`drtask-list` and their `param-*` are generated from
 * the record tables (params.ts).
 *
 * The recover commands open the database in `database:vdi-uuid=<metadata VDI>` with `VDI.open_database` and make
 * their calls with the session it returns (then log it out), as the real CLI does; those calls go over XML-RPC to
 * the same server, since the client's own calls always carry the CLI's session.
 */
import { createXmlRpcTransport } from '../../xenapi/transport-xml-rpc.js';
import type { CommandContext, CommandDef } from '../command-types.js';
import { CliFailure } from '../errors.js';
import { Db } from '../records.js';
import { bool, get, mapParams, need, refOf, uuidOf } from './common.js';
import { define } from './define.js';

/** Calls made with another session (a foreign database's). */
export interface SessionApi {
  call(method: string, ...args: unknown[]): Promise<unknown>;
}

/** An API that calls the CLI's server with `session` instead of the CLI's own. */
export function apiWithSession(ctx: CommandContext, session: string): SessionApi & { close(): void } {
  const t = createXmlRpcTransport(new URL(ctx.transfer.base), { allowUnauthorized: true });
  return {
    call: (method, ...args) => t.call(method, [session, ...args]),
    close: () => {
      t.close();
    },
  };
}

/**
 * cli_operations.ml `with_database_vdi`: opens the database of `database:vdi-uuid=`, runs `f` with its session,
 * then logs that session out.
 */
export async function withDatabaseVdi<T>(ctx: CommandContext, f: (db: SessionApi) => Promise<T>): Promise<T> {
  const uuid = mapParams(ctx, 'database')['vdi-uuid'];
  if (uuid === undefined)
    throw new CliFailure(
      "A parameter of the form 'database:vdi-uuid=<uuid>' must be specified to run this command.",
    );
  const vdi = await refOf(ctx, 'VDI', uuid);
  const session = (await ctx.api.call('VDI.open_database', vdi)) as string;
  const db = apiWithSession(ctx, session);
  try {
    return await f(db);
  } finally {
    await db.call('session.logout').catch(() => undefined);
    db.close();
  }
}

/**
 * cli_operations.ml `with_specified_database`: `<class>-list`, `-param-list` and `-param-get` with
 * `database:vdi-uuid=` read the database in that metadata VDI (e.g. `xe vm-list database:vdi-uuid=…` lists the VMs
 * a DR task can recover); without it, the pool's own.
 */
export async function withSpecifiedDatabase(
  ctx: CommandContext,
  f: (ctx: CommandContext) => Promise<void>,
): Promise<void> {
  if (mapParams(ctx, 'database')['vdi-uuid'] === undefined) {
    await f(ctx);
    return;
  }
  await withDatabaseVdi(ctx, async (api) => {
    await f({ ...ctx, api, db: new Db(api) });
  });
}

/** `<cmd> uuid=<uuid>` → `<Class>.<method>(ref)`. */
function onUuid(name: string, cls: string, method: string): CommandDef {
  return define(name, async (ctx) => {
    await ctx.api.call(method, await refOf(ctx, cls, need(ctx, 'uuid')));
  });
}

/** `vm-recover`, `appliance-recover` and their `assert-can-be-recovered`: the object looked up in the database. */
function fromDatabase(name: string, cls: string, method: string, withForce: boolean): CommandDef {
  return define(name, async (ctx) => {
    const force = withForce && bool(ctx, 'force');
    const uuid = need(ctx, 'uuid');
    await withDatabaseVdi(ctx, async (db) => {
      const self = await db.call(`${cls}.get_by_uuid`, uuid);
      if (withForce) await db.call(method, self, ctx.session, force);
      else await db.call(method, self, ctx.session);
    });
  });
}

/** The vApp and disaster-recovery commands. */
export function applianceDrCommands(): CommandDef[] {
  return [
    define('appliance-create', async (ctx) => {
      const ref = (await ctx.api.call('VM_appliance.create', {
        name_label: need(ctx, 'name-label'),
        name_description: get(ctx, 'name-description') ?? '',
      })) as string;
      ctx.printer.list([await uuidOf(ctx, 'VM_appliance', ref)]);
    }),
    onUuid('appliance-destroy', 'VM_appliance', 'VM_appliance.destroy'),
    define('appliance-start', async (ctx) => {
      const paused = bool(ctx, 'paused');
      await ctx.api.call('VM_appliance.start', await refOf(ctx, 'VM_appliance', need(ctx, 'uuid')), paused);
    }),
    define('appliance-shutdown', async (ctx) => {
      const force = bool(ctx, 'force');
      const ref = await refOf(ctx, 'VM_appliance', need(ctx, 'uuid'));
      await ctx.api.call(force ? 'VM_appliance.hard_shutdown' : 'VM_appliance.clean_shutdown', ref);
    }),
    fromDatabase('appliance-recover', 'VM_appliance', 'VM_appliance.recover', true),
    fromDatabase(
      'appliance-assert-can-be-recovered',
      'VM_appliance',
      'VM_appliance.assert_can_be_recovered',
      false,
    ),
    fromDatabase('vm-recover', 'VM', 'VM.recover', true),
    fromDatabase('vm-assert-can-be-recovered', 'VM', 'VM.assert_can_be_recovered', false),
    onUuid('sr-enable-database-replication', 'SR', 'SR.enable_database_replication'),
    onUuid('sr-disable-database-replication', 'SR', 'SR.disable_database_replication'),
    define('drtask-create', async (ctx) => {
      const whitelist = get(ctx, 'sr-whitelist');
      const task = (await ctx.api.call(
        'DR_task.create',
        need(ctx, 'type'),
        mapParams(ctx, 'device-config'),
        whitelist === undefined ? [] : whitelist.split(','),
      )) as string;
      ctx.printer.list([await uuidOf(ctx, 'DR_task', task)]);
    }),
    onUuid('drtask-destroy', 'DR_task', 'DR_task.destroy'),
  ];
}
