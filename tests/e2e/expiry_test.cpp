// Expiry and eviction end to end (label e2e): the real tessera-server process.
//  - A million keys with a 1-second TTL that nobody reads again are all reclaimed by the active
//    cycle within a few seconds (asserted), with the RSS and other clients' GET latency printed
//    (not asserted: timings on a shared machine are figures, not pass/fail).
//  - Eviction under --maxmemory with each policy: what gets evicted matches the policy (allkeys-*
//    never reply -OOM; volatile-* never evict a key without a TTL; volatile-ttl evicts the soonest
//    deadlines first; LRU keeps recently used keys, LFU frequently used ones).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "e2e_util.hpp"
#include "reliability_util.hpp"

using namespace tessera::test;
using tessera::protocol::Reply;

namespace {

// Sends `commands` pipelined in batches of `batch` and returns every reply.
std::vector<Reply> pipeline(Conn& c, const std::vector<std::string>& commands,
                            std::size_t batch = 1000) {
  std::vector<Reply> out;
  out.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); i += batch) {
    const std::size_t n = std::min(batch, commands.size() - i);
    std::string bytes;
    for (std::size_t j = 0; j < n; ++j) bytes += commands[i + j];
    REQUIRE(c.send_all(bytes));
    REQUIRE(c.read_replies(n, out, Ms(30000)));
  }
  return out;
}

Reply call(Conn& c, std::initializer_list<std::string_view> args) {
  std::vector<Reply> r;
  REQUIRE(c.send_all(encode(args)));
  REQUIRE(c.read_replies(1, r));
  return r[0];
}

std::int64_t dbsize(Conn& c) { return call(c, {"DBSIZE"}).integer; }

// GET round trips of existing keys on their own connection, from their own thread.
class Getter {
 public:
  Getter(int port, int keys) : conn_(port), keys_(keys), thread_([this] { loop(); }) {}
  ~Getter() { stop(); }
  LatencyStats stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
    LatencyStats s;
    s.count = samples_.size();
    s.failures = failures_;
    if (samples_.empty()) return s;
    std::sort(samples_.begin(), samples_.end());
    s.p50_ms = samples_[samples_.size() / 2];
    s.p99_ms = samples_[samples_.size() * 99 / 100];
    s.max_ms = samples_.back();
    return s;
  }

 private:
  void loop() {
    std::vector<Reply> replies;
    for (int i = 0; !stop_; ++i) {
      replies.clear();
      const std::string key = "other:" + std::to_string(i % keys_);
      const auto t0 = std::chrono::steady_clock::now();
      if (!conn_.send_all(encode({"GET", key})) || !conn_.read_replies(1, replies, Ms(5000)) ||
          replies[0].str != "value") {
        ++failures_;
        return;
      }
      samples_.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      std::this_thread::sleep_for(Ms(1));
    }
  }
  Conn conn_;
  int keys_;
  std::atomic<bool> stop_{false};
  std::vector<double> samples_;
  std::size_t failures_ = 0;
  std::thread thread_;
};

void print_get_latency(const char* what, const LatencyStats& s) {
  std::printf("%s: GET round trips n=%zu p50=%.3f ms p99=%.3f ms max=%.2f ms failures=%zu\n", what,
              s.count, s.p50_ms, s.p99_ms, s.max_ms, s.failures);
  std::fflush(stdout);
}

}  // namespace

TEST_CASE("e2e expiry: a million keys with a 1 s TTL nobody reads are reclaimed within seconds") {
  auto server = start_tessera(2);
  Conn c(server.port());
  std::vector<std::string> others;
  for (int i = 0; i < 1000; ++i) {
    others.push_back(encode({"SET", "other:" + std::to_string(i), "value"}));
  }
  pipeline(c, others);
  const std::int64_t rss_before = rss_kb(server.pid());
  LatencyStats quiet;
  {
    Getter g(server.port(), 1000);
    std::this_thread::sleep_for(Ms(1500));
    quiet = g.stop();
  }
  // A million keys (200,000 under sanitizers, which slow every allocation several times).
  const int kKeys = kSanitized ? 200'000 : 1'000'000;
  std::vector<std::string> sets;
  sets.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    sets.push_back(
        encode({"SET", "ttl:" + std::to_string(i), "some value of 24 bytes..", "PX", "1000"}));
  }
  RssSampler peak_sampler(server.pid());
  const auto t0 = std::chrono::steady_clock::now();
  {
    auto replies = pipeline(c, sets);
    std::size_t ok = 0;
    for (auto& r : replies) ok += r.str == "OK" ? 1 : 0;
    REQUIRE(ok == static_cast<std::size_t>(kKeys));
  }
  sets.clear();
  sets.shrink_to_fit();
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::int64_t rss_loaded = rss_kb(server.pid());
  Getter during(server.port(), 1000);
  const auto reclaim_start = std::chrono::steady_clock::now();
  // All gone within a few seconds of the last deadline: the load took load_s, the last key's
  // deadline is 1 s after it; allow 15 s more on a shared machine.
  const bool reclaimed = eventually([&] { return dbsize(c) == 1000; }, std::chrono::seconds(20));
  const double reclaim_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reclaim_start).count();
  const LatencyStats busy = during.stop();
  const std::int64_t peak = peak_sampler.stop();
  std::this_thread::sleep_for(Ms(300));  // the tick after the last wave trims
  const std::int64_t rss_after = rss_kb(server.pid());
  CHECK(reclaimed);
  CHECK(info_field(server.port(), "expired_keys") == kKeys);
  // Nobody read a key: every one was reclaimed by the active cycle, and the others are intact.
  CHECK(info_field(server.port(), "keyspace_misses") == 0);
  CHECK(call(c, {"GET", "other:999"}).str == "value");
  std::printf(
      "%d keys, TTL 1 s, unread: loaded in %.2f s; DBSIZE back to the 1000 others %.2f s after "
      "the load; RSS before %lld kB, loaded %lld kB, peak %lld kB, after %lld kB; expired_keys "
      "%lld, expired_time_cap_reached_count %lld\n",
      kKeys, load_s, reclaim_s, static_cast<long long>(rss_before),
      static_cast<long long>(rss_loaded), static_cast<long long>(peak),
      static_cast<long long>(rss_after),
      static_cast<long long>(info_field(server.port(), "expired_keys")),
      static_cast<long long>(info_field(server.port(), "expired_time_cap_reached_count")));
  print_get_latency("quiet server", quiet);
  print_get_latency("while reclaiming", busy);
  CHECK(busy.failures == 0);
  // The RSS is printed, not asserted: how much of it the load added depends on how many keys were
  // alive at once (on a busy machine the first keys expire while the last are still sent), and
  // the table keeps its capacity after the keys are gone.
}

namespace {

struct Filled {
  std::vector<bool> present;
  std::size_t oom = 0;
};

// SETs `keys` (with `ttl_of(i)` seconds, 0 = none) in order through one connection.
template <class Ttl>
std::size_t fill(Conn& c, const std::string& prefix, int keys, Ttl ttl_of) {
  std::vector<std::string> cmds;
  const std::string value(200, 'x');
  for (int i = 0; i < keys; ++i) {
    const std::string key = prefix + std::to_string(i);
    const int ttl = ttl_of(i);
    cmds.push_back(ttl == 0 ? encode({"SET", key, value})
                            : encode({"SET", key, value, "EX", std::to_string(ttl)}));
  }
  std::size_t oom = 0;
  for (auto& r : pipeline(c, cmds, 200)) {
    if (r.type == Reply::Type::kError) {
      CHECK(r.str.starts_with("OOM"));
      ++oom;
    }
  }
  return oom;
}

std::vector<bool> present(Conn& c, const std::string& prefix, int keys) {
  std::vector<std::string> cmds;
  for (int i = 0; i < keys; ++i) cmds.push_back(encode({"EXISTS", prefix + std::to_string(i)}));
  std::vector<bool> out;
  for (auto& r : pipeline(c, cmds)) out.push_back(r.integer == 1);
  return out;
}

double share(const std::vector<bool>& v, int from, int to) {
  int n = 0;
  for (int i = from; i < to; ++i) n += v[static_cast<std::size_t>(i)] ? 1 : 0;
  return static_cast<double>(n) / (to - from);
}

}  // namespace

TEST_CASE("e2e eviction: allkeys policies never refuse a write and keep within maxmemory") {
  for (const char* policy : {"allkeys-lru", "allkeys-lfu", "allkeys-random"}) {
    CAPTURE(policy);
    auto server = start_tessera(2, {"--maxmemory", "2mb", "--maxmemory-policy", policy});
    Conn c(server.port());
    CHECK(fill(c, "k:", 40000, [](int) { return 0; }) == 0);  // ~9 MB of writes, no -OOM
    const auto used = info_field(server.port(), "tessera_used_memory_store");
    const auto evicted = info_field(server.port(), "evicted_keys");
    const auto keys = dbsize(c);
    std::printf(
        "%s at maxmemory 2mb: 40000 SETs of 200 B, %lld keys left, %lld evicted, "
        "store bytes %lld\n",
        policy, static_cast<long long>(keys), static_cast<long long>(evicted),
        static_cast<long long>(used));
    CHECK(evicted > 20000);
    CHECK(keys + evicted == 40000);
    CHECK(used <= 2 * 1024 * 1024 + 64 * 1024);  // the limit plus about one write per shard
    auto info = call(c, {"CONFIG", "GET", "maxmemory-policy"});
    REQUIRE(info.elements.size() == 2);
    CHECK(info.elements[1].str == policy);
  }
}

TEST_CASE("e2e eviction: allkeys-lru keeps the keys used recently") {
  auto server = start_tessera(2, {"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"});
  Conn c(server.port());
  REQUIRE(fill(c, "old:", 4000, [](int) { return 0; }) == 0);
  std::this_thread::sleep_for(Ms(2100));  // the LRU clock counts seconds
  std::vector<std::string> touches;
  for (int i = 0; i < 1000; ++i) touches.push_back(encode({"GET", "old:" + std::to_string(i)}));
  pipeline(c, touches);
  REQUIRE(fill(c, "new:", 6000, [](int) { return 0; }) == 0);
  const auto old = present(c, "old:", 4000);
  const double touched = share(old, 0, 1000), untouched = share(old, 1000, 4000);
  std::printf("allkeys-lru: kept %.0f%% of the recently read old keys, %.0f%% of the others\n",
              touched * 100, untouched * 100);
  CHECK(touched > untouched + 0.3);
}

TEST_CASE("e2e eviction: allkeys-lfu keeps the keys used often, OBJECT FREQ shows it") {
  auto server = start_tessera(2, {"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lfu"});
  Conn c(server.port());
  REQUIRE(fill(c, "k:", 4000, [](int) { return 0; }) == 0);
  std::vector<std::string> hits;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 1000; ++i) hits.push_back(encode({"GET", "k:" + std::to_string(i)}));
  }
  pipeline(c, hits);
  CHECK(call(c, {"OBJECT", "FREQ", "k:1"}).integer > call(c, {"OBJECT", "FREQ", "k:3999"}).integer);
  // New keys start with the counter the cold ones have (LFU_INIT_VAL): they and the cold keys
  // share the evictions, the often read keys are spared.
  REQUIRE(fill(c, "new:", 15000, [](int) { return 0; }) == 0);
  const auto kept = present(c, "k:", 4000);
  const double hot = share(kept, 0, 1000), cold = share(kept, 1000, 4000);
  std::printf("allkeys-lfu: kept %.0f%% of the often read keys, %.0f%% of the others\n", hot * 100,
              cold * 100);
  CHECK(hot > cold + 0.3);
}

TEST_CASE("e2e eviction: volatile policies never evict a key without a TTL") {
  for (const char* policy : {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}) {
    CAPTURE(policy);
    auto server = start_tessera(2, {"--maxmemory", "2mb", "--maxmemory-policy", policy});
    Conn c(server.port());
    REQUIRE(fill(c, "keep:", 3000, [](int) { return 0; }) == 0);
    // Then keys with TTLs, far more than fit: they evict each other, never the keys above.
    CHECK(fill(c, "ttl:", 20000, [](int i) { return 1000 + i; }) == 0);
    const auto keep = present(c, "keep:", 3000);
    CHECK(share(keep, 0, 3000) == 1.0);
    const auto evicted = info_field(server.port(), "evicted_keys");
    CHECK(evicted > 5000);
    const auto ttl = present(c, "ttl:", 20000);
    if (std::string(policy) == "volatile-ttl") {
      // Soonest deadlines first: the early keys (shortest TTLs) are the ones gone.
      const double soon = share(ttl, 0, 5000), late = share(ttl, 15000, 20000);
      std::printf(
          "volatile-ttl: kept %.0f%% of the soonest-expiring quarter, %.0f%% of the "
          "latest\n",
          soon * 100, late * 100);
      CHECK(late > soon + 0.5);
    }
    // With nothing left to evict (only keys without TTL over the limit), writes get -OOM.
    CHECK(call(c, {"FLUSHALL"}).str == "OK");
    const std::size_t oom = fill(c, "plain:", 20000, [](int) { return 0; });
    std::printf("%s: %lld evicted; with no key with a TTL, %zu of 20000 plain SETs got -OOM\n",
                policy, static_cast<long long>(evicted), oom);
    CHECK(oom > 0);
  }
}
