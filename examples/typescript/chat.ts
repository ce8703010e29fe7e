// sluicegate from TypeScript (compiles under `tsc --strict`). A gateway on an in-process mock
// provider: no keys, no network. Build and run from the repo root (after tests/node/run.sh
// has built the addon and linked node_modules/sluicegate):
//   bindings-node/node_modules/.bin/tsc -p examples/typescript && node examples/typescript/dist/chat.js

import {
  Gateway,
  GatewayError,
  RateLimitError,
  CancelledError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionMessageParam,
  type GatewayInfo,
  type Stream,
} from 'sluicegate';

const gw = new Gateway({
  config: `
providers:
  local: { type: mock, latency: 5ms }
deployments:
  mini: { provider: local, model: gpt-4o-mini }
routes:
  chat: { targets: [mini] }
`,
});

const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Name three rivers.' }];

// The overloads give a ChatCompletion for plain calls and a Stream for `stream: true`.
const completion: ChatCompletion = await gw.chat.completions.create({ model: 'chat', messages }, { tags: { team: 'search' } });
const meta: GatewayInfo = completion.gateway;
console.log(completion.choices[0].message.content, `(route ${meta.route}, ${meta.usage.output_tokens} tokens, $${meta.cost_usd ?? 'n/a'})`);

const stream: Stream<ChatCompletionChunk> = await gw.chat.completions.create({ model: 'chat', messages, stream: true });
const pieces: string[] = [];
for await (const chunk of stream) {
  pieces.push(chunk.choices[0]?.delta?.content ?? '');
}
console.log(pieces.join(''), `(streamed; request ${stream.gateway?.request_id})`);

async function ask(question: string, signal?: AbortSignal): Promise<string> {
  try {
    const r = await gw.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: question }] }, { signal, timeout: 30 });
    return r.choices[0].message.content ?? '';
  } catch (e) {
    if (e instanceof RateLimitError) return `rate limited; retry in ${e.retryAfter ?? '?'} s`;
    if (e instanceof CancelledError) return 'cancelled';
    if (e instanceof GatewayError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

console.log(await ask('hello?'));
console.log(await ask('never mind', AbortSignal.abort()));
await gw.close();
