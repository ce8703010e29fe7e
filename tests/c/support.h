/* Helpers shared by the C tests: a tiny check harness, the mock provider as a child process,
 * and a minimal HTTP GET for its /_mock/stats endpoint. */
#ifndef SG_TEST_SUPPORT_H
#define SG_TEST_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* ---- checks: count failures, keep going, report at the end ---- */
extern int sg_test_failures;
extern int sg_test_checks;
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    sg_test_checks++;                                                          \
    if (!(cond)) {                                                             \
      sg_test_failures++;                                                      \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)
/* Prints "<name>: N checks, M failed" and returns the exit code. */
int sg_test_report(const char *name);

/* ---- the mock provider: `$SLUICEGATE_BIN mock-provider --port 0 --script FILE` ---- */
typedef struct mock_server {
  pid_t pid;
  int stdout_fd;
  int port;
  char url[64];
  char script_path[64];
} mock_server;

/* Starts a fresh server for `script_json` (a JSON object; "{}" for the defaults) and, when
 * `api_key` is not NULL, requires it. Returns 0 on success, else prints why and returns -1. */
int mock_start(mock_server *m, const char *script_json, const char *api_key);
/* Stops the server and removes its script file. Safe on a server that did not start. */
void mock_stop(mock_server *m);

/* GET http://127.0.0.1:port<path>; returns the body (malloc'd, NUL-terminated) or NULL. */
char *http_get(int port, const char *path);

/* Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *read_file(const char *path, size_t *len);

#endif
