/**
 * The seam to the gateway's environment manager: a `Provisioner` that brings up lab environments (simulator with
 * the lab's scenario, parameters, setup, grader) for lab ids, and a plain pool + sandbox for anything else (the
 * playground of lesson pages). The gateway mounts the lab channel with {@link LabProvisioner.environment}.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { SandboxDriver } from '../drivers/types.js';
import type { Provisioned, Provisioner } from '../sessions/index.js';
import { poolStateOf, provisionPlayground } from '../sessions/index.js';
import type { EnvironmentRow } from '../store/index.js';
import { createLabEnvironment } from './environment.js';
import type { LabEnvironment } from './environment.js';
import { LABS_DIR, loadLab } from './loader.js';

/** Options of {@link createLabProvisioner}. */
export interface LabProvisionerOptions {
  readonly driver: SandboxDriver;
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
  const live = new Map<string, { learnerId: string; labId: string; environment: Promise<LabEnvironment> }>();
  const provision: Provisioner = async (row: EnvironmentRow): Promise<Provisioned> => {
    if (existsSync(join(root, row.labId, 'lab.yaml'))) {
      const pending = createLabEnvironment({
        lab: loadLab(join(root, row.labId)),
        driver: options.driver,
        learnerId: row.learnerId,
        home: row.home,
        state: poolStateOf(row, options.db),
        xapiUser: row.xapiUser,
        xapiPassword: row.xapiPassword,
        sandboxId: row.id,
        ...(options.db === undefined ? {} : { db: options.db }),
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      });
      live.set(row.id, { learnerId: row.learnerId, labId: row.labId, environment: pending });
      let env: LabEnvironment;
      try {
        env = await pending;
      } catch (e) {
        live.delete(row.id);
        throw e;
      }
      return {
        sandbox: env.sandbox,
        xapi: env.xapi,
        close: async () => {
          live.delete(row.id);
          await env.close();
        },
        detach: async () => {
          live.delete(row.id);
          await env.detach();
        },
      };
    }
    // Not a lab (the playground of lesson pages): the learner's own default pool and a sandbox.
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
  };
}
