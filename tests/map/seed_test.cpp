// The seed's 26 tests (hashmap-zig.md section 9), ported one for one, plus the extra cases that
// section asks for. Names follow the seed's test names. The tests that do not depend on the seed's
// single table (its capacities, AssumeCapacity inserts, clone, rehash, the unmanaged engine) run on
// both the seed's HashMap and the SegmentedHashMap (with 16-slot segments, so that they split and
// merge all the time).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cases.hpp"
#include "tessera/map/hash_map.hpp"
#include "tessera/map/segmented_map.hpp"
#include "test_support.hpp"

using namespace tessera::map;
using map_test::scale;

namespace {
using U32Map = AutoHashMap<std::uint32_t, std::uint32_t>;
using U64Map = AutoHashMap<std::uint64_t, std::uint64_t>;

// The two map families the shared tests run on.
struct SeedTable {
  template <class K, class V, class Ctx>
  using Map = HashMap<K, V, Ctx>;
};
struct SegmentedTable {
  template <class K, class V, class Ctx>
  using Map = SegmentedHashMap<K, V, Ctx, 16>;
};
template <class Family, class K, class V, class Ctx = AutoContext<K>>
using MapOf = typename Family::template Map<K, V, Ctx>;
}  // namespace

TEST_CASE_TEMPLATE("seed 1: basic usage", Family, SeedTable, SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  for (std::uint32_t i = 0; i < 5; ++i) map.put(i, i);
  std::uint32_t sum = 0;
  for (auto e : map) sum += *e.key_ptr;
  CHECK(sum == 10);
  for (std::uint32_t i = 0; i < 5; ++i) CHECK(*map.get(i) == i);
}

TEST_CASE("seed 2: ensureTotalCapacity") {
  AutoHashMap<int, int> map;
  map.ensure_total_capacity(20);
  const Size cap = map.capacity();
  CHECK(cap >= 20);
  for (int i = 0; i < 20; ++i) CHECK_FALSE(map.fetch_put_assume_capacity(i, i + 10).has_value());
  CHECK(map.capacity() == cap);
}

TEST_CASE("seed 3: ensureUnusedCapacity with tombstones") {
  AutoHashMap<int, int> map;
  for (int i = 0; i < 100; ++i) {
    map.ensure_unused_capacity(1);
    map.put_assume_capacity(i, i);
    CHECK(map.remove(i));
  }
  CHECK(map.count() == 0);
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE("seed 4: clearRetainingCapacity") {
  U32Map map;
  map.clear_retaining_capacity();
  CHECK(map.capacity() == 0);
  map.put(1u, 1u);
  CHECK(*map.get(1u) == 1);
  CHECK(map.count() == 1);
  map.clear_retaining_capacity();
  map.put_assume_capacity(1u, 1u);
  CHECK(*map.get(1u) == 1);
  CHECK(map.count() == 1);
  const Size cap = map.capacity();
  CHECK(cap > 0);
  map.clear_retaining_capacity();
  map.clear_retaining_capacity();
  CHECK(map.count() == 0);
  CHECK(map.capacity() == cap);
  CHECK_FALSE(map.contains(1u));
}

TEST_CASE_TEMPLATE("seed 5: grow", Family, SeedTable, SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  const std::uint32_t n = 12456;
  for (std::uint32_t i = 0; i < n; ++i) map.put(i, i);
  CHECK(map.count() == n);
  std::uint32_t visited = 0;
  for (auto e : map) {
    CHECK(*e.key_ptr == *e.value_ptr);
    ++visited;
  }
  CHECK(visited == n);
  for (std::uint32_t i = 0; i < n; ++i) CHECK(*map.get(i) == i);
}

TEST_CASE("seed 6: clone") {
  U32Map a;
  U32Map b = a.clone();
  CHECK(b.count() == 0);
  b.put(1u, 1u);
  CHECK(*b.get(1u) == 1);

  for (std::uint32_t i = 0; i < 3; ++i) a.put(i, i);
  U32Map c = a.clone();
  CHECK(c.count() == 3);
  for (std::uint32_t i = 0; i < 3; ++i) CHECK(*c.get(i) == i);

  U32Map d;
  for (std::uint32_t i = 0; i < 10; ++i) d.put_no_clobber(i, i * 10);
  U32Map e = d.clone();
  CHECK(e.count() == 10);
  for (std::uint32_t i = 0; i < 10; ++i) CHECK(*e.get(i) == i * 10);
}

TEST_CASE("seed 7: ensureTotalCapacity with existing elements") {
  U32Map map;
  map.put(0u, 0u);
  CHECK(map.count() == 1);
  CHECK(map.capacity() == 8);
  map.ensure_total_capacity(65);
  CHECK(map.count() == 1);
  CHECK(map.capacity() == 128);
}

TEST_CASE("seed 8: ensureTotalCapacity satisfies max load factor") {
  U32Map map;
  map.ensure_total_capacity(127);
  CHECK(map.capacity() == 256);
}

TEST_CASE_TEMPLATE("seed 9: remove", Family, SeedTable, SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  for (std::uint32_t i = 0; i < 16; ++i) map.put(i, i);
  for (std::uint32_t i = 0; i < 16; ++i) {
    if (i % 3 == 0) map.remove(i);
  }
  CHECK(map.count() == 10);
  for (auto e : map) {
    CHECK(*e.key_ptr == *e.value_ptr);
    CHECK(*e.key_ptr % 3 != 0);
  }
  for (std::uint32_t i = 0; i < 16; ++i) {
    if (i % 3 == 0) {
      CHECK_FALSE(map.contains(i));
    } else {
      CHECK(*map.get(i) == i);
    }
  }
}

TEST_CASE_TEMPLATE("seed 10: reverse removes", Family, SeedTable, SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  for (std::uint32_t i = 0; i < 16; ++i) map.put_no_clobber(i, i);
  for (int i = 15; i >= 0; --i) {
    CHECK(map.remove(static_cast<std::uint32_t>(i)));
    for (int j = 0; j < i; ++j) CHECK(*map.get(static_cast<std::uint32_t>(j)) == j);
  }
  CHECK(map.count() == 0);
}

TEST_CASE_TEMPLATE("seed 11: multiple removes on same metadata", Family, SeedTable,
                   SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  for (std::uint32_t i = 0; i < 16; ++i) map.put(i, i);
  CHECK(map.remove(7u));
  CHECK(map.remove(15u));
  CHECK(map.remove(14u));
  CHECK(map.remove(13u));
  CHECK_FALSE(map.contains(7u));
  CHECK_FALSE(map.contains(15u));
  CHECK_FALSE(map.contains(14u));
  CHECK_FALSE(map.contains(13u));
  for (std::uint32_t i = 0; i < 13; ++i) {
    if (i != 7) CHECK(*map.get(i) == i);
  }
  map.put(15u, 15u);
  map.put(13u, 13u);
  map.put(14u, 14u);
  map.put(7u, 7u);
  for (std::uint32_t i = 0; i < 16; ++i) CHECK(*map.get(i) == i);
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE_TEMPLATE("seed 12: put and remove loop in random order", Family, SeedTable,
                   SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  std::vector<std::uint32_t> keys(32);
  std::iota(keys.begin(), keys.end(), 0u);
  std::mt19937_64 rng(0);
  for (int round = 0; round < 68; ++round) {
    std::shuffle(keys.begin(), keys.end(), rng);
    for (auto k : keys) map.put(k, k);
    CHECK(map.count() == 32);
    for (auto k : keys) map.remove(k);
    CHECK(map.count() == 0);
  }
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE_TEMPLATE("seed 13: remove many elements in random order", Family, SeedTable,
                   SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  const std::uint32_t n = static_cast<std::uint32_t>(100000 * scale());
  std::vector<std::uint32_t> keys(n);
  std::iota(keys.begin(), keys.end(), 0u);
  std::mt19937_64 rng(0);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (auto k : keys) map.put(k, k);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (auto k : keys) map.remove(k);
  CHECK(map.count() == 0);
}

TEST_CASE_TEMPLATE("seed 14: put", Family, SeedTable, SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  for (std::uint32_t i = 0; i < 16; ++i) map.put(i, i);
  for (std::uint32_t i = 0; i < 16; ++i) CHECK(*map.get(i) == i);
  for (std::uint32_t i = 0; i < 16; ++i) map.put(i, i * 16 + 1);
  for (std::uint32_t i = 0; i < 16; ++i) CHECK(*map.get(i) == i * 16 + 1);
}

TEST_CASE("seed 15: putAssumeCapacity") {
  U32Map map;
  map.ensure_total_capacity(20);
  for (std::uint32_t i = 0; i < 20; ++i) map.put_assume_capacity_no_clobber(i, i);
  std::uint32_t sum = 0;
  for (std::uint32_t i = 0; i < 20; ++i) sum += *map.get_ptr(i);
  CHECK(sum == 190);
  for (std::uint32_t i = 0; i < 20; ++i) map.put_assume_capacity(i, 1u);
  sum = 0;
  for (std::uint32_t i = 0; i < 20; ++i) sum += *map.get(i);
  CHECK(sum == 20);
}

TEST_CASE("seed 16: repeat putAssumeCapacity/remove") {
  U32Map map;
  map.ensure_total_capacity(20);
  const std::uint32_t limit = map.available();
  CHECK(limit == 25);
  for (std::uint32_t i = 0; i < limit; ++i) map.put_assume_capacity_no_clobber(i, i);
  // Repeatedly delete and insert a new key: the table runs with no free slot budget at all.
  for (std::uint32_t i = 0; i < limit * 10; ++i) {
    CHECK(map.remove(i));
    if (i % 2 == 0) {
      map.put_assume_capacity_no_clobber(i + limit, i + limit);
    } else {
      map.put_assume_capacity(i + limit, i + limit);
    }
  }
  for (std::uint32_t i = 0; i < 10 * limit; ++i) CHECK_FALSE(map.contains(i));
  for (std::uint32_t i = 10 * limit; i < 11 * limit; ++i) CHECK(*map.get(i) == i);
  CHECK(map.available() == 0);
  CHECK(map.count() == limit);
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE_TEMPLATE("seed 17: getOrPut", Family, SeedTable, SegmentedTable) {
  using U32Map = MapOf<Family, std::uint32_t, std::uint32_t>;
  U32Map map;
  for (std::uint32_t i = 0; i < 10; ++i) map.put(i * 2, 2u);
  for (std::uint32_t i = 0; i < 20; ++i) map.get_or_put_value(i, 1u);
  std::uint32_t sum = 0;
  for (std::uint32_t i = 0; i < 20; ++i) sum += *map.get(i);
  CHECK(sum == 30);
}

TEST_CASE_TEMPLATE("seed 18: basic hash map usage", Family, SeedTable, SegmentedTable) {
  MapOf<Family, int, int> map;
  CHECK_FALSE(map.fetch_put(1, 11).has_value());
  CHECK_FALSE(map.fetch_put(2, 22).has_value());
  CHECK_FALSE(map.fetch_put(3, 33).has_value());
  CHECK_FALSE(map.fetch_put(4, 44).has_value());
  map.put_no_clobber(5, 55);
  auto old = map.fetch_put(5, 66);
  REQUIRE(old.has_value());
  CHECK(old->key == 5);
  CHECK(old->value == 55);
  old = map.fetch_put(5, 55);
  REQUIRE(old.has_value());
  CHECK(old->value == 66);

  auto gop1 = map.get_or_put(5);
  CHECK(gop1.found_existing);
  CHECK(*gop1.value_ptr == 55);
  *gop1.value_ptr = 77;
  CHECK(*map.get_entry(5)->value_ptr == 77);

  auto gop2 = map.get_or_put(99);
  CHECK_FALSE(gop2.found_existing);
  *gop2.value_ptr = 42;
  CHECK(*map.get_entry(99)->value_ptr == 42);

  auto e1 = map.get_or_put_value(5, 5);
  CHECK(*e1.value_ptr == 77);
  auto e2 = map.get_or_put_value(100, 41);
  CHECK(*e2.value_ptr == 41);

  CHECK(map.contains(2));
  CHECK(*map.get_entry(2)->value_ptr == 22);
  CHECK(*map.get(2) == 22);

  auto rmv1 = map.fetch_remove(2);
  REQUIRE(rmv1.has_value());
  CHECK(rmv1->key == 2);
  CHECK(rmv1->value == 22);
  CHECK_FALSE(map.fetch_remove(2).has_value());
  CHECK_FALSE(map.remove(2));
  CHECK_FALSE(map.get_entry(2).has_value());
  CHECK_FALSE(map.get(2).has_value());

  CHECK(map.remove(3));
}

namespace {
// Looks up u64 keys by their decimal spelling (the seed's adapter example).
struct DecimalAdapter {
  static std::uint64_t parse(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  Hash hash(std::string_view s) const noexcept {
    return AutoContext<std::uint64_t>{}.hash(parse(s));
  }
  bool eql(std::string_view s, std::uint64_t k) const noexcept { return parse(s) == k; }
};
}  // namespace

TEST_CASE("seed 19: getOrPutAdapted") {
  U64Map map;
  const std::array<std::string_view, 10> strings = {"2",  "4",  "6",  "8",  "10",
                                                    "12", "14", "16", "18", "20"};
  for (std::size_t i = 0; i < strings.size(); ++i) {
    auto r = map.get_or_put_adapted(strings[i], DecimalAdapter{},
                                    [&] { return DecimalAdapter::parse(strings[i]); });
    CHECK_FALSE(r.found_existing);
    CHECK(*r.key_ptr == DecimalAdapter::parse(strings[i]));
    *r.value_ptr = i * 2;
  }
  CHECK(map.count() == 10);
  for (std::size_t i = 0; i < strings.size(); ++i) {
    auto r = map.get_or_put_assume_capacity_adapted(strings[i], DecimalAdapter{},
                                                    [] { return std::uint64_t{0}; });
    CHECK(r.found_existing);
    CHECK(*r.key_ptr == (i + 1) * 2);
    CHECK(*r.value_ptr == i * 2);
    CHECK(*map.get_key_adapted(strings[i], DecimalAdapter{}) == (i + 1) * 2);
  }
}

TEST_CASE("seed 20: ensureUnusedCapacity") {
  U64Map map;
  map.ensure_unused_capacity(32);
  const Size cap = map.capacity();
  map.ensure_unused_capacity(32);
  CHECK(map.capacity() == cap);
}

TEST_CASE_TEMPLATE("seed 21: removeByPtr", Family, SeedTable, SegmentedTable) {
  using U64Map = MapOf<Family, std::uint64_t, std::uint64_t>;
  U64Map map;
  for (std::uint64_t i = 0; i < 10; ++i) map.put(i, i);
  CHECK(map.count() == 10);
  for (std::uint64_t i = 0; i < 10; ++i) {
    std::uint64_t* kp = map.get_key_ptr(i);
    REQUIRE(kp != nullptr);
    map.remove_by_ptr(kp);
  }
  CHECK(map.count() == 0);
  CHECK(map.check_invariants() == nullptr);
}

namespace {
// C++ has no zero-sized types: the analogue of the seed's u0 key is a key with one possible value.
struct OnlyKey {
  bool operator==(const OnlyKey&) const noexcept { return true; }
};
struct OnlyKeyContext {
  Hash hash(const OnlyKey&) const noexcept { return hash_bytes("", 0); }
  bool eql(const OnlyKey&, const OnlyKey&) const noexcept { return true; }
};
}  // namespace

TEST_CASE_TEMPLATE("seed 22: removeByPtr 0 sized key", Family, SeedTable, SegmentedTable) {
  MapOf<Family, OnlyKey, std::uint64_t, OnlyKeyContext> map;
  map.put(OnlyKey{}, std::uint64_t{0});
  CHECK(map.count() == 1);
  OnlyKey* kp = map.get_key_ptr(OnlyKey{});
  REQUIRE(kp != nullptr);
  map.remove_by_ptr(kp);
  CHECK(map.count() == 0);
  // Stronger than the seed (whose u0 removeByPtr assumes slot 0): the entry is really gone.
  CHECK_FALSE(map.contains(OnlyKey{}));
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE("seed 23: repeat fetchRemove") {
  std::allocator<std::byte> alloc;
  AutoHashMapUnmanaged<std::uint64_t, void> map;
  map.ensure_total_capacity(alloc, 4);
  CHECK(map.capacity() == 8);
  CHECK(map.available() == 6);
  for (std::uint64_t i = 0; i < 4; ++i) map.put_assume_capacity(i);
  for (int i = 0; i < 10; ++i) {
    CHECK(map.fetch_remove(std::uint64_t{3}).has_value());
    map.put_assume_capacity(std::uint64_t{3});
  }
  for (std::uint64_t i = 0; i < 4; ++i) CHECK(map.contains(i));
  CHECK(map.available() == 2);
  map.deinit(alloc);
}

TEST_CASE("seed 24: getOrPut allocation failure") {
  map_test::AllocState st;
  st.fail_after = 0;
  map_test::FailingAllocator<std::byte> alloc(&st);
  AutoHashMapUnmanaged<std::uint64_t, bool> map;
  CHECK_THROWS_AS(map.get_or_put(alloc, std::uint64_t{1}), std::bad_alloc);
  CHECK(map.count() == 0);
  CHECK(map.capacity() == 0);
  CHECK(st.live_bytes == 0);
  // The map (and its pointer lock) are still usable.
  st.fail_after = -1;
  CHECK_FALSE(map.get_or_put(alloc, std::uint64_t{1}).found_existing);
  map.deinit(alloc);
  CHECK(st.live_bytes == 0);
}

TEST_CASE("seed 25: rehash") { map_test::rehash_test(10000 * scale(), 50000 * scale()); }

TEST_CASE_TEMPLATE("seed 26: removeByPtr, key is array", Family, SeedTable, SegmentedTable) {
  MapOf<Family, std::array<std::uint32_t, 2>, std::uint32_t> map;
  const std::array<std::uint32_t, 2> key{0, 1};
  map.put(key, 0u);
  CHECK(*map.get(key) == 0);
  auto* kp = map.get_key_ptr(key);
  REQUIRE(kp != nullptr);
  map.remove_by_ptr(kp);
  CHECK(map.count() == 0);
  CHECK_FALSE(map.get(key).has_value());
}

// ---- the cases the reference's section 9 adds to the seed's ---------------------------------

TEST_CASE(
    "key_iterator and value_iterator visit each entry once; values can be written through them") {
  U32Map map;
  for (std::uint32_t i = 0; i < 100; ++i) map.put(i, i * 3);
  std::uint64_t ksum = 0;
  std::uint64_t vsum = 0;
  for (auto k : map.key_iterator()) ksum += k;
  for (auto& v : map.value_iterator()) v += 1;
  for (auto v : map.value_iterator()) vsum += v;
  CHECK(ksum == 4950);
  CHECK(vsum == 4950 * 3 + 100);
  // The seed's next() style.
  auto it = map.key_iterator().begin();
  std::size_t n = 0;
  while (it.next() != nullptr) ++n;
  CHECK(n == 100);
  auto eit = map.iterator();
  n = 0;
  while (auto e = eit.next()) {
    CHECK(*e->value_ptr == *e->key_ptr * 3 + 1);
    ++n;
  }
  CHECK(n == 100);
  const U32Map& cm = map;
  n = 0;
  for (auto e : cm) n += (*e.key_ptr < 100);
  CHECK(n == 100);
}

TEST_CASE(
    "a stateful context: two maps with different seeds, and the unmanaged engine with an explicit "
    "context") {
  using M = HashMap<std::uint64_t, std::uint64_t, map_test::SeededContext>;
  M a(map_test::SeededContext{1});
  M b(map_test::SeededContext{2});
  for (std::uint64_t i = 0; i < 1000; ++i) {
    a.put(i, i);
    b.put(i, i + 1);
  }
  CHECK(a.context().seed == 1);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    CHECK(*a.get(i) == i);
    CHECK(*b.get(i) == i + 1);
  }
  CHECK(a.check_invariants() == nullptr);
  CHECK(b.check_invariants() == nullptr);
  // Unmanaged with an explicit context on every call.
  std::allocator<std::byte> alloc;
  HashMapUnmanaged<std::uint64_t, std::uint64_t, map_test::SeededContext> u;
  const map_test::SeededContext ctx{7};
  for (std::uint64_t i = 0; i < 100; ++i) u.put_ctx(alloc, i, ctx, i * 2);
  for (std::uint64_t i = 0; i < 100; ++i) CHECK(*u.get(i, ctx) == i * 2);
  CHECK(u.check_invariants(ctx) == nullptr);
  u.deinit(alloc);
}

TEST_CASE("a lookup miss in a table with no free slot stops after cap slots (the limit path)") {
  HashMap<std::uint64_t, std::uint64_t, map_test::IdentityContext> map;
  map.ensure_total_capacity(6);
  REQUIRE(map.capacity() == 8);
  for (std::uint64_t k = 0; k < 6; ++k) map.put_assume_capacity(k, k);  // slots 0..5
  map.remove(std::uint64_t{0});                                         // 1 is used: tombstone
  map.put_assume_capacity(std::uint64_t{6}, std::uint64_t{6});          // slot 6
  map.remove(std::uint64_t{1});                                         // 2 is used: tombstone
  map.put_assume_capacity(std::uint64_t{7}, std::uint64_t{7});          // slot 7
  REQUIRE(map.count() + map.tombstones() == map.capacity());            // no free slot left
  CHECK(map.available() == 0);
  CHECK_FALSE(map.contains(std::uint64_t{8}));   // home 0: probes all 8 slots and stops
  CHECK_FALSE(map.contains(std::uint64_t{13}));  // home 5: wraps around
  for (std::uint64_t k = 2; k < 8; ++k) CHECK(*map.get(k) == k);
  // An AssumeCapacity insert needs available > 0; a removal gives one back and reuses a tombstone.
  map.remove(std::uint64_t{4});
  map.put_assume_capacity(std::uint64_t{8}, std::uint64_t{8});
  CHECK(*map.get(std::uint64_t{8}) == 8);
  CHECK(map.check_invariants() == nullptr);
}

TEST_CASE(
    "move() empties the source; clear_and_free() frees the table; clone_with() takes a new context "
    "and allocator") {
  U64Map map;
  for (std::uint64_t i = 0; i < 50; ++i) map.put(i, i);
  U64Map moved = map.move();
  CHECK(map.count() == 0);
  CHECK(map.capacity() == 0);
  CHECK(moved.count() == 50);
  map.put(std::uint64_t{1}, std::uint64_t{2});  // the moved-from map is usable
  CHECK(*map.get(std::uint64_t{1}) == 2);

  auto cloned = moved.clone_with(std::allocator<std::byte>{}, map_test::SeededContext{99});
  static_assert(std::is_same_v<decltype(cloned)::ContextType, map_test::SeededContext>);
  CHECK(cloned.count() == 50);
  CHECK(cloned.context().seed == 99);
  for (std::uint64_t i = 0; i < 50; ++i) CHECK(*cloned.get(i) == i);
  CHECK(cloned.check_invariants() == nullptr);

  map_test::AllocState st;
  auto other = moved.clone_with(map_test::FailingAllocator<std::byte>(&st));
  CHECK(st.live_bytes > 0);
  CHECK(other.count() == 50);

  moved.clear_and_free();
  CHECK(moved.count() == 0);
  CHECK(moved.capacity() == 0);
  CHECK(moved.memory_bytes() == 0);
  moved.put(std::uint64_t{3}, std::uint64_t{3});
  CHECK(moved.count() == 1);
}

TEST_CASE("a set (V = void, or an empty tag) allocates no values array") {
  AutoHashSet<std::uint64_t> set;
  for (std::uint64_t i = 0; i < 100; ++i) set.put(i);
  CHECK(set.count() == 100);
  CHECK(set.contains(std::uint64_t{42}));
  CHECK(set.remove(std::uint64_t{42}));
  CHECK_FALSE(set.contains(std::uint64_t{42}));
  // A set's table is metadata + keys only: compare with a map of the same capacity.
  U64Map map;
  for (std::uint64_t i = 0; i < 100; ++i) map.put(i, i);
  REQUIRE(map.capacity() == set.capacity());
  CHECK(map.memory_bytes() - set.memory_bytes() == set.capacity() * sizeof(std::uint64_t));
  StringHashSet ss;
  ss.put(std::string_view("a"));
  CHECK(ss.contains("a"));
  struct Tag {};
  HashMap<std::uint64_t, Tag, AutoContext<std::uint64_t>> tagged;
  tagged.put(std::uint64_t{1}, Tag{});
  AutoHashSet<std::uint64_t> one;
  one.put(std::uint64_t{1});
  CHECK(tagged.memory_bytes() == one.memory_bytes());  // an empty tag value takes no array either
  CHECK(tagged.contains(std::uint64_t{1}));
}

TEST_CASE(
    "StringHashMap owns copies of its keys and looks them up by string_view, std::string or "
    "literal") {
  StringHashMap<int> map;
  {
    std::string k = "temporary";
    map.put(k, 1);
    k[0] = 'X';  // the map owns its copy
  }
  map.put(std::string_view("view"), 2);
  map.put("literal", 3);
  CHECK(*map.get("temporary") == 1);
  CHECK(*map.get(std::string_view("view")) == 2);
  CHECK(*map.get(std::string("literal")) == 3);
  CHECK(map.get_key("view")->size() == 4);
  CHECK(map.remove(std::string_view("view")));
  CHECK(map.count() == 2);
}

TEST_CASE("the unmanaged engine and HashMap are 16 bytes in release builds, like the seed") {
#ifdef NDEBUG
  CHECK(sizeof(AutoHashMapUnmanaged<std::uint64_t, std::uint64_t>) == 16);
  CHECK(sizeof(U64Map) == 16);
#else
  CHECK(sizeof(AutoHashMapUnmanaged<std::uint64_t, std::uint64_t>) == 24);  // + the debug lock
#endif
}

TEST_CASE("capacity_for_size and max_load give the seed's figures; over 2^31 slots throws") {
  CHECK(U32Map::capacity_for_size(1) == 2);
  CHECK(U32Map::capacity_for_size(6) == 8);
  CHECK(U32Map::capacity_for_size(7) == 16);
  CHECK(U32Map::capacity_for_size(20) == 32);
  CHECK(U32Map::capacity_for_size(25) == 32);
  CHECK(U32Map::capacity_for_size(26) == 64);
  CHECK(U32Map::capacity_for_size(65) == 128);
  CHECK(U32Map::capacity_for_size(127) == 256);
  U32Map m;
  m.ensure_total_capacity(0);
  CHECK(m.capacity() == 0);
  for (Size cap : {8u, 16u, 32u, 64u, 128u, 256u}) {
    static const Size want[] = {6, 12, 25, 51, 102, 204};
    CHECK(U32Map::Unmanaged::max_load(cap) == want[std::countr_zero(cap) - 3]);
  }
  CHECK_THROWS_AS(U32Map::capacity_for_size(std::uint64_t{1} << 32), std::length_error);
}
