/** Task, message and event commands (cli_operations.ml `task_cancel`, `message_*`, `event_wait`). */
import type { CommandDef } from '../command-types.js';
import { CliFailure } from '../errors.js';
import { RecordView, type Obj, type Rec } from '../records.js';
import { get, need, refOf, STDPARAMS } from './common.js';
import { define } from './define.js';

/** The classes `event-wait` knows (cli_operations.ml `event_wait_gen`): CLI name → XenAPI class. */
const EVENT_CLASSES: Readonly<Record<string, string>> = {
  vm: 'VM',
  vdi: 'VDI',
  sr: 'SR',
  host: 'host',
  network: 'network',
  vif: 'VIF',
  pif: 'PIF',
  vbd: 'VBD',
  pbd: 'PBD',
  pool: 'pool',
  task: 'task',
};

/** How long one `event.from` blocks, as the real CLI (30 s, sent as a double). */
const EVENT_TIMEOUT_S = 30.0001;

/** The misc commands. */
export function miscCommands(): CommandDef[] {
  return [
    define('task-cancel', async (ctx) => {
      await ctx.api.call('task.cancel', await refOf(ctx, 'task', need(ctx, 'uuid')));
    }),
    define('message-create', async (ctx) => {
      const body = need(ctx, 'body');
      const p = need(ctx, 'priority');
      if (!/^-?\d+$/.test(p)) throw new CliFailure('Priority field should be an integer');
      const name = need(ctx, 'name');
      let obj: [string, string] | undefined;
      for (const [k, cls] of [
        ['vm-uuid', 'VM'],
        ['pool-uuid', 'Pool'],
        ['sr-uuid', 'SR'],
        ['host-uuid', 'Host'],
      ] as const) {
        const v = get(ctx, k);
        if (v !== undefined) {
          obj = [v, cls];
          break;
        }
      }
      if (!obj) throw new CliFailure('Need one of: vm-uuid, host-uuid, sr-uuid or pool-uuid');
      await ctx.api.call('message.create', name, Number(p), obj[1], obj[0], body);
    }),
    define('message-destroy', async (ctx) => {
      const uuid = get(ctx, 'uuid');
      const uuids = get(ctx, 'uuids');
      if (uuid !== undefined && uuids !== undefined)
        throw new CliFailure('Ambiguous arguments; need one of uuid, uuids');
      if (uuid === undefined && uuids === undefined) throw new CliFailure('Need one of uuid, uuids');
      const list = uuid !== undefined ? [uuid] : (uuids ?? '').split(',');
      const messages = await Promise.all(list.map((u) => refOf(ctx, 'message', u)));
      await ctx.api.call('message.destroy_many', messages);
    }),
    define('event-wait', async (ctx) => {
      const classname = need(ctx, 'class');
      const cls = EVENT_CLASSES[classname];
      if (cls === undefined)
        throw new CliFailure(`Cli listening for class '${classname}' not currently implemented`);
      // `key=value` must hold, `key=/=value` must not (cli_operations.ml event_wait).
      const filters = ctx.params
        .filter(([k]) => k !== 'class' && !STDPARAMS.includes(k))
        .map(([k, v]) => (v.startsWith('/=') ? { k, v: v.slice(2), eq: false } : { k, v, eq: true }));
      const view = new RecordView(ctx.db, classname);
      const matches = async (obj: Obj): Promise<boolean> => {
        for (const f of filters) {
          const field = view.rc.fields.find((x) => x.n === f.k);
          if (!field) throw new CliFailure(`key missing: ${f.k}`);
          const value = await view.safeValue(obj, field);
          if ((value === f.v) !== f.eq) return false;
        }
        return true;
      };
      const poll = async (): Promise<boolean> => {
        for (const o of await ctx.db.list(cls)) if (await matches(o)) return true;
        return false;
      };
      if (await poll()) return;
      let token = '';
      for (;;) {
        const batch = (await ctx.api.call('event.from', [cls.toLowerCase()], token, EVENT_TIMEOUT_S)) as {
          events: { ref: string; snapshot?: Rec }[];
          token: string;
        };
        token = batch.token;
        // Related objects (metrics, hosts…) may have changed too: read them afresh for this batch.
        ctx.db.invalidate();
        for (const e of batch.events) {
          if (e.snapshot === undefined) continue;
          if (await matches({ ref: e.ref, rec: e.snapshot })) return;
        }
      }
    }),
  ];
}
