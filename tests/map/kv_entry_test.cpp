// The entry block format (kv_entry.hpp) and KvMap's deadline and access-clock calls.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>

#include "tessera/map/kv_entry.hpp"
#include "tessera/map/kv_map.hpp"
#include "test_support.hpp"

using tessera::map::KvEntry;
using tessera::map::KvMap;
using Mode = KvMap::DeadlineMode;

TEST_CASE("KvEntry: a deadline costs exactly 8 bytes, none costs the 8-byte header only") {
  const KvEntry plain = KvEntry::make("key", "value");
  CHECK(plain.block_bytes() == 8 + 3 + 5);
  CHECK_FALSE(plain.view().has_deadline());
  CHECK_FALSE(plain.view().deadline().has_value());
  const KvEntry timed = KvEntry::make("key", "value", 1'700'000'000'123, 0xABCDEF);
  CHECK(timed.block_bytes() == plain.block_bytes() + 8);
  CHECK(timed.key() == "key");
  CHECK(timed.value() == "value");
  CHECK(timed.view().deadline_ms() == 1'700'000'000'123);
  CHECK(timed.view().access() == 0xABCDEF);
  // Negative and extreme deadlines round-trip (the store decides what they mean).
  CHECK(KvEntry::make("k", "", -5).view().deadline_ms() == -5);
  CHECK(KvEntry::make("k", "", INT64_MAX).view().deadline_ms() == INT64_MAX);
}

TEST_CASE("KvEntry: narrow and wide lengths at the boundaries") {
  for (std::size_t key_len : {std::size_t{0}, std::size_t{4095}, std::size_t{4096}}) {
    for (std::size_t value_len :
         {std::size_t{0}, std::size_t{(1u << 20) - 1}, std::size_t{1u << 20}}) {
      CAPTURE(key_len);
      CAPTURE(value_len);
      const std::string key(key_len, 'k'), value(value_len, 'v');
      const bool wide = key_len >= 4096 || value_len >= (1u << 20);
      for (bool with_deadline : {false, true}) {
        const KvEntry e =
            with_deadline ? KvEntry::make(key, value, 42, 7) : KvEntry::make(key, value);
        CHECK(e.key() == key);
        CHECK(e.value() == value);
        CHECK(e.view().has_deadline() == with_deadline);
        if (with_deadline) CHECK(e.view().deadline_ms() == 42);
        CHECK(e.block_bytes() ==
              (wide ? 12u : 8u) + (with_deadline ? 8u : 0u) + key_len + value_len);
      }
    }
  }
}

TEST_CASE("KvEntry: the access clock keeps 24 bits and leaves the flags alone") {
  KvEntry e = KvEntry::make("k", "v", 99);
  auto v = e.view();
  v.set_access(0xFFFFFFFF);
  CHECK(v.access() == 0xFFFFFF);
  CHECK(v.has_deadline());
  CHECK(v.deadline_ms() == 99);
  v.set_access(0);
  CHECK(v.access() == 0);
  CHECK(v.has_deadline());
  CHECK(e.value() == "v");
  const KvEntry moved = e.with_deadline(std::nullopt);
  CHECK_FALSE(moved.view().has_deadline());
  CHECK(moved.key() == "k");
  CHECK(moved.value() == "v");
}

TEST_CASE("KvMap: put's deadline modes, set/clear deadline, counts and bytes") {
  KvMap m;
  CHECK(m.put("a", "1"));
  const std::size_t plain_bytes = m.memory_bytes();
  CHECK_FALSE(m.find("a")->has_deadline());
  CHECK(m.set_deadline("a", 1000));
  CHECK(m.memory_bytes() == plain_bytes + 8);
  CHECK(m.deadline_count() == 1);
  CHECK(m.find("a")->deadline_ms() == 1000);
  CHECK(m.set_deadline("a", 2000));  // in place
  CHECK(m.memory_bytes() == plain_bytes + 8);
  CHECK(m.find("a")->deadline_ms() == 2000);
  CHECK_FALSE(m.set_deadline("missing", 5));
  CHECK(m.count() == 1);

  // kKeep: same length in place, other length in a new block; the deadline stays either way.
  CHECK_FALSE(m.put("a", "2", Mode::kKeep));
  CHECK(m.find("a")->deadline_ms() == 2000);
  CHECK_FALSE(m.put("a", "longer", Mode::kKeep));
  CHECK(*m.get("a") == "longer");
  CHECK(m.find("a")->deadline_ms() == 2000);
  CHECK(m.deadline_count() == 1);
  // kClear drops it (SET without KEEPTTL).
  CHECK_FALSE(m.put("a", "x"));
  CHECK_FALSE(m.find("a")->has_deadline());
  CHECK(m.deadline_count() == 0);
  CHECK(m.memory_bytes() == plain_bytes);
  // kSet on a new and on an existing key.
  CHECK(m.put("b", "bb", Mode::kSet, 5000));
  CHECK(m.find("b")->deadline_ms() == 5000);
  CHECK_FALSE(m.put("a", "y", Mode::kSet, 6000));
  CHECK(m.find("a")->deadline_ms() == 6000);
  CHECK(m.deadline_count() == 2);
  // kKeep on a new key: no deadline.
  CHECK(m.put("c", "c", Mode::kKeep));
  CHECK_FALSE(m.find("c")->has_deadline());
  CHECK(m.clear_deadline("a"));
  CHECK_FALSE(m.clear_deadline("a"));
  CHECK_FALSE(m.clear_deadline("c"));
  CHECK_FALSE(m.clear_deadline("missing"));
  CHECK(m.deadline_count() == 1);
  CHECK(m.remove("b"));
  CHECK(m.deadline_count() == 0);
  CHECK(m.check_invariants() == nullptr);
  m.put("d", "d", Mode::kSet, 1);
  m.clear();
  CHECK(m.deadline_count() == 0);
  CHECK(m.memory_bytes() == 0);
}

TEST_CASE("KvMap: overwrites keep the access clock; new keys start at the given one") {
  KvMap m;
  m.put("k", "v", Mode::kClear, 0, 1234);
  CHECK(m.find("k")->access() == 1234);
  m.find("k")->set_access(77);
  m.put("k", "other length");
  CHECK(m.find("k")->access() == 77);
  m.set_deadline("k", 10);
  CHECK(m.find("k")->access() == 77);
  m.clear_deadline("k");
  CHECK(m.find("k")->access() == 77);
}

TEST_CASE("KvMap: random deadline operations agree with a model; scan_entries sees deadlines") {
  KvMap m;
  std::map<std::string, std::pair<std::string, std::optional<std::int64_t>>> model;
  std::mt19937_64 rng(7);
  const int ops = static_cast<int>(60000 * map_test::scale());
  for (int i = 0; i < ops; ++i) {
    const std::string key = map_test::cat("k", rng() % 3000);
    const std::string value(rng() % 24, static_cast<char>('a' + rng() % 26));
    switch (rng() % 6) {
      case 0: {
        const bool fresh = m.put(key, value);
        CHECK(fresh == (model.count(key) == 0));
        model[key] = {value, std::nullopt};
        break;
      }
      case 1: {
        const auto d = static_cast<std::int64_t>(rng() % 100000);
        m.put(key, value, Mode::kSet, d);
        model[key] = {value, d};
        break;
      }
      case 2: {
        m.put(key, value, Mode::kKeep);
        auto it = model.find(key);
        model[key] = {value, it == model.end() ? std::nullopt : it->second.second};
        break;
      }
      case 3: {
        const auto d = static_cast<std::int64_t>(rng() % 100000);
        auto it = model.find(key);
        CHECK(m.set_deadline(key, d) == (it != model.end()));
        if (it != model.end()) it->second.second = d;
        break;
      }
      case 4: {
        auto it = model.find(key);
        const bool had = it != model.end() && it->second.second.has_value();
        CHECK(m.clear_deadline(key) == had);
        if (had) it->second.second.reset();
        break;
      }
      default:
        CHECK(m.remove(key) == (model.erase(key) == 1));
    }
  }
  REQUIRE(m.check_invariants() == nullptr);
  std::size_t with_deadline = 0;
  for (auto& [k, v] : model) with_deadline += v.second ? 1 : 0;
  CHECK(m.deadline_count() == with_deadline);
  std::map<std::string, std::optional<std::int64_t>> seen;
  std::uint64_t cursor = 0;
  do {
    cursor = m.scan_entries(cursor, 50, [&](tessera::map::KvEntryView e) {
      seen[std::string(e.key())] = e.deadline();
      CHECK(model.at(std::string(e.key())).first == e.value());
    });
  } while (cursor != 0);
  REQUIRE(seen.size() == model.size());
  for (auto& [k, v] : model) CHECK(seen.at(k) == v.second);
}
