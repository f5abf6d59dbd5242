/**
 * Loads `labs/<id>/` folders: parses the manifest (YAML), validates it with zod and with what zod cannot know
 * (XenAPI class and field names, unique ids, files that must exist, placeholders naming real parameters), and
 * reports every problem with the file, the line, the field and what to do.
 * @module
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CLASSES } from '@xenlab/toolkit/xenapi';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { placeholders } from './params.js';
import { LabManifest } from './schema.js';
import { solutionBlocks } from './solution-blocks.js';
import { XenlabError } from '../errors/index.js';
import type { LabManifest as LabManifestT } from './schema.js';
import type { Check, FieldMatch, Query, Where } from './schema.js';

/** Stable error codes of lab loading (documented in sandbox/src/errors/codes.ts). */
export const LabErrorCode = {
  NOT_FOUND: 'LAB_ERR_NOT_FOUND',
  BAD_YAML: 'LAB_ERR_BAD_YAML',
  INVALID_MANIFEST: 'LAB_ERR_INVALID_MANIFEST',
  INVALID_CHECK: 'LAB_ERR_INVALID_CHECK',
} as const;
export type LabErrorCode = (typeof LabErrorCode)[keyof typeof LabErrorCode];

/** One problem in a lab: where and what to do. */
export interface LabProblem {
  readonly file: string;
  readonly line?: number;
  /** Dotted path of the field, e.g. `tasks.0.checks.1.select`. */
  readonly path: string;
  readonly message: string;
}

/** A lab that failed to load. `message` lists every problem, one per line, as `file:line: path: message`. */
export class LabError extends XenlabError {
  declare readonly code: LabErrorCode;
  readonly problems: readonly LabProblem[];
  constructor(code: LabErrorCode, unsorted: readonly LabProblem[]) {
    // In file order, as an author fixes them.
    const problems = [...unsorted].sort((x, y) => (x.line ?? 0) - (y.line ?? 0));
    super(
      code,
      problems
        .map(
          (p) =>
            `${p.file}${p.line === undefined ? '' : `:${String(p.line)}`}: ${p.path ? `${p.path}: ` : ''}${p.message}`,
        )
        .join('\n'),
      { codeInMessage: false },
    );
    this.problems = problems;
  }
}

/** A loaded, validated lab. */
export interface Lab {
  readonly id: string;
  /** Absolute path of the lab folder. */
  readonly dir: string;
  readonly manifest: LabManifestT;
  /** Absolute path of the scenario file, or undefined for the default pool. */
  readonly scenarioFile: string | undefined;
  /**
   * The pools of a multi-pool lab (`environment.pools`), in order, with their scenario files (undefined: the
   * default pool); absent or empty for a lab with one pool (then `scenarioFile` is it).
   */
  readonly pools?: readonly { readonly name: string; readonly scenarioFile: string | undefined }[];
}

/** The repository's `labs/` folder, seen from sandbox/src/labs or sandbox/dist/labs. */
export const LABS_DIR = resolve(new URL('.', import.meta.url).pathname, '..', '..', '..', 'labs');

/** Turns a zod issue into words an author can act on. */
function explain(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} — remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling (see labs/README.md)`;
    case 'invalid_union':
      if ('discriminator' in issue && typeof issue.discriminator === 'string')
        return `${issue.message}: set "${issue.discriminator}" to one of the kinds in labs/README.md`;
      return `${issue.message} — see labs/README.md for the forms this field takes`;
    case 'invalid_type':
      return `expected ${issue.expected}${issue.input === undefined ? ' (the field is required)' : ''}`;
    default:
      return issue.message;
  }
}

/** Validates data against a schema, or throws a LabError naming the file, line and field of each problem. */
export function parseWithFriendlyErrors<S extends z.ZodType>(
  schema: S,
  data: unknown,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined = () => undefined,
): z.infer<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const problems = r.error.issues.map((issue) => {
    const line = lineOf(issue.path);
    return {
      file,
      ...(line === undefined ? {} : { line }),
      path: issue.path.map(String).join('.'),
      message: explain(issue),
    };
  });
  throw new LabError(LabErrorCode.INVALID_MANIFEST, problems);
}

/** Field names of a XenAPI class, and the class a Ref field points to. */
function fieldsOf(cls: string): Map<string, string> | undefined {
  const spec = CLASSES[cls];
  if (!spec) return undefined;
  return new Map(spec.f.filter((f) => !f.removed).map((f) => [f.n, f.t]));
}
const refTarget = (type: string): string | undefined => /^(\w+) ref( set)?$/.exec(type)?.[1];

function closest(name: string, options: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  for (const o of options) if (norm(o) === norm(name)) return o;
  return undefined;
}

/** Checks class and field names of a query against the datamodel. */
function checkQuery(
  q: { select: string; where: Where },
  path: string,
  out: (p: string, m: string) => void,
): void {
  const fields = fieldsOf(q.select);
  if (!fields) {
    const hint = closest(q.select, Object.keys(CLASSES));
    out(
      `${path}.select`,
      `"${q.select}" is not a XenAPI class${hint ? ` — did you mean "${hint}"?` : ' (classes are spelled as XAPI does: VM, host, SR, PIF, network…)'}`,
    );
    return;
  }
  checkWhere(q.select, fields, q.where, `${path}.where`, out);
}

function checkWhere(
  cls: string,
  fields: Map<string, string>,
  where: Where,
  path: string,
  out: (p: string, m: string) => void,
): void {
  for (const [name, match] of Object.entries(where)) {
    const type = fields.get(name);
    if (type === undefined) {
      const hint = closest(name, fields.keys());
      out(`${path}.${name}`, `${cls} has no field "${name}"${hint ? ` — did you mean "${hint}"?` : ''}`);
      continue;
    }
    checkMatch(type, match, `${path}.${name}`, out);
  }
}

function checkMatch(
  type: string,
  match: FieldMatch,
  path: string,
  out: (p: string, m: string) => void,
): void {
  if (match === null || typeof match !== 'object') return;
  const target = refTarget(type);
  for (const op of ['is', 'any', 'all', 'none'] as const) {
    const sub = match[op];
    if (sub === undefined) continue;
    if (!target) {
      out(`${path}.${op}`, `"${op}" follows references, but this field is a ${type}`);
      continue;
    }
    if (op === 'is' && type.endsWith('set'))
      out(`${path}.is`, `this field is a set of refs: use any, all or none`);
    if (op !== 'is' && !type.endsWith('set')) out(`${path}.${op}`, `this field is a single ref: use is`);
    const f = fieldsOf(target);
    if (f) checkWhere(target, f, sub, `${path}.${op}`, out);
  }
  if (match.regex !== undefined) {
    try {
      new RegExp(match.regex);
    } catch (e) {
      out(`${path}.regex`, `not a valid regular expression: ${(e as Error).message}`);
    }
  }
}

function queriesOf(check: Check): [Query | { select: string; where: Where }, string][] {
  switch (check.kind) {
    case 'xapi':
      return [[check, '']];
    case 'temporal':
      return [
        [check.while, '.while'],
        [check.always, '.always'],
      ];
    case 'answer':
      return 'count' in check.expect ? [[check.expect.count, '.expect.count']] : [];
    case 'script':
      return [];
  }
}

/** `environment.pools` and `wan`: unique names, files that exist, not beside `scenario`, on the local driver. */
function poolProblems(m: LabManifestT, dir: string, out: (path: string, message: string) => void): void {
  const env = m.environment;
  if (env.pools === undefined) {
    if (env.wan !== undefined)
      out('environment.wan', 'a WAN links several pools: declare environment.pools (or drop wan)');
    return;
  }
  if (env.scenario !== 'default')
    out(
      'environment.scenario',
      "a lab with environment.pools names each pool's scenario there (pools[].scenario), not environment.scenario",
    );
  if (env.driver !== 'local')
    out('environment.pools', `several pools need the local driver (this lab uses ${env.driver})`);
  const names = new Set<string>();
  env.pools.forEach((p, i) => {
    if (names.has(p.name)) out(`environment.pools.${String(i)}.name`, `pool "${p.name}" is declared twice`);
    names.add(p.name);
    if (p.scenario !== 'default' && !existsSync(join(dir, p.scenario)))
      out(
        `environment.pools.${String(i)}.scenario`,
        `${p.scenario} does not exist in the lab folder (or use "default")`,
      );
  });
}

/**
 * A solution's code blocks (`solution-blocks.ts`): their fences read as the page and Skip read them, each terminal
 * one of the lab's (or its Run button would type into no terminal and Skip would run it on the first machine).
 * A fence with anything else (a terminal in another form, an unknown attribute, `until=` other than `stopped`, a
 * `file=` outside the home) is refused: the page and Skip would not read it the way the author meant.
 */
function solutionBlockProblems(
  task: { readonly id: string; readonly solution?: string | undefined },
  terminals: readonly string[],
): string[] {
  const out: string[] = [];
  for (const b of solutionBlocks(task.solution ?? '')) {
    for (const p of b.problems) out.push(`task "${task.id}": the code block \`${b.fence.trim()}\` ${p}`);
    if (b.terminal !== undefined && !terminals.includes(b.terminal))
      out.push(
        `task "${task.id}": a code block names terminal "${b.terminal}", which this lab does not have (its terminals: ${terminals.join(', ')})`,
      );
  }
  return out;
}

/** Semantic checks zod cannot express. */
function semanticProblems(m: LabManifestT, dir: string, folder: string): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const out = (path: string, message: string) => problems.push({ path, message });
  if (m.id !== folder)
    out('id', `the id "${m.id}" must equal the folder name "${folder}" (rename one of them)`);
  if (!existsSync(join(dir, m.guide)))
    out('guide', `${m.guide} does not exist in the lab folder (write the guide there)`);
  if (!existsSync(join(dir, m.solve)))
    out('solve', `${m.solve} does not exist in the lab folder (every lab has a solve script)`);
  if (m.environment.scenario !== 'default' && !existsSync(join(dir, m.environment.scenario)))
    out(
      'environment.scenario',
      `${m.environment.scenario} does not exist in the lab folder (or use "default")`,
    );
  poolProblems(m, dir, out);
  const paramNames = new Set<string>();
  for (const [name, p] of Object.entries(m.params)) {
    paramNames.add(name);
    if (p.kind === 'subnet')
      for (const s of ['network', 'gateway', 'first', 'last', 'netmask']) paramNames.add(`${name}.${s}`);
    if ((p.kind === 'int' || p.kind === 'vlan') && p.min > p.max)
      out(`params.${name}`, `min (${String(p.min)}) is above max (${String(p.max)})`);
  }
  const taskIds = new Set<string>();
  const checkIds = new Set<string>();
  m.tasks.forEach((task, ti) => {
    const tp = `tasks.${String(ti)}`;
    if (taskIds.has(task.id)) out(`${tp}.id`, `task id "${task.id}" is used twice; task ids must be unique`);
    taskIds.add(task.id);
    const causes = new Set<string>();
    task.checks.forEach((check, ci) => {
      const cp = `${tp}.checks.${String(ci)}`;
      if (checkIds.has(check.id))
        out(`${cp}.id`, `check id "${check.id}" is used twice; check ids must be unique in the lab`);
      checkIds.add(check.id);
      causes.add(check.id);
      if (check.kind === 'script') for (const c of check.causes) causes.add(c);
      if (check.kind === 'answer' && 'param' in check.expect && !(check.expect.param in m.params))
        out(`${cp}.expect.param`, `no parameter "${check.expect.param}" in params`);
      for (const [q, suffix] of queriesOf(check)) checkQuery(q, `${cp}${suffix}`, out);
      if ('pool' in check && check.pool !== undefined) {
        const names = (m.environment.pools ?? []).map((p) => p.name);
        if (!names.includes(check.pool))
          out(
            `${cp}.pool`,
            names.length === 0
              ? `pool "${check.pool}": this lab has one pool (declare environment.pools to name several)`
              : `no pool "${check.pool}" in environment.pools (pools: ${names.join(', ')})`,
          );
      }
      for (const name of placeholders(JSON.stringify(check)))
        if (!paramNames.has(name)) out(cp, `{{${name}}} names no parameter (declare it under params)`);
    });
    task.hints.forEach((hint, hi) => {
      if (typeof hint === 'string') return;
      for (const w of hint.when)
        if (!causes.has(w))
          out(
            `${tp}.hints.${String(hi)}.when`,
            `"${w}" is neither a check id of this task nor a declared script cause`,
          );
    });
    const terminals = m.environment.terminals.map((t) => t.name);
    for (const problem of solutionBlockProblems(task, terminals)) out(`${tp}.solution`, problem);
    for (const name of placeholders(
      `${task.title} ${task.text} ${task.solution ?? ''} ${JSON.stringify(task.hints)}`,
    ))
      if (!paramNames.has(name)) out(tp, `{{${name}}} names no parameter (declare it under params)`);
  });
  return problems;
}

/**
 * Loads and validates one lab folder.
 * @example
 * const lab = loadLab('labs/anatomy-of-a-pool');
 * console.log(lab.manifest.tasks.length);
 */
export function loadLab(dir: string): Lab {
  const abs = resolve(dir);
  const folder = abs.split('/').pop() ?? '';
  const file = join(abs, 'lab.yaml');
  const shown = `labs/${folder}/lab.yaml`;
  if (!existsSync(file))
    throw new LabError(LabErrorCode.NOT_FOUND, [
      { file: shown, path: '', message: `no lab.yaml here (create one with: npx xenlab lab new ${folder})` },
    ]);
  const text = readFileSync(file, 'utf8');
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new LabError(
      LabErrorCode.BAD_YAML,
      doc.errors.map((e) => ({
        file: shown,
        line: counter.linePos(e.pos[0]).line,
        path: '',
        message: `not valid YAML: ${e.message.split('\n')[0] ?? ''}`,
      })),
    );
  }
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    // The deepest node that exists on the path: a missing field points at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as
        { range?: [number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const manifest = parseWithFriendlyErrors(LabManifest, doc.toJS(), shown, lineOf);
  const problems = semanticProblems(manifest, abs, folder);
  if (problems.length > 0) {
    throw new LabError(
      LabErrorCode.INVALID_CHECK,
      problems.map((p) => {
        const line = lineOf(p.path.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)));
        return { file: shown, ...(line === undefined ? {} : { line }), ...p };
      }),
    );
  }
  return {
    id: manifest.id,
    dir: abs,
    manifest,
    scenarioFile:
      manifest.environment.scenario === 'default' ? undefined : join(abs, manifest.environment.scenario),
    ...(manifest.environment.pools === undefined
      ? {}
      : {
          pools: manifest.environment.pools.map((p) => ({
            name: p.name,
            scenarioFile: p.scenario === 'default' ? undefined : join(abs, p.scenario),
          })),
        }),
  };
}

/** Lab folder names under a labs directory (folders holding a lab.yaml). */
export function listLabIds(root: string = LABS_DIR): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => statSync(join(root, name)).isDirectory() && existsSync(join(root, name, 'lab.yaml')))
    .sort();
}

/** Loads every lab, collecting failures instead of stopping at the first. */
export function loadAllLabs(root: string = LABS_DIR): { labs: Lab[]; errors: LabError[] } {
  const labs: Lab[] = [];
  const errors: LabError[] = [];
  for (const id of listLabIds(root)) {
    try {
      labs.push(loadLab(join(root, id)));
    } catch (e) {
      if (e instanceof LabError) errors.push(e);
      else throw e;
    }
  }
  labs.sort((a, b) => a.manifest.order - b.manifest.order || a.id.localeCompare(b.id));
  return { labs, errors };
}
