/**
 * Test support for behaviour unit tests: a real engine and store (core's), built from a scenario, with helpers to
 * call methods the way a client does and to capture API errors. Not used at runtime.
 */
import { XapiFailure } from '../contract.js';
import type { SimContext, SimRecord } from '../contract.js';
import type { Engine } from '../engine.js';
import { Simulator } from '../index.js';
import { DEFAULT_SCENARIO, parseScenario, type ScenarioInput } from '../scenario.js';
import { behaviours } from './index.js';

/** A simulated world for a test. */
export interface TestWorld {
  readonly engine: Engine;
  readonly session: string;
  /** A behaviour context (no session, no task), as the control API gets. */
  readonly ctx: SimContext;
  /** Calls `method` with the session prepended; returns the value or throws the XapiFailure. */
  call(method: string, ...args: unknown[]): Promise<unknown>;
  /** Calls `method` expecting an API error; returns `[code, ...params]` (fails the test if the call succeeds). */
  fails(method: string, ...args: unknown[]): Promise<string[]>;
  /** The ref of the object of `cls` with this name_label. */
  byName(cls: string, name: string): string;
  /** The live record. */
  get(cls: string, ref: string): Readonly<SimRecord>;
  close(): void;
}

/** Plain test values to the wire's loose form (structs are Maps), as the XML-RPC decoder would hand them over. */
function toLoose(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toLoose);
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Map)) {
    return new Map(Object.entries(v).map(([k, x]) => [k, toLoose(x)]));
  }
  return v;
}

/** Builds a world from a scenario (the built-in three-host pool by default), in fast mode. */
export async function createTestWorld(input: ScenarioInput = DEFAULT_SCENARIO): Promise<TestWorld> {
  const sim = new Simulator(parseScenario(input), 'behaviour-tests', behaviours, {
    user: 'root',
    password: 'xenlab',
    fast: true,
  });
  await sim.build();
  const engine = sim.engine;
  const ctx: SimContext = engine.context();
  const login = await engine.call('session.login_with_password', ['root', 'xenlab']);
  if (!login.ok) throw new Error(`login failed: ${login.code}`);
  const session = login.value as string;
  const call = async (method: string, ...args: unknown[]): Promise<unknown> => {
    const r = await engine.call(method, [session, ...(args.map(toLoose) as never[])]);
    if (!r.ok) throw new XapiFailure(r.code, r.params);
    return r.value;
  };
  return {
    engine,
    session,
    ctx,
    call,
    async fails(method, ...args) {
      const r = await engine.call(method, [session, ...(args.map(toLoose) as never[])]);
      if (r.ok) throw new Error(`${method} succeeded but an error was expected`);
      return [r.code, ...r.params];
    },
    byName(cls, name) {
      const hit = engine.store.all(cls).find(([, r]) => r.name_label === name);
      if (!hit) throw new Error(`no ${cls} named ${name}`);
      return hit[0];
    },
    get: (cls, ref) => engine.store.get(cls, ref),
    close: () => {
      engine.close();
    },
  };
}
