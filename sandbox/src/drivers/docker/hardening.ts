/**
 * The hardened container settings every environment runs with, from the learner's limits.
 *
 * Each setting was checked on the development VM (see the project's docker-engine reference): seccomp's default
 * profile, `cap-drop ALL` (CapEff 0), no-new-privileges, a pids cgroup limit (forks fail with EAGAIN), a memory
 * limit (OOM kill inside the container's cgroup, exit 137), read-only root with sized tmpfs mounts.
 * @module
 */
import type Docker from 'dockerode';
import type { SandboxLimits } from '../types.js';
import { XenlabError } from '../../errors/index.js';

/** The learner's home inside every container. */
export const DOCKER_HOME = '/home/learner';
/** The learner's uid/gid in the image (`sandbox/images/lab/Dockerfile` creates it). */
export const LEARNER_UID = 1000;

/** Limits used when an environment asks for none. */
export const DEFAULT_LIMITS: Required<SandboxLimits> = { memoryMb: 256, pids: 128, cpus: 1, diskMb: 128 };

/** Fills in the defaults and rejects nonsense with a clear error rather than passing it to the engine. */
export function resolveLimits(limits: SandboxLimits | undefined): Required<SandboxLimits> {
  const l = { ...DEFAULT_LIMITS, ...limits };
  const check = (name: string, v: number, min: number, max: number) => {
    if (!Number.isFinite(v) || v < min || v > max) {
      throw new XenlabError('SANDBOX_ERR_BAD_LIMITS', `${name} must be between ${min} and ${max} (got ${v})`);
    }
  };
  check('memoryMb', l.memoryMb, 32, 65536);
  check('pids', l.pids, 16, 32768);
  check('cpus', l.cpus, 0.05, 64);
  check('diskMb', l.diskMb, 8, 65536);
  return l;
}

/** Size of /tmp: a quarter of the disk allowance, at least 16 MiB. */
const tmpMb = (l: Required<SandboxLimits>) => Math.max(16, Math.floor(l.diskMb / 4));

/**
 * The `HostConfig` of an environment container.
 *
 * - Home and /tmp are tmpfs sized from `diskMb`: a disk fill ends in ENOSPC inside the container, never on the host
 *   (overlay2 `--storage-opt size` needs xfs with pquota, moby PR #24771, which these hosts don't have). tmpfs pages
 *   are charged to the container's memory cgroup, so the memory limit covers them too.
 * - `MemorySwap = Memory`: no swap, so a memory bomb meets the OOM killer at once instead of thrashing the host.
 *   The OOM killer is left on (PWD's `OomKillDisable` froze hosts).
 * - `Init`: docker-init (tini) as PID 1 reaps orphans, so `nohup`ed jobs can't fill the pid table with zombies.
 * - `ping_group_range`: lets the unprivileged learner use ICMP sockets (ping between lab nodes) with no capability.
 * - Logs off: nothing the learner prints is kept by the engine (an output flood can't fill the host's disk).
 * - `binds` (read-only, see tools.ts): the host's node and the toolkit, for `xe` and `xenlab-tools`.
 */
export function hardenedHostConfig(
  limits: Required<SandboxLimits>,
  network: string,
  binds: readonly string[] = [],
): Docker.HostConfig {
  const memory = limits.memoryMb * 1024 * 1024;
  return {
    NetworkMode: network,
    ...(binds.length > 0 ? { Binds: [...binds] } : {}),
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: true,
    Tmpfs: {
      [DOCKER_HOME]: `rw,nosuid,nodev,size=${limits.diskMb}m,uid=${LEARNER_UID},gid=${LEARNER_UID},mode=0755`,
      '/tmp': `rw,nosuid,nodev,size=${tmpMb(limits)}m,mode=1777`,
      '/run': 'rw,nosuid,nodev,noexec,size=8m,mode=0755',
      '/var/tmp': 'rw,nosuid,nodev,size=16m,mode=1777',
    },
    Memory: memory,
    MemorySwap: memory,
    PidsLimit: limits.pids,
    NanoCpus: Math.round(limits.cpus * 1e9),
    Init: true,
    Sysctls: { 'net.ipv4.ping_group_range': '0 2147483647' },
    LogConfig: { Type: 'none', Config: {} },
    IpcMode: 'private',
    // Privileged stays false, the default; the VM's bounding set couldn't grant it anyway (docker-engine.md).
    Privileged: false,
    AutoRemove: false,
    RestartPolicy: { Name: 'no' },
  };
}

/** The same limits as a `docker update` body, to fit a warm-pool container to an environment's limits. */
export function updatableLimits(limits: Required<SandboxLimits>): Record<string, number> {
  const memory = limits.memoryMb * 1024 * 1024;
  return {
    Memory: memory,
    MemorySwap: memory,
    PidsLimit: limits.pids,
    NanoCpus: Math.round(limits.cpus * 1e9),
  };
}
