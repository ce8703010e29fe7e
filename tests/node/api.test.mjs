// The Node API beyond the vectors: loading (ESM and CommonJS), error classes, cancellation
// reaching upstream, bad JS types, secrets, concurrency and close().

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { cpSync, mkdtempSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as sg from '../../bindings-node/index.mjs';
import { ROOT, SLUICEGATE_BIN, startMockServer, eventually } from './helpers.mjs';

const require = createRequire(import.meta.url);
const PKG = join(ROOT, 'bindings-node');
const { Gateway, GatewayError } = sg;

const hi = (model = 'chat', extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

const MOCK_CONFIG = {
  providers: { local: { type: 'mock', latency: '5ms' } },
  deployments: { mini: { provider: 'local', model: 'gpt-4o-mini' } },
  routes: { chat: { targets: ['mini'] } },
};

/** A config whose routes go to the mock HTTP server at `url` (one route per scripted model). */
function httpConfig(url, apiKey = 'sk-test-0000') {
  const models = ['fast', 'slow', 'chunky', 'flaky'];
  return {
    providers: { oai: { type: 'openai', api_base: `${url}/v1`, api_key: apiKey } },
    deployments: Object.fromEntries(models.map((m) => [m, { provider: 'oai', model: m }])),
    routes: Object.fromEntries(models.map((m) => [m, { targets: [m] }])),
  };
}

const SCRIPT = {
  fast: [{ reply: 'quick' }],
  slow: [{ delay: '5s' }],
  chunky: [{ reply: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '), chunk_delay: '50ms' }],
  flaky: [{ status: 503, error: 'overloaded (scripted)' }],
};

describe('loading', () => {
  test('CommonJS and ESM entry points share one module instance', async () => {
    const cjs = require(PKG);
    const esm = await import(pathToFileURL(join(PKG, 'index.mjs')).href);
    assert.equal(esm.Gateway, cjs.Gateway);
    assert.equal(esm.GatewayError, cjs.GatewayError);
    assert.equal(esm.default, cjs);
    assert.equal(cjs.default, cjs);
    assert.match(cjs.VERSION, /^\d+\.\d+\.\d+/);
    // An error thrown through one entry point is an instance of the other's class.
    assert.throws(() => new cjs.Gateway({ config: 'providers: [' }), esm.InvalidConfigError);
  });

  test('a missing native binary gives an error that says what was tried and how to fix it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluicegate-nobin-'));
    try {
      cpSync(join(PKG, 'index.js'), join(dir, 'index.js'));
      cpSync(join(PKG, 'lib'), join(dir, 'lib'), { recursive: true });
      const probe = "try { require('./index.js'); console.log('loaded'); } catch (e) { console.log(e.message); }";
      const missing = spawnSync(process.execPath, ['-e', probe], { cwd: dir, encoding: 'utf8', env: { ...process.env, SLUICEGATE_NATIVE: '' } });
      assert.match(missing.stdout, /no native binary for/);
      assert.match(missing.stdout, new RegExp(`sluicegate-${process.platform}-${process.arch}`));
      assert.match(missing.stdout, /npm run build/);
      // SLUICEGATE_NATIVE points the loader at a binary elsewhere.
      const addon = readdirSync(PKG).find((f) => f.endsWith('.node'));
      const found = spawnSync(process.execPath, ['-e', probe], { cwd: dir, encoding: 'utf8', env: { ...process.env, SLUICEGATE_NATIVE: join(PKG, addon) } });
      assert.equal(found.stdout.trim(), 'loaded');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the package.json exports map resolves both conditions', () => {
    const pkg = require(join(PKG, 'package.json'));
    assert.equal(pkg.exports['.'].require, './index.js');
    assert.equal(pkg.exports['.'].import, './index.mjs');
    assert.equal(pkg.exports['.'].types, './index.d.ts');
    assert.equal(pkg.main, 'index.js');
    assert.equal(pkg.napi.binaryName, 'sluicegate');
  });
});

describe('errors', () => {
  const errors = require(join(PKG, 'lib', 'errors.js'));

  test('every core error code maps to its own GatewayError subclass', () => {
    const codes = sg.errorCodes();
    assert.equal(codes.length, 14);
    const seen = new Set();
    for (const code of codes) {
      const cls = errors.classes[code];
      assert.ok(cls, `no error class for code ${code}`);
      assert.notEqual(cls, GatewayError, code);
      assert.equal(cls.code, code);
      assert.equal(sg[cls.name], cls, `${cls.name} is not exported`);
      assert.ok(!seen.has(cls), `${cls.name} is used twice`);
      seen.add(cls);
      const e = new cls('boom', { status: 418, retryable: true, retryAfter: 2, requestId: 'r-1' });
      assert.ok(e instanceof GatewayError && e instanceof Error);
      assert.equal(e.name, cls.name);
      assert.equal(e.code, code);
      assert.deepEqual(
        { status: e.status, retryable: e.retryable, retryAfter: e.retryAfter, requestId: e.requestId },
        { status: 418, retryable: true, retryAfter: 2, requestId: 'r-1' },
      );
    }
    // Nothing else is mapped: the JS side has no class for a code the core does not know.
    assert.deepEqual(Object.keys(errors.classes).sort(), [...codes].sort());
  });

  test('a native rejection of every code becomes its class, with every field', () => {
    for (const code of sg.errorCodes()) {
      const json = { code, message: `m-${code}`, status_code: 502, retryable: true, retry_after: 1.5, request_id: 'sg-1', problems: ['a: b'] };
      const e = errors.fromNative(new Error(`sluicegate-error-json:${JSON.stringify(json)}`));
      assert.ok(e instanceof errors.classes[code], code);
      assert.deepEqual(e.toJSON(), json);
      assert.equal(e.message, `m-${code}`);
    }
    const other = new TypeError('not ours');
    assert.equal(errors.fromNative(other), other);
  });

  test('openai-node names and the timeout/connection relation', () => {
    assert.ok(new sg.APIConnectionTimeoutError('t') instanceof sg.APIConnectionError);
    assert.equal(sg.RateLimitError.code, 'rate_limited');
    assert.equal(sg.BadRequestError.code, 'invalid_request');
    assert.equal(sg.InternalServerError.code, 'internal');
  });

  test('a config error lists its problems and names the path', () => {
    const config = { providers: { local: { type: 'mock' } }, deployments: { d: { provider: 'locl', model: 'm' } }, routes: { chat: { targets: ['d'] } } };
    const e = (() => { try { new Gateway({ config }); } catch (x) { return x; } })();
    assert.ok(e instanceof sg.InvalidConfigError, inspect(e));
    assert.equal(e.code, 'invalid_config');
    assert.match(e.message, /deployments\.d\.provider/);
    assert.match(e.message, /local/); // the near miss
    assert.ok(e.problems.length >= 1);
  });
});

describe('over HTTP (mock-provider process)', () => {
  let server;
  let gw;
  before(async () => {
    server = await startMockServer(SCRIPT);
    gw = new Gateway({ config: httpConfig(server.url) });
  });
  after(async () => {
    await gw?.close();
    await server?.stop();
  });

  test('errors from real calls carry kind, status, retryable and request id', async () => {
    const e = await gw.chat.completions.create(hi('flaky'), { requestId: 'mine-1' }).catch((x) => x);
    assert.ok(e instanceof sg.ProviderError, inspect(e));
    assert.ok(e instanceof GatewayError);
    assert.equal(e.code, 'provider_error');
    assert.equal(e.status, 503);
    assert.equal(e.requestId, 'mine-1');
    assert.match(e.stack, /ProviderError/);
    const nf = await gw.chat.completions.create(hi('nope')).catch((x) => x);
    assert.ok(nf instanceof sg.NotFoundError);
    assert.equal(nf.status, 404);
  });

  test('an AbortSignal cancels a plain call and the upstream request', async () => {
    const before = await server.stats();
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 150);
    const e = await gw.chat.completions.create(hi('slow'), { signal: ac.signal }).catch((x) => x);
    assert.ok(e instanceof sg.CancelledError, inspect(e));
    assert.equal(e.code, 'cancelled');
    assert.ok(Date.now() - started < 2000, 'the call did not stop at the abort');
    // The server saw the request and then lost it: nothing is left in flight long before its 5 s delay.
    assert.ok(await eventually(async () => (await server.stats()).in_flight === 0, 2000), 'upstream request still in flight');
    const after = await server.stats();
    assert.equal(after.by_model.slow - (before.by_model.slow ?? 0), 1);
    assert.ok(Date.now() - started < 3000);
  });

  test('an already aborted signal fails at once and sends nothing', async () => {
    const before = await server.stats();
    const e = await gw.chat.completions.create(hi('fast'), { signal: AbortSignal.abort() }).catch((x) => x);
    assert.ok(e instanceof sg.CancelledError);
    const s = await gw.chat.completions.create(hi('chunky', { stream: true }), { signal: AbortSignal.abort() }).catch((x) => x);
    assert.ok(s instanceof sg.CancelledError);
    assert.equal((await server.stats()).requests, before.requests);
  });

  test('an abort after the call finished is harmless', async () => {
    const ac = new AbortController();
    const r = await gw.chat.completions.create(hi('fast'), { signal: ac.signal });
    ac.abort();
    assert.equal(r.choices[0].message.content, 'quick');
    await new Promise((res) => setTimeout(res, 20));
  });

  test('break out of for-await cancels the upstream stream', async () => {
    const before = await server.stats();
    const stream = await gw.chat.completions.create(hi('chunky', { stream: true }));
    let n = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (++n === 3) break;
    }
    assert.ok(
      await eventually(async () => {
        const s = await server.stats();
        return s.disconnects === before.disconnects + 1 && s.in_flight === 0;
      }),
      `no disconnect seen: ${JSON.stringify(await server.stats())}`,
    );
    assert.equal((await server.stats()).completed_streams, before.completed_streams);
    // A stream is read once.
    await assert.rejects(async () => { for await (const _ of stream); }, sg.BadRequestError);
  });

  test('an AbortSignal during a stream ends the loop with CancelledError and cancels upstream', async () => {
    const before = await server.stats();
    const ac = new AbortController();
    const stream = await gw.chat.completions.create(hi('chunky', { stream: true }), { signal: ac.signal });
    let n = 0;
    const e = await (async () => {
      for await (const _ of stream) if (++n === 2) ac.abort();
    })().catch((x) => x);
    assert.ok(e instanceof sg.CancelledError, inspect(e));
    assert.ok(n >= 2 && n < 10, `read ${n} chunks`);
    assert.ok(await eventually(async () => {
      const s = await server.stats();
      return s.disconnects === before.disconnects + 1 && s.in_flight === 0;
    }), JSON.stringify(await server.stats()));
  });

  test('an abort before the stream is read drops it upstream at once', async () => {
    const before = await server.stats();
    const ac = new AbortController();
    const stream = await gw.chat.completions.create(hi('chunky', { stream: true }), { signal: ac.signal });
    ac.abort();
    assert.ok(await eventually(async () => {
      const s = await server.stats();
      return s.disconnects === before.disconnects + 1 && s.in_flight === 0;
    }), JSON.stringify(await server.stats()));
    await assert.rejects(async () => { for await (const _ of stream); }, sg.CancelledError);
  });

  test('stream.controller.abort() stops a stream', async () => {
    const before = await server.stats();
    const stream = await gw.chat.completions.create(hi('chunky', { stream: true }));
    const chunks = [];
    const e = await (async () => {
      for await (const c of stream) {
        chunks.push(c);
        if (chunks.length === 2) stream.controller.abort();
      }
    })().catch((x) => x);
    assert.ok(e instanceof sg.CancelledError, inspect(e));
    assert.ok(await eventually(async () => (await server.stats()).disconnects === before.disconnects + 1));
  });

  test('a stream read to the end exposes gateway metadata and completes upstream', async () => {
    const before = await server.stats();
    const stream = await gw.chat.completions.create(hi('fast', { stream: true }), { tags: { team: 'search' } });
    assert.equal(stream.gateway, null);
    assert.match(stream.requestId, /^sg-/);
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'quick');
    assert.equal(stream.gateway.route, 'fast');
    assert.equal(stream.gateway.request_id, stream.requestId);
    assert.deepEqual(stream.gateway.tags, { team: 'search' });
    assert.ok(await eventually(async () => (await server.stats()).completed_streams === before.completed_streams + 1));
  });

  test('32 concurrent calls over HTTP all succeed, each with its own request id', async () => {
    const calls = Array.from({ length: 32 }, (_, i) =>
      gw.chat.completions.create(hi('fast'), { requestId: `c-${i}`, tags: { i: String(i) } }));
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      assert.equal(r.gateway.request_id, `c-${i}`);
      assert.equal(r.gateway.tags.i, String(i));
      assert.equal(r.choices[0].message.content, 'quick');
    });
  });

  test('concurrent streams and plain calls interleave', async () => {
    const streams = await Promise.all(Array.from({ length: 8 }, () => gw.chat.completions.create(hi('fast', { stream: true }))));
    const texts = await Promise.all(streams.map(async (s) => {
      let t = '';
      for await (const c of s) t += c.choices[0]?.delta?.content ?? '';
      return t;
    }));
    assert.deepEqual(texts, Array(8).fill('quick'));
  });
});

describe('secrets', () => {
  const SECRET = 'sk-live-SECRET-node-9f8e7d6c5b4a';

  test('a provider 401 never shows the key (message, stack, JSON, inspect)', async () => {
    const server = await startMockServer({}, 'sk-the-right-key');
    try {
      const gw = new Gateway({ config: httpConfig(server.url, SECRET) });
      const e = await gw.chat.completions.create(hi('fast')).catch((x) => x);
      assert.ok(e instanceof sg.AuthenticationError, inspect(e));
      assert.equal(e.status, 401);
      for (const text of [e.message, e.stack, JSON.stringify(e), inspect(e, { depth: 5 }), String(e)]) {
        assert.ok(!text.includes(SECRET) && !text.includes('SECRET-node'), text);
      }
      const s = await gw.chat.completions.create(hi('fast', { stream: true })).catch((x) => x);
      assert.ok(s instanceof sg.AuthenticationError);
      assert.ok(!s.message.includes('SECRET-node'));
    } finally {
      await server.stop();
    }
  });

  test('a config error does not echo the key', () => {
    const e = (() => {
      try {
        new Gateway({ config: { providers: { oai: { type: 'openai', api_key: SECRET, api_bsae: 'x' } }, deployments: {}, routes: {} } });
      } catch (x) {
        return x;
      }
    })();
    assert.ok(e instanceof sg.InvalidConfigError);
    assert.match(e.message, /api_base/);
    assert.ok(!JSON.stringify(e).includes('SECRET-node') && !e.message.includes('SECRET-node'));
  });
});

describe('bad JS types give clear errors, never a crash', () => {
  const gw = new Gateway({ config: MOCK_CONFIG });
  const circular = hi();
  circular.self = circular;

  const badRequests = [
    ['undefined', undefined, /request must be a JSON object/],
    ['a string', 'hello', /request must be a JSON object/],
    ['a number', 42, /request must be a JSON object/],
    ['an array', [1, 2], /request must be a JSON object/],
    ['a numeric model', { model: 1, messages: [{ role: 'user', content: 'x' }] }, /`model` must be a non-empty string/],
    ['messages as an object', { model: 'chat', messages: { role: 'user' } }, /`messages` must be a list/],
    ['a non-boolean stream', hi('chat', { stream: 'yes' }), /`stream` must be true or false/],
    ['a BigInt', hi('chat', { max_tokens: 10n }), /cannot be converted to JSON.*BigInt/],
    ['a cycle', circular, /cannot be converted to JSON.*circular/i],
  ];
  for (const [what, request, message] of badRequests) {
    test(`request: ${what}`, async () => {
      const e = await gw.chat.completions.create(request).catch((x) => x);
      assert.ok(e instanceof sg.BadRequestError, `${what}: ${inspect(e)}`);
      assert.equal(e.code, 'invalid_request');
      assert.match(e.message, message);
    });
  }

  const badOptions = [
    ['a string', 'fast', /call options must be an object/],
    ['an array', [], /call options must be an object/],
    ['tags as a string', { tags: 'team' }, /option `tags`/],
    ['a nested tag', { tags: { team: { a: 1 } } }, /tag `team` must be a string/],
    ['a negative timeout', { timeout: -1 }, /option `timeout`/],
    ['a bad duration', { timeout: 'soon' }, /option `timeout`/],
    ['a numeric requestId', { requestId: 5 }, /request_id/],
    ['requestId and request_id', { requestId: 'a', request_id: 'b' }, /either `requestId` or `request_id`/],
    ['a non-signal', { signal: 'stop' }, /option `signal` must be an AbortSignal/],
    ['an unknown option', { maxRetries: 2 }, /unknown call option `maxRetries`/],
    // Huge but finite numbers once overflowed Duration arithmetic in the core (a panic, which
    // would abort the process): each is a plain BadRequestError now.
    ['a timeout of 1e300 seconds', { timeout: 1e300 }, /option `timeout`.*longest/],
    ['a timeout of 1e21s', { timeout: '1000000000000000000000s' }, /option `timeout`.*longest/],
    ['a cache ttl of 1e300 seconds', { cache: { ttl: 1e300 } }, /option `cache.ttl`/],
  ];
  for (const [what, options, message] of badOptions) {
    test(`options: ${what}`, async () => {
      const e = await gw.chat.completions.create(hi(), options).catch((x) => x);
      assert.ok(e instanceof sg.BadRequestError, `${what}: ${inspect(e)}`);
      assert.match(e.message, message);
    });
  }

  test('create() never throws synchronously', () => {
    const p = gw.chat.completions.create(Symbol('x'));
    assert.ok(p instanceof Promise);
    return p.then(() => assert.fail('resolved'), (e) => assert.ok(e instanceof sg.BadRequestError));
  });

  const badConfigs = [
    ['no options', undefined, /Gateway options must be an object/],
    ['a number', 42, /Gateway options must be an object/],
    ['config: a number', { config: 42 }, /`config` must be an object or YAML\/JSON text, not number/],
    ['config: null', { config: null }, /not null/],
    ['config: an array', { config: [1] }, /`config` must be an object/],
    ['a misspelt option', { confg: {} }, /unknown Gateway option `confg`/],
    ['config text that is a list', { config: '[1, 2]' }, /./],
    ['a BigInt in the config', { config: { providers: { p: { type: 'mock', latency: 1n } } } }, /cannot be converted to JSON/],
  ];
  for (const [what, options, message] of badConfigs) {
    test(`new Gateway(): ${what}`, () => {
      const e = (() => { try { new Gateway(options); } catch (x) { return x; } })();
      assert.ok(e instanceof sg.InvalidConfigError, `${what}: ${inspect(e)}`);
      assert.match(e.message, message);
    });
  }

  test('Gateway.fromFile() with a bad argument or a missing file', async () => {
    await assert.rejects(Gateway.fromFile(42), sg.InvalidConfigError);
    await assert.rejects(Gateway.fromFile(), sg.InvalidConfigError);
    const e = await Gateway.fromFile('/nonexistent/gateway.yaml').catch((x) => x);
    assert.ok(e instanceof sg.InvalidConfigError, inspect(e));
    assert.match(e.message, /\/nonexistent\/gateway\.yaml/);
  });

  test('the gateway still works after all of that', async () => {
    const r = await gw.chat.completions.create(hi());
    assert.equal(r.gateway.deployment, 'mini');
  });
});

describe('the in-process mock and the Gateway lifecycle', () => {
  test('Gateway.fromFile() reads YAML from a path and from a file: URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluicegate-node-'));
    try {
      const file = join(dir, 'gateway.yaml');
      writeFileSync(file, 'providers:\n  local: { type: mock }\ndeployments:\n  mini: { provider: local, model: gpt-4o-mini }\nroutes:\n  chat: { targets: [mini] }\n');
      for (const where of [file, pathToFileURL(file)]) {
        const gw = await Gateway.fromFile(where);
        const r = await gw.chat.completions.create(hi(), { tags: { team: 'a' } });
        assert.equal(r.choices[0].message.content, 'Hello from gpt-4o-mini! You said: hi');
        assert.equal(r.gateway.route, 'chat');
        await gw.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('config as JSON text and YAML text', async () => {
    for (const config of [JSON.stringify(MOCK_CONFIG), 'providers: {local: {type: mock}}\ndeployments: {mini: {provider: local, model: m}}\nroutes: {chat: {targets: [mini]}}']) {
      const gw = new Gateway({ config });
      assert.equal((await gw.chat.completions.create(hi())).gateway.provider, 'local');
    }
  });

  test('close() refuses new calls; running calls and streams finish', async () => {
    const gw = new Gateway({ config: { ...MOCK_CONFIG, providers: { local: { type: 'mock', latency: '100ms' } } } });
    const running = gw.chat.completions.create(hi());
    const stream = await gw.chat.completions.create(hi('chat', { stream: true }));
    assert.equal(gw.closed, false);
    await gw.close();
    assert.equal(gw.closed, true);
    await gw.close(); // twice is fine
    const e = await gw.chat.completions.create(hi()).catch((x) => x);
    assert.ok(e instanceof sg.BadRequestError);
    assert.match(e.message, /closed/);
    assert.equal((await running).gateway.attempts, 1);
    let n = 0;
    for await (const _ of stream) n++;
    assert.ok(n > 2);
  });

  test('32 concurrent calls to an in-process mock', async () => {
    const gw = new Gateway({ config: MOCK_CONFIG });
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => gw.chat.completions.create(hi(), { requestId: `p-${i}` })));
    assert.deepEqual(results.map((r) => r.gateway.request_id), Array.from({ length: 32 }, (_, i) => `p-${i}`));
    // 32 calls with 5 ms of latency each run concurrently, not one after another.
    assert.ok(Date.now() - t0 < 32 * 5, `took ${Date.now() - t0} ms`);
  });

  test('a Gateway exposes the OpenAI-style namespace and can be subclassed', async () => {
    class MyGateway extends Gateway {
      constructor() {
        super({ config: MOCK_CONFIG });
        this.label = 'mine';
      }
    }
    const gw = new MyGateway();
    assert.ok(Object.isFrozen(gw.chat));
    assert.equal((await gw.chat.completions.create(hi())).gateway.route, 'chat');
    assert.equal(gw.label, 'mine');
  });

  test('errors raised by the JS layer carry the core defaults for their code', async () => {
    const gw = new Gateway({ config: MOCK_CONFIG });
    const bad = await gw.chat.completions.create(hi(), 'x').catch((e) => e);
    assert.deepEqual([bad.code, bad.status, bad.retryable], ['invalid_request', 400, false]);
    const aborted = await gw.chat.completions.create(hi(), { signal: AbortSignal.abort() }).catch((e) => e);
    assert.deepEqual([aborted.code, aborted.status, aborted.retryable], ['cancelled', 499, false]);
    const big = await gw.chat.completions.create(hi('chat', { n: 1n })).catch((e) => e);
    assert.ok(big.cause instanceof TypeError);
    const cfg = (() => { try { new Gateway({ config: 7 }); } catch (e) { return e; } })();
    assert.deepEqual([cfg.code, cfg.status], ['invalid_config', 400]);
  });

  test('aliases: code-named classes and openai-node APIUserAbortError', () => {
    assert.equal(sg.InvalidRequestError, sg.BadRequestError);
    assert.equal(sg.GuardrailBlockedError, sg.GuardrailError);
    assert.equal(sg.InternalError, sg.InternalServerError);
    assert.equal(sg.APIUserAbortError, sg.CancelledError);
  });
});

describe('a cancelled call is charged like any the provider received', () => {
  const HELLO = [{ role: 'user', content: 'hello there' }];
  const priced = () => new Gateway({
    config: {
      providers: { p: { type: 'mock', script: { priced: [{ reply: 'one two three four five six', chunk_delay: '300ms' }] } } },
      deployments: { d: { provider: 'p', model: 'priced' } },
      routes: { chat: { targets: ['d'], breaker: false } },
      pricing: { models: { priced: { input_per_mtok: 2000.0, output_per_mtok: 4000.0 } } },
      policies: { budgets: [{ scope: 'global', usd: 10.0 }] },
    },
  });
  /** What the global budget says is spent, read from the refusal of a call that cannot fit. */
  const spent = async (gw) => {
    const e = await gw.chat.completions.create({ model: 'chat', max_tokens: 1000000, messages: HELLO }).catch((x) => x);
    assert.equal(e.code, 'budget_exceeded', inspect(e));
    return Number(/cannot cover this call: \$([0-9.]+) used/.exec(e.message)[1]);
  };
  const PROMPT = (6 * 2000.0) / 1e6; // 6 prompt tokens at $2000/Mtok

  for (const how of ['signal mid-read', 'controller.abort() before a read', 'break']) {
    test(`a stream stopped by ${how}`, async () => {
      const gw = priced();
      assert.equal(await spent(gw), 0);
      const ac = new AbortController();
      const stream = await gw.chat.completions.create({ model: 'chat', stream: true, max_tokens: 50, messages: HELLO }, { signal: ac.signal });
      const e = await (async () => {
        if (how === 'controller.abort() before a read') stream.controller.abort();
        for await (const _ of stream) {
          if (how === 'break') break;
          setTimeout(() => ac.abort(), 50);
        }
      })().catch((x) => x);
      if (how === 'break') assert.equal(e, undefined);
      else assert.ok(e instanceof sg.CancelledError && e.requestId === stream.requestId, inspect(e));
      let charged = 0;
      assert.ok(await eventually(async () => (charged = await spent(gw)) >= PROMPT - 1e-9), `charged $${charged}`);
    });
  }

  test('an already aborted signal rejects at once with CancelledError and charges nothing', async () => {
    const gw = priced();
    for (const stream of [false, true]) {
      const started = Date.now();
      const e = await gw.chat.completions.create({ model: 'chat', stream, messages: HELLO }, { signal: AbortSignal.abort() }).catch((x) => x);
      assert.ok(e instanceof sg.CancelledError, inspect(e));
      assert.ok(Date.now() - started < 250, 'it waited for the provider');
    }
    assert.equal(await spent(gw), 0);
  });
});

describe('embeddings, explain, usage, metrics', () => {
  const config = {
    providers: { local: { type: 'mock', latency: '5ms' } },
    deployments: { mini: { provider: 'local', model: 'gpt-4o-mini' }, emb: { provider: 'local', model: 'text-embedding-3-small' } },
    routes: { chat: { targets: ['mini'] }, emb: { targets: ['emb'] } },
  };

  test('embeddings.create(), with options and a signal', async () => {
    const gw = new Gateway({ config });
    const r = await gw.embeddings.create({ model: 'emb', input: ['a', 'b'] }, { requestId: 'e-1', tags: { team: 'x' } });
    assert.equal(r.object, 'list');
    assert.equal(r.data.length, 2);
    assert.equal(r.gateway.request_id, 'e-1');
    const viaSignal = await gw.embeddings.create({ model: 'emb', input: 'a' }, { signal: new AbortController().signal });
    assert.equal(viaSignal.data.length, 1);
    const aborted = await gw.embeddings.create({ model: 'emb', input: 'a' }, { signal: AbortSignal.abort() }).catch((e) => e);
    assert.ok(aborted instanceof sg.CancelledError);
    const ac = new AbortController();
    const slow = new Gateway({ config: { ...config, providers: { local: { type: 'mock', latency: '5s' } } } });
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    const cancelled = await slow.embeddings.create({ model: 'emb', input: 'a' }, { signal: ac.signal }).catch((e) => e);
    assert.ok(cancelled instanceof sg.CancelledError, inspect(cancelled));
    assert.ok(Date.now() - t0 < 2000);
    const bad = await gw.embeddings.create({ model: 'emb' }).catch((e) => e);
    assert.ok(bad instanceof sg.BadRequestError, inspect(bad));
  });

  test('explain(), usage() and metricsText()', async () => {
    const gw = new Gateway({ config });
    await gw.chat.completions.create(hi(), { tags: { team: 'search' } });
    await gw.embeddings.create({ model: 'emb', input: 'a' }, { tags: { team: 'ads' } });
    const report = gw.explain('chat', { tags: { team: 'search' }, promptTokens: 10 });
    assert.equal(report.would_serve, 'mini');
    assert.equal(report.estimated_prompt_tokens, 10);
    assert.equal(gw.explain('chat', { prompt_tokens: 7 }).estimated_prompt_tokens, 7);
    const byTeam = gw.usage({ groupBy: 'team' });
    assert.deepEqual(byTeam.groups.map((g) => [g.group.team, g.requests]).sort(), [['ads', 1], ['search', 1]]);
    assert.equal(gw.usage({ group_by: ['model'], since: new Date(Date.now() - 60_000) }).groups.length, 2);
    assert.equal(gw.usage({ since: new Date(Date.now() + 3_600_000) }).groups.length, 0);
    assert.match(gw.metricsText(), /^# HELP /m);
  });

  test('explain() and usage() reject bad arguments with BadRequestError', () => {
    const gw = new Gateway({ config });
    const cases = [
      [() => gw.explain(), /needs the `model`/],
      [() => gw.explain('chat', 'x'), /options must be an object/],
      [() => gw.explain('chat', { promptTokens: -1 }), /promptTokens/],
      [() => gw.explain('chat', { promptTokens: 1.5 }), /promptTokens/],
      [() => gw.explain('chat', { tagz: {} }), /did you mean `tags`/],
      [() => gw.explain('nope'), /nope/],
      [() => gw.usage('team'), /usage\(\) takes an object/],
      [() => gw.usage({ groupby: 'team' }), /unknown usage\(\) option `groupby`/],
      [() => gw.usage({ groupBy: ['teem'] }), /did you mean `team`/],
      [() => gw.usage({ since: 'whenever' }), /since/],
    ];
    for (const [fn, message] of cases) {
      const e = (() => { try { fn(); } catch (x) { return x; } })();
      assert.ok(e instanceof GatewayError, `${fn}: ${inspect(e)}`);
      assert.match(e.message, message, String(fn));
    }
    assert.ok((() => { try { gw.explain('nope'); } catch (x) { return x; } })() instanceof sg.NotFoundError);
  });

  test('a closed gateway refuses explain, usage and metrics too', async () => {
    const gw = new Gateway({ config });
    await gw.close();
    for (const fn of [() => gw.explain('chat'), () => gw.usage(), () => gw.metricsText()]) {
      assert.throws(fn, sg.BadRequestError);
    }
    await assert.rejects(gw.embeddings.create({ model: 'emb', input: 'a' }), /closed/);
  });
});

describe('logging and onRequestEnd hooks', () => {
  const config = {
    providers: { p: { type: 'mock', script: { bad: [{ status: 400 }] } } },
    deployments: { d: { provider: 'p', model: 'gpt-4o' }, b: { provider: 'p', model: 'bad' } },
    routes: { chat: { targets: ['d'] }, bad: { targets: ['b'] } },
  };
  const warnings = () => {
    const seen = [];
    const listener = (w) => seen.push(String(w.message));
    process.on('warning', listener);
    return { seen, stop: () => process.off('warning', listener) };
  };

  test('onRequestEnd hooks see every call; a throwing or rejecting hook becomes a warning', async () => {
    const gw = new Gateway({ config });
    const events = [];
    gw.onRequestEnd((e) => events.push(e));
    gw.onRequestEnd(() => { throw new Error('hook boom'); });
    gw.onRequestEnd(async () => { throw new Error('async hook boom'); });
    const w = warnings();
    try {
      const ok = await gw.chat.completions.create(hi(), { tags: { team: 'search' } });
      const bad = await gw.chat.completions.create(hi('bad')).catch((e) => e);
      assert.ok(await eventually(async () => events.length === 2 && w.seen.length === 4), `${events.length} events, warnings: ${w.seen}`);
      const [first, second] = events[0].request_id === ok.gateway.request_id ? events : [events[1], events[0]];
      assert.equal(first.outcome, 'ok');
      assert.equal(first.route, 'chat');
      assert.equal(first.cost_usd, ok.gateway.cost_usd);
      assert.deepEqual(first.tags, { team: 'search' });
      assert.equal(second.outcome, 'invalid_request');
      assert.equal(second.error.code, 'invalid_request');
      assert.equal(second.request_id, bad.requestId);
      assert.ok(w.seen.some((m) => m.includes('onRequestEnd hook failed') && m.includes('hook boom')));
      assert.ok(w.seen.some((m) => m.includes('async hook boom')));
    } finally {
      w.stop();
    }
    assert.throws(() => gw.onRequestEnd('not a function'), sg.BadRequestError);
  });

  test('setLogger() receives core log lines at its level; null restores the default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluicegate-audit-'));
    const lines = [];
    try {
      // An audit log that cannot rotate (its folder is gone) makes the core log a warning per call
      // (with `on_error: warn`; by default such a call fails).
      const gw = new Gateway({ config: { ...config, audit: { path: join(dir, 'audit.jsonl'), max_bytes: 1, on_error: 'warn' } } });
      await gw.chat.completions.create(hi());
      rmSync(dir, { recursive: true, force: true });
      sg.setLogger({ warn: (m) => lines.push(['warn', m]), error: (m) => lines.push(['error', m]) }, { level: 'error' });
      await gw.chat.completions.create(hi());
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(lines, [], 'a warning passed a logger set to level error');
      sg.setLogger({ warn: (m) => lines.push(['warn', m]), error: (m) => lines.push(['error', m]) });
      const r = await gw.chat.completions.create(hi());
      assert.ok(await eventually(async () => lines.length === 1), JSON.stringify(lines));
      assert.equal(lines[0][0], 'warn');
      assert.match(lines[0][1], new RegExp(`audit record for ${r.gateway.request_id} not written`));
      // A logger that throws is reported as a warning, not a crash.
      const w = warnings();
      try {
        sg.setLogger({ warn: () => { throw new Error('logger boom'); }, error: () => {} });
        await gw.chat.completions.create(hi());
        assert.ok(await eventually(async () => w.seen.some((m) => m.includes('logger boom'))));
      } finally {
        w.stop();
      }
    } finally {
      sg.setLogger(null);
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => sg.setLogger({ info: () => {} }), /no warn, error method/);
    assert.throws(() => sg.setLogger(console, { level: 'loud' }), sg.BadRequestError);
    assert.throws(() => sg.setLogger(42), sg.BadRequestError);
  });

  test('hooks and a logger do not keep the process alive', () => {
    const script = `
      const sg = require(${JSON.stringify(PKG)});
      sg.setLogger(console, { level: 'debug' });
      const gw = new sg.Gateway({ config: ${JSON.stringify(JSON.stringify(MOCK_CONFIG))} });
      gw.onRequestEnd((e) => console.log('event', e.outcome));
      gw.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).then(() => setTimeout(() => console.log('done'), 50));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /event ok/);
    assert.match(r.stdout, /done/);
  });

  test('a gateway open at exit closes its audit log (verify sees a close record, not a cut end)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluicegate-audit-exit-'));
    try {
      const log = join(dir, 'audit.jsonl');
      const config = { ...MOCK_CONFIG, audit: { path: log, key: 'k-exit' } };
      const script = `
        const sg = require(${JSON.stringify(PKG)});
        const gw = new sg.Gateway({ config: ${JSON.stringify(JSON.stringify(config))} });
        gw.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).then(() => {
          console.log('done');
          process.exit(0); // the usual end of a server: no close(), no teardown of the addon
        });
      `;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /done/);
      const v = spawnSync(SLUICEGATE_BIN, ['audit', 'verify', log, '--key', 'k-exit', '--json'], { encoding: 'utf8' });
      assert.equal(v.status, 0, v.stdout + v.stderr);
      const report = JSON.parse(v.stdout);
      assert.equal(report.closed, true);
      assert.equal(report.records, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('worker threads', () => {
  // Terminating a worker frees its native objects while their promises are pending; this
  // crashed (use after free) when async native methods borrowed the object.
  test('the addon works in worker threads, and a worker can be terminated mid-call', async () => {
    const { Worker } = await import('node:worker_threads');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { Gateway } = require(workerData.pkg);
      const gw = new Gateway({ config: workerData.config });
      (async () => {
        const r = await gw.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'w' }] });
        parentPort.postMessage(r.choices[0].message.content);
        // Left pending when the worker is terminated: a plain call, a cancellable call, a stream.
        const slow = { model: 'chat', messages: [{ role: 'user', content: 'slow' }] };
        gw.chat.completions.create(slow).catch(() => {});
        gw.chat.completions.create(slow, { signal: new AbortController().signal }).catch(() => {});
        gw.chat.completions.create({ ...slow, stream: true }).then(async (s) => { for await (const _ of s); }).catch(() => {});
        parentPort.postMessage('pending');
      })();
    `;
    const config = { ...MOCK_CONFIG, providers: { local: { type: 'mock', latency: '200ms' } } };
    const runs = Array.from({ length: 6 }, () => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { pkg: PKG, config } });
      const seen = [];
      w.on('message', async (m) => {
        seen.push(m);
        if (m === 'pending') {
          await w.terminate();
          resolve(seen);
        }
      });
      w.on('error', reject);
    }));
    for (const seen of await Promise.all(runs)) assert.deepEqual(seen, ['Hello from gpt-4o-mini! You said: w', 'pending']);
    // The main thread's gateways keep working.
    assert.equal((await new Gateway({ config: MOCK_CONFIG }).chat.completions.create(hi())).gateway.attempts, 1);
  });
});
