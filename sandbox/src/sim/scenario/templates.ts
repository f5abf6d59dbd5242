/**
 * The default templates: halted HVM template VMs whose `other_config.disks` holds the provision XML that
 * `VM.provision` reads (ocaml/xapi/xapi_templates.ml).
 */
import { GiB, MiB, strMap, type ScenarioBuild } from './build-context.js';
import { DEFAULT_TEMPLATES } from './defaults.js';
import { templateSchema, type Scenario, type ScenarioTemplate } from './schema.js';

/** `other_config` of a template: install methods, distro, and the system disk's provision XML. */
function templateOtherConfig(t: ScenarioTemplate): Record<string, string> {
  const other: Record<string, string> = {
    default_template: 'true',
    'install-methods': t.linux ? 'cdrom,nfs,http,ftp' : 'cdrom',
    mac_seed: '',
    base_template_name: t.name,
  };
  if (t.linux) other.linux_template = 'true';
  if (t.distro) other['install-distro'] = t.distro;
  if (t.diskGiB > 0)
    // Provision XML read by VM.provision (ocaml/xapi/xapi_templates.ml); sr="" means "the default SR".
    other.disks = `<provision><disk device="0" size="${Math.round(t.diskGiB * GiB)}" sr="" bootable="true" type="system"/></provision>`;
  return other;
}

/** Creates template VM number `order`. */
function createTemplate(b: ScenarioBuild, t: ScenarioTemplate, order: number): void {
  const mem = t.memoryMiB * MiB;
  b.make('VM', {
    name_label: t.name,
    name_description: t.description,
    is_a_template: true,
    is_default_template: true,
    power_state: 'Halted',
    domid: -1,
    domain_type: 'hvm',
    memory_static_max: mem,
    memory_dynamic_max: mem,
    memory_dynamic_min: mem,
    memory_static_min: Math.min(mem, 512 * MiB),
    memory_target: 0,
    VCPUs_max: t.vcpus,
    VCPUs_at_startup: t.vcpus,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    HVM_boot_policy: 'BIOS order',
    HVM_boot_params: strMap({ order: 'cdn' }),
    platform: strMap({
      viridian: t.linux ? 'false' : 'true',
      acpi: '1',
      apic: 'true',
      pae: 'true',
      nx: 'true',
      'device-model': 'qemu-upstream-compat',
    }),
    other_config: strMap(templateOtherConfig(t)),
    user_version: 1,
    reference_label: t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
    order,
  });
}

/** Creates the scenario's templates, or {@link DEFAULT_TEMPLATES} when it names none. */
export function createTemplates(b: ScenarioBuild, scenario: Scenario): void {
  const templates = scenario.templates ?? DEFAULT_TEMPLATES.map((t) => templateSchema.parse(t));
  templates.forEach((t, i) => {
    createTemplate(b, t, i);
  });
}
