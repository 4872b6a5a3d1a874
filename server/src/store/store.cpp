// Store: the shard's keyspace (design note in tessera/server/store/store.hpp).
#include <tessera/server/store/store.hpp>

#include <chrono>

namespace tessera::server {

std::optional<std::string_view> Store::get(std::string_view key) {
  auto value = map_.get(key);
  if (value) {
    ++counters_.keyspace_hits;
  } else {
    ++counters_.keyspace_misses;
  }
  return value;
}

bool Store::exists(std::string_view key) { return map_.contains(key); }

std::optional<std::size_t> Store::value_size(std::string_view key) {
  auto value = map_.get(key);
  if (!value) return std::nullopt;
  return value->size();
}

ValueType Store::type(std::string_view key) {
  return map_.contains(key) ? ValueType::kString : ValueType::kNone;
}

SetResult Store::set(std::string_view key, std::string_view value, SetCondition condition,
                     bool want_old) {
  SetResult result;
  bool existed = false;
  if (want_old) {
    auto old = map_.get(key);
    existed = old.has_value();
    if (existed) result.old_value.emplace(*old);  // copied before the put may reuse its block
  } else if (condition != SetCondition::kAlways) {
    existed = map_.contains(key);
  }
  const bool blocked = (condition == SetCondition::kIfAbsent && existed) ||
                       (condition == SetCondition::kIfPresent && !existed);
  if (!blocked) {
    put_timed(key, value);
    result.written = true;
  }
  return result;
}

bool Store::del(std::string_view key) {
  const bool removed = map_.remove(key);
  if (removed) publish_memory();
  return removed;
}

void Store::clear() {
  map_.clear();
  publish_memory();
}

void Store::reset_counters() {
  counters_.keyspace_hits = 0;
  counters_.keyspace_misses = 0;
  counters_.longest_growth_ns = 0;
}

void Store::put_timed(std::string_view key, std::string_view value) {
  const auto before = map_.stats();
  const auto t0 = std::chrono::steady_clock::now();
  map_.put(key, value);
  const auto t1 = std::chrono::steady_clock::now();
  const auto after = map_.stats();
  if (after.grows != before.grows || after.rehashes != before.rehashes) {
    const auto ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    ++counters_.growth_events;
    counters_.last_growth_ns = ns;
    if (ns > counters_.longest_growth_ns) counters_.longest_growth_ns = ns;
  }
  publish_memory();
}

}  // namespace tessera::server
