// Streams are read in batches (`nextBatch()`: every chunk already received, in one native hop).
// These tests prove batching changes nothing a caller sees: the same chunks in the same order
// as one-chunk reads, and a failure mid-stream still rejects with stream_interrupted after the
// chunks that came before it, once, then the stream ends.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { join } from 'node:path';
import * as sg from '../../bindings-node/index.mjs';
import { ROOT, startMockServer } from './helpers.mjs';

const require = createRequire(import.meta.url);
const native = require(join(ROOT, 'bindings-node', 'lib', 'native.js'));
const { fromNative } = require(join(ROOT, 'bindings-node', 'lib', 'errors.js'));

const WORDS = Array.from({ length: 150 }, (_, i) => `w${i}`);
const SCRIPT = {
  long: [{ reply: WORDS.join(' ') }],
  // The role chunk and 9 words, then the connection breaks.
  cut: [{ reply: WORDS.join(' '), cut_after: 10 }],
};

const config = (url) => ({
  providers: { oai: { type: 'openai', api_base: `${url}/v1`, api_key: 'sk-test-0000' } },
  deployments: { long: { provider: 'oai', model: 'long' }, cut: { provider: 'oai', model: 'cut' } },
  routes: { long: { targets: ['long'] }, cut: { targets: ['cut'] } },
});
const ask = (model) => ({ model, messages: [{ role: 'user', content: 'hi' }], stream: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What a chunk says, without the per-stream id and timestamp. */
const said = (chunk) => JSON.stringify(chunk.choices.map((c) => [c.delta, c.finish_reason ?? null]));

/** Reads the whole stream through the public async iterator: { chunks, error }. */
async function readAll(stream) {
  const chunks = [];
  try {
    for await (const c of stream) chunks.push(c);
    return { chunks, error: null };
  } catch (error) {
    return { chunks, error };
  }
}

describe('streams read in batches', () => {
  let server;
  let gw;
  let nativeGw;
  before(async () => {
    server = await startMockServer(SCRIPT);
    gw = new sg.Gateway({ config: config(server.url) });
    nativeGw = native.NativeGateway.fromJson(JSON.stringify(config(server.url)));
  });
  after(async () => {
    await gw?.close();
    nativeGw?.close();
    await server?.stop();
  });

  /** Opens a native stream and lets every chunk reach the gateway, so the reads batch. */
  async function openSettled(model) {
    const call = nativeGw.call(JSON.stringify(ask(model)), 'null');
    await call.open();
    await sleep(300);
    return call;
  }

  test('the iterator yields every chunk, in order, as one-chunk reads do', async () => {
    const { chunks, error } = await readAll(await gw.chat.completions.create(ask('long')));
    assert.equal(error, null);
    // The role chunk, one chunk per word, the finish chunk.
    assert.equal(chunks.length, WORDS.length + 2);
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), WORDS.join(' '));
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));

    const one = await openSettled('long');
    const reference = [];
    for (let json; (json = await one.next()) !== null; ) reference.push(JSON.parse(json));
    assert.deepEqual(chunks.map(said), reference.map(said));
  });

  test('nextBatch hands over every chunk already received in one read', async () => {
    const call = await openSettled('long');
    const batches = [];
    for (let json; (json = await call.nextBatch()) !== null; ) batches.push(JSON.parse(json));
    assert.ok(batches.every((b) => Array.isArray(b) && b.length >= 1 && b.length <= 64), inspect(batches.map((b) => b.length)));
    // The answer was all received before the first read: full batches of 64, then the rest.
    assert.equal(batches[0].length, 64, `batch sizes ${batches.map((b) => b.length)}`);
    assert.equal(batches.flat().length, WORDS.length + 2);
    assert.equal(batches.flat().map((c) => c.choices[0]?.delta?.content ?? '').join(''), WORDS.join(' '));
    assert.ok(call.gateway() !== null, 'the gateway metadata is kept at the end');
    assert.equal(await call.nextBatch(), null); // and it stays ended
  });

  test('a failure after some chunks: those chunks first, then one stream_interrupted rejection, then the end', async () => {
    const call = await openSettled('cut');
    const first = JSON.parse(await call.nextBatch());
    // The 10 chunks and the failure were all received before the read: one batch holds the
    // chunks, and the failure waits for the next read.
    assert.equal(first.length, 10);
    assert.equal(first.map((c) => c.choices[0]?.delta?.content ?? '').join(''), `${WORDS.slice(0, 9).join(' ')} `);
    assert.equal(call.gateway(), null, 'not ended until the failure is delivered');
    const e = await call.nextBatch().then(() => null, (x) => fromNative(x));
    assert.ok(e instanceof sg.StreamInterruptedError, inspect(e));
    assert.equal(e.code, 'stream_interrupted');
    assert.ok(call.gateway() !== null, 'the gateway metadata is kept once the stream ends');
    assert.equal(await call.nextBatch(), null);
    assert.equal(await call.next(), null);
  });

  test('the iterator yields the chunks before a failure, then throws StreamInterruptedError', async () => {
    const stream = await gw.chat.completions.create(ask('cut'));
    await sleep(300); // everything, failure included, arrives before the first read
    const { chunks, error } = await readAll(stream);
    assert.ok(error instanceof sg.StreamInterruptedError, inspect(error));
    assert.equal(error.code, 'stream_interrupted');
    assert.equal(chunks.length, 10);
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), `${WORDS.slice(0, 9).join(' ')} `);
    assert.ok(stream.gateway !== null);
    // Read as it arrives, the same.
    const live = await readAll(await gw.chat.completions.create(ask('cut')));
    assert.ok(live.error instanceof sg.StreamInterruptedError, inspect(live.error));
    assert.deepEqual(live.chunks.map(said), chunks.map(said));
  });

  test('an abort while chunks are buffered ends the loop at once, as one-chunk reads did', async () => {
    for (const how of ['signal', 'controller']) {
      const ac = new AbortController();
      const stream = await gw.chat.completions.create(ask('long'), { signal: ac.signal });
      await sleep(300); // the first read takes a full batch
      let n = 0;
      const e = await (async () => {
        for await (const _ of stream) {
          n += 1;
          if (how === 'signal') ac.abort();
          else stream.controller.abort();
        }
      })().catch((x) => x);
      assert.ok(e instanceof sg.CancelledError, `${how}: ${inspect(e)}`);
      assert.equal(n, 1, `${how}: no buffered chunk is yielded after the abort`);
      assert.equal(stream.gateway, null);
    }
  });

  test('cancel() between batches ends the stream with one cancellation', async () => {
    const call = await openSettled('long');
    assert.equal(JSON.parse(await call.nextBatch()).length, 64);
    call.cancel();
    const e = await call.nextBatch().then(() => null, (x) => fromNative(x));
    assert.ok(e instanceof sg.CancelledError, inspect(e));
    assert.equal(await call.nextBatch(), null);
  });
});
