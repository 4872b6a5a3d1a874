// The scan cursor's guarantee under growth, in-place rehash and churn: every key present for the
// whole iteration is visited at least once; only keys present at the call are passed; duplicates
// are bounded.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "tessera/map/hash_map.hpp"
#include "tessera/map/kv_map.hpp"
#include "test_support.hpp"

using namespace tessera::map;
using map_test::scale;

namespace {

using M = AutoHashMap<std::uint64_t, std::uint64_t>;

// Scans `map` to completion with `count` per call, calling mutate() between calls. Checks that
// every emitted key is present at that moment; returns the visit count per key.
template <class Mutate>
std::unordered_map<std::uint64_t, int> full_scan(M& map, std::size_t count, Mutate mutate,
                                                 std::size_t* calls = nullptr) {
  std::unordered_map<std::uint64_t, int> seen;
  std::uint64_t cursor = 0;
  std::size_t n = 0;
  do {
    std::size_t emitted = 0;
    cursor = map.scan(cursor, count, [&](const std::uint64_t& k, const std::uint64_t& v) {
      REQUIRE(v == k);
      REQUIRE(map.contains(k));
      ++seen[k];
      ++emitted;
    });
    REQUIRE(cursor < (std::uint64_t{1} << 32));
    ++n;
    REQUIRE(n < 10'000'000);
    if (cursor != 0) mutate();
  } while (cursor != 0);
  if (calls) *calls = n;
  return seen;
}

}  // namespace

TEST_CASE("scan: a quiet map is visited exactly once per key") {
  M map;
  for (std::uint64_t i = 0; i < 5000; ++i) map.put(i, i);
  for (std::uint64_t i = 0; i < 5000; i += 3) map.remove(i);  // tombstones inside the runs
  std::size_t calls = 0;
  auto seen = full_scan(
      map, 10, [] {}, &calls);
  CHECK(seen.size() == map.count());
  for (auto& [k, n] : seen) CHECK(n == 1);
  CHECK(calls <= map.capacity());                                 // at most one call per bucket
  CHECK(full_scan(map, 1'000'000, [] {}).size() == map.count());  // one call does it all
  M empty;
  CHECK(empty.scan(0, 10, [](auto&, auto&) { FAIL("empty map emitted a key"); }) == 0);
}

TEST_CASE("scan: every stable key is visited while the table grows between calls") {
  M map;
  const std::uint64_t stable = 2000;
  for (std::uint64_t i = 0; i < stable; ++i) map.put(i, i);
  std::uint64_t next = 1'000'000;
  std::set<Size> capacities{map.capacity()};
  auto seen = full_scan(map, 5, [&] {
    if (map.count() > 40000) return;  // grown 5 times: enough
    for (int j = 0; j < 40; ++j, ++next) map.put(next, next);
    capacities.insert(map.capacity());
  });
  CHECK(capacities.size() >= 3);  // it really grew, more than once
  for (std::uint64_t i = 0; i < stable; ++i) {
    REQUIRE(seen.count(i) == 1);
    CHECK(seen[i] <= static_cast<int>(capacities.size()));  // bounded duplicates
  }
}

TEST_CASE("scan: in-place rehash and churn between calls (explicit and automatic)") {
  M map;
  const std::uint64_t stable = 3000;
  for (std::uint64_t i = 0; i < stable; ++i) map.put(i, i);
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> churn;
  std::uint64_t next = 1'000'000;
  const auto rehashes_before = map.stats().rehashes;
  std::size_t calls = 0;
  auto seen = full_scan(
      map, 3,
      [&] {
        // Keep the size constant: remove old churn keys, insert new ones (tombstones pile up and
        // the automatic rehash moves entries around).
        for (int j = 0; j < 60; ++j) {
          if (churn.size() > 1500) {
            const std::size_t at = rng() % churn.size();
            map.remove(churn[at]);
            churn[at] = churn.back();
            churn.pop_back();
          }
          map.put(next, next);
          churn.push_back(next++);
        }
        if (rng() % 16 == 0) map.rehash();
      },
      &calls);
  CHECK(map.stats().rehashes > rehashes_before + 1);
  for (std::uint64_t i = 0; i < stable; ++i) REQUIRE(seen.count(i) == 1);
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE("scan: keys removed before they are reached are not passed; clear ends it cleanly") {
  M map;
  for (std::uint64_t i = 0; i < 4000; ++i) map.put(i, i);
  std::uint64_t cursor = map.scan(0, 100, [](auto&, auto&) {});
  for (std::uint64_t i = 0; i < 4000; i += 2) map.remove(i);
  std::set<std::uint64_t> after;
  while (cursor != 0) {
    cursor = map.scan(cursor, 100, [&](const std::uint64_t& k, auto&) { after.insert(k); });
  }
  for (auto k : after) CHECK(k % 2 == 1);  // removed keys never come back
  // A cursor from a bigger table stays valid after clear_and_free and regrowth.
  cursor = map.scan(0, 50, [](auto&, auto&) {});
  REQUIRE(cursor != 0);
  map.clear_and_free();
  for (std::uint64_t i = 0; i < 10; ++i) map.put(i, i);
  std::size_t steps = 0;
  while (cursor != 0 && steps++ < 100) cursor = map.scan(cursor, 1, [](auto&, auto&) {});
  CHECK(cursor == 0);
}

TEST_CASE("scan: count is honoured (emits >= count per call unless done or 10*count buckets)") {
  M map;
  for (std::uint64_t i = 0; i < 10000; ++i) map.put(i, i);
  std::uint64_t cursor = 0;
  std::size_t total = 0;
  do {
    std::size_t n = 0;
    cursor = map.scan(cursor, 20, [&](auto&, auto&) { ++n; });
    if (cursor != 0) CHECK(n >= 20);
    total += n;
  } while (cursor != 0);
  CHECK(total == 10000);
  // A sparse table: the 10*count bucket budget bounds each call.
  for (std::uint64_t i = 0; i < 10000; ++i) {
    if (i % 1000) map.remove(i);
  }
  std::size_t calls = 0;
  total = 0;
  cursor = 0;
  do {
    cursor = map.scan(cursor, 1, [&](auto&, auto&) { ++total; });
    ++calls;
  } while (cursor != 0);
  CHECK(total == 10);
  CHECK(calls >= map.capacity() / 10 / 2);
}

TEST_CASE("scan: KvMap under growth and churn") {
  KvMap map;
  const int stable = 3000;
  for (int i = 0; i < stable; ++i) map.put(map_test::cat("s", i), "v");
  std::unordered_map<std::string, int> seen;
  std::uint64_t cursor = 0;
  int next = 0;
  const std::size_t rounds = 20 * scale();
  std::size_t calls = 0;
  do {
    cursor = map.scan(cursor, 10, [&](std::string_view k, std::string_view v) {
      REQUIRE(map.get(k) == v);
      ++seen[std::string(k)];
    });
    ++calls;
    for (std::size_t j = 0; j < rounds; ++j) {
      map.put(map_test::cat("c", next), "x");
      if (next >= 2000) map.remove(map_test::cat("c", next - 2000));
      ++next;
    }
  } while (cursor != 0);
  for (int i = 0; i < stable; ++i) REQUIRE(seen.count(map_test::cat("s", i)) == 1);
  CHECK(map.stats().grows >= 1);
  CHECK(map.check_invariants() == nullptr);
}
