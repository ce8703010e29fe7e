// Runs every tests/vectors/*.json through the Node binding, exactly as tests/vectors/README.md
// says; each vector is one test, and a failure lists every mismatch with its path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway, GatewayError } from '../../bindings-node/index.mjs';
import { VECTORS_DIR, foldStream, matches, startMockServer, eventually } from './helpers.mjs';

/** The error as the vectors' E object, read from the JS error's own properties. */
function errorObject(e) {
  if (!(e instanceof GatewayError)) throw e; // not a gateway error: a binding bug, fail loudly
  return {
    code: e.code,
    message: e.message,
    status_code: e.status,
    retryable: e.retryable,
    retry_after: e.retryAfter,
    request_id: e.requestId,
    problems: e.problems,
  };
}

/** Runs one call of a vector (its `kind`: chat by default, embeddings, explain, usage, metrics). */
async function runCall(gw, call) {
  const request = call.request;
  const options = call.options ?? undefined;
  const outcome = async (key, fn) => {
    try {
      return { [key]: await fn() };
    } catch (e) {
      return { error: errorObject(e) };
    }
  };
  switch (call.kind ?? 'chat') {
    case 'chat':
      break;
    case 'embeddings':
      return outcome('response', () => gw.embeddings.create(request, options));
    case 'explain':
      return outcome('explain', () => gw.explain(call.model, { tags: call.tags, promptTokens: call.prompt_tokens }));
    case 'usage':
      return outcome('usage', () => gw.usage(call.query ?? undefined));
    case 'metrics':
      return outcome('metrics', () => gw.metricsText());
    default:
      throw new Error(`unknown call kind ${call.kind}`);
  }
  if (request && request.stream === true) {
    let stream;
    try {
      stream = await gw.chat.completions.create(request, options);
    } catch (e) {
      return { error: errorObject(e) };
    }
    const chunks = [];
    const readChunks = call.read_chunks;
    try {
      for await (const chunk of stream) {
        chunks.push(chunk);
        // `read_chunks`: read that many, then drop the stream (break closes it).
        if (readChunks !== undefined && chunks.length >= readChunks) return { stream: foldStream(chunks) };
      }
    } catch (e) {
      return { error: errorObject(e), stream: foldStream(chunks) };
    }
    return { stream: foldStream(chunks), gateway: stream.gateway };
  }
  try {
    return { response: await gw.chat.completions.create(request, options) };
  } catch (e) {
    return { error: errorObject(e) };
  }
}

async function runVector(vector) {
  for (const [k, v] of Object.entries(vector.env ?? {})) process.env[k] = String(v);
  for (const k of vector.env_unset ?? []) delete process.env[k];
  const server = vector.mock_server ? await startMockServer(vector.mock_server, vector.mock_server_api_key) : null;
  try {
    if (server) process.env.SG_MOCK_URL = server.url;
    if (('config' in vector) === ('config_text' in vector)) return ['a vector needs exactly one of `config` and `config_text`'];
    let gw;
    try {
      gw = new Gateway({ config: 'config' in vector ? vector.config : vector.config_text });
    } catch (e) {
      return matches(vector.load ?? { ok: true }, { error: errorObject(e) }, 'load');
    }
    if (vector.load) return [`load: expected ${JSON.stringify(vector.load)}, but the gateway was built`];
    const failures = [];
    for (const [i, call] of (vector.calls ?? []).entries()) {
      matches(call.expect, await runCall(gw, call), `calls[${i}]`, failures);
    }
    if (vector.expect_mock && server) {
      // Counters settle asynchronously (a dropped stream is counted when the server notices).
      let stats;
      await eventually(async () => matches(vector.expect_mock, (stats = await server.stats())).length === 0, 2000);
      matches(vector.expect_mock, stats, 'expect_mock', failures);
    }
    await gw.close();
    return failures;
  } finally {
    await server?.stop();
    delete process.env.SG_MOCK_URL;
  }
}

const files = readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.json')).sort();

test('the vectors directory has vectors', () => {
  assert.ok(files.length > 0, `no *.json in ${VECTORS_DIR}`);
});

for (const file of files) {
  const vector = JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8'));
  test(`vector ${file.replace(/\.json$/, '')}`, async () => {
    const failures = await runVector(vector);
    assert.deepEqual(failures, [], `${file}: ${vector.description ?? ''}\n  ${failures.join('\n  ')}`);
  });
}
