/**
 * What a simulated guest's agent reports as `VM_guest_metrics.os_version`. xapi copies the agent's xenstore keys
 * `data/os_name`, `data/os_distro`, `data/os_majorver`, `data/os_minorver`, `data/os_uname` (and `attr/os/spmajor`,
 * `attr/os/spminor` from Windows tools) into the map keys `name`, `distro`, `major`, `minor`, `uname`, `spmajor`,
 * `spminor` (ocaml/xapi/xapi_guest_agent.ml `os_version`).
 *
 * The guest's OS is the template it came from (`other_config:base_template_name`, which clones keep). For Linux the
 * values are what xe-guest-utilities' `xe-linux-distribution` writes (xenserver/xe-guest-utilities
 * mk/xe-linux-distribution), for the point release current when this table was written [est]:
 * - Debian and Ubuntu through `lsb_release`: name its description, distro its id in lower case, major the release's
 *   first number and minor what its awk takes after the first dot — the whole release when there is none, so
 *   Debian 12 reports minor "12";
 * - Rocky Linux through `identify_redhat` on /etc/rocky-release (name its first line);
 * - Alpine through /etc/os-release (name PRETTY_NAME, distro ID, major.minor from VERSION_ID).
 * Windows tools write the product name, system folder and boot partition joined by `|`, and service-pack numbers.
 * A template the table does not know (e.g. "Other install media") gives an empty map: the simulator cannot know
 * what was installed.
 */
import type { SimRecord } from '../contract.js';
import { map } from './util.js';

const GUEST_OS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'Debian Bookworm 12': {
    name: 'Debian GNU/Linux 12 (bookworm)',
    uname: '6.1.0-27-amd64',
    distro: 'debian',
    major: '12',
    minor: '12',
  },
  'Debian Bullseye 11': {
    name: 'Debian GNU/Linux 11 (bullseye)',
    uname: '5.10.0-33-amd64',
    distro: 'debian',
    major: '11',
    minor: '11',
  },
  'Ubuntu Jammy Jellyfish 22.04': {
    name: 'Ubuntu 22.04.5 LTS',
    uname: '5.15.0-125-generic',
    distro: 'ubuntu',
    major: '22',
    minor: '04',
  },
  'Rocky Linux 9': {
    name: 'Rocky Linux release 9.5 (Blue Onyx)',
    uname: '5.14.0-503.14.1.el9_5.x86_64',
    distro: 'rocky',
    major: '9',
    minor: '5',
  },
  'Alpine Linux 3.20': {
    name: 'Alpine Linux v3.20',
    uname: '6.6.58-0-virt',
    distro: 'alpine',
    major: '3',
    minor: '20',
  },
  'Windows Server 2022 (64-bit)': {
    name: 'Microsoft Windows Server 2022 Standard|C:\\Windows|\\Device\\Harddisk0\\Partition2',
    distro: 'windows',
    major: '10',
    minor: '0',
    spmajor: '0',
    spminor: '0',
  },
};

/** The `os_version` map the guest agent of a VM made from this record's template reports (a fresh copy). */
export function guestOsVersion(vm: Readonly<SimRecord>): Record<string, string> {
  const template = map(vm, 'other_config').base_template_name ?? '';
  const known = Object.hasOwn(GUEST_OS, template) ? GUEST_OS[template] : undefined;
  return { ...(known ?? {}) };
}
