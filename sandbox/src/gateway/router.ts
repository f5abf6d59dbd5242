import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../protocol/index.js';
import { json } from './http.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** One line of the table: a path (exact, without the query) and the methods it answers. */
export interface Route {
  readonly methods: readonly string[];
  readonly path: string;
  readonly handle: Handler;
}

/**
 * A door in front of every path under `prefix`, known or not: `admit` answers the refusal itself and says false.
 * A path under a gate that no route names is 404 here, never left to the static site.
 */
export interface Gate {
  readonly prefix: string;
  readonly admit: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** Routes a request (true when it answered): false leaves it to the next in line (the static site). */
export type Router = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

const notFound = (res: ServerResponse): void => {
  json(res, 404, { code: GatewayError.NOT_FOUND, message: 'not found' });
};

/**
 * Method + path → handler. A known path asked with another method is 405 with `Allow`; an unknown path is not
 * this router's (false), unless a gate owns it (404).
 */
export function createRouter(routes: readonly Route[], gates: readonly Gate[] = []): Router {
  const table = new Map<string, Map<string, Handler>>();
  for (const route of routes) {
    const byMethod = table.get(route.path) ?? new Map<string, Handler>();
    for (const method of route.methods) {
      if (byMethod.has(method)) throw new Error(`two routes for ${method} ${route.path}`);
      byMethod.set(method, route.handle);
    }
    table.set(route.path, byMethod);
  }
  return (req, res, path) => {
    const gate = gates.find((g) => path.startsWith(g.prefix));
    if (gate && !gate.admit(req, res)) return true;
    const byMethod = table.get(path);
    if (!byMethod) {
      if (!gate) return false;
      notFound(res);
      return true;
    }
    const handle = byMethod.get(req.method ?? 'GET');
    if (!handle) {
      const allow = [...byMethod.keys()].join(', ');
      json(res, 405, { code: GatewayError.METHOD_NOT_ALLOWED, message: `use ${allow}` }, { Allow: allow });
      return true;
    }
    handle(req, res);
    return true;
  };
}
