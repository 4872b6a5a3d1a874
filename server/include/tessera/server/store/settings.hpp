// What every shard's Store reads from the server: the clock deadlines are measured against, and the
// memory limit with its eviction policy. One StoreSettings per server (ServerState owns it), shared
// by all the stores; CONFIG SET changes the atomics from any thread, each store reads them on its
// own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include <time.h>

namespace tessera::server {

// Milliseconds since the Unix epoch (what EXPIREAT, PEXPIRETIME and the deadlines in the entries
// are). Injectable so that the tests of deadlines and of the active cycle never sleep.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;
  // The same time, possibly a few milliseconds behind (the kernel's tick): enough for the access
  // clocks of LRU and LFU, kept in seconds and minutes, and read on every GET and SET, where the
  // precise clock cost about 4% of the server's CPU (perf, redis-benchmark -P 16).
  virtual std::int64_t coarse_now_ms() const { return now_ms(); }
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::int64_t coarse_now_ms() const override {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
  }
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// A clock the tests move by hand (any thread may read or move it).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  void advance_ms(std::int64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }
  void set_ms(std::int64_t ms) { now_.store(ms, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> now_;
};

// Redis's maxmemory-policy values, in its order.
enum class EvictionPolicy : std::uint8_t {
  kNoEviction,
  kAllKeysLru,
  kAllKeysLfu,
  kAllKeysRandom,
  kVolatileLru,
  kVolatileLfu,
  kVolatileRandom,
  kVolatileTtl,
};

std::string_view policy_name(EvictionPolicy p);
std::optional<EvictionPolicy> parse_policy(std::string_view name);  // case-insensitive
inline bool policy_is_lfu(EvictionPolicy p) {
  return p == EvictionPolicy::kAllKeysLfu || p == EvictionPolicy::kVolatileLfu;
}
inline bool policy_is_lru(EvictionPolicy p) {
  return p == EvictionPolicy::kAllKeysLru || p == EvictionPolicy::kVolatileLru;
}
inline bool policy_is_volatile(EvictionPolicy p) {
  return p == EvictionPolicy::kVolatileLru || p == EvictionPolicy::kVolatileLfu ||
         p == EvictionPolicy::kVolatileRandom || p == EvictionPolicy::kVolatileTtl;
}

struct StoreSettings {
  const Clock* clock = &SystemClock::instance();
  std::atomic<std::uint64_t> maxmemory{0};  // bytes of store memory over all shards; 0 = no limit
  std::atomic<EvictionPolicy> policy{EvictionPolicy::kNoEviction};
  std::atomic<std::uint32_t> samples{5};  // maxmemory-samples
  // lfu-log-factor and lfu-decay-time (Redis's defaults; read-only here).
  std::uint32_t lfu_log_factor = 10;
  std::uint32_t lfu_decay_minutes = 1;
  // The seed every store's map hashes its keys with, and the shard choice's (ShardSet): fixed
  // before the shards start. ServerState draws it unless hash-seed fixes it; 0 here is a seed
  // like any other (the unit tests' default).
  std::uint64_t hash_seed = 0;
};

}  // namespace tessera::server
