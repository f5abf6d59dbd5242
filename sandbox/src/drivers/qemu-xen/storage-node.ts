/**
 * A storage node (node `image: storage`): the QEMU command line that boots sandbox/images/storage/ — Debian's
 * kernel straight from QEMU (no Xen), the image's root disk read-only as /dev/vda, the node's data disk as /dev/vdb,
 * its console on the serial line, QMP, and the exec agent on the same virtio-serial port as dom0's (the same
 * agent.py), so {@link AgentClient} and the console code work unchanged. The caller (the environment's network)
 * adds the NICs.
 * @module
 */
import { join } from 'node:path';
import type { StorageImage } from './image.js';
import { AGENT_PORT, HOSTNAME_RE, type Accel } from './vm.js';
import { XenlabError } from '../../errors/index.js';

/** Memory of a storage node when the lab gives none: corosync, Pacemaker, DRBD and nfsd fit with room to spare. */
export const STORAGE_NODE_MEMORY_MB = 384;

/** Everything that decides a storage node's QEMU command line. */
export interface StorageNodeConfig {
  readonly image: StorageImage;
  /** Folder for this VM's sockets (console.sock, qmp.sock, agent.sock); keep it short. */
  readonly runDir: string;
  readonly accel: Accel;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /** uname -n: the name DRBD and corosync know the node by. */
  readonly hostname: string;
  /** eth0's address with its prefix, e.g. `10.13.0.11/24` (the environment's private network). */
  readonly address?: string;
  /** /etc/hosts lines for the other machines of the environment. */
  readonly hosts?: readonly { readonly name: string; readonly address: string }[];
  /**
   * Boot as a template (`xenlab.template=1`): /init stops before taking an identity (no name, address or mounted
   * `state` disk), so the machine can be saved and loaded for any node of its shape (warm.ts).
   */
  readonly template?: boolean;
  /** The node's data disk (a file; raw unless it ends in .qcow2): /dev/vdb, the disk DRBD replicates. */
  readonly dataDisk?: string;
  /** NIC arguments (-netdev …, -device virtio-net-pci,…), in the order eth0, eth1. */
  readonly nicArgs?: readonly string[];
}

const IPV4_CIDR_RE = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
const IPV4_RE = /^(\d{1,3}\.){3}\d{1,3}$/;

/** The kernel command line /init reads (sandbox/images/storage/node/init documents each option). */
export function storageKernelCommandLine(cfg: StorageNodeConfig): string {
  if (!HOSTNAME_RE.test(cfg.hostname))
    throw new XenlabError('SANDBOX_ERR_BAD_HOSTNAME', `'${cfg.hostname}' is not a hostname`);
  if (cfg.address !== undefined && !IPV4_CIDR_RE.test(cfg.address))
    throw new XenlabError('SANDBOX_ERR_BAD_NODE', `'${cfg.address}' is not an address with a prefix`);
  const parts = [
    'console=ttyS0,115200',
    'quiet',
    'panic=-1',
    'no_timer_check',
    `xenlab.hostname=${cfg.hostname}`,
  ];
  if (cfg.template === true) parts.push('xenlab.template=1');
  if (cfg.address !== undefined) parts.push(`xenlab.ip=${cfg.address}`);
  for (const h of cfg.hosts ?? []) {
    if (!HOSTNAME_RE.test(h.name) || !IPV4_RE.test(h.address))
      throw new XenlabError('SANDBOX_ERR_BAD_NODE', `bad hosts entry ${h.name}@${h.address}`);
    parts.push(`xenlab.host=${h.name}@${h.address}`);
  }
  return parts.join(' ');
}

/** The QEMU command line of a storage node (without -incoming). */
export function storageQemuArgs(cfg: StorageNodeConfig): string[] {
  const sock = (name: string) => join(cfg.runDir, name);
  const args = [
    '-name',
    'xenlab-storage',
    '-machine',
    'q35',
    '-accel',
    cfg.accel,
    '-cpu',
    cfg.accel === 'tcg' ? 'max' : 'host',
    '-m',
    String(cfg.memoryMb ?? STORAGE_NODE_MEMORY_MB),
    '-smp',
    String(cfg.cpus ?? 1),
    '-nodefaults',
    '-display',
    'none',
    '-no-reboot',
    '-chardev',
    `socket,id=con,path=${sock('console.sock')},server=on,wait=off`,
    '-serial',
    'chardev:con',
    '-chardev',
    `socket,id=qmp,path=${sock('qmp.sock')},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    '-device',
    'virtio-serial-pci,id=vser',
    '-chardev',
    `socket,id=agent,path=${sock('agent.sock')},server=on,wait=off`,
    '-device',
    `virtserialport,bus=vser.0,chardev=agent,name=${AGENT_PORT}`,
    // The image's root: read-only (the node writes to a tmpfs overlay), so one file serves every node.
    '-drive',
    `file=${cfg.image.rootDisk},if=none,id=root,format=raw,readonly=on`,
    '-device',
    'virtio-blk-pci,drive=root',
  ];
  if (cfg.dataDisk !== undefined) {
    const format = cfg.dataDisk.endsWith('.qcow2') ? 'qcow2' : 'raw';
    // cache=none would need O_DIRECT on the host's filesystem; writeback is what a power cut of the VM survives
    // (QEMU's process dies with the VM, the host's page cache keeps what it wrote).
    args.push(
      '-drive',
      `file=${cfg.dataDisk},if=none,id=data,format=${format},cache=writeback`,
      '-device',
      'virtio-blk-pci,drive=data',
    );
  }
  args.push(...(cfg.nicArgs ?? []));
  args.push(
    '-kernel',
    cfg.image.vmlinuz,
    '-initrd',
    cfg.image.diskInit,
    '-append',
    storageKernelCommandLine(cfg),
  );
  return args;
}
