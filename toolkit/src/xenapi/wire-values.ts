/**
 * Wire-neutral values: what the argument encoder produces and both transports understand. A plain JS number is
 * ambiguous on the XML-RPC wire (the npm `xmlrpc` serializer writes `5` as `<int>`), so a value the datamodel types as
 * `float` travels wrapped in {@link XapiDouble}; each transport then writes it its own way (`<double>` / JSON number).
 * Dates stay `Date` and are written in XAPI's UTC form by each transport.
 */

/**
 * A number that must reach XAPI as a double (`<double>` over XML-RPC).
 * @example
 * await client.callRaw('event.from', ['vm'], '', new XapiDouble(30)); // sent as <double>30.0</double>
 */
export class XapiDouble {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  toJSON(): number {
    return this.value;
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * Formats a date the way XAPI writes and reads datetimes: UTC, no hyphens, seconds precision, `Z`
 * (ocaml/libs/clock/date.ml `to_rfc3339`, e.g. `20250319T04:16:24Z`).
 * @example
 * formatXapiDate(new Date(Date.UTC(2025, 2, 19, 4, 16, 24))); // '20250319T04:16:24Z'
 */
export function formatXapiDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('formatXapiDate: invalid Date');
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}Z`
  );
}

// YYYYMMDDThh:mm:ss or YYYY-MM-DDThh:mm:ss, optional fraction, optional zone (Z or ±hh[:mm]).
const DATE_RE =
  /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2}))?(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses a datetime as XAPI sends or accepts it: `YYYYMMDDThh:mm:ssZ`, RFC 3339, or without a zone, which XAPI
 * means as UTC (ocaml/libs/clock/date.ml `of_iso8601` assumes UTC for tz-less stamps). Returns undefined when
 * the text is not a datetime.
 * @example
 * parseXapiDate('20250319T04:16:24Z')?.toISOString(); // '2025-03-19T04:16:24.000Z'
 * parseXapiDate('20250319T04:16:24')?.toISOString();  // same instant: no zone means UTC
 */
export function parseXapiDate(text: string): Date | undefined {
  const m = DATE_RE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    t -= sign * offsetMin * 60_000;
  }
  const date = new Date(t);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
