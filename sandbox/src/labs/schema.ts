/**
 * The lab manifest (`labs/<id>/lab.yaml`): what an author writes. Zod is the single source of truth; the JSON
 * schema editors use (`labs/lab.schema.json`) is generated from it (`xenlab lab schema`).
 *
 * Strings in tasks, checks, hints and solutions may use `{{param}}` placeholders: they are filled with the
 * learner's own parameters (see `params`) before anything is shown or run.
 * @module
 */
import { z } from 'zod';
import { NAME_PATTERN } from '../protocol/index.js';

/**
 * Lab ids are kebab-case and equal their folder and URL slug (STYLE.md); task, check and terminal ids likewise.
 * The wire protocol's {@link NAME_PATTERN}: the gateway and the site read lab ids and terminal names with it too.
 */
export const LAB_ID = NAME_PATTERN;
const idString = (what: string) =>
  z
    .string()
    .regex(LAB_ID, `${what} must be kebab-case (lowercase letters, digits and dashes, e.g. "count-hosts")`);

/** A comparison on a number (a count, a field). A bare number means "equal to". */
export const NumberMatch = z.union([
  z.number(),
  z
    .object({
      eq: z.number().optional(),
      ne: z.number().optional(),
      gt: z.number().optional(),
      gte: z.number().optional(),
      lt: z.number().optional(),
      lte: z.number().optional(),
    })
    .strict(),
]);
export type NumberMatch = z.infer<typeof NumberMatch>;

/**
 * A condition on one field of a XenAPI record. A scalar compares for equality (strings after `{{param}}`
 * substitution); an object picks an operator. On a Ref field, `is` matches the referenced record; on a Ref set,
 * `any`/`all`/`none` match its members and `size` counts them.
 */
export type FieldMatch =
  | string
  | number
  | boolean
  | null
  | {
      eq?: string | number | boolean | undefined;
      ne?: string | number | boolean | undefined;
      gt?: number | undefined;
      gte?: number | undefined;
      lt?: number | undefined;
      lte?: number | undefined;
      /** Shell-style pattern: `web-*`, `db-?`. */
      glob?: string | undefined;
      /** JavaScript regular expression. */
      regex?: string | undefined;
      in?: (string | number | boolean)[] | undefined;
      /** Map fields (`other_config`): a key and, optionally, what its value must match; string sets (`tags`): a member. */
      key?: string | undefined;
      value?: FieldMatch | undefined;
      /** Ref field: the referenced record matches. */
      is?: Where | undefined;
      /** Ref-set field: at least one / every / no member matches. */
      any?: Where | undefined;
      all?: Where | undefined;
      none?: Where | undefined;
      /** Set/map field: number of members. */
      size?: NumberMatch | undefined;
      /** Ref field: set (not OpaqueRef:NULL) or not. */
      exists?: boolean | undefined;
    };

/** Field name → condition; every condition must hold. */
// An index signature, not Record: Record<string, FieldMatch> would make the two recursive types circular.
// eslint-disable-next-line @typescript-eslint/consistent-indexed-object-style
export type Where = { [field: string]: FieldMatch };

const Scalar = z.union([z.string(), z.number(), z.boolean()]);
export const FieldMatch: z.ZodType<FieldMatch> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z
      .object({
        eq: Scalar.optional(),
        ne: Scalar.optional(),
        gt: z.number().optional(),
        gte: z.number().optional(),
        lt: z.number().optional(),
        lte: z.number().optional(),
        glob: z.string().optional(),
        regex: z.string().optional(),
        in: z.array(Scalar).optional(),
        key: z.string().optional(),
        value: FieldMatch.optional(),
        is: Where.optional(),
        any: Where.optional(),
        all: Where.optional(),
        none: Where.optional(),
        size: NumberMatch.optional(),
        exists: z.boolean().optional(),
      })
      .strict(),
  ]),
);
export const Where: z.ZodType<Where> = z.lazy(() => z.record(z.string(), FieldMatch));

/**
 * A query over the pool: the records of one class that match `where`, and what must be true of them.
 * @example
 * { select: 'VM', where: { power_state: 'Running', name_label: { glob: 'web-*' } },
 *   expect: { count: { gte: 3 }, distinct: { field: 'resident_on', gte: 2 } } }
 */
export const Query = z
  .object({
    /** XenAPI class as XAPI spells it: `VM`, `host`, `SR`, `PIF`, `network`… */
    select: z
      .string()
      .min(1)
      .describe('XenAPI class as XAPI spells it: `VM`, `host`, `SR`, `PIF`, `network`…'),
    /** Conditions on the records' fields. Templates and control domains are kept unless `where` says otherwise. */
    where: Where.default({}).describe(
      "Conditions on the records' fields. Templates and control domains are kept unless `where` says otherwise.",
    ),
    /** What the matching records must satisfy; at least one match when absent. */
    expect: z
      .object({
        /** How many records match (default: at least 1). */
        count: NumberMatch.optional().describe('How many records match (default: at least 1).'),
        /** How many distinct values a field takes over the matches (e.g. hosts the VMs run on). */
        distinct: z
          .object({ field: z.string().min(1) })
          .and(
            z
              .object({
                eq: z.number().optional(),
                gte: z.number().optional(),
                lte: z.number().optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .default({}),
  })
  .strict();
export type Query = z.infer<typeof Query>;

const checkBase = {
  /** Unique in the lab; also the "cause" a hint can follow. */
  id: idString('a check id'),
  /** What the learner sees when this check fails; `{{param}}` placeholders allowed. A default is derived. */
  fail: z
    .string()
    .optional()
    .describe(
      'What the learner sees when this check fails; `{{param}}` placeholders allowed. A default is derived.',
    ),
};

/** Which pool of a multi-pool lab a check reads (`environment.pools[].name`); the first when absent. */
const poolField = {
  pool: z
    .string()
    .optional()
    .describe(
      'Which pool of a multi-pool lab the check reads (environment.pools[].name); the first when absent.',
    ),
};

/** Declarative assertion over the pool's XenAPI state, re-evaluated on every XenAPI event. */
export const XapiCheck = z
  .object({ ...checkBase, kind: z.literal('xapi'), ...poolField, ...Query.shape })
  .strict()
  .describe(
    'Declarative assertion over the XenAPI state: select records of a class, filter, count and compare.',
  );

/**
 * A script run inside the environment (bash). Exit 0 passes; stdout lines `FAIL: text` become the learner's
 * feedback and `CAUSE: id` picks the hint (Instruqt's and Katacoda's conventions).
 */
export const ScriptCheck = z
  .object({
    ...checkBase,
    kind: z.literal('script'),
    /** Bash source, run as the learner unless `root`. */
    run: z.string().min(1).describe('Bash source, run as the learner unless `root`.'),
    /** Killed and failed after this long (default 10 s; Instruqt allows 60 s). */
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(10_000)
      .describe('Killed and failed after this long (default 10 s; Instruqt allows 60 s).'),
    /** Node of a multi-node environment. */
    node: z.string().optional().describe('Node of a multi-node environment.'),
    root: z.boolean().default(false),
    /** `CAUSE:` codes this script may print, so hints can follow them (`when: [code]`). */
    causes: z
      .array(z.string().min(1))
      .default([])
      .describe('`CAUSE:` codes this script may print, so hints can follow them (`when: [code]`).'),
  })
  .strict()
  .describe(
    'Bash run inside the environment: exit 0 passes; FAIL: lines are the feedback, CAUSE: picks the hint.',
  );

/**
 * A question the learner answers in the task panel. The expected answer is never stored in plain text: a
 * sha256 of the normalised answer (`xenlab lab hash "text"`), a per-learner parameter, or a live query whose
 * count is the answer.
 */
export const AnswerCheck = z
  .object({
    ...checkBase,
    kind: z.literal('answer'),
    ...poolField,
    /** The question, shown in the task panel. */
    question: z.string().min(1).describe('The question, shown in the task panel.'),
    expect: z.union([
      z
        .object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits') })
        .strict(),
      z.object({ param: z.string().min(1) }).strict(),
      z.object({ count: Query.omit({ expect: true }) }).strict(),
    ]),
  })
  .strict()
  .describe(
    'A question answered in the task panel; the expected answer is a sha256, a parameter or a live count.',
  );

/**
 * A condition over time, followed through the XenAPI event stream: once `while` has held, `always` must have
 * held at every state seen while it did (Labtainers' "during" goals). Passes while such a window holds
 * cleanly, and for good once one has closed cleanly; a window in which `always` broke fails until it closes.
 * @example
 * { kind: 'temporal', id: 'vms-kept-running',
 *   while: { select: 'host', where: { name_label: 'xcp-ng-03', enabled: false } },
 *   always: { select: 'VM', where: { power_state: 'Running', name_label: { glob: 'app-*' } }, expect: { count: 2 } } }
 */
export const TemporalCheck = z
  .object({
    ...checkBase,
    kind: z.literal('temporal'),
    ...poolField,
    while: Query,
    always: Query,
    /** Feedback while `while` has not held yet. */
    waiting: z.string().optional().describe('Feedback while `while` has not held yet.'),
  })
  .strict()
  .describe('Over the event stream: while `while` holds, `always` must hold at every state seen.');

export const Check = z.discriminatedUnion('kind', [XapiCheck, ScriptCheck, AnswerCheck, TemporalCheck]);
export type Check = z.infer<typeof Check>;
export type XapiCheck = z.infer<typeof XapiCheck>;
export type ScriptCheck = z.infer<typeof ScriptCheck>;
export type AnswerCheck = z.infer<typeof AnswerCheck>;
export type TemporalCheck = z.infer<typeof TemporalCheck>;

/** A hint. Without `when` it is general; with it, it is offered when one of those checks (causes) fails. */
export const Hint = z.union([
  z.string().min(1),
  z
    .object({
      text: z.string().min(1),
      /** Check ids (or `CAUSE:` codes of script checks) this hint answers. */
      when: z
        .array(z.string().min(1))
        .default([])
        .describe('Check ids (or `CAUSE:` codes of script checks) this hint answers.'),
    })
    .strict(),
]);
export type Hint = z.infer<typeof Hint>;

export const Task = z
  .object({
    id: idString('a task id'),
    /** Short imperative title: "Count the hosts of the pool". */
    title: z.string().min(1).describe('Short imperative title: "Count the hosts of the pool".'),
    /** Longer instructions (markdown), shown in the task panel; `{{param}}` placeholders allowed. */
    text: z
      .string()
      .default('')
      .describe('Longer instructions (markdown), shown in the task panel; `{{param}}` placeholders allowed.'),
    /** Points for passing every check of the task. */
    points: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(10)
      .describe('Points for passing every check of the task.'),
    checks: z.array(Check).min(1, 'a task needs at least one check, or it can never turn green'),
    hints: z.array(Hint).default([]),
    /**
     * Shown after `solutionAfter` failed Check presses (markdown); what Skip applies. A code fence takes
     * `terminal=<name>`, `until=stopped` (a shell block that runs until stopped: Skip starts it, does not wait for its
     * end) and `file=<path>` (a non-shell block Skip saves there); `lab validate` refuses other attributes
     * (`solution-blocks.ts`).
     */
    solution: z
      .string()
      .optional()
      .describe(
        'Shown after `solutionAfter` failed Check presses (markdown); what Skip applies. Code fences take terminal=<name>, until=stopped (a watcher: Skip starts it and does not wait for its end) and file=<path> (```js file=~/x.mjs: Skip saves the block there).',
      ),
  })
  .strict();
export type Task = z.infer<typeof Task>;

/** A per-learner parameter, derived from the learner's seed so one learner's answers don't fit another's lab. */
export const Param = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('int'), min: z.number().int(), max: z.number().int() }).strict(),
  /** One of the values. */
  z.object({ kind: z.literal('pick'), from: z.array(z.string()).min(1) }).strict(),
  /** `prefix` followed by a short random word, e.g. `web-kiwi`. */
  z.object({ kind: z.literal('name'), prefix: z.string().default('') }).strict(),
  /** A free VLAN id (2–4094, or within min/max). */
  z
    .object({
      kind: z.literal('vlan'),
      min: z.number().int().min(2).default(100),
      max: z.number().int().max(4094).default(3999),
    })
    .strict(),
  /** A private /24: `10.A.B.0/24`; `{{p}}` is the CIDR, `{{p.network}}`, `{{p.gateway}}`, `{{p.first}}`, `{{p.last}}` its parts. */
  z.object({ kind: z.literal('subnet'), base: z.literal('10').default('10') }).strict(),
  /** A fixed value (documents a name the lab uses everywhere). */
  z.object({ kind: z.literal('const'), value: z.string() }).strict(),
]);
export type Param = z.infer<typeof Param>;

export const Terminal = z
  .object({
    /** Name used in URLs (`&terminal=<name>`) and by code blocks that send to a terminal. */
    name: idString('a terminal name'),
    /** Tab title. */
    title: z.string().optional().describe('Tab title.'),
    /** Node of a multi-node environment this terminal opens on. */
    node: z.string().optional().describe('Node of a multi-node environment this terminal opens on.'),
  })
  .strict();

/** When a fault fires (see {@link Fault}). */
export const FaultTrigger = z
  .union([
    z.literal('setup').describe('After setup, as the lab starts (the default).'),
    z
      .object({
        /** Seconds after the environment first came up (kept across gateway restarts). */
        after: z
          .number()
          .min(0)
          .max(86_400)
          .describe('Seconds after the environment first came up (kept across gateway restarts).'),
      })
      .strict(),
    z
      .object({
        /** Fires when this task first passes. */
        task: idString('a task id').describe('Fires when this task first passes.'),
      })
      .strict(),
    z
      .object({
        /** The label of a button in the task panel; the learner fires the fault by pressing it. */
        button: z
          .string()
          .min(1)
          .max(80)
          .describe('The label of a button in the task panel; the learner fires the fault by pressing it.'),
      })
      .strict(),
  ])
  .meta({ id: 'FaultTrigger' });
export type FaultTrigger = z.infer<typeof FaultTrigger>;

const faultBase = {
  /** Names the fault (kebab-case); required when a button fires it. */
  id: idString('a fault id')
    .optional()
    .describe('Names the fault (kebab-case); required when a button fires it.'),
  /** When it fires: `setup` (default), `{ after: 90 }`, `{ task: <task id> }` or `{ button: 'Label' }`. */
  trigger: FaultTrigger.default('setup').describe(
    "When it fires: `setup` (default), `{ after: 90 }` seconds, `{ task: <task id> }` first passing, `{ button: 'Label' }`.",
  ),
  /** Which pool of a multi-pool lab it plays in (`environment.pools[].name`); the first when absent. */
  pool: z
    .string()
    .optional()
    .describe(
      'Which pool of a multi-pool lab the fault plays in (environment.pools[].name); the first when absent.',
    ),
};
const nameTarget = (what: string) => z.string().min(1).describe(`name_label of the ${what}.`);
const machineTarget = z.string().min(1).describe('The machine: a node of `environment.nodes`.');
const partTarget = (what: string, example: string) =>
  z
    .string()
    .regex(/^[^/\s]+\/[^/\s]+$/, `a ${what} is named "<node>/<${what}>", e.g. "${example}"`)
    .describe(`The ${what} as "<node>/<${what}>", e.g. "${example}".`);
const nicTarget = z
  .string()
  .regex(/^[^/\s]+\/[^/\s]+$/, 'a NIC is named "<host>/<device>", e.g. "xcp-ng-02/eth1"')
  .describe('The NIC as "<host>/<device>", e.g. "xcp-ng-02/eth1".');

/**
 * Trouble the simulator plays: a VM that loads its CPU or disks, a host losing power, a NIC losing its link, an SR
 * lost, the network split into groups of hosts — and their way back.
 * @example
 * { id: 'pull-the-plug', kind: 'host-power-off', target: 'xcp-ng-02', trigger: { button: 'Pull the plug on xcp-ng-02' } }
 */
export const Fault = z.discriminatedUnion('kind', [
  z
    .object({
      ...faultBase,
      kind: z.literal('vm-load'),
      target: nameTarget('VM'),
      /** What it loads: `cpu` (every vCPU) or `io` (its disks). */
      resource: z
        .enum(['cpu', 'io'])
        .default('cpu')
        .describe('What it loads: `cpu` (every vCPU) or `io` (its disks).'),
      /** How hard, 0 to 1 (1: every vCPU busy, or the disk saturated; 0 stops the load). */
      level: z.number().min(0).max(1).default(1).describe('How hard, 0 to 1 (0 stops the load).'),
    })
    .strict()
    .describe('A VM burns its CPU or disks (its metrics, `xenlab-tools top` and `bottleneck` show it).'),
  z
    .object({ ...faultBase, kind: z.literal('host-power-off'), target: nameTarget('host') })
    .strict()
    .describe('The host loses power (host_metrics.live false, its VMs halt; HA restarts protected ones).'),
  z
    .object({ ...faultBase, kind: z.literal('host-power-on'), target: nameTarget('host') })
    .strict()
    .describe('The host is powered on again (rebooted, empty).'),
  z
    .object({ ...faultBase, kind: z.literal('pool-power-off') })
    .strict()
    .describe(
      'Every host of the pool loses power, as a data center does (in a multi-pool lab: the pool the fault names, else the first).',
    ),
  z
    .object({ ...faultBase, kind: z.literal('nic-down'), target: nicTarget })
    .strict()
    .describe('The NIC loses its link (PIF carrier false; bonds fail over).'),
  z
    .object({ ...faultBase, kind: z.literal('nic-up'), target: nicTarget })
    .strict()
    .describe('The NIC has its link back.'),
  z
    .object({ ...faultBase, kind: z.literal('sr-lost'), target: nameTarget('SR') })
    .strict()
    .describe("The SR's storage fails (PBDs unplugged, VDI operations fail)."),
  z
    .object({ ...faultBase, kind: z.literal('sr-back'), target: nameTarget('SR') })
    .strict()
    .describe('The SR works again.'),
  z
    .object({
      ...faultBase,
      kind: z.literal('partition'),
      /** Groups of host names that still see each other, e.g. `[[xcp-ng-01], [xcp-ng-02, xcp-ng-03]]`. */
      target: z
        .array(z.array(z.string().min(1)).min(1, 'a group names at least one host'))
        .min(2, 'a partition splits the hosts into at least two groups')
        .describe(
          'Groups of host names that still see each other, e.g. `[[xcp-ng-01], [xcp-ng-02, xcp-ng-03]]`.',
        ),
    })
    .strict()
    .describe('The network splits: hosts see only the hosts of their group.'),
  z
    .object({ ...faultBase, kind: z.literal('heal') })
    .strict()
    .describe('The network is whole again (ends a partition).'),
  z
    .object({ ...faultBase, kind: z.literal('machine-power-off'), target: machineTarget })
    .strict()
    .describe('qemu-xen: the machine loses power (QEMU ends at once, like pulling the plug).'),
  z
    .object({ ...faultBase, kind: z.literal('machine-power-on'), target: machineTarget })
    .strict()
    .describe('qemu-xen: the machine is powered on again (its data disks kept what they had).'),
  z
    .object({ ...faultBase, kind: z.literal('link-down'), target: partTarget('NIC', 'storage-a/eth0') })
    .strict()
    .describe("qemu-xen: the machine's NIC loses its link (the guest sees NO-CARRIER)."),
  z
    .object({ ...faultBase, kind: z.literal('link-up'), target: partTarget('NIC', 'storage-a/eth0') })
    .strict()
    .describe("qemu-xen: the machine's NIC has its link back."),
  z
    .object({ ...faultBase, kind: z.literal('disk-errors'), target: partTarget('disk', 'storage-a/drbd') })
    .strict()
    .describe('qemu-xen: every read and write of the data disk fails (the guest kernel gets EIO).'),
  z
    .object({ ...faultBase, kind: z.literal('disk-ok'), target: partTarget('disk', 'storage-a/drbd') })
    .strict()
    .describe('qemu-xen: the data disk works again.'),
]);
/** Fault kinds played on the machines of a qemu-xen environment (by the driver, not the simulator). */
export const MACHINE_FAULT_KINDS = [
  'machine-power-off',
  'machine-power-on',
  'link-down',
  'link-up',
  'disk-errors',
  'disk-ok',
] as const;
export type Fault = z.infer<typeof Fault>;
export type FaultKind = Fault['kind'];

/** A data disk of a qemu-xen machine: blank at first, kept across power cycles of the environment. */
export const NodeDisk = z
  .object({
    /** Its name: the disk's serial (`/sys/block/vdX/serial`) and a fault's target (`<node>/<disk>`). */
    name: idString('a disk name')
      .max(20)
      .describe(
        "Its name: the disk's serial (/sys/block/vdX/serial) and a fault's target (`<node>/<disk>`).",
      ),
    /** Size in MiB (a sparse file: only what the machine writes takes space). */
    sizeMb: z
      .number()
      .int()
      .min(1)
      .max(16_384)
      .describe('Size in MiB (sparse: only what is written takes space).'),
  })
  .strict();

/** One machine (or the workbench) of a multi-node environment. */
export const Node = z
  .object({
    /** Name, unique in the environment; also its hostname on the environment's private network. */
    name: z
      .string()
      .regex(
        /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/,
        'a node name is a hostname: a-z, 0-9 and dashes, 32 at most',
      )
      .describe("Name, unique in the environment; also its hostname on the environment's private network."),
    /** qemu-xen: `xen` (default), `storage`, `pxe` or `local`; docker: the image. */
    image: z
      .string()
      .optional()
      .describe('qemu-xen: `xen` (default), `storage`, `pxe` or `local`; docker: the image.'),
    /** qemu-xen: the machine's RAM in MiB (xen ~1200, storage ~350 let three machines fit in 2 GiB). */
    memoryMb: z
      .number()
      .int()
      .min(128)
      .max(8192)
      .optional()
      .describe("qemu-xen: the machine's RAM in MiB (default: 2048 for xen, 384 for storage)."),
    /** qemu-xen: blank writable data disks (/dev/vdb, /dev/vdc… in this order). */
    disks: z
      .array(NodeDisk)
      .max(4)
      .optional()
      .describe('qemu-xen: blank writable data disks (/dev/vdb, /dev/vdc… in this order).'),
    /** qemu-xen: NICs on the environment's private network (eth0 on 10.77.0.0/24, eth1 on 10.77.1.0/24…). */
    nics: z
      .number()
      .int()
      .min(0)
      .max(4)
      .optional()
      .describe(
        "qemu-xen: NICs on the environment's private network (default 1 when it has two machines or more).",
      ),
    /** qemu-xen, xen machines: NUMA nodes QEMU presents; the CPUs (2 by default) and RAM split evenly. */
    numaNodes: z
      .number()
      .int()
      .min(1)
      .max(2)
      .optional()
      .describe(
        'qemu-xen, xen machines: NUMA nodes QEMU presents (`xl info -n`); the CPUs and RAM split evenly between them.',
      ),
    /** qemu-xen, xen machines: Xen's scheduler for Pool-0 (`sched=`); Xen 4.17's default, credit2, when absent. */
    xenScheduler: z
      .enum(['credit', 'credit2', 'rtds', 'arinc653', 'null'])
      .optional()
      .describe(
        "qemu-xen, xen machines: Xen's scheduler for Pool-0 (`sched=` on its command line); credit2, Xen 4.17's default, when absent.",
      ),
  })
  .strict();

/** A pool of a multi-pool environment (`environment.pools`). */
export const PoolSpec = z
  .object({
    /** kebab-case, unique: `XENLAB_XAPI_URL_<NAME>` (upper case, `-` → `_`) and a check's `pool` use it. */
    name: z
      .string()
      .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'a pool name is kebab-case, e.g. dc-east')
      .describe("kebab-case, unique: `XENLAB_XAPI_URL_<NAME>` and a check's `pool` use it."),
    /** `default` (3 hosts) or a scenario file in the lab folder. */
    scenario: z
      .string()
      .default('default')
      .describe('`default` (3 hosts) or a scenario file in the lab folder.'),
  })
  .strict();
export type PoolSpec = z.infer<typeof PoolSpec>;

/** The WAN between the pools of an environment (`environment.wan`). */
export const Wan = z
  .object({
    /** One-way latency in milliseconds. */
    latencyMs: z.number().min(0).max(10_000).default(0).describe('One-way latency in milliseconds.'),
    /** Bandwidth in megabits per second. */
    mbps: z.number().positive().max(1_000_000).default(1000).describe('Bandwidth in megabits per second.'),
  })
  .strict();

export const Environment = z
  .object({
    /** Sandbox driver the lab needs (`local` runs everywhere; `qemu-xen` for labs about the hypervisor). */
    driver: z
      .enum(['local', 'docker', 'qemu-xen', 'xcp'])
      .default('local')
      .describe(
        'Sandbox driver the lab needs (`local` runs everywhere; `qemu-xen` for labs about the hypervisor).',
      ),
    /** The simulated pool: `default` (3 hosts) or a scenario file in the lab folder (YAML/JSON, see sim/scenario.ts). */
    scenario: z
      .string()
      .default('default')
      .describe(
        'The simulated pool: `default` (3 hosts) or a scenario file in the lab folder (YAML/JSON, see sim/scenario.ts).',
      ),
    /**
     * Several simulated pools (data centers), each its own simulator with its own password: the first is what `xe`
     * reaches with no flags and what faults, checkpoints and checks without `pool` use; scripts find each one in
     * `XENLAB_XAPI_URL_<NAME>` (see labs/README.md). Instead of `scenario`; `local` driver only.
     */
    pools: z
      .array(PoolSpec)
      .min(1)
      .optional()
      .describe(
        'Several simulated pools (data centers), each its own simulator and password; the first is the one `xe` reaches with no flags. Instead of `scenario`.',
      ),
    /** The WAN link between the pools: cross-pool migrations move memory and disks over it. */
    wan: Wan.optional().describe(
      'The WAN link between the pools: cross-pool migrations move memory and disks over it.',
    ),
    /** Real operation durations in the simulator (VM.start takes seconds); instant when false. */
    realisticTimings: z
      .boolean()
      .default(false)
      .describe('Real operation durations in the simulator (VM.start takes seconds); instant when false.'),
    /** Nodes of a multi-node environment (docker, qemu-xen). */
    nodes: z.array(Node).optional().describe('Nodes of a multi-node environment (docker, qemu-xen).'),
    /** Terminals shown beside the guide. */
    terminals: z
      .array(Terminal)
      .min(1)
      .default([{ name: 'shell', title: 'Shell' }]),
    /** Bash run once in a fresh environment before the learner arrives (as the learner). */
    setup: z
      .string()
      .optional()
      .describe('Bash run once in a fresh environment before the learner arrives (as the learner).'),
    /**
     * Trouble the simulator plays: at setup (the lab's starting state), after a delay, when a task first passes,
     * or when the learner presses a button in the task panel (see {@link Fault}).
     */
    faults: z
      .array(Fault)
      .default([])
      .describe(
        'Trouble the simulator plays: at setup, after a delay, when a task first passes, or on a button in the task panel.',
      ),
  })
  .strict();

/**
 * What the fault schema alone cannot say: ids are unique, a button's fault has an id and a label of its own, a task
 * trigger names a task of the lab, a fault's pool is one of environment.pools, a host is in one partition group only.
 * Paths point at the field to fix.
 */
export function faultProblems(m: {
  readonly tasks: readonly { readonly id: string }[];
  readonly environment: {
    readonly faults: readonly Fault[];
    readonly driver?: string;
    readonly pools?: readonly { readonly name: string }[] | undefined;
    readonly nodes?:
      | readonly {
          readonly name: string;
          readonly image?: string | undefined;
          readonly disks?: readonly { readonly name: string }[] | undefined;
          readonly nics?: number | undefined;
        }[]
      | undefined;
  };
}): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const machines = new Map(
    (m.environment.nodes ?? []).filter((n) => n.image !== 'local').map((n) => [n.name, n]),
  );
  const tasks = new Set(m.tasks.map((t) => t.id));
  const pools = (m.environment.pools ?? []).map((p) => p.name);
  const ids = new Set<string>();
  const labels = new Set<string>();
  m.environment.faults.forEach((f, i) => {
    const at = ['environment', 'faults', i];
    if (f.id !== undefined) {
      if (ids.has(f.id))
        out.push({
          path: [...at, 'id'],
          message: `fault id "${f.id}" is used twice; fault ids must be unique`,
        });
      ids.add(f.id);
    }
    if (f.pool !== undefined) {
      const machine = (MACHINE_FAULT_KINDS as readonly string[]).includes(f.kind);
      if (machine || !pools.includes(f.pool))
        out.push({
          path: [...at, 'pool'],
          message: machine
            ? `${f.kind} plays on a machine, not in a pool (drop pool)`
            : pools.length === 0
              ? `pool "${f.pool}": this lab has one pool (declare environment.pools to name several)`
              : `no pool "${f.pool}" in environment.pools (pools: ${pools.join(', ')})`,
        });
    }
    const t = f.trigger;
    if (typeof t === 'object' && 'task' in t && !tasks.has(t.task))
      out.push({
        path: [...at, 'trigger', 'task'],
        message: `no task "${t.task}" in this lab (a task trigger names one of: ${[...tasks].join(', ')})`,
      });
    if (typeof t === 'object' && 'button' in t) {
      if (f.id === undefined)
        out.push({
          path: [...at, 'trigger'],
          message: 'a fault fired by a button needs an id (kebab-case, e.g. "pull-the-plug")',
        });
      if (labels.has(t.button))
        out.push({
          path: [...at, 'trigger', 'button'],
          message: `two buttons are labelled "${t.button}"; give each its own label`,
        });
      labels.add(t.button);
    }
    if (
      (MACHINE_FAULT_KINDS as readonly string[]).includes(f.kind) &&
      'target' in f &&
      typeof f.target === 'string'
    ) {
      const [node, part] = f.target.split('/');
      // A link or disk target without "/" is the target pattern's problem already.
      const malformed = f.kind !== 'machine-power-off' && f.kind !== 'machine-power-on' && part === undefined;
      const n = machines.get(node ?? '');
      if (malformed) {
        // reported by the target's pattern
      } else if (m.environment.driver !== undefined && m.environment.driver !== 'qemu-xen')
        out.push({ path: [...at, 'kind'], message: `${f.kind} plays on machines: it needs driver qemu-xen` });
      else if (!n)
        out.push({
          path: [...at, 'target'],
          message: `no machine "${node ?? ''}" in environment.nodes (machines: ${[...machines.keys()].join(', ') || 'none'})`,
        });
      else if (f.kind.startsWith('disk') && !(n.disks ?? []).some((d) => d.name === part))
        out.push({
          path: [...at, 'target'],
          message: `machine "${n.name}" has no data disk "${part ?? ''}"`,
        });
      else if (f.kind.startsWith('link') && !/^eth[0-9]$/.test(part ?? ''))
        out.push({
          path: [...at, 'target'],
          message: `a NIC of a machine is eth0, eth1…, not "${part ?? ''}"`,
        });
    }
    if (f.kind === 'partition') {
      const seen = new Set<string>();
      f.target.forEach((group, g) => {
        group.forEach((host, h) => {
          if (seen.has(host))
            out.push({
              path: [...at, 'target', g, h],
              message: `host "${host}" is in two groups; a host is in one group only`,
            });
          seen.add(host);
        });
      });
    }
  });
  return out;
}

/** The whole manifest, `labs/<id>/lab.yaml`. */
export const LabManifest = z
  .object({
    /** Optional editor hint: `$schema: ../lab.schema.json`. */
    $schema: z.string().optional().describe('Optional editor hint: `$schema: ../lab.schema.json`.'),
    /** Must equal the folder name. */
    id: z
      .string()
      .regex(LAB_ID, 'the lab id must be kebab-case and equal its folder name')
      .describe('Must equal the folder name.'),
    title: z.string().min(1),
    /** One sentence for the course list. */
    summary: z.string().min(1).describe('One sentence for the course list.'),
    /** Position in the course (sidebar order). */
    order: z.number().int().min(0).default(100).describe('Position in the course (sidebar order).'),
    /** Expected minutes. */
    minutes: z.number().int().positive().default(30).describe('Expected minutes.'),
    environment: Environment.default({
      driver: 'local',
      scenario: 'default',
      realisticTimings: false,
      terminals: [{ name: 'shell', title: 'Shell' }],
      faults: [],
    }),
    params: z.record(z.string().regex(/^[a-z][a-zA-Z0-9]*$/, 'param names are camelCase'), Param).default({}),
    tasks: z.array(Task).min(1, 'a lab needs at least one task'),
    /** Failed Check presses on a task before its solution can be revealed. */
    solutionAfter: z
      .number()
      .int()
      .min(0)
      .default(3)
      .describe('Failed Check presses on a task before its solution can be revealed.'),
    /** The solve script, run by `xenlab lab test` (bash, in the lab folder). */
    solve: z
      .string()
      .default('solve.sh')
      .describe('The solve script, run by `xenlab lab test` (bash, in the lab folder).'),
    /** The guide, rendered by the site. */
    guide: z.string().default('guide.mdx').describe('The guide, rendered by the site.'),
  })
  .strict()
  .superRefine((m, ctx) => {
    for (const p of faultProblems(m)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });
export type LabManifest = z.infer<typeof LabManifest>;
export type LabManifestInput = z.input<typeof LabManifest>;

/**
 * Author-facing helper with types, for manifests written in TypeScript.
 * @example
 * export default defineLab({ id: 'my-lab', title: 'My lab', summary: '…', tasks: [...] });
 */
export function defineLab(lab: LabManifestInput): LabManifestInput {
  return lab;
}
