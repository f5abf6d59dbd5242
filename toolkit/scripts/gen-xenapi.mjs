#!/usr/bin/env node
// Generates the XenAPI tables and types in toolkit/src/xenapi/generated/, in two stages:
//
//   A  --extract   source datamodel -> toolkit/src/xenapi/model/{datamodel,errors}.json, the compact model kept in
//                  git: classes, fields (type, qualifier, default, removed), messages (params, result, errors,
//                  implicit, removed), enums, error codes (parameter names, doc) — only what stage B and the project
//                  read. The source is xenapi.json (the datamodel as xapi-project.github.io publishes it) and
//                  errors.json (from ocaml/idl/datamodel_errors.ml), in ../shared/xenapi beside the checkout or
//                  --from DIR; it is never committed. Stage B runs afterwards.
//   B  (default)   toolkit/src/xenapi/model/ -> toolkit/src/xenapi/generated/{datamodel,errors,types}.ts. Reads only
//                  the repo.
//
//   node toolkit/scripts/gen-xenapi.mjs [--extract] [--from DIR] [--check]
//
// With --check nothing is written; the script exits 1 when a checked-in file differs from what it would make:
// stage B always, stage A too when the source is there (it says so when it is not; --from or --extract make the
// source required). CI runs this, see test/integration/generated.test.ts. Exit 2: bad usage or missing input.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const args = process.argv.slice(2);
const fromIdx = args.indexOf('--from');
const fromGiven = fromIdx >= 0;
const from = fromGiven ? resolve(args[fromIdx + 1] ?? '') : resolve(repo, '..', 'shared', 'xenapi');
const check = args.includes('--check');
const extract = args.includes('--extract');
const unknown = args.filter(
  (a, i) => !['--check', '--extract', '--from'].includes(a) && !(fromGiven && i === fromIdx + 1),
);
if (unknown.length || (fromGiven && !args[fromIdx + 1])) {
  console.error(
    `gen-xenapi: usage: gen-xenapi.mjs [--extract] [--from DIR] [--check] (got ${args.join(' ')})`,
  );
  process.exit(2);
}
const modelDir = join(repo, 'toolkit', 'src', 'xenapi', 'model');
const outDir = join(repo, 'toolkit', 'src', 'xenapi', 'generated');
const rel = (path) => relative(repo, path);

// ---------------------------------------------------------------------------------------------------------------
// Stage A: the compact model, from the source datamodel.

const ABOUT =
  'Derived by toolkit/scripts/gen-xenapi.mjs --extract from the XenAPI datamodel (xenapi.json as ' +
  'xapi-project.github.io publishes it from xapi-project/xen-api ocaml/idl; error parameters from ' +
  'ocaml/idl/datamodel_errors.ml). Only what the generator and the project use. Do not edit: rerun the extract.';

/** The compact model of the source classes and errors (same order as the source; errors sorted by code). */
function extractModel(classes, errors) {
  const removed = (x) => x.lifecycle?.state === 'Removed_s';
  const model = classes.map((c) => {
    const cls = {
      name: c.name,
      doc: String(c.description).split('\n')[0],
      fields: c.fields.map((f) => {
        const o = { name: f.name, type: f.type, qualifier: f.qualifier };
        if (f.default !== undefined) o.default = f.default;
        if (removed(f)) o.removed = true;
        return o;
      }),
      messages: c.messages.map((m) => {
        const o = {
          name: m.name,
          params: m.params.map((p) =>
            p.required === false ? [p.name, p.type, 'optional'] : [p.name, p.type],
          ),
          result: m.result[0],
        };
        if (m.implicit) o.implicit = true;
        if (m.errors?.length) o.errors = m.errors.map((e) => e.name);
        if (removed(m)) o.removed = true;
        return o;
      }),
    };
    const enums = c.enums ?? [];
    if (enums.length) cls.enums = Object.fromEntries(enums.map((e) => [e.name, e.values.map((v) => v.name)]));
    return cls;
  });
  const errorTable = Object.fromEntries(
    Object.keys(errors)
      .sort()
      .map((code) => [code, { params: errors[code].params, doc: errors[code].doc }]),
  );
  return { classes: model, errors: errorTable };
}

/** One item per line, nested two levels deep: deterministic and readable in a diff (JSON either way). */
function datamodelJson(classes) {
  const list = (items, indent) =>
    items.length ? `[\n${items.map((x) => `${indent}  ${JSON.stringify(x)}`).join(',\n')}\n${indent}]` : '[]';
  const cls = (c) => {
    const lines = [
      `      "name": ${JSON.stringify(c.name)}`,
      `      "doc": ${JSON.stringify(c.doc)}`,
      `      "fields": ${list(c.fields, '      ')}`,
      `      "messages": ${list(c.messages, '      ')}`,
    ];
    if (c.enums) {
      const e = Object.entries(c.enums).map(([n, v]) => `        ${JSON.stringify(n)}: ${JSON.stringify(v)}`);
      lines.push(`      "enums": {\n${e.join(',\n')}\n      }`);
    }
    return `    {\n${lines.join(',\n')}\n    }`;
  };
  return `{\n  "about": ${JSON.stringify(ABOUT)},\n  "classes": [\n${classes.map(cls).join(',\n')}\n  ]\n}\n`;
}

function errorsJson(errors) {
  const lines = Object.entries(errors).map(
    ([code, e]) => `    ${JSON.stringify(code)}: ${JSON.stringify(e)}`,
  );
  return `{\n  "about": ${JSON.stringify(ABOUT)},\n  "errors": {\n${lines.join(',\n')}\n  }\n}\n`;
}

const stale = [];
/** Writes `text` to `path`, or (with --check) records it as stale when the checked-in file differs. */
function emit(path, text, same = (old) => old === text) {
  const old = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (old !== null && same(old)) return;
  if (check) stale.push(path);
  else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`gen-xenapi: wrote ${rel(path)} (${text.length} bytes)`);
  }
}

const hasSource = existsSync(join(from, 'xenapi.json')) && existsSync(join(from, 'errors.json'));
if (!hasSource && (extract || fromGiven)) {
  console.error(`gen-xenapi: no source datamodel at ${from} (xenapi.json and errors.json; pass --from DIR)`);
  process.exit(2);
}
if (hasSource && (extract || check)) {
  const { classes, errors } = extractModel(
    JSON.parse(readFileSync(join(from, 'xenapi.json'), 'utf8')),
    JSON.parse(readFileSync(join(from, 'errors.json'), 'utf8')),
  );
  const dmText = datamodelJson(classes);
  const errText = errorsJson(errors);
  // A reformatted file (e.g. by prettier) that says the same thing is not stale.
  const sameAs = (text, fmt) => (old) => {
    try {
      return fmt(JSON.parse(old)) === text;
    } catch {
      return false;
    }
  };
  emit(
    join(modelDir, 'datamodel.json'),
    dmText,
    sameAs(dmText, (j) => datamodelJson(j.classes)),
  );
  emit(
    join(modelDir, 'errors.json'),
    errText,
    sameAs(errText, (j) => errorsJson(j.errors)),
  );
  if (check && stale.length) {
    console.error(
      `gen-xenapi: the compact model differs from what --extract makes from ${from}: ` +
        `${stale.map(rel).join(', ')}. Run npm run gen:xenapi:extract.`,
    );
    process.exit(1);
  }
  if (check) console.log(`gen-xenapi: stage A checked: the compact model matches ${from}`);
} else if (check) {
  console.log(`gen-xenapi: stage A not checked: no source datamodel at ${from}; stage B checked alone`);
}

// ---------------------------------------------------------------------------------------------------------------
// Stage B: the TypeScript, from the compact model only.

const readModel = (file) => {
  const path = join(modelDir, file);
  if (!existsSync(path)) {
    console.error(`gen-xenapi: no compact model at ${rel(path)} (run npm run gen:xenapi:extract)`);
    process.exit(2);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
};
const classes = readModel('datamodel.json').classes;
const errors = readModel('errors.json').errors;

const HEADER =
  '// Generated by toolkit/scripts/gen-xenapi.mjs from the XenAPI datamodel (xenapi.json, errors.json).\n' +
  '// Do not edit: run `npm run gen:xenapi`. CI fails when regenerating changes this file.\n';

/** Qualifier as the wire and `xe` see it: RW fields have setters; RO/constructor fields are set by create. */
const qualifierCode = (q) => ({ RW: 'rw', 'RO/constructor': 'rc', 'RO/runtime': 'ro' })[q] ?? 'ro';

// ---------------------------------------------------------------------------------------------------------------
// Runtime tables: compact, one line per field or message, enough for a server or client to know every method's
// arity, parameter types and result type, every field's type/qualifier/default, and every enum's values.
const model = {};
const enumsAll = {};
for (const c of classes) {
  const fields = c.fields.map((f) => {
    const o = { n: f.name, t: f.type, q: qualifierCode(f.qualifier) };
    if (f.default !== undefined) o.d = f.default;
    if (f.removed) o.removed = true;
    return o;
  });
  const messages = c.messages.map((m) => {
    const o = {
      n: m.name,
      p: m.params.map(([name, type, optional]) => (optional ? [name, type, 0] : [name, type])),
      r: m.result,
    };
    if (m.implicit) o.i = 1;
    if (m.errors?.length) o.e = m.errors;
    if (m.removed) o.removed = 1;
    return o;
  });
  Object.assign(enumsAll, c.enums);
  model[c.name] = { f: fields, m: messages };
}

const runtime =
  HEADER +
  `/* eslint-disable */\n` +
  `import type { DatamodelTable } from '../datamodel-types.js';\n\n` +
  `/** Every class of the XenAPI datamodel: fields (n=name, t=type, q=rw|rc|ro, d=default) and messages\n` +
  ` * (n=name, p=[name, type, 0 if optional], r=result type, i=implicit, e=errors). */\n` +
  `export const CLASSES: DatamodelTable = {\n` +
  Object.entries(model)
    .map(
      ([name, c]) =>
        `  ${JSON.stringify(name)}: {\n    f: [\n` +
        c.f.map((f) => `      ${JSON.stringify(f)},`).join('\n') +
        `\n    ],\n    m: [\n` +
        c.m.map((m) => `      ${JSON.stringify(m)},`).join('\n') +
        `\n    ],\n  },`,
    )
    .join('\n') +
  `\n};\n\n/** Every enum of the datamodel with its values in datamodel order. */\n` +
  `export const ENUMS: Readonly<Record<string, readonly string[]>> = {\n` +
  Object.entries(enumsAll)
    .map(([n, v]) => `  ${JSON.stringify(n)}: ${JSON.stringify(v)},`)
    .join('\n') +
  `\n};\n`;

// ---------------------------------------------------------------------------------------------------------------
// Error table: code -> parameter names (in wire order) and the sentence `xe` prints.
const errorTable =
  HEADER +
  `/* eslint-disable */\n\n` +
  `/** XenAPI error codes with their parameter names (in the order they travel) and documentation. */\n` +
  `export const ERRORS: Readonly<Record<string, { readonly params: readonly string[]; readonly doc: string }>> = {\n` +
  Object.keys(errors)
    .sort()
    .map(
      (code) =>
        `  ${JSON.stringify(code)}: { params: ${JSON.stringify(errors[code].params)}, doc: ${JSON.stringify(errors[code].doc)} },`,
    )
    .join('\n') +
  `\n};\n\n/** Every known error code. */\nexport type XapiErrorCode =\n` +
  Object.keys(errors)
    .sort()
    .map((c) => `  | ${JSON.stringify(c)}`)
    .join('\n') +
  `;\n`;

// ---------------------------------------------------------------------------------------------------------------
// TypeScript types: a record interface per class, enum unions, and a method table for typed calls.
const RESERVED = new Set([
  'class',
  'function',
  'default',
  'new',
  'delete',
  'in',
  'var',
  'const',
  'let',
  'enum',
  'export',
  'import',
  'return',
  'this',
  'switch',
  'case',
  'for',
  'while',
  'do',
  'if',
  'else',
  'try',
  'catch',
  'finally',
  'throw',
  'typeof',
  'instanceof',
  'void',
  'with',
  'yield',
  'super',
  'extends',
  'break',
  'continue',
  'debugger',
  'public',
  'private',
  'protected',
  'interface',
  'package',
  'implements',
  'static',
]);
const tsIdent = (s) => {
  const id = s.replace(/[^A-Za-z0-9_]/g, '_');
  return RESERVED.has(id) ? `${id}_` : id;
};
const recordName = (cls) => `${tsIdent(cls)}Record`;
const enumName = (e) =>
  e
    .split('_')
    .map((w) => (w ? w[0].toUpperCase() + w.slice(1) : ''))
    .join('');
const classNames = new Set(classes.map((c) => c.name));

function tsType(t, selfClass) {
  t = t.trim();
  let m;
  if ((m = /^\((.+) -> (.+)\) map$/.exec(t))) return `Record<string, ${tsType(m[2], selfClass)}>`;
  if ((m = /^(.+) set$/.exec(t))) {
    const inner = tsType(m[1], selfClass);
    return /[ |]/.test(inner) ? `(${inner})[]` : `${inner}[]`;
  }
  if ((m = /^(.+) ref$/.exec(t)))
    return classNames.has(m[1]) ? `Ref<${JSON.stringify(m[1])}>` : 'Ref<string>';
  if ((m = /^(.+) record$/.exec(t))) {
    const c = m[1] === '<class>' ? selfClass : m[1];
    return classNames.has(c) ? recordName(c) : 'Record<string, unknown>';
  }
  if ((m = /^enum (.+)$/.exec(t))) return enumsAll[m[1]] ? enumName(m[1]) : 'string';
  switch (t) {
    case 'string':
      return 'string';
    case 'int':
    case 'float':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'datetime':
      return 'Date';
    case 'void':
      return 'void';
    case 'an event batch':
      return 'EventBatch';
    default:
      return 'unknown';
  }
}

let types = HEADER + `/* eslint-disable */\nimport type { Ref, EventBatch } from '../types-base.js';\n\n`;
for (const [name, values] of Object.entries(enumsAll)) {
  types += `export type ${enumName(name)} = ${values.map((v) => JSON.stringify(v)).join(' | ')};\n`;
}
types += '\n';
for (const c of classes) {
  types += `/** ${c.doc.replace(/\*\//g, '*\\/')} */\nexport interface ${recordName(c.name)} {\n`;
  for (const f of c.fields) {
    if (f.removed) continue;
    types += `  ${/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name) ? f.name : JSON.stringify(f.name)}: ${tsType(f.type, c.name)};\n`;
  }
  types += `}\n\n`;
}
types += `/** Record type of each class, by class name. */\nexport interface Records {\n`;
for (const c of classes) types += `  ${JSON.stringify(c.name)}: ${recordName(c.name)};\n`;
types += `}\n\n/** Every XenAPI method (the session argument left out) with its parameters and result. */\nexport interface Methods {\n`;
for (const c of classes) {
  for (const m of c.messages) {
    if (m.removed) continue;
    const params = m.params.filter(
      ([name, type], i) => !(i === 0 && type === 'session ref' && name === 'session_id'),
    );
    const sig = params
      .map(([name, type, optional]) => `${tsIdent(name)}${optional ? '?' : ''}: ${tsType(type, c.name)}`)
      .join(', ');
    types += `  ${JSON.stringify(`${c.name}.${m.name}`)}: (${sig}) => ${tsType(m.result, c.name)};\n`;
  }
}
types += `}\n`;

const outputs = {
  'datamodel.ts': runtime,
  'errors.ts': errorTable,
  'types.ts': types,
};

for (const [file, text] of Object.entries(outputs)) emit(join(outDir, file), text);
if (check && stale.length) {
  console.error(
    `gen-xenapi: generated files are out of date: ${stale.map((p) => relative(outDir, p)).join(', ')}. ` +
      `Run npm run gen:xenapi.`,
  );
  process.exit(1);
}
if (check) console.log('gen-xenapi: stage B checked: generated/ matches the compact model');
