// One OS process of the multi-process test: 16 concurrent callers through one Node Gateway.
import { readFileSync } from 'node:fs';
import { Gateway, GatewayError } from '../../bindings-node/index.mjs';

const [configPath, callsEach] = process.argv.slice(2);
const gw = new Gateway({ config: JSON.parse(readFileSync(configPath, 'utf8')) });
const outcome = { ok: 0, errors: {}, spent: 0 };
async function caller() {
  for (let i = 0; i < Number(callsEach); i++) {
    try {
      const r = await gw.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
      outcome.ok += 1;
      outcome.spent += r.gateway.cost_usd ?? 0;
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      outcome.errors[e.code] = (outcome.errors[e.code] ?? 0) + 1;
    }
  }
}
await Promise.all(Array.from({ length: 16 }, caller));
await gw.close();
console.log(JSON.stringify(outcome));
