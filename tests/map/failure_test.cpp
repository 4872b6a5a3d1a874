// Allocation failure and throwing constructors: the strong guarantee (the map is exactly as it
// was, nothing leaks), and the debug pointer-stability lock.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "tessera/map/hash_map.hpp"
#include "test_support.hpp"

using namespace tessera::map;
using map_test::AllocState;
using map_test::Counted;
using map_test::FailingAllocator;

namespace {

using FailMap = HashMap<std::uint64_t, Counted, AutoContext<std::uint64_t>,
                        kDefaultMaxLoadPercentage, FailingAllocator<std::byte>>;

// Everything observable about a map, in slot order.
template <class M>
std::vector<std::pair<std::uint64_t, std::uint64_t>> snapshot(const M& m) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (auto e : m) out.emplace_back(*e.key_ptr, e.value_ptr->v);
  return out;
}

// Copying throws once `copies_left` reaches 0 (when armed); moves never throw.
struct ThrowOnCopy {
  static inline long copies_left = -1;
  static inline long live = 0;
  std::uint64_t v = 0;
  explicit ThrowOnCopy(std::uint64_t x) : v(x) { ++live; }
  ThrowOnCopy(const ThrowOnCopy& o) : v(o.v) {
    if (copies_left == 0) throw std::runtime_error("copy failed");
    if (copies_left > 0) --copies_left;
    ++live;
  }
  ThrowOnCopy(ThrowOnCopy&& o) noexcept : v(o.v) { ++live; }
  ThrowOnCopy& operator=(const ThrowOnCopy&) = default;
  ThrowOnCopy& operator=(ThrowOnCopy&&) noexcept = default;
  ~ThrowOnCopy() { --live; }
};
struct ThrowOnCopyContext {
  Hash hash(const ThrowOnCopy& k) const noexcept { return hash_u64(k.v); }
  bool eql(const ThrowOnCopy& a, const ThrowOnCopy& b) const noexcept { return a.v == b.v; }
};

}  // namespace

TEST_CASE("allocation failure at the growth boundary leaves the map exactly as it was") {
  AllocState st;
  const long live_before = Counted::live;
  {
    FailMap map{FailingAllocator<std::byte>(&st)};
    std::uint64_t k = 0;
    do {
      map.put(k, Counted(k * 10));
      ++k;
    } while (map.available() != 0 || map.count() < 100);
    map.remove(std::uint64_t{3});              // a tombstone or free slot: available becomes 1 ...
    map.put(std::uint64_t{1000}, Counted(1));  // ... and 0 again
    REQUIRE(map.available() == 0);
    const auto before = snapshot(map);
    const Size cap = map.capacity();
    const std::size_t bytes = map.memory_bytes();
    const long live = Counted::live;
    const long heap = st.live_bytes;

    st.fail_after = 0;  // every allocation fails from now on
    CHECK_THROWS_AS(map.put(k, Counted(7)), std::bad_alloc);
    CHECK_THROWS_AS(map.get_or_put(k), std::bad_alloc);
    CHECK_THROWS_AS(map.put_no_clobber(k, Counted(7)), std::bad_alloc);
    CHECK_THROWS_AS(map.fetch_put(k, Counted(7)), std::bad_alloc);
    CHECK_THROWS_AS(map.get_or_put_value(k, Counted(7)), std::bad_alloc);
    CHECK_THROWS_AS(map.ensure_total_capacity(cap * 4), std::bad_alloc);
    CHECK_THROWS_AS(map.ensure_unused_capacity(1), std::bad_alloc);
    CHECK_THROWS_AS((void)map.clone(), std::bad_alloc);
    CHECK(snapshot(map) == before);
    CHECK(map.capacity() == cap);
    CHECK(map.memory_bytes() == bytes);
    CHECK(Counted::live == live);
    CHECK(st.live_bytes == heap);
    CHECK(map.check_invariants() == nullptr);

    // An existing key never allocates (the seed grows before it looks).
    CHECK_FALSE(map.put(std::uint64_t{5}, Counted(55)));
    CHECK(map.get_ptr(std::uint64_t{5})->v == 55);
    CHECK(map.get_or_put(std::uint64_t{5}).found_existing);
    CHECK(map.fetch_put(std::uint64_t{6}, Counted(66))->value.v == 60);
    // Removal and AssumeCapacity inserts do not allocate either.
    CHECK(map.remove(std::uint64_t{7}));
    map.put_assume_capacity(k, Counted(1));

    st.fail_after = -1;
    map.put(k + 1, Counted(2));
    CHECK(map.capacity() == cap * 2);
    CHECK(map.check_invariants() == nullptr);
  }
  CHECK(Counted::live == live_before);
  CHECK(st.live_bytes == 0);
}

TEST_CASE("a throwing key or value copy leaves the map as it was, even when it had to grow") {
  using M = HashMap<ThrowOnCopy, ThrowOnCopy, ThrowOnCopyContext>;
  {
    M map;
    std::uint64_t k = 0;
    do {
      map.put(ThrowOnCopy(k), ThrowOnCopy(k));
      ++k;
    } while (map.available() != 0 || map.count() < 100);
    const Size cap = map.capacity();
    const Size n = map.count();
    const ThrowOnCopy key(k);
    const ThrowOnCopy value(k);
    const long live = ThrowOnCopy::live;
    ThrowOnCopy::copies_left = 0;  // the key copy throws
    CHECK_THROWS_AS(map.put(key, value), std::runtime_error);
    ThrowOnCopy::copies_left = 1;  // the key copy works, the value copy throws
    CHECK_THROWS_AS(map.put(key, value), std::runtime_error);
    ThrowOnCopy::copies_left = -1;
    CHECK(map.capacity() == cap);  // the entry is built before the table grows
    CHECK(map.count() == n);
    CHECK(ThrowOnCopy::live == live);
    CHECK(map.check_invariants() == nullptr);

    // clone: a copy that fails half-way destroys what it made and frees the table.
    ThrowOnCopy::copies_left = 7;
    CHECK_THROWS_AS((void)map.clone(), std::runtime_error);
    ThrowOnCopy::copies_left = -1;
    CHECK(ThrowOnCopy::live == live);
    M copy = map.clone();
    CHECK(copy.count() == n);
    CHECK(copy.check_invariants() == nullptr);
  }
  CHECK(ThrowOnCopy::live == 0);
}

TEST_CASE("allocation failure on an empty map, then recovery (seed #19358)") {
  AllocState st;
  st.fail_after = 0;
  FailMap map{FailingAllocator<std::byte>(&st)};
  CHECK_THROWS_AS(map.put(std::uint64_t{1}, Counted(1)), std::bad_alloc);
  CHECK_THROWS_AS(map.ensure_total_capacity(10), std::bad_alloc);
  CHECK(map.capacity() == 0);
  st.fail_after = 1;  // one allocation works, then failures again
  map.put(std::uint64_t{1}, Counted(1));
  for (std::uint64_t i = 2; map.available() > 0; ++i) map.put(i, Counted(i));
  CHECK_THROWS_AS(map.put(std::uint64_t{999}, Counted(1)), std::bad_alloc);
  CHECK(map.check_invariants() == nullptr);
}

// ---- the debug pointer-stability lock -----------------------------------------------------------

#ifndef NDEBUG
namespace {
// Runs fn in a child process; true when the child died of SIGABRT (the lock's assertion).
template <class Fn>
bool aborts(Fn fn) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);
    fn();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}
}  // namespace

TEST_CASE("lock_pointers: operations that may move entries abort; the others do not") {
  using M = AutoHashMap<std::uint64_t, std::uint64_t>;
  auto locked = [] {
    M m;
    for (std::uint64_t i = 0; i < 10; ++i) m.put(i, i);
    m.lock_pointers();
    return m;
  };
  CHECK(aborts([&] { locked().put(std::uint64_t{100}, std::uint64_t{1}); }));
  CHECK(aborts([&] { locked().get_or_put(std::uint64_t{100}); }));
  CHECK(aborts([&] { locked().put_no_clobber(std::uint64_t{100}, std::uint64_t{1}); }));
  CHECK(aborts([&] { locked().ensure_total_capacity(1000); }));
  CHECK(aborts([&] { locked().clear_retaining_capacity(); }));
  CHECK(aborts([&] { locked().clear_and_free(); }));
  CHECK(aborts([&] { locked().rehash(); }));
  CHECK(aborts([&] {
    M m;
    m.unlock_pointers();  // unlock without lock
  }));
  // Shared lock: nests; lookups, removals, overwrites of existing keys and AssumeCapacity inserts
  // keep pointers valid and are allowed.
  CHECK_FALSE(aborts([&] {
    M m;
    for (std::uint64_t i = 0; i < 10; ++i) m.put(i, i);
    std::uint64_t* p = m.get_ptr(std::uint64_t{3});
    m.lock_pointers();
    m.lock_pointers();
    m.put(std::uint64_t{3}, std::uint64_t{33});
    (void)m.get(std::uint64_t{4});
    m.remove(std::uint64_t{5});
    m.put_assume_capacity(std::uint64_t{50}, std::uint64_t{1});
    if (*p != 33) std::abort();
    m.unlock_pointers();
    m.unlock_pointers();
    m.put(std::uint64_t{100}, std::uint64_t{1});
  }));
}
#endif
