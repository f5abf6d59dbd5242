/**
 * The machines of an environment: a node holds its current VM (replaced on reset, restore and power-on), streams
 * its console to the node's terminals, and boots it in the driver's queue the way its kind says (xen and storage:
 * warm.ts, pxe: pxe-boot.ts).
 * @module
 */
import type { EnvironmentSpec } from '../types.js';
import { vmConfig, type QemuXenContext } from './context.js';
import type { StorageImage } from './image.js';
import type { NicPlan } from './network.js';
import { bootPxeNode } from './pxe-boot.js';
import type { VmBoot, VmConfig, VmDisk, XenScheduler, XenVm } from './vm.js';
import { bootStorageNode, bootXenNode } from './warm.js';
import { XenlabError } from '../../errors/index.js';

/**
 * What a node of an environment is: a Xen host, a storage node (sandbox/images/storage), a bare machine that
 * PXE-boots, or a shell on this machine.
 */
export type NodeKind = 'xen' | 'storage' | 'pxe' | 'local';

/** A machine's hardware beyond the driver's defaults: RAM, NICs on the private network, data disks. */
export interface NodeLayout {
  readonly memoryMb: number;
  readonly nics: readonly NicPlan[];
  readonly disks: readonly VmDisk[];
  /** The environment's network namespace, when it has a private network. */
  readonly netns: string | undefined;
  /** Every machine of the environment by name (the /etc/hosts each machine gets). */
  readonly hosts: readonly { readonly name: string; readonly address: string }[];
  /** xen machines: NUMA nodes and Xen's scheduler (see {@link VmConfig}); absent: the defaults. */
  readonly numaNodes?: number;
  readonly xenScheduler?: XenScheduler;
}

/** The configuration of machine `node` in `runDir`: the driver's settings, the node's layout, `boot`. */
export const nodeConfig = (ctx: QemuXenContext, node: VmNode, runDir: string, boot: VmBoot): VmConfig => ({
  ...vmConfig(ctx, runDir, boot),
  memoryMb: node.layout.memoryMb,
  ...(node.layout.nics.length > 0 && node.layout.netns !== undefined
    ? { nics: node.layout.nics, netns: node.layout.netns }
    : {}),
  ...(node.layout.disks.length > 0 ? { disks: node.layout.disks } : {}),
  ...(node.layout.numaNodes === undefined ? {} : { numaNodes: node.layout.numaNodes }),
  ...(node.layout.xenScheduler === undefined ? {} : { xenScheduler: node.layout.xenScheduler }),
});

/**
 * The shell script that gives a xen node (dom0, loaded from a template shared by every machine of its shape) its
 * identity on the private network: its name, each NIC's MAC and address, /etc/hosts. Idempotent. When the name
 * changes, the console's shell is restarted (dom0's init starts a new one a second later; the script waits for it):
 * bash reads the host name once at start, so the template's shell would keep showing the template's name.
 */
export function guestNetworkScript(name: string, layout: NodeLayout): string {
  const lines = [
    'set -e',
    'old=$(hostname)',
    `hostname ${name}`,
    `echo ${name} > /etc/hostname`,
    `printf '%s\\n' '127.0.0.1 localhost' '127.0.1.1 ${name}' '192.168.100.1 ${name}-xenbr0' ${layout.hosts
      .map((h) => `'${h.address} ${h.name}'`)
      .join(' ')} > /etc/hosts`,
    'modprobe virtio_net 2>/dev/null || true',
  ];
  layout.nics.forEach((n, j) => {
    const dev = `eth${String(j)}`;
    lines.push(
      `i=0; while [ ! -e /sys/class/net/${dev} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
      `ip link set ${dev} down`,
      `ip link set ${dev} address ${n.mac}`,
      `ip addr flush dev ${dev}`,
      `ip addr add ${n.address} dev ${dev}`,
      `ip link set ${dev} up`,
    );
  });
  // A new shell is up before the machine is handed over (init starts it a second after the old one ends), so what
  // the learner types first reaches it.
  lines.push(
    `if [ "$old" != ${name} ]; then`,
    '  was=$(pgrep -t hvc0 -x bash | head -1); pkill -KILL -t hvc0 -x bash || true',
    '  i=0; while [ $i -lt 50 ]; do now=$(pgrep -t hvc0 -x bash | head -1); [ -n "$now" ] && [ "$now" != "$was" ] && break; sleep 0.1; i=$((i+1)); done',
    'fi',
  );
  return `${lines.join('\n')}\n`;
}

/** A VM node: its current VM (replaced on reset/restore/power-on) and the terminals that follow it. */
export class VmNode {
  vm: XenVm | undefined;
  /** The last boot that failed (PXE), and the configuration it failed with. */
  failedBoot: { stamp: string; message: string } | undefined;
  /** The learner asked for a power-on from the console: boot even an unchanged, failed configuration. */
  retryRequested = false;
  private starting: Promise<XenVm> | undefined;
  /** {@link stop} is under way: a VM a boot attaches meanwhile is ended at once. */
  private stopping = false;
  private readonly listeners = new Set<(d: Buffer) => void>();
  private unsub: (() => void) | undefined;

  /** NICs whose link a fault took down (kept across power cycles: the cable stays pulled). */
  readonly linksDown = new Set<number>();
  /** Data disks a fault made fail (kept across power cycles: the disk stays broken). */
  readonly failingDisks = new Set<number>();
  /**
   * A fault cut the power: checks (exec) find the machine off instead of powering it on; Enter on its console or a
   * `machine-power-on` fault (or a reset) powers it on.
   */
  powerCut = false;
  /**
   * Its data disks are blank and it never ran on them (a new or reset machine): a storage node may then start from
   * its shape's template (warm.ts); one powered on again boots cold with the disks it has.
   */
  disksBlank = true;

  constructor(
    readonly name: string,
    readonly kind: 'xen' | 'pxe' | 'storage',
    readonly layout: NodeLayout,
    private readonly boot: (node: VmNode, incoming?: string) => Promise<XenVm>,
  ) {}

  /** A hard power cut (QEMU killed, like pulling the plug): no shutdown, the guest's RAM is gone. */
  async powerOff(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const vm = this.vm;
    if (!vm || vm.exited) return;
    this.powerCut = true;
    this.say(`${this.name} lost power (the plug was pulled)`);
    await vm.stop();
  }

  /** Plays again on a machine just started what faults left broken (links down, failing disks). */
  async reapplyFaults(vm: XenVm): Promise<void> {
    for (const j of this.linksDown) await vm.setLink(j, false);
    for (const k of this.failingDisks) await vm.diskErrors(k, true);
  }

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
    // A boot that waited its turn (PXE boots queue) and got its VM while the node was being stopped: end it now.
    if (this.stopping) void vm.stop();
  }

  /**
   * Ends the node's VM — and a boot in progress, instead of waiting it out: a PXE boot of a configuration that never
   * comes up would otherwise hold a cull, a destroy or a reset for the whole boot timeout (240 s). The booting VM is
   * attached from its first line (boot.ts), so killing it ends its wait for dom0 at once. A boot ended on purpose is
   * not a failed configuration: the next power-on boots it again.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    try {
      const booting = this.starting;
      if (booting) {
        await this.vm?.stop();
        await booting.catch(() => undefined); // its caller got the failure; stop only waits for it to end
        this.failedBoot = undefined;
      }
      const vm = this.vm;
      this.unsub?.();
      this.unsub = undefined;
      this.vm = undefined;
      await vm?.stop();
    } finally {
      this.stopping = false;
    }
  }
}

/** A node of environment `spec` whose VMs run in `runDir`; each boot waits its turn in the driver's queue. */
export function makeNode(
  ctx: QemuXenContext,
  spec: EnvironmentSpec,
  name: string,
  kind: 'xen' | 'pxe' | 'storage',
  runDir: string,
  layout: NodeLayout,
  storage: StorageImage | undefined,
): VmNode {
  return new VmNode(name, kind, layout, async (node, incoming) => {
    if (node.vm && !node.vm.exited) await node.vm.stop();
    let vm: XenVm;
    if (kind === 'pxe') {
      // PXE boots (minutes of a cold Xen boot) stay one at a time per state folder.
      vm = await ctx.queue.run(() => bootPxeNode(ctx, spec, node, runDir, incoming));
    } else if (kind === 'storage') {
      if (!storage) throw new XenlabError('SANDBOX_ERR_NO_XEN_IMAGE', 'no storage node image');
      vm = await bootStorageNode(ctx, spec, node, runDir, storage, incoming);
    } else {
      vm = await bootXenNode(ctx, spec, node, runDir, incoming);
      if (layout.nics.length > 0 && layout.netns !== undefined) {
        const r = await vm.agent?.exec(['sh', '-s'], {
          timeoutMs: 30_000,
          input: guestNetworkScript(name, layout),
        });
        if (r?.code !== 0) {
          await vm.stop();
          throw new XenlabError(
            'SANDBOX_ERR_NETWORK',
            `${name}: configuring its private network failed: ${r?.stderr.trim() ?? 'no agent'}`,
          );
        }
      }
    }
    try {
      await node.reapplyFaults(vm);
    } catch (err) {
      await vm.stop();
      throw err;
    }
    node.disksBlank = false;
    return vm;
  });
}
