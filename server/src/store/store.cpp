// Store: the shard's keyspace (design note in tessera/server/store/store.hpp).
#include <tessera/server/store/store.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/protocol/reply_writer.hpp>

namespace tessera::server {

namespace {

using Mode = map::KvMap::DeadlineMode;

// Redis's LRU clock: seconds, 24 bits (server.h LRU_BITS, LRU_CLOCK_RESOLUTION 1000 ms).
constexpr std::uint32_t kLruClockMax = (1u << 24) - 1;
std::uint32_t lru_clock(std::int64_t now_ms) {
  return static_cast<std::uint32_t>(now_ms / 1000) & kLruClockMax;
}
// LFU: the top 16 bits are the last decrement time in minutes, the low 8 a logarithmic counter.
constexpr std::uint32_t kLfuInitVal = 5;
std::uint32_t lfu_minutes(std::int64_t now_ms) {
  return static_cast<std::uint32_t>(now_ms / 60000) & 0xFFFF;
}

// object.c OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
constexpr std::size_t kEmbstrLimit = 44;

// The active cycle's constants (expire.c, effort 1).
constexpr std::uint64_t kKeysPerLoop = 20;
constexpr std::uint64_t kAcceptableStalePercent = 10;

const StoreSettings& default_settings() {
  static const StoreSettings settings;
  return settings;
}

Mode mode_of(DeadlineUpdate d) {
  switch (d.mode) {
    case DeadlineUpdate::Mode::kKeep:
      return Mode::kKeep;
    case DeadlineUpdate::Mode::kSet:
      return Mode::kSet;
    case DeadlineUpdate::Mode::kClear:
      break;
  }
  return Mode::kClear;
}

}  // namespace

constexpr std::string_view kPolicyNames[] = {"noeviction",      "allkeys-lru",  "allkeys-lfu",
                                             "allkeys-random",  "volatile-lru", "volatile-lfu",
                                             "volatile-random", "volatile-ttl"};

std::string_view policy_name(EvictionPolicy p) { return kPolicyNames[static_cast<std::size_t>(p)]; }

std::optional<EvictionPolicy> parse_policy(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kPolicyNames); ++i) {
    if (protocol::iequals(name, kPolicyNames[i])) return static_cast<EvictionPolicy>(i);
  }
  return std::nullopt;
}

Store::Store(const StoreSettings* settings, unsigned shards)
    : settings_(settings != nullptr ? settings : &default_settings()),
      shards_(shards == 0 ? 1 : shards),
      map_(settings_->hash_seed),
      rng_state_(0x9e3779b97f4a7c15ULL ^ reinterpret_cast<std::uintptr_t>(this)) {}

namespace {

// splitmix64: a fast, well-spread sequence from any state (the choice of victims and of RANDOMKEY's
// key need not be unpredictable).
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t Store::random_u64() { return splitmix64(rng_state_); }

std::optional<map::KvEntryView> Store::lookup(std::string_view key, bool touch_it) {
  auto e = map_.find(key);
  if (!e) return std::nullopt;
  if (e->has_deadline() && now_ms() > e->deadline_ms()) {
    remove_entry(key);
    ++counters_.expired_keys;
    return std::nullopt;
  }
  if (touch_it) touch(*e);
  return e;
}

std::uint32_t Store::new_access() const {
  const std::int64_t now = access_now_ms();
  if (policy_is_lfu(settings_->policy.load(std::memory_order_relaxed))) {
    return (lfu_minutes(now) << 8) | kLfuInitVal;
  }
  return lru_clock(now);
}

std::uint32_t Store::lfu_frequency(std::uint32_t access) const {
  // evict.c LFUDecrAndReturn: one decrement per lfu-decay-time minutes since the last one.
  const std::uint32_t last = access >> 8;
  std::uint32_t counter = access & 0xFF;
  const std::uint32_t now = lfu_minutes(access_now_ms());
  const std::uint32_t elapsed = now >= last ? now - last : 65535 - last + now;
  const std::uint32_t periods =
      settings_->lfu_decay_minutes != 0 ? elapsed / settings_->lfu_decay_minutes : 0;
  if (periods != 0) counter = periods > counter ? 0 : counter - periods;
  return counter;
}

std::uint64_t Store::idle_ms(std::uint32_t access) const {
  // evict.c estimateObjectIdleTime: the clock wraps every 2^24 s (194 days).
  const std::uint32_t now = lru_clock(access_now_ms());
  const std::uint64_t seconds = now >= access ? now - access : now + (kLruClockMax - access);
  return seconds * 1000;
}

void Store::touch(map::KvEntryView e) {
  const std::int64_t now = access_now_ms();
  if (!policy_is_lfu(settings_->policy.load(std::memory_order_relaxed))) {
    e.set_access(lru_clock(now));
    return;
  }
  // evict.c updateLFU: decay, then a logarithmic increment (probability 1 / (base * factor + 1)).
  std::uint32_t counter = lfu_frequency(e.access());
  if (counter < 255) {
    const double base = counter > kLfuInitVal ? counter - kLfuInitVal : 0;
    const double r = static_cast<double>(random_u64() >> 11) * 0x1.0p-53;
    if (r < 1.0 / (base * settings_->lfu_log_factor + 1)) ++counter;
  }
  e.set_access((lfu_minutes(now) << 8) | counter);
}

std::optional<std::string_view> Store::get(std::string_view key) {
  auto e = lookup(key, true);
  if (e) {
    ++counters_.keyspace_hits;
    return e->value();
  }
  ++counters_.keyspace_misses;
  return std::nullopt;
}

bool Store::exists(std::string_view key) { return lookup(key, false).has_value(); }

std::optional<std::size_t> Store::value_size(std::string_view key) {
  auto e = lookup(key, true);
  if (!e) return std::nullopt;
  return e->value().size();
}

std::optional<std::size_t> Store::memory_usage(std::string_view key) {
  auto e = lookup(key, false);
  if (!e) return std::nullopt;
  return e->block_bytes() + 1 + sizeof(void*);
}

ValueType Store::type(std::string_view key) {
  return lookup(key, false) ? ValueType::kString : ValueType::kNone;
}

KeyDeadline Store::deadline(std::string_view key) {
  auto e = lookup(key, false);
  if (!e) return {};
  return {true, e->deadline()};
}

std::optional<std::uint32_t> Store::access_clock(std::string_view key) {
  auto e = lookup(key, false);
  if (!e) return std::nullopt;
  return e->access();
}

SetResult Store::set(std::string_view key, std::string_view value, SetCondition condition,
                     bool want_old, DeadlineUpdate deadline) {
  make_room();
  SetResult result;
  bool existed = false;
  if (want_old || condition != SetCondition::kAlways ||
      deadline.mode == DeadlineUpdate::Mode::kKeep) {
    // The lookup also removes an expired key first, so that KEEPTTL never keeps a dead deadline.
    auto old = lookup(key, true);
    existed = old.has_value();
    if (existed && want_old) result.old_value.emplace(old->value());  // copied before the put
  } else {
    reclaim_if_expired(key);
  }
  const bool blocked = (condition == SetCondition::kIfAbsent && existed) ||
                       (condition == SetCondition::kIfPresent && !existed);
  if (!blocked) {
    write(key, value, deadline);
    log_set(key, value, deadline);
    result.written = true;
  }
  return result;
}

bool Store::del(std::string_view key) {
  // An expired key is reclaimed as expired and DEL counts it as missing (db.c delGenericCommand
  // looks the key up first).
  if (!lookup(key, false)) return false;
  remove_entry(key);
  return true;
}

ExpireOutcome Store::expire(std::string_view key, std::int64_t at_ms, std::uint8_t conditions) {
  auto e = lookup(key, true);
  if (!e) return ExpireOutcome::kNoKey;
  const auto current = e->deadline();
  if ((conditions & kExpireNx) && current) return ExpireOutcome::kSkipped;
  if ((conditions & kExpireXx) && !current) return ExpireOutcome::kSkipped;
  if ((conditions & kExpireGt) && (!current || at_ms <= *current)) return ExpireOutcome::kSkipped;
  if ((conditions & kExpireLt) && current && at_ms >= *current) return ExpireOutcome::kSkipped;
  if (at_ms <= now_ms()) {  // expire.c checkAlreadyExpired: a DEL, not an expiry
    remove_entry(key);
    return ExpireOutcome::kDeleted;
  }
  preserve(key);
  map_.set_deadline(key, at_ms);
  changed(key);
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, at_ms).ptr;
  log({"PEXPIREAT", key, std::string_view(buf, static_cast<std::size_t>(end - buf))});
  publish_memory();
  return ExpireOutcome::kSet;
}

bool Store::persist(std::string_view key) {
  if (!lookup(key, true)) return false;
  preserve(key);
  const bool had = map_.clear_deadline(key);
  if (had) {
    changed(key);
    log({"PERSIST", key});
    publish_memory();
  }
  return had;
}

void Store::clear() {
  // multi.c touchAllWatchedKeysInDb: a watched key that existed is changed by the flush.
  for (auto& [key, w] : watched_) {
    if (map_.find(key)) w.version = next_version_++;
  }
  raw_short_.clear();
  if (snapshot_ != nullptr) {
    // FLUSHALL during a snapshot: save what the walk has not reached yet (the file keeps the
    // moment the snapshot began); the walk then ends on an empty map.
    std::uint64_t cursor = 0;
    do {
      cursor = snapshot_step(cursor, 1024);
    } while (cursor != 0 && snapshot_ != nullptr);
  }
  const std::uint64_t removed = map_.count();
  changes_.store(changes_.load(std::memory_order_relaxed) + removed, std::memory_order_relaxed);
  map_.clear();
  pool_.clear();
  if (capturing_) {
    captured_ = {{}, 0, true};  // what the capture kept before is gone with the keys
  } else {
    log({"FLUSHALL"});
  }
  expire_cursor_ = 0;
  publish_memory();
}

void Store::remove_entry(std::string_view key) {
  preserve(key);
  map_.remove(key);
  changed(key);
  log({"DEL", key});
  publish_memory();
}

std::optional<StringEncoding> Store::encoding(std::string_view key) {
  auto e = lookup(key, false);
  if (!e) return std::nullopt;
  // object.c tryObjectEncoding: a canonical int64 of at most 20 characters is kept as an integer,
  // other values up to OBJ_ENCODING_EMBSTR_SIZE_LIMIT (44) bytes in one allocation with the
  // object header; an in-place edit (APPEND, SETRANGE) leaves a raw string whatever its length.
  if (!raw_short_.empty() && raw_short_.find(key) != raw_short_.end()) return StringEncoding::kRaw;
  const std::string_view value = e->value();
  std::int64_t ignored = 0;
  if (value.size() <= 20 && protocol::parse_int64(value, ignored)) return StringEncoding::kInt;
  return value.size() <= kEmbstrLimit ? StringEncoding::kEmbstr : StringEncoding::kRaw;
}

std::optional<std::string> Store::random_key(std::uint64_t seed) {
  // A key drawn uniformly (KvMap::random_entry: every key equally likely, however the segmented
  // map's segments differ in size); an expired one drawn is removed, as Redis's RANDOMKEY does,
  // and the draw repeated, up to kRandomKeyDraws times. Then (a shard of mostly expired keys), a
  // scan from the beginning takes the first live key, removing the expired ones it meets.
  std::optional<std::string> found;
  const std::int64_t now = now_ms();
  std::uint64_t state = seed;
  auto next = [&state] { return splitmix64(state); };
  constexpr int kRandomKeyDraws = 100;
  for (int draw = 0; draw < kRandomKeyDraws && !found; ++draw) {
    auto e = map_.random_entry(next);
    if (!e) break;
    if (e->has_deadline() && now > e->deadline_ms()) {
      doomed_.emplace_back(e->key());
      remove_doomed_as_expired();
      continue;
    }
    found.emplace(e->key());
  }
  if (found || map_.count() == 0) return found;
  {
    std::uint64_t cursor = 0;
    bool wrapped = false;
    while (!found && !wrapped) {
      cursor = map_.scan_entries(cursor, 1, [&](map::KvEntryView e) {
        if (found) return;
        if (e.has_deadline() && now > e.deadline_ms()) {
          doomed_.emplace_back(e.key());
        } else {
          found.emplace(e.key());
        }
      });
      wrapped = cursor == 0;
    }
    remove_doomed_as_expired();
  }
  return found;
}

std::optional<std::string> Store::get_del(std::string_view key) {
  auto value = get(key);
  if (!value) return std::nullopt;
  std::optional<std::string> out(std::in_place, *value);
  remove_entry(key);
  return out;
}

IntEdit Store::incr_by(std::string_view key, std::int64_t delta) {
  make_room();
  std::int64_t current = 0;
  if (auto e = lookup(key, true)) {
    if (!protocol::parse_int64(e->value(), current)) return {EditStatus::kNotInteger};
  }
  // t_string.c incrDecrCommand's overflow test, before the addition.
  if ((delta < 0 && current < 0 && delta < std::numeric_limits<std::int64_t>::min() - current) ||
      (delta > 0 && current > 0 && delta > std::numeric_limits<std::int64_t>::max() - current)) {
    return {EditStatus::kOverflow};
  }
  const std::int64_t next = current + delta;
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, next).ptr;
  put_keeping_deadline(key, std::string_view(buf, static_cast<std::size_t>(end - buf)));
  if (change_log_ != nullptr) {
    char dbuf[24];
    const auto dend = std::to_chars(dbuf, dbuf + sizeof dbuf, delta).ptr;
    log({"INCRBY", key, std::string_view(dbuf, static_cast<std::size_t>(dend - dbuf))});
  }
  return {EditStatus::kDone, next};
}

FloatEdit Store::incr_by_float(std::string_view key, long double delta) {
  make_room();
  long double current = 0;
  if (auto e = lookup(key, true)) {
    if (!protocol::parse_long_double(e->value(), current)) return {EditStatus::kNotFloat, {}};
  }
  const long double next = current + delta;
  if (std::isnan(next) || std::isinf(next)) return {EditStatus::kNanOrInf, {}};
  FloatEdit out{EditStatus::kDone, protocol::format_long_double(next)};
  put_keeping_deadline(key, out.text);
  log({"SET", key, out.text, "KEEPTTL"});  // t_string.c incrbyfloatCommand's propagation
  return out;
}

SizeEdit Store::append(std::string_view key, std::string_view tail) {
  make_room();
  auto e = lookup(key, true);
  if (!e) {
    write(key, tail, DeadlineUpdate::clear());
    log({"APPEND", key, tail});
    return {EditStatus::kDone, tail.size()};
  }
  const std::string_view value = e->value();
  if (value.size() + tail.size() > kMaxStringBytes) return {EditStatus::kTooLarge};
  std::string joined;
  joined.reserve(value.size() + tail.size());
  joined.append(value).append(tail);
  put_keeping_deadline(key, joined);
  edited_in_place(key, joined.size());
  log({"APPEND", key, tail});
  return {EditStatus::kDone, joined.size()};
}

SizeEdit Store::set_range(std::string_view key, std::uint64_t offset, std::string_view part) {
  auto e = lookup(key, true);
  const std::size_t old_size = e ? e->value().size() : 0;
  // t_string.c setrangeCommand: an empty part writes nothing and creates nothing, even past the
  // size limit; otherwise the limit is checked before anything is allocated.
  if (part.empty()) return {EditStatus::kDone, old_size};
  if (offset > kMaxStringBytes || offset + part.size() > kMaxStringBytes) {
    return {EditStatus::kTooLarge};
  }
  make_room();
  e = lookup(key, false);  // make_room may have evicted it
  const std::size_t end = static_cast<std::size_t>(offset) + part.size();
  std::string edited;
  edited.reserve(std::max<std::size_t>(e ? e->value().size() : 0, end));
  if (e) edited.assign(e->value());
  if (edited.size() < end) edited.resize(end, '\0');
  edited.replace(static_cast<std::size_t>(offset), part.size(), part);
  put_keeping_deadline(key, edited);
  edited_in_place(key, edited.size());
  if (change_log_ != nullptr) {
    char obuf[24];
    const auto oend = std::to_chars(obuf, obuf + sizeof obuf, offset).ptr;
    log({"SETRANGE", key, std::string_view(obuf, static_cast<std::size_t>(oend - obuf)), part});
  }
  return {EditStatus::kDone, edited.size()};
}

std::optional<StoredValue> Store::copy_out(std::string_view key) {
  auto e = lookup(key, false);
  if (!e) return std::nullopt;
  return StoredValue{std::string(e->value()), e->deadline(),
                     !raw_short_.empty() && raw_short_.find(key) != raw_short_.end()};
}

std::optional<StoredValue> Store::take(std::string_view key) {
  auto content = copy_out(key);
  if (content) remove_entry(key);
  return content;
}

bool Store::put_content(std::string_view key, const StoredValue& content, bool only_if_absent) {
  make_room();
  if (only_if_absent) {
    if (lookup(key, false)) return false;
  } else {
    reclaim_if_expired(key);
  }
  const DeadlineUpdate deadline =
      content.deadline_ms ? DeadlineUpdate::at(*content.deadline_ms) : DeadlineUpdate::clear();
  write(key, content.value, deadline);
  log_set(key, content.value, deadline);
  if (content.edited) edited_in_place(key, content.value.size());
  return true;
}

std::uint64_t Store::watch(std::string_view key) {
  lookup(key, false);  // an expired key goes first: expiring later must change the version
  auto it = watched_.find(key);
  if (it == watched_.end()) it = watched_.emplace(std::string(key), Watched{}).first;
  ++it->second.watchers;
  return it->second.version;
}

void Store::unwatch(std::string_view key) {
  auto it = watched_.find(key);
  if (it != watched_.end() && --it->second.watchers == 0) watched_.erase(it);
}

std::uint64_t Store::watched_version(std::string_view key) {
  lookup(key, false);  // a deadline passed since WATCH: the expiry changes the version
  auto it = watched_.find(key);
  return it == watched_.end() ? 0 : it->second.version;
}

void Store::bump_version(std::string_view key) {
  auto it = watched_.find(key);
  if (it != watched_.end()) it->second.version = next_version_++;
}

void Store::forget_edit(std::string_view key) {
  auto it = raw_short_.find(key);
  if (it != raw_short_.end()) raw_short_.erase(it);
}

void Store::edited_in_place(std::string_view key, std::size_t size) {
  if (size <= kEmbstrLimit) raw_short_.emplace(key);
}

void Store::reset_counters() {
  counters_.keyspace_hits = 0;
  counters_.keyspace_misses = 0;
  map_.reset_longest_step();
  counters_.expired_keys = 0;
  counters_.evicted_keys = 0;
  counters_.expired_time_cap_reached_count = 0;
  counters_.expired_stale_perc = 0;
}

void Store::remove_doomed_as_expired() {
  if (doomed_.empty()) return;
  for (const auto& k : doomed_) {
    preserve(k);
    if (map_.remove(k)) {
      ++counters_.expired_keys;
      changed(k);
      log({"DEL", k});
    }
  }
  doomed_.clear();
  publish_memory();
}

bool Store::expire_loop() {
  // expire.c activeExpireCycle's loop, for one database: up to 20 keys with a deadline, walking
  // the table with a cursor; a loop visits at most 20 times as many entries as it wants keys with
  // a deadline (most may have none), and calls the scan at most kMaxScanCalls times (a sparse
  // table: the scan visits at most 10 buckets per key it asks for). The cycle goes on while more
  // than 10% of what a loop examined had expired.
  const std::size_t with_deadline = map_.deadline_count();
  if (with_deadline == 0) {
    counters_.avg_ttl_ms = 0;
    return false;
  }
  constexpr unsigned kMaxScanCalls = 16;
  // The visits are bounded by the full loop's 20 x 20 even when fewer keys with a deadline are
  // left than a loop wants: in a table of mostly other keys, the last few are found in a pass
  // over the table at this pace, not twenty times slower.
  const std::uint64_t want = std::min<std::uint64_t>(with_deadline, kKeysPerLoop);
  const std::uint64_t max_visits = kKeysPerLoop * 20;
  const std::int64_t now = now_ms();
  std::uint64_t sampled = 0, visits = 0, ttl_samples = 0;
  std::int64_t ttl_sum = 0;
  bool wrapped = false;
  for (unsigned calls = 0;
       calls < kMaxScanCalls && sampled < want && visits < max_visits && !wrapped; ++calls) {
    expire_cursor_ = map_.scan_entries(expire_cursor_, kKeysPerLoop, [&](map::KvEntryView e) {
      ++visits;
      if (!e.has_deadline()) return;
      ++sampled;
      const std::int64_t ttl = e.deadline_ms() - now;
      if (now > e.deadline_ms()) {
        doomed_.emplace_back(e.key());
      } else if (ttl > 0) {
        ttl_sum += ttl;
        ++ttl_samples;
      }
    });
    wrapped = expire_cursor_ == 0;
  }
  const std::uint64_t expired = doomed_.size();
  remove_doomed_as_expired();
  cycle_.sampled += sampled;
  cycle_.expired += expired;
  if (ttl_samples != 0) {
    const std::int64_t avg = ttl_sum / static_cast<std::int64_t>(ttl_samples);
    if (counters_.avg_ttl_ms == 0) counters_.avg_ttl_ms = avg;
    counters_.avg_ttl_ms = (counters_.avg_ttl_ms / 50) * 49 + avg / 50;
  }
  if (sampled == 0) {
    // Only empty buckets so far: go on (as Redis does), the time bounds it. Unlike Redis, a loop
    // that met entries but none with a deadline ends the cycle, and so does one that reached the
    // end of the table: with few such keys among many (Redis keeps them in a dict of their own),
    // the next tick goes on from the cursor instead of spending its budget on keys without one.
    return visits == 0 && !wrapped;
  }
  return expired * 100 / sampled > kAcceptableStalePercent;
}

void Store::begin_expire_cycle() { cycle_ = {}; }

bool Store::expire_slice(std::chrono::nanoseconds slice) {
  // The time is read after every loop (20 keys at most): a slice overruns by one loop at most.
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (!expire_loop()) return false;
    if (std::chrono::steady_clock::now() - start >= slice) return true;
  }
}

ExpireCycleStats Store::end_expire_cycle(bool time_cap_reached) {
  // expire.c: the stale estimate moves by one cycle's share (5%) per cycle, and a cycle that hit
  // its time limit counts once.
  const double current = cycle_.sampled != 0 ? static_cast<double>(cycle_.expired) /
                                                   static_cast<double>(cycle_.sampled)
                                             : 0.0;
  counters_.expired_stale_perc = current * 0.05 + counters_.expired_stale_perc * 0.95;
  if (time_cap_reached) ++counters_.expired_time_cap_reached_count;
  ExpireCycleStats stats = cycle_;
  stats.time_cap_reached = time_cap_reached;
  cycle_ = {};
  return stats;
}

ExpireCycleStats Store::active_expire_cycle(std::chrono::microseconds budget) {
  // At least one loop, however small the budget.
  const auto start = std::chrono::steady_clock::now();
  begin_expire_cycle();
  bool more = false;
  do {
    const auto spent = std::chrono::steady_clock::now() - start;
    more = expire_slice(spent < budget ? budget - spent : std::chrono::nanoseconds(0));
  } while (more && std::chrono::steady_clock::now() - start < budget);
  return end_expire_cycle(more);
}

void Store::make_room() {
  const std::uint64_t limit = settings_->maxmemory.load(std::memory_order_relaxed);
  if (limit == 0) return;
  const EvictionPolicy policy = settings_->policy.load(std::memory_order_relaxed);
  if (policy == EvictionPolicy::kNoEviction) return;
  const std::uint64_t share = limit / shards_;
  while (map_.memory_bytes() > share && evict_one(policy)) {
  }
}

bool Store::evict_one(EvictionPolicy policy) {
  const bool volatile_only = policy_is_volatile(policy);
  if (map_.count() == 0 || (volatile_only && map_.deadline_count() == 0)) return false;
  const std::uint32_t samples =
      std::max<std::uint32_t>(1, settings_->samples.load(std::memory_order_relaxed));
  const std::int64_t now = now_ms();
  // Sample: entries from a random place in the table (a random scan cursor), skipping those the
  // policy may not evict, up to `samples` of them; an expired key met on the way goes first.
  std::vector<std::pair<std::uint64_t, std::string>> sampled;
  std::uint64_t cursor = map_.cursor_at(random_u64());
  std::size_t visits = 0;
  const std::size_t max_visits = std::max<std::size_t>(samples * 64, 1024);
  do {
    cursor = map_.scan_entries(cursor, samples, [&](map::KvEntryView e) {
      ++visits;
      if (sampled.size() >= samples) return;
      if (volatile_only && !e.has_deadline()) return;
      std::uint64_t score = 0;
      switch (policy) {
        case EvictionPolicy::kAllKeysLru:
        case EvictionPolicy::kVolatileLru:
          score = idle_ms(e.access());
          break;
        case EvictionPolicy::kAllKeysLfu:
        case EvictionPolicy::kVolatileLfu:
          score = 255 - lfu_frequency(e.access());
          break;
        case EvictionPolicy::kVolatileTtl:
          score = std::numeric_limits<std::uint64_t>::max() -
                  static_cast<std::uint64_t>(e.deadline_ms());
          break;
        default:
          score = random_u64();
          break;
      }
      if (e.has_deadline() && now > e.deadline_ms()) {
        score = std::numeric_limits<std::uint64_t>::max();
      }
      sampled.emplace_back(score, std::string(e.key()));
    });
  } while (sampled.size() < samples && visits < max_visits && map_.count() > visits);
  if (sampled.empty()) return false;

  std::optional<std::string> victim;
  if (policy == EvictionPolicy::kAllKeysRandom || policy == EvictionPolicy::kVolatileRandom) {
    victim = std::move(sampled[random_u64() % sampled.size()].second);
  } else {
    // evict.c evictionPoolPopulate: keep the 16 best candidates seen so far, ascending.
    for (auto& sample : sampled) {
      const std::uint64_t score = sample.first;
      std::string& key = sample.second;
      auto same = std::find_if(pool_.begin(), pool_.end(),
                               [&key](const Candidate& c) { return c.key == key; });
      if (same != pool_.end()) pool_.erase(same);
      if (pool_.size() >= kPoolSize && score <= pool_.front().score) continue;
      auto at = std::lower_bound(pool_.begin(), pool_.end(), score,
                                 [](const Candidate& c, std::uint64_t s) { return c.score < s; });
      pool_.insert(at, Candidate{score, std::move(key)});
      if (pool_.size() > kPoolSize) pool_.erase(pool_.begin());
    }
    // The best candidate that still exists (and still qualifies) is the victim.
    while (!pool_.empty()) {
      Candidate best = std::move(pool_.back());
      pool_.pop_back();
      auto e = map_.find(best.key);
      if (e && (!volatile_only || e->has_deadline())) {
        victim = std::move(best.key);
        break;
      }
    }
  }
  if (!victim) return false;
  preserve(*victim);
  if (!map_.remove(*victim)) return false;
  changed(*victim);
  log({"DEL", *victim});
  ++counters_.evicted_keys;
  publish_memory();
  return true;
}

void Store::write(std::string_view key, std::string_view value, DeadlineUpdate deadline) {
  preserve(key);
  const auto r = map_.put_entry(key, value, mode_of(deadline), deadline.at_ms, new_access());
  changed(key);
  if (!r.inserted) touch(r.entry);  // an overwrite is an access; a new entry starts at now
  publish_memory();
}

void Store::log_slow(std::initializer_list<std::string_view> argv) {
  if (capturing_) {
    protocol::write_command(captured_.commands, argv);
    ++captured_.count;
    return;
  }
  log_scratch_.clear();
  protocol::write_command(log_scratch_, argv);
  change_log_->append(log_scratch_);
  // A very large value leaves a large scratch behind: give it back.
  if (log_scratch_.capacity() > (1u << 20)) std::string().swap(log_scratch_);
}

void Store::log_set(std::string_view key, std::string_view value, DeadlineUpdate deadline) {
  if (change_log_ == nullptr) return;
  switch (deadline.mode) {
    case DeadlineUpdate::Mode::kClear:
      log({"SET", key, value});
      break;
    case DeadlineUpdate::Mode::kKeep:
      log({"SET", key, value, "KEEPTTL"});
      break;
    case DeadlineUpdate::Mode::kSet: {
      char buf[24];
      const auto end = std::to_chars(buf, buf + sizeof buf, deadline.at_ms).ptr;
      log({"SET", key, value, "PXAT", std::string_view(buf, static_cast<std::size_t>(end - buf))});
      break;
    }
  }
}

void Store::preserve_slow(std::string_view key) {
  auto e = map_.find(key);
  if (!e || e->snapshot_mark() == map_.snapshot_mark()) return;
  snapshot_->save(e->key(), e->value(), e->deadline());
  e->set_snapshot_mark(map_.snapshot_mark());
}

void Store::begin_snapshot(SnapshotSink* sink) {
  map_.flip_snapshot_mark();
  snapshot_ = sink;
}

std::uint64_t Store::snapshot_step(std::uint64_t cursor, std::size_t count) {
  const bool mark = map_.snapshot_mark();
  // Expired entries are saved too (with their deadline, as Redis saves them): the loader drops
  // them; skipping them here would leave them unmarked.
  const std::uint64_t next = map_.scan_entries(cursor, count, [&](map::KvEntryView e) {
    if (e.snapshot_mark() == mark) return;  // created, written or saved since the start
    snapshot_->save(e.key(), e.value(), e.deadline());
    e.set_snapshot_mark(mark);
  });
  if (next == 0) snapshot_ = nullptr;
  return next;
}

void Store::load(std::string_view key, std::string_view value,
                 std::optional<std::int64_t> deadline_ms) {
  map_.put(key, value,
           deadline_ms ? map::KvMap::DeadlineMode::kSet : map::KvMap::DeadlineMode::kClear,
           deadline_ms.value_or(0), new_access());
  publish_memory();
}

}  // namespace tessera::server
