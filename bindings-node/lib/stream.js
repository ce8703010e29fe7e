'use strict';
// A streaming chat completion as an async iterable of chunks. `break` (or any early exit from
// `for await`), `stream.controller.abort()` and the call's AbortSignal all cancel upstream.

const { coreError, fromNative } = require('./errors');

class Stream {
  #native;
  #requestId;
  #detach;
  #signal;
  #started = false;
  #ended = false;
  #gateway;

  /** @internal Built by `chat.completions.create({..., stream: true})`; `signal` is the call's. */
  constructor(native, requestId, detach, signal) {
    this.#native = native;
    this.#requestId = requestId;
    this.#detach = detach;
    this.#signal = signal;
    /** Aborting this controller stops the stream, like openai-node's `stream.controller`. */
    this.controller = new AbortController();
    this.controller.signal.addEventListener('abort', () => native.cancel(), { once: true });
  }

  /** The gateway request id of this call. */
  get requestId() {
    return this.#requestId;
  }

  /** The `gateway` object (route, deployment, usage, cost...), once the stream has ended; else null. */
  get gateway() {
    if (this.#gateway === undefined) {
      const json = this.#native.gateway();
      if (json === null || json === undefined) return null;
      this.#gateway = JSON.parse(json);
    }
    return this.#gateway;
  }

  async *[Symbol.asyncIterator]() {
    if (this.#started) {
      throw coreError('invalid_request', 'this stream has already been iterated; a stream can be read only once');
    }
    this.#started = true;
    try {
      for (;;) {
        // One native round trip and one JSON.parse per batch of the chunks already received
        // (see src/stream.rs); a failure rejects the read after the batch that preceded it.
        let json;
        try {
          json = await this.#native.nextBatch();
        } catch (e) {
          this.#ended = true;
          throw fromNative(e);
        }
        if (json === null) {
          this.#ended = true;
          return;
        }
        const chunks = JSON.parse(json);
        for (let i = 0; i < chunks.length; i++) {
          // After an abort, the next read rejects as cancelled, as it did when every chunk was
          // a read of its own: chunks still buffered are dropped, not yielded.
          if (i > 0 && (this.controller.signal.aborted || this.#signal?.aborted)) break;
          yield chunks[i];
        }
      }
    } finally {
      // Leaving the loop early (break, return, throw in the loop body) cancels upstream.
      if (!this.#ended) this.#native.cancel();
      this.#detach();
    }
  }
}

module.exports = { Stream };
