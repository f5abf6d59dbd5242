/** The control domain of each host: "Control domain on host: <hostname>" (toolkit/src/xenapi/NOTES.md §7), running, domid 0. */
import { GiB, strMap, type ScenarioBuild } from './build-context.js';
import type { ScenarioHost } from './schema.js';

/** Memory of every dom0 (and so what a host's metrics count as used from the start). */
export const DOM0_MEMORY = 4 * GiB;

/** Creates a host's dom0 (with its metrics); returns the VM ref. */
export function createDom0(b: ScenarioBuild, host: string, h: ScenarioHost): string {
  const vcpus = Math.min(h.cpus, 8);
  const metrics = b.make('VM_metrics', {
    memory_actual: DOM0_MEMORY,
    VCPUs_number: vcpus,
    state: [],
    start_time: b.now,
    install_time: b.now,
    last_updated: b.now,
    current_domain_type: 'pv',
  });
  return b.make('VM', {
    name_label: `Control domain on host: ${h.name}`,
    name_description: 'The domain which manages physical devices and manages other domains',
    power_state: 'Running',
    is_control_domain: true,
    resident_on: host,
    affinity: host,
    domid: 0,
    domain_type: 'pv',
    memory_static_max: DOM0_MEMORY,
    memory_dynamic_max: DOM0_MEMORY,
    memory_dynamic_min: DOM0_MEMORY,
    memory_static_min: DOM0_MEMORY,
    memory_target: DOM0_MEMORY,
    VCPUs_max: vcpus,
    VCPUs_at_startup: vcpus,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    metrics,
    other_config: strMap({ storage_driver_domain: '', is_system_domain: 'true' }),
    user_version: 1,
  });
}
