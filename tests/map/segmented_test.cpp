// SegmentedHashMap (segmented_map.hpp): random operations against std::unordered_map with the
// structure checked after every split, merge, grow and shrink; SCAN coverage with a split or a
// merge forced between every call; the strong guarantee when an allocation fails during a split;
// growth in bounded steps with no doubled copy; memory given back after mass deletion. Small
// segments (16 or 64 slots) make the structural events frequent; one test runs the default 1024.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tessera/map/hash_map.hpp"
#include "tessera/map/kv_map.hpp"
#include "tessera/map/segmented_map.hpp"
#include "test_support.hpp"

using namespace tessera::map;
using map_test::scale;

namespace {

template <Size kSegment>
using U64Segmented =
    SegmentedHashMap<std::uint64_t, std::uint64_t, AutoContext<std::uint64_t>, kSegment>;

// The structural counters: when one moves, the structure changed and is checked in full.
struct Structure {
  std::uint64_t grows, splits, merges, shrinks;
  template <class Map>
  explicit Structure(const Map& m) {
    const MapStats s = m.stats();
    grows = s.grows;
    splits = s.splits;
    merges = s.merges;
    shrinks = s.shrinks;
  }
  bool operator==(const Structure&) const = default;
};

// Random puts, removes, lookups and get_or_put_value over `key_range` keys, with phases that grow
// the map and phases that empty most of it, so that segments split and merge back many times.
template <Size kSegment>
void property_test(std::size_t ops, std::uint64_t key_range, std::uint64_t seed) {
  U64Segmented<kSegment> map;
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  std::mt19937_64 rng(seed);
  std::size_t structural_checks = 0;
  for (std::size_t i = 0; i < ops; ++i) {
    // Phases of 20k operations: insert-heavy, then remove-heavy.
    const bool filling = (i / 20000) % 2 == 0;
    const std::uint64_t k = rng() % key_range;
    const std::uint64_t v = rng();
    const unsigned op = static_cast<unsigned>(rng() % 100);
    const Structure before(map);
    if (op < (filling ? 50u : 10u)) {
      CHECK(map.put(k, v) == (ref.count(k) == 0));
      ref[k] = v;
    } else if (op < (filling ? 55u : 15u)) {
      auto e = map.get_or_put_value(k, v);
      auto [it, inserted] = ref.try_emplace(k, v);
      (void)inserted;
      REQUIRE(*e.value_ptr == it->second);
    } else if (op < 75) {
      REQUIRE(map.remove(k) == (ref.erase(k) == 1));
    } else if (op < 80) {
      auto kv = map.fetch_remove(k);
      auto it = ref.find(k);
      REQUIRE(kv.has_value() == (it != ref.end()));
      if (kv) {
        CHECK(kv->value == it->second);
        ref.erase(it);
      }
    } else if (op < 83) {
      if (auto* kp = map.get_key_ptr(k)) {
        map.remove_by_ptr(kp);
        REQUIRE(ref.erase(k) == 1);
      }
    } else {
      auto it = ref.find(k);
      const auto got = map.get(k);
      REQUIRE(got.has_value() == (it != ref.end()));
      if (got) REQUIRE(*got == it->second);
    }
    REQUIRE(map.count() == ref.size());
    if (!(Structure(map) == before)) {
      ++structural_checks;
      const char* err = map.check_invariants();
      INFO("op " << i);
      REQUIRE(err == nullptr);
    }
    if (i % 25000 == 24999) {
      REQUIRE(map.check_invariants() == nullptr);
      for (const auto& [rk, rv] : ref) REQUIRE(*map.get(rk) == rv);
      std::size_t seen = 0;
      for (auto e : map) {
        REQUIRE(ref.at(*e.key_ptr) == *e.value_ptr);
        ++seen;
      }
      REQUIRE(seen == ref.size());
    }
  }
  const MapStats s = map.stats();
  CHECK(s.splits > 100);
  CHECK(s.merges > 100);
  CHECK(structural_checks >= s.splits + s.merges);
  CHECK(s.segments == map.segments());
}

}  // namespace

TEST_CASE("segmented map agrees with std::unordered_map through splits and merges (16 slots)") {
  property_test<16>(200'000 * scale(), 3000, 1);
}

TEST_CASE("segmented map agrees with std::unordered_map through splits and merges (64 slots)") {
  property_test<64>(200'000 * scale(), 5000, 2);
}

TEST_CASE("segmented map: a lookup of every key after each split finds it in its new segment") {
  U64Segmented<16> map;
  std::uint64_t splits = 0;
  for (std::uint64_t k = 0; k < 3000; ++k) {
    map.put(k, k * 7);
    if (map.stats().splits != splits) {
      splits = map.stats().splits;
      REQUIRE(map.check_invariants() == nullptr);
      for (std::uint64_t j = 0; j <= k; ++j) REQUIRE(*map.get(j) == j * 7);
    }
  }
  CHECK(splits > 100);
  CHECK(map.segments() == splits + 1);  // each split makes one more segment; none merged
}

TEST_CASE("segmented map: colliding hashes grow one segment past its size instead of splitting") {
  SegmentedHashMap<std::uint64_t, std::uint64_t, map_test::CollideContext, 16> map;
  for (std::uint64_t k = 0; k < 200; ++k) map.put(k, k);
  CHECK(map.segments() == 1);
  CHECK(map.global_depth() == 0);
  CHECK(map.capacity() > 16);
  CHECK(map.check_invariants() == nullptr);
  for (std::uint64_t k = 0; k < 200; ++k) CHECK(*map.get(k) == k);
  // A scan still passes every key (the big segment is read at 16-bucket granularity).
  std::unordered_set<std::uint64_t> seen;
  std::uint64_t cursor = 0;
  do {
    cursor =
        map.scan(cursor, 7, [&](const std::uint64_t& k, const std::uint64_t&) { seen.insert(k); });
  } while (cursor != 0);
  CHECK(seen.size() == 200);
}

namespace {

// Scans `map` to completion, count keys per call, calling between() after every call that did not
// finish. Returns how often each key was passed; checks each passed key is present then.
template <class Map, class Between>
std::unordered_map<std::uint64_t, int> scan_all(Map& map, std::size_t count, Between between) {
  std::unordered_map<std::uint64_t, int> seen;
  std::uint64_t cursor = 0;
  std::size_t calls = 0;
  do {
    cursor = map.scan(cursor, count, [&](const std::uint64_t& k, const std::uint64_t& v) {
      REQUIRE(v == k);
      REQUIRE(map.contains(k));
      ++seen[k];
    });
    REQUIRE(cursor < (std::uint64_t{1} << 32));
    REQUIRE(++calls < 1'000'000);
    if (cursor != 0) between();
  } while (cursor != 0);
  return seen;
}

}  // namespace

TEST_CASE("segmented scan: a quiet map passes every key exactly once") {
  U64Segmented<16> map;
  for (std::uint64_t k = 0; k < 5000; ++k) map.put(k, k);
  for (std::uint64_t k = 0; k < 5000; k += 3) map.remove(k);
  auto seen = scan_all(map, 5, [] {});
  CHECK(seen.size() == map.count());
  for (const auto& [k, n] : seen) CHECK(n == 1);
}

TEST_CASE(
    "segmented scan: every stable key is passed with a split or a merge forced between calls") {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    U64Segmented<16> map;
    std::mt19937_64 rng(seed);
    // Stable keys: present for the whole scan. Churn keys: inserted to force splits, removed to
    // force merges.
    std::vector<std::uint64_t> stable;
    for (std::uint64_t k = 0; k < 200; ++k) {
      stable.push_back(k);
      map.put(k, k);
    }
    std::vector<std::uint64_t> churn;
    std::uint64_t next_churn = 1'000'000;
    std::size_t forced_splits = 0;
    std::size_t forced_merges = 0;
    bool split_next = true;
    auto force_split = [&] {
      const auto before = map.stats().splits;
      while (map.stats().splits == before) {
        map.put(next_churn, next_churn);
        churn.push_back(next_churn++);
      }
      ++forced_splits;
    };
    auto force_merge = [&] {
      const auto before = map.stats().merges;
      while (map.stats().merges == before) {
        if (churn.empty()) return false;
        const std::size_t at = rng() % churn.size();
        std::swap(churn[at], churn.back());
        REQUIRE(map.remove(churn.back()));
        churn.pop_back();
      }
      ++forced_merges;
      return true;
    };
    for (int i = 0; i < 200; ++i) force_split();  // enough churn to merge away later
    auto seen = scan_all(map, 4, [&] {
      if (split_next || !force_merge()) force_split();
      split_next = !split_next;
      REQUIRE(map.check_invariants() == nullptr);
    });
    for (const auto k : stable) {
      INFO("stable key " << k);
      CHECK(seen.count(k) == 1);
    }
    CHECK(forced_splits > 300);
    CHECK(forced_merges > 50);
  }
}

TEST_CASE(
    "segmented scan: KvMap keeps every stable key across growth from empty and a mass delete") {
  KvMap map;
  for (int k = 0; k < 3000; ++k) map.put(map_test::cat("stable:", k), "v");
  std::unordered_set<std::string> seen;
  std::uint64_t cursor = 0;
  int step = 0;
  do {
    cursor = map.scan(cursor, 10, [&](std::string_view k, std::string_view) {
      REQUIRE(map.contains(k));
      seen.emplace(k);
    });
    // Between calls: first grow by 60k keys (many splits), then delete them again (merges).
    ++step;
    if (step < 60) {
      for (int j = 0; j < 1000; ++j) map.put(map_test::cat("churn:", step * 1000 + j), "x");
    } else if (step < 120) {
      for (int j = 0; j < 1000; ++j) map.remove(map_test::cat("churn:", (step - 60) * 1000 + j));
    }
  } while (cursor != 0);
  for (int k = 0; k < 3000; ++k) CHECK(seen.count(map_test::cat("stable:", k)) == 1);
  CHECK(map.stats().splits > 50);
  CHECK(map.stats().merges > 10);
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE("segmented map: an allocation failure during a split leaves the map exactly as it was") {
  using M = SegmentedHashMap<std::uint64_t, std::uint64_t, AutoContext<std::uint64_t>, 16,
                             kDefaultMaxLoadPercentage, map_test::FailingAllocator<std::byte>>;
  map_test::AllocState st;
  std::size_t failed_splits = 0;
  {
    M map{map_test::FailingAllocator<std::byte>(&st)};
    for (std::uint64_t k = 0; k < 2000; ++k) {
      // Try the insert failing at the 1st, 2nd, ... allocation it makes, until it succeeds.
      const std::uint64_t splits_before = map.stats().splits;
      std::size_t failures = 0;
      for (long fail_at = 0;; ++fail_at) {
        const MapStats before = map.stats();
        const long live_before = st.live_bytes;
        st.fail_after = fail_at;
        bool threw = false;
        try {
          map.put(k, k + 1);
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        st.fail_after = -1;
        if (!threw) break;
        const MapStats after = map.stats();
        ++failures;
        REQUIRE(after.count == before.count);
        REQUIRE(after.segments == before.segments);
        REQUIRE(after.splits == before.splits);
        REQUIRE(after.directory_depth == before.directory_depth);
        REQUIRE(after.capacity == before.capacity);
        REQUIRE(st.live_bytes == live_before);  // what the failed step allocated was freed
        REQUIRE_FALSE(map.contains(k));
        REQUIRE(map.check_invariants() == nullptr);
      }
      REQUIRE(*map.get(k) == k + 1);
      if (map.stats().splits != splits_before) failed_splits += failures;  // they failed in a split
    }
    CHECK(map.stats().splits > 100);
    for (std::uint64_t k = 0; k < 2000; ++k) REQUIRE(*map.get(k) == k + 1);
    // Removals never throw: with every allocation failing, merges and shrinks are skipped.
    st.fail_after = 0;
    for (std::uint64_t k = 0; k < 1990; ++k) REQUIRE(map.remove(k));
    CHECK(map.check_invariants() == nullptr);
    st.fail_after = -1;
    for (std::uint64_t k = 1990; k < 2000; ++k) REQUIRE(*map.get(k) == k + 1);
  }
  CHECK(failed_splits > 100);
  CHECK(st.live_bytes == 0);
}

TEST_CASE("segmented map: a merge into a table already of the merged size allocates nothing") {
  // Mass deletion shrinks some segments first (their buddies are still too full to merge), so a
  // later merge finds one side's table already the size the merged segment needs: the other
  // side's entries move into it, with no allocation. With every allocation failing, only such
  // merges can happen; they must, and leave a correct map.
  using M = SegmentedHashMap<std::uint64_t, std::uint64_t, AutoContext<std::uint64_t>, 64,
                             kDefaultMaxLoadPercentage, map_test::FailingAllocator<std::byte>>;
  map_test::AllocState st;
  {
    M map{map_test::FailingAllocator<std::byte>(&st)};
    const std::uint64_t n = 20'000;
    for (std::uint64_t k = 0; k < n; ++k) map.put(k, k + 1);
    std::vector<std::uint64_t> order(n);
    for (std::uint64_t k = 0; k < n; ++k) order[k] = k;
    std::mt19937_64 rng(5);
    std::shuffle(order.begin(), order.end(), rng);
    std::size_t i = 0;
    for (; i < n * 7 / 10; ++i) REQUIRE(map.remove(order[i]));
    REQUIRE(map.stats().shrinks > 0);
    st.fail_after = 0;  // from here on every allocation fails
    const MapStats before = map.stats();
    const long live_before = st.live_bytes;
    for (; i < n * 9 / 10; ++i) {
      const Structure was(map);
      REQUIRE(map.remove(order[i]));
      if (!(Structure(map) == was)) REQUIRE(map.check_invariants() == nullptr);
    }
    const MapStats after = map.stats();
    st.fail_after = -1;
    CHECK(after.merges > before.merges + 10);
    CHECK(after.segments < before.segments);
    CHECK(st.live_bytes < live_before);  // merged segments gave their tables back
    REQUIRE(map.check_invariants() == nullptr);
    for (; i < n; ++i) REQUIRE(*map.get(order[i]) == order[i] + 1);
    CHECK(map.count() == n / 10);
  }
  CHECK(st.live_bytes == 0);
}

TEST_CASE("segmented map: growth moves at most one segment per step and never doubles memory") {
  using M = SegmentedHashMap<std::uint64_t, std::uint64_t, AutoContext<std::uint64_t>, 1024,
                             kDefaultMaxLoadPercentage, map_test::FailingAllocator<std::byte>>;
  map_test::AllocState st;
  {
    M map{map_test::FailingAllocator<std::byte>(&st)};
    const std::uint64_t n = 300'000;
    for (std::uint64_t k = 0; k < n; ++k) map.put(k, k);
    const MapStats s = map.stats();
    CHECK(s.longest_step_moves <= M::Table::max_load(1024));  // one full segment, no more
    CHECK(s.splits > 200);
    // Peak bytes (at any moment) against what the map holds at the end: one extra segment at most
    // during a split, against 1.5x for a single table that doubles.
    CHECK(static_cast<double>(st.peak_bytes) <= 1.1 * static_cast<double>(st.live_bytes));
    CHECK(map.check_invariants() == nullptr);
  }
  map_test::AllocState seed_state;
  {
    HashMap<std::uint64_t, std::uint64_t, AutoContext<std::uint64_t>, kDefaultMaxLoadPercentage,
            map_test::FailingAllocator<std::byte>>
        seed{map_test::FailingAllocator<std::byte>(&seed_state)};
    for (std::uint64_t k = 0; k < 300'000; ++k) seed.put(k, k);
    // The seed's last growth held both tables: the contrast the segmented map removes.
    CHECK(static_cast<double>(seed_state.peak_bytes) >=
          1.4 * static_cast<double>(seed_state.live_bytes));
  }
}

TEST_CASE("segmented map: after most keys are deleted the memory is close to a fresh map's") {
  U64Segmented<1024> map;
  const std::uint64_t n = 200'000;
  for (std::uint64_t k = 0; k < n; ++k) map.put(k, k);
  const std::size_t full_bytes = map.memory_bytes();
  const unsigned full_depth = map.global_depth();
  std::mt19937_64 rng(9);
  std::vector<std::uint64_t> order(n);
  for (std::uint64_t k = 0; k < n; ++k) order[k] = k;
  std::shuffle(order.begin(), order.end(), rng);
  const std::size_t keep = 2000;
  for (std::size_t i = keep; i < n; ++i) REQUIRE(map.remove(order[i]));
  REQUIRE(map.check_invariants() == nullptr);
  U64Segmented<1024> fresh;
  for (std::size_t i = 0; i < keep; ++i) fresh.put(order[i], order[i]);
  const MapStats s = map.stats();
  INFO("after delete: " << map.memory_bytes() << " bytes, " << s.segments << " segments; fresh: "
                        << fresh.memory_bytes() << " bytes, " << fresh.segments() << " segments");
  CHECK(s.merges > 100);
  CHECK(map.global_depth() < full_depth);
  CHECK(map.memory_bytes() * 20 < full_bytes);
  CHECK(static_cast<double>(map.memory_bytes()) <= 1.5 * static_cast<double>(fresh.memory_bytes()));
  for (std::size_t i = 0; i < keep; ++i) REQUIRE(*map.get(order[i]) == order[i]);
  // Deleting the rest leaves one empty segment's worth at most.
  for (std::size_t i = 0; i < keep; ++i) REQUIRE(map.remove(order[i]));
  CHECK(map.count() == 0);
  CHECK(map.segments() <= 2);
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE("segmented map: counted keys and values are neither leaked nor destroyed twice") {
  using M = SegmentedHashMap<map_test::Counted, map_test::Counted, map_test::CountedContext, 16>;
  const long before = map_test::Counted::live;
  {
    M map;
    std::mt19937_64 rng(5);
    std::unordered_map<std::uint64_t, std::uint64_t> ref;
    for (std::size_t i = 0; i < 50'000 * scale(); ++i) {
      const std::uint64_t k = rng() % 2000;
      if (rng() % 3 == 0) {
        CHECK(map.remove(k) == (ref.erase(k) == 1));
      } else {
        map.put(map_test::Counted(k), map_test::Counted(i));
        ref[k] = i;
      }
      if (i % 5000 == 0) {
        REQUIRE(map.check_invariants() == nullptr);
        REQUIRE(map_test::Counted::live - before == static_cast<long>(2 * ref.size()));
      }
    }
    for (const auto& [k, v] : ref) REQUIRE(map.get_ptr(k)->v == v);
    M moved = std::move(map);
    CHECK(moved.count() == ref.size());
    CHECK(map.count() == 0);
  }
  CHECK(map_test::Counted::live == before);
}
