import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
  '.wasm': 'application/wasm',
  '.pf_meta': 'application/octet-stream',
  '.pf_fragment': 'application/octet-stream',
  '.pf_index': 'application/octet-stream',
};

interface Cached {
  body: Buffer;
  type: string;
  etag: string;
  csp?: string;
}

/**
 * A Content-Security-Policy without 'unsafe-inline' for scripts: the inline scripts Astro and Starlight emit (theme
 * picker, island loader) are allowed by their hashes, computed from the built page, so an injected script is not.
 */
function cspFor(html: string): string {
  const hashes = new Set<string>();
  for (const m of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
    hashes.add(
      `'sha256-${createHash('sha256')
        .update(m[1] ?? '')
        .digest('base64')}'`,
    );
  }
  return [
    "default-src 'self'",
    `script-src 'self' ${[...hashes].join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

/** The static site's handler (true when it answered), and what its cache holds. */
export type StaticSite = ((req: IncomingMessage, res: ServerResponse) => boolean) & {
  /** Files held in memory. */
  readonly cacheEntries: number;
  /** Bytes of those files. */
  readonly cacheBytes: number;
};

/** Most bytes of files kept in memory; past it, files are read from disk each time (a built site is far smaller). */
const CACHE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Serves the built course site from a directory, with security headers; files found are cached in memory after the
 * first read (up to 64 MiB). Misses are never cached: a crawler asking for random paths can not grow memory.
 */
export function createStaticSite(root: string): StaticSite {
  const cache = new Map<string, Cached>();
  let cacheBytes = 0;
  const load = (path: string): Cached | null => {
    const hit = cache.get(path);
    if (hit) return hit;
    let entry: Cached | null = null;
    try {
      if (statSync(path).isFile()) {
        const body = readFileSync(path);
        const type = TYPES[extname(path)] ?? 'application/octet-stream';
        entry = { body, type, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
        if (type.startsWith('text/html')) entry.csp = cspFor(body.toString('utf8'));
      }
    } catch {
      entry = null;
    }
    if (entry && cacheBytes + entry.body.length <= CACHE_MAX_BYTES) {
      cache.set(path, entry);
      cacheBytes += entry.body.length;
    }
    return entry;
  };

  const serve = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return false;
    }
    const rel = normalize(pathname).replace(/^([/\\])+/, '');
    if (rel.split(sep).includes('..') || rel.includes('\0')) return false;
    const candidates =
      rel === '' || rel.endsWith('/')
        ? [join(root, rel, 'index.html')]
        : [join(root, rel), join(root, rel, 'index.html'), join(root, `${rel}.html`)];
    let file: Cached | null = null;
    for (const c of candidates) {
      if (!c.startsWith(root)) continue;
      file = load(c);
      if (file) break;
    }
    let status = 200;
    if (!file) {
      file = load(join(root, '404.html'));
      status = 404;
      if (!file) return false;
    }
    const headers: Record<string, string> = {
      'Content-Type': file.type,
      ETag: file.etag,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': rel.startsWith('_astro/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (file.csp) {
      headers['Content-Security-Policy'] = file.csp;
      headers['X-Frame-Options'] = 'DENY';
    }
    if (status === 200 && req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(status, { ...headers, 'Content-Length': String(file.body.length) });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
  return Object.defineProperties(serve, {
    cacheEntries: { get: () => cache.size },
    cacheBytes: { get: () => cacheBytes },
  }) as StaticSite;
}
