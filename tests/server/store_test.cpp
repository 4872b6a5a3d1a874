// Store: one shard's keyspace and what each data operation means, without RESP or threads.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <tessera/map/hash.hpp>
#include <tessera/server/store/store.hpp>
#include <vector>

using tessera::server::SetCondition;
using tessera::server::Store;
using tessera::server::ValueType;

TEST_CASE("store: SET conditions and the old value") {
  Store s;
  auto r = s.set("k", "v1");
  CHECK(r.written);
  CHECK_FALSE(r.old_value);
  r = s.set("k", "v2", SetCondition::kIfAbsent);  // NX on a present key
  CHECK_FALSE(r.written);
  CHECK(s.get("k") == "v1");
  r = s.set("missing", "x", SetCondition::kIfPresent);  // XX on a missing key
  CHECK_FALSE(r.written);
  CHECK_FALSE(s.exists("missing"));
  r = s.set("k", "longer value", SetCondition::kIfPresent, /*want_old=*/true);
  CHECK(r.written);
  REQUIRE(r.old_value);
  CHECK(*r.old_value == "v1");
  // NX GET on a present key: not written, the old value still returned.
  r = s.set("k", "x", SetCondition::kIfAbsent, true);
  CHECK_FALSE(r.written);
  REQUIRE(r.old_value);
  CHECK(*r.old_value == "longer value");
  r = s.set("new", "n", SetCondition::kAlways, true);
  CHECK(r.written);
  CHECK_FALSE(r.old_value);
  // The old value is a copy: an overwrite of the same length reuses the entry's block.
  r = s.set("new", "m", SetCondition::kAlways, true);
  REQUIRE(r.old_value);
  CHECK(*r.old_value == "n");
  CHECK(s.get("new") == "m");
}

TEST_CASE("store: reads, deletes, types, counters and memory") {
  Store s;
  CHECK(s.memory_bytes() == 0);
  s.set("a", "12345");
  CHECK(s.memory_bytes() > 0);
  CHECK(s.memory_bytes() == s.map_stats().memory_bytes);
  CHECK(s.value_size("a") == 5u);
  CHECK_FALSE(s.value_size("b"));
  CHECK(s.type("a") == ValueType::kString);
  CHECK(s.type("b") == ValueType::kNone);
  CHECK(s.get("a") == "12345");
  CHECK_FALSE(s.get("b"));
  CHECK_FALSE(s.get("c"));
  CHECK(s.counters().keyspace_hits == 1);  // only get() counts, as before
  CHECK(s.counters().keyspace_misses == 2);
  CHECK(s.del("a"));
  CHECK_FALSE(s.del("a"));
  CHECK(s.count() == 0);
  CHECK(s.memory_bytes() == s.map_stats().memory_bytes);
  s.reset_counters();
  CHECK(s.counters().keyspace_hits == 0);
  CHECK(s.counters().keyspace_misses == 0);
  for (int i = 0; i < 5000; ++i) s.set("g:" + std::to_string(i), "v");
  // The map grew inside some of those writes and timed its steps; RESETSTAT forgets the longest.
  CHECK(s.map_stats().grows + s.map_stats().splits > 0);
  CHECK(s.map_stats().longest_step_moves > 0);
  s.reset_counters();
  CHECK(s.map_stats().longest_step_ns == 0);
  CHECK(s.map_stats().longest_step_moves == 0);
  std::set<std::string> seen;
  std::uint64_t cursor = 0;
  do {
    cursor = s.scan(cursor, 100, [&](std::string_view k) { seen.emplace(k); });
  } while (cursor != 0);
  CHECK(seen.size() == 5000);
  s.clear();
  CHECK(s.count() == 0);
  CHECK(s.memory_bytes() == s.map_stats().memory_bytes);
}

TEST_CASE("store: RANDOMKEY draws every key, as often in sparse segments as in dense ones") {
  // Every key whose top directory bit (hash bit 56, under the default settings' seed 0) is 0, and
  // one in twenty of the others: segments of one half of the hash space hold ~20 times fewer keys.
  // The former draw (a scan from a random cursor below the table's capacity) started almost always
  // in the first segments of the hash space and never reached most keys.
  auto upper = [](const std::string& k) {
    return ((tessera::map::hash_string(k, 0) >> 56) & 1) != 0;
  };
  Store s;
  std::size_t kept = 0;
  std::size_t sparse_keys = 0;
  for (int i = 0; i < 20000; ++i) s.set("r" + std::to_string(i), "v");
  for (int i = 0; i < 20000; ++i) {
    const std::string k = "r" + std::to_string(i);
    if (upper(k) && i % 20 != 0) {
      s.del(k);
    } else {
      ++kept;
      sparse_keys += upper(k);
    }
  }
  REQUIRE(s.count() == kept);
  std::set<std::string> drawn;
  std::size_t sparse_draws = 0;
  const std::size_t draws = kept * 30;  // a key never drawn: probability e^-30 each
  std::mt19937_64 seeds(7);             // RANDOMKEY passes each store a fresh random seed
  for (std::size_t i = 0; i < draws; ++i) {
    auto k = s.random_key(seeds());
    REQUIRE(k);
    drawn.insert(*k);
    sparse_draws += upper(*k);
  }
  CHECK(drawn.size() == kept);
  // The sparse half's share of the draws is its share of the keys, within 6 sigma.
  const double p = static_cast<double>(sparse_keys) / static_cast<double>(kept);
  const double expected = p * static_cast<double>(draws);
  CHECK(std::abs(static_cast<double>(sparse_draws) - expected) < 6 * std::sqrt(expected * (1 - p)));
}
