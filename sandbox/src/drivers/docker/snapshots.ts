/**
 * Resetting a docker environment (fresh containers), and snapshots of it: a tarball of each node's home, kept in
 * the driver's snapshot folder, unpacked into the homes again on restore.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxSnapshot } from '../types.js';
import { encodeEnvId } from './client.js';
import type { DockerContext } from './context.js';
import { hangupAll, target, writeXeConfigs } from './environment.js';
import type { EnvState } from './environment.js';
import { execRaw } from './exec.js';
import { DOCKER_HOME } from './hardening.js';
import { place, unplace } from './placement.js';
import { XenlabError } from '../../errors/index.js';

/** Back to fresh containers. */
export async function resetEnvironment(ctx: DockerContext, st: EnvState): Promise<void> {
  target(st, undefined);
  hangupAll(st);
  // Fresh containers on the same network: files, processes and any damage the learner did all go.
  const old = st.placement;
  await unplace(ctx, { ...old, nodes: old.nodes }, false);
  st.placement = await place(ctx, st.spec, st.limits, old.network);
  await writeXeConfigs(st);
}

/** Saves every node's home as `<node>.tar` in a new snapshot folder. */
export async function snapshotHomes(ctx: DockerContext, st: EnvState): Promise<SandboxSnapshot> {
  target(st, undefined);
  const createdAt = new Date().toISOString();
  const ref = join(ctx.snapshotDir, `${encodeEnvId(st.spec.id)}-${Date.now().toString(36)}`);
  mkdirSync(ref, { recursive: true, mode: 0o700 });
  for (const n of st.names) {
    const r = await execRaw(target(st, n), ['tar', '-C', DOCKER_HOME, '-cf', '-', '.'], {
      timeoutMs: 120_000,
      cap: (st.limits.diskMb + 16) * 1048576,
    });
    if (r.code !== 0) {
      throw new XenlabError(
        'SANDBOX_ERR_SNAPSHOT',
        `tar of ${n}'s home failed: ${r.stderr.toString().trim()}`,
      );
    }
    writeFileSync(join(ref, `${n}.tar`), r.stdout, { mode: 0o600 });
  }
  return { driver: 'docker', id: st.spec.id, ref, createdAt };
}

/** Replaces each node's home with the one in the snapshot (nodes the snapshot lacks keep theirs). */
export async function restoreHomes(st: EnvState, snap: SandboxSnapshot): Promise<void> {
  if (snap.driver !== 'docker' || !existsSync(snap.ref)) {
    throw new XenlabError('SANDBOX_ERR_BAD_SNAPSHOT', `${snap.ref} is not a docker snapshot`);
  }
  hangupAll(st);
  for (const f of readdirSync(snap.ref)) {
    const n = f.replace(/\.tar$/, '');
    if (!st.names.includes(n)) continue;
    const r = await execRaw(
      target(st, n),
      ['sh', '-c', `find ${DOCKER_HOME} -mindepth 1 -delete 2>/dev/null; tar -C ${DOCKER_HOME} -xf -`],
      { timeoutMs: 120_000, input: readFileSync(join(snap.ref, f)) },
    );
    if (r.code !== 0) {
      throw new XenlabError(
        'SANDBOX_ERR_SNAPSHOT',
        `restoring ${n}'s home failed: ${r.stderr.toString().trim()}`,
      );
    }
  }
  // The snapshot's ~/.xe names the pool's address of its day.
  await writeXeConfigs(st);
}
