// KvMap and the engine: the basics the server relies on.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "tessera/map/hash_map.hpp"
#include "tessera/map/kv_map.hpp"
#include "test_support.hpp"

using tessera::map::AutoHashMap;
using tessera::map::KvMap;
using tessera::map::StringHashMap;

TEST_CASE("KvMap put/get/remove/overwrite") {
  KvMap m;
  CHECK(m.count() == 0);
  CHECK_FALSE(m.get("a").has_value());
  CHECK(m.put("a", "1"));
  CHECK(m.put("b", "22"));
  CHECK_FALSE(m.put("a", "3"));  // same length: in place
  CHECK(*m.get("a") == "3");
  CHECK_FALSE(m.put("a", "longer value"));
  CHECK(*m.get("a") == "longer value");
  CHECK(m.contains("b"));
  CHECK(m.count() == 2);
  CHECK(m.remove("b"));
  CHECK_FALSE(m.remove("b"));
  CHECK_FALSE(m.contains("b"));
  CHECK(m.put("", ""));
  CHECK(m.get("")->empty());
  CHECK(m.check_invariants() == nullptr);
  CHECK(m.memory_bytes() == m.capacity() + 0 + m.stats().memory_bytes - m.capacity());
  m.clear();
  CHECK(m.count() == 0);
  CHECK(m.memory_bytes() == 0);
  CHECK(m.put("x", "y"));
}

TEST_CASE("KvMap many keys, stats, scan visits each key") {
  KvMap m;
  const int n = 20000;
  for (int i = 0; i < n; ++i) m.put(map_test::cat("key:", i), map_test::cat("value:", i));
  CHECK(m.count() == n);
  for (int i = 0; i < n; i += 7)
    CHECK(*m.get(map_test::cat("key:", i)) == map_test::cat("value:", i));
  for (int i = 0; i < n; i += 2) CHECK(m.remove(map_test::cat("key:", i)));
  CHECK(m.count() == n / 2);
  CHECK(m.check_invariants() == nullptr);
  auto s = m.stats();
  CHECK(s.count == n / 2);
  CHECK(s.capacity == m.capacity());
  CHECK(s.grows > 0);
  CHECK(s.max_probe >= 1);
  CHECK(s.mean_probe >= 1.0);
  CHECK(s.memory_bytes == m.memory_bytes());
  std::set<std::string> seen;
  std::uint64_t cursor = 0;
  do {
    cursor = m.scan(cursor, 10, [&](std::string_view k, std::string_view v) {
      CHECK(v.substr(6) == k.substr(4));
      seen.emplace(k);
    });
    CHECK(cursor < (std::uint64_t{1} << 32));
  } while (cursor != 0);
  CHECK(seen.size() == static_cast<std::size_t>(n / 2));
}

TEST_CASE("engine basics: AutoHashMap and StringHashMap") {
  AutoHashMap<std::uint64_t, std::uint64_t> m;
  for (std::uint64_t i = 0; i < 1000; ++i) m.put(i, i * 2);
  CHECK(m.count() == 1000);
  for (std::uint64_t i = 0; i < 1000; ++i) CHECK(*m.get(i) == i * 2);
  CHECK(m.check_invariants() == nullptr);
  StringHashMap<std::string> s;
  s.put(std::string_view("hello"), "world");
  CHECK(*s.get_ptr(std::string_view("hello")) == "world");
  CHECK(s.contains("hello"));
  CHECK_FALSE(s.contains("nope"));
}
