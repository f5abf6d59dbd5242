// The lab channel over a real WebSocket, as the gateway mounts it: state pushed after hello, requests answered,
// bad input refused with stable codes and the channel carrying on.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { attachLabChannel } from '../../../sandbox/src/grading/channel.js';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../../sandbox/src/lab-runtime/environment.js';
import { LAB_PROTOCOL_VERSION, type LabServerMessage } from '../../../sandbox/src/protocol/lab.js';

let env: LabEnvironment;
let home: string;
let server: Server;
let url: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'xenlab-channel-'));
  env = await createLabEnvironment({
    lab: 'anatomy-of-a-pool',
    driver: createLabLocalDriver(),
    learnerId: 'l1',
    home,
    fast: true,
  });
  server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => attachLabChannel(ws, env));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `ws://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await env.close();
  rmSync(home, { recursive: true, force: true });
});

/** A client that collects the channel's messages and can wait for one. */
async function client() {
  const ws = new WebSocket(url);
  const got: LabServerMessage[] = [];
  const waiters: { pred: (m: LabServerMessage) => boolean; resolve: (m: LabServerMessage) => void }[] = [];
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString('utf8')) as LabServerMessage;
    got.push(m);
    for (const w of waiters.splice(0)) {
      if (w.pred(m)) w.resolve(m);
      else waiters.push(w);
    }
  });
  await new Promise((r) => ws.once('open', r));
  const next = (pred: (m: LabServerMessage) => boolean, timeoutMs = 10_000) =>
    new Promise<LabServerMessage>((resolve, reject) => {
      const seen = got.find(pred);
      if (seen) {
        got.splice(got.indexOf(seen), 1);
        resolve(seen);
        return;
      }
      const t = setTimeout(() => {
        reject(new Error('no such message'));
      }, timeoutMs);
      waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          got.splice(got.indexOf(m), 1);
          resolve(m);
        },
      });
    });
  const send = (m: unknown) => {
    ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  };
  return { ws, next, send };
}

const isError = (code: string) => (m: LabServerMessage) => m.type === 'error' && m.code === code;

describe('the lab channel', () => {
  it('sends the learner view after hello, and a new state when the pool changes', async () => {
    const c = await client();
    c.send({ type: 'lab.hello', v: LAB_PROTOCOL_VERSION });
    const first = await c.next((m) => m.type === 'lab.state');
    expect(first.type === 'lab.state' && first.trigger).toBe('initial');
    expect(first.type === 'lab.state' && first.view.tasks.map((t) => [t.id, t.pass])).toEqual([
      ['name-the-pool', false],
      ['count-the-parts', false],
      ['create-a-disk', false],
      ['attach-the-disk', false],
      ['network-for-the-vm', false],
    ]);
    await env.sandbox.exec([
      'bash',
      '-c',
      'xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME',
    ]);
    const changed = await c.next(
      (m) => m.type === 'lab.state' && m.trigger === 'event' && m.view.tasks[0]?.pass === true,
    );
    expect(changed.type === 'lab.state' && changed.view.score).toBe(10);
    c.ws.close();
  });

  it('answers Check, hints, answers and solution requests, and refuses bad ones with stable codes', async () => {
    const c = await client();
    c.send({ type: 'lab.check' });
    await c.next(isError('LAB_ERR_BAD_MESSAGE')); // before hello
    c.send({ type: 'lab.hello', v: LAB_PROTOCOL_VERSION });
    await c.next((m) => m.type === 'lab.state');
    c.send('not json');
    expect(await c.next(isError('LAB_ERR_BAD_MESSAGE'))).toEqual({
      type: 'error',
      code: 'LAB_ERR_BAD_MESSAGE',
      message: 'ignored a malformed message: not JSON',
    });
    c.send({ type: 'lab.hint', task: 'no-such-task' });
    expect(await c.next(isError('LAB_ERR_UNKNOWN_TASK'))).toEqual({
      type: 'error',
      code: 'LAB_ERR_UNKNOWN_TASK',
      message: 'this lab has no task "no-such-task"',
    });
    c.send({ type: 'lab.solution', task: 'attach-the-disk' });
    expect(await c.next(isError('LAB_ERR_SOLUTION_LOCKED'))).toEqual({
      type: 'error',
      code: 'LAB_ERR_SOLUTION_LOCKED',
      message: 'the solution unlocks after 3 more Check attempt(s)',
    });
    c.send({ type: 'lab.hint', task: 'attach-the-disk' });
    const hinted = await c.next((m) => m.type === 'lab.state' && m.trigger === 'hint');
    expect(
      hinted.type === 'lab.state' && hinted.view.tasks.find((t) => t.id === 'attach-the-disk')?.hints,
    ).toEqual(['`xe vbd-create vm-uuid=… vdi-uuid=… device=1`']);
    c.send({ type: 'lab.answer', check: 'nfs-pbds', answer: '3' });
    expect(await c.next((m) => m.type === 'lab.answer.result')).toEqual({
      type: 'lab.answer.result',
      check: 'nfs-pbds',
      correct: true,
      message: 'Correct.',
    });
    c.send({ type: 'lab.check', task: 'attach-the-disk' });
    const checked = await c.next((m) => m.type === 'lab.state' && m.trigger === 'check');
    expect(
      checked.type === 'lab.state' && checked.view.tasks.find((t) => t.id === 'attach-the-disk')?.attempts,
    ).toBe(1);
    c.ws.close();
  });

  it('closes a page that speaks another protocol version', async () => {
    const c = await client();
    const closed = new Promise<number>((r) =>
      c.ws.once('close', (code) => {
        r(code);
      }),
    );
    c.send({ type: 'lab.hello', v: 99 });
    expect(await c.next(isError('LAB_ERR_BAD_VERSION'))).toMatchObject({
      message: 'lab protocol v99 is not supported (gateway speaks v1); reload the page',
    });
    expect(await closed).toBe(4400);
  });
});
