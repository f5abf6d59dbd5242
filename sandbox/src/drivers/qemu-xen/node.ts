/**
 * The machines of an environment: a node holds its current VM (replaced on reset, restore and power-on), streams
 * its console to the node's terminals, and boots it in the driver's queue the way its kind says (xen: warm.ts,
 * pxe: pxe-boot.ts).
 * @module
 */
import type { EnvironmentSpec } from '../types.js';
import type { QemuXenContext } from './context.js';
import { bootPxeNode } from './pxe-boot.js';
import type { XenVm } from './vm.js';
import { bootXenNode } from './warm.js';

/** What a node of an environment is: a Xen host, a bare machine that PXE-boots, or a shell on this machine. */
export type NodeKind = 'xen' | 'pxe' | 'local';

/** A VM node: its current VM (replaced on reset/restore/power-on) and the terminals that follow it. */
export class VmNode {
  vm: XenVm | undefined;
  /** The last boot that failed (PXE), and the configuration it failed with. */
  failedBoot: { stamp: string; message: string } | undefined;
  /** The learner asked for a power-on from the console: boot even an unchanged, failed configuration. */
  retryRequested = false;
  private starting: Promise<XenVm> | undefined;
  private readonly listeners = new Set<(d: Buffer) => void>();
  private unsub: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly kind: 'xen' | 'pxe',
    private readonly boot: (node: VmNode, incoming?: string) => Promise<XenVm>,
  ) {}

  get running(): boolean {
    return this.vm !== undefined && !this.vm.exited;
  }

  /** Shows text on every terminal of this node (driver messages, never sent to the guest). */
  say(text: string): void {
    const b = Buffer.from(`\r\n\x1b[33m[xenlab] ${text.replace(/\n/g, '\r\n')}\x1b[0m\r\n`);
    for (const l of this.listeners) l(b);
  }

  subscribe(listener: (d: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The running, ready VM; boots (or restores) one when there is none. */
  ensure(incoming?: string): Promise<XenVm> {
    if (this.vm && !this.vm.exited && incoming === undefined) return Promise.resolve(this.vm);
    this.starting ??= this.boot(this, incoming)
      .then((vm) => {
        this.attach(vm);
        return vm;
      })
      .finally(() => {
        this.starting = undefined;
      });
    return this.starting;
  }

  /** Makes `vm` this node's VM and streams its console to the node's terminals (from its first line of boot). */
  attach(vm: XenVm): void {
    if (this.vm === vm) return;
    this.unsub?.();
    this.vm = vm;
    const off = vm.onConsole((d) => {
      for (const l of this.listeners) l(d);
    });
    const offExit = vm.onExit(() => {
      if (this.vm === vm) this.say(`${this.name} is powered off. Press Enter to power it on.`);
    });
    this.unsub = () => {
      off();
      offExit();
    };
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined); // its caller got the failure; stop only waits for it to end
    const vm = this.vm;
    this.unsub?.();
    this.unsub = undefined;
    this.vm = undefined;
    await vm?.stop();
  }
}

/** A node of environment `spec` whose VMs run in `runDir`; each boot waits its turn in the driver's queue. */
export function makeNode(
  ctx: QemuXenContext,
  spec: EnvironmentSpec,
  name: string,
  kind: 'xen' | 'pxe',
  runDir: string,
): VmNode {
  return new VmNode(name, kind, (node, incoming) =>
    ctx.queue.run(async () => {
      if (node.vm && !node.vm.exited) await node.vm.stop();
      return kind === 'pxe'
        ? bootPxeNode(ctx, spec, node, runDir, incoming)
        : bootXenNode(ctx, spec, node, runDir, incoming);
    }),
  );
}
