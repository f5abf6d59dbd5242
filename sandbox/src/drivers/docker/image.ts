/**
 * Builds the lab image offline: a Debian root made with debootstrap from the host's own package mirror, imported
 * as the base image (no registry needed: these hosts reach none), then the tools layer from
 * `sandbox/images/lab/Dockerfile`. Every step is skipped when its result already exists, so CI can call it on each
 * run for free once the image is there.
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { isNotFound } from './client.js';
import { XenlabError } from '../../errors/index.js';

/** The debootstrap'd Debian base. */
export const BASE_IMAGE = 'xenlab/base:bookworm';
/** The image environments run by default: base + tools + the learner user. */
export const LAB_IMAGE = 'xenlab/lab:bookworm';
/** Label on the lab image: a hash of its recipe, so a changed Dockerfile rebuilds and an unchanged one doesn't. */
export const LABEL_RECIPE = 'xenlab.recipe';

/** Folder of the tools layer's build context (the same relative path from src/ and dist/). */
export const LAB_CONTEXT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'images', 'lab');

export interface ImageBuildOptions {
  /** Debian mirror for debootstrap; the host's apt source by default (the only mirror these hosts reach). */
  mirror?: string;
  suite?: string;
  /** Where the debootstrap root is kept between builds (a rebuild of the base then takes seconds). */
  cacheDir?: string;
  /** Rebuild both images even when they exist. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface ImageBuildResult {
  readonly image: string;
  /** Which steps ran (`debootstrap`, `import`, `tools`); empty when everything was already there. */
  readonly built: readonly string[];
}

/** The first `URIs:` (deb822) or `deb` line of the host's apt sources; Debian's main mirror otherwise. */
export function hostMirror(): string {
  const files = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822?.[1] && !deb822[1].includes('security')) return deb822[1];
    const classic = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/m.exec(text);
    if (classic?.[1]) return classic[1];
  }
  return 'http://deb.debian.org/debian';
}

/** Hash of everything that goes into the lab image. */
export function recipeHash(suite = 'bookworm'): string {
  const h = createHash('sha256').update(suite);
  for (const f of readdirSync(LAB_CONTEXT).sort()) h.update(f).update(readFileSync(join(LAB_CONTEXT, f)));
  return h.digest('hex').slice(0, 16);
}

async function imageLabels(docker: Docker, name: string): Promise<Record<string, string> | undefined> {
  try {
    const info = await docker.getImage(name).inspect();
    // The engine sends null for an image without labels (the imported base), whatever the typings say.
    const labels = info.Config.Labels as Record<string, string> | null | undefined;
    return labels ?? {};
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Whether the lab image exists and was built from the current recipe. */
export async function labImageCurrent(docker: Docker, suite = 'bookworm'): Promise<boolean> {
  const labels = await imageLabels(docker, LAB_IMAGE);
  return labels?.[LABEL_RECIPE] === recipeHash(suite);
}

/** A tar stream of a folder (GNU tar: numeric owners kept, as docker import and build expect). */
function tarOf(dir: string): NodeJS.ReadableStream {
  const p = spawn('tar', ['-C', dir, '--numeric-owner', '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return p.stdout;
}

/** Waits for an engine progress stream (import/build) and fails on its first error message. */
function follow(docker: Docker, stream: NodeJS.ReadableStream, log: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, out: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err ?? out.find((o) => o.error !== undefined);
        if (failed) {
          reject(
            new XenlabError(
              'SANDBOX_ERR_IMAGE_BUILD',
              failed instanceof Error ? failed.message : (failed.error ?? ''),
            ),
          );
        } else resolve();
      },
      (ev: { stream?: string; status?: string }) => {
        const line = (ev.stream ?? ev.status ?? '').trimEnd();
        if (line) log(line);
      },
    );
  });
}

/**
 * Builds the base image (debootstrap minbase + `docker import`) and the lab image (tools layer), skipping what
 * exists. Needs root for debootstrap (only when the base image is missing) and network access to the mirror.
 */
export async function buildImages(
  docker: Docker,
  options: ImageBuildOptions = {},
): Promise<ImageBuildResult> {
  const log = options.log ?? (() => undefined);
  const suite = options.suite ?? 'bookworm';
  const built: string[] = [];
  const hash = recipeHash(suite);
  if (!options.force && (await labImageCurrent(docker, suite))) {
    log(`${LAB_IMAGE} is up to date (recipe ${hash})`);
    return { image: LAB_IMAGE, built };
  }

  if (options.force || (await imageLabels(docker, BASE_IMAGE)) === undefined) {
    const cache = options.cacheDir ?? defaultCacheDir();
    const rootfs = join(cache, `rootfs-${suite}`);
    // A finished root has this marker; a half-done one (interrupted debootstrap) is thrown away.
    const done = join(rootfs, '.xenlab-complete');
    if (options.force || !existsSync(done)) {
      if (process.getuid?.() !== 0) {
        throw new XenlabError(
          'SANDBOX_ERR_IMAGE_BUILD',
          'debootstrap needs root (run `sudo xenlab image build`)',
        );
      }
      const mirror = options.mirror ?? hostMirror();
      const tmp = `${rootfs}.tmp`;
      rmSync(tmp, { recursive: true, force: true });
      rmSync(rootfs, { recursive: true, force: true });
      mkdirSync(cache, { recursive: true });
      log(`debootstrap --variant=minbase ${suite} from ${mirror} (about 1.5 min)…`);
      const r = spawnSync('debootstrap', ['--variant=minbase', suite, tmp, mirror], {
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
      });
      if (r.error || r.status !== 0) {
        throw new XenlabError(
          'SANDBOX_ERR_IMAGE_BUILD',
          `debootstrap failed (${r.error?.message ?? r.stderr.trim().split('\n').slice(-3).join(' ')}); is debootstrap installed and ${mirror} reachable?`,
        );
      }
      // Nothing of the build host's apt caches in the image.
      rmSync(join(tmp, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
      mkdirSync(join(tmp, 'var', 'cache', 'apt', 'archives', 'partial'), { recursive: true });
      renameSync(tmp, rootfs);
      writeFileSync(done, `${new Date().toISOString()} ${mirror}\n`);
      built.push('debootstrap');
    }
    log(`importing ${rootfs} as ${BASE_IMAGE}…`);
    const [repo, tag] = BASE_IMAGE.split(':') as [string, string];
    // An imported root has no CMD; give it one (docker-engine.md tip).
    const stream = await docker.importImage(tarOf(rootfs), {
      repo,
      tag,
      changes: ['CMD ["/bin/bash"]'],
    } as object);
    await follow(docker, stream, log);
    built.push('import');
  }

  log(`building ${LAB_IMAGE} (tools layer)…`);
  const stream = await docker.buildImage(tarOf(LAB_CONTEXT), {
    t: LAB_IMAGE,
    labels: { [LABEL_RECIPE]: hash },
    buildargs: { BASE: BASE_IMAGE },
    rm: true,
    forcerm: true,
  });
  await follow(docker, stream, log);
  built.push('tools');
  if (!(await labImageCurrent(docker, suite))) {
    throw new XenlabError(
      'SANDBOX_ERR_IMAGE_BUILD',
      `${LAB_IMAGE} was built but does not carry recipe ${hash}`,
    );
  }
  return { image: LAB_IMAGE, built };
}

/** `/var/cache/xenlab` for root, `$XDG_CACHE_HOME/xenlab` (or ~/.cache/xenlab) otherwise. */
export function defaultCacheDir(): string {
  if (process.getuid?.() === 0) return '/var/cache/xenlab';
  const base = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/tmp', '.cache');
  return join(base, 'xenlab');
}
