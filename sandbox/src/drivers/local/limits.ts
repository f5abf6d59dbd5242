import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxLimits } from '../types.js';

/** Limits the local driver applies when the environment's spec does not say otherwise. */
export const DEFAULT_LOCAL_LIMITS: Required<SandboxLimits> = {
  memoryMb: 512,
  pids: 256,
  cpus: 1,
  diskMb: 512,
};

/** Largest single file a learner may write, MiB (RLIMIT_FSIZE; the writer gets "File size limit exceeded"). */
export const MAX_FILE_MB = 256;

type CgroupVersion = 'v1' | 'v2' | 'none';

const ROOT = '/sys/fs/cgroup';

/** Which cgroup hierarchy this machine has, and whether we may write to it (we must be root). */
export function cgroupVersion(): CgroupVersion {
  try {
    if (existsSync(join(ROOT, 'cgroup.controllers'))) {
      writeFileSync(join(ROOT, 'cgroup.subtree_control'), '+pids +memory +cpu');
      return 'v2';
    }
    if (existsSync(join(ROOT, 'pids')) && existsSync(join(ROOT, 'memory'))) {
      mkdirSync(join(ROOT, 'pids', 'xenlab'), { recursive: true });
      // Made by an earlier run as root: there, but not ours to write.
      accessSync(join(ROOT, 'pids', 'xenlab'), constants.W_OK);
      return 'v1';
    }
  } catch {
    // Not root, or a read-only cgroupfs (inside a container): limits by cgroup are not available.
  }
  return 'none';
}

/**
 * A cgroup per environment: the pids controller stops a fork bomb at `pids`, the memory controller OOM-kills
 * inside the environment at `memoryMb` (never the gateway), and the cpu controller caps it at `cpus` cores.
 * Processes join by writing their pid to each `cgroup.procs` file before they exec the jail (see the driver).
 */
export class EnvironmentCgroup {
  readonly procsFiles: readonly string[];
  readonly #dirs: readonly string[];

  constructor(version: CgroupVersion, id: string, limits: Required<SandboxLimits>) {
    const name = id.replace(/[^A-Za-z0-9_.-]/g, '_');
    const write = (dir: string, file: string, value: string) => {
      if (existsSync(join(dir, file))) writeFileSync(join(dir, file), value);
    };
    const mem = String(limits.memoryMb * 1024 * 1024);
    const quota = String(Math.max(1000, Math.round(limits.cpus * 100_000)));
    if (version === 'v1') {
      const dirs = ['pids', 'memory', 'cpu'].map((c) => join(ROOT, c, 'xenlab', name));
      for (const d of dirs) mkdirSync(d, { recursive: true });
      const [pids, memory, cpu] = dirs as [string, string, string];
      write(pids, 'pids.max', String(limits.pids));
      write(memory, 'memory.limit_in_bytes', mem);
      // Swap counts too where the kernel accounts it, so a memory bomb can not hide in swap.
      try {
        write(memory, 'memory.memsw.limit_in_bytes', mem);
      } catch {
        // memsw accounting off: memory.limit_in_bytes alone
      }
      write(cpu, 'cpu.cfs_period_us', '100000');
      write(cpu, 'cpu.cfs_quota_us', quota);
      this.#dirs = dirs;
    } else if (version === 'v2') {
      const parent = join(ROOT, 'xenlab');
      mkdirSync(parent, { recursive: true });
      write(parent, 'cgroup.subtree_control', '+pids +memory +cpu');
      const dir = join(parent, name);
      mkdirSync(dir, { recursive: true });
      write(dir, 'pids.max', String(limits.pids));
      write(dir, 'memory.max', mem);
      write(dir, 'memory.swap.max', '0');
      write(dir, 'cpu.max', `${quota} 100000`);
      this.#dirs = [dir];
    } else {
      this.#dirs = [];
    }
    this.procsFiles = this.#dirs.map((d) => join(d, 'cgroup.procs'));
  }

  /** Process ids in the environment now. */
  pids(): number[] {
    const file = this.procsFiles[0];
    if (!file || !existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  }

  /** Kills every process of the environment (a fork bomb included) and removes the cgroup. */
  destroy(): void {
    // The pids controller keeps the count bounded, so a few rounds of SIGKILL empty it.
    for (let round = 0; round < 10; round++) {
      const pids = this.pids();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const d of this.#dirs) {
      try {
        rmdirSync(d);
      } catch {
        // still busy for a moment after the last kill; the next environment with this id reuses it
      }
    }
  }
}
