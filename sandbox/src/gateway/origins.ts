/**
 * Which browser origins may open terminals, and which Host headers the gateway answers to.
 *
 * A WebSocket is not covered by the same-origin policy, so without this check any page the learner visits could
 * open their shell (cross-site WebSocket hijacking: Gitpod CVE-2023-0957). Checking Host as well stops DNS
 * rebinding, where an attacker's name resolves to 127.0.0.1 and the page becomes "same origin" with us.
 */
export class OriginPolicy {
  readonly #origins: Set<string>;
  readonly #hosts: Set<string>;

  /** @param origins full origins such as `http://127.0.0.1:4321`. */
  constructor(origins: Iterable<string>) {
    this.#origins = new Set();
    this.#hosts = new Set();
    for (const o of origins) this.add(o);
  }

  /** Allows another origin (and its host). Malformed origins are ignored. */
  add(origin: string): void {
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return;
    this.#origins.add(u.origin);
    this.#hosts.add(u.host.toLowerCase());
  }

  /** Origins the gateway serves for a bind address and port: loopback gets both spellings of itself. */
  static forListen(host: string, port: number, extra: Iterable<string> = []): OriginPolicy {
    const names =
      host === '127.0.0.1' || host === 'localhost' || host === '::1'
        ? ['127.0.0.1', 'localhost', '[::1]']
        : [host.includes(':') ? `[${host}]` : host];
    return new OriginPolicy([...names.map((n) => `http://${n}:${port}`), ...extra]);
  }

  /** True when the Origin header names an allowed origin exactly (`null`, missing or foreign origins fail). */
  allowsOrigin(origin: string | undefined): boolean {
    return origin !== undefined && this.#origins.has(origin);
  }

  /** True when the Host header is one the gateway serves. */
  allowsHost(host: string | undefined): boolean {
    return host !== undefined && this.#hosts.has(host.toLowerCase());
  }

  get origins(): string[] {
    return [...this.#origins];
  }
}
