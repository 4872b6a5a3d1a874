// Test bodies shared by the normal suite and the `slow` suite (which runs them at full size).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <unordered_map>

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

namespace map_test {

// Random operations on a u64 -> u64 map (any context) against std::unordered_map. Every batch
// checks the invariants and that each reference key is found with its value.
template <class Map>
void differential_u64(std::size_t ops, std::uint64_t key_range, std::uint64_t seed) {
  Map map;
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  std::mt19937_64 rng(seed);
  const std::size_t batch = std::max<std::size_t>(ops / 50, 1000);
  for (std::size_t i = 0; i < ops; ++i) {
    const std::uint64_t k = rng() % key_range;
    const std::uint64_t v = rng();
    const unsigned op = static_cast<unsigned>(rng() % 100);
    if (op < 35) {
      map.put(k, v);
      ref[k] = v;
    } else if (op < 40) {
      auto e = map.get_or_put_value(k, v);
      auto [it, inserted] = ref.try_emplace(k, v);
      REQUIRE(*e.value_ptr == it->second);
      (void)inserted;
    } else if (op < 45) {
      if (!ref.count(k)) {
        map.put_no_clobber(k, v);
        ref[k] = v;
      }
    } else if (op < 70) {
      REQUIRE(map.remove(k) == (ref.erase(k) == 1));
    } else if (op < 73) {
      if (auto* kp = map.get_key_ptr(k)) {
        map.remove_by_ptr(kp);
        REQUIRE(ref.erase(k) == 1);
      }
    } else if (op < 75) {
      if (map.available() > 0) {
        map.put_assume_capacity(k, v);
        ref[k] = v;
      }
    } else if (op < 76 && rng() % 50 == 0) {
      map.rehash();
    } else if (op < 77 && rng() % 20 == 0) {
      map.ensure_unused_capacity(rng() % 64);
    } else {
      auto it = ref.find(k);
      const auto got = map.get(k);
      REQUIRE(got.has_value() == (it != ref.end()));
      if (got) REQUIRE(*got == it->second);
    }
    if (i % batch == batch - 1) {
      const char* err = map.check_invariants();
      INFO("op " << i);
      REQUIRE(err == nullptr);
      REQUIRE(map.count() == ref.size());
      for (const auto& [rk, rv] : ref) REQUIRE(*map.get(rk) == rv);
      std::size_t seen = 0;
      for (auto e : map) {
        REQUIRE(ref.at(*e.key_ptr) == *e.value_ptr);
        ++seen;
      }
      REQUIRE(seen == ref.size());
    }
  }
}

// Tombstone churn (the seed's #17851): a window of `live` keys slides forward, so every insert is
// a new key and every removal leaves a tombstone. The table must neither grow past the size it
// needs nor let probes get long: the automatic in-place rehash keeps both in check.
inline void churn_test(std::uint64_t live, std::size_t ops) {
  tessera::map::AutoHashMap<std::uint64_t, std::uint64_t> map;
  for (std::uint64_t k = 0; k < live; ++k) map.put(k, k);
  const auto cap = map.capacity();
  const double fresh_mean = map.stats().mean_probe;  // linear probing at this load, no tombstones
  std::uint64_t next = live;
  double worst_mean = 0;
  for (std::size_t i = 0; i < ops; ++i) {
    REQUIRE(map.remove(next - live));
    map.put(next, next);
    ++next;
    if (i % (ops / 20) == 0) {
      REQUIRE(map.check_invariants() == nullptr);
      REQUIRE(map.count() == live);
      worst_mean = std::max(worst_mean, map.stats().mean_probe);
    }
  }
  REQUIRE(map.check_invariants() == nullptr);
  const auto st = map.stats();
  CHECK(map.capacity() == cap);  // no growth from tombstones
  CHECK(st.rehashes > 0);        // the automatic in-place rehash ran
  CHECK(st.tombstones + st.count <= (cap + decltype(map)::Unmanaged::max_load(cap)) / 2);
  // Probes stay short throughout: no drift towards the seed's #17851 (where they grow without
  // bound).
  CHECK(worst_mean < 2 * fresh_mean + 1);
  for (std::uint64_t k = next - live; k < next; ++k) REQUIRE(*map.get(k) == k);
  for (std::uint64_t k = 0; k < next - live; k += 97) REQUIRE_FALSE(map.contains(k));
}

}  // namespace map_test
