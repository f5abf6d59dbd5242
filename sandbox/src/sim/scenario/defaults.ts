/** The built-in pool and the XCP-ng 8.3-like template list used when a scenario names none. */
import type { ScenarioInput, ScenarioTemplateInput } from './schema.js';

/** XCP-ng 8.3-like default templates (names as XCP-ng ships them). */
export const DEFAULT_TEMPLATES: readonly ScenarioTemplateInput[] = [
  {
    name: 'Debian Bookworm 12',
    description: 'Template that allows VM installation from Xen-aware Debian-based distros.',
    distro: 'debianlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Debian Bullseye 11',
    description: 'Template that allows VM installation from Xen-aware Debian-based distros.',
    distro: 'debianlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Ubuntu Jammy Jellyfish 22.04',
    description: 'Template that allows VM installation from Xen-aware Debian-based distros.',
    distro: 'debianlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Rocky Linux 9',
    description: 'Template that allows VM installation from Xen-aware EL-based distros.',
    distro: 'rhlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Alpine Linux 3.20',
    description: 'Template that allows VM installation from Xen-aware Alpine distros.',
    distro: 'alpine',
    memoryMiB: 1024,
    vcpus: 1,
    diskGiB: 8,
  },
  {
    name: 'Windows Server 2022 (64-bit)',
    description:
      'Clones of this template will automatically provision their storage when first booted and then reconfigure themselves with the optimal settings for Windows Server 2022 (64-bit).',
    linux: false,
    memoryMiB: 4096,
    vcpus: 2,
    diskGiB: 32,
  },
  {
    name: 'Other install media',
    description: 'Template which allows VM installation from install media',
    linux: false,
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
];

/**
 * The built-in default: pool "xenlab" of three hosts (8 CPUs, 32 GiB, eth0 management + eth1), local storage per
 * host, a shared NFS SR as the default SR, an ISO library, and the default templates. Exported so tests and labs can
 * copy and tweak it.
 */
export const DEFAULT_SCENARIO: ScenarioInput = {
  pool: { name: 'xenlab' },
  seed: 'xenlab',
  hosts: [
    { name: 'xcp-ng-01', cpus: 8, memoryGiB: 32, nics: ['eth0', 'eth1'] },
    { name: 'xcp-ng-02', cpus: 8, memoryGiB: 32, nics: ['eth0', 'eth1'] },
    { name: 'xcp-ng-03', cpus: 8, memoryGiB: 32, nics: ['eth0', 'eth1'] },
  ],
  sharedStorage: [
    {
      name: 'NFS storage',
      type: 'nfs',
      sizeGiB: 2048,
      deviceConfig: { server: '10.0.0.5', serverpath: '/srv/nfs/xenlab', nfsversion: '4.1' },
      default: true,
    },
  ],
  isoStorage: [
    {
      name: 'ISO library',
      location: '10.0.0.5:/srv/iso',
      isos: [
        'debian-12.8.0-amd64-netinst.iso',
        'ubuntu-22.04.5-live-server-amd64.iso',
        'Rocky-9.5-x86_64-minimal.iso',
      ],
    },
  ],
};
