/**
 * The sandbox drivers by name — one registry for the gateway (`xenlab serve`) and for `xenlab lab test`. Each
 * driver is a lazy factory with a cheap `available()` probe that says why it cannot run here (no Docker engine, no
 * QEMU, no image built…); a driver is created once, on first use, and shared by every environment after that. So a
 * gateway serving local labs never touches Docker or QEMU, and a lab naming `qemu-xen` gets a nested Xen host
 * while the lesson pages keep their local shells.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createLearnerLocalDriver } from './local/learner-tools.js';
import type { LocalDriverOptions } from './local/index.js';
import type { SandboxDriver } from './types.js';
import type { DockerDriverOptions } from './docker/index.js';
import type { QemuXenDriverOptions } from './qemu-xen/index.js';
import { isErrorCode, XenlabError, type ErrorCode } from '../errors/index.js';
import { moduleLogger } from '../log/index.js';

const log = moduleLogger('drivers');

export { BootFeeds, canWatchBoot } from './boot-progress.js';
export type { BootEvent, BootListener, BootWatchable } from './boot-progress.js';
export type { SandboxDriver } from './types.js';

/** The drivers this build has. */
export const DRIVER_NAMES = ['local', 'docker', 'qemu-xen'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** Whether a driver can run on this machine, and when not: why, and what to do about it. */
export type DriverAvailability =
  | {
      readonly ok: true;
      /** Something worth saying anyway (e.g. software emulation: slow boots). */ readonly note?: string;
    }
  | {
      readonly ok: false;
      /**
       * The driver's own stable code (`SANDBOX_ERR_NO_ENGINE`, `SANDBOX_ERR_NO_XEN_IMAGE`…), a code of the table in
       * sandbox/src/errors/codes.ts for this build's drivers (a factory from elsewhere may have its own).
       */
      readonly code: string;
      /** Why, in a sentence. */
      readonly reason: string;
      /** What to do, in a sentence with the command. */
      readonly fix: string;
    };

/** What a lab on each driver needs, in words a learner or an instructor reads on the page. */
const NEEDS: Record<string, string> = {
  local: 'a shell on this machine',
  docker: 'Docker (the docker driver)',
  'qemu-xen': 'a nested Xen host (the qemu-xen driver: Xen in QEMU)',
};

/** A driver that cannot run here: the page says which, why and what to do, and does not retry. */
export class DriverUnavailableError extends XenlabError {
  // `code` (from XenlabError) is the driver's reason (`SANDBOX_ERR_NO_XEN_IMAGE`, `SANDBOX_ERR_NO_ENGINE`…).
  readonly driver: string;
  readonly reason: string;
  readonly fix: string;
  constructor(driver: string, code: ErrorCode, reason: string, fix: string) {
    super(
      code,
      `this lab needs ${NEEDS[driver] ?? `the ${driver} driver`}, which cannot run on this machine: ${reason}. ${fix}`,
    );
    this.driver = driver;
    this.reason = reason;
    this.fix = fix;
  }
}

/** A driver's error message split into its stable code and the rest (`CODE: text`); `fallback` when it has none. */
function splitCode(message: string, fallback: ErrorCode): { code: ErrorCode; text: string } {
  const m = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  return m && isErrorCode(m[1]) ? { code: m[1], text: m[2] ?? message } : { code: fallback, text: message };
}

/** One driver: how to tell whether it can run, and how to make it. */
export interface DriverFactory {
  readonly name: string;
  available(): Promise<DriverAvailability>;
  create(): Promise<SandboxDriver>;
}

export interface DriverRegistryOptions {
  /**
   * The local driver. The gateway passes the learner variant (`createLearnerLocalDriver` with its tool folder
   * under the data dir); labs get `createLearnerLocalDriver({ jail: 'auto' })` by default.
   */
  readonly local?: SandboxDriver | (() => SandboxDriver);
  /** Options of the local driver made by default (ignored when `local` is given). */
  readonly localOptions?: LocalDriverOptions;
  readonly docker?: DockerDriverOptions;
  readonly qemuXen?: QemuXenDriverOptions;
  /** Replaces or adds factories (tests). */
  readonly factories?: readonly DriverFactory[];
  /** How long an availability answer is reused (default 10 s): probes are cheap, but a page asks often. */
  readonly probeTtlMs?: number;
}

/** The drivers of one process, each created once. */
export interface DriverRegistry {
  /** Names of the drivers this registry knows. */
  names(): string[];
  /** Whether `name` can run here (cheap; cached briefly). Never rejects. */
  available(name: string): Promise<DriverAvailability>;
  /**
   * The shared driver of that name, created on first use.
   * @throws DriverUnavailableError when it cannot run here (why and what to do are in it).
   */
  get(name: string): Promise<SandboxDriver>;
  /** The driver of that name when it was created already (no probe, no creation). */
  peek(name: string): SandboxDriver | undefined;
  /** Lets go of the drivers that hold something (docker's warm pool); environments keep running. */
  close(): Promise<void>;
}

const firstLine = (s: string) => s.split('\n')[0] ?? s;

/** `qemu-system-x86_64 --version` (a few ms), once per process. */
let qemuProbe: { ok: boolean; version: string } | undefined;
function probeQemu(): { ok: boolean; version: string } {
  if (!qemuProbe) {
    const r = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8', timeout: 5_000 });
    qemuProbe =
      r.error || r.status !== 0 ? { ok: false, version: '' } : { ok: true, version: firstLine(r.stdout) };
  }
  return qemuProbe;
}

function localFactory(options: DriverRegistryOptions): DriverFactory {
  return {
    name: 'local',
    available: () => Promise.resolve({ ok: true }),
    create: () =>
      Promise.resolve(
        typeof options.local === 'function'
          ? options.local()
          : (options.local ?? createLearnerLocalDriver(options.localOptions ?? { jail: 'auto' })),
      ),
  };
}

function dockerFactory(options: DriverRegistryOptions): DriverFactory {
  return {
    name: 'docker',
    async available() {
      const { connectEngine, LAB_IMAGE } = await import('./docker/index.js');
      const docker = connectEngine(options.docker?.engine);
      try {
        await Promise.race([
          docker.ping(),
          new Promise((_, reject) =>
            setTimeout(() => {
              reject(new Error('no answer within 3 s'));
            }, 3_000).unref(),
          ),
        ]);
      } catch (err) {
        return {
          ok: false,
          code: 'SANDBOX_ERR_NO_ENGINE',
          reason: `the Docker engine does not answer (${firstLine((err as Error).message)})`,
          fix: 'Start Docker (dockerd), or set DOCKER_HOST to an engine, then reload this page.',
        };
      }
      const image = options.docker?.image ?? LAB_IMAGE;
      try {
        await docker.getImage(image).inspect();
      } catch {
        return {
          ok: false,
          code: 'SANDBOX_ERR_NO_IMAGE',
          reason: `the lab image ${image} is not built`,
          fix: 'Run `sudo npx xenlab image build` on the machine running xenlab, then reload this page.',
        };
      }
      return { ok: true };
    },
    async create() {
      const { createDockerDriver } = await import('./docker/index.js');
      return createDockerDriver(options.docker);
    },
  };
}

function qemuXenFactory(options: DriverRegistryOptions): DriverFactory {
  return {
    name: 'qemu-xen',
    async available() {
      if (!probeQemu().ok)
        return {
          ok: false,
          code: 'SANDBOX_ERR_NO_QEMU',
          reason: 'QEMU (qemu-system-x86_64) is not installed',
          fix: 'Install it (`sudo apt-get install qemu-system-x86 ipxe-qemu`), then run `sudo npx xenlab image build --xen` and reload this page.',
        };
      const { DEFAULT_XEN_CACHE, findXenImage, detectAccel } = await import('./qemu-xen/index.js');
      const cacheDir = options.qemuXen?.cacheDir ?? DEFAULT_XEN_CACHE;
      if (!options.qemuXen?.image) {
        try {
          findXenImage(cacheDir);
        } catch (err) {
          return {
            ok: false,
            code: 'SANDBOX_ERR_NO_XEN_IMAGE',
            reason: `no nested-Xen image is built (${splitCode((err as Error).message, 'SANDBOX_ERR_NO_XEN_IMAGE').text.split(';')[0] ?? ''})`,
            fix: 'Run `sudo npx xenlab image build --xen` (3-5 minutes, once), then reload this page.',
          };
        }
      }
      const accel =
        options.qemuXen?.accel && options.qemuXen.accel !== 'auto' ? options.qemuXen.accel : detectAccel();
      if (accel === 'tcg') {
        // Software emulation works (CI runs it) but a cold boot takes 1-2 minutes; an operator can rule it out.
        if (process.env.XENLAB_XEN_TCG === 'off')
          return {
            ok: false,
            code: 'SANDBOX_ERR_NO_KVM',
            reason: 'there is no usable /dev/kvm and software emulation is switched off (XENLAB_XEN_TCG=off)',
            fix: 'Run xenlab on a machine with KVM, or unset XENLAB_XEN_TCG to accept slow boots (1-2 minutes).',
          };
        return {
          ok: true,
          note: 'no KVM here: the nested Xen runs under software emulation (the first boot takes 1-2 minutes)',
        };
      }
      return { ok: true };
    },
    async create() {
      const { createQemuXenDriver } = await import('./qemu-xen/index.js');
      return createQemuXenDriver(options.qemuXen);
    },
  };
}

/**
 * Creates a registry of the local, docker and qemu-xen drivers.
 * @example
 * const drivers = createDriverRegistry({ local: createLearnerLocalDriver({ toolBinDir: '.xenlab/bin' }) });
 * const why = await drivers.available('qemu-xen'); // { ok: false, code: 'SANDBOX_ERR_NO_XEN_IMAGE', reason, fix }
 * const driver = await drivers.get(lab.manifest.environment.driver); // throws DriverUnavailableError
 */
export function createDriverRegistry(options: DriverRegistryOptions = {}): DriverRegistry {
  const factories = new Map<string, DriverFactory>();
  for (const f of [
    localFactory(options),
    dockerFactory(options),
    qemuXenFactory(options),
    ...(options.factories ?? []),
  ])
    factories.set(f.name, f);
  const ttl = options.probeTtlMs ?? 10_000;
  const probes = new Map<string, { at: number; answer: Promise<DriverAvailability> }>();
  const created = new Map<string, Promise<SandboxDriver>>();
  const ready = new Map<string, SandboxDriver>();

  const available = (name: string): Promise<DriverAvailability> => {
    const f = factories.get(name);
    if (!f)
      return Promise.resolve({
        ok: false,
        code: 'LAB_ERR_NO_DRIVER',
        reason: `this build has no sandbox driver named "${name}"`,
        fix: `Use one of ${[...factories.keys()].join(', ')} in the lab's environment.driver.`,
      });
    if (ready.has(name)) return Promise.resolve({ ok: true });
    const cached = probes.get(name);
    if (cached && Date.now() - cached.at < ttl) return cached.answer;
    const answer = f.available().catch((err: unknown): DriverAvailability => ({
      ok: false,
      code: splitCode((err as Error).message, 'SANDBOX_ERR_DRIVER_PROBE').code,
      reason: firstLine((err as Error).message),
      fix: 'See the lab server’s log.',
    }));
    probes.set(name, { at: Date.now(), answer });
    return answer;
  };

  const get = (name: string): Promise<SandboxDriver> => {
    const existing = created.get(name);
    if (existing) return existing;
    const p = (async () => {
      const a = await available(name);
      if (!a.ok)
        throw new DriverUnavailableError(
          name,
          isErrorCode(a.code) ? a.code : 'SANDBOX_ERR_DRIVER_PROBE',
          a.reason,
          a.fix,
        );
      const f = factories.get(name);
      if (!f) throw new DriverUnavailableError(name, 'LAB_ERR_NO_DRIVER', `no driver named "${name}"`, '');
      try {
        const d = await f.create();
        ready.set(name, d);
        return d;
      } catch (err) {
        // The probe passed but the driver refused (a firewall rule missing, an image half built): say so as well.
        const { code, text } = splitCode((err as Error).message, 'SANDBOX_ERR_DRIVER_START');
        throw new DriverUnavailableError(
          name,
          code,
          firstLine(text),
          'See the lab server’s log, fix it, and reload this page.',
        );
      }
    })();
    created.set(name, p);
    // A driver that could not start is asked again next time (the image may have been built meanwhile).
    p.catch(() => {
      if (created.get(name) === p) created.delete(name);
    });
    return p;
  };

  return {
    names: () => [...factories.keys()],
    available,
    get,
    peek: (name) => ready.get(name),
    async close() {
      for (const d of ready.values()) {
        const closable = d as SandboxDriver & { close?: () => Promise<void> };
        if (typeof closable.close === 'function')
          await closable.close().catch((err: unknown) => {
            log.warn('closing a driver failed', { driver: d.name, err });
          });
      }
    },
  };
}
