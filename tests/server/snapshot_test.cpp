// The store's snapshot (store/store.hpp, "Snapshots"): a walk in small steps with writes, deletes,
// expiries, creations and FLUSHALL between the steps hands the sink exactly the keys present at
// begin_snapshot(), each once, with the values and deadlines of that moment; and the next snapshot
// works the same (every entry carries the map's mark again after a walk).
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <tessera/server/store/store.hpp>

using tessera::server::DeadlineUpdate;
using tessera::server::SetCondition;
using tessera::server::SnapshotSink;
using tessera::server::Store;

namespace {

struct Saved {
  std::string value;
  std::optional<std::int64_t> deadline;
  bool operator==(const Saved&) const = default;
};

struct RecordingSink : SnapshotSink {
  std::map<std::string, Saved> saved;
  std::size_t repeats = 0;
  void save(std::string_view key, std::string_view value,
            std::optional<std::int64_t> deadline_ms) override {
    if (!saved.emplace(std::string(key), Saved{std::string(value), deadline_ms}).second) ++repeats;
  }
};

std::map<std::string, Saved> contents(Store& s, std::size_t n) {
  std::map<std::string, Saved> m;
  for (std::size_t i = 0; i < n * 2; ++i) {
    const std::string k = "k" + std::to_string(i);
    if (auto v = s.get(k)) m[k] = Saved{std::string(*v), s.deadline(k).at_ms};
  }
  return m;
}

}  // namespace

TEST_CASE("snapshot: one point in time per store, whatever happens between the steps") {
  const std::int64_t far = 4'102'444'800'000;
  for (unsigned seed = 1; seed <= 4; ++seed) {
    CAPTURE(seed);
    Store s;
    std::mt19937_64 rng(seed);
    constexpr std::size_t kKeys = 20000;
    for (std::size_t i = 0; i < kKeys; ++i) {
      const std::string k = "k" + std::to_string(i);
      s.set(k, "v" + std::to_string(i), SetCondition::kAlways, false,
            i % 3 == 0 ? DeadlineUpdate::at(far + static_cast<std::int64_t>(i))
                       : DeadlineUpdate::clear());
    }
    for (int round = 0; round < 2; ++round) {
      const auto before = contents(s, kKeys);
      RecordingSink sink;
      s.begin_snapshot(&sink);
      std::uint64_t cursor = 0;
      do {
        cursor = s.snapshot_step(cursor, 8);
        // Writes of every kind between the steps, to keys reached or not.
        for (int w = 0; w < 20; ++w) {
          const std::string k = "k" + std::to_string(rng() % (kKeys * 2));
          switch (rng() % 7) {
            case 0:
              s.set(k, "changed-" + std::to_string(rng()));
              break;
            case 1:
              s.del(k);
              break;
            case 2:
              s.expire(k, far - 1);
              break;
            case 3:
              s.persist(k);
              break;
            case 4:
              s.append(k, "+tail");
              break;
            case 5:
              s.incr_by("k" + std::to_string(rng() % 50), 1);
              break;
            default:
              s.set(k, std::string(100 + rng() % 300, 'x'));
              break;  // grows, splits
          }
        }
      } while (cursor != 0);
      CHECK_FALSE(s.snapshotting());
      CHECK(sink.repeats == 0);
      CHECK(sink.saved == before);
    }
  }
}

TEST_CASE("snapshot: FLUSHALL during the walk saves what it had not reached") {
  Store s;
  for (int i = 0; i < 5000; ++i) s.set("k" + std::to_string(i), "v");
  const auto before = contents(s, 5000);
  RecordingSink sink;
  s.begin_snapshot(&sink);
  std::uint64_t cursor = s.snapshot_step(0, 16);
  REQUIRE(cursor != 0);
  s.clear();
  CHECK_FALSE(s.snapshotting());
  CHECK(sink.saved == before);
  // The next snapshot of the (new) contents starts clean.
  s.set("new", "1");
  RecordingSink next;
  s.begin_snapshot(&next);
  cursor = 0;
  do cursor = s.snapshot_step(cursor, 16);
  while (cursor != 0);
  CHECK(next.saved == std::map<std::string, Saved>{{"new", {"1", std::nullopt}}});
}

TEST_CASE("snapshot: the changes counter counts every change") {
  Store s;
  const auto c0 = s.changes();
  s.set("a", "1");
  s.set("a", "2");
  s.del("a");
  s.del("missing");
  CHECK(s.changes() - c0 == 3);
  s.set("b", "1");
  s.set("c", "1");
  s.clear();
  CHECK(s.changes() - c0 == 3 + 2 + 2);
}
