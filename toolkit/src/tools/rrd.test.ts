import { describe, expect, it } from 'vitest';
import { ToolError } from './errors.js';
import { latest, mean, parseRrdUpdates, sumMatching } from './rrd.js';

// The XML shape of xapi's /rrd_updates (xenapi/NOTES.md §4; xapi-rrd rrd_updates.ml): rows newest first, values as
// text.
const XML = `<xport><meta><start>1213617600</start><step>5</step><end>1213617610</end><rows>2</rows><columns>3</columns>
<legend><entry>AVERAGE:host:h1:cpu_avg</entry><entry>AVERAGE:vm:v1:cpu0</entry><entry>AVERAGE:vm:v1:vbd_xvda_read</entry></legend></meta>
<data><row><t>1213617610</t><v>0.5</v><v>NaN</v><v>2048</v></row><row><t>1213617605</t><v>0.25</v><v>0.0282</v><v>1024</v></row></data></xport>`;

describe('parseRrdUpdates', () => {
  it('reads the XML form into oldest-first series per object', () => {
    const w = parseRrdUpdates(XML);
    expect(w).toMatchObject({ step: 5, end: 1213617610, rows: 2 });
    expect(w.series.get('host:h1')?.get('cpu_avg')).toEqual([0.25, 0.5]);
    expect(w.series.get('vm:v1')?.get('cpu0')).toEqual([0.0282, NaN]);
  });

  it('reads the JSON form, whose values are strings', () => {
    const w = parseRrdUpdates(
      JSON.stringify({
        meta: { start: 10, step: 5, end: 15, rows: 2, columns: 1, legend: ['AVERAGE:vm:v1:memory'] },
        data: [
          { t: 15, values: ['2147483648.0'] },
          { t: 10, values: ['NaN'] },
        ],
      }),
    );
    expect(w.series.get('vm:v1')?.get('memory')).toEqual([NaN, 2147483648]);
  });

  it('refuses a reply that is neither', () => {
    expect(() => parseRrdUpdates('<html>login</html>')).toThrow(ToolError);
    expect(() => parseRrdUpdates('{"oops":1}')).toThrow(/rrd_updates reply is not JSON or <xport> XML/);
  });
});

describe('reductions', () => {
  it('ignore missing samples', () => {
    expect(mean([1, NaN, 3])).toBe(2);
    expect(latest([1, 2, NaN])).toBe(2);
    expect(mean([])).toBeNaN();
    const m = new Map([
      ['vbd_xvda_read', [1, NaN, 3]],
      ['vbd_xvdb_read', [10, NaN, NaN]],
      ['cpu0', [5, 5, 5]],
    ]);
    expect(sumMatching(m, /^vbd_.+_read$/)).toEqual([11, NaN, 3]);
  });
});
