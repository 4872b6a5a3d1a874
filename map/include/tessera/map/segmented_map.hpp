// SegmentedHashMap: the seed's table (hash_map.hpp) as bounded segments under an extendible-hashing
// directory, so that the map grows, and gives memory back, in small steps.
//
// ============================================================================================
// Design note
// ============================================================================================
//
// WHY. The seed grows all at once: one insert allocates a table twice as large and moves every
// entry (775 ms at 5M keys), and for that moment both tables exist. Here no table is larger than
// MaxSegmentCapacity slots (1024 by default), so no step moves more than one segment's entries,
// and memory is never doubled: at most one segment is built beside the one it replaces.
//
// THE STRUCTURE. A hash h splits into four fields:
//
//    63      57 56          57-D                              0
//   +----------+--------------+-- ... --+---------------------+
//   |  fp (7)  |  directory bits (D = kMaxDepth)  |  ...  | home (low log2(cap) bits) |
//   +----------+--------------+-- ... --+---------------------+
//
//   * the fingerprint and the home are the segment table's own (the seed's metadata byte, linear
//     probing, tombstones, in-place rehash: unchanged);
//   * the directory bits, read from bit 56 down, place the key. Call them x (a D-bit number).
//
//   directory (2^G entries, G = global depth)        segments (HashMapUnmanaged, <= 1024 slots)
//   index = top G bits of x
//     000 ---------------------------------------->  A  depth 1, prefix 0     [keys with x = 0...]
//     001 ----------------------------------------^
//     010 ----------------------------------------^
//     011 ----------------------------------------^
//     100 ---------------------------------------->  B  depth 2, prefix 10    [x = 10...]
//     101 ----------------------------------------^
//     110 ---------------------------------------->  C  depth 3, prefix 110   [x = 110...]
//     111 ---------------------------------------->  D  depth 3, prefix 111   [x = 111...]
//
//   A segment of depth d holds exactly the keys whose top d bits of x equal its prefix; the 2^(G-d)
//   directory entries that share that prefix all point to it (a contiguous run). A lookup is one
//   shift, one directory load and the seed's probe in that segment.
//
// LOOKUPS. A directory entry keeps, beside its segment, a copy of its table's metadata pointer and
// capacity, from which the keys and values arrays follow by arithmetic (the table's View). A
// lookup reads only the directory entry, the metadata group and the key: the seed's lines plus
// the directory entry. The segment object and the table's header (one line each per segment) are
// read by inserts, and by removals in parallel with their probe. What remains is the directory
// load itself, on the lookup's dependent chain before the metadata group (the seed's header does
// not depend on the hash): measured at 1M keys (bench/README), the seed's probe with that one load
// added costs what a lookup here costs, 1.2-1.5x the seed's, whatever the directory's size.
//
// GROWTH. An insert of a new key into a segment with no room left:
//   * a segment under MaxSegmentCapacity slots grows as the seed does (it doubles; at most
//     MaxSegmentCapacity / 2 entries move);
//   * a full segment at MaxSegmentCapacity SPLITS: its entries go to two new segments of depth
//     d + 1 by the next bit of x (each table sized for its half); only this segment's entries move.
//     When d == G the directory doubles first, by copying pointers (entry i becomes 2i and 2i + 1).
//   * a split where every entry would land on one side (hashes that agree on that bit: only with a
//     degenerate hash) grows the segment past MaxSegmentCapacity instead, as the seed would, so
//     colliding keys cost what they cost in the seed and the directory stays small.
//
// GIVING MEMORY BACK. After a removal leaves a segment with at most a quarter of a full segment's
// load, it MERGES with its buddy (same depth, prefix differing in the last bit) when the two hold
// at most half a full segment's load together; the directory halves when no segment is as deep as
// it. A sparse segment that cannot merge (its buddy is split further, or dense) is rebuilt at a
// capacity for twice its count. Each of these is one bounded step; none can fail visibly (on
// bad_alloc the map simply stays as it was). A merge whose one side already has a table of the
// merged size (typically rebuilt sparse a little earlier, while its buddy was still too full)
// moves the other side's entries into it and allocates nothing; otherwise both sides move into a
// new table sized for them. Every move re-hashes its key (a cache miss for keys on the heap), so
// moves hash a batch of keys first. Hysteresis: a merged segment holds at most half a full
// segment's load and splits only when full, so no insert/remove pattern can make one key's
// segment split and merge alternately; a rebuilt segment is half full and grows only when full.
//
// EXCEPTIONS. The strong guarantee holds through every step: a split allocates the two new segments
// (and the doubled directory) BEFORE it moves anything; if an allocation throws, what was allocated
// is freed and the map is exactly as it was. Entries move with nothrow moves (the engine's rule).
//
// STATISTICS stay O(1) (the server reads them around every SET): each operation adds how it changed
// the counters of the one segment it touched (HashMapUnmanaged::counters) to the map's totals.
//
// POINTERS to keys and values stay valid until the next insert of a new key, or removal, in the
// same map (either may move a segment's entries).
//
// FLOODING. Whoever knows the hash's seed can choose keys that share hash bits (kv_map.hpp draws
// the seed per process so that nobody does; this is the defence for when a seed is known). Two
// effects: keys sharing a segment's home bits make long probe runs (up to the segment's size per
// lookup and, for SCAN, per bucket); keys sharing directory bits make each split of their segment
// separate almost nothing, so the directory doubles again and again (16,384 entries for 42
// segments, from 3,000 keys at ~4,000 tries each). The map watches for both, at two compares per
// insert: an insert probing past kLongProbe slots is a long probe; a split of a full segment that
// leaves fewer than kLopsidedBelow entries on one side is lopsided (with a hash the attacker cannot
// predict, each side of a ~820-entry split is Binomial(n, 1/2): below 1/16 of a full segment
// happens with probability under 10^-100). Either, REPEATED (kLongProbeRepeats long probes in one
// segment since it was built, kLopsidedRepeats lopsided splits since the map was built), raises
// flood_suspected(); the owner may then rebuild() the whole map under a context with a fresh seed
// (KvMap does), which scatters the chosen keys again. Independently of any rebuild the directory
// never doubles past kDirectoryPerSegment entries per segment: such a split grows the segment
// instead (refused_doublings), so the directory's memory stays proportional to the data whatever
// the keys. Why rebuild rather than only refuse: refusing bounds the directory but not the probe
// runs (a segment grown past MaxSegmentCapacity holds every colliding key); a fresh seed ends both.
// Why the whole map, inline: the signals need an attacker who knows the seed, and the fresh one is
// secret, so it happens about once; one O(n) pass that allocates everything before it moves
// anything keeps the strong guarantee simply.
//
// A rebuild changes every key's position, so it starts a new SCAN epoch: cursors carry the epoch
// (rebuild count mod 2^16) above bit 32, and a cursor of another epoch restarts the iteration at
// the beginning. SCAN's guarantee (below) still holds: keys present throughout are passed (the
// restarted walk passes all), possibly twice, which it allows; the walk ends unless the map
// rebuilds forever. Without a rebuild cursors are < 2^32 as before.
//
// SCAN: a stateless cursor with Redis's guarantee, whatever splits, merges, grows, shrinks and
// rehashes happen between calls: (1) every key present from the first call (cursor 0) to the last
// (which returns 0) is passed to fn at least once; (2) a key absent throughout is never passed;
// (3) a key may be passed more than once.
//
//   Coordinates. Read x as a point in [0, 1) (binary 0.x1x2...), and the low hash bits, reversed,
//   as a second point y in [0, 1) (Redis's reverse-binary bucket order). A segment S of depth d and
//   prefix p covers the x-interval I(S) = [p / 2^d, (p + 1) / 2^d) and all of y. Within S, the
//   seed's scan visits home buckets in increasing y; a bucket covers a y-interval, and a table that
//   doubles or halves only refines or coarsens those intervals (the seed's proof, hash_map.hpp).
//
//   Cursor. (C, y): C an aligned x-interval [c, c + 2^-k) (stored as prefix and depth k) and y a
//   bucket position. Invariant M between calls: every key with x < c was passed, and every key
//   with x in C and y-point < y was passed. Cursor 0 is (C = [0, 1), y = 0): M holds vacuously.
//
//   A call finds S, the segment holding the point c (directory entry of c). Two cases:
//   (A) depth(S) >= k: S lies inside C and starts at c (c is aligned to 2^-k, so to S's smaller
//       alignment too, and the only aligned interval of S's length holding c starts there). By M,
//       S's keys with y-point < y were passed; scan S from y. Stopping part-way at y', the cursor
//       (S, y') satisfies M. Finishing S, every key with x < end(S) was passed: next (end(S), 0),
//       with the interval of the segment that starts there (so a quiet map passes each key once).
//   (B) depth(S) < k: S was merged and covers more than C. Scan S from y (passing also keys of S
//       outside C, harmless). Stopping part-way at y': (C, y') satisfies M. Finishing: C is done,
//       next (end(C), 0); and if the scan of S started at y = 0 in this call, all of S was passed,
//       next (end(S), 0).
//   In both cases the cursor never moves back: (c, y) grows in lexicographic order with every
//   bucket visited, and there are finitely many positions, so the iteration ends whatever the map
//   does between calls; M at c = 1 is guarantee (1). (2) holds because only live keys are passed,
//   (3) because a coarser table, a split (the other half is scanned from y = 0) or a merge
//   (case B) revisits keys.
//
//   Encoding, below 2^32 as the server's cursor format needs (server/.../scan_cursor.hpp):
//
//     31                         kBucketBits             0
//     +---------------------------+----------------------+
//     | interval code (kMaxDepth+1) |  y (kBucketBits)     |
//     +---------------------------+----------------------+
//   code = (prefix * 2 + 1) << (kMaxDepth - depth): the lowest set bit marks the depth. y has
//   log2(MaxSegmentCapacity) bits; a segment grown past MaxSegmentCapacity (degenerate hashes
//   only) is scanned at that granularity: a "bucket" is then every home with the same low bits.
//   Cursor 0 starts. Above bit 32 a cursor carries the SCAN epoch (FLOODING): 0 until a rebuild.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/map/context.hpp"
#include "tessera/map/detail/scan_cursor.hpp"
#include "tessera/map/hash_map_unmanaged.hpp"
#include "tessera/map/map_stats.hpp"

namespace tessera::map {

template <class K, class V, class Ctx, Size MaxSegmentCapacity = 1024,
          unsigned MaxLoadPercentage = kDefaultMaxLoadPercentage,
          class Allocator = std::allocator<std::byte>>
class SegmentedHashMap {
  static_assert(std::has_single_bit(MaxSegmentCapacity) && MaxSegmentCapacity >= 16 &&
                    MaxSegmentCapacity <= (Size{1} << 16),
                "tessera::map: MaxSegmentCapacity must be a power of two in 16..65536");

 public:
  using Table = HashMapUnmanaged<K, V, Ctx, MaxLoadPercentage>;
  using Key = K;
  using Value = V;
  using ContextType = Ctx;
  using StoredValue = typename Table::StoredValue;
  using Entry = typename Table::Entry;
  using ConstEntry = typename Table::ConstEntry;
  using GetOrPutResult = typename Table::GetOrPutResult;
  using KV = typename Table::KV;
  static constexpr bool kIsSet = Table::kIsSet;

  // Cursor and directory geometry (design note, SCAN and THE STRUCTURE).
  static constexpr unsigned kBucketBits = std::countr_zero(MaxSegmentCapacity);
  static constexpr unsigned kMaxDepth = 31 - kBucketBits;
  static_assert(kBucketBits + kMaxDepth + 1 == 32, "a map cursor fits in 32 bits");
  static_assert(57 - kMaxDepth > kBucketBits + 8,
                "the directory bits lie above every home bit a segment can use");
  // Merge when a removal leaves a segment this small, with a buddy that fits beside it.
  static constexpr Size kMergeBelow = Table::max_load(MaxSegmentCapacity) / 4;
  static constexpr Size kMergedAtMost = Table::max_load(MaxSegmentCapacity) / 2;
  // Flood detection and the directory's bound (design note, FLOODING). 16M inserts of random keys
  // into 1024-slot tables filled to their limit probed at most 237 slots.
  static constexpr Size kLongProbe = std::max<Size>(MaxSegmentCapacity / 4, 16);
  static constexpr std::uint16_t kLongProbeRepeats = 8;
  static constexpr Size kLopsidedBelow = Table::max_load(MaxSegmentCapacity) / 16;
  static constexpr std::uint32_t kLopsidedRepeats = 2;
  static constexpr std::size_t kDirectoryPerSegment = 16;

  SegmentedHashMap() = default;
  explicit SegmentedHashMap(const Allocator& alloc, const Ctx& ctx = Ctx{})
      : alloc_(alloc), ctx_(ctx) {}
  explicit SegmentedHashMap(const Ctx& ctx) : ctx_(ctx) {}
  SegmentedHashMap(const SegmentedHashMap&) = delete;
  SegmentedHashMap& operator=(const SegmentedHashMap&) = delete;
  SegmentedHashMap(SegmentedHashMap&& o) noexcept
      : dir_(std::exchange(o.dir_, nullptr)),
        global_depth_(std::exchange(o.global_depth_, 0)),
        at_global_depth_(std::exchange(o.at_global_depth_, 0)),
        totals_(std::exchange(o.totals_, Totals{})),
        alloc_(o.alloc_),
        ctx_(o.ctx_) {}
  SegmentedHashMap& operator=(SegmentedHashMap&& o) noexcept {
    if (this != &o) {
      clear_and_free();
      dir_ = std::exchange(o.dir_, nullptr);
      global_depth_ = std::exchange(o.global_depth_, 0);
      at_global_depth_ = std::exchange(o.at_global_depth_, 0);
      totals_ = std::exchange(o.totals_, Totals{});
      alloc_ = o.alloc_;
      ctx_ = o.ctx_;
    }
    return *this;
  }
  ~SegmentedHashMap() { clear_and_free(); }

  const Allocator& allocator() const noexcept { return alloc_; }
  const Ctx& context() const noexcept { return ctx_; }

  // ---- sizes ------------------------------------------------------------------------------------

  std::size_t count() const noexcept { return totals_.count; }
  // Slots over all segments.
  std::size_t capacity() const noexcept { return totals_.capacity; }
  std::size_t tombstones() const noexcept { return totals_.tombstones; }
  std::size_t segments() const noexcept { return totals_.segments; }
  unsigned global_depth() const noexcept { return global_depth_; }
  // The table blocks, the segment objects and the directory.
  std::size_t memory_bytes() const noexcept {
    return totals_.table_bytes + totals_.segments * sizeof(Segment) +
           (dir_ ? directory_size() * sizeof(DirEntry) : 0);
  }
  MapStats stats() const noexcept {
    const Totals& t = totals_;
    MapStats s;
    s.count = t.count;
    s.capacity = t.capacity;
    s.tombstones = t.tombstones;
    s.memory_bytes = memory_bytes();
    s.max_probe = t.count ? t.max_displacement + 1 : 0;
    s.mean_probe = t.count ? 1.0 + static_cast<double>(t.displacement_total) / t.count : 0.0;
    s.grows = t.grows;
    s.rehashes = t.rehashes;
    s.segments = t.segments;
    s.directory_depth = global_depth_;
    s.splits = t.splits;
    s.merges = t.merges;
    s.shrinks = t.shrinks;
    s.longest_step_ns = t.longest_step_ns;
    s.longest_step_moves = t.longest_step_moves;
    s.long_probes = t.long_probes;
    s.lopsided_splits = t.lopsided_splits;
    s.refused_doublings = t.refused_doublings;
    s.reseeds = t.rebuilds;
    return s;
  }
  void reset_longest_step() noexcept {
    totals_.longest_step_ns = 0;
    totals_.longest_step_moves = 0;
  }

  // ---- flooding (design note, FLOODING) ---------------------------------------------------------

  // Keys collide more than a hash the inserter cannot predict would let them: the owner should
  // rebuild() under a fresh seed. Cleared by rebuild() and forgive().
  bool flood_suspected() const noexcept { return totals_.flood_suspected; }
  // Drops the suspicion without a rebuild (the owner declined one); new signals raise it again.
  void forgive() noexcept {
    totals_.flood_suspected = false;
    totals_.lopsided_since_rebuild = 0;
  }

  // Moves every entry into a new structure under `ctx` (whose hash may differ from the current
  // context's for every key: a new seed), sized for the current count, and makes ctx the map's
  // context; starts a new SCAN epoch. O(n); everything is allocated before the first entry moves,
  // so on bad_alloc the map is unchanged (strong guarantee). Invalidates pointers to entries.
  void rebuild(const Ctx& ctx) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t n = totals_.count;
    std::vector<Hash> hashes;
    hashes.reserve(n);
    for (auto e : std::as_const(*this)) hashes.push_back(ctx.hash(*e.key_ptr));
    // A uniform depth that leaves about half a full segment's load in each segment.
    unsigned depth = 0;
    while (depth < kMaxDepth && (n >> depth) > kMergedAtMost) ++depth;
    const std::size_t size = std::size_t{1} << depth;
    std::vector<Size> counts(size, 0);
    for (const Hash h : hashes) ++counts[x_of(h) >> (kMaxDepth - depth)];
    DirEntry* dir = new_directory(size);
    std::size_t made = 0;
    try {
      for (; made < size; ++made) {
        Segment* seg = new_segment(static_cast<std::uint32_t>(made), depth);
        try {
          if (counts[made] != 0) seg->table.ensure_total_capacity(alloc_, counts[made] + 1, ctx);
        } catch (...) {
          delete_segment(seg);
          throw;
        }
        dir[made] = DirEntry{seg, View{}};
      }
    } catch (...) {
      for (std::size_t i = 0; i < made; ++i) delete_segment(dir[i].segment);
      free_directory(dir, size);
      throw;
    }
    // Nothing below can fail.
    {
      std::size_t i = 0;
      for (auto e : *this) {
        const Hash h = hashes[i++];
        dir[x_of(h) >> (kMaxDepth - depth)].segment->table.insert_moved(h, std::move(*e.key_ptr),
                                                                        std::move(*e.value_ptr));
      }
    }
    if (dir_) {
      for_each_segment([&](Segment* seg) { delete_segment(seg); });
      free_directory(dir_, directory_size());
    }
    dir_ = dir;
    global_depth_ = depth;
    at_global_depth_ = size;
    ctx_ = ctx;
    // The structure's totals start again from the new segments; the event counters go on.
    Totals& t = totals_;
    t.count = t.capacity = t.tombstones = t.table_bytes = 0;
    t.displacement_total = 0;
    t.max_displacement = t.largest_table = 0;
    t.lopsided_since_rebuild = 0;
    t.flood_suspected = false;
    for (std::size_t i = 0; i < size; ++i) {
      point_directory_at(dir[i].segment);
      adopt(dir[i].segment->table.counters());
    }
    t.segments = size;
    ++t.rebuilds;
    note_step(t0, n);
  }

  // ---- insertion --------------------------------------------------------------------------------

  // Finds `key`, or inserts it with a value-initialised value.
  template <InsertKey<Ctx, K> Q>
  GetOrPutResult get_or_put(Q&& key) {
    return get_or_put_adapted(key, ctx_, [&] { return K(std::forward<Q>(key)); });
  }
  // Looks the pseudo-key q up with `adapter`; when absent, inserts make_key() (whose hash under the
  // map's context equals adapter.hash(q)) with a value-initialised value.
  template <class Q, AdapterFor<Q, K> A, std::invocable MakeKey>
  GetOrPutResult get_or_put_adapted(const Q& q, const A& adapter, MakeKey&& make_key) {
    const Hash h = adapter.hash(q);
    const Hashed<A> ha{adapter, h};
    Segment* s = segment_for_insert(q, ha, h);
    const auto before = s->table.counters();
    auto r = s->table.get_or_put_adapted(alloc_, q, ha, std::forward<MakeKey>(make_key), ctx_);
    account(s, before);
    return r;
  }
  // Inserts (key, value) if key is absent; returns the entry either way (existing value kept).
  template <InsertKey<Ctx, K> Q, class VV>
  Entry get_or_put_value(Q&& key, VV&& value) requires(!kIsSet) {
    return insert_with(key, [&](Table& t, const auto&) {
      return t.get_or_put_value(alloc_, std::forward<Q>(key), std::forward<VV>(value), ctx_);
    });
  }
  // Upsert; returns true when the key was new. A set passes no value.
  template <InsertKey<Ctx, K> Q, class... VV>
  bool put(Q&& key, VV&&... value) requires AtMostOneValue<VV...> {
    return insert_with(key, [&](Table& t, const auto& hashed) {
      return t.put_adapted(alloc_, std::forward<Q>(key), hashed, ctx_, std::forward<VV>(value)...);
    });
  }
  // Inserts a key the caller promises is absent (a present key aborts in debug builds, as in the
  // engine; in release builds its value is overwritten).
  template <InsertKey<Ctx, K> Q, class... VV>
  void put_no_clobber(Q&& key, VV&&... value) requires AtMostOneValue<VV...> {
    [[maybe_unused]] const bool inserted = put(std::forward<Q>(key), std::forward<VV>(value)...);
#ifndef NDEBUG
    if (!inserted) {
      std::fprintf(stderr, "tessera::map: a no_clobber insert of a key that is present\n");
      std::abort();
    }
#endif
  }
  // Like put, and returns the previous key and value when there was one.
  template <InsertKey<Ctx, K> Q, class VV>
  std::optional<KV> fetch_put(Q&& key, VV&& value) requires(!kIsSet) {
    return insert_with(key, [&](Table& t, const auto&) {
      return t.fetch_put(alloc_, std::forward<Q>(key), std::forward<VV>(value), ctx_);
    });
  }

  // ---- lookup -----------------------------------------------------------------------------------

  template <class Q, AdapterFor<Q, K> A>
  bool contains_adapted(const Q& q, const A& adapter) const noexcept {
    return locate(q, adapter).index != detail::kNotFound;
  }
  template <LookupKey<Ctx, K> Q>
  bool contains(const Q& key) const noexcept {
    return contains_adapted(key, ctx_);
  }
  template <class Q, AdapterFor<Q, K> A>
  const K* get_key_ptr_adapted(const Q& q, const A& adapter) const noexcept {
    const Found f = locate(q, adapter);
    return f.index == detail::kNotFound ? nullptr : Table::key_array(f.view) + f.index;
  }
  template <class Q, AdapterFor<Q, K> A>
  K* get_key_ptr_adapted(const Q& q, const A& adapter) noexcept {
    return const_cast<K*>(std::as_const(*this).get_key_ptr_adapted(q, adapter));
  }
  template <LookupKey<Ctx, K> Q>
  const K* get_key_ptr(const Q& key) const noexcept {
    return get_key_ptr_adapted(key, ctx_);
  }
  template <LookupKey<Ctx, K> Q>
  K* get_key_ptr(const Q& key) noexcept {
    return get_key_ptr_adapted(key, ctx_);
  }
  template <LookupKey<Ctx, K> Q>
  const V* get_ptr(const Q& key) const noexcept requires(!kIsSet) {
    const Found f = locate(key, ctx_);
    return f.index == detail::kNotFound ? nullptr : Table::value_at(f.view, f.index);
  }
  template <LookupKey<Ctx, K> Q>
  V* get_ptr(const Q& key) noexcept requires(!kIsSet) {
    return const_cast<V*>(std::as_const(*this).get_ptr(key));
  }
  // A copy of the value.
  template <LookupKey<Ctx, K> Q>
  std::optional<V> get(const Q& key) const requires(!kIsSet) {
    const V* p = get_ptr(key);
    return p ? std::optional<V>(*p) : std::nullopt;
  }
  template <LookupKey<Ctx, K> Q>
  std::optional<Entry> get_entry(const Q& key) noexcept {
    const Found f = locate(key, ctx_);
    if (f.index == detail::kNotFound) return std::nullopt;
    return Entry{Table::key_array(f.view) + f.index, Table::value_at(f.view, f.index)};
  }

  // ---- removal ----------------------------------------------------------------------------------

  template <class Q, AdapterFor<Q, K> A>
  bool remove_adapted(const Q& q, const A& adapter) noexcept {
    return remove_with(q, adapter, [](Table& t, Size i, Hash h) {
      t.remove_at(i, h);
      return true;
    });
  }
  template <LookupKey<Ctx, K> Q>
  bool remove(const Q& key) noexcept {
    return remove_adapted(key, ctx_);
  }
  template <class Q, AdapterFor<Q, K> A>
  std::optional<KV> fetch_remove_adapted(const Q& q, const A& adapter) noexcept {
    return remove_with(q, adapter,
                       [](Table& t, Size i, Hash h) { return t.fetch_remove_at(i, h); });
  }
  template <LookupKey<Ctx, K> Q>
  std::optional<KV> fetch_remove(const Q& key) noexcept {
    return fetch_remove_adapted(key, ctx_);
  }
  // Removes the entry whose stored key `key_ptr` points at.
  void remove_by_ptr(const K* key_ptr) noexcept {
    const Hash h = ctx_.hash(*key_ptr);
    Segment* s = segment_for(h);
    const auto before = s->table.counters();
    s->table.remove_by_ptr(key_ptr, ctx_);
    account(s, before);
    give_back(s);
  }

  // Destroys every entry and frees every segment and the directory.
  void clear_and_free() noexcept {
    if (!dir_) return;
    for_each_segment([&](Segment* s) { delete_segment(s); });
    free_directory(dir_, directory_size());
    dir_ = nullptr;
    global_depth_ = 0;
    at_global_depth_ = 0;
    totals_ = Totals{};
  }
  void clear() noexcept { clear_and_free(); }

  // ---- iteration --------------------------------------------------------------------------------

  // Every entry once, segment by segment in directory order; invalidated by any insert or removal.
  template <bool kConst>
  class BasicIterator {
    using MapPtr = std::conditional_t<kConst, const SegmentedHashMap*, SegmentedHashMap*>;
    using TableIterator =
        std::conditional_t<kConst, typename Table::ConstIterator, typename Table::Iterator>;

   public:
    using value_type = std::conditional_t<kConst, ConstEntry, Entry>;
    using difference_type = std::ptrdiff_t;
    BasicIterator() = default;
    BasicIterator(MapPtr m, std::size_t index) noexcept : map_(m), index_(index) { settle(); }
    value_type operator*() const noexcept { return *it_; }
    BasicIterator& operator++() noexcept {
      ++it_;
      settle();
      return *this;
    }
    BasicIterator operator++(int) noexcept {
      BasicIterator t = *this;
      ++*this;
      return t;
    }
    bool operator==(const BasicIterator& o) const noexcept {
      return index_ == o.index_ && it_ == o.it_;
    }

   private:
    // Moves to a live entry, or to the end (index_ = directory size, it_ = {}).
    void settle() noexcept {
      if (map_ == nullptr || map_->dir_ == nullptr) {
        index_ = 0;
        it_ = TableIterator();
        return;
      }
      const std::size_t n = map_->directory_size();
      while (index_ < n) {
        auto& table = static_cast<std::conditional_t<kConst, const Table&, Table&>>(
            map_->dir_[index_].segment->table);
        if (!started_) {
          it_ = table.begin();
          started_ = true;
        }
        if (!(it_ == table.end())) return;
        index_ += map_->span(map_->dir_[index_].segment);
        started_ = false;
      }
      it_ = TableIterator();
    }
    MapPtr map_ = nullptr;
    std::size_t index_ = 0;
    bool started_ = false;
    TableIterator it_{};
  };
  using Iterator = BasicIterator<false>;
  using ConstIterator = BasicIterator<true>;
  Iterator begin() noexcept { return Iterator(this, 0); }
  Iterator end() noexcept { return Iterator(this, dir_ ? directory_size() : 0); }
  ConstIterator begin() const noexcept { return ConstIterator(this, 0); }
  ConstIterator end() const noexcept { return ConstIterator(this, dir_ ? directory_size() : 0); }

  // ---- scan -------------------------------------------------------------------------------------

  // Visits buckets from `cursor` until at least `count` keys were passed or 10 * count buckets were
  // visited; returns the next cursor, 0 when the iteration is complete (design note, SCAN). Cursors
  // are < 2^48 (< 2^32 until a rebuild). fn(const K&, const StoredValue&) must not modify the map.
  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn) const {
    // A cursor of another epoch restarts at the beginning (design note, FLOODING).
    const std::uint64_t epoch = scan_epoch();
    const std::uint64_t next =
        scan_positions((cursor >> 32) == epoch ? cursor & 0xFFFFFFFFu : 0, count, fn);
    return next == 0 ? 0 : next | (epoch << 32);
  }
  // The current SCAN epoch (design note, FLOODING): what a cursor carries above bit 32.
  std::uint64_t scan_epoch() const noexcept { return totals_.rebuilds & 0xFFFF; }

  // A live entry chosen uniformly (every key equally likely, whatever the sizes and depths of the
  // segments), or nullptr when the map is empty. next() returns uniform 64-bit values. Rejection
  // sampling: a directory entry uniformly, kept only when it starts its segment's run (so every
  // segment is equally likely, whatever its depth), then a slot uniformly in [0, the largest table
  // size), kept when it lies in the segment's table and holds a key: each key has probability
  // 1 / (directory size * largest size) per try. After kRandomTries misses (a sparse map), an exact
  // O(segments + segment size) draw by rank, as uniform.
  template <class Next>
  const K* random_key_ptr(Next&& next) const {
    if (totals_.count == 0) return nullptr;
    const std::uint64_t bound = std::max<std::uint64_t>(totals_.largest_table, 1);
    for (int i = 0; i < kRandomTries; ++i) {
      const std::size_t at = next() & (directory_size() - 1);
      const Segment* s = dir_[at].segment;
      if ((at & (span(s) - 1)) != 0) continue;
      const std::uint64_t slot = next() % bound;
      if (slot >= s->table.capacity()) continue;
      if (const K* k = s->table.key_at(static_cast<Size>(slot))) return k;
    }
    std::uint64_t rank = next() % totals_.count;
    for (std::size_t at = 0; at < directory_size(); at += span(dir_[at].segment)) {
      const Table& t = dir_[at].segment->table;
      if (rank >= t.count()) {
        rank -= t.count();
        continue;
      }
      for (auto e : t) {
        if (rank-- == 0) return e.key_ptr;
      }
    }
    return nullptr;  // unreachable: the counts add up to count()
  }
  static constexpr int kRandomTries = 256;

 private:
  template <class Fn>
  std::uint64_t scan_positions(std::uint64_t cursor, std::size_t count, Fn& fn) const {
    if (totals_.count == 0) return 0;
    ScanPosition c;
    if (!decode_cursor(cursor, c)) return 0;
    if (count == 0) count = 1;
    const std::size_t max_visits = count * 10;
    std::size_t emitted = 0;
    std::size_t visits = 0;
    for (;;) {
      const Segment* s = dir_[c.x() >> (kMaxDepth - global_depth_)].segment;
      const bool inside = s->depth >= c.depth;  // case (A); otherwise (B), a merged segment
      const std::uint64_t mask = scan_mask(s->table);
      std::uint64_t y = c.y;
      do {
        emitted += emit_bucket(s->table, static_cast<Size>(y & mask), fn);
        y = detail::next_cursor(y, mask);
        ++visits;
      } while (y != 0 && emitted < count && visits < max_visits);
      if (y != 0) {
        return inside ? encode_cursor(s->prefix, s->depth, y) : encode_cursor(c.prefix, c.depth, y);
      }
      // The segment is done from c.y: move to the end of S (case A, or case B scanned from 0) or
      // of C (case B).
      ScanPosition next;
      if (inside || c.y == 0) {
        next = {s->prefix + 1, s->depth, 0};
      } else {
        next = {c.prefix + 1, c.depth, 0};
      }
      if (next.prefix == (std::uint64_t{1} << next.depth)) return 0;  // x reached 1: done
      // When a segment starts exactly there, take its interval: the next call is then case (A)
      // unless the map changes, so a quiet map passes each key once.
      const Segment* t = dir_[next.x() >> (kMaxDepth - global_depth_)].segment;
      const std::uint64_t t_x = std::uint64_t{t->prefix} << (kMaxDepth - t->depth);
      c = t_x == next.x() ? ScanPosition{t->prefix, t->depth, 0} : next;
      if (emitted >= count || visits >= max_visits) return encode_cursor(c.prefix, c.depth, 0);
    }
  }

 public:
  // ---- checking (tests, debugging) --------------------------------------------------------------

  // Verifies the structure, O(size): every segment's table invariants; each directory run points to
  // one segment whose prefix and depth match its position; each key lies in the segment its hash
  // names; segment and depth counts; the totals behind stats(). nullptr, or what is wrong.
  const char* check_invariants() const {
    if (!dir_) {
      return totals_.count == 0 && totals_.segments == 0 && totals_.capacity == 0
                 ? nullptr
                 : "no directory but counts";
    }
    const std::size_t n = directory_size();
    Totals sum;
    std::size_t at_global = 0;
    for (std::size_t i = 0; i < n;) {
      const Segment* s = dir_[i].segment;
      if (s->depth > global_depth_) return "segment deeper than the directory";
      if ((i >> (global_depth_ - s->depth)) != s->prefix) return "segment prefix != its position";
      if ((i & (span(s) - 1)) != 0)
        return "directory run does not start at the segment's first entry";
      for (std::size_t j = i; j < i + span(s); ++j) {
        if (dir_[j].segment != s) return "directory run points to two segments";
        if (dir_[j].view.metadata != s->table.metadata() ||
            dir_[j].view.capacity != s->table.capacity()) {
          return "a directory entry's copy of its table is stale";
        }
      }
      if (const char* err = s->table.check_invariants(ctx_)) return err;
      for (auto e : s->table) {
        const Hash h = ctx_.hash(*e.key_ptr);
        if ((x_of(h) >> (kMaxDepth - s->depth)) != s->prefix) {
          return "a key lies in a segment its hash does not name";
        }
        const Found f = locate(*e.key_ptr, ctx_);
        if (f.index == detail::kNotFound || Table::key_array(f.view) + f.index != e.key_ptr) {
          return "a lookup through the directory entry does not find a key where it is";
        }
      }
      const auto c = s->table.counters();
      sum.count += c.count;
      sum.capacity += c.capacity;
      sum.tombstones += c.tombstones;
      sum.displacement_total += c.displacement_total;
      sum.table_bytes += Table::block_bytes(c.capacity);
      if (c.max_displacement > totals_.max_displacement) return "max probe below a segment's";
      ++sum.segments;
      if (s->depth == global_depth_) ++at_global;
      i += span(s);
    }
    if (sum.count != totals_.count) return "count() differs from the segments' counts";
    if (sum.capacity != totals_.capacity) return "capacity total is wrong";
    if (sum.tombstones != totals_.tombstones) return "tombstone total is wrong";
    if (sum.displacement_total != totals_.displacement_total) return "probe total is wrong";
    if (sum.table_bytes != totals_.table_bytes) return "table byte total is wrong";
    if (sum.segments != totals_.segments) return "segment count is wrong";
    if (at_global != at_global_depth_) return "count of segments at the directory's depth is wrong";
    return nullptr;
  }

 private:
  struct Segment {
    Table table;
    std::uint32_t prefix = 0;  // the top `depth` bits of x of every key in this segment
    std::uint8_t depth = 0;
    std::uint16_t long_probes = 0;  // inserts past kLongProbe since the segment was built
  };
  // A directory entry: the segment, and a copy of where its table's metadata is and how many slots
  // it has (the table's View), which is all a lookup needs: it probes from the directory entry
  // without reading the segment object or the table's header (design note, LOOKUPS). Every entry
  // of a segment's run is rewritten whenever its table is reallocated (point_directory_at).
  using View = typename Table::View;
  struct DirEntry {
    Segment* segment;
    View view;
  };
  // Where a lookup found its key: the table's view and the slot (kNotFound when absent).
  struct Found {
    View view;
    Size index;
  };
  // The map's totals over its segments (design note, STATISTICS), plus the step counters.
  struct Totals {
    std::size_t count = 0;
    std::size_t capacity = 0;
    std::size_t tombstones = 0;
    std::uint64_t displacement_total = 0;
    std::size_t table_bytes = 0;
    Size max_displacement = 0;  // the largest any segment reported since the map was cleared
    std::uint64_t grows = 0;
    std::uint64_t rehashes = 0;
    std::size_t segments = 0;
    std::uint64_t splits = 0;
    std::uint64_t merges = 0;
    std::uint64_t shrinks = 0;
    std::uint64_t longest_step_ns = 0;
    std::uint64_t longest_step_moves = 0;
    // Flooding (design note, FLOODING).
    std::uint64_t long_probes = 0;
    std::uint64_t lopsided_splits = 0;
    std::uint64_t refused_doublings = 0;
    std::uint64_t rebuilds = 0;  // the SCAN epoch is this mod 2^16
    std::uint32_t lopsided_since_rebuild = 0;
    bool flood_suspected = false;
    Size largest_table = 0;  // at least every segment's capacity (random_key_ptr's bound)
  };
  using TableCounters = typename Table::Counters;
  struct ScanPosition {
    std::uint64_t prefix = 0;
    unsigned depth = 0;
    std::uint64_t y = 0;
    std::uint64_t x() const noexcept { return prefix << (kMaxDepth - depth); }
  };

  // An adapter with the hash already computed: the segment's probe does not hash again.
  template <class A>
  struct Hashed {
    const A& adapter;
    Hash h;
    template <class Q>
    Hash hash(const Q&) const noexcept {
      return h;
    }
    template <class Q>
    bool eql(const Q& q, const K& k) const noexcept {
      return adapter.eql(q, k);
    }
  };

  using SegmentAlloc = typename std::allocator_traits<Allocator>::template rebind_alloc<Segment>;
  using DirectoryAlloc = typename std::allocator_traits<Allocator>::template rebind_alloc<DirEntry>;

  // ---- geometry ---------------------------------------------------------------------------------

  // The directory bits of h, bits 56 down to 57 - kMaxDepth, as a kMaxDepth-bit number.
  static std::uint64_t x_of(Hash h) noexcept {
    return (h >> (57 - kMaxDepth)) & ((std::uint64_t{1} << kMaxDepth) - 1);
  }
  std::size_t directory_size() const noexcept { return std::size_t{1} << global_depth_; }
  std::size_t span(const Segment* s) const noexcept {
    return std::size_t{1} << (global_depth_ - s->depth);
  }
  Segment* segment_for(Hash h) const noexcept {
    return dir_[x_of(h) >> (kMaxDepth - global_depth_)].segment;
  }
  // The segment an insert or removal of h changes, with the three lines it reads first already on
  // their way to the cache, in parallel rather than one after the other: the segment object, the
  // table's header and the metadata group of h's home slot.
  Segment* segment_prefetched(Hash h) const noexcept {
    const DirEntry& e = dir_[x_of(h) >> (kMaxDepth - global_depth_)];
    __builtin_prefetch(e.segment, 1);
    if (e.view.capacity != 0) {
      Table::prefetch_header(e.view);
      __builtin_prefetch(e.view.metadata + (static_cast<Size>(h) & (e.view.capacity - 1)));
    }
    return e.segment;
  }
  // A lookup through the directory entry alone (DirEntry).
  template <class Q, class A>
  Found locate(const Q& q, const A& adapter) const noexcept {
    if (!dir_) return Found{View{}, detail::kNotFound};
    const Hash h = adapter.hash(q);
    const View v = dir_[x_of(h) >> (kMaxDepth - global_depth_)].view;
    return Found{v, Table::find_in(v, q, h, adapter)};
  }
  template <class Fn>
  void for_each_segment(Fn&& fn) const {
    const std::size_t n = directory_size();
    for (std::size_t i = 0; i < n;) {
      Segment* s = dir_[i].segment;
      i += span(s);
      fn(s);
    }
  }

  // ---- cursor encoding (design note, SCAN) ------------------------------------------------------

  static std::uint64_t encode_cursor(std::uint64_t prefix, unsigned depth, std::uint64_t y) {
    const std::uint64_t code = ((prefix << 1) | 1) << (kMaxDepth - depth);
    return (code << kBucketBits) | y;
  }
  static bool decode_cursor(std::uint64_t cursor, ScanPosition& c) noexcept {
    if (cursor >> (kBucketBits + kMaxDepth + 1) != 0) return false;
    c.y = cursor & ((std::uint64_t{1} << kBucketBits) - 1);
    const std::uint64_t code = cursor >> kBucketBits;
    if (code == 0) {  // the first call (or a hand-made cursor below 2^kBucketBits)
      c.prefix = 0;
      c.depth = 0;
      return true;
    }
    const auto low = static_cast<unsigned>(std::countr_zero(code));
    c.depth = kMaxDepth - low;
    c.prefix = code >> (low + 1);
    return true;
  }
  // The bucket mask a segment is scanned with: its own, or kBucketBits wide when it is larger.
  static std::uint64_t scan_mask(const Table& t) noexcept {
    const Size cap = std::max<Size>(t.capacity(), 1);
    return std::min<std::uint64_t>(cap, MaxSegmentCapacity) - 1;
  }
  template <class Fn>
  std::size_t emit_bucket(const Table& t, Size bucket, Fn& fn) const {
    const Size cap = t.capacity();
    if (cap <= MaxSegmentCapacity) return t.scan_bucket(bucket, fn, ctx_);
    std::size_t n = 0;
    for (Size b = bucket; b < cap; b += MaxSegmentCapacity) n += t.scan_bucket(b, fn, ctx_);
    return n;
  }

  // ---- lookups and updates through one segment
  // ---------------------------------------------------

  // A removal: finds q through the directory entry alone, as a lookup does (LOOKUPS), while the
  // segment object and the table's header, which the removal then updates, are fetched in
  // parallel; op(table, slot, hash) removes the entry found.
  template <class Q, class A, class Op>
  auto remove_with(const Q& q, const A& adapter, Op&& op) noexcept {
    using R = decltype(op(std::declval<Table&>(), Size{}, Hash{}));
    if (!dir_) return R{};
    const Hash h = adapter.hash(q);
    const DirEntry& e = dir_[x_of(h) >> (kMaxDepth - global_depth_)];
    Segment* s = e.segment;
    __builtin_prefetch(s, 1);
    Table::prefetch_header(e.view);
    const Size i = Table::find_in(e.view, q, h, adapter);
    if (i == detail::kNotFound) return R{};
    const auto before = s->table.counters();
    R r = op(s->table, i, h);
    account(s, before);
    give_back(s);
    return r;
  }
  // An insert through one of the engine's calls: op(table, hashed adapter).
  template <class Q, class Op>
  auto insert_with(const Q& key, Op&& op) {
    const Hash h = ctx_.hash(key);
    const Hashed<Ctx> hashed{ctx_, h};
    Segment* s = segment_for_insert(key, hashed, h);
    const auto before = s->table.counters();
    auto r = op(s->table, hashed);
    account(s, before);
    return r;
  }

  // The segment an insert of q (hash h) goes to, with room for it unless q is already there:
  // grows or splits a full segment first (design note, GROWTH). Strong guarantee.
  template <class Q, class HA>
  Segment* segment_for_insert(const Q& q, const HA& ha, Hash h) {
    const bool first = dir_ == nullptr;
    if (first) init_directory();
    Segment* s = segment_prefetched(h);
    if (s->table.available() != 0 || s->table.contains_adapted(q, ha)) return s;
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t moved = s->table.count();
    try {
      if (s->table.capacity() < MaxSegmentCapacity || !split(s)) grow(s);
    } catch (...) {
      if (first) clear_and_free();  // back to no directory at all
      throw;
    }
    note_step(t0, moved);
    return segment_for(h);
  }

  // ---- the totals -------------------------------------------------------------------------------

  // Adds how an operation on segment s changed its counters (unsigned wrap-around is exact here).
  void account(Segment* s, const TableCounters& before) noexcept {
    const TableCounters after = s->table.counters();
    if (after.capacity != before.capacity) point_directory_at(s);  // the table was reallocated
    // One new key in the same table: the displacement added is its probe (design note, FLOODING).
    if (after.count == before.count + 1 && after.capacity == before.capacity &&
        after.rehashes == before.rehashes &&
        after.displacement_total - before.displacement_total >= kLongProbe) [[unlikely]] {
      ++totals_.long_probes;
      if (s->long_probes < kLongProbeRepeats) ++s->long_probes;
      if (s->long_probes == kLongProbeRepeats) totals_.flood_suspected = true;
    }
    account(before, after);
  }
  void account(const TableCounters& before, const TableCounters& after) noexcept {
    totals_.count += std::size_t{after.count} - before.count;
    totals_.tombstones += std::size_t{after.tombstones} - before.tombstones;
    totals_.displacement_total += after.displacement_total - before.displacement_total;
    totals_.max_displacement = std::max(totals_.max_displacement, after.max_displacement);
    if (after.capacity != before.capacity) {  // the engine grew the table
      totals_.largest_table = std::max(totals_.largest_table, after.capacity);
      totals_.capacity += std::size_t{after.capacity} - before.capacity;
      totals_.table_bytes +=
          Table::block_bytes(after.capacity) - Table::block_bytes(before.capacity);
    }
    totals_.grows += after.grows - before.grows;
    totals_.rehashes += after.rehashes - before.rehashes;
  }
  void retire(const TableCounters& c) noexcept {
    totals_.count -= c.count;
    totals_.capacity -= c.capacity;
    totals_.tombstones -= c.tombstones;
    totals_.displacement_total -= c.displacement_total;
    totals_.table_bytes -= Table::block_bytes(c.capacity);
  }
  void adopt(const TableCounters& c) noexcept {
    totals_.largest_table = std::max(totals_.largest_table, c.capacity);
    totals_.count += c.count;
    totals_.capacity += c.capacity;
    totals_.tombstones += c.tombstones;
    totals_.displacement_total += c.displacement_total;
    totals_.table_bytes += Table::block_bytes(c.capacity);
    totals_.max_displacement = std::max(totals_.max_displacement, c.max_displacement);
  }
  void note_step(std::chrono::steady_clock::time_point t0, std::size_t moved) noexcept {
    const auto ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    totals_.longest_step_ns = std::max(totals_.longest_step_ns, ns);
    totals_.longest_step_moves = std::max<std::uint64_t>(totals_.longest_step_moves, moved);
  }

  // ---- allocation -------------------------------------------------------------------------------

  Segment* new_segment(std::uint32_t prefix, unsigned depth) {
    SegmentAlloc a(alloc_);
    Segment* s = std::allocator_traits<SegmentAlloc>::allocate(a, 1);
    ::new (static_cast<void*>(s)) Segment{Table{}, prefix, static_cast<std::uint8_t>(depth), 0};
    return s;
  }
  void delete_segment(Segment* s) noexcept {
    s->table.deinit(alloc_);
    s->~Segment();
    SegmentAlloc a(alloc_);
    std::allocator_traits<SegmentAlloc>::deallocate(a, s, 1);
  }
  DirEntry* new_directory(std::size_t n) {
    DirectoryAlloc a(alloc_);
    return std::allocator_traits<DirectoryAlloc>::allocate(a, n);
  }
  void free_directory(DirEntry* d, std::size_t n) noexcept {
    DirectoryAlloc a(alloc_);
    std::allocator_traits<DirectoryAlloc>::deallocate(a, d, n);
  }
  void init_directory() {
    DirEntry* d = new_directory(1);
    try {
      d[0] = DirEntry{new_segment(0, 0), View{}};
    } catch (...) {
      free_directory(d, 1);
      throw;
    }
    dir_ = d;
    global_depth_ = 0;
    at_global_depth_ = 1;
    totals_.segments = 1;
  }

  // ---- growth -----------------------------------------------------------------------------------

  // The seed's growth of one segment (it doubles). Strong guarantee (the engine's).
  void grow(Segment* s) {
    const auto before = s->table.counters();
    s->table.ensure_unused_capacity(alloc_, 1, ctx_);
    account(s, before);
  }

  // Splits a full segment in two by the next directory bit (design note, GROWTH). Returns false,
  // changing nothing, when every key would land on one side. Strong guarantee: everything that can
  // fail is allocated before the first entry moves.
  bool split(Segment* s) {
    const unsigned d = s->depth;
    if (d == kMaxDepth) return false;
    const unsigned bit = 56 - d;
    const Size n = s->table.count();
    split_hashes_.resize(n);  // may throw: nothing has changed yet
    Size ones = 0;
    {
      Size i = 0;
      for (auto e : s->table) {
        const Hash h = ctx_.hash(*e.key_ptr);
        split_hashes_[i++] = h;
        ones += static_cast<Size>((h >> bit) & 1);
      }
    }
    if (std::min(ones, n - ones) < kLopsidedBelow) {  // design note, FLOODING
      ++totals_.lopsided_splits;
      if (++totals_.lopsided_since_rebuild >= kLopsidedRepeats) totals_.flood_suspected = true;
    }
    if (ones == 0 || ones == n) return false;

    const bool doubles = d == global_depth_;
    if (doubles && directory_size() * 2 > kDirectoryPerSegment * (totals_.segments + 1)) {
      ++totals_.refused_doublings;  // the segment grows instead (design note, FLOODING)
      totals_.flood_suspected = true;
      return false;
    }
    DirEntry* bigger = doubles ? new_directory(directory_size() * 2) : nullptr;
    Segment* lower = nullptr;
    Segment* upper = nullptr;
    try {
      lower = new_segment(s->prefix << 1, d + 1);
      upper = new_segment((s->prefix << 1) | 1, d + 1);
      // Each half gets a full-size table (as the seed's doubling leaves its table half full, each
      // half fills from about 40% to the load limit before it splits in turn, without growing on
      // the way), with room for the entry being inserted too: the insert after the split never
      // allocates, so it cannot fail leaving a split behind.
      lower->table.ensure_total_capacity(alloc_, half_size(n - ones), ctx_);
      upper->table.ensure_total_capacity(alloc_, half_size(ones), ctx_);
    } catch (...) {
      if (lower) delete_segment(lower);
      if (upper) delete_segment(upper);
      if (bigger) free_directory(bigger, directory_size() * 2);
      throw;
    }

    // Nothing below can fail.
    {
      Size i = 0;
      for (auto e : s->table) {
        const Hash h = split_hashes_[i++];
        Segment* to = ((h >> bit) & 1) ? upper : lower;
        to->table.insert_moved(h, std::move(*e.key_ptr), std::move(*e.value_ptr));
      }
    }
    if (doubles) {
      const std::size_t old_size = directory_size();
      for (std::size_t i = 0; i < old_size; ++i) bigger[2 * i] = bigger[2 * i + 1] = dir_[i];
      free_directory(dir_, old_size);
      dir_ = bigger;
      ++global_depth_;
      at_global_depth_ = 0;
    } else if (d == global_depth_) {
      --at_global_depth_;
    }
    point_directory_at(lower);
    point_directory_at(upper);
    if (d + 1 == global_depth_) at_global_depth_ += 2;
    retire(s->table.counters());
    adopt(lower->table.counters());
    adopt(upper->table.counters());
    delete_segment(s);
    ++totals_.segments;
    ++totals_.splits;
    ++totals_.grows;
    return true;
  }

  // What a split sizes a half holding n entries for: a full segment, or more when n + 1 needs it
  // (a segment grown past MaxSegmentCapacity by degenerate hashes).
  static std::uint64_t half_size(Size n) noexcept {
    return std::max<std::uint64_t>(std::uint64_t{n} + 1, Table::max_load(MaxSegmentCapacity));
  }

  void point_directory_at(Segment* s) noexcept {
    const std::size_t first = std::size_t{s->prefix} << (global_depth_ - s->depth);
    std::fill(dir_ + first, dir_ + first + span(s), DirEntry{s, s->table.view()});
  }

  // ---- giving memory back -----------------------------------------------------------------------

  // After a removal from s (design note, GIVING MEMORY BACK). Never throws: a step that cannot
  // allocate is skipped and the map stays as it was.
  void give_back(Segment* s) noexcept {
    const Size n = s->table.count();
    if (n > kMergeBelow) return;
    try {
      if (s->depth > 0) {
        const std::size_t buddy_at = std::size_t{s->prefix ^ 1u} << (global_depth_ - s->depth);
        Segment* buddy = dir_[buddy_at].segment;
        if (buddy->depth == s->depth && n + buddy->table.count() <= kMergedAtMost) {
          Segment* merged = merge(s, buddy);
          // The merged segment may be sparse beside its own buddy, whose split half just went.
          if (merged->table.count() <= kMergeBelow) give_back(merged);
          return;
        }
      }
      shrink(s);
    } catch (const std::bad_alloc&) {
      // Keeping the memory is always correct.
    }
  }

  // Merges buddies a and b (same depth) into one segment. The entries of one move into the other's
  // table when that table is already the size a merged table would get, has room, and is not
  // cluttered with tombstones (typically one of the two was just shrunk): nothing is allocated
  // then, and only the smaller side is re-hashed and moved. Otherwise both move into a new table
  // sized for them. Strong guarantee: only the new table's allocation can fail, before anything
  // moved.
  Segment* merge(Segment* a, Segment* b) {
    const auto t0 = std::chrono::steady_clock::now();
    const unsigned d = a->depth;
    const Size total = a->table.count() + b->table.count();
    const Size cap_for_total =
        total == 0 ? 0 : std::max(Table::capacity_for_size(total), detail::kMinimalCapacity);
    // The table is the right size, and the seed's in-place rehash would not be due afterwards
    // (its trigger, hash_map.hpp: used + tombstones at the load limit with many tombstones).
    auto keeps_table = [&](const Segment* s) {
      const Size cap = s->table.capacity();
      const Size ml = Table::max_load(cap);
      const Size tombstones = s->table.tombstones();
      return cap != 0 && cap <= cap_for_total && total <= ml &&
             (std::uint64_t{total} + tombstones < ml || tombstones < (cap - ml) / 2);
    };
    if (b->table.count() > a->table.count()) std::swap(a, b);  // prefer keeping the fuller table
    if (!keeps_table(a) && keeps_table(b)) std::swap(a, b);
    Size moved = 0;
    if (keeps_table(a)) {
      // Nothing below can fail.
      const auto before = a->table.counters();
      moved = b->table.count();
      move_entries(b->table, a->table);
      account(before, a->table.counters());
      retire(b->table.counters());
      delete_segment(b);
    } else {
      Segment* merged = new_segment(a->prefix, d);  // takes a's place, widened below
      try {
        if (total != 0) merged->table.ensure_total_capacity(alloc_, total, ctx_);
      } catch (...) {
        delete_segment(merged);
        throw;
      }
      // Nothing below can fail.
      for (Segment* from : {a, b}) {
        move_entries(from->table, merged->table);
        retire(from->table.counters());
      }
      adopt(merged->table.counters());
      delete_segment(a);
      delete_segment(b);
      a = merged;
      moved = total;
    }
    a->prefix >>= 1;
    a->depth = static_cast<std::uint8_t>(d - 1);
    if (d == global_depth_) at_global_depth_ -= 2;
    point_directory_at(a);
    --totals_.segments;
    ++totals_.merges;
    while (at_global_depth_ == 0 && global_depth_ > 0) {
      if (!halve_directory()) break;
    }
    note_step(t0, moved);
    return a;
  }

  // Moves every entry of `from` into `to`, which has room for them all and holds none of their
  // keys. Hashes a batch of keys before moving them (as the seed's growth does): each hash of a key
  // that points to heap data is a cache miss, and independent ones overlap.
  void move_entries(Table& from, Table& to) noexcept {
    constexpr std::size_t kBatch = 32;
    Entry batch[kBatch];
    Hash hashes[kBatch];
    auto it = from.begin();
    const auto end = from.end();
    while (!(it == end)) {
      std::size_t n = 0;
      for (; n < kBatch && !(it == end); ++n, ++it) {
        batch[n] = *it;
        hashes[n] = ctx_.hash(*batch[n].key_ptr);
      }
      for (std::size_t i = 0; i < n; ++i) {
        to.insert_moved(hashes[i], std::move(*batch[i].key_ptr), std::move(*batch[i].value_ptr));
      }
    }
  }

  // Halves the directory when no segment is as deep as it. False when the smaller directory
  // cannot be allocated (the larger one stays, still correct).
  bool halve_directory() noexcept {
    const std::size_t half = directory_size() / 2;
    DirEntry* smaller;
    try {
      smaller = new_directory(half);
    } catch (const std::bad_alloc&) {
      return false;
    }
    for (std::size_t i = 0; i < half; ++i) smaller[i] = dir_[2 * i];
    free_directory(dir_, half * 2);
    dir_ = smaller;
    --global_depth_;
    at_global_depth_ = 0;
    for_each_segment([&](const Segment* s) { at_global_depth_ += s->depth == global_depth_; });
    return true;
  }

  // Rebuilds a sparse segment (under a quarter of its load limit) at a capacity for twice its
  // count, or frees its table when it is empty.
  void shrink(Segment* s) {
    const Size n = s->table.count();
    const Size cap = s->table.capacity();
    if (cap <= detail::kMinimalCapacity || n >= Table::max_load(cap) / 4) return;
    const auto t0 = std::chrono::steady_clock::now();
    Table smaller;
    if (n != 0) smaller.ensure_total_capacity(alloc_, std::uint64_t{n} * 2, ctx_);
    // Nothing below can fail.
    move_entries(s->table, smaller);
    retire(s->table.counters());
    s->table.deinit(alloc_);
    s->table = std::move(smaller);
    point_directory_at(s);
    adopt(s->table.counters());
    ++totals_.shrinks;
    note_step(t0, n);
  }

  DirEntry* dir_ = nullptr;
  unsigned global_depth_ = 0;
  std::size_t at_global_depth_ = 0;  // segments whose depth is global_depth_
  Totals totals_;
  std::vector<Hash> split_hashes_;  // scratch: the hashes of the segment being split
  [[no_unique_address]] Allocator alloc_{};
  [[no_unique_address]] Ctx ctx_{};
};

// std::string keys, looked up by std::string_view.
template <class V, Size MaxSegmentCapacity = 1024>
using SegmentedStringHashMap = SegmentedHashMap<std::string, V, StringContext, MaxSegmentCapacity>;

}  // namespace tessera::map
