import { spawn, type ChildProcess } from 'node:child_process';
import { constants, accessSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FirmwareConsole } from './firmware-console.js';
import { AgentClient } from './agent.js';
import type { XenImage } from './image.js';
import { QmpClient } from './qmp.js';
import { storageQemuArgs } from './storage-node.js';
import type { StorageImage } from './image.js';
import { XenlabError } from '../../errors/index.js';

/** How QEMU runs the guest: KVM when this machine offers it, else TCG (software emulation). */
export type Accel = 'kvm' | 'tcg';

/** KVM when /dev/kvm can be opened read-write; TCG otherwise. `XENLAB_XEN_ACCEL=tcg|kvm` overrides. */
export function detectAccel(): Accel {
  const forced = process.env.XENLAB_XEN_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return 'kvm';
  } catch {
    return 'tcg'; // deliberate: no usable /dev/kvm: software emulation
  }
}

/**
 * How a VM boots: the prepared image (QEMU loads Xen, dom0 and its initramfs), PXE from a TFTP folder, or a storage
 * node (sandbox/images/storage: Debian's kernel straight from QEMU, its name and addresses on the command line).
 */
export type VmBoot =
  | { readonly kind: 'image'; readonly hostname: string }
  | { readonly kind: 'pxe'; readonly tftpRoot: string; readonly bootfile: string }
  | {
      readonly kind: 'storage';
      readonly image: StorageImage;
      readonly hostname: string;
      /** eth0's (and eth1's) address with prefix on the environment's private network. */
      readonly addresses: readonly string[];
      readonly hosts: readonly { readonly name: string; readonly address: string }[];
      /** Boot as a template: no identity yet (the driver gives it one through the agent, see warm.ts). */
      readonly template?: boolean;
    };

/** A NIC of a machine on its environment's private network: a tap (in the environment's netns) on one bridge. */
export interface VmNic {
  /** QEMU's device id (`nic0`: what QMP `set_link` names). */
  readonly id: string;
  readonly tap: string;
  readonly mac: string;
}

/** A writable data disk: a sparse raw file, its serial the disk's name. */
export interface VmDisk {
  readonly name: string;
  readonly file: string;
  readonly sizeMb: number;
}

/** Everything that decides a VM's QEMU command line (a saved state only loads into the same one). */
export interface VmConfig {
  readonly image: XenImage;
  /** Folder for this VM's sockets; keep it short (unix socket paths stop at 107 bytes). */
  readonly runDir: string;
  readonly accel: Accel;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly boot: VmBoot;
  /** NICs on the environment's private network (QEMU then runs inside {@link netns}). */
  readonly nics?: readonly VmNic[];
  /** The network namespace holding the taps of {@link nics}. */
  readonly netns?: string;
  readonly disks?: readonly VmDisk[];
  /**
   * NUMA nodes QEMU presents (ACPI SRAT/SLIT): the CPUs and RAM split evenly, one socket per node. Absent or 1: one
   * node, the QEMU command line every machine had before (saved states keep loading).
   */
  readonly numaNodes?: number;
  /** Xen's scheduler (`sched=` on its command line); absent: Xen's default (credit2 in Xen 4.12 and later). */
  readonly xenScheduler?: XenScheduler;
}

/** Schedulers Xen 4.17 can be told to use for Pool-0 (`sched=`). */
export const XEN_SCHEDULERS = ['credit', 'credit2', 'rtds', 'arinc653', 'null'] as const;
export type XenScheduler = (typeof XEN_SCHEDULERS)[number];

/**
 * What a machine's saved state must agree on beyond its image and RAM: the NUMA nodes QEMU presents and Xen's
 * scheduler. A state saved without NUMA does not load into a machine with it (QEMU's RAM blocks differ), and a
 * scheduler is on Xen's command line, which a loaded state would silently keep as it was.
 */
export const machineShape = (m: {
  readonly numaNodes?: number | undefined;
  readonly xenScheduler?: XenScheduler | undefined;
}): string => JSON.stringify([m.numaNodes ?? 1, m.xenScheduler ?? 'default']);

/**
 * QEMU's CPU topology and NUMA arguments: `-smp N` alone for one node; for several, one socket per node, each node
 * its own RAM backend (`-m` is their sum) and its share of the CPUs, so Xen finds them in the ACPI SRAT.
 * @throws XenlabError `SANDBOX_ERR_BAD_NODE` when the CPUs or the RAM do not split evenly enough.
 */
export function topologyArgs(cpus: number, memoryMb: number, numaNodes = 1): string[] {
  if (numaNodes <= 1) return ['-smp', String(cpus)];
  if (!Number.isInteger(numaNodes) || cpus % numaNodes !== 0 || memoryMb < numaNodes * 256) {
    throw new XenlabError(
      'SANDBOX_ERR_BAD_NODE',
      `${String(numaNodes)} NUMA nodes need a multiple of ${String(numaNodes)} CPUs (not ${String(cpus)}) and 256 MiB of RAM each (not ${String(memoryMb)} MiB in all)`,
    );
  }
  const perNode = cpus / numaNodes;
  const args = ['-smp', `${String(cpus)},sockets=${String(numaNodes)},cores=${String(perNode)},threads=1`];
  const share = Math.floor(memoryMb / numaNodes);
  for (let i = 0; i < numaNodes; i++) {
    const mb = i === numaNodes - 1 ? memoryMb - share * (numaNodes - 1) : share;
    const first = i * perNode;
    const cpuRange = perNode === 1 ? String(first) : `${String(first)}-${String(first + perNode - 1)}`;
    args.push(
      '-object',
      `memory-backend-ram,id=numa${String(i)},size=${String(mb)}M`,
      '-numa',
      `node,nodeid=${String(i)},cpus=${cpuRange},memdev=numa${String(i)}`,
    );
  }
  return args;
}

/** Block node names of data disk `k` (`-blockdev`): the file, and the raw format node the device uses. */
export const diskNodes = (k: number): { file: string; format: string; bad: string } => ({
  file: `dk${String(k)}f`,
  format: `dk${String(k)}`,
  bad: `dk${String(k)}e`,
});

/** QEMU arguments of a VM's private NICs and data disks (after its root disk: data disks are vdb, vdc…). */
export function extraArgs(cfg: VmConfig): string[] {
  const args: string[] = [];
  (cfg.disks ?? []).forEach((d, k) => {
    const n = diskNodes(k);
    args.push(
      '-blockdev',
      `driver=file,filename=${d.file},node-name=${n.file}`,
      '-blockdev',
      `driver=raw,file=${n.file},node-name=${n.format}`,
      '-device',
      // rerror/werror=report: a failing disk gives the guest EIO (it is not paused, as a real one would not be).
      `virtio-blk-pci,drive=${n.format},id=disk${String(k)},serial=${d.name},rerror=report,werror=report`,
    );
  });
  (cfg.nics ?? []).forEach((nic, j) => {
    args.push(
      '-netdev',
      `tap,id=net${String(j)},ifname=${nic.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=net${String(j)},id=${nic.id},mac=${nic.mac}`,
    );
  });
  return args;
}

/** Hostnames go on a kernel command line that QEMU splits at commas: letters, digits and dashes only. */
export const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Name of the virtio-serial port dom0's agent listens on (sandbox/images/xen/dom0/agent.py). */
export const AGENT_PORT = 'org.xenlab.agent';

/**
 * Xen's command line. Measured on nested Xen in QEMU (TCG) on these machines: `bootscrub=false` keeps Xen from
 * touching all RAM (QEMU's RSS would grow to the full -m, and boot is slower); an initramfs-only dom0 needs
 * dom0_mem >= ~1 GB; `noreboot` with QEMU's -no-reboot turns a crash into an exit instead of a boot loop.
 */
export function xenCommandLine(memoryMb: number, scheduler?: XenScheduler): string {
  const dom0 = Math.min(1024, Math.max(768, memoryMb - 1024));
  return [
    // Pool-0's scheduler when the machine asks for one (labs about Xen 4.2/4.3, whose default was credit).
    ...(scheduler === undefined ? [] : [`sched=${scheduler}`]),
    `dom0_mem=${String(dom0)}M,max:${String(dom0)}M`,
    // One dom0 vCPU: with two, dom0's processes see random memory corruption under TCG as soon as a domU runs
    // (segfaults, ld.so "symbol lookup error"; 4-22 of 72 concurrent commands failed, 0 of 216 with one vCPU),
    // which points at cross-vCPU TLB flushes of a PV dom0 under emulation. Guests still get both CPUs.
    'dom0_max_vcpus=1',
    'console=com1',
    'com1=115200,8n1',
    'bootscrub=false',
    'noreboot',
  ].join(' ');
}

/** The QEMU command line of a VM (without -incoming). */
export function qemuArgs(cfg: VmConfig): string[] {
  if (cfg.boot.kind === 'storage') {
    const b = cfg.boot;
    return storageQemuArgs({
      image: b.image,
      runDir: cfg.runDir,
      accel: cfg.accel,
      memoryMb: cfg.memoryMb,
      cpus: cfg.cpus,
      hostname: b.hostname,
      ...(b.addresses[0] === undefined ? {} : { address: b.addresses[0] }),
      hosts: b.hosts,
      ...(b.template === true ? { template: true } : {}),
      // NICs and data disks come from the environment (several disks, fault-injectable block nodes).
      nicArgs: extraArgs(cfg),
    });
  }
  const sock = (name: string) => join(cfg.runDir, name);
  const args = [
    '-name',
    'xenlab-xen',
    '-machine',
    // graphics=off: SeaBIOS (and the iPXE ROM through it) prints on the serial console, which a PXE boot's learner
    // watches (firmware-console.ts).
    cfg.boot.kind === 'pxe' ? 'q35,graphics=off' : 'q35',
    '-accel',
    cfg.accel,
    // TCG: -smap, because SMAP crashes dom0 at its first instruction (#PF in create_bounce_frame); -rdtscp, because
    // Xen without NRIPS can not emulate RDTSCP for PVH guests. Both measured in nested-xen-in-qemu.md. KVM: the
    // host's CPU (`max` under KVM fails on some hosts: "failed to set MSR 0x10a", seen in a nested Firecracker VM).
    '-cpu',
    cfg.accel === 'tcg' ? 'max,-smap,-rdtscp' : 'host',
    '-m',
    String(cfg.memoryMb),
    ...topologyArgs(cfg.cpus, cfg.memoryMb, cfg.numaNodes),
    '-nodefaults',
    '-display',
    'none',
    '-no-reboot',
    '-chardev',
    `socket,id=con,path=${sock('console.sock')},server=on,wait=off`,
    '-serial',
    'chardev:con',
    '-chardev',
    `socket,id=qmp,path=${sock('qmp.sock')},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    '-device',
    'virtio-serial-pci,id=vser',
    '-chardev',
    `socket,id=agent,path=${sock('agent.sock')},server=on,wait=off`,
    '-device',
    `virtserialport,bus=vser.0,chardev=agent,name=${AGENT_PORT}`,
  ];
  if (cfg.boot.kind === 'image') {
    if (!HOSTNAME_RE.test(cfg.boot.hostname)) {
      throw new XenlabError('SANDBOX_ERR_BAD_HOSTNAME', `'${cfg.boot.hostname}' is not a hostname`);
    }
    // QEMU's -initrd takes multiboot modules separated by commas, each "file args". The root disk is read-only
    // (dom0 writes to a tmpfs overlay), so a saved state never disagrees with the disk it is restored next to.
    args.push(
      '-drive',
      `file=${cfg.image.rootDisk},if=none,id=root,format=raw,readonly=on`,
      '-device',
      'virtio-blk-pci,drive=root',
      '-kernel',
      cfg.image.xen,
      '-append',
      xenCommandLine(cfg.memoryMb, cfg.xenScheduler),
      '-initrd',
      `${cfg.image.vmlinux} console=hvc0 quiet xenlab.hostname=${cfg.boot.hostname},${cfg.image.diskInit}`,
      ...extraArgs(cfg),
    );
  } else {
    // QEMU's user-mode network answers DHCP and serves TFTP itself (the `bootfile` is DHCP option 67), and the
    // iPXE ROM in the virtio NIC runs what it gets: the same two settings a dnsmasq PXE server is given. restrict=on:
    // nothing else — without it 10.0.2.2 is this machine's loopback (the gateway, every service bound to localhost)
    // and the rest of the network is routed, from a dom0 where the learner is root.
    args.push(
      '-netdev',
      `user,id=n0,restrict=on,tftp=${cfg.boot.tftpRoot},bootfile=${cfg.boot.bootfile}`,
      '-device',
      'virtio-net-pci,netdev=n0',
      '-boot',
      'n',
    );
  }
  return args;
}

/** Single-quotes a path for the `sh -c` that QEMU's exec: migration URI runs. */
function shellQuote(p: string): string {
  return `'${p.replace(/'/g, `'\\''`)}'`;
}

async function connectUnix(path: string, deadline: number, exited: () => boolean): Promise<Socket> {
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => {
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (err) {
      if (exited()) throw new XenlabError('QEMU_ERR_EXITED', 'QEMU exited while starting');
      if (Date.now() > deadline) throw err;
      await delay(50);
    }
  }
}

async function retryConnect<T>(open: () => Promise<T>, deadline: number, exited: () => boolean): Promise<T> {
  for (;;) {
    try {
      return await open();
    } catch (err) {
      if (exited()) throw new XenlabError('QEMU_ERR_EXITED', 'QEMU exited while starting');
      if (Date.now() > deadline) throw err;
      await delay(50);
    }
  }
}

/** Most input queued for the console and not yet taken by the guest (a paste into a stuck dom0 is cut here). */
export const CONSOLE_INPUT_LIMIT = 512 * 1024;

/** Most console output kept for a terminal that attaches later (the boot log, the last screens). */
const CONSOLE_KEEP = 128 * 1024;

/**
 * One QEMU process running Xen: its console (the serial line dom0's hvc0 is on), its monitor (QMP) and the exec
 * agent in dom0. Created by {@link XenVm.start}; ends with {@link XenVm.stop} or when the guest powers off.
 */
/** Where a VM's run folder records its QEMU's pid. */
export const QEMU_PID_FILE = 'qemu.pid';

export class XenVm {
  private consoleChunks: Buffer[] = [];
  private consoleSize = 0;
  private readonly consoleListeners = new Set<(d: Buffer) => void>();
  private readonly exitListeners = new Set<(code: number | null) => void>();
  private agentClient: AgentClient | undefined;
  private exitCode: number | null | undefined;
  private stderr = '';
  private pausedBy = 0;
  /** A PXE boot's firmware on the console (until dom0 answers): its screen, and whether it gave up. */
  private readonly firmware: FirmwareConsole | undefined;

  private constructor(
    readonly config: VmConfig,
    private readonly child: ChildProcess,
    private readonly qmp: QmpClient,
    private readonly console: Socket,
  ) {
    this.firmware = config.boot.kind === 'pxe' ? new FirmwareConsole() : undefined;
    console.on('data', (d: Buffer) => {
      this.showConsole(this.firmware ? this.firmware.filter(d) : d);
    });
    console.on('error', () => undefined);
  }

  private showConsole(d: Buffer): void {
    if (d.length === 0) return;
    this.consoleChunks.push(d);
    this.consoleSize += d.length;
    while (this.consoleSize > CONSOLE_KEEP && this.consoleChunks.length > 1) {
      this.consoleSize -= this.consoleChunks.shift()?.length ?? 0;
    }
    for (const l of this.consoleListeners) l(d);
  }

  /** QEMU's pid (what a terminal on this VM reports as its pid). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** True once QEMU has exited. */
  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  /**
   * Starts QEMU. With `incoming`, loads a saved state file instead of booting (the state must come from a VM with
   * the same config) and resumes it; the agent is then ready at once.
   */
  static async start(cfg: VmConfig, opts: { incoming?: string; timeoutMs?: number } = {}): Promise<XenVm> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (const s of ['console.sock', 'qmp.sock', 'agent.sock']) rmSync(join(cfg.runDir, s), { force: true });
    const args = qemuArgs(cfg);
    if (opts.incoming !== undefined) args.push('-incoming', 'defer');
    // A machine on a private network runs inside its environment's network namespace, where its taps are
    // (`ip netns exec` execs QEMU: the pid is QEMU's).
    const child =
      cfg.netns === undefined
        ? spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] })
        : spawn('ip', ['netns', 'exec', cfg.netns, 'qemu-system-x86_64', ...args], {
            stdio: ['ignore', 'ignore', 'pipe'],
          });
    // For the driver's orphan sweep: a gateway killed outright leaves QEMU running (see reapOrphans).
    if (child.pid !== undefined) writeFileSync(join(cfg.runDir, QEMU_PID_FILE), String(child.pid));
    let exitCode: number | null | undefined;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 16_384) stderr += d.toString('utf8');
    });
    child.on('exit', (code) => {
      exitCode = code;
    });
    child.on('error', (err) => {
      exitCode = null;
      stderr += `${err.message}\n`;
    });
    const exited = () => exitCode !== undefined;
    try {
      const qmp = await retryConnect(() => QmpClient.connect(join(cfg.runDir, 'qmp.sock')), deadline, exited);
      const consoleSocket = await connectUnix(join(cfg.runDir, 'console.sock'), deadline, exited);
      const vm = new XenVm(cfg, child, qmp, consoleSocket);
      vm.stderr = stderr;
      child.stderr.on('data', (d: Buffer) => {
        if (vm.stderr.length < 16_384) vm.stderr += d.toString('utf8');
      });
      const onExit = (code: number | null) => {
        vm.exitCode = code;
        qmp.close();
        consoleSocket.destroy();
        vm.agentClient?.close();
        for (const l of vm.exitListeners) l(code);
      };
      if (exitCode !== undefined) onExit(exitCode);
      else child.on('exit', onExit);
      if (opts.incoming !== undefined) await vm.loadState(opts.incoming, deadline);
      return vm;
    } catch (err) {
      child.kill('SIGKILL');
      const why = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : '';
      throw new Error(`${(err as Error).message}${why}`);
    }
  }

  private async loadState(file: string, deadline: number): Promise<void> {
    if (!existsSync(file)) throw new XenlabError('SANDBOX_ERR_BAD_SNAPSHOT', `${file} does not exist`);
    await this.qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(file)}` });
    for (;;) {
      if (this.exited)
        throw new XenlabError('QEMU_ERR_EXITED', `loading ${file} failed: ${this.stderr.trim()}`);
      const s = await this.qmp.execute<{ status: string }>('query-status');
      if (s.status === 'paused' || s.status === 'running') break;
      if (Date.now() > deadline) throw new XenlabError('QEMU_ERR_TIMEOUT', `loading ${file} took too long`);
      await delay(20);
    }
    await this.qmp.execute('cont');
  }

  /**
   * Waits until dom0's agent answers (the boot is done: xenstored runs, the bridge is up). A restored VM answers at
   * once; a cold boot takes 30–60 s under TCG.
   * @throws Error `QEMU_ERR_BOOT_TIMEOUT` with the last console lines, `QEMU_ERR_EXITED` when the guest died, or
   * `QEMU_ERR_PXE_FAILED` when a PXE boot's firmware found nothing to boot.
   */
  async waitReady(timeoutMs: number): Promise<AgentClient> {
    const deadline = Date.now() + timeoutMs;
    let agent = this.agentClient && !this.agentClient.isClosed ? this.agentClient : undefined;
    if (!agent) {
      agent = await retryConnect(
        () => AgentClient.connect(join(this.config.runDir, 'agent.sock')),
        deadline,
        () => this.exited,
      );
      this.agentClient = agent;
    }
    while (Date.now() < deadline) {
      // A closed agent socket means QEMU is gone (it serves the socket for as long as it runs), even before its exit
      // event has been handled.
      if (this.exited || agent.isClosed)
        throw new XenlabError('QEMU_ERR_EXITED', `the VM stopped while booting\n${this.consoleTail(1500)}`);
      const p = await agent.ping(1000);
      if (p?.ready) {
        if (this.firmware) this.showConsole(this.firmware.end());
        return agent;
      }
      // The firmware found nothing to boot: SeaBIOS halts there (QEMU's reboot-timeout is off), so waiting is in vain.
      if (this.firmware?.failure !== undefined)
        throw new XenlabError(
          'QEMU_ERR_PXE_FAILED',
          `the PXE boot failed (${this.firmware.failure})\n${this.consoleTail(1500)}`,
        );
      // Always a real wait: a ping and a query-status that fail at once (sockets just closed) would otherwise make
      // this a loop of microtasks that never lets the event loop run — QEMU's exit event included — and freezes the
      // whole gateway at 100% of a core until the boot timeout (240 s).
      await delay(p ? 200 : 50); // with an answer: dom0's init is still starting the Xen daemons
      // A guest that can not go on (KVM internal error, a panic QEMU noticed) would otherwise wait out the timeout.
      const st = await this.qmp.execute<{ status: string }>('query-status').catch(() => ({ status: 'gone' }));
      if (['internal-error', 'guest-panicked', 'shutdown', 'io-error'].includes(st.status)) {
        throw new XenlabError(
          'QEMU_ERR_GUEST_STOPPED',
          `the VM stopped (${st.status}): ${this.stderr.trim()}\n${this.consoleTail(800)}`,
        );
      }
    }
    throw new XenlabError(
      'QEMU_ERR_BOOT_TIMEOUT',
      `dom0 did not come up in ${String(timeoutMs)} ms\n${this.consoleTail(1500)}`,
    );
  }

  /** The agent, once {@link waitReady} has succeeded. */
  get agent(): AgentClient | undefined {
    return this.agentClient;
  }

  /** The last `chars` characters the console printed. */
  consoleTail(chars: number): string {
    const all = Buffer.concat(this.consoleChunks).toString('utf8');
    return all.slice(-chars);
  }

  /** Everything the console printed that is still kept (up to 128 KiB). */
  consoleHistory(): Buffer {
    return Buffer.concat(this.consoleChunks);
  }

  onConsole(listener: (d: Buffer) => void): () => void {
    this.consoleListeners.add(listener);
    return () => this.consoleListeners.delete(listener);
  }

  onExit(listener: (code: number | null) => void): () => void {
    if (this.exitCode !== undefined) {
      const code = this.exitCode;
      queueMicrotask(() => {
        listener(code);
      });
    } else this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /**
   * Types into the console (the serial line). Never blocks (a socket); input the guest has not taken is bounded by
   * {@link CONSOLE_INPUT_LIMIT}: beyond it (dom0 not reading its console) input is dropped. Returns whether it was
   * queued.
   */
  writeConsole(data: string | Uint8Array): boolean {
    if (this.exited || this.console.writableLength >= CONSOLE_INPUT_LIMIT) return false;
    this.console.write(data);
    return true;
  }

  /** Flow control of the shared console: paused while any terminal asks for it. */
  pauseConsole(): void {
    if (this.pausedBy++ === 0) this.console.pause();
  }

  resumeConsole(): void {
    if (this.pausedBy > 0 && --this.pausedBy === 0) this.console.resume();
  }

  /**
   * Saves the whole machine (RAM and devices) to `file`. The VM is paused meanwhile, so the state is consistent;
   * with `resume` it runs on afterwards, otherwise it stays paused (about to be stopped).
   */
  async saveState(
    file: string,
    resume: boolean,
    timeoutMs = 120_000,
    whilePaused?: () => void,
  ): Promise<void> {
    const tmp = `${file}.tmp-${String(process.pid)}`;
    const deadline = Date.now() + timeoutMs;
    await this.qmp.execute('stop');
    try {
      // QEMU caps migration at 128 MiB/s by default (MAX_THROTTLE in migration.c); a local file needs no cap.
      await this.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 64 * 1024 * 1024 * 1024 });
      await this.qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(tmp)}` });
      for (;;) {
        const m = await this.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
        if (m.status === 'completed') break;
        if (m.status === 'failed' || m.status === 'cancelled') {
          throw new XenlabError('QEMU_ERR_SAVE', `saving the VM failed: ${m['error-desc'] ?? m.status}`);
        }
        if (Date.now() > deadline) throw new XenlabError('QEMU_ERR_SAVE', 'saving the VM took too long');
        await delay(50);
      }
      renameSync(tmp, file);
      // Still paused: what the machine's disks hold now is of the same moment as the state.
      whilePaused?.();
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    } finally {
      if (resume && !this.exited) await this.qmp.execute('cont');
    }
  }

  /** A NIC's link (QMP `set_link`): down, the guest sees NO-CARRIER and nothing passes. */
  async setLink(nic: number, up: boolean): Promise<void> {
    const id = this.config.nics?.[nic]?.id;
    if (id === undefined)
      throw new XenlabError('SANDBOX_ERR_BAD_FAULT', `this machine has no NIC eth${String(nic)}`);
    await this.qmp.execute('set_link', { name: id, up });
  }

  /**
   * I/O errors on data disk `k`: a blkdebug node (every read and write fails with EIO) is put between the disk's
   * format node and its file (`blockdev-reopen`), and taken out again. Flushes pass (nothing was written).
   */
  async diskErrors(k: number, failing: boolean): Promise<void> {
    if (this.config.disks?.[k] === undefined)
      throw new XenlabError('SANDBOX_ERR_BAD_FAULT', `this machine has no data disk ${String(k)}`);
    const n = diskNodes(k);
    const nodes = await this.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', {
      flat: true,
    });
    const inserted = nodes.some((b) => b['node-name'] === n.bad);
    if (failing === inserted) return;
    if (failing) {
      const rule = (event: string, iotype: string) => ({ event, errno: 5, iotype });
      await this.qmp.execute('blockdev-add', {
        driver: 'blkdebug',
        'node-name': n.bad,
        image: n.file,
        'inject-error': [
          rule('read_aio', 'read'),
          rule('write_aio', 'write'),
          rule('write_aio', 'write-zeroes'),
          rule('write_aio', 'discard'),
        ],
      });
      await this.qmp.execute('blockdev-reopen', {
        options: [{ driver: 'raw', 'node-name': n.format, file: n.bad }],
      });
    } else {
      await this.qmp.execute('blockdev-reopen', {
        options: [{ driver: 'raw', 'node-name': n.format, file: n.file }],
      });
      await this.qmp.execute('blockdev-del', { 'node-name': n.bad });
    }
  }

  /** Ends QEMU (at once: the guest's state is thrown away) and waits for it to exit. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => {
      this.onExit(() => {
        resolve();
      });
    });
    this.child.kill('SIGKILL');
    await done;
  }
}
