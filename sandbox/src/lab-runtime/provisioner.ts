/**
 * The seam to the gateway's environment manager: a `Provisioner` that brings up lab environments (simulator with
 * the lab's scenario, parameters, setup, grader) for lab ids, and a plain pool + sandbox for anything else (the
 * playground of lesson pages). The gateway mounts the lab channel with {@link LabProvisioner.environment}.
 *
 * Each lab runs on the driver its manifest names (`environment.driver`), from the driver registry: `local` labs
 * and the playground on the gateway's default driver, `docker` and `qemu-xen` labs on theirs. While a slow driver
 * brings an environment up (a nested Xen boots), {@link LabProvisioner.watchStart} follows it for the page.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { BootFeeds, canWatchBoot, createDriverRegistry } from '../drivers/index.js';
import type { BootListener, DriverRegistry } from '../drivers/index.js';
import type { SandboxDriver } from '../drivers/types.js';
import type { Provisioned, Provisioner } from '../sessions/index.js';
import { poolStateOf, provisionPlayground } from '../sessions/index.js';
import type { EnvironmentRow } from '../store/index.js';
import { fileSink } from '../sim/index.js';
import { createLabEnvironment } from './environment.js';
import type { LabEnvironment } from './environment.js';
import { LABS_DIR, loadLab } from '../labs/loader.js';

/** Options of {@link createLabProvisioner}. */
export interface LabProvisionerOptions {
  /** The default driver: the playground (lesson pages) and labs whose driver is `local`. */
  readonly driver: SandboxDriver;
  /**
   * Where labs naming another driver (`docker`, `qemu-xen`) get theirs; default: a registry whose `local` is
   * `driver`. A driver that cannot run here fails the bring-up with a `DriverUnavailableError`.
   */
  readonly drivers?: DriverRegistry;
  /** Durable grading progress (the gateway's database). */
  readonly db?: Database.Database;
  readonly labsDir?: string;
  readonly pollMs?: number;
}

/** Lab-aware provisioning plus a way to find a learner's live lab environment. */
export interface LabProvisioner {
  readonly provision: Provisioner;
  /**
   * The live lab environment of an environment id (`EnvironmentRow.id`), once provisioned; waits for one being
   * brought up. Undefined for ids that are not labs or not live.
   */
  environment(envId: string): Promise<LabEnvironment | undefined>;
  /** Every lab environment live or being brought up. */
  list(): { envId: string; learnerId: string; labId: string; environment: Promise<LabEnvironment> }[];
  /** The driver an environment runs on (known once its bring-up chose it); undefined for unknown ids. */
  driverOf(envId: string): SandboxDriver | undefined;
  /**
   * Follows the bring-up of an environment on a driver that reports progress (a nested Xen booting: what starts,
   * an ETA, the console from its first line). Subscribe right after `EnvironmentManager.open`; nothing is
   * reported for environments that are up already or come up quickly. Returns the function that stops following.
   */
  watchStart(envId: string, listener: BootListener): () => void;
  /** The driver registry labs take their drivers from. */
  readonly drivers: DriverRegistry;
}

/**
 * Creates the provisioner the gateway passes as `createGateway({ provision })`.
 * @example
 * const labs = createLabProvisioner({ driver, db });
 * const gateway = await createGateway({ driver, dataDir, provision: labs.provision });
 * // on /ws/lab: await gateway.environments.open(learner.id, lab); attachLabChannel(ws, (await labs.environment(envId))!);
 */
export function createLabProvisioner(options: LabProvisionerOptions): LabProvisioner {
  const root = options.labsDir ?? LABS_DIR;
  const drivers = options.drivers ?? createDriverRegistry({ local: options.driver });
  const live = new Map<string, { learnerId: string; labId: string; environment: Promise<LabEnvironment> }>();
  const driverOf = new Map<string, SandboxDriver>();
  const feeds = new BootFeeds();
  /** The lab's driver (the default one for `local`), reporting its boot progress into `feeds` meanwhile. */
  const labDriver = async (envId: string, name: string): Promise<SandboxDriver> => {
    const driver = name === 'local' ? options.driver : await drivers.get(name);
    driverOf.set(envId, driver);
    return driver;
  };
  const bringUp = async (row: EnvironmentRow, lab: ReturnType<typeof loadLab>): Promise<LabEnvironment> => {
    const name = lab.manifest.environment.driver;
    // Drivers that take a while say so from the start: the page shows it instead of a blank terminal.
    const slow = name !== 'local';
    if (slow) {
      const known = drivers.peek(name);
      feeds.begin(
        row.id,
        `preparing this lab's ${name} environment`,
        known && canWatchBoot(known) ? known.bootEstimateMs() : undefined,
        Date.now(),
        name,
      );
    }
    let stopWatching: (() => void) | undefined;
    try {
      const driver = await labDriver(row.id, name);
      if (slow && canWatchBoot(driver))
        stopWatching = driver.watchBoot(row.id, (e) => {
          if (e.kind === 'starting') feeds.begin(row.id, e.what, e.etaMs, e.startedAt, name);
          else if (e.kind === 'console') feeds.console(row.id, e.data);
        });
      return await createLabEnvironment({
        lab,
        driver,
        learnerId: row.learnerId,
        home: row.home,
        state: poolStateOf(row, options.db),
        xapiUser: row.xapiUser,
        xapiPassword: row.xapiPassword,
        sandboxId: row.id,
        // A multi-pool lab's other pools and their shared storage: files in the environment's folder.
        poolState: (name) => fileSink(`${row.simState}.pool-${name}`),
        sharedStorageDir: `${row.simState}.shared`,
        ...(options.db === undefined ? {} : { db: options.db }),
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      });
    } finally {
      stopWatching?.();
      feeds.end(row.id);
    }
  };
  const provision: Provisioner = async (row: EnvironmentRow): Promise<Provisioned> => {
    if (existsSync(join(root, row.labId, 'lab.yaml'))) {
      const pending = bringUp(row, loadLab(join(root, row.labId)));
      live.set(row.id, { learnerId: row.learnerId, labId: row.labId, environment: pending });
      let env: LabEnvironment;
      try {
        env = await pending;
      } catch (e) {
        live.delete(row.id);
        driverOf.delete(row.id);
        throw e;
      }
      return {
        sandbox: env.sandbox,
        xapi: env.xapi,
        close: async () => {
          live.delete(row.id);
          driverOf.delete(row.id);
          await env.close();
        },
        detach: async () => {
          live.delete(row.id);
          driverOf.delete(row.id);
          await env.detach();
        },
      };
    }
    // Not a lab (the playground of lesson pages): the learner's own default pool and a sandbox.
    driverOf.set(row.id, options.driver);
    return provisionPlayground(row, options.driver, options.db);
  };
  return {
    provision,
    async environment(envId) {
      return live.get(envId)?.environment;
    },
    list() {
      return [...live].map(([envId, e]) => ({ envId, ...e }));
    },
    driverOf: (envId) => driverOf.get(envId),
    watchStart: (envId, listener) => feeds.watch(envId, listener),
    drivers,
  };
}
