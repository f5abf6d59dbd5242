/**
 * The commands `xe` generates for every class (cli_operations.ml `make_param_funs` / `gen_cmds`):
 * `<class>-list`, `-param-list`, `-param-get`, `-param-set`, `-param-add`, `-param-remove`, `-param-clear`.
 */
import type { CommandContext, CommandDef } from '../command-types.js';
import { CliFailure } from '../errors.js';
import {
  fieldLookup,
  fieldType,
  isHidden,
  parseValue,
  recordClass,
  RecordView,
  wireSpelling,
  type Obj,
} from '../records.js';
import type { RecordField } from '../record-types.js';
import { withSpecifiedDatabase } from './appliance-dr.js';
import { bool, get, need, STDPARAMS } from './common.js';

/** One generated class: CLI name, XenAPI class, default filters and the `-list` default columns. */
interface ClassDef {
  readonly name: string;
  readonly cls: string;
  readonly filters: readonly (readonly [string, string])[];
  readonly columns: readonly string[];
}

// cli_operations.ml gen_cmds, in its order.
const CLASS_DEFS: readonly ClassDef[] = [
  {
    name: 'pool',
    cls: 'pool',
    filters: [],
    columns: ['uuid', 'name-label', 'name-description', 'master', 'default-SR'],
  },
  {
    name: 'pif',
    cls: 'PIF',
    filters: [],
    columns: ['uuid', 'device', 'VLAN', 'MAC', 'network-uuid', 'currently-attached', 'host-uuid'],
  },
  { name: 'bond', cls: 'Bond', filters: [], columns: ['uuid', 'master', 'slaves'] },
  { name: 'vlan', cls: 'VLAN', filters: [], columns: ['uuid', 'tagged-PIF', 'untagged-PIF', 'tag'] },
  { name: 'tunnel', cls: 'tunnel', filters: [], columns: ['uuid', 'transport-PIF', 'access-PIF', 'status'] },
  { name: 'vif', cls: 'VIF', filters: [], columns: ['uuid', 'device', 'vm-uuid', 'network-uuid'] },
  {
    name: 'network',
    cls: 'network',
    filters: [],
    columns: ['uuid', 'name-label', 'name-description', 'bridge'],
  },
  {
    name: 'console',
    cls: 'console',
    filters: [],
    columns: ['uuid', 'vm-uuid', 'vm-name-label', 'protocol', 'location'],
  },
  {
    name: 'vm',
    cls: 'VM',
    filters: [['is-a-template', 'false']],
    columns: ['name-label', 'uuid', 'power-state'],
  },
  {
    name: 'template',
    cls: 'VM',
    filters: [
      ['is-a-template', 'true'],
      ['is-a-snapshot', 'false'],
    ],
    columns: ['name-label', 'name-description', 'uuid'],
  },
  {
    name: 'snapshot',
    cls: 'VM',
    filters: [['is-a-snapshot', 'true']],
    // sic: records.ml has no snapshot_of / snapshot_time fields (they are hyphenated), so those two never show.
    columns: ['name-label', 'name-description', 'uuid', 'snapshot_of', 'snapshot_time', 'is-vmss-snapshot'],
  },
  { name: 'host', cls: 'host', filters: [], columns: ['uuid', 'name-label', 'name-description'] },
  {
    name: 'host-cpu',
    cls: 'host_cpu',
    filters: [],
    columns: ['uuid', 'number', 'vendor', 'speed', 'utilisation'],
  },
  {
    name: 'vdi',
    cls: 'VDI',
    filters: [],
    columns: ['uuid', 'name-label', 'name-description', 'virtual-size', 'read-only', 'sharable', 'sr-uuid'],
  },
  {
    name: 'vbd',
    cls: 'VBD',
    filters: [],
    columns: ['uuid', 'vm-uuid', 'vm-name-label', 'vdi-uuid', 'device', 'empty'],
  },
  {
    name: 'sr',
    cls: 'SR',
    filters: [],
    columns: ['uuid', 'name-label', 'name-description', 'host', 'type', 'content-type'],
  },
  {
    name: 'sm',
    cls: 'SM',
    filters: [],
    columns: ['uuid', 'type', 'name-label', 'name-description', 'vendor', 'copyright', 'configuration'],
  },
  {
    name: 'pbd',
    cls: 'PBD',
    filters: [],
    columns: ['uuid', 'host-uuid', 'sr-uuid', 'device-config', 'currently-attached'],
  },
  {
    name: 'task',
    cls: 'task',
    filters: [],
    columns: ['uuid', 'name-label', 'name-description', 'status', 'progress'],
  },
  { name: 'message', cls: 'message', filters: [], columns: [] },
  { name: 'appliance', cls: 'VM_appliance', filters: [], columns: [] },
  { name: 'drtask', cls: 'DR_task', filters: [], columns: [] },
];

const has = (f: RecordField, flag: string) => f.x?.includes(flag) ?? false;

/** `params=a,b` / `params=all` / the class default (cli_operations.ml `choose_params`). */
function chooseParams(ctx: CommandContext, defaults: readonly string[]): readonly string[] {
  const ps = get(ctx, 'params');
  if (ps === undefined) return defaults;
  return ps === 'all' ? [] : ps.split(',');
}

async function getObj(ctx: CommandContext, def: ClassDef): Promise<Obj> {
  return ctx.db.byUuid(def.cls, need(ctx, 'uuid'));
}

/** Calls a wire writer on an object: `Class.method(self, ...args)`. */
async function write(ctx: CommandContext, method: string, obj: Obj, ...args: unknown[]): Promise<void> {
  await ctx.api.call(method, obj.ref, ...args);
}

function listCmd(def: ClassDef): (ctx: CommandContext) => Promise<void> {
  return (outer) =>
    withSpecifiedDatabase(outer, async (ctx) => {
      const view = new RecordView(ctx.db, def.name);
      const all = await ctx.db.list(def.cls);
      const filters = [
        ...def.filters,
        ...ctx.params.filter(([k]) => k !== 'params' && !STDPARAMS.includes(k) && !k.startsWith('database:')),
      ];
      let objs = all;
      for (const [k, v] of filters) objs = await view.filter(objs, k, v);
      if (bool(ctx, 'all')) objs = all;
      const wanted = chooseParams(ctx, def.columns);
      const fields = view.rc.fields.filter(
        (f) => (wanted.length === 0 || wanted.includes(f.n)) && !isHidden(f),
      );
      ctx.printer.table(await Promise.all(objs.map((o) => view.printed(o, fields, true))));
    });
}

function paramListCmd(def: ClassDef): (ctx: CommandContext) => Promise<void> {
  return (outer) =>
    withSpecifiedDatabase(outer, async (ctx) => {
      const view = new RecordView(ctx.db, def.name);
      const obj = await getObj(ctx, def);
      const fields = view.rc.fields.filter((f) => !isHidden(f));
      ctx.printer.table([await view.printed(obj, fields, false)]);
    });
}

function paramGetCmd(def: ClassDef): (ctx: CommandContext) => Promise<void> {
  return (outer) =>
    withSpecifiedDatabase(outer, async (ctx) => {
      const view = new RecordView(ctx.db, def.name);
      const obj = await getObj(ctx, def);
      const f = fieldLookup(view.rc, need(ctx, 'param-name'));
      const key = get(ctx, 'param-key');
      if (key !== undefined && has(f, 'M')) {
        const hit = (await view.mapOf(obj, f)).find(([k]) => k === key);
        if (!hit) throw new CliFailure(`Key ${key} not found in map`);
        ctx.printer.list([hit[1]]);
        return;
      }
      ctx.printer.list([await view.safeValue(obj, f)]);
    });
}

function paramSetCmd(def: ClassDef): (ctx: CommandContext) => Promise<void> {
  return async (ctx) => {
    const view = new RecordView(ctx.db, def.name);
    const obj = await getObj(ctx, def);
    const rc = view.rc;
    for (const [k, v] of ctx.params) {
      if (k === 'uuid' || STDPARAMS.includes(k)) continue;
      const type = fieldType(rc, k);
      if (type.kind === 'map') {
        const f = fieldLookup(rc, type.field);
        const key = k.slice(type.field.length + 1);
        if (f.wi !== undefined) await write(ctx, f.wi, obj, key, v);
        else {
          if (f.wa === undefined) throw new CliFailure(`Map field '${type.field}' is read-only.`);
          const current = await view.mapOf(obj, f);
          if (current.some(([mk]) => mk === key) && f.wr !== undefined) await write(ctx, f.wr, obj, key);
          await write(ctx, f.wa, obj, key, v);
        }
      } else if (type.kind === 'set') {
        throw new CliFailure('Cannot param-set on set fields');
      } else {
        const f = fieldLookup(rc, k);
        if (f.ws === undefined) {
          throw new CliFailure(
            has(f, 'A')
              ? `Field '${k}' is a map or set. use the 'name:key=value' syntax.`
              : `Field '${k}' is read-only.`,
          );
        }
        const typed = wireSpelling(def.name, f.n, v);
        await write(ctx, f.ws, obj, await parseValue(ctx.db, k, f.wst ?? 'string', typed));
      }
    }
  };
}

function paramAddCmd(def: ClassDef): (ctx: CommandContext) => Promise<void> {
  return async (ctx) => {
    const view = new RecordView(ctx.db, def.name);
    const obj = await getObj(ctx, def);
    const f = fieldLookup(view.rc, need(ctx, 'param-name'));
    if (has(f, 'a') && f.wa !== undefined) {
      const key = get(ctx, 'param-key');
      if (key === undefined) {
        throw new CliFailure(
          'When adding a key to a set, use the syntax: *-param-add param-name=<name> param-key=<key>',
        );
      }
      await write(ctx, f.wa, obj, key);
    } else if (has(f, 'A') && f.wa !== undefined) {
      const skip = ['uuid', 'param-name', 'param-key', ...STDPARAMS];
      for (const [k, v] of ctx.params) if (!skip.includes(k)) await write(ctx, f.wa, obj, k, v);
    } else if (has(f, 'S') || has(f, 'M')) {
      throw new CliFailure('Parameter is read-only');
    } else {
      throw new CliFailure('Can only add to parameters of type Set or Map');
    }
  };
}

function paramRemoveCmd(def: ClassDef): (ctx: CommandContext) => Promise<void> {
  return async (ctx) => {
    const view = new RecordView(ctx.db, def.name);
    const obj = await getObj(ctx, def);
    const f = fieldLookup(view.rc, need(ctx, 'param-name'));
    const key = need(ctx, 'param-key');
    if (has(f, 'S') && f.wr !== undefined) {
      if (!(await view.setOf(obj, f)).includes(key)) throw new CliFailure(`Key ${key} is not in the set`);
      await write(ctx, f.wr, obj, key);
    } else if (has(f, 'M') && f.wr !== undefined) {
      if (!(await view.mapOf(obj, f)).some(([k]) => k === key))
        throw new CliFailure(`Key ${key} is not in map`);
      await write(ctx, f.wr, obj, key);
    } else if (has(f, 'S') || has(f, 'M')) {
      throw new CliFailure('Cannot remove parameters from read-only map');
    } else {
      throw new CliFailure('Can only remove from parameters of type Set or Map');
    }
  };
}

function paramClearCmd(def: ClassDef): (ctx: CommandContext) => Promise<void> {
  return async (ctx) => {
    const view = new RecordView(ctx.db, def.name);
    const obj = await getObj(ctx, def);
    const f = fieldLookup(view.rc, need(ctx, 'param-name'));
    if (has(f, 'S') && f.wr !== undefined) {
      for (const item of await view.setOf(obj, f)) await write(ctx, f.wr, obj, item);
    } else if (has(f, 'M') && f.wr !== undefined) {
      for (const [k] of await view.mapOf(obj, f)) await write(ctx, f.wr, obj, k);
    } else if (f.ws !== undefined) {
      try {
        await write(ctx, f.ws, obj, await parseValue(ctx.db, f.n, f.wst ?? 'string', ''));
      } catch {
        throw new CliFailure('Cannot clear this parameter');
      }
    } else {
      throw new CliFailure('Can only clear RW parameters');
    }
  };
}

/** The generated commands of every class, with the help and parameter lists `gen_frontend` gives them. */
export function classCommands(): CommandDef[] {
  const out: CommandDef[] = [];
  for (const def of CLASS_DEFS) {
    const all = recordClass(def.name).fields.filter((f) => !isHidden(f));
    const names = all.map((f) => f.n);
    const settable = [
      ...all.filter((f) => has(f, 's')).map((f) => f.n),
      ...all.filter((f) => has(f, 'A') || has(f, 'm')).map((f) => f.n + ':'),
    ];
    const addable = all.filter((f) => has(f, 'a') || has(f, 'A')).map((f) => f.n);
    const clearable = all.filter((f) => has(f, 's') || has(f, 'S') || has(f, 'M')).map((f) => f.n);
    const setFilters = all.filter((f) => has(f, 'S')).map((f) => f.n + ':contains');
    const plural = `${def.name}s`;
    const cmd = (n: string) => `${def.name}-${n}`;
    const standard = def.name === 'vm' || def.name === 'network' || def.name === 'sr';
    if (settable.length > 0) {
      out.push({
        name: cmd('param-set'),
        reqd: ['uuid'],
        optn: settable,
        help: "Sets the parameter specified. If param-value is not given, the parameter is set to a null value. To set a (key,value) pair in a map parameter, use the syntax 'map-param:key=value'.",
        flags: [],
        run: paramSetCmd(def),
      });
    }
    out.push(
      {
        name: cmd('list'),
        reqd: [],
        optn: ['params', 'database:', ...names, ...setFilters],
        help: `Lists all the ${plural}, filtering on the optional arguments. To filter on map parameters, use the syntax 'map-param:key=value'`,
        flags: standard ? ['standard'] : [],
        run: listCmd(def),
      },
      {
        name: cmd('param-list'),
        reqd: ['uuid'],
        optn: ['database:'],
        help: 'Lists all the parameters of the object specified by the uuid.',
        flags: [],
        run: paramListCmd(def),
      },
      {
        name: cmd('param-get'),
        reqd: ['uuid', 'param-name'],
        optn: ['param-key', 'database:'],
        help: "Gets the parameter specified of the object. If the parameter is a map of key=value pairs, use 'param-key=<key>' to get the value associated with a particular key.",
        flags: [],
        run: paramGetCmd(def),
      },
    );
    if (addable.length > 0) {
      out.push(
        {
          name: cmd('param-add'),
          reqd: ['uuid', 'param-name'],
          optn: ['param-key'],
          help: "Adds to a set or map parameter. If the parameter is a set, use param-key=<key to add>. If the parameter is a map, pass the values to add as 'key=value' pairs.",
          flags: [],
          run: paramAddCmd(def),
        },
        {
          name: cmd('param-remove'),
          reqd: ['uuid', 'param-name', 'param-key'],
          optn: [],
          help: 'Removes a member or a key,value pair from a set/map respectively.',
          flags: [],
          run: paramRemoveCmd(def),
        },
      );
    }
    if (clearable.length > 0) {
      out.push({
        name: cmd('param-clear'),
        reqd: ['uuid', 'param-name'],
        optn: [],
        help: `Clears the specified parameter (param-name can be ${clearable.join(',')}).`,
        flags: [],
        run: paramClearCmd(def),
      });
    }
  }
  return out;
}
