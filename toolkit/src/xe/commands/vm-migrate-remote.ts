/**
 * `xe vm-migrate` to another pool (cli_operations.ml `vm_migrate`, its storage-migration branch): log in to
 * `remote-master`, pick the destination host (`host=` by hostname, name or uuid, else the first) and network
 * (`remote-network=` by bridge, name or uuid, else the host's management network), read the `vif:<vif>=<network>`
 * and `vdi:<vdi>=<sr>` maps (uuids, looked up here and there), fill every other disk with the destination's
 * preferred SR (attached to the host, shared before local, most free space), print the plan, ask the destination for
 * `host.migrate_receive`, then `VM.migrate_send` here.
 *
 * The real xe is a thin client and xapi itself reaches the remote master on port 443; this xe does it from where it
 * runs. `remote-master` is an address (`10.0.0.2`, `host:port`: HTTPS, or HTTP on-host as xe does) or a URL
 * (`http://127.0.0.1:4711`, what a lab's `$XENLAB_XAPI_URL_<POOL>` holds).
 * @module
 */
import { createClient } from '../../xenapi/index.js';
import type { CommandContext } from '../command-types.js';
import { CliFailure, isApiError } from '../errors.js';
import { doVmOp, get, selectVms } from './common.js';

/** The parameters that select the storage-migration path (cli_operations.ml `vm_migrate_sxm_params`, prefixes). */
export const SXM_PARAMS = [
  'remote-master',
  'remote-username',
  'vif',
  'remote-password',
  'remote-network',
  'vdi',
  'vgpu',
  'image-format',
] as const;

type Rec = Record<string, unknown>;

/** `name:` prefixed parameters as `[key, value]` (cli_operations.ml `read_map_params`). */
function mapParams(ctx: CommandContext, name: string): [string, string][] {
  const prefix = `${name}:`;
  return ctx.params
    .filter(([k]) => k.startsWith(prefix) && k.length > prefix.length)
    .map(([k, v]) => [k.slice(prefix.length), v]);
}

/** The remote master's URL: a URL as given; an address over HTTPS (443), or HTTP on-host, as xe connects. */
export function remoteUrl(master: string): string {
  if (/^https?:\/\//i.test(master)) return master;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(master);
  const host = m?.[1] ?? master;
  const onHost = host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
  const port = m?.[2] ?? (onHost ? '80' : '443');
  return `${onHost ? 'http' : 'https'}://${host}:${port}`;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

/** What OCaml's Printexc shows for an exception the server caught (used for the preferred-SR note). */
function printexc(e: unknown): string {
  if (isApiError(e)) return `Server_error(${e.code}, [ ${e.params.join('; ')} ])`;
  return e instanceof Error ? e.message : String(e);
}

/** Runs the storage-migration branch of `xe vm-migrate` (see the module comment). */
export async function migrateToRemotePool(
  ctx: CommandContext,
  options: Record<string, string>,
): Promise<void> {
  ctx.printer.msg("Performing a storage live migration. Your VM's VDIs will be migrated with the VM.");
  const master = get(ctx, 'remote-master');
  const uname = get(ctx, 'remote-username');
  const pwd = get(ctx, 'remote-password');
  if (master === undefined || uname === undefined || pwd === undefined)
    throw new CliFailure(
      "Storage live migration requires remote-master, remote-username, and remote-password to be specified. Please see 'xe help vm-migrate' for help.",
    );
  const client = createClient({
    url: remoteUrl(master),
    user: uname,
    password: pwd,
    allowUnauthorized: true,
    originator: 'cli',
  });
  // Nothing answers there: the Unix error xapi's HTTP client raises, as xapi reports it.
  const unreachable = (e: unknown): never => {
    if (isApiError(e) && e instanceof Error) throw e;
    throw Object.assign(new Error('INTERNAL_ERROR'), {
      code: 'INTERNAL_ERROR',
      params: ['Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")'],
    });
  };
  const remote = (method: string, ...args: unknown[]): Promise<unknown> =>
    client.callRaw(method, ...args).catch(unreachable);
  try {
    await client.login().catch(unreachable);
    const hosts = Object.entries((await remote('host.get_all_records')) as Record<string, Rec>);
    const wanted = get(ctx, 'host');
    const hostHit =
      wanted === undefined
        ? hosts[0]
        : hosts.find(([, r]) => r.hostname === wanted || r.name_label === wanted || r.uuid === wanted);
    if (!hostHit)
      throw new CliFailure(
        wanted === undefined ? 'Failed to find a suitable host' : `Failed to find host: ${wanted}`,
      );
    const [host, hostRec] = hostHit;
    let network: string;
    const netWanted = get(ctx, 'remote-network');
    if (netWanted !== undefined) {
      const nets = Object.entries((await remote('network.get_all_records')) as Record<string, Rec>);
      const hit = nets.find(
        ([, r]) => r.bridge === netWanted || r.name_label === netWanted || r.uuid === netWanted,
      );
      if (!hit) throw new CliFailure(`Failed to find network: ${netWanted}`);
      network = hit[0];
    } else {
      const pifs = Object.values((await remote('PIF.get_all_records')) as Record<string, Rec>);
      const mgmt = pifs.find((p) => p.host === host && text(p.management) === 'true');
      if (!mgmt) throw new CliFailure(`Could not find management PIF on host ${text(hostRec.uuid)}`);
      network = text(mgmt.network);
    }
    const vifMap: Record<string, string> = {};
    for (const [vif, net] of mapParams(ctx, 'vif'))
      vifMap[text(await ctx.api.call('VIF.get_by_uuid', vif))] = text(
        await remote('network.get_by_uuid', net),
      );
    let vdiMap: [string, string][] = [];
    for (const [vdi, sr] of mapParams(ctx, 'vdi'))
      vdiMap.push([
        text(await ctx.api.call('VDI.get_by_uuid', vdi)),
        text(await remote('SR.get_by_uuid', sr)),
      ]);
    const preferred = await preferredSr(ctx, remote, host);
    const ignore = ['host', 'host-uuid', 'host-name', 'live', 'force', 'copy', 'compress', ...SXM_PARAMS];
    // The maps' own parameters are not VM fields: they leave the selection.
    const selectParams = ctx.params.filter(([k]) => !k.startsWith('vif:') && !k.startsWith('vdi:'));
    const selCtx = { ...ctx, params: selectParams };
    if (preferred !== undefined) {
      const vms = await selectVms(selCtx, { includeTemplates: true, ignore });
      const first = vms[0];
      if (!first) throw new CliFailure('No matching VMs found');
      const vdis: string[] = [];
      for (const vbd of (await ctx.api.call('VM.get_VBDs', first.ref)) as string[]) {
        if (text(await ctx.api.call('VBD.get_empty', vbd)) === 'true') continue;
        vdis.push(text(await ctx.api.call('VBD.get_VDI', vbd)));
      }
      const given = new Map(vdiMap);
      const overrides = vdis.map((v): [string, string] => [v, given.get(v) ?? preferred]);
      vdiMap = [...overrides, ...vdiMap.filter(([v]) => !overrides.some(([o]) => o === v))];
    }
    const hostName = text(await remote('host.get_name_label', host));
    const netName = text(await remote('network.get_name_label', network));
    ctx.printer.msg(
      `Will migrate to remote host: ${hostName}, using remote network: ${netName}. Here is the VDI mapping:`,
    );
    for (const [vdi, sr] of vdiMap)
      ctx.printer.msg(
        `VDI ${text(await ctx.api.call('VDI.get_uuid', vdi))} -> SR ${text(await remote('SR.get_uuid', sr))}`,
      );
    const token = (await remote('host.migrate_receive', host, network, options)) as Record<string, string>;
    const made = await doVmOp(
      selCtx,
      (vm) =>
        ctx.api.call(
          'VM.migrate_send',
          vm.ref,
          token,
          true,
          Object.fromEntries(vdiMap),
          vifMap,
          options,
          {},
          {},
        ),
      { includeTemplates: true, ignore },
    );
    if (options.copy === 'true' && made[0] !== undefined)
      ctx.printer.list([text(await remote('VM.get_uuid', made[0]))]);
  } finally {
    await client.logout().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

/**
 * The destination's preferred SR for disks left out of the map: one the host has attached, shared (not ISO) first,
 * then local, with the most free space; undefined (with xapi's note) when it cannot be computed.
 */
async function preferredSr(
  ctx: CommandContext,
  remote: (method: string, ...args: unknown[]) => Promise<unknown>,
  host: string,
): Promise<string | undefined> {
  try {
    const pbds = Object.values((await remote('PBD.get_all_records')) as Record<string, Rec>).filter(
      (p) => p.host === host && text(p.currently_attached) === 'true',
    );
    const srs = (await remote('SR.get_all_records')) as Record<string, Rec>;
    const pick = (shared: boolean): string | undefined => {
      let best: [string, number] | undefined;
      for (const p of pbds) {
        const sr = text(p.SR);
        const r = srs[sr];
        if (!r || r.content_type === 'iso' || (text(r.shared) === 'true') !== shared) continue;
        const free = Number(text(r.physical_size)) - Number(text(r.physical_utilisation));
        if (!best || free > best[1]) best = [sr, free];
      }
      return best?.[0];
    };
    return pick(true) ?? pick(false);
  } catch (e) {
    ctx.printer.msg(
      `Couldn't compute preferred SR, continuing with the user-provided VDI mapping. The reason is: ${printexc(e)}`,
    );
    return undefined;
  }
}
