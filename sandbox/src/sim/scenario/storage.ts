/**
 * Storage of a fresh install: per host "Local storage" (ext) and "DVD drives" (udev); pool-wide shared SRs and ISO
 * libraries plugged on every host; and the pool's default SR.
 */
import { NULL_REF } from '../wire-types.js';
import { GiB, MiB, strMap, type ScenarioBuild } from './build-context.js';
import type { ScenarioHost, ScenarioIsoStorage, ScenarioSr } from './schema.js';

/** Creates a host's local SR (unless its size is 0) and its DVD drive SR, each with a plugged PBD. */
export function createHostStorage(b: ScenarioBuild, host: string, h: ScenarioHost): void {
  if (h.localStorageGiB > 0) {
    const size = Math.round(h.localStorageGiB * GiB);
    const sr = b.make('SR', {
      name_label: 'Local storage',
      type: 'ext',
      content_type: 'user',
      shared: false,
      physical_size: size,
      physical_utilisation: 0,
      virtual_allocation: 0,
      other_config: strMap({
        'i18n-key': 'local-storage',
        'i18n-original-value-name_label': 'Local storage',
      }),
      sm_config: strMap({ devserial: `scsi-${h.name}` }),
    });
    b.make('PBD', { host, SR: sr, device_config: strMap({ device: '/dev/sda3' }), currently_attached: true });
  }
  const dvd = b.make('SR', {
    name_label: 'DVD drives',
    name_description: 'Physical DVD drives',
    type: 'udev',
    content_type: 'iso',
    shared: false,
    other_config: strMap({
      'i18n-key': 'local-hotplug-cd',
      'i18n-original-value-name_label': 'DVD drives',
    }),
    sm_config: strMap({ type: 'cd' }),
  });
  b.make('PBD', {
    host,
    SR: dvd,
    device_config: strMap({ location: '/dev/xapi/cd' }),
    currently_attached: true,
  });
}

/**
 * Creates the shared SRs, each plugged on every host. Returns the one marked `default` (the last such), else the
 * first, else NULL_REF.
 */
export function createSharedStorage(
  b: ScenarioBuild,
  srs: readonly ScenarioSr[],
  hosts: readonly string[],
): string {
  let defaultSr = NULL_REF;
  for (const s of srs) {
    const size = Math.round(s.sizeGiB * GiB);
    const sr = b.make('SR', {
      name_label: s.name,
      type: s.type,
      content_type: 'user',
      shared: true,
      physical_size: size,
      physical_utilisation: 0,
      virtual_allocation: 0,
      other_config: strMap({ auto_scan: 'true' }),
    });
    for (const host of hosts)
      b.make('PBD', { host, SR: sr, device_config: strMap(s.deviceConfig), currently_attached: true });
    if (s.default || defaultSr === NULL_REF) defaultSr = sr;
  }
  return defaultSr;
}

/** Creates the ISO libraries (NFS ISO SRs plugged on every host), each with a read-only VDI per ISO. */
export function createIsoStorage(
  b: ScenarioBuild,
  libraries: readonly ScenarioIsoStorage[],
  hosts: readonly string[],
): void {
  for (const iso of libraries) {
    const sr = b.make('SR', {
      name_label: iso.name,
      type: 'iso',
      content_type: 'iso',
      shared: true,
      physical_size: 100 * GiB,
      physical_utilisation: iso.isos.length * 700 * MiB,
      other_config: strMap({ auto_scan: 'true' }),
      sm_config: strMap({ iso_type: 'nfs_iso' }),
    });
    for (const host of hosts)
      b.make('PBD', {
        host,
        SR: sr,
        device_config: strMap({ location: iso.location, legacy_mode: 'true' }),
        currently_attached: true,
      });
    for (const name of iso.isos) {
      b.make('VDI', {
        name_label: name,
        SR: sr,
        virtual_size: 700 * MiB,
        physical_utilisation: 700 * MiB,
        type: 'user',
        read_only: true,
        sharable: false,
        managed: true,
        location: name,
      });
    }
  }
}

/**
 * Makes `sr` the pool's default, suspend-image and crash-dump SR; with no shared SR (NULL_REF), the "Local storage"
 * created first (of the first host that has one), if any.
 */
export function setDefaultSr(b: ScenarioBuild, pool: string, sr: string): void {
  const defaultSr =
    sr !== NULL_REF
      ? sr
      : (b.store.all('SR').find(([, r]) => r.name_label === 'Local storage')?.[0] ?? NULL_REF);
  b.store.update('pool', pool, {
    default_SR: defaultSr,
    suspend_image_SR: defaultSr,
    crash_dump_SR: defaultSr,
  });
}
