/**
 * Every error path of `xe`, with the exact text and exit code the real CLI gives (xapi_cli.ml exception_handler,
 * cli_util.ml server_error, newcli.ml): stderr, exit 1, the datamodel's sentence and parameter lines.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ERRORS } from '../../../toolkit/src/xenapi/index.js';
import { startXe, type XeHarness } from './harness.js';

let h: XeHarness;
beforeAll(async () => {
  h = await startXe();
});
afterAll(async () => {
  await h.close();
});

const HINT = "For usage run: 'xe help'\n";

describe('xe errors', () => {
  test('an unknown command names it and points at help', async () => {
    expect(await h.xe('vm-frobnicate')).toEqual({
      code: 1,
      stdout: '',
      stderr: `Unknown command: vm-frobnicate\n${HINT}`,
    });
  });

  test('a missing required parameter names the parameter', async () => {
    expect(await h.xe('vm-clone', 'vm=x')).toEqual({
      code: 1,
      stdout: '',
      stderr: `Required parameter not found: new-name-label\n${HINT}`,
    });
    expect((await h.xe('vm-param-get', 'uuid=x')).stderr).toBe(
      `Required parameter not found: param-name\n${HINT}`,
    );
  });

  test('a command line without a command name is a syntax error', async () => {
    expect(await h.xe('name-label=x')).toEqual({ code: 1, stdout: '', stderr: `Syntax error: \n${HINT}` });
    expect((await h.xe('vm-list', '-z', 'q')).stderr).toBe(`Syntax error: \n${HINT}`);
  });

  test('filtering on a field the class does not have fails with "Unknown field"', async () => {
    expect(await h.xe('vm-list', 'colour=blue')).toEqual({
      code: 1,
      stdout: '',
      stderr: "Error: Unknown field 'colour'\n",
    });
    expect((await h.xe('vm-start', 'colour=blue')).stderr).toBe("Error: Unknown field 'colour'\n");
    // Filters apply to what is left: nothing left, nothing to complain about (as the real CLI).
    expect((await h.xe('vm-start', 'vm=x', 'colour=blue')).stderr).toBe('Error: No matching VMs found\n');
    expect((await h.xe('vm-list', 'tags:has=x')).stderr).toBe(
      'Error: Invalid syntax for set filtering (should be set-param:contains=key)\n',
    );
  });

  test('selectors matching nothing or several VMs', async () => {
    expect((await h.xe('vm-shutdown', 'vm=nope')).stderr).toBe('Error: No matching VMs found\n');
    // All three control domains are running but excluded; templates are excluded: make two halted VMs.
    await h.ok('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=twin');
    await h.ok('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=twin');
    expect(await h.xe('vm-start', 'name-label=twin')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: Multiple matches VMs found. --multiple required to complete the operation\n',
    });
    expect((await h.xe('vm-copy', 'vm=twin', 'new-name-label=x')).stderr).toBe(
      'Error: Multiple matches VMs found. Operation can only be performed on one VM at a time\n',
    );
    expect((await h.xe('host-evacuate')).stderr).toBe(
      'Error: Multiple matching hosts found. Operation can only be performed on one host at a time\n',
    );
    expect((await h.xe('host-disable', 'host=nope')).stderr).toBe('Error: No matching hosts found\n');
  });

  test('--multiple runs on every match and lists each failure on stdout', async () => {
    await h.ok('vm-start', 'name-label=twin', '--multiple');
    expect(await h.ok('vm-list', 'name-label=twin', 'params=power-state', '--minimal')).toBe(
      'running,running\n',
    );
    const r = await h.xe('vm-start', 'name-label=twin', '--multiple');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^operation failed on [0-9a-f-]{36}: You attempted an operation on a VM that was not/,
    );
    expect(r.stdout).toContain('expected: halted\nactual: running\n');
    expect(r.stdout.match(/operation failed on/g)).toHaveLength(2);
    await h.ok('vm-shutdown', 'name-label=twin', '--multiple', '--force');
  });

  test('an API error prints the datamodel sentence and one line per parameter, refs as "uuid (name)"', async () => {
    const uuid = (await h.ok('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=solo')).trim();
    await h.ok('vm-start', 'vm=solo');
    expect(await h.xe('vm-start', 'vm=solo')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        "You attempted an operation on a VM that was not in an appropriate power state at the time; for example, you attempted to start a VM that was already running. The parameters returned are the VM's handle, and the expected and actual VM state at the time of the call.\n" +
        `vm: ${uuid} (solo)\nexpected: halted\nactual: running\n`,
    });
  });

  test('a bad uuid is UUID_INVALID with the class', async () => {
    expect(await h.xe('vm-param-list', 'uuid=not-a-uuid')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'The uuid you supplied was invalid.\ntype: VM\nuuid: not-a-uuid\n',
    });
  });

  test('param-get of a field the record lacks, a missing map key, a read-only field', async () => {
    const vm = (await h.ok('vm-list', 'name-label=solo', 'params=uuid', '--minimal')).trim();
    expect(await h.xe('vm-param-get', `uuid=${vm}`, 'param-name=colour')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error code: Missing parameter\nError parameters: colour\n',
    });
    expect(
      (await h.xe('vm-param-get', `uuid=${vm}`, 'param-name=other-config', 'param-key=nokey')).stderr,
    ).toBe('Error: Key nokey not found in map\n');
    expect((await h.xe('vm-param-set', `uuid=${vm}`, 'power-state=halted')).stderr).toBe(
      "Error: Field 'power-state' is read-only.\n",
    );
    expect((await h.xe('vm-param-set', `uuid=${vm}`, 'other-config=x')).stderr).toBe(
      "Error: Field 'other-config' is a map or set. use the 'name:key=value' syntax.\n",
    );
    expect((await h.xe('vm-param-set', `uuid=${vm}`, 'tags:x=y')).stderr).toBe(
      'Error: Cannot param-set on set fields\n',
    );
    expect((await h.xe('vm-param-set', `uuid=${vm}`, 'is-a-template=maybe')).stderr).toBe(
      "Error: Failed to parse parameter 'is-a-template': expecting a boolean (true or false)\n",
    );
    expect((await h.xe('vm-param-remove', `uuid=${vm}`, 'param-name=tags', 'param-key=nope')).stderr).toBe(
      'Error: Key nope is not in the set\n',
    );
    expect((await h.xe('vm-param-add', `uuid=${vm}`, 'param-name=tags')).stderr).toBe(
      'Error: When adding a key to a set, use the syntax: *-param-add param-name=<name> param-key=<key>\n',
    );
    expect((await h.xe('vm-param-add', `uuid=${vm}`, 'param-name=name-label', 'param-key=x')).stderr).toBe(
      'Error: Can only add to parameters of type Set or Map\n',
    );
  });

  test('bad values of command parameters', async () => {
    expect((await h.xe('vm-start', 'vm=solo', 'force=perhaps')).stderr).toBe(
      "Error: Failed to parse parameter 'force': Expected 'true','t','yes','y','1','false','f','no','n','0' got perhaps\n",
    );
    expect((await h.xe('bond-create', 'network-uuid=x', 'pif-uuids=y', 'mode=round-robin')).stderr).toBe(
      'The uuid you supplied was invalid.\ntype: network\nuuid: x\n',
    );
    expect((await h.xe('vm-install', 'template=No Such Template', 'new-name-label=x')).stderr).toBe(
      'Error: No templates matched\n',
    );
    expect((await h.xe('vm-install', 'new-name-label=x')).stderr).toBe(
      "Error: Template must be specified by parameter 'template-uuid', 'template-name', 'template-name-label' or 'template'\n",
    );
    expect((await h.xe('vdi-create', 'sr-uuid=x', 'name-label=d', 'virtual-size=lots')).stderr).toBe(
      'The uuid you supplied was invalid.\ntype: SR\nuuid: x\n',
    );
  });

  test('an error code the datamodel does not know prints code and parameters', async () => {
    // Backend errors (SR_BACKEND_FAILURE_<n>) are not in the datamodel's table: the real CLI falls back to this.
    const { serverErrorLines } = await import('../../../toolkit/src/xe/errors.js');
    expect(serverErrorLines('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', ''])).toEqual([
      'Error code: SR_BACKEND_FAILURE_44',
      'Error parameters: , There is insufficient space, ',
    ]);
    expect(serverErrorLines('VM_BAD_POWER_STATE', ['a'])).toEqual([
      expect.stringContaining('You attempted an operation on a VM'),
      'vm: a',
      'expected: <unknown>',
      'actual: <unknown>',
    ]);
    expect(serverErrorLines('HA_IS_ENABLED', ['x'])).toEqual([
      'The operation could not be performed because HA is enabled on the Pool',
      '<extra>: x',
    ]);
  });

  test('destroying a control domain is refused with the real sentence', async () => {
    const dom0 =
      (await h.ok('vm-list', 'is-control-domain=true', 'params=uuid', '--minimal')).split(',')[0] ?? '';
    expect(await h.xe('vm-destroy', `uuid=${dom0.trim()}`)).toEqual({
      code: 1,
      stdout: '',
      stderr: `${ERRORS.OPERATION_NOT_ALLOWED?.doc ?? ''}\nreason: You cannot destroy a control domain via the CLI\n`,
    });
  });

  test('a wrong password, an empty user name, an unreachable server', async () => {
    const port = h.port;
    const wrong = await h.xe('-pw', 'wrong', 'vm-list');
    expect(wrong).toEqual({ code: 1, stdout: '', stderr: `Authentication failed\n${HINT}` });
    expect(await h.xe('-u', '', 'vm-list')).toEqual({
      code: 1,
      stdout: '',
      stderr: `Username/password must be specified\n${HINT}`,
    });
    const closed = await h.xe('-p', '1', 'vm-list');
    expect(closed).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Unable to contact server. Please check server and port settings.\n',
    });
    expect(port).not.toBe('1');
  });

  test('a bad port prints the usage (exit 0, as newcli does)', async () => {
    const r = await h.xe('-p', 'eighty', 'vm-list');
    expect(r.code).toBe(0);
    expect(r.stderr.startsWith('Port number must be an integer (0-65535)\nUsage:\n  xe <command>\n')).toBe(
      true,
    );
  });
});

describe('a VM that can start nowhere', () => {
  test('vm-start explains per host why, then fails with NO_HOSTS_AVAILABLE', async () => {
    const vm = (await h.ok('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=homeless')).trim();
    await h.ok('host-disable', '--multiple');
    try {
      const r = await h.xe('vm-start', `uuid=${vm}`);
      const why = "Cannot start here [Host disabled (use 'xe host-enable' to re-enable)]";
      expect(r).toEqual({
        code: 1,
        stdout:
          'There are no suitable hosts to start this VM on.\n' +
          'The following table provides per-host reasons for why the VM could not be started:\n\n' +
          `xcp-ng-01    : ${why}\n    xcp-ng-02: ${why}\n    xcp-ng-03: ${why}\n\n\n`,
        stderr: `${ERRORS.NO_HOSTS_AVAILABLE?.doc ?? ''}\n`,
      });
    } finally {
      await h.ok('host-enable', '--multiple');
    }
  });
});
