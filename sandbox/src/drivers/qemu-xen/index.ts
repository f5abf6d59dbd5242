/**
 * The `qemu-xen` sandbox driver: each environment is a real Xen host (Xen 4.17 and a Debian dom0) inside QEMU, with
 * KVM when this machine offers it and software emulation (TCG) otherwise. The learner's terminal is dom0's console;
 * `exec` runs in dom0 through a small agent on a virtio-serial port. A new environment starts from a saved machine
 * state (a template saved after the first cold boot), so the learner waits seconds instead of a boot.
 *
 * Node kinds (the `image` of a {@link NodeSpec}): `xen` (default) boots the prepared image; `pxe` is a bare machine
 * that PXE-boots from the learner's `~/pxe/dnsmasq.conf` when its console is opened or a check runs on it; `local`
 * is a shell on this machine (the local driver's jail) where the learner writes that configuration.
 * @module
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BootFeeds, type BootWatchable } from '../boot-progress.js';
import { JAIL_HOME } from '../local/index.js';
import { createLearnerLocalDriver } from '../local/learner-tools.js';
import type {
  EnvironmentSpec,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxDriver,
  SandboxSnapshot,
  TerminalProcess,
} from '../types.js';
import { DEFAULT_XEN_CACHE, findXenImage, type XenImage } from './image.js';
import { PXE_CONFIG, readPxeConfig, stageTftpRoot } from './pxe.js';
import { detectAccel, HOSTNAME_RE, QEMU_PID_FILE, qemuArgs, XenVm, type Accel, type VmConfig } from './vm.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/qemu-xen');

export { buildXenImage, findXenImage, DEFAULT_XEN_CACHE, type XenImage } from './image.js';
export { readPxeConfig, PXE_CONFIG } from './pxe.js';
export { detectAccel, qemuArgs, xenCommandLine, XenVm, type Accel, type VmConfig } from './vm.js';

export interface QemuXenDriverOptions {
  /** Image cache folder ({@link DEFAULT_XEN_CACHE}); its `current` image is used unless `image` is given. */
  readonly cacheDir?: string;
  readonly image?: XenImage;
  /** Saved machine states (templates, snapshots); `<cacheDir>/states` by default. */
  readonly stateDir?: string;
  /** `auto` (default): KVM when /dev/kvm is usable, else TCG. */
  readonly accel?: 'auto' | Accel;
  /** Guest RAM in MiB (default 2048: dom0 gets 1024, the rest is for domUs). */
  readonly memoryMb?: number;
  /** Virtual CPUs (default 2). */
  readonly cpus?: number;
  /** Longest a cold boot may take before it counts as hung (default 240 s; measured 30–75 s under TCG). */
  readonly bootTimeoutMs?: number;
  /** Start from (and save) a template state instead of booting every time (default true). */
  readonly warm?: boolean;
  /** dom0's hostname on `xen` nodes (default `xenhost`). */
  readonly hostname?: string;
}

type NodeKind = 'xen' | 'pxe' | 'local';

/** Boot durations measured on this machine, for the ETA a page shows while a host boots (last few per kind). */
class BootTimes {
  /** Until something was measured: TCG cold boots measured 30-75 s alone, ~2 min with the CPUs shared. */
  static readonly DEFAULTS: Readonly<Record<string, number>> = {
    'cold-tcg': 100_000,
    'cold-kvm': 25_000,
    'pxe-tcg': 150_000,
    'pxe-kvm': 40_000,
    restore: 5_000,
  };
  private times: Record<string, number[]>;
  constructor(private readonly file: string) {
    try {
      this.times = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number[]>;
    } catch {
      // Deliberate: no measurements yet (first boot) or a torn file: estimates start over.
      this.times = {};
    }
  }

  record(kind: string, ms: number): void {
    this.times[kind] = [...(this.times[kind] ?? []), Math.round(ms)].slice(-5);
    try {
      writeFileSync(this.file, JSON.stringify(this.times));
    } catch (err) {
      // Only an estimate: not kept this time.
      log.debug('could not save boot times', { file: this.file, err });
    }
  }

  /** The median of the last measurements of `kind`, else the default. */
  estimate(kind: string): number {
    const t = [...(this.times[kind] ?? [])].sort((a, b) => a - b);
    return t.length > 0 ? (t[Math.floor(t.length / 2)] ?? 0) : (BootTimes.DEFAULTS[kind] ?? 60_000);
  }
}

/**
 * Boots share the machine's cores with everything else: one at a time, in this process (a queue) and across
 * processes using the same state folder (a lock file holding the owner's pid; a dead owner's lock is taken over).
 * Under TCG two concurrent boots each take more than twice as long, and a test run would time out.
 */
class BootQueue {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(private readonly lockFile: string) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    const locked = async () => {
      await this.lock();
      try {
        return await fn();
      } finally {
        rmSync(this.lockFile, { force: true });
      }
    };
    const next = this.tail.then(locked, locked);
    this.tail = next.catch(() => undefined); // the queue goes on; `next` hands the failure to its caller
    return next;
  }

  private async lock(): Promise<void> {
    for (;;) {
      try {
        writeFileSync(this.lockFile, String(process.pid), { flag: 'wx' });
        return;
      } catch {
        // Held (EEXIST): wait for its owner, or take it over from a dead one.
        const owner = Number(readFileSync(this.lockFile, { encoding: 'utf8', flag: 'a+' }));
        let alive = false;
        try {
          if (owner > 0) process.kill(owner, 0);
          alive = owner > 0;
        } catch {
          alive = false; // ESRCH: the owner is gone
        }
        if (!alive) rmSync(this.lockFile, { force: true });
        else await delay(250);
      }
    }
  }
}

function qemuVersion(): string {
  const r = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  if (r.error)
    throw new XenlabError(
      'SANDBOX_ERR_NO_QEMU',
      'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)',
    );
  return r.stdout.split('\n')[0] ?? '';
}

/** What identifies a PXE configuration: the dnsmasq file and every file served, by size and change time. */
function pxeStamp(home: string, tftpRoot: string): string {
  const stat = (p: string) => {
    try {
      const st = lstatSync(p); // the learner's files: never through a link
      return `${String(st.size)}@${String(st.mtimeMs)}`;
    } catch {
      return 'missing'; // deliberate: a missing file is part of the stamp
    }
  };
  const files = readdirSync(tftpRoot).sort();
  return [stat(join(home, PXE_CONFIG)), ...files.map((f) => `${f}:${stat(join(tftpRoot, f))}`)].join('|');
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

/** Run folders of environments live in the temporary folder (unix socket paths must stay short). */
const RUN_PREFIX = 'xlq-';
/** The pid of the gateway process running an environment, in its run folder. */
const OWNER_FILE = 'owner.pid';

const pidAlive = (pid: number): boolean => {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const readPid = (file: string): number => {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return 0; // deliberate: no pid file (not started, or removed): nothing to reap
  }
};

/**
 * Ends the machines of gateways that died without letting go of them (killed outright: no detach, no destroy), and
 * removes their run folders. A machine whose gateway still runs is never touched, so parallel gateways (and test
 * files) sharing this machine are safe. Returns how many QEMU processes were ended.
 */
export function reapOrphans(dir: string = tmpdir()): number {
  let ended = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((e) => e.startsWith(RUN_PREFIX));
  } catch (err) {
    log.debug('could not read the folder of run folders', { dir, err });
    return 0;
  }
  for (const e of entries) {
    const runBase = join(dir, e);
    const owner = readPid(join(runBase, OWNER_FILE));
    if (owner === 0 || pidAlive(owner)) continue;
    for (const vmDir of readdirSync(runBase)) {
      const pid = readPid(join(runBase, vmDir, QEMU_PID_FILE));
      if (!pidAlive(pid)) continue;
      // Only a QEMU: the pid may have been reused since.
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8');
      } catch {
        continue; // deliberate: ended meanwhile
      }
      if (!cmd.startsWith('qemu-system')) continue;
      process.kill(pid, 'SIGKILL');
      ended++;
    }
    rmSync(runBase, { recursive: true, force: true });
  }
  return ended;
}

/** What a detached (hibernated) environment left on disk: which machines were running, from which image. */
interface Hibernation {
  readonly id: string;
  readonly running: string[];
  readonly image: string;
}

/** A VM node: its current VM (replaced on reset/restore/power-on) and the terminals that follow it. */
class VmNode {
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

/**
 * Creates the qemu-xen driver.
 * @throws Error `SANDBOX_ERR_NO_XEN_IMAGE` when no image is built, `SANDBOX_ERR_NO_QEMU` without QEMU.
 * @example
 * const driver = createQemuXenDriver();
 * const env = await driver.create({ id: 'alice/xen-under-the-hood', home: '/srv/homes/alice' });
 * const r = await env.exec(['xl', 'list']);   // runs in dom0
 */
export function createQemuXenDriver(options: QemuXenDriverOptions = {}): SandboxDriver & BootWatchable {
  const cacheDir = options.cacheDir ?? DEFAULT_XEN_CACHE;
  const image = options.image ?? findXenImage(cacheDir);
  const stateDir = options.stateDir ?? join(cacheDir, 'states');
  const autoAccel = options.accel === undefined || options.accel === 'auto';
  const version = qemuVersion();
  // Remembered per machine and QEMU version, so every driver after the first skips the failing KVM attempt.
  const kvmBroken = join(stateDir, 'kvm-does-not-run-xen');
  const kvmKnownBroken = existsSync(kvmBroken) && readFileSync(kvmBroken, 'utf8') === version;
  let accel: Accel = autoAccel ? (kvmKnownBroken ? 'tcg' : detectAccel()) : options.accel;
  const memoryMb = options.memoryMb ?? 2048;
  const cpus = options.cpus ?? 2;
  const bootTimeoutMs = options.bootTimeoutMs ?? 240_000;
  const warm = options.warm ?? true;
  const hostname = options.hostname ?? 'xenhost';
  if (!HOSTNAME_RE.test(hostname))
    throw new XenlabError('SANDBOX_ERR_BAD_HOSTNAME', `'${hostname}' is not a hostname`);
  const live = new Map<string, Sandbox>();
  let local: SandboxDriver | undefined;
  mkdirSync(join(stateDir, 'templates'), { recursive: true });
  mkdirSync(join(stateDir, 'snapshots'), { recursive: true });
  const queue = new BootQueue(join(stateDir, 'boot.lock'));
  const bootTimes = new BootTimes(join(stateDir, 'boot-times.json'));
  /** Creations in progress, for the page of the learner waiting for them (console from the first line, ETA). */
  const feeds = new BootFeeds();
  const hibernateDir = join(stateDir, 'hibernated');
  mkdirSync(hibernateDir, { recursive: true });
  /** Where a detached environment's machines are saved until it is opened again. */
  const hibernation = (id: string) =>
    join(
      hibernateDir,
      `${safe(id).slice(0, 40)}-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`,
    );
  const readHibernation = (ref: string): Hibernation | undefined => {
    try {
      return JSON.parse(readFileSync(join(ref, 'hibernated.json'), 'utf8')) as Hibernation;
    } catch {
      return undefined; // deliberate: not hibernated (or a torn file): the environment starts afresh
    }
  };
  reapOrphans();

  /** A saved state loads only into the same QEMU, machine and image: the template's name hashes all three. */
  const stateKey = (cfg: VmConfig) =>
    createHash('sha256')
      .update(JSON.stringify([version, image.key, qemuArgs({ ...cfg, runDir: '/' })]))
      .digest('hex')
      .slice(0, 16);

  const vmConfig = (runDir: string, boot: VmConfig['boot']): VmConfig => ({
    image,
    runDir,
    accel,
    memoryMb,
    cpus,
    boot,
  });

  /** Starts a VM from a state file, or boots it cold and waits for dom0; sets dom0's clock after a restore. */
  const startVm = async (cfg: VmConfig, incoming: string | undefined, node: VmNode): Promise<XenVm> => {
    try {
      return await startVmOnce(cfg, incoming, node);
    } catch (err) {
      // /dev/kvm can exist and still not run Xen (nested KVM without the CPU features: "KVM internal error"):
      // in auto mode fall back to TCG once, for good.
      if (!autoAccel || cfg.accel !== 'kvm' || incoming !== undefined) throw err;
      accel = 'tcg';
      writeFileSync(kvmBroken, version);
      node.say(
        `KVM did not run Xen here (${(err as Error).message.split('\n')[0] ?? ''}); using software emulation`,
      );
      return startVmOnce({ ...cfg, accel }, undefined, node);
    }
  };

  const startVmOnce = async (cfg: VmConfig, incoming: string | undefined, node: VmNode): Promise<XenVm> => {
    const started = Date.now();
    if (incoming !== undefined) {
      const vm = await XenVm.start(cfg, { incoming, timeoutMs: 60_000 });
      const agent = await vm.waitReady(30_000);
      await agent.setTime(Date.now() / 1000);
      bootTimes.record('restore', Date.now() - started);
      return vm;
    }
    node.say(
      cfg.boot.kind === 'pxe'
        ? `powering on ${node.name}: PXE boot from ${cfg.boot.tftpRoot}/${cfg.boot.bootfile}`
        : `booting Xen on ${node.name} (${accel === 'kvm' ? 'KVM' : 'software emulation, about a minute'})`,
    );
    const vm = await XenVm.start(cfg, { timeoutMs: 30_000 });
    node.attach(vm); // the learner watches the boot (Xen's messages, then dom0's)
    try {
      await vm.waitReady(bootTimeoutMs);
    } catch (err) {
      await vm.stop();
      throw err;
    }
    bootTimes.record(`${cfg.boot.kind === 'pxe' ? 'pxe' : 'cold'}-${cfg.accel}`, Date.now() - started);
    return vm;
  };

  /** Where the template of this driver's xen nodes is saved (it exists after the first cold boot). */
  const templateFile = () =>
    join(stateDir, 'templates', `${image.key}-${stateKey(vmConfig('/', { kind: 'image', hostname }))}.state`);
  /** How long bringing up a xen node takes now: loading the template, or a cold boot. */
  const estimate = (): number =>
    warm && existsSync(templateFile()) ? bootTimes.estimate('restore') : bootTimes.estimate(`cold-${accel}`);

  const makeNode = (spec: EnvironmentSpec, name: string, kind: 'xen' | 'pxe', runDir: string): VmNode =>
    new VmNode(name, kind, (node, incoming) =>
      queue.run(async () => {
        if (node.vm && !node.vm.exited) await node.vm.stop();
        if (kind === 'pxe') {
          const pxe = readPxeConfig(spec.home, JAIL_HOME);
          // Checks run every few seconds and power the host on; a configuration that did not boot is not tried
          // again until it changes (or the learner presses Enter on the host's console), or every poll would
          // start another doomed boot of minutes.
          const stamp = pxeStamp(spec.home, pxe.tftpRoot);
          const retry = node.retryRequested;
          node.retryRequested = false;
          if (incoming === undefined && !retry && node.failedBoot?.stamp === stamp) {
            throw new Error(`${node.failedBoot.message}\n(unchanged configuration: not booting it again)`);
          }
          try {
            // QEMU (root) serves a copy: a link in the learner's folder serves a file only from the Xen image.
            const served = join(runDir, 'tftp');
            const skipped = stageTftpRoot(pxe.tftpRoot, served, [image.dir]);
            if (skipped.some((f) => f === pxe.bootfile))
              throw new XenlabError(
                'SANDBOX_ERR_PXE_CONFIG',
                `~/${PXE_CONFIG}: dhcp-boot names ${pxe.bootfile}, which is a link to nothing, or to a file outside your home and $XENLAB_XEN_IMAGE`,
              );
            const vm = await startVm(
              vmConfig(runDir, { kind: 'pxe', tftpRoot: served, bootfile: pxe.bootfile }),
              incoming,
              node,
            );
            node.failedBoot = undefined;
            return vm;
          } catch (err) {
            node.failedBoot = { stamp, message: (err as Error).message };
            throw err;
          }
        }
        const cfg = vmConfig(runDir, { kind: 'image', hostname });
        if (incoming !== undefined || !warm) return startVm(cfg, incoming, node);
        const template = join(stateDir, 'templates', `${image.key}-${stateKey(cfg)}.state`);
        if (existsSync(template)) {
          try {
            return await startVm(cfg, template, node);
          } catch (err) {
            // A template that no longer loads (QEMU upgraded in place, a torn file): boot cold and save a new one.
            log.info('a saved Xen template did not load; booting cold', {
              environmentId: spec.id,
              template,
              err,
            });
            rmSync(template, { force: true });
          }
        }
        const vm = await startVm(cfg, undefined, node);
        // Named after the config it really booted with (auto mode may have fallen back from KVM to TCG).
        await vm.saveState(join(stateDir, 'templates', `${image.key}-${stateKey(vm.config)}.state`), true);
        return vm;
      }),
    );

  const createSandbox = async (spec: EnvironmentSpec): Promise<Sandbox> => {
    const specs = spec.nodes && spec.nodes.length > 0 ? spec.nodes : [{ name: 'main' }];
    const runBase = mkdtempSync(join(tmpdir(), RUN_PREFIX));
    writeFileSync(join(runBase, OWNER_FILE), String(process.pid));
    const vms = new Map<string, VmNode>();
    const kinds = new Map<string, NodeKind>();
    for (const n of specs) {
      const image = n.image ?? 'xen';
      if (image !== 'xen' && image !== 'pxe' && image !== 'local') {
        throw new XenlabError(
          'SANDBOX_ERR_BAD_NODE',
          `node ${n.name}: image must be xen, pxe or local, not ${image}`,
        );
      }
      const kind: NodeKind = image;
      if (kinds.has(n.name)) throw new XenlabError('SANDBOX_ERR_BAD_NODE', `two nodes are named ${n.name}`);
      kinds.set(n.name, kind);
      if (kind !== 'local') {
        const runDir = join(runBase, String(vms.size));
        mkdirSync(runDir);
        vms.set(n.name, makeNode(spec, n.name, kind, runDir));
      }
    }
    let localSandbox: Sandbox | undefined;
    if ([...kinds.values()].includes('local')) {
      // The learner's workbench: the image's boot files to serve, and the learner's commands (`xe`,
      // `xenlab-tools`) on PATH as every other driver gives them — labs call `xenlab-tools`, never a toolkit path.
      local ??= createLearnerLocalDriver({ readOnlyBinds: [image.dir] });
      localSandbox = await local.create({
        ...spec,
        env: {
          XENLAB_XEN_IMAGE: image.dir,
          ...spec.env,
        },
        nodes: [{ name: 'main' }],
      });
    }
    const nodeNames = specs.map((n) => n.name);
    const pick = (node: string | undefined) => {
      const name = node ?? nodeNames[0] ?? 'main';
      const kind = kinds.get(name);
      if (!kind) throw new XenlabError('SANDBOX_ERR_NO_NODE', `no node ${name} in environment ${spec.id}`);
      return { name, kind, vm: vms.get(name) };
    };
    let destroyed = false;
    const alive = () => {
      if (destroyed) throw new XenlabError('SANDBOX_ERR_DESTROYED', `environment ${spec.id} was destroyed`);
    };

    // A detached environment comes back as it was saved; otherwise xen nodes run from the start and pxe nodes wait
    // to be powered on.
    const saved = hibernation(spec.id);
    const was = readHibernation(saved);
    const resumes = was?.image === image.key ? new Set(was.running) : new Set<string>();
    // The page of a learner waiting for this environment follows the boot: what starts, an ETA, the console.
    const booting = [...vms.values()].filter((n) => n.kind === 'xen' || resumes.has(n.name));
    const feedOff = booting.map((n) =>
      n.subscribe((d) => {
        feeds.console(spec.id, d);
      }),
    );
    if (booting.length > 0) {
      const restoring = booting.every((n) => resumes.has(n.name)) || (warm && existsSync(templateFile()));
      feeds.begin(
        spec.id,
        restoring
          ? 'starting the Xen host from its saved state'
          : `booting a Xen host (${accel === 'kvm' ? 'KVM' : 'software emulation'})`,
        restoring ? bootTimes.estimate('restore') : bootTimes.estimate(`cold-${accel}`),
      );
    }
    try {
      await Promise.all(
        [...vms.values()].map(async (n) => {
          if (resumes.has(n.name)) {
            try {
              await n.ensure(join(saved, `${safe(n.name)}.state`));
              n.say(`${n.name} was saved when the lab server stopped, and is back as it was`);
              return;
            } catch (err) {
              n.say(
                `${n.name} could not be brought back as saved (${(err as Error).message}); starting it afresh`,
              );
            }
          }
          if (n.kind === 'xen') await n.ensure();
        }),
      );
      if (was) rmSync(saved, { recursive: true, force: true });
    } catch (err) {
      await Promise.all([...vms.values()].map((n) => n.stop()));
      rmSync(runBase, { recursive: true, force: true });
      throw err;
    } finally {
      for (const off of feedOff) off();
      feeds.end(spec.id);
    }

    const consoleTerminal = (node: VmNode, size: { cols: number; rows: number }): TerminalProcess => {
      const dataListeners = new Set<(d: Buffer) => void>();
      const exitListeners = new Set<(code: number | null) => void>();
      let killed = false;
      let paused = false;
      let pending: Buffer[] = [];
      const emit = (d: Buffer) => {
        if (paused) pending.push(d);
        else for (const l of dataListeners) l(d);
      };
      const unsub = node.subscribe(emit);
      const setSize = (cols: number, rows: number) => {
        // The serial line has no size of its own; tell dom0's tty so full-screen programs fit the browser.
        const agent = node.running ? node.vm?.agent : undefined;
        void agent?.exec(['stty', '-F', '/dev/hvc0', 'rows', String(rows), 'cols', String(cols)], {
          timeoutMs: 5000,
        });
      };
      const powerOn = () => {
        node.retryRequested = true;
        node.ensure().then(
          (vm) => {
            setSize(size.cols, size.rows);
            vm.writeConsole('\r');
          },
          (err: unknown) => {
            node.say(`${node.name} did not start: ${(err as Error).message}`);
          },
        );
      };
      // Replay what the console showed (the boot log, the prompt), so a new tab is not blank.
      queueMicrotask(() => {
        if (killed) return;
        if (node.running && node.vm) {
          const history = node.vm.consoleHistory();
          if (history.length > 0) emit(history);
          else node.vm.writeConsole('\r');
          setSize(size.cols, size.rows);
        } else powerOn();
      });
      return {
        pid: node.vm?.pid ?? 0,
        write(data) {
          if (killed) return;
          if (node.running) node.vm?.writeConsole(data);
          else if (/[\r\n]/.test(typeof data === 'string' ? data : Buffer.from(data).toString('latin1')))
            powerOn();
        },
        resize(cols, rows) {
          size = { cols, rows };
          if (!killed) setSize(cols, rows);
        },
        pause() {
          paused = true;
        },
        resume() {
          paused = false;
          const p = pending;
          pending = [];
          for (const d of p) for (const l of dataListeners) l(d);
        },
        kill() {
          if (killed) return;
          killed = true;
          unsub();
          for (const l of exitListeners) l(null);
          exitListeners.clear();
        },
        onData(listener) {
          dataListeners.add(listener);
        },
        onExit(listener) {
          exitListeners.add(listener);
        },
      };
    };

    const sandbox: Sandbox = {
      id: spec.id,
      nodes: nodeNames,
      // The workbench (a local jail) reaches the pool; Xen's dom0 has none.
      pool: localSandbox?.pool,
      attachTerminal(size, node) {
        alive();
        const n = pick(node);
        if (n.kind === 'local') {
          if (!localSandbox) throw new XenlabError('SANDBOX_ERR_NO_NODE', 'no local node');
          return localSandbox.attachTerminal(size);
        }
        if (!n.vm) throw new XenlabError('SANDBOX_ERR_NO_NODE', n.name);
        return consoleTerminal(n.vm, size);
      },
      async exec(argv, opts: ExecOptions = {}): Promise<ExecResult> {
        alive();
        const n = pick(opts.node);
        if (n.kind === 'local') {
          if (!localSandbox) throw new XenlabError('SANDBOX_ERR_NO_NODE', 'no local node');
          return localSandbox.exec(argv, { ...opts, node: 'main' });
        }
        if (!n.vm) throw new XenlabError('SANDBOX_ERR_NO_NODE', n.name);
        let vm: XenVm;
        try {
          // A pxe node powers on for a check, so "did the host come up from your configuration?" is answerable.
          vm = await n.vm.ensure();
        } catch (err) {
          return { code: null, stdout: '', stderr: `${(err as Error).message}\n`, timedOut: false };
        }
        const agent = vm.agent;
        if (!agent)
          return { code: null, stdout: '', stderr: 'AGENT_ERR_CLOSED: no agent\n', timedOut: false };
        // dom0 is the learner's machine and runs everything as root, so `root` changes nothing here.
        return agent.exec(argv, {
          timeoutMs: opts.timeoutMs ?? 30_000,
          ...(opts.input !== undefined ? { input: opts.input } : {}),
          ...(spec.env ? { env: spec.env } : {}),
        });
      },
      async reset() {
        alive();
        await localSandbox?.reset();
        for (const n of vms.values()) {
          await n.stop();
          n.say(`${n.name} was reset`);
          if (n.kind === 'xen') await n.ensure();
        }
      },
      async snapshot() {
        alive();
        const createdAt = new Date().toISOString();
        const ref = join(stateDir, 'snapshots', `${safe(spec.id)}-${Date.now().toString(36)}`);
        mkdirSync(ref, { recursive: true });
        const running: string[] = [];
        for (const n of vms.values()) {
          if (!n.running || !n.vm) continue;
          await n.vm.saveState(join(ref, `${safe(n.name)}.state`), true);
          running.push(n.name);
        }
        const local = localSandbox ? await localSandbox.snapshot() : undefined;
        writeFileSync(
          join(ref, 'snapshot.json'),
          JSON.stringify({ id: spec.id, running, local, image: image.key }),
        );
        return { driver: 'qemu-xen', id: spec.id, ref, createdAt };
      },
      async restore(snapshot: SandboxSnapshot) {
        alive();
        const metaFile = join(snapshot.ref, 'snapshot.json');
        if (snapshot.driver !== 'qemu-xen' || !existsSync(metaFile)) {
          throw new XenlabError('SANDBOX_ERR_BAD_SNAPSHOT', `${snapshot.ref} is not a qemu-xen snapshot`);
        }
        const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as {
          running: string[];
          local?: SandboxSnapshot;
          image: string;
        };
        if (meta.image !== image.key) {
          throw new XenlabError(
            'SANDBOX_ERR_BAD_SNAPSHOT',
            `${snapshot.ref} was taken with another Xen image`,
          );
        }
        if (meta.local && localSandbox) await localSandbox.restore(meta.local);
        for (const n of vms.values()) {
          if (meta.running.includes(n.name)) await n.ensure(join(snapshot.ref, `${safe(n.name)}.state`));
          else await n.stop();
        }
      },
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        live.delete(spec.id);
        await Promise.all([...vms.values()].map((n) => n.stop()));
        await localSandbox?.destroy();
        rmSync(runBase, { recursive: true, force: true });
        rmSync(hibernation(spec.id), { recursive: true, force: true });
      },
      async detach() {
        if (destroyed) return;
        destroyed = true;
        live.delete(spec.id);
        // Hibernate: each running machine's RAM and devices go to disk (seconds), so a restarted gateway brings
        // the learner's hosts back as they were, and no 2 GB QEMU is left running meanwhile.
        const ref = hibernation(spec.id);
        mkdirSync(ref, { recursive: true });
        const running: string[] = [];
        for (const n of vms.values()) {
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
        const meta: Hibernation = { id: spec.id, running, image: image.key };
        writeFileSync(join(ref, 'hibernated.json'), JSON.stringify(meta));
        await Promise.all([...vms.values()].map((n) => n.stop()));
        await localSandbox?.detach();
        rmSync(runBase, { recursive: true, force: true });
      },
    };
    return sandbox;
  };

  const creating = new Map<string, Promise<Sandbox>>();
  return {
    name: 'qemu-xen',
    jailed: true,
    notice: undefined,
    create(spec) {
      const existing = live.get(spec.id);
      if (existing) return Promise.resolve(existing);
      let p = creating.get(spec.id);
      if (!p) {
        p = createSandbox(spec)
          .then((s) => {
            live.set(spec.id, s);
            return s;
          })
          .finally(() => creating.delete(spec.id));
        creating.set(spec.id, p);
      }
      return p;
    },
    watchBoot: (id, listener) => feeds.watch(id, listener),
    bootEstimateMs: estimate,
    list() {
      // Running here, and saved by an earlier gateway (opened again, they resume).
      const ids = new Set(live.keys());
      for (const e of readdirSync(hibernateDir)) {
        const h = readHibernation(join(hibernateDir, e));
        if (h) ids.add(h.id);
      }
      return Promise.resolve([...ids]);
    },
  };
}
