/**
 * Getting a learner's container back from a fork bomb without losing their files.
 *
 * A fork bomb keeps every pid of the container's pids cgroup taken, so nothing new starts in it: not the learner's
 * next terminal, not a check, not even a `docker exec kill` (runc's own init needs a pid). Restarting the container
 * would free it, but homes are tmpfs (hardening.ts): a restart empties them. So the driver looks at the pids in use
 * before it opens a terminal and, when they are (nearly) all taken, ends every process of the learner's uid while
 * leaving the container, its init and its tmpfs mounts alone:
 *
 * 1. engine on this host: freeze the container (`docker pause`, the freezer cgroup: nobody forks any more), list its
 *    processes (`docker top`, host pids), SIGKILL the learner's, thaw; repeat until none is left. Each pid is checked
 *    to belong to this container's cgroup before it is signalled (so a gateway in another pid namespace can't hit
 *    the wrong process).
 * 2. otherwise (remote engine, or no permission to signal): raise the pids limit for a moment and run
 *    `kill -9 -1` as the learner in the headroom, then put the limit back. A bomb's shells sleep in bash's fork
 *    retry back-off, so the headroom is free long enough for the exec to start.
 * 3. when both fail: restart the container (files in its tmpfs home are lost; the message says so).
 * @module
 */
import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { LEARNER_UID } from './hardening.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

/** Pids in use and allowed; undefined when the engine won't say (container gone, swarm node elsewhere). */
export interface PidsUsage {
  readonly current: number;
  readonly limit: number;
}

/**
 * The container's pids cgroup: read from the host's cgroup files when the engine runs here (a few ms), else from
 * a one-shot `docker stats` (100 ms to a second on a busy host).
 */
export async function pidsUsage(
  container: Docker.Container,
  limit: number,
  onHost: boolean,
): Promise<PidsUsage | undefined> {
  try {
    if (onHost) {
      const info = await container.inspect();
      if (!info.State.Running) return undefined;
      const fromHost = hostPids(info.State.Pid);
      if (fromHost) return { current: fromHost.current, limit: fromHost.limit ?? limit };
    }
    const stats = (await container.stats({ stream: false, 'one-shot': true } as { stream: false })) as {
      pids_stats?: { current?: number; limit?: number };
    };
    const current = stats.pids_stats?.current;
    return current === undefined ? undefined : { current, limit: stats.pids_stats?.limit ?? limit };
  } catch {
    return undefined; // deliberate: no stats (container gone or stopped): nothing to recover
  }
}

/** Reads pids.current/pids.max of the cgroup of a host pid (cgroup v1 `pids` controller, or v2). */
function hostPids(pid: number): { current: number; limit: number | undefined } | undefined {
  try {
    const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const v1 = /^\d+:pids:(.*)$/m.exec(cgroups)?.[1];
    const v2 = /^0::(.*)$/m.exec(cgroups)?.[1];
    const dir =
      v1 !== undefined ? `/sys/fs/cgroup/pids${v1}` : v2 !== undefined ? `/sys/fs/cgroup${v2}` : undefined;
    if (dir === undefined) return undefined;
    const current = Number(readFileSync(`${dir}/pids.current`, 'utf8').trim());
    const max = readFileSync(`${dir}/pids.max`, 'utf8').trim();
    if (!Number.isFinite(current)) return undefined;
    return { current, limit: max === 'max' ? undefined : Number(max) };
  } catch {
    return undefined; // deliberate: no cgroup of it here (engine elsewhere, cgroup v1): ask the engine instead
  }
}

/** Whether the pids are as good as all taken: the learner could not start anything. */
export function atPidsLimit(u: PidsUsage): boolean {
  // A bomb's shells die on EAGAIN and are replaced, so a sample may catch a few slots free.
  return u.current >= u.limit - Math.max(2, Math.floor(u.limit / 16));
}

/** How the processes were ended: killed (files kept), or the container restarted (tmpfs home emptied). */
export type Recovery = 'killed' | 'restarted';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Host pids of the learner's processes in the container, from `docker top`. */
async function learnerPids(container: Docker.Container): Promise<number[]> {
  const top = (await container.top({ ps_args: '-o pid,uid' })) as { Titles: string[]; Processes: string[][] };
  const pidCol = top.Titles.indexOf('PID');
  const uidCol = top.Titles.indexOf('UID');
  return top.Processes.filter((p) => Number(p[uidCol]) === LEARNER_UID).map((p) => Number(p[pidCol]));
}

/** Freeze, SIGKILL the learner's processes from the host, thaw; true when none is left. */
async function killFromHost(container: Docker.Container, containerId: string): Promise<boolean> {
  for (let round = 0; round < 6; round++) {
    await container.pause();
    let left: number[];
    try {
      left = await learnerPids(container);
      for (const pid of left) {
        // Only a process of this container's cgroup: pids are the daemon's, and may not be ours.
        let cgroup = '';
        try {
          cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
        } catch {
          continue; // gone already
        }
        if (!cgroup.includes(containerId)) return false;
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return false;
        }
      }
    } finally {
      // Frozen tasks take their SIGKILL when thawed (cgroup v1), and die before running another instruction.
      await container.unpause();
    }
    if (left.length === 0) return true;
    await sleep(50);
  }
  return (await learnerPids(container)).length === 0;
}

/** Room for one exec: raise the pids limit, `kill -9 -1` as the learner, put the limit back. */
async function killInHeadroom(container: Docker.Container, limit: number): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    await container.update({ PidsLimit: limit * 2 + 16 });
    try {
      const exec = await container.exec({ Cmd: ['kill', '-9', '-1'], User: 'learner', AttachStdout: true });
      const stream = await exec.start({});
      await new Promise<void>((resolve) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', () => {
          resolve();
        });
        stream.resume();
        setTimeout(resolve, 5000);
      });
    } catch {
      // The bomb took the headroom first: try again.
    } finally {
      await container.update({ PidsLimit: limit });
    }
    if ((await learnerPids(container)).length === 0) return true;
  }
  return false;
}

/**
 * Ends every process of the learner in the container (see the module comment for how), leaving the container, its
 * init and its files. Falls back to a restart, which empties the tmpfs home. Throws when even that fails.
 */
export async function endLearnerProcesses(
  container: Docker.Container,
  limit: number,
  onHost: boolean,
): Promise<Recovery> {
  const id = (await container.inspect()).Id;
  const failed = (how: string) => (err: unknown) => {
    log.debug(`ending a fork bomb ${how} failed; trying the next way`, { err });
    return false;
  };
  if (onHost && (await killFromHost(container, id).catch(failed('from the host')))) return 'killed';
  if (await killInHeadroom(container, limit).catch(failed('in the pids headroom'))) return 'killed';
  await container.restart({ t: 0 });
  return 'restarted';
}

/** What the learner's new terminal says before its prompt. */
export function recoveryNotice(how: Recovery, limit: number): string {
  const what =
    how === 'killed'
      ? 'Your programs on it were stopped so you can carry on; your files are kept.'
      : 'The machine was restarted so you can carry on; files in your home were lost.';
  return (
    `\r\n\x1b[1;33m[xenlab] This machine had used all ${limit} processes it may run (a fork bomb?). ${what}` +
    `\x1b[0m\r\n`
  );
}
