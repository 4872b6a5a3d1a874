// Debugging aids of the engine (hash_map_unmanaged.hpp): the pointer-stability lock and the full
// invariants check the tests run after every batch of operations.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tessera/map/detail/metadata.hpp"

namespace tessera::map::detail {

// The debug pointer-stability lock (the seed's SafetyLock, shared flavour): any number of holders;
// while one holds it, operations that may move entries abort. Empty in NDEBUG builds.
#ifdef NDEBUG
struct PointerLock {
  void lock() noexcept {}
  void unlock() noexcept {}
  void assert_unlocked(const char*) const noexcept {}
  void reset() noexcept {}
};
#else
struct PointerLock {
  std::size_t holders = 0;
  void lock() noexcept { ++holders; }
  void unlock() noexcept {
    if (holders == 0) {
      std::fprintf(stderr, "tessera::map: unlock_pointers() without lock_pointers()\n");
      std::abort();
    }
    --holders;
  }
  void assert_unlocked(const char* what) const noexcept {
    if (holders != 0) {
      std::fprintf(stderr,
                   "tessera::map: %s while lock_pointers() is held: it may move entries and "
                   "invalidate the pointers the lock protects\n",
                   what);
      std::abort();
    }
  }
  void reset() noexcept { holders = 0; }
};
#endif

// Reads a table's internals for the invariants check (the engine names it a friend).
struct TableInspector {
  // Verifies every invariant of the table, O(cap); returns nullptr or what is wrong:
  //   * the capacity is a power of two; every metadata byte is free, a tombstone or used;
  //   * a used byte carries its key's fingerprint, and its key is reachable from its home (no free
  //     slot between them) and found there by a lookup;
  //   * count, tombstones, available (= max_load - count) and the probe statistics are exact.
  template <class Table, class Ctx>
  static const char* check(const Table& t, const Ctx& ctx) {
    if (!t.metadata_)
      return (t.size_ == 0 && t.available_ == 0) ? nullptr : "empty map with counts";
    const auto* h = t.header();
    const Size cap = h->capacity;
    if (!std::has_single_bit(cap)) return "capacity not a power of two";
    const std::uint8_t* md = t.metadata_;
    Size used = 0;
    Size tombs = 0;
    std::uint64_t disp_total = 0;
    for (Size i = 0; i < cap; ++i) {
      const std::uint8_t m = md[i];
      if (m == kTombstone) ++tombs;
      if (!(m & kUsedBit)) {
        if (m != kFree && m != kTombstone) return "stray non-used metadata byte";
        continue;
      }
      ++used;
      const Hash hash = ctx.hash(t.keys()[i]);
      if (used_byte(hash) != m) return "fingerprint does not match the key's hash";
      const Size home = static_cast<Size>(hash) & (cap - 1);
      for (Size j = home; j != i; j = (j + 1) & (cap - 1)) {
        if (md[j] == kFree) return "a key is not reachable from its home";
      }
      if (t.find_index(t.keys()[i], ctx) != i) return "lookup of a stored key finds another slot";
      const Size disp = (i - home) & (cap - 1);
      disp_total += disp;
      if (disp > h->max_displacement) return "max probe below a real probe";
    }
    if (used != t.size_) return "count() differs from the used slots";
    if (tombs != h->tombstones) return "tombstone count is wrong";
    if (t.available_ != Table::max_load(cap) - t.size_) return "available != max_load - count";
    if (disp_total != h->displacement_total) return "probe total is wrong";
    return nullptr;
  }
};

}  // namespace tessera::map::detail
