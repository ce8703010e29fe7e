/* Cancelling reaches the provider: a callback that returns non-zero (SG_CANCELLED), sg_stream_free
 * on an unfinished stream, and a cancel token cancelled from another thread (a plain call, and
 * a stream blocked in sg_stream_next) all close the upstream connection, which the mock provider
 * counts as a disconnect, and leave nothing in flight. A stream read to its end is the control:
 * it completes and does not disconnect. A stream its token cancelled is charged to the budget. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluicegate.h"
#include "support.h"

/* 40 words, 20 ms apart: a whole stream takes about 0.8 s. */
static const char SCRIPT[] =
    "{\"gpt-4o\": [{\"chunk_delay\": \"20ms\", \"reply\": \"w01 w02 w03 w04 w05 w06 w07 w08 w09 w10 w11 w12 w13 w14 "
    "w15 w16 w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27 w28 w29 w30 w31 w32 w33 w34 w35 w36 w37 w38 w39 w40\"}],"
    " \"slow\": [{\"delay\": \"3s\"}]}";
static const char CONFIG[] =
    "{\"providers\": {\"oai\": {\"type\": \"openai\", \"api_base\": \"${SG_MOCK_URL}/v1\", \"api_key\": \"sk-cancel\"}},"
    " \"deployments\": {\"d\": {\"provider\": \"oai\", \"model\": \"gpt-4o\"}, \"s\": {\"provider\": \"oai\", \"model\": \"slow\"}},"
    " \"routes\": {\"chat\": {\"targets\": [\"d\"]}, \"slow\": {\"targets\": [\"s\"]}}}";
static const char SLOW_REQUEST[] = "{\"model\":\"slow\",\"messages\":[{\"role\":\"user\",\"content\":\"wait\"}]}";
static const char REQUEST[] =
    "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"count\"}],\"stream\":true}";

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int stat_of(int port, const char *name) {
  char *body = http_get(port, "/_mock/stats");
  cJSON *stats = body ? cJSON_Parse(body) : NULL;
  const cJSON *v = cJSON_GetObjectItem(stats, name);
  int n = cJSON_IsNumber(v) ? v->valueint : -1;
  cJSON_Delete(stats);
  free(body);
  return n;
}

/* Waits up to 3 s for the server to see `disconnects` and nothing in flight. */
static int wait_for(int port, int disconnects) {
  for (int i = 0; i < 300; i++) {
    if (stat_of(port, "disconnects") == disconnects && stat_of(port, "in_flight") == 0) return 1;
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static int stop_after(void *user_data, const char *chunk, size_t len) {
  (void)chunk;
  (void)len;
  int *left = user_data;
  return --*left <= 0 ? 1 : 0;
}

/* Cancels a token from another thread after `ms` milliseconds. */
typedef struct {
  sg_cancel_token *token;
  long ms;
  int port;
  int in_flight_before; /* what the provider had in flight just before the cancel */
} delayed_cancel;

static void *cancel_later(void *arg) {
  delayed_cancel *d = arg;
  struct timespec ts = {d->ms / 1000, (d->ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  d->in_flight_before = stat_of(d->port, "in_flight");
  sg_cancel_token_cancel(d->token);
  return NULL;
}

/* `cancel_later` for a gateway without a mock server to ask. */
static void *cancel_later_quietly(void *arg) {
  delayed_cancel *d = arg;
  struct timespec ts = {d->ms / 1000, (d->ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  sg_cancel_token_cancel(d->token);
  return NULL;
}

static void test_cancel_tokens(const sg_gateway *gw, int port, int disconnects) {
  /* Already cancelled: nothing reaches the provider. */
  int requests = stat_of(port, "requests");
  sg_cancel_token *token = sg_cancel_token_new();
  CHECK(token && !sg_cancel_token_is_cancelled(token), "new token");
  sg_cancel_token_cancel(token);
  CHECK(sg_cancel_token_is_cancelled(token), "cancelled token");
  char *out = NULL;
  sg_error *err = NULL;
  sg_status st = sg_chat_cancellable(gw, SLOW_REQUEST, strlen(SLOW_REQUEST), NULL, token, &out, NULL, &err);
  CHECK(st == SG_CANCELLED && strcmp(sg_error_code_str(err), "cancelled") == 0, "pre-cancelled: %s", sg_status_str(st));
  sg_error_free(err);
  CHECK(stat_of(port, "requests") == requests, "a pre-cancelled call reached the provider");
  sg_cancel_token_free(token);

  /* A plain call waiting on a slow provider, cancelled from another thread. */
  token = sg_cancel_token_new();
  delayed_cancel d = {token, 150, port, -1};
  pthread_t canceller;
  pthread_create(&canceller, NULL, cancel_later, &d);
  double t0 = now_ms();
  err = NULL;
  st = sg_chat_cancellable(gw, SLOW_REQUEST, strlen(SLOW_REQUEST), NULL, token, &out, NULL, &err);
  double took = now_ms() - t0;
  pthread_join(canceller, NULL);
  CHECK(st == SG_CANCELLED, "plain call: %s: %s", sg_status_str(st), sg_error_message(err));
  CHECK(took < 1500, "cancelled plain call returned after %.0f ms; the provider takes 3000", took);
  sg_error_free(err);
  sg_cancel_token_free(token);
  /* The mock counts disconnects for streams only; for a plain call, the proof that the cancel
   * reached it is that its handler stopped before the 3 s delay it was sleeping through. */
  CHECK(d.in_flight_before == 1, "in flight before the cancel: %d", d.in_flight_before);
  int idle = 0;
  while (!idle && now_ms() - t0 < 2500) {
    idle = stat_of(port, "in_flight") == 0;
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  CHECK(idle, "the provider was still working on the cancelled call after %.0f ms", now_ms() - t0);
  CHECK(stat_of(port, "requests") == requests + 1, "requests %d", stat_of(port, "requests"));

  /* A stream blocked in sg_stream_next, cancelled from another thread. */
  token = sg_cancel_token_new();
  sg_stream *s = NULL;
  err = NULL;
  CHECK(sg_chat_stream_cancellable(gw, REQUEST, strlen(REQUEST), NULL, token, &s, &err) == SG_OK, "open: %s",
        sg_error_message(err));
  sg_cancel_token_free(token); /* the stream keeps what it needs */
  char *chunk = NULL;
  CHECK(s && sg_stream_next(s, &chunk, NULL, NULL) == SG_OK, "first chunk");
  sg_string_free(chunk);
  sg_stream_free(s); /* freeing still cancels, token or not */
  CHECK(wait_for(port, ++disconnects), "stream free: disconnects %d", stat_of(port, "disconnects"));

  token = sg_cancel_token_new();
  s = NULL;
  CHECK(sg_chat_stream_cancellable(gw, REQUEST, strlen(REQUEST), NULL, token, &s, NULL) == SG_OK, "open");
  d = (delayed_cancel){token, 150, port, -1};
  pthread_create(&canceller, NULL, cancel_later, &d);
  int chunks = 0;
  err = NULL;
  t0 = now_ms();
  while ((st = sg_stream_next(s, &chunk, NULL, &err)) == SG_OK) {
    chunks++;
    sg_string_free(chunk);
  }
  took = now_ms() - t0;
  pthread_join(canceller, NULL);
  CHECK(st == SG_CANCELLED, "stream: %s: %s", sg_status_str(st), sg_error_message(err));
  CHECK(sg_error_request_id(err) != NULL, "request id on the cancelled stream");
  CHECK(chunks > 0 && took < 600, "%d chunks in %.0f ms before the cancel (the stream takes ~800)", chunks, took);
  sg_error_free(err);
  CHECK(sg_stream_next(s, &chunk, NULL, NULL) == SG_STREAM_END, "END after the cancel");
  char *meta = NULL;
  err = NULL;
  CHECK(sg_stream_gateway(s, &meta, NULL, &err) == SG_INVALID_REQUEST && meta == NULL, "no metadata after a cancel");
  sg_error_free(err);
  sg_stream_free(s);
  sg_cancel_token_free(token);
  CHECK(wait_for(port, ++disconnects), "stream cancel: disconnects %d, in_flight %d", stat_of(port, "disconnects"),
        stat_of(port, "in_flight"));
  CHECK(stat_of(port, "completed_streams") == 1, "a cancelled stream completed");
}

/* What the global budget says is spent, read from the refusal of a call that cannot fit. */
static double spent(const sg_gateway *gw) {
  static const char HUGE[] =
      "{\"model\":\"chat\",\"max_tokens\":1000000,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
  char *out = NULL;
  sg_error *err = NULL;
  sg_status st = sg_chat(gw, HUGE, strlen(HUGE), NULL, &out, NULL, &err);
  const char *msg = err ? sg_error_message(err) : "";
  const char *used = strstr(msg, "cannot cover this call: $");
  double usd = st == SG_BUDGET_EXCEEDED && used ? atof(used + strlen("cannot cover this call: $")) : -1;
  CHECK(usd >= 0, "budget refusal: %s: %s", sg_status_str(st), msg);
  sg_error_free(err);
  sg_string_free(out);
  return usd;
}

/* A stream cancelled through its token while sg_stream_next waits is charged like any call the
 * provider received (its 6 prompt tokens at $2000/Mtok), before the cancelled read returns. */
static void test_cancelled_stream_is_charged(void) {
  static const char PRICED[] =
      "{\"providers\": {\"p\": {\"type\": \"mock\", \"script\": {\"priced\": [{\"reply\": \"one two three four five\","
      " \"chunk_delay\": \"300ms\"}]}}}, \"deployments\": {\"d\": {\"provider\": \"p\", \"model\": \"priced\"}},"
      " \"routes\": {\"chat\": {\"targets\": [\"d\"], \"breaker\": false}},"
      " \"pricing\": {\"models\": {\"priced\": {\"input_per_mtok\": 2000.0, \"output_per_mtok\": 4000.0}}},"
      " \"policies\": {\"budgets\": [{\"scope\": \"global\", \"usd\": 10.0}]}}";
  static const char ASK[] =
      "{\"model\":\"chat\",\"stream\":true,\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
  sg_gateway *gw = NULL;
  sg_error *err = NULL;
  CHECK(sg_gateway_new(PRICED, strlen(PRICED), &gw, &err) == SG_OK, "priced gateway: %s", sg_error_message(err));
  if (!gw) return;
  CHECK(spent(gw) == 0, "spent before any call");
  sg_cancel_token *token = sg_cancel_token_new();
  sg_stream *s = NULL;
  CHECK(sg_chat_stream_cancellable(gw, ASK, strlen(ASK), NULL, token, &s, NULL) == SG_OK && s, "open priced stream");
  char *chunk = NULL;
  CHECK(s && sg_stream_next(s, &chunk, NULL, NULL) == SG_OK, "first chunk");
  sg_string_free(chunk);
  delayed_cancel d = {token, 50, 0, -1};
  pthread_t canceller;
  pthread_create(&canceller, NULL, cancel_later_quietly, &d);
  sg_status st = SG_OK;
  while (s && (st = sg_stream_next(s, &chunk, NULL, &err)) == SG_OK) sg_string_free(chunk);
  pthread_join(canceller, NULL);
  CHECK(st == SG_CANCELLED, "priced stream: %s", sg_status_str(st));
  sg_error_free(err);
  double charged = spent(gw);
  CHECK(charged >= 6 * 2000.0 / 1e6 - 1e-9, "the cancelled stream cost $%f", charged);
  sg_stream_free(s);
  sg_cancel_token_free(token);
  sg_gateway_free(gw);
}

int main(void) {
  mock_server server;
  if (mock_start(&server, SCRIPT, "sk-cancel") != 0) return 1;
  setenv("SG_MOCK_URL", server.url, 1);
  sg_gateway *gw = NULL;
  sg_error *err = NULL;
  if (sg_gateway_new(CONFIG, strlen(CONFIG), &gw, &err) != SG_OK) {
    fprintf(stderr, "gateway: %s\n", sg_error_message(err));
    mock_stop(&server);
    return 1;
  }

  /* Control: read to the end. */
  int all = 1000;
  sg_status st = sg_chat_stream_cb(gw, REQUEST, strlen(REQUEST), NULL, stop_after, &all, NULL, NULL, &err);
  CHECK(st == SG_OK, "control stream: %s", sg_error_message(err));
  CHECK(wait_for(server.port, 0), "control: disconnects %d, in_flight %d", stat_of(server.port, "disconnects"),
        stat_of(server.port, "in_flight"));
  CHECK(stat_of(server.port, "completed_streams") == 1, "completed_streams after the control");

  /* The callback cancels after 3 chunks. */
  int left = 3;
  double t0 = now_ms();
  err = NULL;
  st = sg_chat_stream_cb(gw, REQUEST, strlen(REQUEST), NULL, stop_after, &left, NULL, NULL, &err);
  double took = now_ms() - t0;
  CHECK(st == SG_CANCELLED, "status %s: %s", sg_status_str(st), sg_error_message(err));
  CHECK(left == 0, "callback called after cancelling (%d)", left);
  CHECK(took < 500, "cancel returned after %.0f ms; the whole stream takes ~800", took);
  sg_error_free(err);
  CHECK(wait_for(server.port, 1), "callback cancel: disconnects %d, in_flight %d", stat_of(server.port, "disconnects"),
        stat_of(server.port, "in_flight"));

  /* sg_stream_free on a stream that has not ended. */
  sg_stream *s = NULL;
  err = NULL;
  CHECK(sg_chat_stream(gw, REQUEST, strlen(REQUEST), NULL, &s, &err) == SG_OK, "open: %s", sg_error_message(err));
  for (int i = 0; i < 3 && s; i++) {
    char *chunk = NULL;
    CHECK(sg_stream_next(s, &chunk, NULL, NULL) == SG_OK, "chunk %d", i);
    sg_string_free(chunk);
  }
  sg_stream_free(s);
  CHECK(wait_for(server.port, 2), "stream free: disconnects %d, in_flight %d", stat_of(server.port, "disconnects"),
        stat_of(server.port, "in_flight"));
  CHECK(stat_of(server.port, "completed_streams") == 1, "a cancelled stream completed");

  test_cancel_tokens(gw, server.port, 2);
  test_cancelled_stream_is_charged();

  sg_gateway_free(gw);
  mock_stop(&server);
  return sg_test_report("cancel");
}
