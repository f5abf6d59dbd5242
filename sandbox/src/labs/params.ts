/**
 * Per-learner parameters (Labtainers' RAND_REPLACE, seeded per student): every value is derived from the learner's
 * seed and the parameter's name by HMAC-SHA256, so the same learner always gets the same lab and two learners
 * almost never get the same answers.
 * @module
 */
import { createHmac } from 'node:crypto';
import type { Param } from './schema.js';

/** Parameter values by name; subnet parameters add `name.network`, `name.gateway`, `name.first`, `name.last`. */
export type Params = Readonly<Record<string, string>>;

const WORDS = [
  'amber',
  'birch',
  'cedar',
  'delta',
  'ember',
  'fjord',
  'garnet',
  'harbor',
  'iris',
  'juniper',
  'kiwi',
  'lotus',
  'maple',
  'nova',
  'opal',
  'pine',
  'quartz',
  'raven',
  'sierra',
  'tundra',
  'umber',
  'violet',
  'willow',
  'yarrow',
  'zephyr',
  'aspen',
  'basalt',
  'cobalt',
  'dune',
  'falcon',
  'glacier',
  'heron',
];

/** A stream of uniform integers for one parameter. */
function stream(seed: string, name: string): (n: number) => number {
  let counter = 0;
  return (n: number) => {
    const h = createHmac('sha256', seed)
      .update(`${name}#${String(counter++)}`)
      .digest();
    return h.readUInt32BE(0) % n;
  };
}

/**
 * Derives every parameter of a lab for one learner.
 * @example
 * deriveParams({ vlan: { kind: 'vlan', min: 100, max: 3999 } }, 'learner-1:my-lab') // { vlan: '1234' }
 */
export function deriveParams(defs: Readonly<Record<string, Param>>, seed: string): Params {
  const out: Record<string, string> = {};
  for (const [name, def] of Object.entries(defs)) {
    const next = stream(seed, name);
    switch (def.kind) {
      case 'int':
        out[name] = String(def.min + next(def.max - def.min + 1));
        break;
      case 'vlan':
        out[name] = String(def.min + next(def.max - def.min + 1));
        break;
      case 'pick':
        out[name] = def.from[next(def.from.length)] ?? '';
        break;
      case 'name':
        out[name] = `${def.prefix}${WORDS[next(WORDS.length)] ?? 'x'}${String(next(90) + 10)}`;
        break;
      case 'const':
        out[name] = def.value;
        break;
      case 'subnet': {
        const a = 16 + next(200);
        const b = next(256);
        const net = `${def.base}.${String(a)}.${String(b)}`;
        out[name] = `${net}.0/24`;
        out[`${name}.network`] = `${net}.0`;
        out[`${name}.gateway`] = `${net}.1`;
        out[`${name}.first`] = `${net}.10`;
        out[`${name}.last`] = `${net}.200`;
        out[`${name}.netmask`] = '255.255.255.0';
        break;
      }
    }
  }
  return out;
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z][a-zA-Z0-9]*(?:\.[a-z]+)?)\s*\}\}/g;

/** Names of the `{{param}}` placeholders in a text. */
export function placeholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

/**
 * Fills `{{param}}` placeholders. An unknown name is left as it is (the validator reports those to authors).
 * @example
 * render('VLAN {{vlan}}', { vlan: '42' }) // 'VLAN 42'
 */
export function render(text: string, params: Params): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => params[name] ?? whole);
}

/** Fills placeholders in every string of a JSON-like value (checks, queries). */
export function renderDeep<T>(value: T, params: Params): T {
  if (typeof value === 'string') return render(value, params) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => renderDeep(v, params)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v, params);
    return out as T;
  }
  return value;
}

/** Environment variables a lab exports to shells: `LAB_VLAN`, `LAB_VM_NAME`, `LAB_NET_GATEWAY`… */
export function paramEnv(params: Params): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    const key = name
      .replace(/\./g, '_')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toUpperCase();
    out[`LAB_${key}`] = value;
  }
  return out;
}
