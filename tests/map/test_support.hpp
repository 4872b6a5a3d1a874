// Shared helpers for the map tests: scale, counting types, contexts, a failing allocator.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "tessera/map/hash.hpp"

namespace map_test {

// Iteration counts are multiplied by TESSERA_MAP_TEST_SCALE (default 1): the sizes below keep the
// Debug+ASan pass short; the `slow` tests set their own sizes.
inline std::size_t scale() {
  static const std::size_t s = [] {
    const char* e = std::getenv("TESSERA_MAP_TEST_SCALE");
    const long v = e ? std::atol(e) : 1;
    return static_cast<std::size_t>(v > 0 ? v : 1);
  }();
  return s;
}

// prefix + decimal i. (Not `"s" + std::to_string(i)`: g++ 12 -O3 reports a false -Wrestrict on it.)
inline std::string cat(std::string_view prefix, long long i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

// Counts live instances and catches double destruction and use of destroyed objects.
struct Counted {
  static inline long live = 0;
  static inline long constructed = 0;
  static constexpr std::uint32_t kAlive = 0xA11CEu;
  static constexpr std::uint32_t kDead = 0xDEADu;
  std::uint64_t v = 0;
  std::uint32_t magic = kAlive;

  Counted() noexcept { ++live, ++constructed; }
  explicit Counted(std::uint64_t x) noexcept : v(x) { ++live, ++constructed; }
  Counted(const Counted& o) noexcept : v(o.v) {
    o.check();
    ++live, ++constructed;
  }
  Counted(Counted&& o) noexcept : v(o.v) {
    o.check();
    ++live, ++constructed;
  }
  Counted& operator=(const Counted& o) noexcept {
    check();
    o.check();
    v = o.v;
    return *this;
  }
  Counted& operator=(Counted&& o) noexcept {
    check();
    o.check();
    v = o.v;
    return *this;
  }
  ~Counted() {
    check();
    magic = kDead;
    --live;
  }
  void check() const noexcept {
    if (magic != kAlive) {
      std::fprintf(stderr, "Counted: use of a destroyed or never-built object\n");
      std::abort();
    }
  }
  bool operator==(const Counted& o) const noexcept { return v == o.v; }
};

struct CountedContext {
  tessera::map::Hash hash(const Counted& c) const noexcept {
    c.check();
    return tessera::map::hash_u64(c.v);
  }
  tessera::map::Hash hash(std::uint64_t v) const noexcept { return tessera::map::hash_u64(v); }
  bool eql(const Counted& a, const Counted& b) const noexcept { return a.v == b.v; }
  bool eql(std::uint64_t a, const Counted& b) const noexcept { return a == b.v; }
};

// Every key collides: one probe run, same fingerprint (the Abseil BadTable idea).
struct CollideContext {
  tessera::map::Hash hash(std::uint64_t) const noexcept { return 0x9e3779b97f4a7c15ull; }
  bool eql(std::uint64_t a, std::uint64_t b) const noexcept { return a == b; }
};

// hash(k) = k: homes are chosen by the test (fingerprint 0 for small keys).
struct IdentityContext {
  tessera::map::Hash hash(std::uint64_t k) const noexcept { return k; }
  bool eql(std::uint64_t a, std::uint64_t b) const noexcept { return a == b; }
};

// A context with state: the hash depends on a seed held in the context.
struct SeededContext {
  std::uint64_t seed = 0;
  tessera::map::Hash hash(std::uint64_t k) const noexcept {
    return tessera::map::hash_u64(k, seed);
  }
  bool eql(std::uint64_t a, std::uint64_t b) const noexcept { return a == b; }
};

// An allocator that fails on demand: after `fail_after` more successful allocations (negative:
// never). Tracks live bytes so that a test can prove nothing leaked.
struct AllocState {
  long fail_after = -1;
  long live_bytes = 0;
  long peak_bytes = 0;  // the most live at any moment
  long allocations = 0;
};
template <class T>
struct FailingAllocator {
  using value_type = T;
  AllocState* state;
  explicit FailingAllocator(AllocState* s) noexcept : state(s) {}
  template <class U>
  FailingAllocator(const FailingAllocator<U>& o) noexcept : state(o.state) {}
  T* allocate(std::size_t n) {
    if (state->fail_after == 0) throw std::bad_alloc();
    if (state->fail_after > 0) --state->fail_after;
    ++state->allocations;
    state->live_bytes += static_cast<long>(n * sizeof(T));
    state->peak_bytes = std::max(state->peak_bytes, state->live_bytes);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    state->live_bytes -= static_cast<long>(n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const FailingAllocator<U>& o) const noexcept {
    return state == o.state;
  }
};

}  // namespace map_test
