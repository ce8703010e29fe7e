/* One C process of the budget soak: 16 threads call one gateway, each call drawn at random
 * (see soak.py for the kinds). Prints its outcomes as one JSON line.
 *   worker_c CONFIG.json CALLS_EACH SEED */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluicegate.h"

static sg_gateway *gw;
static cJSON *plan;
static cJSON *outcomes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int calls_each;

static void count(const char *kind, const char *code) {
  pthread_mutex_lock(&lock);
  cJSON *k = cJSON_GetObjectItem(outcomes, kind);
  if (!k) k = cJSON_AddObjectToObject(outcomes, kind);
  cJSON *c = cJSON_GetObjectItem(k, code);
  if (c)
    cJSON_SetNumberValue(c, c->valuedouble + 1);
  else
    cJSON_AddNumberToObject(k, code, 1);
  pthread_mutex_unlock(&lock);
}

static int between(unsigned *seed, int lo, int hi) { return lo + (int)(rand_r(seed) % (unsigned)(hi - lo + 1)); }

static char *request(unsigned *seed, const char *model, int stream) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "model", model);
  int len = between(seed, 100, 400);
  char *content = malloc((size_t)len + 1);
  memset(content, 'a', (size_t)len);
  content[len] = 0;
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "user");
  cJSON_AddStringToObject(m, "content", content);
  cJSON *ms = cJSON_AddArrayToObject(r, "messages");
  cJSON_AddItemToArray(ms, m);
  cJSON_AddNumberToObject(r, "n", between(seed, 1, 4));
  cJSON_AddNumberToObject(r, "max_tokens", 16);
  if (stream) cJSON_AddTrueToObject(r, "stream");
  char *text = cJSON_PrintUnformatted(r);
  cJSON_Delete(r);
  free(content);
  return text;
}

typedef struct {
  sg_cancel_token *token;
  double after;
} canceller;

static void *cancel_later(void *arg) {
  canceller *c = arg;
  struct timespec ts = {(time_t)c->after, (long)((c->after - (double)(time_t)c->after) * 1e9)};
  nanosleep(&ts, NULL);
  sg_cancel_token_cancel(c->token);
  return NULL;
}

/* Returns the outcome code ("ok" or the error code); `err` is freed here. */
static const char *settle(sg_status st, sg_error *err, char *code, size_t size) {
  if (st == SG_OK || st == SG_STREAM_END) {
    snprintf(code, size, "ok");
  } else {
    snprintf(code, size, "%s", err ? sg_error_code_str(err) : "unknown");
  }
  sg_error_free(err);
  return code;
}

static const char *one(const char *kind, unsigned *seed, char *code, size_t size) {
  sg_error *err = NULL;
  char *out = NULL;
  size_t out_len;
  sg_status st;
  if (strcmp(kind, "embed") == 0) {
    int len = between(seed, 100, 400);
    char *req = malloc((size_t)len + 64);
    int at = sprintf(req, "{\"model\": \"embed\", \"input\": [\"");
    memset(req + at, 'b', (size_t)len);
    strcpy(req + at + len, "\"]}");
    st = sg_embeddings(gw, req, strlen(req), NULL, &out, &out_len, &err);
    free(req);
  } else if (!strcmp(kind, "plain") || !strcmp(kind, "fault") || !strcmp(kind, "timeout") || !strcmp(kind, "cancel")) {
    const char *route = !strcmp(kind, "plain") ? "ok" : !strcmp(kind, "fault") ? "fault" : !strcmp(kind, "timeout") ? "slow_timeout" : "slow";
    char *req = request(seed, route, 0);
    if (!strcmp(kind, "cancel")) {
      canceller c = {sg_cancel_token_new(), cJSON_GetObjectItem(plan, "cancel_after")->valuedouble};
      pthread_t t;
      pthread_create(&t, NULL, cancel_later, &c);
      st = sg_chat_cancellable(gw, req, strlen(req), NULL, c.token, &out, &out_len, &err);
      pthread_join(t, NULL);
      sg_cancel_token_free(c.token);
    } else {
      st = sg_chat(gw, req, strlen(req), NULL, &out, &out_len, &err);
    }
    free(req);
  } else {
    const char *route = !strcmp(kind, "stall_drop") ? "stall" : !strcmp(kind, "cut") ? "cut" : "ok";
    char *req = request(seed, route, 1);
    sg_stream *stream = NULL;
    st = sg_chat_stream(gw, req, strlen(req), NULL, &stream, &err);
    free(req);
    int seen = 0, stall_after = cJSON_GetObjectItem(plan, "stall_after")->valueint;
    while (st == SG_OK) {
      char *chunk;
      size_t len;
      st = sg_stream_next(stream, &chunk, &len, &err);
      if (st != SG_OK) break;
      seen++;
      cJSON *c = cJSON_ParseWithLength(chunk, len);
      sg_string_free(chunk);
      cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0);
      cJSON *index = cJSON_GetObjectItem(choice, "index");
      cJSON *finish = cJSON_GetObjectItem(choice, "finish_reason");
      int stop = (!strcmp(kind, "finish_drop") && index && index->valueint == 0 && finish && !cJSON_IsNull(finish)) ||
                 (!strcmp(kind, "stall_drop") && seen == stall_after);
      cJSON_Delete(c);
      if (stop) break;
    }
    sg_stream_free(stream);
  }
  sg_string_free(out);
  return settle(st, err, code, size);
}

static void *caller(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  cJSON *kinds = cJSON_GetObjectItem(plan, "kinds");
  for (int i = 0; i < calls_each; i++) {
    const char *kind = cJSON_GetArrayItem(kinds, between(&seed, 0, cJSON_GetArraySize(kinds) - 1))->valuestring;
    char code[64];
    count(kind, one(kind, &seed, code, sizeof code));
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: worker_c CONFIG.json CALLS_EACH SEED\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)size + 1);
  size_t got = fread(text, 1, (size_t)size, f);
  text[got] = 0;
  fclose(f);
  cJSON *config = cJSON_Parse(text);
  free(text);
  plan = cJSON_DetachItemFromObject(config, "soak");
  char *config_text = cJSON_PrintUnformatted(config);
  sg_error *err = NULL;
  if (sg_gateway_new(config_text, strlen(config_text), &gw, &err) != SG_OK) {
    fprintf(stderr, "gateway: %s\n", sg_error_message(err));
    return 1;
  }
  calls_each = atoi(argv[2]);
  unsigned seed = (unsigned)atoi(argv[3]);
  outcomes = cJSON_CreateObject();
  pthread_t threads[16];
  for (size_t i = 0; i < 16; i++) pthread_create(&threads[i], NULL, caller, (void *)(size_t)(seed * 100 + i));
  for (size_t i = 0; i < 16; i++) pthread_join(threads[i], NULL);
  /* Freeing the gateway waits for settlements still on their way to the store. */
  sg_gateway_free(gw);
  char *o = cJSON_PrintUnformatted(outcomes);
  printf("{\"lang\": \"c\", \"outcomes\": %s}\n", o);
  free(o);
  free(config_text);
  cJSON_Delete(config);
  cJSON_Delete(plan);
  cJSON_Delete(outcomes);
  return 0;
}
