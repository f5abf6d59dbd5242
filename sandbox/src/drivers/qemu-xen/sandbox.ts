/**
 * The `Sandbox` a qemu-xen environment is used through: consoles and the workbench's shell as terminals, checks
 * run in dom0 through its agent (or in the workbench), reset, and the saved states of saved-states.ts.
 * @module
 */
import { rmSync, truncateSync } from 'node:fs';
import type {
  ExecOptions,
  ExecResult,
  MachineFault,
  Sandbox,
  SandboxSnapshot,
  TerminalProcess,
} from '../types.js';
import { consoleTerminal } from './console.js';
import type { QemuXenContext } from './context.js';
import type { QemuEnv } from './environment.js';
import { removeNetns } from './network.js';
import type { NodeKind, VmNode } from './node.js';
import { hibernateEnv, hibernation, restoreEnv, snapshotEnv } from './saved-states.js';
import type { XenVm } from './vm.js';
import { XenlabError } from '../../errors/index.js';

/** The node named (the first when none is), its kind and, for a machine, its VM node. */
function pick(
  env: QemuEnv,
  node: string | undefined,
): { name: string; kind: NodeKind; vm: VmNode | undefined } {
  const name = node ?? env.nodeNames[0] ?? 'main';
  const kind = env.kinds.get(name);
  if (!kind) throw new XenlabError('SANDBOX_ERR_NO_NODE', `no node ${name} in environment ${env.spec.id}`);
  return { name, kind, vm: env.vms.get(name) };
}

function alive(env: QemuEnv): void {
  if (env.destroyed)
    throw new XenlabError('SANDBOX_ERR_DESTROYED', `environment ${env.spec.id} was destroyed`);
}

/** A terminal on a node: a machine's console, or the workbench's shell. */
function attachTerminal(env: QemuEnv, size: { cols: number; rows: number }, node?: string): TerminalProcess {
  alive(env);
  const n = pick(env, node);
  if (n.kind === 'local') {
    if (!env.localSandbox) throw new XenlabError('SANDBOX_ERR_NO_NODE', 'no local node');
    return env.localSandbox.attachTerminal(size);
  }
  if (!n.vm) throw new XenlabError('SANDBOX_ERR_NO_NODE', n.name);
  return consoleTerminal(n.vm, size);
}

/** Runs a command in a machine's dom0 through its agent (powering it on first), or in the workbench. */
async function exec(env: QemuEnv, argv: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  alive(env);
  const n = pick(env, opts.node);
  if (n.kind === 'local') {
    if (!env.localSandbox) throw new XenlabError('SANDBOX_ERR_NO_NODE', 'no local node');
    return env.localSandbox.exec(argv, { ...opts, node: 'main' });
  }
  if (!n.vm) throw new XenlabError('SANDBOX_ERR_NO_NODE', n.name);
  if (n.vm.powerCut)
    return {
      code: null,
      stdout: '',
      stderr: `SANDBOX_ERR_POWERED_OFF: ${n.name} is powered off (its power was cut)\n`,
      timedOut: false,
    };
  let vm: XenVm;
  try {
    // A pxe node powers on for a check, so "did the host come up from your configuration?" is answerable.
    vm = await n.vm.ensure();
  } catch (err) {
    return { code: null, stdout: '', stderr: `${(err as Error).message}\n`, timedOut: false };
  }
  const agent = vm.agent;
  if (!agent) return { code: null, stdout: '', stderr: 'AGENT_ERR_CLOSED: no agent\n', timedOut: false };
  // dom0 is the learner's machine and runs everything as root, so `root` changes nothing here.
  return agent.exec(argv, {
    timeoutMs: opts.timeoutMs ?? 30_000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(env.spec.env ? { env: env.spec.env } : {}),
  });
}

/** Every machine stopped and booted afresh (pxe nodes wait), faults cleared, data disks blank; the workbench reset. */
async function reset(env: QemuEnv): Promise<void> {
  alive(env);
  await env.localSandbox?.reset();
  for (const n of env.vms.values()) {
    await n.stop();
    n.linksDown.clear();
    n.failingDisks.clear();
    n.powerCut = false;
    for (const d of n.layout.disks) truncateSync(d.file, 0);
    for (const d of n.layout.disks) truncateSync(d.file, d.sizeMb * 1024 * 1024);
    n.disksBlank = true;
    n.say(`${n.name} was reset`);
  }
  await Promise.all([...env.vms.values()].filter((n) => n.kind !== 'pxe').map((n) => n.ensure()));
}

/**
 * A machine fault: power cut (QEMU killed) and power on (booted, or from the template; data disks as they were), a
 * NIC's link (QMP set_link), a data disk's I/O errors (blkdebug). Link and disk faults stay across power cycles.
 */
async function machineFault(env: QemuEnv, f: MachineFault): Promise<void> {
  alive(env);
  const [name = '', part] = f.target.split('/');
  const n = env.vms.get(name);
  if (!n)
    throw new XenlabError(
      'SANDBOX_ERR_NO_NODE',
      `no machine ${name} in environment ${env.spec.id} (machines: ${[...env.vms.keys()].join(', ')})`,
    );
  switch (f.kind) {
    case 'machine-power-off':
      await n.powerOff();
      return;
    case 'machine-power-on':
      n.retryRequested = true;
      n.powerCut = false;
      await n.ensure();
      return;
    case 'link-down':
    case 'link-up': {
      const m = /^eth([0-9])$/.exec(part ?? '');
      const j = m ? Number(m[1]) : -1;
      if (j < 0 || j >= n.layout.nics.length)
        throw new XenlabError(
          'SANDBOX_ERR_BAD_FAULT',
          `${name} has no NIC ${part ?? ''} on the private network`,
        );
      if (f.kind === 'link-down') n.linksDown.add(j);
      else n.linksDown.delete(j);
      if (n.running && n.vm) await n.vm.setLink(j, f.kind === 'link-up');
      return;
    }
    case 'disk-errors':
    case 'disk-ok': {
      const k = n.layout.disks.findIndex((d) => d.name === part);
      if (k < 0) throw new XenlabError('SANDBOX_ERR_BAD_FAULT', `${name} has no data disk ${part ?? ''}`);
      if (f.kind === 'disk-errors') n.failingDisks.add(k);
      else n.failingDisks.delete(k);
      if (n.running && n.vm) await n.vm.diskErrors(k, f.kind === 'disk-errors');
      return;
    }
  }
}

async function destroy(ctx: QemuXenContext, env: QemuEnv): Promise<void> {
  if (env.destroyed) return;
  env.destroyed = true;
  ctx.live.delete(env.spec.id);
  await Promise.all([...env.vms.values()].map((n) => n.stop()));
  if (env.netns !== undefined) removeNetns(env.netns);
  await env.localSandbox?.destroy();
  rmSync(env.runBase, { recursive: true, force: true });
  rmSync(hibernation(ctx, env.spec.id), { recursive: true, force: true });
}

async function detach(ctx: QemuXenContext, env: QemuEnv): Promise<void> {
  if (env.destroyed) return;
  env.destroyed = true;
  ctx.live.delete(env.spec.id);
  await hibernateEnv(ctx, env);
}

/** The sandbox of a created environment. */
export function makeSandbox(ctx: QemuXenContext, env: QemuEnv): Sandbox {
  return {
    id: env.spec.id,
    nodes: env.nodeNames,
    // The workbench (a local jail) reaches the pool; Xen's dom0 has none.
    pool: env.localSandbox?.pool,
    attachTerminal: (size, node) => attachTerminal(env, size, node),
    exec: (argv, opts: ExecOptions = {}) => exec(env, argv, opts),
    reset: () => reset(env),
    async snapshot() {
      alive(env);
      return snapshotEnv(ctx, env);
    },
    async restore(snapshot: SandboxSnapshot) {
      alive(env);
      await restoreEnv(ctx, env, snapshot);
    },
    destroy: () => destroy(ctx, env),
    machineFault: (f) => machineFault(env, f),
    detach: () => detach(ctx, env),
  };
}
