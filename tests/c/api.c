/* The C API's own contract, beyond the vectors: NULL and malformed arguments, out-parameters
 * left alone on failure, error accessors that agree with sg_error_json, both stream forms,
 * and NULL-safe frees. Runs on in-process mock providers only (no network, no child process),
 * so it is also the program linked statically against libsluicegate.a. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sluicegate.h"
#include "support.h"

static const char CONFIG[] =
    "providers:\n"
    "  local:\n"
    "    type: mock\n"
    "    script:\n"
    "      gpt-4o-mini: [ {} ]\n"
    "      limited: [ { status: 429, retry_after: \"7\", error: \"slow down\" } ]\n"
    "      cut: [ { reply: \"one two three four five six\", cut_after: 3 } ]\n"
    "      words: [ { reply: \"alpha beta gamma delta epsilon\" } ]\n"
    "      us-only: [ {} ]\n"
    "deployments:\n"
    "  mini: { provider: local, model: gpt-4o-mini }\n"
    "  limited: { provider: local, model: limited }\n"
    "  cut: { provider: local, model: cut }\n"
    "  words: { provider: local, model: words }\n"
    "  embed: { provider: local, model: text-embedding-3-small }\n"
    "  eu: { provider: local, model: gpt-4o-mini, region: eu }\n"
    "  us: { provider: local, model: us-only, region: us }\n"
    "routes:\n"
    "  chat: { targets: [mini] }\n"
    "  limited: { targets: [limited] }\n"
    "  cut: { targets: [cut] }\n"
    "  words: { targets: [words] }\n"
    "  embed: { targets: [embed] }\n"
    "  regional: { targets: [us, eu] }\n";

static const char REQUEST[] = "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char STREAM_REQUEST[] =
    "{\"model\":\"words\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";

/* Marks out-parameters, so a test can tell they were not written. */
#define SENTINEL ((void *)0x5a5a)

static int contains(const char *haystack, const char *needle) {
  return haystack && strstr(haystack, needle) != NULL;
}

/* Every accessor must agree with the JSON object, field by field. */
static void check_error_consistent(const sg_error *err) {
  cJSON *j = cJSON_Parse(sg_error_json(err));
  CHECK(j != NULL, "sg_error_json is not JSON: %s", sg_error_json(err));
  if (!j) return;
  const cJSON *code = cJSON_GetObjectItem(j, "code"), *message = cJSON_GetObjectItem(j, "message");
  const cJSON *status = cJSON_GetObjectItem(j, "status_code"), *retryable = cJSON_GetObjectItem(j, "retryable");
  const cJSON *retry_after = cJSON_GetObjectItem(j, "retry_after"), *rid = cJSON_GetObjectItem(j, "request_id");
  CHECK(cJSON_IsString(code) && strcmp(code->valuestring, sg_error_code_str(err)) == 0, "code %s", sg_error_code_str(err));
  CHECK(strcmp(sg_status_str(sg_error_code(err)), sg_error_code_str(err)) == 0, "status %d", sg_error_code(err));
  CHECK(cJSON_IsString(message) && strcmp(message->valuestring, sg_error_message(err)) == 0, "message");
  CHECK(cJSON_IsNumber(status) && status->valueint == sg_error_status_code(err), "status_code %d", sg_error_status_code(err));
  CHECK(cJSON_IsBool(retryable) && cJSON_IsTrue(retryable) == sg_error_retryable(err), "retryable");
  CHECK(cJSON_IsNull(retry_after) ? sg_error_retry_after(err) == -1.0
                                  : fabs(retry_after->valuedouble - sg_error_retry_after(err)) < 1e-9,
        "retry_after %g", sg_error_retry_after(err));
  CHECK(cJSON_IsNull(rid) ? sg_error_request_id(err) == NULL
                          : (sg_error_request_id(err) && strcmp(rid->valuestring, sg_error_request_id(err)) == 0),
        "request_id");
  CHECK(cJSON_IsArray(cJSON_GetObjectItem(j, "problems")), "problems is a list");
  cJSON_Delete(j);
}

/* Expects `st` to be `want` with an error whose message contains `needle`; frees the error. */
static void expect_error(int line, sg_status st, sg_error *err, sg_status want, const char *needle) {
  CHECK(st == want, "line %d: status %d (%s), want %d; %s", line, st, sg_status_str(st), want, sg_error_message(err));
  CHECK(err != NULL, "line %d: no sg_error", line);
  CHECK(sg_error_code(err) == st, "line %d: sg_error_code %d != status %d", line, sg_error_code(err), st);
  CHECK(contains(sg_error_message(err), needle), "line %d: message `%s` lacks `%s`", line, sg_error_message(err), needle);
  if (err) check_error_consistent(err);
  sg_error_free(err);
}
/* The call runs first: `err` is only read once it has returned. */
#define EXPECT_ERROR(call, err, want, needle)          \
  do {                                                 \
    sg_status st_ = (call);                            \
    expect_error(__LINE__, st_, (err), (want), (needle)); \
  } while (0)

static void test_version_and_statuses(void) {
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", SG_VERSION_MAJOR, SG_VERSION_MINOR, SG_VERSION_PATCH);
  CHECK(strcmp(sg_version(), SG_VERSION) == 0, "sg_version %s != SG_VERSION %s", sg_version(), SG_VERSION);
  CHECK(strncmp(SG_VERSION, expected, strlen(expected)) == 0, "SG_VERSION %s vs macros %s", SG_VERSION, expected);
  CHECK(strcmp(sg_status_str(SG_OK), "ok") == 0, "ok");
  CHECK(strcmp(sg_status_str(SG_RATE_LIMITED), "rate_limited") == 0, "rate_limited");
  CHECK(strcmp(sg_status_str(SG_INTERNAL), "internal") == 0, "internal");
  CHECK(strcmp(sg_status_str(SG_STREAM_END), "stream_end") == 0, "stream_end");
  CHECK(strcmp(sg_status_str(55), "unknown") == 0, "55");
  CHECK(strcmp(sg_status_str(-1), "unknown") == 0, "-1");
  /* The fixed numbers are part of the ABI. */
  CHECK(SG_INVALID_REQUEST == 1 && SG_INVALID_CONFIG == 2 && SG_CANCELLED == 13 && SG_INTERNAL == 14, "numbers");
}

static void test_null_frees_and_accessors(void) {
  sg_gateway_free(NULL);
  sg_stream_free(NULL);
  sg_error_free(NULL);
  sg_string_free(NULL);
  sg_cancel_token_free(NULL);
  sg_cancel_token_cancel(NULL);
  CHECK(!sg_cancel_token_is_cancelled(NULL), "is_cancelled(NULL)");
  CHECK(sg_error_code(NULL) == SG_OK, "code(NULL)");
  CHECK(strcmp(sg_error_code_str(NULL), "ok") == 0, "code_str(NULL)");
  CHECK(strcmp(sg_error_message(NULL), "") == 0, "message(NULL)");
  CHECK(strcmp(sg_error_json(NULL), "") == 0, "json(NULL)");
  CHECK(sg_error_status_code(NULL) == 0, "status_code(NULL)");
  CHECK(!sg_error_retryable(NULL), "retryable(NULL)");
  CHECK(sg_error_retry_after(NULL) == -1.0, "retry_after(NULL)");
  CHECK(sg_error_request_id(NULL) == NULL, "request_id(NULL)");
}

static void test_gateway_new(void) {
  sg_gateway *gw = SENTINEL;
  sg_error *err = NULL;
  EXPECT_ERROR(sg_gateway_new(NULL, 10, &gw, &err), err, SG_INVALID_REQUEST, "`config` is NULL");
  CHECK(gw == SENTINEL, "out written on failure");
  err = NULL;
  EXPECT_ERROR(sg_gateway_new(CONFIG, strlen(CONFIG), NULL, &err), err, SG_INVALID_REQUEST, "`out` is NULL");
  CHECK(sg_gateway_new(NULL, 0, &gw, NULL) == SG_INVALID_REQUEST, "err may be NULL");
  err = NULL;
  EXPECT_ERROR(sg_gateway_new("providers: \xff\xfe", 13, &gw, &err), err, SG_INVALID_REQUEST, "UTF-8");
  err = NULL;
  const char *broken = "providers:\n  local: { type: mokc }\n";
  sg_status st = sg_gateway_new(broken, strlen(broken), &gw, &err);
  CHECK(contains(sg_error_json(err), "\"problems\":[\"providers.local.type"), "problems: %s", sg_error_json(err));
  EXPECT_ERROR(st, err, SG_INVALID_CONFIG, "mock");
  CHECK(gw == SENTINEL, "out written on failure");

  /* Text is (pointer, length): trailing bytes past `len` are not read. */
  char *padded = malloc(sizeof CONFIG + 8);
  memcpy(padded, CONFIG, sizeof CONFIG - 1);
  memcpy(padded + sizeof CONFIG - 1, "\xff garbage", 9);
  err = NULL;
  CHECK(sg_gateway_new(padded, sizeof CONFIG - 1, &gw, &err) == SG_OK, "%s", sg_error_message(err));
  free(padded);
  CHECK(gw != SENTINEL && gw != NULL, "gateway out");
  sg_gateway_free(gw);

  /* From a file; a missing file names its path. */
  char path[] = "/tmp/sg-api-config-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0 && write(fd, CONFIG, strlen(CONFIG)) == (ssize_t)strlen(CONFIG), "temp config");
  close(fd);
  gw = NULL;
  err = NULL;
  CHECK(sg_gateway_new_from_file(path, &gw, &err) == SG_OK && gw != NULL, "from_file: %s", sg_error_message(err));
  sg_gateway_free(gw);
  unlink(path);
  gw = SENTINEL;
  err = NULL;
  sg_status missing = sg_gateway_new_from_file(path, &gw, &err);
  CHECK(missing != SG_OK && contains(sg_error_message(err), path), "missing file: %s", sg_error_message(err));
  check_error_consistent(err);
  sg_error_free(err);
  err = NULL;
  EXPECT_ERROR(sg_gateway_new_from_file(NULL, &gw, &err), err, SG_INVALID_REQUEST, "`path` is NULL");
  CHECK(gw == SENTINEL, "out written on failure");
}

static void test_chat(const sg_gateway *gw) {
  char *out = SENTINEL;
  size_t len = 12345;
  sg_error *err = NULL;
  EXPECT_ERROR(sg_chat(NULL, REQUEST, strlen(REQUEST), NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "`gw` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, NULL, 3, NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "`request` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, REQUEST, strlen(REQUEST), NULL, NULL, &len, &err), err, SG_INVALID_REQUEST, "`out` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, "{\"model\":", 9, NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "`request` is not valid JSON");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, "\"\xc3\x28\"", 4, NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "`request` is not valid UTF-8");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, REQUEST, strlen(REQUEST), "{\"tags\":", &out, &len, &err), err, SG_INVALID_REQUEST,
               "`options_json` is not valid JSON");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, REQUEST, strlen(REQUEST), "{\"tagz\":{}}", &out, &len, &err), err, SG_INVALID_REQUEST,
               "did you mean `tags`");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, REQUEST, strlen(REQUEST), "[1]", &out, &len, &err), err, SG_INVALID_REQUEST, "options");
  err = NULL;
  EXPECT_ERROR(sg_chat(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, &out, &len, &err), err, SG_INVALID_REQUEST,
               "stream");
  CHECK(out == SENTINEL && len == 12345, "out-params written on failure");

  /* An error from the route carries the caller's request id and the provider's facts. */
  const char *limited = "{\"model\":\"limited\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  err = NULL;
  sg_status st = sg_chat(gw, limited, strlen(limited), "{\"request_id\":\"req-c-1\"}", &out, &len, &err);
  CHECK(st == SG_RATE_LIMITED, "status %d: %s", st, sg_error_message(err));
  CHECK(sg_error_request_id(err) && strcmp(sg_error_request_id(err), "req-c-1") == 0, "request id");
  CHECK(sg_error_status_code(err) == 429, "status code %d", sg_error_status_code(err));
  CHECK(sg_error_retry_after(err) == 7.0, "retry_after %g", sg_error_retry_after(err));
  check_error_consistent(err);
  sg_error_free(err);

  /* Success: the response JSON, its length, and the gateway object. */
  err = NULL;
  st = sg_chat(gw, REQUEST, strlen(REQUEST), "{\"tags\":{\"team\":\"c\"},\"request_id\":\"req-c-2\"}", &out, &len, &err);
  CHECK(st == SG_OK, "sg_chat: %s", sg_error_message(err));
  CHECK(err == NULL, "err written on success");
  if (st != SG_OK) return;
  CHECK(len == strlen(out), "len %zu vs strlen %zu", len, strlen(out));
  cJSON *r = cJSON_Parse(out);
  const cJSON *content = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "choices"), 0), "message"), "content");
  const cJSON *meta = cJSON_GetObjectItem(r, "gateway");
  CHECK(cJSON_IsString(content) && strcmp(content->valuestring, "Hello from gpt-4o-mini! You said: hi") == 0, "%s", out);
  CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "request_id")), "req-c-2") == 0, "request_id in %s", out);
  CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "route")), "chat") == 0, "route");
  cJSON_Delete(r);
  sg_string_free(out);
  /* The cancellable forms: a NULL token is no token; a cancelled one stops the call. */
  out = NULL;
  CHECK(sg_chat_cancellable(gw, REQUEST, strlen(REQUEST), NULL, NULL, &out, NULL, NULL) == SG_OK && out, "NULL token");
  sg_string_free(out);
  sg_cancel_token *token = sg_cancel_token_new();
  out = NULL;
  CHECK(sg_chat_cancellable(gw, REQUEST, strlen(REQUEST), NULL, token, &out, NULL, NULL) == SG_OK && out, "live token");
  sg_string_free(out);
  sg_cancel_token_cancel(token);
  out = SENTINEL;
  err = NULL;
  EXPECT_ERROR(sg_chat_cancellable(gw, REQUEST, strlen(REQUEST), NULL, token, &out, NULL, &err), err, SG_CANCELLED,
               "cancelled by the caller");
  err = NULL;
  const char *embed = "{\"model\":\"embed\",\"input\":\"x\"}";
  EXPECT_ERROR(sg_embeddings_cancellable(gw, embed, strlen(embed), NULL, token, &out, NULL, &err), err, SG_CANCELLED,
               "cancelled by the caller");
  sg_stream *cancelled_stream = SENTINEL;
  err = NULL;
  EXPECT_ERROR(sg_chat_stream_cancellable(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, token, &cancelled_stream, &err),
               err, SG_CANCELLED, "cancelled by the caller");
  CHECK(out == SENTINEL && cancelled_stream == SENTINEL, "out-params written on cancel");
  sg_cancel_token_free(token);
  /* out_len may be NULL. */
  out = NULL;
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, NULL) == SG_OK && out != NULL, "NULL out_len");
  sg_string_free(out);
}

static void test_embeddings_and_explain(const sg_gateway *gw) {
  const char *req = "{\"model\":\"embed\",\"input\":[\"one\",\"two\"],\"dimensions\":4}";
  char *out = SENTINEL;
  size_t len = 0;
  sg_error *err = NULL;
  EXPECT_ERROR(sg_embeddings(NULL, req, strlen(req), NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "`gw` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_embeddings(gw, req, strlen(req), NULL, NULL, &len, &err), err, SG_INVALID_REQUEST, "`out` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_embeddings(gw, REQUEST, strlen(REQUEST), NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "input");
  CHECK(out == SENTINEL, "out written on failure");
  err = NULL;
  sg_status st = sg_embeddings(gw, req, strlen(req), "{\"request_id\":\"req-e-1\"}", &out, &len, &err);
  CHECK(st == SG_OK, "sg_embeddings: %s", sg_error_message(err));
  if (st == SG_OK) {
    cJSON *r = cJSON_Parse(out);
    const cJSON *data = cJSON_GetObjectItem(r, "data");
    const cJSON *first = cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "embedding");
    CHECK(cJSON_GetArraySize(data) == 2 && cJSON_GetArraySize(first) == 4, "embeddings: %s", out);
    CHECK(contains(out, "\"request_id\":\"req-e-1\"") && len == strlen(out), "gateway in %s", out);
    cJSON_Delete(r);
    sg_string_free(out);
  }

  out = SENTINEL;
  err = NULL;
  EXPECT_ERROR(sg_explain(gw, NULL, NULL, 100, &out, &len, &err), err, SG_INVALID_REQUEST, "`model` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_explain(NULL, "regional", NULL, 100, &out, &len, &err), err, SG_INVALID_REQUEST, "`gw` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_explain(gw, "regional", "{\"tagz\":{}}", 100, &out, &len, &err), err, SG_INVALID_REQUEST, "tags");
  err = NULL;
  EXPECT_ERROR(sg_explain(gw, "regionl", NULL, 100, &out, &len, &err), err, SG_NOT_FOUND, "regional");
  CHECK(out == SENTINEL, "out written on failure");
  err = NULL;
  st = sg_explain(gw, "regional", NULL, 100, &out, &len, &err);
  CHECK(st == SG_OK && contains(out, "\"would_serve\":\"us\""), "explain: %s", st == SG_OK ? out : sg_error_message(err));
  if (st == SG_OK) sg_string_free(out);
  sg_error_free(err);
}

static void test_stream_pull(const sg_gateway *gw) {
  sg_stream *s = SENTINEL;
  sg_error *err = NULL;
  EXPECT_ERROR(sg_chat_stream(gw, REQUEST, strlen(REQUEST), NULL, &s, &err), err, SG_INVALID_REQUEST, "stream");
  err = NULL;
  EXPECT_ERROR(sg_chat_stream(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, NULL, &err), err, SG_INVALID_REQUEST,
               "`out` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_chat_stream(NULL, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, &s, &err), err, SG_INVALID_REQUEST,
               "`gw` is NULL");
  CHECK(s == SENTINEL, "out written on failure");
  char *chunk = SENTINEL, *meta = SENTINEL;
  err = NULL;
  EXPECT_ERROR(sg_stream_next(NULL, &chunk, NULL, &err), err, SG_INVALID_REQUEST, "`stream` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_stream_gateway(NULL, &meta, NULL, &err), err, SG_INVALID_REQUEST, "`stream` is NULL");

  err = NULL;
  CHECK(sg_chat_stream(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), "{\"request_id\":\"req-s-1\"}", &s, &err) == SG_OK,
        "open: %s", sg_error_message(err));
  err = NULL;
  EXPECT_ERROR(sg_stream_next(s, NULL, NULL, &err), err, SG_INVALID_REQUEST, "`chunk` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_stream_gateway(s, &meta, NULL, &err), err, SG_INVALID_REQUEST, "SG_STREAM_END");
  CHECK(meta == SENTINEL, "meta written before the end");
  char text[256] = "";
  int chunks = 0;
  size_t len;
  sg_status st;
  err = NULL;
  while ((st = sg_stream_next(s, &chunk, &len, &err)) == SG_OK) {
    chunks++;
    CHECK(len == strlen(chunk), "chunk len");
    cJSON *c = cJSON_Parse(chunk);
    const cJSON *delta = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0), "delta");
    const char *piece = cJSON_GetStringValue(cJSON_GetObjectItem(delta, "content"));
    if (piece) strncat(text, piece, sizeof text - strlen(text) - 1);
    cJSON_Delete(c);
    sg_string_free(chunk);
  }
  CHECK(st == SG_STREAM_END && err == NULL, "end: %d %s", st, sg_error_message(err));
  CHECK(strcmp(text, "alpha beta gamma delta epsilon") == 0, "text `%s`", text);
  CHECK(chunks >= 7, "chunks %d (role, 5 words, finish)", chunks);
  chunk = SENTINEL;
  CHECK(sg_stream_next(s, &chunk, NULL, NULL) == SG_STREAM_END && chunk == SENTINEL, "END again, chunk untouched");
  CHECK(sg_stream_gateway(s, &meta, &len, NULL) == SG_OK, "gateway after end");
  CHECK(contains(meta, "\"request_id\":\"req-s-1\"") && contains(meta, "\"deployment\":\"words\""), "meta %s", meta);
  CHECK(len == strlen(meta), "meta len");
  sg_string_free(meta);
  sg_stream_free(s);

  /* A stream cut after content: the error ends it, then SG_STREAM_END; metadata is there. */
  const char *cut = "{\"model\":\"cut\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";
  s = NULL;
  CHECK(sg_chat_stream(gw, cut, strlen(cut), NULL, &s, NULL) == SG_OK, "open cut");
  chunks = 0;
  err = NULL;
  while ((st = sg_stream_next(s, &chunk, NULL, &err)) == SG_OK) {
    chunks++;
    sg_string_free(chunk);
  }
  CHECK(chunks == 3, "chunks before the cut: %d", chunks);
  CHECK(sg_error_request_id(err) != NULL, "request id on the stream error");
  EXPECT_ERROR(st, err, SG_STREAM_INTERRUPTED, "incomplete");
  CHECK(sg_stream_next(s, &chunk, NULL, NULL) == SG_STREAM_END, "END after the error");
  meta = NULL;
  CHECK(sg_stream_gateway(s, &meta, NULL, NULL) == SG_OK && contains(meta, "\"route\":\"cut\""), "meta %s", meta);
  sg_string_free(meta);
  sg_stream_free(s);

  /* Freeing a stream that has not ended is fine (and cancels it). */
  s = NULL;
  CHECK(sg_chat_stream(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, &s, NULL) == SG_OK, "open");
  sg_stream_free(s);
}

typedef struct {
  int calls;
  int cancel_at; /* 0 = never */
  char text[256];
} sink;

static int on_chunk(void *user_data, const char *chunk, size_t len) {
  sink *k = user_data;
  k->calls++;
  CHECK(chunk[len] == '\0' && strlen(chunk) == len, "chunk NUL-terminated with its length");
  cJSON *c = cJSON_ParseWithLength(chunk, len);
  const cJSON *delta = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0), "delta");
  const char *piece = cJSON_GetStringValue(cJSON_GetObjectItem(delta, "content"));
  if (piece) strncat(k->text, piece, sizeof k->text - strlen(k->text) - 1);
  cJSON_Delete(c);
  return k->cancel_at && k->calls >= k->cancel_at ? 42 : 0;
}

/* The callback runs on the caller's thread, outside sluicegate's runtime: it may make calls. */
static int nested_call(void *user_data, const char *chunk, size_t len) {
  (void)chunk;
  (void)len;
  const sg_gateway *gw = user_data;
  char *out = NULL;
  sg_error *err = NULL;
  sg_status st = sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, &err);
  CHECK(st == SG_OK && contains(out, "You said: hi"), "sg_chat inside on_chunk: %s", sg_error_message(err));
  sg_string_free(out);
  sg_error_free(err);
  return 0;
}

static void test_stream_callback(const sg_gateway *gw) {
  sink k = {0};
  char *meta = SENTINEL;
  size_t len = 0;
  sg_error *err = NULL;
  EXPECT_ERROR(sg_chat_stream_cb(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, NULL, &k, &meta, &len, &err), err,
               SG_INVALID_REQUEST, "`on_chunk` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_chat_stream_cb(NULL, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, on_chunk, &k, &meta, &len, &err),
               err, SG_INVALID_REQUEST, "`gw` is NULL");
  CHECK(k.calls == 0 && meta == SENTINEL, "nothing delivered on a bad call");

  err = NULL;
  sg_status st = sg_chat_stream_cb(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, on_chunk, &k, &meta, &len, &err);
  CHECK(st == SG_OK, "cb: %s", sg_error_message(err));
  CHECK(strcmp(k.text, "alpha beta gamma delta epsilon") == 0, "text `%s`", k.text);
  CHECK(meta != SENTINEL && len == strlen(meta) && contains(meta, "\"deployment\":\"words\""), "meta");
  if (meta != SENTINEL) sg_string_free(meta);
  /* gateway_out may be NULL. */
  sink quiet = {0};
  CHECK(sg_chat_stream_cb(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, on_chunk, &quiet, NULL, NULL, NULL) == SG_OK,
        "NULL gateway_out");

  CHECK(sg_chat_stream_cb(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, nested_call, (void *)gw, NULL, NULL, &err) ==
            SG_OK,
        "stream with nested calls: %s", sg_error_message(err));

  /* Cancel: a non-zero return stops the stream at once. */
  sink cancel = {.cancel_at = 2};
  meta = SENTINEL;
  err = NULL;
  st = sg_chat_stream_cb(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), "{\"request_id\":\"req-cancel\"}", on_chunk,
                         &cancel, &meta, NULL, &err);
  CHECK(cancel.calls == 2, "callback calls after cancel: %d", cancel.calls);
  CHECK(meta == SENTINEL, "gateway_out written on cancel");
  CHECK(strcmp(sg_error_code_str(err), "cancelled") == 0, "code %s", sg_error_code_str(err));
  CHECK(sg_error_request_id(err) && strcmp(sg_error_request_id(err), "req-cancel") == 0, "request id");
  EXPECT_ERROR(st, err, SG_CANCELLED, "on_chunk returned 42");
}

/* Runs after the other tests, so the gateway has calls to report. */
static void test_metering(const sg_gateway *gw) {
  char *out = SENTINEL;
  size_t len = 0;
  sg_error *err = NULL;
  EXPECT_ERROR(sg_usage(NULL, NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "`gw` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_usage(gw, NULL, NULL, &len, &err), err, SG_INVALID_REQUEST, "`out` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_usage(gw, "{\"group_by\":", &out, &len, &err), err, SG_INVALID_REQUEST, "`query_json` is not valid JSON");
  err = NULL;
  EXPECT_ERROR(sg_usage(gw, "{\"group_by\":[\"rout\"]}", &out, &len, &err), err, SG_INVALID_REQUEST, "did you mean `route`");
  err = NULL;
  EXPECT_ERROR(sg_metrics_text(NULL, &out, &len, &err), err, SG_INVALID_REQUEST, "`gw` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_metrics_text(gw, NULL, &len, &err), err, SG_INVALID_REQUEST, "`out` is NULL");
  CHECK(out == SENTINEL, "out written on failure");

  err = NULL;
  sg_status st = sg_usage(gw, "{\"group_by\":[\"route\"]}", &out, &len, &err);
  CHECK(st == SG_OK, "sg_usage: %s", sg_error_message(err));
  if (st == SG_OK) {
    CHECK(len == strlen(out) && contains(out, "{\"route\":\"chat\"}") && contains(out, "{\"route\":\"limited\"}"),
          "usage by route: %s", out);
    sg_string_free(out);
  }
  out = NULL;
  CHECK(sg_usage(gw, NULL, &out, NULL, NULL) == SG_OK && contains(out, "\"requests\""), "usage, no query: %s", out);
  sg_string_free(out);
  out = NULL;
  err = NULL;
  st = sg_metrics_text(gw, &out, &len, &err);
  CHECK(st == SG_OK && len == strlen(out) && contains(out, "sluicegate_requests_total{route=\"chat\""), "metrics: %s",
        st == SG_OK ? out : sg_error_message(err));
  if (st == SG_OK) sg_string_free(out);
  sg_error_free(err);
}

typedef struct {
  pthread_mutex_t lock;
  int events;
  char last[2048];
} event_sink;

static void on_event(void *user_data, const char *event, size_t len) {
  event_sink *sink = user_data;
  pthread_mutex_lock(&sink->lock);
  sink->events++;
  snprintf(sink->last, sizeof sink->last, "%s", event);
  if (strlen(event) != len) sink->events = -1000; /* flagged by the count check */
  pthread_mutex_unlock(&sink->lock);
}

static int events_seen(event_sink *sink, int want, char *last, size_t cap) {
  int n = 0;
  for (int i = 0; i < 300; i++) { /* hooks run off the request path: wait up to 3 s */
    pthread_mutex_lock(&sink->lock);
    n = sink->events;
    snprintf(last, cap, "%s", sink->last);
    pthread_mutex_unlock(&sink->lock);
    if (n >= want) break;
    usleep(10000);
  }
  return n;
}

/* on_request_end hooks get each finished call's event; none runs after sg_gateway_free. */
static void test_request_end_hooks(void) {
  sg_gateway *gw = NULL;
  CHECK(sg_gateway_new(CONFIG, strlen(CONFIG), &gw, NULL) == SG_OK, "gateway");
  event_sink sink = {.lock = PTHREAD_MUTEX_INITIALIZER};
  sg_error *err = NULL;
  EXPECT_ERROR(sg_gateway_on_request_end(NULL, on_event, &sink, &err), err, SG_INVALID_REQUEST, "`gw` is NULL");
  err = NULL;
  EXPECT_ERROR(sg_gateway_on_request_end(gw, NULL, &sink, &err), err, SG_INVALID_REQUEST, "`callback` is NULL");
  CHECK(sg_gateway_on_request_end(gw, on_event, &sink, NULL) == SG_OK, "add a hook");

  char *out = NULL, last[2048];
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), "{\"request_id\":\"req-hook-1\",\"tags\":{\"team\":\"c\"}}", &out, NULL,
                NULL) == SG_OK, "call");
  sg_string_free(out);
  int n = events_seen(&sink, 1, last, sizeof last);
  CHECK(n == 1 && contains(last, "\"request_id\":\"req-hook-1\"") && contains(last, "\"outcome\":\"ok\"") &&
            contains(last, "\"team\":\"c\""),
        "%d events, last %s", n, last);
  const char *limited = "{\"model\":\"limited\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  CHECK(sg_chat(gw, limited, strlen(limited), NULL, &out, NULL, NULL) == SG_RATE_LIMITED, "failing call");
  n = events_seen(&sink, 2, last, sizeof last);
  CHECK(n == 2 && contains(last, "\"outcome\":\"rate_limited\""), "%d events, last %s", n, last);
  sink.last[0] = '\0';

  /* A call right before the free: its hook either ran before sg_gateway_free returned or never. */
  out = NULL;
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, NULL) == SG_OK, "last call");
  sg_string_free(out);
  sg_gateway_free(gw);
  pthread_mutex_lock(&sink.lock);
  int at_free = sink.events;
  pthread_mutex_unlock(&sink.lock);
  usleep(300000);
  pthread_mutex_lock(&sink.lock);
  CHECK(sink.events == at_free, "a hook ran after sg_gateway_free (%d then %d)", at_free, sink.events);
  pthread_mutex_unlock(&sink.lock);
}

typedef struct {
  int warnings;
  char last[512];
} log_sink;

static void on_log(void *user_data, sg_log_level level, const char *message, size_t len) {
  log_sink *sink = user_data;
  CHECK(strlen(message) == len, "log line length");
  if (level == SG_LOG_WARN) {
    sink->warnings++;
    snprintf(sink->last, sizeof sink->last, "%s", message);
  }
}

/* Core log lines reach the callback: an audit log that cannot be written warns (with
 * `on_error: warn`; by default the call fails), naming the call's request id. */
static void test_log_callback(void) {
  char dir[] = "/tmp/sg-api-audit-XXXXXX", file[64], config[1024];
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  snprintf(file, sizeof file, "%s/audit.jsonl", dir);
  snprintf(config, sizeof config, "%s\naudit: { path: \"%s\", max_bytes: 1, on_error: warn }\n", CONFIG, file);
  sg_gateway *gw = NULL;
  sg_error *err = NULL;
  if (sg_gateway_new(config, strlen(config), &gw, &err) != SG_OK) {
    CHECK(0, "audit config: %s", sg_error_message(err));
    sg_error_free(err);
    return;
  }
  log_sink sink = {0};
  sg_set_log_callback(on_log, &sink);
  char *out = NULL;
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, NULL) == SG_OK, "first call");
  sg_string_free(out);
  CHECK(sink.warnings == 0, "warned while the audit log was writable: %s", sink.last);
  unlink(file); /* the next record must rotate the log, and cannot */
  rmdir(dir);
  out = NULL;
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), "{\"request_id\":\"req-audit\"}", &out, NULL, NULL) == SG_OK, "second call");
  sg_string_free(out);
  CHECK(sink.warnings == 1 && contains(sink.last, "req-audit"), "warnings %d: `%s`", sink.warnings, sink.last);
  sg_set_log_callback(NULL, NULL);
  printf("api: the next audit warning on stderr is expected (the default log sink is back)\n");
  fflush(stdout);
  out = NULL;
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, NULL) == SG_OK, "third call");
  sg_string_free(out);
  CHECK(sink.warnings == 1, "the callback was called after it was removed");
  sg_gateway_free(gw);
}

/* A forked child keeps using the parent's gateway (it gets its own worker threads). Skipped
 * under valgrind, where the child's exit counts the parent's runtime, which the core
 * deliberately leaks in the child (its threads are gone), as "definitely lost". */
static void test_fork(const sg_gateway *gw) {
  if (getenv("SG_TEST_UNDER_VALGRIND")) {
    printf("api: fork test skipped under valgrind\n");
    return;
  }
  char *out = NULL;
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, NULL) == SG_OK, "parent call");
  sg_string_free(out);
  /* A stream opened before the fork belongs to the parent. */
  sg_stream *parents = NULL;
  CHECK(sg_chat_stream(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, &parents, NULL) == SG_OK, "parent stream");
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10); /* a hang fails the test instead of blocking it */
    sink k = {0};
    int ok = sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, NULL) == SG_OK && contains(out, "You said: hi");
    ok = ok && sg_chat_stream_cb(gw, STREAM_REQUEST, strlen(STREAM_REQUEST), NULL, on_chunk, &k, NULL, NULL, NULL) == SG_OK;
    ok = ok && strcmp(k.text, "alpha beta gamma delta epsilon") == 0;
    char *chunk = NULL;
    sg_error *e = NULL;
    sg_status refused = sg_stream_next(parents, &chunk, NULL, &e);
    ok = ok && refused == SG_INVALID_REQUEST && contains(sg_error_message(e), "opened before this process was forked");
    sg_error_free(e);
    sg_stream_free(parents); /* forgets it: the parent still reads it */
    _exit(ok ? 0 : 3);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s %d",
        WIFSIGNALED(status) ? "killed by signal (hung?)" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  out = NULL;
  CHECK(sg_chat(gw, REQUEST, strlen(REQUEST), NULL, &out, NULL, NULL) == SG_OK, "parent call after the fork");
  sg_string_free(out);
  int chunks = 0;
  char *chunk;
  sg_status st;
  while ((st = sg_stream_next(parents, &chunk, NULL, NULL)) == SG_OK) {
    chunks++;
    sg_string_free(chunk);
  }
  CHECK(st == SG_STREAM_END && chunks >= 7, "the parent's stream after the fork: %s, %d chunks", sg_status_str(st), chunks);
  sg_stream_free(parents);
}

int main(void) {
  test_version_and_statuses();
  test_null_frees_and_accessors();
  test_gateway_new();
  sg_gateway *gw = NULL;
  sg_error *err = NULL;
  if (sg_gateway_new(CONFIG, strlen(CONFIG), &gw, &err) != SG_OK) {
    fprintf(stderr, "cannot build the test gateway: %s\n", sg_error_message(err));
    sg_error_free(err);
    return 1;
  }
  test_chat(gw);
  test_embeddings_and_explain(gw);
  test_stream_pull(gw);
  test_stream_callback(gw);
  test_metering(gw);
  test_log_callback();
  test_request_end_hooks();
  test_fork(gw);
  sg_gateway_free(gw);
  return sg_test_report("api");
}
