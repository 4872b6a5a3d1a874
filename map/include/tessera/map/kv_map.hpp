// KvMap: the server's store, string keys to string values.
//
// Design note. Each entry is ONE heap block, [u32 key_len][u32 value_len][key bytes][value bytes],
// and the table (a set over those blocks, hash_map.hpp) stores one pointer per slot. Compared with
// StringHashMap<std::string> (two 32-byte std::string objects per slot, plus a heap buffer for any
// string over 15 bytes) that is 8 table bytes per slot instead of 64 and one allocation per entry
// instead of up to two; a lookup costs one metadata read, one pointer, and one block (where the key
// is compared and the value read: the same cache lines). Lookups are by std::string_view through
// the set's heterogeneous path: no temporary string is ever made.
//
// memory_bytes() counts what the map asked for: the table block plus every entry block's size
// (malloc's own per-block overhead is not included).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "tessera/map/hash_map.hpp"
#include "tessera/map/map_stats.hpp"

namespace tessera::map {

class KvMap {
 public:
  KvMap() = default;
  KvMap(const KvMap&) = delete;
  KvMap& operator=(const KvMap&) = delete;
  KvMap(KvMap&& o) noexcept
      : table_(std::move(o.table_)), entry_bytes_(std::exchange(o.entry_bytes_, 0)) {}
  KvMap& operator=(KvMap&& o) noexcept {
    if (this != &o) {
      clear();
      table_ = std::move(o.table_);
      entry_bytes_ = std::exchange(o.entry_bytes_, 0);
    }
    return *this;
  }
  ~KvMap() { table_.deinit(alloc_); }

  // The value stored under key; the view is valid until the next mutation of the map.
  std::optional<std::string_view> get(std::string_view key) const {
    const EntryRef* e = table_.get_key_ptr(key);
    if (e == nullptr) return std::nullopt;
    return e->value();
  }
  bool contains(std::string_view key) const { return table_.contains(key); }

  // Inserts or overwrites. Returns true when the key was new. Strong guarantee on bad_alloc.
  // An overwrite with a value of the same length reuses the entry's block.
  bool put(std::string_view key, std::string_view value) {
    auto r = table_.get_or_put_adapted(alloc_, key, EntryContext{},
                                       [&] { return EntryRef::make(key, value); });
    if (!r.found_existing) {
      entry_bytes_ += r.key_ptr->block_bytes();
      return true;
    }
    EntryRef& e = *r.key_ptr;
    if (e.value().size() == value.size()) {
      e.overwrite_value(value);
    } else {
      EntryRef fresh = EntryRef::make(key, value);
      entry_bytes_ += fresh.block_bytes();
      entry_bytes_ -= e.block_bytes();
      e = std::move(fresh);  // frees the old block; the key (so the hash) is the same
    }
    return false;
  }

  // Returns true when the key was present.
  bool remove(std::string_view key) {
    auto kv = table_.fetch_remove(key);
    if (!kv) return false;
    entry_bytes_ -= kv->key.block_bytes();
    return true;
  }

  std::size_t count() const { return table_.count(); }
  std::size_t capacity() const { return table_.capacity(); }
  std::size_t memory_bytes() const { return table_.memory_bytes() + entry_bytes_; }
  // The table's statistics, with memory_bytes counting the entry blocks too.
  MapStats stats() const {
    MapStats s = table_.stats();
    s.memory_bytes += entry_bytes_;
    return s;
  }

  // Stateless scan with Redis's SCAN guarantee (HashMapUnmanaged::scan says what it promises and
  // why it holds). Visits home buckets from `cursor` on, calling fn(std::string_view key,
  // std::string_view value) for each key whose home is a visited bucket, until at least `count`
  // keys were emitted or 10*count buckets visited. Returns the next cursor; 0 means the iteration
  // is complete. Cursors are always < 2^32; cursor 0 starts an iteration. fn must not modify the
  // map.
  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn) const {
    return table_.scan(cursor, count,
                       [&](const EntryRef& e, const auto&) { fn(e.key(), e.value()); });
  }

  // Frees everything.
  void clear() {
    table_.clear_and_free(alloc_);
    entry_bytes_ = 0;
  }

  // For tests: every table invariant plus the byte count.
  const char* check_invariants() const {
    if (const char* err = table_.check_invariants()) return err;
    std::size_t bytes = 0;
    for (const auto& e : table_) bytes += e.key_ptr->block_bytes();
    return bytes == entry_bytes_ ? nullptr : "entry byte count is wrong";
  }

 private:
  struct BlockHeader {
    std::uint32_t key_len;
    std::uint32_t value_len;
  };

  // Owns one entry block. Moves are a pointer copy, so the table moves entries for free.
  class EntryRef {
   public:
    EntryRef() = default;
    EntryRef(EntryRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    EntryRef& operator=(EntryRef&& o) noexcept {
      if (this != &o) {
        release();
        p_ = std::exchange(o.p_, nullptr);
      }
      return *this;
    }
    ~EntryRef() { release(); }

    static EntryRef make(std::string_view key, std::string_view value) {
      constexpr std::size_t kMax = std::numeric_limits<std::uint32_t>::max();
      if (key.size() > kMax || value.size() > kMax) {
        throw std::length_error("tessera::map::KvMap: key or value over 4 GiB");
      }
      EntryRef e;
      const std::size_t n = sizeof(BlockHeader) + key.size() + value.size();
      e.p_ = static_cast<unsigned char*>(::operator new(n));
      BlockHeader h{static_cast<std::uint32_t>(key.size()),
                    static_cast<std::uint32_t>(value.size())};
      std::memcpy(e.p_, &h, sizeof h);
      if (!key.empty()) std::memcpy(e.p_ + sizeof h, key.data(), key.size());
      if (!value.empty()) std::memcpy(e.p_ + sizeof h + key.size(), value.data(), value.size());
      return e;
    }

    std::string_view key() const noexcept {
      const BlockHeader h = header();
      return {reinterpret_cast<const char*>(p_ + sizeof(BlockHeader)), h.key_len};
    }
    std::string_view value() const noexcept {
      const BlockHeader h = header();
      return {reinterpret_cast<const char*>(p_ + sizeof(BlockHeader) + h.key_len), h.value_len};
    }
    void overwrite_value(std::string_view v) noexcept {
      const BlockHeader h = header();
      if (!v.empty()) std::memcpy(p_ + sizeof(BlockHeader) + h.key_len, v.data(), v.size());
    }
    std::size_t block_bytes() const noexcept {
      const BlockHeader h = header();
      return sizeof(BlockHeader) + h.key_len + h.value_len;
    }

   private:
    BlockHeader header() const noexcept {
      BlockHeader h;
      std::memcpy(&h, p_, sizeof h);
      return h;
    }
    void release() noexcept {
      if (p_ != nullptr) ::operator delete(p_);
      p_ = nullptr;
    }
    unsigned char* p_ = nullptr;
  };

  // Hashes and compares entries by their key bytes; also an adapter for std::string_view.
  struct EntryContext {
    Hash hash(std::string_view k) const noexcept { return hash_string(k); }
    Hash hash(const EntryRef& e) const noexcept { return hash_string(e.key()); }
    bool eql(std::string_view a, const EntryRef& b) const noexcept { return a == b.key(); }
    bool eql(const EntryRef& a, const EntryRef& b) const noexcept { return a.key() == b.key(); }
  };

  using Table = HashMapUnmanaged<EntryRef, void, EntryContext>;

  Table table_;
  [[no_unique_address]] std::allocator<std::byte> alloc_;
  std::size_t entry_bytes_ = 0;
};

}  // namespace tessera::map
