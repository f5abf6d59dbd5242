/**
 * Networking of a fresh install: one pool-wide network per NIC name ("Pool-wide network associated with ethN",
 * ocaml/xapi/helpers.ml), the host internal management network, and each host's physical PIFs on them.
 */
import { macFrom } from '../random.js';
import { strMap, type ScenarioBuild } from './build-context.js';
import type { ScenarioHost } from './schema.js';

/**
 * Creates the pool-wide networks for every NIC name any host has (eth0, eth1, … in numeric order), then the host
 * internal management network. Returns the network ref of each NIC name.
 */
export function createNetworks(b: ScenarioBuild, hosts: readonly ScenarioHost[]): Map<string, string> {
  const nicNames = [...new Set(hosts.flatMap((h) => h.nics))].sort(
    (x, y) => Number(x.slice(3)) - Number(y.slice(3)),
  );
  const networks = new Map<string, string>();
  for (const nic of nicNames) {
    networks.set(
      nic,
      b.make('network', {
        name_label: `Pool-wide network associated with ${nic}`,
        bridge: `xenbr${nic.slice(3)}`,
        MTU: 1500,
        managed: true,
        other_config: strMap({ automatic: 'true' }),
        purpose: [],
      }),
    );
  }
  b.make('network', {
    name_label: 'Host internal management network',
    name_description:
      'Network on which guests will be assigned a private link-local IP address which can be used to talk XenAPI',
    bridge: 'xenapi',
    MTU: 1500,
    managed: true,
    other_config: strMap({
      is_guest_installer_network: 'true',
      is_host_internal_management_network: 'true',
      ip_begin: '169.254.0.1',
      ip_end: '169.254.255.254',
      netmask: '255.255.0.0',
    }),
  });
  return networks;
}

/** Creates a host's physical PIFs (with metrics), one per NIC; the first is the management interface (DHCP). */
export function createHostPifs(
  b: ScenarioBuild,
  host: string,
  h: ScenarioHost,
  address: string,
  networks: ReadonlyMap<string, string>,
): void {
  h.nics.forEach((nic, i) => {
    const management = i === 0;
    const pifMetrics = b.make('PIF_metrics', {
      carrier: true,
      vendor_id: '8086',
      vendor_name: 'Intel Corporation',
      device_id: '1533',
      device_name: 'I210 Gigabit Network Connection',
      speed: 1000,
      duplex: true,
      pci_bus_path: `0000:0${i + 1}:00.0`,
      last_updated: b.now,
    });
    b.make('PIF', {
      device: nic,
      host,
      network: networks.get(nic),
      MAC: macFrom(b.random),
      MTU: 1500,
      VLAN: -1,
      physical: true,
      currently_attached: true,
      management,
      ip_configuration_mode: management ? 'DHCP' : 'None',
      IP: management ? address : '',
      netmask: management ? '255.255.255.0' : '',
      gateway: management ? '10.0.0.1' : '',
      DNS: management ? '10.0.0.1' : '',
      metrics: pifMetrics,
      managed: true,
      primary_address_type: 'IPv4',
      ipv6_configuration_mode: 'None',
      properties: strMap({ gro: 'on' }),
      capabilities: ['fcoe'],
      other_config: strMap({}),
    });
  });
}
