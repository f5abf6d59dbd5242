import { expect, test } from 'vitest';
import { XapiFailure } from './contract.js';

/** The XapiFailure `fn` throws, as plain data. */
function failureOf(fn: () => unknown): { code: string; params?: readonly string[] } {
  try {
    fn();
  } catch (e) {
    if (e instanceof XapiFailure) return { code: e.code, params: e.params };
    throw e;
  }
  throw new Error('expected an XapiFailure');
}
import { dbString, matchWhere, parseWhere } from './where.js';

const vm = {
  name_label: 'web 1',
  power_state: 'Running',
  is_a_template: false,
  VCPUs_max: 2,
  tags: ['a', 'b'],
};
const m = (expr: string): boolean => matchWhere(parseWhere(expr), vm);

test('field equality uses database column names (name__label)', () => {
  expect(m('field "name__label"="web 1"')).toBe(true);
  expect(m('field "name_label"="web 1"')).toBe(true);
  expect(m('field "name__label"="web 2"')).toBe(false);
});

test('booleans, ints and sets compare by their database string form', () => {
  expect(m('field "is_a_template"="false"')).toBe(true);
  expect(m('field "VCPUs__max"="2"')).toBe(true);
  expect(dbString(['a', 'b'])).toBe("('a' 'b')");
  expect(m(`field "tags"="('a' 'b')"`)).toBe(true);
});

test('and, or, not, parentheses, true and false, with and binding tighter than or', () => {
  expect(m('field "power_state"="Running" and not field "is_a_template"="true"')).toBe(true);
  expect(m('false or field "power_state"="Halted"')).toBe(false);
  expect(m('true')).toBe(true);
  expect(m('not (false or false)')).toBe(true);
  expect(m('false and false or true')).toBe(true);
  expect(m('FIELD "power_state"="Running" AND TRUE')).toBe(true);
});

test('syntax errors are INTERNAL_ERROR naming the expression', () => {
  expect(failureOf(() => parseWhere('field "x"')).code).toBe('INTERNAL_ERROR');
  expect(failureOf(() => parseWhere('(true')).code).toBe('INTERNAL_ERROR');
  expect(failureOf(() => parseWhere('true true')).code).toBe('INTERNAL_ERROR');
  expect(failureOf(() => parseWhere('not '.repeat(200) + 'true')).code).toBe('INTERNAL_ERROR');
});
