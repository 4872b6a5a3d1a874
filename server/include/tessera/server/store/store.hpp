// Store: the keyspace of one shard, and the one place that says what a data operation means.
//
// Design note. Every read and write of a key goes through a Store method; nothing else touches the
// KvMap. A method returns a typed result (a value view, a SetResult, a count) and knows nothing of
// RESP, Asio or threads: the command families (server/src/commands/) turn results into replies,
// and the shard layer (server/src/shard/) decides on which thread a Store runs. One Store per
// shard, used only from that shard's thread; the one exception is memory_bytes(), a value
// published for the maxmemory check and INFO, which any thread may read.
//
// Deadlines (expiry). A deadline is an absolute time in ms since the epoch kept in the entry itself
// (map/kv_entry.hpp: 8 bytes, only on keys that have one), measured against settings.clock. Every
// key access goes through lookup(), which removes a key whose deadline has passed (Redis's
// expireIfNeeded: a key is expired when now > deadline) and counts it in expired_keys; scan()
// hides expired keys and removes them after the step. The writes keep or clear a deadline as
// Redis does: set() clears it unless asked to keep (KEEPTTL) or given one; a deadline at or before
// now deletes the key at once, as a DEL (not counted as expired); a write over an expired key
// first reclaims it as expired (Redis's lookupKeyWrite), so SET counts it in expired_keys too. The
// rest is reclaimed by the active cycle, which the shard's own thread runs every tick with a time
// budget (Redis 7's adaptive cycle, walking the table with a cursor), in short slices
// (expire_slice) between which the shard serves its clients.
//
// Eviction. Each entry keeps a 24-bit access clock (Redis's robj.lru: seconds for LRU, minutes and
// a logarithmic counter for LFU), set by every access that Redis counts as a touch. With a limit
// (settings.maxmemory) and a policy other than noeviction, every write first evicts from this store
// until it holds no more than its share (maxmemory / shards), choosing victims by sampling
// settings.samples keys into a pool of the 16 best candidates, as Redis's evict.c does. A new
// write method must call make_room() first and create entries with new_access().
//
// WATCH. A watched key has a version (watched_), bumped by changed(), which every write and every
// removal (DEL, expiry lazy or active, eviction, FLUSHALL of a key that existed) calls; EXEC
// compares the versions its session recorded at WATCH time.
//
// Snapshots (persistence/snapshot.hpp: BGSAVE without fork). begin_snapshot() flips the map's
// snapshot mark (map/kv_map.hpp): from then on an entry whose mark differs from the map's still
// holds the value it had at that moment. snapshot_step() walks the map with a SCAN cursor and hands
// each such entry to the sink, marking it; and before ANY change to a key (every write, delete,
// expiry, eviction: the map_ mutations below all go through preserve()), an entry not yet marked
// is handed to the sink first. A key created after the start is born marked and never saved. So
// the sink receives exactly the keys present at begin_snapshot(), each once, with the values and
// deadlines of that moment, however the map splits or merges meanwhile (SCAN's guarantee covers
// keys present throughout; the mark drops its repeats). When the walk ends every entry carries the
// map's mark again. clear() (FLUSHALL) during a snapshot first hands over every entry not yet
// saved. The changes counter (INFO's rdb_changes_since_last_save) counts every change of a key.
//
// The append-only file (persistence/aof.hpp). With a ChangeLog attached, every change is handed to
// it as the one-key command that redoes it, in the order the store makes them, with deadlines
// absolute (Redis 7.0's propagation rules): SET k v [PXAT t | KEEPTTL], INCRBY, APPEND, SETRANGE,
// PEXPIREAT, PERSIST, DEL (deletes, expiries lazy or active, evictions), FLUSHALL. Each command
// depends on its one key's previous state only, so replaying the commands of each store in the
// store's order rebuilds every key, however the stores' streams interleave. Between
// begin_capture() and end_capture() (a shard hold: an atomic command) the commands are kept in the
// store instead, for the holder to append them as one unit; a FLUSHALL meanwhile drops what was
// kept before it and is reported (CapturedChanges::flushed) instead of logged.
//
// The accounting Redis reports in INFO (keyspace hits and misses, growth pauses) is kept here, by
// the methods that cause it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <tessera/map/kv_map.hpp>
#include <tessera/server/store/settings.hpp>

namespace tessera::server {

// SET's NX / XX.
enum class SetCondition : std::uint8_t {
  kAlways,
  kIfAbsent,   // NX
  kIfPresent,  // XX
};

struct SetResult {
  bool written = false;  // false: the condition blocked the write
  // The value the key held before, when the caller asked for it (SET ... GET) and there was one.
  // A copy: the write that follows may reuse or free the old value's memory.
  std::optional<std::string> old_value;
};

enum class ValueType : std::uint8_t { kNone, kString };

// What a write does to the key's deadline: SET clears it, SET KEEPTTL keeps it, SET EX sets one.
struct DeadlineUpdate {
  enum class Mode : std::uint8_t { kClear, kKeep, kSet };
  Mode mode = Mode::kClear;
  std::int64_t at_ms = 0;  // kSet: the absolute deadline
  static DeadlineUpdate clear() { return {}; }
  static DeadlineUpdate keep() { return {Mode::kKeep, 0}; }
  static DeadlineUpdate at(std::int64_t ms) { return {Mode::kSet, ms}; }
};

// EXPIRE's NX / XX / GT / LT (at most one of GT and LT, and NX alone).
enum ExpireCondition : std::uint8_t {
  kExpireAlways = 0,
  kExpireNx = 1,  // only when the key has no deadline
  kExpireXx = 2,  // only when it has one
  kExpireGt = 4,  // only when the new deadline is later (no deadline counts as infinite)
  kExpireLt = 8,  // only when the new deadline is earlier (no deadline counts as infinite)
};

enum class ExpireOutcome : std::uint8_t {
  kNoKey,    // reply 0
  kSkipped,  // a condition blocked it: reply 0
  kSet,      // reply 1
  kDeleted,  // the deadline was not in the future: the key was deleted (as a DEL); reply 1
};

// A key's deadline as TTL and friends see it.
struct KeyDeadline {
  bool exists = false;
  std::optional<std::int64_t> at_ms;  // none: the key never expires
};

// Where a snapshot's saved entries go (persistence/snapshot.hpp); called on the thread that is
// using the store.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual void save(std::string_view key, std::string_view value,
                    std::optional<std::int64_t> deadline_ms) = 0;
};

// What a store changed during a capture (see the note above): RESP commands, how many, and
// whether a FLUSHALL came first.
struct CapturedChanges {
  std::string commands;
  std::size_t count = 0;
  bool flushed = false;
};

// Where a store's changes go when the append-only file is on (persistence/aof.hpp); append() is
// called on the store's thread, with one or more whole commands.
class ChangeLog {
 public:
  virtual ~ChangeLog() = default;
  virtual void append(std::string_view commands) = 0;
  // The changes of one atomic operation over the stores it held: appended as one unit.
  virtual void append_unit(std::vector<CapturedChanges>& parts) = 0;
};

// What one run of the active expiry cycle did (tests, INFO).
struct ExpireCycleStats {
  std::uint64_t sampled = 0;  // keys with a deadline examined
  std::uint64_t expired = 0;  // of those, removed
  bool time_cap_reached = false;
};

// Why a read-modify-write of a value did not happen (each maps to one of Redis's error texts in
// the string family).
enum class EditStatus : std::uint8_t {
  kDone,
  kNotInteger,  // the stored value (or the argument) is not a canonical int64
  kOverflow,    // INCRBY/DECRBY past INT64_MIN/MAX
  kNotFloat,    // the stored value is not a number INCRBYFLOAT reads
  kNanOrInf,    // INCRBYFLOAT's result is not finite
  kTooLarge,    // the result would exceed kMaxStringBytes
};

// The largest value APPEND and SETRANGE may produce: Redis's proto-max-bulk-len default (512 MB).
inline constexpr std::uint64_t kMaxStringBytes = 512ull * 1024 * 1024;

struct IntEdit {
  EditStatus status = EditStatus::kDone;
  std::int64_t value = 0;  // the new value when kDone
};
struct FloatEdit {
  EditStatus status = EditStatus::kDone;
  std::string text;  // the new value as stored and replied when kDone
};
struct SizeEdit {
  EditStatus status = EditStatus::kDone;
  std::size_t size = 0;  // the value's length afterwards when kDone
};

// How Redis would encode a string value (OBJECT ENCODING).
enum class StringEncoding : std::uint8_t { kInt, kEmbstr, kRaw };

// A key's whole content as it moves between keys or stores (RENAME, COPY, MOVE across shards):
// what a new entry must carry over: the value, its deadline, and whether it was edited in place.
struct StoredValue {
  std::string value;
  std::optional<std::int64_t> deadline_ms;
  bool edited = false;
};

// The store's own counters (INFO Stats and Shards); only the shard's thread touches them.
struct StoreCounters {
  std::uint64_t keyspace_hits = 0;  // get() that found the key
  std::uint64_t keyspace_misses = 0;
  std::uint64_t expired_keys = 0;  // removed because their deadline passed (lazily or actively)
  std::uint64_t evicted_keys = 0;
  std::uint64_t expired_time_cap_reached_count = 0;  // active cycles stopped by their budget
  double expired_stale_perc = 0;  // running estimate of expired-but-present among deadline keys
  std::int64_t avg_ttl_ms = 0;    // running estimate of the remaining TTL of deadline keys
};

class Store {
 public:
  // `settings` (the clock, the memory limit and policy) must outlive the store; `shards` is how
  // many stores share settings.maxmemory.
  explicit Store(const StoreSettings* settings = nullptr, unsigned shards = 1);
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- reads (GET and STRLEN touch the key's access clock; EXISTS, TYPE, TTL do not, as Redis)
  // ---- The value of `key`, valid until the next write to this store; counts a keyspace hit or
  // miss.
  std::optional<std::string_view> get(std::string_view key);
  bool exists(std::string_view key);
  // The length of the value (STRLEN), nullopt when the key is missing.
  std::optional<std::size_t> value_size(std::string_view key);
  ValueType type(std::string_view key);
  // MEMORY USAGE: the bytes the key costs (its entry block and its slot's table bytes: one
  // metadata byte and one pointer), without touching it; nullopt when missing.
  std::optional<std::size_t> memory_usage(std::string_view key);
  // TTL, PTTL, EXPIRETIME, PEXPIRETIME.
  KeyDeadline deadline(std::string_view key);
  // The raw access clock (OBJECT IDLETIME / FREQ), without touching it; nullopt when missing.
  std::optional<std::uint32_t> access_clock(std::string_view key);
  // TOUCH: true when the key exists, whose access clock is then bumped.
  bool touch_key(std::string_view key) { return lookup(key, true).has_value(); }
  EvictionPolicy policy() const { return settings_->policy.load(std::memory_order_relaxed); }
  // OBJECT IDLETIME (ms) and OBJECT FREQ of an access clock.
  std::uint64_t idle_ms(std::uint32_t access) const;
  std::uint32_t lfu_frequency(std::uint32_t access) const;
  // OBJECT ENCODING; nullopt when the key is missing.
  std::optional<StringEncoding> encoding(std::string_view key);
  // A key chosen at random (RANDOMKEY), nullopt when the store is empty. `seed` picks where the
  // search starts; every key is reachable.
  std::optional<std::string> random_key(std::uint64_t seed);
  // The store's clock (ms since the epoch).
  std::int64_t now_ms() const { return settings_->clock->now_ms(); }
  // For the access clocks only (LRU seconds, LFU minutes): see Clock::coarse_now_ms.
  std::int64_t access_now_ms() const { return settings_->clock->coarse_now_ms(); }

  // ---- writes; on bad_alloc the store is unchanged (the map's strong guarantee) ----
  // Stores `value` under `key` unless `condition` blocks it; with `want_old`, returns the value the
  // key held before whether or not the write happened.
  SetResult set(std::string_view key, std::string_view value,
                SetCondition condition = SetCondition::kAlways, bool want_old = false,
                DeadlineUpdate deadline = DeadlineUpdate::clear());
  // True when the key existed.
  bool del(std::string_view key);
  // The value, removed (GETDEL); counts a keyspace hit or miss like get().
  std::optional<std::string> get_del(std::string_view key);
  // INCRBY: a missing key counts as 0; the deadline is kept (as Redis's INCR).
  IntEdit incr_by(std::string_view key, std::int64_t delta);
  // INCRBYFLOAT (long double arithmetic, Redis's number text): a missing key counts as 0.
  FloatEdit incr_by_float(std::string_view key, long double delta);
  // APPEND: creates the key when missing; keeps the deadline.
  SizeEdit append(std::string_view key, std::string_view tail);
  // SETRANGE: zero-pads up to `offset`; an empty `part` changes nothing (and creates nothing).
  SizeEdit set_range(std::string_view key, std::uint64_t offset, std::string_view part);
  // What RENAME and COPY move: the key's content (value, deadline), copied (nullopt when
  // missing), or removed.
  std::optional<StoredValue> copy_out(std::string_view key);
  std::optional<StoredValue> take(std::string_view key);
  // Stores `content` under `key`, replacing whatever was there, deadline included (the receiving
  // half of RENAME and COPY; with `only_if_absent`, nothing happens when the key exists and false
  // is returned).
  bool put_content(std::string_view key, const StoredValue& content, bool only_if_absent = false);
  // EXPIRE family: gives an existing key the deadline `at_ms` unless `conditions` block it; a
  // deadline at or before now deletes the key (as a DEL, not counted as expired).
  ExpireOutcome expire(std::string_view key, std::int64_t at_ms,
                       std::uint8_t conditions = kExpireAlways);
  // PERSIST: true when the key had a deadline (now removed).
  bool persist(std::string_view key);
  // Reclaims keys whose deadline passed, on the owning thread: one cycle of up to `budget`, run
  // in one go (tests; the shard runs the same cycle in slices, below).
  ExpireCycleStats active_expire_cycle(std::chrono::microseconds budget);
  // The same cycle in slices, so that the shard serves its clients in between: begin, then
  // expire_slice() until it returns false (done) or the cycle's budget is spent, then end, saying
  // whether the budget stopped it (expired_time_cap_reached_count counts cycles, as Redis's).
  // A slice runs whole loops (up to 20 keys with a deadline each) and reads the time after each.
  void begin_expire_cycle();
  bool expire_slice(std::chrono::nanoseconds slice);
  ExpireCycleStats end_expire_cycle(bool time_cap_reached);
  // Removes every key and frees the memory (FLUSHALL).
  void clear();

  // ---- WATCH: a version per watched key (bumped by every change to it) ----
  // Registers one more watcher of `key` and returns its version; the version changes whenever the
  // key is written, deleted, expired, evicted or flushed away while watched (every mutation and
  // removal in this store bumps it; an expired key is found and removed first).
  std::uint64_t watch(std::string_view key);
  // Drops one watcher (the version is forgotten with the last one).
  void unwatch(std::string_view key);
  // The current version of a key with at least one watcher (expiring it first if its deadline
  // passed, which changes the version).
  std::uint64_t watched_version(std::string_view key);
  std::size_t watched_keys() const { return watched_.size(); }

  // ---- the whole keyspace ----
  // Keys in the map, including expired ones not reclaimed yet (DBSIZE, as Redis).
  std::size_t count() const { return map_.count(); }
  // Keys with a deadline (INFO's expires=), likewise.
  std::size_t deadline_count() const { return map_.deadline_count(); }
  // A step of a stateless scan (KvMap::scan's guarantee: every key present for the whole
  // iteration is returned at least once; removing expired keys does not break it). Calls
  // fn(std::string_view key) for the live keys of at least `count` home buckets' worth; the
  // expired ones met are removed after the step. Returns the next cursor, 0 at the end. fn must
  // not write.
  template <class Fn>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Fn&& fn) {
    const std::int64_t now = now_ms();
    const std::uint64_t next = map_.scan_entries(cursor, count, [&](map::KvEntryView e) {
      if (e.has_deadline() && now > e.deadline_ms()) {
        doomed_.emplace_back(e.key());
      } else {
        fn(e.key());
      }
    });
    remove_doomed_as_expired();
    return next;
  }

  // ---- snapshots (see the note above) ----
  // Starts a snapshot of this store's keys as they are now; `sink` must outlive it.
  void begin_snapshot(SnapshotSink* sink);
  // Saves the entries of at least `count` buckets' worth from `cursor`; returns the next cursor,
  // 0 when the walk is complete (then the snapshot is over: the store forgets the sink).
  std::uint64_t snapshot_step(std::uint64_t cursor, std::size_t count);
  bool snapshotting() const { return snapshot_ != nullptr; }
  // Loading at start-up: stores a key as read from a file (no eviction, no counters).
  void load(std::string_view key, std::string_view value, std::optional<std::int64_t> deadline_ms);
  // ---- the append-only file (see the note above); on the store's thread ----
  void set_change_log(ChangeLog* log) { change_log_ = log; }
  ChangeLog* change_log() const { return change_log_; }
  void begin_capture() { capturing_ = change_log_ != nullptr; }
  CapturedChanges end_capture() {
    capturing_ = false;
    return std::exchange(captured_, {});
  }
  // Changes to keys since the store was made; any thread may read it.
  std::uint64_t changes() const { return changes_.load(std::memory_order_relaxed); }

  // ---- statistics ----
  map::MapStats map_stats() const { return map_.stats(); }
  const StoreCounters& counters() const { return counters_; }
  // CONFIG RESETSTAT: hits, misses and the longest growth pause start again from zero.
  void reset_counters();
  // The map's allocated bytes as last published by the owning thread; any thread may read it.
  std::uint64_t memory_bytes() const { return memory_bytes_.load(std::memory_order_relaxed); }
  // Keys with a deadline as last published (the OOM check of volatile-* policies); any thread.
  std::uint64_t published_deadline_count() const {
    return deadline_count_.load(std::memory_order_relaxed);
  }

 private:
  // The entry of a live key: a key whose deadline passed is removed (counted as expired) and
  // reads as missing. With `touch`, the access clock is updated (LRU time or LFU counter).
  std::optional<map::KvEntryView> lookup(std::string_view key, bool touch);
  // The access clock of a new entry under the current policy.
  std::uint32_t new_access() const;
  void touch(map::KvEntryView e);
  // Evicts under the policy until this store is within its share of maxmemory (or nothing is
  // left to evict). Every write calls it first.
  void make_room();
  bool evict_one(EvictionPolicy policy);
  void remove_doomed_as_expired();
  // A write that replaces the key whatever it holds (SET, RENAME's and COPY REPLACE's target)
  // first reclaims it as expired if its deadline passed, as Redis's lookupKeyWrite does (counted
  // in expired_keys). Free when no key of this store has a deadline.
  void reclaim_if_expired(std::string_view key) {
    if (map_.deadline_count() != 0) lookup(key, false);
  }
  // One loop of the active cycle (expire.c's do/while body); true when the cycle should go on.
  bool expire_loop();
  // Every write of a whole value goes through here. Growth and in-place rehash run inline in the
  // write that triggers them; the map times its own steps (MapStats::longest_step_ns), so a write
  // reads no clock for it.
  void write(std::string_view key, std::string_view value, DeadlineUpdate deadline);
  void publish_memory() {
    memory_bytes_.store(map_.memory_bytes(), std::memory_order_relaxed);
    deadline_count_.store(map_.deadline_count(), std::memory_order_relaxed);
  }
  std::uint64_t random_u64();
  // Removes a key that is there (any removal: DEL, expiry, eviction) and records the change.
  void remove_entry(std::string_view key);

  // Hands one command to the change log (or the capture), when there is one.
  void log(std::initializer_list<std::string_view> argv) {
    if (change_log_ != nullptr) log_slow(argv);
  }
  void log_slow(std::initializer_list<std::string_view> argv);
  // SET key value with what the write did to the deadline.
  void log_set(std::string_view key, std::string_view value, DeadlineUpdate deadline);
  // Every change to a key (write, delete, expiry, eviction) calls this: it bumps the key's WATCH
  // version and forgets an in-place edit (raw_short_). Cheap when nothing is watched or edited.
  void changed(std::string_view key) {
    changes_.store(changes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (!watched_.empty()) bump_version(key);
    if (!raw_short_.empty()) forget_edit(key);
  }
  // Before any change to the map's entry of `key`: a snapshot in progress saves it first.
  void preserve(std::string_view key) {
    if (snapshot_ != nullptr) preserve_slow(key);
  }
  void preserve_slow(std::string_view key);
  void bump_version(std::string_view key);
  void forget_edit(std::string_view key);
  // After an in-place edit (APPEND to an existing key, SETRANGE) Redis reports the value as
  // "raw" whatever its length; only short values need remembering (longer ones are raw anyway).
  void edited_in_place(std::string_view key, std::size_t size);
  // A read-modify-write's new value, keeping the key's deadline (INCR, APPEND, SETRANGE).
  void put_keeping_deadline(std::string_view key, std::string_view value) {
    write(key, value, DeadlineUpdate::keep());
  }

  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Watched {
    std::uint64_t version = 0;
    std::uint32_t watchers = 0;
  };

  // A candidate for eviction (evict.c's pool): the larger the score, the better the victim.
  struct Candidate {
    std::uint64_t score;
    std::string key;
  };
  static constexpr std::size_t kPoolSize = 16;

  const StoreSettings* settings_;
  unsigned shards_;
  map::KvMap map_;
  StoreCounters counters_;
  std::vector<std::string> doomed_;  // expired keys met by a scan, removed after it
  std::vector<Candidate> pool_;      // ascending by score
  std::uint64_t expire_cursor_ = 0;  // where the active cycle goes on
  ExpireCycleStats cycle_;           // the cycle in progress (begin_expire_cycle)
  std::uint64_t rng_state_;
  std::unordered_map<std::string, Watched, TransparentHash, std::equal_to<>> watched_;
  std::uint64_t next_version_ = 1;
  std::unordered_set<std::string, TransparentHash, std::equal_to<>> raw_short_;
  SnapshotSink* snapshot_ = nullptr;
  ChangeLog* change_log_ = nullptr;
  bool capturing_ = false;
  CapturedChanges captured_;
  std::string log_scratch_;
  std::atomic<std::uint64_t> changes_{0};
  std::atomic<std::uint64_t> memory_bytes_{0};
  std::atomic<std::uint64_t> deadline_count_{0};
};

}  // namespace tessera::server
