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

function cancelledError() {
  return coreError('cancelled', 'the call was cancelled by the caller (AbortSignal or a stopped stream)');
}

function callNative(fn) {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

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
    const nativeGateway = this.#gateway[FROM_NATIVE]();
    const body = encode(request, 'request');
    const { json, signal } = callOptions(options);
    const stream = typeof request === 'object' && request !== null && request.stream === true;
    if (signal?.aborted) throw cancelledError();
    if (!stream && !signal) {
      try {
        return JSON.parse(await nativeGateway.chat(body, json));
      } catch (e) {
        throw fromNative(e);
      }
    }
    const call = callNative(() => nativeGateway.call(body, json));
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const detach = () => signal?.removeEventListener('abort', onAbort);
    if (!stream) {
      try {
        return JSON.parse(await call.run());
      } catch (e) {
        throw fromNative(e);
      } finally {
        detach();
      }
    }
    let requestId;
    try {
      requestId = await call.open();
    } catch (e) {
      detach();
      throw fromNative(e);
    }
    return new Stream(call, requestId, detach);
  }
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
    /** OpenAI-style namespaces: `gw.chat.completions.create(...)`. */
    this.chat = Object.freeze({ completions: new Completions(this) });
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
  Stream,
  VERSION,
  errorCodes: () => native.errorCodes(),
  ...Object.fromEntries(Object.entries(errors).filter(([name]) => /^[A-Z]/.test(name))),
};
// `import sluicegate from 'sluicegate'` in TypeScript's CommonJS output reads `.default`.
Object.defineProperty(module.exports, 'default', { value: module.exports, enumerable: false });
