/*
 * kappa-run: the run client of wrapped commands (kappa-node wrap), in C.
 *
 * Every command a build starts through a shim used to start Node for
 * `kappa-node run --retry-local`: ~0.2 CPU s on the origin per remote
 * compile, about half of what the compile itself costs, and on a busy origin
 * that is the build's bottleneck (bench/results/build.md). This client does
 * the same over the same control socket protocol (src/control/frames.ts,
 * src/run/client.ts) for ~1 ms: the request line, the job's stdio and
 * signals, and the never-break-a-build rule of src/run/retry.ts (docs/builds.md).
 * `wrap` compiles it with the system's C compiler into the shim directory;
 * without one, the shims start the Node client as before. `npm run build`
 * compiles it as dist/kappa-run, which bin/kappa-node starts for
 * `kappa-node run` with the options this client takes. Whether the
 * command is a compiler driver is decided by wrap (isCompilerDriver) and
 * passed as -c, so that rule lives in one place.
 *
 * Usage (written by wrap into each shim):
 *   kappa-run -h HOME [-r] [-c] [-m auto|remote|peer] [-p PEER] [-w DIR]
 *             [-e NAME]... [-E NAME]... [-I FILE]... [-O FILE]... [-i] -- cmd args...
 *   -r  --retry-local: a failure that is kappa's runs the command here once
 *   -c  the command is a compiler driver: a remote failure is compiled here again
 *   -e / -E  --env / --no-env;  -I / -O  --input / --output;  -i  --stdin
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* src/control/frames.ts */
enum {
  F_STDIN = 1, F_STDIN_EOF = 2, F_SIGNAL = 3, F_OUTPUT_CLOSED = 4, F_LOCAL_EXIT = 5,
  F_STARTED = 10, F_STDOUT = 11, F_STDERR = 12, F_EXIT = 13, F_LOCAL = 14, F_ERROR = 15,
  F_PROGRESS = 16, F_NOTE = 17
};
#define FRAME_HEADER 5
#define FRAME_MAX (4u * 1024 * 1024)
/* src/run/client.ts HOLD_MAX_BYTES */
#define HOLD_MAX (64u * 1024 * 1024)
#define CONTROL_FILE "control.sock"

/* ---------- small helpers ---------- */

static void note (const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  dprintf(2, "kappa-node: %s\n", line);
}

static void *xrealloc (void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL) { note("out of memory"); exit(255); }
  return q;
}

/** A growable byte buffer. */
struct buf { char *data; size_t len, cap; };

static void buf_add (struct buf *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap == 0 ? 4096 : b->cap;
    while (cap < b->len + n) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
}

static void buf_str (struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

/** A JSON string (bytes over 0x7f pass as they are: the daemon decodes UTF-8 as Node's argv and env do). */
static void buf_json (struct buf *b, const char *s) {
  buf_add(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
    if (*p == '"' || *p == '\\') { char e[2] = { '\\', (char)*p }; buf_add(b, e, 2); }
    else if (*p < 0x20) { char e[8]; snprintf(e, sizeof e, "\\u%04x", *p); buf_add(b, e, 6); }
    else buf_add(b, p, 1);
  }
  buf_add(b, "\"", 1);
}

static void buf_json_list (struct buf *b, char **items, int n) {
  buf_add(b, "[", 1);
  for (int i = 0; i < n; i++) { if (i > 0) buf_add(b, ",", 1); buf_json(b, items[i]); }
  buf_add(b, "]", 1);
}

/** Write all of it, waiting when the descriptor is non-blocking; -1 when its reader went away. */
static int write_all (int fd, const char *data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { struct pollfd p = { fd, POLLOUT, 0 }; poll(&p, 1, -1); continue; }
      return -1;
    }
    data += w;
    n -= (size_t)w;
  }
  return 0;
}

static long long now_ms (void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---------- the daemon's JSON payloads: flat objects of strings, numbers, booleans, null ---------- */

/**
 * The value of "key" in a flat JSON object, as written by JSON.stringify:
 * a string (unescaped into out), or the literal text of a number, true,
 * false or null. 0 when the key is absent.
 */
static int json_get (const char *json, size_t len, const char *key, char *out, size_t outlen, int *is_string) {
  size_t klen = strlen(key), i = 0;
  int depth = 0;
  while (i < len) {
    char c = json[i];
    if (c == '{' || c == '[') { depth++; i++; continue; }
    if (c == '}' || c == ']') { depth--; i++; continue; }
    if (c != '"') { i++; continue; }
    /* a string: a key when at depth 1 and followed by ':' */
    size_t start = ++i;
    while (i < len && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
    size_t end = i++;
    if (depth != 1 || i >= len || json[i] != ':') continue;
    i++;
    if (end - start != klen || memcmp(json + start, key, klen) != 0) continue;
    size_t o = 0;
    if (i < len && json[i] == '"') {
      *is_string = 1;
      for (i++; i < len && json[i] != '"'; i++) {
        unsigned cp = (unsigned char)json[i];
        if (cp == '\\' && i + 1 < len) {
          char e = json[++i];
          if (e == 'n') cp = '\n'; else if (e == 't') cp = '\t'; else if (e == 'r') cp = '\r';
          else if (e == 'b') cp = '\b'; else if (e == 'f') cp = '\f';
          else if (e == 'u' && i + 4 < len) { char h[5] = { json[i + 1], json[i + 2], json[i + 3], json[i + 4], 0 }; cp = (unsigned)strtoul(h, NULL, 16); i += 4; }
          else cp = (unsigned char)e;
          /* \u escapes as UTF-8 (surrogate pairs are not used by our payloads) */
          char u[4]; size_t un = 0;
          if (cp < 0x80) u[un++] = (char)cp;
          else if (cp < 0x800) { u[un++] = (char)(0xc0 | cp >> 6); u[un++] = (char)(0x80 | (cp & 0x3f)); }
          else { u[un++] = (char)(0xe0 | cp >> 12); u[un++] = (char)(0x80 | ((cp >> 6) & 0x3f)); u[un++] = (char)(0x80 | (cp & 0x3f)); }
          for (size_t k = 0; k < un && o + 1 < outlen; k++) out[o++] = u[k];
          continue;
        }
        if (o + 1 < outlen) out[o++] = (char)cp;
      }
    } else {
      *is_string = 0;
      while (i < len && json[i] != ',' && json[i] != '}' && o + 1 < outlen) out[o++] = json[i++];
    }
    out[o] = 0;
    return 1;
  }
  return 0;
}

/* ---------- signals ---------- */

static const struct { const char *name; int number; } SIGNALS[] = {
  { "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT }, { "SIGILL", SIGILL },
  { "SIGTRAP", SIGTRAP }, { "SIGABRT", SIGABRT }, { "SIGBUS", SIGBUS }, { "SIGFPE", SIGFPE },
  { "SIGKILL", SIGKILL }, { "SIGUSR1", SIGUSR1 }, { "SIGSEGV", SIGSEGV }, { "SIGUSR2", SIGUSR2 },
  { "SIGPIPE", SIGPIPE }, { "SIGALRM", SIGALRM }, { "SIGTERM", SIGTERM }, { "SIGCHLD", SIGCHLD },
  { "SIGCONT", SIGCONT }, { "SIGSTOP", SIGSTOP }, { "SIGTSTP", SIGTSTP }, { "SIGTTIN", SIGTTIN },
  { "SIGTTOU", SIGTTOU }, { "SIGURG", SIGURG }, { "SIGXCPU", SIGXCPU }, { "SIGXFSZ", SIGXFSZ },
  { "SIGVTALRM", SIGVTALRM }, { "SIGPROF", SIGPROF }, { "SIGWINCH", SIGWINCH }, { "SIGIO", SIGIO },
  { "SIGPWR", SIGPWR }, { "SIGSYS", SIGSYS }
};

static int signal_number (const char *name) {
  for (size_t i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++) if (strcmp(SIGNALS[i].name, name) == 0) return SIGNALS[i].number;
  return 0;
}

static const char *signal_name (int number) {
  for (size_t i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++) if (SIGNALS[i].number == number) return SIGNALS[i].name;
  return NULL;
}

/* the forwarded signals (SIGINT, SIGTERM, SIGHUP) arrive through a pipe the main loop polls */
static int signal_pipe[2] = { -1, -1 };

static void on_signal (int sig) {
  int saved = errno;
  unsigned char s = (unsigned char)sig;
  if (write(signal_pipe[1], &s, 1) < 0) { /* the pipe is full: the signal is already pending */ }
  errno = saved;
}

static void set_forwarding (void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

/* ---------- options ---------- */

struct options {
  const char *home;
  int retry, compile, forward_stdin_flag;
  const char *mode, *peer, *workspace;
  char **env_add; int n_env_add;
  char **env_drop; int n_env_drop;
  char **inputs; int n_inputs;
  char **outputs; int n_outputs;
  char **argv; int argc;
};

static void usage (void) {
  note("kappa-run: usage: kappa-run -h HOME [-r] [-c] [-m auto|remote|peer] [-p PEER] [-w DIR] [-e NAME]... [-E NAME]... [-I FILE]... [-O FILE]... [-i] -- cmd args...");
  exit(2);
}

static void parse_options (int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->mode = "auto";
  o->env_add = calloc((size_t)argc, sizeof(char *));
  o->env_drop = calloc((size_t)argc, sizeof(char *));
  o->inputs = calloc((size_t)argc, sizeof(char *));
  o->outputs = calloc((size_t)argc, sizeof(char *));
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) { i++; break; }
    if (a[0] != '-' || a[1] == 0 || a[2] != 0) usage();
    char f = a[1];
    if (f == 'r') { o->retry = 1; continue; }
    if (f == 'c') { o->compile = 1; continue; }
    if (f == 'i') { o->forward_stdin_flag = 1; continue; }
    if (i + 1 >= argc) usage();
    char *v = argv[++i];
    switch (f) {
      case 'h': o->home = v; break;
      case 'm': o->mode = v; break;
      case 'p': o->peer = v; break;
      case 'w': o->workspace = v; break;
      case 'e': o->env_add[o->n_env_add++] = v; break;
      case 'E': o->env_drop[o->n_env_drop++] = v; break;
      case 'I': o->inputs[o->n_inputs++] = v; break;
      case 'O': o->outputs[o->n_outputs++] = v; break;
      default: usage();
    }
  }
  if (o->home == NULL || i >= argc) usage();
  if (strcmp(o->mode, "auto") != 0 && strcmp(o->mode, "remote") != 0 && strcmp(o->mode, "peer") != 0) usage();
  o->argv = argv + i;
  o->argc = argc - i;
}

/* ---------- running here ---------- */

static const char *command_name (const char *argv0) {
  const char *slash = strrchr(argv0, '/');
  return slash != NULL ? slash + 1 : argv0;
}

static int exit_status (int wstatus) {
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return WEXITSTATUS(wstatus);
}

/** Run the command here, as the shell would: same stdio; TERM and HUP passed on (the terminal sends INT itself). */
static int run_here (char **argv) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) { note("%s: %s", argv[0], strerror(errno)); return 126; }
  pid_t child = fork();
  if (child < 0) { note("%s: %s", argv[0], strerror(errno)); return 126; }
  if (child == 0) {
    signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL); signal(SIGHUP, SIG_DFL); signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    int e = errno;
    if (write(report[1], &e, sizeof e) < 0) { /* the parent sees a 0-byte read and the exit status below */ }
    _exit(127);
  }
  close(report[1]);
  int e = 0;
  ssize_t got;
  do got = read(report[0], &e, sizeof e); while (got < 0 && errno == EINTR);
  close(report[0]);
  struct sigaction ignore, pass, old_int, old_term, old_hup;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  memset(&pass, 0, sizeof pass);
  pass.sa_handler = on_signal;
  sigaction(SIGTERM, &pass, &old_term);
  sigaction(SIGHUP, &pass, &old_hup);
  int wstatus = 0;
  for (;;) {
    pid_t w = waitpid(child, &wstatus, 0);
    if (w == child) break;
    if (w < 0 && errno == EINTR) {
      unsigned char s;
      while (read(signal_pipe[0], &s, 1) == 1) if (s != SIGINT) kill(child, s);
      continue;
    }
    break;
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGHUP, &old_hup, NULL);
  if (got == (ssize_t)sizeof e) {
    if (e == ENOENT) { note("%s: command not found", argv[0]); return 127; }
    note("%s: %s", argv[0], strerror(e));
    return 126;
  }
  return exit_status(wstatus);
}

/* ---------- the job's output, held back while a re-run is possible (src/run/held.ts) ---------- */

struct piece { int fd; char *data; size_t len; };
struct held { struct piece *pieces; size_t n, cap, bytes; int released; };

static int broken[3];
static int sock = -1;

static void send_frame (int type, const void *payload, uint32_t len);

static void output_write (int fd, const char *data, size_t len) {
  if (broken[fd]) return;
  if (write_all(fd, data, len) < 0) {
    /* EPIPE (its reader went away): the job meets a broken pipe, as it would here */
    broken[fd] = 1;
    char which = fd == 1 ? '1' : '2';
    send_frame(F_OUTPUT_CLOSED, &which, 1);
  }
}

static void held_release (struct held *h) {
  h->released = 1;
  for (size_t i = 0; i < h->n; i++) {
    if (write_all(h->pieces[i].fd, h->pieces[i].data, h->pieces[i].len) < 0) break;
  }
  for (size_t i = 0; i < h->n; i++) free(h->pieces[i].data);
  h->n = 0;
}

static void held_drop (struct held *h) {
  for (size_t i = 0; i < h->n; i++) free(h->pieces[i].data);
  h->n = 0;
  h->bytes = 0;
}

static void output (struct held *h, int fd, const char *data, size_t len) {
  if (!h->released) {
    if (h->bytes + len > HOLD_MAX) held_release(h);
    else {
      if (h->n == h->cap) { h->cap = h->cap == 0 ? 64 : h->cap * 2; h->pieces = xrealloc(h->pieces, h->cap * sizeof *h->pieces); }
      char *copy = xrealloc(NULL, len == 0 ? 1 : len);
      memcpy(copy, data, len);
      h->pieces[h->n++] = (struct piece){ fd, copy, len };
      h->bytes += len;
      return;
    }
  }
  output_write(fd, data, len);
}

/** Everything held for stderr, in one buffer (the caller frees its data). */
static struct buf held_stderr (struct held *h) {
  struct buf all = { 0 };
  for (size_t i = 0; i < h->n; i++) if (h->pieces[i].fd == 2) buf_add(&all, h->pieces[i].data, h->pieces[i].len);
  return all;
}

/**
 * What the remote run said went wrong, for the one line after a local success
 * (src/run/held.ts, firstErrorLine): the held stderr's first line that
 * mentions an error, else its first non-empty line; control characters become
 * spaces, at most ERROR_LINE_MAX bytes. Empty when stderr was empty.
 */
#define ERROR_LINE_MAX 160
static void held_first_error (struct held *h, char *line, size_t linelen) {
  struct buf all = held_stderr(h);
  size_t pick = all.len, pick_end = all.len, first = all.len, first_end = all.len;
  for (size_t start = 0; start < all.len;) {
    size_t end = start;
    while (end < all.len && all.data[end] != '\n') end++;
    int blank = 1;
    for (size_t k = start; k < end; k++) if (all.data[k] != ' ' && all.data[k] != '\t' && all.data[k] != '\r') blank = 0;
    if (!blank && first == all.len) { first = start; first_end = end; }
    if (memmem(all.data + start, end - start, "error", 5) != NULL) { pick = start; pick_end = end; break; }
    start = end + 1;
  }
  if (pick == all.len) { pick = first; pick_end = first_end; }
  size_t n = 0;
  for (size_t k = pick; k < pick_end && n + 1 < linelen && n < ERROR_LINE_MAX; k++) {
    unsigned char c = (unsigned char)all.data[k];
    line[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
  }
  line[n] = 0;
  free(all.data);
}

/** The held stderr's first line, when it starts with `prefix` (a failed sandbox launcher's `bwrap: …`). */
static int held_stderr_starts (struct held *h, const char *prefix, char *line, size_t linelen) {
  struct buf all = held_stderr(h);
  int yes = all.len >= strlen(prefix) && memcmp(all.data, prefix, strlen(prefix)) == 0;
  if (yes) {
    size_t n = 0;
    while (n < all.len && all.data[n] != '\n' && n + 1 < linelen) { line[n] = all.data[n]; n++; }
    line[n] = 0;
  }
  free(all.data);
  return yes;
}

/* ---------- the control socket ---------- */

static void send_frame (int type, const void *payload, uint32_t len) {
  unsigned char header[FRAME_HEADER] = { (unsigned char)type, (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len };
  /* a daemon that went away is noticed by the read side */
  if (write_all(sock, (const char *)header, FRAME_HEADER) == 0 && len > 0) write_all(sock, payload, len);
}

static int connect_daemon (const char *home, char *why, size_t whylen) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", home, CONTROL_FILE);
  if (n < 0 || (size_t)n >= sizeof addr.sun_path) { snprintf(why, whylen, "cannot reach the daemon at %s/%s: the path is too long", home, CONTROL_FILE); return -1; }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { snprintf(why, whylen, "cannot reach the daemon at %s: %s", addr.sun_path, strerror(errno)); return -1; }
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  int e = errno;
  close(fd);
  const char *env = getenv("KAPPA_HOME");
  if (e == ENOENT || e == ECONNREFUSED || e == ENOTSOCK) {
    if (env != NULL && strcmp(env, home) == 0) snprintf(why, whylen, "the node is not running (home %s); start it with: kappa-node start", home);
    else snprintf(why, whylen, "the node is not running (home %s); start it with: kappa-node start --home %s", home, home);
  } else if (e == EACCES) snprintf(why, whylen, "cannot open %s: permission denied (the daemon belongs to another user)", addr.sun_path);
  else snprintf(why, whylen, "cannot reach the daemon at %s: %s", addr.sun_path, strerror(e));
  return -1;
}

static int current_umask (void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int mask = -1;
  if (f != NULL) {
    while (fgets(line, sizeof line, f) != NULL) if (strncmp(line, "Umask:", 6) == 0) { mask = (int)strtol(line + 6, NULL, 8); break; }
    fclose(f);
  }
  if (mask < 0) { mask = (int)umask(022); umask((mode_t)mask); }
  return mask;
}

static void send_request (const struct options *o, int forward_stdin) {
  struct buf b = { 0 };
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) { note("cannot read the current directory: %s", strerror(errno)); exit(1); }
  const char *home = getenv("HOME");
  struct passwd *pw = home == NULL ? getpwuid(getuid()) : NULL;
  if (home == NULL) home = pw != NULL ? pw->pw_dir : "/";
  const char *path = getenv("PATH");
  buf_str(&b, "{\"method\":\"run\",\"params\":{\"argv\":");
  buf_json_list(&b, o->argv, o->argc);
  buf_str(&b, ",\"cwd\":"); buf_json(&b, cwd);
  buf_str(&b, ",\"path\":"); buf_json(&b, path != NULL ? path : "");
  buf_str(&b, ",\"env\":{");
  int first = 1;
  for (char **e = environ; *e != NULL; e++) {
    char *eq = strchr(*e, '=');
    if (eq == NULL || eq == *e) continue;
    if (!first) buf_add(&b, ",", 1);
    first = 0;
    *eq = 0;
    buf_json(&b, *e);
    *eq = '=';
    buf_add(&b, ":", 1);
    buf_json(&b, eq + 1);
  }
  buf_str(&b, "},\"envAdd\":"); buf_json_list(&b, o->env_add, o->n_env_add);
  buf_str(&b, ",\"envDrop\":"); buf_json_list(&b, o->env_drop, o->n_env_drop);
  buf_str(&b, ",\"home\":"); buf_json(&b, home);
  char number[64];
  snprintf(number, sizeof number, ",\"umask\":%d", current_umask());
  buf_str(&b, number);
  if (o->workspace != NULL) { buf_str(&b, ",\"workspace\":"); buf_json(&b, o->workspace); }
  buf_str(&b, ",\"inputs\":"); buf_json_list(&b, o->inputs, o->n_inputs);
  buf_str(&b, ",\"outputs\":"); buf_json_list(&b, o->outputs, o->n_outputs);
  buf_str(&b, ",\"mode\":"); buf_json(&b, o->mode);
  if (o->peer != NULL) { buf_str(&b, ",\"peer\":"); buf_json(&b, o->peer); }
  /* the output goes through this client (held while a re-run is possible): no pipes for the daemon to write into */
  snprintf(number, sizeof number, ",\"stdin\":%s,\"stdio\":{\"pid\":%d,\"pipes\":{}}}}\n", forward_stdin ? "true" : "false", (int)getpid());
  buf_str(&b, number);
  write_all(sock, b.data, b.len);
  free(b.data);
}

/* ---------- one run ---------- */

enum verdict { PROGRAM, KAPPA };
struct outcome { int status; enum verdict verdict; int remote; char reason[4096]; int stdin_used, interrupted; };

static void progress_line (const char *payload, size_t len, int *shown) {
  if (!isatty(2)) return;
  char v[64];
  int s;
  double sent = json_get(payload, len, "sentBytes", v, sizeof v, &s) ? atof(v) : 0;
  double total = json_get(payload, len, "totalBytes", v, sizeof v, &s) ? atof(v) : 0;
  dprintf(2, "\rkappa-node: sending the workspace %.1f / %.1f MiB\x1b[K", sent / 1048576, total / 1048576);
  *shown = 1;
}

static void progress_clear (int *shown) {
  if (*shown) { dprintf(2, "\r\x1b[K"); *shown = 0; }
}

/** The job, from the request to its outcome; LOCAL (run it here) is handled inside. */
static void run_job (const struct options *o, struct held *held, struct outcome *out) {
  int forward_stdin = o->forward_stdin_flag || !isatty(0);
  send_request(o, forward_stdin);
  int started = 0, sigint_forwarded = 0, stdin_open = forward_stdin, shown = 0;
  unsigned char header[FRAME_HEADER];
  size_t header_fill = 0;
  int type = 0;
  uint32_t remaining = 0;
  int in_frame = 0;
  struct buf payload = { 0 };
  static char chunk[65536];
  for (;;) {
    struct pollfd p[3] = { { sock, POLLIN, 0 }, { signal_pipe[0], POLLIN, 0 }, { started && stdin_open ? 0 : -1, POLLIN, 0 } };
    if (poll(p, 3, -1) < 0) { if (errno == EINTR) continue; break; }
    if (p[1].revents & POLLIN) {
      unsigned char s;
      while (read(signal_pipe[0], &s, 1) == 1) {
        const char *name = signal_name(s);
        if (started && s == SIGINT && sigint_forwarded) {
          /* a second Ctrl-C: the job, or its node, did not stop; stop waiting (as ssh's ~.) */
          note("interrupted again: no longer waiting for the job");
          out->status = 130; out->verdict = PROGRAM; out->remote = 1;
          return;
        } else if (started) {
          out->interrupted = 1;
          if (s == SIGINT) sigint_forwarded = 1;
          send_frame(F_SIGNAL, name, (uint32_t)strlen(name));
        } else {
          /* still choosing a node: nothing runs yet, just stop (and a wrapped compile is not run again here) */
          out->status = 128 + s; out->verdict = PROGRAM; out->remote = 1; out->interrupted = 1;
          return;
        }
      }
    }
    if (p[2].fd == 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
      ssize_t n = read(0, chunk, sizeof chunk);
      if (n > 0) { out->stdin_used = 1; send_frame(F_STDIN, chunk, (uint32_t)n); }
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) { stdin_open = 0; send_frame(F_STDIN_EOF, NULL, 0); }
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = read(sock, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      progress_clear(&shown);
      if (started) {
        out->status = 255; out->verdict = KAPPA; out->remote = 1;
        snprintf(out->reason, sizeof out->reason, "lost the connection to the local kappa-node daemon while the job was running");
      } else if (strcmp(o->mode, "remote") == 0) {
        out->status = 1; out->verdict = KAPPA; out->remote = 1;
        snprintf(out->reason, sizeof out->reason, "the kappa-node daemon closed the connection before the job started");
      } else {
        note("the kappa-node daemon closed the connection; running locally");
        out->status = run_here(o->argv); out->verdict = PROGRAM; out->remote = 0;
      }
      return;
    }
    for (size_t i = 0; i < (size_t)n;) {
      if (!in_frame) {
        header[header_fill++] = (unsigned char)chunk[i++];
        if (header_fill < FRAME_HEADER) continue;
        header_fill = 0;
        type = header[0];
        remaining = (uint32_t)header[1] << 24 | (uint32_t)header[2] << 16 | (uint32_t)header[3] << 8 | header[4];
        if (remaining > FRAME_MAX) {
          out->status = 255; out->verdict = KAPPA; out->remote = 1;
          snprintf(out->reason, sizeof out->reason, "control frame of %u bytes is over the %u limit", remaining, FRAME_MAX);
          return;
        }
        in_frame = 1;
        payload.len = 0;
      }
      size_t take = (size_t)n - i < remaining ? (size_t)n - i : remaining;
      if (type == F_STDOUT || type == F_STDERR) output(held, type == F_STDOUT ? 1 : 2, chunk + i, take);
      else buf_add(&payload, chunk + i, take);
      i += take;
      remaining -= (uint32_t)take;
      if (remaining > 0) continue;
      in_frame = 0;
      char v[4096];
      int is_string = 0;
      const char *pl = payload.data != NULL ? payload.data : "";
      switch (type) {
        case F_STARTED:
          progress_clear(&shown);
          started = 1;
          break;
        case F_PROGRESS:
          progress_line(pl, payload.len, &shown);
          break;
        case F_NOTE:
          progress_clear(&shown);
          if (json_get(pl, payload.len, "message", v, sizeof v, &is_string)) note("%s", v);
          break;
        case F_EXIT: {
          char sig[64] = "null";
          int code = 0;
          if (json_get(pl, payload.len, "code", v, sizeof v, &is_string) && !is_string && strcmp(v, "null") != 0) code = atoi(v);
          int has_signal = json_get(pl, payload.len, "signal", sig, sizeof sig, &is_string) && is_string;
          out->status = has_signal ? 128 + signal_number(sig) : code;
          out->verdict = PROGRAM; out->remote = 1;
          free(payload.data);
          return;
        }
        case F_LOCAL: {
          progress_clear(&shown);
          int quiet = json_get(pl, payload.len, "quiet", v, sizeof v, &is_string) && strcmp(v, "true") == 0;
          if (!quiet && json_get(pl, payload.len, "reason", v, sizeof v, &is_string)) note("running locally: %s", v);
          long long began = now_ms();
          int status = run_here(o->argv);
          /* the daemon keeps the job in its history and hears how the run here ended */
          const char *name = status > 128 ? signal_name(status - 128) : NULL;
          char report[256];
          if (name != NULL) snprintf(report, sizeof report, "{\"code\":null,\"signal\":\"%s\",\"durationMs\":%lld}", name, now_ms() - began);
          else snprintf(report, sizeof report, "{\"code\":%d,\"signal\":null,\"durationMs\":%lld}", status, now_ms() - began);
          send_frame(F_LOCAL_EXIT, report, (uint32_t)strlen(report));
          shutdown(sock, SHUT_WR);
          out->status = status; out->verdict = PROGRAM; out->remote = 0;
          free(payload.data);
          return;
        }
        case F_ERROR: {
          progress_clear(&shown);
          int code = 255;
          if (json_get(pl, payload.len, "code", v, sizeof v, &is_string) && !is_string && strcmp(v, "null") != 0) code = atoi(v);
          if (!json_get(pl, payload.len, "message", out->reason, sizeof out->reason, &is_string)) snprintf(out->reason, sizeof out->reason, "the job failed");
          out->status = code; out->verdict = KAPPA; out->remote = 1;
          free(payload.data);
          return;
        }
        default:
          break;
      }
    }
  }
}

int main (int argc, char **argv) {
  struct options o;
  parse_options(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) { note("kappa-run: %s", strerror(errno)); return 1; }
  set_forwarding(on_signal);
  const char *name = command_name(o.argv[0]);
  struct held held = { .released = !o.retry };
  struct outcome out;
  memset(&out, 0, sizeof out);

  char why[4096];
  sock = connect_daemon(o.home, why, sizeof why);
  if (sock < 0) {
    if (o.retry && o.peer != NULL) {
      note("%s; running %s here instead", why, name);
      return run_here(o.argv);
    }
    if (strcmp(o.mode, "auto") != 0) { note("%s", why); return 1; }
    note("%s; running locally", why);
    return run_here(o.argv);
  }
  run_job(&o, &held, &out);
  close(sock);
  set_forwarding(SIG_DFL);

  if (!o.retry) {
    if (out.verdict == KAPPA) note("%s", out.reason);
    return out.status;
  }
  /* src/run/retry.ts: never break a build */
  char launcher[1024];
  if (out.remote && out.verdict == PROGRAM && out.status == 1 && held_stderr_starts(&held, "bwrap: ", launcher, sizeof launcher)) {
    out.verdict = KAPPA;
    snprintf(out.reason, sizeof out.reason, "the remote node's sandbox failed (%s)", launcher);
  }
  /* a re-run would show output again, or miss the input it already consumed; a signal from here is answered */
  int clean = !held.released && !out.stdin_used && !out.interrupted;
  if (out.verdict == KAPPA) {
    if (!clean) { held_release(&held); note("%s", out.reason); return out.status; }
    held_drop(&held);
    note("%s; running %s here instead", out.reason[0] != 0 ? out.reason : "the remote run failed", name);
    return run_here(o.argv);
  }
  if (!out.remote || out.status == 0 || !clean || !o.compile) { held_release(&held); return out.status; }
  char said[ERROR_LINE_MAX + 1];
  held_first_error(&held, said, sizeof said);
  held_drop(&held);
  int status = run_here(o.argv);
  if (status == 0) {
    char was[64];
    if (out.status > 128) snprintf(was, sizeof was, "killed by signal %d", out.status - 128);
    else snprintf(was, sizeof was, "exit %d", out.status);
    note("%s failed on the remote node (%s%s%s) but succeeded here: that node's toolchain or files differ from this one's", name, was, said[0] != 0 ? ": " : "", said);
  }
  return status;
}
