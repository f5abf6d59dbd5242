/**
 * The lab channel without the gateway, for grading tests: a WebSocket server attaching each connection to a
 * learner's grader (`attachLabChannel`), pages that say hello and collect what they get, and a throwaway lab
 * folder written from a manifest.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { attachLabChannel } from '../../sandbox/src/grading/channel.js';
import {
  LAB_PROTOCOL_VERSION,
  type LabClientMessage,
  type LabServerMessage,
  type LabView,
} from '../../sandbox/src/protocol/lab.js';

/** A lab channel listening on 127.0.0.1 (port 0). */
export interface LabChannelServer {
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  /** Drops every page and stops listening. */
  close(): Promise<void>;
}

/** Serves the lab channel of one learner's grader (a lab environment, or anything with a `grader`). */
export async function serveLabChannel(
  target: Parameters<typeof attachLabChannel>[1],
): Promise<LabChannelServer> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => attachLabChannel(ws, target));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A `lab.state` as a page got it, with when (`Date.now()`). */
export type ReceivedState = Extract<LabServerMessage, { type: 'lab.state' }> & { readonly received: number };

/** A page on the lab channel: every message it got, the states among them, and a way to send. */
export interface LabPage {
  readonly ws: WebSocket;
  readonly got: LabServerMessage[];
  readonly states: ReceivedState[];
  readonly send: (msg: LabClientMessage) => void;
}

/** Opens a page on the lab channel and says hello (the grader answers with the state). */
export async function openLabPage(url: string): Promise<LabPage> {
  const ws = new WebSocket(url);
  const got: LabServerMessage[] = [];
  const states: ReceivedState[] = [];
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString('utf8')) as LabServerMessage;
    got.push(m);
    if (m.type === 'lab.state') states.push({ ...m, received: Date.now() });
  });
  await new Promise((r) => ws.once('open', r));
  const send = (msg: LabClientMessage) => {
    ws.send(JSON.stringify(msg));
  };
  send({ type: 'lab.hello', v: LAB_PROTOCOL_VERSION });
  return { ws, got, states, send };
}

/** One check's view in a lab view. */
export const checkOf = (view: LabView, id: string) =>
  view.tasks.flatMap((t) => t.checks).find((c) => c.id === id);

/** Waits until `pred` holds, polling every 20 ms; fails naming `what` after `timeoutMs`. */
export async function until(pred: () => boolean, timeoutMs = 10_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`not within ${String(timeoutMs)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Writes a lab folder `<root>/<id>` (lab.yaml, a guide, solve.sh) and returns its path. */
export function writeLab(
  root: string,
  id: string,
  files: { readonly title: string; readonly yaml: string; readonly solve: string },
): string {
  const dir = join(root, id);
  mkdirSync(dir);
  writeFileSync(join(dir, 'guide.mdx'), `---\ntitle: ${files.title}\n---\n`);
  writeFileSync(join(dir, 'solve.sh'), files.solve);
  writeFileSync(join(dir, 'lab.yaml'), files.yaml);
  return dir;
}
