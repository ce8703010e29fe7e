// `sluicegate serve` with the real Node `openai` SDK as its client: plain, stream, tools,
// embeddings, each error kind a caller can provoke (status and SDK class), and a client that
// aborts mid-stream (the mock provider's stream is cut and the budget charged what it billed).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = process.env.SLUICEGATE_BIN || join(root, 'target', 'debug', 'sluicegate');
const scratch = mkdtempSync(join(tmpdir(), 'sg-serve-node-'));
const children = [];
const HI = [{ role: 'user', content: 'hi' }];
const KEY = 'sk-sg-node-virtual-41c2';

after(() => children.forEach((c) => c.kill('SIGKILL')));

/** Starts `sluicegate ARGS...` and resolves with the URL from its first stdout line. */
function start(args, prefix) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) =>
      line.startsWith(prefix) ? resolve({ url: line.slice(prefix.length), child, stderr: () => stderr }) : reject(new Error(line)),
    );
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
}

let configs = 0;
function serve(config) {
  const path = join(scratch, `gw-${configs++}.json`);
  writeFileSync(path, JSON.stringify(config));
  return start(['serve', path, '--port', '0'], 'sluicegate serve listening on ');
}

function mockProvider(script) {
  return start(['mock-provider', '--port', '0', '--script', JSON.stringify(script)], 'sluicegate mock-provider listening on ');
}

function mockConfig(script, extra = {}) {
  const local = { type: 'mock', latency: '1ms', ...(script ? { script } : {}) };
  return {
    providers: { local },
    deployments: { mini: { provider: 'local', model: 'gpt-4o-mini' }, emb: { provider: 'local', model: 'text-embedding-3-small' } },
    routes: { chat: { targets: ['mini'] }, embed: { targets: ['emb'] } },
    ...extra,
  };
}

const client = (server, apiKey = 'unused') => new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('the call succeeded');
}

test('plain chat: answer, gateway object and metadata headers', async () => {
  const server = await serve(mockConfig());
  const { data, response } = await client(server)
    .chat.completions.create({ model: 'chat', messages: HI }, { headers: { 'x-sluicegate-tags': 'team=search' } })
    .withResponse();
  assert.equal(data.choices[0].message.content, 'Hello from gpt-4o-mini! You said: hi');
  assert.equal(data.gateway.deployment, 'mini');
  assert.deepEqual(data.gateway.tags, { team: 'search' });
  assert.equal(response.headers.get('x-sluicegate-request-id'), data.gateway.request_id);
  assert.equal(response.headers.get('x-sluicegate-route'), 'chat');
  assert.equal(Number(response.headers.get('x-sluicegate-cost-usd')), data.gateway.cost_usd);
});

test('stream: chunks, then the gateway chunk', async () => {
  const server = await serve(mockConfig());
  const stream = await client(server).chat.completions.create({ model: 'chat', messages: HI, stream: true });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, 'Hello from gpt-4o-mini! You said: hi');
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.gateway.route, 'chat');
  assert.ok(last.gateway.cost_usd > 0);
});

test('tools and embeddings', async () => {
  const call = { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } };
  const server = await serve(mockConfig({ 'gpt-4o-mini': [{ tool_calls: [call] }] }));
  const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
  const answer = await client(server).chat.completions.create({ model: 'chat', messages: HI, tools });
  assert.equal(answer.choices[0].finish_reason, 'tool_calls');
  assert.equal(answer.choices[0].message.tool_calls[0].function.arguments, '{"city":"Oslo"}');
  const result = await client(server).embeddings.create({ model: 'embed', input: ['a', 'b'] });
  assert.deepEqual(result.data.map((e) => e.index), [0, 1]);
  assert.ok(result.data[0].embedding.length > 0);
  const models = [];
  for await (const m of client(server).models.list()) models.push(m.id);
  assert.deepEqual(models.sort(), ['chat', 'embed']);
});

test('each error kind: HTTP status, SDK class and code', async () => {
  const config = mockConfig(undefined, {
    keys: { search: { sha256: createHash('sha256').update(KEY).digest('hex'), routes: ['chat'] } },
    policies: {
      require_key: true,
      rate_limits: [{ scope: 'global', rpm: 1 }],
      guardrails: [{ name: 'no-ssn', type: 'pii', entities: ['us_ssn'], action: 'block' }],
    },
  });
  const server = await serve(config);
  const ok = client(server, KEY);
  let e = await rejection(ok.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'ssn 123-45-6789' }] }));
  assert.ok(e instanceof OpenAI.PermissionDeniedError && e.code === 'guardrail_blocked', String(e));
  await ok.chat.completions.create({ model: 'chat', messages: HI });
  const cases = [
    [() => ok.chat.completions.create({ model: 'chat', messages: [] }), OpenAI.BadRequestError, 400, 'invalid_request'],
    [() => client(server, 'sk-wrong').chat.completions.create({ model: 'chat', messages: HI }), OpenAI.AuthenticationError, 401, 'authentication'],
    [() => ok.embeddings.create({ model: 'embed', input: 'x' }), OpenAI.PermissionDeniedError, 403, 'permission_denied'],
    [() => ok.chat.completions.create({ model: 'nope', messages: HI }), OpenAI.NotFoundError, 404, 'not_found'],
    [() => ok.chat.completions.create({ model: 'chat', messages: HI }), OpenAI.RateLimitError, 429, 'rate_limited'],
  ];
  for (const [call, cls, status, code] of cases) {
    e = await rejection(call());
    assert.ok(e instanceof cls, `${code}: ${e}`);
    assert.equal(e.status, status);
    assert.equal(e.code, code);
  }
  assert.ok(Number(e.headers.get('retry-after')) >= 1);
  assert.ok(!server.stderr().includes(KEY), 'a virtual key reached the log');

  const plain = await serve(mockConfig());
  e = await rejection(client(plain).chat.completions.create({ model: 'nope', messages: HI }));
  assert.ok(e instanceof OpenAI.NotFoundError && e.code === 'not_found');

  const spent = await serve(mockConfig(undefined, { policies: { budgets: [{ scope: 'global', usd: 0.0000001 }] } }));
  e = await rejection(new OpenAI({ baseURL: `${spent.url}/v1`, apiKey: 'x', maxRetries: 3 }).chat.completions.create({ model: 'chat', messages: HI }));
  assert.equal(e.status, 402);
  assert.equal(e.code, 'budget_exceeded');
  assert.equal(e.headers.get('x-should-retry'), 'false');
});

test('upstream failures: 502 and 504', async () => {
  const mock = await mockProvider({ 'gpt-4o': [{ status: 500, error: 'boom' }, { delay: '3s' }] });
  const server = await serve({
    providers: { oai: { type: 'openai', api_base: `${mock.url}/v1`, api_key: 'sk-test-0000' } },
    deployments: { a: { provider: 'oai', model: 'gpt-4o' } },
    routes: { chat: { targets: ['a'], breaker: false } },
  });
  let e = await rejection(client(server).chat.completions.create({ model: 'chat', messages: HI }));
  assert.ok(e instanceof OpenAI.InternalServerError && e.status === 502 && e.code === 'provider_error', String(e));
  e = await rejection(
    client(server).chat.completions.create({ model: 'chat', messages: HI }, { headers: { 'x-sluicegate-timeout': '200ms' } }),
  );
  assert.ok(e instanceof OpenAI.InternalServerError && e.status === 504 && e.code === 'timeout', String(e));
});

test('a client that aborts mid-stream cancels upstream; the budget is charged what the mock billed', async () => {
  const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
  const mock = await mockProvider({ 'gpt-4o': [{ reply: words, chunk_delay: '100ms' }] });
  const server = await serve({
    providers: { oai: { type: 'openai', api_base: `${mock.url}/v1`, api_key: 'sk-test-0000' } },
    deployments: { a: { provider: 'oai', model: 'gpt-4o' } },
    routes: { chat: { targets: ['a'], breaker: false } },
    policies: { budgets: [{ scope: 'global', usd: 0.001 }] },
  });
  const stream = await client(server).chat.completions.create({ model: 'chat', messages: HI, stream: true, max_tokens: 50 });
  let seen = 0;
  for await (const _ of stream) {
    if (++seen === 4) break; // leaving the loop aborts the request
  }
  const stats = async () => (await fetch(`${mock.url}/_mock/stats`)).json();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (await stats()).disconnects < 1) await new Promise((r) => setTimeout(r, 50));
  const s = await stats();
  assert.equal(s.disconnects, 1);
  assert.equal(s.completed_streams, 0);
  const used = `$${s.billed.cost_usd.toFixed(6)} used`;
  let message = '';
  while (Date.now() < deadline && !message.includes(used)) {
    const e = await rejection(client(server).chat.completions.create({ model: 'chat', messages: HI, max_tokens: 1000000 }));
    assert.equal(e.code, 'budget_exceeded');
    message = e.message;
  }
  assert.ok(message.includes(used), `${used} in ${message}`);
});
