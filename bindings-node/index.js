'use strict';
// sluicegate for Node: an embedded LLM gateway. The core (Rust) does the routing, policies and
// metering; this layer converts values, maps errors to classes and bridges async.

const { fileURLToPath } = require('node:url');
const native = require('./lib/native');
const errors = require('./lib/errors');
const { Stream } = require('./lib/stream');

const { coreError, fromNative } = errors;
const badRequest = (message, cause) => coreError('invalid_request', message, cause);
const invalidConfig = (message, cause) => coreError('invalid_config', message, cause);

const FROM_NATIVE = Symbol('sluicegate.native');

/** JSON text for the core; values JSON cannot carry (BigInt, cycles) are an invalid_request error. */
function encode(value, what, makeError = badRequest) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw makeError(`the ${what} cannot be converted to JSON: ${e.message}`, e);
  }
  return text === undefined ? 'null' : text;
}

function isAbortSignal(signal) {
  return typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function';
}

/** Splits JS call options into the core's JSON options and the AbortSignal. */
function callOptions(options) {
  if (options === undefined || options === null) return { json: 'null', signal: undefined };
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw badRequest('call options must be an object like { tags: { team: "search" }, signal }');
  }
  const { signal, requestId, ...rest } = options;
  if (signal !== undefined && signal !== null && !isAbortSignal(signal)) {
    throw badRequest('option `signal` must be an AbortSignal (for example `new AbortController().signal`)');
  }
  if (requestId !== undefined) {
    if (rest.request_id !== undefined) throw badRequest('pass either `requestId` or `request_id`, not both');
    rest.request_id = requestId;
  }
  return { json: encode(rest, 'call options'), signal: signal ?? undefined };
}

/** Runs a user callback the core triggered; what it throws or rejects becomes a warning. */
function guarded(what, fn) {
  const warn = (e) => process.emitWarning(`sluicegate: ${what} failed: ${e && e.stack ? e.stack : e}`);
  try {
    const result = fn();
    if (result && typeof result.then === 'function') result.then(undefined, warn);
  } catch (e) {
    warn(e);
  }
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

/**
 * Sends the core's log lines (process-wide) to `logger`: anything with debug/info/warn/error
 * methods, such as `console` or a pino logger. Lines below `level` (default 'warn') are not
 * sent. `setLogger(null)` restores the default: warnings and errors on stderr.
 */
function setLogger(logger, options) {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw badRequest('setLogger() options must be an object like { level: "info" }');
  const level = options?.level ?? 'warn';
  if (!LOG_LEVELS.includes(level)) throw badRequest(`unknown log level \`${level}\` (debug, info, warn, error)`);
  if (logger === null || logger === undefined) {
    native.setLogSink(null, level);
    return;
  }
  const missing = LOG_LEVELS.slice(LOG_LEVELS.indexOf(level)).filter((l) => typeof logger[l] !== 'function');
  if (typeof logger !== 'object' && typeof logger !== 'function') throw badRequest('setLogger() needs a logger object (console, pino...) or null');
  if (missing.length > 0) throw badRequest(`the logger has no ${missing.join(', ')} method; pass console, a pino logger, or null`);
  native.setLogSink((lineLevel, message) => guarded('logger', () => logger[lineLevel](message)), level);
}

function callNative(fn) {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * One call through the gateway: `kind` is 'chat' or 'embeddings'. Without a signal a plain
 * call takes the direct native path; otherwise it goes through a cancellable NativeCall.
 */
async function call(gateway, kind, request, options) {
  const nativeGateway = gateway[FROM_NATIVE]();
  const body = encode(request, 'request');
  const { json, signal } = callOptions(options);
  const stream = kind === 'chat' && typeof request === 'object' && request !== null && request.stream === true;
  if (!stream && !signal) {
    try {
      return JSON.parse(await (kind === 'chat' ? nativeGateway.chat(body, json) : nativeGateway.embeddings(body, json)));
    } catch (e) {
      throw fromNative(e);
    }
  }
  const nativeCall = callNative(() => nativeGateway.call(body, json));
  const onAbort = () => nativeCall.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort(); // the core then fails the call at once, sending nothing
  const detach = () => signal?.removeEventListener('abort', onAbort);
  if (!stream) {
    try {
      return JSON.parse(await (kind === 'chat' ? nativeCall.run() : nativeCall.runEmbeddings()));
    } catch (e) {
      throw fromNative(e);
    } finally {
      detach();
    }
  }
  let requestId;
  try {
    requestId = await nativeCall.open();
  } catch (e) {
    detach();
    throw fromNative(e);
  }
  return new Stream(nativeCall, requestId, detach, signal);
}

/** `gateway.chat.completions` */
class Completions {
  #gateway;
  constructor(gateway) {
    this.#gateway = gateway;
  }

  /**
   * A chat completion through the gateway. `model` names a route (or deployment) from the
   * config. With `stream: true` it resolves to an async iterable of chunks.
   */
  async create(request, options) {
    return call(this.#gateway, 'chat', request, options);
  }
}

/** `gateway.embeddings` */
class Embeddings {
  #gateway;
  constructor(gateway) {
    this.#gateway = gateway;
  }

  /** Embeddings through the gateway, routed like chat; `model` names a route. */
  async create(request, options) {
    return call(this.#gateway, 'embeddings', request, options);
  }
}

// Gateways still open when the process exits are closed then, so that each writes the `close`
// record of its audit log (a log whose end lacks it is reported as possibly cut). Weak: a
// gateway the program dropped is not kept alive by this list.
const openGateways = new Set();
function closeAtExit(native) {
  if (openGateways.size === 0) {
    process.once('exit', () => {
      for (const ref of openGateways) ref.deref()?.close();
    });
  }
  if (openGateways.size >= 64) {
    for (const ref of openGateways) if (ref.deref() === undefined) openGateways.delete(ref);
  }
  openGateways.add(new WeakRef(native));
}

class Gateway {
  #native;

  /**
   * @param {{config: object | string}} options `config` is the gateway config as an object,
   *   or as YAML or JSON text. To read a file, use `await Gateway.fromFile(path)`.
   */
  constructor(options) {
    if (options !== null && typeof options === 'object' && options[FROM_NATIVE]) {
      this.#native = options[FROM_NATIVE];
    } else {
      this.#native = Gateway.#build(options);
    }
    closeAtExit(this.#native);
    /** OpenAI-style namespaces: `gw.chat.completions.create(...)`, `gw.embeddings.create(...)`. */
    this.chat = Object.freeze({ completions: new Completions(this) });
    this.embeddings = new Embeddings(this);
  }

  static #build(options) {
    const usage = 'pass `new Gateway({ config })` with a config object or YAML/JSON text, or use `await Gateway.fromFile(path)`';
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw invalidConfig(`Gateway options must be an object; ${usage}`);
    }
    const { config, ...rest } = options;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) {
      throw invalidConfig(`unknown Gateway option \`${unknown[0]}\` (known options: config); ${usage}`);
    }
    if (typeof config === 'string') return callNative(() => native.NativeGateway.fromText(config));
    if (config !== null && typeof config === 'object' && !Array.isArray(config)) {
      const text = encode(config, 'config', invalidConfig);
      return callNative(() => native.NativeGateway.fromJson(text));
    }
    throw invalidConfig(`\`config\` must be an object or YAML/JSON text, not ${config === null ? 'null' : typeof config}; ${usage}`);
  }

  /** Reads a YAML or JSON config file (a path or a file: URL). */
  static async fromFile(path) {
    if (path instanceof URL) path = fileURLToPath(path);
    if (typeof path !== 'string') {
      throw invalidConfig('Gateway.fromFile() needs a file path (a string or a file: URL)');
    }
    try {
      return new Gateway({ [FROM_NATIVE]: await native.gatewayFromFile(path) });
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Which deployment would serve a call to `model` with these options, and why each candidate
   * is kept or skipped. Makes no call.
   * @param {string} model
   * @param {{tags?: object, key?: string, promptTokens?: number}} [options]
   */
  explain(model, options) {
    if (typeof model !== 'string') throw badRequest('explain() needs the `model` (a route name) as a string');
    if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
      throw badRequest('explain() options must be an object like { tags: { team: "search" }, promptTokens: 500 }');
    }
    const { promptTokens, prompt_tokens, ...rest } = options ?? {};
    if (promptTokens !== undefined && prompt_tokens !== undefined) throw badRequest('pass either `promptTokens` or `prompt_tokens`, not both');
    const tokens = promptTokens ?? prompt_tokens ?? null; // null: the core's default
    if (tokens !== null && (!Number.isSafeInteger(tokens) || tokens < 0)) throw badRequest('`promptTokens` must be a whole number of tokens, 0 or more');
    const json = encode(rest, 'explain options');
    return JSON.parse(callNative(() => this.#native.explain(model, json, tokens)));
  }

  /**
   * Requests, errors, tokens, cost and latency percentiles of the calls this gateway made,
   * grouped by `groupBy` (key, team, user, route, deployment, provider, model, `tag:NAME`).
   * `since` is a Date, unix seconds, a date string ("2026-11-01") or a duration ago ("1h").
   * @param {{groupBy?: string | string[], since?: Date | number | string}} [query]
   */
  usage(query) {
    if (query !== undefined && query !== null && (typeof query !== 'object' || Array.isArray(query))) {
      throw badRequest('usage() takes an object like { groupBy: ["team"], since: "1h" }');
    }
    const { groupBy, since, ...rest } = query ?? {};
    if (groupBy !== undefined) {
      if (rest.group_by !== undefined) throw badRequest('pass either `groupBy` or `group_by`, not both');
      rest.group_by = groupBy;
    }
    if (since !== undefined) rest.since = since instanceof Date ? since.getTime() / 1000 : since;
    const unknown = Object.keys(rest).find((k) => k !== 'group_by' && k !== 'since');
    if (unknown !== undefined) throw badRequest(`unknown usage() option \`${unknown}\` (known: groupBy, since)`);
    return JSON.parse(callNative(() => this.#native.usage(encode(rest, 'usage query'))));
  }

  /**
   * Calls `hook(event)` after every call of this gateway (success or failure), off the request
   * path: route, deployment, outcome, error, tags, usage, cost_usd, latency_ms... A hook that
   * throws (or rejects) is reported with process.emitWarning and never affects a call.
   * @param {(event: object) => unknown} hook
   */
  onRequestEnd(hook) {
    if (typeof hook !== 'function') throw badRequest('onRequestEnd() needs a function, called with each finished call');
    callNative(() => this.#native.onRequestEnd((json) => guarded('onRequestEnd hook', () => hook(JSON.parse(json)))));
  }

  /** The gateway's metrics in the Prometheus text format, for your `/metrics` endpoint. */
  metricsText() {
    return callNative(() => this.#native.metricsText());
  }

  /** Refuses new calls from now on. Calls and streams already running finish normally. */
  async close() {
    this.#native.close();
  }

  async [Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')]() {
    await this.close();
  }

  /** Whether close() has been called. */
  get closed() {
    return this.#native.closed;
  }

  /** @internal */
  [FROM_NATIVE]() {
    return this.#native;
  }
}

/** The library version (the same in every language). */
const VERSION = native.version();

module.exports = {
  Gateway,
  Completions,
  Embeddings,
  Stream,
  VERSION,
  setLogger,
  errorCodes: () => native.errorCodes(),
  ...Object.fromEntries(Object.entries(errors).filter(([name]) => /^[A-Z]/.test(name))),
};
// `import sluicegate from 'sluicegate'` in TypeScript's CommonJS output reads `.default`.
Object.defineProperty(module.exports, 'default', { value: module.exports, enumerable: false });
