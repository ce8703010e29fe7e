/* The C contract runner: runs every vector (tests/vectors, one JSON file each) through the C API
 * exactly as tests/vectors/README.md says, and prints `ok NAME` / `FAIL NAME: why` per vector, then
 * `N passed, M failed`. Exit status 1 when any vector failed.
 *
 *   vectors [--stream-api pull|cb] [DIR | FILE.json]...   (default: tests/vectors)
 *
 * Streams are read with sg_chat_stream + sg_stream_next (`pull`, the default) or with
 * sg_chat_stream_cb (`cb`); both must give the same outcomes. The mock provider binary is
 * $SLUICEGATE_BIN (default target/debug/sluicegate). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluicegate.h"
#include "support.h"

/* ---- a growable string for failure messages ---- */
typedef struct {
  char *text;
  size_t len, cap;
} strbuf;

static void sb_printf(strbuf *sb, const char *fmt, ...) {
  va_list ap, copy;
  va_start(ap, fmt);
  va_copy(copy, ap);
  int need = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (sb->len + (size_t)need + 1 > sb->cap) {
    sb->cap = (sb->len + (size_t)need + 1) * 2;
    sb->text = realloc(sb->text, sb->cap);
  }
  vsnprintf(sb->text + sb->len, (size_t)need + 1, fmt, ap);
  sb->len += (size_t)need;
  va_end(ap);
}

/* One mismatch, "<path>: <what>"; several are joined with "; " on the vector's line. */
static void fail(strbuf *fails, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char line[2048];
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  sb_printf(fails, "%s%s", fails->len ? "; " : "", line);
}

/* JSON text of a value for messages (null for a missing one), cut to a readable length. */
static char *show(const cJSON *v) {
  char *text = v ? cJSON_PrintUnformatted(v) : strdup("null");
  if (text && strlen(text) > 400) strcpy(text + 390, "...");
  return text;
}

static bool is_null(const cJSON *v) { return v == NULL || cJSON_IsNull(v); }

static const cJSON *get(const cJSON *obj, const char *key) {
  return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* ---- the README's subset match ---- */

/* The needles of a `_contains` / `_excludes` check: a string or a list of strings. */
static void check_texts(const cJSON *want, const cJSON *got, bool contains, const char *at, strbuf *fails) {
  const cJSON *single[1] = {want};
  int count = cJSON_IsArray(want) ? cJSON_GetArraySize(want) : 1;
  for (int i = 0; i < count; i++) {
    const cJSON *item = cJSON_IsArray(want) ? cJSON_GetArrayItem(want, i) : single[0];
    char *needle = cJSON_IsString(item) ? strdup(item->valuestring)
                   : cJSON_IsArray(want) ? strdup("")
                                         : cJSON_PrintUnformatted(item);
    bool found = cJSON_IsString(got) && strstr(got->valuestring, needle) != NULL;
    if (contains != found) {
      char *g = show(got);
      fail(fails, "%s: %s \"%s\", got %s", at, contains ? "expected to contain" : "must not contain", needle, g);
      free(g);
    }
    free(needle);
  }
}

static void match(const cJSON *expect, const cJSON *actual, const char *path, strbuf *fails) {
  char at[512];
  if (cJSON_IsObject(expect)) {
    const cJSON *want;
    cJSON_ArrayForEach(want, expect) {
      static const char *suffixes[] = {"_contains", "_excludes", "_present"};
      const char *key = want->string;
      size_t base_len = strlen(key);
      int check = -1;
      for (int s = 0; s < 3 && check < 0; s++) {
        size_t n = strlen(suffixes[s]);
        if (base_len > n && strcmp(key + base_len - n, suffixes[s]) == 0) {
          check = s;
          base_len -= n;
        }
      }
      char base[256];
      snprintf(base, sizeof base, "%.*s", (int)base_len, key);
      const cJSON *got = get(actual, base);
      snprintf(at, sizeof at, "%s.%s", path, base);
      if (check == 0 || check == 1) {
        check_texts(want, got, check == 0, at, fails);
      } else if (check == 2) {
        if (!cJSON_IsBool(want) || cJSON_IsTrue(want) != !is_null(got)) {
          char *g = show(got);
          fail(fails, "%s: expected present=%s, got %s", at, cJSON_IsTrue(want) ? "true" : "false", g);
          free(g);
        }
      } else {
        match(want, got, at, fails);
      }
    }
    return;
  }
  bool ok;
  if (cJSON_IsArray(expect)) {
    ok = cJSON_IsArray(actual) && cJSON_GetArraySize(actual) == cJSON_GetArraySize(expect);
    if (ok) {
      for (int i = 0; i < cJSON_GetArraySize(expect); i++) {
        snprintf(at, sizeof at, "%s[%d]", path, i);
        match(cJSON_GetArrayItem(expect, i), cJSON_GetArrayItem(actual, i), at, fails);
      }
      return;
    }
  } else if (cJSON_IsNumber(expect)) {
    double w = expect->valuedouble;
    ok = cJSON_IsNumber(actual) && fabs(actual->valuedouble - w) <= 1e-9 * fmax(fabs(w), 1.0);
  } else if (is_null(expect)) {
    ok = is_null(actual);
  } else if (cJSON_IsString(expect)) {
    ok = cJSON_IsString(actual) && strcmp(expect->valuestring, actual->valuestring) == 0;
  } else { /* bool */
    ok = cJSON_IsBool(actual) && cJSON_IsTrue(actual) == cJSON_IsTrue(expect);
  }
  if (!ok) {
    char *w = show(expect), *g = show(actual);
    fail(fails, "%s: expected %s, got %s", path, w, g);
    free(w);
    free(g);
  }
}

/* ---- outcomes ---- */

static cJSON *parse_owned(char *text) {
  cJSON *v = text ? cJSON_Parse(text) : NULL;
  sg_string_free(text);
  return v ? v : cJSON_CreateNull();
}

static cJSON *error_outcome(sg_error *err) {
  cJSON *outcome = cJSON_CreateObject();
  cJSON *e = cJSON_Parse(sg_error_json(err));
  cJSON_AddItemToObject(outcome, "error", e ? e : cJSON_CreateNull());
  sg_error_free(err);
  return outcome;
}

/* Folds the chunks a caller received, as the README defines (see fold_stream in Rust). */
static cJSON *fold_stream(const cJSON *chunks) {
  strbuf content = {0};
  sb_printf(&content, "%s", "");
  const cJSON *finish = NULL;
  bool usage_chunk = false;
  cJSON *calls = cJSON_CreateArray();
  cJSON *contents = cJSON_CreateArray();
  const cJSON *chunk;
  cJSON_ArrayForEach(chunk, chunks) {
    if (!is_null(get(chunk, "usage"))) usage_chunk = true;
    const cJSON *each, *all = get(chunk, "choices");
    int position = 0;
    if (!cJSON_IsArray(all)) all = NULL;
    cJSON_ArrayForEach(each, all) {
      const cJSON *idx = get(each, "index");
      int index = cJSON_IsNumber(idx) && idx->valuedouble >= 0 ? (int)idx->valuedouble : position;
      position++;
      while (cJSON_GetArraySize(contents) <= index) cJSON_AddItemToArray(contents, cJSON_CreateString(""));
      const cJSON *piece = get(get(each, "delta"), "content");
      if (cJSON_IsString(piece)) {
        strbuf joined = {0};
        sb_printf(&joined, "%s%s", cJSON_GetArrayItem(contents, index)->valuestring, piece->valuestring);
        cJSON_ReplaceItemInArray(contents, index, cJSON_CreateString(joined.text));
        free(joined.text);
      }
    }
    const cJSON *choice = cJSON_GetArrayItem(get(chunk, "choices"), 0);
    if (!choice) continue;
    const cJSON *delta = get(choice, "delta");
    const cJSON *text = get(delta, "content");
    if (cJSON_IsString(text)) sb_printf(&content, "%s", text->valuestring);
    if (!is_null(get(choice, "finish_reason"))) finish = get(choice, "finish_reason");
    const cJSON *d, *deltas = get(delta, "tool_calls");
    if (!cJSON_IsArray(deltas)) deltas = NULL;
    cJSON_ArrayForEach(d, deltas) {
      const cJSON *idx = get(d, "index");
      int index = cJSON_IsNumber(idx) && idx->valuedouble >= 0 ? (int)idx->valuedouble : 0;
      while (cJSON_GetArraySize(calls) <= index) {
        cJSON *call = cJSON_CreateObject();
        cJSON_AddNullToObject(call, "id");
        cJSON_AddNullToObject(call, "name");
        cJSON_AddStringToObject(call, "arguments", "");
        cJSON_AddItemToArray(calls, call);
      }
      cJSON *call = cJSON_GetArrayItem(calls, index);
      const cJSON *function = get(d, "function");
      if (!is_null(get(d, "id"))) cJSON_ReplaceItemInObject(call, "id", cJSON_Duplicate(get(d, "id"), true));
      if (!is_null(get(function, "name")))
        cJSON_ReplaceItemInObject(call, "name", cJSON_Duplicate(get(function, "name"), true));
      const cJSON *args = get(function, "arguments");
      if (cJSON_IsString(args)) {
        strbuf joined = {0};
        sb_printf(&joined, "%s%s", get(call, "arguments")->valuestring, args->valuestring);
        cJSON_ReplaceItemInObject(call, "arguments", cJSON_CreateString(joined.text));
        free(joined.text);
      }
    }
  }
  cJSON *s = cJSON_CreateObject();
  cJSON_AddNumberToObject(s, "chunks", cJSON_GetArraySize(chunks));
  cJSON_AddStringToObject(s, "content", content.text);
  cJSON_AddItemToObject(s, "contents", contents);
  cJSON_AddItemToObject(s, "finish_reason", finish ? cJSON_Duplicate(finish, true) : cJSON_CreateNull());
  cJSON_AddItemToObject(s, "tool_calls", calls);
  cJSON_AddBoolToObject(s, "usage_chunk", usage_chunk);
  free(content.text);
  return s;
}

static bool use_callbacks = false;

static int collect_chunk(void *user_data, const char *chunk, size_t len) {
  cJSON *chunks = user_data;
  cJSON *v = cJSON_ParseWithLength(chunk, len);
  cJSON_AddItemToArray(chunks, v ? v : cJSON_CreateNull());
  return 0;
}

/* The callback's state for `read_chunks`: stop (cancel the stream) after `limit` chunks. */
typedef struct {
  cJSON *chunks;
  int limit;
} reading;

static int collect_some(void *user_data, const char *chunk, size_t len) {
  reading *r = user_data;
  collect_chunk(r->chunks, chunk, len);
  return r->limit >= 0 && cJSON_GetArraySize(r->chunks) >= r->limit;
}

/* `read_chunks` (`limit` >= 0): the caller reads that many chunks, then drops the stream. */
static cJSON *stream_outcome(const sg_gateway *gw, const char *req, const char *opts, int limit) {
  cJSON *chunks = cJSON_CreateArray();
  sg_error *err = NULL;
  char *meta = NULL;
  cJSON *outcome;
  bool opened = true;
  bool dropped = false;
  if (use_callbacks) {
    reading r = {chunks, limit};
    sg_status st = sg_chat_stream_cb(gw, req, strlen(req), opts, collect_some, &r, &meta, NULL, &err);
    if (st != SG_OK) opened = cJSON_GetArraySize(chunks) > 0;
    if (limit >= 0 && cJSON_GetArraySize(chunks) >= limit) {
      dropped = true;
      if (err) sg_error_free(err);
      err = NULL;
    }
  } else {
    sg_stream *stream = NULL;
    if (sg_chat_stream(gw, req, strlen(req), opts, &stream, &err) != SG_OK) {
      opened = false;
    } else {
      char *chunk;
      size_t len;
      sg_status st;
      while ((st = sg_stream_next(stream, &chunk, &len, &err)) == SG_OK) {
        collect_chunk(chunks, chunk, len);
        sg_string_free(chunk);
        if (limit >= 0 && cJSON_GetArraySize(chunks) >= limit) {
          dropped = true;
          break;
        }
      }
      if (!dropped && st == SG_STREAM_END && sg_stream_gateway(stream, &meta, NULL, &err) != SG_OK) {
        fprintf(stderr, "sg_stream_gateway after SG_STREAM_END failed: %s\n", sg_error_message(err));
      }
      sg_stream_free(stream);
    }
  }
  if (err) {
    outcome = error_outcome(err);
    if (opened) cJSON_AddItemToObject(outcome, "stream", fold_stream(chunks));
  } else {
    outcome = cJSON_CreateObject();
    cJSON_AddItemToObject(outcome, "stream", fold_stream(chunks));
    if (dropped) {
      if (meta) sg_string_free(meta);
    } else
      cJSON_AddItemToObject(outcome, "gateway", parse_owned(meta));
  }
  cJSON_Delete(chunks);
  return outcome;
}

/* `{"<key>": <out>}` for a call that succeeded, else the error outcome. */
static cJSON *plain_outcome(sg_status st, const char *key, char *out, sg_error *err) {
  if (st != SG_OK) return error_outcome(err);
  cJSON *outcome = cJSON_CreateObject();
  cJSON_AddItemToObject(outcome, key, parse_owned(out));
  return outcome;
}

/* `explain`: no request; `model`, optional `tags` and `prompt_tokens` (default 100). */
static cJSON *explain_outcome(const sg_gateway *gw, const cJSON *call) {
  cJSON *options = cJSON_CreateObject();
  const cJSON *tags = get(call, "tags");
  cJSON_AddItemToObject(options, "tags", tags ? cJSON_Duplicate(tags, true) : cJSON_CreateNull());
  char *opts = cJSON_PrintUnformatted(options);
  cJSON_Delete(options);
  const cJSON *model = get(call, "model"), *tokens = get(call, "prompt_tokens");
  uint64_t prompt_tokens = cJSON_IsNumber(tokens) && tokens->valuedouble >= 0 ? (uint64_t)tokens->valuedouble : 100;
  char *out = NULL;
  sg_error *err = NULL;
  sg_status st = sg_explain(gw, cJSON_IsString(model) ? model->valuestring : "", opts, prompt_tokens, &out, NULL, &err);
  cJSON_free(opts);
  return plain_outcome(st, "explain", out, err);
}

/* `usage`: the call's `query` (absent: none) goes to sg_usage. */
static cJSON *usage_outcome(const sg_gateway *gw, const cJSON *call) {
  const cJSON *query = get(call, "query");
  char *q = is_null(query) ? NULL : cJSON_PrintUnformatted(query);
  char *out = NULL;
  sg_error *err = NULL;
  sg_status st = sg_usage(gw, q, &out, NULL, &err);
  cJSON_free(q);
  return plain_outcome(st, "usage", out, err);
}

/* `metrics`: the Prometheus text, as a string. */
static cJSON *metrics_outcome(const sg_gateway *gw) {
  char *out = NULL;
  sg_error *err = NULL;
  if (sg_metrics_text(gw, &out, NULL, &err) != SG_OK) return error_outcome(err);
  cJSON *outcome = cJSON_CreateObject();
  cJSON_AddStringToObject(outcome, "metrics", out);
  sg_string_free(out);
  return outcome;
}

static cJSON *run_call(const sg_gateway *gw, const cJSON *call, strbuf *fails, const char *path) {
  const cJSON *kind_item = get(call, "kind");
  const char *kind = cJSON_IsString(kind_item) ? kind_item->valuestring : "chat";
  if (strcmp(kind, "explain") == 0) return explain_outcome(gw, call);
  if (strcmp(kind, "usage") == 0) return usage_outcome(gw, call);
  if (strcmp(kind, "metrics") == 0) return metrics_outcome(gw);
  if (strcmp(kind, "chat") != 0 && strcmp(kind, "embeddings") != 0) {
    fail(fails, "%s: unknown call kind `%s`", path, kind);
    return cJSON_CreateObject();
  }
  const cJSON *request = get(call, "request");
  char *req = request ? cJSON_PrintUnformatted(request) : strdup("null");
  const cJSON *options = get(call, "options");
  char *opts = is_null(options) ? NULL : cJSON_PrintUnformatted(options);
  char *out = NULL;
  sg_error *err = NULL;
  cJSON *outcome;
  sg_status st;
  if (strcmp(kind, "embeddings") == 0) {
    st = sg_embeddings(gw, req, strlen(req), opts, &out, NULL, &err);
    outcome = plain_outcome(st, "response", out, err);
  } else if (cJSON_IsTrue(get(request, "stream"))) {
    const cJSON *read_chunks = get(call, "read_chunks");
    outcome = stream_outcome(gw, req, opts, cJSON_IsNumber(read_chunks) ? read_chunks->valueint : -1);
  } else {
    st = sg_chat(gw, req, strlen(req), opts, &out, NULL, &err);
    outcome = plain_outcome(st, "response", out, err);
  }
  cJSON_free(req);
  cJSON_free(opts);
  return outcome;
}

/* ---- the environment, restored after each vector ---- */
typedef struct {
  char *name;
  char *old; /* NULL when it was unset */
} saved_var;

typedef struct {
  saved_var vars[64];
  int count;
} saved_env;

static void env_save(saved_env *env, const char *name) {
  for (int i = 0; i < env->count; i++)
    if (strcmp(env->vars[i].name, name) == 0) return;
  if (env->count == 64) return;
  const char *old = getenv(name);
  env->vars[env->count].name = strdup(name);
  env->vars[env->count].old = old ? strdup(old) : NULL;
  env->count++;
}

static void env_set(saved_env *env, const char *name, const char *value) {
  env_save(env, name);
  if (value) setenv(name, value, 1);
  else unsetenv(name);
}

static void env_restore(saved_env *env) {
  for (int i = env->count - 1; i >= 0; i--) {
    if (env->vars[i].old) setenv(env->vars[i].name, env->vars[i].old, 1);
    else unsetenv(env->vars[i].name);
    free(env->vars[i].name);
    free(env->vars[i].old);
  }
  env->count = 0;
}

/* ---- one vector ---- */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Mock counters move when the server notices a disconnect, a moment after the client's side;
 * so a mismatch is re-checked for up to 2 s before it counts. */
static void match_mock_stats(const cJSON *expect, int port, strbuf *fails) {
  for (int attempt = 0;; attempt++) {
    char *body = http_get(port, "/_mock/stats");
    cJSON *stats = body ? cJSON_Parse(body) : NULL;
    free(body);
    strbuf mismatch = {0};
    if (!stats) sb_printf(&mismatch, "expect_mock: GET /_mock/stats failed");
    else match(expect, stats, "expect_mock", &mismatch);
    cJSON_Delete(stats);
    if (mismatch.len == 0 || attempt == 20) {
      if (mismatch.len) fail(fails, "%s", mismatch.text);
      free(mismatch.text);
      return;
    }
    free(mismatch.text);
    sleep_ms(100);
  }
}

static void run_vector(const cJSON *vector, strbuf *fails) {
  saved_env env = {0};
  mock_server server = {.pid = -1, .stdout_fd = -1};
  bool have_server = false;
  sg_gateway *gw = NULL;

  const cJSON *item;
  cJSON_ArrayForEach(item, get(vector, "env")) {
    env_set(&env, item->string, cJSON_IsString(item) ? item->valuestring : "");
  }
  cJSON_ArrayForEach(item, get(vector, "env_unset")) {
    if (cJSON_IsString(item)) env_set(&env, item->valuestring, NULL);
  }
  const cJSON *script = get(vector, "mock_server");
  if (script) {
    char *text = cJSON_PrintUnformatted(script);
    const cJSON *key = get(vector, "mock_server_api_key");
    have_server = mock_start(&server, text, cJSON_IsString(key) ? key->valuestring : NULL) == 0;
    cJSON_free(text);
    if (!have_server) {
      fail(fails, "mock_server: the mock provider did not start");
      goto done;
    }
    env_set(&env, "SG_MOCK_URL", server.url);
  }

  const cJSON *config = get(vector, "config"), *config_text = get(vector, "config_text");
  char *text;
  if (config && !config_text) text = cJSON_PrintUnformatted(config);
  else if (!config && cJSON_IsString(config_text)) text = strdup(config_text->valuestring);
  else {
    fail(fails, "a vector needs exactly one of `config` and `config_text`");
    goto done;
  }
  sg_error *err = NULL;
  sg_status st = sg_gateway_new(text, strlen(text), &gw, &err);
  free(text);
  const cJSON *load = get(vector, "load");
  if (st == SG_OK && load) {
    char *w = show(load);
    fail(fails, "load: expected %s, but the gateway was built", w);
    free(w);
    goto done;
  }
  if (st != SG_OK) {
    cJSON *outcome = error_outcome(err);
    cJSON *ok = load ? NULL : cJSON_Parse("{\"ok\": true}");
    match(load ? load : ok, outcome, "load", fails);
    cJSON_Delete(ok);
    cJSON_Delete(outcome);
    goto done;
  }

  int i = 0;
  cJSON_ArrayForEach(item, get(vector, "calls")) {
    char path[32];
    snprintf(path, sizeof path, "calls[%d]", i++);
    cJSON *outcome = run_call(gw, item, fails, path);
    match(get(item, "expect"), outcome, path, fails);
    cJSON_Delete(outcome);
  }

  const cJSON *expect_mock = get(vector, "expect_mock");
  if (expect_mock && have_server) match_mock_stats(expect_mock, server.port, fails);
  else if (expect_mock) fail(fails, "expect_mock: the vector has no mock_server");

done:
  sg_gateway_free(gw);
  mock_stop(&server);
  env_restore(&env);
}

static int is_json_file(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static int passed = 0, failed = 0;

/* Runs one vector file and prints its verdict line. */
static void run_file(const char *path) {
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  size_t n = strlen(base);
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)(n > 5 && strcmp(base + n - 5, ".json") == 0 ? n - 5 : n), base);
  strbuf fails = {0};
  char *text = read_file(path, NULL);
  cJSON *vector = text ? cJSON_Parse(text) : NULL;
  free(text);
  if (!cJSON_IsObject(vector)) fail(&fails, "not a JSON object");
  else run_vector(vector, &fails);
  cJSON_Delete(vector);
  if (fails.len == 0) {
    printf("ok %s\n", name);
    passed++;
  } else {
    printf("FAIL %s: %s\n", name, fails.text);
    failed++;
  }
  fflush(stdout);
  free(fails.text);
}

/* Runs every *.json in `dir`, sorted by name. */
static int run_dir(const char *dir) {
  struct dirent **files;
  int count = scandir(dir, &files, is_json_file, alphasort);
  if (count < 0) return -1;
  for (int f = 0; f < count; f++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, files[f]->d_name);
    free(files[f]);
    run_file(path);
  }
  free(files);
  return 0;
}

int main(int argc, char **argv) {
  const char *targets[256];
  int n = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--stream-api") == 0 && i + 1 < argc) {
      use_callbacks = strcmp(argv[++i], "cb") == 0;
    } else if (argv[i][0] == '-' || n == 256) {
      fprintf(stderr, "usage: %s [--stream-api pull|cb] [DIR | FILE.json]...\n", argv[0]);
      return 2;
    } else {
      targets[n++] = argv[i];
    }
  }
  if (n == 0) targets[n++] = "tests/vectors";
  for (int i = 0; i < n; i++) {
    size_t len = strlen(targets[i]);
    if (len > 5 && strcmp(targets[i] + len - 5, ".json") == 0) run_file(targets[i]);
    else if (run_dir(targets[i]) != 0) {
      perror(targets[i]);
      return 2;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
