/**
 * Scenarios: what pool a simulator starts with. Authors write YAML or JSON; zod validates it and errors name the file
 * and the field. `buildScenario` turns one into store objects shaped like a fresh XCP-ng 8.3 install (toolkit/src/xenapi/NOTES.md §2, §7):
 * dom0 per host, PIFs on pool-wide networks, local + shared + ISO storage, default templates with provision XML.
 *
 * The parts live in `scenario/`:
 * - `schema.ts` — the zod schemas and the `Scenario` types
 * - `parse.ts` — validation errors naming each field, YAML/JSON files
 * - `defaults.ts` — `DEFAULT_SCENARIO`, `DEFAULT_TEMPLATES`
 * - `build.ts` — `buildScenario`, the order things are created in
 * - `build-context.ts` — what the builders share (`make`, `strMap`, sizes)
 * - `networks.ts`, `hosts.ts`, `dom0.ts`, `storage.ts`, `templates.ts` — the objects of each kind
 * @module
 */
export { scenarioSchema, type Scenario, type ScenarioInput } from './scenario/schema.js';
export { ScenarioError, parseScenario, loadScenarioFile } from './scenario/parse.js';
export { DEFAULT_SCENARIO, DEFAULT_TEMPLATES } from './scenario/defaults.js';
export { buildScenario } from './scenario/build.js';
