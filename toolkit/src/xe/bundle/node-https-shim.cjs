// Build-time stand-in for `node:https` inside the xe bundle (toolkit/scripts/build-xe.mjs). Loading node:https
// pulls in tls and crypto — the largest part of the bundle's start-up — although `xe` against a lab pool or with
// --nossl never speaks TLS. This stand-in loads the real module on first use: an Agent is only a recipe until a
// request needs it; anything else is forwarded to the real module.
'use strict';
let real;
const load = () => (real ??= require('node:https'));

class Agent {
  constructor(options) {
    this.options = options;
    this.agent = undefined;
  }
  /** The real agent, made on first use. */
  get real() {
    return (this.agent ??= new (load().Agent)(this.options));
  }
  destroy() {
    this.agent?.destroy();
  }
}

/** The real agent for an options object that carries one of ours. */
const unwrap = (o) => (o && o.agent instanceof Agent ? { ...o, agent: o.agent.real } : o);

function request(...args) {
  // request(options[, cb]) or request(url[, options][, cb])
  if (typeof args[0] === 'object' && !(args[0] instanceof globalThis.URL)) args[0] = unwrap(args[0]);
  else if (typeof args[1] === 'object' && args[1] !== null) args[1] = unwrap(args[1]);
  return load().request(...args);
}

function get(...args) {
  const req = request(...args);
  req.end();
  return req;
}

// __esModule false: esbuild's import interop then copies properties lazily instead of touching the real module.
const own = { Agent, request, get, __esModule: false };
module.exports = new Proxy(own, {
  get: (target, key) => (key in target ? target[key] : load()[key]),
  has: (target, key) => key in target || key in load(),
});
