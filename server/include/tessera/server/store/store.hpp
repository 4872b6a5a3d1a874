// Store: the keyspace of one shard, and the one place that says what a data operation means.
//
// Design note. Every read and write of a key goes through a Store method; nothing else touches the
// KvMap. A method returns a typed result (a value view, a SetResult, a count) and knows nothing of
// RESP, Asio or threads: the command families (server/src/commands/) turn results into replies,
// and the shard layer (server/src/shard/) decides on which thread a Store runs. One Store per
// shard, used only from that shard's thread; the one exception is memory_bytes(), a value
// published for the maxmemory check and INFO, which any thread may read.
//
// What comes next lives here too, behind the same methods, so that callers need not change:
//   - per-entry deadlines (expiry): every key access (get, exists, value_size, type, set, del) is
//     the place where an expired key is found and removed, which is why those methods are not
//     const even where they only read today;
//   - an access clock per entry (LRU/LFU eviction): bumped by the same accesses;
//   - a snapshot hook: scan() and the mutation methods are the points a snapshot intercepts.
// The accounting Redis reports in INFO (keyspace hits and misses, growth pauses) is kept here, by
// the methods that cause it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tessera/map/kv_map.hpp>

namespace tessera::server {

// SET's NX / XX.
enum class SetCondition : std::uint8_t {
  kAlways,
  kIfAbsent,   // NX
  kIfPresent,  // XX
};

struct SetResult {
  bool written = false;  // false: the condition blocked the write
  // The value the key held before, when the caller asked for it (SET ... GET) and there was one.
  // A copy: the write that follows may reuse or free the old value's memory.
  std::optional<std::string> old_value;
};

enum class ValueType : std::uint8_t { kNone, kString };

// The store's own counters (INFO Stats and Shards); only the shard's thread touches them.
struct StoreCounters {
  std::uint64_t growth_events = 0;      // writes during which the map grew or rehashed in place
  std::uint64_t longest_growth_ns = 0;  // the longest of those writes
  std::uint64_t last_growth_ns = 0;
  std::uint64_t keyspace_hits = 0;  // get() that found the key
  std::uint64_t keyspace_misses = 0;
};

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- reads (each counts as an access of the key) ----
  // The value of `key`, valid until the next write to this store; counts a keyspace hit or miss.
  std::optional<std::string_view> get(std::string_view key);
  bool exists(std::string_view key);
  // The length of the value (STRLEN), nullopt when the key is missing.
  std::optional<std::size_t> value_size(std::string_view key);
  ValueType type(std::string_view key);

  // ---- writes; on bad_alloc the store is unchanged (the map's strong guarantee) ----
  // Stores `value` under `key` unless `condition` blocks it; with `want_old`, returns the value the
  // key held before whether or not the write happened.
  SetResult set(std::string_view key, std::string_view value,
                SetCondition condition = SetCondition::kAlways, bool want_old = false);
  // True when the key existed.
  bool del(std::string_view key);
  // Removes every key and frees the memory (FLUSHALL).
  void clear();

  // ---- the whole keyspace ----
  std::size_t count() const { return map_.count(); }
  // A step of a stateless scan (KvMap::scan's guarantee: every key present for the whole
  // iteration is returned at least once). Calls fn(std::string_view key) for the keys of at least
  // `count` home buckets' worth; returns the next cursor, 0 at the end. fn must not write.
  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn) const {
    return map_.scan(cursor, count, [&](std::string_view key, std::string_view) { fn(key); });
  }

  // ---- statistics ----
  map::MapStats map_stats() const { return map_.stats(); }
  const StoreCounters& counters() const { return counters_; }
  // CONFIG RESETSTAT: hits, misses and the longest growth pause start again from zero.
  void reset_counters();
  // The map's allocated bytes as last published by the owning thread; any thread may read it.
  std::uint64_t memory_bytes() const { return memory_bytes_.load(std::memory_order_relaxed); }

 private:
  // Growth and in-place rehash run inline in the write that triggers them: every write is timed
  // and the ones during which the map's growth counters moved are kept (the pause a client sees).
  void put_timed(std::string_view key, std::string_view value);
  void publish_memory() { memory_bytes_.store(map_.memory_bytes(), std::memory_order_relaxed); }

  map::KvMap map_;
  StoreCounters counters_;
  std::atomic<std::uint64_t> memory_bytes_{0};
};

}  // namespace tessera::server
