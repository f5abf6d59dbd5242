/**
 * How an environment reaches its own pool: the learner's simulator listens on the gateway host's loopback, and each
 * driver makes that port reachable from inside (the local jail shares the host's network; a docker environment gets
 * a link on its network's gateway address, see docker/pool-link.ts). Whatever the driver, the shell gets the same
 * settings: `~/.xe` and XE_EXTRA_ARGS for `xe` (ocaml/xe-cli/newcli.ml reads both), XENLAB_URL/USER/PASSWORD for
 * `xenlab-tools` and the learner's own scripts.
 * @module
 */

/** The learner's pool as the gateway sees it: a port on the host's loopback and its login. */
export interface PoolAccess {
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

/** Where the pool is from inside an environment. */
export interface PoolAddress {
  readonly host: string;
  readonly port: number;
}

/** The pool's URL from inside. */
export const poolUrl = (at: PoolAddress): string => `http://${at.host}:${String(at.port)}`;

/** The environment variables that point `xe`, `xenlab-tools` and scripts at the pool. */
export function poolEnv(pool: PoolAccess, at: PoolAddress): Record<string, string> {
  const url = poolUrl(at);
  return {
    XE_EXTRA_ARGS: `server=${at.host},port=${String(at.port)},username=${pool.user},password=${pool.password},nossl=true`,
    XENLAB_XAPI_URL: url,
    XENLAB_XAPI_USER: pool.user,
    XENLAB_XAPI_PASSWORD: pool.password,
    XENLAB_URL: url,
    XENLAB_USER: pool.user,
    XENLAB_PASSWORD: pool.password,
  };
}

/**
 * The whole environment of a learner's shells, the same in every driver: a clean one (nothing of the gateway's
 * own, such as tokens, leaks in), the pool's settings when it has one, then the environment's own variables.
 */
export function learnerEnv(
  home: string,
  path: readonly string[],
  spec: { readonly pool?: PoolAccess; readonly env?: Readonly<Record<string, string>> },
  at: PoolAddress | undefined,
): Record<string, string> {
  return {
    HOME: home,
    USER: 'learner',
    LOGNAME: 'learner',
    SHELL: '/bin/bash',
    TERM: 'xterm-256color',
    COLORTERM: 'truecolor',
    LANG: 'C.UTF-8',
    PATH: [...path, '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'].join(':'),
    ...(spec.pool && at ? poolEnv(spec.pool, at) : {}),
    ...spec.env,
  };
}

/** The learner's `~/.xe` (the real `xe` reads it too), for programs that do not inherit the shell's environment. */
export function xeConfig(pool: PoolAccess, at: PoolAddress): string {
  return `server=${at.host}\nport=${String(at.port)}\nusername=${pool.user}\npassword=${pool.password}\nnossl=true\n`;
}
