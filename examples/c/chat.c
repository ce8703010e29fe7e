/* sluicegate from C: a plain call, a streamed call and an error, on an in-process mock
 * provider (no keys, no network). Build and run from the repository root:
 *
 *   cargo build -p sluicegate-c
 *   cc -std=c11 -Iinclude examples/c/chat.c -Ltarget/debug -lsluicegate -o chat
 *   LD_LIBRARY_PATH=target/debug ./chat      (tests/c/run.sh links it with an rpath instead)
 */
#include <stdio.h>
#include <string.h>

#include "sluicegate.h"

static const char CONFIG[] =
    "providers:\n"
    "  local: { type: mock, latency: 5ms }\n"
    "deployments:\n"
    "  mini: { provider: local, model: gpt-4o-mini }\n"
    "routes:\n"
    "  chat: { targets: [mini] }\n";

/* Reports a failed call and frees its error; returns 1 so that main can `return fail(...)`. */
static int fail(const char *what, sg_error *err) {
  fprintf(stderr, "%s failed [%s]: %s\n", what, sg_error_code_str(err), sg_error_message(err));
  sg_error_free(err);
  return 1;
}

/* Called for each chunk of a streamed reply; returning non-zero would cancel the stream. */
static int print_chunk(void *user_data, const char *chunk, size_t len) {
  int *count = user_data;
  printf("  chunk %d (%zu bytes): %s\n", ++*count, len, chunk);
  return 0;
}

int main(void) {
  printf("sluicegate %s\n", sg_version());
  sg_gateway *gw = NULL;
  sg_error *err = NULL;
  if (sg_gateway_new(CONFIG, strlen(CONFIG), &gw, &err) != SG_OK) return fail("sg_gateway_new", err);

  /* A plain call: OpenAI Chat Completions JSON in, the response (with `gateway`) out. */
  const char *request = "{\"model\": \"chat\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello from C\"}]}";
  char *response = NULL;
  size_t response_len = 0;
  if (sg_chat(gw, request, strlen(request), "{\"tags\": {\"team\": \"docs\"}}", &response, &response_len, &err) != SG_OK) {
    sg_gateway_free(gw);
    return fail("sg_chat", err);
  }
  printf("response (%zu bytes): %s\n", response_len, response);
  sg_string_free(response);

  /* A streamed call; the `gateway` metadata arrives once the stream has ended. */
  const char *streamed =
      "{\"model\": \"chat\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"Stream, please\"}]}";
  int chunks = 0;
  char *meta = NULL;
  if (sg_chat_stream_cb(gw, streamed, strlen(streamed), NULL, print_chunk, &chunks, &meta, NULL, &err) != SG_OK) {
    sg_gateway_free(gw);
    return fail("sg_chat_stream_cb", err);
  }
  printf("stream ended after %d chunks; gateway: %s\n", chunks, meta);
  sg_string_free(meta);

  /* Errors carry a stable code, a message saying what to do, and the full JSON. */
  const char *unknown = "{\"model\": \"chta\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
  sg_status st = sg_chat(gw, unknown, strlen(unknown), NULL, &response, NULL, &err);
  printf("unknown route: status %d (%s): %s\n", st, sg_error_code_str(err), sg_error_message(err));
  sg_error_free(err);

  sg_gateway_free(gw);
  return st == SG_NOT_FOUND ? 0 : 1;
}
