// ESM entry point: the same module instance as the CommonJS one, so `instanceof` works across both.
import sluicegate from './index.js';

export const {
  Gateway,
  Completions,
  Embeddings,
  Stream,
  VERSION,
  setLogger,
  errorCodes,
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
} = sluicegate;

export default sluicegate;
