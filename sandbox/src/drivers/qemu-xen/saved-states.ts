/**
 * Machine states saved to disk: snapshots of an environment (each running machine's RAM and devices, plus the
 * workbench's snapshot), and hibernation when the gateway lets go of an environment (detach), so a restarted
 * gateway brings the learner's hosts back as they were.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxSnapshot } from '../types.js';
import { safe, type QemuXenContext } from './context.js';
import type { QemuEnv } from './environment.js';
import { removeNetns } from './network.js';
import { machineShape } from './vm.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/qemu-xen');

/** The file a saved environment keeps machine `node`'s data disk `k` in (next to its state). */
export const diskFileName = (node: string, k: number): string => `${safe(node)}.disk-${String(k)}.img`;

/** Copies a sparse file as sparse (a mostly empty 1 GiB data disk stays small). */
export function copySparse(src: string, dst: string): void {
  const r = spawnSync('cp', ['--sparse=always', '--', src, dst], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new XenlabError(
      'SANDBOX_ERR_BAD_SNAPSHOT',
      `copying ${src} failed: ${r.stderr.trim() || String(r.status)}`,
    );
}

/** Moves a file, across filesystems too (the run folder is in $TMPDIR, saved states in the cache). */
export function moveSparse(src: string, dst: string): void {
  try {
    renameSync(src, dst);
  } catch {
    // deliberate: EXDEV (another filesystem): copy, then remove
    copySparse(src, dst);
    rmSync(src, { force: true });
  }
}

/** What a detached (hibernated) environment left on disk: which machines were running, from which image. */
export interface Hibernation {
  readonly id: string;
  readonly running: string[];
  readonly image: string;
  /**
   * Each saved machine's {@link machineShape}: it resumes only into a machine of the same shape (records from before
   * it was kept are of machines with one NUMA node and Xen's default scheduler).
   */
  readonly shapes?: Readonly<Record<string, string>>;
}

/** Where a detached environment's machines are saved until it is opened again. */
export const hibernation = (ctx: QemuXenContext, id: string): string =>
  join(
    ctx.hibernateDir,
    `${safe(id).slice(0, 40)}-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`,
  );

/** The hibernation record in `ref`; undefined when there is none. */
export const readHibernation = (ref: string): Hibernation | undefined => {
  try {
    return JSON.parse(readFileSync(join(ref, 'hibernated.json'), 'utf8')) as Hibernation;
  } catch {
    return undefined; // deliberate: not hibernated (or a torn file): the environment starts afresh
  }
};

/** Ids of the environments saved by an earlier gateway (opened again, they resume). */
export function hibernatedIds(ctx: QemuXenContext): string[] {
  const ids: string[] = [];
  for (const e of readdirSync(ctx.hibernateDir)) {
    const h = readHibernation(join(ctx.hibernateDir, e));
    if (h) ids.push(h.id);
  }
  return ids;
}

/** Saves the running machines (which keep running) and the workbench in a new snapshot folder. */
export async function snapshotEnv(ctx: QemuXenContext, env: QemuEnv): Promise<SandboxSnapshot> {
  const { spec } = env;
  const createdAt = new Date().toISOString();
  const ref = join(ctx.stateDir, 'snapshots', `${safe(spec.id)}-${Date.now().toString(36)}`);
  mkdirSync(ref, { recursive: true });
  const running: string[] = [];
  for (const n of env.vms.values()) {
    if (!n.running || !n.vm) continue;
    // The data disks are copied while the machine is paused with its state: both are of the same moment.
    await n.vm.saveState(join(ref, `${safe(n.name)}.state`), true, 120_000, () => {
      n.layout.disks.forEach((d, k) => {
        copySparse(d.file, join(ref, diskFileName(n.name, k)));
      });
    });
    running.push(n.name);
  }
  for (const n of env.vms.values()) {
    if (running.includes(n.name)) continue;
    n.layout.disks.forEach((d, k) => {
      copySparse(d.file, join(ref, diskFileName(n.name, k)));
    });
  }
  const local = env.localSandbox ? await env.localSandbox.snapshot() : undefined;
  writeFileSync(
    join(ref, 'snapshot.json'),
    JSON.stringify({ id: spec.id, running, local, image: ctx.image.key }),
  );
  return { driver: 'qemu-xen', id: spec.id, ref, createdAt };
}

/** Brings the machines back as the snapshot saved them (those it didn't save are stopped), and the workbench. */
export async function restoreEnv(
  ctx: QemuXenContext,
  env: QemuEnv,
  snapshot: SandboxSnapshot,
): Promise<void> {
  const metaFile = join(snapshot.ref, 'snapshot.json');
  if (snapshot.driver !== 'qemu-xen' || !existsSync(metaFile)) {
    throw new XenlabError('SANDBOX_ERR_BAD_SNAPSHOT', `${snapshot.ref} is not a qemu-xen snapshot`);
  }
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as {
    running: string[];
    local?: SandboxSnapshot;
    image: string;
  };
  if (meta.image !== ctx.image.key) {
    throw new XenlabError('SANDBOX_ERR_BAD_SNAPSHOT', `${snapshot.ref} was taken with another Xen image`);
  }
  if (meta.local && env.localSandbox) await env.localSandbox.restore(meta.local);
  for (const n of env.vms.values()) {
    await n.stop();
    n.powerCut = false;
    n.layout.disks.forEach((d, k) => {
      const kept = join(snapshot.ref, diskFileName(n.name, k));
      if (existsSync(kept)) {
        copySparse(kept, d.file);
        n.disksBlank = false; // powered on later, it boots with them (cold)
      }
    });
    if (meta.running.includes(n.name)) await n.ensure(join(snapshot.ref, `${safe(n.name)}.state`));
  }
}

/** Detach: saves the running machines for a later create() of this id, then stops everything. */
export async function hibernateEnv(ctx: QemuXenContext, env: QemuEnv): Promise<void> {
  const { spec } = env;
  // Hibernate: each running machine's RAM and devices go to disk (seconds), so a restarted gateway brings
  // the learner's hosts back as they were, and no 2 GB QEMU is left running meanwhile.
  const ref = hibernation(ctx, spec.id);
  mkdirSync(ref, { recursive: true });
  const running: string[] = [];
  for (const n of env.vms.values()) {
    if (!n.running || !n.vm) continue;
    try {
      await n.vm.saveState(join(ref, `${safe(n.name)}.state`), false);
      running.push(n.name);
    } catch (err) {
      // Not saved: it starts afresh next time.
      log.warn('hibernating a machine failed: it starts afresh next time', {
        environmentId: spec.id,
        node: n.name,
        err,
      });
    }
  }
  const shapes = Object.fromEntries(
    running.flatMap((name) => {
      const n = env.vms.get(name);
      return n ? [[name, machineShape(n.layout)]] : [];
    }),
  );
  const meta: Hibernation = { id: spec.id, running, image: ctx.image.key, shapes };
  await Promise.all([...env.vms.values()].map((n) => n.stop()));
  // Data disks go with the saved machines (the next create moves them back into its run folder).
  for (const n of env.vms.values()) {
    n.layout.disks.forEach((d, k) => {
      try {
        moveSparse(d.file, join(ref, diskFileName(n.name, k)));
      } catch (err) {
        log.warn('keeping a data disk failed: it starts blank next time', { environmentId: spec.id, err });
      }
    });
  }
  writeFileSync(join(ref, 'hibernated.json'), JSON.stringify(meta));
  await env.localSandbox?.detach();
  if (env.netns !== undefined) removeNetns(env.netns);
  rmSync(env.runBase, { recursive: true, force: true });
}
