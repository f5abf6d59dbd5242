/**
 * A simulator worker thread (see isolated.ts): hosts a few simulators, each with its XenAPI HTTP server listening
 * here, and its pool saved from here (its own connection to the gateway's database, or its state file).
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { openPoolSink } from '../store/pool-states.js';
import { behaviours } from './behaviour/index.js';
import { startSimulator, type RunningSimulator } from './index.js';
import type { FromWorker, ToWorker, WorkerStart } from './isolated.js';
import { fileSink, type StateSink } from './persist.js';

const port = parentPort;
if (!port) throw new Error('sim/worker.js runs as a worker thread (see startIsolatedSimulator)');

const running = new Map<number, Promise<RunningSimulator | undefined>>();

function reply(m: FromWorker): void {
  port?.postMessage(m);
}

function sinkOf(start: WorkerStart): StateSink | undefined {
  const l = start.location;
  if (!l) return undefined;
  return l.kind === 'file' ? fileSink(l.path) : openPoolSink(l);
}

async function start(id: number, options: WorkerStart): Promise<RunningSimulator | undefined> {
  try {
    const state = sinkOf(options);
    const sim = await startSimulator({
      port: options.port,
      host: options.host,
      controlToken: options.controlToken,
      behaviours,
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.scenario === undefined ? {} : { scenario: options.scenario }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.fast === undefined ? {} : { fast: options.fast }),
      ...(state === undefined ? {} : { state }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.maxObjects === undefined ? {} : { maxObjects: options.maxObjects }),
      ...(options.sharedStorage === undefined ? {} : { sharedStorage: options.sharedStorage }),
      ...(options.crossPool === undefined ? {} : { crossPool: options.crossPool }),
    });
    reply({ op: 'started', id, url: sim.url });
    return sim;
  } catch (e) {
    const err = e as Error & { code?: unknown };
    reply({
      op: 'failed',
      id,
      message: err.message,
      ...(typeof err.code === 'string' ? { code: err.code } : {}),
    });
    return undefined;
  }
}

port.on('message', (m: ToWorker) => {
  if (m.op === 'start') running.set(m.id, start(m.id, m.options));
  else {
    const sim = running.get(m.id);
    running.delete(m.id);
    void (async () => {
      try {
        await (await sim)?.close();
      } catch (e) {
        process.emitWarning(`xenlab sim: closing a simulator failed: ${(e as Error).message}`);
      }
      reply({ op: 'closed', id: m.id });
    })();
  }
});
