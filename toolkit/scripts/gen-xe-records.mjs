#!/usr/bin/env node
// Generates toolkit/src/xe/generated/records.ts: the `xe` field tables (the names, order, RO/RW/MRO/MRW/SRO/SRW
// markers, hidden/expensive/deprecated flags, and which XenAPI field and setter each one maps to) for the classes the
// CLI lists. The source of these facts is xen-api's ocaml/xapi-cli-server/records.ml (the hand-written `*_record`
// functions the real `xe` prints): this script reads that file, extracts each `make_field ~name:… ~get:… ~set:…`
// and resolves the `API.<class>_<field>` it reads against the datamodel in toolkit/src/xenapi/generated.
//
//   node toolkit/scripts/gen-xe-records.mjs --records PATH/TO/records.ml
//
// records.ml is not vendored (LGPL source, and only facts carry over); fetch xapi-project/xen-api and point
// --records at it. The output is checked in, like the datamodel.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const args = process.argv.slice(2);
const recIdx = args.indexOf('--records');
if (recIdx < 0) {
  console.error('gen-xe-records: pass --records PATH/TO/ocaml/xapi-cli-server/records.ml');
  process.exit(2);
}
const src = readFileSync(resolve(args[recIdx + 1] ?? ''), 'utf8');

// The datamodel: parse the generated TS table as JSON-ish data (it is an object literal of JSON values).
const dmText = readFileSync(join(repo, 'toolkit/src/xenapi/generated/datamodel.ts'), 'utf8');
const classesLiteral = dmText.slice(
  dmText.indexOf('= {') + 2,
  dmText.indexOf('\n};', dmText.indexOf('= {')) + 2,
);
const CLASSES = Function(`"use strict"; return (${classesLiteral});`)();

/** OCaml record field prefixes: class `VM` → `vM_`, `host_metrics` → `host_metrics_` (ocaml/idl gen_api). */
const prefixes = Object.keys(CLASSES)
  .map((c) => ({ cls: c, prefix: c[0].toLowerCase() + c.slice(1) + '_' }))
  .sort((a, b) => b.prefix.length - a.prefix.length);

function resolveApiField(ident) {
  for (const { cls, prefix } of prefixes) {
    if (!ident.startsWith(prefix)) continue;
    const rest = ident.slice(prefix.length);
    const f = CLASSES[cls].f.find((x) => x.n === rest || x.n.toLowerCase() === rest.toLowerCase());
    if (f) return { cls, field: f.n };
  }
  return undefined;
}

// The CLI classes and the records.ml function that prints them (cli_operations.ml gen_cmds).
const WANT = {
  pool: ['pool_record', 'pool'],
  host: ['host_record', 'host'],
  'host-cpu': ['host_cpu_record', 'host_cpu'],
  vm: ['vm_record', 'VM'],
  sr: ['sr_record', 'SR'],
  sm: ['sm_record', 'SM'],
  pbd: ['pbd_record', 'PBD'],
  vdi: ['vdi_record', 'VDI'],
  vbd: ['vbd_record', 'VBD'],
  network: ['net_record', 'network'],
  pif: ['pif_record', 'PIF'],
  vif: ['vif_record', 'VIF'],
  vlan: ['vlan_record', 'VLAN'],
  bond: ['bond_record', 'Bond'],
  tunnel: ['tunnel_record', 'tunnel'],
  task: ['task_record', 'task'],
  message: ['message_record', 'message'],
  console: ['console_record', 'console'],
  appliance: ['vm_appliance_record', 'VM_appliance'],
  drtask: ['dr_task_record', 'DR_task'],
};

function recordBody(fn) {
  const start = src.indexOf(`let ${fn} rpc session_id`);
  if (start < 0) throw new Error(`records.ml has no ${fn}`);
  const next = src.indexOf('\nlet ', start + 10);
  const body = src.slice(start, next < 0 ? undefined : next);
  return body.slice(body.indexOf('fields='));
}

/** Splits `~opt:(…)` arguments of one make_field call into their texts. */
function parts(chunk) {
  const re =
    /~(name|get|set|get_set|get_map|add_to_set|remove_from_set|add_to_map|remove_from_map|set_in_map|set_map|clear_map|hidden|expensive|deprecated|case_insensitive)(?::|\b)/g;
  const hits = [...chunk.matchAll(re)];
  const out = {};
  hits.forEach((h, i) => {
    const end = i + 1 < hits.length ? hits[i + 1].index : chunk.length;
    out[h[1]] = chunk.slice(h.index + h[0].length, end);
  });
  return out;
}

function kindOf(get) {
  if (/get_uuid_map_from_ref_map/.test(get)) return 'uuidmap';
  if (/get_uuids_from_refs|map_and_concat\s+get_uuid_from_ref|List\.map\s+get_uuid_from_ref/.test(get))
    return 'uuids';
  if (/get_uuid_from_ref_or_null/.test(get)) return 'uuidnull';
  if (/get_uuid_from_ref/.test(get)) return 'uuid';
  if (/get_name_from_ref/.test(get)) return 'name';
  if (/get_from_map/.test(get)) return 'map';
  if (/fun \(_, b\)/.test(get)) return 'values';
  if (/lowercase/.test(get)) return 'lower';
  if (/Date\.to_rfc3339/.test(get)) return 'date';
  if (/string_of_float/.test(get)) return 'float';
  if (/map_and_concat_compat|concat_with_comma/.test(get)) return 'setcomma';
  if (/map_and_concat|concat_with_semi/.test(get)) return 'set';
  return 'auto';
}

const out = {};
const unresolved = [];
for (const [cliClass, [fn, cls]] of Object.entries(WANT)) {
  const body = recordBody(fn);
  const chunks = body.split(/\bmake_field\b/).slice(1);
  const fields = [];
  for (const chunk of chunks) {
    const p = parts(chunk);
    const name = /"([^"]+)"/.exec(p.name ?? '')?.[1];
    if (!name) continue;
    const get = p.get ?? '';
    const apiIdents = [...get.matchAll(/(?:API\.|\(x \(\)\)\.(?!API))([A-Za-z0-9_]+)/g)].map((m) => m[1]);
    let source;
    for (const id of apiIdents) {
      const r = resolveApiField(id);
      if (r) {
        source = r;
        break;
      }
    }
    let flags = '';
    if (p.set !== undefined) flags += 's';
    if (p.get_set !== undefined) flags += 'S';
    if (p.get_map !== undefined) flags += 'M';
    if (p.add_to_set !== undefined) flags += 'a';
    if (p.add_to_map !== undefined) flags += 'A';
    if (p.set_in_map !== undefined || p.set_map !== undefined) flags += 'm';
    if (p.clear_map !== undefined) flags += 'c';
    if (/^true/.test(p.hidden ?? '')) flags += 'h';
    if (/^true/.test(p.expensive ?? '')) flags += 'e';
    if (/^true/.test(p.deprecated ?? '')) flags += 'd';
    if (/^true/.test(p.case_insensitive ?? '')) flags += 'i';
    const row = { n: name, k: kindOf(get) };
    if (flags) row.x = flags;
    if (source) {
      if (source.cls !== cls) {
        // A field read through a ref of the main record (VM → VM_metrics, VM_guest_metrics; host → host_metrics).
        const via = CLASSES[cls].f.filter((f) => f.t === `${source.cls} ref`);
        if (via.length === 1) row.v = via[0].n;
        else {
          unresolved.push(`${cliClass}.${name} (via ${source.cls})`);
          row.k = 'none';
        }
      }
      row.c = source.cls;
      row.f = source.field;
      row.t = CLASSES[source.cls].f.find((f) => f.n === source.field).t;
    } else {
      unresolved.push(`${cliClass}.${name}`);
      row.k = 'none';
    }
    // Wire methods for writes (first Client.X.y in each writer's text).
    for (const [opt, key] of [
      ['set', 'ws'],
      ['add_to_map', 'wa'],
      ['remove_from_map', 'wr'],
      ['add_to_set', 'wa'],
      ['remove_from_set', 'wr'],
      ['set_in_map', 'wi'],
    ]) {
      const t = p[opt];
      if (t === undefined) continue;
      const m = /Client\.([A-Za-z_]+)\.([A-Za-z0-9_]+)/.exec(t);
      if (!m) continue;
      const wireCls = Object.keys(CLASSES).find((c) => c.toLowerCase() === m[1].toLowerCase()) ?? m[1];
      row[key] = `${wireCls}.${m[2]}`;
      // The type of the value argument (the last one) so the CLI converts `param=value` without the datamodel.
      const msg = CLASSES[wireCls]?.m.find((x) => x.n === m[2]);
      if (msg && key !== 'wr') row[key + 't'] = msg.p[msg.p.length - 1][1];
    }
    fields.push(row);
  }
  out[cliClass] = { cls, fields };
}

const lines = [
  '// Generated by toolkit/scripts/gen-xe-records.mjs from xen-api ocaml/xapi-cli-server/records.ml and the datamodel.',
  '// Do not edit: rerun the script. Fields: n=name, k=value kind, x=flags (s settable, S set, M map, a/A add to',
  '// set/map, m set-in-map, c clear-map, h hidden, e expensive, d deprecated, i case-insensitive), c/f = XenAPI',
  '// class/field read (t its type), v = ref field of the main record it is read through, ws/wa/wr/wi = wire methods that\n// write it (wst/wat/wit: the type of their value argument).',
  '/* eslint-disable */',
  "import type { RecordTable } from '../record-types.js';",
  '',
  'export const RECORDS: RecordTable = {',
];
for (const [k, v] of Object.entries(out)) {
  lines.push(`  ${JSON.stringify(k)}: { cls: ${JSON.stringify(v.cls)}, fields: [`);
  for (const f of v.fields) lines.push(`    ${JSON.stringify(f)},`);
  lines.push('  ] },');
}
lines.push('};', '');
const outDir = join(repo, 'toolkit/src/xe/generated');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'records.ts'), lines.join('\n'));
console.log(
  `gen-xe-records: ${Object.keys(out).length} classes; fields without a direct source: ${unresolved.length}`,
);
if (args.includes('--verbose')) console.log(unresolved.join('\n'));
