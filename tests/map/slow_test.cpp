// The seed-sized versions of the big tests (label slow: left out of the sanitizer pass).
#include <doctest/doctest.h>

#include "cases.hpp"

TEST_CASE("seed 25: rehash at the seed size (n = 4 x 100k..500k)") {
  map_test::rehash_test(100000, 500000);
}
