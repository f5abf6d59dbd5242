/** `xenlab lab`: author tools — new, validate, test, schema, hash. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hashAnswer } from '../grading/checks.js';
import Database from 'better-sqlite3';
import type { SandboxDriver } from '../drivers/types.js';
import { gradingHistory } from '../grading/store.js';
import { createLabDriverRegistry } from '../lab-runtime/drivers.js';
import { labJsonSchema, labJsonSchemaText } from '../labs/json-schema.js';
import { LABS_DIR, LabError, loadAllLabs, loadLab } from '../labs/loader.js';
import { proveLab } from '../lab-runtime/prove.js';
import { scaffoldLab } from '../labs/scaffold.js';
import type { CliCommand, CliIo } from './index.js';

const USAGE = `usage: xenlab lab <new|validate|test|schema|hash> [args]

  xenlab lab new <id> [--title T]   scaffold labs/<id>/ (lab.yaml, guide.mdx, solve.sh)
  xenlab lab validate [id…]         validate manifests (schema, XenAPI names, files, placeholders) and lab.schema.json
  xenlab lab test [id…] [--rounds N] prove labs: every check red, solve.sh, every check green — twice from scratch
  xenlab lab schema                 write labs/lab.schema.json (editors validate lab.yaml with it)
  xenlab lab hash <answer>          the sha256 an answer check stores
  xenlab lab report [--db FILE] [--lab ID] [--learner ID]
                                    instructor view: what each learner achieved, and when (default db:
                                    .xenlab/xenlab.db, the gateway's)

--labs DIR selects another labs folder (default: this checkout's labs/).`;

function labsDir(argv: string[]): string {
  const i = argv.indexOf('--labs');
  if (i < 0) return LABS_DIR;
  const dir = argv[i + 1];
  argv.splice(i, 2);
  return resolve(dir ?? LABS_DIR);
}

function validate(root: string, ids: readonly string[], io: CliIo): number {
  let bad = 0;
  const { labs, errors } = ids.length
    ? (() => {
        const out = { labs: [] as ReturnType<typeof loadLab>[], errors: [] as LabError[] };
        for (const id of ids) {
          try {
            out.labs.push(loadLab(join(root, id)));
          } catch (e) {
            if (e instanceof LabError) out.errors.push(e);
            else throw e;
          }
        }
        return out;
      })()
    : loadAllLabs(root);
  for (const lab of labs) io.out(`ok   ${lab.id} (${String(lab.manifest.tasks.length)} tasks)`);
  for (const e of errors) {
    bad++;
    io.err(`${e.code}\n${e.message}`);
  }
  const schemaFile = join(root, 'lab.schema.json');
  // Compared as data, not text: a formatter (prettier) may re-indent the file.
  const current = existsSync(schemaFile) ? JSON.stringify(JSON.parse(readFileSync(schemaFile, 'utf8'))) : '';
  if (current !== JSON.stringify(labJsonSchema())) {
    bad++;
    io.err(`LAB_ERR_STALE_SCHEMA: ${schemaFile} is missing or out of date: run npx xenlab lab schema`);
  }
  if (labs.length === 0 && errors.length === 0) io.out('no labs found');
  return bad === 0 ? 0 : 1;
}

async function test(root: string, argv: string[], io: CliIo): Promise<number> {
  let rounds = 2;
  const ri = argv.indexOf('--rounds');
  if (ri >= 0) {
    rounds = Number(argv[ri + 1]);
    argv.splice(ri, 2);
    if (!Number.isInteger(rounds) || rounds < 1) {
      io.err('xenlab lab test: --rounds must be a positive integer');
      return 2;
    }
  }
  const { labs, errors } = loadAllLabs(root);
  for (const e of errors) io.err(`${e.code}\n${e.message}`);
  const chosen = argv.length ? labs.filter((l) => argv.includes(l.id)) : labs;
  for (const id of argv)
    if (!labs.some((l) => l.id === id) && !errors.some((e) => e.message.includes(`labs/${id}/`))) {
      io.err(`LAB_ERR_NOT_FOUND: no lab "${id}" in ${root}`);
      return 1;
    }
  // The gateway's registry: each driver created once, on first use, and shared by the labs that name it.
  const drivers = createLabDriverRegistry();
  let failed = errors.length;
  const rows: string[] = [];
  for (const lab of chosen) {
    const name = lab.manifest.environment.driver;
    let driver: SandboxDriver;
    try {
      driver = await drivers.get(name);
    } catch (e) {
      // A lab whose driver cannot run here (no Docker, no QEMU) is skipped, not failed; CI machines that have
      // the driver prove it.
      io.out(`skip ${lab.id}: the ${name} driver does not work here (${(e as Error).message})`);
      continue;
    }
    io.out(`test ${lab.id}`);
    const r = await proveLab(lab, driver, { rounds, log: io.out });
    rows.push(
      `${r.ok ? 'PASS' : 'FAIL'}  ${lab.id.padEnd(28)} ${String(r.checks).padStart(3)} checks  ${String(r.rounds)} rounds  ${(r.ms / 1000).toFixed(1)} s`,
    );
    if (!r.ok) {
      failed++;
      for (const p of r.problems)
        io.err(`  round ${String(p.round)} ${p.phase}${p.check ? ` ${p.check}` : ''}: ${p.message}`);
    }
  }
  await drivers.close();
  for (const row of rows) io.out(row);
  return failed === 0 ? 0 : 1;
}

function report(argv: string[], io: CliIo): number {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const file = resolve(
    opt('--db') ?? process.env.XENLAB_DATA_DIR ?? '.xenlab',
    opt('--db') ? '' : 'xenlab.db',
  );
  if (!existsSync(file)) {
    io.err(`LAB_ERR_NO_DATABASE: no gateway database at ${file} (pass --db FILE)`);
    return 1;
  }
  const db = new Database(file, { fileMustExist: true });
  try {
    const lab = opt('--lab');
    const learner = opt('--learner');
    const rows = gradingHistory(db, {
      ...(lab === undefined ? {} : { lab }),
      ...(learner === undefined ? {} : { learner }),
    });
    io.out(
      'learner               lab                       task                      first passed (UTC)    pts  tries hints',
    );
    for (const r of rows)
      io.out(
        `${r.learner.slice(0, 20).padEnd(21)} ${r.lab.padEnd(25)} ${r.task.padEnd(25)} ${
          r.firstPassedAt === null
            ? '—'.padEnd(20)
            : new Date(r.firstPassedAt).toISOString().slice(0, 19).replace('T', ' ')
        }  ${String(r.points).padStart(4)} ${String(r.attempts).padStart(6)} ${String(r.hintsUsed).padStart(5)}${r.solutionShown ? ' (solution shown)' : ''}`,
      );
    if (rows.length === 0) io.out('(nothing recorded yet)');
    return 0;
  } finally {
    db.close();
  }
}

/** The `lab` command. */
export const labCommand: CliCommand = {
  summary: 'author labs: new, validate, test (prove solvable, every check able to fail), schema, hash',
  usage: USAGE,
  async run(argvIn, io) {
    const argv = [...argvIn];
    const root = labsDir(argv);
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'new': {
        const ti = rest.indexOf('--title');
        const title = ti >= 0 ? rest[ti + 1] : undefined;
        if (ti >= 0) rest.splice(ti, 2);
        const id = rest[0];
        if (id === undefined) {
          io.err('usage: xenlab lab new <id> [--title T]');
          return 2;
        }
        try {
          const dir = scaffoldLab(root, id, title);
          io.out(`created ${dir}: edit lab.yaml and guide.mdx, then run npx xenlab lab test ${id}`);
          return 0;
        } catch (e) {
          io.err((e as Error).message);
          return 1;
        }
      }
      case 'validate':
        return validate(root, rest, io);
      case 'test':
        return test(root, rest, io);
      case 'schema':
        writeFileSync(join(root, 'lab.schema.json'), labJsonSchemaText());
        io.out(`wrote ${join(root, 'lab.schema.json')}`);
        return 0;
      case 'report':
        return report(rest, io);
      case 'hash':
        if (rest.length === 0) {
          io.err('usage: xenlab lab hash <answer>');
          return 2;
        }
        io.out(hashAnswer(rest.join(' ')));
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return sub === undefined ? 2 : 0;
      default:
        io.err(`xenlab lab: unknown subcommand '${sub}'\n\n${USAGE}`);
        return 2;
    }
  },
};
