'use strict';
// Node benchmarks: sluicegate (full pipeline) against the openai Node SDK and plain fetch, all
// calling the same loopback mock, concurrency 1 and 32, plain and streaming.
//
//   node bench.js throughput --url URL [--quick]     JSON on stdout
//   node bench.js footprint --what sluicegate|openai|node --url URL
//   node bench.js growth --url URL --n 100000
//
// sluicegate is loaded from ../../bindings-node (SLUICEGATE_NATIVE may name the release addon).
// Every loop is bounded by a request count and a wall-clock budget.

const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');

const args = process.argv.slice(2);
const mode = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = args.includes('--quick');
const url = opt('url');

const MESSAGES = [{ role: 'user', content: 'Summarise the quarterly report in one line.' }];
const MAX_TOKENS = 64;
const UPSTREAM_MODEL = 'gpt-4o-mini';
const UPSTREAM_KEY = 'sk-bench-0000';
const VIRTUAL_KEY = 'sk-sg-bench';

function sluicegateConfig(audit) {
  return {
    providers: {
      primary: { type: 'openai', api_base: `${url}/v1`, api_key: UPSTREAM_KEY },
      backup: { type: 'openai', api_base: `${url}/v1`, api_key: UPSTREAM_KEY },
    },
    deployments: { a: { provider: 'primary', model: UPSTREAM_MODEL }, b: { provider: 'backup', model: 'gpt-4o' } },
    routes: { chat: { targets: ['a', 'b'] } },
    keys: { bench: { sha256: crypto.createHash('sha256').update(VIRTUAL_KEY).digest('hex'), tags: { team: 'bench' } } },
    policies: {
      rate_limits: [{ scope: { tag: 'team' }, rpm: 100000000 }],
      budgets: [{ scope: { tag: 'team' }, usd: 1000000 }],
      guardrails: [{ type: 'pii', entities: ['email', 'credit_card'], action: 'redact' }],
    },
    audit: { path: path.join(os.tmpdir(), `sluicegate-bench-node-${process.pid}.jsonl`) },
  };
}

function loadSluicegate() {
  return require(path.join(__dirname, '..', '..', 'bindings-node'));
}

function summary(lat, elapsed) {
  lat.sort((a, b) => a - b);
  const n = lat.length;
  if (!n) return { n: 0, rps: 0 };
  const pct = (p) => lat[Math.min(n, Math.max(1, Math.ceil((p / 100) * n))) - 1] * 1000;
  return { n, seconds: +(elapsed / 1000).toFixed(3), rps: n / (elapsed / 1000), p50_us: pct(50), p99_us: pct(99) };
}

async function run(fn, concurrency, maxN, maxMs) {
  const lat = [];
  let started = 0;
  const deadline = performance.now() + maxMs;
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

async function sseCount(body) {
  // Parse the SSE stream as the SDKs do: split lines, JSON.parse each data line.
  const decoder = new TextDecoder();
  let buf = '';
  let n = 0;
  for await (const part of body) {
    buf += decoder.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trimEnd();
      buf = buf.slice(i + 1);
      if (line.startsWith('data: ') && line !== 'data: [DONE]') {
        JSON.parse(line.slice(6));
        n += 1;
      }
    }
  }
  return n;
}

let clients = function () {
  const body = { model: UPSTREAM_MODEL, messages: MESSAGES, max_tokens: MAX_TOKENS };
  return {
    sluicegate: () => {
      const { Gateway } = loadSluicegate();
      const gw = new Gateway({ config: sluicegateConfig() });
      const options = { key: VIRTUAL_KEY };
      return {
        plain: async () => {
          const r = await gw.chat.completions.create({ model: 'chat', messages: MESSAGES, max_tokens: MAX_TOKENS }, options);
          if (!r.choices[0].message.content) throw new Error('empty');
        },
        stream: async () => {
          let n = 0;
          const s = await gw.chat.completions.create({ model: 'chat', messages: MESSAGES, max_tokens: MAX_TOKENS, stream: true }, options);
          for await (const _ of s) n += 1;
          if (n < 2) throw new Error('short stream');
        },
        close: () => gw.close(),
      };
    },
    openai: () => {
      const OpenAI = require('openai');
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: UPSTREAM_KEY, maxRetries: 0 });
      return {
        plain: async () => {
          const r = await client.chat.completions.create(body);
          if (!r.choices[0].message.content) throw new Error('empty');
        },
        stream: async () => {
          let n = 0;
          for await (const _ of await client.chat.completions.create({ ...body, stream: true })) n += 1;
          if (n < 2) throw new Error('short stream');
        },
        close: async () => {},
      };
    },
    fetch: () => {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` };
      const endpoint = `${url}/v1/chat/completions`;
      return {
        plain: async () => {
          const r = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body) });
          const v = await r.json();
          if (!v.choices[0].message.content) throw new Error('empty');
        },
        stream: async () => {
          const r = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify({ ...body, stream: true }) });
          if ((await sseCount(r.body)) < 2) throw new Error('short stream');
        },
        close: async () => {},
      };
    },
  };
}

// BENCH_SCENARIOS=stream_c1,stream_c32 runs a subset (for a quick before/after of one change).
const SCENARIOS = [['plain', 1], ['plain', 32], ['stream', 1], ['stream', 32]].filter(
  ([kind, conc]) => !process.env.BENCH_SCENARIOS || process.env.BENCH_SCENARIOS.split(',').includes(`${kind}_c${conc}`),
);

async function throughput() {
  const out = {};
  const maxN = quick ? 5000 : 30000;
  const maxMs = quick ? 1000 : 3000;
  const warm = quick ? 100 : 300;
  for (const [name, make] of Object.entries(clients())) {
    try {
      const c = make();
      out[name] = {};
      for (const [kind, conc] of SCENARIOS) {
        const fn = kind === 'plain' ? c.plain : c.stream;
        await run(fn, conc, warm, 1000);
        out[name][`${kind}_c${conc}`] = await run(fn, conc, maxN, maxMs);
      }
      await c.close();
      const s = Object.entries(out[name]).map(([k, v]) => `${k} ${v.rps.toFixed(0)}/s`).join(', ');
      process.stderr.write(`   node ${name}: ${s}\n`);
    } catch (e) {
      process.stderr.write(`   node ${name}: FAILED: ${e && e.stack ? e.stack : e}\n`);
      out[name] = { error: String(e && e.message ? e.message : e) };
    }
  }
  return out;
}

function footprint(what) {
  const t0 = performance.now();
  if (what === 'sluicegate') {
    const { Gateway } = loadSluicegate();
    new Gateway({ config: sluicegateConfig() });
  } else if (what === 'openai') {
    const OpenAI = require('openai');
    new OpenAI({ baseURL: `${url}/v1`, apiKey: UPSTREAM_KEY });
  } else if (what !== 'node') {
    throw new Error(`unknown footprint ${what}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { what, seconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024 };
}

async function growth(n) {
  const { Gateway } = loadSluicegate();
  const gw = new Gateway({ config: sluicegateConfig() });
  const req = { model: 'chat', messages: MESSAGES, max_tokens: MAX_TOKENS };
  const call = () => gw.chat.completions.create(req, { key: VIRTUAL_KEY });
  const warm = Math.min(5000, Math.floor(n / 10));
  await run(call, 32, warm, 30000);
  if (global.gc) global.gc();
  const before = process.memoryUsage();
  const r = await run(call, 32, n, 120000);
  if (global.gc) global.gc();
  const after = process.memoryUsage();
  await gw.close();
  // V8 grows its young generation in steps under steady allocation (up to a cap, and back only
  // when allocation goes quiet): that shows in RSS, but it is the JS heap's size, not a leak.
  // Growth outside the V8 heap is the leak check for the native addon.
  const mb = (x) => x / 2 ** 20;
  const heapGrowth = mb(after.heapTotal - before.heapTotal);
  return {
    requests: r.n, warmup: warm, seconds: r.seconds,
    rss_before_mb: mb(before.rss), rss_after_mb: mb(after.rss), growth_mb: mb(after.rss - before.rss),
    heap_total_growth_mb: heapGrowth, native_growth_mb: mb(after.rss - before.rss) - heapGrowth,
  };
}

(async () => {
  if (process.env.BENCH_ONLY) { const only = process.env.BENCH_ONLY.split(','); const all = clients; clients = () => Object.fromEntries(Object.entries(all()).filter(([k]) => only.includes(k))); }
  let r;
  if (mode === 'throughput') r = await throughput();
  else if (mode === 'footprint') r = footprint(opt('what', 'sluicegate'));
  else if (mode === 'growth') r = await growth(Number(opt('n', '100000')));
  else throw new Error(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
