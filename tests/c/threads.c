/* One gateway handle shared by 8 threads, each making plain and streaming calls to the mock
 * provider over HTTP. Every reply must be the one for its own prompt, the server must have seen
 * exactly the calls that were made, with none left in flight, and the calls must have run in
 * parallel: each answer takes 5 ms, so one after the other they would take 1.1 s. Then a
 * stream opened on one thread is read on another. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluicegate.h"
#include "support.h"

#define THREADS 8
#define CALLS 25
#define STREAMS 3
#define DELAY_MS 5

static const char CONFIG[] =
    "{\"providers\": {\"oai\": {\"type\": \"openai\", \"api_base\": \"${SG_MOCK_URL}/v1\", \"api_key\": \"sk-threads\"}},"
    " \"deployments\": {\"d\": {\"provider\": \"oai\", \"model\": \"gpt-4o\"}},"
    " \"routes\": {\"chat\": {\"targets\": [\"d\"]}}}";

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
/* CHECK's counters are plain ints: serialise them. */
#define TCHECK(cond, ...)                  \
  do {                                     \
    pthread_mutex_lock(&check_lock);       \
    CHECK(cond, __VA_ARGS__);              \
    pthread_mutex_unlock(&check_lock);     \
  } while (0)

typedef struct {
  const sg_gateway *gw;
  int id;
} worker;

static char *reply_text(const char *response) {
  cJSON *r = cJSON_Parse(response);
  const cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "choices"), 0), "message");
  const char *content = cJSON_GetStringValue(cJSON_GetObjectItem(msg, "content"));
  char *text = strdup(content ? content : "(none)");
  cJSON_Delete(r);
  return text;
}

static void *run(void *arg) {
  worker *w = arg;
  char request[256], expected[256];
  for (int i = 0; i < CALLS + STREAMS; i++) {
    int stream = i >= CALLS;
    snprintf(request, sizeof request,
             "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"thread %d call %d\"}],\"stream\":%s}",
             w->id, i, stream ? "true" : "false");
    snprintf(expected, sizeof expected, "Hello from gpt-4o! You said: thread %d call %d", w->id, i);
    char opts[64];
    snprintf(opts, sizeof opts, "{\"tags\":{\"thread\":\"%d\"}}", w->id);
    sg_error *err = NULL;
    if (!stream) {
      char *out = NULL;
      sg_status st = sg_chat(w->gw, request, strlen(request), opts, &out, NULL, &err);
      TCHECK(st == SG_OK, "thread %d call %d: %s", w->id, i, sg_error_message(err));
      if (st == SG_OK) {
        char *text = reply_text(out);
        TCHECK(strcmp(text, expected) == 0, "thread %d got `%s`", w->id, text);
        free(text);
      }
      sg_string_free(out);
    } else {
      sg_stream *s = NULL;
      sg_status st = sg_chat_stream(w->gw, request, strlen(request), opts, &s, &err);
      TCHECK(st == SG_OK, "thread %d stream %d: %s", w->id, i, sg_error_message(err));
      char text[256] = "";
      char *chunk;
      while (st == SG_OK && (st = sg_stream_next(s, &chunk, NULL, &err)) == SG_OK) {
        cJSON *c = cJSON_Parse(chunk);
        const cJSON *d = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0), "delta");
        const char *piece = cJSON_GetStringValue(cJSON_GetObjectItem(d, "content"));
        if (piece) strncat(text, piece, sizeof text - strlen(text) - 1);
        cJSON_Delete(c);
        sg_string_free(chunk);
      }
      TCHECK(st == SG_STREAM_END, "thread %d stream %d ended with %s: %s", w->id, i, sg_status_str(st), sg_error_message(err));
      TCHECK(strcmp(text, expected) == 0, "thread %d streamed `%s`", w->id, text);
      sg_stream_free(s);
    }
    sg_error_free(err);
  }
  return NULL;
}

/* A stream opened on one thread and read to its end on another. */
static void *read_stream(void *arg) {
  sg_stream *s = arg;
  char text[256] = "", *chunk;
  sg_status st;
  while ((st = sg_stream_next(s, &chunk, NULL, NULL)) == SG_OK) {
    cJSON *c = cJSON_Parse(chunk);
    const cJSON *d = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0), "delta");
    const char *piece = cJSON_GetStringValue(cJSON_GetObjectItem(d, "content"));
    if (piece) strncat(text, piece, sizeof text - strlen(text) - 1);
    cJSON_Delete(c);
    sg_string_free(chunk);
  }
  TCHECK(st == SG_STREAM_END, "moved stream ended with %s", sg_status_str(st));
  TCHECK(strcmp(text, "Hello from gpt-4o! You said: moved") == 0, "moved stream text `%s`", text);
  return NULL;
}

static void test_stream_moves_between_threads(const sg_gateway *gw) {
  const char *req = "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"moved\"}],\"stream\":true}";
  sg_stream *s = NULL;
  sg_error *err = NULL;
  CHECK(sg_chat_stream(gw, req, strlen(req), NULL, &s, &err) == SG_OK, "open: %s", sg_error_message(err));
  pthread_t reader;
  if (s && pthread_create(&reader, NULL, read_stream, s) == 0) pthread_join(reader, NULL);
  sg_stream_free(s);
}

int main(void) {
  mock_server server;
  if (mock_start(&server, "{\"*\": [{\"delay\": \"5ms\"}]}", "sk-threads") != 0) return 1;
  setenv("SG_MOCK_URL", server.url, 1);
  sg_gateway *gw = NULL;
  sg_error *err = NULL;
  if (sg_gateway_new(CONFIG, strlen(CONFIG), &gw, &err) != SG_OK) {
    fprintf(stderr, "gateway: %s\n", sg_error_message(err));
    mock_stop(&server);
    return 1;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_t threads[THREADS];
  worker workers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (worker){gw, t};
    CHECK(pthread_create(&threads[t], NULL, run, &workers[t]) == 0, "pthread_create");
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  double serial_ms = THREADS * (CALLS + STREAMS) * DELAY_MS;
  printf("threads: %d calls in %.0f ms (%.0f ms if serial)\n", THREADS * (CALLS + STREAMS), elapsed_ms, serial_ms);
  test_stream_moves_between_threads(gw);
  sg_gateway_free(gw);

  char *body = http_get(server.port, "/_mock/stats");
  cJSON *stats = body ? cJSON_Parse(body) : NULL;
  CHECK(stats != NULL, "stats: %s", body ? body : "(no answer)");
  if (stats) {
    int requests = cJSON_GetObjectItem(stats, "requests")->valueint;
    int streams = cJSON_GetObjectItem(stats, "completed_streams")->valueint;
    /* Plus the one stream that moved between threads. */
    CHECK(requests == THREADS * (CALLS + STREAMS) + 1, "requests %d, want %d", requests, THREADS * (CALLS + STREAMS) + 1);
    CHECK(streams == THREADS * STREAMS + 1, "completed_streams %d, want %d", streams, THREADS * STREAMS + 1);
    CHECK(cJSON_GetObjectItem(stats, "in_flight")->valueint == 0, "in_flight %s", body);
    /* Parallel, proven by what the server saw rather than by a time limit a loaded machine misses. */
    CHECK(cJSON_GetObjectItem(stats, "peak_in_flight")->valueint >= 2, "the threads did not run in parallel: %s", body);
    CHECK(cJSON_GetObjectItem(stats, "disconnects")->valueint == 0, "disconnects %s", body);
  }
  cJSON_Delete(stats);
  free(body);
  mock_stop(&server);
  return sg_test_report("threads");
}
