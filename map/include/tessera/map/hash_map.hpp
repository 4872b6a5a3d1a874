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
//     type) stores no values array at all.
//   * slack: up to 15 bytes so that a 16-byte metadata load at any slot stays inside the block.
//   * cap is a power of two, at least 8 when the map grows by itself; cap <= 2^31.
//
// WHERE THINGS ARE. This header is the front door: it holds this note and the everyday names, and
// includes the parts:
//   detail/metadata.hpp     the metadata byte, its constants and the hash-bit split
//   detail/group.hpp        the group scan (16 metadata bytes per SSE2 load, or one byte)
//   detail/scan_cursor.hpp  the reverse-binary SCAN cursor step
//   hash_map_unmanaged.hpp  HashMapUnmanaged, the engine: table, probing, growth, rehash, scan
//   hash_map_managed.hpp    HashMap, the managed face: owns an allocator and a context
//   debug.hpp               the pointer-stability lock and the invariants check the tests run
//   map_stats.hpp           MapStats, the statistics every map here reports
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
// cannot roll back half-way (a static_assert in hash_map_unmanaged.hpp says so).
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

#include <cstddef>
#include <memory>
#include <string>

#include "tessera/map/context.hpp"
#include "tessera/map/hash_map_managed.hpp"
#include "tessera/map/hash_map_unmanaged.hpp"
#include "tessera/map/map_stats.hpp"

namespace tessera::map {

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
