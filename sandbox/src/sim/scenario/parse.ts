/** Reading scenarios: validation with errors that name the source and every bad field, and YAML/JSON files. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { scenarioSchema, type Scenario } from './schema.js';

/** A scenario file or object that failed validation; the message names the source and every bad field. */
export class ScenarioError extends Error {
  readonly code = 'SIM_ERR_SCENARIO_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** Validates a scenario, throwing {@link ScenarioError} that names the file and each field with the problem. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map(
    (i) => `  - ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`,
  );
  throw new ScenarioError(`${source} is not a valid scenario:\n${lines.join('\n')}`);
}

/** Reads a YAML or JSON scenario file. */
export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ScenarioError(
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`,
    );
  }
  return parseScenario(data, path);
}
