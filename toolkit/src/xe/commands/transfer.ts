/**
 * `vm-export`, `vm-import`, `vdi-export`, `vdi-import` (xen-api ocaml/xapi-cli-server/cli_operations.ml
 * `export_common`, `vm_import`, `vdi_export`, `vdi_import`; cli_util.ml `track_http_operation`): each makes a task,
 * moves the file over the server's HTTP endpoints (`/export`, `/export_metadata`, `/import`, `/export_raw_vdi`,
 * `/import_raw_vdi`) with `session_id` and `task_id` in the query, then waits for the task and reports what it says.
 */
import type { CommandContext, CommandDef } from '../command-types.js';
import { CliFailure, ExitWithError } from '../errors.js';
import type { Obj } from '../records.js';
import { bool, doVmOp, get, mapParams, need, refOf } from './common.js';
import { define } from './define.js';

type Rec = Record<string, unknown>;

/** An API error to report as the server's (`Api_errors.Server_error`). */
function serverError(code: string, params: readonly string[]): Error {
  return Object.assign(new Error(code), { code, params });
}

async function taskRecord(ctx: CommandContext, task: string): Promise<Rec> {
  return (await ctx.api.call('task.get_record', task)) as Rec;
}

/**
 * Waits for the task to leave `pending` (cli_util.ml `wait_for_task_completion`). When the transfer failed and the
 * handler never took the task over (progress still -1: it sets 0 first), the task is marked failed instead, as
 * cli_operations.ml `download_file` does, rather than waiting for ever.
 */
async function waitTask(ctx: CommandContext, task: string, transferred: boolean): Promise<Rec> {
  for (;;) {
    const rec = await taskRecord(ctx, task);
    if (rec.status !== 'pending') return rec;
    if (!transferred && Number(rec.progress) < 0) {
      await ctx.api.call('task.set_status', task, 'failure');
      return taskRecord(ctx, task);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function errorInfo(rec: Rec): string[] {
  return Array.isArray(rec.error_info) ? (rec.error_info as unknown[]).map(String) : [];
}

/** A task the command makes (destroyed at the end) or the one `task-uuid=` names (left to its owner). */
async function withTask<T>(
  ctx: CommandContext,
  label: string,
  description: string,
  body: (task: string) => Promise<T>,
): Promise<T> {
  const given = get(ctx, 'task-uuid');
  const task =
    given === undefined
      ? ((await ctx.api.call('task.create', label, description)) as string)
      : await refOf(ctx, 'task', given);
  try {
    return await body(task);
  } finally {
    if (given === undefined) await ctx.api.call('task.destroy', task).catch(() => undefined);
  }
}

/**
 * A problem on this side (newcli.ml `ClientSideError`: the file to read is missing, the file to write exists): the
 * thin client prints it and exits 1 at once, without waiting for the server.
 */
function clientSide(ctx: CommandContext, message: string | undefined): void {
  if (message === undefined) return;
  ctx.printer.stderr(`Operation failed. Error: ${message}`);
  throw new ExitWithError(1);
}

/**
 * cli_util.ml `track_http_operation`: one transfer under a task; the task's result when it succeeded, else its
 * error (`CLIENT_ERROR` when the transfer failed and the task says nothing).
 */
async function trackHttp(
  ctx: CommandContext,
  label: string,
  transfer: (task: string) => Promise<{ ok: boolean; clientError?: string }>,
): Promise<string> {
  return withTask(ctx, label, '', async (task) => {
    const outcome = await transfer(task);
    clientSide(ctx, outcome.clientError);
    const rec = await waitTask(ctx, task, outcome.ok);
    const err = errorInfo(rec);
    if (outcome.ok && rec.status === 'success') return typeof rec.result === 'string' ? rec.result : '';
    const [code = outcome.ok ? 'INTERNAL_ERROR' : 'CLIENT_ERROR', ...params] = err;
    throw serverError(code, params);
  });
}

/** cli_operations.ml `export_common`: one VM to `filename` (`filename2`, `filename3`… for the next ones). */
async function exportOne(
  ctx: CommandContext,
  vm: Obj,
  filename: string,
  counter: { n: number },
): Promise<void> {
  const metadata = bool(ctx, 'metadata');
  const snapshots = bool(ctx, 'include-snapshots');
  const compress = get(ctx, 'compress');
  const algorithm =
    compress === 'true' || compress === 'gzip' ? 'gzip' : compress === 'zstd' ? 'zstd' : 'false';
  const preserve = bool(ctx, 'preserve-power-state');
  const [uri, extra] = metadata
    ? ['/export_metadata', `&excluded_device_types=${get(ctx, 'excluded-device-types') ?? ''}`]
    : ['/export', ''];
  await withTask(ctx, 'Export of VM', String(vm.rec.uuid), async (task) => {
    // -1: the handler has not taken the task over yet (it sets 0 first).
    await ctx.api.call('task.set_progress', task, -1.0);
    const n = counter.n++;
    const file = n > 1 ? `${filename}${String(n)}` : filename;
    const outcome = await ctx.transfer.get(
      `${uri}?session_id=${ctx.session}&task_id=${task}&ref=${vm.ref}&use_compression=${algorithm}` +
        `&preserve_power_state=${String(preserve)}&export_snapshots=${String(snapshots)}${extra}`,
      file,
    );
    clientSide(ctx, outcome.clientError);
    const rec = await waitTask(ctx, task, outcome.ok);
    if (rec.status === 'success') {
      if (!outcome.ok) {
        ctx.printer.stderr('Export failed, unknown error.');
        throw new ExitWithError(1);
      }
      if (file !== '') ctx.printer.list(['Export succeeded']);
    } else if (rec.status === 'failure') {
      const [code, ...params] = errorInfo(rec);
      if (code === undefined) ctx.printer.stderr('Export failed, unknown error');
      else throw serverError(code, params);
    } else if (rec.status === 'cancelled') {
      ctx.printer.stderr('Export cancelled');
      throw new ExitWithError(1);
    }
  });
}

/** The export and import commands. */
export function transferCommands(): CommandDef[] {
  return [
    define('vm-export', async (ctx) => {
      const filename = need(ctx, 'filename');
      const counter = { n: 1 };
      await doVmOp(ctx, (vm) => exportOne(ctx, vm, filename, counter), {
        ignore: [
          'filename',
          'metadata',
          'compress',
          'preserve-power-state',
          'include-snapshots',
          'excluded-device-types',
          'task-uuid',
        ],
      });
    }),
    define('vm-import', async (ctx) => {
      const srUuid = get(ctx, 'sr-uuid');
      let sr: string;
      if (srUuid !== undefined) sr = await refOf(ctx, 'SR', srUuid);
      else {
        const [pool] = (await ctx.api.call('pool.get_all')) as string[];
        const def = (await ctx.api.call('pool.get_default_SR', pool)) as string;
        try {
          sr = await refOf(ctx, 'SR', (await ctx.api.call('SR.get_uuid', def)) as string);
        } catch {
          throw new CliFailure('No SR specified and Pool default SR is null');
        }
      }
      const type = get(ctx, 'type') ?? 'default';
      const restore = bool(ctx, 'preserve');
      const metadata = bool(ctx, 'metadata');
      const force = bool(ctx, 'force');
      const dryRun = bool(ctx, 'dry-run');
      const vdiMap = mapParams(ctx, 'vdi');
      const url = get(ctx, 'url');
      let filename = get(ctx, 'filename');
      if (url !== undefined && filename !== undefined) {
        ctx.printer.stderr(
          "Invalid arguments. The 'url' and 'filename' parameters should not both be specified.",
        );
        throw new ExitWithError(1);
      }
      if (type.toLowerCase() !== 'default' && type.toLowerCase() !== 'xenserver') {
        await ctx.api.call(
          'VM.import_convert',
          type,
          need(ctx, 'host-username'),
          need(ctx, 'host-password'),
          sr,
          mapParams(ctx, 'remote-config'),
        );
        return;
      }
      if (url !== undefined) {
        const vms = (await ctx.api.call('VM.import', url, sr, restore, force)) as string[];
        const uuids = await Promise.all(
          vms.map(async (v) => (await ctx.api.call('VM.get_uuid', v)) as string),
        );
        ctx.printer.list([uuids.join(',')]);
        return;
      }
      filename = need(ctx, 'filename');
      if (!metadata && dryRun) {
        ctx.printer.stderr('Only metadata import function support dry-run');
        throw new ExitWithError(1);
      }
      // The user named the ova.xml of an unpacked export: its folder is what the server reads.
      if (filename.toLowerCase().endsWith('ova.xml')) filename = filename.slice(0, -'ova.xml'.length);
      const file = filename;
      const vdis = Object.entries(vdiMap)
        .map(([a, b]) => `&vdi:${a}=${b}`)
        .join('');
      const result = await trackHttp(ctx, 'VM import', (task) =>
        ctx.transfer.put(
          `${metadata ? '/import_metadata' : '/import'}?session_id=${ctx.session}&task_id=${task}` +
            `&restore=${String(restore)}&force=${String(force)}&dry_run=${String(dryRun)}&sr_id=${sr}${vdis}`,
          file,
        ),
      );
      const refs = [...result.matchAll(/<value>(OpaqueRef:[^<]*)<\/value>/g)].map((m) => m[1] ?? '');
      let uuids = await Promise.all(refs.map(async (v) => (await ctx.api.call('VM.get_uuid', v)) as string));
      if (uuids.length === 0 && dryRun) uuids = ['xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'];
      ctx.printer.list([uuids.join(',')]);
    }),
    define('vdi-import', async (ctx) => {
      const filename = need(ctx, 'filename');
      const vdi = await refOf(ctx, 'VDI', need(ctx, 'uuid'));
      const format = get(ctx, 'format');
      await trackHttp(ctx, 'VDI import', (task) =>
        ctx.transfer.put(
          `/import_raw_vdi?session_id=${ctx.session}&task_id=${task}&vdi=${vdi}` +
            (format === undefined ? '' : `&format=${format}`),
          filename,
        ),
      );
    }),
    define('vdi-export', async (ctx) => {
      const filename = need(ctx, 'filename');
      const vdi = await refOf(ctx, 'VDI', need(ctx, 'uuid'));
      const format = get(ctx, 'format');
      const base = get(ctx, 'base');
      await trackHttp(ctx, 'VDI export', (task) =>
        ctx.transfer.get(
          `/export_raw_vdi?session_id=${ctx.session}&task_id=${task}&vdi=${vdi}` +
            (format === undefined ? '' : `&format=${format}`) +
            (base === undefined ? '' : `&base=${base}`),
          filename,
        ),
      );
    }),
  ];
}
