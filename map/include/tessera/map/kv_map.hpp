// KvMap: the server's store, string keys to string values.
//
// Design note. Each entry is ONE heap block, [header][deadline, if any][key bytes][value bytes]
// (kv_entry.hpp has the format: an 8-byte header with the lengths, flags and the access clock; 8
// bytes more only for a key with a deadline), and the table (a set over those blocks: the segmented
// map, segmented_map.hpp, whose segments are the seed's table, hash_map.hpp) stores one pointer per
// slot. The segmented map grows one bounded segment at a time and merges sparse segments back, so
// no SET pauses for a whole-table rehash and a shard that shrank gives its table memory back.
// Compared with StringHashMap<std::string> (two 32-byte std::string
// objects per slot, plus a heap buffer for any string over 15 bytes) that is 8 table bytes per slot
// instead of 64 and one allocation per entry instead of up to two; a lookup costs one metadata
// read, one pointer, and one block (where the key is compared and the value read: the same cache
// lines). Lookups are by std::string_view through the set's heterogeneous path: no temporary string
// is ever made.
//
// memory_bytes() counts what the map asked for: the segments' table blocks, the segment objects and
// the directory, plus every entry block's size (malloc's own per-block overhead is not included).
//
// A deadline and the access clock are metadata of an entry, not part of its identity (the hash
// and equality read the key only): they change in place through a KvEntryView, also from the
// const lookups and scans, and never move the entry.
//
// The hash seed. Keys are hashed with a seed the map is built with (EntryContext), never a fixed
// one: the server draws it per process (--hash-seed), so that keys chosen to collide under one
// seed mean nothing under another (hash.hpp, Seeds and flooding). Every hash the map computes
// (lookups, inserts, splits, merges, scans) goes through that one context, so the map's hashing is
// stable for its lifetime, with one exception: the flood defence. When the segmented map suspects
// keys chosen to collide under the current seed (segmented_map.hpp, FLOODING: long probes or
// lopsided splits, repeated), put() rehashes the whole map under a fresh seed from
// std::random_device, which nobody outside knows (reseeds in MapStats). At most one reseed per
// doubling of the key count: if the signals ever kept coming under fresh seeds (they cannot with
// the hash working as designed), the reseeds cost O(1) amortised per insert, and the directory's
// own bound still holds. A reseed starts a new SCAN epoch (cursors of the old one restart).
//
// The snapshot mark (one flag bit per entry) serves the server's forkless snapshot: every entry
// this map creates or writes gets the map's current mark (snapshot_mark()); flip_snapshot_mark()
// starts a snapshot, after which an entry whose mark differs from the map's has not been written,
// created or visited since (the snapshot sets the mark of what it saves). Outside snapshots every
// entry carries the map's mark.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "tessera/map/hash.hpp"
#include "tessera/map/kv_entry.hpp"
#include "tessera/map/map_stats.hpp"
#include "tessera/map/segmented_map.hpp"

namespace tessera::map {

class KvMap {
 public:
  KvMap() = default;
  // A map whose keys are hashed with `seed` (design note, The hash seed).
  explicit KvMap(std::uint64_t seed) : table_(EntryContext{seed}) {}
  KvMap(const KvMap&) = delete;
  KvMap& operator=(const KvMap&) = delete;
  KvMap(KvMap&& o) noexcept
      : table_(std::move(o.table_)),
        entry_bytes_(std::exchange(o.entry_bytes_, 0)),
        deadline_count_(std::exchange(o.deadline_count_, 0)),
        snapshot_mark_(o.snapshot_mark_),
        count_at_reseed_(std::exchange(o.count_at_reseed_, 0)) {}
  KvMap& operator=(KvMap&& o) noexcept {
    if (this != &o) {
      clear();
      table_ = std::move(o.table_);
      entry_bytes_ = std::exchange(o.entry_bytes_, 0);
      deadline_count_ = std::exchange(o.deadline_count_, 0);
      snapshot_mark_ = o.snapshot_mark_;
      count_at_reseed_ = std::exchange(o.count_at_reseed_, 0);
    }
    return *this;
  }
  ~KvMap() = default;

  // The value stored under key; the view is valid until the next mutation of the map.
  std::optional<std::string_view> get(std::string_view key) const {
    const KvEntry* e = table_.get_key_ptr(key);
    if (e == nullptr) return std::nullopt;
    return e->value();
  }
  bool contains(std::string_view key) const { return table_.contains(key); }

  // The entry stored under key, to read its value, deadline and access clock and to change those
  // that keep its size (KvEntryView); valid until the next mutation of the map.
  std::optional<KvEntryView> find(std::string_view key) const {
    const KvEntry* e = table_.get_key_ptr(key);
    if (e == nullptr) return std::nullopt;
    return e->view();
  }

  // What a put does to the key's deadline: SET clears it, KEEPTTL/INCR/APPEND keep it, SET EX sets.
  enum class DeadlineMode : std::uint8_t { kClear, kKeep, kSet };

  // Inserts or overwrites. Returns true when the key was new. Strong guarantee on bad_alloc.
  // An overwrite that keeps the block's size (same value length, same deadline presence) reuses
  // the entry's block. An overwrite keeps the access clock; a new entry starts at `access`.
  bool put(std::string_view key, std::string_view value, DeadlineMode mode = DeadlineMode::kClear,
           std::int64_t deadline_ms = 0, std::uint32_t access = 0) {
    return put_entry(key, value, mode, deadline_ms, access).inserted;
  }
  // put(), also returning the entry written (valid until the next mutation), so that a caller
  // that updates its access clock needs no second lookup.
  struct PutResult {
    KvEntryView entry;
    bool inserted;
  };
  PutResult put_entry(std::string_view key, std::string_view value,
                      DeadlineMode mode = DeadlineMode::kClear, std::int64_t deadline_ms = 0,
                      std::uint32_t access = 0) {
    const std::optional<std::int64_t> set_to =
        mode == DeadlineMode::kSet ? std::optional<std::int64_t>(deadline_ms) : std::nullopt;
    auto r = table_.get_or_put_adapted(key, table_.context(), [&] {
      return KvEntry::make(key, value, set_to, access, snapshot_mark_);
    });
    if (!r.found_existing) {
      entry_bytes_ += r.key_ptr->block_bytes();
      if (set_to) ++deadline_count_;
      const KvEntryView entry = r.key_ptr->view();  // the block's: a reseed moves slots only
      if (table_.flood_suspected()) [[unlikely]] {
        defend();
      }
      return {entry, true};
    }
    KvEntry& e = *r.key_ptr;
    KvEntryView old = e.view();
    const bool had = old.has_deadline();
    const std::optional<std::int64_t> next = mode == DeadlineMode::kKeep ? old.deadline() : set_to;
    if (old.value().size() == value.size() && had == next.has_value()) {
      old.overwrite_value(value);
      if (next) old.set_deadline_in_place(*next);
      old.set_snapshot_mark(snapshot_mark_);
    } else {
      KvEntry fresh = KvEntry::make(key, value, next, old.access(), snapshot_mark_);
      entry_bytes_ += fresh.block_bytes();
      entry_bytes_ -= e.block_bytes();
      e = std::move(fresh);  // frees the old block; the key (so the hash) is the same
      if (had != next.has_value()) deadline_count_ += next ? 1 : -1;
    }
    return {e.view(), false};
  }

  // Gives key the deadline `ms` (absolute, the caller's unit). False when the key is missing.
  // Strong guarantee on bad_alloc (a key without a deadline gets a new, 8-byte larger block).
  bool set_deadline(std::string_view key, std::int64_t ms) {
    KvEntry* e = table_.get_key_ptr(key);
    if (e == nullptr) return false;
    KvEntryView v = e->view();
    if (v.has_deadline()) {
      v.set_deadline_in_place(ms);
      v.set_snapshot_mark(snapshot_mark_);
      return true;
    }
    replace_block(*e, e->with_deadline(ms, snapshot_mark_));
    ++deadline_count_;
    return true;
  }

  // Removes key's deadline. True when it had one (PERSIST's reply). Strong guarantee on bad_alloc.
  bool clear_deadline(std::string_view key) {
    KvEntry* e = table_.get_key_ptr(key);
    if (e == nullptr || !e->view().has_deadline()) return false;
    replace_block(*e, e->with_deadline(std::nullopt, snapshot_mark_));
    --deadline_count_;
    return true;
  }

  // Returns true when the key was present.
  bool remove(std::string_view key) {
    auto kv = table_.fetch_remove(key);
    if (!kv) return false;
    entry_bytes_ -= kv->key.block_bytes();
    if (kv->key.view().has_deadline()) --deadline_count_;
    return true;
  }

  // The mark written entries get (see the note above); flipping it starts a snapshot.
  bool snapshot_mark() const { return snapshot_mark_; }
  void flip_snapshot_mark() { snapshot_mark_ = !snapshot_mark_; }

  // The seed the keys are hashed with now.
  std::uint64_t hash_seed() const { return table_.context().seed; }

  // Rehashes every key under `seed` (design note, The hash seed; put() does it by itself under
  // attack). Strong guarantee on bad_alloc. Invalidates entry views and starts a new SCAN epoch.
  void reseed(std::uint64_t seed) { table_.rebuild(EntryContext{seed}); }

  // An entry chosen uniformly among all (segmented_map.hpp, random_key_ptr), nullopt when empty;
  // next() returns uniform 64-bit values.
  template <class Next>
  std::optional<KvEntryView> random_entry(Next&& next) const {
    const KvEntry* e = table_.random_key_ptr(next);
    if (e == nullptr) return std::nullopt;
    return e->view();
  }

  // A scan cursor at a position chosen by `bits` (for sampling from a random place), in the
  // current SCAN epoch.
  std::uint64_t cursor_at(std::uint64_t bits) const {
    return (table_.scan_epoch() << 32) | (bits & 0xFFFFFFFFu);
  }

  // Entries that have a deadline.
  std::size_t deadline_count() const { return deadline_count_; }
  std::size_t count() const { return table_.count(); }
  std::size_t capacity() const { return table_.capacity(); }
  std::size_t memory_bytes() const { return table_.memory_bytes() + entry_bytes_; }
  // The table part alone: segment tables, segment objects and the directory.
  std::size_t table_bytes() const { return table_.memory_bytes(); }
  // The table's statistics, with memory_bytes counting the entry blocks too.
  MapStats stats() const {
    MapStats s = table_.stats();
    s.memory_bytes += entry_bytes_;
    return s;
  }
  // CONFIG RESETSTAT: the longest growth step is measured again from now on.
  void reset_longest_step() noexcept { table_.reset_longest_step(); }

  // Stateless scan with Redis's SCAN guarantee across growth, splits and merges (segmented_map.hpp
  // says what it promises and proves why it holds). Calls fn(std::string_view key, std::string_view
  // value) for the keys of the buckets visited from `cursor` on, until at least `count` keys were
  // emitted or 10*count buckets visited. Returns the next cursor; 0 means the iteration is
  // complete. Cursors are < 2^32 until a reseed, < 2^48 always (the SCAN epoch above bit 32);
  // cursor 0 starts an iteration. fn must not modify the map.
  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn) const {
    return table_.scan(cursor, count,
                       [&](const KvEntry& e, const auto&) { fn(e.key(), e.value()); });
  }

  // scan() with the whole entry: fn(KvEntryView) may read it and change what keeps its size (the
  // access clock, a deadline that exists), and must not otherwise modify the map.
  template <class Fn>
  std::uint64_t scan_entries(std::uint64_t cursor, std::size_t count, Fn&& fn) const {
    return table_.scan(cursor, count, [&](const KvEntry& e, const auto&) { fn(e.view()); });
  }

  // Frees everything.
  void clear() {
    table_.clear_and_free();
    entry_bytes_ = 0;
    deadline_count_ = 0;
    count_at_reseed_ = 0;
  }

  // For tests: every invariant of the segmented map plus the byte count.
  const char* check_invariants() const {
    if (const char* err = table_.check_invariants()) return err;
    std::size_t bytes = 0, deadlines = 0;
    for (const auto& e : table_) {
      bytes += e.key_ptr->block_bytes();
      if (e.key_ptr->view().has_deadline()) ++deadlines;
    }
    if (deadlines != deadline_count_) return "deadline count is wrong";
    return bytes == entry_bytes_ ? nullptr : "entry byte count is wrong";
  }

 private:
  // Hashes (with the map's seed) and compares entries by their key bytes; also an adapter for
  // std::string_view.
  struct EntryContext {
    std::uint64_t seed = 0;
    Hash hash(std::string_view k) const noexcept { return hash_string(k, seed); }
    Hash hash(const KvEntry& e) const noexcept { return hash_string(e.key(), seed); }
    bool eql(std::string_view a, const KvEntry& b) const noexcept { return a == b.key(); }
    bool eql(const KvEntry& a, const KvEntry& b) const noexcept { return a.key() == b.key(); }
  };

  using Table = SegmentedHashMap<KvEntry, void, EntryContext>;

  // The flood defence (design note, The hash seed): reseed, at most once per doubling of count().
  void defend() {
    if (count() < 2 * count_at_reseed_) {
      table_.forgive();
      return;
    }
    try {
      std::random_device rd;
      reseed((std::uint64_t{rd()} << 32) ^ rd());
      count_at_reseed_ = count();
    } catch (const std::exception&) {
      // No memory for the new structure (or no entropy source): the map stays as it was, under
      // the old seed, and the write has happened; the directory's bound still holds.
      table_.forgive();
    }
  }

  // Swaps in a block with the same key (so the same hash and slot), keeping the byte count.
  void replace_block(KvEntry& slot, KvEntry fresh) noexcept {
    entry_bytes_ += fresh.block_bytes();
    entry_bytes_ -= slot.block_bytes();
    slot = std::move(fresh);
  }

  Table table_;
  std::size_t entry_bytes_ = 0;
  std::size_t deadline_count_ = 0;
  bool snapshot_mark_ = false;
  std::size_t count_at_reseed_ = 0;
};

}  // namespace tessera::map
