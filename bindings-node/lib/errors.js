'use strict';
// One error class per core error kind, all under GatewayError. The native module rejects with
// the core error's JSON behind PREFIX (see src/error.rs); fromNative() rebuilds the class.

const PREFIX = 'sluicegate-error-json:';

class GatewayError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, status?: number|null, retryable?: boolean, retryAfter?: number|null,
   *          requestId?: string|null, problems?: string[], cause?: unknown}} [details]
   */
  constructor(message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    /** The stable error code shared by every language (`rate_limited`, ...). */
    this.code = details.code ?? new.target.code ?? 'internal';
    /** The upstream HTTP status, or the HTTP status an HTTP gateway would have used. */
    this.status = details.status ?? null;
    /** Whether trying again (later) can help. */
    this.retryable = details.retryable ?? false;
    /** Seconds the provider asked to wait before retrying, when it said so. */
    this.retryAfter = details.retryAfter ?? null;
    /** The gateway request id of the failed call (when there was a call). */
    this.requestId = details.requestId ?? null;
    /** For `invalid_config`: every problem found, each "path: what is wrong". */
    this.problems = details.problems ?? [];
  }

  /** The error as the JSON object every binding shares (snake_case, like the core's). */
  toJSON() {
    return {
      code: this.code,
      message: this.message,
      status_code: this.status,
      retryable: this.retryable,
      retry_after: this.retryAfter,
      request_id: this.requestId,
      problems: this.problems,
    };
  }
}

// code -> class. openai-node's names where one exists, so `catch` blocks carry over.
const classes = {};
function define(name, code, Base = GatewayError) {
  const cls = { [name]: class extends Base {} }[name];
  cls.code = code;
  classes[code] = cls;
  return cls;
}

const BadRequestError = define('BadRequestError', 'invalid_request');
const InvalidConfigError = define('InvalidConfigError', 'invalid_config');
const AuthenticationError = define('AuthenticationError', 'authentication');
const PermissionDeniedError = define('PermissionDeniedError', 'permission_denied');
const NotFoundError = define('NotFoundError', 'not_found');
const RateLimitError = define('RateLimitError', 'rate_limited');
const BudgetExceededError = define('BudgetExceededError', 'budget_exceeded');
const GuardrailError = define('GuardrailError', 'guardrail_blocked');
const ProviderError = define('ProviderError', 'provider_error');
const APIConnectionError = define('APIConnectionError', 'connection');
// As in openai-node, a timeout is a kind of connection error.
const APIConnectionTimeoutError = define('APIConnectionTimeoutError', 'timeout', APIConnectionError);
const StreamInterruptedError = define('StreamInterruptedError', 'stream_interrupted');
const CancelledError = define('CancelledError', 'cancelled');
const InternalServerError = define('InternalServerError', 'internal');

// Aliases named after the codes (as in the Python binding), and openai-node's name for an abort.
const InvalidRequestError = BadRequestError;
const GuardrailBlockedError = GuardrailError;
const InternalError = InternalServerError;
const APIUserAbortError = CancelledError;

/** Builds the class for a core error object ({code, message, status_code, ...}). */
function fromJSON(json) {
  const cls = classes[json.code] ?? GatewayError;
  return new cls(json.message, {
    code: json.code,
    status: json.status_code,
    retryable: json.retryable,
    retryAfter: json.retry_after,
    requestId: json.request_id,
    problems: json.problems,
  });
}

/**
 * An error raised by the JS layer itself (a bad JS value, an aborted signal), built by the core
 * so that it carries the core's defaults for its code (status, retryable).
 */
function coreError(code, message, cause) {
  const error = fromJSON(JSON.parse(require('./native').errorJson(code, message)));
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** A native rejection as a GatewayError subclass; anything else is returned unchanged. */
function fromNative(error) {
  if (error instanceof Error && typeof error.message === 'string' && error.message.startsWith(PREFIX)) {
    try {
      return fromJSON(JSON.parse(error.message.slice(PREFIX.length)));
    } catch {
      return new InternalServerError(error.message.slice(PREFIX.length));
    }
  }
  return error;
}

module.exports = {
  classes,
  coreError,
  fromJSON,
  fromNative,
  GatewayError,
  BadRequestError,
  InvalidConfigError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  RateLimitError,
  BudgetExceededError,
  GuardrailError,
  ProviderError,
  APIConnectionError,
  APIConnectionTimeoutError,
  StreamInterruptedError,
  CancelledError,
  InternalServerError,
  InvalidRequestError,
  GuardrailBlockedError,
  InternalError,
  APIUserAbortError,
};
