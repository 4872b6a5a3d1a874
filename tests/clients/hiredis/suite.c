/* tests/clients/hiredis/suite.c: Debian's hiredis (libhiredis-dev) as a C program uses it.
 *
 * Run by tests/clients/driver.py (its docstring has the protocol): once against redis-server, once
 * against tessera-server, with the same expectations. Each call is a function below returning 1
 * (pass) or 0 (fail, with the reason in `failure`); calls use their own keys ("c:<call>:...") and
 * never rely on what an earlier call left (the `reconnect` call restarts the server).
 *
 * Timeouts: every synchronous context gets redisConnectWithTimeout and redisSetTimeout, the async
 * calls run their libevent loop under a timer, and an alarm() per call is the last resort: it
 * reports the call as timed out and ends the suite (the driver then reports the calls that never
 * ran).
 *
 * The async calls (hiredis's libevent adapter) are compiled when CMake found libevent
 * (TESSERA_HAVE_LIBEVENT); scripts/setup's test group installs it, so CI always has them. */
#include <hiredis/hiredis.h>
#ifdef TESSERA_HAVE_LIBEVENT
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#endif

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char* host = "127.0.0.1";
static int port = 6379;
static double call_timeout = 5.0;
static char failure[1024];
static const char* volatile current_call = "";

/* The reply of the last run(); freed by the next run() and by done(). */
static redisReply* reply;

static struct timeval seconds_to_timeval(double s) {
  struct timeval tv;
  tv.tv_sec = (time_t)s;
  tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
  return tv;
}

static int fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(failure, sizeof failure, fmt, ap);
  va_end(ap);
  return 0;
}

/* A short, one-line description of a reply, for failure messages. */
static const char* describe(const redisReply* r) {
  static char text[200];
  if (r == NULL) return "no reply (connection error)";
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR: {
      const char* kind = r->type == REDIS_REPLY_STRING   ? "string"
                         : r->type == REDIS_REPLY_STATUS ? "status"
                                                         : "error";
      size_t n = r->len < 120 ? r->len : 120;
      snprintf(text, sizeof text, "%s(%zu) \"%.*s\"", kind, r->len, (int)n, r->str);
      for (char* p = text; *p; ++p)
        if (*p == '\r' || *p == '\n') *p = ' ';
      return text;
    }
    case REDIS_REPLY_INTEGER:
      snprintf(text, sizeof text, "integer %lld", r->integer);
      return text;
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_ARRAY:
      snprintf(text, sizeof text, "array of %zu", r->elements);
      return text;
    default:
      snprintf(text, sizeof text, "reply type %d", r->type);
      return text;
  }
}

static redisContext* connect_sync(void) {
  redisContext* c = redisConnectWithTimeout(host, port, seconds_to_timeval(call_timeout));
  if (c == NULL || c->err) {
    fail("connect: %s", c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, seconds_to_timeval(call_timeout));
  return c;
}

static redisReply* run(redisContext* c, const char* fmt, ...) {
  if (reply) freeReplyObject(reply);
  va_list ap;
  va_start(ap, fmt);
  reply = redisvCommand(c, fmt, ap);
  va_end(ap);
  return reply;
}

static int done(redisContext* c, int result) {
  if (reply) freeReplyObject(reply);
  reply = NULL;
  if (c) redisFree(c);
  return result;
}

static int is_status(const redisReply* r, const char* text) {
  return r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, text) == 0;
}
static int is_string(const redisReply* r, const char* data, size_t len) {
  return r && r->type == REDIS_REPLY_STRING && r->len == len && memcmp(r->str, data, len) == 0;
}
static int is_cstring(const redisReply* r, const char* text) {
  return is_string(r, text, strlen(text));
}
static int is_integer(const redisReply* r, long long n) {
  return r && r->type == REDIS_REPLY_INTEGER && r->integer == n;
}
static int is_nil(const redisReply* r) { return r && r->type == REDIS_REPLY_NIL; }
static int is_error(const redisReply* r, const char* text) {
  return r && r->type == REDIS_REPLY_ERROR && strcmp(r->str, text) == 0;
}

/* CHECK(condition, what): on failure, records what and the last reply, and ends the call. */
#define CHECK(cond, what)                                                 \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fail("%s: got %s (suite.c:%d)", (what), describe(reply), __LINE__); \
      return done(c, 0);                                                  \
    }                                                                     \
  } while (0)

/* Asks the driver to restart the server (same port, data lost) and waits for its "OK". */
static int restart_server(void) {
  printf("CONTROL restart\n");
  fflush(stdout);
  char line[512];
  if (fgets(line, sizeof line, stdin) == NULL) return fail("no answer to CONTROL restart");
  if (strncmp(line, "OK", 2) != 0) return fail("the driver could not restart: %s", line);
  return 1;
}

/* ------------------------------------------------------------------------------------------- */
/* Synchronous calls */

static int call_ping(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_status(run(c, "PING"), "PONG"), "PING");
  CHECK(is_cstring(run(c, "PING %s", "hello"), "hello"), "PING with a message");
  CHECK(is_cstring(run(c, "ECHO %s", "echo me"), "echo me"), "ECHO");
  return done(c, 1);
}

static int call_set_get(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_status(run(c, "SET c:set_get:k %s", "value 1"), "OK"), "SET");
  CHECK(is_cstring(run(c, "GET c:set_get:k"), "value 1"), "GET");
  CHECK(is_nil(run(c, "GET c:set_get:missing")), "GET of a missing key");
  CHECK(is_integer(run(c, "STRLEN c:set_get:k"), 7), "STRLEN");
  CHECK(is_status(run(c, "TYPE c:set_get:k"), "string"), "TYPE");
  return done(c, 1);
}

static int call_set_options(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_nil(run(c, "SET c:setopt:k a XX")), "SET XX of a missing key");
  CHECK(is_status(run(c, "SET c:setopt:k a NX"), "OK"), "SET NX of a missing key");
  CHECK(is_nil(run(c, "SET c:setopt:k b NX")), "SET NX of an existing key");
  CHECK(is_cstring(run(c, "SET c:setopt:k c GET"), "a"), "SET GET");
  CHECK(is_cstring(run(c, "GET c:setopt:k"), "c"), "GET after SET GET");
  CHECK(is_error(run(c, "SET c:setopt:k v NX XX"), "ERR syntax error"), "SET NX XX");
  return done(c, 1);
}

static int call_binary_values(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  char every_byte[1024];
  for (size_t i = 0; i < sizeof every_byte; ++i) every_byte[i] = (char)(i & 0xff);
  const char key[] = "c:binary:\0\r\n\xff";
  size_t key_len = sizeof key - 1;
  CHECK(is_status(run(c, "SET %b %b", key, key_len, every_byte, sizeof every_byte), "OK"),
        "SET of every byte value under a binary key");
  CHECK(is_string(run(c, "GET %b", key, key_len), every_byte, sizeof every_byte),
        "GET of every byte value");
  CHECK(is_status(run(c, "SET c:binary:empty %b", "", (size_t)0), "OK"), "SET of an empty value");
  CHECK(is_string(run(c, "GET c:binary:empty"), "", 0), "GET of an empty value");
  size_t large_len = 1 << 20;
  char* large = malloc(large_len);
  if (!large) return done(c, fail("out of memory"));
  for (size_t i = 0; i < large_len; ++i) large[i] = (char)((i * 7919u) >> 3);
  int ok = is_status(run(c, "SET c:binary:large %b", large, large_len), "OK") &&
           is_string(run(c, "GET c:binary:large"), large, large_len);
  free(large);
  CHECK(ok, "SET and GET of 1 MiB");
  return done(c, 1);
}

static int call_argv_commands(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  const char* set_argv[] = {"SET", "c:argv:key with spaces", "value\r\nwith CRLF"};
  size_t set_len[] = {3, strlen(set_argv[1]), strlen(set_argv[2])};
  if (reply) freeReplyObject(reply);
  reply = redisCommandArgv(c, 3, set_argv, set_len);
  CHECK(is_status(reply, "OK"), "SET through redisCommandArgv");
  const char* get_argv[] = {"GET", "c:argv:key with spaces"};
  size_t get_len[] = {3, strlen(get_argv[1])};
  freeReplyObject(reply);
  reply = redisCommandArgv(c, 2, get_argv, get_len);
  CHECK(is_cstring(reply, "value\r\nwith CRLF"), "GET through redisCommandArgv");
  return done(c, 1);
}

static int call_integer_replies(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_status(run(c, "MSET c:int:a 1 c:int:b 2 c:int:c 3"), "OK"), "MSET");
  CHECK(is_integer(run(c, "EXISTS c:int:a c:int:b c:int:missing c:int:a"), 3), "EXISTS");
  CHECK(is_integer(run(c, "DEL c:int:a c:int:b c:int:missing"), 2), "DEL");
  CHECK(is_integer(run(c, "EXISTS c:int:a c:int:c"), 1), "EXISTS after DEL");
  run(c, "DBSIZE");
  CHECK(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer >= 1, "DBSIZE");
  return done(c, 1);
}

static int call_mget_mset(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_status(run(c, "MSET c:mget:0 zero c:mget:1 one c:mget:2 two"), "OK"), "MSET");
  run(c, "MGET c:mget:2 c:mget:missing c:mget:0 c:mget:1");
  CHECK(reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 4, "MGET's array");
  CHECK(is_cstring(reply->element[0], "two") && is_nil(reply->element[1]) &&
            is_cstring(reply->element[2], "zero") && is_cstring(reply->element[3], "one"),
        "MGET's elements");
  return done(c, 1);
}

static int call_error_replies(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_error(run(c, "NOSUCH a b"),
                 "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' "),
        "an unknown command");
  CHECK(is_error(run(c, "GET"), "ERR wrong number of arguments for 'get' command"),
        "GET without a key");
  CHECK(is_status(run(c, "PING"), "PONG"), "PING after the errors");
  return done(c, 1);
}

/* 1000 SETs, an unknown command and 1000 GETs appended, then every reply read in order. */
static int call_pipelining(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  enum { kCount = 1000 };
  for (int i = 0; i < kCount; ++i) redisAppendCommand(c, "SET c:pipe:%d v%d", i, i);
  redisAppendCommand(c, "NOSUCH");
  for (int i = 0; i < kCount; ++i) redisAppendCommand(c, "GET c:pipe:%d", i);
  for (int i = 0; i < 2 * kCount + 1; ++i) {
    if (reply) freeReplyObject(reply);
    reply = NULL;
    if (redisGetReply(c, (void**)&reply) != REDIS_OK)
      return done(c, fail("redisGetReply %d: %s", i, c->errstr));
    char expected[32];
    if (i < kCount) {
      CHECK(is_status(reply, "OK"), "a pipelined SET");
    } else if (i == kCount) {
      CHECK(is_error(reply, "ERR unknown command 'NOSUCH', with args beginning with: "),
            "the pipelined unknown command");
    } else {
      snprintf(expected, sizeof expected, "v%d", i - kCount - 1);
      CHECK(is_cstring(reply, expected), "a pipelined GET, in order");
    }
  }
  return done(c, 1);
}

static int call_scan_loop(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  enum { kKeys = 300 };
  for (int i = 0; i < kKeys; ++i) redisAppendCommand(c, "SET c:scan:%d x", i);
  for (int i = 0; i < 20; ++i) redisAppendCommand(c, "SET c:other:%d x", i);
  for (int i = 0; i < kKeys + 20; ++i) {
    if (reply) freeReplyObject(reply);
    reply = NULL;
    if (redisGetReply(c, (void**)&reply) != REDIS_OK)
      return done(c, fail("redisGetReply: %s", c->errstr));
  }
  unsigned char seen[kKeys] = {0};
  char cursor[32] = "0";
  int rounds = 0;
  do {
    run(c, "SCAN %s MATCH c:scan:* COUNT 50", cursor);
    CHECK(reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
              reply->element[0]->type == REDIS_REPLY_STRING &&
              reply->element[1]->type == REDIS_REPLY_ARRAY,
          "SCAN's reply shape");
    snprintf(cursor, sizeof cursor, "%s", reply->element[0]->str);
    for (size_t i = 0; i < reply->element[1]->elements; ++i) {
      const redisReply* key = reply->element[1]->element[i];
      int n = -1;
      if (key->type != REDIS_REPLY_STRING || sscanf(key->str, "c:scan:%d", &n) != 1 || n < 0 ||
          n >= kKeys)
        return done(c, fail("SCAN MATCH returned %s", describe(key)));
      seen[n] = 1;
    }
    if (++rounds > 10000) return done(c, fail("SCAN did not end after 10000 calls"));
  } while (strcmp(cursor, "0") != 0);
  for (int i = 0; i < kKeys; ++i)
    if (!seen[i]) return done(c, fail("SCAN never returned c:scan:%d", i));
  return done(c, 1);
}

static int call_info(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  run(c, "INFO server");
  CHECK(reply && reply->type == REDIS_REPLY_STRING && strstr(reply->str, "# Server\r\n") &&
            strstr(reply->str, "\r\nredis_version:7.0.15\r\n"),
        "INFO server");
  return done(c, 1);
}

static int call_counters(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  run(c, "DEL c:counters:n");
  CHECK(is_integer(run(c, "INCR c:counters:n"), 1), "INCR");
  CHECK(is_integer(run(c, "INCRBY c:counters:n 41"), 42), "INCRBY");
  CHECK(is_integer(run(c, "DECR c:counters:n"), 41), "DECR");
  CHECK(is_cstring(run(c, "GET c:counters:n"), "41"), "GET of a counter");
  return done(c, 1);
}

static int call_set_ex(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_status(run(c, "SET c:set_ex:k v EX 100"), "OK"), "SET EX");
  run(c, "TTL c:set_ex:k");
  CHECK(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 90 && reply->integer <= 100,
        "TTL after SET EX 100");
  return done(c, 1);
}

static int call_multi_exec(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_status(run(c, "MULTI"), "OK"), "MULTI");
  CHECK(is_status(run(c, "SET c:multi:k v"), "QUEUED"), "SET inside MULTI");
  CHECK(is_status(run(c, "GET c:multi:k"), "QUEUED"), "GET inside MULTI");
  run(c, "EXEC");
  CHECK(reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            is_status(reply->element[0], "OK") && is_cstring(reply->element[1], "v"),
        "EXEC");
  return done(c, 1);
}

/* The server restarts under an open context: the next command fails, redisReconnect() mends it. */
static int call_reconnect(void) {
  redisContext* c = connect_sync();
  if (!c) return 0;
  CHECK(is_status(run(c, "SET c:reconnect:k v"), "OK"), "SET before the restart");
  if (!restart_server()) return done(c, 0);
  run(c, "PING");
  if (reply != NULL || c->err == 0)
    return done(c,
                fail("a command on the dropped connection gave %s, not an error", describe(reply)));
  if (redisReconnect(c) != REDIS_OK) return done(c, fail("redisReconnect: %s", c->errstr));
  redisSetTimeout(c, seconds_to_timeval(call_timeout));
  CHECK(is_status(run(c, "PING"), "PONG"), "PING after redisReconnect");
  CHECK(is_nil(run(c, "GET c:reconnect:k")), "GET after the restart (memory only)");
  return done(c, 1);
}

/* ------------------------------------------------------------------------------------------- */
/* Asynchronous calls on libevent */

#ifdef TESSERA_HAVE_LIBEVENT
enum { kAsyncCount = 200 };

struct AsyncRun {
  struct event_base* base;
  redisAsyncContext* ac;
  int replies;      /* callbacks run so far, in order */
  int disconnected; /* the disconnect callback ran */
  int failed;
  int connect_status;
};

static void async_fail(struct AsyncRun* run, const char* fmt, ...) {
  if (run->failed) return;
  run->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(failure, sizeof failure, fmt, ap);
  va_end(ap);
}

static void on_connect(const redisAsyncContext* ac, int status) {
  struct AsyncRun* run = ac->data;
  run->connect_status = status;
  if (status != REDIS_OK) {
    async_fail(run, "async connect: %s", ac->errstr);
    event_base_loopbreak(run->base);
  }
}

static void on_disconnect(const redisAsyncContext* ac, int status) {
  struct AsyncRun* run = ac->data;
  run->disconnected = 1;
  if (status != REDIS_OK) async_fail(run, "async disconnect with an error: %s", ac->errstr);
  event_base_loopbreak(run->base);
}

static void on_timeout(evutil_socket_t fd, short what, void* arg) {
  (void)fd;
  (void)what;
  struct AsyncRun* run = arg;
  async_fail(run, "the async run did not finish within %g s (%d replies)", call_timeout,
             run->replies);
  event_base_loopbreak(run->base);
}

/* privdata: the index of the command; commands 0..N-1 are SETs, N..2N-1 GETs. */
static void on_reply(redisAsyncContext* ac, void* r, void* privdata) {
  struct AsyncRun* run = ac->data;
  const redisReply* rep = r;
  int index = (int)(long)privdata;
  if (index != run->replies) async_fail(run, "reply %d came as number %d", index, run->replies);
  run->replies++;
  char expected[32];
  if (index < kAsyncCount) {
    if (!is_status(rep, "OK")) async_fail(run, "async SET %d: %s", index, describe(rep));
  } else {
    snprintf(expected, sizeof expected, "async-%d", index - kAsyncCount);
    if (!is_cstring(rep, expected)) async_fail(run, "async GET %d: %s", index, describe(rep));
  }
}

static void on_error_reply(redisAsyncContext* ac, void* r, void* privdata) {
  struct AsyncRun* run = ac->data;
  (void)privdata;
  run->replies++;
  if (!is_error(r, "ERR unknown command 'NOSUCH', with args beginning with: 'x' "))
    async_fail(run, "async unknown command: %s", describe(r));
}

struct Expected {
  const char* data;
  size_t len;
};

static void on_last_reply(redisAsyncContext* ac, void* r, void* privdata) {
  struct AsyncRun* run = ac->data;
  const struct Expected* expected = privdata;
  run->replies++;
  if (!is_string(r, expected->data, expected->len))
    async_fail(run, "async last GET: %s", describe(r));
  redisAsyncDisconnect(ac); /* the disconnect callback ends the loop */
}

/* Connects through hiredis's libevent adapter, sends `send(ac)`'s commands, runs the loop under
 * a timer until the disconnect callback (or the timer) ends it, and frees everything. */
static int run_async(void (*send)(redisAsyncContext*), int expected_replies) {
  struct AsyncRun run = {0};
  run.base = event_base_new();
  if (!run.base) return fail("event_base_new failed");
  run.ac = redisAsyncConnect(host, port);
  if (run.ac == NULL || run.ac->err) {
    fail("redisAsyncConnect: %s", run.ac ? run.ac->errstr : "out of memory");
    if (run.ac) redisAsyncFree(run.ac);
    event_base_free(run.base);
    return 0;
  }
  run.ac->data = &run;
  redisLibeventAttach(run.ac, run.base);
  redisAsyncSetConnectCallback(run.ac, on_connect);
  redisAsyncSetDisconnectCallback(run.ac, on_disconnect);
  send(run.ac);
  struct event* timer = evtimer_new(run.base, on_timeout, &run);
  struct timeval limit = seconds_to_timeval(call_timeout);
  evtimer_add(timer, &limit);
  event_base_dispatch(run.base);
  event_free(timer);
  if (!run.disconnected) redisAsyncFree(run.ac); /* after a failure or the timer */
  event_base_free(run.base);
  if (!run.failed && run.replies != expected_replies)
    fail("%d async replies, expected %d", run.replies, expected_replies);
  else if (!run.failed && run.connect_status != REDIS_OK)
    fail("the connect callback never reported success");
  return !run.failed && run.replies == expected_replies;
}

static void send_sets_and_gets(redisAsyncContext* ac) {
  for (long i = 0; i < kAsyncCount; ++i)
    redisAsyncCommand(ac, on_reply, (void*)i, "SET c:async:%ld async-%ld", i, i);
  for (long i = 0; i < kAsyncCount; ++i)
    redisAsyncCommand(ac, on_reply, (void*)(kAsyncCount + i), "GET c:async:%ld", i);
  static const struct Expected value = {"async-7", 7};
  redisAsyncCommand(ac, on_last_reply, (void*)&value, "GET c:async:7");
}

static int call_async_libevent(void) { return run_async(send_sets_and_gets, 2 * kAsyncCount + 1); }

static void send_error_then_get(redisAsyncContext* ac) {
  redisAsyncCommand(ac, NULL, NULL, "SET c:async_error:k %b", "bin\0ary", (size_t)7);
  redisAsyncCommand(ac, on_error_reply, NULL, "NOSUCH x");
  static const struct Expected value = {"bin\0ary", 7};
  redisAsyncCommand(ac, on_last_reply, (void*)&value, "GET c:async_error:k");
}

static int call_async_error_reply(void) { return run_async(send_error_then_get, 2); }
#endif

/* ------------------------------------------------------------------------------------------- */

struct Call {
  const char* name;
  int (*fn)(void);
};

static const struct Call kCalls[] = {
    {"ping", call_ping},
    {"set_get", call_set_get},
    {"set_options", call_set_options},
    {"binary_values", call_binary_values},
    {"argv_commands", call_argv_commands},
    {"integer_replies", call_integer_replies},
    {"mget_mset", call_mget_mset},
    {"error_replies", call_error_replies},
    {"pipelining", call_pipelining},
    {"scan_loop", call_scan_loop},
    {"info", call_info},
    {"counters", call_counters},
    {"set_ex", call_set_ex},
    {"multi_exec", call_multi_exec},
#ifdef TESSERA_HAVE_LIBEVENT
    {"async_libevent", call_async_libevent},
    {"async_error_reply", call_async_error_reply},
#endif
    {"reconnect", call_reconnect},
};

static void on_alarm(int sig) {
  (void)sig;
  char line[256];
  int n = snprintf(line, sizeof line, "RESULT %s fail timed out (the suite stops here)\n",
                   current_call);
  if (n > 0) {
    ssize_t ignored = write(STDOUT_FILENO, line, (size_t)n);
    (void)ignored;
  }
  _exit(1);
}

int main(void) {
  const char* env;
  if ((env = getenv("TESSERA_CLIENTS_HOST"))) host = env;
  if ((env = getenv("TESSERA_CLIENTS_PORT"))) port = atoi(env);
  if ((env = getenv("TESSERA_CLIENTS_CALL_TIMEOUT"))) call_timeout = atof(env);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
#ifdef TESSERA_HAVE_LIBEVENT
  printf("VERSION hiredis %d.%d.%d (Debian libhiredis-dev), libevent %s\n", HIREDIS_MAJOR,
         HIREDIS_MINOR, HIREDIS_PATCH, event_get_version());
#else
  printf("VERSION hiredis %d.%d.%d (Debian libhiredis-dev), no libevent\n", HIREDIS_MAJOR,
         HIREDIS_MINOR, HIREDIS_PATCH);
#endif
  fflush(stdout);
  for (size_t i = 0; i < sizeof kCalls / sizeof kCalls[0]; ++i) {
    current_call = kCalls[i].name;
    failure[0] = '\0';
    alarm((unsigned)(call_timeout * 3) + 1);
    int ok = kCalls[i].fn();
    alarm(0);
    if (ok) {
      printf("RESULT %s pass\n", kCalls[i].name);
    } else {
      for (char* p = failure; *p; ++p)
        if (*p == '\n' || *p == '\r') *p = ' ';
      printf("RESULT %s fail %s\n", kCalls[i].name, failure[0] ? failure : "(no reason given)");
    }
    fflush(stdout);
  }
  return 0;
}
