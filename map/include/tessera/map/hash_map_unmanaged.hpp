// HashMapUnmanaged: the engine. The table, probing, insertion, removal, growth, the in-place
// rehash and the SCAN cursor; it holds no allocator and no context (they are passed to each call
// that needs them). The design note is in hash_map.hpp; the managed face is hash_map_managed.hpp.
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
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
#include <type_traits>
#include <utility>

#include "tessera/map/context.hpp"
#include "tessera/map/debug.hpp"
#include "tessera/map/detail/group.hpp"
#include "tessera/map/detail/metadata.hpp"
#include "tessera/map/detail/scan_cursor.hpp"
#include "tessera/map/map_stats.hpp"

namespace tessera::map {

namespace detail {
// The values array's element for a set (V = void): an empty tag, stored nowhere.
struct Empty {};
}  // namespace detail

// Inserts and assignments take the value as an optional trailing argument: none for a set, or to
// value-initialise it.
template <class... VV>
concept AtMostOneValue = sizeof...(VV) <= 1;

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
  friend struct detail::TableInspector;

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
  // The raw counters stats() is computed from, O(1). The segmented map (segmented_map.hpp) keeps
  // its totals by adding up how each operation changed them in the segment it touched.
  struct Counters {
    Size count = 0;
    Size capacity = 0;
    Size tombstones = 0;
    Size max_displacement = 0;             // see Header
    std::uint64_t displacement_total = 0;  // see Header
    std::uint64_t grows = 0;
    std::uint64_t rehashes = 0;
  };
  Counters counters() const noexcept {
    if (!metadata_) return Counters{};
    const Header* h = header();
    return Counters{
        size_,    h->capacity, h->tombstones, h->max_displacement, h->displacement_total,
        h->grows, h->rehashes};
  }
  // The size of the one block a table of `cap` slots allocates (0 for none).
  static constexpr std::size_t block_bytes(Size cap) noexcept {
    return cap ? layout(cap).total : 0;
  }
  // The table block is memory_bytes.
  MapStats stats() const noexcept {
    const Counters c = counters();
    MapStats s;
    s.count = c.count;
    s.capacity = c.capacity;
    s.tombstones = c.tombstones;
    s.memory_bytes = block_bytes(c.capacity);
    s.max_probe = c.count ? c.max_displacement + 1 : 0;
    s.mean_probe = c.count ? 1.0 + static_cast<double>(c.displacement_total) / c.count : 0.0;
    s.grows = c.grows;
    s.rehashes = c.rehashes;
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
  //
  // Key parameters are constrained in place: InsertKey<Ctx, K> Q can be looked up through the
  // context and can build a stored key; AdapterFor<Q, K> A hashes and compares a pseudo-key Q
  // (context.hpp). Operations that read or write values exist only when the map has values.

  // Finds `key`, or inserts it (constructed from the argument) with a value-initialised value.
  template <class Alloc, InsertKey<Ctx, K> Q>
  GetOrPutResult get_or_put(Alloc& alloc, Q&& key, const Ctx& ctx = Ctx{}) {
    return get_or_put_adapted(
        alloc, key, ctx, [&] { return K(std::forward<Q>(key)); }, ctx);
  }
  // The seed's getOrPutAdapted: looks up the pseudo-key q with `adapter`; when absent, the new key
  // is make_key() (whose hash under ctx must equal adapter.hash(q)); the value is
  // value-initialised.
  template <class Alloc, class Q, AdapterFor<Q, K> A, std::invocable MakeKey>
  GetOrPutResult get_or_put_adapted(Alloc& alloc, const Q& q, const A& adapter, MakeKey&& make_key,
                                    const Ctx& ctx = Ctx{}) {
    const auto [idx, found] = insert_or_find(alloc, q, adapter, ctx, [&](K* kp, StoredValue* vp) {
      ::new (static_cast<void*>(kp)) K(make_key());
      construct_value_or_undo(kp, vp);
    });
    return result_at(idx, found);
  }
  template <LookupKey<Ctx, K> Q>
  GetOrPutResult get_or_put_assume_capacity(
      const Q& key, const Ctx& ctx = Ctx{}) requires std::constructible_from<K, const Q&> {
    return get_or_put_assume_capacity_adapted(key, ctx, [&] { return K(key); });
  }
  template <class Q, AdapterFor<Q, K> A, std::invocable MakeKey>
  GetOrPutResult get_or_put_assume_capacity_adapted(const Q& q, const A& adapter,
                                                    MakeKey&& make_key) {
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
  template <class Alloc, InsertKey<Ctx, K> Q, class VV>
  Entry get_or_put_value(Alloc& alloc, Q&& key, VV&& value,
                         const Ctx& ctx = Ctx{}) requires(!kIsSet) {
    const auto [idx, found] = insert_or_find(alloc, key, ctx, ctx, [&](K* kp, StoredValue* vp) {
      construct_pair(kp, vp, std::forward<Q>(key), std::forward<VV>(value));
    });
    (void)found;
    return Entry{keys() + idx, value_slot(idx)};
  }

  // Upsert. On an existing key the value is assigned and the stored key object is kept (seed).
  // Returns true when the key was new. A set passes no value.
  template <class Alloc, InsertKey<Ctx, K> Q, class... VV>
  bool put(Alloc& alloc, Q&& key, VV&&... value) requires AtMostOneValue<VV...> {
    return put_ctx(alloc, std::forward<Q>(key), Ctx{}, std::forward<VV>(value)...);
  }
  template <class Alloc, InsertKey<Ctx, K> Q, class... VV>
  bool put_ctx(Alloc& alloc, Q&& key, const Ctx& ctx,
               VV&&... value) requires AtMostOneValue<VV...> {
    return put_adapted(alloc, std::forward<Q>(key), ctx, ctx, std::forward<VV>(value)...);
  }
  // put_ctx, looking the key up through `adapter`, which must hash it as ctx does: a caller that
  // has already hashed the key passes the hash along this way (the segmented map).
  template <class Alloc, KeySource<K> Q, class A, class... VV>
  bool put_adapted(Alloc& alloc, Q&& key, const A& adapter, const Ctx& ctx,
                   VV&&... value) requires AtMostOneValue<VV...> {
    const auto [idx, found] = insert_or_find(alloc, key, adapter, ctx, [&](K* kp, StoredValue* vp) {
      construct_pair(kp, vp, std::forward<Q>(key), std::forward<VV>(value)...);
    });
    if (found) assign_value(idx, std::forward<VV>(value)...);
    return !found;
  }
  // Like put, and returns the previous key (a copy) and value (moved out) when there was one.
  template <class Alloc, InsertKey<Ctx, K> Q, class VV>
  std::optional<KV> fetch_put(Alloc& alloc, Q&& key, VV&& value,
                              const Ctx& ctx = Ctx{}) requires(!kIsSet) {
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
  template <class Alloc, KeySource<K> Q, class... VV>
  void put_no_clobber(Alloc& alloc, Q&& key, VV&&... value) requires AtMostOneValue<VV...> {
    put_no_clobber_ctx(alloc, std::forward<Q>(key), Ctx{}, std::forward<VV>(value)...);
  }
  template <class Alloc, KeySource<K> Q, class... VV>
  void put_no_clobber_ctx(Alloc& alloc, Q&& key, const Ctx& ctx,
                          VV&&... value) requires AtMostOneValue<VV...> {
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
  template <InsertKey<Ctx, K> Q, class... VV>
  void put_assume_capacity(Q&& key, VV&&... value) requires AtMostOneValue<VV...> {
    put_assume_capacity_ctx(std::forward<Q>(key), Ctx{}, std::forward<VV>(value)...);
  }
  template <InsertKey<Ctx, K> Q, class... VV>
  void put_assume_capacity_ctx(Q&& key, const Ctx& ctx,
                               VV&&... value) requires AtMostOneValue<VV...> {
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
  template <KeySource<K> Q, class... VV>
  void put_assume_capacity_no_clobber(Q&& key, VV&&... value) requires AtMostOneValue<VV...> {
    put_assume_capacity_no_clobber_ctx(std::forward<Q>(key), Ctx{}, std::forward<VV>(value)...);
  }
  template <KeySource<K> Q, class... VV>
  void put_assume_capacity_no_clobber_ctx(Q&& key, const Ctx& ctx,
                                          VV&&... value) requires AtMostOneValue<VV...> {
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
  template <InsertKey<Ctx, K> Q, class VV>
  std::optional<KV> fetch_put_assume_capacity(Q&& key, VV&& value,
                                              const Ctx& ctx = Ctx{}) requires(!kIsSet) {
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
  //
  // Each lookup comes in two forms: name(key, ctx) looks a key up through the map's context,
  // name_adapted(q, adapter) through a separate adapter (the seed's *Adapted); the first calls the
  // second.

  template <class Q, AdapterFor<Q, K> A>
  bool contains_adapted(const Q& q, const A& adapter) const noexcept {
    return find_index(q, adapter) != detail::kNotFound;
  }
  template <LookupKey<Ctx, K> Q>
  bool contains(const Q& key, const Ctx& ctx = Ctx{}) const noexcept {
    return contains_adapted(key, ctx);
  }

  template <class Q, AdapterFor<Q, K> A>
  V* get_ptr_adapted(const Q& q, const A& adapter) noexcept requires(!kIsSet) {
    const Size i = find_index(q, adapter);
    return i == detail::kNotFound ? nullptr : values() + i;
  }
  template <class Q, AdapterFor<Q, K> A>
  const V* get_ptr_adapted(const Q& q, const A& adapter) const noexcept requires(!kIsSet) {
    return const_cast<HashMapUnmanaged*>(this)->get_ptr_adapted(q, adapter);
  }
  template <LookupKey<Ctx, K> Q>
  V* get_ptr(const Q& key, const Ctx& ctx = Ctx{}) noexcept requires(!kIsSet) {
    return get_ptr_adapted(key, ctx);
  }
  template <LookupKey<Ctx, K> Q>
  const V* get_ptr(const Q& key, const Ctx& ctx = Ctx{}) const noexcept requires(!kIsSet) {
    return get_ptr_adapted(key, ctx);
  }
  // A copy of the value (seed: get returns by value).
  template <class Q, AdapterFor<Q, K> A>
  std::optional<V> get_adapted(const Q& q, const A& adapter) const requires(!kIsSet) {
    const V* p = get_ptr_adapted(q, adapter);
    return p ? std::optional<V>(*p) : std::nullopt;
  }
  template <LookupKey<Ctx, K> Q>
  std::optional<V> get(const Q& key, const Ctx& ctx = Ctx{}) const requires(!kIsSet) {
    return get_adapted(key, ctx);
  }
  // The stored key: the caller may modify it only in ways that keep its hash and equality.
  template <class Q, AdapterFor<Q, K> A>
  K* get_key_ptr_adapted(const Q& q, const A& adapter) noexcept {
    const Size i = find_index(q, adapter);
    return i == detail::kNotFound ? nullptr : keys() + i;
  }
  template <class Q, AdapterFor<Q, K> A>
  const K* get_key_ptr_adapted(const Q& q, const A& adapter) const noexcept {
    return const_cast<HashMapUnmanaged*>(this)->get_key_ptr_adapted(q, adapter);
  }
  template <LookupKey<Ctx, K> Q>
  K* get_key_ptr(const Q& key, const Ctx& ctx = Ctx{}) noexcept {
    return get_key_ptr_adapted(key, ctx);
  }
  template <LookupKey<Ctx, K> Q>
  const K* get_key_ptr(const Q& key, const Ctx& ctx = Ctx{}) const noexcept {
    return get_key_ptr_adapted(key, ctx);
  }
  template <class Q, AdapterFor<Q, K> A>
  std::optional<K> get_key_adapted(const Q& q, const A& adapter) const {
    const K* p = get_key_ptr_adapted(q, adapter);
    return p ? std::optional<K>(*p) : std::nullopt;
  }
  template <LookupKey<Ctx, K> Q>
  std::optional<K> get_key(const Q& key, const Ctx& ctx = Ctx{}) const {
    return get_key_adapted(key, ctx);
  }
  template <class Q, AdapterFor<Q, K> A>
  std::optional<Entry> get_entry_adapted(const Q& q, const A& adapter) noexcept {
    const Size i = find_index(q, adapter);
    if (i == detail::kNotFound) return std::nullopt;
    return Entry{keys() + i, value_slot(i)};
  }
  template <LookupKey<Ctx, K> Q>
  std::optional<Entry> get_entry(const Q& key, const Ctx& ctx = Ctx{}) noexcept {
    return get_entry_adapted(key, ctx);
  }

  // ---- removal ----------------------------------------------------------------------------------

  template <class Q, AdapterFor<Q, K> A>
  bool remove_adapted(const Q& q, const A& adapter) noexcept {
    Hash h;
    const Size i = find_index(q, adapter, &h);
    if (i == detail::kNotFound) return false;
    erase_at(i, h);
    return true;
  }
  template <LookupKey<Ctx, K> Q>
  bool remove(const Q& key, const Ctx& ctx = Ctx{}) noexcept {
    return remove_adapted(key, ctx);
  }
  template <class Q, AdapterFor<Q, K> A>
  std::optional<KV> fetch_remove_adapted(const Q& q, const A& adapter) noexcept {
    Hash h;
    const Size i = find_index(q, adapter, &h);
    if (i == detail::kNotFound) return std::nullopt;
    return fetch_remove_at(i, h);
  }
  template <LookupKey<Ctx, K> Q>
  std::optional<KV> fetch_remove(const Q& key, const Ctx& ctx = Ctx{}) noexcept {
    return fetch_remove_adapted(key, ctx);
  }
  // Removes the entry in slot i (one find_in returned), whose key hashes to h.
  void remove_at(Size i, Hash h) noexcept { erase_at(i, h); }
  // Removes the entry in slot i (hash h) and returns its key and value.
  std::optional<KV> fetch_remove_at(Size i, Hash h) noexcept {
    std::optional<KV> out;
    if constexpr (kStoresValues) {
      out.emplace(KV{std::move(keys()[i]), std::move(values()[i])});
    } else {
      out.emplace(KV{std::move(keys()[i]), StoredValue{}});
    }
    erase_at(i, h);
    return out;
  }
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
      emitted += scan_bucket(static_cast<Size>(cursor & mask), fn, ctx);
      cursor = detail::next_cursor(cursor, mask);
      ++visits;
    } while (cursor != 0 && emitted < count && visits < max_visits);
    return cursor;
  }

  // Passes fn every key whose home is `bucket` (< capacity()), with its value; returns how many.
  // They all lie in the probe run from `bucket` to the first free slot (scan's note says why).
  template <class Fn>
  std::size_t scan_bucket(Size bucket, Fn& fn, const Ctx& ctx = Ctx{}) const {
    if (size_ == 0) return 0;
    const Size cap = header()->capacity;
    const Size mask = cap - 1;
    std::size_t emitted = 0;
    Size i = bucket;
    for (Size n = 0; n < cap && metadata_[i] != detail::kFree; ++n, i = (i + 1) & mask) {
      if (!(metadata_[i] & detail::kUsedBit)) continue;
      if ((ctx.hash(keys()[i]) & mask) != bucket) continue;
      fn(std::as_const(keys()[i]), std::as_const(*value_slot(i)));
      ++emitted;
    }
    return emitted;
  }

  // ---- redistribution (the segmented map's split and merge) -------------------------------------

  // The metadata array (nullptr when unallocated): a caller that knows the capacity can prefetch
  // the group a probe will read while the header is still being fetched (the segmented map).
  const std::uint8_t* metadata() const noexcept { return metadata_; }

  // The key in slot i (< capacity()), or nullptr when the slot holds none (random sampling).
  const K* key_at(Size i) const noexcept {
    return (metadata_[i] & detail::kUsedBit) != 0 ? keys() + i : nullptr;
  }

  // ---- lookups from outside the table object (the segmented map's directory) ------------------
  //
  // A table's metadata pointer and capacity locate everything a lookup reads: the header sits just
  // before the metadata, and the keys and values arrays at the offsets layout(capacity) gives from
  // the block's start. A caller that keeps both (the segmented map copies them into each directory
  // entry) probes without reading the table object or its header: two dependent cache lines fewer
  // per lookup. A view is valid until the table is reallocated or freed.
  struct View {
    const std::uint8_t* metadata = nullptr;
    Size capacity = 0;
  };
  View view() const noexcept { return View{metadata_, capacity()}; }
  // The slot holding q (whose hash is h), or kNotFound; the same probe as find_index.
  template <class Q, class A>
  static Size find_in(View t, const Q& q, Hash h, const A& adapter) noexcept {
    if (t.capacity == 0) return detail::kNotFound;
    const Slot s = probe_in<false>(t.metadata, t.capacity, key_array(t), q, h, adapter);
    return s.found ? s.index : detail::kNotFound;
  }
  // The arrays of a viewed table (non-empty view). The block is the table's own, written through
  // its non-const object; the view only lost the pointer's constness on the way.
  static K* key_array(View t) noexcept {
    return reinterpret_cast<K*>(block_address(t) + layout(t.capacity).keys);
  }
  static StoredValue* value_at(View t, Size i) noexcept {
    if constexpr (kStoresValues) {
      return reinterpret_cast<StoredValue*>(block_address(t) + layout(t.capacity).values) + i;
    } else {
      (void)t;
      (void)i;
      static StoredValue empty{};
      return &empty;
    }
  }
  // Starts fetching the line an insert or removal reads and writes first (the header).
  static void prefetch_header(View t) noexcept {
    if (t.capacity != 0) __builtin_prefetch(reinterpret_cast<const void*>(block_address(t)), 1);
  }

  // Moves an entry whose key is known to be absent, with its hash h under this map's context, into
  // the first non-used slot from its home: no search, no hashing, no allocation. Requires
  // available() > 0 (the caller sized the table first).
  void insert_moved(Hash h, K&& key, StoredValue&& value) noexcept {
    const Size i = slot_for_absent(h);
    ::new (static_cast<void*>(keys() + i)) K(std::move(key));
    if constexpr (kStoresValues) {
      ::new (static_cast<void*>(values() + i)) StoredValue(std::move(value));
    } else {
      (void)value;
    }
    commit_insert(i, h);
  }

  // ---- checking (tests, debugging) --------------------------------------------------------------

  // Verifies every invariant of the table, O(cap); returns nullptr or what is wrong (debug.hpp
  // lists them).
  const char* check_invariants(const Ctx& ctx = Ctx{}) const {
    return detail::TableInspector::check(*this, ctx);
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
  static std::uintptr_t block_address(View t) noexcept {
    return reinterpret_cast<std::uintptr_t>(t.metadata) - sizeof(Header);
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
    const Slot s = probe<false>(q, h, adapter);
    return s.found ? s.index : detail::kNotFound;
  }

  // Requires an allocated table. Finds q, or the slot an insert of q should take: the first
  // tombstone on its probe path, else the free slot that ended the probe (seed). index is
  // kNotFound when q is absent and the table has neither (it is full: available == 0).
  template <class Q, class A>
  Slot find_or_slot(const Q& q, Hash h, const A& adapter) const noexcept {
    return probe<true>(q, h, adapter);
  }

  // The probe loop of every lookup and insert (design note, PROBING), a group at a time. Requires
  // an allocated table. Returns {slot, true} when q is found; otherwise, with kInsertSlot, the slot
  // find_or_slot describes, and without it {kNotFound, false}.
  template <bool kInsertSlot, class Q, class A>
  Slot probe(const Q& q, Hash h, const A& adapter) const noexcept {
    return probe_in<kInsertSlot>(metadata_, header()->capacity, keys(), q, h, adapter);
  }
  template <bool kInsertSlot, class Q, class A>
  static Slot probe_in(const std::uint8_t* md, Size cap, const K* ks, const Q& q, Hash h,
                       const A& adapter) noexcept {
    const Size mask = cap - 1;
    const std::uint8_t want = detail::used_byte(h);
    Size idx = static_cast<Size>(h) & mask;
    Size remaining = cap;
    Size first_tombstone = detail::kNotFound;
    for (;;) {
      const detail::Group g(md + idx);
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
      if constexpr (kInsertSlot) {
        if (first_tombstone == detail::kNotFound) {
          const std::uint32_t t = g.eq(detail::kTombstone) & before;
          if (t) first_tombstone = idx + static_cast<Size>(std::countr_zero(t));
        }
      }
      if (free_mask) {
        if constexpr (!kInsertSlot) return Slot{detail::kNotFound, false};
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

}  // namespace tessera::map
