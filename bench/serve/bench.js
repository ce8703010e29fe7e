'use strict';
// What `sluicegate serve` adds over calling the provider directly: one HTTP client (Node's
// built-in fetch), the same loopback mock behind both, the bench's full-pipeline config in the
// server. Plain and streaming, p50 latency at c=1 and throughput at c=32.
//
//   node bench/serve/bench.js --mock URL --serve URL [--key KEY] [--quick]    JSON on stdout
//
// Every loop is bounded by a request count and a wall-clock budget. Each answer is parsed (the
// JSON body, or each SSE event), as an application would.

const { performance } = require('node:perf_hooks');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = args.includes('--quick');
const budgetMs = quick ? 1000 : 3000;
const MESSAGES = [{ role: 'user', content: 'Summarise the quarterly report in one line.' }];

function summary(lat, elapsed) {
  lat.sort((a, b) => a - b);
  const n = lat.length;
  const pct = (p) => lat[Math.min(n, Math.max(1, Math.ceil((p / 100) * n))) - 1] * 1000;
  return { n, rps: n / (elapsed / 1000), p50_us: pct(50), p99_us: pct(99) };
}

async function run(fn, concurrency, maxN) {
  for (let i = 0; i < 50; i++) await fn(); // warm-up: connections, JIT
  const lat = [];
  let started = 0;
  const deadline = performance.now() + budgetMs;
  async function worker() {
    while (started < maxN && performance.now() < deadline) {
      started += 1;
      const t = performance.now();
      await fn();
      lat.push(performance.now() - t);
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return summary(lat, performance.now() - t0);
}

function caller(base, model, headers, stream) {
  const body = JSON.stringify({ model, messages: MESSAGES, max_tokens: 64, ...(stream ? { stream: true } : {}) });
  const init = { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } };
  return async () => {
    const response = await fetch(`${base}/v1/chat/completions`, init);
    if (response.status !== 200) throw new Error(`${base}: HTTP ${response.status} ${await response.text()}`);
    if (!stream) {
      const answer = await response.json();
      if (!answer.choices[0].message.content) throw new Error('empty answer');
      return;
    }
    let events = 0;
    for (const line of (await response.text()).split('\n')) {
      if (line.startsWith('data: ') && line !== 'data: [DONE]') {
        JSON.parse(line.slice(6));
        events += 1;
      }
    }
    if (events < 2) throw new Error('no chunks');
  };
}

async function main() {
  const mock = opt('mock');
  const serve = opt('serve');
  const key = opt('key');
  const out = {};
  for (const stream of [false, true]) {
    const kind = stream ? 'stream' : 'plain';
    const direct = caller(mock, 'gpt-4o-mini', { authorization: 'Bearer sk-bench-0000' }, stream);
    const served = caller(serve, 'chat', { authorization: `Bearer ${key}`, 'x-sluicegate-tags': 'user=bench' }, stream);
    for (const [name, fn] of [['direct', direct], ['serve', served]]) {
      out[`${kind}_${name}_c1`] = await run(fn, 1, quick ? 2000 : 10000);
      out[`${kind}_${name}_c32`] = await run(fn, 32, quick ? 20000 : 100000);
    }
    out[`${kind}_added_p50_us`] = out[`${kind}_serve_c1`].p50_us - out[`${kind}_direct_c1`].p50_us;
    out[`${kind}_throughput_ratio_c32`] = out[`${kind}_serve_c32`].rps / out[`${kind}_direct_c32`].rps;
  }
  console.log(JSON.stringify(out, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
