/* See support.h. Linux (fork + PR_SET_PDEATHSIG, sockets, poll). */
#define _GNU_SOURCE
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int sg_test_failures = 0;
int sg_test_checks = 0;

int sg_test_report(const char *name) {
  printf("%s: %d checks, %d failed\n", name, sg_test_checks, sg_test_failures);
  return sg_test_failures == 0 ? 0 : 1;
}

static const char *mock_binary(void) {
  const char *bin = getenv("SLUICEGATE_BIN");
  return bin && *bin ? bin : "target/debug/sluicegate";
}

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads the server's first line, waiting at most `timeout_ms`. */
static int read_line(int fd, char *buf, size_t cap, int timeout_ms) {
  size_t used = 0;
  while (used + 1 < cap) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;
    ssize_t n = read(fd, buf + used, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    if (buf[used] == '\n') break;
    used++;
  }
  buf[used] = '\0';
  return 0;
}

int mock_start(mock_server *m, const char *script_json, const char *api_key) {
  memset(m, 0, sizeof *m);
  m->pid = -1;
  m->stdout_fd = -1;
  snprintf(m->script_path, sizeof m->script_path, "/tmp/sg-mock-script-XXXXXX");
  int fd = mkstemp(m->script_path);
  if (fd < 0) {
    perror("mock_start: mkstemp");
    m->script_path[0] = '\0';
    return -1;
  }
  int wrote = write_all(fd, script_json, strlen(script_json));
  close(fd);
  if (wrote != 0) {
    fprintf(stderr, "mock_start: cannot write the script\n");
    mock_stop(m);
    return -1;
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    perror("mock_start: pipe");
    mock_stop(m);
    return -1;
  }
  const char *bin = mock_binary();
  char *argv[] = {(char *)bin, "mock-provider", "--port", "0", "--script", m->script_path,
                  api_key ? "--api-key" : NULL, (char *)api_key, NULL};
  if (access(bin, X_OK) != 0) {
    fprintf(stderr, "mock_start: cannot run %s: %s (build it or set SLUICEGATE_BIN)\n", bin, strerror(errno));
    close(pipefd[0]);
    close(pipefd[1]);
    mock_stop(m);
    return -1;
  }
  pid_t parent = getpid();
  m->pid = fork();
  if (m->pid == 0) {
    /* Only async-signal-safe calls until exec: the parent may have other threads. The server
     * must not outlive a test that crashes, or it would hold the CI log pipe open. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(pipefd[1], STDOUT_FILENO);
    execve(bin, argv, environ);
    _exit(127);
  }
  close(pipefd[1]);
  m->stdout_fd = pipefd[0];
  if (m->pid < 0) {
    perror("mock_start: fork");
    mock_stop(m);
    return -1;
  }
  char line[256];
  const char *prefix = "sluicegate mock-provider listening on ";
  if (read_line(m->stdout_fd, line, sizeof line, 15000) != 0 || strncmp(line, prefix, strlen(prefix)) != 0) {
    fprintf(stderr, "mock_start: %s did not report its URL\n", bin);
    mock_stop(m);
    return -1;
  }
  snprintf(m->url, sizeof m->url, "%s", line + strlen(prefix));
  const char *colon = strrchr(m->url, ':');
  m->port = colon ? atoi(colon + 1) : 0;
  if (m->port <= 0) {
    fprintf(stderr, "mock_start: no port in `%s`\n", m->url);
    mock_stop(m);
    return -1;
  }
  return 0;
}

void mock_stop(mock_server *m) {
  if (m->pid > 0) {
    kill(m->pid, SIGTERM);
    while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    m->pid = -1;
  }
  if (m->stdout_fd >= 0) {
    close(m->stdout_fd);
    m->stdout_fd = -1;
  }
  if (m->script_path[0]) {
    unlink(m->script_path);
    m->script_path[0] = '\0';
  }
}

/* Decodes a chunked body in place; returns its length or -1. */
static long dechunk(char *body) {
  char *in = body, *out = body;
  for (;;) {
    char *end;
    long size = strtol(in, &end, 16);
    if (end == in || size < 0) return -1;
    char *data = strstr(end, "\r\n");
    if (!data) return -1;
    data += 2;
    if (size == 0) break;
    if ((long)strlen(data) < size) return -1;
    memmove(out, data, (size_t)size);
    out += size;
    in = data + size;
    if (strncmp(in, "\r\n", 2) == 0) in += 2;
  }
  *out = '\0';
  return out - body;
}

char *http_get(int port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return NULL;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char request[512];
  int n = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || write_all(fd, request, (size_t)n) != 0) {
    close(fd);
    return NULL;
  }
  size_t cap = 4096, used = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (used + 1 >= cap) buf = realloc(buf, cap *= 2);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10000) <= 0) break;
    ssize_t got = read(fd, buf + used, cap - used - 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    used += (size_t)got;
  }
  close(fd);
  buf[used] = '\0';
  char *body = strstr(buf, "\r\n\r\n");
  if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || !body) {
    free(buf);
    return NULL;
  }
  *body = '\0';
  int chunked = strcasestr(buf, "transfer-encoding: chunked") != NULL;
  body += 4;
  memmove(buf, body, strlen(body) + 1);
  if (chunked && dechunk(buf) < 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, used = 0;
  char *buf = malloc(cap);
  size_t n;
  while ((n = fread(buf + used, 1, cap - used - 1, f)) > 0) {
    used += n;
    if (used + 1 >= cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  buf[used] = '\0';
  if (len) *len = used;
  return buf;
}
