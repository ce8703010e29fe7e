/* Cancelling a stream reaches the provider: a callback that returns non-zero (SG_CANCELLED)
 * and sg_stream_free on an unfinished stream both close the upstream connection, which the
 * mock provider counts as a disconnect, and leave nothing in flight. A stream read to its end
 * is the control: it completes and does not disconnect. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluicegate.h"
#include "support.h"

/* 40 words, 20 ms apart: a whole stream takes about 0.8 s. */
static const char SCRIPT[] =
    "{\"gpt-4o\": [{\"chunk_delay\": \"20ms\", \"reply\": \"w01 w02 w03 w04 w05 w06 w07 w08 w09 w10 w11 w12 w13 w14 "
    "w15 w16 w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27 w28 w29 w30 w31 w32 w33 w34 w35 w36 w37 w38 w39 w40\"}]}";
static const char CONFIG[] =
    "{\"providers\": {\"oai\": {\"type\": \"openai\", \"api_base\": \"${SG_MOCK_URL}/v1\", \"api_key\": \"sk-cancel\"}},"
    " \"deployments\": {\"d\": {\"provider\": \"oai\", \"model\": \"gpt-4o\"}},"
    " \"routes\": {\"chat\": {\"targets\": [\"d\"]}}}";
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

  sg_gateway_free(gw);
  mock_stop(&server);
  return sg_test_report("cancel");
}
