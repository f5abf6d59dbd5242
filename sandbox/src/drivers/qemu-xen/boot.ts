/**
 * Starting a machine: a cold boot watched on the node's console until dom0 is ready, or a saved state loaded (the
 * clock set and the kernel's random number generator reseeded after it); boots one at a time; and the fall back
 * from KVM to TCG where KVM does not run Xen.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { QemuXenContext } from './context.js';
import type { VmNode } from './node.js';
import { XenVm, type VmConfig } from './vm.js';
import { XenlabError } from '../../errors/index.js';

/**
 * Boots share the machine's cores with everything else: one at a time, in this process (a queue) and across
 * processes using the same state folder (a lock file holding the owner's pid; a dead owner's lock is taken over).
 * Under TCG two concurrent boots each take more than twice as long, and a test run would time out.
 */
export class BootQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  constructor(private readonly lockFile: string) {}

  /** Runs `fn` after every earlier `run` of this state folder (PXE boots, cold boots without templates). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.runLocked(this.lockFile, fn);
  }

  /**
   * Runs `fn` after every earlier `runKeyed` of the same key (e.g. the cold boot that makes a template), in parallel
   * with other keys.
   */
  runKeyed<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.runLocked(
      join(dirname(this.lockFile), `boot-${key.replace(/[^A-Za-z0-9_.-]/g, '_')}.lock`),
      fn,
    );
  }

  private runLocked<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
    const locked = async () => {
      await this.lock(lockFile);
      try {
        return await fn();
      } finally {
        rmSync(lockFile, { force: true });
      }
    };
    const tail = this.tails.get(lockFile) ?? Promise.resolve();
    const next = tail.then(locked, locked);
    this.tails.set(
      lockFile,
      next.catch(() => undefined), // the queue goes on; `next` hands the failure to its caller
    );
    return next;
  }

  private async lock(lockFile: string): Promise<void> {
    for (;;) {
      try {
        writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
        return;
      } catch {
        // Held (EEXIST): wait for its owner, or take it over from a dead one.
        const owner = Number(readFileSync(lockFile, { encoding: 'utf8', flag: 'a+' }));
        let alive = false;
        try {
          if (owner > 0) process.kill(owner, 0);
          alive = owner > 0;
        } catch {
          alive = false; // ESRCH: the owner is gone
        }
        if (!alive) rmSync(lockFile, { force: true });
        else await delay(250);
      }
    }
  }
}

/** QEMU's version line. */
export function qemuVersion(): string {
  const r = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  if (r.error)
    throw new XenlabError(
      'SANDBOX_ERR_NO_QEMU',
      'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)',
    );
  return r.stdout.split('\n')[0] ?? '';
}

/** Starts a VM from a state file, or boots it cold and waits for dom0; sets dom0's clock after a restore. */
export async function startVm(
  ctx: QemuXenContext,
  cfg: VmConfig,
  incoming: string | undefined,
  node: VmNode,
): Promise<XenVm> {
  try {
    return await startVmOnce(ctx, cfg, incoming, node);
  } catch (err) {
    // /dev/kvm can exist and still not run Xen (nested KVM without the CPU features: "KVM internal error"):
    // in auto mode fall back to TCG once, for good.
    if (!ctx.autoAccel || cfg.accel !== 'kvm' || incoming !== undefined) throw err;
    ctx.accel = 'tcg';
    writeFileSync(ctx.kvmBroken, ctx.version);
    node.say(
      `KVM did not run Xen here (${(err as Error).message.split('\n')[0] ?? ''}); using software emulation`,
    );
    return startVmOnce(ctx, { ...cfg, accel: ctx.accel }, undefined, node);
  }
}

async function startVmOnce(
  ctx: QemuXenContext,
  cfg: VmConfig,
  incoming: string | undefined,
  node: VmNode,
): Promise<XenVm> {
  const started = Date.now();
  if (incoming !== undefined) {
    // A 140 MB state loads in seconds; a machine shared by many (load 15+ on 2 cores) has taken over a minute.
    const vm = await XenVm.start(cfg, { incoming, timeoutMs: 150_000 });
    try {
      const agent = await vm.waitReady(30_000);
      await agent.setTime(Date.now() / 1000);
      // Every load (a template shared by all machines of a shape, a snapshot, a hibernated machine) wakes up with the
      // random number generator of the saved moment: fresh host randomness before anything runs for the learner or
      // gives the machine its identity (node.ts's guestNetworkScript, storage-up).
      await agent.reseed(randomBytes(64));
    } catch (err) {
      await vm.stop(); // not handed over: no QEMU left running behind the failure
      throw err;
    }
    ctx.bootTimes.record('restore', Date.now() - started);
    return vm;
  }
  node.say(
    cfg.boot.kind === 'pxe'
      ? `powering on ${node.name}: PXE boot from ${cfg.boot.tftpRoot}/${cfg.boot.bootfile}`
      : cfg.boot.kind === 'storage'
        ? `booting ${node.name} (${ctx.accel === 'kvm' ? 'KVM' : 'software emulation'})`
        : `booting Xen on ${node.name} (${ctx.accel === 'kvm' ? 'KVM' : 'software emulation, about a minute'})`,
  );
  const vm = await XenVm.start(cfg, { timeoutMs: 30_000 });
  node.attach(vm); // the learner watches the boot (Xen's messages, then dom0's)
  try {
    await vm.waitReady(ctx.bootTimeoutMs);
  } catch (err) {
    await vm.stop();
    throw err;
  }
  ctx.bootTimes.record(
    `${cfg.boot.kind === 'image' ? 'cold' : cfg.boot.kind}-${cfg.accel}`,
    Date.now() - started,
  );
  return vm;
}
