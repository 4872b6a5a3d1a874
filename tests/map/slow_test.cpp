// The seed-sized versions of the big tests (label slow: left out of the sanitizer pass).
#include <doctest/doctest.h>

#include "cases.hpp"

TEST_CASE("seed 25: rehash at the seed size (n = 4 x 100k..500k)") {
  map_test::rehash_test(100000, 500000);
}

TEST_CASE("random operations agree with std::unordered_map at full size: 5M over 200k keys") {
  map_test::differential_u64<tessera::map::AutoHashMap<std::uint64_t, std::uint64_t>>(5'000'000,
                                                                                      200'000, 11);
}

TEST_CASE("tombstone churn at full size: 5M remove+insert pairs over 100k live keys") {
  map_test::churn_test(100'000, 5'000'000);
}
