/** IPv4 helpers for the generators (addresses as unsigned 32-bit numbers). */

/** Parses dotted-quad IPv4; undefined when malformed. */
export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((a, p) => a * 256 + p, 0);
}

/** Formats an address. */
export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => String(Math.floor(n / 2 ** s) % 256)).join('.');
}

/** A parsed CIDR subnet. */
export interface Subnet {
  readonly network: number;
  readonly prefix: number;
  readonly broadcast: number;
  readonly netmask: string;
  readonly text: string;
}

/** Parses `10.0.0.0/24` (host bits must be zero); undefined when malformed. */
export function parseCidr(s: string): Subnet | undefined {
  const [ip, len] = s.trim().split('/');
  const addr = parseIp(ip ?? '');
  const prefix = Number(len);
  if (addr === undefined || !/^\d{1,2}$/.test(len ?? '') || prefix < 1 || prefix > 30) return undefined;
  const size = 2 ** (32 - prefix);
  if (addr % size !== 0) return undefined;
  return {
    network: addr,
    prefix,
    broadcast: addr + size - 1,
    netmask: formatIp(2 ** 32 - size),
    text: `${formatIp(addr)}/${prefix}`,
  };
}

/** Whether an address is a usable host address of the subnet (not the network or broadcast address). */
export function inSubnet(ip: number, subnet: Subnet): boolean {
  return ip > subnet.network && ip < subnet.broadcast;
}

/** Normalises a MAC to lowercase colon form; undefined when malformed. */
export function parseMac(s: string): string | undefined {
  const hex = s.trim().toLowerCase();
  if (!/^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/.test(hex)) return undefined;
  return hex.replace(/-/g, ':');
}
