import { describe, expect, it } from 'vitest';
import { codeOf, isErrorCode, isXenlabError, tableCodeOf, XenlabError } from './index.js';

describe('XenlabError', () => {
  it('carries its code and starts its message with it', () => {
    const err = new XenlabError('SANDBOX_ERR_NO_NODE', "environment e-1 has no node 'web'");
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('SANDBOX_ERR_NO_NODE');
    expect(err.message).toBe("SANDBOX_ERR_NO_NODE: environment e-1 has no node 'web'");
    expect(err.name).toBe('XenlabError');
  });

  it('keeps the message bare when asked, with cause and details', () => {
    const cause = new Error('disk I/O error');
    const err = new XenlabError('STORE_ERR_CORRUPT', 'the database is corrupt', {
      codeInMessage: false,
      cause,
      details: { path: '/x.db' },
    });
    expect(err.message).toBe('the database is corrupt');
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({ path: '/x.db' });
  });

  it('names subclasses by their class', () => {
    class QemuSaveError extends XenlabError {}
    const err = new QemuSaveError('QEMU_ERR_SAVE', 'saving the VM took too long');
    expect(err.name).toBe('QemuSaveError');
    expect(isXenlabError(err, 'QEMU_ERR_SAVE')).toBe(true);
    expect(isXenlabError(err, 'QEMU_ERR_EXITED')).toBe(false);
    expect(isXenlabError(new Error('QEMU_ERR_SAVE: x'))).toBe(false);
  });
});

describe('codeOf', () => {
  it('reads the code of a XenlabError, a Node error or a coded message', () => {
    expect(codeOf(new XenlabError('AGENT_ERR_CLOSED', 'the VM went away'))).toBe('AGENT_ERR_CLOSED');
    expect(codeOf(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBe('ENOENT');
    expect(codeOf(new Error('SIM_ERR_WORKER_DIED: the simulator worker died'))).toBe('SIM_ERR_WORKER_DIED');
    expect(codeOf(new Error('plain'))).toBeUndefined();
    expect(codeOf('a string')).toBeUndefined();
    expect(codeOf(null)).toBeUndefined();
  });

  it('tells codes of the table from others', () => {
    expect(isErrorCode('LAB_ERR_NOT_FOUND')).toBe(true);
    expect(isErrorCode('ENOENT')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(tableCodeOf(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBeUndefined();
    expect(tableCodeOf(new Error('LAB_ERR_EXISTS: taken'))).toBe('LAB_ERR_EXISTS');
  });
});
