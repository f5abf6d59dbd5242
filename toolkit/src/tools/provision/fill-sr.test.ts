import { describe, expect, it } from 'vitest';
import { fillEmptySrAttributes } from './index.js';

const SR = '0b7a8f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';

describe('provision fills in the default SR as xe vm-install does', () => {
  it('names the SR where a template disk leaves sr empty, in either quote style', () => {
    const xml = `<provision><disk device="0" size="10737418240" sr="" bootable="true" type="system"/><disk device='1' size='1' sr='' type='system'/></provision>`;
    const out = fillEmptySrAttributes(xml, SR);
    expect(out.match(new RegExp(`sr="${SR}"`, 'g'))).toHaveLength(2);
    expect(out).not.toMatch(/sr=(""|'')/);
  });

  it('keeps an SR a template names', () => {
    const xml = `<provision><disk device="0" size="1" sr="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"/></provision>`;
    expect(fillEmptySrAttributes(xml, SR)).toBe(xml);
  });
});
