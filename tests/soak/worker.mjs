// One Node process of the budget soak: 16 concurrent callers through one Gateway, each call
// drawn at random (see soak.py for the kinds). Prints its outcomes as one JSON line.
import { readFileSync } from 'node:fs';
import { Gateway, GatewayError } from '../../bindings-node/index.mjs';

const [configPath, callsEach, seed] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const plan = config.soak;
delete config.soak;
const gw = new Gateway({ config });
let state = Number(seed) >>> 0 || 1;
const rand = () => {
  state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
  return state / 4294967296;
};
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const outcomes = {};
const count = (kind, code) => {
  outcomes[kind] ??= {};
  outcomes[kind][code] = (outcomes[kind][code] ?? 0) + 1;
};

async function one(kind) {
  const n = between(1, 4);
  const messages = [{ role: 'user', content: 'a'.repeat(between(100, 400)) }];
  const chat = (body, options) => gw.chat.completions.create({ messages, n, max_tokens: 16, ...body }, options);
  if (kind === 'embed') return gw.embeddings.create({ model: 'embed', input: ['b'.repeat(between(100, 400))] });
  if (kind === 'plain' || kind === 'fault') return chat({ model: kind === 'plain' ? 'ok' : 'fault' });
  if (kind === 'timeout') return chat({ model: 'slow_timeout' });
  if (kind === 'cancel') return chat({ model: 'slow' }, { signal: AbortSignal.timeout(plan.cancel_after * 1000) });
  const route = { stream: 'ok', finish_drop: 'ok', stall_drop: 'stall', cut: 'cut' }[kind];
  const stream = await chat({ model: route, stream: true });
  let seen = 0;
  for await (const chunk of stream) {
    seen += 1;
    const c = chunk.choices[0];
    if (kind === 'finish_drop' && c && c.index === 0 && c.finish_reason) break;
    if (kind === 'stall_drop' && seen === plan.stall_after) break;
  }
}

async function caller() {
  for (let i = 0; i < Number(callsEach); i++) {
    const kind = plan.kinds[between(0, plan.kinds.length - 1)];
    try {
      await one(kind);
      count(kind, 'ok');
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      count(kind, e.code);
    }
  }
}

await Promise.all(Array.from({ length: 16 }, caller));
await gw.close();
console.log(JSON.stringify({ lang: 'node', outcomes }));
