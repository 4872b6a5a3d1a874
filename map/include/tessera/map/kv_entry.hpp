// KvEntry: the format of one KvMap entry block, and the owning handle the table stores.
//
// Design note. An entry is ONE heap block:
//
//   [u32 word0][u32 word1][u32 value_len: wide only][i64 deadline: only with a
//   deadline][key][value]
//
//   word0: bits 0-23 the access clock (eviction: a 24-bit LRU time or LFU's 16-bit time + 8-bit
//          counter, as Redis keeps in robj.lru), bits 24-31 flags (kHasDeadline, kWide,
//          kSnapshotMark: which snapshot epoch last saw the entry, see KvMap::snapshot_mark()).
//   word1: narrow (the common case: key < 4 KiB, value < 1 MiB): key_len in bits 0-11, value_len
//          in bits 12-31; wide: key_len, and value_len follows in its own u32.
//
// So a key without a deadline costs the same 8 header bytes as the format before deadlines and
// access clocks existed (which spent them on two plain u32 lengths), a key with a deadline costs
// exactly 8 bytes more (the absolute deadline in ms since the epoch), and only a key of 4 KiB or a
// value of 1 MiB and more pays 4 bytes for wide lengths. The deadline sits before the key so that
// the key and value stay one contiguous tail. Every field is read and written with memcpy: blocks
// come from operator new and nothing here relies on alignment beyond a byte.
//
// Adding or removing a deadline changes the block's size, so it makes a new block (with_deadline);
// changing a deadline that exists, the access clock or a same-length value is done in place.
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

namespace tessera::map {

// A read/write view of one entry block, for KvMap's callers: everything that keeps the block's
// size and key (so its place in the table and the map's byte count) may change through it.
class KvEntryView {
 public:
  static constexpr std::uint32_t kAccessMask = 0xFFFFFF;

  explicit KvEntryView(unsigned char* p) noexcept : p_(p) {}

  std::string_view key() const noexcept {
    return {reinterpret_cast<const char*>(p_ + key_offset()), key_len()};
  }
  std::string_view value() const noexcept {
    return {reinterpret_cast<const char*>(p_ + key_offset() + key_len()), value_len()};
  }
  bool has_deadline() const noexcept { return (flags() & kHasDeadline) != 0; }
  // Milliseconds since the epoch; only when has_deadline().
  std::int64_t deadline_ms() const noexcept {
    std::int64_t d;
    std::memcpy(&d, p_ + lengths_end(), sizeof d);
    return d;
  }
  std::optional<std::int64_t> deadline() const noexcept {
    if (!has_deadline()) return std::nullopt;
    return deadline_ms();
  }
  // Only when has_deadline(): a deadline that exists changes in place.
  void set_deadline_in_place(std::int64_t ms) noexcept {
    std::memcpy(p_ + lengths_end(), &ms, sizeof ms);
  }
  // The 24-bit access clock (its meaning is the eviction policy's).
  std::uint32_t access() const noexcept { return word0() & kAccessMask; }
  void set_access(std::uint32_t a) noexcept {
    const std::uint32_t w = (word0() & ~kAccessMask) | (a & kAccessMask);
    std::memcpy(p_, &w, sizeof w);
  }
  // The snapshot mark (KvMap::snapshot_mark()): one bit of the flags, changed in place.
  bool snapshot_mark() const noexcept { return (flags() & kSnapshotMark) != 0; }
  void set_snapshot_mark(bool mark) noexcept {
    const std::uint32_t bit = kSnapshotMark << kFlagShift;
    const std::uint32_t w = mark ? (word0() | bit) : (word0() & ~bit);
    std::memcpy(p_, &w, sizeof w);
  }
  // Only a value of the same length.
  void overwrite_value(std::string_view v) noexcept {
    if (!v.empty()) std::memcpy(p_ + key_offset() + key_len(), v.data(), v.size());
  }
  std::size_t block_bytes() const noexcept { return key_offset() + key_len() + value_len(); }

 protected:
  static constexpr std::uint32_t kHasDeadline = 1;
  static constexpr std::uint32_t kWide = 2;
  static constexpr std::uint32_t kSnapshotMark = 4;
  static constexpr unsigned kFlagShift = 24;
  static constexpr std::uint32_t kNarrowKeyBits = 12;
  static constexpr std::size_t kNarrowKeyMax = (std::size_t{1} << kNarrowKeyBits) - 1;
  static constexpr std::size_t kNarrowValueMax = (std::size_t{1} << (32 - kNarrowKeyBits)) - 1;

  std::uint32_t word(std::size_t i) const noexcept {
    std::uint32_t w;
    std::memcpy(&w, p_ + i * sizeof w, sizeof w);
    return w;
  }
  std::uint32_t word0() const noexcept { return word(0); }
  std::uint32_t flags() const noexcept { return word0() >> kFlagShift; }
  bool wide() const noexcept { return (flags() & kWide) != 0; }
  std::size_t key_len() const noexcept {
    return wide() ? word(1) : (word(1) & ((std::uint32_t{1} << kNarrowKeyBits) - 1));
  }
  std::size_t value_len() const noexcept { return wide() ? word(2) : (word(1) >> kNarrowKeyBits); }
  // Where the deadline (if any) starts: after the header words.
  std::size_t lengths_end() const noexcept { return wide() ? 12 : 8; }
  std::size_t key_offset() const noexcept {
    return lengths_end() + (has_deadline() ? sizeof(std::int64_t) : 0);
  }

  unsigned char* p_;
};

// Owns one entry block. Moves are a pointer copy, so the table moves entries for free.
class KvEntry {
 public:
  KvEntry() = default;
  KvEntry(KvEntry&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  KvEntry& operator=(KvEntry&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  ~KvEntry() { release(); }

  // A new block. Throws std::length_error for a key or value of 4 GiB or more, std::bad_alloc.
  static KvEntry make(std::string_view key, std::string_view value,
                      std::optional<std::int64_t> deadline_ms = std::nullopt,
                      std::uint32_t access = 0, bool snapshot_mark = false) {
    constexpr std::size_t kMax = std::numeric_limits<std::uint32_t>::max();
    if (key.size() > kMax || value.size() > kMax) {
      throw std::length_error("tessera::map::KvMap: key or value over 4 GiB");
    }
    const bool wide = key.size() > Layout::kNarrowKeyMax || value.size() > Layout::kNarrowValueMax;
    std::uint32_t flags = (wide ? Layout::kWide : 0) | (deadline_ms ? Layout::kHasDeadline : 0) |
                          (snapshot_mark ? Layout::kSnapshotMark : 0);
    const std::size_t lengths_end = wide ? 12 : 8;
    const std::size_t key_offset = lengths_end + (deadline_ms ? sizeof(std::int64_t) : 0);
    KvEntry e;
    e.p_ = static_cast<unsigned char*>(::operator new(key_offset + key.size() + value.size()));
    const std::uint32_t w0 = (flags << Layout::kFlagShift) | (access & KvEntryView::kAccessMask);
    std::memcpy(e.p_, &w0, sizeof w0);
    if (wide) {
      const auto k = static_cast<std::uint32_t>(key.size());
      const auto v = static_cast<std::uint32_t>(value.size());
      std::memcpy(e.p_ + 4, &k, sizeof k);
      std::memcpy(e.p_ + 8, &v, sizeof v);
    } else {
      const auto w1 =
          static_cast<std::uint32_t>(key.size() | (value.size() << Layout::kNarrowKeyBits));
      std::memcpy(e.p_ + 4, &w1, sizeof w1);
    }
    if (deadline_ms) std::memcpy(e.p_ + lengths_end, &*deadline_ms, sizeof(std::int64_t));
    if (!key.empty()) std::memcpy(e.p_ + key_offset, key.data(), key.size());
    if (!value.empty()) std::memcpy(e.p_ + key_offset + key.size(), value.data(), value.size());
    return e;
  }

  // A copy of this entry with `deadline_ms` (none: without one), the same key, value and access,
  // and the snapshot mark `snapshot_mark`.
  KvEntry with_deadline(std::optional<std::int64_t> deadline_ms, bool snapshot_mark) const {
    const KvEntryView v = view();
    return make(v.key(), v.value(), deadline_ms, v.access(), snapshot_mark);
  }
  KvEntry with_deadline(std::optional<std::int64_t> deadline_ms) const {
    return with_deadline(deadline_ms, view().snapshot_mark());
  }

  KvEntryView view() const noexcept { return KvEntryView(p_); }
  std::string_view key() const noexcept { return view().key(); }
  std::string_view value() const noexcept { return view().value(); }
  std::size_t block_bytes() const noexcept { return view().block_bytes(); }

 private:
  // The layout constants, shared with the view.
  struct Layout : KvEntryView {
    using KvEntryView::kFlagShift;
    using KvEntryView::kHasDeadline;
    using KvEntryView::kNarrowKeyBits;
    using KvEntryView::kNarrowKeyMax;
    using KvEntryView::kNarrowValueMax;
    using KvEntryView::kSnapshotMark;
    using KvEntryView::kWide;
  };

  void release() noexcept {
    if (p_ != nullptr) ::operator delete(p_);
    p_ = nullptr;
  }
  unsigned char* p_ = nullptr;
};

}  // namespace tessera::map
