// The client's typed calls (typed.hpp) and transactions (transaction.hpp) against live servers:
// every test case runs against Debian's redis-server 7.0.15 and tessera-server with the same
// expectations ("redis: ..." / "tessera: ..."), over RESP2 and over RESP3 (the typed results must
// not depend on the protocol). The retry helper runs under a concurrent writer.
#include <doctest/doctest.h>

#include <tessera/client/async_client.hpp>
#include <tessera/client/client.hpp>

#include "server_process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace tessera::client;
using tessera::test::ServerProcess;
using namespace std::chrono_literals;
using namespace std::string_literals;
namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Strings = std::vector<std::optional<std::string>>;

namespace {

enum class Kind { kRedis, kTessera };

ServerProcess start(Kind kind) {
  // Tessera with several shards, so multi-key calls and transactions span shards.
  return kind == Kind::kRedis ? ServerProcess::redis() : ServerProcess::tessera({"--shards", "4"});
}

ClientOptions at(const ServerProcess& server, int protocol = 2) {
  ClientOptions o;
  o.port = static_cast<std::uint16_t>(server.port());
  o.protocol = protocol;
  o.command_timeout = 10s;
  return o;
}

UnixSeconds unix_now_s() { return std::chrono::floor<seconds>(std::chrono::system_clock::now()); }
UnixMilliseconds unix_now_ms() {
  return std::chrono::floor<milliseconds>(std::chrono::system_clock::now());
}

template <class F>
std::string server_error(F&& f) {
  try {
    f();
  } catch (const ServerError& e) {
    return e.message();
  }
  return "(no error)";
}

void run_async(std::function<asio::awaitable<void>(asio::io_context&)> body) {
  asio::io_context io;
  std::exception_ptr error;
  asio::co_spawn(io, body(io), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
}

}  // namespace

// Each case runs on both servers, over RESP2 and RESP3.
#define ON_BOTH_SERVERS(name, fn)               \
  TEST_CASE("redis: " name) {                   \
    SUBCASE("RESP2") { fn(Kind::kRedis, 2); }   \
    SUBCASE("RESP3") { fn(Kind::kRedis, 3); }   \
  }                                             \
  TEST_CASE("tessera: " name) {                 \
    SUBCASE("RESP2") { fn(Kind::kTessera, 2); } \
    SUBCASE("RESP3") { fn(Kind::kTessera, 3); } \
  }

// ---- strings ------------------------------------------------------------------------------------

static void string_calls(Kind kind, int protocol) {
  auto server = start(kind);
  Client c(at(server, protocol));
  // SET with NX / XX: whether it wrote.
  CHECK(c.set("k", "v1", {.nx = true}));
  CHECK_FALSE(c.set("k", "v2", {.nx = true}));
  CHECK_EQ(c.get("k"), "v1");
  CHECK(c.set("k", "v2", {.xx = true}));
  CHECK_FALSE(c.set("missing", "v", {.xx = true}));
  CHECK_FALSE(c.get("missing").has_value());
  CHECK(c.set("k", "v3", {}));
  // SET ... GET: the old value, nil when there was none.
  CHECK_EQ(c.set_get("k", "v4"), "v3");
  CHECK_EQ(c.set_get("fresh", "x"), std::nullopt);
  CHECK_EQ(c.get("fresh"), "x");
  CHECK_EQ(c.set_get("k", "v5", {.nx = true}), "v4");  // not written (NX), old value returned
  CHECK_EQ(c.get("k"), "v4");
  CHECK_EQ(server_error([&] { c.set("k", "v", {.nx = true, .xx = true}); }), "ERR syntax error");

  CHECK(c.setnx("n", "1"));
  CHECK_FALSE(c.setnx("n", "2"));
  CHECK_EQ(c.getset("n", "3"), "1");
  CHECK_EQ(c.getset("nothing", "3"), std::nullopt);
  CHECK_EQ(c.getdel("n"), "3");
  CHECK_EQ(c.getdel("n"), std::nullopt);
  CHECK_EQ(c.exists("n"), 0);

  CHECK_EQ(c.append("s", "Hello"), 5);
  CHECK_EQ(c.append("s", " World"), 11);
  CHECK_EQ(c.getrange("s", 0, 4), "Hello");
  CHECK_EQ(c.getrange("s", -5, -1), "World");
  CHECK_EQ(c.getrange("s", 20, 30), "");
  CHECK_EQ(c.getrange("missing", 0, 10), "");
  CHECK_EQ(c.setrange("s", 6, "Redis"), 11);
  CHECK_EQ(c.get("s"), "Hello Redis");
  CHECK_EQ(c.setrange("padded", 3, "x"), 4);
  CHECK_EQ(c.get("padded"), "\0\0\0x"s);
  CHECK_EQ(c.strlen("s"), 11);
  CHECK_EQ(c.strlen("missing"), 0);

  c.mset({{"a", "1"}, {"b", "2"}});
  CHECK_EQ(c.mget("a", "missing", "b"), Strings{"1", std::nullopt, "2"});
  CHECK_FALSE(c.msetnx({{"new", "x"}, {"a", "again"}}));  // "a" exists: nothing is set
  CHECK_EQ(c.exists("new"), 0);
  CHECK_EQ(c.get("a"), "1");
  CHECK(c.msetnx({{"new", "x"}, {"new2", "y"}}));
  CHECK_EQ(c.mget("new", "new2"), Strings{"x", "y"});
  CHECK_EQ(server_error([&] { c.command("LPUSH", "s", "x"); }).substr(0, 3),
           kind == Kind::kRedis ? "WRO" : "ERR");  // Tessera has strings only
}
ON_BOTH_SERVERS("typed string calls", string_calls)

// ---- counters -----------------------------------------------------------------------------------

static void counter_calls(Kind kind, int protocol) {
  auto server = start(kind);
  Client c(at(server, protocol));
  CHECK_EQ(c.incr("n"), 1);
  CHECK_EQ(c.incrby("n", 41), 42);
  CHECK_EQ(c.decr("n"), 41);
  CHECK_EQ(c.decrby("n", 50), -9);
  CHECK_EQ(c.incrby("n", -1), -10);
  CHECK_EQ(c.get("n"), "-10");
  CHECK_EQ(c.decr("fresh"), -1);
  c.set("big", "9223372036854775807");
  CHECK_EQ(server_error([&] { c.incr("big"); }), "ERR increment or decrement would overflow");
  c.set("text", "abc");
  CHECK_EQ(server_error([&] { c.incr("text"); }), "ERR value is not an integer or out of range");

  c.set("f", "10.5");
  CHECK_EQ(c.incrbyfloat("f", 0.1), 10.6);  // sent as "0.1": no long double noise in the result
  CHECK_EQ(c.get("f"), "10.6");
  CHECK_EQ(c.incrbyfloat("f", -0.6), 10.0);
  CHECK_EQ(c.get("f"), "10");
  CHECK_EQ(c.incrbyfloat("g", 5.0e3), 5000.0);
  CHECK_EQ(c.incrbyfloat("g", 1e-3), 5000.001);
  CHECK_EQ(c.incrbyfloat("n", 0.5), -9.5);  // an integer value counts as a float
  CHECK_EQ(server_error([&] { c.incrbyfloat("text", 1); }), "ERR value is not a valid float");
  CHECK_EQ(server_error([&] { c.incrbyfloat("f", std::numeric_limits<double>::infinity()); }),
           "ERR increment would produce NaN or Infinity");
  CHECK_EQ(c.get("f"), "10");  // unchanged by the refused increments
}
ON_BOTH_SERVERS("typed counter calls", counter_calls)

// ---- expiry -------------------------------------------------------------------------------------

static void expiry_calls(Kind kind, int protocol) {
  auto server = start(kind);
  Client c(at(server, protocol));
  // The three states of a TTL.
  CHECK_EQ(c.ttl("missing"), Ttl::no_key());
  CHECK_FALSE(c.ttl("missing").key_exists());
  CHECK_THROWS_AS(c.ttl("missing").value(), std::logic_error);
  c.set("plain", "v");
  CHECK_EQ(c.ttl("plain"), Ttl::no_expiry());
  CHECK(c.ttl("plain").key_exists());
  CHECK_FALSE(c.ttl("plain").has_expiry());
  CHECK_EQ(c.pttl("plain"), PTtl::no_expiry());
  CHECK_EQ(c.expiretime("plain"), ExpireTime::no_expiry());
  CHECK_EQ(c.pexpiretime("missing"), PExpireTime::no_key());

  // SET's expiry options.
  CHECK(c.set("ex", "v", {.ex = 100s}));
  const Ttl ttl = c.ttl("ex");
  REQUIRE(ttl.has_expiry());
  CHECK_GT(ttl.value(), 90s);
  CHECK_LE(ttl.value(), 100s);
  CHECK(c.set("px", "v", {.px = 100'000ms}));
  CHECK_GT(c.pttl("px").value(), 90'000ms);
  CHECK_LE(c.pttl("px").value(), 100'000ms);
  const UnixSeconds at_s = unix_now_s() + 1000s;
  CHECK(c.set("exat", "v", {.exat = at_s}));
  CHECK_EQ(c.expiretime("exat"), ExpireTime::expires(at_s));
  CHECK_EQ(c.pexpiretime("exat").value(), UnixMilliseconds(at_s));
  const UnixMilliseconds at_ms = UnixMilliseconds(at_s) + 1500ms;
  CHECK(c.set("pxat", "v", {.pxat = at_ms}));
  CHECK_EQ(c.pexpiretime("pxat").value(), at_ms);
  CHECK_EQ(c.expiretime("pxat").value(), at_s + 2s);  // Redis rounds to the nearest second
  CHECK(c.set("pxat", "v2", {.keepttl = true}));
  CHECK_EQ(c.pexpiretime("pxat").value(), at_ms);
  CHECK(c.set("pxat", "v3"s, SetOptions{}));  // a SET without KEEPTTL clears the expiry
  CHECK_EQ(c.pttl("pxat"), PTtl::no_expiry());
  CHECK_EQ(c.set_get("ex", "w", {.keepttl = true}), "v");
  CHECK(c.ttl("ex").has_expiry());
  CHECK_EQ(server_error([&] { c.set("k", "v", {.ex = 10s, .px = 10ms}); }), "ERR syntax error");
  CHECK_EQ(server_error([&] { c.set("k", "v", {.ex = 0s}); }),
           "ERR invalid expire time in 'set' command");

  c.setex("sx", 50s, "v");
  CHECK_EQ(c.get("sx"), "v");
  CHECK_LE(c.ttl("sx").value(), 50s);
  CHECK_GT(c.ttl("sx").value(), 40s);
  c.psetex("psx", 50'000ms, "v");
  CHECK_LE(c.pttl("psx").value(), 50'000ms);
  CHECK_EQ(server_error([&] { c.setex("sx", -1s, "v"); }),
           "ERR invalid expire time in 'setex' command");

  // GETEX: the value, and the expiry changed as asked.
  CHECK_EQ(c.getex("plain"), "v");
  CHECK_EQ(c.ttl("plain"), Ttl::no_expiry());
  CHECK_EQ(c.getex("plain", {.ex = 30s}), "v");
  CHECK_LE(c.ttl("plain").value(), 30s);
  CHECK_EQ(c.getex("plain", {.persist = true}), "v");
  CHECK_EQ(c.ttl("plain"), Ttl::no_expiry());
  CHECK_EQ(c.getex("plain", {.pxat = at_ms}), "v");
  CHECK_EQ(c.pexpiretime("plain").value(), at_ms);
  CHECK_EQ(c.getex("plain", {.px = 40'000ms}), "v");
  CHECK_LE(c.pttl("plain").value(), 40'000ms);
  CHECK_EQ(c.getex("plain", {.exat = at_s}), "v");
  CHECK_EQ(c.expiretime("plain").value(), at_s);
  CHECK_EQ(c.getex("missing", {.ex = 10s}), std::nullopt);
  CHECK(c.persist("plain"));
  CHECK_FALSE(c.persist("plain"));
  CHECK_FALSE(c.persist("missing"));

  // EXPIRE and its conditions.
  c.set("e", "v");
  CHECK_FALSE(c.expire("e", 100s, ExpireCondition::kXx));  // no expiry yet
  CHECK(c.expire("e", 100s, ExpireCondition::kNx));
  CHECK_FALSE(c.expire("e", 200s, ExpireCondition::kNx));  // has one now
  CHECK_FALSE(c.expire("e", 50s, ExpireCondition::kGt));
  CHECK(c.expire("e", 200s, ExpireCondition::kGt));
  CHECK_GT(c.ttl("e").value(), 150s);
  CHECK_FALSE(c.expire("e", 300s, ExpireCondition::kLt));
  CHECK(c.expire("e", 20s, ExpireCondition::kLt));
  CHECK_LE(c.ttl("e").value(), 20s);
  CHECK(c.expire("e", 60s, ExpireCondition::kXx));
  CHECK(c.pexpire("e", 70'000ms));
  CHECK_GT(c.pttl("e").value(), 60'000ms);
  CHECK(c.pexpire("e", std::chrono::minutes(2), ExpireCondition::kGt));
  CHECK_GT(c.ttl("e").value(), 100s);
  CHECK(c.expireat("e", at_s));
  CHECK_EQ(c.expiretime("e").value(), at_s);
  CHECK_FALSE(c.expireat("e", at_s + 10s, ExpireCondition::kLt));
  CHECK(c.pexpireat("e", at_ms, ExpireCondition::kGt));
  CHECK_EQ(c.pexpiretime("e").value(), at_ms);
  CHECK_FALSE(c.expire("missing", 10s));
  // A persistent key is "infinitely late" for GT/LT.
  c.set("p", "v");
  CHECK_FALSE(c.expire("p", 10s, ExpireCondition::kGt));
  CHECK(c.expire("p", 10s, ExpireCondition::kLt));
  // A time in the past deletes the key at once (and says it set the expiry).
  CHECK(c.expire("p", -1s));
  CHECK_EQ(c.exists("p"), 0);
  c.set("p", "v");
  CHECK(c.pexpireat("p", unix_now_ms() - 1000ms));
  CHECK_EQ(c.get("p"), std::nullopt);
  // Expired keys are gone.
  c.psetex("short", 50ms, "v");
  std::this_thread::sleep_for(120ms);
  CHECK_EQ(c.get("short"), std::nullopt);
  CHECK_EQ(c.ttl("short"), Ttl::no_key());
}
ON_BOTH_SERVERS("typed expiry calls", expiry_calls)

// ---- keyspace -----------------------------------------------------------------------------------

static void keyspace_calls(Kind kind, int protocol) {
  auto server = start(kind);
  Client c(at(server, protocol));
  CHECK_EQ(c.randomkey(), std::nullopt);
  CHECK_EQ(c.type("missing"), "none");
  c.set("a", "1");
  CHECK_EQ(c.type("a"), "string");
  CHECK_EQ(c.randomkey(), "a");

  c.rename("a", "b");
  CHECK_EQ(c.exists("a", "b"), 1);
  CHECK_EQ(c.get("b"), "1");
  CHECK_EQ(server_error([&] { c.rename("a", "c"); }), "ERR no such key");
  c.set("c", "3");
  CHECK_FALSE(c.renamenx("b", "c"));
  CHECK(c.renamenx("b", "d"));
  CHECK_EQ(c.mget("b", "c", "d"), Strings{std::nullopt, "3", "1"});
  // RENAME keeps the expiry with the value.
  CHECK(c.expire("d", 100s));
  c.rename("d", "e");
  CHECK(c.ttl("e").has_expiry());

  CHECK(c.copy("c", "c2"));
  CHECK_FALSE(c.copy("c", "c2"));  // the destination exists
  c.set("c", "new");
  CHECK(c.copy("c", "c2", true));  // REPLACE
  CHECK_EQ(c.get("c2"), "new");
  CHECK_FALSE(c.copy("missing", "x"));
  CHECK(c.copy("e", "e2"));
  CHECK(c.ttl("e2").has_expiry());  // COPY copies the expiry too

  // EXISTS counts each key named, repeats included; TOUCH counts the keys that exist.
  CHECK_EQ(c.exists("c", "c", "c2", "missing"), 3);
  std::vector<std::string> keys{"c", "e", "nope"};
  CHECK_EQ(c.exists(keys), 2);
  CHECK_EQ(c.touch("c", "e", "nope"), 2);
  CHECK_EQ(c.touch(keys), 2);
  CHECK_EQ(c.unlink("c", "nope"), 1);
  CHECK_EQ(c.unlink(keys), 1);
  CHECK_EQ(c.del("c2", "e2"), 2);
  CHECK_EQ(c.dbsize(), 0);
  CHECK_EQ(c.ping(), "PONG");
  CHECK_EQ(server_error([&] { c.command("NOSUCHCOMMAND"); }).substr(0, 24),
           "ERR unknown command 'NOS");
}
ON_BOTH_SERVERS("typed keyspace calls", keyspace_calls)

// ---- transactions -------------------------------------------------------------------------------

static void transactions(Kind kind, int protocol) {
  auto server = start(kind);
  Client c(at(server, protocol));
  Client other(at(server, protocol));

  // Queued typed calls, read after EXEC.
  Transaction tx;
  Queued<void> set = tx.set("t:a", "5");
  Queued<std::int64_t> incr = tx.incrby("t:a", 10);
  Queued<double> fl = tx.incrbyfloat("t:f", 1.5);
  Queued<std::optional<std::string>> get = tx.get("t:a");
  Queued<std::optional<std::string>> nil = tx.get("t:missing");
  Queued<bool> expire = tx.expire("t:a", 100s);
  Queued<Ttl> ttl = tx.ttl("t:a");
  Queued<std::int64_t> exists = tx.exists("t:a", "t:f", "t:missing");
  Queued<Reply> raw = tx.command("ECHO", "hi");
  CHECK_EQ(tx.size(), 9u);
  CHECK_THROWS_AS(incr.get(), std::logic_error);  // not executed yet
  REQUIRE(c.exec(tx));
  CHECK(tx.committed());
  set.get();
  CHECK_EQ(incr.get(), 15);
  CHECK_EQ(fl.get(), 1.5);
  CHECK_EQ(get.get(), "15");
  CHECK_EQ(nil.get(), std::nullopt);
  CHECK(expire.get());
  CHECK_GT(ttl.get().value(), 90s);
  CHECK_EQ(exists.get(), 2);
  CHECK_EQ(raw.get().str, "hi");
  CHECK_EQ(incr.index(), 1u);
  CHECK_THROWS_AS(c.exec(tx), std::logic_error);  // a transaction runs once
  tx.clear();
  CHECK(tx.empty());
  CHECK(c.exec(tx));  // an empty MULTI/EXEC commits

  // An error inside EXEC belongs to its command: the others ran.
  Transaction partial;
  c.set("t:text", "abc");
  auto bad = partial.incr("t:text");
  auto good = partial.incr("t:n");
  REQUIRE(c.exec(partial));
  CHECK_EQ(server_error([&] { bad.get(); }), "ERR value is not an integer or out of range");
  CHECK_EQ(good.get(), 1);

  // EXECABORT: a command refused while queueing; nothing ran.
  Transaction refused;
  refused.set("t:x", "1");
  refused.command("GET");  // wrong arity
  refused.command("NOSUCHCOMMAND", "a");
  try {
    c.exec(refused);
    FAIL("no exception");
  } catch (const ExecAbortError& e) {
    CHECK_EQ(e.prefix(), "EXECABORT");
    CHECK_EQ(e.message(), "EXECABORT Transaction discarded because of previous errors.");
    REQUIRE_EQ(e.rejected().size(), 2u);
    CHECK_EQ(e.rejected()[0].first, 1u);
    CHECK_EQ(e.rejected()[0].second, "ERR wrong number of arguments for 'get' command");
    CHECK_EQ(e.rejected()[1].first, 2u);
    CHECK(e.rejected()[1].second.starts_with("ERR unknown command 'NOSUCHCOMMAND'"));
  }
  CHECK_EQ(c.exists("t:x"), 0);
  CHECK_FALSE(refused.committed());

  // WATCH: a watched key written by another client aborts EXEC (nil), and nothing runs.
  c.watch("t:w");
  other.set("t:w", "changed");
  Transaction watched;
  auto h = watched.set("t:w", "mine");
  CHECK_FALSE(c.exec(watched));
  CHECK_FALSE(watched.committed());
  CHECK_THROWS_AS(h.get(), std::logic_error);
  CHECK_EQ(c.get("t:w"), "changed");
  // EXEC forgot the watch: the next transaction commits.
  Transaction again;
  again.set("t:w", "mine");
  CHECK(c.exec(again));
  // UNWATCH forgets it too.
  c.watch("t:w");
  c.unwatch();
  other.set("t:w", "changed again");
  Transaction after_unwatch;
  after_unwatch.set("t:w", "mine");
  CHECK(c.exec(after_unwatch));
  CHECK_EQ(c.get("t:w"), "mine");
  // MULTI refused (the connection is in a MULTI of its own): ServerError; the EXEC that followed
  // ran that outer transaction, and the connection stays usable.
  c.command("MULTI");
  Transaction nested;
  nested.ping();
  CHECK_EQ(server_error([&] { c.exec(nested); }), "ERR MULTI calls can not be nested");
  CHECK_EQ(c.ping(), "PONG");
}
ON_BOTH_SERVERS("transactions: typed queued calls, WATCH, EXECABORT", transactions)

static void retry_helper(Kind kind, int protocol) {
  auto server = start(kind);
  Client c(at(server, protocol));
  Client other(at(server, protocol));
  c.set("balance", "100");

  // The first attempt meets a conflict (another client writes the watched key between the read
  // and EXEC); the second commits. The body's return value comes back.
  int attempts = 0;
  Queued<std::int64_t> ops = c.transaction({"balance"}, [&](Client& cl, Transaction& tx) {
    ++attempts;
    const std::int64_t balance = std::stoll(cl.get("balance").value_or("0"));
    if (attempts == 1) other.incrby("balance", 1);
    tx.set("balance", std::to_string(balance - 30));
    return tx.incr("ops");
  });
  CHECK_EQ(attempts, 2);
  CHECK_EQ(ops.get(), 1);
  CHECK_EQ(c.get("balance"), "71");  // 100 + 1 - 30: the conflicting write was not lost

  // A void body.
  c.transaction({"balance"}, [](Client& cl, Transaction& tx) {
    if (cl.get("balance") == "71") tx.decrby("balance", 1);
  });
  CHECK_EQ(c.get("balance"), "70");

  // The bound: a conflict every time gives up after max_attempts, with nothing applied.
  attempts = 0;
  try {
    c.transaction({"balance"},
                  [&](Client&, Transaction& tx) {
                    ++attempts;
                    other.incr("balance");
                    tx.set("balance", "0");
                  },
                  {.max_attempts = 3});
    FAIL("no exception");
  } catch (const WatchConflictError& e) {
    CHECK_EQ(e.attempts(), 3u);
    CHECK_EQ(e.kind(), Error::Kind::kWatchConflict);
  }
  CHECK_EQ(attempts, 3);
  CHECK_EQ(c.get("balance"), "73");
  CHECK_THROWS_AS(c.transaction({"balance"}, [](Client&, Transaction&) {}, {.max_attempts = 0}),
                  std::invalid_argument);

  // A body that throws: the keys are unwatched and the exception propagates.
  CHECK_THROWS_AS(c.transaction({"balance"},
                                [](Client&, Transaction&) -> int {
                                  throw std::runtime_error("the body gave up");
                                }),
                  std::runtime_error);
  other.set("balance", "0");
  Transaction plain;
  plain.set("balance", "1");
  CHECK(c.exec(plain));  // not aborted: the watch from the failed body is gone
}
ON_BOTH_SERVERS("transaction(): optimistic retries with a bound", retry_helper)

// Read-modify-write transactions (GET, then SET of value + 1) under WATCH, while another client
// INCRs the same counter as fast as it can: no increment of either may be lost.
static void retry_under_writer(Kind kind, int protocol) {
  auto server = start(kind);
  Client c(at(server, protocol));
  c.set("counter", "0");
  constexpr int kTransactions = 300;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> writer_increments{0};
  std::thread writer([&] {
    Client w(at(server, protocol));
    while (!stop.load()) {
      w.incr("counter");
      writer_increments.fetch_add(1);
    }
  });
  std::size_t attempts = 0;
  for (int i = 0; i < kTransactions; ++i) {
    c.transaction({"counter"},
                  [&](Client& cl, Transaction& tx) {
                    ++attempts;
                    const std::int64_t v = std::stoll(cl.get("counter").value_or("0"));
                    tx.set("counter", std::to_string(v + 1));
                  },
                  {.max_attempts = 100000});
  }
  stop.store(true);
  writer.join();
  MESSAGE(kTransactions, " transactions took ", attempts, " attempts against ",
          writer_increments.load(), " concurrent INCRs");
  CHECK_GE(attempts, static_cast<std::size_t>(kTransactions));
  CHECK_EQ(std::stoll(c.get("counter").value_or("-1")), kTransactions + writer_increments.load());
}
ON_BOTH_SERVERS("transaction(): no lost update under a concurrent writer", retry_under_writer)

// ---- AsyncClient --------------------------------------------------------------------------------

static void async_typed(Kind kind, int protocol) {
  auto server = start(kind);
  const ClientOptions o = at(server, protocol);
  Client other(o);
  run_async([&](asio::io_context& io) -> asio::awaitable<void> {
    AsyncClient c(io.get_executor(), o);
    co_await c.connect();
    const bool written = co_await c.set("k", "v", {.ex = 100s});
    CHECK(written);
    const Ttl ttl = co_await c.ttl("k");
    CHECK_GT(ttl.value(), 90s);
    const auto old = co_await c.set_get("k", "w", {.keepttl = true});
    CHECK_EQ(old, "v");
    const std::int64_t n = co_await c.incrby("n", 7);
    CHECK_EQ(n, 7);
    const double f = co_await c.incrbyfloat("f", 2.5);
    CHECK_EQ(f, 2.5);
    const bool persisted = co_await c.persist("k");
    CHECK(persisted);
    const auto value = co_await c.getdel("k");
    CHECK_EQ(value, "w");
    co_await c.rename("n", "m");
    const auto type = co_await c.type("m");
    CHECK_EQ(type, "string");
    const std::int64_t existing = co_await c.exists("m", "f", "k");
    CHECK_EQ(existing, 2);

    Transaction tx;
    auto incr = tx.incr("m");
    auto get = tx.get("f");
    const bool committed = co_await c.exec(tx);
    CHECK(committed);
    CHECK_EQ(incr.get(), 8);
    CHECK_EQ(get.get(), "2.5");

    // The retry helper as a coroutine: a conflict on the first attempt, then a commit.
    int attempts = 0;
    // (The watch list is a named vector: g++ 12 cannot keep an initializer_list's array alive
    // across a co_await, "array used as initializer".)
    const std::vector<std::string> watch_m{"m"};
    const std::string result = co_await c.transaction(
        watch_m, [&](AsyncClient& cl, Transaction& t) -> asio::awaitable<std::string> {
          ++attempts;
          const auto m = co_await cl.get("m");
          if (attempts == 1) other.incr("m");
          t.set("m", *m + "0");
          co_return *m;
        });
    CHECK_EQ(attempts, 2);
    CHECK_EQ(result, "9");
    const auto m = co_await c.get("m");
    CHECK_EQ(m, "90");
    bool gave_up = false;
    try {
      co_await c.transaction(watch_m,
                             [&](AsyncClient&, Transaction& t) -> asio::awaitable<void> {
                               other.incr("m");
                               t.set("m", "0");
                               co_return;
                             },
                             {.max_attempts = 2});
    } catch (const WatchConflictError& e) {
      gave_up = e.attempts() == 2;
    }
    CHECK(gave_up);
    const auto after = co_await c.get("m");
    CHECK_EQ(after, "92");
    // A body that throws: its exception propagates and the keys are unwatched.
    bool body_failed = false;
    try {
      co_await c.transaction(watch_m, [&](AsyncClient&, Transaction&) -> asio::awaitable<int> {
        throw std::runtime_error("the body gave up");
        co_return 0;
      });
    } catch (const std::runtime_error&) {
      body_failed = true;
    }
    CHECK(body_failed);
    other.set("m", "0");
    Transaction plain;
    plain.set("m", "1");
    const bool plain_committed = co_await c.exec(plain);
    CHECK(plain_committed);  // not aborted: the failed body's WATCH is gone
  });
}
ON_BOTH_SERVERS("AsyncClient: typed calls and transactions", async_typed)
