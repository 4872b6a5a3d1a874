// Hash flooding (issue 21, item 1): keys chosen by brute force to collide under a known seed, and
// what the map does about them (segmented_map.hpp, FLOODING; kv_map.hpp, The hash seed).
//
// The chosen keys: under seed S, "f:<n>" whose hash has the same low 10 bits (one home slot in
// every 1024-slot segment) and the same top 2 directory bits (every split of their segment leaves
// one side empty). About 4,096 tries per key, so a test chooses them in a few milliseconds.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tessera/map/hash.hpp"
#include "tessera/map/kv_map.hpp"
#include "tessera/map/segmented_map.hpp"
#include "test_support.hpp"

using namespace tessera::map;
using map_test::AllocState;
using map_test::FailingAllocator;

namespace {

constexpr std::uint64_t kChosenSeed = 0x5eed;

// `n` keys whose hashes under `seed` agree on the bits of `mask` (value `want`).
std::vector<std::string> chosen_keys(std::uint64_t seed, std::size_t n, std::uint64_t mask,
                                     std::uint64_t want) {
  std::vector<std::string> out;
  for (std::uint64_t i = 0; out.size() < n; ++i) {
    std::string k = "f:" + std::to_string(i);
    if ((hash_string(k, seed) & mask) == want) out.push_back(std::move(k));
  }
  return out;
}
// Same home (low 10 bits) and same top two directory bits (56, 55).
constexpr std::uint64_t kHomeAndDirectory = 0x3ffull | (0x3ull << 55);
constexpr std::uint64_t kWanted = 0x155ull;

// With the unprotected multiply these 16-byte keys (bytes 0-3 and 8-11 spell the secret the first
// word is XORed with) all hashed to one value under every seed.
std::string blinded_key(std::uint32_t a, std::uint32_t b) {
  char k[16];
  const std::uint32_t hi = 0x8bb84b93u;
  const std::uint32_t lo = 0x962eacc9u;
  std::memcpy(k, &hi, 4);
  std::memcpy(k + 4, &a, 4);
  std::memcpy(k + 8, &lo, 4);
  std::memcpy(k + 12, &b, 4);
  return std::string(k, 16);
}

struct SeededContext {
  std::uint64_t seed = 0;
  Hash hash(std::string_view s) const noexcept { return hash_string(s, seed); }
  bool eql(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

}  // namespace

TEST_CASE("hash: no input makes the seed drop out (keys that collided under every seed)") {
  std::set<Hash> under0;
  std::set<Hash> under1;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const std::string k = blinded_key(i * 7919u, i * 31337u);
    under0.insert(hash_string(k, 0));
    under1.insert(hash_string(k, 1));
  }
  CHECK(under0.size() == 1000);
  CHECK(under1.size() == 1000);
  // Long inputs: a first word equal to the loop's secret zeroed the state, seed included.
  std::string longer(40, 'x');
  const std::uint64_t secret = 0x8bb84b93962eacc9ull;
  std::memcpy(longer.data(), &secret, 8);
  CHECK(hash_string(longer, 0) != hash_string(longer, 99));
  std::string other = longer;
  other[8] = 'y';
  CHECK(hash_string(longer, 5) != hash_string(other, 5));
}

TEST_CASE("KvMap: keys chosen under its seed trigger the defence; probes and directory ordinary") {
  const auto keys = chosen_keys(kChosenSeed, 1500, kHomeAndDirectory, kWanted);
  KvMap m(kChosenSeed);
  for (const auto& k : keys) m.put(k, "v");
  const MapStats s = m.stats();
  CHECK(s.reseeds >= 1);
  CHECK(s.long_probes + s.lopsided_splits + s.refused_doublings > 0);
  CHECK(m.hash_seed() != kChosenSeed);
  // Ordinary again: 16M random inserts into full 1024-slot tables never probed past 237 slots.
  CHECK(s.max_probe < 240);
  CHECK((std::size_t{1} << s.directory_depth) <= 4 * s.segments);
  CHECK(m.count() == keys.size());
  for (const auto& k : keys) REQUIRE(m.get(k) == std::optional<std::string_view>("v"));
  CHECK(m.check_invariants() == nullptr);
}

TEST_CASE("KvMap: the same keys under another seed raise nothing") {
  const auto keys = chosen_keys(kChosenSeed, 1500, kHomeAndDirectory, kWanted);
  KvMap m(kChosenSeed + 1);
  for (const auto& k : keys) m.put(k, "v");
  const MapStats s = m.stats();
  CHECK(s.reseeds == 0);
  CHECK(s.long_probes == 0);
  CHECK(s.lopsided_splits == 0);
  CHECK(s.refused_doublings == 0);
  CHECK(s.max_probe < 240);
  CHECK(m.hash_seed() == kChosenSeed + 1);
}

TEST_CASE("KvMap: ordinary keys never look like a flood") {
  KvMap m(kChosenSeed);
  for (int i = 0; i < 200000; ++i) m.put("key:" + std::to_string(i), "v");
  for (int i = 0; i < 200000; i += 3) m.remove("key:" + std::to_string(i));
  const MapStats s = m.stats();
  CHECK(s.reseeds == 0);
  CHECK(s.long_probes == 0);
  CHECK(s.lopsided_splits == 0);
  CHECK(s.refused_doublings == 0);
  CHECK(m.hash_seed() == kChosenSeed);
}

TEST_CASE("segmented map without a reseeding owner: the directory stays bounded") {
  // Keys that share the top 10 directory bits, among ordinary ones: every split of their segment
  // separates only the few ordinary keys, so without the bound the directory doubled to 1024
  // entries for a few dozen segments.
  SegmentedHashMap<std::string, int, SeededContext> m(SeededContext{0});
  for (int i = 0; i < 10000; ++i) m.put("bg:" + std::to_string(i), i);
  const auto keys = chosen_keys(0, 3000, 0x3ffull << 47, 0);
  for (const auto& k : keys) m.put(k, 1);
  const MapStats s = m.stats();
  CHECK(m.flood_suspected());
  CHECK(s.refused_doublings > 0);
  CHECK((std::size_t{1} << s.directory_depth) <= decltype(m)::kDirectoryPerSegment * s.segments);
  CHECK(m.count() == 13000);
  CHECK(m.check_invariants() == nullptr);
  // The owner's rebuild under another seed ends it.
  m.rebuild(SeededContext{77});
  CHECK_FALSE(m.flood_suspected());
  CHECK(m.stats().reseeds == 1);
  CHECK(m.stats().max_probe < 240);
  CHECK(m.count() == 13000);
  for (const auto& k : keys) REQUIRE(m.get(k) == std::optional<int>(1));
  CHECK(m.check_invariants() == nullptr);
}

TEST_CASE("rebuild: strong guarantee when an allocation fails") {
  AllocState st;
  using FailMap = SegmentedHashMap<std::string, int, SeededContext, 1024, kDefaultMaxLoadPercentage,
                                   FailingAllocator<std::byte>>;
  FailMap m{FailingAllocator<std::byte>(&st), SeededContext{3}};
  for (int i = 0; i < 5000; ++i) m.put("k" + std::to_string(i), i);
  const MapStats before = m.stats();
  int failures = 0;
  for (long budget = 0;; ++budget) {
    st.fail_after = budget;
    try {
      m.rebuild(SeededContext{4});
      break;
    } catch (const std::bad_alloc&) {
      ++failures;
      st.fail_after = -1;
      REQUIRE(m.check_invariants() == nullptr);
      REQUIRE(m.context().seed == 3);
      REQUIRE(m.count() == 5000);
      REQUIRE(m.stats().segments == before.segments);
    }
  }
  st.fail_after = -1;
  CHECK(failures > 3);
  CHECK(m.context().seed == 4);
  CHECK(m.check_invariants() == nullptr);
  for (int i = 0; i < 5000; ++i) REQUIRE(m.get("k" + std::to_string(i)) == std::optional<int>(i));
}

TEST_CASE("SCAN across a reseed: every key present throughout is passed") {
  KvMap m(kChosenSeed);
  for (int i = 0; i < 20000; ++i) m.put("k" + std::to_string(i), "v");
  std::set<std::string> seen;
  std::uint64_t cursor = 0;
  for (int calls = 0; calls < 20; ++calls) {
    cursor = m.scan(cursor, 100, [&](std::string_view k, std::string_view) { seen.emplace(k); });
    REQUIRE(cursor != 0);
  }
  m.reseed(42);
  CHECK(m.hash_seed() == 42);
  CHECK(m.check_invariants() == nullptr);
  bool high_cursor = false;
  int guard = 0;
  do {
    cursor = m.scan(cursor, 100, [&](std::string_view k, std::string_view) { seen.emplace(k); });
    high_cursor = high_cursor || cursor >= (std::uint64_t{1} << 32);
  } while (cursor != 0 && ++guard < 100000);
  CHECK(cursor == 0);
  CHECK(high_cursor);  // the new epoch rides above bit 32
  CHECK(seen.size() == 20000);
}

TEST_CASE("random_entry is uniform, however sparse or dense the segments") {
  // Dense and sparse halves of the hash space: keep every key whose top directory bit is 0 and
  // one in twenty of the others, so the segments of one half hold ~20 times fewer keys.
  KvMap m(kChosenSeed);
  std::vector<std::string> kept;
  for (int i = 0; i < 40000; ++i) m.put("r" + std::to_string(i), "v");
  for (int i = 0; i < 40000; ++i) {
    const std::string k = "r" + std::to_string(i);
    const bool upper = (hash_string(k, kChosenSeed) >> 56) & 1;
    if (upper && i % 20 != 0) {
      m.remove(k);
    } else {
      kept.push_back(k);
    }
  }
  REQUIRE(m.count() == kept.size());
  std::map<std::string, std::size_t, std::less<>> hits;
  std::uint64_t state = 12345;
  auto next = [&state] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const std::size_t per_key = 40;
  const std::size_t draws = kept.size() * per_key;
  std::size_t sparse_hits = 0;
  for (std::size_t i = 0; i < draws; ++i) {
    auto e = m.random_entry(next);
    REQUIRE(e.has_value());
    ++hits[std::string(e->key())];
    if ((hash_string(e->key(), kChosenSeed) >> 56) & 1) ++sparse_hits;
  }
  CHECK(hits.size() == kept.size());
  // Pearson's chi-square over the keys: mean = degrees of freedom, sd = sqrt(2 df).
  double chi2 = 0;
  for (const auto& k : kept) {
    const double d = static_cast<double>(hits[k]) - static_cast<double>(per_key);
    chi2 += d * d / static_cast<double>(per_key);
  }
  const double df = static_cast<double>(kept.size() - 1);
  CHECK(chi2 < df + 6 * std::sqrt(2 * df));
  // The sparse half's share of the draws is its share of the keys (within 6 sigma).
  std::size_t sparse_keys = 0;
  for (const auto& k : kept) sparse_keys += (hash_string(k, kChosenSeed) >> 56) & 1;
  const double p = static_cast<double>(sparse_keys) / static_cast<double>(kept.size());
  const double expected = p * static_cast<double>(draws);
  CHECK(std::abs(static_cast<double>(sparse_hits) - expected) < 6 * std::sqrt(expected * (1 - p)));
}
