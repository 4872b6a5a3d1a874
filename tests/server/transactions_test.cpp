// Atomic multi-key commands and transactions (issue 15), in process through the real command table
// and Session on 1, 2 and 4 shards: MSET / MSETNX / MGET, RENAME / RENAMENX / COPY between shards,
// MULTI / EXEC / DISCARD / WATCH / UNWATCH with Redis 7.0.15's bytes (checked against Debian's
// redis-server), and concurrent sessions that must never observe a partial state.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "session_env.hpp"

using namespace tessera::server;
using namespace tessera::server::testing;

namespace {
const std::string kOk = "+OK\r\n";
const std::string kQueued = "+QUEUED\r\n";
const std::string kNil = "$-1\r\n";
}  // namespace

TEST_CASE("atomic: MSET MSETNX MGET across shards") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, 0);
    const std::string a = env.key_on(0, "a"), b = env.key_on(n - 1, "b");
    CHECK(c.call({"MSET", a, "1", b, "2"}) == kOk);
    CHECK(c.call({"MGET", a, b, "nokey"}) == "*3\r\n" + bulk("1") + bulk("2") + kNil);
    CHECK(c.call({"MSETNX", b, "x", "fresh", "y"}) == ":0\r\n");  // b exists: nothing written
    CHECK(c.call({"EXISTS", "fresh"}) == ":0\r\n");
    CHECK(c.call({"GET", b}) == bulk("2"));
    CHECK(c.call({"MSETNX", "f1", "x", "f2", "y"}) == ":1\r\n");
    CHECK(c.call({"MGET", "f1", "f2"}) == "*2\r\n" + bulk("x") + bulk("y"));
    CHECK(c.call({"MSETNX", "d", "1", "d", "2"}) == ":1\r\n");  // Redis: the last one wins
    CHECK(c.call({"GET", "d"}) == bulk("2"));
    CHECK(c.call({"MSETNX", "a", "1", "b"}) ==
          "-ERR wrong number of arguments for 'msetnx' command\r\n");
    CHECK(c.call({"MSETNX", "a"}) == "-ERR wrong number of arguments for 'msetnx' command\r\n");
    CHECK(c.call({"MGET"}) == "-ERR wrong number of arguments for 'mget' command\r\n");
  }
}

TEST_CASE("atomic: RENAME RENAMENX COPY on one shard and between shards") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, 0);
    const std::string src = env.key_on(0, "src"), far = env.key_on(n - 1, "far");
    const std::string near = env.key_on(0, "near");
    CHECK(c.call({"RENAME", "missing", "x"}) == "-ERR no such key\r\n");
    CHECK(c.call({"RENAMENX", "missing", "x"}) == "-ERR no such key\r\n");
    CHECK(c.call({"SET", src, "v"}) == kOk);
    CHECK(c.call({"RENAME", src, src}) == kOk);
    CHECK(c.call({"RENAMENX", src, src}) == ":0\r\n");
    CHECK(c.call({"RENAME", src, far}) == kOk);
    CHECK(c.call({"EXISTS", src, far}) == ":1\r\n");
    CHECK(c.call({"GET", far}) == bulk("v"));
    CHECK(c.call({"RENAME", far, near}) == kOk);
    CHECK(c.call({"MGET", far, near}) == "*2\r\n" + kNil + bulk("v"));
    CHECK(c.call({"SET", far, "other"}) == kOk);
    CHECK(c.call({"RENAMENX", near, far}) == ":0\r\n");
    CHECK(c.call({"MGET", near, far}) == "*2\r\n" + bulk("v") + bulk("other"));
    CHECK(c.call({"RENAME", near, far}) == kOk);  // RENAME overwrites
    CHECK(c.call({"MGET", near, far}) == "*2\r\n" + kNil + bulk("v"));
    CHECK(c.call({"RENAMENX", far, src}) == ":1\r\n");
    CHECK(c.call({"RENAME", "a"}) == "-ERR wrong number of arguments for 'rename' command\r\n");

    CHECK(c.call({"COPY", src, src}) == "-ERR source and destination objects are the same\r\n");
    CHECK(c.call({"COPY", src, far}) == ":1\r\n");
    CHECK(c.call({"COPY", src, far}) == ":0\r\n");  // exists, no REPLACE
    CHECK(c.call({"SET", src, "w"}) == kOk);
    CHECK(c.call({"COPY", src, far, "REPLACE"}) == ":1\r\n");
    CHECK(c.call({"MGET", src, far}) == "*2\r\n" + bulk("w") + bulk("w"));
    CHECK(c.call({"COPY", "missing", far}) == ":0\r\n");
    CHECK(c.call({"COPY", src, near, "DB", "0", "replace"}) == ":1\r\n");
    CHECK(c.call({"COPY", src, near, "DB", "1"}) == "-ERR DB index is out of range\r\n");
    CHECK(c.call({"COPY", src, near, "DB", "x"}) ==
          "-ERR value is not an integer or out of range\r\n");
    CHECK(c.call({"COPY", src, near, "DB"}) == "-ERR syntax error\r\n");
    CHECK(c.call({"COPY", src, near, "FOO"}) == "-ERR syntax error\r\n");
    CHECK(c.call({"COPY", src}) == "-ERR wrong number of arguments for 'copy' command\r\n");
    // The encoding travels with the value (Redis copies the object).
    CHECK(c.call({"APPEND", src, "x"}) == ":2\r\n");
    CHECK(c.call({"RENAME", src, far}) == kOk);
    CHECK(c.call({"OBJECT", "ENCODING", far}) == bulk("raw"));
  }
}

TEST_CASE("atomic: RENAME and COPY carry the deadline, RENAME replaces the target's") {
  Env env(2);
  InProcessSession c(env.set, env.state);
  const std::string a = env.key_on(0, "a"), b = env.key_on(1, "b");
  CHECK(c.call({"SET", a, "v", "EX", "100"}) == kOk);
  CHECK(c.call({"SET", b, "old", "EX", "5000"}) == kOk);
  CHECK(c.call({"RENAME", a, b}) == kOk);
  CHECK(c.call({"TTL", b}) == ":100\r\n");
  CHECK(c.call({"COPY", b, a}) == ":1\r\n");
  CHECK(c.call({"TTL", a}) == ":100\r\n");
  CHECK(c.call({"SET", "plain", "p"}) == kOk);
  CHECK(c.call({"RENAME", "plain", a}) == kOk);
  CHECK(c.call({"TTL", a}) == ":-1\r\n");
}

TEST_CASE("multi: replies and errors as Redis") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, n - 1);
    CHECK(c.call({"EXEC"}) == "-ERR EXEC without MULTI\r\n");
    CHECK(c.call({"DISCARD"}) == "-ERR DISCARD without MULTI\r\n");
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"MULTI"}) == "-ERR MULTI calls can not be nested\r\n");
    CHECK(c.call({"WATCH", "a"}) == "-ERR WATCH inside MULTI is not allowed\r\n");
    CHECK(c.call({"SET", "a", "x"}) == kQueued);
    CHECK(c.call({"INCR", "a"}) == kQueued);
    CHECK(c.call({"GET", "a"}) == kQueued);
    CHECK(c.call({"MSET", "b", "1", "c", "2"}) == kQueued);
    CHECK(c.call({"MGET", "a", "b", "c"}) == kQueued);
    CHECK(c.call({"PING"}) == kQueued);
    CHECK(c.call({"DBSIZE"}) == kQueued);
    CHECK(c.call({"UNWATCH"}) == kQueued);
    // Errors at run time stay in place; the nesting errors above did not abort the transaction.
    CHECK(c.call({"EXEC"}) == "*8\r\n+OK\r\n-ERR value is not an integer or out of range\r\n" +
                                  bulk("x") + kOk + "*3\r\n" + bulk("x") + bulk("1") + bulk("2") +
                                  "+PONG\r\n:3\r\n+OK\r\n");
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"EXEC"}) == "*0\r\n");
    // A command refused while queueing dooms the transaction.
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"FOO"}) == "-ERR unknown command 'FOO', with args beginning with: \r\n");
    CHECK(c.call({"SET", "a", "never"}) == kQueued);
    CHECK(c.call({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"SET", "a"}) == "-ERR wrong number of arguments for 'set' command\r\n");
    CHECK(c.call({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");
    CHECK(c.call({"GET", "a"}) == bulk("x"));
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"SET", "a", "discarded"}) == kQueued);
    CHECK(c.call({"DISCARD"}) == kOk);
    CHECK(c.call({"EXEC"}) == "-ERR EXEC without MULTI\r\n");
    CHECK(c.call({"GET", "a"}) == bulk("x"));
    CHECK(c.call({"MULTI", "x"}) == "-ERR wrong number of arguments for 'multi' command\r\n");
    CHECK(c.call({"WATCH"}) == "-ERR wrong number of arguments for 'watch' command\r\n");
    CHECK(c.call({"UNWATCH"}) == kOk);
    // A pipelined transaction, as clients send it.
    std::string req;
    for (auto cmd : std::vector<std::vector<std::string_view>>{
             {"MULTI"}, {"SET", "p", "1"}, {"INCRBY", "p", "9"}, {"EXEC"}, {"GET", "p"}}) {
      tessera::protocol::write_command(req, cmd);
    }
    CHECK(c.send(req) == kOk + kQueued + kQueued + "*2\r\n+OK\r\n:10\r\n" + bulk("10"));
    // QUIT inside MULTI is not queued: it closes the connection.
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"QUIT"}) == kOk);
    CHECK(c.closed());
  }
}

TEST_CASE("multi: WATCH aborts EXEC with a null array when another client touched a key") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, 0);
    InProcessSession other(env.set, env.state, n - 1);
    const std::string a = env.key_on(0, "a"), b = env.key_on(n - 1, "b");
    const auto exec_after = [&](std::initializer_list<std::string_view> touch) {
      CHECK(c.call({"WATCH", a, b}) == kOk);
      if (touch.size() != 0) other.call(touch);
      CHECK(c.call({"MULTI"}) == kOk);
      CHECK(c.call({"INCR", a}) == kQueued);
      return c.call({"EXEC"});
    };
    CHECK(c.call({"SET", b, "1"}) == kOk);
    CHECK(exec_after({}) == "*1\r\n:1\r\n");                     // untouched: runs
    CHECK(exec_after({"SET", b, "2"}) == "*-1\r\n");             // written
    CHECK(exec_after({"DEL", b}) == "*-1\r\n");                  // deleted
    CHECK(exec_after({"GET", b}) == "*1\r\n:2\r\n");             // a read does not count
    CHECK(exec_after({"SET", b, "x", "NX"}) == "*-1\r\n");       // created
    CHECK(exec_after({"SET", b, "y", "NX"}) == "*1\r\n:3\r\n");  // NX blocked: not a write
    CHECK(exec_after({"RENAME", b, "elsewhere"}) == "*-1\r\n");
    CHECK(exec_after({"FLUSHALL"}) == "*-1\r\n");       // a flush touches watched keys that existed
    CHECK(exec_after({"FLUSHALL"}) == "*1\r\n:1\r\n");  // ... not those that did not
    CHECK(exec_after({"APPEND", a, "0"}) == "*-1\r\n");
    CHECK(exec_after({"EXPIRE", a, "100"}) == "*-1\r\n");
    // EXEC unwatched everything: a write now does not abort the next transaction.
    other.call({"SET", b, "later"});
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"GET", b}) == kQueued);
    CHECK(c.call({"EXEC"}) == "*1\r\n" + bulk("later"));
    // UNWATCH and DISCARD forget the watched keys too.
    CHECK(c.call({"WATCH", b}) == kOk);
    CHECK(c.call({"UNWATCH"}) == kOk);
    other.call({"SET", b, "again"});
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"EXEC"}) == "*0\r\n");
    CHECK(c.call({"WATCH", b}) == kOk);
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"DISCARD"}) == kOk);
    other.call({"SET", b, "and again"});
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"EXEC"}) == "*0\r\n");
    // A session's own write to a watched key aborts its EXEC too (as in Redis).
    CHECK(c.call({"WATCH", a}) == kOk);
    CHECK(c.call({"SET", a, "mine"}) == kOk);
    CHECK(c.call({"MULTI"}) == kOk);
    CHECK(c.call({"EXEC"}) == "*-1\r\n");
  }
}

TEST_CASE("multi: WATCH sees expiry, and the registrations go with the session") {
  struct ClockEnv {
    ClockEnv() : state(config()), set((state.store.clock = &clock, 2u), &state.store) {
      set.start();
    }
    static Config config() {
      Config c;
      c.shards = 2;
      return c;
    }
    ManualClock clock{1'700'000'000'000};
    ServerState state;
    ShardSet set;
  } env;
  InProcessSession c(env.set, env.state);
  CHECK(c.call({"SET", "k", "v", "PX", "50"}) == kOk);
  CHECK(c.call({"WATCH", "k"}) == kOk);
  env.clock.advance_ms(100);  // expires, though nobody reads it
  CHECK(c.call({"MULTI"}) == kOk);
  CHECK(c.call({"EXEC"}) == "*-1\r\n");
  {
    InProcessSession gone(env.set, env.state, 1);
    CHECK(gone.call({"WATCH", "w1", "w2", "k"}) == kOk);
  }
  // The closed session's registrations were dropped on their shards (posted; a barrier after
  // them on every shard sees them gone).
  InProcessSession probe(env.set, env.state, 1);
  CHECK(probe.call({"DBSIZE"}) == ":0\r\n");
  std::size_t watched = 1;
  for (int i = 0; i < 100 && watched != 0; ++i) {
    watched = 0;
    for (unsigned s = 0; s < 2; ++s) {
      std::promise<std::size_t> p;
      env.set.post(s, [&] { p.set_value(env.set.shard(s).store().watched_keys()); });
      watched += p.get_future().get();
    }
    if (watched != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(watched == 0);
}

TEST_CASE("multi: the queue is bounded by client-query-buffer-limit") {
  Config config;
  config.client_query_buffer_limit = 4096;
  Env env(2, config);
  InProcessSession c(env.set, env.state);
  CHECK(c.call({"MULTI"}) == kOk);
  int queued = 0;
  std::string reply;
  for (; queued < 1000; ++queued) {
    reply = c.call({"SET", "k", std::string(100, 'v')});
    if (reply != kQueued) break;
  }
  CHECK(queued > 10);
  CHECK(queued < 40);
  CHECK(reply ==
        "-ERR MULTI queue exceeds client-query-buffer-limit; the transaction is discarded\r\n");
  CHECK(c.call({"SET", "k", "v"}) == kQueued);  // answered, not kept
  CHECK(c.call({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");
  CHECK(c.call({"EXISTS", "k"}) == ":0\r\n");
}

// Two writers keep the keys of two shards equal (MSET, RENAME back and forth, MULTI); readers on
// other home shards must never see them differ, nor a renamed key in both places or neither.
TEST_CASE("atomic: concurrent sessions never observe a partial multi-shard write") {
  Env env(4);
  const std::string a = env.key_on(0, "a"), b = env.key_on(1, "b"), c2 = env.key_on(2, "c");
  const std::string r1 = env.key_on(3, "r"), r2 = env.key_on(1, "s");
  {
    InProcessSession init(env.set, env.state);
    CHECK(init.call({"MSET", a, "0", b, "0", c2, "0", r1, "token"}) == kOk);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread mset_writer([&] {
    InProcessSession w(env.set, env.state, 2);
    for (int i = 1; i <= 400; ++i) {
      const std::string v = std::to_string(i);
      if (w.call({"MSET", a, v, b, v, c2, v}) != kOk) ++bad;
    }
  });
  std::thread multi_writer([&] {
    InProcessSession w(env.set, env.state, 3);
    for (int i = 0; i < 300; ++i) {
      std::string req;
      tessera::protocol::write_command(req, {"MULTI"});
      tessera::protocol::write_command(req, {"RENAME", r1, r2});
      tessera::protocol::write_command(req, {"RENAME", r2, r1});
      tessera::protocol::write_command(req, {"RENAME", r1, r2});
      tessera::protocol::write_command(req, {"EXEC"});
      if (w.send(req).find("-ERR") != std::string::npos) ++bad;
      if (w.call({"RENAME", r2, r1}) != kOk) ++bad;
    }
  });
  std::vector<std::thread> readers;
  for (unsigned home = 0; home < 4; ++home) {
    readers.emplace_back([&, home] {
      InProcessSession r(env.set, env.state, home);
      while (!stop) {
        auto got = parse_all(r.call({"MGET", a, b, c2, r1, r2}));
        REQUIRE(got.size() == 1);
        const auto& e = got[0].elements;
        if (e.size() != 5 || e[0].str != e[1].str || e[1].str != e[2].str) ++bad;
        const bool in1 = e[3].type == tessera::protocol::Reply::Type::kBulk;
        const bool in2 = e[4].type == tessera::protocol::Reply::Type::kBulk;
        if (in1 == in2) ++bad;  // never both, never neither
        ++reads;
      }
    });
  }
  mset_writer.join();
  multi_writer.join();
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(bad == 0);
  CHECK(reads > 0);
  InProcessSession check(env.set, env.state);
  CHECK(check.call({"MGET", a, b, c2}) == "*3\r\n" + bulk("400") + bulk("400") + bulk("400"));
}
