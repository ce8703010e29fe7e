// sluicegate from Node (ESM): a gateway on an in-process mock provider, so this runs with no
// keys and no network. Run it from the repo root after building the addon:
//   node examples/node/chat.mjs   (tests/node/run.sh links node_modules/sluicegate to bindings-node)
// In your own project: `npm install sluicegate`.

import { Gateway, RateLimitError, GatewayError } from 'sluicegate';

const gw = new Gateway({
  config: {
    providers: {
      local: {
        type: 'mock',
        latency: '5ms',
        // The first call to gpt-4o-mini is rate limited, so the route fails over to the next target.
        script: { 'gpt-4o-mini': [{ status: 429, error: 'slow down (scripted)' }, {}] },
      },
    },
    deployments: {
      mini: { provider: 'local', model: 'gpt-4o-mini' },
      haiku: { provider: 'local', model: 'claude-haiku-4-5' },
    },
    routes: { chat: { targets: ['mini', 'haiku'] } },
  },
});

const messages = [{ role: 'user', content: 'What is an embedded gateway?' }];

// A plain call: an OpenAI chat completion plus the `gateway` side channel.
const r = await gw.chat.completions.create({ model: 'chat', messages }, { tags: { team: 'search' } });
console.log(r.choices[0].message.content);
console.log(`  answered by ${r.gateway.deployment} after ${r.gateway.attempts} attempts, ${r.gateway.usage.output_tokens} tokens out, $${r.gateway.cost_usd}`);

// A stream: `for await`; `break` or an AbortSignal would cancel it upstream.
const stream = await gw.chat.completions.create({ model: 'chat', messages, stream: true });
let text = '';
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
console.log(`${text}\n  streamed by ${stream.gateway.deployment} in ${stream.gateway.latency_ms} ms`);

// Errors are classes with a stable `.code`.
try {
  await gw.chat.completions.create({ model: 'no-such-route', messages });
} catch (e) {
  if (e instanceof RateLimitError) console.log(`rate limited, retry after ${e.retryAfter}s`);
  else if (e instanceof GatewayError) console.log(`${e.name} (${e.code}, status ${e.status}): ${e.message}`);
  else throw e;
}

// A per-call timeout (seconds, or a duration string) and cancellation with an AbortSignal.
const controller = new AbortController();
setTimeout(() => controller.abort(), 1);
await gw.chat.completions
  .create({ model: 'chat', messages }, { signal: controller.signal, timeout: '10s' })
  .catch((e) => console.log(`${e.name}: ${e.message}`));

// Embeddings are routed like chat; explain() shows the routing decision without calling anyone;
// usage() reports what this gateway's calls used, grouped by any dimension.
const emb = await gw.embeddings.create({ model: 'chat', input: ['rivers', 'lakes'] });
console.log(`embeddings: ${emb.data.length} vectors of ${emb.data[0].embedding.length} dims`);
const plan = gw.explain('chat', { tags: { team: 'search' } });
console.log(`explain: would serve ${plan.would_serve}; ${plan.candidates.map((c) => `${c.deployment}: ${c.reason}`).join('; ')}`);
for (const g of gw.usage({ groupBy: 'deployment' }).groups) {
  console.log(`usage: ${g.group.deployment ?? '(none)'} ${g.requests} requests, ${g.output_tokens} tokens out, $${g.cost_usd}`);
}

await gw.close();
