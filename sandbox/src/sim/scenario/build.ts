/**
 * `buildScenario`: a validated scenario into store objects shaped like a fresh XCP-ng 8.3 install (toolkit/src/xenapi/NOTES.md §2, §7), in
 * a fixed order: the pool, its networks, each host with what belongs to it, shared and ISO storage, the default SR,
 * then the templates.
 */
import type { SimStore } from '../contract.js';
import { NULL_REF } from '../wire-types.js';
import { startBuild, strMap, type ScenarioBuild } from './build-context.js';
import { createHost } from './hosts.js';
import { createNetworks } from './networks.js';
import type { Scenario } from './schema.js';
import { createIsoStorage, createSharedStorage, setDefaultSr } from './storage.js';
import { createTemplates } from './templates.js';

/** Creates the pool object (its master and default SR are set once they exist). */
function createPool(b: ScenarioBuild, scenario: Scenario): string {
  return b.make('pool', {
    name_label: scenario.pool.name,
    other_config: strMap({ memory_ratio_hvm: '0.25', memory_ratio_pv: '0.25' }),
    cpu_info: strMap({
      cpu_count: String(scenario.hosts.reduce((n, h) => n + h.cpus, 0)),
      socket_count: String(scenario.hosts.length),
      vendor: 'GenuineIntel',
    }),
  });
}

/**
 * Creates the scenario's objects in an (empty) store. `random` drives MACs; uuids come from the store's source.
 * Returns the refs of everything created, so the caller can run behaviour `afterChange` hooks on them.
 */
export function buildScenario(
  store: SimStore,
  scenario: Scenario,
  random: () => number,
  now: Date,
): [string, string][] {
  const { build: b, created } = startBuild(store, random, now);
  const pool = createPool(b, scenario);
  const networks = createNetworks(b, scenario.hosts);
  const hosts = scenario.hosts.map((h, index) => createHost(b, h, index, networks));
  store.update('pool', pool, { master: hosts[0] ?? NULL_REF });
  const sharedDefault = createSharedStorage(b, scenario.sharedStorage, hosts);
  createIsoStorage(b, scenario.isoStorage, hosts);
  setDefaultSr(b, pool, sharedDefault);
  createTemplates(b, scenario);
  return created;
}
