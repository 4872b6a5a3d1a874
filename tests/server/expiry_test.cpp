// Keys that expire, through the real command table and shards (InProcessSession) with a clock the
// test moves by hand (no sleeping). Every exact reply is Redis 7.0.15's bytes, checked against
// Debian's redis-server with the same commands.
#include <doctest/doctest.h>
#include <malloc.h>

#include <chrono>
#include <future>
#include <set>
#include <string>
#include <tessera/server/in_process_session.hpp>
#include <tessera/server/store/store.hpp>
#include <thread>
#include <vector>

using namespace tessera::server;

namespace {

constexpr std::int64_t kStart = 1'700'000'000'000;  // the manual clock's start (ms)

struct ClockEnv {
  explicit ClockEnv(unsigned shards)
      : state(with(shards)), set((state.store.clock = &clock, shards), &state.store) {
    set.start();
  }
  static Config with(unsigned n) {
    Config c;
    c.shards = n;
    return c;
  }
  ManualClock clock{kStart};
  ServerState state;
  ShardSet set;
};

std::string integer(long long v) { return ":" + std::to_string(v) + "\r\n"; }
std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
const std::string kOk = "+OK\r\n";
const std::string kNil = "$-1\r\n";
const std::string kSyntax = "-ERR syntax error\r\n";
const std::string kNotInt = "-ERR value is not an integer or out of range\r\n";
std::string invalid(std::string_view cmd) {
  return "-ERR invalid expire time in '" + std::string(cmd) + "' command\r\n";
}

const unsigned kShardCounts[] = {1, 3};

}  // namespace

TEST_CASE("expiry: SET's expiry options, their errors, and what writes do to a deadline") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    ClockEnv env(n);
    InProcessSession c(env.set, env.state, n - 1);
    CHECK(c.call({"SET", "k", "v", "EX", "0"}) == invalid("set"));
    CHECK(c.call({"SET", "k", "v", "EX", "-1"}) == invalid("set"));
    CHECK(c.call({"SeT", "k", "v", "Ex", "0"}) == invalid("set"));
    CHECK(c.call({"SET", "k", "v", "EX", "abc"}) == kNotInt);
    CHECK(c.call({"SET", "k", "v", "EX", "9223372036854775807"}) == invalid("set"));
    CHECK(c.call({"SET", "k", "v", "EX", "9223372036854775"}) == invalid("set"));
    CHECK(c.call({"SET", "k", "v", "PX", "9223372036854775807"}) == invalid("set"));
    CHECK(c.call({"SET", "k", "v", "EXAT", "0"}) == invalid("set"));
    CHECK(c.call({"SET", "k", "v", "EX", "1", "PX", "100"}) == kSyntax);
    CHECK(c.call({"SET", "k", "v", "KEEPTTL", "EX", "1"}) == kSyntax);
    CHECK(c.call({"SET", "k", "v", "EX", "5", "KEEPTTL"}) == kSyntax);
    CHECK(c.call({"SET", "k", "v", "EX"}) == kSyntax);
    CHECK(c.call({"EXISTS", "k"}) == integer(0));  // nothing above wrote

    // A deadline in the past (PXAT 1) is accepted and the key reads as gone, as in 7.0.
    CHECK(c.call({"SET", "k", "v", "PXAT", "1"}) == kOk);
    CHECK(c.call({"GET", "k"}) == kNil);
    // The same option twice: the last one wins.
    CHECK(c.call({"SET", "k", "v", "EX", "1", "EX", "100"}) == kOk);
    CHECK(c.call({"TTL", "k"}) == integer(100));
    CHECK(c.call({"PTTL", "k"}) == integer(100000));
    CHECK(c.call({"SET", "k", "v2", "KEEPTTL"}) == kOk);  // keeps it
    CHECK(c.call({"TTL", "k"}) == integer(100));
    CHECK(c.call({"GET", "k"}) == bulk("v2"));
    CHECK(c.call({"SET", "k", "v3"}) == kOk);  // clears it
    CHECK(c.call({"TTL", "k"}) == integer(-1));
    CHECK(c.call({"SET", "k", "v", "px", "100000", "get"}) == bulk("v3"));
    CHECK(c.call({"PTTL", "k"}) == integer(100000));
    CHECK(c.call({"SET", "k", "v", "PXAT", std::to_string(kStart + 5000)}) == kOk);
    CHECK(c.call({"PTTL", "k"}) == integer(5000));
    CHECK(c.call({"SET", "k", "v", "EXAT", std::to_string(kStart / 1000 + 7)}) == kOk);
    CHECK(c.call({"TTL", "k"}) == integer(7));
    // NX on an expired key: the key is gone, so NX writes.
    env.clock.advance_ms(7001);
    CHECK(c.call({"SET", "k", "fresh", "NX", "EX", "10"}) == kOk);
    CHECK(c.call({"GET", "k"}) == bulk("fresh"));
    // KEEPTTL on an expired key keeps nothing.
    env.clock.advance_ms(10001);
    CHECK(c.call({"SET", "k", "again", "KEEPTTL"}) == kOk);
    CHECK(c.call({"TTL", "k"}) == integer(-1));
    // SET GET of an expired key returns nil.
    CHECK(c.call({"SET", "k", "v", "PX", "10"}) == kOk);
    env.clock.advance_ms(11);
    CHECK(c.call({"SET", "k", "w", "GET"}) == kNil);
  }
}

TEST_CASE("expiry: SETEX, PSETEX and GETEX") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    ClockEnv env(n);
    InProcessSession c(env.set, env.state, 0);
    CHECK(c.call({"SETEX", "k", "0", "v"}) == invalid("setex"));
    CHECK(c.call({"SETEX", "k", "-5", "v"}) == invalid("setex"));
    CHECK(c.call({"SETEX", "k", "abc", "v"}) == kNotInt);
    CHECK(c.call({"PSETEX", "k", "0", "v"}) == invalid("psetex"));
    CHECK(c.call({"PSETEX", "k", "9223372036854775807", "v"}) == invalid("psetex"));
    CHECK(c.call({"SETEX", "k", "10"}) == "-ERR wrong number of arguments for 'setex' command\r\n");
    CHECK(c.call({"EXISTS", "k"}) == integer(0));
    CHECK(c.call({"SETEX", "k", "100", "v"}) == kOk);
    CHECK(c.call({"TTL", "k"}) == integer(100));
    CHECK(c.call({"PSETEX", "k", "100000", "v"}) == kOk);
    CHECK(c.call({"TTL", "k"}) == integer(100));

    CHECK(c.call({"GETEX", "k", "EX", "0"}) == invalid("getex"));
    CHECK(c.call({"GETEX", "missing", "EX", "0"}) == kNil);  // the time is checked only for a key
    CHECK(c.call({"GETEX", "missing", "EX", "abc"}) == kNil);
    CHECK(c.call({"GETEX", "k", "EX", "abc"}) == kNotInt);
    CHECK(c.call({"GETEX", "k", "PERSIST"}) == bulk("v"));
    CHECK(c.call({"TTL", "k"}) == integer(-1));
    CHECK(c.call({"GETEX", "k", "EX", "100", "PX", "100"}) == kSyntax);
    CHECK(c.call({"GETEX", "k", "PERSIST", "EX", "10"}) == kSyntax);
    CHECK(c.call({"GETEX", "k", "NX"}) == kSyntax);
    CHECK(c.call({"GETEX", "k", "EX"}) == kSyntax);
    CHECK(c.call({"GETEX", "k", "KEEPTTL"}) == kSyntax);
    CHECK(c.call({"GETEX", "k", "EX", "100", "EX", "200"}) == bulk("v"));
    CHECK(c.call({"TTL", "k"}) == integer(200));
    CHECK(c.call({"GETEX", "k", "PX", "1500"}) == bulk("v"));
    CHECK(c.call({"PTTL", "k"}) == integer(1500));
    CHECK(c.call({"GETEX", "k", "EXAT", std::to_string(kStart / 1000 + 60)}) == bulk("v"));
    CHECK(c.call({"TTL", "k"}) == integer(60));
    CHECK(c.call({"GETEX", "k"}) == bulk("v"));
    CHECK(c.call({"TTL", "k"}) == integer(60));
    // A deadline in the past: the value is returned and the key deleted (as a DEL, not expired).
    CHECK(c.call({"GETEX", "k", "PXAT", "1"}) == bulk("v"));
    CHECK(c.call({"EXISTS", "k"}) == integer(0));
    CHECK(c.call({"INFO", "stats"}).find("expired_keys:0\r\n") != std::string::npos);
    CHECK(c.call({"GETEX"}) == "-ERR wrong number of arguments for 'getex' command\r\n");
  }
}

TEST_CASE("expiry: EXPIRE family options, errors and replies") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    ClockEnv env(n);
    InProcessSession c(env.set, env.state, 0);
    CHECK(c.call({"SET", "k", "v"}) == kOk);
    const std::string nx_conflict =
        "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    CHECK(c.call({"EXPIRE", "k", "100", "NX", "XX"}) == nx_conflict);
    CHECK(c.call({"EXPIRE", "k", "100", "NX", "GT"}) == nx_conflict);
    CHECK(c.call({"EXPIRE", "k", "100", "GT", "LT"}) ==
          "-ERR GT and LT options at the same time are not compatible\r\n");
    CHECK(c.call({"EXPIRE", "k", "100", "FOO"}) == "-ERR Unsupported option FOO\r\n");
    CHECK(c.call({"EXPIRE", "k", "abc", "FOO"}) == "-ERR Unsupported option FOO\r\n");
    CHECK(c.call({"EXPIRE", "k", "abc"}) == kNotInt);
    CHECK(c.call({"EXPIRE", "k", "9223372036854775807"}) == invalid("expire"));
    CHECK(c.call({"EXPIRE", "k", "9223372036854775"}) == invalid("expire"));
    CHECK(c.call({"PEXPIRE", "k", "9223372036854775807"}) == invalid("pexpire"));
    CHECK(c.call({"expireat", "k", "-9223372036854775807"}) == invalid("expireat"));
    CHECK(c.call({"EXPIRE", "k"}) == "-ERR wrong number of arguments for 'expire' command\r\n");
    CHECK(c.call({"TTL", "k"}) == integer(-1));
    // Absolute times that fit are accepted however far away.
    CHECK(c.call({"EXPIREAT", "k", "9223372036854775"}) == integer(1));
    CHECK(c.call({"PEXPIREAT", "k", "9223372036854775807"}) == integer(1));
    CHECK(c.call({"PTTL", "k"}) == integer(9223372036854775807LL - kStart));
    CHECK(c.call({"PERSIST", "k"}) == integer(1));

    CHECK(c.call({"EXPIRE", "k", "100", "XX"}) == integer(0));  // no deadline yet
    CHECK(c.call({"EXPIRE", "k", "100", "GT"}) == integer(0));  // none counts as infinite
    CHECK(c.call({"EXPIRE", "k", "100", "NX"}) == integer(1));
    CHECK(c.call({"EXPIRE", "k", "100", "NX"}) == integer(0));
    CHECK(c.call({"EXPIRE", "k", "100", "XX"}) == integer(1));
    CHECK(c.call({"EXPIRE", "k", "100", "GT"}) == integer(0));  // equal is not greater
    CHECK(c.call({"EXPIRE", "k", "100", "LT"}) == integer(0));
    CHECK(c.call({"EXPIRE", "k", "200", "GT"}) == integer(1));
    CHECK(c.call({"EXPIRE", "k", "50", "GT"}) == integer(0));
    CHECK(c.call({"EXPIRE", "k", "300", "LT"}) == integer(0));
    CHECK(c.call({"EXPIRE", "k", "50", "LT"}) == integer(1));
    CHECK(c.call({"TTL", "k"}) == integer(50));
    CHECK(c.call({"PEXPIRE", "k", "1234"}) == integer(1));
    CHECK(c.call({"PTTL", "k"}) == integer(1234));
    CHECK(c.call({"TTL", "k"}) == integer(1));  // (1234 + 500) / 1000
    CHECK(c.call({"EXPIREAT", "k", "4102444800"}) == integer(1));
    CHECK(c.call({"EXPIRETIME", "k"}) == integer(4102444800));
    CHECK(c.call({"PEXPIRETIME", "k"}) == integer(4102444800000));
    CHECK(c.call({"PEXPIREAT", "k", std::to_string(kStart + 10)}) == integer(1));
    CHECK(c.call({"PEXPIRETIME", "k"}) == integer(kStart + 10));

    CHECK(c.call({"EXPIRE", "missing", "100"}) == integer(0));
    CHECK(c.call({"TTL", "missing"}) == integer(-2));
    CHECK(c.call({"PTTL", "missing"}) == integer(-2));
    CHECK(c.call({"EXPIRETIME", "missing"}) == integer(-2));
    CHECK(c.call({"PEXPIRETIME", "missing"}) == integer(-2));
    CHECK(c.call({"PERSIST", "missing"}) == integer(0));
    CHECK(c.call({"TTL", "k", "k"}) == "-ERR wrong number of arguments for 'ttl' command\r\n");
    CHECK(c.call({"PERSIST", "k", "k"}) ==
          "-ERR wrong number of arguments for 'persist' command\r\n");

    // A time not in the future deletes at once, replying 1, as a DEL (not counted as expired).
    for (auto args :
         std::vector<std::vector<std::string>>{{"EXPIRE", "k", "-1"},
                                               {"EXPIRE", "k", "0"},
                                               {"PEXPIRE", "k", "0"},
                                               {"PEXPIREAT", "k", "1"},
                                               {"PEXPIREAT", "k", std::to_string(kStart)},
                                               {"EXPIREAT", "k", std::to_string(kStart / 1000)}}) {
      CAPTURE(args[0]);
      CAPTURE(args[2]);
      CHECK(c.call({"SET", "k", "v"}) == kOk);
      CHECK(c.call(args) == integer(1));
      CHECK(c.call({"EXISTS", "k"}) == integer(0));
    }
    CHECK(c.call({"INFO", "stats"}).find("expired_keys:0\r\n") != std::string::npos);
  }
}

TEST_CASE("expiry: an expired key is gone for every command; lazy expiry counts it") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    ClockEnv env(n);
    InProcessSession c(env.set, env.state, 0);
    for (int i = 0; i < 20; ++i) {
      CHECK(c.call({"SET", "t" + std::to_string(i), "v", "PX", "1000"}) == kOk);
      CHECK(c.call({"SET", "p" + std::to_string(i), "v"}) == kOk);
    }
    CHECK(c.call({"TTL", "t0"}) == integer(1));
    env.clock.advance_ms(1000);  // deadline == now: still alive (expired means now > deadline)
    CHECK(c.call({"GET", "t0"}) == bulk("v"));
    CHECK(c.call({"PTTL", "t0"}) == integer(0));
    env.clock.advance_ms(1);
    CHECK(c.call({"GET", "t0"}) == kNil);
    CHECK(c.call({"EXISTS", "t1", "p1"}) == integer(1));
    CHECK(c.call({"MGET", "t2", "p2"}) == "*2\r\n$-1\r\n$1\r\nv\r\n");
    CHECK(c.call({"TYPE", "t3"}) == "+none\r\n");
    CHECK(c.call({"STRLEN", "t4"}) == integer(0));
    CHECK(c.call({"TTL", "t5"}) == integer(-2));
    CHECK(c.call({"PERSIST", "t6"}) == integer(0));
    CHECK(c.call({"EXPIRE", "t7", "100"}) == integer(0));
    CHECK(c.call({"DEL", "t8", "p8"}) == integer(1));
    CHECK(c.call({"GETEX", "t9", "PERSIST"}) == kNil);
    CHECK(c.call({"SET", "t10", "new", "XX"}) == kNil);
    // KEYS and SCAN never return an expired key.
    auto keys = c.call({"KEYS", "t*"});
    CHECK(keys.find("$3\r\nt1") == std::string::npos);
    CHECK(keys == "*0\r\n");
    std::set<std::string> scanned;
    std::string cursor = "0";
    do {
      auto r = c.call({"SCAN", cursor, "COUNT", "7"});
      // "*2\r\n$<n>\r\n<cursor>\r\n*<m>\r\n..." parsed by hand: cursor, then keys.
      auto first = r.find("\r\n", 4);
      auto cur_end = r.find("\r\n", first + 2);
      cursor = r.substr(first + 2, cur_end - first - 2);
      std::size_t pos = r.find("\r\n", cur_end + 2) + 2;
      while (pos < r.size()) {
        auto len_end = r.find("\r\n", pos);
        const auto len = std::stoul(r.substr(pos + 1, len_end - pos - 1));
        scanned.insert(r.substr(len_end + 2, len));
        pos = len_end + 2 + len + 2;
      }
    } while (cursor != "0");
    CHECK(scanned.size() == 19);  // p0..p19 but p8, deleted
    for (const auto& k : scanned) CHECK(k[0] == 'p');
    const auto info = c.call({"INFO"});
    CHECK(info.find("expired_keys:20\r\n") != std::string::npos);
    CHECK(info.find("db0:keys=19,expires=0,avg_ttl=0\r\n") != std::string::npos);
  }
}

TEST_CASE("expiry: writes that keep and writes that clear a deadline; INFO expires") {
  ClockEnv env(2);
  InProcessSession c(env.set, env.state, 0);
  CHECK(c.call({"SET", "a", "1", "EX", "100"}) == kOk);
  CHECK(c.call({"SET", "b", "1", "EX", "100"}) == kOk);
  CHECK(c.call({"SET", "c", "1"}) == kOk);
  CHECK(c.call({"INFO", "keyspace"}).find("db0:keys=3,expires=2,avg_ttl=") != std::string::npos);
  CHECK(c.call({"MSET", "a", "2"}) == kOk);  // MSET is a SET: clears
  CHECK(c.call({"TTL", "a"}) == integer(-1));
  CHECK(c.call({"PUT", "b", "2"}) == kOk);
  CHECK(c.call({"TTL", "b"}) == integer(-1));
  CHECK(c.call({"INFO", "keyspace"}).find("db0:keys=3,expires=0,avg_ttl=0") != std::string::npos);
}

TEST_CASE("expiry: the active cycle reclaims keys nobody reads, within its budget") {
  // A store driven directly: no timer, the test runs the cycles.
  ManualClock clock(kStart);
  StoreSettings settings;
  settings.clock = &clock;
  Store store(&settings, 1);
  for (int i = 0; i < 20000; ++i) {
    store.set("t" + std::to_string(i), "v", SetCondition::kAlways, false,
              DeadlineUpdate::at(kStart + 1000 + i % 100));
  }
  for (int i = 0; i < 2000; ++i) store.set("p" + std::to_string(i), "v");
  CHECK(store.deadline_count() == 20000);
  // Nothing is due: one loop, well under 10% stale, and the average TTL is estimated.
  auto quiet = store.active_expire_cycle(std::chrono::milliseconds(25));
  CHECK(quiet.expired == 0);
  CHECK(quiet.sampled >= 1);
  CHECK(store.counters().avg_ttl_ms > 900);
  CHECK(store.counters().avg_ttl_ms <= 1100);
  clock.advance_ms(2000);
  // Everything is due: cycles repeat while more than 10% is stale; with a generous budget one
  // cycle takes all of them, with a tiny one it stops at the time cap and the next goes on.
  auto capped = store.active_expire_cycle(std::chrono::microseconds(1));
  CHECK(capped.time_cap_reached);
  CHECK(capped.expired > 0);
  CHECK(store.counters().expired_time_cap_reached_count == 1);
  std::uint64_t total = capped.expired;
  for (int round = 0; round < 1000 && store.deadline_count() > 0; ++round) {
    total += store.active_expire_cycle(std::chrono::milliseconds(25)).expired;
  }
  CHECK(store.deadline_count() == 0);
  CHECK(total == 20000);
  CHECK(store.count() == 2000);
  CHECK(store.counters().expired_keys == 20000);
  CHECK(store.counters().expired_stale_perc > 0);
  CHECK(store.get("p5").has_value());
}

TEST_CASE("expiry: a write over an expired key reclaims it as expired (counted, as Redis)") {
  // Redis 7.0.15 (DEBUG SET-ACTIVE-EXPIRE 0, keys SET ... PX 50, 200 ms later): SET, MSET,
  // RENAME's and COPY's destination, SETEX, SET NX and GETSET over an expired key each add one
  // to expired_keys (lookupKeyWrite), the replies being those of a missing key.
  SUBCASE("the store") {
    ManualClock clock(kStart);
    StoreSettings settings;
    settings.clock = &clock;
    Store store(&settings, 1);
    for (const char* k : {"a", "b", "c"}) {
      store.set(k, "v", SetCondition::kAlways, false, DeadlineUpdate::at(kStart + 50));
    }
    store.set("plain", "v");
    clock.advance_ms(200);
    store.set("a", "v2");
    CHECK(store.counters().expired_keys == 1);
    store.put_content("b", StoredValue{"v2", std::nullopt, false});
    CHECK(store.counters().expired_keys == 2);
    store.set("plain", "v2");  // live: nothing expires
    CHECK(store.counters().expired_keys == 2);
    CHECK(store.deadline_count() == 1);  // c, not reclaimed yet
    CHECK(*store.get("a") == "v2");
    CHECK(*store.get("b") == "v2");
  }
  SUBCASE("the commands") {
    ClockEnv env(2);
    InProcessSession c(env.set, env.state, 0);
    for (const char* k : {"a", "b", "c", "d", "e", "f", "g"}) {
      CHECK(c.call({"SET", k, "v", "PX", "50"}) == kOk);
    }
    CHECK(c.call({"SET", "src", "v"}) == kOk);
    CHECK(c.call({"SET", "src2", "v"}) == kOk);
    env.clock.advance_ms(200);
    const std::vector<std::pair<std::vector<std::string>, std::string>> steps = {
        {{"SET", "a", "v2"}, kOk},         {{"MSET", "b", "v2"}, kOk},
        {{"RENAME", "src", "c"}, kOk},     {{"COPY", "src2", "d"}, integer(1)},
        {{"SETEX", "e", "100", "v"}, kOk}, {{"SET", "f", "v", "NX"}, kOk},
        {{"GETSET", "g", "v"}, kNil}};
    int expired = 0;
    for (const auto& step : steps) {
      CAPTURE(step.first[0]);
      CHECK(c.call(step.first) == step.second);
      // The active cycle may reclaim keys of the steps still to come (it ticks in real time), but
      // never fewer than the steps done so far.
      ++expired;
      const auto info = c.call({"INFO", "stats"});
      const auto at = info.find("expired_keys:");
      REQUIRE(at != std::string::npos);
      CHECK(std::stoi(info.substr(at + 13)) >= expired);
    }
    CHECK(c.call({"INFO", "stats"}).find("expired_keys:7\r\n") != std::string::npos);
  }
}

TEST_CASE("expiry: expired_time_cap_reached_count counts cycles that hit the budget, not slices") {
  // Redis's meaning: one per activeExpireCycle call that stopped at its time limit. The shard runs
  // each tick's cycle in short slices; a wave of 300,000 keys needs several capped ticks, and
  // each may count once at most.
  ClockEnv env(1);
  auto on_shard = [&](auto fn) {
    std::promise<decltype(fn(env.set.shard(0).store()))> done;
    auto result = done.get_future();
    env.set.post(0, [&] { done.set_value(fn(env.set.shard(0).store())); });
    return result.get();
  };
  constexpr int kKeys = 300'000;
  on_shard([&](Store& store) {
    for (int i = 0; i < kKeys; ++i) {
      store.set("t" + std::to_string(i), "some value", SetCondition::kAlways, false,
                DeadlineUpdate::at(kStart + 10));
    }
    return 0;
  });
  const auto start = std::chrono::steady_clock::now();
  env.clock.advance_ms(100);
  std::size_t left = kKeys;
  for (int i = 0; i < 6000 && left != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    left = on_shard([](Store& store) { return store.deadline_count(); });
  }
  REQUIRE(left == 0);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto counters = on_shard([](Store& store) { return store.counters(); });
  const auto ticks = elapsed / std::chrono::milliseconds(100) + 1;
  MESSAGE("300,000 keys reclaimed in "
          << ticks << " ticks; cycles capped: " << counters.expired_time_cap_reached_count);
  CHECK(counters.expired_keys == kKeys);
  CHECK(counters.expired_time_cap_reached_count >= 1);
  CHECK(counters.expired_time_cap_reached_count <= static_cast<std::uint64_t>(ticks));
#if defined(__GLIBC__)
  ::malloc_trim(0);  // the freed keys' pages back: later tests read this process's RSS
#endif
}

TEST_CASE("expiry: SCAN returns every live key while keys expire underneath it") {
  ClockEnv env(2);
  InProcessSession c(env.set, env.state, 0);
  for (int i = 0; i < 3000; ++i) {
    CHECK(c.call({"SET", "live" + std::to_string(i), "v"}) == kOk);
    CHECK(c.call({"SET", "dying" + std::to_string(i), "v", "PX", std::to_string(1 + i % 50)}) ==
          kOk);
  }
  std::set<std::string> seen;
  std::string cursor = "0";
  int steps = 0;
  do {
    env.clock.advance_ms(1);  // keys expire between the steps (and the active cycle runs)
    auto r = c.call({"SCAN", cursor, "COUNT", "20"});
    auto first = r.find("\r\n", 4);
    auto cur_end = r.find("\r\n", first + 2);
    cursor = r.substr(first + 2, cur_end - first - 2);
    std::size_t pos = r.find("\r\n", cur_end + 2) + 2;
    while (pos < r.size()) {
      auto len_end = r.find("\r\n", pos);
      const auto len = std::stoul(r.substr(pos + 1, len_end - pos - 1));
      seen.insert(r.substr(len_end + 2, len));
      pos = len_end + 2 + len + 2;
    }
    ++steps;
  } while (cursor != "0");
  CHECK(steps > 10);
  for (int i = 0; i < 3000; ++i) CHECK(seen.count("live" + std::to_string(i)) == 1);
}

TEST_CASE("eviction: OBJECT IDLETIME and FREQ follow the policy's clock; TOUCH bumps it") {
  ClockEnv env(2);
  InProcessSession c(env.set, env.state, 0);
  const std::string idle_with_lfu =
      "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
      "switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";
  const std::string freq_without_lfu =
      "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
      "that when switching between policies at runtime LRU and LFU data will take some time to "
      "adjust.\r\n";
  CHECK(c.call({"SET", "k", "v"}) == kOk);
  CHECK(c.call({"OBJECT", "IDLETIME", "k"}) == integer(0));
  CHECK(c.call({"OBJECT", "FREQ", "k"}) == freq_without_lfu);
  CHECK(c.call({"OBJECT", "IDLETIME", "missing"}) == kNil);
  CHECK(c.call({"OBJECT", "FREQ", "missing"}) == kNil);
  CHECK(c.call({"OBJECT", "IDLETIME"}) ==
        "-ERR wrong number of arguments for 'object|idletime' command\r\n");
  env.clock.advance_ms(12'400);
  CHECK(c.call({"OBJECT", "IDLETIME", "k"}) == integer(12));  // whole seconds of the LRU clock
  CHECK(c.call({"TTL", "k"}) == integer(-1));                 // TTL, EXISTS, TYPE do not touch
  CHECK(c.call({"EXISTS", "k"}) == integer(1));
  CHECK(c.call({"OBJECT", "IDLETIME", "k"}) == integer(12));
  CHECK(c.call({"TOUCH", "k", "missing"}) == integer(1));
  CHECK(c.call({"OBJECT", "IDLETIME", "k"}) == integer(0));
  env.clock.advance_ms(5'000);
  CHECK(c.call({"GET", "k"}) == bulk("v"));
  CHECK(c.call({"OBJECT", "IDLETIME", "k"}) == integer(0));

  CHECK(c.call({"CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"}) == kOk);
  CHECK(c.call({"OBJECT", "IDLETIME", "k"}) == idle_with_lfu);
  CHECK(c.call({"SET", "hot", "v"}) == kOk);  // a new key starts at LFU_INIT_VAL
  CHECK(c.call({"OBJECT", "FREQ", "hot"}) == integer(5));
  for (int i = 0; i < 2000; ++i) c.call({"GET", "hot"});
  const auto freq = c.call({"OBJECT", "FREQ", "hot"});
  CHECK(freq != integer(5));  // the logarithmic counter grew (by about 8 for 2000 reads)
  // One decrement per minute without access (lfu-decay-time 1).
  env.clock.advance_ms(3 * 60'000);
  const long long before = std::stoll(freq.substr(1));
  CHECK(c.call({"OBJECT", "FREQ", "hot"}) == integer(before - 3));
  CHECK(c.call({"CONFIG", "GET", "maxmemory-policy"}) ==
        "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lfu\r\n");
  CHECK(c.call({"CONFIG", "SET", "maxmemory-policy", "foo"}) ==
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) "
        "must be one of the following: volatile-lru, volatile-lfu, volatile-random, "
        "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n");
  CHECK(c.call({"CONFIG", "SET", "maxmemory-samples", "abc"}) ==
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument "
        "couldn't be parsed into an integer\r\n");
  CHECK(c.call({"CONFIG", "SET", "maxmemory-samples", "0"}) ==
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument "
        "must be between 1 and 2147483647 inclusive\r\n");
  CHECK(c.call({"CONFIG", "SET", "maxmemory-samples", "10"}) == kOk);
  CHECK(c.call({"CONFIG", "GET", "maxmemory-samples"}) ==
        "*2\r\n$17\r\nmaxmemory-samples\r\n$2\r\n10\r\n");
}

TEST_CASE("eviction: the store keeps its share; what goes matches the policy") {
  ManualClock clock(kStart);
  StoreSettings settings;
  settings.clock = &clock;
  settings.maxmemory = 400'000;  // two stores share it: 200 kB each
  const std::string value(100, 'x');
  SUBCASE("noeviction evicts nothing") {
    Store store(&settings, 2);
    for (int i = 0; i < 5000; ++i) store.set("k" + std::to_string(i), value);
    CHECK(store.count() == 5000);
    CHECK(store.counters().evicted_keys == 0);
  }
  SUBCASE("allkeys-random stays within the share") {
    settings.policy = EvictionPolicy::kAllKeysRandom;
    Store store(&settings, 2);
    for (int i = 0; i < 5000; ++i) store.set("k" + std::to_string(i), value);
    CHECK(store.memory_bytes() <= 200'000 + 200);
    CHECK(store.count() + store.counters().evicted_keys == 5000);
    CHECK(store.counters().evicted_keys > 3000);
  }
  SUBCASE("volatile-ttl evicts only keys with a deadline, the soonest first") {
    settings.policy = EvictionPolicy::kVolatileTtl;
    Store store(&settings, 2);
    for (int i = 0; i < 200; ++i) store.set("plain" + std::to_string(i), value);
    for (int i = 0; i < 3000; ++i) {
      store.set("t" + std::to_string(i), value, SetCondition::kAlways, false,
                DeadlineUpdate::at(kStart + 1'000'000 + i * 1000));
    }
    for (int i = 0; i < 200; ++i) CHECK(store.exists("plain" + std::to_string(i)));
    int early = 0, late = 0;
    for (int i = 0; i < 500; ++i) early += store.exists("t" + std::to_string(i)) ? 1 : 0;
    for (int i = 2500; i < 3000; ++i) late += store.exists("t" + std::to_string(i)) ? 1 : 0;
    CHECK(late > early + 300);
    CHECK(store.counters().evicted_keys > 1000);
    // Nothing with a deadline left to evict: the store grows past its share (dispatch refuses
    // the writes with -OOM before they get here).
    store.clear();
    for (int i = 0; i < 3000; ++i) store.set("plain" + std::to_string(i), value);
    CHECK(store.count() == 3000);
  }
}
