/**
 * The scenario format (YAML or JSON) as zod schemas: the pool, its hosts, shared and ISO storage, templates, VMs and
 * operation durations. Defaults here are what an author may leave out.
 */
import { z } from 'zod';
import { parseWorkloadSpec } from '../workload-spec.js';

export const hostSchema = z.object({
  /** Host name and name_label, e.g. `xcp-ng-01`. */
  name: z.string().min(1),
  /** Management IP; default 10.0.0.11, .12, … */
  address: z.string().optional(),
  /** Logical CPUs. */
  cpus: z.number().int().min(1).max(512).default(8),
  /** Physical memory in GiB. */
  memoryGiB: z.number().positive().max(6144).default(32),
  /** Physical NICs; the first is the management interface. */
  nics: z
    .array(z.string().regex(/^eth\d+$/, 'NIC names look like eth0'))
    .min(1)
    .default(['eth0', 'eth1']),
  /** Size of the host's "Local storage" SR in GiB (0 = none). */
  localStorageGiB: z.number().min(0).default(500),
});

export const srSchema = z.object({
  /** name_label of the SR. */
  name: z.string().min(1),
  /** SM type: nfs, lvmoiscsi, iso, … */
  type: z.string().default('nfs'),
  /** Size in GiB. */
  sizeGiB: z.number().min(0).default(2048),
  /** device-config of every PBD (e.g. server, serverpath). */
  deviceConfig: z.record(z.string(), z.string()).default({}),
  /** Make it the pool's default SR. */
  default: z.boolean().default(false),
});

export const isoStorageSchema = z.object({
  name: z.string().min(1),
  location: z.string().default('10.0.0.5:/srv/iso'),
  isos: z.array(z.string()).default([]),
});

export const templateSchema = z.object({
  name: z.string().min(1),
  description: z.string().default(''),
  memoryMiB: z.number().int().positive().default(2048),
  vcpus: z.number().int().positive().default(2),
  /** Size of the system disk in GiB (0 = no disk, e.g. "Other install media" still has one in XCP-ng). */
  diskGiB: z.number().min(0).default(10),
  /** Linux (PV drivers, linux_template=true) or not. */
  linux: z.boolean().default(true),
  /** `install-distro` key, e.g. debianlike, rhlike. */
  distro: z.string().optional(),
});

export const vmSchema = z.object({
  /** name_label of the VM. */
  name: z.string().min(1),
  /** Template to install from (name_label), e.g. "Debian Bookworm 12". */
  template: z.string().default('Debian Bookworm 12'),
  /** Host to start it on (name_label); default: wherever placement puts it. */
  host: z.string().optional(),
  /** Power state after start-up. */
  power_state: z.enum(['Halted', 'Running']).default('Running'),
  /** Memory in MiB (all four limits); default: the template's. */
  memoryMiB: z.number().int().positive().optional(),
  /** vCPUs; default: the template's. */
  vcpus: z.number().int().positive().optional(),
  /** Network for its VIF 0 (name_label); default "Pool-wide network associated with eth0". */
  network: z.string().optional(),
  tags: z.array(z.string()).default([]),
  /**
   * What its guest asks of CPU, memory, disk and network, in the control API's workload grammar (control.ts,
   * workload-spec.ts), e.g. `{ cpu: 0.8, pattern: diurnal, base: 0.1, period: 600 }`. Kept in memory: applied when
   * the pool is built, and again after a restart or a reset.
   */
  workload: z
    .record(z.string(), z.unknown())
    .optional()
    .superRefine((w, ctx) => {
      if (w === undefined) return;
      try {
        parseWorkloadSpec(w, 0);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
});

/** The scenario format (YAML or JSON). */
export const scenarioSchema = z.object({
  /** Pool name_label. */
  pool: z.object({ name: z.string().default('xenlab') }).default({ name: 'xenlab' }),
  /** Seed for uuids and MACs; the same seed builds the same pool. */
  seed: z.union([z.string(), z.number()]).optional(),
  /** The hosts; the first is the pool coordinator (master). */
  hosts: z.array(hostSchema).min(1),
  /** Shared SRs (plugged on every host). */
  sharedStorage: z.array(srSchema).default([]),
  /** ISO libraries: name and location. */
  isoStorage: z.array(isoStorageSchema).default([]),
  /** Templates; the built-in XCP-ng-like list when left out. */
  templates: z.array(templateSchema).optional(),
  /** VMs that exist from the start, installed through the same API calls a learner would make. */
  vms: z.array(vmSchema).default([]),
  /** Operation durations in ms, e.g. `{ "VM.start": 5000 }` (see clock.ts for the defaults). */
  durations: z.record(z.string(), z.number().min(0)).default({}),
});

/** A validated scenario. */
export type Scenario = z.output<typeof scenarioSchema>;
/** A scenario as authors write it (defaults optional). */
export type ScenarioInput = z.input<typeof scenarioSchema>;

/** One validated host, shared SR, ISO library or template of a scenario. */
export type ScenarioHost = z.output<typeof hostSchema>;
export type ScenarioSr = z.output<typeof srSchema>;
export type ScenarioIsoStorage = z.output<typeof isoStorageSchema>;
export type ScenarioTemplate = z.output<typeof templateSchema>;
/** A template as authors write it (defaults optional). */
export type ScenarioTemplateInput = z.input<typeof templateSchema>;
