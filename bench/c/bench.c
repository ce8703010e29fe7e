/* C benchmark: sluicegate's sg_chat (full pipeline) against a direct libcurl call to the same
 * loopback mock, concurrency 1, plus RSS growth over many sg_chat calls.
 *
 *   bench URL [--quick] [--growth N]      prints one JSON object
 *
 * Both sides reuse their connection (libcurl keeps one easy handle; the gateway pools).
 * Every loop is bounded by a request count and a wall-clock budget. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluicegate.h"

static const char *REQUEST =
    "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Summarise the quarterly report in one line.\"}],\"max_tokens\":64}";
static const char *DIRECT =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Summarise the quarterly report in one line.\"}],\"max_tokens\":64}";
/* sha256("sk-sg-bench"): the virtual key's stored hash */
#define KEY_SHA_HEX "6901523f0b0987ef1abdec601092d32534b997c8874d187c987e914a9e273c19"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) { kb = strtol(line + 6, NULL, 10); break; }
  }
  fclose(f);
  return kb;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  size_t rank = (size_t)(p / 100.0 * n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

struct buf { char *data; size_t len, cap; };

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user) {
  struct buf *b = user;
  size_t n = size * nmemb;
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->data = realloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = 0;
  return n;
}

typedef int (*call_fn)(void *ctx);

struct curl_ctx { CURL *h; struct buf b; };
static int curl_call(void *p) {
  struct curl_ctx *c = p;
  c->b.len = 0;
  if (curl_easy_perform(c->h) != CURLE_OK) return 1;
  long code = 0;
  curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
  /* Touch the body as a client would (find the content); a JSON parse is the caller's business. */
  return code != 200 || !strstr(c->b.data, "\"content\"");
}

struct sg_ctx { sg_gateway *gw; const char *opts; };
static int sg_call(void *p) {
  struct sg_ctx *c = p;
  char *out = NULL;
  size_t out_len = 0;
  sg_error *err = NULL;
  int st = sg_chat(c->gw, REQUEST, strlen(REQUEST), c->opts, &out, &out_len, &err);
  if (st != SG_OK) {
    fprintf(stderr, "sg_chat: %s\n", sg_error_message(err));
    sg_error_free(err);
    return 1;
  }
  sg_string_free(out);
  return 0;
}

static void measure(const char *name, call_fn fn, void *ctx, size_t max_n, double max_s, int first) {
  for (int i = 0; i < 200; i++)
    if (fn(ctx)) { fprintf(stderr, "%s: warm-up call failed\n", name); exit(1); }
  double *lat = malloc(sizeof(double) * max_n);
  size_t n = 0;
  double t0 = now(), deadline = t0 + max_s;
  while (n < max_n && now() < deadline) {
    double t = now();
    if (fn(ctx)) { fprintf(stderr, "%s: call failed\n", name); exit(1); }
    lat[n++] = (now() - t) * 1e6;
  }
  double el = now() - t0;
  qsort(lat, n, sizeof(double), cmp);
  printf("%s\"%s\":{\"n\":%zu,\"rps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f}", first ? "" : ",", name, n, n / el,
         pct(lat, n, 50), pct(lat, n, 99));
  free(lat);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: bench URL [--quick] [--growth N]\n"); return 2; }
  const char *url = argv[1];
  int quick = 0;
  long growth = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--growth") && i + 1 < argc) growth = atol(argv[++i]);
  }
  char audit[256];
  snprintf(audit, sizeof audit, "/tmp/sluicegate-bench-c-%d.jsonl", (int)getpid());
  char config[4096];
  snprintf(config, sizeof config,
           "{\"providers\":{\"primary\":{\"type\":\"openai\",\"api_base\":\"%s/v1\",\"api_key\":\"sk-bench-0000\"},"
           "\"backup\":{\"type\":\"openai\",\"api_base\":\"%s/v1\",\"api_key\":\"sk-bench-0000\"}},"
           "\"deployments\":{\"a\":{\"provider\":\"primary\",\"model\":\"gpt-4o-mini\"},\"b\":{\"provider\":\"backup\",\"model\":\"gpt-4o\"}},"
           "\"routes\":{\"chat\":{\"targets\":[\"a\",\"b\"]}},"
           "\"keys\":{\"bench\":{\"sha256\":\"" KEY_SHA_HEX "\",\"tags\":{\"team\":\"bench\"}}},"
           "\"policies\":{\"rate_limits\":[{\"scope\":{\"tag\":\"team\"},\"rpm\":100000000}],"
           "\"budgets\":[{\"scope\":{\"tag\":\"team\"},\"usd\":1000000}],"
           "\"guardrails\":[{\"type\":\"pii\",\"entities\":[\"email\",\"credit_card\"],\"action\":\"redact\"}]},"
           "\"audit\":{\"path\":\"%s\"}}",
           url, url, audit);
  sg_gateway *gw = NULL;
  sg_error *err = NULL;
  if (sg_gateway_new(config, strlen(config), &gw, &err) != SG_OK) {
    fprintf(stderr, "sg_gateway_new: %s\n", sg_error_message(err));
    return 1;
  }
  struct sg_ctx sg = {gw, "{\"key\":\"sk-sg-bench\"}"};

  if (growth > 0) {
    long warm = growth / 10 < 5000 ? growth / 10 : 5000;
    for (long i = 0; i < warm; i++) if (sg_call(&sg)) return 1;
    long before = rss_kb();
    double t0 = now();
    long done = 0;
    while (done < growth && now() - t0 < 120) { if (sg_call(&sg)) return 1; done++; }
    long after = rss_kb();
    printf("{\"requests\":%ld,\"warmup\":%ld,\"seconds\":%.2f,\"rss_before_mb\":%.2f,\"rss_after_mb\":%.2f,\"growth_mb\":%.3f}\n",
           done, warm, now() - t0, before / 1024.0, after / 1024.0, (after - before) / 1024.0);
    sg_gateway_free(gw);
    remove(audit);
    return 0;
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct curl_ctx cc = {curl_easy_init(), {0}};
  char endpoint[512];
  snprintf(endpoint, sizeof endpoint, "%s/v1/chat/completions", url);
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Authorization: Bearer sk-bench-0000");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(cc.h, CURLOPT_URL, endpoint);
  curl_easy_setopt(cc.h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(cc.h, CURLOPT_POSTFIELDS, DIRECT);
  curl_easy_setopt(cc.h, CURLOPT_POSTFIELDSIZE, (long)strlen(DIRECT));
  curl_easy_setopt(cc.h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(cc.h, CURLOPT_WRITEDATA, &cc.b);
  curl_easy_setopt(cc.h, CURLOPT_TCP_NODELAY, 1L);

  size_t max_n = quick ? 5000 : 30000;
  double max_s = quick ? 1.0 : 3.0;
  printf("{");
  measure("curl_c1", curl_call, &cc, max_n, max_s, 1);
  measure("sluicegate_c1", sg_call, &sg, max_n, max_s, 0);
  printf("}\n");
  curl_slist_free_all(headers);
  curl_easy_cleanup(cc.h);
  free(cc.b.data);
  curl_global_cleanup();
  sg_gateway_free(gw);
  remove(audit);
  return 0;
}
