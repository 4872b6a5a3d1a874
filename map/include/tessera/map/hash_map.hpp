// tessera::map: an open-addressing hash map, a C++20 port of Zig's std.HashMap (the seed).
//
// ============================================================================================
// Design note
// ============================================================================================
//
// THE TABLE. One allocation per table, in this order (the seed's layout):
//
//   [Header][metadata: cap bytes][pad][keys: cap * K][pad][values: cap * V][slack][pad]
//   ^ block start    ^ metadata_ points here
//
//   * Header: pointers to the keys and values arrays, the capacity, and the bookkeeping the seed
//     lacks (tombstone count, probe statistics, growth / rehash counters). It sits just before the
//     metadata, so the map object itself is one pointer plus two 32-bit counts: 16 bytes.
//   * Keys and values are parallel arrays (struct of arrays). A set (V = void, or an empty tag
//   type)
//     stores no values array at all.
//   * slack: up to 15 bytes so that a 16-byte metadata load at any slot stays inside the block.
//   * cap is a power of two, at least 8 when the map grows by itself; cap <= 2^31.
//
// THE METADATA BYTE, one per slot:
//
//     free       0 0 0 0 0 0 0 0   (0x00)  never used since the table was built: ends every probe
//     tombstone  0 0 0 0 0 0 0 1   (0x01)  held an entry that was removed: probes continue past it
//     used       1 f f f f f f f   (0x80 | fp)  fp = the top 7 bits of the 64-bit hash
//
//   A used byte is recognised by bit 7 alone, so 0x81 (used, fp 1) is not a tombstone.
//
// HASH BITS. home = hash & (cap - 1) (the low bits); fingerprint = hash >> 57 (the top 7 bits). The
// two never overlap, so the hash must be good at both ends (see hash.hpp).
//
// PROBING. Linear: home, home+1, ... wrapping at cap. A lookup stops at the first free slot, at a
// used slot whose fingerprint matches and whose key is eql (the key is read only on a fingerprint
// match), or after visiting cap slots (the `limit`: a table can have no free slot at all, because
// tombstones count as available, below). With SSE2 the loop tests 16 metadata bytes per step; the
// layout, the byte and the probe order are the same, only the reading is wider.
//
// ACCOUNTING. `available` = max_load(cap) - size, max_load(cap) = cap * MaxLoadPercentage / 100.
// An insert takes one, a removal gives one back, so tombstones do NOT count as load (as in the
// seed). An allocating insert grows when available == 0, to capacity_for_size(size + 1): in effect
// the capacity doubles. `tombstones` is kept exactly.
//
// REMOVAL marks the slot a tombstone, destroys the key and value, and moves nothing, so pointers to
// other entries stay valid. If the next slot is free, no probe can pass through the removed slot:
// it becomes free instead, and so do the tombstones just before it.
//
// TOMBSTONE BUILD-UP (the seed's issue #17851): under steady remove/insert churn the seed never
// grows (tombstones are "available"), inserts eat the free slots, and probes get long until misses
// scan the whole table. Here an allocating insert that would take a FREE slot rehashes the table in
// place first when
//     size + tombstones >= max_load(cap)   and   tombstones >= (cap - max_load(cap)) / 2
// i.e. when the used-or-tombstone share has reached the load limit and at least half of the
// headroom above it is tombstones. The in-place rehash (the seed's algorithm, below) costs O(cap)
// and is paid for by at least (cap - max_load) / 2 removals since the previous one, so it adds
// O(1) amortised per operation; afterwards every probe is as short as in a fresh table. The
// non-free share of the table never exceeds (max_load + cap) / 2 (90% at the default 80%).
// AssumeCapacity inserts never rehash (they promise not to move entries); they use tombstones and
// the `limit`, as in the seed.
//
// IN-PLACE REHASH (`rehash`). The fingerprint bits of used slots serve as markers while it runs:
// fp 0 = "not yet placed", fp 1 = "claimed ahead of the cursor". A cursor walks the table; each
// unplaced entry probes from its home, skipping placed entries behind the cursor and claimed slots
// ahead of it, and lands (a) behind the cursor in a free slot, (b) where it is, or (c) ahead of it,
// swapping with the unplaced entry there (which is processed next, at the cursor). It never
// allocates; it ends with no tombstones and every entry reachable from its home.
//
// OBJECT LIFETIMES. Keys and values are real C++ objects: constructed once, moved (never memcpy'd)
// on growth and rehash, destroyed exactly once (remove, overwrite-by-assignment, clear, deinit).
// K and V must be nothrow-move-constructible: growth moves them after the new block exists and
// cannot roll back half-way (static_assert below).
//
// EXCEPTIONS. Allocation failure throws std::bad_alloc with the strong guarantee: an insert that
// needs room builds the new key and value aside FIRST, then allocates, then moves them in with
// nothrow moves; a failure at any step leaves the map exactly as it was. An insert of a key that is
// already present never allocates (the seed grows before it looks).
//
// POINTER STABILITY. Key/value pointers stay valid until an operation that may move entries:
// growth, rehash, an allocating insert of a new key, ensure_*, clear_*, deinit. lock_pointers()
// (debug builds, i.e. without NDEBUG) makes each of those abort with a message while it is held;
// the lock costs nothing in release builds.
//
// THE API follows the seed's names in snake_case (put, get_or_put, fetch_remove, ...). The
// unmanaged engine takes the allocator on every call that may allocate or free, and the context as
// a trailing argument that defaults to Context{}. Lookups accept any pseudo-key the context can
// hash and compare (`get(std::string_view)` on a std::string-keyed map); the `_adapted` forms take
// a separate adapter. HashMap owns an allocator and a context and forwards to the engine.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#if defined(__SSE2__) && !defined(TESSERA_MAP_NO_SIMD)
#include <emmintrin.h>
#define TESSERA_MAP_SSE2 1
#endif

#include "tessera/map/context.hpp"

namespace tessera::map {

using Size = std::uint32_t;
inline constexpr unsigned kDefaultMaxLoadPercentage = 80;

namespace detail {

inline constexpr std::uint8_t kFree = 0x00;
inline constexpr std::uint8_t kTombstone = 0x01;
inline constexpr std::uint8_t kUsedBit = 0x80;
inline constexpr std::uint8_t kFingerprintMask = 0x7f;
// During rehash, a used byte with fingerprint 1 marks a slot claimed ahead of the cursor.
inline constexpr std::uint8_t kClaimed = kUsedBit | 0x01;
static_assert(kFree == 0, "free must be 0: a fresh table is a memset");
static_assert((kTombstone & kUsedBit) == 0 && kTombstone != kFree,
              "a tombstone is a non-used byte distinct from free");
static_assert((kUsedBit | kFingerprintMask) == 0xff, "used bit + 7-bit fingerprint fill the byte");

inline constexpr Size kMinimalCapacity = 8;
inline constexpr Size kNotFound = std::numeric_limits<Size>::max();
inline constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 31;

inline constexpr std::uint8_t fingerprint_of(Hash h) noexcept {
  return static_cast<std::uint8_t>(h >> 57);
}
inline constexpr std::uint8_t used_byte(Hash h) noexcept { return kUsedBit | fingerprint_of(h); }
static_assert(fingerprint_of(~Hash{0}) == kFingerprintMask, "the fingerprint is the top 7 bits");

inline constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) / a * a;
}

// A group of metadata bytes tested together. With SSE2, 16 bytes per load; otherwise one byte (the
// seed's loop). Masks have bit i set for byte i.
#ifdef TESSERA_MAP_SSE2
inline constexpr Size kGroupWidth = 16;
struct Group {
  __m128i v;
  explicit Group(const std::uint8_t* p) noexcept
      : v(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) {}
  std::uint32_t eq(std::uint8_t b) const noexcept {
    return static_cast<std::uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(b)))));
  }
  std::uint32_t used() const noexcept { return static_cast<std::uint32_t>(_mm_movemask_epi8(v)); }
};
#else
inline constexpr Size kGroupWidth = 1;
struct Group {
  std::uint8_t b;
  explicit Group(const std::uint8_t* p) noexcept : b(*p) {}
  std::uint32_t eq(std::uint8_t x) const noexcept { return b == x ? 1u : 0u; }
  std::uint32_t used() const noexcept { return b >> 7; }
};
#endif

// Lanes of a group that lie before the first free byte (all valid lanes when none is free).
inline std::uint32_t before_first(std::uint32_t free_mask, std::uint32_t valid) noexcept {
  return free_mask ? (free_mask & (0u - free_mask)) - 1 : valid;
}

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

struct Empty {};

inline std::uint64_t reverse_bits(std::uint64_t v) noexcept {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
  v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
  v = ((v >> 16) & 0x0000ffff0000ffffull) | ((v & 0x0000ffff0000ffffull) << 16);
  return (v >> 32) | (v << 32);
}

}  // namespace detail

// Statistics of one table, O(1) to read.
struct TableStats {
  std::size_t count = 0;
  std::size_t capacity = 0;
  std::size_t tombstones = 0;
  std::size_t table_bytes = 0;  // the one allocation
  std::size_t max_probe = 0;  // longest probe (slots visited to find a key) at insertion time since
                              // the table was last built; an upper bound after removals
  double mean_probe = 0;      // exact mean over the live entries
  std::uint64_t grows = 0;
  std::uint64_t rehashes = 0;
};

template <class K, class V, class Ctx, unsigned MaxLoadPercentage = kDefaultMaxLoadPercentage>
class HashMapUnmanaged {
  static_assert(MaxLoadPercentage > 0 && MaxLoadPercentage < 100,
                "tessera::map: MaxLoadPercentage must be in 1..99");
  static_assert(check_context<Ctx, K>());
  static_assert(Context<Ctx, K>);
  static_assert(std::is_nothrow_move_constructible_v<K> && std::is_nothrow_destructible_v<K>,
                "tessera::map: the key type must be nothrow-move-constructible and "
                "nothrow-destructible (growth moves entries and cannot roll back half-way)");
  static_assert(std::is_void_v<V> ||
                    (std::is_nothrow_move_constructible_v<V> && std::is_nothrow_destructible_v<V>),
                "tessera::map: the value type must be nothrow-move-constructible and "
                "nothrow-destructible (growth moves entries and cannot roll back half-way)");

  template <class, class, class, unsigned>
  friend class HashMapUnmanaged;

 public:
  using Key = K;
  using Value = V;
  using ContextType = Ctx;
  // What the values array holds: V, or an empty tag for a set.
  using StoredValue = std::conditional_t<std::is_void_v<V>, detail::Empty, V>;
  // A set (V = void, or an empty trivial tag) stores no values array.
  static constexpr bool kStoresValues =
      !(std::is_empty_v<StoredValue> && std::is_trivially_default_constructible_v<StoredValue> &&
        std::is_trivially_copyable_v<StoredValue>);
  static constexpr bool kIsSet = std::is_void_v<V>;

  struct Entry {
    K* key_ptr;
    StoredValue* value_ptr;
  };
  struct ConstEntry {
    const K* key_ptr;
    const StoredValue* value_ptr;
  };
  struct GetOrPutResult {
    K* key_ptr;
    StoredValue* value_ptr;
    bool found_existing;
  };
  // A key and value taken out of the map (fetch_put, fetch_remove).
  struct KV {
    K key;
    [[no_unique_address]] StoredValue value;
  };

  HashMapUnmanaged() noexcept = default;
  HashMapUnmanaged(const HashMapUnmanaged&) = delete;  // use clone(allocator)
  HashMapUnmanaged& operator=(const HashMapUnmanaged&) = delete;
  HashMapUnmanaged(HashMapUnmanaged&& o) noexcept
      : metadata_(std::exchange(o.metadata_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        available_(std::exchange(o.available_, 0)) {
    o.lock_.assert_unlocked("moving from a map");
  }
  // Move assignment takes the other table; this one must be empty (deinit'ed or never allocated),
  // since the unmanaged map has no allocator to free its own.
  HashMapUnmanaged& operator=(HashMapUnmanaged&& o) noexcept {
    if (this != &o) {
      if (metadata_ != nullptr) {
        std::fprintf(stderr, "tessera::map: move-assigning over a table that was not freed\n");
        std::abort();
      }
      o.lock_.assert_unlocked("moving from a map");
      metadata_ = std::exchange(o.metadata_, nullptr);
      size_ = std::exchange(o.size_, 0);
      available_ = std::exchange(o.available_, 0);
    }
    return *this;
  }
  // The unmanaged map cannot free without its allocator: call deinit(allocator) first (a leak
  // checker reports a forgotten one).
  ~HashMapUnmanaged() = default;

  // ---- sizes ------------------------------------------------------------------------------------

  Size count() const noexcept { return size_; }
  // Slots (not entries: only max_load(capacity()) entries fit before growth, as in the seed).
  Size capacity() const noexcept { return metadata_ ? header()->capacity : 0; }
  // Inserts left before the table must grow (tombstones count as available).
  Size available() const noexcept { return available_; }
  Size tombstones() const noexcept { return metadata_ ? header()->tombstones : 0; }
  std::size_t memory_bytes() const noexcept {
    return metadata_ ? layout(header()->capacity).total : 0;
  }
  TableStats stats() const noexcept {
    TableStats s;
    if (!metadata_) return s;
    const Header* h = header();
    s.count = size_;
    s.capacity = h->capacity;
    s.tombstones = h->tombstones;
    s.table_bytes = layout(h->capacity).total;
    s.max_probe = size_ ? h->max_displacement + 1 : 0;
    s.mean_probe = size_ ? 1.0 + static_cast<double>(h->displacement_total) / size_ : 0.0;
    s.grows = h->grows;
    s.rehashes = h->rehashes;
    return s;
  }

  static constexpr Size max_load(Size cap) noexcept {
    return static_cast<Size>(std::uint64_t{cap} * MaxLoadPercentage / 100);
  }
  // The smallest power-of-two capacity that holds n entries under the load limit.
  static Size capacity_for_size(std::uint64_t n) {
    const std::uint64_t want = n * 100 / MaxLoadPercentage + 1;
    const std::uint64_t cap = std::bit_ceil(want);
    if (cap > detail::kMaxCapacity) throw std::length_error("tessera::map: more than 2^31 slots");
    return static_cast<Size>(cap);
  }

  // ---- lifetime ---------------------------------------------------------------------------------

  // Destroys every entry and frees the table. The map is empty and reusable afterwards.
  template <class Alloc>
  void deinit(Alloc& alloc) noexcept {
    lock_.assert_unlocked("deinit");
    destroy_entries();
    free_table(alloc);
  }

  // Returns this map's contents and leaves it empty (a later deinit of it is a no-op).
  HashMapUnmanaged move() noexcept {
    lock_.assert_unlocked("move");
    return HashMapUnmanaged(std::move(*this));
  }

  // A copy with a table sized for count() (tombstones dropped); with another context type when
  // NewCtx is given. Strong guarantee: a throwing copy or allocation frees what was made.
  template <class NewCtx = Ctx, class Alloc>
  HashMapUnmanaged<K, V, NewCtx, MaxLoadPercentage> clone(Alloc& alloc,
                                                          const NewCtx& new_ctx = NewCtx{}) const {
    using Other = HashMapUnmanaged<K, V, NewCtx, MaxLoadPercentage>;
    Other out;
    if (size_ == 0) return out;
    out.allocate_table(alloc, capacity_for_size(size_));
    try {
      for (Size i = 0, seen = 0; seen < size_; ++i) {
        if (!(metadata_[i] & detail::kUsedBit)) continue;
        ++seen;
        const Hash h = new_ctx.hash(keys()[i]);
        const Size j = out.slot_for_absent(h);
        ::new (static_cast<void*>(out.keys() + j)) K(keys()[i]);
        if constexpr (kStoresValues) {
          try {
            ::new (static_cast<void*>(out.values() + j)) StoredValue(values()[i]);
          } catch (...) {
            out.keys()[j].~K();
            throw;
          }
        }
        out.commit_insert(j, h);
      }
    } catch (...) {
      out.deinit(alloc);
      throw;
    }
    return out;
  }

  // ---- capacity ---------------------------------------------------------------------------------

  // Makes room so that n entries in total fit without growing.
  template <class Alloc>
  void ensure_total_capacity(Alloc& alloc, std::uint64_t n, const Ctx& ctx = Ctx{}) {
    lock_.assert_unlocked("ensure_total_capacity");
    if (n <= size_ || n - size_ <= available_) return;
    grow(alloc, std::max(capacity_for_size(n), detail::kMinimalCapacity), ctx);
  }
  template <class Alloc>
  void ensure_unused_capacity(Alloc& alloc, std::uint64_t k, const Ctx& ctx = Ctx{}) {
    ensure_total_capacity(alloc, std::uint64_t{size_} + k, ctx);
  }

  // Destroys every entry, keeps the table.
  void clear_retaining_capacity() noexcept {
    lock_.assert_unlocked("clear_retaining_capacity");
    if (!metadata_) return;
    destroy_entries();
    Header* h = header();
    std::memset(metadata_, 0, h->capacity);
    size_ = 0;
    available_ = max_load(h->capacity);
    h->tombstones = 0;
    h->max_displacement = 0;
    h->displacement_total = 0;
  }
  template <class Alloc>
  void clear_and_free(Alloc& alloc) noexcept {
    lock_.assert_unlocked("clear_and_free");
    destroy_entries();
    free_table(alloc);
  }

  // Purges every tombstone in place (no allocation). Invalidates key and value pointers.
  void rehash(const Ctx& ctx = Ctx{}) noexcept {
    lock_.assert_unlocked("rehash");
    if (metadata_) rehash_in_place(ctx);
  }

  void lock_pointers() noexcept { lock_.lock(); }
  void unlock_pointers() noexcept { lock_.unlock(); }

  // ---- insertion --------------------------------------------------------------------------------

  // Finds `key`, or inserts it (constructed from the argument) with a value-initialised value.
  template <class Alloc, class Q>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> GetOrPutResult
  get_or_put(Alloc& alloc, Q&& key, const Ctx& ctx = Ctx{}) {
    return get_or_put_adapted(
        alloc, key, ctx, [&] { return K(std::forward<Q>(key)); }, ctx);
  }
  // The seed's getOrPutAdapted: looks up the pseudo-key q with `adapter`; when absent, the new key
  // is make_key() (whose hash under ctx must equal adapter.hash(q)); the value is
  // value-initialised.
  template <class Alloc, class Q, class A, class MakeKey>
  requires AdapterFor<A, Q, K> && std::invocable<MakeKey&> GetOrPutResult get_or_put_adapted(
      Alloc& alloc, const Q& q, const A& adapter, MakeKey&& make_key, const Ctx& ctx = Ctx{}) {
    const auto [idx, found] = insert_or_find(alloc, q, adapter, ctx, [&](K* kp, StoredValue* vp) {
      ::new (static_cast<void*>(kp)) K(make_key());
      construct_value_or_undo(kp, vp);
    });
    return result_at(idx, found);
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, const Q&> GetOrPutResult
  get_or_put_assume_capacity(const Q& key, const Ctx& ctx = Ctx{}) {
    return get_or_put_assume_capacity_adapted(key, ctx, [&] { return K(key); });
  }
  template <class Q, class A, class MakeKey>
  requires AdapterFor<A, Q, K> && std::invocable<MakeKey&> GetOrPutResult
  get_or_put_assume_capacity_adapted(const Q& q, const A& adapter, MakeKey&& make_key) {
    const Hash h = adapter.hash(q);
    const Slot s = find_or_slot(q, h, adapter);
    if (s.found) return result_at(s.index, true);
    assume_room(s);
    ::new (static_cast<void*>(keys() + s.index)) K(make_key());
    construct_value_or_undo(keys() + s.index, value_slot(s.index));
    commit_insert(s.index, h);
    return result_at(s.index, false);
  }
  // Inserts (key, value) if key is absent; returns the entry either way (existing value kept).
  template <class Alloc, class Q, class VV>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> &&(!kIsSet)Entry
      get_or_put_value(Alloc& alloc, Q&& key, VV&& value, const Ctx& ctx = Ctx{}) {
    const auto [idx, found] = insert_or_find(alloc, key, ctx, ctx, [&](K* kp, StoredValue* vp) {
      construct_pair(kp, vp, std::forward<Q>(key), std::forward<VV>(value));
    });
    (void)found;
    return Entry{keys() + idx, value_slot(idx)};
  }

  // Upsert. On an existing key the value is assigned and the stored key object is kept (seed).
  // Returns true when the key was new.
  template <class Alloc, class Q, class... VV>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) bool put(Alloc& alloc, Q&& key, VV&&... value_and_ctx) {
    return put_ctx(alloc, std::forward<Q>(key), Ctx{}, std::forward<VV>(value_and_ctx)...);
  }
  template <class Alloc, class Q, class... VV>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) bool put_ctx(Alloc& alloc, Q&& key, const Ctx& ctx, VV&&... value) {
    const auto [idx, found] = insert_or_find(alloc, key, ctx, ctx, [&](K* kp, StoredValue* vp) {
      construct_pair(kp, vp, std::forward<Q>(key), std::forward<VV>(value)...);
    });
    if (found) assign_value(idx, std::forward<VV>(value)...);
    return !found;
  }
  // Like put, and returns the previous key (a copy) and value (moved out) when there was one.
  template <class Alloc, class Q, class VV>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> &&
      (!kIsSet)std::optional<KV> fetch_put(Alloc& alloc, Q&& key, VV&& value,
                                           const Ctx& ctx = Ctx{}) {
    std::optional<KV> old;
    const auto [idx, found] = insert_or_find(alloc, key, ctx, ctx, [&](K* kp, StoredValue* vp) {
      construct_pair(kp, vp, std::forward<Q>(key), std::forward<VV>(value));
    });
    if (found) {
      old.emplace(KV{keys()[idx], std::move(values()[idx])});
      values()[idx] = std::forward<VV>(value);
    }
    return old;
  }
  // Inserts a key the caller promises is absent (asserted in debug builds): the first non-used slot
  // from its home, no search (seed).
  template <class Alloc, class Q, class... VV>
  requires std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) void put_no_clobber(Alloc& alloc, Q&& key, VV&&... value) {
    put_no_clobber_ctx(alloc, std::forward<Q>(key), Ctx{}, std::forward<VV>(value)...);
  }
  template <class Alloc, class Q, class... VV>
  requires std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) void put_no_clobber_ctx(Alloc& alloc, Q&& key, const Ctx& ctx,
                                                   VV&&... value) {
    lock_.assert_unlocked("put_no_clobber");
    assert_absent(key, ctx);
    const Hash h = ctx.hash(key);
    auto build = [&](K* kp, StoredValue* vp) {
      construct_pair(kp, vp, std::forward<Q>(key), std::forward<VV>(value)...);
    };
    if (available_ == 0) {
      Pending p(build);
      grow(alloc, std::max(capacity_for_size(std::uint64_t{size_} + 1), detail::kMinimalCapacity),
           ctx);
      place_pending(p, slot_for_absent(h), h);
    } else {
      const Size idx = slot_for_absent(h);
      build(keys() + idx, value_slot(idx));
      commit_insert(idx, h);
    }
  }
  template <class Q, class... VV>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) void put_assume_capacity(Q&& key, VV&&... value) {
    put_assume_capacity_ctx(std::forward<Q>(key), Ctx{}, std::forward<VV>(value)...);
  }
  template <class Q, class... VV>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) void put_assume_capacity_ctx(Q&& key, const Ctx& ctx, VV&&... value) {
    const Hash h = ctx.hash(key);
    const Slot s = find_or_slot(key, h, ctx);
    if (s.found) {
      assign_value(s.index, std::forward<VV>(value)...);
      return;
    }
    assume_room(s);
    construct_pair(keys() + s.index, value_slot(s.index), std::forward<Q>(key),
                   std::forward<VV>(value)...);
    commit_insert(s.index, h);
  }
  template <class Q, class... VV>
  requires std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) void put_assume_capacity_no_clobber(Q&& key, VV&&... value) {
    put_assume_capacity_no_clobber_ctx(std::forward<Q>(key), Ctx{}, std::forward<VV>(value)...);
  }
  template <class Q, class... VV>
  requires std::constructible_from<K, Q&&> &&
      (sizeof...(VV) <= 1) void put_assume_capacity_no_clobber_ctx(Q&& key, const Ctx& ctx,
                                                                   VV&&... value) {
    assert_absent(key, ctx);
    if (available_ == 0) {
      std::fprintf(stderr, "tessera::map: put_assume_capacity_no_clobber with no capacity left\n");
      std::abort();
    }
    const Hash h = ctx.hash(key);
    const Size idx = slot_for_absent(h);
    construct_pair(keys() + idx, value_slot(idx), std::forward<Q>(key), std::forward<VV>(value)...);
    commit_insert(idx, h);
  }
  template <class Q, class VV>
  requires AdapterFor<Ctx, Q, K> && std::constructible_from<K, Q&&> &&
      (!kIsSet)std::optional<KV> fetch_put_assume_capacity(Q&& key, VV&& value,
                                                           const Ctx& ctx = Ctx{}) {
    const Hash h = ctx.hash(key);
    const Slot s = find_or_slot(key, h, ctx);
    if (s.found) {
      std::optional<KV> old(KV{keys()[s.index], std::move(values()[s.index])});
      values()[s.index] = std::forward<VV>(value);
      return old;
    }
    assume_room(s);
    construct_pair(keys() + s.index, value_slot(s.index), std::forward<Q>(key),
                   std::forward<VV>(value));
    commit_insert(s.index, h);
    return std::nullopt;
  }

  // ---- lookup -----------------------------------------------------------------------------------

  template <class Q, class A>
  requires AdapterFor<A, Q, K>
  bool contains_adapted(const Q& q, const A& adapter) const noexcept {
    return find_index(q, adapter) != detail::kNotFound;
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K>
  bool contains(const Q& key, const Ctx& ctx = Ctx{}) const noexcept {
    return contains_adapted(key, ctx);
  }

  template <class Q, class A>
  requires AdapterFor<A, Q, K> &&
      (!kIsSet)V* get_ptr_adapted(const Q& q, const A& adapter) noexcept {
    const Size i = find_index(q, adapter);
    return i == detail::kNotFound ? nullptr : values() + i;
  }
  template <class Q, class A>
  requires AdapterFor<A, Q, K> &&
      (!kIsSet) const V* get_ptr_adapted(const Q& q, const A& adapter) const noexcept {
    return const_cast<HashMapUnmanaged*>(this)->get_ptr_adapted(q, adapter);
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> &&
      (!kIsSet)V* get_ptr(const Q& key, const Ctx& ctx = Ctx{}) noexcept {
    return get_ptr_adapted(key, ctx);
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> &&
      (!kIsSet) const V* get_ptr(const Q& key, const Ctx& ctx = Ctx{}) const noexcept {
    return get_ptr_adapted(key, ctx);
  }
  // A copy of the value (seed: get returns by value).
  template <class Q, class A>
  requires AdapterFor<A, Q, K> &&
      (!kIsSet)std::optional<V> get_adapted(const Q& q, const A& adapter) const {
    const V* p = get_ptr_adapted(q, adapter);
    return p ? std::optional<V>(*p) : std::nullopt;
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> &&
      (!kIsSet)std::optional<V> get(const Q& key, const Ctx& ctx = Ctx{}) const {
    return get_adapted(key, ctx);
  }
  // The stored key: the caller may modify it only in ways that keep its hash and equality.
  template <class Q, class A>
  requires AdapterFor<A, Q, K> K* get_key_ptr_adapted(const Q& q, const A& adapter) noexcept {
    const Size i = find_index(q, adapter);
    return i == detail::kNotFound ? nullptr : keys() + i;
  }
  template <class Q, class A>
  requires AdapterFor<A, Q, K>
  const K* get_key_ptr_adapted(const Q& q, const A& adapter) const noexcept {
    return const_cast<HashMapUnmanaged*>(this)->get_key_ptr_adapted(q, adapter);
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> K* get_key_ptr(const Q& key, const Ctx& ctx = Ctx{}) noexcept {
    return get_key_ptr_adapted(key, ctx);
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K>
  const K* get_key_ptr(const Q& key, const Ctx& ctx = Ctx{}) const noexcept {
    return get_key_ptr_adapted(key, ctx);
  }
  template <class Q, class A>
  requires AdapterFor<A, Q, K> std::optional<K> get_key_adapted(const Q& q, const A& adapter)
  const {
    const K* p = get_key_ptr_adapted(q, adapter);
    return p ? std::optional<K>(*p) : std::nullopt;
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> std::optional<K> get_key(const Q& key, const Ctx& ctx = Ctx{})
  const { return get_key_adapted(key, ctx); }
  template <class Q, class A>
  requires AdapterFor<A, Q, K> std::optional<Entry> get_entry_adapted(const Q& q, const A& adapter)
  noexcept {
    const Size i = find_index(q, adapter);
    if (i == detail::kNotFound) return std::nullopt;
    return Entry{keys() + i, value_slot(i)};
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> std::optional<Entry> get_entry(const Q& key,
                                                                const Ctx& ctx = Ctx{})
  noexcept { return get_entry_adapted(key, ctx); }

  // ---- removal ----------------------------------------------------------------------------------

  template <class Q, class A>
  requires AdapterFor<A, Q, K>
  bool remove_adapted(const Q& q, const A& adapter) noexcept {
    Hash h;
    const Size i = find_index(q, adapter, &h);
    if (i == detail::kNotFound) return false;
    erase_at(i, h);
    return true;
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K>
  bool remove(const Q& key, const Ctx& ctx = Ctx{}) noexcept { return remove_adapted(key, ctx); }
  template <class Q, class A>
  requires AdapterFor<A, Q, K> std::optional<KV> fetch_remove_adapted(const Q& q, const A& adapter)
  noexcept {
    Hash h;
    const Size i = find_index(q, adapter, &h);
    if (i == detail::kNotFound) return std::nullopt;
    std::optional<KV> out;
    if constexpr (kStoresValues) {
      out.emplace(KV{std::move(keys()[i]), std::move(values()[i])});
    } else {
      out.emplace(KV{std::move(keys()[i]), StoredValue{}});
    }
    erase_at(i, h);
    return out;
  }
  template <class Q>
  requires AdapterFor<Ctx, Q, K> std::optional<KV> fetch_remove(const Q& key,
                                                                const Ctx& ctx = Ctx{})
  noexcept { return fetch_remove_adapted(key, ctx); }
  // Removes the entry whose stored key `key_ptr` points at (from get_key_ptr, an Entry, ...).
  void remove_by_ptr(const K* key_ptr, const Ctx& ctx = Ctx{}) noexcept {
    const auto i = static_cast<Size>(key_ptr - keys());
    erase_at(i, ctx.hash(*key_ptr));
  }

  // ---- iteration --------------------------------------------------------------------------------

  // Slot-order iteration over live entries; invalidated by any insert or removal (except removing
  // the entry just visited, which is allowed: removal moves nothing).
  template <bool kConst>
  class BasicIterator {
    using MapPtr = std::conditional_t<kConst, const HashMapUnmanaged*, HashMapUnmanaged*>;

   public:
    using value_type = std::conditional_t<kConst, ConstEntry, Entry>;
    using difference_type = std::ptrdiff_t;
    BasicIterator() = default;
    BasicIterator(MapPtr m, Size i) noexcept : map_(m), index_(i) { skip(); }
    value_type operator*() const noexcept {
      return value_type{map_->keys() + index_, map_->value_slot(index_)};
    }
    BasicIterator& operator++() noexcept {
      ++index_;
      skip();
      return *this;
    }
    BasicIterator operator++(int) noexcept {
      BasicIterator t = *this;
      ++*this;
      return t;
    }
    bool operator==(const BasicIterator& o) const noexcept { return index_ == o.index_; }
    // The seed's next(): the next entry, or nullopt at the end.
    std::optional<value_type> next() noexcept {
      if (map_ == nullptr || index_ >= map_->capacity()) return std::nullopt;
      value_type e = **this;
      ++*this;
      return e;
    }

   private:
    void skip() noexcept { index_ = map_ ? map_->next_used(index_) : 0; }
    MapPtr map_ = nullptr;
    Size index_ = 0;
  };
  using Iterator = BasicIterator<false>;
  using ConstIterator = BasicIterator<true>;
  Iterator begin() noexcept { return Iterator(this, 0); }
  Iterator end() noexcept { return Iterator(this, capacity()); }
  ConstIterator begin() const noexcept { return ConstIterator(this, 0); }
  ConstIterator end() const noexcept { return ConstIterator(this, capacity()); }
  Iterator iterator() noexcept { return begin(); }
  ConstIterator iterator() const noexcept { return begin(); }

  // Ranges over the keys or the values alone (the seed's keyIterator / valueIterator).
  template <bool kKeys, bool kConst>
  class FieldRange {
    using MapPtr = std::conditional_t<kConst, const HashMapUnmanaged*, HashMapUnmanaged*>;
    using Field = std::conditional_t<kKeys, K, StoredValue>;
    using Ref = std::conditional_t<kConst, const Field&, Field&>;

   public:
    class It {
     public:
      using value_type = Field;
      using difference_type = std::ptrdiff_t;
      It() = default;
      explicit It(BasicIterator<kConst> i) noexcept : it_(i) {}
      Ref operator*() const noexcept {
        if constexpr (kKeys) {
          return *(*it_).key_ptr;
        } else {
          return *(*it_).value_ptr;
        }
      }
      It& operator++() noexcept {
        ++it_;
        return *this;
      }
      It operator++(int) noexcept {
        It t = *this;
        ++it_;
        return t;
      }
      bool operator==(const It& o) const noexcept { return it_ == o.it_; }
      // The seed's next(): a pointer to the next key/value, or nullptr at the end.
      std::remove_reference_t<Ref>* next() noexcept {
        auto e = it_.next();
        if (!e) return nullptr;
        if constexpr (kKeys) {
          return e->key_ptr;
        } else {
          return e->value_ptr;
        }
      }

     private:
      BasicIterator<kConst> it_;
    };
    explicit FieldRange(MapPtr m) noexcept : map_(m) {}
    It begin() const noexcept { return It(map_->begin()); }
    It end() const noexcept { return It(map_->end()); }

   private:
    MapPtr map_;
  };
  auto key_iterator() noexcept { return FieldRange<true, false>(this); }
  auto key_iterator() const noexcept { return FieldRange<true, true>(this); }
  auto value_iterator() noexcept requires(!kIsSet) { return FieldRange<false, false>(this); }
  auto value_iterator() const noexcept requires(!kIsSet) { return FieldRange<false, true>(this); }

  // ---- scan -------------------------------------------------------------------------------------
  //
  // Stateless cursor iteration, with Redis's SCAN guarantee:
  //   (1) every key present from the first call (cursor 0) to the last (which returns 0) is
  //       passed to fn at least once, whatever grows, in-place rehashes, inserts and removals
  //       happen between the calls;
  //   (2) a key absent during the whole iteration is never passed;
  //   (3) a key may be passed more than once (only when the table grew between calls, and then at
  //       most once per capacity the table had during the iteration).
  //
  // Why it holds. The cursor is a position in HASH space, not a slot: it names a home bucket b
  // (b = cursor & mask), and a call emits exactly the keys whose home is b. Those keys are all in
  // the probe run that starts at slot b and ends at the first free slot: linear probing never puts
  // a key past a free slot on its way from home, tombstones do not end a run, and neither growth,
  // rehash nor removal breaks that invariant (a removal frees a slot only when nothing probes
  // through it). So a visit finds every key of its bucket wherever the key physically sits; slots
  // moving (rehash, growth) is harmless because homes do not depend on slots. Homes do depend on
  // the capacity: a key with hash h lives in bucket h & mask. The cursor runs through the buckets
  // in reverse-binary order (Redis dictScan: increment the bit-reversed cursor), so the buckets
  // already visited are exactly those whose low bits, read backwards, come before the cursor's.
  // When the table doubles, bucket b splits into b and b + cap, which share b's low bits: both were
  // visited if b was, both are still ahead if b was; the order of the remaining buckets is
  // unchanged. Hence (1). (2) holds because only live keys are passed, (3) because after a growth
  // the cursor may revisit buckets whose low bits it already covered at the smaller size. The map
  // never shrinks except by clear_*, which removes every key (and the cursor stays valid: bits
  // above the mask are ignored).
  //
  // Visits buckets from `cursor` until at least `count` keys were passed or 10 * count buckets
  // were visited; returns the next cursor, 0 when the iteration is complete. Cursors are < 2^31.
  // fn(const K&, const StoredValue&) must not modify the map.
  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn,
                     const Ctx& ctx = Ctx{}) const {
    if (size_ == 0) return 0;
    const Size cap = header()->capacity;
    const Size mask = cap - 1;
    if (count == 0) count = 1;
    const std::size_t max_visits = count * 10;
    std::size_t emitted = 0;
    std::size_t visits = 0;
    do {
      const auto b = static_cast<Size>(cursor & mask);
      Size i = b;
      for (Size n = 0; n < cap && metadata_[i] != detail::kFree; ++n, i = (i + 1) & mask) {
        if (!(metadata_[i] & detail::kUsedBit)) continue;
        if ((ctx.hash(keys()[i]) & mask) != b) continue;
        fn(std::as_const(keys()[i]), std::as_const(*value_slot(i)));
        ++emitted;
      }
      cursor |= ~std::uint64_t{mask};
      cursor = detail::reverse_bits(cursor);
      ++cursor;
      cursor = detail::reverse_bits(cursor);
      ++visits;
    } while (cursor != 0 && emitted < count && visits < max_visits);
    return cursor;
  }

  // ---- checking (tests, debugging) --------------------------------------------------------------

  // Verifies every invariant of the table, O(cap); returns nullptr or what is wrong.
  const char* check_invariants(const Ctx& ctx = Ctx{}) const {
    if (!metadata_) return (size_ == 0 && available_ == 0) ? nullptr : "empty map with counts";
    const Header* h = header();
    const Size cap = h->capacity;
    if (!std::has_single_bit(cap)) return "capacity not a power of two";
    Size used = 0;
    Size tombs = 0;
    std::uint64_t disp_total = 0;
    for (Size i = 0; i < cap; ++i) {
      const std::uint8_t m = metadata_[i];
      if (m == detail::kTombstone) ++tombs;
      if (!(m & detail::kUsedBit)) {
        if (m != detail::kFree && m != detail::kTombstone) return "stray non-used metadata byte";
        continue;
      }
      ++used;
      const Hash hash = ctx.hash(keys()[i]);
      if (detail::used_byte(hash) != m) return "fingerprint does not match the key's hash";
      const Size home = static_cast<Size>(hash) & (cap - 1);
      for (Size j = home; j != i; j = (j + 1) & (cap - 1)) {
        if (metadata_[j] == detail::kFree) return "a key is not reachable from its home";
      }
      if (find_index(keys()[i], ctx) != i) return "lookup of a stored key finds another slot";
      disp_total += (i - home) & (cap - 1);
      if (((i - home) & (cap - 1)) > h->max_displacement) return "max probe below a real probe";
    }
    if (used != size_) return "count() differs from the used slots";
    if (tombs != h->tombstones) return "tombstone count is wrong";
    if (available_ != max_load(cap) - size_) return "available != max_load - count";
    if (disp_total != h->displacement_total) return "probe total is wrong";
    return nullptr;
  }

 private:
  struct Header {
    K* keys;
    StoredValue* values;
    Size capacity;
    Size tombstones;
    Size max_displacement;  // largest (slot - home) & mask at insertion since the last build
    std::uint64_t displacement_total;  // sum over live entries of (slot - home) & mask
    std::uint64_t grows;
    std::uint64_t rehashes;
  };
  static constexpr std::size_t kMaxAlign =
      std::max({alignof(Header), alignof(K), kStoresValues ? alignof(StoredValue) : 1});
  struct alignas(kMaxAlign) Unit {
    std::byte bytes[kMaxAlign];
  };
  struct Layout {
    std::size_t keys;
    std::size_t values;
    std::size_t total;
  };
  static constexpr Layout layout(Size cap) noexcept {
    const std::size_t meta_end = sizeof(Header) + cap;
    const std::size_t keys_at = detail::align_up(meta_end, alignof(K));
    const std::size_t values_at = detail::align_up(keys_at + std::size_t{cap} * sizeof(K),
                                                   kStoresValues ? alignof(StoredValue) : 1);
    std::size_t end = values_at + (kStoresValues ? std::size_t{cap} * sizeof(StoredValue) : 0);
    // A group load at the last slot reads up to kGroupWidth - 1 bytes past the metadata.
    end = std::max(end, meta_end + detail::kGroupWidth - 1);
    return Layout{keys_at, values_at, detail::align_up(end, kMaxAlign)};
  }

  struct Slot {
    Size index;
    bool found;
  };

  // The header sits just before the metadata in the same block. The step back goes through an
  // integer: g++ 12 at -O2 otherwise "proves" the empty map's (never taken) path reads metadata[-1]
  // and fails the -Werror build with -Warray-bounds.
  Header* header() const noexcept {
    return reinterpret_cast<Header*>(reinterpret_cast<std::uintptr_t>(metadata_) - sizeof(Header));
  }
  K* keys() const noexcept { return header()->keys; }
  StoredValue* values() const noexcept { return header()->values; }
  // Where a slot's value lives; for a set, one shared empty object.
  StoredValue* value_slot(Size i) const noexcept {
    if constexpr (kStoresValues) {
      return values() + i;
    } else {
      (void)i;
      static StoredValue empty{};
      return &empty;
    }
  }

  // Allocates a zeroed table of `cap` slots into this (empty) map. Throws; changes nothing then.
  template <class Alloc>
  void allocate_table(Alloc& alloc, Size cap) {
    using UnitAlloc = typename std::allocator_traits<Alloc>::template rebind_alloc<Unit>;
    UnitAlloc ua(alloc);
    const Layout l = layout(cap);
    Unit* block = std::allocator_traits<UnitAlloc>::allocate(ua, l.total / sizeof(Unit));
    auto* base = reinterpret_cast<unsigned char*>(std::to_address(block));
    Header* h = ::new (static_cast<void*>(base)) Header{};
    h->keys = reinterpret_cast<K*>(base + l.keys);
    h->values = kStoresValues ? reinterpret_cast<StoredValue*>(base + l.values) : nullptr;
    h->capacity = cap;
    metadata_ = reinterpret_cast<std::uint8_t*>(base + sizeof(Header));
    std::memset(metadata_, 0, cap);
    size_ = 0;
    available_ = max_load(cap);
  }
  template <class Alloc>
  void free_table(Alloc& alloc) noexcept {
    if (metadata_) {
      using UnitAlloc = typename std::allocator_traits<Alloc>::template rebind_alloc<Unit>;
      UnitAlloc ua(alloc);
      const Layout l = layout(header()->capacity);
      auto* block = reinterpret_cast<Unit*>(metadata_ - sizeof(Header));
      std::allocator_traits<UnitAlloc>::deallocate(ua, block, l.total / sizeof(Unit));
    }
    metadata_ = nullptr;
    size_ = 0;
    available_ = 0;
  }
  void destroy_entries() noexcept {
    if (!metadata_) return;
    if constexpr (!std::is_trivially_destructible_v<K> ||
                  !std::is_trivially_destructible_v<StoredValue>) {
      for (Size i = next_used(0), seen = 0; seen < size_; i = next_used(i + 1)) {
        ++seen;
        destroy_at(i);
      }
    }
  }
  void destroy_at(Size i) noexcept {
    keys()[i].~K();
    if constexpr (kStoresValues) values()[i].~StoredValue();
  }

  // ---- probing ----------------------------------------------------------------------------------

  // The first used slot at or after i, or capacity() (a group at a time).
  Size next_used(Size i) const noexcept {
    const Size cap = capacity();
    while (i < cap) {
      const detail::Group g(metadata_ + i);
      const Size n = std::min(detail::kGroupWidth, cap - i);
      const std::uint32_t used = g.used() & ((std::uint32_t{1} << n) - 1);
      if (used) return i + static_cast<Size>(std::countr_zero(used));
      i += n;
    }
    return cap;
  }

  // The slot holding q, or kNotFound. Stores q's hash in *hash_out when asked.
  template <class Q, class A>
  Size find_index(const Q& q, const A& adapter, Hash* hash_out = nullptr) const noexcept {
    if (size_ == 0) return detail::kNotFound;
    const Hash h = adapter.hash(q);
    if (hash_out) *hash_out = h;
    const Size cap = header()->capacity;
    const Size mask = cap - 1;
    const std::uint8_t want = detail::used_byte(h);
    const K* ks = keys();
    Size idx = static_cast<Size>(h) & mask;
    Size remaining = cap;
    for (;;) {
      const detail::Group g(metadata_ + idx);
      const Size n = std::min({detail::kGroupWidth, cap - idx, remaining});
      const std::uint32_t valid = (std::uint32_t{1} << n) - 1;
      const std::uint32_t free_mask = g.eq(detail::kFree) & valid;
      std::uint32_t m = g.eq(want) & detail::before_first(free_mask, valid);
      while (m) {
        const Size i = idx + static_cast<Size>(std::countr_zero(m));
        if (adapter.eql(q, ks[i])) return i;
        m &= m - 1;
      }
      if (free_mask) return detail::kNotFound;
      remaining -= n;
      if (remaining == 0) return detail::kNotFound;
      idx = (idx + n) & mask;
    }
  }

  // Requires an allocated table. Finds q, or the slot an insert of q should take: the first
  // tombstone on its probe path, else the free slot that ended the probe (seed). index is
  // kNotFound when q is absent and the table has neither (it is full: available == 0).
  template <class Q, class A>
  Slot find_or_slot(const Q& q, Hash h, const A& adapter) const noexcept {
    const Size cap = header()->capacity;
    const Size mask = cap - 1;
    const std::uint8_t want = detail::used_byte(h);
    const K* ks = keys();
    Size idx = static_cast<Size>(h) & mask;
    Size remaining = cap;
    Size first_tombstone = detail::kNotFound;
    for (;;) {
      const detail::Group g(metadata_ + idx);
      const Size n = std::min({detail::kGroupWidth, cap - idx, remaining});
      const std::uint32_t valid = (std::uint32_t{1} << n) - 1;
      const std::uint32_t free_mask = g.eq(detail::kFree) & valid;
      const std::uint32_t before = detail::before_first(free_mask, valid);
      std::uint32_t m = g.eq(want) & before;
      while (m) {
        const Size i = idx + static_cast<Size>(std::countr_zero(m));
        if (adapter.eql(q, ks[i])) return Slot{i, true};
        m &= m - 1;
      }
      if (first_tombstone == detail::kNotFound) {
        const std::uint32_t t = g.eq(detail::kTombstone) & before;
        if (t) first_tombstone = idx + static_cast<Size>(std::countr_zero(t));
      }
      if (free_mask) {
        return Slot{first_tombstone != detail::kNotFound
                        ? first_tombstone
                        : idx + static_cast<Size>(std::countr_zero(free_mask)),
                    false};
      }
      remaining -= n;
      if (remaining == 0) return Slot{first_tombstone, false};
      idx = (idx + n) & mask;
    }
  }

  // The first non-used slot (free or tombstone) from h's home: where a key known to be absent
  // goes. Requires available_ > 0 (so such a slot exists).
  Size slot_for_absent(Hash h) const noexcept {
    const Size cap = header()->capacity;
    const Size mask = cap - 1;
    Size idx = static_cast<Size>(h) & mask;
    for (;;) {
      const detail::Group g(metadata_ + idx);
      const Size n = std::min(detail::kGroupWidth, cap - idx);
      const std::uint32_t open = ~g.used() & ((std::uint32_t{1} << n) - 1);
      if (open) return idx + static_cast<Size>(std::countr_zero(open));
      idx = (idx + n) & mask;
    }
  }

  // Marks slot i used by the key with hash h (its key and value are already constructed).
  void commit_insert(Size i, Hash h) noexcept {
    Header* hd = header();
    if (metadata_[i] == detail::kTombstone) --hd->tombstones;
    metadata_[i] = detail::used_byte(h);
    ++size_;
    --available_;
    const Size disp = (i - static_cast<Size>(h)) & (hd->capacity - 1);
    hd->displacement_total += disp;
    hd->max_displacement = std::max(hd->max_displacement, disp);
  }

  // Removes the entry at slot i (hash h): destroys it and marks the slot (design note, REMOVAL).
  void erase_at(Size i, Hash h) noexcept {
    Header* hd = header();
    const Size mask = hd->capacity - 1;
    destroy_at(i);
    hd->displacement_total -= (i - static_cast<Size>(h)) & mask;
    if (metadata_[(i + 1) & mask] == detail::kFree) {
      metadata_[i] = detail::kFree;
      for (Size j = (i - 1) & mask; metadata_[j] == detail::kTombstone; j = (j - 1) & mask) {
        metadata_[j] = detail::kFree;
        --hd->tombstones;
      }
    } else {
      metadata_[i] = detail::kTombstone;
      ++hd->tombstones;
    }
    --size_;
    ++available_;
  }

  // The automatic in-place rehash trigger (design note, TOMBSTONE BUILD-UP).
  bool rehash_due() const noexcept {
    const Header* hd = header();
    const Size ml = max_load(hd->capacity);
    return hd->tombstones != 0 && size_ + hd->tombstones >= ml &&
           hd->tombstones >= (hd->capacity - ml) / 2;
  }

  void assume_room(const Slot& s) const noexcept {
    if (available_ == 0 || s.index == detail::kNotFound) {
      std::fprintf(stderr, "tessera::map: an AssumeCapacity insert with no capacity left\n");
      std::abort();
    }
  }

  template <class Q>
  void assert_absent([[maybe_unused]] const Q& key, [[maybe_unused]] const Ctx& ctx) const {
#ifndef NDEBUG
    if (find_index(key, ctx) != detail::kNotFound) {
      std::fprintf(stderr, "tessera::map: a no_clobber insert of a key that is present\n");
      std::abort();
    }
#endif
  }

  // ---- building entries -------------------------------------------------------------------------

  // Constructs the value at vp (value-initialised, or from the argument); destroys *kp if that
  // throws, so a failed build leaves nothing behind.
  template <class... VV>
  static void construct_value_or_undo(K* kp, StoredValue* vp, VV&&... v) {
    if constexpr (kStoresValues) {
      try {
        ::new (static_cast<void*>(vp)) StoredValue(std::forward<VV>(v)...);
      } catch (...) {
        kp->~K();
        throw;
      }
    } else {
      (void)kp;
      (void)vp;
      ((void)v, ...);
    }
  }
  template <class Q, class... VV>
  static void construct_pair(K* kp, StoredValue* vp, Q&& key, VV&&... v) {
    ::new (static_cast<void*>(kp)) K(std::forward<Q>(key));
    construct_value_or_undo(kp, vp, std::forward<VV>(v)...);
  }
  template <class... VV>
  void assign_value([[maybe_unused]] Size i, VV&&... v) {
    if constexpr (kStoresValues && sizeof...(VV) == 1) values()[i] = (std::forward<VV>(v), ...);
  }

  // A new entry built aside, before the table changes (see EXCEPTIONS in the design note).
  struct Pending {
    alignas(K) unsigned char key_buf[sizeof(K)];
    alignas(StoredValue) unsigned char value_buf[sizeof(StoredValue)];
    template <class Build>
    explicit Pending(Build& build) {
      build(key(), value());
    }
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
    ~Pending() {
      key()->~K();
      if constexpr (kStoresValues) value()->~StoredValue();
    }
    K* key() noexcept { return std::launder(reinterpret_cast<K*>(key_buf)); }
    StoredValue* value() noexcept {
      return std::launder(reinterpret_cast<StoredValue*>(value_buf));
    }
  };
  void place_pending(Pending& p, Size i, Hash h) noexcept {
    ::new (static_cast<void*>(keys() + i)) K(std::move(*p.key()));
    if constexpr (kStoresValues) {
      ::new (static_cast<void*>(values() + i)) StoredValue(std::move(*p.value()));
    }
    commit_insert(i, h);
  }

  // The allocating insert path shared by get_or_put, put, fetch_put, get_or_put_value: looks q up
  // (no allocation when found), else makes room when needed (grow or in-place rehash) and builds
  // the entry with build(K*, StoredValue*). Returns {slot, found}.
  template <class Alloc, class Q, class A, class Build>
  std::pair<Size, bool> insert_or_find(Alloc& alloc, const Q& q, const A& adapter, const Ctx& ctx,
                                       Build&& build) {
    const Hash h = adapter.hash(q);
    Slot s{detail::kNotFound, false};
    if (metadata_) {
      s = find_or_slot(q, h, adapter);
      if (s.found) return {s.index, true};
    }
    lock_.assert_unlocked("an insert of a new key (it may grow or rehash the table)");
    if (available_ != 0 && !(metadata_[s.index] == detail::kFree && rehash_due())) {
      // The key and the value live in different arrays: start fetching the value's line while
      // the key is built (write-allocate misses otherwise happen one after the other).
      if constexpr (kStoresValues) __builtin_prefetch(values() + s.index, 1);
      build(keys() + s.index, value_slot(s.index));
      commit_insert(s.index, h);
      return {s.index, false};
    }
    Pending p(build);
    if (available_ == 0) {
      grow(alloc, std::max(capacity_for_size(std::uint64_t{size_} + 1), detail::kMinimalCapacity),
           ctx);
    } else {
      rehash_in_place(ctx);
    }
    const Size i = slot_for_absent(h);
    place_pending(p, i, h);
    return {i, false};
  }

  GetOrPutResult result_at(Size i, bool found) noexcept {
    return GetOrPutResult{keys() + i, value_slot(i), found};
  }

  // ---- growth and rehash ------------------------------------------------------------------------

  // Moves every entry into a new table of new_cap slots. Throws only from the allocation, before
  // anything changed; tombstones are dropped.
  template <class Alloc>
  void grow(Alloc& alloc, Size new_cap, const Ctx& ctx) {
    HashMapUnmanaged next;
    next.allocate_table(alloc, new_cap);  // the only step that can fail
    std::uint64_t grows = 1;
    std::uint64_t rehashes = 0;
    if (metadata_) {
      const Header* old = header();
      grows += old->grows;
      rehashes = old->rehashes;
      // In batches: hash a run of keys first (independent loads, which the CPU overlaps: for
      // keys that point to heap data each hash is a cache miss), then move them.
      constexpr Size kBatch = 32;
      Size from[kBatch];
      Hash hashes[kBatch];
      Size i = next_used(0);
      for (Size seen = 0; seen < size_;) {
        Size n = 0;
        for (; n < kBatch && seen + n < size_; ++n, i = next_used(i + 1)) {
          from[n] = i;
          hashes[n] = ctx.hash(keys()[i]);
        }
        for (Size b = 0; b < n; ++b) {
          const Size src = from[b];
          const Size j = next.slot_for_absent(hashes[b]);
          ::new (static_cast<void*>(next.keys() + j)) K(std::move(keys()[src]));
          if constexpr (kStoresValues) {
            ::new (static_cast<void*>(next.values() + j)) StoredValue(std::move(values()[src]));
          }
          destroy_at(src);
          next.commit_insert(j, hashes[b]);
        }
        seen += n;
      }
      size_ = 0;  // every entry moved out and destroyed here
      free_table(alloc);
    }
    next.header()->grows = grows;
    next.header()->rehashes = rehashes;
    metadata_ = std::exchange(next.metadata_, nullptr);
    size_ = std::exchange(next.size_, 0);
    available_ = std::exchange(next.available_, 0);
  }

  void relocate(Size from, Size to) noexcept {
    ::new (static_cast<void*>(keys() + to)) K(std::move(keys()[from]));
    if constexpr (kStoresValues) {
      ::new (static_cast<void*>(values() + to)) StoredValue(std::move(values()[from]));
    }
    destroy_at(from);
  }
  void swap_slots(Size a, Size b) noexcept {
    {
      K tmp(std::move(keys()[a]));
      keys()[a].~K();
      ::new (static_cast<void*>(keys() + a)) K(std::move(keys()[b]));
      keys()[b].~K();
      ::new (static_cast<void*>(keys() + b)) K(std::move(tmp));
    }
    if constexpr (kStoresValues) {
      StoredValue tmp(std::move(values()[a]));
      values()[a].~StoredValue();
      ::new (static_cast<void*>(values() + a)) StoredValue(std::move(values()[b]));
      values()[b].~StoredValue();
      ::new (static_cast<void*>(values() + b)) StoredValue(std::move(tmp));
    }
  }

  // The seed's in-place rehash (design note, IN-PLACE REHASH). Requires an allocated table.
  void rehash_in_place(const Ctx& ctx) noexcept {
    Header* hd = header();
    const Size cap = hd->capacity;
    const Size mask = cap - 1;
    std::uint8_t* md = metadata_;
    for (Size i = 0; i < cap; ++i) md[i] = (md[i] & detail::kUsedBit) ? detail::kUsedBit : 0;
    std::uint64_t disp_total = 0;
    Size max_disp = 0;
    auto placed = [&](Size at, Size home) {
      const Size d = (at - home) & mask;
      disp_total += d;
      max_disp = std::max(max_disp, d);
    };
    Size curr = 0;
    while (curr < cap) {
      if (!(md[curr] & detail::kUsedBit)) {
        ++curr;
        continue;
      }
      const Hash h = ctx.hash(keys()[curr]);
      const std::uint8_t byte = detail::used_byte(h);
      const Size home = static_cast<Size>(h) & mask;
      Size idx = home;
      while ((idx < curr && (md[idx] & detail::kUsedBit)) ||
             (idx > curr && md[idx] == detail::kClaimed)) {
        idx = (idx + 1) & mask;
      }
      if (idx < curr) {
        md[idx] = byte;
        relocate(curr, idx);
        md[curr] = detail::kFree;
        placed(idx, home);
        ++curr;
      } else if (idx == curr) {
        md[curr] = byte;
        placed(curr, home);
        ++curr;
      } else if (md[idx] & detail::kUsedBit) {
        // An unplaced entry holds the target: swap; the displaced one is processed next, here.
        md[idx] = detail::kClaimed;
        swap_slots(curr, idx);
      } else {
        md[idx] = detail::kClaimed;
        relocate(curr, idx);
        md[curr] = detail::kFree;
        ++curr;
      }
    }
    hd->tombstones = 0;
    hd->displacement_total = disp_total;
    hd->max_displacement = max_disp;
    ++hd->rehashes;
  }

  std::uint8_t* metadata_ = nullptr;
  Size size_ = 0;
  Size available_ = 0;
  [[no_unique_address]] detail::PointerLock lock_;
};

// ================================================================================================
// HashMap: the managed face. Owns an allocator and a context; forwards to the engine.
// ================================================================================================

template <class K, class V, class Ctx, unsigned MaxLoadPercentage = kDefaultMaxLoadPercentage,
          class Allocator = std::allocator<std::byte>>
class HashMap {
 public:
  using Unmanaged = HashMapUnmanaged<K, V, Ctx, MaxLoadPercentage>;
  using Key = K;
  using Value = V;
  using ContextType = Ctx;
  using StoredValue = typename Unmanaged::StoredValue;
  using Entry = typename Unmanaged::Entry;
  using ConstEntry = typename Unmanaged::ConstEntry;
  using GetOrPutResult = typename Unmanaged::GetOrPutResult;
  using KV = typename Unmanaged::KV;
  using Iterator = typename Unmanaged::Iterator;
  using ConstIterator = typename Unmanaged::ConstIterator;
  static constexpr bool kIsSet = Unmanaged::kIsSet;

  HashMap() = default;
  explicit HashMap(const Allocator& alloc, const Ctx& ctx = Ctx{}) : alloc_(alloc), ctx_(ctx) {}
  explicit HashMap(const Ctx& ctx) : ctx_(ctx) {}
  // Takes an unmanaged map that was built with an equal allocator (the seed's promote).
  HashMap(Unmanaged&& u, const Allocator& alloc = Allocator{}, const Ctx& ctx = Ctx{}) noexcept
      : map_(std::move(u)), alloc_(alloc), ctx_(ctx) {}
  HashMap(const HashMap& o)
      : map_(o.map_.clone(o.alloc_mut(), o.ctx_)), alloc_(o.alloc_), ctx_(o.ctx_) {}
  HashMap(HashMap&& o) noexcept : map_(std::move(o.map_)), alloc_(o.alloc_), ctx_(o.ctx_) {}
  HashMap& operator=(const HashMap& o) {
    if (this != &o) {
      HashMap copy(o);
      swap(copy);
    }
    return *this;
  }
  HashMap& operator=(HashMap&& o) noexcept {
    if (this != &o) {
      map_.deinit(alloc_);
      map_ = std::move(o.map_);
      alloc_ = o.alloc_;
      ctx_ = o.ctx_;
    }
    return *this;
  }
  ~HashMap() { map_.deinit(alloc_); }
  void swap(HashMap& o) noexcept {
    Unmanaged t = std::move(map_);
    map_ = std::move(o.map_);
    o.map_ = std::move(t);
    std::swap(alloc_, o.alloc_);
    std::swap(ctx_, o.ctx_);
  }

  Unmanaged& unmanaged() noexcept { return map_; }
  const Unmanaged& unmanaged() const noexcept { return map_; }
  const Allocator& allocator() const noexcept { return alloc_; }
  const Ctx& context() const noexcept { return ctx_; }

  Size count() const noexcept { return map_.count(); }
  Size capacity() const noexcept { return map_.capacity(); }
  Size available() const noexcept { return map_.available(); }
  Size tombstones() const noexcept { return map_.tombstones(); }
  std::size_t memory_bytes() const noexcept { return map_.memory_bytes(); }
  TableStats stats() const noexcept { return map_.stats(); }
  static Size capacity_for_size(std::uint64_t n) { return Unmanaged::capacity_for_size(n); }

  // Copies: with this allocator and context, or others (the seed's cloneWith*).
  HashMap clone() const { return HashMap(*this); }
  template <class NewCtx = Ctx, class NewAlloc = Allocator>
  HashMap<K, V, NewCtx, MaxLoadPercentage, NewAlloc> clone_with(
      const NewAlloc& alloc, const NewCtx& ctx = NewCtx{}) const {
    NewAlloc a = alloc;
    auto u = map_.template clone<NewCtx>(a, ctx);
    return HashMap<K, V, NewCtx, MaxLoadPercentage, NewAlloc>(std::move(u), a, ctx);
  }
  // Returns the contents as a new map and leaves this one empty.
  HashMap move() noexcept { return HashMap(map_.move(), alloc_, ctx_); }

  void ensure_total_capacity(std::uint64_t n) { map_.ensure_total_capacity(alloc_, n, ctx_); }
  void ensure_unused_capacity(std::uint64_t k) { map_.ensure_unused_capacity(alloc_, k, ctx_); }
  void clear_retaining_capacity() noexcept { map_.clear_retaining_capacity(); }
  void clear_and_free() noexcept { map_.clear_and_free(alloc_); }
  void rehash() noexcept { map_.rehash(ctx_); }
  void lock_pointers() noexcept { map_.lock_pointers(); }
  void unlock_pointers() noexcept { map_.unlock_pointers(); }

  template <class Q>
  GetOrPutResult get_or_put(Q&& key) {
    return map_.get_or_put(alloc_, std::forward<Q>(key), ctx_);
  }
  template <class Q, class A, class MakeKey>
  GetOrPutResult get_or_put_adapted(const Q& q, const A& adapter, MakeKey&& make_key) {
    return map_.get_or_put_adapted(alloc_, q, adapter, std::forward<MakeKey>(make_key), ctx_);
  }
  template <class Q>
  GetOrPutResult get_or_put_assume_capacity(const Q& key) {
    return map_.get_or_put_assume_capacity(key, ctx_);
  }
  template <class Q, class A, class MakeKey>
  GetOrPutResult get_or_put_assume_capacity_adapted(const Q& q, const A& adapter,
                                                    MakeKey&& make_key) {
    return map_.get_or_put_assume_capacity_adapted(q, adapter, std::forward<MakeKey>(make_key));
  }
  template <class Q, class VV>
  Entry get_or_put_value(Q&& key, VV&& value) {
    return map_.get_or_put_value(alloc_, std::forward<Q>(key), std::forward<VV>(value), ctx_);
  }
  template <class Q, class... VV>
  bool put(Q&& key, VV&&... value) {
    return map_.put_ctx(alloc_, std::forward<Q>(key), ctx_, std::forward<VV>(value)...);
  }
  template <class Q, class VV>
  std::optional<KV> fetch_put(Q&& key, VV&& value) {
    return map_.fetch_put(alloc_, std::forward<Q>(key), std::forward<VV>(value), ctx_);
  }
  template <class Q, class VV>
  std::optional<KV> fetch_put_assume_capacity(Q&& key, VV&& value) {
    return map_.fetch_put_assume_capacity(std::forward<Q>(key), std::forward<VV>(value), ctx_);
  }
  template <class Q, class... VV>
  void put_no_clobber(Q&& key, VV&&... value) {
    map_.put_no_clobber_ctx(alloc_, std::forward<Q>(key), ctx_, std::forward<VV>(value)...);
  }
  template <class Q, class... VV>
  void put_assume_capacity(Q&& key, VV&&... value) {
    map_.put_assume_capacity_ctx(std::forward<Q>(key), ctx_, std::forward<VV>(value)...);
  }
  template <class Q, class... VV>
  void put_assume_capacity_no_clobber(Q&& key, VV&&... value) {
    map_.put_assume_capacity_no_clobber_ctx(std::forward<Q>(key), ctx_, std::forward<VV>(value)...);
  }

  template <class Q>
  bool contains(const Q& key) const noexcept {
    return map_.contains(key, ctx_);
  }
  template <class Q, class A>
  bool contains_adapted(const Q& q, const A& adapter) const noexcept {
    return map_.contains_adapted(q, adapter);
  }
  template <class Q>
  auto get(const Q& key) const {
    return map_.get(key, ctx_);
  }
  template <class Q, class A>
  auto get_adapted(const Q& q, const A& adapter) const {
    return map_.get_adapted(q, adapter);
  }
  template <class Q>
  auto get_ptr(const Q& key) noexcept {
    return map_.get_ptr(key, ctx_);
  }
  template <class Q>
  auto get_ptr(const Q& key) const noexcept {
    return map_.get_ptr(key, ctx_);
  }
  template <class Q, class A>
  auto get_ptr_adapted(const Q& q, const A& adapter) noexcept {
    return map_.get_ptr_adapted(q, adapter);
  }
  template <class Q>
  std::optional<K> get_key(const Q& key) const {
    return map_.get_key(key, ctx_);
  }
  template <class Q, class A>
  std::optional<K> get_key_adapted(const Q& q, const A& adapter) const {
    return map_.get_key_adapted(q, adapter);
  }
  template <class Q>
  K* get_key_ptr(const Q& key) noexcept {
    return map_.get_key_ptr(key, ctx_);
  }
  template <class Q, class A>
  K* get_key_ptr_adapted(const Q& q, const A& adapter) noexcept {
    return map_.get_key_ptr_adapted(q, adapter);
  }
  template <class Q>
  std::optional<Entry> get_entry(const Q& key) noexcept {
    return map_.get_entry(key, ctx_);
  }
  template <class Q, class A>
  std::optional<Entry> get_entry_adapted(const Q& q, const A& adapter) noexcept {
    return map_.get_entry_adapted(q, adapter);
  }
  template <class Q>
  bool remove(const Q& key) noexcept {
    return map_.remove(key, ctx_);
  }
  template <class Q, class A>
  bool remove_adapted(const Q& q, const A& adapter) noexcept {
    return map_.remove_adapted(q, adapter);
  }
  template <class Q>
  std::optional<KV> fetch_remove(const Q& key) noexcept {
    return map_.fetch_remove(key, ctx_);
  }
  template <class Q, class A>
  std::optional<KV> fetch_remove_adapted(const Q& q, const A& adapter) noexcept {
    return map_.fetch_remove_adapted(q, adapter);
  }
  void remove_by_ptr(const K* key_ptr) noexcept { map_.remove_by_ptr(key_ptr, ctx_); }

  Iterator begin() noexcept { return map_.begin(); }
  Iterator end() noexcept { return map_.end(); }
  ConstIterator begin() const noexcept { return map_.begin(); }
  ConstIterator end() const noexcept { return map_.end(); }
  Iterator iterator() noexcept { return map_.begin(); }
  ConstIterator iterator() const noexcept { return map_.begin(); }
  auto key_iterator() noexcept { return map_.key_iterator(); }
  auto key_iterator() const noexcept { return map_.key_iterator(); }
  auto value_iterator() noexcept { return map_.value_iterator(); }
  auto value_iterator() const noexcept { return map_.value_iterator(); }

  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn) const {
    return map_.scan(cursor, count, std::forward<Fn>(fn), ctx_);
  }
  const char* check_invariants() const { return map_.check_invariants(ctx_); }

 private:
  Allocator& alloc_mut() const noexcept { return const_cast<Allocator&>(alloc_); }

  Unmanaged map_;
  [[no_unique_address]] Allocator alloc_{};
  [[no_unique_address]] Ctx ctx_{};
};

// ---- the everyday names -------------------------------------------------------------------------

template <class K, class V, class Allocator = std::allocator<std::byte>>
using AutoHashMap = HashMap<K, V, AutoContext<K>, kDefaultMaxLoadPercentage, Allocator>;
template <class K, class V>
using AutoHashMapUnmanaged = HashMapUnmanaged<K, V, AutoContext<K>>;

// std::string keys owned by the map, looked up by std::string_view (or anything convertible to
// it) with no temporary string.
template <class V, class Allocator = std::allocator<std::byte>>
using StringHashMap = HashMap<std::string, V, StringContext, kDefaultMaxLoadPercentage, Allocator>;
template <class V>
using StringHashMapUnmanaged = HashMapUnmanaged<std::string, V, StringContext>;

// Sets: no values array at all.
template <class K, class Ctx, unsigned MaxLoadPercentage = kDefaultMaxLoadPercentage,
          class Allocator = std::allocator<std::byte>>
using HashSet = HashMap<K, void, Ctx, MaxLoadPercentage, Allocator>;
template <class K>
using AutoHashSet = HashSet<K, AutoContext<K>>;
using StringHashSet = HashSet<std::string, StringContext>;

}  // namespace tessera::map
