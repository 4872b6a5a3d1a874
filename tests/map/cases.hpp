// Test bodies shared by the normal suite and the `slow` suite (which runs them at full size).
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <random>

#include "tessera/map/hash_map.hpp"

namespace map_test {

// The seed's "rehash" test: n = 4 * rand[lo, hi), put i and remove every i % 3 == 0, rehash().
inline void rehash_test(std::size_t lo, std::size_t hi) {
  std::mt19937_64 rng(0);
  const std::size_t n = 4 * std::uniform_int_distribution<std::size_t>(lo, hi - 1)(rng);
  tessera::map::AutoHashMap<std::uint64_t, std::uint64_t> map;
  for (std::uint64_t i = 0; i < n; ++i) {
    map.put(i, i);
    if (i % 3 == 0) map.remove(i);
  }
  map.rehash();
  CHECK(map.count() == n * 2 / 3);
  CHECK(map.tombstones() == 0);
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i % 3 == 0) {
      CHECK_FALSE(map.contains(i));
    } else {
      const auto v = map.get(i);
      if (!v || *v != i) FAIL("key " << i << " lost or wrong after rehash");
    }
  }
  CHECK(map.check_invariants() == nullptr);
}

}  // namespace map_test
