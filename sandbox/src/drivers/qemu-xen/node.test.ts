import { describe, expect, it } from 'vitest';
import { VmNode, type NodeLayout } from './node.js';
import type { XenVm } from './vm.js';

const layout: NodeLayout = { memoryMb: 1024, nics: [], disks: [], netns: undefined, hosts: [] };
const sleep = (ms: number) =>
  new Promise<void>((r) => {
    setTimeout(r, ms);
  });

/** A VM that never becomes ready: it exits only when stopped (a PXE boot of a configuration that cannot come up). */
function hangingVm(): { vm: XenVm; exited: Promise<void> } {
  let exited = false;
  const listeners = new Set<(code: number | null) => void>();
  let resolveExit!: () => void;
  const done = new Promise<void>((r) => (resolveExit = r));
  const vm = {
    get exited() {
      return exited;
    },
    onConsole: () => () => undefined,
    onExit: (l: (code: number | null) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    stop: () => {
      if (!exited) {
        exited = true;
        for (const l of listeners) l(null);
        resolveExit();
      }
      return Promise.resolve();
    },
  } as unknown as XenVm;
  return { vm, exited: done };
}

/** The driver's boot as far as a node sees it: wait `queueMs` for its turn, attach the VM, wait for dom0 (never). */
function hangingBoot(vm: XenVm, exited: Promise<void>, queueMs = 0) {
  return async (n: VmNode): Promise<XenVm> => {
    if (queueMs) await sleep(queueMs);
    n.attach(vm); // boot.ts attaches the VM from its first line of boot
    // waitReady: dom0 never answers; it gives up when QEMU exits, or after the boot timeout (240 s in the driver).
    await Promise.race([exited, sleep(10_000)]);
    throw new Error(vm.exited ? 'QEMU_ERR_EXITED: the VM stopped while booting' : 'QEMU_ERR_BOOT_TIMEOUT');
  };
}

/** Starts a node whose boot never comes up (after `queueMs` waiting its turn), stops it 50 ms later. */
async function stopWhileBooting(queueMs = 0) {
  const { vm, exited } = hangingVm();
  const node = new VmNode('host', 'pxe', layout, hangingBoot(vm, exited, queueMs));
  const boot = node.ensure().then(
    () => new Error('booted'),
    (e: unknown) => e as Error,
  );
  await sleep(50);
  const t = Date.now();
  await node.stop();
  return { node, vm, stopMs: Date.now() - t, bootError: await boot };
}

describe('VmNode.stop', () => {
  it('ends a boot in progress instead of waiting out its boot timeout, and does not count it as a failed boot', async () => {
    const { node, vm, stopMs, bootError } = await stopWhileBooting();
    expect(stopMs).toBeLessThan(1000);
    expect(vm.exited).toBe(true);
    expect(bootError.message).toMatch(/QEMU_ERR_EXITED/);
    expect(node.failedBoot).toBeUndefined();
    expect(node.running).toBe(false);
  }, 20_000);

  it('ends a boot that was still waiting its turn when the stop came, as soon as it gets its VM', async () => {
    const { vm, stopMs, bootError } = await stopWhileBooting(300);
    expect(stopMs).toBeLessThan(2000);
    expect(vm.exited).toBe(true);
    expect(bootError.message).toMatch(/QEMU_ERR_EXITED/);
  }, 20_000);
});
