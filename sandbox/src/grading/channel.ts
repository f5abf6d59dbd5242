/**
 * The lab channel: one WebSocket per lab page, speaking `protocol/lab.ts`. The gateway authenticates the upgrade
 * (ticket, origin, host) and hands the socket and the learner's environment here.
 * @module
 */
import type { WebSocket } from 'ws';
import { XenlabError } from '../errors/index.js';
import { CLOSE } from '../protocol/index.js';
import { LAB_PROTOCOL_VERSION, LabChannelError, parseLabClientMessage } from '../protocol/lab.js';
import type { FaultsView, LabClientMessage, LabServerMessage, StepsView, Trigger } from '../protocol/lab.js';
import type { Grader } from './engine.js';
import { GradingRequestError } from './engine.js';

const HELLO_TIMEOUT_MS = 10_000;

/**
 * The lab's faults as the channel needs them (lab-runtime's fault player): the buttons and what fired, for each
 * state sent; the learner pressing a button; a fault firing (the page gets a `lab.state` with trigger `fault`).
 */
export interface LabFaultControl {
  view(): FaultsView | undefined;
  /** Rejects with a `XenlabError` whose code the page gets (`LAB_ERR_UNKNOWN_FAULT`, `LAB_ERR_FAULT_FIRED`…). */
  press(id: string): Promise<void>;
  onChange(listener: () => void): () => void;
}

/**
 * Reset and skip (lab-runtime's steps): the pool and files back to a task's start, or the earlier tasks' solutions
 * applied. Each rejects with a `XenlabError` whose code the page gets (`LAB_ERR_RESET_UNAVAILABLE`,
 * `LAB_ERR_SKIP_FAILED`, `LAB_ERR_STEP_BUSY`…); the grader publishes the new state.
 */
export interface LabStepControl {
  view(): StepsView;
  reset(task: string): Promise<void>;
  skip(task: string): Promise<void>;
  /** Called when what `view` says changed (a reset or skip began or ended, a checkpoint was saved). */
  onChange(listener: (trigger: Trigger) => void): () => void;
}

/** What the channel serves: a learner's grader, and the lab's faults and steps when it has them. */
export interface LabChannelTarget {
  readonly grader: Grader;
  readonly faults?: LabFaultControl;
  readonly steps?: LabStepControl;
}

/**
 * Speaks the lab protocol on an accepted WebSocket: after `lab.hello` it sends the current state, then every
 * change (pushed as the grader sees it, and as the lab's faults fire: `lab.state.faults`), and answers Check presses,
 * hint and solution requests, answers, fault buttons (`lab.fault`), resets and skips (`lab.reset`, `lab.skip`, through
 * the environment's steps), the mode (`lab.mode`) and Run presses on solutions (`lab.ran`).
 * While the channel is open it counts as a page watching the grader (`Grader.watch`): a grader nobody watches
 * polls nothing and spawns no script checks.
 * Malformed or refused requests get an `error` message; the channel and the grader carry on. Returns a function
 * that detaches (the socket's close does it too).
 * @example
 * wss.handleUpgrade(req, socket, head, (ws) => attachLabChannel(ws, env));
 */
export function attachLabChannel(
  ws: WebSocket,
  envOrPending: LabChannelTarget | Promise<LabChannelTarget>,
): () => void {
  // The environment may still be coming up (the page opens the channel and its terminals at once): messages
  // wait for it, in order.
  const ready = Promise.resolve(envOrPending);
  const channel = new LabChannel(ws);
  ready.then(
    (env) => {
      channel.target = env;
    },
    (e: unknown) => {
      channel.send({
        type: 'error',
        code: LabChannelError.GRADER_FAILED,
        message: `the lab did not start: ${(e as Error).message}`,
      });
      ws.close(1011, 'lab failed');
    },
  );
  ws.on('message', (data, isBinary) => {
    // A hello counts when it arrives, not when the environment is up: a lab on a slow driver (a nested Xen host
    // boots for tens of seconds) must not have its page closed for "no hello".
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const text = isBinary ? undefined : buf.toString('utf8');
    if (text !== undefined && /"type"\s*:\s*"lab\.hello"/.test(text)) channel.helloArrived();
    void ready.then(
      (env) => {
        channel.handle(env, text);
      },
      () => undefined,
    );
  });
  const detach = () => {
    channel.detach();
  };
  ws.on('close', detach);
  return detach;
}

/** One page's lab channel: its state pushes, its subscriptions, and what each client message does. */
class LabChannel {
  target: LabChannelTarget | undefined;
  #seq = 0;
  #hello = false;
  readonly #helloTimer: NodeJS.Timeout;
  /** Subscriptions to the grader, faults and steps, and this page watching the grader (while any page does, it
   * polls and runs script checks). */
  #subscriptions: (() => void)[] = [];

  constructor(private readonly ws: WebSocket) {
    this.#helloTimer = setTimeout(() => {
      if (!this.#hello) ws.close(CLOSE.PROTOCOL, 'no hello');
    }, HELLO_TIMEOUT_MS);
  }

  send(msg: LabServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  helloArrived(): void {
    clearTimeout(this.#helloTimer);
  }

  detach(): void {
    clearTimeout(this.#helloTimer);
    for (const off of this.#subscriptions.splice(0)) off();
  }

  #sendState(trigger: Trigger, at = Date.now()): void {
    const env = this.target;
    if (!env) return;
    const f = env.faults?.view();
    const st = env.steps?.view();
    this.send({
      type: 'lab.state',
      v: LAB_PROTOCOL_VERSION,
      view: env.grader.view(),
      trigger,
      seq: ++this.#seq,
      at,
      ...(f === undefined ? {} : { faults: f }),
      ...(st === undefined ? {} : { steps: st }),
    });
  }

  readonly #fail = (e: unknown): void => {
    if (e instanceof GradingRequestError || e instanceof XenlabError)
      this.send({ type: 'error', code: e.code, message: e.message });
    else
      this.send({
        type: 'error',
        code: LabChannelError.GRADER_FAILED,
        message: `grading failed: ${(e as Error).message}`,
      });
  };

  /** Runs a synchronous grader action; a refusal becomes an `error` message. */
  #try(action: () => void): void {
    try {
      action();
    } catch (e) {
      this.#fail(e);
    }
  }

  handle(env: LabChannelTarget, text: string | undefined): void {
    if (text === undefined) {
      this.send({
        type: 'error',
        code: LabChannelError.BAD_MESSAGE,
        message: 'the lab channel takes text frames only',
      });
      return;
    }
    const parsed = parseLabClientMessage(text);
    if (!parsed.ok) {
      this.send({
        type: 'error',
        code: LabChannelError.BAD_MESSAGE,
        message: `ignored a malformed message: ${parsed.error}`,
      });
      return;
    }
    const msg = parsed.value;
    if (msg.type === 'ping') this.send({ type: 'pong', t: msg.t });
    else if (msg.type === 'lab.hello') this.#onHello(env, msg.v);
    else if (!this.#hello)
      this.send({ type: 'error', code: LabChannelError.BAD_MESSAGE, message: 'say lab.hello first' });
    else this.#dispatch(env, msg);
  }

  #onHello({ grader, faults, steps }: LabChannelTarget, v: number): void {
    if (v !== LAB_PROTOCOL_VERSION) {
      this.send({
        type: 'error',
        code: LabChannelError.BAD_VERSION,
        message: `lab protocol v${String(v)} is not supported (gateway speaks v${String(LAB_PROTOCOL_VERSION)}); reload the page`,
      });
      this.ws.close(CLOSE.PROTOCOL, 'bad version');
      return;
    }
    if (this.#hello) return;
    this.#hello = true;
    clearTimeout(this.#helloTimer);
    this.#subscriptions.push(
      grader.onChange((_view, trigger, at) => {
        this.#sendState(trigger, at);
      }),
    );
    // A fault fired (a timer, a task, a button on this page or another): the page lists it.
    const offFaults = faults?.onChange(() => {
      this.#sendState('fault');
    });
    if (offFaults) this.#subscriptions.push(offFaults);
    // A reset or skip began or ended (on this page or another), a checkpoint was saved: the panel's buttons follow.
    const offSteps = steps?.onChange((trigger) => {
      this.#sendState(trigger);
    });
    if (offSteps) this.#subscriptions.push(offSteps);
    this.#sendState('initial');
    // After the state above: the grader resumes (if nobody watched) and pushes what it finds at once.
    if (this.ws.readyState === this.ws.OPEN) this.#subscriptions.push(grader.watch());
  }

  #dispatch({ grader, faults, steps }: LabChannelTarget, msg: LabClientMessage): void {
    switch (msg.type) {
      case 'lab.check':
        // The grader publishes the new state to every listener (this socket included).
        grader.check(msg.task).catch(this.#fail);
        return;
      case 'lab.hint':
        this.#try(() => grader.hint(msg.task));
        return;
      case 'lab.solution':
        this.#try(() => grader.solution(msg.task));
        return;
      case 'lab.answer':
        grader
          .answer(msg.check, msg.answer)
          .then((r) => {
            this.send({
              type: 'lab.answer.result',
              check: msg.check,
              correct: r.correct,
              message: r.message,
            });
          })
          .catch(this.#fail);
        return;
      case 'lab.fault':
        // Only faults with a button can be fired from the page; the new state reaches every page when it fired.
        if (!faults) {
          this.send({
            type: 'error',
            code: LabChannelError.UNKNOWN_FAULT,
            message: `this lab has no fault button "${msg.fault}"`,
          });
          return;
        }
        faults.press(msg.fault).catch(this.#fail);
        return;
      case 'lab.reset':
      case 'lab.skip':
        if (!steps) {
          this.send({
            type: 'error',
            code: msg.type === 'lab.reset' ? LabChannelError.RESET_UNAVAILABLE : LabChannelError.SKIP_FAILED,
            message: 'this lab cannot reset or skip here',
          });
          return;
        }
        (msg.type === 'lab.reset' ? steps.reset(msg.task) : steps.skip(msg.task)).catch(this.#fail);
        return;
      case 'lab.mode':
        this.#try(() => grader.setMode(msg.mode));
        return;
      case 'lab.ran':
        this.#try(() => grader.ran(msg.task));
        return;
      default:
        return;
    }
  }
}
