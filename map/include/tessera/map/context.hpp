// Contexts: what a map needs to know about its keys.
//
// Design note. As in the seed, a map is parameterised by a Context that supplies
//   hash(key) -> std::uint64_t      and      eql(a, b) -> bool
// instead of separate Hash and KeyEqual types. A context may carry state (a seed, a pointer to an
// interning buffer); stateless ones are passed as `Context{}`.
//
// Adapted (heterogeneous) lookup: any object `a` with hash(q) and eql(q, stored_key) can look up a
// pseudo-key q of another type, provided a.hash(q) == ctx.hash(k) for every stored k with
// a.eql(q, k). The map's own context is often such an adapter already: StringContext hashes
// std::string and std::string_view alike, so a StringHashMap is searched by string_view with no
// temporary string. Nothing can check the hash agreement; the concepts below check the shapes.
//
// Requirements the concepts cannot state: hash and eql must not throw (the map calls them while it
// moves entries, where it cannot roll back), and eql must be an equivalence consistent with hash.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "tessera/map/hash.hpp"

namespace tessera::map {

// `A` can hash pseudo-keys of type Q and compare them with stored keys of type K.
template <class A, class Q, class K>
concept AdapterFor = requires(const A& a, const Q& q, const K& k) {
  { a.hash(q) } -> std::same_as<Hash>;
  { a.eql(q, k) } -> std::convertible_to<bool>;
};

// The same relation with the pseudo-key first, so that a template parameter can be constrained in
// place (`template <LookupKey<Ctx, K> Q>`): Q looks up stored keys of type K through Ctx.
template <class Q, class Ctx, class K>
concept LookupKey = AdapterFor<Ctx, Q, K>;
// A stored key K can be built from a Q (forwarded: Q may be an lvalue reference).
template <class Q, class K>
concept KeySource = std::constructible_from<K, Q&&>;
// What an insert of a new key takes: it is looked up first, then built when absent.
template <class Q, class Ctx, class K>
concept InsertKey = LookupKey<Q, Ctx, K> && KeySource<Q, K>;

// A map context for keys of type K: hashes stored keys and compares two of them. (It may also be an
// adapter for other key types; see StringContext.) Copyable so that the managed map can hold one.
template <class C, class K>
concept Context = std::copy_constructible<C> && AdapterFor<C, K, K>;

// Compile-time explanation for a context that does not fit, so the error names the missing piece
// instead of pointing into the table's probe loop.
template <class C, class K>
constexpr bool check_context() {
  static_assert(
      requires(const C& c, const K& k) { c.hash(k); },
      "tessera::map: the Context has no `hash(const K&) const` callable on the key type");
  static_assert(
      requires(const C& c, const K& k) {
        { c.hash(k) } -> std::same_as<Hash>;
      },
      "tessera::map: Context::hash(key) must return std::uint64_t (tessera::map::Hash), exactly");
  static_assert(
      requires(const C& c, const K& a, const K& b) { c.eql(a, b); },
      "tessera::map: the Context has no `eql(const K&, const K&) const`");
  static_assert(
      requires(const C& c, const K& a, const K& b) {
        { c.eql(a, b) } -> std::convertible_to<bool>;
      },
      "tessera::map: Context::eql(a, b) must return bool");
  static_assert(std::copy_constructible<C>, "tessera::map: a Context must be copyable");
  return true;
}

namespace detail {

template <class T>
inline constexpr bool kIsStringLike =
    std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view> ||
    std::is_same_v<T, const char*> || std::is_same_v<T, char*> ||
    std::is_same_v<T, const unsigned char*> || std::is_same_v<T, unsigned char*> ||
    std::is_same_v<T, std::u8string> || std::is_same_v<T, std::u8string_view>;

template <class T>
struct IsSpan : std::false_type {};
template <class T, std::size_t N>
struct IsSpan<std::span<T, N>> : std::true_type {};

}  // namespace detail

// The context for keys whose object representation is their value: integers, enums, bool, pointers
// (by address), and arrays/structs of those with no padding. It hashes the key's bytes and compares
// with ==. Like the seed's AutoContext it refuses, at compile time, the keys where that would be
// wrong or ambiguous.
template <class K>
struct AutoContext {
  static_assert(!std::is_floating_point_v<K>,
                "tessera::map::AutoContext refuses floating-point keys (NaN != NaN, and +0.0 == "
                "-0.0 with different bits): write a Context that says which floats are equal");
  static_assert(!detail::kIsStringLike<K> && !detail::IsSpan<K>::value,
                "tessera::map::AutoContext refuses strings, string views, char pointers and spans: "
                "hashing the pointer or the contents is ambiguous. Use StringHashMap<V> (owned "
                "std::string keys, lookup by std::string_view) or give StringContext explicitly");
  static_assert(std::has_unique_object_representations_v<K> || std::is_same_v<K, bool>,
                "tessera::map::AutoContext needs a key whose bytes are its value (no padding, no "
                "floats, no pointers to contents): write a Context with hash() and eql() for it");

  Hash hash(const K& key) const noexcept {
    if constexpr (sizeof(K) <= 8 &&
                  (std::is_integral_v<K> || std::is_enum_v<K> || std::is_pointer_v<K>)) {
      std::uint64_t word = 0;
      std::memcpy(&word, &key, sizeof(K));
      return hash_u64(word);
    } else {
      return hash_bytes(&key, sizeof(K));
    }
  }
  bool eql(const K& a, const K& b) const noexcept {
    if constexpr (std::is_scalar_v<K>) {
      return a == b;
    } else {
      return std::memcmp(&a, &b, sizeof(K)) == 0;
    }
  }
};

// Strings by content. Accepts anything convertible to std::string_view on either side, so a map
// keyed by std::string is searched by std::string_view or const char* with no temporary.
struct StringContext {
  Hash hash(std::string_view s) const noexcept { return hash_string(s); }
  bool eql(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

}  // namespace tessera::map
