// Type definitions for sluicegate (Node). Hand-written for the public JS layer; the test
// tests/node/api.test.mjs fails when these declarations and the runtime exports drift apart.

/** The library version (the same in every language). */
export declare const VERSION: string;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Anything with these methods: `console`, a pino or winston logger... */
export interface Logger {
  debug?(message: string): unknown;
  info?(message: string): unknown;
  warn(message: string): unknown;
  error(message: string): unknown;
}

/**
 * Sends the core's log lines (process-wide) to `logger`; lines below `level` (default 'warn')
 * are not sent. `setLogger(null)` restores the default: warnings and errors on stderr.
 */
export declare function setLogger(logger: Logger | null, options?: { level?: LogLevel }): void;

/** Every error code the core can produce (one GatewayError subclass each). */
export declare function errorCodes(): ErrorCode[];

export type ErrorCode =
  | 'invalid_request'
  | 'invalid_config'
  | 'authentication'
  | 'permission_denied'
  | 'not_found'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'guardrail_blocked'
  | 'provider_error'
  | 'timeout'
  | 'connection'
  | 'stream_interrupted'
  | 'cancelled'
  | 'internal';

// ---------------------------------------------------------------------------------------------
// Requests and responses: OpenAI Chat Completions JSON (snake_case fields, as on the wire).

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

export interface ChatCompletionContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletionMessageParam {
  role: ChatRole;
  content?: string | ChatCompletionContentPart[] | null;
  name?: string;
  tool_calls?: ChatCompletionMessageToolCall[];
  tool_call_id?: string;
  [key: string]: unknown;
}

export interface ChatCompletionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export interface ChatCompletionCreateParamsBase {
  /** A route name from the config (or a deployment name). */
  model: string;
  messages: ChatCompletionMessageParam[];
  tools?: ChatCompletionTool[];
  tool_choice?: unknown;
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stop?: string | string[] | null;
  user?: string;
  stream_options?: { include_usage?: boolean } | null;
  /** Other OpenAI fields pass through to OpenAI-format providers. */
  [key: string]: unknown;
}

export interface ChatCompletionCreateParamsNonStreaming extends ChatCompletionCreateParamsBase {
  stream?: false | null;
}

export interface ChatCompletionCreateParamsStreaming extends ChatCompletionCreateParamsBase {
  stream: true;
}

export type ChatCompletionCreateParams = ChatCompletionCreateParamsNonStreaming | ChatCompletionCreateParamsStreaming;

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [key: string]: unknown;
}

/** What the gateway did for one call: the `gateway` field of every response and stream. */
export interface GatewayInfo {
  request_id: string;
  /** The route the call's `model` named. */
  route: string;
  /** The deployment that answered (null when none did). */
  deployment: string | null;
  provider: string | null;
  /** The provider's model name. */
  model: string | null;
  /** How many deployments were tried. */
  attempts: number;
  cache_hit: boolean;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cached_tokens: number;
    cache_write_tokens?: number;
    reasoning_tokens: number;
    /** True when the provider reported no usage and the gateway estimated it. */
    estimated?: boolean;
  };
  /** null when the model has no known price. */
  cost_usd: number | null;
  latency_ms: number;
  ttft_ms: number | null;
  /** The gateway's own time, in microseconds. */
  overhead_us: number;
  tags: Record<string, string>;
  /** What the policies did: rate limits, budgets, the virtual key, guardrails. */
  policy?: Record<string, unknown>;
  /** Deployments skipped while planning the call, with the reason. */
  skipped?: unknown[];
  [key: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ChatCompletionMessageToolCall[]; [key: string]: unknown };
    finish_reason: string | null;
    logprobs?: unknown;
  }>;
  usage?: CompletionUsage | null;
  gateway: GatewayInfo;
  [key: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      tool_calls?: Array<{ index: number; id?: string; type?: 'function'; function?: { name?: string; arguments?: string } }>;
      [key: string]: unknown;
    };
    finish_reason: string | null;
    logprobs?: unknown;
  }>;
  /** Present (and non-null) only when the request set `stream_options.include_usage`. */
  usage?: CompletionUsage | null;
  [key: string]: unknown;
}

export interface EmbeddingCreateParams {
  /** A route name from the config (or a deployment name). */
  model: string;
  input: string | string[] | number[] | number[][];
  dimensions?: number;
  encoding_format?: 'float' | 'base64';
  user?: string;
  [key: string]: unknown;
}

export interface CreateEmbeddingResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage?: { prompt_tokens: number; total_tokens: number } | null;
  gateway: GatewayInfo;
  [key: string]: unknown;
}

/** `gateway.explain()`: which deployment would serve a call, and why. */
export interface ExplainReport {
  route: string;
  strategy: string;
  /** The deployment a call would go to now (null when every candidate is skipped). */
  would_serve: string | null;
  estimated_prompt_tokens: number;
  candidates: Array<{
    deployment: string;
    route: string;
    provider: string;
    model: string;
    region: string | null;
    weight: number;
    kept: boolean;
    reason: string;
    breaker: string;
    in_flight: number;
    latency_ewma_ms: number | null;
    [key: string]: unknown;
  }>;
  [key: string]: unknown;
}

/** What `onRequestEnd` hooks receive for each finished call. */
export interface RequestEndEvent {
  request_id: string;
  /** RFC 3339 time of the call's end. */
  ts: string;
  /** 'chat' or 'embeddings'. */
  operation: string;
  route: string;
  deployment: string | null;
  provider: string | null;
  model: string | null;
  /** 'ok', or the error code. */
  outcome: 'ok' | ErrorCode;
  error: { code: ErrorCode; message: string } | null;
  /** The virtual key's name, when one was used. */
  key: string | null;
  tags: Record<string, string>;
  usage: { input_tokens: number; output_tokens: number; cached_tokens: number; reasoning_tokens: number };
  cost_usd: number | null;
  latency_ms: number;
  ttft_ms: number | null;
  overhead_us: number | null;
  [key: string]: unknown;
}

export interface ExplainOptions {
  tags?: Record<string, string | number | boolean>;
  /** A virtual key's secret, when the config has `keys`. */
  key?: string;
  /** The prompt size to plan for (context-window rules); 100 by default. `prompt_tokens` works too. */
  promptTokens?: number;
  prompt_tokens?: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** `gateway.usage()`: the calls this gateway made, grouped. */
export interface UsageReport {
  since: string;
  group_by: string[];
  groups: Array<{
    group: Record<string, string | null>;
    requests: number;
    /** Failed calls by error code. */
    errors: Partial<Record<ErrorCode, number>>;
    input_tokens: number;
    output_tokens: number;
    cached_tokens: number;
    reasoning_tokens: number;
    cost_usd: number;
    latency_ms: Percentiles;
    ttft_ms: Percentiles;
    [key: string]: unknown;
  }>;
  [key: string]: unknown;
}

export interface UsageQuery {
  /** Dimensions: key, team, user, route, deployment, provider, model, or `tag:NAME`. `group_by` works too. */
  groupBy?: string | string[];
  group_by?: string | string[];
  /** A Date, unix seconds, a date ("2026-11-01") or a duration ago ("1h"). */
  since?: Date | number | string;
}

/** Per-call gateway options, beside the request. */
export interface CallOptions {
  /** A virtual key's secret, when the config has `keys` (never logged or recorded). */
  key?: string;
  /** Labels used by policies and conditional routes, and reported in `gateway.tags`. */
  tags?: Record<string, string | number | boolean>;
  /** Your id for this call (one is generated when absent). `request_id` is accepted too. */
  requestId?: string;
  request_id?: string;
  /**
   * Upper bound on the whole call, every attempt included: **seconds** as a number (as in every
   * sluicegate language, unlike openai-node's milliseconds) or a duration string like "250ms", "30s".
   */
  timeout?: number | string;
  /** A W3C trace context (`00-<trace id>-<span id>-01`) the call's spans continue. */
  traceparent?: string;
  /** The response cache for this call: `false` skips it, `true` or `{ ttl: '10m' }` uses it. */
  cache?: boolean | { ttl?: string | number };
  /** Aborting cancels the call (and the upstream request); the promise rejects with CancelledError. */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------------

/** A streaming chat completion: `for await (const chunk of stream)`. */
export declare class Stream<Item = ChatCompletionChunk> implements AsyncIterable<Item> {
  private constructor();
  /** Aborting this controller stops the stream and cancels upstream (like openai-node). */
  readonly controller: AbortController;
  /** The gateway request id of this call. */
  readonly requestId: string;
  /** What the gateway did, once the stream has ended (cleanly or not); null before. */
  readonly gateway: GatewayInfo | null;
  /** A stream can be iterated once; leaving the loop early cancels upstream. */
  [Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined>;
}

/** `gateway.chat.completions`. */
export declare class Completions {
  private constructor();
  create(body: ChatCompletionCreateParamsNonStreaming, options?: CallOptions): Promise<ChatCompletion>;
  create(body: ChatCompletionCreateParamsStreaming, options?: CallOptions): Promise<Stream<ChatCompletionChunk>>;
  create(body: ChatCompletionCreateParams, options?: CallOptions): Promise<ChatCompletion | Stream<ChatCompletionChunk>>;
}

/** `gateway.embeddings`. */
export declare class Embeddings {
  private constructor();
  create(body: EmbeddingCreateParams, options?: CallOptions): Promise<CreateEmbeddingResponse>;
}

export interface GatewayOptions {
  /** The config: an object, or YAML or JSON text. Use `Gateway.fromFile()` for a file. */
  config: Record<string, unknown> | string;
}

/** An embedded LLM gateway: one config, its providers, routes and policies. */
export declare class Gateway {
  /** @throws {InvalidConfigError} naming every problem in the config. */
  constructor(options: GatewayOptions);
  /** Reads a YAML or JSON config file (a path or a file: URL). */
  static fromFile(path: string | URL): Promise<Gateway>;
  readonly chat: { readonly completions: Completions };
  readonly embeddings: Embeddings;
  /** Which deployment would serve a call to `model`, and why each candidate is kept or skipped. Makes no call. */
  explain(model: string, options?: ExplainOptions): ExplainReport;
  /** Requests, errors, tokens, cost and latency percentiles of this gateway's calls, grouped. */
  usage(query?: UsageQuery): UsageReport;
  /** The gateway's metrics in the Prometheus text format, for your `/metrics` endpoint. */
  metricsText(): string;
  /**
   * Calls `hook` after every call of this gateway (success or failure), off the request path.
   * What a hook throws or rejects becomes a process warning; it never affects a call.
   */
  onRequestEnd(hook: (event: RequestEndEvent) => unknown): void;
  /** Whether close() has been called. */
  readonly closed: boolean;
  /** Refuses new calls from now on; calls and streams already running finish normally. */
  close(): Promise<void>;
  // At run time a Gateway also has [Symbol.asyncDispose] (`await using gw = ...`); it is not
  // declared here so that the types compile without the esnext.disposable lib.
}

// ---------------------------------------------------------------------------------------------
// Errors: `instanceof` a class, or compare `.code` (the same string in every language).

export interface GatewayErrorJSON {
  code: ErrorCode;
  message: string;
  status_code: number | null;
  retryable: boolean;
  retry_after: number | null;
  request_id: string | null;
  problems: string[];
}

export interface GatewayErrorDetails {
  code?: ErrorCode;
  status?: number | null;
  retryable?: boolean;
  retryAfter?: number | null;
  requestId?: string | null;
  problems?: string[];
  cause?: unknown;
}

/** The base class of every sluicegate error. */
export declare class GatewayError extends Error {
  constructor(message: string, details?: GatewayErrorDetails);
  /** The class's error code (undefined on the base class). */
  static readonly code: ErrorCode | undefined;
  readonly code: ErrorCode;
  /** The upstream HTTP status, or the status an HTTP gateway would have used. */
  readonly status: number | null;
  /** Whether trying again (later) can help. */
  readonly retryable: boolean;
  /** Seconds the provider asked to wait, when it said so. */
  readonly retryAfter: number | null;
  readonly requestId: string | null;
  /** For InvalidConfigError: every problem, each "path: what is wrong". */
  readonly problems: string[];
  toJSON(): GatewayErrorJSON;
}

/** `invalid_request`: a malformed request or call option. */
export declare class BadRequestError extends GatewayError { static readonly code: 'invalid_request'; }
/** `invalid_config`: the config has problems (see `.problems`). */
export declare class InvalidConfigError extends GatewayError { static readonly code: 'invalid_config'; }
/** `authentication`: a provider rejected the credentials (401). */
export declare class AuthenticationError extends GatewayError { static readonly code: 'authentication'; }
/** `permission_denied`: not allowed (403). */
export declare class PermissionDeniedError extends GatewayError { static readonly code: 'permission_denied'; }
/** `not_found`: no such route, deployment or upstream model. */
export declare class NotFoundError extends GatewayError { static readonly code: 'not_found'; }
/** `rate_limited`: a provider or a gateway rate limit (429); see `.retryAfter`. */
export declare class RateLimitError extends GatewayError { static readonly code: 'rate_limited'; }
/** `budget_exceeded`: a budget policy blocked the call. */
export declare class BudgetExceededError extends GatewayError { static readonly code: 'budget_exceeded'; }
/** `guardrail_blocked`: a guardrail policy blocked the call. */
export declare class GuardrailError extends GatewayError { static readonly code: 'guardrail_blocked'; }
/** `provider_error`: the provider failed (5xx, malformed answer). */
export declare class ProviderError extends GatewayError { static readonly code: 'provider_error'; }
/** `connection`: the provider could not be reached. */
export declare class APIConnectionError extends GatewayError { static readonly code: 'connection' | 'timeout'; }
/** `timeout`: the call ran out of time (a kind of connection error, as in openai-node). */
export declare class APIConnectionTimeoutError extends APIConnectionError { static readonly code: 'timeout'; }
/** `stream_interrupted`: a stream broke after content was delivered; the reply is incomplete. */
export declare class StreamInterruptedError extends GatewayError { static readonly code: 'stream_interrupted'; }
/** `cancelled`: the caller cancelled (AbortSignal, `stream.controller.abort()`). */
export declare class CancelledError extends GatewayError { static readonly code: 'cancelled'; }
/** `internal`: a sluicegate bug; please report it. */
export declare class InternalServerError extends GatewayError { static readonly code: 'internal'; }

// Aliases: named after the codes (as in the Python binding), and openai-node's name for an abort.
export declare const InvalidRequestError: typeof BadRequestError;
export type InvalidRequestError = BadRequestError;
export declare const GuardrailBlockedError: typeof GuardrailError;
export type GuardrailBlockedError = GuardrailError;
export declare const InternalError: typeof InternalServerError;
export type InternalError = InternalServerError;
export declare const APIUserAbortError: typeof CancelledError;
export type APIUserAbortError = CancelledError;

declare const sluicegate: {
  Gateway: typeof Gateway;
  Completions: typeof Completions;
  Embeddings: typeof Embeddings;
  Stream: typeof Stream;
  VERSION: typeof VERSION;
  setLogger: typeof setLogger;
  errorCodes: typeof errorCodes;
  GatewayError: typeof GatewayError;
  BadRequestError: typeof BadRequestError;
  InvalidConfigError: typeof InvalidConfigError;
  AuthenticationError: typeof AuthenticationError;
  PermissionDeniedError: typeof PermissionDeniedError;
  NotFoundError: typeof NotFoundError;
  RateLimitError: typeof RateLimitError;
  BudgetExceededError: typeof BudgetExceededError;
  GuardrailError: typeof GuardrailError;
  ProviderError: typeof ProviderError;
  APIConnectionError: typeof APIConnectionError;
  APIConnectionTimeoutError: typeof APIConnectionTimeoutError;
  StreamInterruptedError: typeof StreamInterruptedError;
  CancelledError: typeof CancelledError;
  InternalServerError: typeof InternalServerError;
  InvalidRequestError: typeof BadRequestError;
  GuardrailBlockedError: typeof GuardrailError;
  InternalError: typeof InternalServerError;
  APIUserAbortError: typeof CancelledError;
};
export default sluicegate;
