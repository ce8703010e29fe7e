// Compiled (never run) by types.test.mjs with `tsc --strict`. Each @ts-expect-error line must be
// an error, so the declarations are checked in both directions.

import sluicegate, {
  Gateway,
  Stream,
  GatewayError,
  RateLimitError,
  APIConnectionError,
  APIConnectionTimeoutError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ErrorCode,
  type ExplainReport,
  type GatewayInfo,
  type RequestEndEvent,
  type UsageReport,
  setLogger,
} from '../../bindings-node/index.js';

export async function check(): Promise<void> {
  const gw = new Gateway({ config: { providers: {} } });
  const fromText = new Gateway({ config: 'providers: {}' });
  const fromFile: Gateway = await Gateway.fromFile(new URL('file:///etc/gateway.yaml'));
  void fromText;
  void fromFile;

  const plain = await gw.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
  const text: string | null = plain.choices[0].message.content;
  const meta: GatewayInfo = plain.gateway;
  const cost: number | null = meta.cost_usd;
  void text;
  void cost;

  const stream = await gw.chat.completions.create(
    { model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true },
    { tags: { team: 'search' }, requestId: 'r-1', timeout: '30s', signal: AbortSignal.timeout(1000) },
  );
  const s: Stream<ChatCompletionChunk> = stream;
  for await (const chunk of s) {
    const piece: string | null | undefined = chunk.choices[0]?.delta.content;
    void piece;
  }
  const after: GatewayInfo | null = stream.gateway;
  stream.controller.abort();
  void after;

  const flag: boolean = Math.random() > 0.5;
  const either = await gw.chat.completions.create({ model: 'chat', messages: [], stream: flag });
  const narrowed: ChatCompletion | Stream = either;
  void narrowed;

  try {
    await gw.close();
  } catch (e) {
    if (e instanceof RateLimitError) {
      const wait: number | null = e.retryAfter;
      void wait;
    }
    if (e instanceof GatewayError) {
      const code: ErrorCode = e.code;
      const json = e.toJSON();
      const status: number | null = json.status_code;
      void code;
      void status;
    }
  }
  const emb = await gw.embeddings.create({ model: 'emb', input: ['a', 'b'] }, { key: 'sk-virtual' });
  const vector: number[] | string = emb.data[0].embedding;
  const embMeta: GatewayInfo = emb.gateway;
  void vector;
  void embMeta;
  const report: ExplainReport = gw.explain('chat', { tags: { data_class: 'pii' }, promptTokens: 500 });
  const serving: string | null = report.would_serve;
  const usage: UsageReport = gw.usage({ groupBy: ['team', 'model'], since: new Date() });
  const p95: number | null = usage.groups[0].latency_ms.p95;
  const metrics: string = gw.metricsText();
  void serving;
  void p95;
  void metrics;
  // @ts-expect-error explain needs a model
  gw.explain();
  // @ts-expect-error since is a Date, number or string
  gw.usage({ since: true });

  gw.onRequestEnd((event: RequestEndEvent) => {
    const outcome: 'ok' | ErrorCode = event.outcome;
    void outcome;
  });
  setLogger(console, { level: 'info' });
  setLogger(null);
  // @ts-expect-error levels are a closed set
  setLogger(console, { level: 'loud' });

  const timeoutIsConnection: APIConnectionError = new APIConnectionTimeoutError('t');
  void timeoutIsConnection;
  const viaDefault: typeof Gateway = sluicegate.Gateway;
  void viaDefault;

  // @ts-expect-error a stream is not a ChatCompletion
  const wrong: ChatCompletion = await gw.chat.completions.create({ model: 'chat', messages: [], stream: true });
  // @ts-expect-error a plain call does not give a Stream
  const wrong2: Stream = await gw.chat.completions.create({ model: 'chat', messages: [] });
  // @ts-expect-error `model` is required
  await gw.chat.completions.create({ messages: [] });
  // @ts-expect-error roles are a closed set
  await gw.chat.completions.create({ model: 'chat', messages: [{ role: 'wizard', content: 'x' }] });
  // @ts-expect-error options are typed
  await gw.chat.completions.create({ model: 'chat', messages: [] }, { signal: 'stop' });
  // @ts-expect-error the config is required
  new Gateway({});
  // @ts-expect-error codes are a closed set
  const badCode: ErrorCode = 'oops';
  void wrong;
  void wrong2;
  void badCode;
}
