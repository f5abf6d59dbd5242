import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type ToolsLab } from './harness.js';
import { validate } from './validators.js';

let lab: ToolsLab;
beforeAll(async () => {
  lab = await startLab('ha');
});
afterAll(async () => {
  await lab.close();
});

const BASE = [
  'ha',
  '--nodes',
  'alpha=10.0.0.11,beta=10.0.0.12',
  '--vip',
  '10.0.0.50/24',
  '--disk',
  '/dev/vdb',
];

/** Element ids of a CIB's resources and constraints, to compare two CIBs. */
function ids(xml: string): string[] {
  return [...xml.matchAll(/<(primitive|clone|group|rsc_colocation|rsc_order|rsc_location) id="([^"]+)"/g)]
    .map((m) => `${m[1] ?? ''}:${m[2] ?? ''}`)
    .sort();
}

/** The CIB with both nodes online and quorum, as crm_verify would see it on a running cluster. */
function live(xml: string): string {
  return xml
    .replace('<cib ', '<cib have-quorum="1" dc-uuid="1" ')
    .replace(
      '<status/>',
      '<status><node_state id="1" uname="alpha" in_ccm="true" crmd="online" join="member" expected="member"/>' +
        '<node_state id="2" uname="beta" in_ccm="true" crmd="online" join="member" expected="member"/></status>',
    );
}

describe('ha', () => {
  it('writes a DRBD resource that drbdadm parses, with both nodes and Pacemaker fencing handlers', async () => {
    const out = join(lab.dir, 'plain');
    const r = await lab.run([...BASE, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: no --fence given, so stonith-enabled=false');
    const res = join(out, 'drbd/r0.res');
    const v = validate('drbdadm', ['-c', res, 'dump']);
    expect(v.code).toBe(0);
    expect(v.output).toContain('address          ipv4 10.0.0.12:7789;');
    expect(v.output).toContain('disk                 /dev/vdb;');
    expect(v.output).toContain('fence-peer       /usr/lib/drbd/crm-fence-peer.9.sh;');
  });

  it('--drbd 8.4 writes the form the mainline kernel’s DRBD 8.4 parses (fencing in disk, the 8.4 handlers, no node-id), and corosync.conf for two nodes', async () => {
    const out = join(lab.dir, 'v84');
    const r = await lab.run([...BASE, '--drbd', '8.4', '--token', '10000', '--out', out]);
    expect(r.code).toBe(0);
    const res = join(out, 'drbd/r0.res');
    // drbd-utils picks its 8.4 parser when the loaded module is 8.4; drbdadm-84 is that parser.
    const v = validate('/usr/lib/drbd/drbdadm-84', ['-c', res, 'dump']);
    expect(v.output).not.toMatch(/error/i);
    expect(v.code).toBe(0);
    expect(v.output).toMatch(/disk \{\n\s+fencing\s+resource-only;/);
    expect(v.output).toContain('fence-peer       /usr/lib/drbd/crm-fence-peer.sh;');
    expect(v.output).toContain('after-resync-target /usr/lib/drbd/crm-unfence-peer.sh;');
    // The DRBD 9 form is what 8.4 refuses: the reason this option exists.
    expect(
      validate('/usr/lib/drbd/drbdadm-84', ['-c', join(lab.dir, 'plain/drbd/r0.res'), 'dump']).code,
    ).not.toBe(0);
    const conf = readFileSync(join(out, 'corosync/corosync.conf'), 'utf8');
    expect(conf).toContain('  token: 10000\n');
    expect(conf).toMatch(/ring0_addr: 10\.0\.0\.11\n\s+name: alpha\n\s+nodeid: 1/);
    expect(conf).toMatch(/quorum \{\n\s+provider: corosync_votequorum\n\s+two_node: 1/);
  });

  it('drbdadm has teeth: a corrupted resource file fails', () => {
    const res = join(lab.dir, 'plain/drbd/r0.res');
    const bad = join(lab.dir, 'bad.res');
    writeFileSync(bad, readFileSync(res, 'utf8').replace('protocol C;', 'protocl C;'));
    expect(validate('drbdadm', ['-c', bad, 'dump']).code).not.toBe(0);
  });

  it('writes a CIB that crm_verify accepts: promotable DRBD, the NFS group on the promoted side, ordered after promotion', () => {
    const cib = join(lab.dir, 'plain/pacemaker/cib.xml');
    const v = validate('crm_verify', ['-x', cib]);
    expect(v.output).not.toMatch(/error/i);
    expect(v.code).toBe(0);
    const xml = readFileSync(cib, 'utf8');
    expect(xml).toContain(
      '<nvpair id="ms_drbd_r0-meta_attributes-promotable" name="promotable" value="true"/>',
    );
    expect(xml).toContain('with-rsc="ms_drbd_r0" with-rsc-role="Promoted"');
    expect(xml).toContain('first="ms_drbd_r0" first-action="promote" then="g_nfs" then-action="start"');
    expect(xml).toContain('name="stonith-enabled" value="false"');
    // The service stays where a failover put it (no move back, no second pause, when the old node returns).
    expect(xml).toMatch(
      /<rsc_defaults>\s*<meta_attributes id="rsc-options">\s*<nvpair [^>]*name="resource-stickiness" value="100"/,
    );
    // The group's order is the start order: the IP only once the export is there, and the clients' tickle (from the
    // IP's new owner, reading the connections recorded on the replicated disk) last.
    const group = xml.slice(xml.indexOf('<group id="g_nfs">'), xml.indexOf('</group>'));
    expect(
      [...group.matchAll(/<primitive id="[^"]+" class="ocf" provider="heartbeat" type="(\w+)"/g)].map(
        (m) => m[1],
      ),
    ).toEqual(['Filesystem', 'nfsserver', 'exportfs', 'IPaddr2', 'portblock']);
    expect(group).toContain('name="action" value="unblock"');
    expect(group).toContain('name="portno" value="2049"');
    expect(group).toMatch(
      /name="ip" value="10\.0\.0\.50"[\s\S]*name="tickle_dir" value="\/srv\/nfs\/tickle"/,
    );
    const bad = join(lab.dir, 'bad-cib.xml');
    writeFileSync(bad, xml.replace('with-rsc="ms_drbd_r0"', 'with-rsc="nope"'));
    expect(validate('crm_verify', ['-x', bad]).code).not.toBe(0);
  });

  it('writes a crm shell form that crmsh loads into an offline CIB equal to cib.xml, which crm_verify accepts', () => {
    const crm = join(lab.dir, 'plain/pacemaker/crm.txt');
    const scratch = join(lab.dir, 'crm-cib.xml');
    const empty = validate('cibadmin', ['--empty']);
    expect(empty.code).toBe(0);
    writeFileSync(scratch, empty.output);
    // crmsh edits a CIB file instead of a live cluster when CIB_file is set (crmsh manual, "shadow CIB").
    const load = validate('crm', ['configure', 'load', 'update', crm], { CIB_file: scratch });
    expect(load.code).toBe(0);
    const loaded = readFileSync(scratch, 'utf8');
    expect(ids(loaded)).toEqual(ids(readFileSync(join(lab.dir, 'plain/pacemaker/cib.xml'), 'utf8')));
    expect(loaded).toMatch(/<rsc_defaults>[\s\S]*name="resource-stickiness" value="100"/);
    expect(validate('crm_verify', ['-x', scratch]).code).toBe(0);
  });

  it('--nfsd everywhere leaves the NFS server out of the group (it runs on both nodes) and the CIB still verifies; a wrong value is refused', async () => {
    const out = join(lab.dir, 'everywhere');
    const r = await lab.run([...BASE, '--nfsd', 'everywhere', '--out', out]);
    expect(r.code).toBe(0);
    const xml = readFileSync(join(out, 'pacemaker/cib.xml'), 'utf8');
    const group = xml.slice(xml.indexOf('<group id="g_nfs">'), xml.indexOf('</group>'));
    expect(
      [...group.matchAll(/<primitive id="[^"]+" class="ocf" provider="heartbeat" type="(\w+)"/g)].map(
        (m) => m[1],
      ),
    ).toEqual(['Filesystem', 'exportfs', 'IPaddr2', 'portblock']);
    expect(xml).not.toContain('nfs_shared_infodir');
    expect(validate('crm_verify', ['-x', join(out, 'pacemaker/cib.xml')]).code).toBe(0);
    expect(readFileSync(join(out, 'pacemaker/crm.txt'), 'utf8')).toMatch(
      /^group g_nfs p_fs_nfs p_exportfs p_vip p_tickle$/m,
    );
    expect(readFileSync(join(out, 'pacemaker/pcs.sh'), 'utf8')).not.toContain('nfsserver');
    const bad = await lab.run([...BASE, '--nfsd', 'both', '--out', join(lab.dir, 'nfsd-bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--nfsd.*cluster.*everywhere/);
  });

  it('with --fence adds one fence_ipmilan device per node, kept off the node it fences, in owner-only files', async () => {
    const out = join(lab.dir, 'fenced');
    const pw = join(lab.dir, 'ipmi-pw');
    writeFileSync(pw, 's3cret\n');
    const r = await lab.run([
      ...BASE,
      '--fence',
      'alpha=10.0.1.11,beta=10.0.1.12',
      '--fence-user',
      'admin',
      '--fence-password-file',
      pw,
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const cib = join(out, 'pacemaker/cib.xml');
    expect(statSync(cib).mode & 0o777).toBe(0o600);
    const xml = readFileSync(cib, 'utf8');
    expect(xml).toContain('name="stonith-enabled" value="true"');
    expect(xml).toContain(
      '<rsc_location id="l_fence_alpha_avoids_alpha" rsc="fence_alpha" node="alpha" score="-INFINITY"/>',
    );
    const liveCib = join(lab.dir, 'live-cib.xml');
    writeFileSync(liveCib, live(xml));
    const v = validate('crm_verify', ['-x', liveCib]);
    expect(v.output).toBe('');
    expect(v.code).toBe(0);
    const pcs = readFileSync(join(out, 'pacemaker/pcs.sh'), 'utf8');
    expect(pcs).toContain(
      'pcs -f "$CIB" stonith create fence_beta fence_ipmilan ip=10.0.1.12 username=admin password=s3cret',
    );
    expect(pcs).toContain('pcs -f "$CIB" constraint colocation add g_nfs with Promoted ms_drbd_r0 INFINITY');
  });

  it('lists every inconsistency of the input at once and writes nothing', async () => {
    const out = join(lab.dir, 'never');
    const r = await lab.run([
      'ha',
      '--nodes',
      'alpha=10.0.0.11,alpha=10.0.0.11,gamma=x',
      '--vip',
      '10.0.0.255/24',
      '--device',
      '/dev/sdc',
      '--out',
      out,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'xenlab-tools ha: the HA pair is not consistent (6 problem(s)): [TOOLS_ERR_INPUT]',
        '  --nodes names 3 node(s); a DRBD pair has exactly 2',
        '  node gamma: "x" is not an IPv4 address',
        '  the two nodes have the same name',
        '  the two nodes have the same address',
        '  --vip 10.0.0.255/24 is the network or broadcast address of its subnet',
        '  --device "/dev/sdc" must be /dev/drbdN',
        '',
      ].join('\n'),
    );
  });
});
