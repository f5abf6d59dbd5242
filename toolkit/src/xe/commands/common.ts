/**
 * Helpers shared by command implementations: parameters, booleans, object selection (`vm=`, `host=`, field filters,
 * `--multiple`), as xen-api ocaml/xapi-cli-server/cli_operations.ml does them.
 */
import { param } from '../args.js';
import type { CommandContext } from '../command-types.js';
import { CliFailure, isApiError, MultipleFailure, ParamNotFound, serverErrorLines } from '../errors.js';
import { fieldLookup, formatDate, formatFloat, RecordView, toText, type Obj, type Rec } from '../records.js';

/** Parameters every command accepts and selectors ignore (cli_operations.ml `stdparams`). */
export const STDPARAMS = [
  'server',
  'password',
  'port',
  'username',
  'minimal',
  'force',
  'multiple',
  'all',
  'message-priority',
  'trace',
];

/** The value of a parameter, if given. */
export function get(ctx: CommandContext, key: string): string | undefined {
  return param(ctx.params, key);
}

/** A parameter the command needs (the table's `reqd` is checked before the command runs; this is for the rest). */
export function need(ctx: CommandContext, key: string): string {
  const v = get(ctx, key);
  if (v === undefined) throw new ParamNotFound(key);
  return v;
}

/** record_util.ml `bool_of_string`: true/t/yes/y/1 and false/f/no/n/0, any case. */
export function parseBool(name: string, s: string): boolean {
  const l = s.toLowerCase();
  if (['true', 't', 'yes', 'y', '1'].includes(l)) return true;
  if (['false', 'f', 'no', 'n', '0'].includes(l)) return false;
  throw new CliFailure(
    `Failed to parse parameter '${name}': Expected 'true','t','yes','y','1','false','f','no','n','0' got ${s}`,
  );
}

/** A boolean parameter (`--force` arrives as `force=true`). */
export function bool(ctx: CommandContext, key: string, dflt = false): boolean {
  const v = get(ctx, key);
  return v === undefined ? dflt : parseBool(key, v);
}

/** `map-name:key=value` parameters as a map (cli_operations.ml `read_map_params`). */
export function mapParams(ctx: CommandContext, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of ctx.params) {
    if (k.startsWith(name + ':') && k.length > name.length + 1) out[k.slice(name.length + 1)] = v;
  }
  return out;
}

/** A ref from a uuid (`<Class>.get_by_uuid`: a bad uuid fails with UUID_INVALID, as in the real CLI). */
export async function refOf(ctx: CommandContext, cls: string, uuid: string): Promise<string> {
  return (await ctx.api.call(`${cls}.get_by_uuid`, uuid)) as string;
}

/** The uuid of a ref. */
export async function uuidOf(ctx: CommandContext, cls: string, ref: string): Promise<string> {
  return (await ctx.api.call(`${cls}.get_uuid`, ref)) as string;
}

/** Applies the remaining parameters as field filters (stems before `:` checked against `ignore`). */
async function filterBy(
  view: RecordView,
  objs: Obj[],
  params: readonly (readonly [string, string])[],
  ignore: readonly string[],
): Promise<Obj[]> {
  let out = objs;
  for (const [k, v] of params) {
    const stem = k.split(':')[0] ?? k;
    if (STDPARAMS.includes(stem) || ignore.includes(stem)) continue;
    out = await view.filter(out, k, v);
  }
  return out;
}

interface SelectOptions {
  readonly includeControl?: boolean;
  readonly includeTemplates?: boolean;
  /** Parameters of the command itself, not field filters. */
  readonly ignore?: readonly string[];
}

/** cli_operations.ml `select_vms`: `vm=<uuid or name-label>` plus field filters; no templates or dom0 by default. */
export async function selectVms(ctx: CommandContext, opts: SelectOptions = {}): Promise<Obj[]> {
  let params = [...ctx.params];
  if (!opts.includeTemplates) params = [['is-a-template', 'false'], ...params];
  if (!opts.includeControl) params = [['is-control-domain', 'false'], ...params];
  let objs = await ctx.db.list('VM');
  const vm = param(params, 'vm');
  if (vm !== undefined) {
    params = params.filter(([k]) => k !== 'vm');
    objs = objs.filter((o) => o.rec.uuid === vm || o.rec.name_label === vm);
  }
  return filterBy(new RecordView(ctx.db, 'vm'), objs, params, opts.ignore ?? []);
}

/** cli_operations.ml `select_hosts`: `host=<uuid, hostname or name-label>` plus field filters. */
export async function selectHosts(ctx: CommandContext, ignore: readonly string[] = []): Promise<Obj[]> {
  let params = [...ctx.params];
  let objs = await ctx.db.list('host');
  const h = param(params, 'host');
  if (h !== undefined) {
    params = params.filter(([k]) => k !== 'host');
    objs = objs.filter((o) => o.rec.uuid === h || o.rec.hostname === h || o.rec.name_label === h);
  }
  return filterBy(new RecordView(ctx.db, 'host'), objs, params, ignore);
}

/** cli_operations.ml `select_srs`: `sr=<uuid or name-label>` plus field filters. */
export async function selectSrs(ctx: CommandContext, ignore: readonly string[] = []): Promise<Obj[]> {
  let params = [...ctx.params];
  let objs = await ctx.db.list('SR');
  const s = param(params, 'sr');
  if (s !== undefined) {
    params = params.filter(([k]) => k !== 'sr');
    objs = objs.filter((o) => o.rec.uuid === s || o.rec.name_label === s);
  }
  return filterBy(new RecordView(ctx.db, 'sr'), objs, params, ignore);
}

/** How a failure on one of several objects reads in `operation failed on <uuid>: <msg>`. */
function failureText(e: unknown): string {
  if (isApiError(e)) {
    const lines = serverErrorLines(e.code, e.params);
    if (lines[0]?.startsWith('Error code: ')) return `Server_error(${e.code}, [ ${e.params.join('; ')} ])`;
    return lines.join('\n');
  }
  if (e instanceof CliFailure) return `Cli_util.Cli_failure("${e.message}")`;
  return e instanceof Error ? e.message : String(e);
}

/** cli_operations.ml `do_multiple`: run on each, collect failures, fail with all of them (newest first). */
async function doMultiple<T>(objs: Obj[], op: (o: Obj) => Promise<T>): Promise<T[]> {
  const fails: [string, string][] = [];
  const results: T[] = [];
  for (const o of objs) {
    try {
      results.push(await op(o));
    } catch (e) {
      fails.unshift([String(o.rec.uuid), failureText(e)]);
    }
  }
  if (fails.length > 0) throw new MultipleFailure(fails);
  return results;
}

/** The noun used in the "No matching …" and "Multiple matches …" sentences. */
type Noun = 'VMs' | 'hosts' | 'SRs';

async function doOp<T>(
  ctx: CommandContext,
  objs: Obj[],
  noun: Noun,
  op: (o: Obj) => Promise<T>,
  multiple: boolean,
): Promise<T[]> {
  const none = noun === 'VMs' ? 'No matching VMs found' : 'No matching hosts found'; // sic: SRs say "hosts" too
  if (objs.length === 0) throw new CliFailure(none);
  const [only] = objs;
  if (objs.length === 1 && only) return [await op(only)];
  if (multiple && bool(ctx, 'multiple')) return doMultiple(objs, op);
  const what =
    noun === 'VMs'
      ? 'Multiple matches VMs found'
      : noun === 'hosts'
        ? 'Multiple matching hosts found'
        : 'Multiple matching SRs found';
  const one = noun === 'VMs' ? 'VM' : noun === 'hosts' ? 'host' : 'SR';
  throw new CliFailure(
    multiple
      ? `${what}. --multiple required to complete the operation`
      : `${what}. Operation can only be performed on one ${one} at a time`,
  );
}

/**
 * cli_operations.ml `wrap_op`: after an operation on a VM, the VM's messages raised meanwhile with a priority
 * below `message-priority` (default 5; 1 is the most urgent) go to stderr as `Message: time=… priority=… name='…'`.
 */
async function withMessages<T>(ctx: CommandContext, vm: Obj, op: (vm: Obj) => Promise<T>): Promise<T> {
  const p = get(ctx, 'message-priority');
  const threshold = p !== undefined && /^-?\d+$/.test(p) ? Number(p) : 5;
  // Whole seconds: XAPI datetimes have no fraction, and a message raised in this second must count.
  const since = new Date(Math.floor(Date.now() / 1000) * 1000);
  const result = await op(vm);
  let messages: Record<string, Rec> = {};
  try {
    messages = (await ctx.api.call('message.get', 'VM', vm.rec.uuid, since)) as Record<string, Rec>;
  } catch {
    /* as the real CLI: no messages rather than a failure */
  }
  for (const m of Object.values(messages)) {
    const priority = Number(m.priority);
    if (priority < threshold) {
      ctx.printer.stderr(
        `Message: time=${formatDate(m.timestamp)} priority=${priority} name='${toText(m.name)}'`,
      );
    }
  }
  return result;
}

/** cli_operations.ml `do_vm_op`. */
export async function doVmOp<T>(
  ctx: CommandContext,
  op: (vm: Obj) => Promise<T>,
  opts: SelectOptions & { multiple?: boolean } = {},
): Promise<T[]> {
  return doOp(
    ctx,
    await selectVms(ctx, opts),
    'VMs',
    (vm) => withMessages(ctx, vm, op),
    opts.multiple ?? true,
  );
}

/** cli_operations.ml `do_host_op`. */
export async function doHostOp<T>(
  ctx: CommandContext,
  op: (host: Obj) => Promise<T>,
  opts: { ignore?: readonly string[]; multiple?: boolean } = {},
): Promise<T[]> {
  return doOp(ctx, await selectHosts(ctx, opts.ignore ?? []), 'hosts', op, opts.multiple ?? true);
}

/** cli_operations.ml `do_sr_op`. */
export async function doSrOp<T>(
  ctx: CommandContext,
  op: (sr: Obj) => Promise<T>,
  opts: { ignore?: readonly string[]; multiple?: boolean } = {},
): Promise<T[]> {
  return doOp(ctx, await selectSrs(ctx, opts.ignore ?? []), 'SRs', op, opts.multiple ?? true);
}

/** Prints objects as records with the given fields (all visible fields when `names` is undefined). */
export async function printRecords(
  ctx: CommandContext,
  cliClass: string,
  objs: readonly Obj[],
  names?: readonly string[],
): Promise<void> {
  const view = new RecordView(ctx.db, cliClass);
  const fields = view.rc.fields.filter(
    (f) => !(f.x?.includes('h') ?? false) && (!names || names.includes(f.n)),
  );
  const printed = await Promise.all(objs.map((o) => view.printed(o, fields, false)));
  ctx.printer.table(printed);
}

/** The field table entry of a class, for commands that read one field by name. */
export function field(cliClass: string, name: string) {
  return fieldLookup(new RecordView({} as never, cliClass).rc, name);
}

/** An object's record by ref. */
export async function recordOf(ctx: CommandContext, cls: string, ref: string): Promise<Rec> {
  return (await ctx.api.call(`${cls}.get_record`, ref)) as Rec;
}

/** A data source as `*-data-source-list` prints it (cli_operations.ml `data_source_to_kvs`). */
export function dataSourceKvs(ds: Rec): [string, string][] {
  return [
    ['name_label', toText(ds.name_label)],
    ['name_description', toText(ds.name_description)],
    ['enabled', String(ds.enabled === true)],
    ['standard', String(ds.standard === true)],
    ['min', formatFloat(ds.min)],
    ['max', formatFloat(ds.max)],
    ['units', toText(ds.units)],
  ];
}
