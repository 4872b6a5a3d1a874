// HashMap: the managed face (the seed's HashMap over HashMapUnmanaged). It owns an allocator and a
// context and passes them to the engine. What needs neither (sizes, iteration, the `_adapted`
// lookups, which bring their own adapter) is the engine's own member, made public here by a
// using-declaration; what needs them is a one-line forwarder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "tessera/map/hash_map_unmanaged.hpp"

namespace tessera::map {

template <class K, class V, class Ctx, unsigned MaxLoadPercentage = kDefaultMaxLoadPercentage,
          class Allocator = std::allocator<std::byte>>
class HashMap : private HashMapUnmanaged<K, V, Ctx, MaxLoadPercentage> {
 public:
  using Unmanaged = HashMapUnmanaged<K, V, Ctx, MaxLoadPercentage>;
  using Key = K;
  using Value = V;
  using ContextType = Ctx;
  using typename Unmanaged::ConstEntry;
  using typename Unmanaged::ConstIterator;
  using typename Unmanaged::Entry;
  using typename Unmanaged::GetOrPutResult;
  using typename Unmanaged::Iterator;
  using typename Unmanaged::KV;
  using typename Unmanaged::StoredValue;
  static constexpr bool kIsSet = Unmanaged::kIsSet;

  HashMap() = default;
  explicit HashMap(const Allocator& alloc, const Ctx& ctx = Ctx{}) : alloc_(alloc), ctx_(ctx) {}
  explicit HashMap(const Ctx& ctx) : ctx_(ctx) {}
  // Takes an unmanaged map that was built with an equal allocator (the seed's promote).
  HashMap(Unmanaged&& u, const Allocator& alloc = Allocator{}, const Ctx& ctx = Ctx{}) noexcept
      : Unmanaged(std::move(u)), alloc_(alloc), ctx_(ctx) {}
  HashMap(const HashMap& o)
      : Unmanaged(o.unmanaged().clone(o.alloc_mut(), o.ctx_)), alloc_(o.alloc_), ctx_(o.ctx_) {}
  HashMap(HashMap&& o) noexcept
      : Unmanaged(std::move(o.unmanaged())), alloc_(o.alloc_), ctx_(o.ctx_) {}
  HashMap& operator=(const HashMap& o) {
    if (this != &o) {
      HashMap copy(o);
      swap(copy);
    }
    return *this;
  }
  HashMap& operator=(HashMap&& o) noexcept {
    if (this != &o) {
      unmanaged().deinit(alloc_);
      unmanaged() = std::move(o.unmanaged());
      alloc_ = o.alloc_;
      ctx_ = o.ctx_;
    }
    return *this;
  }
  ~HashMap() { unmanaged().deinit(alloc_); }
  void swap(HashMap& o) noexcept {
    Unmanaged t = std::move(unmanaged());
    unmanaged() = std::move(o.unmanaged());
    o.unmanaged() = std::move(t);
    std::swap(alloc_, o.alloc_);
    std::swap(ctx_, o.ctx_);
  }

  Unmanaged& unmanaged() noexcept { return *this; }
  const Unmanaged& unmanaged() const noexcept { return *this; }
  const Allocator& allocator() const noexcept { return alloc_; }
  const Ctx& context() const noexcept { return ctx_; }

  // ---- the engine's own members (no allocator, no context) --------------------------------------
  using Unmanaged::available;
  using Unmanaged::begin;
  using Unmanaged::capacity;
  using Unmanaged::capacity_for_size;
  using Unmanaged::clear_retaining_capacity;
  using Unmanaged::contains_adapted;
  using Unmanaged::count;
  using Unmanaged::end;
  using Unmanaged::fetch_remove_adapted;
  using Unmanaged::get_adapted;
  using Unmanaged::get_entry_adapted;
  using Unmanaged::get_key_adapted;
  using Unmanaged::get_key_ptr_adapted;
  using Unmanaged::get_or_put_assume_capacity_adapted;
  using Unmanaged::get_ptr_adapted;
  using Unmanaged::iterator;
  using Unmanaged::key_iterator;
  using Unmanaged::lock_pointers;
  using Unmanaged::memory_bytes;
  using Unmanaged::remove_adapted;
  using Unmanaged::stats;
  using Unmanaged::tombstones;
  using Unmanaged::unlock_pointers;
  using Unmanaged::value_iterator;

  // ---- copies -----------------------------------------------------------------------------------
  // With this allocator and context, or others (the seed's cloneWith*).
  HashMap clone() const { return HashMap(*this); }
  template <class NewCtx = Ctx, class NewAlloc = Allocator>
  HashMap<K, V, NewCtx, MaxLoadPercentage, NewAlloc> clone_with(
      const NewAlloc& alloc, const NewCtx& ctx = NewCtx{}) const {
    NewAlloc a = alloc;
    auto u = unmanaged().template clone<NewCtx>(a, ctx);
    return HashMap<K, V, NewCtx, MaxLoadPercentage, NewAlloc>(std::move(u), a, ctx);
  }
  // Returns the contents as a new map and leaves this one empty.
  HashMap move() noexcept { return HashMap(unmanaged().move(), alloc_, ctx_); }

  // ---- with the allocator and the context -------------------------------------------------------
  void ensure_total_capacity(std::uint64_t n) { Unmanaged::ensure_total_capacity(alloc_, n, ctx_); }
  void ensure_unused_capacity(std::uint64_t k) {
    Unmanaged::ensure_unused_capacity(alloc_, k, ctx_);
  }
  void clear_and_free() noexcept { Unmanaged::clear_and_free(alloc_); }
  void rehash() noexcept { Unmanaged::rehash(ctx_); }

  template <class Q>
  GetOrPutResult get_or_put(Q&& key) {
    return Unmanaged::get_or_put(alloc_, std::forward<Q>(key), ctx_);
  }
  template <class Q, class A, class MakeKey>
  GetOrPutResult get_or_put_adapted(const Q& q, const A& adapter, MakeKey&& make_key) {
    return Unmanaged::get_or_put_adapted(alloc_, q, adapter, std::forward<MakeKey>(make_key), ctx_);
  }
  template <class Q>
  GetOrPutResult get_or_put_assume_capacity(const Q& key) {
    return Unmanaged::get_or_put_assume_capacity(key, ctx_);
  }
  template <class Q, class VV>
  Entry get_or_put_value(Q&& key, VV&& value) {
    return Unmanaged::get_or_put_value(alloc_, std::forward<Q>(key), std::forward<VV>(value), ctx_);
  }
  template <class Q, class... VV>
  bool put(Q&& key, VV&&... value) {
    return Unmanaged::put_ctx(alloc_, std::forward<Q>(key), ctx_, std::forward<VV>(value)...);
  }
  template <class Q, class VV>
  std::optional<KV> fetch_put(Q&& key, VV&& value) {
    return Unmanaged::fetch_put(alloc_, std::forward<Q>(key), std::forward<VV>(value), ctx_);
  }
  template <class Q, class VV>
  std::optional<KV> fetch_put_assume_capacity(Q&& key, VV&& value) {
    return Unmanaged::fetch_put_assume_capacity(std::forward<Q>(key), std::forward<VV>(value),
                                                ctx_);
  }
  template <class Q, class... VV>
  void put_no_clobber(Q&& key, VV&&... value) {
    Unmanaged::put_no_clobber_ctx(alloc_, std::forward<Q>(key), ctx_, std::forward<VV>(value)...);
  }
  template <class Q, class... VV>
  void put_assume_capacity(Q&& key, VV&&... value) {
    Unmanaged::put_assume_capacity_ctx(std::forward<Q>(key), ctx_, std::forward<VV>(value)...);
  }
  template <class Q, class... VV>
  void put_assume_capacity_no_clobber(Q&& key, VV&&... value) {
    Unmanaged::put_assume_capacity_no_clobber_ctx(std::forward<Q>(key), ctx_,
                                                  std::forward<VV>(value)...);
  }

  // Lookups and removals through the map's context.
  template <class Q>
  bool contains(const Q& key) const noexcept {
    return Unmanaged::contains(key, ctx_);
  }
  template <class Q>
  auto get(const Q& key) const {
    return Unmanaged::get(key, ctx_);
  }
  template <class Q>
  auto get_ptr(const Q& key) noexcept {
    return Unmanaged::get_ptr(key, ctx_);
  }
  template <class Q>
  auto get_ptr(const Q& key) const noexcept {
    return Unmanaged::get_ptr(key, ctx_);
  }
  template <class Q>
  std::optional<K> get_key(const Q& key) const {
    return Unmanaged::get_key(key, ctx_);
  }
  template <class Q>
  K* get_key_ptr(const Q& key) noexcept {
    return Unmanaged::get_key_ptr(key, ctx_);
  }
  template <class Q>
  std::optional<Entry> get_entry(const Q& key) noexcept {
    return Unmanaged::get_entry(key, ctx_);
  }
  template <class Q>
  bool remove(const Q& key) noexcept {
    return Unmanaged::remove(key, ctx_);
  }
  template <class Q>
  std::optional<KV> fetch_remove(const Q& key) noexcept {
    return Unmanaged::fetch_remove(key, ctx_);
  }
  void remove_by_ptr(const K* key_ptr) noexcept { Unmanaged::remove_by_ptr(key_ptr, ctx_); }

  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn) const {
    return Unmanaged::scan(cursor, count, std::forward<Fn>(fn), ctx_);
  }
  const char* check_invariants() const { return Unmanaged::check_invariants(ctx_); }

 private:
  Allocator& alloc_mut() const noexcept { return const_cast<Allocator&>(alloc_); }

  [[no_unique_address]] Allocator alloc_{};
  [[no_unique_address]] Ctx ctx_{};
};

}  // namespace tessera::map
