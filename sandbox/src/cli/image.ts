/** `xenlab image build`: the docker driver's lab image, built offline (debootstrap + import + tools layer). */
import { parseArgs } from 'node:util';
import { connectEngine, pingEngine } from '../drivers/docker/client.js';
import { LAB_IMAGE, buildImages } from '../drivers/docker/image.js';
import { runStorageImageBuild, runXenImageBuild } from '../drivers/qemu-xen/cli.js';
import type { CliCommand } from './index.js';

const HELP = `usage: xenlab image build [--mirror URL] [--cache-dir DIR] [--force]
       xenlab image build --xen [--out DIR] [--force]   (the qemu-xen driver's image; --xen --help)
       xenlab image build --storage [--out DIR] [--force]   (qemu-xen storage nodes; --storage --help)

Builds ${LAB_IMAGE} for the docker sandbox driver without any registry: debootstrap (Debian minbase, from
the host's apt mirror unless --mirror), docker import, then the tools layer in sandbox/images/lab.
Steps whose result exists are skipped, so running it again is instant. Needs root for debootstrap.

  --mirror URL      Debian mirror for debootstrap (default: the host's apt source)
  --cache-dir DIR   keep the debootstrap root here (default /var/cache/xenlab as root)
  --force           rebuild everything`;

/** The `image` command. */
export const imageCommand: CliCommand = {
  summary: 'build the lab image for the docker sandbox driver (xenlab image build)',
  usage: HELP,
  async run(argv, io) {
    // `--xen`: the qemu-xen driver's image, built by that driver's own code.
    if (argv.includes('--storage'))
      return runStorageImageBuild(
        argv.filter((a) => a !== '--storage'),
        io,
      );
    if (argv.includes('--xen'))
      return runXenImageBuild(
        argv.filter((a) => a !== '--xen'),
        io,
      );
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
          mirror: { type: 'string' },
          'cache-dir': { type: 'string' },
          force: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (err) {
      io.err(`xenlab image: ${(err as Error).message}`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (positionals[0] !== 'build' || positionals.length !== 1) {
      io.err(HELP);
      return 2;
    }
    const docker = connectEngine();
    try {
      await pingEngine(docker);
      const t0 = Date.now();
      const r = await buildImages(docker, {
        ...(values.mirror === undefined ? {} : { mirror: values.mirror }),
        ...(values['cache-dir'] === undefined ? {} : { cacheDir: values['cache-dir'] }),
        force: values.force === true,
        log: (l) => {
          io.out(l);
        },
      });
      io.out(
        r.built.length === 0
          ? `${r.image}: already built`
          : `${r.image}: built (${r.built.join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      return 0;
    } catch (err) {
      io.err(`xenlab image: ${(err as Error).message}`);
      return 1;
    }
  },
};
